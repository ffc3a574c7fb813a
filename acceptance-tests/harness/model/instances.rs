//! Instances, from RunInstances or launched by moto for Auto Scaling Groups:
//! `pending` 12-25 s before `running`, `shutting-down` ~60 s after termination
//! (their interfaces hold their subnet and security groups until then), and the
//! target health AWS reports for them: `initial` until the target group's
//! healthy threshold times its interval after the instance runs, then `healthy`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::clock::{Clock, Rng, INSTANCE_PENDING, INSTANCE_SHUTTING_DOWN};
use super::world::{Instance, TargetGroup, World};
use super::xml::Element;
use super::{Call, Model};

/// Learns launched and terminated instances and target group health checks and registrations.
pub fn learn(
    world: &mut World,
    rng: &mut Rng,
    clock: Clock,
    call: &Call,
    answer: &Element,
    now: Instant,
) {
    match call.key().as_str() {
        "ec2:RunInstances" => {
            let mut launched = Vec::new();
            let mut answer = answer.clone();
            answer.for_each_with_child("instanceId", &mut |id, item| {
                if item.child("instanceState").is_some() {
                    launched.push((
                        id.to_string(),
                        item.child_text("subnetId").unwrap_or_default().to_string(),
                        item.child("groupSet")
                            .map(|g| g.texts("groupId").into_iter().collect())
                            .unwrap_or_default(),
                    ));
                }
            });
            for (id, subnet, security_groups) in launched {
                let running_at = now + clock.scaled(rng.between(INSTANCE_PENDING));
                world.instances.entry(id).or_insert(Instance {
                    subnet,
                    security_groups,
                    group: None,
                    running_at,
                    terminated_at: None,
                });
            }
        }
        "ec2:TerminateInstances" => {
            for id in call.list("InstanceId") {
                terminate(world, &id, clock, now);
            }
        }
        "elasticloadbalancing:CreateTargetGroup" | "elasticloadbalancing:ModifyTargetGroup" => {
            let first = |name: &str| answer.texts(name).into_iter().next();
            let Some(arn) = first("TargetGroupArn") else {
                return;
            };
            let group = world
                .target_groups
                .entry(arn)
                .or_insert_with(|| TargetGroup {
                    healthy_threshold: 5,
                    interval_seconds: 30,
                    registered: HashMap::new(),
                });
            if let Some(n) = first("HealthyThresholdCount").and_then(|t| t.parse().ok()) {
                group.healthy_threshold = n;
            }
            if let Some(n) = first("HealthCheckIntervalSeconds").and_then(|t| t.parse().ok()) {
                group.interval_seconds = n;
            }
        }
        "elasticloadbalancing:RegisterTargets" | "elasticloadbalancing:DeregisterTargets" => {
            let arn = call.param("TargetGroupArn").unwrap_or_default();
            let Some(group) = world.target_groups.get_mut(arn) else {
                return;
            };
            for id in call.list_of("Targets.member", "Id") {
                if call.action == "RegisterTargets" {
                    group.registered.insert(id, now);
                } else {
                    group.registered.remove(&id);
                }
            }
        }
        _ => {}
    }
}

fn terminate(world: &mut World, id: &str, clock: Clock, now: Instant) {
    if let Some(instance) = world.instances.get_mut(id) {
        instance
            .terminated_at
            .get_or_insert(now + clock.scaled(INSTANCE_SHUTTING_DOWN));
    }
}

/// Learns the instances moto launched or removed for Auto Scaling Groups, by
/// asking moto: new members start `pending`, members that left start shutting down.
pub async fn sync_groups(model: &Model) {
    let Ok(groups) = model
        .api
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
    else {
        return;
    };
    let members: HashMap<String, String> = groups
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| {
            g.instances().iter().filter_map(|i| {
                Some((
                    i.instance_id()?.to_string(),
                    g.auto_scaling_group_name()?.to_string(),
                ))
            })
        })
        .collect();
    let unknown: Vec<String> = {
        let state = model.state();
        members
            .keys()
            .filter(|id| !state.world.instances.contains_key(*id))
            .cloned()
            .collect()
    };
    let mut placed = Vec::new();
    if !unknown.is_empty() {
        if let Ok(out) = model
            .api
            .ec2
            .describe_instances()
            .set_instance_ids(Some(unknown))
            .send()
            .await
        {
            for instance in out.reservations().iter().flat_map(|r| r.instances()) {
                let groups: BTreeSet<String> = instance
                    .security_groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect();
                placed.push((
                    instance.instance_id().unwrap_or_default().to_string(),
                    instance.subnet_id().unwrap_or_default().to_string(),
                    groups,
                ));
            }
        }
    }
    let now = Instant::now();
    let mut state = model.state();
    let state = &mut *state;
    for (id, subnet, security_groups) in placed {
        let group = members.get(&id).cloned();
        let running_at = now + state.clock.scaled(state.rng.between(INSTANCE_PENDING));
        state.world.instances.entry(id).or_insert(Instance {
            subnet,
            security_groups,
            group,
            running_at,
            terminated_at: None,
        });
    }
    let left: Vec<String> = state
        .world
        .instances
        .iter()
        .filter(|(id, i)| {
            i.group.is_some() && i.terminated_at.is_none() && !members.contains_key(*id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in left {
        terminate(&mut state.world, &id, state.clock, now);
    }
}

/// Makes sure the model knows the health check of the target group a
/// DescribeTargetHealth names (it may have been created before the model ran).
pub async fn know_target_group(model: &Model, call: &Call) {
    let Some(arn) = call.param("TargetGroupArn") else {
        return;
    };
    if model.state().world.target_groups.contains_key(arn) {
        return;
    }
    let Ok(out) = model
        .api
        .elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
    else {
        return;
    };
    if let Some(group) = out.target_groups().first() {
        model
            .state()
            .world
            .target_groups
            .entry(arn.to_string())
            .or_insert_with(|| TargetGroup {
                healthy_threshold: group.healthy_threshold_count().unwrap_or(5) as u32,
                interval_seconds: group.health_check_interval_seconds().unwrap_or(30) as u32,
                registered: HashMap::new(),
            });
    }
}

/// Reports instance states, Auto Scaling lifecycle states and target health as
/// the model has them.
pub fn rewrite(world: &mut World, clock: Clock, call: &Call, answer: &mut Element, now: Instant) {
    let instances = &world.instances;
    match call.key().as_str() {
        "ec2:RunInstances" | "ec2:DescribeInstances" | "ec2:TerminateInstances" => {
            let field = if call.action == "TerminateInstances" {
                "currentState"
            } else {
                "instanceState"
            };
            answer.for_each_with_child("instanceId", &mut |id, item| {
                if let (Some(model), Some(_)) = (instances.get(id), item.child(field)) {
                    let (name, code) = model.state(now);
                    item.set_path(&[field, "code"], &code.to_string());
                    item.set_path(&[field, "name"], name);
                }
            });
        }
        "autoscaling:DescribeAutoScalingGroups" | "autoscaling:DescribeAutoScalingInstances" => {
            answer.for_each_with_child("InstanceId", &mut |id, member| {
                let pending = instances
                    .get(id)
                    .is_some_and(|i| i.state(now).0 == "pending");
                if pending && member.child("LifecycleState").is_some() {
                    member.set_path(&["LifecycleState"], "Pending");
                }
            });
        }
        "elasticloadbalancing:DescribeTargetHealth" => {
            let arn = call.param("TargetGroupArn").unwrap_or_default();
            let Some(group) = world.target_groups.get(arn) else {
                return;
            };
            let healthy_after = warm_up(group, clock);
            answer.for_each_with_child("TargetHealth", &mut |_, member| {
                let Some(id) = member.path_text(&["Target", "Id"]) else {
                    return;
                };
                let Some(instance) = instances.get(id) else {
                    return;
                };
                if instance.terminated_at.is_some() {
                    return;
                }
                let registered = group
                    .registered
                    .get(id)
                    .copied()
                    .unwrap_or(instance.running_at);
                if now < registered.max(instance.running_at) + healthy_after {
                    set_initial(member);
                }
            });
        }
        _ => {}
    }
}

fn set_initial(member: &mut Element) {
    member.set_path(&["TargetHealth", "State"], "initial");
    member.set_path(&["TargetHealth", "Reason"], "Elb.RegistrationInProgress");
    member.set_path(
        &["TargetHealth", "Description"],
        "Target registration is in progress",
    );
}

/// How long after running (and being registered) a target of `group` turns healthy.
fn warm_up(group: &TargetGroup, clock: Clock) -> Duration {
    clock.scaled(f64::from(group.healthy_threshold * group.interval_seconds))
}
