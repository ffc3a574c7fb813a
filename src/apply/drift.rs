//! Drift: every difference between what AWS reports and what the spec asks
//! for, worded as what apply does about it. The table of components says what
//! is missing and which checks each family runs; this module adds tags and
//! orders the findings.

use std::collections::{BTreeMap, BTreeSet};

use super::components::{families, tagged_objects, Api, COMPONENTS};
use super::inventory::Inventory;
use super::run::component_tags;
use crate::plan::blueprint::{Blueprint, Component, Kind};
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{EnvironmentSpec, TAG_STATUS};

/// Differences between what exists and what the spec asks for, each worded as
/// what is wrong and what apply does about it (see [`Finding`]).
pub fn drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<String> {
    findings(spec, bp, inv)
        .iter()
        .map(Finding::to_string)
        .collect()
}

/// Every difference between AWS and the spec, with what apply does about it.
pub fn findings(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let mut findings = missing_components(spec, bp, inv);
    findings.extend(tag_drift(spec, bp, inv));
    for family in families() {
        findings.extend(
            family
                .checks()
                .iter()
                .flat_map(|check| check(spec, bp, inv)),
        );
    }
    findings
}

/// The planned components the inventory does not hold, each read as its
/// row of the table of components says.
pub(super) fn missing_components(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    // each kind read once, and a key found only through its own kind's row
    let found: BTreeMap<Kind, BTreeSet<String>> = COMPONENTS
        .iter()
        .map(|row| (row.kind, row.present(spec, inv).into_iter().collect()))
        .collect();
    bp.components
        .iter()
        .filter(|c| {
            !found
                .get(&c.kind())
                .is_some_and(|keys| keys.contains(&c.key()))
        })
        .map(|c| Finding::new(c.key(), "is missing", Repair::Create))
        .collect()
}

/// Tags of every planned component, against what [`component_tags`] gives it.
pub(super) fn tag_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let planned: BTreeSet<String> = bp.components.iter().map(Component::key).collect();
    tagged_objects(spec, inv, &[Api::Ec2, Api::Elb, Api::AutoScaling])
        .into_iter()
        .map(|(key, _, tags)| (key, tags))
        .filter(|(key, _)| planned.contains(key))
        .filter_map(|(key, tags)| {
            let ignored = |k: &String| spec.ignored_tags.ignores(k);
            let wanted = component_tags(spec, &key);
            let mut problems = Vec::new();
            for (k, v) in wanted.iter().filter(|(k, _)| !ignored(k)) {
                match tags.get(k) {
                    None => problems.push(format!("lacks tag {k} = {v:?}")),
                    Some(actual) if actual != v => {
                        problems.push(format!("has tag {k} = {actual:?} instead of {v:?}"))
                    }
                    Some(_) => {}
                }
            }
            for (k, v) in tags {
                // AWS's own tags and the provider's completion marker are not the spec's
                if !wanted.contains_key(k)
                    && !k.starts_with("aws:")
                    && k != TAG_STATUS
                    && !ignored(k)
                {
                    problems.push(format!("has an extra tag {k} = {v:?}"));
                }
            }
            (!problems.is_empty())
                .then(|| Finding::new(key, problems.join(", "), Repair::InPlace("retags it")))
        })
        .collect()
}
