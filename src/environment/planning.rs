//! Plan-time decisions on the wire state: defaults, unknowns and carved blocks,
//! so that a plan shows exactly what apply will do.

use std::collections::BTreeMap;

use tf_provider::value::Value;

use super::model::{self, first, known_map, known_strings, string_map, EnvironmentState};
use crate::plan::cidr::{carve, Cidr, Tier};

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

/// Carves subnets at plan time when the zones are known, so the plan shows them.
pub(super) fn plan_subnets(state: &mut EnvironmentState) {
    match zones_of(state) {
        Some(zones) => fill_carved(state, &zones),
        None => {
            for slot in [
                &mut state.public_subnet_cidrs,
                &mut state.private_subnet_cidrs,
            ] {
                if slot.is_null() {
                    *slot = Value::Unknown;
                }
            }
        }
    }
}

pub(super) fn desired_capacity(state: &EnvironmentState) -> Option<i64> {
    first(&state.app).and_then(|app| app.desired_capacity.as_ref_option().copied())
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

/// Marks unknown exactly the computed attributes an update will change, and
/// keeps the others: the plan then says what will really happen.
pub(super) fn plan_outputs(
    prior: &EnvironmentState,
    config: &EnvironmentState,
    planned: &mut EnvironmentState,
    drifted: bool,
) {
    if drifted {
        // a repair recreates what went missing (null after the refresh) and keeps
        // what still exists
        let kept = |value: &Value<String>| match value {
            Value::Value(_) => value.clone(),
            _ => Value::Unknown,
        };
        let stable = [
            kept(&planned.vpc_id),
            kept(&planned.internet_gateway_id),
            kept(&planned.alb_arn),
            kept(&planned.alb_dns_name),
            kept(&planned.alb_zone_id),
            kept(&planned.autoscaling_group_name),
        ];
        unknown_outputs(planned);
        [
            planned.vpc_id,
            planned.internet_gateway_id,
            planned.alb_arn,
            planned.alb_dns_name,
            planned.alb_zone_id,
            planned.autoscaling_group_name,
        ] = stable;
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
            fill_carved(planned, zones);
            planned.public_subnet_ids = keyed_like(&prior.public_subnet_ids, zones.iter().cloned());
            planned.private_subnet_ids =
                keyed_like(&prior.private_subnet_ids, zones.iter().cloned());
            let strategy = planned
                .nat_gateways
                .as_ref_option()
                .and_then(|n| crate::plan::spec::NatStrategy::parse(n))
                .unwrap_or_default();
            let nat_zones = crate::plan::blueprint::nat_zones(strategy, zones);
            if !drifted {
                planned.nat_gateway_ids = keyed_like(&prior.nat_gateway_ids, nat_zones.clone());
            }
            planned.nat_public_ips = keyed_like(&prior.nat_public_ips, nat_zones);
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
    if !drifted {
        planned.security_group_ids = keyed_like(&prior.security_group_ids, roles);
    }
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
    if !drifted {
        planned.listener_arns = keyed_like(&prior.listener_arns, listeners);
    }
    let template_inputs = |s: &EnvironmentState| {
        (
            app_field(s, |a| &a.instance_type),
            app_field(s, |a| &a.ami_id),
            app_field(s, |a| &a.user_data),
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
    } else if drifted || bastion_inputs(prior) != bastion_inputs(planned) {
        planned.bastion_instance_id = Value::Unknown;
        planned.bastion_public_ip = Value::Unknown;
    }
}

/// Carves the blocks of zones that have none yet (entries left unknown).
fn fill_carved(state: &mut EnvironmentState, zones: &[String]) {
    let Some(vpc) = state
        .vpc_cidr
        .as_ref_option()
        .and_then(|v| v.parse::<Cidr>().ok())
    else {
        return;
    };
    let mut existing = BTreeMap::new();
    for (tier, map) in [
        (Tier::Public, &state.public_subnet_cidrs),
        (Tier::Private, &state.private_subnet_cidrs),
    ] {
        if let Value::Value(entries) = map {
            for (zone, value) in entries {
                if let Some(cidr) = value.as_ref_option().and_then(|t| t.parse::<Cidr>().ok()) {
                    existing.insert((tier, zone.clone()), cidr);
                }
            }
        }
    }
    let Ok(carved) = carve(vpc, zones, &existing) else {
        return;
    };
    for (tier, slot) in [
        (Tier::Public, &mut state.public_subnet_cidrs),
        (Tier::Private, &mut state.private_subnet_cidrs),
    ] {
        let needs = match slot {
            Value::Null | Value::Unknown => true,
            Value::Value(entries) => entries.values().any(|v| !v.is_value()),
        };
        if needs {
            *slot = string_map(
                carved
                    .iter()
                    .filter(|((t, _), _)| *t == tier)
                    .map(|((_, z), c)| (z.clone(), c.to_string())),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            bastion_instance_id: Value::Value("i-1".into()),
            bastion_public_ip: Value::Value("203.0.113.1".into()),
            drift: string_list(Vec::new()),
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
        plan_outputs(prior, &config, &mut planned, false);
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
    }
}
