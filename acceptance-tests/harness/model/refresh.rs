//! Instance refresh, which moto lacks (it answers HTTP 500), as AWS runs it:
//! StartInstanceRefresh -> `Pending` (~10 s) -> `InProgress`, replacing the
//! instances in batches of the room between the minimum and maximum healthy
//! percentage (at least one); each batch's replacements must run and pass the
//! target group's health checks (and the warmup) before the next batch starts.
//! All replaced: `Successful`, and only then does the group report the desired
//! configuration (until then it reports the one it had). The desired
//! configuration is a launch template or a mixed instances policy around one
//! (read by [`super::mixed`], from AWS's defaults; a template alone takes a
//! group off its policy, as AWS documents), not both. A replacement that
//! fails its health checks fails the refresh with a `StatusReason`: `Failed`,
//! or with `AutoRollback` `RollbackInProgress`, replacing what was replaced
//! back from the previous template, then `RollbackSuccessful`.
//! RollbackInstanceRefresh starts that rollback by hand; CancelInstanceRefresh
//! -> `Cancelling` (~20 s) -> `Cancelled`, keeping what was replaced. Another
//! start while one is active is refused with `InstanceRefreshInProgress`; a
//! cancel or rollback with none active with `ActiveInstanceRefreshNotFound`.
//! Replacements go through moto: TerminateInstanceInAutoScalingGroup without
//! decrementing capacity makes moto launch one from the group's current
//! template. The preferences a start sends are checked with AWS's rules and
//! echoed by DescribeInstanceRefreshes, with the desired configuration. Skip
//! matching keeps the instances on the desired version and, towards a policy,
//! of one of its types.

use std::time::{Instant, SystemTime};

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use super::clock::{REFRESH_CANCELLING, REFRESH_PENDING};
use super::world::{Phase, Refresh, TemplateRef, World};
use super::xml::escape;
use super::{Call, Model, Refusal, Verdict};

const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// The refresh preferences the model records, by their query and XML name.
const PREFERENCES: [&str; 5] = [
    "MinHealthyPercentage",
    "MaxHealthyPercentage",
    "InstanceWarmup",
    "SkipMatching",
    "AutoRollback",
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
        "autoscaling:RollbackInstanceRefresh" => Some(rollback(model, call)),
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
    let template = (!(template.0.is_empty() && template.1.is_empty())).then_some(template);
    let desired_policy = match super::mixed::desired(call) {
        Ok(policy) => policy,
        Err(refusal) => return Verdict::Refuse(refusal),
    };
    if template.is_some() && desired_policy.is_some() {
        return Verdict::Refuse(Refusal::new(
            400,
            "ValidationError",
            "If you specify a desired configuration, you must specify either a LaunchTemplate or a MixedInstancesPolicy.",
        ));
    }
    let desired_template = template.or_else(|| desired_policy.as_ref().map(|p| p.template.clone()));
    let preferences = match preferences(call) {
        Ok(preferences) => preferences,
        Err(refusal) => return Verdict::Refuse(refusal),
    };
    let auto_rollback = preferences
        .iter()
        .any(|(name, value)| *name == "AutoRollback" && value == "true");
    if auto_rollback && desired_template.is_none() {
        return Verdict::Refuse(Refusal::new(
            400,
            "ValidationError",
            "AutoRollback requires a DesiredConfiguration with a launch template.",
        ));
    }
    let previous_template = group.launch_template().map(|t| {
        (
            t.launch_template_id().unwrap_or_default().to_string(),
            t.launch_template_name().unwrap_or_default().to_string(),
            t.version().unwrap_or_default().to_string(),
        )
    });
    let now = Instant::now();
    let mut state = model.state();
    let state = &mut *state;
    let clock = state.clock;
    let refreshes = state.world.refreshes.entry(name.to_string()).or_default();
    if refreshes.iter().any(Refresh::active) {
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
    refreshes.push(Refresh {
        id: id.clone(),
        group: name.to_string(),
        started: SystemTime::now(),
        started_at: now,
        in_progress_at: now + clock.scaled(REFRESH_PENDING),
        phase: Phase::Pending,
        ended_at: None,
        status_reason: None,
        instances_to_update: group.instances().len(),
        remaining: Vec::new(),
        replaced: 0,
        desired_template,
        desired_policy,
        previous_template,
        preferences,
    });
    Verdict::Answer(response(
        "StartInstanceRefresh",
        &format!("<InstanceRefreshId>{id}</InstanceRefreshId>"),
    ))
}

/// The group's refresh that is pending or replacing instances, changed by `f`;
/// its ID, or `ActiveInstanceRefreshNotFound` as AWS answers without one.
fn with_running(
    model: &Model,
    call: &Call,
    f: impl FnOnce(&mut Refresh, Instant, super::clock::Clock) -> Result<(), Refusal>,
) -> Result<String, Refusal> {
    let name = call.param("AutoScalingGroupName").unwrap_or_default();
    let now = Instant::now();
    let mut state = model.state();
    let clock = state.clock;
    let refresh = state.world.refreshes.get_mut(name).and_then(|list| {
        list.iter_mut()
            .find(|r| matches!(r.phase, Phase::Pending | Phase::InProgress))
    });
    match refresh {
        Some(refresh) => f(refresh, now, clock).map(|()| refresh.id.clone()),
        None => Err(Refusal::new(
            400,
            "ActiveInstanceRefreshNotFound",
            &format!(
                "No in progress or pending Instance Refresh found for Auto Scaling group {name}"
            ),
        )),
    }
}

fn answered(action: &str, outcome: Result<String, Refusal>) -> Verdict {
    match outcome {
        Ok(id) => Verdict::Answer(response(
            action,
            &format!("<InstanceRefreshId>{id}</InstanceRefreshId>"),
        )),
        Err(refusal) => Verdict::Refuse(refusal),
    }
}

/// Stops replacing; what was replaced stays, and the group keeps its template.
fn cancel(model: &Model, call: &Call) -> Verdict {
    let outcome = with_running(model, call, |refresh, now, clock| {
        refresh.phase = Phase::Cancelling(now + clock.scaled(REFRESH_CANCELLING));
        refresh.status_reason = Some("Instance refresh was cancelled.".into());
        Ok(())
    });
    answered("CancelInstanceRefresh", outcome)
}

/// Replaces what was replaced back from the template the group had before.
fn rollback(model: &Model, call: &Call) -> Verdict {
    let outcome = with_running(model, call, |refresh, _, _| {
        if refresh.previous_template.is_none() {
            return Err(Refusal::new(
                400,
                "IrreversibleInstanceRefresh",
                "The instance refresh cannot be rolled back: the group had no launch template before it.",
            ));
        }
        refresh.phase = Phase::RollbackInProgress;
        refresh.remaining.clear();
        refresh.status_reason = Some("Rollback was requested by the user.".into());
        Ok(())
    });
    answered("RollbackInstanceRefresh", outcome)
}

fn timestamp(at: SystemTime) -> String {
    DateTime::from(at).fmt(Format::DateTime).unwrap_or_default()
}

fn member(refresh: &Refresh) -> String {
    let status = refresh.status();
    let percentage = refresh.percentage();
    let left = match refresh.phase {
        Phase::Pending => refresh.instances_to_update,
        _ => refresh.remaining.len(),
    };
    let mut out = format!(
        "<member><InstanceRefreshId>{}</InstanceRefreshId><AutoScalingGroupName>{}</AutoScalingGroupName><Status>{status}</Status><StartTime>{}</StartTime><PercentageComplete>{percentage}</PercentageComplete><InstancesToUpdate>{left}</InstancesToUpdate>",
        refresh.id,
        escape(&refresh.group),
        timestamp(refresh.started),
    );
    if let Some(ended) = refresh.ended_at {
        let end = refresh.started + ended.saturating_duration_since(refresh.started_at);
        out.push_str(&format!("<EndTime>{}</EndTime>", timestamp(end)));
    }
    if let Some(reason) = &refresh.status_reason {
        out.push_str(&format!("<StatusReason>{}</StatusReason>", escape(reason)));
    }
    if let Some(policy) = &refresh.desired_policy {
        out.push_str(&format!(
            "<DesiredConfiguration>{}</DesiredConfiguration>",
            policy.desired_xml()
        ));
    } else if let Some((id, name, version)) = &refresh.desired_template {
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
    let state = model.state();
    let members: String = state
        .world
        .refreshes
        .get(name)
        .into_iter()
        .flat_map(|list| list.iter().rev())
        .filter(|r| wanted.is_empty() || wanted.contains(&r.id))
        .map(member)
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

/// Moves every refresh on that has something due: a pending one starts
/// replacing, a cancelling one ends, a replacing one checks its batch (failed
/// health checks, all serving) and starts the next one or ends. One task at a
/// time: the steps call moto.
pub async fn advance(model: &Model) {
    use std::sync::atomic::Ordering;
    if model
        .refreshing
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    let now = Instant::now();
    let due: Vec<(String, String)> = {
        let state = model.state();
        state
            .world
            .refreshes
            .values()
            .flatten()
            .filter(|r| match r.phase {
                Phase::Pending => now >= r.in_progress_at,
                Phase::Cancelling(until) => now >= until,
                phase => phase.replacing(),
            })
            .map(|r| (r.group.clone(), r.id.clone()))
            .collect()
    };
    for (group, id) in due {
        step(model, &group, &id).await;
    }
    model.refreshing.store(false, Ordering::Release);
}

/// A copy of refresh `id` of `group`, if it still exists.
fn find(model: &Model, group: &str, id: &str) -> Option<Refresh> {
    let state = model.state();
    state
        .world
        .refreshes
        .get(group)?
        .iter()
        .find(|r| r.id == id)
        .cloned()
}

/// Writes a changed copy back, unless a call (a cancel, a rollback) moved the
/// refresh to another phase while the step was looking at the group: that
/// call's decision stands and the next step starts from it, as in AWS, where a
/// rollback asked for mid-batch is never undone by the batch finishing. A
/// refresh that succeeded gives the group the desired configuration's policy
/// (its template moto launches from already).
fn store(model: &Model, refresh: Refresh, read_in: Phase) {
    let mut state = model.state();
    let world = &mut state.world;
    let Some(slot) = world
        .refreshes
        .get_mut(&refresh.group)
        .and_then(|list| list.iter_mut().find(|r| r.id == refresh.id))
        .filter(|slot| slot.phase == read_in)
    else {
        return;
    };
    if refresh.phase == Phase::Successful && refresh.desired_template.is_some() {
        world
            .groups
            .entry(refresh.group.clone())
            .or_default()
            .policy = refresh.desired_policy.clone();
    }
    *slot = refresh;
}

async fn step(model: &Model, group: &str, id: &str) {
    let Some(mut refresh) = find(model, group, id) else {
        return;
    };
    let now = Instant::now();
    let read_in = refresh.phase;
    match refresh.phase {
        Phase::Pending => {
            // replacements launch from the desired template from now on
            launch_from(model, group, refresh.desired_template.as_ref()).await;
            refresh.phase = Phase::InProgress;
        }
        Phase::Cancelling(until) => {
            launch_from(model, group, refresh.previous_template.as_ref()).await;
            refresh.end(Phase::Cancelled, until);
        }
        Phase::InProgress | Phase::RollbackInProgress => {
            replace_batch(model, &mut refresh, now).await
        }
        _ => return,
    }
    store(model, refresh, read_in);
}

/// Makes moto launch the group's new instances from `template`.
async fn launch_from(model: &Model, group: &str, template: Option<&TemplateRef>) {
    let Some((id, name, version)) = template.cloned() else {
        return;
    };
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let spec = LaunchTemplateSpecification::builder()
        .set_launch_template_id(non_empty(id))
        .set_launch_template_name(non_empty(name))
        .set_version(non_empty(version))
        .build();
    let _ = model
        .api
        .autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .launch_template(spec)
        .send()
        .await;
}

/// One look at a replacing refresh: a replacement that failed its health
/// checks fails it (or turns it back); while replacements are still starting
/// it waits; else it replaces the next batch, or ends once none is left.
async fn replace_batch(model: &Model, refresh: &mut Refresh, now: Instant) {
    let Some(group) = model.group(&refresh.group).await else {
        refresh.status_reason = Some("The Auto Scaling group was deleted.".into());
        refresh.end(Phase::Failed, now);
        return;
    };
    let target_version = refresh.target().map(|t| t.2.clone()).unwrap_or_default();
    let rolling_back = refresh.phase == Phase::RollbackInProgress;
    let members: Vec<String> = group
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    let target_group = group.target_group_arns().first().cloned();
    let warmup = refresh
        .preference("InstanceWarmup")
        .and_then(|w| w.parse::<f64>().ok())
        .unwrap_or(0.0);
    let (failing, starting, stale) = {
        let state = model.state();
        let world = &state.world;
        let warmup = state.clock.scaled(warmup);
        let version_of = |id: &str| {
            world
                .instances
                .get(id)
                .and_then(|i| i.template_version.clone())
        };
        // going forwards to a policy, an instance of a type it does not list
        // does not match the desired configuration
        let allowed = refresh
            .desired_policy
            .as_ref()
            .filter(|_| !rolling_back)
            .map(super::mixed::allowed_types);
        let of_allowed_type = |id: &str| {
            allowed.as_ref().is_none_or(|types| {
                world
                    .instances
                    .get(id)
                    .and_then(|i| i.instance_type.as_deref())
                    .is_some_and(|t| types.contains(&t))
            })
        };
        let on_target: Vec<&String> = members
            .iter()
            .filter(|id| version_of(id).as_deref() == Some(target_version.as_str()))
            .collect();
        let ready = |id: &str| {
            world.instances.get(id).is_some_and(|i| {
                now >= super::instances::ready_at(
                    world,
                    i,
                    target_group.as_deref(),
                    warmup,
                    state.clock,
                )
            })
        };
        let failing = on_target
            .iter()
            .filter(|id| ready(id) && world.instances.get(id.as_str()).is_some_and(|i| i.failing))
            .count();
        let starting = on_target.iter().any(|id| !ready(id));
        // the instances this direction replaces: going forwards, fixed when it
        // begins (all of them, or with SkipMatching those not on the desired
        // template); rolling back, whatever is not on the previous template
        let not_on_target =
            |id: &&String| version_of(id).as_deref() != Some(target_version.as_str());
        if rolling_back {
            refresh.remaining = members.iter().filter(not_on_target).cloned().collect();
        } else if refresh.remaining.is_empty() && refresh.replaced == 0 {
            let skip = refresh.preference("SkipMatching") == Some("true");
            refresh.remaining = members
                .iter()
                .filter(|id| !skip || not_on_target(id) || !of_allowed_type(id))
                .cloned()
                .collect();
        }
        refresh.remaining.retain(|id| members.contains(id));
        (failing, starting, refresh.remaining.clone())
    };
    if failing > 0 {
        let reason = format!(
            "{failing} instance(s) launched from launch template version {target_version} failed ELB health checks ({}: {}).",
            super::instances::UNHEALTHY_REASON,
            super::instances::UNHEALTHY_DESCRIPTION
        );
        if rolling_back {
            refresh.status_reason = Some(format!("Rollback failed: {reason}"));
            refresh.end(Phase::RollbackFailed, now);
        } else if refresh.preference("AutoRollback") == Some("true") {
            refresh.status_reason = Some(format!(
                "Instance refresh failed: {reason} Rolling back to the previous configuration."
            ));
            launch_from(model, &refresh.group, refresh.previous_template.as_ref()).await;
            refresh.phase = Phase::RollbackInProgress;
            refresh.remaining.clear();
        } else {
            refresh.status_reason = Some(format!("Instance refresh failed: {reason}"));
            launch_from(model, &refresh.group, refresh.previous_template.as_ref()).await;
            refresh.end(Phase::Failed, now);
        }
        return;
    }
    if starting {
        return;
    }
    if stale.is_empty() {
        if rolling_back {
            refresh.end(Phase::RollbackSuccessful, now);
        } else {
            refresh.end(Phase::Successful, now);
        }
        return;
    }
    if rolling_back {
        // moto launches the way back from the previous template (a rollback
        // asked for by hand comes without a step that could set it)
        launch_from(model, &refresh.group, refresh.previous_template.as_ref()).await;
    }
    let batch: Vec<String> = stale.into_iter().take(refresh.batch_size()).collect();
    for id in &batch {
        let _ = model
            .api
            .autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(id)
            .should_decrement_desired_capacity(false)
            .send()
            .await;
    }
    refresh.remaining.retain(|id| !batch.contains(id));
    refresh.replaced += batch.len();
    super::instances::sync_groups(model).await;
}
