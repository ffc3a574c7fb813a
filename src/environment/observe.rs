//! Filling the wire state from what AWS reports: after apply, on refresh and on import.

use std::collections::BTreeMap;

use tf_provider::value::Value;

use super::model::{self, first, string_list, string_map, EnvironmentState, IdSlot};
use crate::apply::components::{recorded_ids, recording_attributes, Record, RecordedIds};
use crate::apply::inventory::{Inventory, SUBNET_KEYS};
use crate::apply::posture::posture;
use crate::aws::ec2::route_tables_of;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::spec::{
    AppSpec, EndpointsSpec, GatewayService, IgnoredTags, InstanceProfile, LoadBalancerSpec,
};

mod failed_update;
mod import;

pub(super) use failed_update::settle_failed_update;
pub(super) use import::import_blocks;

/// Resolves plan-time unknowns of the inputs after an apply.
pub(super) fn fill_inputs(state: &mut EnvironmentState, bp: &Blueprint, ami_id: &str) {
    state.availability_zones = string_list(bp.zones.iter().cloned());
    if !matches!(state.az_count, Value::Value(_)) {
        state.az_count = Value::Value(bp.zones.len() as i64);
    }
    for (tier, slot) in [
        (Tier::Public, &mut state.public_subnet_cidrs),
        (Tier::Private, &mut state.private_subnet_cidrs),
    ] {
        let incomplete = match slot {
            Value::Value(entries) => entries.values().any(|v| !v.is_value()),
            _ => true,
        };
        if incomplete {
            *slot = string_map(
                bp.subnets
                    .iter()
                    .filter(|((t, _), _)| *t == tier)
                    .map(|((_, z), c)| (z.clone(), c.to_string())),
            );
        }
    }
    if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
        if !matches!(app.ami_id, Value::Value(_)) {
            app.ami_id = Value::Value(ami_id.to_string());
        }
    }
    let bastion_enabled = state.bastion_enabled();
    if let Some(bastion) = state.bastion.as_mut_option().and_then(|b| b.first_mut()) {
        if bastion_enabled && !matches!(bastion.ami_id, Value::Value(_)) {
            bastion.ami_id = Value::Value(ami_id.to_string());
        }
    }
}

pub(super) fn opt(value: Option<String>) -> Value<String> {
    value.filter(|v| !v.is_empty()).into()
}

/// The tags the last apply gave every object (`tags_all`), as default tags for
/// the spec a refresh compares AWS with: a change of the provider's
/// `default_tags` since then is a planned change of `tags_all`, not drift.
pub(super) fn applied_default_tags(
    state: &EnvironmentState,
    current: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    // states that never recorded a default tag (schema version 0) take today's
    let mut applied = current.clone();
    applied.extend(model::known_map(&state.tags_all).unwrap_or_default());
    applied
}

/// The component key of every object whose ID the state records (the
/// inverse of [`fill_outputs`]): discovery keys an object of the environment's
/// VPC by what it is, even when its component tag was changed out of band.
pub(super) fn component_ids(state: &EnvironmentState) -> BTreeMap<String, String> {
    let mut state = state.clone();
    let mut keys = BTreeMap::new();
    for attribute in recording_attributes() {
        match (attribute.record, state.id_slot(attribute.name)) {
            (Record::One { key }, Some(IdSlot::One(id))) => {
                if let Some(id) = id.as_ref_option() {
                    keys.insert(id.clone(), key.to_string());
                }
            }
            (Record::Map { prefix }, Some(IdSlot::Map(ids))) => {
                for (suffix, id) in model::known_map(ids).unwrap_or_default() {
                    keys.insert(id, format!("{prefix}{suffix}"));
                }
            }
            // the table and the state agree, as a test checks
            _ => {}
        }
    }
    // the NAT gateways' Elastic IPs are recorded by their addresses: an
    // address the state names is the environment's even while no gateway
    // holds it (one being replaced, or a create that failed in between)
    for (zone, ip) in model::known_map(&state.nat_public_ips).unwrap_or_default() {
        keys.insert(ip, Component::ElasticIp(zone).key());
    }
    keys
}

/// Copies what AWS reports into the computed attributes.
pub(super) fn fill_outputs(state: &mut EnvironmentState, inv: &Inventory) {
    let by_zone = |prefix: &str, items: &BTreeMap<String, String>| {
        string_map(
            items
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone()))),
        )
    };
    for (attribute, ids) in recorded_ids(inv) {
        match (state.id_slot(attribute), ids) {
            (Some(IdSlot::One(slot)), RecordedIds::One(id)) => *slot = opt(id),
            (Some(IdSlot::Map(slot)), RecordedIds::Map(ids)) => *slot = string_map(ids),
            // the table and the state agree, as a test checks
            _ => {}
        }
    }
    let ipv6_of = |found: &crate::aws::ec2::Found| {
        crate::aws::ec2::Ipv6Association::of(found).map(|a| a.block)
    };
    state.vpc_ipv6_cidr = opt(inv.vpc.as_ref().and_then(ipv6_of));
    let subnet_blocks: BTreeMap<String, String> = inv
        .objects_of(SUBNET_KEYS)
        .filter_map(|(k, s)| Some((k.clone(), ipv6_of(s)?)))
        .collect();
    // null, not empty, for an environment without IPv6
    let blocks_of = |prefix: &str| {
        Some(by_zone(prefix, &subnet_blocks))
            .filter(|map| map.as_ref_option().is_some_and(|m| !m.is_empty()))
            .unwrap_or(Value::Null)
    };
    state.public_subnet_ipv6_cidrs = blocks_of("subnet/public/");
    state.private_subnet_ipv6_cidrs = blocks_of("subnet/private/");
    let ips: BTreeMap<String, String> = inv
        .addresses
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                a.detail.get("public_ip").cloned().unwrap_or_default(),
            )
        })
        .collect();
    state.nat_public_ips = by_zone("eip/", &ips);
    state.alb_dns_name = opt(inv.load_balancer.as_ref().map(|l| l.dns_name.clone()));
    state.alb_zone_id = opt(inv.load_balancer.as_ref().map(|l| l.zone_id.clone()));
    let port = first(&state.app)
        .and_then(|a| a.port.as_ref_option().copied())
        .unwrap_or(80) as i32;
    state.target_group_arn = opt(inv
        .target_groups
        .iter()
        .find(|t| t.port == port)
        .or(inv.target_groups.first())
        .map(|t| t.arn.clone()));
    state.launch_template_version = inv
        .group
        .as_ref()
        .and_then(|g| g.launch_template_version.parse::<i64>().ok())
        .or_else(|| {
            inv.launch_template
                .as_ref()
                .and_then(|t| t.detail.get("default_version")?.parse().ok())
        })
        .into();
    state.bastion_public_ip = opt(inv
        .bastion
        .as_ref()
        .and_then(|b| b.detail.get("public_ip").cloned()));
    state.bastion_ipv6_address = opt(inv.bastion.as_ref().and_then(|b| {
        crate::aws::ec2::ipv6_addresses_of(b)
            .into_values()
            .flatten()
            .next()
    }));
    state.posture = string_map(posture(inv));
}

/// Replaces any value still unknown by null: Terraform refuses unknowns after apply.
pub(super) fn settle(state: &mut EnvironmentState) {
    macro_rules! null_if_unknown { ($($field:ident),*) => { $( if matches!(state.$field, Value::Unknown) { state.$field = Value::Null; } )* } }
    // what the table of components records IDs in, then every other computed attribute
    for attribute in recording_attributes() {
        match state.id_slot(attribute.name) {
            Some(IdSlot::One(id)) if id.is_unknown() => *id = Value::Null,
            Some(IdSlot::Map(ids)) => match ids {
                Value::Unknown => *ids = Value::Null,
                // a map planned with known keys keeps only the entries AWS gave
                Value::Value(entries) => entries.retain(|_, value| !value.is_unknown()),
                Value::Null => {}
            },
            _ => {}
        }
    }
    null_if_unknown!(
        nat_public_ips,
        alb_dns_name,
        alb_zone_id,
        target_group_arn,
        launch_template_version,
        bastion_public_ip,
        bastion_ipv6_address,
        drift,
        posture,
        availability_zones,
        public_subnet_cidrs,
        private_subnet_cidrs,
        tags_all,
        az_count,
        vpc_ipv6_cidr,
        public_subnet_ipv6_cidrs,
        private_subnet_ipv6_cidrs
    );
    // a map planned with known keys keeps only the entries AWS gave
    for map in [
        &mut state.nat_public_ips,
        &mut state.posture,
        &mut state.public_subnet_cidrs,
        &mut state.private_subnet_cidrs,
        &mut state.public_subnet_ipv6_cidrs,
        &mut state.private_subnet_ipv6_cidrs,
    ] {
        if let Value::Value(entries) = map {
            entries.retain(|_, value| !value.is_unknown());
        }
    }
    if matches!(state.dhcp_options_id, Value::Unknown) {
        state.dhcp_options_id = Value::Null;
    }
    if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
        if matches!(app.ami_id, Value::Unknown) {
            app.ami_id = Value::Null;
        }
    }
    if let Some(bastion) = state.bastion.as_mut_option().and_then(|b| b.first_mut()) {
        if matches!(bastion.ami_id, Value::Unknown) {
            bastion.ami_id = Value::Null;
        }
    }
}

/// Records the VPC's DHCP options set when the state names none yet: a create
/// that left it to AWS, an import, a state written before it was recorded.
pub(super) fn record_dhcp_options(state: &mut EnvironmentState, inv: &Inventory) {
    if !state.dhcp_options_id.is_value() {
        state.dhcp_options_id = opt(inv.dhcp_options().cloned());
    }
}

/// Sets inputs the state lacks to what AWS runs: AMI IDs (states upgraded from schema version 0 did
/// not record the resolved default image), the health check grace period,
/// `instance_connect_endpoint`, `ipv6`, `dhcp_options_id` (the set AWS gave a new VPC) and
/// `load_balancer.ingress_ipv6_cidrs`
/// (states written before they existed).
pub(super) fn fill_missing_inputs(state: &mut EnvironmentState, inv: &Inventory) {
    if state.instance_connect_endpoint.is_null() {
        state.instance_connect_endpoint = Value::Value(inv.object("eice").is_some());
    }
    record_dhcp_options(state, inv);
    if state.ipv6.is_null() {
        state.ipv6 = Value::Value(
            inv.vpc
                .as_ref()
                .is_some_and(|v| crate::aws::ec2::Ipv6Association::of(v).is_some()),
        );
    }
    let ipv6 = state.ipv6 == Value::Value(true);
    if let Some(lb) = state
        .load_balancer
        .as_mut_option()
        .and_then(|b| b.first_mut())
    {
        if lb.ingress_ipv6_cidrs.is_null() {
            lb.ingress_ipv6_cidrs = model::string_list(
                model::default_ingress_ipv6(ipv6)
                    .iter()
                    .map(ToString::to_string),
            );
        }
    }
    if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
        if app.ami_id.is_null() {
            app.ami_id = opt(inv.template_settings.as_ref().map(|t| t.ami_id.clone()));
        }
        if app.health_check_grace_period.is_null() {
            app.health_check_grace_period = inv
                .group
                .as_ref()
                .map(|g| i64::from(g.health_check_grace_period))
                .into();
        }
    }
    if let Some(bastion) = state.bastion.as_mut_option().and_then(|b| b.first_mut()) {
        if bastion.ami_id.is_null() {
            bastion.ami_id = opt(inv
                .bastion
                .as_ref()
                .and_then(|b| b.detail.get("image").cloned()));
        }
    }
}

/// Sets the load balancer settings AWS records (its attributes and the HTTPS
/// listener's policy) where `block` has none; those AWS does not show stay as
/// they are. A listener without TLS has no policy of its own, so the default
/// stands for it.
pub(super) fn observe_load_balancer_settings(
    block: &mut model::LoadBalancerBlock,
    inv: &Inventory,
) {
    use crate::plan::spec::attribute;
    let defaults = LoadBalancerSpec::default();
    if block.ssl_policy.is_null() {
        let https = inv.listeners.iter().find(|l| l.protocol == "HTTPS");
        block.ssl_policy = Value::Value(
            https
                .and_then(|l| l.ssl_policy.clone())
                .unwrap_or(defaults.ssl_policy),
        );
    }
    let Some(attributes) = &inv.load_balancer_attributes else {
        return;
    };
    let get = |key: &str| attributes.get(key).map(String::as_str).unwrap_or_default();
    let flag = |key: &str| get(key) == "true";
    if block.drop_invalid_header_fields.is_null() {
        block.drop_invalid_header_fields =
            Value::Value(flag(attribute::DROP_INVALID_HEADER_FIELDS));
    }
    if block.idle_timeout.is_null() {
        block.idle_timeout = get(attribute::IDLE_TIMEOUT).parse::<i64>().ok().into();
    }
    if block.deletion_protection.is_null() {
        block.deletion_protection = Value::Value(flag(attribute::DELETION_PROTECTION));
    }
    if block.access_logs.is_null() && flag(attribute::ACCESS_LOGS) {
        let prefix = Some(get(attribute::ACCESS_LOGS_PREFIX))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        block.access_logs = Value::Value(vec![model::AccessLogsBlock {
            bucket: Value::Value(get(attribute::ACCESS_LOGS_BUCKET).to_string()),
            prefix: prefix.into(),
        }]);
    }
}

/// Puts what AWS runs into the inputs that state it directly, so a plan shows
/// drift on the attribute (`max_size = 5 -> 3`) as well as in `drift`, and
/// apply sets the configured value again. Only settings that change in place
/// and that AWS reports as one value: a list AWS orders its own way would
/// show a difference that is none, and a setting whose repair replaces an
/// object is said by the IDs the plan leaves unknown.
pub(super) fn show_drift_on_inputs(state: &mut EnvironmentState, inv: &Inventory) {
    use crate::plan::spec::attribute;
    if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
        if let Some(group) = &inv.group {
            app.min_size = Value::Value(i64::from(group.min_size));
            app.max_size = Value::Value(i64::from(group.max_size));
            app.health_check_grace_period =
                Value::Value(i64::from(group.health_check_grace_period));
        }
        if let Some(policy) = &inv.cpu_policy {
            app.cpu_target = Value::Value(policy.target);
        }
        let port = app.port.as_ref_option().copied();
        if let Some(target_group) = inv
            .target_groups
            .iter()
            .find(|tg| Some(i64::from(tg.port)) == port)
        {
            app.health_check_path = Value::Value(target_group.health_check.path.clone());
        }
    }
    let attributes = inv.load_balancer_attributes.as_ref();
    if let (Some(lb), Some(attributes)) = (
        state
            .load_balancer
            .as_mut_option()
            .and_then(|b| b.first_mut()),
        attributes,
    ) {
        let get = |key: &str| attributes.get(key).map(String::as_str);
        if let Some(flag) = get(attribute::DROP_INVALID_HEADER_FIELDS) {
            lb.drop_invalid_header_fields = Value::Value(flag == "true");
        }
        if let Some(flag) = get(attribute::DELETION_PROTECTION) {
            lb.deletion_protection = Value::Value(flag == "true");
        }
        if let Some(seconds) = get(attribute::IDLE_TIMEOUT).and_then(|t| t.parse::<i64>().ok()) {
            lb.idle_timeout = Value::Value(seconds);
        }
    }
}

/// The other half of [`show_drift_on_inputs`]: a setting left out of the
/// configuration is planned at its default, not at the value AWS reported
/// (which Terraform proposes for an optional attribute the configuration
/// leaves out), so that apply restores it.
pub(super) fn unset_inputs_at_defaults(planned: &mut EnvironmentState, config: &EnvironmentState) {
    let mut defaults = config.clone();
    defaults.apply_defaults();
    // the blocks `$block` of `$planned`, `$config` and `$defaults`: each field
    // the configuration leaves out takes the default
    macro_rules! defaulted {
        ($planned:expr, $config:expr, $defaults:expr, $block:ident: $($field:ident),+) => {
            if let (Some(planned), Some(configured), Some(default)) = (
                $planned.$block.as_mut_option().and_then(|b| b.first_mut()),
                first(&$config.$block),
                first(&$defaults.$block),
            ) {
                $( if configured.$field.is_null() {
                    planned.$field = default.$field.clone();
                } )+
            }
        };
    }
    // and an input removed from the configuration goes back to its default, as
    // documented, instead of keeping the value it had (Terraform proposes the
    // prior value of an optional computed attribute the configuration leaves out)
    defaulted!(planned, config, defaults, app: instance_type, port, min_size, max_size,
        health_check_grace_period, cpu_target, health_check_path, wait_for_capacity);
    defaulted!(planned, config, defaults, load_balancer: ingress_cidrs, ingress_ipv6_cidrs, ssl_policy,
        drop_invalid_header_fields, deletion_protection, idle_timeout);
    defaulted!(planned, config, defaults, bastion: enabled, instance_type);
    defaulted!(planned, config, defaults, vpc_endpoints: s3, dynamodb, public_route_table);
    defaulted!(planned, config, defaults, flow_logs: traffic_type, max_aggregation_interval);
    // and the blocks within the app block
    if let (Some(app), Some(configured), Some(default)) = (
        planned.app.as_mut_option().and_then(|b| b.first_mut()),
        first(&config.app),
        first(&defaults.app),
    ) {
        defaulted!(app, configured, default, instance_refresh: min_healthy_percentage,
            max_healthy_percentage);
        defaulted!(app, configured, default, mixed_instances: on_demand_base_capacity,
            on_demand_percentage_above_base_capacity, spot_allocation_strategy);
    }
    if config.nat_gateways.is_null() {
        planned.nat_gateways = defaults.nat_gateways.clone();
    }
    if config.ipv6.is_null() {
        planned.ipv6 = defaults.ipv6;
    }
}

/// The user's own tags as the VPC carries them (the provider's, the default
/// tags and those other tools manage left out).
pub(super) fn user_tags(
    inv: &Inventory,
    default_tags: &BTreeMap<String, String>,
    ignored: &IgnoredTags,
) -> model::StrMap {
    let tags: BTreeMap<String, String> = inv
        .vpc
        .iter()
        .flat_map(|vpc| vpc.tags.iter())
        .filter(|(k, _)| {
            !k.starts_with("prodvpc:")
                && k.as_str() != "Name"
                && !default_tags.contains_key(*k)
                && !ignored.ignores(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if tags.is_empty() {
        Value::Null
    } else {
        string_map(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::Found;

    #[test]
    fn every_attribute_the_table_records_ids_in_is_computed_and_of_its_shape() {
        use crate::apply::components::RecordingAttribute;
        use tf_provider::schema::AttributeConstraint;
        let schema = crate::environment::schema::environment_schema();
        let mut state = EnvironmentState::default();
        let mut recording = std::collections::BTreeSet::new();
        for RecordingAttribute {
            name: attribute,
            record,
            ..
        } in recording_attributes()
        {
            let declared = schema.block.attributes.get(attribute);
            assert!(
                declared.is_some_and(|a| matches!(a.constraint, AttributeConstraint::Computed)),
                "{attribute} is not a computed attribute of the schema"
            );
            assert!(
                matches!(
                    (record, state.id_slot(attribute)),
                    (Record::One { .. }, Some(IdSlot::One(_)))
                        | (Record::Map { .. }, Some(IdSlot::Map(_)))
                ),
                "{attribute}: the state has no attribute of that name and shape"
            );
            assert!(recording.insert(attribute), "{attribute} recorded twice");
        }
        for name in schema.block.attributes.keys() {
            if state.id_slot(name).is_some() {
                assert!(
                    recording.contains(name.as_str()),
                    "{name} records IDs of no kind in the table"
                );
            }
        }
    }

    fn with_bastion_profile(profile: &str) -> EnvironmentState {
        EnvironmentState {
            bastion: Value::Value(vec![model::BastionBlock {
                enabled: Value::Value(true),
                iam_instance_profile: Value::Value(profile.into()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn app(max_size: Value<i64>, cpu_target: Value<f64>) -> EnvironmentState {
        EnvironmentState {
            app: Value::Value(vec![model::AppBlock {
                port: Value::Value(8080),
                min_size: Value::Value(1),
                max_size,
                cpu_target,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn an_import_without_a_group_or_template_records_no_sizes_or_settings() {
        let mut state = EnvironmentState::default();
        import_blocks(&mut state, &Inventory::default());
        let app = first(&state.app).unwrap();
        for size in [app.min_size, app.max_size, app.desired_capacity] {
            assert!(size.is_null(), "{app:?}");
        }
        assert!(
            app.ami_id.is_null() && app.instance_type.is_null(),
            "{app:?}"
        );
        // the plan then fills the defaults, never zeros
        state.apply_defaults();
        let app = first(&state.app).unwrap();
        assert_eq!(
            app.desired_capacity,
            Value::Value(i64::from(AppSpec::default().min_size))
        );
    }

    #[test]
    fn an_input_removed_from_the_configuration_is_planned_at_its_default() {
        let prior = EnvironmentState {
            nat_gateways: Value::Value("single".into()),
            app: Value::Value(vec![model::AppBlock {
                port: Value::Value(9090),
                instance_type: Value::Value("t3.large".into()),
                ..Default::default()
            }]),
            bastion: Value::Value(vec![model::BastionBlock {
                enabled: Value::Value(false),
                instance_type: Value::Value("t3.small".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        // the blocks stay, their settings are left out
        let config = EnvironmentState {
            app: Value::Value(vec![model::AppBlock::default()]),
            bastion: Value::Value(vec![model::BastionBlock::default()]),
            ..Default::default()
        };
        let mut planned = prior.clone();
        unset_inputs_at_defaults(&mut planned, &config);
        let defaults = AppSpec::default();
        assert_eq!(planned.nat_gateways, Value::Value("one_per_az".to_string()));
        let app = first(&planned.app).unwrap();
        assert_eq!(app.port, Value::Value(i64::from(defaults.port)));
        assert_eq!(app.instance_type, Value::Value(defaults.instance_type));
        let bastion = first(&planned.bastion).unwrap();
        assert_eq!(
            bastion.enabled,
            Value::Value(true),
            "the bastion runs again"
        );
        assert_eq!(bastion.instance_type, Value::Value("t3.nano".to_string()));
    }

    #[test]
    fn a_setting_removed_from_a_block_within_the_app_block_is_planned_at_its_default() {
        let mix = |base: Value<i64>, percentage: Value<i64>| model::MixedInstancesBlock {
            instance_types: string_list(["t3.micro".to_string()]),
            on_demand_base_capacity: base,
            on_demand_percentage_above_base_capacity: percentage,
            spot_allocation_strategy: Value::Null,
        };
        let refresh = |min: Value<i64>| model::InstanceRefreshBlock {
            min_healthy_percentage: min,
            ..Default::default()
        };
        let with = |mix: model::MixedInstancesBlock, refresh: model::InstanceRefreshBlock| {
            EnvironmentState {
                app: Value::Value(vec![model::AppBlock {
                    mixed_instances: Value::Value(vec![mix]),
                    instance_refresh: Value::Value(vec![refresh]),
                    ..Default::default()
                }]),
                ..Default::default()
            }
        };
        let prior = with(
            mix(Value::Value(2), Value::Value(25)),
            refresh(Value::Value(50)),
        );
        // the percentage stays configured; the base and the minimum are left out
        let config = with(mix(Value::Null, Value::Value(25)), refresh(Value::Null));
        let mut planned = prior.clone();
        unset_inputs_at_defaults(&mut planned, &config);
        let app = first(&planned.app).unwrap();
        let planned_mix = first(&app.mixed_instances).unwrap();
        assert_eq!(planned_mix.on_demand_base_capacity, Value::Value(0));
        assert_eq!(
            planned_mix.on_demand_percentage_above_base_capacity,
            Value::Value(25)
        );
        assert_eq!(
            planned_mix.spot_allocation_strategy,
            Value::Value("price-capacity-optimized".to_string())
        );
        assert_eq!(
            first(&app.instance_refresh).unwrap().min_healthy_percentage,
            Value::Value(90)
        );
    }

    #[test]
    fn drift_shows_on_the_inputs_and_unset_ones_are_planned_at_their_defaults() {
        let inv = Inventory {
            group: Some(crate::aws::autoscaling::Group {
                min_size: 1,
                max_size: 7,
                health_check_grace_period: 0,
                ..Default::default()
            }),
            cpu_policy: Some(crate::aws::autoscaling::CpuPolicy {
                target: 80.0,
                metric: crate::aws::autoscaling::CpuPolicy::METRIC.into(),
                scale_in_disabled: false,
                enabled: true,
            }),
            target_groups: vec![crate::aws::elbv2::TargetGroup {
                port: 8080,
                health_check: crate::aws::elbv2::HealthCheck {
                    path: "/tampered".into(),
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        };
        // refresh: what AWS runs, on the attributes
        let mut refreshed = app(Value::Value(3), Value::Value(50.0));
        show_drift_on_inputs(&mut refreshed, &inv);
        let seen = first(&refreshed.app).unwrap();
        assert_eq!(seen.max_size, Value::Value(7));
        assert_eq!(seen.cpu_target, Value::Value(80.0));
        assert_eq!(seen.health_check_grace_period, Value::Value(0));
        assert_eq!(
            seen.health_check_path,
            Value::Value("/tampered".to_string())
        );
        // plan: Terraform proposes AWS's value for what the configuration leaves
        // out; the default is planned instead, and a configured value stays
        let config = app(Value::Value(3), Value::Null);
        let mut planned = refreshed.clone();
        first_mut_app(&mut planned).max_size = Value::Value(3);
        unset_inputs_at_defaults(&mut planned, &config);
        let planned = first(&planned.app).unwrap();
        assert_eq!(planned.max_size, Value::Value(3));
        assert_eq!(planned.cpu_target, Value::Value(50.0));
        assert_eq!(planned.health_check_grace_period, Value::Value(300));
        assert_eq!(planned.health_check_path, Value::Value("/".to_string()));
    }

    fn first_mut_app(state: &mut EnvironmentState) -> &mut model::AppBlock {
        state
            .app
            .as_mut_option()
            .and_then(|a| a.first_mut())
            .unwrap()
    }

    #[test]
    fn a_failed_update_keeps_a_bastion_profile_only_where_it_reached_aws() {
        let arn = "arn:aws:iam::123456789012:instance-profile/ops-b";
        let inv = Inventory {
            bastion: Some(Found {
                id: "i-1".into(),
                detail: [("instance_profile", arn.to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let prior = with_bastion_profile("ops-a");
        for (planned, kept) in [(arn, arn), ("ops-b", "ops-b"), ("ops-c", "ops-a")] {
            let mut state = with_bastion_profile(planned);
            settle_failed_update(
                &mut state,
                &prior,
                &inv,
                &BTreeMap::new(),
                &Default::default(),
            );
            assert_eq!(
                first(&state.bastion).unwrap().iam_instance_profile,
                Value::Value(kept.to_string()),
                "{planned}"
            );
        }
    }

    #[test]
    fn the_state_names_each_object_s_component_as_discovery_keyed_it() {
        let found = |id: &str| Found {
            id: id.into(),
            ..Default::default()
        };
        let keyed = |pairs: &[(&str, &str)]| -> BTreeMap<String, Found> {
            pairs
                .iter()
                .map(|(k, id)| (k.to_string(), found(id)))
                .collect()
        };
        let inv = Inventory {
            vpc: Some(found("vpc-1")),
            listed: keyed(&[
                ("nat/us-east-1a", "nat-1"),
                ("subnet/public/us-east-1a", "subnet-1"),
                ("subnet/private/us-east-1a", "subnet-2"),
                ("vpce/s3", "vpce-1"),
                ("igw", "igw-1"),
            ]),
            security_groups: [(
                "sg/app".to_string(),
                crate::aws::ec2::SecurityGroup {
                    id: "sg-1".into(),
                    ..Default::default()
                },
            )]
            .into(),
            launch_template: Some(found("lt-1")),
            bastion: Some(found("i-1")),
            flow_log: Some(found("fl-1")),
            ..Default::default()
        };
        let mut state = EnvironmentState::default();
        fill_outputs(&mut state, &inv);
        let expected: BTreeMap<String, String> = [
            ("vpc-1", "vpc"),
            ("igw-1", "igw"),
            ("subnet-1", "subnet/public/us-east-1a"),
            ("subnet-2", "subnet/private/us-east-1a"),
            ("nat-1", "nat/us-east-1a"),
            ("vpce-1", "vpce/s3"),
            ("sg-1", "sg/app"),
            ("lt-1", "lt"),
            ("i-1", "bastion"),
            ("fl-1", "flowlog"),
        ]
        .iter()
        .map(|(id, key)| (id.to_string(), key.to_string()))
        .collect();
        assert_eq!(component_ids(&state), expected);
    }
}
