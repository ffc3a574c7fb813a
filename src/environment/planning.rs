//! Plan-time decisions on the wire state: defaults, unknowns and carved blocks,
//! so that a plan shows exactly what apply will do.

use std::collections::{BTreeMap, BTreeSet};

use tf_provider::value::Value;
use tf_provider::AttributePath;

use super::model::{self, first, known_map, known_strings, string_map, EnvironmentState, IdSlot};
use crate::apply::components::{recording_attributes, renewed_outputs};
use crate::plan::cidr::{carve, Cidr, Tier};
#[cfg(test)]
use crate::plan::drift::Finding;
use crate::plan::drift::Repairs;

mod ipv6;
pub(super) use ipv6::unknown_ipv6_outputs;
use ipv6::{ipv6_disruption, plan_bastion_ipv6, plan_ipv6_outputs};

/// Sets every computed-only attribute to unknown (values come from apply).
pub(super) fn unknown_outputs(state: &mut EnvironmentState) {
    for attribute in recording_attributes() {
        match state.id_slot(attribute.name) {
            Some(IdSlot::One(id)) => *id = Value::Unknown,
            Some(IdSlot::Map(ids)) => *ids = Value::Unknown,
            None => {}
        }
    }
    state.nat_public_ips = Value::Unknown;
    state.alb_dns_name = Value::Unknown;
    state.alb_zone_id = Value::Unknown;
    state.target_group_arn = Value::Unknown;
    state.launch_template_version = Value::Unknown;
    state.bastion_public_ip = Value::Unknown;
    // what the configuration leaves out is known to be null
    if state.instance_connect_endpoint == Value::Value(false) {
        state.instance_connect_endpoint_id = Value::Null;
    }
    if first(&state.flow_logs).is_none() {
        state.flow_log_id = Value::Null;
    }
    state.posture = Value::Unknown;
    unknown_ipv6_outputs(state);
}

pub(super) fn set_tags_all(state: &mut EnvironmentState, default_tags: &BTreeMap<String, String>) {
    state.tags_all = match known_map(&state.tags) {
        Some(tags) => {
            let mut all = default_tags.clone();
            all.extend(tags);
            string_map(all)
        }
        None => Value::Unknown,
    };
}

/// Records the zones apply will choose, when the configuration leaves the
/// choice to it and the region gave them at plan.
pub(super) fn plan_zones(state: &mut EnvironmentState, chosen: Option<Vec<String>>) {
    if let (Value::Unknown, Some(zones)) = (&state.availability_zones, chosen) {
        state.availability_zones = model::string_list(zones);
    }
}

/// The load balancer's hosted zone, when unknown: every application load
/// balancer of a region has its region's, so the plan knows it before AWS does.
pub(super) fn plan_alb_zone(state: &mut EnvironmentState, region: Option<&str>) {
    if let (Value::Unknown, Some(zone)) = (
        &state.alb_zone_id,
        region.and_then(crate::plan::regions::alb_hosted_zone),
    ) {
        state.alb_zone_id = Value::Value(zone.to_string());
    }
}

pub(super) fn desired_capacity(state: &EnvironmentState) -> Option<i64> {
    first(&state.app).and_then(|app| app.desired_capacity.as_ref_option().copied())
}

/// A desired capacity the configuration leaves out follows the group's
/// bounds, as AWS moves it: a `min_size` raised past it raises it, a
/// `max_size` lowered below it lowers it. So the state says what AWS runs.
pub(super) fn desired_within_bounds(planned: &mut EnvironmentState, config: &EnvironmentState) {
    let configured = first(&config.app).is_some_and(|app| !app.desired_capacity.is_null());
    let Some(app) = planned.app.as_mut_option().and_then(|a| a.first_mut()) else {
        return;
    };
    if configured {
        return;
    }
    if let (Value::Value(desired), Value::Value(min), Value::Value(max)) =
        (app.desired_capacity, app.min_size, app.max_size)
    {
        if min <= max {
            app.desired_capacity = Value::Value(desired.clamp(min, max));
        }
    }
}

/// Whether apply must set the group's desired capacity: the configured value
/// changed. A change that only follows the bounds is AWS's own and is made by
/// the bounds; capacity the autoscaler chose within them is kept.
pub(super) fn sets_desired_capacity(prior: &EnvironmentState, planned: &EnvironmentState) -> bool {
    let bounds = |s: &EnvironmentState| {
        first(&s.app).and_then(|app| {
            Some((
                *app.min_size.as_ref_option()?,
                *app.max_size.as_ref_option()?,
            ))
        })
    };
    let followed = match (desired_capacity(prior), bounds(planned)) {
        (Some(before), Some((min, max))) if min <= max => Some(before.clamp(min, max)),
        (before, _) => before,
    };
    desired_capacity(prior) != desired_capacity(planned) && followed != desired_capacity(planned)
}

pub(super) fn zones_of(state: &EnvironmentState) -> Option<Vec<String>> {
    matches!(state.availability_zones, Value::Value(_))
        .then(|| known_strings(&state.availability_zones))
        .flatten()
}

/// The inputs compared to decide whether an update has work to do (with
/// `tags_all`, so a change of the provider's default tags counts).
pub(super) fn inputs_of(state: &EnvironmentState) -> serde_json::Value {
    let mut copy = state.clone();
    unknown_outputs(&mut copy);
    copy.drift = Value::Null;
    copy.id = Value::Null;
    serde_json::to_value(&copy).unwrap_or_default()
}

/// A map whose keys are known: the prior value of each kept key, unknown for new ones.
fn keyed_like(prior: &model::StrMap, keys: impl IntoIterator<Item = String>) -> model::StrMap {
    let prior = prior.as_ref_option();
    Value::Value(
        keys.into_iter()
            .map(|key| {
                let value = prior
                    .and_then(|p| p.get(&key))
                    .filter(|v| v.is_value())
                    .cloned()
                    .unwrap_or(Value::Unknown);
                (key, value)
            })
            .collect(),
    )
}

fn app_field<T: Clone>(
    state: &EnvironmentState,
    field: fn(&model::AppBlock) -> &Value<T>,
) -> Option<Value<T>> {
    first(&state.app).map(|app| field(app).clone())
}

fn bastion_field<T: Clone>(
    state: &EnvironmentState,
    field: fn(&model::BastionBlock) -> &Value<T>,
) -> Option<Value<T>> {
    first(&state.bastion).map(|b| field(b).clone())
}

/// The drift entries of the last refresh (none when unknown).
pub(super) fn drift_of(state: &EnvironmentState) -> Vec<String> {
    known_strings(&state.drift).unwrap_or_default()
}

/// What the refresh before a plan found, as the plan needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Refreshed {
    /// AWS differs from the configuration somewhere: apply repairs it
    pub drifted: bool,
    /// which components the repair gives new IDs, and whether it rolls
    pub repairs: Repairs,
}

impl Refreshed {
    /// The findings of a refresh, as a test writes them.
    #[cfg(test)]
    pub fn of(findings: &[Finding]) -> Refreshed {
        Refreshed {
            drifted: !findings.is_empty(),
            repairs: Repairs::of(findings),
        }
    }
}

/// Marks unknown exactly the computed attributes an update will change, and
/// keeps the others: the plan then says what will really happen. `refreshed`
/// says what the refresh found, and which components a repair creates or
/// replaces.
pub(super) fn plan_outputs(
    prior: &EnvironmentState,
    config: &EnvironmentState,
    planned: &mut EnvironmentState,
    refreshed: &Refreshed,
) {
    // which computed attributes the repair changes, as the table of components says
    let renewed_outputs = renewed_outputs(&refreshed.repairs.renewed);
    // judged from what AWS holds after the apply: unknown only when the apply
    // changes something a control looks at
    if refreshed.drifted
        || !matches!(prior.posture, Value::Value(_))
        || posture_inputs(prior) != posture_inputs(planned)
    {
        planned.posture = Value::Unknown;
    } else {
        planned.posture = prior.posture.clone();
    }
    if refreshed.drifted {
        // a repair recreates what went missing (null after the refresh) and what it
        // replaces; every other ID stays as it is
        fn kept<T: Clone>(slot: &mut Value<T>, renewed: bool) {
            if renewed || !matches!(slot, Value::Value(_)) {
                *slot = Value::Unknown;
            }
        }
        let is = |output: &str| renewed_outputs.contains(output);
        kept(&mut planned.vpc_id, false);
        kept(&mut planned.internet_gateway_id, is("internet_gateway_id"));
        kept(&mut planned.alb_arn, is("alb_arn"));
        kept(&mut planned.alb_dns_name, is("alb_dns_name"));
        // the region's hosted zone of every load balancer: a recreated one keeps it
        kept(&mut planned.alb_zone_id, false);
        kept(&mut planned.target_group_arn, is("target_group_arn"));
        kept(&mut planned.launch_template_id, is("launch_template_id"));
        kept(
            &mut planned.launch_template_version,
            is("launch_template_version") || refreshed.repairs.rolls,
        );
        if is("listener_arns") {
            planned.listener_arns = Value::Unknown;
        }
    }
    if let Some(name) = planned.name.as_ref_option() {
        planned.autoscaling_group_name = Value::Value(crate::plan::spec::app_name(name));
    }
    let zones = zones_of(planned);
    match &zones {
        Some(zones) => {
            for (configured, slot, prior_map) in [
                (
                    &config.public_subnet_cidrs,
                    &mut planned.public_subnet_cidrs,
                    &prior.public_subnet_cidrs,
                ),
                (
                    &config.private_subnet_cidrs,
                    &mut planned.private_subnet_cidrs,
                    &prior.private_subnet_cidrs,
                ),
            ] {
                if configured.is_null() {
                    // kept zones keep their blocks; new zones are carved by fill_carved
                    let prior_map = known_map(prior_map).unwrap_or_default();
                    *slot = Value::Value(
                        zones
                            .iter()
                            .map(|zone| {
                                (
                                    zone.clone(),
                                    prior_map
                                        .get(zone)
                                        .cloned()
                                        .map_or(Value::Unknown, Value::Value),
                                )
                            })
                            .collect(),
                    );
                }
            }
            fill_carved(
                planned,
                prior,
                zones,
                [
                    config.public_subnet_cidrs.is_null(),
                    config.private_subnet_cidrs.is_null(),
                ],
            );
            planned.public_subnet_ids = keyed_like(&prior.public_subnet_ids, zones.iter().cloned());
            planned.private_subnet_ids =
                keyed_like(&prior.private_subnet_ids, zones.iter().cloned());
            // which zones have a NAT gateway is known with the strategy
            match planned
                .nat_gateways
                .as_ref_option()
                .and_then(|n| crate::plan::spec::NatStrategy::parse(n))
            {
                Some(strategy) => {
                    let nat_zones = crate::plan::blueprint::nat_zones(strategy, zones);
                    let address_zones = crate::plan::blueprint::address_zones(strategy, zones);
                    planned.nat_gateway_ids = keyed_like(&prior.nat_gateway_ids, nat_zones);
                    planned.nat_public_ips = keyed_like(&prior.nat_public_ips, address_zones);
                }
                None => {
                    planned.nat_gateway_ids = Value::Unknown;
                    planned.nat_public_ips = Value::Unknown;
                }
            }
        }
        None => {
            for (configured, slot) in [
                (
                    &config.public_subnet_cidrs,
                    &mut planned.public_subnet_cidrs,
                ),
                (
                    &config.private_subnet_cidrs,
                    &mut planned.private_subnet_cidrs,
                ),
            ] {
                if configured.is_null() {
                    *slot = Value::Unknown;
                }
            }
            planned.public_subnet_ids = Value::Unknown;
            planned.private_subnet_ids = Value::Unknown;
            planned.nat_gateway_ids = Value::Unknown;
            planned.nat_public_ips = Value::Unknown;
        }
    }
    let bastion_on = planned.bastion_enabled();
    let mut roles = vec!["alb".to_string(), "app".to_string()];
    if bastion_on {
        roles.push("bastion".into());
    }
    let endpoint_on = planned.instance_connect_endpoint == Value::Value(true);
    if endpoint_on {
        roles.push("eice".into());
    }
    // whether the bastion's group exists is known with `bastion.enabled`, the
    // endpoint's with `instance_connect_endpoint`
    let groups_decided = first(&planned.bastion).is_none_or(|b| !b.enabled.is_unknown())
        && !planned.instance_connect_endpoint.is_unknown();
    planned.security_group_ids = if groups_decided {
        keyed_like(&prior.security_group_ids, roles)
    } else {
        Value::Unknown
    };
    planned.vpc_endpoint_ids = match planned.endpoint_services() {
        Some(services) => keyed_like(
            &prior.vpc_endpoint_ids,
            services.into_iter().map(|s| s.as_str().to_string()),
        ),
        None => Value::Unknown,
    };
    // the endpoint stands in the first zone's private subnet: a new first zone
    // moves it
    let first_zone = |s: &EnvironmentState| zones_of(s).and_then(|z| z.iter().min().cloned());
    planned.instance_connect_endpoint_id =
        if planned.instance_connect_endpoint == Value::Value(false) {
            Value::Null
        } else if endpoint_on
            && !renewed_outputs.contains("instance_connect_endpoint_id")
            && first_zone(prior) == first_zone(planned)
            && first_zone(planned).is_some()
            && prior.instance_connect_endpoint_id.is_value()
        {
            prior.instance_connect_endpoint_id.clone()
        } else {
            Value::Unknown
        };
    plan_ipv6_outputs(prior, planned, &renewed_outputs);
    // AWS cannot change a flow log: any other setting is a new one
    planned.flow_log_id = if first(&planned.flow_logs).is_none() {
        Value::Null
    } else if first(&prior.flow_logs) != first(&planned.flow_logs)
        || renewed_outputs.contains("flow_log_id")
    {
        Value::Unknown
    } else {
        prior.flow_log_id.clone()
    };
    let port = |s: &EnvironmentState| app_field(s, |a| &a.port);
    if port(prior) != port(planned) {
        planned.target_group_arn = Value::Unknown;
    }
    let certificate = |s: &EnvironmentState| {
        first(&s.load_balancer).and_then(|lb| lb.certificate_arn.as_ref_option().cloned())
    };
    let mut listeners = vec!["http".to_string()];
    if certificate(planned).is_some() {
        listeners.push("https".into());
    }
    let https_decided =
        first(&planned.load_balancer).is_none_or(|lb| !lb.certificate_arn.is_unknown());
    if !https_decided {
        planned.listener_arns = Value::Unknown;
    } else if !renewed_outputs.contains("listener_arns") {
        planned.listener_arns = keyed_like(&prior.listener_arns, listeners);
    }
    let template_inputs = |s: &EnvironmentState| {
        (
            app_field(s, |a| &a.instance_type),
            app_field(s, |a| &a.ami_id),
            app_field(s, |a| &a.user_data),
            app_field(s, |a| &a.iam_instance_profile),
            first(&s.app).map(|a| a.user_data_wo_version),
        )
    };
    if template_inputs(prior) != template_inputs(planned) {
        planned.launch_template_version = Value::Unknown;
    }
    // left to AWS: known once the VPC exists (a create records it)
    if planned.dhcp_options_id.is_null() {
        planned.dhcp_options_id = Value::Unknown;
    }
    if let Some(bastion) = planned.bastion.as_mut_option().and_then(|b| b.first_mut()) {
        if bastion_on && bastion.ami_id.is_null() {
            bastion.ami_id = Value::Unknown;
        }
    }
    let bastion_inputs = |s: &EnvironmentState| {
        (
            s.bastion_enabled(),
            bastion_field(s, |b| &b.instance_type),
            bastion_field(s, |b| &b.ami_id),
            bastion_field(s, |b| &b.key_name),
            zones_of(s).and_then(|z| z.iter().min().cloned()),
        )
    };
    if !bastion_on {
        planned.bastion_instance_id = Value::Null;
        planned.bastion_public_ip = Value::Null;
    } else if renewed_outputs.contains("bastion_instance_id")
        || !matches!(planned.bastion_instance_id, Value::Value(_))
        || bastion_inputs(prior) != bastion_inputs(planned)
    {
        planned.bastion_instance_id = Value::Unknown;
        planned.bastion_public_ip = Value::Unknown;
    } else if planned.bastion_public_ip.is_null() {
        // a stopped bastion has no public address: apply starts it, and AWS
        // gives it a new one
        planned.bastion_public_ip = Value::Unknown;
    }
    plan_bastion_ipv6(prior, planned);
}

/// A plan-time warning: what apply will do that the attribute changes alone do not say.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Disruption {
    pub path: AttributePath,
    pub summary: &'static str,
    pub detail: String,
}

/// The disruptive steps an update or repair takes: instances replaced, the
/// target group switched, NAT gateways or subnets moved.
pub(super) fn disruptions(
    prior: &EnvironmentState,
    planned: &EnvironmentState,
    refreshed: &Refreshed,
) -> Vec<Disruption> {
    let renewed = &refreshed.repairs.renewed;
    let mut found = Vec::new();
    let app = |s: &EnvironmentState| first(&s.app).cloned().unwrap_or_default();
    let (before, after) = (app(prior), app(planned));
    let template_change = [
        ("instance_type", before.instance_type != after.instance_type),
        (
            "ami_id",
            before.ami_id != after.ami_id && after.ami_id.is_value(),
        ),
        ("user_data", before.user_data != after.user_data),
        (
            "user_data_wo_version",
            before.user_data_wo_version != after.user_data_wo_version,
        ),
        (
            "iam_instance_profile",
            before.iam_instance_profile != after.iam_instance_profile,
        ),
    ]
    .into_iter()
    .find(|(_, changed)| *changed)
    .map(|(name, _)| AttributePath::new("app").index(0).attribute(name));
    let repaired = refreshed.repairs.rolls || renewed.contains("lt") || renewed.contains("sg/app");
    if let Some(path) = template_change.or_else(|| repaired.then(|| AttributePath::new("drift"))) {
        found.push(Disruption {
            path,
            summary: "Every app instance will be replaced",
            detail: format!("Apply writes a new launch template version from the configuration and starts a rolling instance refresh of the Auto Scaling Group: every instance is replaced, in batches that keep {}% of the group in service. {}", min_healthy_percentage(&after), if waits_for_refresh(&after) {
                "Apply returns once every instance runs the new version; if the new instances fail their health checks, AWS rolls the group back to the version it runs now and apply fails with AWS's reason."
            } else {
                "Apply returns once the refresh has started (`instance_refresh.wait_for_completion = false`); the refresh goes on in the background, and AWS rolls it back if the new instances fail their health checks."
            }),
        });
    }
    if spot_share(&after) && !spot_share(&before) {
        found.push(Disruption {
            path: AttributePath::new("app").index(0).attribute("mixed_instances"),
            summary: "Part of the app capacity will run on Spot",
            detail: "From now on, the share of instances above `on_demand_base_capacity` that is not On-Demand launches as Spot, and AWS may reclaim a Spot instance with two minutes' notice. Capacity rebalancing launches a replacement when AWS warns that one is at risk, and the load balancer stops sending it requests as it goes. The running instances are not replaced by this change.".into(),
        });
    }
    if before.port != after.port {
        found.push(Disruption {
            path: AttributePath::new("app").index(0).attribute("port"),
            summary: "The load balancer will switch to a new target group",
            detail: format!("A target group's port cannot change: apply creates one for port {}, registers the Auto Scaling Group in it, points the listeners at it, and then deletes the old one. Requests in flight on the old target group may fail during the switch.", after.port.as_ref_option().map_or("(known after apply)".to_string(), |p| p.to_string())),
        });
    } else if renewed.contains("tg") {
        found.push(Disruption {
            path: AttributePath::new("target_group_arn"),
            summary: "The load balancer will switch to a new target group",
            detail: "The target group is missing: apply creates it, registers the Auto Scaling Group in it and points the listeners at it. Until the new instances pass the health check the load balancer has no healthy target.".into(),
        });
    }
    let zones = |s: &EnvironmentState| (s.az_count, known_strings(&s.availability_zones));
    let moved_nat: BTreeSet<&String> = renewed
        .iter()
        .filter(|c| c.starts_with("nat/") || c.starts_with("subnet/"))
        .collect();
    if prior.nat_gateways != planned.nat_gateways || zones(prior) != zones(planned) {
        let path = if prior.nat_gateways != planned.nat_gateways {
            AttributePath::new("nat_gateways")
        } else if prior.az_count != planned.az_count {
            AttributePath::new("az_count")
        } else {
            AttributePath::new("availability_zones")
        };
        let (summary, detail) = layout_change(prior, planned);
        found.push(Disruption {
            path,
            summary,
            detail,
        });
    } else if !moved_nat.is_empty() {
        found.push(Disruption {
            path: AttributePath::new("drift"),
            summary: "NAT gateways or subnets will be recreated",
            detail: format!("Apply recreates {} and points the routes at the new ones; private subnets reach the internet again once they are available.", moved_nat.into_iter().cloned().collect::<Vec<_>>().join(", ")),
        });
    }
    found.extend(endpoint_disruption(prior, planned, renewed));
    found.extend(ipv6_disruption(prior, planned));
    found
}

/// What SSH through the EC2 Instance Connect Endpoint loses: all of it when
/// the endpoint is turned off, a few minutes when it is replaced (AWS allows
/// one per VPC, so the old one goes first).
fn endpoint_disruption(
    prior: &EnvironmentState,
    planned: &EnvironmentState,
    renewed: &BTreeSet<String>,
) -> Option<Disruption> {
    let on = |s: &EnvironmentState| s.instance_connect_endpoint == Value::Value(true);
    let first_zone = |s: &EnvironmentState| zones_of(s).and_then(|z| z.iter().min().cloned());
    if on(prior) && planned.instance_connect_endpoint == Value::Value(false) {
        let instead = if planned.bastion_enabled() {
            " SSH goes through the bastion only."
        } else {
            " Nothing else gives SSH to the app instances."
        };
        return Some(Disruption {
            path: AttributePath::new("instance_connect_endpoint"),
            summary: "SSH through the Instance Connect Endpoint will end",
            detail: format!("Apply deletes the endpoint and its security group, and sg/app stops admitting SSH from it; open tunnels close.{instead}"),
        });
    }
    if !on(prior) || !on(planned) {
        return None;
    }
    let path = if renewed.contains("eice") {
        AttributePath::new("drift")
    } else if first_zone(prior) != first_zone(planned) && first_zone(planned).is_some() {
        AttributePath::new("availability_zones")
    } else {
        return None;
    };
    Some(Disruption {
        path,
        summary: "The Instance Connect Endpoint will be replaced",
        detail: "AWS allows one endpoint per VPC: apply deletes the current one, waits until it is gone, then creates its replacement in the first zone's private subnet. SSH through it is unavailable until the new one is ready (a few minutes), and open tunnels close.".into(),
    })
}

/// What a change of the zones or of the NAT strategy does to the private
/// subnets' traffic, zone by zone, as a warning's summary and detail.
fn layout_change(prior: &EnvironmentState, planned: &EnvironmentState) -> (&'static str, String) {
    use crate::plan::blueprint::{address_zones, nat_for_zone, nat_zones};
    use crate::plan::spec::NatStrategy;
    let strategy = |s: &EnvironmentState| {
        s.nat_gateways
            .as_ref_option()
            .and_then(|n| NatStrategy::parse(n))
    };
    let (Some(before), Some(after), Some(old), Some(new)) = (
        zones_of(prior),
        zones_of(planned),
        strategy(prior),
        strategy(planned),
    ) else {
        return ("NAT gateways or subnets will move", "The zones or the NAT strategy are known only at apply. Apply creates the new NAT gateways and subnets first, switches the private routes, the load balancer and the Auto Scaling Group over to them, and then deletes what is no longer planned: connections through a NAT gateway that is replaced or removed are cut, and instances in a removed zone are replaced in the remaining ones.".into());
    };
    let list = |zones: &[&String]| {
        zones
            .iter()
            .map(|z| z.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let removed: Vec<&String> = before.iter().filter(|z| !after.contains(z)).collect();
    let added: Vec<&String> = after.iter().filter(|z| !before.contains(z)).collect();
    let (mut switched, mut lost, mut gained) = (Vec::new(), Vec::new(), Vec::new());
    for zone in after.iter().filter(|z| before.contains(z)) {
        match (
            nat_for_zone(old, &before, zone),
            nat_for_zone(new, &after, zone),
        ) {
            (Some(from), Some(to)) if from != to => switched.push(zone),
            (Some(_), None) => lost.push(zone),
            (None, Some(_)) => gained.push(zone),
            _ => {}
        }
    }
    let deleted_nats: Vec<String> = nat_zones(old, &before)
        .into_iter()
        .filter(|z| !nat_zones(new, &after).contains(z))
        .collect();
    // between zonal and regional gateways the Elastic IPs move: the old
    // gateways must let go of them before the new one can take them
    let regional = |s: NatStrategy| s == NatStrategy::Regional;
    let (kept_addresses, released_addresses): (Vec<String>, Vec<String>) =
        address_zones(old, &before)
            .into_iter()
            .partition(|z| address_zones(new, &after).contains(z));
    let addresses_move = regional(old) != regional(new) && !kept_addresses.is_empty();
    let mut said = Vec::new();
    if addresses_move {
        said.push(format!("The Elastic IP{} of {} move{} from the {} to the {}: apply deletes the old gateway{} first and waits until AWS releases the addresses (about a minute), then {}. The private subnets routed through them have no internet egress from the deletion until the new gateway is available with the addresses (a few minutes on AWS). {}", plural(kept_addresses.len(), "", "s"), list(&kept_addresses.iter().collect::<Vec<_>>()), plural(kept_addresses.len(), "s", ""), gateway_kind(old), gateway_kind(new), plural(nat_zones(old, &before).len(), "", "s"), if regional(new) { "creates the regional NAT gateway with them" } else { "creates a zonal NAT gateway with each" }, if released_addresses.is_empty() { "The addresses in `nat_public_ips` are kept." } else { plural(kept_addresses.len(), "That address is kept.", "Those addresses are kept.") }));
    }
    if !lost.is_empty() {
        said.push(format!("The private subnets in {} lose all internet egress: no NAT gateway routes them any more (only the VPC's gateway endpoints, when enabled, still reach S3 and DynamoDB). Instances there can no longer reach package repositories or outside APIs.", list(&lost)));
    }
    if !switched.is_empty() && !addresses_move {
        said.push(format!("The private subnets in {} switch to another NAT gateway: their open connections to the internet are cut when the route changes and must reconnect.", list(&switched)));
    }
    if !deleted_nats.is_empty() && !addresses_move {
        let named: Vec<String> = deleted_nats.iter().map(|key| gateway_name(key)).collect();
        said.push(format!(
            "{} {} deleted.",
            capitalised(&named.join(", ")),
            plural(named.len(), "is", "are")
        ));
    }
    if !released_addresses.is_empty() {
        let zones = list(&released_addresses.iter().collect::<Vec<_>>());
        let many = released_addresses.len();
        said.push(format!("The Elastic IP{} of {zones} {} released: outside services that allow-list {} address{} stop seeing traffic from {}.", plural(many, "", "s"), plural(many, "is", "are"), plural(many, "that", "those"), plural(many, "", "es"), plural(many, "it", "them")));
    }
    if !removed.is_empty() {
        said.push(format!("The subnets of {} are deleted: the load balancer stops serving from {}, and the Auto Scaling Group replaces the instances running there in the remaining zones, keeping the others in service.", list(&removed), plural(removed.len(), "that zone", "those zones")));
    }
    if !added.is_empty() {
        said.push(format!("Subnets are added in {}; the load balancer serves from {} once they exist, and the Auto Scaling Group may rebalance instances into {}: nothing running is cut.", list(&added), plural(added.len(), "it", "them"), plural(added.len(), "it", "them")));
    }
    if !gained.is_empty() {
        said.push(format!("The private subnets in {} gain internet egress once their NAT gateway is available: nothing is cut.", list(&gained)));
    }
    let summary = if !lost.is_empty() {
        "Private subnets will lose internet egress"
    } else if addresses_move {
        "Private subnets will lose internet egress for a few minutes"
    } else if !switched.is_empty()
        || !removed.is_empty()
        || !deleted_nats.is_empty()
        || !released_addresses.is_empty()
    {
        "NAT gateways or subnets will move: connections will be cut"
    } else {
        "NAT gateways or subnets will be added: nothing is cut"
    };
    (summary, said.join(" "))
}

/// A NAT gateway by its key, for a sentence: `the NAT gateway in us-east-1a`.
fn gateway_name(key: &str) -> String {
    if key == crate::plan::spec::NatStrategy::REGIONAL_KEY {
        "the regional NAT gateway".into()
    } else {
        format!("the NAT gateway in {key}")
    }
}

/// `text` with its first letter upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The NAT gateways of a strategy, for a sentence.
fn gateway_kind(strategy: crate::plan::spec::NatStrategy) -> &'static str {
    match strategy {
        crate::plan::spec::NatStrategy::Regional => "regional NAT gateway",
        crate::plan::spec::NatStrategy::Single => "single NAT gateway",
        _ => "zonal NAT gateways",
    }
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 {
        one
    } else {
        many
    }
}

/// Whether the app's mix puts any capacity on Spot (a percentage still
/// unknown counts: the warning must not be missing).
fn spot_share(app: &model::AppBlock) -> bool {
    first(&app.mixed_instances).is_some_and(|mix| {
        match mix.on_demand_percentage_above_base_capacity {
            Value::Value(percentage) => percentage < 100,
            Value::Unknown => true,
            Value::Null => false,
        }
    })
}

/// Whether apply waits for the refresh it starts, as planned (unknown: it does,
/// the default).
fn waits_for_refresh(app: &model::AppBlock) -> bool {
    first(&app.instance_refresh)
        .and_then(|r| r.wait_for_completion.as_ref_option().copied())
        .unwrap_or(true)
}

/// The share of the group the next refresh keeps in service, as planned.
fn min_healthy_percentage(app: &model::AppBlock) -> String {
    first(&app.instance_refresh)
        .map(|r| r.min_healthy_percentage)
        .unwrap_or_default()
        .as_ref_option()
        .map(i64::to_string)
        .unwrap_or_else(|| {
            crate::plan::spec::RefreshPreferences::default()
                .min_healthy_percentage
                .to_string()
        })
}

/// Carves the blocks of zones that have none yet (entries left unknown), in
/// the maps the provider fills (`fillable`: public, private; a map the
/// configuration sets is the configuration's, unknown values included). When a
/// configured block is not known yet, the carving must avoid it and so waits
/// for apply: the provider's entries stay unknown, their keys known.
fn fill_carved(
    state: &mut EnvironmentState,
    prior: &EnvironmentState,
    zones: &[String],
    fillable: [bool; 2],
) {
    let Some(vpc) = state
        .vpc_cidr
        .as_ref_option()
        .and_then(|v| v.parse::<Cidr>().ok())
    else {
        return;
    };
    let mut existing = BTreeMap::new();
    let mut configured_unknown = false;
    for ((tier, map), provider_fills) in [
        (Tier::Public, &state.public_subnet_cidrs),
        (Tier::Private, &state.private_subnet_cidrs),
    ]
    .into_iter()
    .zip(fillable)
    {
        match map {
            Value::Value(entries) => {
                for (zone, value) in entries {
                    match value.as_ref_option().map(|t| t.parse::<Cidr>()) {
                        Some(Ok(cidr)) => {
                            existing.insert((tier, zone.clone()), cidr);
                        }
                        Some(Err(_)) => {}
                        None => configured_unknown |= !provider_fills,
                    }
                }
            }
            _ => configured_unknown |= !provider_fills,
        }
    }
    if configured_unknown {
        return;
    }
    // a removed zone's blocks stay occupied: its subnets are deleted only
    // once the new zones' serve
    for (tier, map) in [
        (Tier::Public, &prior.public_subnet_cidrs),
        (Tier::Private, &prior.private_subnet_cidrs),
    ] {
        for (zone, text) in known_map(map).unwrap_or_default() {
            if let (false, Ok(cidr)) = (zones.contains(&zone), text.parse::<Cidr>()) {
                existing.insert((tier, zone), cidr);
            }
        }
    }
    let Ok(carved) = carve(vpc, zones, &existing) else {
        return;
    };
    for ((tier, slot), provider_fills) in [
        (Tier::Public, &mut state.public_subnet_cidrs),
        (Tier::Private, &mut state.private_subnet_cidrs),
    ]
    .into_iter()
    .zip(fillable)
    {
        let Value::Value(entries) = slot else {
            continue;
        };
        if !provider_fills {
            continue;
        }
        for (zone, value) in entries.iter_mut() {
            if !value.is_value() {
                if let Some(cidr) = carved.get(&(tier, zone.clone())) {
                    *value = Value::Value(cidr.to_string());
                }
            }
        }
    }
}

/// The inputs a posture control's verdict can depend on: every input but the
/// ones that only size, scale, health-check, tag or time the environment.
fn posture_inputs(state: &EnvironmentState) -> serde_json::Value {
    let mut copy = state.clone();
    copy.tags = Value::Null;
    copy.tags_all = Value::Null;
    copy.timeouts = Value::Null;
    if let Some(app) = copy.app.as_mut_option().and_then(|a| a.first_mut()) {
        for size in [
            &mut app.min_size,
            &mut app.max_size,
            &mut app.desired_capacity,
            &mut app.health_check_grace_period,
        ] {
            *size = Value::Null;
        }
        app.cpu_target = Value::Null;
        app.health_check_path = Value::Null;
        app.instance_refresh = Value::Null;
        app.wait_for_capacity = Value::Null;
    }
    // compared by what they build: a block left out and the same block
    // written with its defaults (as an import records it) are one environment
    match model::to_spec(&copy, &BTreeMap::new()) {
        Ok(spec) => serde_json::Value::String(format!("{spec:?}")),
        Err(_) => inputs_of(&copy),
    }
}

#[cfg(test)]
mod tests;
