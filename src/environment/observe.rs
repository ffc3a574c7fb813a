//! Filling the wire state from what AWS reports: after apply, on refresh and on import.

use std::collections::BTreeMap;

use tf_provider::value::Value;

use super::model::{self, first, string_list, string_map, EnvironmentState};
use crate::apply::inventory::Inventory;
use crate::plan::blueprint::Blueprint;
use crate::plan::cidr::Tier;

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

pub(super) fn opt(value: Option<String>) -> Value<String> {
    value.filter(|v| !v.is_empty()).into()
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
pub(super) fn settle(state: &mut EnvironmentState) {
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

/// Sets AMI IDs the state lacks (states upgraded from schema version 0 did
/// not record the resolved default image) to the images AWS runs.
pub(super) fn fill_missing_images(state: &mut EnvironmentState, inv: &Inventory) {
    if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
        if app.ami_id.is_null() {
            app.ami_id = opt(inv.template_settings.as_ref().map(|t| t.ami_id.clone()));
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

/// Rebuilds the `app`, `load_balancer` and `bastion` blocks from what AWS runs.
/// All three are always set: blocks cannot be computed, so a configuration that
/// omits one shows its removal once after import (applying it changes nothing).
pub(super) fn import_blocks(state: &mut EnvironmentState, inv: &Inventory) {
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
