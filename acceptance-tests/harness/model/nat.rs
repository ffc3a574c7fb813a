//! NAT gateways: `pending` ~90 s before `available`, `deleting` ~55 s before
//! `deleted`; until deleted the gateway keeps its Elastic IP associated and its
//! interface in its subnet. When it reaches `deleted`, AWS disassociates the
//! Elastic IP (moto keeps it associated forever). A gateway created while
//! the model is told to fail them ends `failed` instead of `available`, with
//! AWS's `failureCode` and `failureMessage`, and frees its address as AWS does.

use std::time::Instant;

use super::clock::{Clock, NAT_ADDRESS_LAG, NAT_DELETING, NAT_PENDING};
use super::world::{NatGateway, World};
use super::xml::Element;
use super::Call;

/// Learns a created gateway (its subnet, VPC and address) and a deletion;
/// `failure` is what a gateway created now fails with, if it does.
pub fn learn(
    world: &mut World,
    clock: Clock,
    call: &Call,
    answer: &Element,
    now: Instant,
    failure: Option<&(String, String)>,
) {
    match call.key().as_str() {
        "ec2:CreateNatGateway" => {
            let Some(gateway) = answer.find("natGateway") else {
                return;
            };
            let Some(id) = gateway.child_text("natGatewayId") else {
                return;
            };
            // a regional gateway's create replayed: the model made it itself
            if world.regional_nats.contains_key(id) {
                return;
            }
            let first = |name: &str| gateway.texts(name).into_iter().next().unwrap_or_default();
            world
                .nat_gateways
                .entry(id.to_string())
                .or_insert_with(|| NatGateway {
                    vpc: first("vpcId"),
                    subnet: first("subnetId"),
                    allocation: first("allocationId"),
                    public_ip: first("publicIp"),
                    available_at: now + clock.scaled(NAT_PENDING),
                    deleted_at: None,
                    address_freed_at: None,
                    released: false,
                    failure: failure.cloned(),
                });
        }
        "ec2:DeleteNatGateway" => {
            let id = call.param("NatGatewayId").unwrap_or_default();
            if let Some(gateway) = world.nat_gateways.get_mut(id) {
                let deleted = *gateway
                    .deleted_at
                    .get_or_insert(now + clock.scaled(NAT_DELETING));
                gateway
                    .address_freed_at
                    .get_or_insert(deleted + clock.scaled(NAT_ADDRESS_LAG));
            }
        }
        _ => {}
    }
}

/// Reports each known gateway in the state the model says it is in.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element, now: Instant) {
    if !matches!(
        call.action.as_str(),
        "CreateNatGateway" | "DescribeNatGateways"
    ) {
        return;
    }
    answer.for_each_with_child("natGatewayId", &mut |id, gateway| {
        if let (Some(model), Some(_)) = (world.nat_gateways.get(id), gateway.child("state")) {
            gateway.set_path(&["state"], model.state(now));
            if let Some((code, message)) = model.failure.as_ref().filter(|_| model.failed(now)) {
                gateway.set_path(&["failureCode"], code);
                gateway.set_path(&["failureMessage"], message);
            }
        }
    });
}

/// The public IPs of gateways that reached `deleted` or `failed` and still
/// hold them (each is reported once).
pub fn due_releases(world: &mut World, now: Instant) -> Vec<String> {
    world
        .nat_gateways
        .values_mut()
        .filter(|g| !g.released && !g.holds_address(now))
        .map(|g| {
            g.released = true;
            g.public_ip.clone()
        })
        .filter(|ip| !ip.is_empty())
        .collect()
}
