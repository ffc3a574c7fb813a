//! Application load balancers: `provisioning` ~150 s before `active`; after
//! DeleteLoadBalancer their network interfaces linger ~90 s in their subnets
//! and security groups. A second CreateLoadBalancer with the same name returns
//! the existing balancer when the settings are equal and is refused with
//! `DuplicateLoadBalancerName` otherwise (moto silently creates a second one).
//! While `deletion_protection.enabled` is true, DeleteLoadBalancer is refused
//! with `OperationNotPermitted` (moto deletes it regardless). An application
//! load balancer's listener has the attributes AWS gives it
//! (`routing.http.response.server.enabled`, true until set), where moto lists
//! a Network Load Balancer's `tcp.idle_timeout.seconds`.

use std::collections::BTreeSet;
use std::time::Instant;

use super::clock::{Clock, ALB_INTERFACES_LINGER, ALB_PROVISIONING};
use super::world::{BalancerSettings, LoadBalancer, World};
use super::xml::Element;
use super::{Call, Refusal, Verdict};

fn settings(call: &Call) -> BalancerSettings {
    let mut subnets: BTreeSet<String> = call.list("Subnets.member").into_iter().collect();
    subnets.extend(call.list_of("SubnetMappings.member", "SubnetId"));
    BalancerSettings {
        subnets,
        security_groups: call.list("SecurityGroups.member").into_iter().collect(),
        scheme: call
            .param("Scheme")
            .unwrap_or("internet-facing")
            .to_string(),
        kind: call.param("Type").unwrap_or("application").to_string(),
        ip_address_type: call.param("IpAddressType").unwrap_or("ipv4").to_string(),
    }
}

/// AWS's answer to creating a name that a live balancer already has.
pub fn recreate(world: &World, call: &Call) -> Option<Verdict> {
    if call.key() != "elasticloadbalancing:CreateLoadBalancer" {
        return None;
    }
    let name = call.param("Name")?;
    let existing = world.balancer_named(name)?;
    Some(if existing.settings == settings(call) {
        Verdict::Replay(existing.create_answer.clone())
    } else {
        Verdict::Refuse(Refusal::new(
            400,
            "DuplicateLoadBalancerName",
            &format!(
                "A load balancer with the same name '{name}' exists, but with different settings"
            ),
        ))
    })
}

/// A target group create's settings: every parameter but its tags.
fn target_group_settings(call: &Call) -> String {
    let mut settings: Vec<String> = call
        .params
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "Action" | "Version"))
        .filter(|(name, _)| !name.starts_with("Tags."))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    settings.sort();
    settings.join("&")
}

/// AWS's answer to creating a target group whose name one has: that group,
/// when the settings are the same (moto refuses every such create).
pub fn recreate_target_group(world: &World, call: &Call) -> Option<Verdict> {
    if call.key() != "elasticloadbalancing:CreateTargetGroup" {
        return None;
    }
    let name = call.param("Name")?;
    let (_, settings, answer) = world.target_group_creates.get(name)?;
    Some(if *settings == target_group_settings(call) {
        Verdict::Replay(answer.clone())
    } else {
        Verdict::Refuse(Refusal::new(
            400,
            "DuplicateTargetGroupName",
            "A target group with the same name exists, but with different settings",
        ))
    })
}

/// AWS's answer to deleting a balancer whose deletion protection is on.
pub fn protected(world: &World, call: &Call) -> Option<Verdict> {
    if call.key() != "elasticloadbalancing:DeleteLoadBalancer" {
        return None;
    }
    let arn = call.param("LoadBalancerArn")?;
    world
        .load_balancers
        .get(arn)
        .filter(|balancer| balancer.deletion_protection)
        .map(|_| {
            Verdict::Refuse(Refusal::new(
                400,
                "OperationNotPermitted",
                &format!(
                    "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
                ),
            ))
        })
}

/// Learns a created balancer (with moto's answer, for an idempotent repeat) and a deletion.
pub fn learn(
    world: &mut World,
    clock: Clock,
    call: &Call,
    answer: &Element,
    raw_answer: &str,
    now: Instant,
) {
    match call.key().as_str() {
        "elasticloadbalancing:CreateLoadBalancer" => {
            let Some(arn) = answer.texts("LoadBalancerArn").into_iter().next() else {
                return;
            };
            world
                .load_balancers
                .entry(arn)
                .or_insert_with(|| LoadBalancer {
                    name: call.param("Name").unwrap_or_default().to_string(),
                    vpc: answer.texts("VpcId").into_iter().next().unwrap_or_default(),
                    settings: settings(call),
                    active_at: now + clock.scaled(ALB_PROVISIONING),
                    interfaces_gone_at: None,
                    deletion_protection: false,
                    create_answer: raw_answer.to_string(),
                });
        }
        "elasticloadbalancing:CreateTargetGroup" => {
            let (Some(name), Some(arn)) = (
                call.param("Name"),
                answer.texts("TargetGroupArn").into_iter().next(),
            ) else {
                return;
            };
            world
                .target_group_creates
                .entry(name.to_string())
                .or_insert_with(|| (arn, target_group_settings(call), raw_answer.to_string()));
        }
        "elasticloadbalancing:DeleteTargetGroup" => {
            let arn = call.param("TargetGroupArn").unwrap_or_default();
            world
                .target_group_creates
                .retain(|_, (made, _, _)| made != arn);
        }
        "elasticloadbalancing:ModifyLoadBalancerAttributes" => {
            let arn = call.param("LoadBalancerArn").unwrap_or_default();
            let keys = call.list_of("Attributes.member", "Key");
            let values = call.list_of("Attributes.member", "Value");
            let protection = keys
                .iter()
                .zip(&values)
                .find(|(key, _)| key.as_str() == "deletion_protection.enabled");
            if let (Some(balancer), Some((_, value))) =
                (world.load_balancers.get_mut(arn), protection)
            {
                balancer.deletion_protection = value.as_str() == "true";
            }
        }
        "elasticloadbalancing:DeleteLoadBalancer" => {
            let arn = call.param("LoadBalancerArn").unwrap_or_default();
            if let Some(balancer) = world.load_balancers.get_mut(arn) {
                balancer
                    .interfaces_gone_at
                    .get_or_insert(now + clock.scaled(ALB_INTERFACES_LINGER));
            }
        }
        _ => {}
    }
}

/// Reports each known balancer's `State.Code` as the model has it.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element, now: Instant) {
    if call.action == "DescribeListenerAttributes"
        && call
            .param("ListenerArn")
            .is_some_and(|arn| arn.contains(":listener/app/"))
    {
        application_listener_attributes(answer);
        return;
    }
    if !matches!(
        call.action.as_str(),
        "CreateLoadBalancer" | "DescribeLoadBalancers"
    ) {
        return;
    }
    answer.for_each_with_child("LoadBalancerArn", &mut |arn, balancer| {
        if let (Some(model), Some(_)) = (world.load_balancers.get(arn), balancer.child("State")) {
            balancer.set_path(&["State", "Code"], model.state(now));
        }
    });
}

/// An application load balancer's listener attributes as AWS lists them: no
/// idle timeout (a Network Load Balancer's), `Server` sent until set otherwise.
fn application_listener_attributes(answer: &mut Element) {
    let key = |member: &Element| member.child_text("Key").unwrap_or_default().to_string();
    answer.retain_in_lists("Attributes", &mut |member| {
        key(member) != "tcp.idle_timeout.seconds"
    });
    let mut server_listed = false;
    answer.for_each_with_child("Key", &mut |key, _| {
        server_listed |= key == "routing.http.response.server.enabled";
    });
    if server_listed {
        return;
    }
    answer.for_each_with_child("Attributes", &mut |_, result| {
        let list = result
            .children
            .iter_mut()
            .find(|c| c.name == "Attributes")
            .expect("the child found");
        let mut member = Element::default();
        member.name = "member".into();
        member.set_path(&["Key"], "routing.http.response.server.enabled");
        member.set_path(&["Value"], "true");
        list.children.push(member);
    });
}
