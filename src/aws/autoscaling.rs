//! Auto Scaling: the app group and its target-tracking policy.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::types::{
    LaunchTemplateSpecification, MetricType, PredefinedMetricSpecification, Tag,
    TargetTrackingConfiguration,
};
use aws_sdk_autoscaling::Client;

use crate::error::AwsError;

type Result<T> = std::result::Result<T, AwsError>;

/// Name of the target-tracking policy on average CPU: carries the group name so
/// it stays unique even where policies are indexed by name account-wide.
pub fn cpu_policy_name(group: &str) -> String {
    format!("{group}-cpu-target-tracking")
}

/// The group as the provider cares about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub subnets: Vec<String>,
    pub target_groups: Vec<String>,
    pub launch_template_id: String,
    pub launch_template_version: String,
    pub health_check_type: String,
    pub instances: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// set while AWS deletes the group
    pub deleting: bool,
}

/// Sizes and placement of the group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSettings {
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    pub subnets: Vec<String>,
    pub target_group: String,
    pub launch_template_id: String,
    pub launch_template_version: String,
}

pub async fn find_group(client: &Client, name: &str) -> Result<Option<Group>> {
    let out = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeAutoScalingGroups", e))?;
    Ok(out.auto_scaling_groups().first().map(|g| {
        let template = g.launch_template();
        Group {
            name: g.auto_scaling_group_name().unwrap_or_default().into(),
            min_size: g.min_size().unwrap_or_default(),
            max_size: g.max_size().unwrap_or_default(),
            desired_capacity: g.desired_capacity().unwrap_or_default(),
            subnets: g
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            target_groups: g.target_group_arns().to_vec(),
            launch_template_id: template
                .and_then(|t| t.launch_template_id())
                .unwrap_or_default()
                .into(),
            launch_template_version: template
                .and_then(|t| t.version())
                .unwrap_or_default()
                .into(),
            health_check_type: g.health_check_type().unwrap_or_default().into(),
            instances: g
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect(),
            tags: super::tag_pairs(g.tags().iter().map(|t| (t.key(), t.value()))),
            deleting: g.status().is_some_and(|s| s.contains("Delete")),
        }
    }))
}

fn tags_for(name: &str, tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .build()
        })
        .collect()
}

/// Creates the group with ELB health checks, attached to the target group.
pub async fn create_group(
    client: &Client,
    name: &str,
    settings: &GroupSettings,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    client
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(settings.min_size as i32)
        .max_size(settings.max_size as i32)
        .desired_capacity(settings.desired_capacity as i32)
        .vpc_zone_identifier(settings.subnets.join(","))
        .target_group_arns(&settings.target_group)
        .health_check_type("ELB")
        .health_check_grace_period(300)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&settings.launch_template_id)
                .version(&settings.launch_template_version)
                .build(),
        )
        .set_tags(Some(tags_for(name, tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateAutoScalingGroup", e))?;
    Ok(())
}

/// Updates sizes, subnets and template version; `desired` only when the user set it.
pub async fn update_group(
    client: &Client,
    name: &str,
    settings: &GroupSettings,
    desired: Option<u32>,
) -> Result<()> {
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(settings.min_size as i32)
        .max_size(settings.max_size as i32)
        .set_desired_capacity(desired.map(|d| d as i32))
        .vpc_zone_identifier(settings.subnets.join(","))
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&settings.launch_template_id)
                .version(&settings.launch_template_version)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateAutoScalingGroup", e))?;
    Ok(())
}

/// Replaces the instances in rolling batches, keeping `min_healthy` percent in
/// service; a refresh already running is cancelled first so the newest settings win.
pub async fn start_instance_refresh(client: &Client, group: &str, min_healthy: i32) -> Result<()> {
    let start = || async {
        client
            .start_instance_refresh()
            .auto_scaling_group_name(group)
            .preferences(
                aws_sdk_autoscaling::types::RefreshPreferences::builder()
                    .min_healthy_percentage(min_healthy)
                    .instance_warmup(60)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("StartInstanceRefresh", e))
    };
    match start().await {
        Err(AwsError::Api { code, .. }) if code == "InstanceRefreshInProgress" => {
            client
                .cancel_instance_refresh()
                .auto_scaling_group_name(group)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CancelInstanceRefresh", e))?;
            start().await
        }
        other => other,
    }
}

/// Attaches and detaches target groups so the group is registered in exactly `wanted`.
pub async fn set_target_groups(
    client: &Client,
    group: &str,
    current: &[String],
    wanted: &[String],
) -> Result<()> {
    let attach: Vec<String> = wanted
        .iter()
        .filter(|t| !current.contains(t))
        .cloned()
        .collect();
    let detach: Vec<String> = current
        .iter()
        .filter(|t| !wanted.contains(t))
        .cloned()
        .collect();
    if !attach.is_empty() {
        client
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name(group)
            .set_target_group_arns(Some(attach))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("AttachLoadBalancerTargetGroups", e))?;
    }
    if !detach.is_empty() {
        client
            .detach_load_balancer_target_groups()
            .auto_scaling_group_name(group)
            .set_target_group_arns(Some(detach))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DetachLoadBalancerTargetGroups", e))?;
    }
    Ok(())
}

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
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutScalingPolicy", e))?;
    Ok(())
}

/// The target value of the CPU policy, if the policy exists.
pub async fn cpu_policy_target(client: &Client, group: &str) -> Result<Option<f64>> {
    let out = client
        .describe_policies()
        .auto_scaling_group_name(group)
        .policy_names(cpu_policy_name(group))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribePolicies", e))?;
    Ok(out.scaling_policies().first().map(|p| {
        p.target_tracking_configuration()
            .and_then(|c| c.target_value())
            .unwrap_or_default()
    }))
}

/// Deletes the group and terminates its instances.
pub async fn delete_group(client: &Client, name: &str) -> Result<()> {
    client
        .delete_auto_scaling_group()
        .auto_scaling_group_name(name)
        .force_delete(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteAutoScalingGroup", e))?;
    Ok(())
}

pub async fn retag(
    client: &Client,
    name: &str,
    tags: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<()> {
    if !removed.is_empty() {
        let gone: BTreeMap<String, String> =
            removed.iter().map(|k| (k.clone(), String::new())).collect();
        client
            .delete_tags()
            .set_tags(Some(tags_for(name, &gone)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteTags", e))?;
    }
    client
        .create_or_update_tags()
        .set_tags(Some(tags_for(name, tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateOrUpdateTags", e))?;
    Ok(())
}
