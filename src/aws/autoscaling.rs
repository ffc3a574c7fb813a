//! Auto Scaling: the app group and its target-tracking policy.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::operation::update_auto_scaling_group::builders::UpdateAutoScalingGroupFluentBuilder as GroupUpdate;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides,
    LaunchTemplateSpecification, MetricType, MixedInstancesPolicy, PredefinedMetricSpecification,
    Tag, TargetTrackingConfiguration,
};
use aws_sdk_autoscaling::Client;

use crate::aws::batch::Batches;
use crate::error::AwsError;
use crate::plan::spec::InstanceMix;

type Result<T> = std::result::Result<T, AwsError>;

mod attachments;
mod settings;

pub use attachments::*;
pub use settings::*;

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
    pub health_check_grace_period: i32,
    pub instances: Vec<String>,
    /// the instances with their lifecycle and the template version they were launched from
    pub members: Vec<Member>,
    pub tags: BTreeMap<String, String>,
    /// set while AWS deletes the group
    pub deleting: bool,
    /// processes suspended on the group (`Launch`, `HealthCheck`, ...)
    pub suspended: Vec<String>,
    /// its mixed instances policy, when it has one
    pub mix: Option<InstanceMix>,
    pub capacity_rebalance: bool,
    /// the settings of [`KeptSetting`] that are not at AWS's default, with
    /// the value read
    pub off_default: Vec<(KeptSetting, String)>,
    /// its warm pool, unless there is none or AWS is deleting it
    pub warm_pool: Option<Attachment>,
}

/// One instance of the group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Member {
    pub id: String,
    /// `Pending`, `InService`, `Terminating`, ...
    pub lifecycle_state: String,
    pub launch_template_version: String,
    /// protected from scale-in: the group never picks it to terminate
    pub protected_from_scale_in: bool,
}

impl Member {
    /// Serving: launched, registered and past its health check grace period.
    pub fn is_in_service(&self) -> bool {
        self.lifecycle_state == "InService"
    }

    /// Serving or about to: instances on their way out do not count.
    pub fn is_live(&self) -> bool {
        matches!(
            self.lifecycle_state.as_str(),
            "Pending" | "Pending:Wait" | "Pending:Proceed" | "InService"
        )
    }
}

/// An instance refresh as DescribeInstanceRefreshes reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refresh {
    pub id: String,
    /// `Pending`, `InProgress`, `Cancelling`, `Successful`, `RollbackInProgress`, ...
    pub status: String,
    /// the launch template version it rolls to, when it names one
    pub target_version: Option<String>,
    /// AWS's words for why it failed, was cancelled or rolled back
    pub status_reason: Option<String>,
    pub percentage_complete: Option<i32>,
    pub instances_to_update: Option<i32>,
}

impl Refresh {
    /// Ended, one way or another: nothing more will happen to the instances.
    pub fn ended(&self) -> bool {
        matches!(
            self.status.as_str(),
            "Successful" | "Failed" | "Cancelled" | "RollbackFailed" | "RollbackSuccessful"
        )
    }
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
    pub health_check_grace_period: u32,
    pub mix: Option<InstanceMix>,
}

/// How a group or a refresh names what it launches: the launch template alone,
/// or (with a mix) a mixed instances policy around it. AWS takes one or the other.
struct Launch {
    template: Option<LaunchTemplateSpecification>,
    policy: Option<MixedInstancesPolicy>,
}

impl Launch {
    fn of(template_id: &str, version: &str, mix: Option<&InstanceMix>) -> Launch {
        let spec = LaunchTemplateSpecification::builder()
            .launch_template_id(template_id)
            .version(version)
            .build();
        let Some(mix) = mix else {
            return Launch {
                template: Some(spec),
                policy: None,
            };
        };
        let overrides = mix
            .instance_types
            .iter()
            .map(|t| LaunchTemplateOverrides::builder().instance_type(t).build())
            .collect();
        let policy = MixedInstancesPolicy::builder()
            .launch_template(
                LaunchTemplate::builder()
                    .launch_template_specification(spec)
                    .set_overrides(Some(overrides))
                    .build(),
            )
            .instances_distribution(
                InstancesDistribution::builder()
                    // On-Demand capacity takes the types in the order given
                    .on_demand_allocation_strategy(ON_DEMAND_STRATEGY)
                    .on_demand_base_capacity(mix.on_demand_base_capacity as i32)
                    .on_demand_percentage_above_base_capacity(
                        mix.on_demand_percentage_above_base as i32,
                    )
                    .spot_allocation_strategy(&mix.spot_allocation_strategy)
                    .build(),
            )
            .build();
        Launch {
            template: None,
            policy: Some(policy),
        }
    }
}

/// How On-Demand capacity picks among the mix's types: by their order.
const ON_DEMAND_STRATEGY: &str = "prioritized";

/// The launch template a group's or a refresh's mixed instances policy names.
fn policy_template(policy: Option<&MixedInstancesPolicy>) -> Option<&LaunchTemplateSpecification> {
    policy?.launch_template()?.launch_template_specification()
}

/// The mix a mixed instances policy gives, with AWS's defaults for what it leaves out.
fn mix_of(policy: &MixedInstancesPolicy) -> InstanceMix {
    let distribution = policy.instances_distribution();
    let number = |value: Option<i32>, default: u32| {
        value.and_then(|v| u32::try_from(v).ok()).unwrap_or(default)
    };
    InstanceMix {
        instance_types: policy
            .launch_template()
            .map(|t| t.overrides())
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o.instance_type().map(str::to_string))
            .collect(),
        on_demand_base_capacity: number(distribution.and_then(|d| d.on_demand_base_capacity()), 0),
        on_demand_percentage_above_base: number(
            distribution.and_then(|d| d.on_demand_percentage_above_base_capacity()),
            100,
        ),
        // AWS's default when none is given
        spot_allocation_strategy: distribution
            .and_then(|d| d.spot_allocation_strategy())
            .unwrap_or("lowest-price")
            .to_string(),
    }
}

/// How an instance refresh replaces instances (AWS's RefreshPreferences).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefreshSettings {
    pub min_healthy_percentage: u32,
    pub max_healthy_percentage: u32,
    /// `None` leaves AWS to use the group's warmup, else its grace period
    pub instance_warmup: Option<u32>,
    /// on a failure (replacements that do not pass their health checks), AWS
    /// replaces what it replaced back from the template the group had before
    pub auto_rollback: bool,
}

/// AWS's `StatusMessage` of the group's latest scaling activity when it is a
/// `Failed` one that started at or after `since`: why instances do not launch
/// (no capacity in a zone, an image or profile EC2 refuses, a quota).
pub async fn latest_failed_activity(
    client: &Client,
    group: &str,
    since: std::time::SystemTime,
) -> Result<Option<String>> {
    let out = match client
        .describe_scaling_activities()
        .auto_scaling_group_name(group)
        .max_records(1)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return AwsError::from_sdk("DescribeScalingActivities", e).or_gone(None),
    };
    let since = aws_smithy_types::DateTime::from(since);
    Ok(out
        .activities()
        .first()
        .filter(|a| {
            a.status_code().is_some_and(|c| {
                *c == aws_sdk_autoscaling::types::ScalingActivityStatusCode::Failed
            })
        })
        // called by path: a `start_…` method reads as an operation to the IAM policy test
        .filter(|a| {
            aws_sdk_autoscaling::types::Activity::start_time(a)
                .is_some_and(|t| t.secs() >= since.secs())
        })
        .map(|a| {
            a.status_message()
                .or(a.description())
                .unwrap_or("AWS gave no status message")
                .to_string()
        }))
}

/// The group of that name, if any. Reads of several environments' groups at
/// the same moment share one call (it takes 50 names, and leaves out names it
/// does not know).
pub async fn find_group(client: &Client, batches: &Batches, name: &str) -> Result<Option<Group>> {
    let groups = batches
        .read_with(
            client,
            "DescribeAutoScalingGroups",
            "AutoScalingGroupNames",
            50,
            name,
            |client, names| async move {
                let out = client
                    .describe_auto_scaling_groups()
                    .set_auto_scaling_group_names(Some(names))
                    .max_records(50)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeAutoScalingGroups", e))?;
                Ok(out
                    .auto_scaling_groups()
                    .iter()
                    .map(|g| {
                        (
                            g.auto_scaling_group_name().unwrap_or_default().to_string(),
                            group_of(g),
                        )
                    })
                    .collect())
            },
        )
        .await?;
    Ok(groups.into_iter().next())
}

fn group_of(g: &AutoScalingGroup) -> Group {
    let template = g
        .launch_template()
        .or_else(|| policy_template(g.mixed_instances_policy()));
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
        health_check_grace_period: g.health_check_grace_period().unwrap_or_default(),
        instances: g
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect(),
        members: g
            .instances()
            .iter()
            .map(|i| Member {
                id: i.instance_id().unwrap_or_default().into(),
                lifecycle_state: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                launch_template_version: i
                    .launch_template()
                    .and_then(|t| t.version())
                    .unwrap_or_default()
                    .into(),
                protected_from_scale_in: i.protected_from_scale_in().unwrap_or(false),
            })
            .collect(),
        tags: super::tag_pairs(g.tags().iter().map(|t| (t.key(), t.value()))),
        deleting: g.status().is_some_and(|s| s.contains("Delete")),
        suspended: {
            let mut names: Vec<String> = g
                .suspended_processes()
                .iter()
                .filter_map(|p| p.process_name().map(str::to_string))
                .collect();
            names.sort();
            names
        },
        mix: g.mixed_instances_policy().map(mix_of),
        capacity_rebalance: g.capacity_rebalance().unwrap_or(false),
        off_default: KeptSetting::ALL
            .into_iter()
            .map(|setting| (setting, setting.read(g)))
            .filter(|(setting, seen)| seen != setting.default())
            .collect(),
        warm_pool: g.warm_pool_configuration().and_then(warm_pool_of),
    }
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
    let launch = Launch::of(
        &settings.launch_template_id,
        &settings.launch_template_version,
        settings.mix.as_ref(),
    );
    client
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(settings.min_size as i32)
        .max_size(settings.max_size as i32)
        .desired_capacity(settings.desired_capacity as i32)
        .vpc_zone_identifier(settings.subnets.join(","))
        .target_group_arns(&settings.target_group)
        .health_check_type(HEALTH_CHECK_TYPE)
        .health_check_grace_period(settings.health_check_grace_period as i32)
        .set_launch_template(launch.template)
        .set_mixed_instances_policy(launch.policy)
        .capacity_rebalance(rebalances(settings.mix.as_ref()))
        .set_tags(Some(tags_for(name, tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateAutoScalingGroup", e))?;
    Ok(())
}

/// How the group judges its instances: by the target group's health checks,
/// so an instance whose app does not answer is replaced.
pub const HEALTH_CHECK_TYPE: &str = "ELB";

/// Whether a group of `mix` rebalances its Spot capacity.
fn rebalances(mix: Option<&InstanceMix>) -> bool {
    mix.is_some_and(InstanceMix::capacity_rebalance)
}

/// Updates sizes, subnets, health check type, grace period and capacity
/// rebalancing; what it launches (the template and the mix) only with
/// `launch_version`, the template version to name: the one it runs when only
/// the mix changes, as an instance refresh switches the version when it
/// succeeds (so a failed one leaves the group on the version it ran);
/// `desired` only when the user set it; `to_default`, settings the
/// configuration does not offer, back to AWS's defaults.
pub async fn update_group(
    client: &Client,
    name: &str,
    settings: &GroupSettings,
    launch_version: Option<&str>,
    desired: Option<u32>,
    to_default: &[KeptSetting],
) -> Result<()> {
    let launch = launch_version
        .map(|version| Launch::of(&settings.launch_template_id, version, settings.mix.as_ref()));
    let (template, policy) = launch.map_or((None, None), |l| (l.template, l.policy));
    let update = client.update_auto_scaling_group();
    let update = to_default.iter().fold(update, |u, s| s.restore(u));
    update
        .auto_scaling_group_name(name)
        .min_size(settings.min_size as i32)
        .max_size(settings.max_size as i32)
        .set_desired_capacity(desired.map(|d| d as i32))
        .vpc_zone_identifier(settings.subnets.join(","))
        .health_check_type(HEALTH_CHECK_TYPE)
        .health_check_grace_period(settings.health_check_grace_period as i32)
        .set_launch_template(template)
        .set_mixed_instances_policy(policy)
        .capacity_rebalance(rebalances(settings.mix.as_ref()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateAutoScalingGroup", e))?;
    Ok(())
}

/// Starts replacing the instances in rolling batches as `preferences` say,
/// towards launch template `version` (named in the request so that
/// [`active_refresh`] can tell which version a running refresh rolls to, and
/// given to the group by AWS when the refresh succeeds). Instances that run
/// that version already are skipped. A group with a mix names it around the
/// template, as AWS requires of a group with a mixed instances policy.
/// Returns the refresh's ID. Refused with `InstanceRefreshInProgress` while
/// another refresh runs.
pub async fn start_instance_refresh(
    client: &Client,
    group: &str,
    preferences: &RefreshSettings,
    template_id: &str,
    version: &str,
    mix: Option<&InstanceMix>,
) -> Result<String> {
    let launch = Launch::of(template_id, version, mix);
    let out = client
        .start_instance_refresh()
        .auto_scaling_group_name(group)
        .preferences(
            // the maximum is always sent: AWS terminates and launches at once when
            // it is omitted, which may drop below the minimum in a small group
            aws_sdk_autoscaling::types::RefreshPreferences::builder()
                .min_healthy_percentage(preferences.min_healthy_percentage as i32)
                .max_healthy_percentage(preferences.max_healthy_percentage as i32)
                .set_instance_warmup(preferences.instance_warmup.map(|w| w as i32))
                .skip_matching(true)
                .auto_rollback(preferences.auto_rollback)
                .build(),
        )
        .desired_configuration(
            aws_sdk_autoscaling::types::DesiredConfiguration::builder()
                .set_launch_template(launch.template)
                .set_mixed_instances_policy(launch.policy)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("StartInstanceRefresh", e))?;
    out.instance_refresh_id()
        .map(str::to_string)
        .ok_or(AwsError::MissingField {
            operation: "StartInstanceRefresh",
            field: "InstanceRefreshId",
        })
}

/// The group's refreshes, newest first (`ids` empty: all AWS keeps).
async fn refreshes(client: &Client, group: &str, ids: &[&str]) -> Result<Vec<Refresh>> {
    let out = client
        .describe_instance_refreshes()
        .auto_scaling_group_name(group)
        .set_instance_refresh_ids(
            (!ids.is_empty()).then(|| ids.iter().map(|s| s.to_string()).collect()),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeInstanceRefreshes", e))?;
    Ok(out
        .instance_refreshes()
        .iter()
        .map(|r| Refresh {
            id: r.instance_refresh_id().unwrap_or_default().into(),
            status: r
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            target_version: r
                .desired_configuration()
                .and_then(|c| {
                    c.launch_template()
                        .or_else(|| policy_template(c.mixed_instances_policy()))
                })
                .and_then(|t| t.version())
                .map(str::to_string),
            status_reason: r.status_reason().map(str::to_string),
            percentage_complete: r.percentage_complete(),
            instances_to_update: r.instances_to_update(),
        })
        .collect())
}

/// The group's refresh that has not ended (pending, running, cancelling,
/// rolling back), if any.
pub async fn active_refresh(client: &Client, group: &str) -> Result<Option<Refresh>> {
    Ok(refreshes(client, group, &[])
        .await?
        .into_iter()
        .find(|r| !r.ended()))
}

/// Refresh `id` of the group, as it stands now; `None` once AWS no longer lists it.
pub async fn refresh_by_id(client: &Client, group: &str, id: &str) -> Result<Option<Refresh>> {
    Ok(refreshes(client, group, &[id]).await?.into_iter().next())
}

/// Asks AWS to roll the running refresh back: what it replaced is replaced
/// again from the template the group had before. `false` when no refresh was
/// running (it ended meanwhile) or it cannot be rolled back.
pub async fn rollback_instance_refresh(client: &Client, group: &str) -> Result<bool> {
    match client
        .rollback_instance_refresh()
        .auto_scaling_group_name(group)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let error = AwsError::from_sdk("RollbackInstanceRefresh", e);
            match &error {
                AwsError::Api { code, .. }
                    if code == "ActiveInstanceRefreshNotFound"
                        || code == "IrreversibleInstanceRefresh" =>
                {
                    Ok(false)
                }
                _ => Err(error),
            }
        }
    }
}

/// Asks AWS to cancel the running refresh; none running is not an error. The
/// cancel takes effect asynchronously (the refresh passes through `Cancelling`).
pub async fn cancel_instance_refresh(client: &Client, group: &str) -> Result<()> {
    match client
        .cancel_instance_refresh()
        .auto_scaling_group_name(group)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let error = AwsError::from_sdk("CancelInstanceRefresh", e);
            match &error {
                AwsError::Api { code, .. } if code == "ActiveInstanceRefreshNotFound" => Ok(()),
                _ => Err(error),
            }
        }
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

/// Resumes every suspended process of the group: launches, health checks,
/// replacements and the rest run again.
pub async fn resume_processes(client: &Client, group: &str) -> Result<()> {
    client
        .resume_processes()
        .auto_scaling_group_name(group)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ResumeProcesses", e))?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::{WarmPoolConfiguration, WarmPoolStatus};

    #[test]
    fn a_group_as_aws_makes_it_has_every_kept_setting_at_its_default_and_no_warm_pool() {
        // AWS lists a new group with its cooldown and termination policy filled in
        let made = AutoScalingGroup::builder()
            .default_cooldown(300)
            .termination_policies("Default")
            .new_instances_protected_from_scale_in(false)
            .build();
        let group = group_of(&made);
        assert_eq!(group.off_default, Vec::new());
        assert_eq!(group.warm_pool, None);
        // and an answer that leaves them out means the same
        assert_eq!(
            group_of(&AutoScalingGroup::builder().build()).off_default,
            Vec::new()
        );
    }

    #[test]
    fn every_kept_setting_changed_out_of_band_is_read_with_its_value() {
        let changed = AutoScalingGroup::builder()
            .default_cooldown(10)
            .termination_policies("NewestInstance")
            .termination_policies("ClosestToNextInstanceHour")
            .new_instances_protected_from_scale_in(true)
            .max_instance_lifetime(86400)
            .default_instance_warmup(60)
            .instance_maintenance_policy(
                aws_sdk_autoscaling::types::InstanceMaintenancePolicy::builder()
                    .min_healthy_percentage(0)
                    .max_healthy_percentage(100)
                    .build(),
            )
            .warm_pool_configuration(
                WarmPoolConfiguration::builder()
                    .min_size(2)
                    .pool_state(aws_sdk_autoscaling::types::WarmPoolState::Stopped)
                    .build(),
            )
            .build();
        let group = group_of(&changed);
        let seen: Vec<(&str, &str)> = group
            .off_default
            .iter()
            .map(|(setting, value)| (setting.words(), value.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("new instances protected from scale-in", "true"),
                (
                    "termination policies",
                    "NewestInstance, ClosestToNextInstanceHour"
                ),
                ("maximum instance lifetime", "86400s"),
                ("default cooldown", "10s"),
                ("default instance warmup", "60s"),
                (
                    "instance maintenance policy",
                    "0% to 100% of the desired capacity healthy during replacements"
                ),
            ]
        );
        assert_eq!(
            KeptSetting::ALL.len(),
            seen.len(),
            "every kept setting can be read off its default"
        );
        assert_eq!(
            group.warm_pool.map(|pool| pool.to_string()).as_deref(),
            Some("warm pool (min 2, up to the group's maximum prepared, Stopped)")
        );
    }

    #[test]
    fn a_warmup_of_zero_is_a_warmup_and_a_lifetime_of_zero_is_none() {
        let group = group_of(
            &AutoScalingGroup::builder()
                .default_instance_warmup(0)
                .max_instance_lifetime(0)
                .build(),
        );
        assert_eq!(
            group.off_default,
            vec![(KeptSetting::DefaultInstanceWarmup, "0s".to_string())]
        );
    }

    #[test]
    fn a_warm_pool_aws_is_deleting_is_gone_already() {
        let deleting = AutoScalingGroup::builder()
            .warm_pool_configuration(
                WarmPoolConfiguration::builder()
                    .min_size(1)
                    .status(WarmPoolStatus::PendingDelete)
                    .build(),
            )
            .build();
        assert_eq!(group_of(&deleting).warm_pool, None);
    }

    fn mix() -> InstanceMix {
        InstanceMix {
            instance_types: vec!["t3.micro".into(), "t3a.micro".into()],
            on_demand_base_capacity: 1,
            on_demand_percentage_above_base: 25,
            spot_allocation_strategy: "price-capacity-optimized".into(),
        }
    }

    #[test]
    fn a_mix_is_sent_as_a_policy_around_the_template_and_read_back_as_sent() {
        let launch = Launch::of("lt-1", "3", Some(&mix()));
        assert!(launch.template.is_none(), "AWS takes one or the other");
        let policy = launch.policy.unwrap();
        let spec = policy_template(Some(&policy)).unwrap();
        assert_eq!(
            (spec.launch_template_id(), spec.version()),
            (Some("lt-1"), Some("3"))
        );
        assert_eq!(
            policy
                .instances_distribution()
                .and_then(|d| d.on_demand_allocation_strategy()),
            Some(ON_DEMAND_STRATEGY)
        );
        assert_eq!(mix_of(&policy), mix());
        assert!(rebalances(Some(&mix())));

        let plain = Launch::of("lt-1", "3", None);
        assert!(plain.policy.is_none());
        assert_eq!(plain.template.unwrap().version(), Some("3"));
        assert!(!rebalances(None));
    }

    #[test]
    fn a_policy_without_a_distribution_reads_with_aws_defaults() {
        let policy = MixedInstancesPolicy::builder()
            .launch_template(
                LaunchTemplate::builder()
                    .overrides(
                        LaunchTemplateOverrides::builder()
                            .instance_type("m5.large")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let read = mix_of(&policy);
        assert_eq!(read.instance_types, ["m5.large"]);
        assert_eq!(
            (
                read.on_demand_base_capacity,
                read.on_demand_percentage_above_base,
                read.spot_allocation_strategy.as_str()
            ),
            (0, 100, "lowest-price")
        );
        // all On-Demand: no Spot to rebalance
        assert!(!read.capacity_rebalance());
    }
}
