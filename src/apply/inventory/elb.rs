//! Which load balancers and target groups discovery keeps, and which of what
//! was read of them is the environment's.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::elbv2::{LoadBalancer, TargetGroup};

/// An object found both by the environment's name and by scanning its VPC.
pub(super) trait ElbObject: Clone {
    fn arn(&self) -> &str;
    fn name(&self) -> &str;
    fn vpc(&self) -> &str;
}

impl ElbObject for LoadBalancer {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn vpc(&self) -> &str {
        &self.vpc_id
    }
}

impl ElbObject for TargetGroup {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn vpc(&self) -> &str {
        &self.vpc_id
    }
}

/// The object of the VPC's listing that has `name`: what a lookup by name
/// would find there (AWS compares names without regard to case), so a
/// discovery that lists the VPC's objects need not also ask by name.
pub(super) fn named<T: ElbObject>(scanned: &[T], name: &str) -> Option<T> {
    scanned
        .iter()
        .find(|o| o.name().eq_ignore_ascii_case(name))
        .cloned()
}

/// The object found by name first, then those the scan found besides it,
/// once each, of those living in `home` (any, while the VPC is unknown).
pub(super) fn at_home<T: ElbObject>(
    named: Option<T>,
    scanned: Vec<T>,
    home: Option<&str>,
) -> Vec<T> {
    let mut all: Vec<T> = named.into_iter().collect();
    for object in scanned {
        if !all.iter().any(|o| o.arn() == object.arn()) {
            all.push(object);
        }
    }
    all.retain(|o| home.is_none_or(|h| h == o.vpc()));
    all
}

/// What was read by ARN, of the `claimed` ARNs only: another team's balancer
/// or target group in the VPC (or one of the environment's names elsewhere)
/// keeps its tags, rules and targets untouched.
pub(super) fn only_claimed<V>(
    read: BTreeMap<String, V>,
    claimed: &BTreeSet<&str>,
) -> BTreeMap<String, V> {
    read.into_iter()
        .filter(|(arn, _)| claimed.contains(arn.as_str()))
        .collect()
}
