//! `prodvpc_environment`: thin glue between tf-provider and the planner/executor.

pub mod model;
pub mod schema;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};
use tokio::time::Instant;

use crate::apply::executor;
use crate::apply::inventory::Inventory;
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::blueprint::{blueprint, Blueprint};
use crate::plan::cidr::{carve, Cidr, Tier};
use crate::plan::spec::{AppSpec, EnvironmentSpec, Names};
use crate::provider::SharedClients;
use model::{first, known_map, known_strings, string_list, string_map, to_spec, EnvironmentState};

/// The `prodvpc_environment` resource.
pub struct EnvironmentResource {
    clients: SharedClients,
}

impl EnvironmentResource {
    pub fn new(clients: SharedClients) -> Self {
        EnvironmentResource { clients }
    }

    fn clients(&self, diags: &mut Diagnostics) -> Option<Arc<AwsClients>> {
        let clients = self.clients.get().cloned();
        if clients.is_none() {
            diags.root_error(
                "Provider not configured",
                "The prodvpc provider was used before Terraform configured it. Check the `provider \"prodvpc\"` block.",
            );
        }
        clients
    }

    fn default_tags(&self) -> BTreeMap<String, String> {
        self.clients
            .get()
            .map(|c| c.default_tags.clone())
            .unwrap_or_default()
    }
}

fn report_aws(diags: &mut Diagnostics, summary: &str, error: &AwsError) {
    let advice = match error {
        AwsError::Timeout { .. } => "AWS did not finish in time. Raise the matching `timeouts` value or run the command again: it resumes where it stopped.",
        AwsError::Unsatisfiable(_) => "Change the configuration as the message says, then apply again.",
        _ => "Nothing was lost: every object created so far is tagged and tracked. Fix the cause and run the command again; it resumes where it stopped.",
    };
    diags.root_error(summary.to_string(), format!("{error}.\n\n{advice}"));
}

fn to_spec_or_report(
    state: &EnvironmentState,
    default_tags: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<EnvironmentSpec> {
    match to_spec(state, default_tags) {
        Ok(spec) => Some(spec),
        Err(error) => {
            diags.error(
                "Invalid environment configuration",
                error.to_string(),
                AttributePath::new(
                    error
                        .attribute
                        .split('.')
                        .next()
                        .unwrap_or("name")
                        .to_string(),
                ),
            );
            None
        }
    }
}

/// Sets every computed-only attribute to unknown (values come from apply).
fn unknown_outputs(state: &mut EnvironmentState) {
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

fn set_tags_all(state: &mut EnvironmentState, default_tags: &BTreeMap<String, String>) {
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
fn plan_subnets(state: &mut EnvironmentState) {
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

/// Resolves plan-time unknowns of the inputs after an apply.
fn fill_inputs(state: &mut EnvironmentState, bp: &Blueprint, ami_id: &str) {
    state.availability_zones = string_list(bp.zones.iter().cloned());
    if !matches!(state.az_count, Value::Value(_)) {
        state.az_count = Value::Value(bp.zones.len() as i64);
    }
    for (tier, slot) in [
        (Tier::Public, &mut state.public_subnet_cidrs),
        (Tier::Private, &mut state.private_subnet_cidrs),
    ] {
        if !matches!(slot, Value::Value(_)) {
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

fn opt(value: Option<String>) -> Value<String> {
    value.filter(|v| !v.is_empty()).into()
}

/// Copies what AWS reports into the computed attributes.
fn fill_outputs(state: &mut EnvironmentState, inv: &Inventory) {
    let by_zone = |prefix: &str, items: &BTreeMap<String, String>| {
        string_map(
            items
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone()))),
        )
    };
    let ids = |map: &BTreeMap<String, crate::aws::ec2::Found>| -> BTreeMap<String, String> {
        map.iter().map(|(k, f)| (k.clone(), f.id.clone())).collect()
    };
    state.vpc_id = opt(inv.vpc.as_ref().map(|v| v.id.clone()));
    state.public_subnet_ids = by_zone("subnet/public/", &ids(&inv.subnets));
    state.private_subnet_ids = by_zone("subnet/private/", &ids(&inv.subnets));
    state.internet_gateway_id = opt(inv.internet_gateway.as_ref().map(|g| g.id.clone()));
    state.nat_gateway_ids = by_zone("nat/", &ids(&inv.nat_gateways));
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
    let groups: BTreeMap<String, String> = inv
        .security_groups
        .iter()
        .map(|(k, g)| (k.clone(), g.id.clone()))
        .collect();
    state.security_group_ids = by_zone("sg/", &groups);
    state.alb_arn = opt(inv.load_balancer.as_ref().map(|l| l.arn.clone()));
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
    state.listener_arns = string_map(inv.listeners.iter().map(|l| {
        (
            if l.port == 443 { "https" } else { "http" }.to_string(),
            l.arn.clone(),
        )
    }));
    state.launch_template_id = opt(inv.launch_template.as_ref().map(|t| t.id.clone()));
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
    state.autoscaling_group_name = opt(inv.group.as_ref().map(|g| g.name.clone()));
    state.bastion_instance_id = opt(inv.bastion.as_ref().map(|b| b.id.clone()));
    state.bastion_public_ip = opt(inv
        .bastion
        .as_ref()
        .and_then(|b| b.detail.get("public_ip").cloned()));
}

/// Replaces any value still unknown by null: Terraform refuses unknowns after apply.
fn settle(state: &mut EnvironmentState) {
    macro_rules! null_if_unknown { ($($field:ident),*) => { $( if matches!(state.$field, Value::Unknown) { state.$field = Value::Null; } )* } }
    null_if_unknown!(
        vpc_id,
        public_subnet_ids,
        private_subnet_ids,
        internet_gateway_id,
        nat_gateway_ids,
        nat_public_ips,
        security_group_ids,
        alb_arn,
        alb_dns_name,
        alb_zone_id,
        target_group_arn,
        listener_arns,
        launch_template_id,
        launch_template_version,
        autoscaling_group_name,
        bastion_instance_id,
        bastion_public_ip,
        drift,
        availability_zones,
        public_subnet_cidrs,
        private_subnet_cidrs,
        tags_all,
        az_count
    );
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

/// Ingress CIDRs of a security group on one port, as the configuration lists them.
fn ingress_cidrs(inv: &Inventory, role: &str, port: i32) -> Vec<String> {
    inv.security_groups
        .get(&format!("sg/{role}"))
        .map(|group| {
            group
                .ingress
                .iter()
                .filter(|rule| rule.from_port == port)
                .filter_map(|rule| match &rule.source {
                    crate::aws::ec2::RuleSource::Cidr(cidr) => Some(cidr.clone()),
                    crate::aws::ec2::RuleSource::Group(_) => None,
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .unwrap_or_default()
}

/// Rebuilds the `app`, `load_balancer` and `bastion` blocks from what AWS runs.
/// All three are always set: blocks cannot be computed, so a configuration that
/// omits one shows its removal once after import (applying it changes nothing).
fn import_blocks(state: &mut EnvironmentState, inv: &Inventory) {
    let template = inv.template_settings.clone().unwrap_or_default();
    let group = inv.group.clone().unwrap_or_default();
    let target_group = inv.target_groups.first();
    state.app = Value::Value(vec![model::AppBlock {
        ami_id: opt(Some(template.ami_id.clone())),
        instance_type: opt(Some(template.instance_type.clone())),
        port: target_group.map(|tg| i64::from(tg.port)).into(),
        user_data: template.user_data.clone().into(),
        min_size: Value::Value(i64::from(group.min_size)),
        max_size: Value::Value(i64::from(group.max_size)),
        desired_capacity: Value::Value(i64::from(group.desired_capacity)),
        cpu_target: inv.cpu_target.into(),
        health_check_path: opt(target_group.map(|tg| tg.health_check_path.clone())),
    }]);
    let certificate = inv.listeners.iter().find_map(|l| l.certificate.clone());
    state.load_balancer = Value::Value(vec![model::LoadBalancerBlock {
        ingress_cidrs: string_list(ingress_cidrs(inv, "alb", 80)),
        certificate_arn: certificate.into(),
    }]);
    state.bastion = Value::Value(vec![match &inv.bastion {
        Some(instance) => {
            let detail = |key: &str| opt(instance.detail.get(key).cloned());
            model::BastionBlock {
                enabled: Value::Value(true),
                instance_type: detail("instance_type"),
                ssh_ingress_cidrs: string_list(ingress_cidrs(inv, "bastion", 22)),
                key_name: detail("key_name"),
                ami_id: detail("image"),
            }
        }
        None => model::BastionBlock {
            enabled: Value::Value(false),
            ..Default::default()
        },
    }]);
}

fn desired_capacity(state: &EnvironmentState) -> Option<i64> {
    first(&state.app).and_then(|app| app.desired_capacity.as_ref_option().copied())
}

fn zones_of(state: &EnvironmentState) -> Option<Vec<String>> {
    matches!(state.availability_zones, Value::Value(_))
        .then(|| known_strings(&state.availability_zones))
        .flatten()
}

/// The inputs compared to decide whether an update has work to do (with
/// `tags_all`, so a change of the provider's default tags counts).
fn inputs_of(state: &EnvironmentState) -> serde_json::Value {
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
fn plan_outputs(
    prior: &EnvironmentState,
    config: &EnvironmentState,
    planned: &mut EnvironmentState,
    drifted: bool,
) {
    if drifted {
        // a repair may recreate anything that went missing
        let stable = (
            planned.vpc_id.clone(),
            planned.internet_gateway_id.clone(),
            planned.alb_arn.clone(),
            planned.alb_dns_name.clone(),
            planned.alb_zone_id.clone(),
            planned.autoscaling_group_name.clone(),
        );
        unknown_outputs(planned);
        (
            planned.vpc_id,
            planned.internet_gateway_id,
            planned.alb_arn,
            planned.alb_dns_name,
            planned.alb_zone_id,
            planned.autoscaling_group_name,
        ) = stable;
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

impl EnvironmentResource {
    /// Runs reconcile and returns the resulting state; on failure the state of
    /// what exists is returned too, with the error.
    async fn converge(
        &self,
        diags: &mut Diagnostics,
        planned: EnvironmentState,
        options: executor::Options,
        timeout_of: fn(&EnvironmentSpec) -> Duration,
        summary: &str,
    ) -> Option<EnvironmentState> {
        let clients = self.clients(diags)?;
        let spec = to_spec_or_report(&planned, &clients.default_tags, diags)?;
        let deadline = Instant::now() + timeout_of(&spec);
        let outcome = executor::reconcile(&clients, &spec, options, deadline).await;
        let mut state = planned;
        state.id = Value::Value(spec.name.clone());
        if let Err(error) = &outcome {
            report_aws(diags, summary, error);
        }
        match Inventory::discover(&clients, &spec.names()).await {
            Ok(inv) => {
                let bp = match &outcome {
                    Ok(done) => {
                        fill_inputs(&mut state, &done.blueprint, &done.ami_id);
                        Some(done.blueprint.clone())
                    }
                    Err(_) => None,
                };
                fill_outputs(&mut state, &inv);
                // The plan promised no drift after apply; what AWS still reports
                // differently (eventual consistency) shows up at the next refresh.
                if let Some(bp) = bp {
                    let left = executor::drift(&spec, &bp, &inv);
                    if !left.is_empty() {
                        tracing::warn!(environment = %spec.name, ?left, "differences remain right after apply");
                    }
                }
                state.drift = string_list(Vec::new());
            }
            Err(error) => report_aws(diags, "Could not read the environment back", &error),
        }
        settle(&mut state);
        Some(state)
    }
}

#[async_trait]
impl Resource for EnvironmentResource {
    type State<'a> = EnvironmentState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema::environment_schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let problems = validate::check(&config);
        validate::report(&problems, diags);
        problems.is_empty().then_some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let clients = self.clients(diags)?;
        let spec = to_spec_or_report(&state, &clients.default_tags, diags)?;
        let inv = match Inventory::discover(&clients, &spec.names()).await {
            Ok(inv) => inv,
            Err(error) => {
                report_aws(diags, "Could not read the environment", &error);
                return None;
            }
        };
        if inv.vpc.is_none() {
            // the whole environment is gone: Terraform plans to create it again
            tracing::warn!(environment = %spec.name, "VPC not found; removing the environment from state");
            return None;
        }
        let mut refreshed = state;
        fill_outputs(&mut refreshed, &inv);
        let zones = zones_of(&refreshed).unwrap_or_else(|| {
            inv.subnets
                .values()
                .filter_map(|s| s.detail.get("zone").cloned())
                .collect()
        });
        let drift = match blueprint(&spec, &zones) {
            Ok(bp) => executor::drift(&spec, &bp, &inv),
            Err(error) => vec![error.to_string()],
        };
        refreshed.drift = string_list(drift);
        Some((refreshed, private_state))
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = proposed;
        planned.apply_defaults();
        planned.id = planned.name.clone();
        unknown_outputs(&mut planned);
        planned.drift = string_list(Vec::new());
        set_tags_all(&mut planned, &self.default_tags());
        if planned.availability_zones.is_null() {
            planned.availability_zones = Value::Unknown;
        }
        plan_subnets(&mut planned);
        if let Some(app) = planned.app.as_mut_option().and_then(|a| a.first_mut()) {
            if app.ami_id.is_null() {
                app.ami_id = Value::Unknown;
            }
        }
        let bastion_enabled = planned.bastion_enabled();
        if let Some(bastion) = planned.bastion.as_mut_option().and_then(|b| b.first_mut()) {
            if bastion.ami_id.is_null() && bastion_enabled {
                bastion.ami_id = Value::Unknown;
            }
        }
        Some((planned, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        config: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let mut planned = proposed;
        planned.apply_defaults();
        set_tags_all(&mut planned, &self.default_tags());
        let mut replace = Vec::new();
        if planned.name != prior.name {
            replace.push(AttributePath::new("name"));
        }
        if planned.vpc_cidr != prior.vpc_cidr {
            replace.push(AttributePath::new("vpc_cidr"));
        }
        if config.availability_zones.is_null() && planned.az_count != prior.az_count {
            // the zones follow az_count: chosen at apply time
            planned.availability_zones = Value::Unknown;
        }
        let drifted = known_strings(&prior.drift).is_some_and(|d| !d.is_empty());
        if inputs_of(&planned) != inputs_of(&prior) || drifted {
            planned.drift = string_list(Vec::new());
            plan_outputs(&prior, &config, &mut planned, drifted);
        }
        Some((planned, private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = self
            .converge(
                diags,
                planned,
                executor::Options::default(),
                |s| s.timeouts.create,
                "Creating the environment failed",
            )
            .await?;
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let options = executor::Options {
            set_desired_capacity: desired_capacity(&prior) != desired_capacity(&planned),
        };
        let state = self
            .converge(
                diags,
                planned,
                options,
                |s| s.timeouts.update,
                "Updating the environment failed",
            )
            .await?;
        Some((state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let clients = self.clients(diags)?;
        let spec = to_spec_or_report(&prior, &clients.default_tags, diags)?;
        let deadline = Instant::now() + spec.timeouts.delete;
        match executor::destroy(&clients, &spec.names(), deadline).await {
            Ok(()) => Some(()),
            Err(error) => {
                report_aws(diags, "Deleting the environment failed", &error);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let clients = self.clients(diags)?;
        let mut state = EnvironmentState {
            name: Value::Value(id.clone()),
            ..Default::default()
        };
        let problems = validate::check(&state);
        if let Some(problem) = problems.iter().find(|p| p.path_text() == "name") {
            diags.root_error(format!("Cannot import `{id}`"), problem.detail.clone());
            return None;
        }
        let inv =
            match Inventory::discover(&clients, &Names::new(&id, AppSpec::default().port)).await {
                Ok(inv) => inv,
                Err(error) => {
                    report_aws(diags, "Could not read the environment", &error);
                    return None;
                }
            };
        let Some(vpc) = &inv.vpc else {
            diags.root_error(format!("No environment named `{id}`"), format!("No VPC tagged `prodvpc:environment = {id}` exists in this account and region. Check the name and the provider's region."));
            return None;
        };
        state.id = Value::Value(id.clone());
        state.vpc_cidr = opt(vpc.detail.get("cidr").cloned());
        let zones: Vec<String> = inv
            .subnets
            .values()
            .filter_map(|s| s.detail.get("zone").cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        state.az_count = Value::Value(zones.len() as i64);
        state.availability_zones = string_list(zones.clone());
        for (tier, slot) in [
            (Tier::Public, &mut state.public_subnet_cidrs),
            (Tier::Private, &mut state.private_subnet_cidrs),
        ] {
            let prefix = format!("subnet/{}/", tier.as_str());
            *slot = string_map(inv.subnets.iter().filter_map(|(k, s)| {
                Some((
                    k.strip_prefix(&prefix)?.to_string(),
                    s.detail.get("cidr")?.clone(),
                ))
            }));
        }
        let nat = match inv.nat_gateways.len() {
            0 => "none",
            1 if zones.len() > 1 => "single",
            _ => "one_per_az",
        };
        state.nat_gateways = Value::Value(nat.to_string());
        let user_tags: BTreeMap<String, String> = vpc
            .tags
            .iter()
            .filter(|(k, _)| {
                !k.starts_with("prodvpc:")
                    && k.as_str() != "Name"
                    && !clients.default_tags.contains_key(*k)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        state.tags = if user_tags.is_empty() {
            Value::Null
        } else {
            string_map(user_tags)
        };
        set_tags_all(&mut state, &clients.default_tags);
        import_blocks(&mut state, &inv);
        state.apply_defaults();
        fill_outputs(&mut state, &inv);
        state.drift = string_list(Vec::new());
        Some((state, ValueEmpty::default()))
    }
}
