//! Plan-time decisions on the wire state: defaults, unknowns and carved blocks,
//! so that a plan shows exactly what apply will do.

use std::collections::{BTreeMap, BTreeSet};

use tf_provider::value::Value;
use tf_provider::AttributePath;

use super::model::{self, first, known_map, known_strings, string_map, EnvironmentState};
use crate::plan::cidr::{carve, Cidr, Tier};
use crate::plan::drift::{renewed, rolls};

/// Sets every computed-only attribute to unknown (values come from apply).
pub(super) fn unknown_outputs(state: &mut EnvironmentState) {
    state.vpc_id = Value::Unknown;
    state.public_subnet_ids = Value::Unknown;
    state.private_subnet_ids = Value::Unknown;
    state.internet_gateway_id = Value::Unknown;
    state.nat_gateway_ids = Value::Unknown;
    state.nat_public_ips = Value::Unknown;
    state.security_group_ids = Value::Unknown;
    state.alb_arn = Value::Unknown;
    state.alb_dns_name = Value::Unknown;
    state.alb_zone_id = Value::Unknown;
    state.target_group_arn = Value::Unknown;
    state.listener_arns = Value::Unknown;
    state.launch_template_id = Value::Unknown;
    state.launch_template_version = Value::Unknown;
    state.autoscaling_group_name = Value::Unknown;
    state.bastion_instance_id = Value::Unknown;
    state.bastion_public_ip = Value::Unknown;
    state.vpc_endpoint_ids = Value::Unknown;
    state.flow_log_id = if first(&state.flow_logs).is_none() {
        Value::Null
    } else {
        Value::Unknown
    };
    state.posture = Value::Unknown;
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

/// Marks unknown exactly the computed attributes an update will change, and
/// keeps the others: the plan then says what will really happen. `drift` lists
/// what the refresh found; its wording says which components a repair creates
/// or replaces (see [`crate::plan::drift`]).
pub(super) fn plan_outputs(
    prior: &EnvironmentState,
    config: &EnvironmentState,
    planned: &mut EnvironmentState,
    drift: &[String],
) {
    let renewed = renewed(drift);
    // judged from what AWS holds after the apply: unknown only when the apply
    // changes something a control looks at
    if !drift.is_empty()
        || !matches!(prior.posture, Value::Value(_))
        || posture_inputs(prior) != posture_inputs(planned)
    {
        planned.posture = Value::Unknown;
    } else {
        planned.posture = prior.posture.clone();
    }
    if !drift.is_empty() {
        // a repair recreates what went missing (null after the refresh) and what it
        // replaces; every other ID stays as it is
        fn kept<T: Clone>(slot: &mut Value<T>, renewed: bool) {
            if renewed || !matches!(slot, Value::Value(_)) {
                *slot = Value::Unknown;
            }
        }
        let is = |component: &str| renewed.contains(component);
        kept(&mut planned.vpc_id, false);
        kept(&mut planned.internet_gateway_id, is("igw"));
        kept(&mut planned.alb_arn, is("alb"));
        kept(&mut planned.alb_dns_name, is("alb"));
        // the region's hosted zone of every load balancer: a recreated one keeps it
        kept(&mut planned.alb_zone_id, false);
        kept(&mut planned.target_group_arn, is("tg"));
        kept(&mut planned.launch_template_id, is("lt"));
        kept(
            &mut planned.launch_template_version,
            is("lt") || is("sg/app") || rolls(drift),
        );
        if is("alb") {
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
                    planned.nat_gateway_ids = keyed_like(&prior.nat_gateway_ids, nat_zones.clone());
                    planned.nat_public_ips = keyed_like(&prior.nat_public_ips, nat_zones);
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
    // whether the bastion's group exists is known with `bastion.enabled`
    let bastion_decided = first(&planned.bastion).is_none_or(|b| !b.enabled.is_unknown());
    planned.security_group_ids = if bastion_decided {
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
    // AWS cannot change a flow log: any other setting is a new one
    planned.flow_log_id = if first(&planned.flow_logs).is_none() {
        Value::Null
    } else if first(&prior.flow_logs) != first(&planned.flow_logs) || renewed.contains("flowlog") {
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
    } else if !renewed.contains("alb") {
        planned.listener_arns = keyed_like(&prior.listener_arns, listeners);
    }
    let template_inputs = |s: &EnvironmentState| {
        (
            app_field(s, |a| &a.instance_type),
            app_field(s, |a| &a.ami_id),
            app_field(s, |a| &a.user_data),
            app_field(s, |a| &a.iam_instance_profile),
        )
    };
    if template_inputs(prior) != template_inputs(planned) {
        planned.launch_template_version = Value::Unknown;
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
    } else if renewed.contains("bastion")
        || !matches!(planned.bastion_instance_id, Value::Value(_))
        || bastion_inputs(prior) != bastion_inputs(planned)
    {
        planned.bastion_instance_id = Value::Unknown;
        planned.bastion_public_ip = Value::Unknown;
    }
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
    drift: &[String],
) -> Vec<Disruption> {
    let renewed = renewed(drift);
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
            "iam_instance_profile",
            before.iam_instance_profile != after.iam_instance_profile,
        ),
    ]
    .into_iter()
    .find(|(_, changed)| *changed)
    .map(|(name, _)| AttributePath::new("app").index(0).attribute(name));
    let repaired = rolls(drift) || renewed.contains("lt") || renewed.contains("sg/app");
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
    found
}

/// What a change of the zones or of the NAT strategy does to the private
/// subnets' traffic, zone by zone, as a warning's summary and detail.
fn layout_change(prior: &EnvironmentState, planned: &EnvironmentState) -> (&'static str, String) {
    use crate::plan::blueprint::{nat_for_zone, nat_zones};
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
    let mut said = Vec::new();
    if !lost.is_empty() {
        said.push(format!("The private subnets in {} lose all internet egress: no NAT gateway routes them any more (only the VPC's gateway endpoints, when enabled, still reach S3 and DynamoDB). Instances there can no longer reach package repositories or outside APIs.", list(&lost)));
    }
    if !switched.is_empty() {
        said.push(format!("The private subnets in {} switch to another NAT gateway: their open connections to the internet are cut when the route changes and must reconnect.", list(&switched)));
    }
    if !deleted_nats.is_empty() {
        said.push(format!("The NAT gateway{} in {} {} deleted, with {} Elastic IP{}: outside services that allow-list {} address{} stop seeing traffic from it.", plural(deleted_nats.len(), "", "s"), deleted_nats.join(", "), plural(deleted_nats.len(), "is", "are"), plural(deleted_nats.len(), "its", "their"), plural(deleted_nats.len(), "", "s"), plural(deleted_nats.len(), "that", "those"), plural(deleted_nats.len(), "", "es")));
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
    } else if !switched.is_empty() || !removed.is_empty() || !deleted_nats.is_empty() {
        "NAT gateways or subnets will move: connections will be cut"
    } else {
        "NAT gateways or subnets will be added: nothing is cut"
    };
    (summary, said.join(" "))
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 {
        one
    } else {
        many
    }
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
fn fill_carved(state: &mut EnvironmentState, zones: &[String], fillable: [bool; 2]) {
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
    inputs_of(&copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::drift::{Finding, Repair};
    use model::{string_list, AppBlock, BastionBlock, LoadBalancerBlock};

    fn known(pairs: &[(&str, &str)]) -> model::StrMap {
        string_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// A state as it stands after an apply.
    fn applied() -> EnvironmentState {
        let mut state = EnvironmentState {
            id: Value::Value("shop".into()),
            name: Value::Value("shop".into()),
            vpc_cidr: Value::Value("10.0.0.0/16".into()),
            az_count: Value::Value(2),
            availability_zones: string_list(["us-east-1a".to_string(), "us-east-1b".to_string()]),
            nat_gateways: Value::Value("single".into()),
            public_subnet_cidrs: known(&[
                ("us-east-1a", "10.0.0.0/20"),
                ("us-east-1b", "10.0.16.0/20"),
            ]),
            private_subnet_cidrs: known(&[
                ("us-east-1a", "10.0.128.0/20"),
                ("us-east-1b", "10.0.144.0/20"),
            ]),
            public_subnet_ids: known(&[("us-east-1a", "subnet-a"), ("us-east-1b", "subnet-b")]),
            private_subnet_ids: known(&[("us-east-1a", "subnet-c"), ("us-east-1b", "subnet-d")]),
            nat_gateway_ids: known(&[("us-east-1a", "nat-a")]),
            nat_public_ips: known(&[("us-east-1a", "198.51.100.1")]),
            security_group_ids: known(&[("alb", "sg-1"), ("app", "sg-2"), ("bastion", "sg-3")]),
            target_group_arn: Value::Value("tg".into()),
            listener_arns: known(&[("http", "listener-http")]),
            launch_template_version: Value::Value(1),
            autoscaling_group_name: Value::Value("shop-app".into()),
            bastion_instance_id: Value::Value("i-1".into()),
            bastion_public_ip: Value::Value("203.0.113.1".into()),
            vpc_endpoint_ids: known(&[("dynamodb", "vpce-d"), ("s3", "vpce-s")]),
            drift: string_list(Vec::new()),
            posture: known(&[
                ("EC2.2", "pass"),
                ("EC2.6", "fail: the VPC has no flow log"),
            ]),
            app: Value::Value(vec![AppBlock::default()]),
            load_balancer: Value::Value(vec![LoadBalancerBlock::default()]),
            bastion: Value::Value(vec![BastionBlock {
                ssh_ingress_cidrs: string_list(["198.51.100.0/24".to_string()]),
                ami_id: Value::Value("ami-1".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        state.apply_defaults();
        if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
            app.ami_id = Value::Value("ami-1".into());
        }
        state
    }

    fn plan(
        prior: &EnvironmentState,
        change: impl FnOnce(&mut EnvironmentState),
    ) -> EnvironmentState {
        let mut planned = prior.clone();
        change(&mut planned);
        let config = EnvironmentState::default();
        plan_outputs(prior, &config, &mut planned, &[]);
        planned
    }

    #[test]
    fn input_changes_are_seen_and_output_changes_are_not() {
        let prior = applied();
        let mut refreshed = prior.clone();
        refreshed.bastion_public_ip = Value::Value("203.0.113.99".into());
        assert_eq!(inputs_of(&refreshed), inputs_of(&prior));
        let mut changed = prior.clone();
        changed.app.as_mut_option().unwrap()[0].port = Value::Value(9090);
        assert_ne!(inputs_of(&changed), inputs_of(&prior));
        changed = prior.clone();
        changed.vpc_cidr = Value::Value("10.1.0.0/16".into());
        let paths = crate::environment::schema::replacement_paths(&prior, &changed);
        assert_eq!(paths, vec![tf_provider::AttributePath::new("vpc_cidr")]);
        assert!(crate::environment::schema::replacement_paths(&prior, &prior).is_empty());
    }

    #[test]
    fn a_size_change_keeps_every_output_known() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.app.as_mut_option().unwrap()[0].max_size = Value::Value(9)
        });
        assert_eq!(planned.public_subnet_ids, prior.public_subnet_ids);
        assert_eq!(planned.nat_gateway_ids, prior.nat_gateway_ids);
        assert_eq!(planned.security_group_ids, prior.security_group_ids);
        assert_eq!(planned.target_group_arn, prior.target_group_arn);
        assert_eq!(
            planned.launch_template_version,
            prior.launch_template_version
        );
        assert_eq!(planned.bastion_instance_id, prior.bastion_instance_id);
    }

    #[test]
    fn endpoint_ids_stay_known_and_follow_the_services() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.app.as_mut_option().unwrap()[0].max_size = Value::Value(9)
        });
        assert_eq!(planned.vpc_endpoint_ids, prior.vpc_endpoint_ids);
        let planned = plan(&prior, |s| {
            s.vpc_endpoints = Value::Value(vec![model::EndpointsBlock {
                s3: Value::Value(true),
                dynamodb: Value::Value(false),
                public_route_table: Value::Value(true),
            }]);
        });
        assert_eq!(planned.vpc_endpoint_ids, known(&[("s3", "vpce-s")]));
        let mut without = prior.clone();
        without.vpc_endpoint_ids = known(&[("s3", "vpce-s")]);
        let planned = plan(&without, |_| {});
        let ids = planned.vpc_endpoint_ids.as_ref_option().unwrap();
        assert!(
            ids["dynamodb"].is_unknown(),
            "a new endpoint's ID is unknown"
        );
        assert_eq!(ids["s3"], Value::Value("vpce-s".to_string()));
    }

    #[test]
    fn a_grace_period_or_refresh_preference_change_keeps_every_output_known() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            let app = &mut s.app.as_mut_option().unwrap()[0];
            app.health_check_grace_period = Value::Value(0);
            app.instance_refresh = Value::Value(vec![model::InstanceRefreshBlock {
                min_healthy_percentage: Value::Value(50),
                max_healthy_percentage: Value::Value(150),
                instance_warmup: Value::Value(30),
                wait_for_completion: Value::Value(false),
            }]);
        });
        assert_ne!(inputs_of(&planned), inputs_of(&prior));
        let mut outputs_only = planned.clone();
        outputs_only.app = prior.app.clone();
        assert_eq!(
            outputs_only, prior,
            "no computed attribute changes, the posture included"
        );
        assert!(disruptions(&prior, &planned, &[]).is_empty());
    }

    #[test]
    fn the_replacement_warning_gives_the_configured_healthy_share() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            let app = &mut s.app.as_mut_option().unwrap()[0];
            app.instance_type = Value::Value("t3.large".into());
            app.instance_refresh = Value::Value(vec![model::InstanceRefreshBlock {
                min_healthy_percentage: Value::Value(75),
                ..Default::default()
            }]);
        });
        let warnings = disruptions(&prior, &planned, &[]);
        assert!(
            warnings[0].detail.contains("keep 75% of the group"),
            "{warnings:?}"
        );
        assert!(
            warnings[0]
                .detail
                .contains("Apply returns once every instance runs the new version"),
            "{warnings:?}"
        );
        let without_waiting = plan(&prior, |s| {
            let app = &mut s.app.as_mut_option().unwrap()[0];
            app.instance_type = Value::Value("t3.large".into());
            app.instance_refresh = Value::Value(vec![model::InstanceRefreshBlock {
                wait_for_completion: Value::Value(false),
                ..Default::default()
            }]);
        });
        let warnings = disruptions(&prior, &without_waiting, &[]);
        assert!(
            warnings[0]
                .detail
                .contains("Apply returns once the refresh has started"),
            "{warnings:?}"
        );
        let defaults = plan(&prior, |s| {
            s.app.as_mut_option().unwrap()[0].instance_type = Value::Value("t3.large".into())
        });
        let warnings = disruptions(&prior, &defaults, &[]);
        assert!(
            warnings[0].detail.contains("keep 90% of the group"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_port_change_replaces_only_the_target_group() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.app.as_mut_option().unwrap()[0].port = Value::Value(9090)
        });
        assert!(planned.target_group_arn.is_unknown());
        assert_eq!(planned.listener_arns, prior.listener_arns);
        assert_eq!(
            planned.launch_template_version,
            prior.launch_template_version
        );
    }

    #[test]
    fn a_new_nat_gateway_is_unknown_and_the_kept_one_known() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.nat_gateways = Value::Value("one_per_az".into())
        });
        let nats = planned.nat_gateway_ids.as_ref_option().unwrap();
        assert_eq!(nats["us-east-1a"], Value::Value("nat-a".to_string()));
        assert!(nats["us-east-1b"].is_unknown());
    }

    #[test]
    fn an_added_zone_is_carved_and_the_others_keep_their_blocks() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.availability_zones =
                string_list(["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from));
            s.az_count = Value::Value(3);
        });
        let public = known_map(&planned.public_subnet_cidrs).unwrap();
        assert_eq!(public["us-east-1a"], "10.0.0.0/20");
        assert_eq!(public["us-east-1c"], "10.0.32.0/20");
        let ids = planned.public_subnet_ids.as_ref_option().unwrap();
        assert_eq!(ids["us-east-1b"], Value::Value("subnet-b".to_string()));
        assert!(ids["us-east-1c"].is_unknown());
    }

    #[test]
    fn disabling_the_bastion_nulls_its_outputs_and_group() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.bastion.as_mut_option().unwrap()[0].enabled = Value::Value(false)
        });
        assert!(planned.bastion_instance_id.is_null());
        assert!(!planned
            .security_group_ids
            .as_ref_option()
            .unwrap()
            .contains_key("bastion"));
    }

    #[test]
    fn a_new_instance_type_rolls_the_template_version() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.app.as_mut_option().unwrap()[0].instance_type = Value::Value("t3.large".into())
        });
        assert!(planned.launch_template_version.is_unknown());
        assert_eq!(planned.bastion_instance_id, prior.bastion_instance_id);
        let warnings = disruptions(&prior, &planned, &[]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].summary, "Every app instance will be replaced");
        assert_eq!(
            warnings[0].path,
            AttributePath::new("app")
                .index(0)
                .attribute("instance_type")
        );
    }

    #[test]
    fn instance_profiles_roll_the_app_and_keep_the_bastion() {
        let prior = applied();
        let planned = plan(&prior, |s| {
            s.app.as_mut_option().unwrap()[0].iam_instance_profile = Value::Value("ssm".into());
            s.bastion.as_mut_option().unwrap()[0].iam_instance_profile = Value::Value("ops".into());
        });
        assert!(planned.launch_template_version.is_unknown());
        assert_eq!(planned.bastion_instance_id, prior.bastion_instance_id);
        assert_eq!(planned.bastion_public_ip, prior.bastion_public_ip);
        let warnings = disruptions(&prior, &planned, &[]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            warnings[0].path,
            AttributePath::new("app")
                .index(0)
                .attribute("iam_instance_profile")
        );
    }

    #[test]
    fn a_change_no_control_looks_at_keeps_the_posture_known() {
        let prior = applied();
        for change in [
            (|app: &mut AppBlock| app.cpu_target = Value::Value(70.0)) as fn(&mut AppBlock),
            |app| app.health_check_path = Value::Value("/ready".into()),
            |app| app.min_size = Value::Value(3),
        ] {
            let planned = plan(&prior, |s| change(&mut s.app.as_mut_option().unwrap()[0]));
            assert_eq!(planned.posture, prior.posture);
        }
        for change in [
            (|s: &mut EnvironmentState| {
                s.load_balancer.as_mut_option().unwrap()[0].ingress_cidrs =
                    string_list(["10.0.0.0/8".to_string()])
            }) as fn(&mut EnvironmentState),
            |s| s.bastion.as_mut_option().unwrap()[0].enabled = Value::Value(false),
            |s| s.app.as_mut_option().unwrap()[0].instance_type = Value::Value("t3.large".into()),
            |s| {
                s.az_count = Value::Value(3);
                s.availability_zones =
                    string_list(["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from));
            },
        ] {
            let planned = plan(&prior, change);
            assert_eq!(planned.posture, Value::Unknown);
        }
    }

    /// The keys of a planned map, and which of its values are unknown.
    fn keys_and_unknowns(map: &model::StrMap) -> (Vec<String>, Vec<String>) {
        let entries = map.as_ref_option().expect("a known map");
        (
            entries.keys().cloned().collect(),
            entries
                .iter()
                .filter(|(_, v)| v.is_unknown())
                .map(|(k, _)| k.clone())
                .collect(),
        )
    }

    /// A create's planned state once the zones are known, from `config`.
    fn first_plan(config: &EnvironmentState) -> EnvironmentState {
        let mut planned = config.clone();
        planned.apply_defaults();
        unknown_outputs(&mut planned);
        planned.availability_zones = string_list(["us-east-1a", "us-east-1b"].map(String::from));
        plan_outputs(&EnvironmentState::default(), config, &mut planned, &[]);
        planned
    }

    #[test]
    fn a_first_plan_knows_the_keys_and_the_carved_blocks() {
        let config = EnvironmentState {
            name: Value::Value("shop".into()),
            nat_gateways: Value::Value("one_per_az".into()),
            ..Default::default()
        };
        let planned = first_plan(&config);
        let zones = vec!["us-east-1a".to_string(), "us-east-1b".to_string()];
        for ids in [
            &planned.public_subnet_ids,
            &planned.private_subnet_ids,
            &planned.nat_gateway_ids,
            &planned.nat_public_ips,
        ] {
            assert_eq!(keys_and_unknowns(ids), (zones.clone(), zones.clone()));
        }
        assert_eq!(
            known_map(&planned.public_subnet_cidrs).unwrap(),
            BTreeMap::from([
                ("us-east-1a".to_string(), "10.0.0.0/20".to_string()),
                ("us-east-1b".to_string(), "10.0.16.0/20".to_string()),
            ])
        );
        assert_eq!(
            known_map(&planned.private_subnet_cidrs).unwrap().len(),
            2,
            "{:?}",
            planned.private_subnet_cidrs
        );
        let roles = ["alb", "app", "bastion"].map(String::from).to_vec();
        assert_eq!(
            keys_and_unknowns(&planned.security_group_ids),
            (roles.clone(), roles)
        );
        assert!(planned.vpc_id.is_unknown() && planned.posture.is_unknown());
    }

    #[test]
    fn configured_blocks_unknown_at_plan_are_kept_and_the_carving_waits_for_them() {
        let unknown_blocks: model::StrMap = Value::Value(BTreeMap::from([
            ("us-east-1a".to_string(), Value::Unknown),
            ("us-east-1b".to_string(), Value::Unknown),
        ]));
        let config = EnvironmentState {
            name: Value::Value("shop".into()),
            private_subnet_cidrs: unknown_blocks.clone(),
            ..Default::default()
        };
        let planned = first_plan(&config);
        assert_eq!(
            planned.private_subnet_cidrs, unknown_blocks,
            "as configured"
        );
        assert_eq!(
            planned.public_subnet_cidrs, unknown_blocks,
            "carved at apply, clear of the configured blocks"
        );
        let wholly_unknown = EnvironmentState {
            private_subnet_cidrs: Value::Unknown,
            ..config
        };
        let planned = first_plan(&wholly_unknown);
        assert_eq!(planned.private_subnet_cidrs, Value::Unknown);
        assert_eq!(planned.public_subnet_cidrs, unknown_blocks);
    }

    #[test]
    fn a_zone_count_change_makes_unknown_only_the_added_zone() {
        let mut prior = applied();
        prior.nat_gateways = Value::Value("one_per_az".into());
        prior.nat_gateway_ids = known(&[("us-east-1a", "nat-a"), ("us-east-1b", "nat-b")]);
        prior.nat_public_ips = known(&[("us-east-1a", "192.0.2.1"), ("us-east-1b", "192.0.2.2")]);
        let three = plan(&prior, |s| {
            s.az_count = Value::Value(3);
            s.availability_zones =
                string_list(["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from));
        });
        let added = vec!["us-east-1c".to_string()];
        for (planned, before) in [
            (&three.public_subnet_ids, &prior.public_subnet_ids),
            (&three.private_subnet_ids, &prior.private_subnet_ids),
            (&three.nat_gateway_ids, &prior.nat_gateway_ids),
            (&three.nat_public_ips, &prior.nat_public_ips),
        ] {
            assert_eq!(keys_and_unknowns(planned).1, added);
            let kept = planned.as_ref_option().unwrap();
            for (zone, id) in before.as_ref_option().unwrap() {
                assert_eq!(&kept[zone], id);
            }
        }
        assert_eq!(
            known_map(&three.private_subnet_cidrs).unwrap().len(),
            3,
            "the added zone's blocks are carved at plan"
        );
        assert_eq!(three.bastion_instance_id, prior.bastion_instance_id);
        assert_eq!(three.bastion_public_ip, prior.bastion_public_ip);
        assert_eq!(three.launch_template_version, prior.launch_template_version);
        let mut after = three.clone();
        for map in [
            &mut after.public_subnet_ids,
            &mut after.private_subnet_ids,
            &mut after.nat_gateway_ids,
            &mut after.nat_public_ips,
        ] {
            if let Value::Value(entries) = map {
                for value in entries.values_mut().filter(|v| v.is_unknown()) {
                    *value = Value::Value("new".into());
                }
            }
        }
        after.posture = prior.posture.clone();
        let two = plan(&after, |s| {
            s.az_count = Value::Value(2);
            s.availability_zones = prior.availability_zones.clone();
        });
        assert_eq!(two.public_subnet_ids, prior.public_subnet_ids);
        assert_eq!(two.nat_public_ips, prior.nat_public_ips);
        assert_eq!(two.private_subnet_cidrs, prior.private_subnet_cidrs);
        assert_eq!(two.bastion_instance_id, prior.bastion_instance_id);
    }

    #[test]
    fn nat_and_zone_warnings_say_what_each_change_cuts() {
        let with = |nat: &str, zones: &[&str]| {
            let mut state = applied();
            state.nat_gateways = Value::Value(nat.into());
            state.az_count = Value::Value(zones.len() as i64);
            state.availability_zones = string_list(zones.iter().map(|z| z.to_string()));
            state
        };
        let two = ["us-east-1a", "us-east-1b"];
        let warning = |before: EnvironmentState, after: EnvironmentState| {
            let found = disruptions(&before, &after, &[]);
            assert_eq!(found.len(), 1, "{found:?}");
            found[0].clone()
        };
        let added = warning(with("none", &two), with("one_per_az", &two));
        assert_eq!(
            added.summary,
            "NAT gateways or subnets will be added: nothing is cut"
        );
        assert!(
            added
                .detail
                .contains("us-east-1a, us-east-1b gain internet egress"),
            "{added:?}"
        );
        assert!(!added.detail.contains(" cut when"), "{added:?}");
        let removed = warning(with("single", &two), with("none", &two));
        assert_eq!(removed.summary, "Private subnets will lose internet egress");
        assert!(
            removed
                .detail
                .contains("The private subnets in us-east-1a, us-east-1b lose all internet egress"),
            "{removed:?}"
        );
        assert!(
            removed
                .detail
                .contains("The NAT gateway in us-east-1a is deleted"),
            "{removed:?}"
        );
        assert_eq!(removed.path, AttributePath::new("nat_gateways"));
        let split = warning(with("single", &two), with("one_per_az", &two));
        assert_eq!(
            split.summary,
            "NAT gateways or subnets will move: connections will be cut"
        );
        assert!(
            split
                .detail
                .contains("The private subnets in us-east-1b switch to another NAT gateway"),
            "{split:?}"
        );
        let grown = warning(
            with("one_per_az", &two),
            with("one_per_az", &["us-east-1a", "us-east-1b", "us-east-1c"]),
        );
        assert_eq!(
            grown.summary,
            "NAT gateways or subnets will be added: nothing is cut"
        );
        assert!(
            grown.detail.contains("Subnets are added in us-east-1c"),
            "{grown:?}"
        );
        assert_eq!(grown.path, AttributePath::new("az_count"));
        let shrunk = warning(
            with("one_per_az", &["us-east-1a", "us-east-1b", "us-east-1c"]),
            with("one_per_az", &two),
        );
        assert_eq!(
            shrunk.summary,
            "NAT gateways or subnets will move: connections will be cut"
        );
        assert!(
            shrunk
                .detail
                .contains("The subnets of us-east-1c are deleted"),
            "{shrunk:?}"
        );
        assert!(
            shrunk
                .detail
                .contains("The NAT gateway in us-east-1c is deleted"),
            "{shrunk:?}"
        );
    }

    #[test]
    fn a_desired_capacity_left_out_follows_the_bounds_as_aws_moves_it() {
        let prior = applied();
        let sized = |min: i64, max: i64, desired: Option<i64>| {
            let config = EnvironmentState {
                app: Value::Value(vec![AppBlock {
                    desired_capacity: desired.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            };
            let mut planned = prior.clone();
            let app = &mut planned.app.as_mut_option().unwrap()[0];
            app.min_size = Value::Value(min);
            app.max_size = Value::Value(max);
            desired_within_bounds(&mut planned, &config);
            planned
        };
        assert_eq!(desired_capacity(&prior), Some(2));
        let raised = sized(3, 4, None);
        assert_eq!(desired_capacity(&raised), Some(3));
        // AWS raises it with the bound: nothing to set beyond the bounds
        assert!(!sets_desired_capacity(&prior, &raised));
        let lowered = sized(1, 1, None);
        assert_eq!(desired_capacity(&lowered), Some(1));
        assert!(!sets_desired_capacity(&prior, &lowered));
        let mut configured = sized(1, 4, Some(3));
        configured.app.as_mut_option().unwrap()[0].desired_capacity = Value::Value(3);
        assert_eq!(desired_capacity(&configured), Some(3));
        assert!(sets_desired_capacity(&prior, &configured));
    }

    #[test]
    fn settling_after_apply_leaves_no_unknown_entry() {
        let mut state = applied();
        state.public_subnet_ids = Value::Value(BTreeMap::from([
            (
                "us-east-1a".to_string(),
                Value::Value("subnet-a".to_string()),
            ),
            ("us-east-1b".to_string(), Value::Unknown),
        ]));
        state.vpc_endpoint_ids = Value::Unknown;
        state.flow_log_id = Value::Unknown;
        crate::environment::observe::settle(&mut state);
        assert_eq!(
            state.public_subnet_ids,
            known(&[("us-east-1a", "subnet-a")])
        );
        assert!(state.vpc_endpoint_ids.is_null() && state.flow_log_id.is_null());
    }

    /// As `applied`, with every ID of a complete environment set.
    fn complete() -> EnvironmentState {
        let mut state = applied();
        for (slot, id) in [
            (&mut state.vpc_id, "vpc-1"),
            (&mut state.internet_gateway_id, "igw-1"),
            (&mut state.alb_arn, "alb"),
            (&mut state.alb_dns_name, "alb.example"),
            (&mut state.alb_zone_id, "Z1"),
            (&mut state.launch_template_id, "lt-1"),
            (&mut state.autoscaling_group_name, "shop-app"),
        ] {
            *slot = Value::Value(id.into());
        }
        state
    }

    fn repair(prior: &EnvironmentState, findings: &[Finding]) -> EnvironmentState {
        let drift: Vec<String> = findings.iter().map(Finding::to_string).collect();
        let mut planned = prior.clone();
        plan_outputs(prior, &EnvironmentState::default(), &mut planned, &drift);
        planned
    }

    #[test]
    fn posture_is_known_after_apply_only_when_apply_has_work() {
        let prior = complete();
        let planned = repair(
            &prior,
            &[Finding::new(
                "sg/app",
                "has an extra ingress rule tcp/22 from 0.0.0.0/0",
                Repair::InPlace("removes it"),
            )],
        );
        assert_eq!(planned.posture, Value::Unknown);
        // a posture that changed in AWS alone (a flow log added) is no work for apply
        let mut refreshed = prior.clone();
        refreshed.posture = known(&[("EC2.2", "pass"), ("EC2.6", "pass")]);
        assert_eq!(inputs_of(&refreshed), inputs_of(&prior));
    }

    #[test]
    fn a_repair_in_place_keeps_every_id_known() {
        let prior = complete();
        let planned = repair(
            &prior,
            &[
                Finding::new(
                    "sg/app",
                    "has an extra ingress rule tcp/22 from ::/0",
                    Repair::InPlace("removes it"),
                ),
                Finding::new(
                    "bastion",
                    "has IMDSv2 optional",
                    Repair::InPlace("requires it"),
                ),
                Finding::new(
                    "lt",
                    "has version 2 as its default, where IMDSv2 is optional",
                    Repair::InPlace("makes the version the group runs the default again"),
                ),
            ],
        );
        assert_eq!(planned.posture, Value::Unknown);
        let ids_only = EnvironmentState {
            posture: prior.posture.clone(),
            ..planned.clone()
        };
        assert_eq!(ids_only, prior);
        assert!(disruptions(&prior, &planned, &[]).is_empty());
    }

    #[test]
    fn a_repair_makes_unknown_only_what_it_recreates_or_replaces() {
        let mut prior = complete();
        // the refresh found the NAT gateway gone
        prior.nat_gateway_ids = string_map(Vec::<(String, String)>::new());
        let findings = [
            Finding::new("nat/us-east-1a", "is missing", Repair::Create),
            Finding::new(
                "bastion",
                "has type \"t3.large\" instead of \"t3.nano\"",
                Repair::Replace,
            ),
            Finding::new(
                "asg",
                "runs launch template version 2, where IMDSv2 is optional",
                Repair::Roll,
            ),
        ];
        let planned = repair(&prior, &findings);
        let missing_nat: BTreeMap<String, Value<String>> =
            [("us-east-1a".to_string(), Value::Unknown)].into();
        assert_eq!(planned.nat_gateway_ids, Value::Value(missing_nat));
        assert!(planned.bastion_instance_id.is_unknown());
        assert!(planned.launch_template_version.is_unknown());
        for (kept, before) in [
            (&planned.vpc_id, &prior.vpc_id),
            (&planned.target_group_arn, &prior.target_group_arn),
            (&planned.launch_template_id, &prior.launch_template_id),
        ] {
            assert_eq!(kept, before);
        }
        assert_eq!(planned.security_group_ids, prior.security_group_ids);
        assert_eq!(planned.public_subnet_ids, prior.public_subnet_ids);
        assert_eq!(planned.listener_arns, prior.listener_arns);
        let drift: Vec<String> = findings.iter().map(Finding::to_string).collect();
        let summaries: Vec<&str> = disruptions(&prior, &planned, &drift)
            .iter()
            .map(|d| d.summary)
            .collect();
        assert_eq!(
            summaries,
            vec![
                "Every app instance will be replaced",
                "NAT gateways or subnets will be recreated"
            ]
        );
    }
}
