//! A group's deletion takes AWS a while (its instances terminate first: about
//! a minute, seconds without any), where moto deletes it at once:
//! DeleteAutoScalingGroup answers at once, the group
//! stays listed with `Status` `Delete in progress` until it is gone, and
//! meanwhile AWS refuses to change it ("The AutoScaling group may not be
//! modified while it is pending delete", kops #844) or to make another of its
//! name (`AlreadyExists`). The model answers the delete itself, marks the
//! group, and deletes it in moto once the time has passed, with the policies,
//! scheduled actions and lifecycle hooks AWS deletes with it (moto keeps them),
//! and its notification configurations.
//! Its instances start terminating at once: moto empties the group, so the
//! deleting group lists no members (AWS lists them `Terminating`), and EC2
//! reports them `shutting-down` for as long as the deletion lasts.

use std::time::Instant;

use super::clock::INSTANCE_SHUTTING_DOWN;
use super::world::World;
use super::{Call, Model, Refusal, Verdict};

const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// What AWS reports as a deleting group's `Status`.
pub const DELETING_STATUS: &str = "Delete in progress";

/// The calls that change a group named by `AutoScalingGroupName`.
const CHANGES: [&str; 20] = [
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "PutScalingPolicy",
    "DeletePolicy",
    "AttachLoadBalancerTargetGroups",
    "DetachLoadBalancerTargetGroups",
    "StartInstanceRefresh",
    "CancelInstanceRefresh",
    "RollbackInstanceRefresh",
    "ResumeProcesses",
    "SuspendProcesses",
    "AttachInstances",
    "DetachInstances",
    "PutLifecycleHook",
    "DeleteLifecycleHook",
    "PutScheduledUpdateGroupAction",
    "DeleteScheduledAction",
    "SetInstanceProtection",
    "EnterStandby",
    "ExitStandby",
];

/// How long AWS takes to delete a group without instances (with them, it
/// waits for them to terminate: [`INSTANCE_SHUTTING_DOWN`]).
const EMPTY_GROUP_DELETING: f64 = 10.0;

/// AWS's refusal of a change to a group it is deleting, or of a create of
/// another group of its name.
pub fn refusal(world: &World, call: &Call) -> Option<Refusal> {
    if call.service != "autoscaling" {
        return None;
    }
    let name = call.param("AutoScalingGroupName")?;
    if !world.deleting_groups.contains_key(name) {
        return None;
    }
    if call.action == "CreateAutoScalingGroup" {
        return Some(Refusal::new(
            400,
            "AlreadyExists",
            &format!("AutoScalingGroup by this name already exists - A group with the name {name} already exists"),
        ));
    }
    CHANGES.contains(&call.action.as_str()).then(|| {
        Refusal::new(
            400,
            "ValidationError",
            "The AutoScaling group may not be modified while it is pending delete",
        )
    })
}

/// Starts the deletion a DeleteAutoScalingGroup AWS accepts asks for (a
/// repeat while it runs is accepted too), answered by the model. A group that
/// does not exist is left to moto, which refuses it as AWS does.
pub async fn begin(model: &Model, call: &Call) -> Option<Verdict> {
    if call.key() != "autoscaling:DeleteAutoScalingGroup" {
        return None;
    }
    let name = call.param("AutoScalingGroupName")?;
    let group = model.group(name).await?;
    let lasts = if group.instances().is_empty() {
        EMPTY_GROUP_DELETING
    } else {
        // AWS terminates the instances at once, and the group is gone once
        // they are: moto terminates them when emptied (launching none while
        // it lists the group)
        let _ = model
            .api
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(0)
            .desired_capacity(0)
            .send()
            .await;
        INSTANCE_SHUTTING_DOWN
    };
    let mut state = model.state();
    let due = Instant::now() + state.clock.scaled(lasts);
    let world = &mut state.world;
    world.deleting_groups.entry(name.to_string()).or_insert(due);
    // its refreshes and its policy's settings end with it (the model answers
    // the call, so it never learns of it from moto's answer)
    world.refreshes.remove(name);
    world.groups.remove(name);
    Some(Verdict::Answer(format!(
        "<DeleteAutoScalingGroupResponse xmlns=\"{NS}\"><ResponseMetadata><RequestId>model</RequestId></ResponseMetadata></DeleteAutoScalingGroupResponse>"
    )))
}

/// A deleting group is listed as such.
pub fn rewrite(world: &World, call: &Call, answer: &mut super::xml::Element) {
    if call.key() != "autoscaling:DescribeAutoScalingGroups" {
        return;
    }
    answer.for_each_with_child("AutoScalingGroupName", &mut |name, group| {
        if world.deleting_groups.contains_key(name) && group.child("MinSize").is_some() {
            group.set_path(&["Status"], DELETING_STATUS);
        }
    });
}

/// Ends the deletions that are due: moto deletes the groups (and terminates
/// their instances) now, and what AWS deletes with a group that moto keeps
/// (its scaling policies, scheduled actions and lifecycle hooks, which a new
/// group of its name would otherwise inherit).
pub async fn finish(model: &Model) {
    let now = Instant::now();
    let due: Vec<String> = {
        let state = model.state();
        let groups = &state.world.deleting_groups;
        let due = groups.iter().filter(|(_, at)| now >= **at);
        due.map(|(name, _)| name.clone()).collect()
    };
    for name in due {
        forget_attachments(model, &name).await;
        super::notifications::forget(model, &name);
        let deleted = model
            .api
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .force_delete(true)
            .send()
            .await;
        // moto says `not found` for one gone already; another failure is
        // tried again at the next call
        let gone = match &deleted {
            Ok(_) => true,
            Err(e) => format!("{e:?}").contains("not found"),
        };
        if gone {
            model.state().world.deleting_groups.remove(&name);
        }
    }
}

/// Deletes the group's scaling policies, scheduled actions and lifecycle hooks in moto.
async fn forget_attachments(model: &Model, group: &str) {
    let asg = &model.api.autoscaling;
    if let Ok(out) = asg
        .describe_policies()
        .auto_scaling_group_name(group)
        .send()
        .await
    {
        for name in out
            .scaling_policies()
            .iter()
            .filter_map(|p| p.policy_name())
        {
            let _ = asg
                .delete_policy()
                .auto_scaling_group_name(group)
                .policy_name(name)
                .send()
                .await;
        }
    }
    if let Ok(out) = asg
        .describe_scheduled_actions()
        .auto_scaling_group_name(group)
        .send()
        .await
    {
        let names = out.scheduled_update_group_actions().iter();
        for name in names.filter_map(|a| a.scheduled_action_name()) {
            let _ = asg
                .delete_scheduled_action()
                .auto_scaling_group_name(group)
                .scheduled_action_name(name)
                .send()
                .await;
        }
    }
    if let Ok(out) = asg
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(group)
        .send()
        .await
    {
        for name in out
            .lifecycle_hooks()
            .iter()
            .filter_map(|h| h.lifecycle_hook_name())
        {
            let _ = asg
                .delete_lifecycle_hook()
                .auto_scaling_group_name(group)
                .lifecycle_hook_name(name)
                .send()
                .await;
        }
    }
}
