//! The VPC's flow log: created once the VPC exists, replaced when a setting
//! differs (AWS cannot change one), deleted when no longer configured and before
//! the VPC, and compared for drift setting by setting.

use std::collections::BTreeSet;

use futures::future::try_join_all;

use super::inventory::Inventory;
use super::run::{client_token, Result, Run};
use super::waiters::{delete_with_retry, retry_propagation};
use crate::aws::ec2::{self, Found};
use crate::error::AwsError;
use crate::plan::blueprint::Component;
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{normalized_destination, EnvironmentSpec, FlowLogSpec};

/// Each setting of `found` that differs from `spec`, as "has X instead of Y".
pub(super) fn setting_differences(spec: &FlowLogSpec, found: &Found) -> Vec<String> {
    let seen = |key: &str| found.detail.get(key).map_or("", String::as_str);
    let interval = spec.max_aggregation_interval.to_string();
    let role = spec.destination.role_arn().unwrap_or_default();
    let destination = normalized_destination(spec.destination.arn());
    [
        (
            "traffic type",
            spec.traffic_type.as_str(),
            seen("traffic_type"),
        ),
        (
            "destination type",
            spec.destination.type_name(),
            seen("destination_type"),
        ),
        (
            "destination",
            destination,
            normalized_destination(seen("destination")),
        ),
        ("delivery role", role, seen("role")),
        ("aggregation interval", interval.as_str(), seen("interval")),
    ]
    .into_iter()
    .filter(|(_, wanted, actual)| wanted != actual)
    .map(|(what, wanted, actual)| {
        let shown = |text: &str| {
            if text.is_empty() {
                "none".to_string()
            } else {
                text.to_string()
            }
        };
        format!("has {what} {} instead of {}", shown(actual), shown(wanted))
    })
    .collect()
}

impl Run<'_> {
    /// Creates the configured flow log, or replaces the environment's one when a
    /// setting differs: the old one is deleted first, since AWS refuses a second
    /// flow log of the VPC to the same destination.
    pub(super) async fn ensure_flow_log(&self, inv: &Inventory, vpc_id: &str) -> Result<()> {
        let Some(wanted) = &self.spec.flow_logs else {
            return Ok(());
        };
        if inv.flow_logs_denied {
            return Err(AwsError::Unsatisfiable(
                "`flow_logs` needs ec2:DescribeFlowLogs, ec2:CreateFlowLogs and ec2:DeleteFlowLogs, which the provider's credentials may not call; allow them (see the IAM policy guide)".into(),
            ));
        }
        if let Some(found) = &inv.flow_log {
            if setting_differences(wanted, found).is_empty() {
                return Ok(());
            }
            delete_flow_logs(&self.clients.ec2, std::iter::once(found), self.deadline).await?;
        }
        let component = Component::FlowLog;
        let token = client_token(&[
            &self.spec.name,
            &component.key(),
            vpc_id,
            wanted.destination.arn(),
            &self.run_id,
        ]);
        let tags = self.tags(&component);
        retry_propagation(self.deadline, "flow log", || {
            ec2::create_flow_log(&self.clients.ec2, vpc_id, wanted, &token, &tags)
        })
        .await
        .map(|_| ())
    }

    /// Deletes the environment's flow log once `flow_logs` is removed.
    pub(super) async fn remove_flow_log(
        &self,
        inv: &Inventory,
        planned: &BTreeSet<String>,
    ) -> Result<()> {
        match &inv.flow_log {
            Some(found) if !planned.contains(&Component::FlowLog.key()) => {
                delete_flow_logs(&self.clients.ec2, std::iter::once(found), self.deadline).await
            }
            _ => Ok(()),
        }
    }
}

/// Deletes every flow log tagged for the environment (its own and any
/// duplicate), so none outlives the VPC.
pub(super) async fn delete_flow_logs<'a>(
    client: &aws_sdk_ec2::Client,
    flow_logs: impl Iterator<Item = &'a Found>,
    deadline: tokio::time::Instant,
) -> Result<()> {
    let deletions = flow_logs.map(|found| {
        delete_with_retry(deadline, "flow log", move || {
            ec2::delete_flow_log(client, &found.id)
        })
    });
    try_join_all(deletions).await.map(|_| ())
}

/// The flow log's settings against the configuration.
pub(super) fn flow_log_drift(spec: &EnvironmentSpec, inv: &Inventory) -> Vec<Finding> {
    let (Some(wanted), Some(found)) = (&spec.flow_logs, &inv.flow_log) else {
        return Vec::new();
    };
    let differences = setting_differences(wanted, found);
    if differences.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        Component::FlowLog.key(),
        differences.join(", "),
        Repair::Replace,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::spec::{FlowLogDestination, TrafficType};

    fn spec() -> FlowLogSpec {
        FlowLogSpec {
            destination: FlowLogDestination::S3 {
                arn: "arn:aws:s3:::logs-bucket/vpc/".into(),
            },
            traffic_type: TrafficType::All,
            max_aggregation_interval: 600,
        }
    }

    fn found(detail: &[(&'static str, &str)]) -> Found {
        let mut found = Found {
            id: "fl-1".into(),
            tags: Default::default(),
            detail: [
                ("traffic_type", "ALL".to_string()),
                ("destination_type", "s3".to_string()),
                ("destination", "arn:aws:s3:::logs-bucket/vpc".to_string()),
                ("role", String::new()),
                ("interval", "600".to_string()),
            ]
            .into(),
        };
        for (key, value) in detail {
            found.detail.insert(key, value.to_string());
        }
        found
    }

    #[test]
    fn the_same_settings_differ_in_nothing() {
        // AWS reports the prefix without its trailing slash
        assert!(setting_differences(&spec(), &found(&[])).is_empty());
    }

    #[test]
    fn each_setting_is_compared() {
        let differences = setting_differences(
            &spec(),
            &found(&[
                ("traffic_type", "ACCEPT"),
                ("destination", "arn:aws:s3:::other"),
                ("interval", "60"),
            ]),
        );
        assert_eq!(
            differences,
            [
                "has traffic type ACCEPT instead of ALL",
                "has destination arn:aws:s3:::other instead of arn:aws:s3:::logs-bucket/vpc",
                "has aggregation interval 60 instead of 600",
            ]
        );
        let cloudwatch = FlowLogSpec {
            destination: FlowLogDestination::CloudWatchLogs {
                arn: "arn:aws:logs:us-east-1:123456789012:log-group:vpc:*".into(),
                role_arn: "arn:aws:iam::123456789012:role/flow".into(),
            },
            ..spec()
        };
        let on_s3 = setting_differences(&cloudwatch, &found(&[]));
        assert!(on_s3.contains(&"has destination type s3 instead of cloud-watch-logs".to_string()));
        assert!(on_s3.contains(
            &"has delivery role none instead of arn:aws:iam::123456789012:role/flow".to_string()
        ));
    }

    #[test]
    fn drift_says_apply_replaces_the_flow_log() {
        let mut env = crate::plan::blueprint::tests::sample_spec();
        env.flow_logs = Some(spec());
        let inv = Inventory {
            flow_log: Some(found(&[("traffic_type", "REJECT")])),
            ..Inventory::default()
        };
        let findings: Vec<String> = flow_log_drift(&env, &inv)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            findings,
            ["flowlog has traffic type REJECT instead of ALL; apply replaces it"]
        );
        env.flow_logs = None;
        assert!(flow_log_drift(&env, &inv).is_empty());
    }
}
