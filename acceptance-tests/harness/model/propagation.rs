//! Route propagation from virtual private gateways, which moto does not
//! implement: a route table that takes a gateway's routes lists it in
//! `propagatingVgwSet`, and EnableVgwRoutePropagation and
//! DisableVgwRoutePropagation turn that on and off.

use super::instance_connect::{request_id, NS};
use super::world::World;
use super::xml::Element;
use super::{Call, Model, Verdict};

/// Answers the two calls that change propagation (moto refuses both as not
/// implemented).
pub fn answer(model: &Model, call: &Call) -> Option<Verdict> {
    let on = match call.key().as_str() {
        "ec2:EnableVgwRoutePropagation" => true,
        "ec2:DisableVgwRoutePropagation" => false,
        _ => return None,
    };
    let table = call.param("RouteTableId")?.to_string();
    let gateway = call.param("GatewayId")?.to_string();
    let mut state = model.state();
    let gateways = state.world.propagations.entry(table).or_default();
    if on {
        gateways.insert(gateway);
    } else {
        gateways.remove(&gateway);
    }
    let action = &call.action;
    Some(Verdict::Answer(format!(
        "<{action}Response xmlns=\"{NS}\"><requestId>{}</requestId><return>true</return></{action}Response>",
        request_id()
    )))
}

/// Lists the gateways each route table takes routes from.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element) {
    if call.key() != "ec2:DescribeRouteTables" {
        return;
    }
    answer.for_each_with_child("routeTableId", &mut |table, item| {
        let gateway = world
            .propagations
            .get(table)
            .and_then(|gateways| gateways.iter().next());
        if let Some(gateway) = gateway {
            item.set_path(&["propagatingVgwSet", "item", "gatewayId"], gateway);
        }
    });
}
