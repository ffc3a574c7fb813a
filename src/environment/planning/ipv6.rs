//! What a plan knows of IPv6: the VPC's block once AWS gave it, the subnets'
//! /64s carved from it as apply carves them, and what turning IPv6 on or off
//! does to traffic.

use std::collections::{BTreeMap, BTreeSet};

use tf_provider::value::Value;
use tf_provider::AttributePath;

use super::super::model::{known_map, string_map, EnvironmentState, StrMap};
use super::{zones_of, Disruption};
use crate::plan::cidr::Tier;
use crate::plan::ipv6::{carve_ipv6, Ipv6Cidr};

/// The IPv6 outputs of a new environment: unknown with `ipv6` (AWS picks
/// the block), null without.
pub(in crate::environment) fn unknown_ipv6_outputs(state: &mut EnvironmentState) {
    fn value<T>(off: bool) -> Value<T> {
        if off {
            Value::Null
        } else {
            Value::Unknown
        }
    }
    let off = state.ipv6 == Value::Value(false);
    state.vpc_ipv6_cidr = value(off);
    state.egress_only_internet_gateway_id = value(off);
    state.public_subnet_ipv6_cidrs = value(off);
    state.private_subnet_ipv6_cidrs = value(off);
    state.bastion_ipv6_address = value(off || !state.bastion_enabled());
}

/// The bastion's IPv6 address: kept while the bastion and IPv6 stay, known
/// after apply when either is new, null without either.
pub(super) fn plan_bastion_ipv6(prior: &EnvironmentState, planned: &mut EnvironmentState) {
    let on = |s: &EnvironmentState| s.ipv6 == Value::Value(true) && s.bastion_enabled();
    planned.bastion_ipv6_address = if planned.ipv6.is_unknown() {
        Value::Unknown
    } else if !on(planned) {
        Value::Null
    } else if on(prior)
        && planned.bastion_instance_id.is_value()
        && prior.bastion_ipv6_address.is_value()
    {
        prior.bastion_ipv6_address.clone()
    } else {
        Value::Unknown
    };
}

/// The IPv6 outputs of an update: kept while IPv6 stays on and nothing
/// renews them, the subnets' blocks of new zones carved at plan once the
/// VPC's block is known.
pub(super) fn plan_ipv6_outputs(
    prior: &EnvironmentState,
    planned: &mut EnvironmentState,
    renewed_outputs: &BTreeSet<&str>,
) {
    let stays_on = prior.ipv6 == Value::Value(true) && planned.ipv6 == Value::Value(true);
    if planned.ipv6 != Value::Value(true) || !stays_on {
        return unknown_ipv6_outputs(planned);
    }
    let kept = |value: &Value<String>, output: &str| {
        if value.is_value() && !renewed_outputs.contains(output) {
            value.clone()
        } else {
            Value::Unknown
        }
    };
    planned.vpc_ipv6_cidr = kept(&prior.vpc_ipv6_cidr, "vpc_ipv6_cidr");
    planned.egress_only_internet_gateway_id = kept(
        &prior.egress_only_internet_gateway_id,
        "egress_only_internet_gateway_id",
    );
    let vpc_block: Option<Ipv6Cidr> = planned
        .vpc_ipv6_cidr
        .as_ref_option()
        .and_then(|b| b.parse().ok());
    let (Some(vpc_block), Some(zones)) = (vpc_block, zones_of(planned)) else {
        planned.public_subnet_ipv6_cidrs = Value::Unknown;
        planned.private_subnet_ipv6_cidrs = Value::Unknown;
        return;
    };
    let mut existing = BTreeMap::new();
    for (tier, map) in [
        (Tier::Public, &prior.public_subnet_ipv6_cidrs),
        (Tier::Private, &prior.private_subnet_ipv6_cidrs),
    ] {
        for (zone, text) in known_map(map).unwrap_or_default() {
            if let Ok(block) = text.parse() {
                existing.insert((tier, zone), block);
            }
        }
    }
    let carved = carve_ipv6(vpc_block, &zones, &existing);
    let of_tier = |tier: Tier| -> StrMap {
        string_map(
            carved
                .iter()
                .filter(|((t, _), _)| *t == tier)
                .map(|((_, zone), block)| (zone.clone(), block.to_string())),
        )
    };
    planned.public_subnet_ipv6_cidrs = of_tier(Tier::Public);
    planned.private_subnet_ipv6_cidrs = of_tier(Tier::Private);
}

/// What turning IPv6 on or off does to the traffic.
pub(super) fn ipv6_disruption(
    prior: &EnvironmentState,
    planned: &EnvironmentState,
) -> Option<Disruption> {
    let (before, after) = (prior.ipv6.as_ref_option(), planned.ipv6.as_ref_option());
    match (before, after) {
        (Some(false), Some(true)) => Some(Disruption {
            path: AttributePath::new("ipv6"),
            summary: "The environment will become dual-stack",
            detail: "Apply asks AWS for an IPv6 /56 for the VPC, gives every subnet a /64 of it, routes `::/0` to the internet gateway from the public subnets and to a new egress-only internet gateway from the private ones, and makes the load balancer `dualstack`: its DNS name gains AAAA records, and clients reach it over IPv6 from `load_balancer.ingress_ipv6_cidrs`. Every IPv4 ID, address and route stays. Instances launched from now on get an IPv6 address; the running ones keep IPv4 only until they are replaced.".into(),
        }),
        (Some(true), Some(false)) => Some(Disruption {
            path: AttributePath::new("ipv6"),
            summary: "IPv6 will be removed from the environment",
            detail: "Apply makes the load balancer `ipv4` (its AAAA records go, so IPv6-only clients can no longer reach the application), removes the `::/0` routes and the egress-only internet gateway (the private subnets lose outbound IPv6), takes the IPv6 addresses of the environment's instances away, and then removes the subnets' and the VPC's IPv6 blocks. A network interface of something else that holds an IPv6 address keeps its subnet's block, and apply fails with AWS's refusal. IPv4 traffic is not affected. Turning IPv6 on again later gives a different /56.".into(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::model::string_list;

    fn state(ipv6: bool, zones: &[&str]) -> EnvironmentState {
        EnvironmentState {
            ipv6: Value::Value(ipv6),
            availability_zones: string_list(zones.iter().map(|z| z.to_string())),
            ..EnvironmentState::default()
        }
    }

    #[test]
    fn blocks_are_known_at_plan_once_the_vpc_block_is_and_a_new_zone_takes_the_next_slot() {
        let mut prior = state(true, &["us-east-1a"]);
        prior.vpc_ipv6_cidr = Value::Value("2600:1f18:abcd:ef00::/56".into());
        prior.egress_only_internet_gateway_id = Value::Value("eigw-1".into());
        prior.public_subnet_ipv6_cidrs = string_map([(
            "us-east-1a".to_string(),
            "2600:1f18:abcd:ef05::/64".to_string(),
        )]);
        let mut planned = state(true, &["us-east-1a", "us-east-1b"]);
        plan_ipv6_outputs(&prior, &mut planned, &BTreeSet::new());
        assert_eq!(planned.vpc_ipv6_cidr, prior.vpc_ipv6_cidr);
        assert_eq!(
            planned.egress_only_internet_gateway_id,
            prior.egress_only_internet_gateway_id
        );
        let public = known_map(&planned.public_subnet_ipv6_cidrs).unwrap();
        // kept where it was, the new zone in the lowest free public slot
        assert_eq!(public["us-east-1a"], "2600:1f18:abcd:ef05::/64");
        assert_eq!(public["us-east-1b"], "2600:1f18:abcd:ef00::/64");
        let private = known_map(&planned.private_subnet_ipv6_cidrs).unwrap();
        assert_eq!(private["us-east-1a"], "2600:1f18:abcd:ef08::/64");

        // turning it on: AWS has yet to pick the block
        let mut on = state(true, &["us-east-1a"]);
        plan_ipv6_outputs(&state(false, &["us-east-1a"]), &mut on, &BTreeSet::new());
        assert!(on.vpc_ipv6_cidr.is_unknown() && on.public_subnet_ipv6_cidrs.is_unknown());
        assert!(ipv6_disruption(&state(false, &[]), &on).is_some());
        // and off: all null, with its warning
        let mut off = state(false, &["us-east-1a"]);
        plan_ipv6_outputs(&prior, &mut off, &BTreeSet::new());
        assert!(off.vpc_ipv6_cidr.is_null() && off.egress_only_internet_gateway_id.is_null());
        assert_eq!(
            ipv6_disruption(&prior, &off).map(|d| d.summary),
            Some("IPv6 will be removed from the environment")
        );
    }
}
