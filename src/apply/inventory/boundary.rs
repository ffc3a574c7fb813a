//! The boundary inside the VPC in state: what lives there and is the
//! environment's, and what is another's (reported, never touched).

use std::collections::{BTreeMap, BTreeSet};

use super::{ForeignObject, MainRouteTable};
use crate::aws::ec2::{Ec2Inventory, Found, NetworkInterface, RouteTable};

/// Keeps in `e` only what is the environment's (`owns`) of what lives in VPC
/// `vpc`, and returns the rest as foreign objects, with the VPC's main route
/// table association.
pub(super) fn separate_foreign(
    e: &mut Ec2Inventory,
    vpc: &str,
    owns: impl Fn(&str, &BTreeMap<String, String>) -> bool,
) -> (Vec<ForeignObject>, Option<MainRouteTable>) {
    // everything VPC-bound was described by the VPC; the VPC in state is
    // the environment's whatever its tags say
    e.vpcs.retain(|v| v.id == vpc);
    // what lives in the VPC and is not the environment's: never
    // touched, and destroy refuses to start while it is there
    let others = |kind: &'static str, items: &[Found]| -> Vec<ForeignObject> {
        items
            .iter()
            .filter(|o| !owns(&o.id, &o.tags))
            .map(|o| ForeignObject::new(kind, &o.id, &o.tags))
            .collect()
    };
    let mut foreign = others("instance", &e.instances);
    for listed in e.listed.values() {
        foreign.extend(others(listed.noun, &listed.objects));
    }
    foreign.extend(
        e.security_groups
            .iter()
            .filter(|g| g.name != "default" && !owns(&g.id, &g.tags))
            .map(|g| ForeignObject {
                name: Some(g.name.clone()),
                ..ForeignObject::new("security group", &g.id, &g.tags)
            }),
    );
    // the table AWS made with the VPC (its main one, unless one of the
    // environment's took that role) is nobody's and goes with the VPC;
    // any other table that is not the environment's is another's, and
    // AWS refuses to delete the VPC while it is there. The table AWS made for
    // the environment's regional NAT gateway is bound to it: AWS keeps it, and
    // removes it with the gateway
    let nat_tables: BTreeSet<&String> = e
        .listed_objects(&crate::aws::ec2::NAT_GATEWAYS)
        .iter()
        .filter(|n| owns(&n.id, &n.tags))
        .filter_map(|n| n.detail.get("route_table"))
        .filter(|t| !t.is_empty())
        .collect();
    let bound = |t: &RouteTable| owns(&t.id, &t.tags) || nat_tables.contains(&t.id);
    let unowned: Vec<_> = e.route_tables.iter().filter(|t| !bound(t)).collect();
    // once one of the environment's took the main role, AWS's table is told
    // by being the only bare one (no subnet, no route but the VPC's own):
    // with several, or none, it is not guessed, so the main role is never
    // handed to another team's table
    let bare = |t: &&&RouteTable| {
        t.associations.is_empty() && t.routes.values().all(|target| target == "local")
    };
    let only = |mut candidates: Vec<&&RouteTable>| match candidates.len() {
        1 => candidates.pop().map(|t| t.id.clone()),
        _ => None,
    };
    let vpc_own = unowned
        .iter()
        .find(|t| t.main_association.is_some())
        .map(|t| t.id.clone())
        .or_else(|| only(unowned.iter().filter(bare).collect()));
    foreign.extend(
        unowned
            .iter()
            .filter(|t| Some(&t.id) != vpc_own.as_ref())
            .map(|t| ForeignObject::new("route table", &t.id, &t.tags)),
    );
    let main_route_table = e
        .route_tables
        .iter()
        .find_map(|t| Some((t, t.main_association.clone()?)))
        .map(|(main, association)| MainRouteTable {
            table: main.id.clone(),
            association,
            vpc_own: vpc_own.clone(),
            others: unowned.iter().filter(bare).map(|t| t.id.clone()).collect(),
        });
    e.route_tables.retain(|o| owns(&o.id, &o.tags));
    e.security_groups.retain(|o| owns(&o.id, &o.tags));
    e.instances.retain(|o| owns(&o.id, &o.tags));
    for listed in e.listed.values_mut() {
        listed.objects.retain(|o| owns(&o.id, &o.tags));
    }
    (foreign, main_route_table)
}

/// The network interfaces in the VPC that are neither the environment's nor
/// held by an object reported on its own: another team's (a function's, a
/// database's, one made by hand), which keep their subnet, and so the VPC,
/// from being deleted. An instance's interface goes with its instance;
/// the load balancer's say whose they are (`load_balancer` is its name); the
/// environment's listed objects name theirs (a NAT gateway's, the Instance
/// Connect Endpoint's); `nat_interfaces` are those of every NAT gateway in the
/// VPC, whatever its state; and a NAT gateway's or an endpoint's interface of
/// another team's goes with that object, reported itself.
pub fn foreign_interfaces<'a>(
    inv: &super::Inventory,
    load_balancer: &str,
    interfaces: &'a [NetworkInterface],
    nat_interfaces: &BTreeSet<String>,
) -> Vec<&'a NetworkInterface> {
    let balancer = format!("ELB app/{load_balancer}/");
    let stray_listed = inv.strays.ec2.listed.values().flat_map(|l| &l.objects);
    let own: BTreeSet<&str> = inv
        .listed
        .values()
        .chain(stray_listed)
        .filter_map(|object| object.detail.get("interfaces"))
        .flat_map(|list| list.split(','))
        .filter(|id| !id.is_empty())
        .collect();
    const HELD_BY_REPORTED_OBJECTS: &[&str] = &[
        "natGateway",
        "vpc_endpoint",
        "gateway_load_balancer_endpoint",
        "ec2_instance_connect_endpoint",
    ];
    interfaces
        .iter()
        .filter(|eni| eni.instance.is_none())
        .filter(|eni| !nat_interfaces.contains(&eni.id) && !own.contains(eni.id.as_str()))
        .filter(|eni| !(eni.requester_managed && eni.description.starts_with(&balancer)))
        .filter(|eni| !HELD_BY_REPORTED_OBJECTS.contains(&eni.interface_type.as_str()))
        .collect()
}

/// How a plan and destroy name another's network interface.
pub fn interface_in_words(eni: &NetworkInterface) -> String {
    let what = if eni.description.is_empty() {
        String::new()
    } else {
        format!(" ({:?})", eni.description)
    };
    format!(
        "network interface {}{what} in subnet {}",
        eni.id, eni.subnet
    )
}
