//! An import's inputs: the blocks rebuilt from what AWS runs.

use super::*;

/// Ingress CIDRs of a security group on one port, as the configuration lists them.
/// The IPv4 (`ipv6` false) or IPv6 blocks group `role` admits on `port`.
fn ingress_cidrs(inv: &Inventory, role: &str, port: i32, ipv6: bool) -> Vec<String> {
    inv.security_groups
        .get(&format!("sg/{role}"))
        .map(|group| {
            group
                .ingress
                .iter()
                .filter(|rule| rule.from_port == port)
                .filter_map(|rule| match &rule.source {
                    crate::aws::ec2::RuleSource::Cidr(cidr) if !ipv6 => Some(cidr.clone()),
                    crate::aws::ec2::RuleSource::Ipv6Cidr(cidr) if ipv6 => Some(cidr.clone()),
                    _ => None,
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .unwrap_or_default()
}

/// Rebuilds the `app`, `load_balancer`, `bastion` and `vpc_endpoints` blocks
/// from what AWS runs. The first three are always set: blocks cannot be
/// computed, so a configuration that omits one shows its removal once after
/// import (applying it changes nothing).
pub(crate) fn import_blocks(state: &mut EnvironmentState, inv: &Inventory) {
    // a missing template records no settings (the defaults then fill them), never empty ones
    let template = inv.template_settings.clone().unwrap_or_default();
    let found = |text: &str| opt(inv.template_settings.as_ref().map(|_| text.to_string()));
    let target_group = inv.target_groups.first();
    state.app = Value::Value(vec![model::AppBlock {
        ami_id: found(&template.ami_id),
        instance_type: found(&template.instance_type),
        port: target_group.map(|tg| i64::from(tg.port)).into(),
        // a write-only script is recorded by its version only, never itself
        user_data: match template.user_data_version {
            Some(_) => Value::Null,
            None => template.user_data.clone().into(),
        },
        user_data_wo: Value::Null,
        user_data_wo_version: template.user_data_version.into(),
        mixed_instances: match inv.group.as_ref().and_then(|g| g.mix.as_ref()) {
            Some(mix) => Value::Value(vec![model::MixedInstancesBlock {
                instance_types: string_list(mix.instance_types.iter().cloned()),
                on_demand_base_capacity: Value::Value(i64::from(mix.on_demand_base_capacity)),
                on_demand_percentage_above_base_capacity: Value::Value(i64::from(
                    mix.on_demand_percentage_above_base,
                )),
                spot_allocation_strategy: Value::Value(mix.spot_allocation_strategy.clone()),
            }]),
            None => Value::Null,
        },
        // a missing group records no sizes (the defaults then fill them), never zeros
        min_size: inv.group.as_ref().map(|g| i64::from(g.min_size)).into(),
        max_size: inv.group.as_ref().map(|g| i64::from(g.max_size)).into(),
        desired_capacity: inv
            .group
            .as_ref()
            .map(|g| i64::from(g.desired_capacity))
            .into(),
        cpu_target: inv.cpu_policy.as_ref().map(|p| p.target).into(),
        health_check_path: opt(target_group.map(|tg| tg.health_check.path.clone())),
        health_check_grace_period: inv
            .group
            .as_ref()
            .map(|g| i64::from(g.health_check_grace_period))
            .into(),
        // how the next refresh rolls is a choice the group does not record: the
        // block's absence gives the defaults
        instance_refresh: Value::Null,
        // a choice of how apply behaves, not something AWS records
        wait_for_capacity: Value::Value(AppSpec::default().wait_for_capacity),
        // as the template names it, by name or by ARN
        iam_instance_profile: template
            .iam_instance_profile
            .as_ref()
            .map(|p| p.as_str().to_string())
            .into(),
    }]);
    let certificate = inv.listeners.iter().find_map(|l| l.certificate.clone());
    let mut load_balancer = model::LoadBalancerBlock {
        ingress_cidrs: string_list(ingress_cidrs(inv, "alb", 80, false)),
        ingress_ipv6_cidrs: string_list(ingress_cidrs(inv, "alb", 80, true)),
        certificate_arn: certificate.into(),
        ..Default::default()
    };
    observe_load_balancer_settings(&mut load_balancer, inv);
    state.load_balancer = Value::Value(vec![load_balancer]);
    state.bastion = Value::Value(vec![match &inv.bastion {
        Some(instance) => {
            let detail = |key: &str| opt(instance.detail.get(key).cloned());
            model::BastionBlock {
                enabled: Value::Value(true),
                instance_type: detail("instance_type"),
                ssh_ingress_cidrs: string_list(ingress_cidrs(inv, "bastion", 22, false)),
                // optional, and absent from most configurations: none is null
                ssh_ingress_ipv6_cidrs: Some(ingress_cidrs(inv, "bastion", 22, true))
                    .filter(|blocks| !blocks.is_empty())
                    .map_or(Value::Null, string_list),
                key_name: detail("key_name"),
                ami_id: detail("image"),
                // the instance reports an ARN; configurations name profiles by
                // name far more often, and a name matches the ARN it ends
                iam_instance_profile: opt(instance
                    .detail
                    .get("instance_profile")
                    .filter(|arn| !arn.is_empty())
                    .map(|arn| InstanceProfile::new(arn.as_str()).name().to_string())),
            }
        }
        None => model::BastionBlock {
            enabled: Value::Value(false),
            ..Default::default()
        },
    }]);
    // unlike the other blocks, this one is left out when it says what its absence
    // says, as most configurations leave it out
    let endpoints = observed_endpoints(inv);
    state.vpc_endpoints = if endpoints == EndpointsSpec::default() {
        Value::Null
    } else {
        endpoints_block(&endpoints)
    };
    state.flow_logs = match &inv.flow_log {
        Some(found) => Value::Value(vec![flow_logs_block(found)]),
        None => Value::Null,
    };
    state.instance_connect_endpoint = Value::Value(inv.object("eice").is_some());
    state.ipv6 = Value::Value(
        inv.vpc
            .as_ref()
            .is_some_and(|v| crate::aws::ec2::Ipv6Association::of(v).is_some()),
    );
}

/// The `flow_logs` block of the environment's flow log, as AWS reports it.
fn flow_logs_block(found: &crate::aws::ec2::Found) -> model::FlowLogsBlock {
    let seen = |key: &str| found.detail.get(key).filter(|v| !v.is_empty()).cloned();
    model::FlowLogsBlock {
        destination_arn: opt(seen("destination")),
        traffic_type: opt(seen("traffic_type")),
        iam_role_arn: opt(seen("role")),
        max_aggregation_interval: seen("interval")
            .and_then(|i| i.parse().ok())
            .map_or(Value::Null, Value::Value),
    }
}

/// The gateway endpoints AWS runs for the environment, and whether they serve
/// the public route table.
pub(super) fn observed_endpoints(inv: &Inventory) -> EndpointsSpec {
    let public_table = inv
        .route_tables
        .get(&Component::PublicRouteTable.key())
        .map(|t| t.id.clone());
    let found: Vec<&crate::aws::ec2::Found> = GatewayService::ALL
        .into_iter()
        .filter_map(|service| inv.object(&Component::GatewayEndpoint(service).key()))
        .collect();
    EndpointsSpec {
        services: GatewayService::ALL
            .into_iter()
            .filter(|service| {
                inv.object(&Component::GatewayEndpoint(*service).key())
                    .is_some()
            })
            .collect(),
        public_route_table: found.iter().any(|e| {
            public_table
                .as_ref()
                .is_some_and(|t| route_tables_of(e).contains(t))
        }),
    }
}

pub(super) fn endpoints_block(endpoints: &EndpointsSpec) -> model::OneBlock<model::EndpointsBlock> {
    Value::Value(vec![model::EndpointsBlock {
        s3: Value::Value(endpoints.services.contains(&GatewayService::S3)),
        dynamodb: Value::Value(endpoints.services.contains(&GatewayService::DynamoDb)),
        public_route_table: Value::Value(endpoints.public_route_table),
    }])
}
