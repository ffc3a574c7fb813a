//! What hangs off a group besides its settings: the environment's CPU
//! policy, and the policies, scheduled actions, lifecycle hooks, warm pool and
//! notification configurations someone else added.

use super::*;

/// Creates or updates the target-tracking policy on average CPU.
pub async fn put_cpu_policy(client: &Client, group: &str, target: f64) -> Result<()> {
    client
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(cpu_policy_name(group))
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(
            TargetTrackingConfiguration::builder()
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                        .build(),
                )
                .target_value(target)
                .disable_scale_in(false)
                .build(),
        )
        .enabled(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutScalingPolicy", e))?;
    Ok(())
}

/// The environment's target-tracking policy as AWS runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuPolicy {
    pub target: f64,
    /// the predefined metric it tracks (`ASGAverageCPUUtilization`), or what it tracks instead
    pub metric: String,
    /// set when the policy may only scale out
    pub scale_in_disabled: bool,
    pub enabled: bool,
}

impl CpuPolicy {
    /// The metric [`put_cpu_policy`] tracks.
    pub const METRIC: &'static str = "ASGAverageCPUUtilization";

    /// What differs from the policy [`put_cpu_policy`] writes with `target`.
    pub fn differences(&self, target: f64) -> Vec<String> {
        let mut found = Vec::new();
        if self.target != target {
            found.push(format!("targets {}% instead of {target}%", self.target));
        }
        if self.metric != Self::METRIC {
            found.push(format!(
                "tracks {} instead of {}",
                self.metric,
                Self::METRIC
            ));
        }
        if self.scale_in_disabled {
            found.push("has scale-in disabled".to_string());
        }
        if !self.enabled {
            found.push("is disabled".to_string());
        }
        found
    }
}

/// What the group runs besides what the environment declares: another scaling
/// policy, a scheduled action or a lifecycle hook changes its capacity, or
/// holds its instances, on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub name: String,
    /// what it does, in a few words (`SimpleScaling`, `recurrence 0 22 * * *, desired 0`)
    pub summary: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentKind {
    ScalingPolicy,
    ScheduledAction,
    LifecycleHook,
    /// instances kept ready to join: read with the group, one per group
    WarmPool,
    /// messages to an SNS topic on the group's launches and terminations,
    /// named by the topic's ARN
    Notification,
}

impl std::fmt::Display for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = match self.kind {
            AttachmentKind::ScalingPolicy => "scaling policy",
            AttachmentKind::ScheduledAction => "scheduled action",
            AttachmentKind::LifecycleHook => "lifecycle hook",
            AttachmentKind::WarmPool => "warm pool",
            AttachmentKind::Notification => "notification configuration to",
        };
        match self.name.as_str() {
            "" => write!(f, "{noun} ({})", self.summary),
            name => write!(f, "{noun} {name} ({})", self.summary),
        }
    }
}

/// The group's scaling policies: the environment's CPU policy, if it exists,
/// and every other one.
pub async fn policies(
    client: &Client,
    group: &str,
) -> Result<(Option<CpuPolicy>, Vec<Attachment>)> {
    let mut cpu = None;
    let mut others = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .describe_policies()
            .auto_scaling_group_name(group)
            .max_records(50)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribePolicies", e))?;
        for policy in out.scaling_policies() {
            let name = policy.policy_name().unwrap_or_default();
            if name == cpu_policy_name(group) {
                cpu = Some(cpu_policy_of(policy));
            } else {
                others.push(Attachment {
                    kind: AttachmentKind::ScalingPolicy,
                    name: name.to_string(),
                    summary: policy.policy_type().unwrap_or("SimpleScaling").to_string(),
                });
            }
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => return Ok((cpu, others)),
        }
    }
}

/// The group's scheduled actions.
pub async fn scheduled_actions(client: &Client, group: &str) -> Result<Vec<Attachment>> {
    let mut found = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .describe_scheduled_actions()
            .auto_scaling_group_name(group)
            .max_records(100)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeScheduledActions", e))?;
        for action in out.scheduled_update_group_actions() {
            let when = match (action.recurrence(), action.start_time()) {
                (Some(recurrence), _) => format!("recurrence {recurrence}"),
                (None, Some(at)) => format!("at {at}"),
                (None, None) => "once".to_string(),
            };
            let sizes = [
                ("min", action.min_size()),
                ("max", action.max_size()),
                ("desired", action.desired_capacity()),
            ];
            let sizes = sizes
                .iter()
                .filter_map(|(what, size)| Some(format!("{what} {}", (*size)?)));
            found.push(Attachment {
                kind: AttachmentKind::ScheduledAction,
                name: action
                    .scheduled_action_name()
                    .unwrap_or_default()
                    .to_string(),
                summary: std::iter::once(when)
                    .chain(sizes)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => return Ok(found),
        }
    }
}

/// The group's lifecycle hooks.
pub async fn lifecycle_hooks(client: &Client, group: &str) -> Result<Vec<Attachment>> {
    let out = client
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(group)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeLifecycleHooks", e))?;
    Ok(out
        .lifecycle_hooks()
        .iter()
        .map(|hook| Attachment {
            kind: AttachmentKind::LifecycleHook,
            name: hook.lifecycle_hook_name().unwrap_or_default().to_string(),
            summary: format!(
                "{}, {} after {} s",
                hook.lifecycle_transition().unwrap_or_default(),
                hook.default_result().unwrap_or("ABANDON"),
                hook.heartbeat_timeout().unwrap_or(3600)
            ),
        })
        .collect())
}

/// The group's notification configurations, one per topic. Reads of several
/// environments' groups at the same moment share one call (it takes a list of
/// names).
pub async fn notifications(
    client: &Client,
    batches: &Batches,
    group: &str,
) -> Result<Vec<Attachment>> {
    batches
        .read_with(
            client,
            "DescribeNotificationConfigurations",
            "AutoScalingGroupNames",
            50,
            group,
            |client, names| async move {
                // (group, topic) -> notification types
                let mut by_topic: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
                let mut next: Option<String> = None;
                loop {
                    let out = client
                        .describe_notification_configurations()
                        .set_auto_scaling_group_names(Some(names.clone()))
                        .max_records(100)
                        .set_next_token(next.take())
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeNotificationConfigurations", e))?;
                    for c in out.notification_configurations() {
                        let key = (
                            c.auto_scaling_group_name().unwrap_or_default().to_string(),
                            c.topic_arn().unwrap_or_default().to_string(),
                        );
                        let kind = c.notification_type().unwrap_or_default().to_string();
                        by_topic.entry(key).or_default().push(kind);
                    }
                    match out.next_token() {
                        Some(token) if !token.is_empty() => next = Some(token.to_string()),
                        _ => break,
                    }
                }
                Ok(by_topic
                    .into_iter()
                    .map(|((group, topic), kinds)| {
                        let attachment = Attachment {
                            kind: AttachmentKind::Notification,
                            name: topic,
                            summary: kinds.join(", "),
                        };
                        (group, attachment)
                    })
                    .collect())
            },
        )
        .await
}

/// Deletes a policy, scheduled action, lifecycle hook, warm pool or
/// notification configuration from the group.
pub async fn remove_attachment(
    client: &Client,
    group: &str,
    attachment: &Attachment,
) -> Result<()> {
    let name = attachment.name.as_str();
    match attachment.kind {
        AttachmentKind::ScalingPolicy => client
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeletePolicy", e)),
        AttachmentKind::ScheduledAction => client
            .delete_scheduled_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeleteScheduledAction", e)),
        AttachmentKind::LifecycleHook => client
            .delete_lifecycle_hook()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeleteLifecycleHook", e)),
        // its instances terminate with it: they are not the group's capacity
        AttachmentKind::WarmPool => client
            .delete_warm_pool()
            .auto_scaling_group_name(group)
            .force_delete(true)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeleteWarmPool", e)),
        AttachmentKind::Notification => client
            .delete_notification_configuration()
            .auto_scaling_group_name(group)
            .topic_arn(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeleteNotificationConfiguration", e)),
    }
}

fn cpu_policy_of(p: &aws_sdk_autoscaling::types::ScalingPolicy) -> CpuPolicy {
    let tracking = p.target_tracking_configuration();
    CpuPolicy {
        target: tracking.and_then(|c| c.target_value()).unwrap_or_default(),
        metric: tracking
            .and_then(|c| c.predefined_metric_specification())
            .and_then(|m| m.predefined_metric_type())
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "a customized metric".to_string()),
        scale_in_disabled: tracking.and_then(|c| c.disable_scale_in()).unwrap_or(false),
        enabled: p.enabled().unwrap_or(true),
    }
}

/// A warm pool, as an attachment of the group; none while AWS deletes it.
pub(super) fn warm_pool_of(
    pool: &aws_sdk_autoscaling::types::WarmPoolConfiguration,
) -> Option<Attachment> {
    let deleting = pool.status().is_some_and(|s| s.as_str() == "PendingDelete");
    if deleting {
        return None;
    }
    let max = pool
        .max_group_prepared_capacity()
        .filter(|m| *m >= 0)
        .map_or("the group's maximum".to_string(), |m| m.to_string());
    let state = pool.pool_state().map_or("Stopped", |s| s.as_str());
    Some(Attachment {
        kind: AttachmentKind::WarmPool,
        name: String::new(),
        summary: format!(
            "min {}, up to {max} prepared, {state}",
            pool.min_size().unwrap_or(0)
        ),
    })
}
