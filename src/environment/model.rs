//! Wire state (tf-provider `Value`s, which may be null or unknown) and its
//! conversion to the plain [`EnvironmentSpec`] the planner and executor use.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tf_provider::value::Value;

use crate::plan::cidr::{Cidr, Tier};
use crate::plan::ipv6::Ipv6Cidr;
use crate::plan::spec::{
    flow_log_service, parse_duration, AccessLogs, AppSpec, BastionSpec, EndpointsSpec,
    EnvironmentSpec, FlowLogDestination, FlowLogService, FlowLogSpec, GatewayService, InstanceMix,
    InstanceProfile, LoadBalancerSpec, NatStrategy, RefreshPreferences, Timeouts, TrafficType,
    ZoneChoice, DEFAULT_AZ_COUNT, DEFAULT_FLOW_LOG_INTERVAL, DEFAULT_VPC_CIDR,
};

pub type Str = Value<String>;
pub type Num = Value<i64>;
pub type StrList = Value<Vec<Value<String>>>;
pub type StrMap = Value<BTreeMap<String, Value<String>>>;
/// A block of nesting mode list with at most one element.
pub type OneBlock<T> = Value<Vec<T>>;

/// `app { ... }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct AppBlock {
    pub ami_id: Str,
    pub instance_type: Str,
    pub port: Num,
    pub user_data: Str,
    /// write-only: Terraform sends it in the configuration of a plan or apply
    /// and it never appears in a state the provider returns
    #[serde(default)]
    pub user_data_wo: Str,
    #[serde(default)]
    pub user_data_wo_version: Num,
    pub min_size: Num,
    pub max_size: Num,
    pub desired_capacity: Num,
    pub cpu_target: Value<f64>,
    pub health_check_path: Str,
    pub health_check_grace_period: Num,
    pub instance_refresh: OneBlock<InstanceRefreshBlock>,
    pub wait_for_capacity: Value<bool>,
    pub iam_instance_profile: Str,
    #[serde(default)]
    pub mixed_instances: OneBlock<MixedInstancesBlock>,
}

/// `app { mixed_instances { ... } }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct MixedInstancesBlock {
    pub instance_types: StrList,
    pub on_demand_base_capacity: Num,
    pub on_demand_percentage_above_base_capacity: Num,
    pub spot_allocation_strategy: Str,
}

/// `app { instance_refresh { ... } }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct InstanceRefreshBlock {
    pub min_healthy_percentage: Num,
    pub max_healthy_percentage: Num,
    pub instance_warmup: Num,
    #[serde(default)]
    pub wait_for_completion: Value<bool>,
}

/// `load_balancer { ... }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct LoadBalancerBlock {
    pub ingress_cidrs: StrList,
    #[serde(default)]
    pub ingress_ipv6_cidrs: StrList,
    pub certificate_arn: Str,
    pub ssl_policy: Str,
    pub drop_invalid_header_fields: Value<bool>,
    pub idle_timeout: Num,
    pub deletion_protection: Value<bool>,
    pub access_logs: OneBlock<AccessLogsBlock>,
}

/// `load_balancer { access_logs { ... } }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct AccessLogsBlock {
    pub bucket: Str,
    pub prefix: Str,
}

/// `bastion { ... }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct BastionBlock {
    pub enabled: Value<bool>,
    pub instance_type: Str,
    pub ssh_ingress_cidrs: StrList,
    #[serde(default)]
    pub ssh_ingress_ipv6_cidrs: StrList,
    pub key_name: Str,
    pub ami_id: Str,
    pub iam_instance_profile: Str,
}

/// `vpc_endpoints { ... }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct EndpointsBlock {
    pub s3: Value<bool>,
    pub dynamodb: Value<bool>,
    pub public_route_table: Value<bool>,
}

/// `flow_logs { ... }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct FlowLogsBlock {
    pub destination_arn: Str,
    pub traffic_type: Str,
    pub iam_role_arn: Str,
    pub max_aggregation_interval: Num,
}

/// `timeouts { ... }`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TimeoutsBlock {
    pub create: Str,
    pub update: Str,
    pub delete: Str,
}

/// The whole resource as Terraform sends and stores it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct EnvironmentState {
    pub id: Str,
    pub name: Str,
    pub vpc_cidr: Str,
    pub az_count: Num,
    pub availability_zones: StrList,
    pub nat_gateways: Str,
    pub instance_connect_endpoint: Value<bool>,
    pub ipv6: Value<bool>,
    pub dhcp_options_id: Str,
    pub public_subnet_cidrs: StrMap,
    pub private_subnet_cidrs: StrMap,
    pub vpc_ipv6_cidr: Str,
    pub public_subnet_ipv6_cidrs: StrMap,
    pub private_subnet_ipv6_cidrs: StrMap,
    pub tags: StrMap,
    pub tags_all: StrMap,
    pub vpc_id: Str,
    pub public_subnet_ids: StrMap,
    pub private_subnet_ids: StrMap,
    pub internet_gateway_id: Str,
    pub egress_only_internet_gateway_id: Str,
    pub nat_gateway_ids: StrMap,
    pub nat_public_ips: StrMap,
    pub security_group_ids: StrMap,
    pub alb_arn: Str,
    pub alb_dns_name: Str,
    pub alb_zone_id: Str,
    pub target_group_arn: Str,
    pub listener_arns: StrMap,
    pub launch_template_id: Str,
    pub launch_template_version: Num,
    pub autoscaling_group_name: Str,
    pub bastion_instance_id: Str,
    pub bastion_public_ip: Str,
    pub bastion_ipv6_address: Str,
    pub instance_connect_endpoint_id: Str,
    pub vpc_endpoint_ids: StrMap,
    pub flow_log_id: Str,
    pub drift: StrList,
    pub posture: StrMap,
    pub app: OneBlock<AppBlock>,
    pub load_balancer: OneBlock<LoadBalancerBlock>,
    pub bastion: OneBlock<BastionBlock>,
    pub vpc_endpoints: OneBlock<EndpointsBlock>,
    pub flow_logs: OneBlock<FlowLogsBlock>,
    pub timeouts: OneBlock<TimeoutsBlock>,
}

/// The single element of a max-one block, if present and known.
pub fn first<T>(block: &OneBlock<T>) -> Option<&T> {
    block.as_ref_option().and_then(|items| items.first())
}

fn first_mut<T>(block: &mut OneBlock<T>) -> Option<&mut T> {
    block.as_mut_option().and_then(|items| items.first_mut())
}

/// Known string items of a list; `None` when the list or any item is unknown.
pub fn known_strings(list: &StrList) -> Option<Vec<String>> {
    match list {
        Value::Value(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::Value(text) => Some(Some(text.clone())),
                Value::Null => None,
                Value::Unknown => Some(None),
            })
            .collect(),
        Value::Null => Some(Vec::new()),
        Value::Unknown => None,
    }
}

/// Known entries of a map; `None` when the map or any value is unknown.
pub fn known_map(map: &StrMap) -> Option<BTreeMap<String, String>> {
    match map {
        Value::Value(entries) => entries
            .iter()
            .filter_map(|(key, value)| match value {
                Value::Value(text) => Some(Some((key.clone(), text.clone()))),
                Value::Null => None,
                Value::Unknown => Some(None),
            })
            .collect(),
        Value::Null => Some(BTreeMap::new()),
        Value::Unknown => None,
    }
}

/// Wraps plain strings into a wire list.
pub fn string_list(items: impl IntoIterator<Item = String>) -> StrList {
    Value::Value(items.into_iter().map(Value::Value).collect())
}

/// Wraps a plain map into a wire map.
pub fn string_map(entries: impl IntoIterator<Item = (String, String)>) -> StrMap {
    Value::Value(
        entries
            .into_iter()
            .map(|(k, v)| (k, Value::Value(v)))
            .collect(),
    )
}

fn or_default<T>(value: &mut Value<T>, default: impl FnOnce() -> T) {
    if value.is_null() {
        *value = Value::Value(default());
    }
}

/// An attribute of the state that records IDs (see
/// [`crate::apply::components::recording_attributes`]).
pub enum IdSlot<'a> {
    One(&'a mut Str),
    Map(&'a mut StrMap),
}

impl EnvironmentState {
    /// The attribute named `attribute` among those that record the IDs of the
    /// environment's objects; `None` for any other name.
    pub fn id_slot(&mut self, attribute: &str) -> Option<IdSlot<'_>> {
        use IdSlot::{Map, One};
        Some(match attribute {
            "vpc_id" => One(&mut self.vpc_id),
            "internet_gateway_id" => One(&mut self.internet_gateway_id),
            "egress_only_internet_gateway_id" => One(&mut self.egress_only_internet_gateway_id),
            "launch_template_id" => One(&mut self.launch_template_id),
            "autoscaling_group_name" => One(&mut self.autoscaling_group_name),
            "alb_arn" => One(&mut self.alb_arn),
            "bastion_instance_id" => One(&mut self.bastion_instance_id),
            "instance_connect_endpoint_id" => One(&mut self.instance_connect_endpoint_id),
            "flow_log_id" => One(&mut self.flow_log_id),
            "public_subnet_ids" => Map(&mut self.public_subnet_ids),
            "private_subnet_ids" => Map(&mut self.private_subnet_ids),
            "nat_gateway_ids" => Map(&mut self.nat_gateway_ids),
            "security_group_ids" => Map(&mut self.security_group_ids),
            "vpc_endpoint_ids" => Map(&mut self.vpc_endpoint_ids),
            "listener_arns" => Map(&mut self.listener_arns),
            _ => return None,
        })
    }

    /// The state without its write-only values, as every state the provider
    /// hands Terraform must be: they reach the provider only in a configuration.
    pub fn without_write_only(mut self) -> EnvironmentState {
        if let Some(app) = first_mut(&mut self.app) {
            app.user_data_wo = Value::Null;
        }
        self
    }

    /// Takes the write-only values of `config` (which an apply receives) into
    /// this planned state, for the apply to use and never to return.
    pub fn with_write_only_of(mut self, config: &EnvironmentState) -> EnvironmentState {
        if let (Some(app), Some(configured)) = (first_mut(&mut self.app), first(&config.app)) {
            app.user_data_wo = configured.user_data_wo.clone();
        }
        self
    }

    /// Fills every optional input left null with its default, as the plan shows it.
    /// Attributes whose value depends on AWS (zones, subnet CIDRs, AMIs) stay unknown.
    pub fn apply_defaults(&mut self) {
        or_default(&mut self.vpc_cidr, || DEFAULT_VPC_CIDR.to_string());
        if self.az_count.is_null() {
            self.az_count = match &self.availability_zones {
                Value::Value(zones) => Value::Value(zones.len() as i64),
                Value::Unknown => Value::Unknown,
                Value::Null => Value::Value(DEFAULT_AZ_COUNT as i64),
            };
        }
        or_default(&mut self.nat_gateways, || {
            NatStrategy::default().as_str().to_string()
        });
        or_default(&mut self.instance_connect_endpoint, || false);
        or_default(&mut self.ipv6, || false);
        let defaults = AppSpec::default();
        if let Some(app) = first_mut(&mut self.app) {
            or_default(&mut app.instance_type, || defaults.instance_type.clone());
            or_default(&mut app.port, || i64::from(defaults.port));
            or_default(&mut app.min_size, || i64::from(defaults.min_size));
            if app.max_size.is_null() {
                // a larger min_size alone must not make the default max invalid
                app.max_size = match app.min_size {
                    Value::Value(min) => Value::Value(min.max(i64::from(defaults.max_size))),
                    _ => Value::Unknown,
                };
            }
            if app.desired_capacity.is_null() {
                app.desired_capacity = app.min_size;
            }
            or_default(&mut app.cpu_target, || defaults.cpu_target);
            or_default(&mut app.health_check_path, || {
                defaults.health_check_path.clone()
            });
            or_default(&mut app.health_check_grace_period, || {
                i64::from(defaults.health_check_grace_period)
            });
            // the block's absence means every default; blocks cannot be computed
            if let Some(refresh) = first_mut(&mut app.instance_refresh) {
                let preferences = defaults.instance_refresh;
                or_default(&mut refresh.min_healthy_percentage, || {
                    i64::from(preferences.min_healthy_percentage)
                });
                or_default(&mut refresh.max_healthy_percentage, || {
                    i64::from(preferences.max_healthy_percentage)
                });
            }
            or_default(&mut app.wait_for_capacity, || defaults.wait_for_capacity);
            if let Some(mix) = first_mut(&mut app.mixed_instances) {
                or_default(&mut mix.on_demand_base_capacity, || {
                    i64::from(InstanceMix::DEFAULT_ON_DEMAND_BASE)
                });
                or_default(&mut mix.on_demand_percentage_above_base_capacity, || {
                    i64::from(InstanceMix::DEFAULT_ON_DEMAND_PERCENTAGE)
                });
                or_default(&mut mix.spot_allocation_strategy, || {
                    InstanceMix::DEFAULT_SPOT_STRATEGY.to_string()
                });
            }
        }
        if let Some(lb) = first_mut(&mut self.load_balancer) {
            let defaults = LoadBalancerSpec::default();
            or_default(&mut lb.ingress_cidrs, || {
                vec![Value::Value("0.0.0.0/0".to_string())]
            });
            // the IPv6 default follows `ipv6`: everyone, as for IPv4, once the
            // load balancer has IPv6 addresses at all
            if lb.ingress_ipv6_cidrs.is_null() {
                lb.ingress_ipv6_cidrs = match self.ipv6 {
                    Value::Value(on) => Value::Value(
                        default_ingress_ipv6(on)
                            .iter()
                            .map(|c| Value::Value(c.to_string()))
                            .collect(),
                    ),
                    _ => Value::Unknown,
                };
            }
            or_default(&mut lb.ssl_policy, || defaults.ssl_policy.clone());
            or_default(&mut lb.drop_invalid_header_fields, || {
                defaults.drop_invalid_header_fields
            });
            or_default(&mut lb.idle_timeout, || i64::from(defaults.idle_timeout));
            or_default(&mut lb.deletion_protection, || defaults.deletion_protection);
        }
        if let Some(bastion) = first_mut(&mut self.bastion) {
            or_default(&mut bastion.enabled, || true);
            or_default(&mut bastion.instance_type, || "t3.nano".to_string());
        }
        if let Some(endpoints) = first_mut(&mut self.vpc_endpoints) {
            let defaults = EndpointsSpec::default();
            for (slot, service) in [
                (&mut endpoints.s3, GatewayService::S3),
                (&mut endpoints.dynamodb, GatewayService::DynamoDb),
            ] {
                or_default(slot, || defaults.services.contains(&service));
            }
            or_default(&mut endpoints.public_route_table, || {
                defaults.public_route_table
            });
        }
        if let Some(flow_logs) = first_mut(&mut self.flow_logs) {
            or_default(&mut flow_logs.traffic_type, || {
                TrafficType::default().as_str().to_string()
            });
            or_default(&mut flow_logs.max_aggregation_interval, || {
                i64::from(DEFAULT_FLOW_LOG_INTERVAL)
            });
        }
    }

    /// The services with a gateway endpoint; `None` while one is unknown.
    pub fn endpoint_services(&self) -> Option<BTreeSet<GatewayService>> {
        let Some(block) = first(&self.vpc_endpoints) else {
            return Some(EndpointsSpec::default().services);
        };
        let mut services = BTreeSet::new();
        for (value, service) in [
            (&block.s3, GatewayService::S3),
            (&block.dynamodb, GatewayService::DynamoDb),
        ] {
            match value {
                Value::Value(true) => {
                    services.insert(service);
                }
                Value::Value(false) => {}
                Value::Null if EndpointsSpec::default().services.contains(&service) => {
                    services.insert(service);
                }
                Value::Null => {}
                Value::Unknown => return None,
            }
        }
        Some(services)
    }

    /// True when the state records `load_balancer.deletion_protection = true`.
    pub fn deletion_protected(&self) -> bool {
        first(&self.load_balancer).is_some_and(|lb| lb.deletion_protection == Value::Value(true))
    }

    /// True when the bastion is enabled (the default when the block is absent).
    pub fn bastion_enabled(&self) -> bool {
        first(&self.bastion)
            .map(|b| !matches!(b.enabled, Value::Value(false)))
            .unwrap_or(true)
    }
}

/// Why a fully known configuration could not be turned into a spec. Validation
/// catches all of these earlier; this guards apply against a state file edited by hand.
#[derive(Debug, thiserror::Error)]
#[error("attribute `{attribute}` {problem}")]
pub struct ModelError {
    pub attribute: String,
    pub problem: String,
}

fn model_error(attribute: &str, problem: impl Into<String>) -> ModelError {
    ModelError {
        attribute: attribute.to_string(),
        problem: problem.into(),
    }
}

fn known<'a, T>(value: &'a Value<T>, attribute: &str) -> Result<Option<&'a T>, ModelError> {
    match value {
        Value::Value(v) => Ok(Some(v)),
        Value::Null => Ok(None),
        Value::Unknown => Err(model_error(attribute, "is still unknown at apply time")),
    }
}

fn cidr_of(text: &str, attribute: &str) -> Result<Cidr, ModelError> {
    text.parse()
        .map_err(|e: crate::plan::cidr::CidrError| model_error(attribute, e.to_string()))
}

fn ipv6_cidr_of(text: &str, attribute: &str) -> Result<Ipv6Cidr, ModelError> {
    text.parse()
        .map_err(|e: crate::plan::ipv6::Ipv6CidrError| model_error(attribute, e.to_string()))
}

fn ipv6_cidr_list(list: &StrList, attribute: &str) -> Result<Vec<Ipv6Cidr>, ModelError> {
    known_strings(list)
        .ok_or_else(|| model_error(attribute, "is still unknown at apply time"))?
        .iter()
        .map(|text| ipv6_cidr_of(text, attribute))
        .collect()
}

/// The IPv6 blocks the load balancer admits when the configuration names none.
pub fn default_ingress_ipv6(ipv6: bool) -> Vec<Ipv6Cidr> {
    if ipv6 {
        vec![Ipv6Cidr::ANY]
    } else {
        Vec::new()
    }
}

fn cidr_list(list: &StrList, attribute: &str) -> Result<Vec<Cidr>, ModelError> {
    known_strings(list)
        .ok_or_else(|| model_error(attribute, "is still unknown at apply time"))?
        .iter()
        .map(|text| cidr_of(text, attribute))
        .collect()
}

fn count(value: &Num, attribute: &str, default: u32) -> Result<u32, ModelError> {
    match known(value, attribute)? {
        Some(n) => u32::try_from(*n).map_err(|_| model_error(attribute, "must not be negative")),
        None => Ok(default),
    }
}

/// Builds the spec from a configuration or planned state whose inputs are all known.
/// `default_tags` are the provider's, overridden by the resource's own `tags`.
pub fn to_spec(
    state: &EnvironmentState,
    default_tags: &BTreeMap<String, String>,
) -> Result<EnvironmentSpec, ModelError> {
    let name = known(&state.name, "name")?
        .cloned()
        .ok_or_else(|| model_error("name", "is required"))?;
    let vpc_cidr = cidr_of(
        known(&state.vpc_cidr, "vpc_cidr")?.map_or(DEFAULT_VPC_CIDR, |s| s.as_str()),
        "vpc_cidr",
    )?;
    let zones = match &state.availability_zones {
        Value::Value(_) => ZoneChoice::Named(
            known_strings(&state.availability_zones)
                .ok_or_else(|| model_error("availability_zones", "is unknown"))?,
        ),
        Value::Unknown => ZoneChoice::Count(count(&state.az_count, "az_count", 2)? as usize),
        Value::Null => {
            ZoneChoice::Count(count(&state.az_count, "az_count", DEFAULT_AZ_COUNT as u32)? as usize)
        }
    };
    let mut subnet_cidrs = BTreeMap::new();
    for (tier, map, attribute) in [
        (
            Tier::Public,
            &state.public_subnet_cidrs,
            "public_subnet_cidrs",
        ),
        (
            Tier::Private,
            &state.private_subnet_cidrs,
            "private_subnet_cidrs",
        ),
    ] {
        // unknown here means "carve at apply time"
        for (zone, text) in known_map(map).unwrap_or_default() {
            subnet_cidrs.insert((tier, zone), cidr_of(&text, attribute)?);
        }
    }
    let ipv6 = known(&state.ipv6, "ipv6")?.copied().unwrap_or(false);
    let mut ipv6_subnet_cidrs = BTreeMap::new();
    if ipv6 {
        for (tier, map, attribute) in [
            (
                Tier::Public,
                &state.public_subnet_ipv6_cidrs,
                "public_subnet_ipv6_cidrs",
            ),
            (
                Tier::Private,
                &state.private_subnet_ipv6_cidrs,
                "private_subnet_ipv6_cidrs",
            ),
        ] {
            for (zone, text) in known_map(map).unwrap_or_default() {
                ipv6_subnet_cidrs.insert((tier, zone), ipv6_cidr_of(&text, attribute)?);
            }
        }
    }
    let nat = match known(&state.nat_gateways, "nat_gateways")? {
        Some(text) => NatStrategy::parse(text)
            .ok_or_else(|| model_error("nat_gateways", format!("has unknown value `{text}`")))?,
        None => NatStrategy::default(),
    };
    let app = match first(&state.app) {
        None => AppSpec::default(),
        Some(block) => app_spec(block)?,
    };
    let mut load_balancer = match first(&state.load_balancer) {
        None => LoadBalancerSpec::default(),
        Some(block) => load_balancer_spec(block)?,
    };
    if first(&state.load_balancer).is_none_or(|block| block.ingress_ipv6_cidrs.is_null()) {
        load_balancer.ingress_ipv6_cidrs = default_ingress_ipv6(ipv6);
    }
    let bastion = if state.bastion_enabled() {
        let block = first(&state.bastion).cloned().unwrap_or_default();
        Some(BastionSpec {
            instance_type: known(&block.instance_type, "bastion.instance_type")?
                .cloned()
                .unwrap_or_else(|| "t3.nano".into()),
            ssh_ingress_cidrs: cidr_list(&block.ssh_ingress_cidrs, "bastion.ssh_ingress_cidrs")?,
            ssh_ingress_ipv6_cidrs: ipv6_cidr_list(
                &block.ssh_ingress_ipv6_cidrs,
                "bastion.ssh_ingress_ipv6_cidrs",
            )?,
            key_name: known(&block.key_name, "bastion.key_name")?.cloned(),
            ami_id: block.ami_id.as_ref_option().cloned(),
            iam_instance_profile: instance_profile(
                &block.iam_instance_profile,
                "bastion.iam_instance_profile",
            )?,
        })
    } else {
        None
    };
    let endpoints = match first(&state.vpc_endpoints) {
        None => EndpointsSpec::default(),
        Some(block) => endpoints_spec(block)?,
    };
    let flow_logs = first(&state.flow_logs).map(flow_logs_spec).transpose()?;
    let mut timeouts = Timeouts::default();
    if let Some(block) = first(&state.timeouts) {
        for (slot, value, attribute) in [
            (&mut timeouts.create, &block.create, "timeouts.create"),
            (&mut timeouts.update, &block.update, "timeouts.update"),
            (&mut timeouts.delete, &block.delete, "timeouts.delete"),
        ] {
            if let Some(text) = known(value, attribute)? {
                *slot = parse_duration(text)
                    .ok_or_else(|| model_error(attribute, format!("`{text}` is no duration")))?;
            }
        }
    }
    let mut tags = default_tags.clone();
    tags.extend(
        known_map(&state.tags).ok_or_else(|| model_error("tags", "is unknown at apply time"))?,
    );
    Ok(EnvironmentSpec {
        name,
        vpc_cidr,
        zones,
        subnet_cidrs,
        nat,
        app,
        load_balancer,
        bastion,
        instance_connect_endpoint: known(
            &state.instance_connect_endpoint,
            "instance_connect_endpoint",
        )?
        .copied()
        .unwrap_or(false),
        ipv6,
        ipv6_subnet_cidrs,
        // unknown while a create leaves it to AWS
        dhcp_options: state.dhcp_options_id.as_ref_option().cloned(),
        endpoints,
        flow_logs,
        tags,
        // the provider's, set where the provider's configuration is at hand
        ignored_tags: Default::default(),
        timeouts,
    })
}

fn flow_logs_spec(block: &FlowLogsBlock) -> Result<FlowLogSpec, ModelError> {
    let arn = known(&block.destination_arn, "flow_logs.destination_arn")?
        .cloned()
        .ok_or_else(|| model_error("flow_logs.destination_arn", "is required"))?;
    let role = known(&block.iam_role_arn, "flow_logs.iam_role_arn")?.cloned();
    let destination = match (flow_log_service(&arn), role) {
        (Some(FlowLogService::S3), None) => FlowLogDestination::S3 { arn },
        (Some(FlowLogService::CloudWatchLogs), Some(role_arn)) => {
            FlowLogDestination::CloudWatchLogs { arn, role_arn }
        }
        (Some(FlowLogService::S3), Some(_)) => {
            return Err(model_error("flow_logs.iam_role_arn", "is not used with S3"))
        }
        (Some(FlowLogService::CloudWatchLogs), None) => {
            return Err(model_error(
                "flow_logs.iam_role_arn",
                "is required for CloudWatch Logs",
            ))
        }
        (None, _) => {
            return Err(model_error(
                "flow_logs.destination_arn",
                format!("`{arn}` is neither an S3 bucket nor a log group"),
            ))
        }
    };
    let traffic_type = match known(&block.traffic_type, "flow_logs.traffic_type")? {
        None => TrafficType::default(),
        Some(text) => TrafficType::parse(text).ok_or_else(|| {
            model_error(
                "flow_logs.traffic_type",
                format!("has unknown value `{text}`"),
            )
        })?,
    };
    Ok(FlowLogSpec {
        destination,
        traffic_type,
        max_aggregation_interval: count(
            &block.max_aggregation_interval,
            "flow_logs.max_aggregation_interval",
            DEFAULT_FLOW_LOG_INTERVAL,
        )?,
    })
}

fn endpoints_spec(block: &EndpointsBlock) -> Result<EndpointsSpec, ModelError> {
    let defaults = EndpointsSpec::default();
    let mut services = BTreeSet::new();
    for (value, service) in [
        (&block.s3, GatewayService::S3),
        (&block.dynamodb, GatewayService::DynamoDb),
    ] {
        let attribute = format!("vpc_endpoints.{}", service.as_str());
        let on = known(value, &attribute)?
            .copied()
            .unwrap_or_else(|| defaults.services.contains(&service));
        if on {
            services.insert(service);
        }
    }
    Ok(EndpointsSpec {
        services,
        public_route_table: known(
            &block.public_route_table,
            "vpc_endpoints.public_route_table",
        )?
        .copied()
        .unwrap_or(defaults.public_route_table),
    })
}

fn load_balancer_spec(block: &LoadBalancerBlock) -> Result<LoadBalancerSpec, ModelError> {
    let defaults = LoadBalancerSpec::default();
    let idle_timeout = match known(&block.idle_timeout, "load_balancer.idle_timeout")? {
        Some(seconds) => u32::try_from(*seconds)
            .map_err(|_| model_error("load_balancer.idle_timeout", "is out of range"))?,
        None => defaults.idle_timeout,
    };
    let access_logs = match first(&block.access_logs) {
        None => None,
        Some(logs) => Some(AccessLogs {
            bucket: known(&logs.bucket, "load_balancer.access_logs.bucket")?
                .cloned()
                .ok_or_else(|| model_error("load_balancer.access_logs.bucket", "is required"))?,
            prefix: known(&logs.prefix, "load_balancer.access_logs.prefix")?.cloned(),
        }),
    };
    Ok(LoadBalancerSpec {
        ingress_cidrs: match block.ingress_cidrs {
            Value::Null => defaults.ingress_cidrs,
            _ => cidr_list(&block.ingress_cidrs, "load_balancer.ingress_cidrs")?,
        },
        // the default depends on `ipv6`, which the caller knows
        ingress_ipv6_cidrs: ipv6_cidr_list(
            &block.ingress_ipv6_cidrs,
            "load_balancer.ingress_ipv6_cidrs",
        )?,
        certificate_arn: known(&block.certificate_arn, "load_balancer.certificate_arn")?.cloned(),
        ssl_policy: known(&block.ssl_policy, "load_balancer.ssl_policy")?
            .cloned()
            .unwrap_or(defaults.ssl_policy),
        drop_invalid_header_fields: known(
            &block.drop_invalid_header_fields,
            "load_balancer.drop_invalid_header_fields",
        )?
        .copied()
        .unwrap_or(defaults.drop_invalid_header_fields),
        idle_timeout,
        deletion_protection: known(
            &block.deletion_protection,
            "load_balancer.deletion_protection",
        )?
        .copied()
        .unwrap_or(defaults.deletion_protection),
        access_logs,
    })
}

fn app_spec(block: &AppBlock) -> Result<AppSpec, ModelError> {
    let defaults = AppSpec::default();
    let port = match known(&block.port, "app.port")? {
        Some(p) => u16::try_from(*p).map_err(|_| model_error("app.port", "is out of range"))?,
        None => defaults.port,
    };
    let min_size = count(&block.min_size, "app.min_size", defaults.min_size)?;
    Ok(AppSpec {
        // unknown until the first apply looks the newest image up
        ami_id: block.ami_id.as_ref_option().cloned(),
        instance_type: known(&block.instance_type, "app.instance_type")?
            .cloned()
            .unwrap_or(defaults.instance_type),
        port,
        // one script or the other: validation refuses both
        user_data: match known(&block.user_data_wo, "app.user_data_wo")? {
            Some(script) => Some(script.clone()),
            None => known(&block.user_data, "app.user_data")?.cloned(),
        },
        user_data_version: known(&block.user_data_wo_version, "app.user_data_wo_version")?.copied(),
        min_size,
        max_size: count(
            &block.max_size,
            "app.max_size",
            defaults.max_size.max(min_size),
        )?,
        desired_capacity: match known(&block.desired_capacity, "app.desired_capacity")? {
            Some(_) => Some(count(&block.desired_capacity, "app.desired_capacity", 0)?),
            None => None,
        },
        cpu_target: known(&block.cpu_target, "app.cpu_target")?
            .copied()
            .unwrap_or(defaults.cpu_target),
        health_check_path: known(&block.health_check_path, "app.health_check_path")?
            .cloned()
            .unwrap_or(defaults.health_check_path),
        health_check_grace_period: count(
            &block.health_check_grace_period,
            "app.health_check_grace_period",
            defaults.health_check_grace_period,
        )?,
        instance_refresh: match first(&block.instance_refresh) {
            None => defaults.instance_refresh,
            Some(refresh) => refresh_preferences(refresh)?,
        },
        wait_for_capacity: known(&block.wait_for_capacity, "app.wait_for_capacity")?
            .copied()
            .unwrap_or(defaults.wait_for_capacity),
        iam_instance_profile: instance_profile(
            &block.iam_instance_profile,
            "app.iam_instance_profile",
        )?,
        mixed_instances: first(&block.mixed_instances)
            .map(instance_mix)
            .transpose()?,
    })
}

fn instance_profile(value: &Str, attribute: &str) -> Result<Option<InstanceProfile>, ModelError> {
    Ok(known(value, attribute)?.map(InstanceProfile::new))
}

fn instance_mix(block: &MixedInstancesBlock) -> Result<InstanceMix, ModelError> {
    let path = "app.mixed_instances.instance_types";
    Ok(InstanceMix {
        instance_types: known_strings(&block.instance_types)
            .ok_or_else(|| model_error(path, "is not known yet"))?,
        on_demand_base_capacity: count(
            &block.on_demand_base_capacity,
            "app.mixed_instances.on_demand_base_capacity",
            InstanceMix::DEFAULT_ON_DEMAND_BASE,
        )?,
        on_demand_percentage_above_base: count(
            &block.on_demand_percentage_above_base_capacity,
            "app.mixed_instances.on_demand_percentage_above_base_capacity",
            InstanceMix::DEFAULT_ON_DEMAND_PERCENTAGE,
        )?,
        spot_allocation_strategy: known(
            &block.spot_allocation_strategy,
            "app.mixed_instances.spot_allocation_strategy",
        )?
        .cloned()
        .unwrap_or_else(|| InstanceMix::DEFAULT_SPOT_STRATEGY.to_string()),
    })
}

fn refresh_preferences(block: &InstanceRefreshBlock) -> Result<RefreshPreferences, ModelError> {
    let defaults = RefreshPreferences::default();
    Ok(RefreshPreferences {
        min_healthy_percentage: count(
            &block.min_healthy_percentage,
            "app.instance_refresh.min_healthy_percentage",
            defaults.min_healthy_percentage,
        )?,
        max_healthy_percentage: count(
            &block.max_healthy_percentage,
            "app.instance_refresh.max_healthy_percentage",
            defaults.max_healthy_percentage,
        )?,
        instance_warmup: match known(
            &block.instance_warmup,
            "app.instance_refresh.instance_warmup",
        )? {
            Some(_) => Some(count(
                &block.instance_warmup,
                "app.instance_refresh.instance_warmup",
                0,
            )?),
            None => defaults.instance_warmup,
        },
        wait_for_completion: known(
            &block.wait_for_completion,
            "app.instance_refresh.wait_for_completion",
        )?
        .copied()
        .unwrap_or(defaults.wait_for_completion),
    })
}
