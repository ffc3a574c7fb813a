//! What discovery derives from the instances it found: their volumes and the
//! root devices of the images they run.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::ec2::Found;

/// The volumes attached to each of `instances`, by instance ID.
pub(super) fn volumes_by_instance<'a>(
    instances: impl Iterator<Item = &'a Found>,
) -> BTreeMap<String, Vec<String>> {
    instances
        .map(|i| {
            let volumes = i.detail.get("volumes").map_or(Vec::new(), |v| {
                v.split(',')
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            (i.id.clone(), volumes)
        })
        .collect()
}

/// Every volume of `by_instance` and `more`, once each.
pub(super) fn every_volume(
    by_instance: &BTreeMap<String, Vec<String>>,
    more: Option<String>,
) -> Vec<String> {
    let all: BTreeSet<String> = by_instance
        .values()
        .flatten()
        .cloned()
        .chain(more)
        .collect();
    all.into_iter().collect()
}

/// The volumes of each instance that `encrypted` says are not encrypted.
pub(super) fn unencrypted(
    by_instance: BTreeMap<String, Vec<String>>,
    encrypted: &BTreeMap<String, bool>,
) -> BTreeMap<String, Vec<String>> {
    by_instance
        .into_iter()
        .map(|(instance, attached)| {
            let unencrypted = attached
                .into_iter()
                .filter(|v| encrypted.get(v) == Some(&false))
                .collect();
            (instance, unencrypted)
        })
        .collect()
}
