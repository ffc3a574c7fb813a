//! Security groups and their rules: ensured exactly, and compared for drift.

use std::collections::BTreeMap;

use futures::future::try_join_all;

use super::inventory::Inventory;
use super::run::{Result, Run};
use super::waiters::{delete_with_retry, retry_propagation};
use crate::aws::ec2::{self, Direction, RawRule, RuleSource};
use crate::error::AwsError;
use crate::plan::blueprint::Component;
use crate::plan::drift::{Finding, Repair};
use crate::plan::security::{egress_only, ingress_rules, IngressRule, SgRole, Source};
use crate::plan::spec::EnvironmentSpec;

impl Run<'_> {
    pub(super) async fn ensure_security_groups(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<BTreeMap<SgRole, String>> {
        let wanted = ingress_rules(self.spec);
        let vpc_has_ipv6 = inv
            .vpc
            .as_ref()
            .is_some_and(|v| ec2::Ipv6Association::of(v).is_some());
        let work = wanted.keys().map(|role| async move {
            let component = Component::SecurityGroup(*role);
            let id = match inv.security_groups.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let name = format!("{}-{}", self.spec.name, role.as_str());
                    let tags = self.tags(&component);
                    retry_propagation(self.deadline, "security group", || {
                        ec2::create_security_group(
                            &self.clients.ec2,
                            vpc_id,
                            &name,
                            role.description(),
                            &tags,
                        )
                    })
                    .await?
                }
            };
            Ok::<_, AwsError>((*role, id))
        });
        let ids: BTreeMap<SgRole, String> = try_join_all(work).await?.into_iter().collect();
        // Rules reference other groups, so they are set once every group exists.
        let rules = wanted.iter().flat_map(|(role, rules)| {
            let ids = &ids;
            let found = inv
                .security_groups
                .get(&Component::SecurityGroup(*role).key());
            let ingress: Vec<RawRule> = rules.iter().map(|r| raw_rule(r, ids)).collect();
            // a new group has AWS's default egress rules: IPv4's, and
            // IPv6's when its VPC had an IPv6 block as it was made (which
            // this run may be associating at the same moment), so with
            // `ipv6` that one may or may not be there
            let (current_egress, maybe_egress) = match found {
                Some(group) => (group.egress.clone(), Vec::new()),
                None => (
                    vec![RawRule::all_traffic_ipv4()],
                    (self.spec.ipv6 || vpc_has_ipv6)
                        .then(RawRule::all_traffic_ipv6)
                        .into_iter()
                        .collect(),
                ),
            };
            [
                (
                    Direction::Ingress,
                    ingress,
                    found.map(|g| g.ingress.clone()).unwrap_or_default(),
                    Vec::new(),
                ),
                (
                    Direction::Egress,
                    egress(*role, ids, self.spec.ipv6),
                    current_egress,
                    maybe_egress,
                ),
            ]
            .into_iter()
            .map(move |(direction, desired, current, maybe)| async move {
                let missing: Vec<RawRule> = desired
                    .iter()
                    .filter(|r| !current.contains(r))
                    .cloned()
                    .collect();
                let extra: Vec<RawRule> = current
                    .iter()
                    .chain(&maybe)
                    .filter(|r| !desired.contains(r))
                    .cloned()
                    .collect();
                // one rule a call: a rule that is not there fails the
                // call it is in, and the others with it
                let revocations = extra.iter().map(|rule| {
                    retry_propagation(self.deadline, "security group rules", move || {
                        ec2::revoke(
                            &self.clients.ec2,
                            &ids[role],
                            direction,
                            std::slice::from_ref(rule),
                        )
                    })
                });
                try_join_all(revocations).await?;
                retry_propagation(self.deadline, "security group rules", || {
                    ec2::authorize(&self.clients.ec2, &ids[role], direction, &missing)
                })
                .await
            })
        });
        try_join_all(rules).await?;
        Ok(ids)
    }
}

/// The outbound rules a group must have: AWS's default (all traffic, over
/// IPv6 too with `ipv6`), or the one rule its role is limited to.
fn egress(role: SgRole, groups: &BTreeMap<SgRole, String>, ipv6: bool) -> Vec<RawRule> {
    match egress_only(role) {
        Some(rule) => vec![raw_rule(&rule, groups)],
        None if ipv6 => vec![RawRule::all_traffic_ipv4(), RawRule::all_traffic_ipv6()],
        None => vec![RawRule::all_traffic_ipv4()],
    }
}

impl Run<'_> {
    /// Deletes the environment's group of `role`, if it has one, once what
    /// used it (the bastion, the Instance Connect Endpoint) is gone.
    pub(super) async fn delete_group_of(&self, inv: &Inventory, role: SgRole) -> Result<()> {
        let Some(group) = inv
            .security_groups
            .get(&Component::SecurityGroup(role).key())
        else {
            return Ok(());
        };
        delete_with_retry(
            self.deadline,
            &format!("security group sg/{}", role.as_str()),
            || ec2::delete_security_group(&self.clients.ec2, &group.id),
        )
        .await
    }
}

pub(super) fn raw_rule(rule: &IngressRule, groups: &BTreeMap<SgRole, String>) -> RawRule {
    RawRule {
        protocol: "tcp".into(),
        from_port: i32::from(rule.port),
        to_port: i32::from(rule.port),
        source: match &rule.source {
            Source::Cidr(cidr) => RuleSource::Cidr(cidr.to_string()),
            Source::Ipv6Cidr(cidr) => RuleSource::Ipv6Cidr(cidr.to_string()),
            Source::Group(role) => RuleSource::Group(groups.get(role).cloned().unwrap_or_default()),
        },
    }
}

/// Ingress and egress rules of the environment's groups and of the VPC's default group.
pub(super) fn rule_drift(spec: &EnvironmentSpec, inv: &Inventory) -> Vec<Finding> {
    let ids: BTreeMap<SgRole, String> = inv
        .security_groups
        .iter()
        .filter_map(|(k, g)| Some((SgRole::parse(k.strip_prefix("sg/")?)?, g.id.clone())))
        .collect();
    let mut names: BTreeMap<String, String> = ids
        .iter()
        .map(|(role, id)| (id.clone(), format!("sg/{}", role.as_str())))
        .collect();
    if let Some(default) = &inv.default_group {
        names.insert(default.id.clone(), "sg/default".into());
    }
    let peer = |source: &RuleSource| match source {
        RuleSource::Group(id) => names.get(id).cloned().unwrap_or_else(|| id.clone()),
        other => other.to_string(),
    };
    let describe = |direction: Direction, rule: &RawRule| {
        let preposition = match direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        format!(
            "{} rule {} {preposition} {}",
            direction.as_str(),
            rule.traffic(),
            peer(&rule.source)
        )
    };
    let mut compared: Vec<(String, Direction, Vec<RawRule>, &Vec<RawRule>)> = Vec::new();
    for (role, rules) in ingress_rules(spec) {
        let key = Component::SecurityGroup(role).key();
        let Some(group) = inv.security_groups.get(&key) else {
            continue;
        };
        let desired = rules.iter().map(|r| raw_rule(r, &ids)).collect();
        compared.push((key.clone(), Direction::Ingress, desired, &group.ingress));
        compared.push((
            key,
            Direction::Egress,
            egress(role, &ids, spec.ipv6),
            &group.egress,
        ));
    }
    if let Some(default) = &inv.default_group {
        // stripped: nothing that lands in the default group can talk
        compared.push((
            "sg/default".into(),
            Direction::Ingress,
            Vec::new(),
            &default.ingress,
        ));
        compared.push((
            "sg/default".into(),
            Direction::Egress,
            Vec::new(),
            &default.egress,
        ));
    }
    let mut findings = Vec::new();
    for (key, direction, desired, actual) in compared {
        for rule in desired.iter().filter(|r| !actual.contains(r)) {
            findings.push(Finding::new(
                &key,
                format!("lacks {}", describe(direction, rule)),
                Repair::InPlace("adds it"),
            ));
        }
        for rule in actual.iter().filter(|r| !desired.contains(r)) {
            findings.push(Finding::new(
                &key,
                format!("has an extra {}", describe(direction, rule)),
                Repair::InPlace("removes it"),
            ));
        }
    }
    findings
}
