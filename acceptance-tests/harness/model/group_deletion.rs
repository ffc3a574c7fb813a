//! A group's deletion takes AWS a while (its instances terminate first), where
//! moto deletes it at once: DeleteAutoScalingGroup answers at once, the group
//! stays listed with `Status` `Delete in progress` until it is gone, and
//! meanwhile AWS refuses to change it ("The AutoScaling group may not be
//! modified while it is pending delete", kops #844) or to make another of its
//! name (`AlreadyExists`). The model answers the delete itself, marks the
//! group, and deletes it in moto once the time has passed.

use std::time::Instant;

use super::clock::GROUP_DELETING;
use super::world::World;
use super::{Call, Model, Refusal, Verdict};

const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// What AWS reports as a deleting group's `Status`.
pub const DELETING_STATUS: &str = "Delete in progress";

/// The calls that change a group named by `AutoScalingGroupName`.
const CHANGES: [&str; 12] = [
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "PutScalingPolicy",
    "AttachLoadBalancerTargetGroups",
    "DetachLoadBalancerTargetGroups",
    "StartInstanceRefresh",
    "ResumeProcesses",
    "SuspendProcesses",
    "AttachInstances",
    "PutLifecycleHook",
    "PutScheduledUpdateGroupAction",
    "SetInstanceProtection",
];

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
/// repeat while it runs is accepted too), answered by the model.
pub fn begin(model: &Model, call: &Call) -> Option<Verdict> {
    if call.key() != "autoscaling:DeleteAutoScalingGroup" {
        return None;
    }
    let name = call.param("AutoScalingGroupName")?;
    let mut state = model.state();
    let due = Instant::now() + state.clock.scaled(GROUP_DELETING);
    let world = &mut state.world;
    world.deleting_groups.entry(name.to_string()).or_insert(due);
    // its refreshes end with it
    world.refreshes.remove(name);
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
/// their instances) now.
pub async fn finish(model: &Model) {
    let now = Instant::now();
    let due: Vec<String> = {
        let mut state = model.state();
        let groups = &mut state.world.deleting_groups;
        let due: Vec<String> = groups
            .iter()
            .filter(|(_, at)| now >= **at)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &due {
            groups.remove(name);
        }
        due
    };
    for name in due {
        let _ = model
            .api
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .force_delete(true)
            .send()
            .await;
    }
}
