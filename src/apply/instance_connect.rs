//! The EC2 Instance Connect Endpoint: SSH to the app instances through AWS,
//! without a bastion or a public address. It stands in the first private
//! subnet with the `eice` group, and is replaced when it stands elsewhere, has
//! other groups or failed. AWS allows one per VPC, so a replacement deletes
//! the old one (and waits until it is gone) before creating the new one.

use std::collections::BTreeSet;

use super::inventory::Inventory;
use super::run::{client_token, Placement, Result, Run};
use super::teardown::{each, Teardown};
use super::waiters::{poll_until, retry_propagation};
use crate::aws::ec2::{self, Found, ENDPOINT_READY};
use crate::error::AwsError;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::drift::{Finding, Repair};
use crate::plan::security::SgRole;
use crate::plan::spec::EnvironmentSpec;

/// The subnet the endpoint belongs in: the private subnet of the first zone.
fn home_subnet<'a>(
    bp: &Blueprint,
    subnet_of: impl Fn(&str) -> Option<&'a String>,
) -> Option<&'a String> {
    bp.zones.first().and_then(|zone| subnet_of(zone))
}

/// What only a new endpoint can change about `found`, worded for the plan;
/// empty when it is as planned.
fn replace_reasons(found: &Found, subnet: &str, group: &str) -> Vec<String> {
    let detail = |key: &str| found.detail.get(key).map_or("", String::as_str);
    let mut reasons = Vec::new();
    if detail("state").starts_with("delete-") {
        // deleted out of band and still on its way out (AWS allows one per
        // VPC: the new one waits until it is gone)
        reasons.push(format!("is being deleted ({})", detail("state")));
    } else if detail("state").ends_with("-failed") {
        let message = detail("state_message");
        reasons.push(if message.is_empty() {
            format!("is {}", detail("state"))
        } else {
            format!("is {} ({message})", detail("state"))
        });
    }
    if detail("subnet") != subnet {
        reasons.push(format!(
            "stands in subnet {:?}, not in {subnet:?}",
            detail("subnet")
        ));
    }
    if detail("security_groups") != group {
        reasons.push(format!(
            "has security groups {:?} instead of exactly sg/eice",
            detail("security_groups")
        ));
    }
    if detail("preserve_client_ip") == "true" {
        reasons.push("preserves client IPs, which sg/app does not admit".into());
    }
    reasons
}

impl Run<'_> {
    /// Creates the endpoint, or replaces one that no longer matches, and waits
    /// until AWS has it ready for connections.
    pub(super) async fn ensure_instance_connect_endpoint(&self, at: &Placement<'_>) -> Result<()> {
        let &Placement {
            inv,
            bp,
            subnets,
            groups,
            ..
        } = at;
        if !self.spec.instance_connect_endpoint {
            return Ok(());
        }
        let (Some(subnet), Some(group)) = (
            home_subnet(bp, |zone| subnets.get(&(Tier::Private, zone.to_string()))),
            groups.get(&SgRole::InstanceConnect),
        ) else {
            return Ok(());
        };
        let id = match inv.object("eice") {
            Some(found) if replace_reasons(found, subnet, group).is_empty() => found.id.clone(),
            existing => {
                if let Some(old) = existing {
                    self.delete_instance_connect_endpoint(&old.id).await?;
                }
                let component = Component::InstanceConnectEndpoint;
                let token = client_token(&[
                    &self.spec.name,
                    &component.key(),
                    subnet,
                    group,
                    &self.run_id,
                ]);
                let tags = self.tags(&component);
                retry_propagation(self.deadline, "EC2 Instance Connect Endpoint", || {
                    ec2::create_instance_connect_endpoint(
                        &self.clients.ec2,
                        subnet,
                        group,
                        &token,
                        &tags,
                    )
                })
                .await?
            }
        };
        self.wait_instance_connect_endpoint_ready(&id).await
    }

    async fn wait_instance_connect_endpoint_ready(&self, id: &str) -> Result<()> {
        poll_until(
            self.deadline,
            &format!("EC2 Instance Connect Endpoint {id} to be ready"),
            || async {
                // a new endpoint may be unknown to a read for a moment: still coming
                let Some(found) = ec2::instance_connect_endpoint(&self.clients.ec2, id).await?
                else {
                    return Ok(None);
                };
                let detail = |key: &str| found.detail.get(key).cloned().unwrap_or_default();
                match detail("state").as_str() {
                    ENDPOINT_READY => Ok(Some(())),
                    "create-failed" => Err(AwsError::FailedInAws {
                        what: format!("EC2 Instance Connect Endpoint {id}"),
                        reason: Some(detail("state_message"))
                            .filter(|m| !m.is_empty())
                            .unwrap_or_else(|| "AWS gave no reason".into()),
                        outcome: "the next apply replaces it".into(),
                    }),
                    _ => Ok(None),
                }
            },
        )
        .await
    }

    /// Deletes the endpoint and waits until AWS no longer has it, so its
    /// network interface leaves the subnet and its group is free.
    pub(super) async fn delete_instance_connect_endpoint(&self, id: &str) -> Result<()> {
        delete_instance_connect_endpoint(&self.clients.ec2, id, self.deadline).await
    }

    /// Deletes the endpoint and its group once `instance_connect_endpoint` is off.
    pub(super) async fn remove_instance_connect_endpoint(
        &self,
        inv: &Inventory,
        planned: &BTreeSet<String>,
    ) -> Result<()> {
        if planned.contains(&Component::InstanceConnectEndpoint.key()) {
            return Ok(());
        }
        if let Some(found) = inv.object("eice") {
            self.delete_instance_connect_endpoint(&found.id).await?;
        }
        self.delete_group_of(inv, SgRole::InstanceConnect).await
    }
}

/// Deletes endpoint `id` and waits until it is gone. AWS refuses to delete an
/// endpoint still being created: that refusal is retried until it is ready.
pub(super) async fn delete_instance_connect_endpoint(
    client: &aws_sdk_ec2::Client,
    id: &str,
    deadline: tokio::time::Instant,
) -> Result<()> {
    super::waiters::delete_with_retry(deadline, "EC2 Instance Connect Endpoint", || {
        ec2::delete_instance_connect_endpoint(client, id)
    })
    .await?;
    poll_until(
        deadline,
        &format!("EC2 Instance Connect Endpoint {id} to be deleted"),
        || async {
            let found = ec2::instance_connect_endpoint(client, id).await?;
            Ok(found.is_none().then_some(()))
        },
    )
    .await
}

/// Destroy's step: deletes the environment's endpoint and any duplicate, and
/// waits until they are gone (their interfaces hold a private subnet).
pub(super) async fn teardown(t: &Teardown<'_>) -> Result<()> {
    let endpoints = t.listed_with_strays("eice", &ec2::INSTANCE_CONNECT_ENDPOINTS);
    each(endpoints, |e| {
        delete_instance_connect_endpoint(t.ec2(), &e.id, t.deadline)
    })
    .await
}

/// The endpoint's placement, groups and state against the plan.
pub(super) fn instance_connect_drift(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let Some(found) = inv
        .object("eice")
        .filter(|_| spec.instance_connect_endpoint)
    else {
        return Vec::new();
    };
    let subnet = home_subnet(bp, |zone| {
        inv.object(&Component::Subnet(Tier::Private, zone.to_string()).key())
            .map(|s| &s.id)
    });
    let group = inv
        .security_groups
        .get(&Component::SecurityGroup(SgRole::InstanceConnect).key());
    let (Some(subnet), Some(group)) = (subnet, group) else {
        return Vec::new();
    };
    let reasons = replace_reasons(found, subnet, &group.id);
    if reasons.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        Component::InstanceConnectEndpoint.key(),
        reasons.join(", "),
        Repair::Replace,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(state: &str, subnet: &str, groups: &str) -> Found {
        Found {
            id: "eice-0123456789abcdef0".into(),
            tags: Default::default(),
            detail: [
                ("state", state.to_string()),
                ("state_message", String::new()),
                ("subnet", subnet.to_string()),
                ("security_groups", groups.to_string()),
                ("preserve_client_ip", "false".to_string()),
            ]
            .into(),
        }
    }

    #[test]
    fn an_endpoint_as_planned_stays_and_any_other_is_replaced_with_the_reason() {
        let ok = endpoint("create-complete", "subnet-a", "sg-e");
        assert!(replace_reasons(&ok, "subnet-a", "sg-e").is_empty());
        // still being created is not a reason: apply waits for it
        let coming = endpoint("create-in-progress", "subnet-a", "sg-e");
        assert!(replace_reasons(&coming, "subnet-a", "sg-e").is_empty());
        assert_eq!(
            replace_reasons(
                &endpoint("delete-in-progress", "subnet-a", "sg-e"),
                "subnet-a",
                "sg-e"
            ),
            vec!["is being deleted (delete-in-progress)".to_string()]
        );
        assert_eq!(
            replace_reasons(
                &endpoint("create-failed", "subnet-b", "sg-e,sg-x"),
                "subnet-a",
                "sg-e"
            ),
            vec![
                "is create-failed".to_string(),
                "stands in subnet \"subnet-b\", not in \"subnet-a\"".to_string(),
                "has security groups \"sg-e,sg-x\" instead of exactly sg/eice".to_string(),
            ]
        );
    }
}
