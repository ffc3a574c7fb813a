//! The subnet layout the resource carves for a VPC block and its zones, as a
//! value other configurations can plan against before anything exists (the
//! provider function `subnet_layout`). Pure: the very carving the resource
//! runs, with the resource's rules for the inputs.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::cidr::{
    carve, carved_subnet_prefix, Cidr, Tier, LOAD_BALANCER_SUBNET_PREFIX, SLOTS_PER_TIER,
    VPC_PREFIX_RANGE,
};

/// The public and private block of each zone, by zone name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SubnetLayout {
    pub public: BTreeMap<String, String>,
    pub private: BTreeMap<String, String>,
}

/// Why an argument cannot be laid out: which one (0: the VPC block, 1: the
/// zones) and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LayoutError {
    pub argument: usize,
    pub message: String,
}

fn refuse(argument: usize, message: String) -> LayoutError {
    LayoutError { argument, message }
}

/// The blocks `prodvpc_environment` carves for `vpc_cidr` over `zones` when
/// no subnet block is given: the same checks, the same carving.
pub fn subnet_layout(vpc_cidr: &str, zones: &[String]) -> Result<SubnetLayout, LayoutError> {
    let vpc: Cidr = vpc_cidr.parse().map_err(|e| {
        refuse(
            0,
            format!(
                "vpc_cidr `{vpc_cidr}`: {e}. Use a block from /16 to /24, for example 10.0.0.0/16."
            ),
        )
    })?;
    if !VPC_PREFIX_RANGE.contains(&vpc.prefix()) {
        return Err(refuse(
            0,
            format!(
                "vpc_cidr `{vpc}` has a /{} prefix; the environment needs one from /{} to /{}, for example 10.0.0.0/16.",
                vpc.prefix(),
                VPC_PREFIX_RANGE.start(),
                VPC_PREFIX_RANGE.end()
            ),
        ));
    }
    let carved = carved_subnet_prefix(vpc);
    if carved > LOAD_BALANCER_SUBNET_PREFIX {
        return Err(refuse(
            0,
            format!(
                "vpc_cidr `{vpc}` is carved into /{carved} subnets, but the load balancer needs a /{LOAD_BALANCER_SUBNET_PREFIX} or larger public subnet in each zone: use a /{} or larger.",
                LOAD_BALANCER_SUBNET_PREFIX - (carved - vpc.prefix())
            ),
        ));
    }
    if let Some(empty) = zones.iter().position(|z| z.trim().is_empty()) {
        return Err(refuse(
            1,
            format!("zones[{empty}] is empty: name an availability zone, such as us-east-1a."),
        ));
    }
    let unique: BTreeSet<&String> = zones.iter().collect();
    if unique.len() != zones.len() {
        return Err(refuse(
            1,
            "zones names a zone twice: list each availability zone once.".to_string(),
        ));
    }
    if !(2..=SLOTS_PER_TIER).contains(&zones.len()) {
        return Err(refuse(
            1,
            format!(
                "zones lists {} zone(s); an environment spans 2 to {SLOTS_PER_TIER}.",
                zones.len()
            ),
        ));
    }
    let blocks = carve(vpc, zones, &BTreeMap::new()).map_err(|e| refuse(0, e.to_string()))?;
    let mut layout = SubnetLayout::default();
    for ((tier, zone), cidr) in blocks {
        let slot = match tier {
            Tier::Public => &mut layout.public,
            Tier::Private => &mut layout.private,
        };
        slot.insert(zone, cidr.to_string());
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::blueprint::{blueprint, tests::sample_spec};
    use proptest::prelude::*;

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lays_out_the_documented_example() {
        let layout = subnet_layout("10.20.0.0/16", &zones(&["us-east-1a", "us-east-1b"])).unwrap();
        assert_eq!(layout.public["us-east-1a"], "10.20.0.0/20");
        assert_eq!(layout.public["us-east-1b"], "10.20.16.0/20");
        assert_eq!(layout.private["us-east-1a"], "10.20.128.0/20");
        assert_eq!(layout.private["us-east-1b"], "10.20.144.0/20");
    }

    #[test]
    fn refuses_what_the_resource_refuses_naming_the_argument() {
        let two = zones(&["us-east-1a", "us-east-1b"]);
        for (cidr, zones, argument, says) in [
            ("10.0.0.0", two.clone(), 0, "vpc_cidr `10.0.0.0`"),
            ("10.0.0.0/8", two.clone(), 0, "from /16 to /24"),
            (
                "10.0.0.0/24",
                two.clone(),
                0,
                "the load balancer needs a /27",
            ),
            ("10.0.0.1/16", two.clone(), 0, "vpc_cidr"),
            ("10.0.0.0/16", zones_of(&["us-east-1a"]), 1, "2 to 8"),
            (
                "10.0.0.0/16",
                zones_of(&["us-east-1a", "us-east-1a"]),
                1,
                "twice",
            ),
            (
                "10.0.0.0/16",
                zones_of(&["us-east-1a", ""]),
                1,
                "zones[1] is empty",
            ),
        ] {
            let error = subnet_layout(cidr, &zones).unwrap_err();
            assert_eq!(error.argument, argument, "{cidr} {zones:?}: {error}");
            assert!(error.message.contains(says), "{cidr} {zones:?}: {error}");
        }
    }

    fn zones_of(names: &[&str]) -> Vec<String> {
        zones(names)
    }

    proptest! {
        /// The function answers exactly what the resource's blueprint carves.
        #[test]
        fn matches_the_resource_s_own_carving(
            second in 0u8..=255,
            prefix in 16u8..=23,
            count in 2usize..=8,
        ) {
            let cidr = format!("10.{second}.0.0/{prefix}");
            let Ok(vpc) = cidr.parse::<Cidr>() else { return Ok(()) };
            let names: Vec<String> = (0..count).map(|i| format!("us-east-1{}", (b'a' + i as u8) as char)).collect();
            let mut spec = sample_spec();
            spec.vpc_cidr = vpc;
            spec.subnet_cidrs.clear();
            let bp = blueprint(&spec, &names).unwrap();
            let layout = subnet_layout(&vpc.to_string(), &names).unwrap();
            for ((tier, zone), block) in &bp.subnets {
                let side = match tier { Tier::Public => &layout.public, Tier::Private => &layout.private };
                prop_assert_eq!(&side[zone], &block.to_string());
            }
            prop_assert_eq!(layout.public.len() + layout.private.len(), bp.subnets.len());
        }
    }
}
