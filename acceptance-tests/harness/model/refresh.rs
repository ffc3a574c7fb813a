//! Instance refresh, which moto lacks (it answers HTTP 500): per group,
//! StartInstanceRefresh -> `Pending` (~10 s) -> `InProgress` (~3 min) ->
//! `Successful`; CancelInstanceRefresh -> `Cancelling` (~20 s) -> `Cancelled`.
//! Another start while one is Pending, InProgress or Cancelling is refused with
//! `InstanceRefreshInProgress`; a cancel with none active with
//! `ActiveInstanceRefreshNotFound`. When a refresh turns `InProgress` the group
//! takes the desired launch template and every instance is replaced through
//! moto (TerminateInstanceInAutoScalingGroup without decrementing capacity makes
//! moto launch a replacement from the group's current template). The
//! preferences a start sends are checked with AWS's rules and echoed by
//! DescribeInstanceRefreshes.

use std::time::{Instant, SystemTime};

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use super::clock::{REFRESH_CANCELLING, REFRESH_IN_PROGRESS, REFRESH_PENDING};
use super::world::{Refresh, World};
use super::xml::escape;
use super::{instances, Call, Model, Refusal, Verdict};

const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// `(LaunchTemplateId, LaunchTemplateName, Version)`, each possibly empty.
type Template = (String, String, String);

/// The refresh preferences the model records, by their query and XML name.
const PREFERENCES: [&str; 4] = [
    "MinHealthyPercentage",
    "MaxHealthyPercentage",
    "InstanceWarmup",
    "SkipMatching",
];

/// The `Preferences.*` parameters of a start, refused as AWS refuses them:
/// percentages out of range, a maximum without a minimum, or more than 100 apart.
fn preferences(call: &Call) -> Result<Vec<(&'static str, String)>, Refusal> {
    let sent: Vec<(&'static str, String)> = PREFERENCES
        .iter()
        .filter_map(|name| {
            call.param(&format!("Preferences.{name}"))
                .map(|v| (*name, v.to_string()))
        })
        .collect();
    let number = |name: &str| {
        sent.iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.parse::<i64>().ok())
    };
    let invalid = |message: &str| Refusal::new(400, "ValidationError", message);
    let (min, max) = (
        number("MinHealthyPercentage"),
        number("MaxHealthyPercentage"),
    );
    if min.is_some_and(|m| !(0..=100).contains(&m)) {
        return Err(invalid("MinHealthyPercentage must be between 0 and 100."));
    }
    if let Some(max) = max {
        let Some(min) = min else {
            return Err(invalid(
                "MinHealthyPercentage is required when MaxHealthyPercentage is specified.",
            ));
        };
        if !(100..=200).contains(&max) || max - min > 100 {
            return Err(invalid("MaxHealthyPercentage must be between 100 and 200, and at most 100 above MinHealthyPercentage."));
        }
    }
    Ok(sent)
}

/// The model's own answer to the instance refresh calls.
pub async fn answer(model: &Model, call: &Call) -> Option<Verdict> {
    match call.key().as_str() {
        "autoscaling:StartInstanceRefresh" => Some(start(model, call).await),
        "autoscaling:CancelInstanceRefresh" => Some(cancel(model, call)),
        "autoscaling:DescribeInstanceRefreshes" => Some(describe(model, call)),
        _ => None,
    }
}

fn response(action: &str, result: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>model</RequestId></ResponseMetadata></{action}Response>"
    )
}

fn group_not_found(name: &str) -> Verdict {
    Verdict::Refuse(Refusal::new(
        400,
        "ValidationError",
        &format!("AutoScalingGroup name not found - AutoScalingGroup '{name}' not found"),
    ))
}

async fn start(model: &Model, call: &Call) -> Verdict {
    let name = call.param("AutoScalingGroupName").unwrap_or_default();
    let Some(group) = model.group(name).await else {
        return group_not_found(name);
    };
    let field = |f: &str| {
        call.param(&format!("DesiredConfiguration.LaunchTemplate.{f}"))
            .unwrap_or_default()
            .to_string()
    };
    let template = (
        field("LaunchTemplateId"),
        field("LaunchTemplateName"),
        field("Version"),
    );
    let desired_template = (!(template.0.is_empty() && template.1.is_empty())).then_some(template);
    let preferences = match preferences(call) {
        Ok(preferences) => preferences,
        Err(refusal) => return Verdict::Refuse(refusal),
    };
    let now = Instant::now();
    let mut state = model.state();
    let state = &mut *state;
    let clock = state.clock;
    let refreshes = state.world.refreshes.entry(name.to_string()).or_default();
    if refreshes.iter().any(|r| r.active(now)) {
        return Verdict::Refuse(Refusal::new(
            400,
            "InstanceRefreshInProgress",
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
        ));
    }
    let id = format!(
        "{}-{}-{}-{}-{}",
        state.rng.hex(8),
        state.rng.hex(4),
        state.rng.hex(4),
        state.rng.hex(4),
        state.rng.hex(12)
    );
    let in_progress_at = now + clock.scaled(REFRESH_PENDING);
    refreshes.push(Refresh {
        id: id.clone(),
        group: name.to_string(),
        started: SystemTime::now(),
        started_at: now,
        in_progress_at,
        successful_at: in_progress_at + clock.scaled(REFRESH_IN_PROGRESS),
        cancel: None,
        instances_to_update: group.instances().len(),
        desired_template,
        preferences,
        replaced: false,
    });
    Verdict::Answer(response(
        "StartInstanceRefresh",
        &format!("<InstanceRefreshId>{id}</InstanceRefreshId>"),
    ))
}

fn cancel(model: &Model, call: &Call) -> Verdict {
    let name = call.param("AutoScalingGroupName").unwrap_or_default();
    let now = Instant::now();
    let mut state = model.state();
    let cancelling = state.clock.scaled(REFRESH_CANCELLING);
    let cancelled = state
        .world
        .refreshes
        .get_mut(name)
        .and_then(|list| {
            list.iter_mut()
                .find(|r| matches!(r.status(now), "Pending" | "InProgress"))
        })
        .map(|refresh| {
            refresh.cancel = Some((now, now + cancelling));
            refresh.id.clone()
        });
    match cancelled {
        Some(id) => Verdict::Answer(response(
            "CancelInstanceRefresh",
            &format!("<InstanceRefreshId>{id}</InstanceRefreshId>"),
        )),
        None => Verdict::Refuse(Refusal::new(
            400,
            "ActiveInstanceRefreshNotFound",
            &format!(
                "No in progress or pending Instance Refresh found for Auto Scaling group {name}"
            ),
        )),
    }
}

fn timestamp(at: SystemTime) -> String {
    DateTime::from(at).fmt(Format::DateTime).unwrap_or_default()
}

fn member(refresh: &Refresh, now: Instant) -> String {
    let status = refresh.status(now);
    let percentage = refresh.percentage(now);
    let left = refresh.instances_to_update * (100 - percentage as usize) / 100;
    let mut out = format!(
        "<member><InstanceRefreshId>{}</InstanceRefreshId><AutoScalingGroupName>{}</AutoScalingGroupName><Status>{status}</Status><StartTime>{}</StartTime><PercentageComplete>{percentage}</PercentageComplete><InstancesToUpdate>{left}</InstancesToUpdate>",
        refresh.id,
        escape(&refresh.group),
        timestamp(refresh.started),
    );
    if let Some(ended) = refresh.ended_at(now) {
        let end = refresh.started + ended.saturating_duration_since(refresh.started_at);
        out.push_str(&format!("<EndTime>{}</EndTime>", timestamp(end)));
    }
    if let Some((id, name, version)) = &refresh.desired_template {
        out.push_str("<DesiredConfiguration><LaunchTemplate>");
        for (tag, value) in [
            ("LaunchTemplateId", id),
            ("LaunchTemplateName", name),
            ("Version", version),
        ] {
            if !value.is_empty() {
                out.push_str(&format!("<{tag}>{}</{tag}>", escape(value)));
            }
        }
        out.push_str("</LaunchTemplate></DesiredConfiguration>");
    }
    if !refresh.preferences.is_empty() {
        out.push_str("<Preferences>");
        for (tag, value) in &refresh.preferences {
            out.push_str(&format!("<{tag}>{}</{tag}>", escape(value)));
        }
        out.push_str("</Preferences>");
    }
    out.push_str("</member>");
    out
}

fn describe(model: &Model, call: &Call) -> Verdict {
    let name = call.param("AutoScalingGroupName").unwrap_or_default();
    let wanted = call.list("InstanceRefreshIds.member");
    let now = Instant::now();
    let state = model.state();
    let members: String = state
        .world
        .refreshes
        .get(name)
        .into_iter()
        .flat_map(|list| list.iter().rev())
        .filter(|r| wanted.is_empty() || wanted.contains(&r.id))
        .map(|r| member(r, now))
        .collect();
    Verdict::Answer(response(
        "DescribeInstanceRefreshes",
        &format!("<InstanceRefreshes>{members}</InstanceRefreshes>"),
    ))
}

/// Forgets the refreshes of a deleted group.
pub fn learn(world: &mut World, call: &Call) {
    if call.key() == "autoscaling:DeleteAutoScalingGroup" {
        if let Some(name) = call.param("AutoScalingGroupName") {
            world.refreshes.remove(name);
        }
    }
}

/// Groups whose refresh just turned `InProgress` (each reported once), with the
/// launch template the refresh asked for.
pub fn due_replacements(world: &mut World, now: Instant) -> Vec<(String, Option<Template>)> {
    world
        .refreshes
        .values_mut()
        .flatten()
        .filter(|r| {
            !r.replaced
                && now >= r.in_progress_at
                && r.cancel
                    .is_none_or(|(requested, _)| requested >= r.in_progress_at)
        })
        .map(|r| {
            r.replaced = true;
            (r.group.clone(), r.desired_template.clone())
        })
        .collect()
}

/// Gives the group its desired launch template, then replaces each instance.
pub async fn replace_instances(model: &Model, group: &str, template: Option<Template>) {
    let autoscaling = &model.api.autoscaling;
    if let Some((id, name, version)) = template {
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let spec = LaunchTemplateSpecification::builder()
            .set_launch_template_id(non_empty(id))
            .set_launch_template_name(non_empty(name))
            .set_version(non_empty(version))
            .build();
        let _ = autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .launch_template(spec)
            .send()
            .await;
    }
    let Some(current) = model.group(group).await else {
        return;
    };
    let old: Vec<String> = current
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    for id in old {
        let _ = autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(id)
            .should_decrement_desired_capacity(false)
            .send()
            .await;
    }
    instances::sync_groups(model).await;
}
