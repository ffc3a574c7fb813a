//! Drift: every difference between what AWS reports and what the spec asks
//! for, worded as what apply does about it. Each family finds its own; this
//! module adds what is missing and tags, and orders the findings.

use std::collections::BTreeSet;

use super::bastion::bastion_drift;
use super::compute::app_drift;
use super::endpoints::endpoint_drift;
use super::executor::component_tags;
use super::flow_logs::flow_log_drift;
use super::inventory::Inventory;
use super::load_balancer::{
    listener_key, listener_rule_drift, load_balancer_attribute_drift, registration_drift,
    target_group_of,
};
use super::network::network_drift;
use super::security::rule_drift;
use crate::aws::ec2::Tags;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{EnvironmentSpec, TAG_STATUS};

/// Differences between what exists and what the spec asks for, each worded as
/// what is wrong and what apply does about it (see [`Finding`]).
pub fn drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<String> {
    let mut findings = missing_components(spec, bp, inv);
    findings.extend(tag_drift(spec, bp, inv));
    findings.extend(network_drift(spec, bp, inv));
    findings.extend(rule_drift(spec, inv));
    findings.extend(app_drift(spec, bp, inv));
    findings.extend(endpoint_drift(spec, bp, inv));
    findings.extend(flow_log_drift(spec, inv));
    findings.extend(load_balancer_attribute_drift(spec, inv));
    findings.extend(listener_rule_drift(inv));
    findings.extend(registration_drift(spec, inv));
    findings.extend(bastion_drift(spec, bp, inv));
    findings.iter().map(Finding::to_string).collect()
}

pub(super) fn missing_components(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    found.extend(inv.vpc.iter().map(|_| "vpc".to_string()));
    found.extend(inv.internet_gateway.iter().map(|_| "igw".to_string()));
    found.extend(inv.subnets.keys().cloned());
    found.extend(inv.route_tables.keys().cloned());
    found.extend(inv.addresses.keys().cloned());
    found.extend(inv.nat_gateways.keys().cloned());
    found.extend(inv.gateway_endpoints.keys().cloned());
    found.extend(inv.flow_log.iter().map(|_| Component::FlowLog.key()));
    found.extend(inv.security_groups.keys().cloned());
    found.extend(inv.launch_template.iter().map(|_| "lt".to_string()));
    found.extend(inv.bastion.iter().map(|_| "bastion".to_string()));
    found.extend(inv.load_balancer.iter().map(|_| "alb".to_string()));
    if target_group_of(spec, inv).is_some() {
        found.insert("tg".into());
    }
    found.extend(inv.listeners.iter().filter_map(|l| listener_key(l.port)));
    found.extend(inv.group.iter().map(|_| "asg".to_string()));
    if inv.cpu_policy.is_some() {
        found.insert("policy/cpu".into());
    }
    let mut findings: Vec<Finding> = bp
        .components
        .iter()
        .map(Component::key)
        .filter(|k| !found.contains(k))
        .map(|k| Finding::new(k, "is missing", Repair::Create))
        .collect();
    if let Some(policy) = &inv.cpu_policy {
        let differences = policy.differences(spec.app.cpu_target);
        if !differences.is_empty() {
            findings.push(Finding::new(
                "policy/cpu",
                differences.join(", "),
                Repair::InPlace("restores it"),
            ));
        }
    }
    if let Some(group) = inv.group.as_ref().filter(|g| !g.suspended.is_empty()) {
        findings.push(Finding::new(
            "asg",
            format!(
                "has processes suspended ({}), so it does not launch, check or replace instances as it should",
                group.suspended.join(", ")
            ),
            Repair::InPlace("resumes them"),
        ));
    }
    findings
}

/// Every EC2 and ELB object of the environment that carries its tags, as
/// (component key, ID or ARN, tags): the key is what the object is, which its
/// component tag may no longer say.
pub(super) fn tagged_objects<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
) -> Vec<(String, &'a String, &'a Tags)> {
    let mut objects = inv.tagged_ec2_objects();
    let elb = |arn: &'a String| Some((arn, inv.elb_tags.get(arn)?));
    let balancer = inv
        .load_balancer
        .iter()
        .map(|lb| ("alb".to_string(), &lb.arn));
    let target_group = target_group_of(spec, inv).map(|tg| ("tg".to_string(), &tg.arn));
    // a listener on another port than 80 or 443 is not the environment's own
    let listeners = inv
        .listeners
        .iter()
        .filter_map(|l| Some((listener_key(l.port)?, &l.arn)));
    objects.extend(
        balancer
            .chain(target_group)
            .chain(listeners)
            .filter_map(|(key, arn)| elb(arn).map(|(arn, tags)| (key, arn, tags))),
    );
    objects
}

/// Tags of every planned component, against what [`component_tags`] gives it.
pub(super) fn tag_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let planned: BTreeSet<String> = bp.components.iter().map(Component::key).collect();
    let mut objects: Vec<(String, &Tags)> = tagged_objects(spec, inv)
        .into_iter()
        .map(|(key, _, tags)| (key, tags))
        .collect();
    objects.extend(inv.group.iter().map(|g| ("asg".to_string(), &g.tags)));
    objects
        .into_iter()
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
