//! The load balancer, its target group and listeners: ensured, waited for
//! until active, and compared for drift.

use std::collections::{BTreeMap, BTreeSet};

use super::inventory::Inventory;
use super::run::{ignore_not_found, Result, Run};
use super::waiters::{poll_until, retry_propagation, retry_scarce_create};
use crate::aws::autoscaling;
use crate::aws::elbv2::{self, HealthCheck, ListenerAction, Tls};
use crate::error::AwsError;
use crate::plan::blueprint::{listener_role, Component};
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{attribute, EnvironmentSpec, TAG_ENVIRONMENT};

impl Run<'_> {
    pub(super) async fn ensure_target_group(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<String> {
        let app = &self.spec.app;
        let existing = inv
            .target_groups
            .iter()
            .find(|tg| tg.port == i32::from(app.port));
        let health_check = HealthCheck::on(&app.health_check_path);
        match existing {
            Some(tg) => {
                if tg.health_check != health_check {
                    retry_propagation(self.deadline, "target group health check", || {
                        elbv2::modify_health_check(&self.clients.elbv2, &tg.arn, &health_check)
                    })
                    .await?;
                }
                self.restore_target_group_attributes(inv).await?;
                Ok(tg.arn.clone())
            }
            None => {
                let tags = self.tags(&Component::TargetGroup);
                let created = retry_propagation(self.deadline, "target group", || {
                    elbv2::create_target_group(
                        &self.clients.elbv2,
                        &self.names.target_group,
                        vpc_id,
                        app.port,
                        &health_check,
                        &tags,
                    )
                })
                .await?;
                // AWS answers a create with the name and settings of a target
                // group that exists with that group: one that does not carry
                // the environment's tag is another's, never taken over
                let tags = retry_propagation(self.deadline, "target group tags", || {
                    let arn = std::slice::from_ref(&created.arn);
                    elbv2::tags_of(&self.clients.elbv2, &self.clients.batches, arn)
                })
                .await?;
                let owner = tags.get(&created.arn).and_then(|t| t.get(TAG_ENVIRONMENT));
                // the state's own group stays the environment's whatever its tags say
                let recorded = self.options.components.contains_key(&created.arn);
                if owner != Some(&self.spec.name) && !recorded {
                    return Err(AwsError::Unsatisfiable(format!(
                        "target group {} ({}) exists in the VPC and is not the environment's (AWS answers a create with the same name and settings with it); delete or rename it, then apply again",
                        self.names.target_group, created.arn
                    )));
                }
                Ok(created.arn)
            }
        }
    }

    pub(super) async fn ensure_load_balancer(
        &self,
        inv: &Inventory,
        public: &[String],
        group: &str,
    ) -> Result<String> {
        match &inv.load_balancer {
            Some(lb) => {
                let current: BTreeSet<&String> = lb.subnets.iter().collect();
                if current != public.iter().collect() {
                    retry_propagation(self.deadline, "load balancer subnets", || {
                        elbv2::set_subnets(&self.clients.elbv2, &lb.arn, public)
                    })
                    .await?;
                }
                if lb.security_groups != [group.to_string()] {
                    elbv2::set_security_groups(&self.clients.elbv2, &lb.arn, &[group.to_string()])
                        .await?;
                }
                if lb.ip_address_type != elbv2::ip_address_type(self.spec.ipv6) {
                    elbv2::set_ip_address_type(&self.clients.elbv2, &lb.arn, self.spec.ipv6)
                        .await?;
                }
                Ok(lb.arn.clone())
            }
            None => {
                let tags = self.tags(&Component::LoadBalancer);
                let created = retry_scarce_create(self.deadline, "load balancer", || {
                    elbv2::create_load_balancer(
                        &self.clients.elbv2,
                        &self.names.load_balancer,
                        public,
                        group,
                        self.spec.ipv6,
                        &tags,
                    )
                })
                .await?;
                Ok(created.arn)
            }
        }
    }

    /// Sets the load balancer attributes the spec asks for where AWS reports
    /// others: all of them in one call, so access logging's switch, bucket and
    /// prefix change together. `inv` has none for a balancer created in this run,
    /// which then has AWS's defaults.
    pub(super) async fn ensure_load_balancer_attributes(
        &self,
        inv: &Inventory,
        alb: &str,
    ) -> Result<()> {
        let observed = match (&inv.load_balancer, &inv.load_balancer_attributes) {
            (Some(lb), Some(observed)) if lb.arn == alb => observed.clone(),
            _ => aws_defaults(),
        };
        let wanted = self.spec.load_balancer.attributes();
        if attribute_differences(&wanted, &observed).is_empty() {
            return Ok(());
        }
        retry_propagation(self.deadline, "load balancer attributes", || {
            elbv2::set_load_balancer_attributes(&self.clients.elbv2, alb, &wanted)
        })
        .await
    }

    pub(super) async fn ensure_listeners(
        &self,
        inv: &Inventory,
        alb: &str,
        target_group: &str,
    ) -> Result<()> {
        let wanted = wanted_listeners(self.spec, target_group);
        for (port, protocol, tls, action) in &wanted {
            match inv.listeners.iter().find(|l| l.port == i32::from(*port)) {
                Some(existing) => {
                    if !setting_differences(existing, *tls, action).is_empty() {
                        retry_propagation(self.deadline, "listener", || {
                            elbv2::modify_listener(&self.clients.elbv2, &existing.arn, *tls, action)
                        })
                        .await?;
                    } else if let (Some(_), Some(policy)) =
                        (policy_difference(existing, *tls), tls.policy())
                    {
                        // the policy alone: the certificate is not sent again
                        retry_propagation(self.deadline, "listener SSL policy", || {
                            elbv2::set_ssl_policy(&self.clients.elbv2, &existing.arn, policy)
                        })
                        .await?;
                    }
                }
                None => {
                    let tags = self.tags(&Component::Listener(protocol));
                    retry_propagation(self.deadline, "listener", || {
                        elbv2::create_listener(&self.clients.elbv2, alb, *port, *tls, action, &tags)
                    })
                    .await?;
                }
            }
        }
        // the environment's listeners route by their default action alone
        let rules = inv
            .listeners
            .iter()
            .filter(|l| wanted.iter().any(|w| i32::from(w.0) == l.port))
            .flat_map(|l| inv.listener_rules.get(&l.arn).into_iter().flatten());
        for rule in rules {
            elbv2::delete_rule(&self.clients.elbv2, &rule.arn).await?;
        }
        // and serve their configured certificate alone
        let extra_certificates = inv
            .listeners
            .iter()
            .filter(|l| wanted.iter().any(|w| i32::from(w.0) == l.port))
            .filter_map(|l| Some((l, inv.listener_certificates.get(&l.arn)?)))
            .filter(|(_, certificates)| !certificates.is_empty());
        for (listener, certificates) in extra_certificates {
            elbv2::remove_certificates(&self.clients.elbv2, &listener.arn, certificates).await?;
        }
        // and shape their responses as AWS does by default
        let changed_responses = inv
            .listeners
            .iter()
            .filter(|l| wanted.iter().any(|w| i32::from(w.0) == l.port))
            .filter_map(|l| {
                let changes = elbv2::response_changes(inv.listener_responses.get(&l.arn)?);
                (!changes.is_empty()).then_some((l, changes))
            });
        for (listener, changes) in changed_responses {
            elbv2::restore_response_attributes(&self.clients.elbv2, &listener.arn, &changes)
                .await?;
        }
        for stale in inv
            .listeners
            .iter()
            .filter(|l| !wanted.iter().any(|w| i32::from(w.0) == l.port))
        {
            elbv2::delete_listener(&self.clients.elbv2, &stale.arn)
                .await
                .or_else(ignore_not_found)?;
        }
        Ok(())
    }

    /// Waits until the load balancer is `active` (it is `provisioning` for minutes
    /// after creation and answers no requests until then).
    pub(super) async fn wait_load_balancer_active(&self, arn: &str) -> Result<()> {
        let client = &self.clients.elbv2;
        poll_until(
            self.deadline,
            "the load balancer to become active",
            || async {
                let state = elbv2::load_balancer_state(client, &self.clients.batches, arn).await?;
                match state.as_deref() {
                    Some("active") => Ok(Some(())),
                    Some("failed") => Err(AwsError::Unsatisfiable(format!(
                        "load balancer {arn} failed to provision; the next apply retries it"
                    ))),
                    _ => Ok(None),
                }
            },
        )
        .await
    }
}

/// The listeners the spec asks for: (port, protocol, TLS, action).
pub(super) fn wanted_listeners<'a>(
    spec: &'a EnvironmentSpec,
    target_group: &str,
) -> Vec<(u16, &'static str, Tls<'a>, ListenerAction)> {
    let forward = ListenerAction::Forward(target_group.to_string());
    let lb = &spec.load_balancer;
    match &lb.certificate_arn {
        Some(certificate) => vec![
            (
                443,
                "https",
                Tls::On {
                    certificate,
                    policy: &lb.ssl_policy,
                },
                forward,
            ),
            (80, "http", Tls::Off, ListenerAction::RedirectToHttps),
        ],
        None => vec![(80, "http", Tls::Off, forward)],
    }
}

/// How a listener differs from what it should be, worded for the plan.
pub(super) fn listener_differences(
    listener: &elbv2::Listener,
    tls: Tls<'_>,
    action: &ListenerAction,
) -> Vec<String> {
    let mut found = setting_differences(listener, tls, action);
    found.extend(policy_difference(listener, tls));
    found
}

/// The security policy's difference, compared on HTTPS listeners only: an HTTP
/// listener has none in AWS, whatever an endpoint reports.
fn policy_difference(listener: &elbv2::Listener, tls: Tls<'_>) -> Option<String> {
    let policy = tls.policy()?;
    (listener.ssl_policy.as_deref() != Some(policy)).then(|| {
        format!(
            "uses SSL policy {} instead of {policy}",
            listener.ssl_policy.as_deref().unwrap_or("none"),
        )
    })
}

/// Differences in protocol, certificate and action: those that take the whole
/// listener definition to change.
fn setting_differences(
    listener: &elbv2::Listener,
    tls: Tls<'_>,
    action: &ListenerAction,
) -> Vec<String> {
    let mut found = Vec::new();
    let certificate = tls.certificate();
    let protocol = elbv2::listener_protocol(certificate);
    if listener.protocol != protocol.as_str() {
        found.push(format!(
            "speaks {} instead of {}",
            listener.protocol,
            protocol.as_str()
        ));
    }
    if listener.certificate.as_deref() != certificate {
        found.push(format!(
            "uses certificate {} instead of {}",
            listener.certificate.as_deref().unwrap_or("none"),
            certificate.unwrap_or("none")
        ));
    }
    let acts = match action {
        ListenerAction::Forward(tg) => {
            listener.action == "forward" && listener.target_group.as_deref() == Some(tg)
        }
        ListenerAction::RedirectToHttps => {
            listener.action == "redirect"
                && listener.redirect.as_deref() == Some(elbv2::REDIRECT_TO_HTTPS)
        }
    };
    if !acts {
        found.push(match (action, &listener.redirect) {
            (ListenerAction::Forward(_), _) => "does not forward to the target group".to_string(),
            (ListenerAction::RedirectToHttps, Some(elsewhere)) => format!(
                "redirects {elsewhere} instead of {}",
                elbv2::REDIRECT_TO_HTTPS
            ),
            (ListenerAction::RedirectToHttps, None) => {
                "does not redirect to HTTPS on 443".to_string()
            }
        });
    }
    found
}

/// The attributes of a load balancer that never had any set.
fn aws_defaults() -> BTreeMap<String, String> {
    attribute::AWS_DEFAULTS
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// Each wanted attribute AWS reports otherwise, as (key, observed, wanted).
fn attribute_differences<'a>(
    wanted: &'a BTreeMap<&'static str, String>,
    observed: &'a BTreeMap<String, String>,
) -> Vec<(&'static str, &'a str, &'a str)> {
    wanted
        .iter()
        .filter_map(|(key, value)| {
            let seen = observed.get(*key).map_or("", String::as_str);
            (seen != value).then_some((*key, seen, value.as_str()))
        })
        .collect()
}

/// One finding per load balancer attribute that differs from the spec, in the
/// configuration's words (`alb has idle_timeout 30 instead of 60; apply restores it`).
pub(super) fn load_balancer_attribute_drift(
    spec: &EnvironmentSpec,
    inv: &Inventory,
) -> Vec<Finding> {
    let (Some(_), Some(observed)) = (&inv.load_balancer, &inv.load_balancer_attributes) else {
        return Vec::new();
    };
    let wanted_type = crate::aws::elbv2::ip_address_type(spec.ipv6);
    let address_type = inv
        .load_balancer
        .iter()
        .filter(|lb| lb.ip_address_type != wanted_type)
        .map(|lb| {
            Finding::new(
                "alb",
                format!(
                    "has IP address type {} instead of {wanted_type}",
                    lb.ip_address_type
                ),
                Repair::InPlace("restores it"),
            )
        });
    let wanted = spec.load_balancer.attributes();
    let attributes =
        attribute_differences(&wanted, observed)
            .into_iter()
            .map(|(key, seen, value)| {
                let shown = |text: &str| {
                    if text.is_empty() {
                        "none".to_string()
                    } else {
                        text.to_string()
                    }
                };
                Finding::new(
                    "alb",
                    format!(
                        "has {} {} instead of {}",
                        attribute::setting(key),
                        shown(seen),
                        shown(value)
                    ),
                    Repair::InPlace("restores it"),
                )
            });
    address_type.chain(attributes).collect()
}

/// The target group attributes the environment keeps at AWS's defaults,
/// by key.
fn target_group_wanted() -> BTreeMap<&'static str, String> {
    attribute::TARGET_GROUP_DEFAULTS
        .iter()
        .map(|(key, value)| (*key, value.to_string()))
        .collect()
}

/// An attribute AWS reports otherwise: (key, observed, wanted).
type AttributeChange = (&'static str, String, String);

/// The attributes of the environment's target group that differ from what it
/// keeps, with the group's ARN.
fn target_group_attribute_changes<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
) -> Option<(&'a str, Vec<AttributeChange>)> {
    let tg = target_group_of(spec, inv)?;
    let observed = inv.target_group_attributes.get(&tg.arn)?;
    let wanted = target_group_wanted();
    let changes = attribute_differences(&wanted, observed)
        .into_iter()
        .map(|(key, seen, value)| (key, seen.to_string(), value.to_string()))
        .collect();
    Some((tg.arn.as_str(), changes))
}

/// One finding per target group attribute changed from what the environment
/// keeps (`tg has stickiness.enabled true instead of false`).
pub(super) fn target_group_attribute_drift(
    spec: &EnvironmentSpec,
    inv: &Inventory,
) -> Vec<Finding> {
    let Some((_, changes)) = target_group_attribute_changes(spec, inv) else {
        return Vec::new();
    };
    changes
        .into_iter()
        .map(|(key, seen, value)| {
            Finding::new(
                "tg",
                format!("has {key} {seen} instead of {value}"),
                Repair::InPlace("restores it"),
            )
        })
        .collect()
}

impl Run<'_> {
    /// Gives the target group back the attributes the environment keeps, in
    /// one call, where someone changed them. A group made in this run has them.
    pub(super) async fn restore_target_group_attributes(&self, inv: &Inventory) -> Result<()> {
        let Some((arn, changes)) = target_group_attribute_changes(self.spec, inv) else {
            return Ok(());
        };
        if changes.is_empty() {
            return Ok(());
        }
        let wanted: BTreeMap<&str, String> = changes
            .into_iter()
            .map(|(key, _, value)| (key, value))
            .collect();
        retry_propagation(self.deadline, "target group attributes", || {
            elbv2::set_target_group_attributes(&self.clients.elbv2, arn, &wanted)
        })
        .await
    }
}

pub(super) fn target_group_of<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
) -> Option<&'a elbv2::TargetGroup> {
    inv.target_groups
        .iter()
        .find(|tg| tg.port == i32::from(spec.app.port))
}

/// The group's instances in service that are not registered in the
/// environment's target group on its port (deregistered out of band): they
/// serve nothing.
fn unregistered_members(spec: &EnvironmentSpec, inv: &Inventory) -> Vec<String> {
    let (Some(group), Some(tg)) = (&inv.group, target_group_of(spec, inv)) else {
        return Vec::new();
    };
    // a group not attached to the target group is a finding of its own
    let Some(registered) = inv
        .registered
        .get(&tg.arn)
        .filter(|_| group.target_groups.contains(&tg.arn))
    else {
        return Vec::new();
    };
    // in service on both sides of the targets' read, when read twice: one
    // that left in between is deregistered by the group, not missing
    group
        .members
        .iter()
        .filter(|m| m.is_in_service())
        .filter(|m| {
            let again = inv.members_reread.as_ref();
            again.is_none_or(|again| again.iter().any(|a| a.id == m.id && a.is_in_service()))
        })
        .filter(|m| !registered.iter().any(|t| serves(t, tg) && t.id == m.id))
        .map(|m| m.id.clone())
        .collect()
}

/// The group's members as read before the targets and, when read again after
/// them, as read then: an instance it launched or let go in between is its own.
fn members_read(inv: &Inventory) -> Vec<autoscaling::Member> {
    let first = inv.group.iter().flat_map(|g| &g.members);
    first
        .chain(inv.members_reread.iter().flatten())
        .cloned()
        .collect()
}

/// Whether a target takes the target group's requests on the app's port.
fn serves(target: &elbv2::Target, tg: &elbv2::TargetGroup) -> bool {
    target.port.is_none_or(|port| port == tg.port)
}

/// Targets registered in the environment's target group that are not the
/// group's instances on the app's port: another instance or address given the
/// environment's requests, or a member registered on another port.
fn strange_targets<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
    members: &[autoscaling::Member],
) -> (Option<&'a elbv2::TargetGroup>, Vec<elbv2::Target>) {
    let Some(tg) = target_group_of(spec, inv) else {
        return (None, Vec::new());
    };
    let strange = inv.registered.get(&tg.arn).into_iter().flatten();
    let strange = strange
        .filter(|t| !serves(t, tg) || !members.iter().any(|m| m.id == t.id))
        .cloned()
        .collect();
    (Some(tg), strange)
}

pub(super) fn registration_drift(spec: &EnvironmentSpec, inv: &Inventory) -> Vec<Finding> {
    if inv.group_deleting.is_some() {
        // its instances leave the target group as AWS deletes it; the group
        // made again registers its own
        return Vec::new();
    }
    let missing = unregistered_members(spec, inv);
    let (tg, strange) = strange_targets(spec, inv, &members_read(inv));
    let mut findings = Vec::new();
    if !missing.is_empty() {
        findings.push(Finding::new(
            "tg",
            format!(
                "lacks the group's instances {}, which serve no requests",
                missing.join(", ")
            ),
            Repair::InPlace("registers them and waits until they serve"),
        ));
    }
    if let (Some(tg), false) = (tg, strange.is_empty()) {
        findings.push(Finding::new(
            "tg",
            format!(
                "has {} registered, which {} not the group's instances on port {}",
                strange
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if strange.len() == 1 { "is" } else { "are" },
                tg.port
            ),
            Repair::InPlace("deregisters them"),
        ));
    }
    findings
}

impl Run<'_> {
    /// Registers the group's instances in service that the target group lacks,
    /// and deregisters the targets that are not the group's instances on the
    /// app's port. The group is read again first: an instance it launched
    /// since the inventory was read is one of its own, never a stranger.
    pub(super) async fn register_members(&self, inv: &Inventory) -> Result<()> {
        if inv.group_deleting.is_some() {
            return Ok(());
        }
        let missing = unregistered_members(self.spec, inv);
        let Some(tg) = target_group_of(self.spec, inv) else {
            return Ok(());
        };
        elbv2::register_targets(&self.clients.elbv2, &tg.arn, &missing).await?;
        if strange_targets(self.spec, inv, &members_read(inv))
            .1
            .is_empty()
        {
            return Ok(());
        }
        let members = self.group_members().await?;
        if members.is_empty() {
            // the group not listed (yet): nothing to tell its instances by
            return Ok(());
        }
        let (_, strange) = strange_targets(self.spec, inv, &members);
        elbv2::deregister_targets(&self.clients.elbv2, &tg.arn, &strange).await
    }
}

/// Rules added to the environment's listeners: they route around the default
/// action (to another host, a fixed response), so every one is drift.
pub(super) fn listener_rule_drift(inv: &Inventory) -> Vec<Finding> {
    inv.listeners
        .iter()
        .filter_map(|l| Some((listener_key(l.port)?, inv.listener_rules.get(&l.arn)?)))
        .flat_map(|(key, rules)| {
            rules.iter().map(move |rule| {
                Finding::new(
                    key.clone(),
                    format!(
                        "has rule {} (priority {}: {}), which routes around its default action",
                        rule.arn, rule.priority, rule.summary
                    ),
                    Repair::InPlace("deletes it"),
                )
            })
        })
        .collect()
}

/// Certificates an HTTPS listener serves besides the configured one: to
/// clients that name another host, the load balancer answers as that host.
pub(super) fn listener_certificate_drift(inv: &Inventory) -> Vec<Finding> {
    inv.listeners
        .iter()
        .filter_map(|l| {
            Some((
                listener_key(l.port)?,
                inv.listener_certificates.get(&l.arn)?,
            ))
        })
        .filter(|(_, certificates)| !certificates.is_empty())
        .map(|(key, certificates)| {
            Finding::new(
                key,
                format!(
                    "serves certificates {} besides the configured one",
                    certificates.join(", ")
                ),
                Repair::InPlace("removes them"),
            )
        })
        .collect()
}

/// Response attributes of the environment's listeners away from AWS's
/// defaults: headers the configuration never asked for (a CORS origin, a
/// content security policy) or the `Server` header dropped.
pub(super) fn listener_response_drift(inv: &Inventory) -> Vec<Finding> {
    inv.listeners
        .iter()
        .filter_map(|l| Some((listener_key(l.port)?, inv.listener_responses.get(&l.arn)?)))
        .flat_map(|(key, attributes)| {
            elbv2::response_changes(attributes)
                .into_iter()
                .map(move |change| {
                    Finding::new(
                        key.clone(),
                        format!("{} ({})", change.words(), change.key),
                        Repair::InPlace("restores AWS's default"),
                    )
                })
        })
        .collect()
}

/// The component key of the listener on `port`; `None` for a port that is
/// none of the environment's (an extra listener, which apply removes).
pub(super) fn listener_key(port: i32) -> Option<String> {
    listener_role(port).map(|role| Component::Listener(role).key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::autoscaling::{Group, Member};
    use crate::plan::blueprint::tests::sample_spec;

    const TG: &str = "arn:tg";

    fn member(id: &str, lifecycle_state: &str) -> Member {
        Member {
            id: id.into(),
            lifecycle_state: lifecycle_state.into(),
            ..Member::default()
        }
    }

    /// The group read with `members`, the target group with `registered` on the app's port.
    fn inventory(members: Vec<Member>, registered: &[&str]) -> Inventory {
        let spec = sample_spec();
        let port = i32::from(spec.app.port);
        Inventory {
            target_groups: vec![elbv2::TargetGroup {
                arn: TG.into(),
                port,
                ..elbv2::TargetGroup::default()
            }],
            registered: BTreeMap::from([(
                TG.to_string(),
                registered
                    .iter()
                    .map(|id| elbv2::Target {
                        id: id.to_string(),
                        port: Some(port),
                    })
                    .collect(),
            )]),
            group: Some(Group {
                target_groups: vec![TG.into()],
                members,
                ..Group::default()
            }),
            ..Inventory::default()
        }
    }

    fn messages(inv: &Inventory) -> Vec<String> {
        let findings = registration_drift(&sample_spec(), inv);
        findings.iter().map(|f| f.problem.clone()).collect()
    }

    #[test]
    fn a_member_deregistered_and_a_stranger_registered_are_drift() {
        let inv = inventory(
            vec![member("i-a", "InService"), member("i-b", "InService")],
            &["i-a", "i-x"],
        );
        assert_eq!(
            messages(&inv),
            [
                "lacks the group's instances i-b, which serve no requests",
                "has i-x:8080 registered, which is not the group's instances on port 8080",
            ]
        );
    }

    #[test]
    fn an_instance_replaced_between_the_reads_is_neither_missing_nor_a_stranger() {
        // read before the targets: i-old in service; the group then replaced
        // it with i-new (registered, i-old draining), and the second read says so
        let mut inv = inventory(vec![member("i-old", "InService")], &["i-new"]);
        assert_eq!(messages(&inv).len(), 2, "one read alone cannot tell");
        inv.members_reread = Some(vec![member("i-new", "Pending")]);
        assert_eq!(messages(&inv), Vec::<String>::new());
        // deregistered out of band and in service on both reads: drift
        inv.members_reread = Some(vec![
            member("i-old", "InService"),
            member("i-new", "Pending"),
        ]);
        assert_eq!(
            messages(&inv),
            ["lacks the group's instances i-old, which serve no requests"]
        );
    }

    #[test]
    fn a_pending_member_is_not_missing_yet() {
        let inv = inventory(vec![member("i-a", "Pending")], &[]);
        assert_eq!(messages(&inv), Vec::<String>::new());
    }
}
