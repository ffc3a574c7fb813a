//! The environment's name, the VPC block, the zones and the subnet blocks.

use std::collections::{BTreeMap, BTreeSet};

use tf_provider::value::Value;

use crate::environment::model::{known_map, EnvironmentState};
use crate::plan::cidr::{
    carve, carved_subnet_prefix, CarveError, Cidr, Tier, SLOTS_PER_TIER, SMALLEST_SUBNET_PREFIX,
    VPC_PREFIX_RANGE,
};
use crate::plan::spec::{DEFAULT_VPC_CIDR, MAX_NAME_LEN};

use super::{attr, path_text, Checker, Step, LOAD_BALANCER_SUBNET_PREFIX};

pub(super) fn check_name(c: &mut Checker, name: &Value<String>) {
    let Value::Value(name) = name else { return };
    let fix = format!(
        "Use 1-{MAX_NAME_LEN} letters, digits and single hyphens, starting with a letter and not ending with a hyphen: the name feeds the load balancer and target group names (32 characters at most, the target group adding the port), the security group names and the `Name` tags."
    );
    let valid_chars = name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    let starts_with_letter = name
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphabetic());
    let lower = name.to_ascii_lowercase();
    let problem = if name.is_empty() || name.len() > MAX_NAME_LEN {
        Some(format!("`{name}` has {} characters.", name.len()))
    } else if !valid_chars {
        Some(format!(
            "`{name}` has characters other than letters, digits and hyphens."
        ))
    } else if !starts_with_letter {
        Some(format!("`{name}` does not start with a letter."))
    } else if name.ends_with('-') {
        Some(format!("`{name}` ends with a hyphen."))
    } else if name.contains("--") {
        Some(format!(
            "`{name}` has two hyphens in a row, which AWS forbids in target group names."
        ))
    } else if lower.starts_with("internal-") {
        Some(format!(
            "`{name}` starts with `internal-`, which AWS reserves for internal load balancers."
        ))
    } else if lower.starts_with("sg-") {
        Some(format!("`{name}` starts with `sg-`: the security groups are named after the environment, and AWS forbids group names starting with `sg-`."))
    } else {
        None
    };
    if let Some(problem) = problem {
        c.fail(
            attr("name"),
            "Invalid environment name",
            format!("{problem} {fix}"),
        );
    }
}

pub(super) fn check_vpc(c: &mut Checker, vpc_cidr: &Value<String>) -> Option<Cidr> {
    let text = match vpc_cidr {
        Value::Value(text) => text.as_str(),
        Value::Null => DEFAULT_VPC_CIDR,
        Value::Unknown => return None,
    };
    match text.parse::<Cidr>() {
        Err(e) => {
            c.fail(
                attr("vpc_cidr"),
                "Invalid VPC CIDR block",
                format!("{e}. Use a block from /16 to /24, for example 10.0.0.0/16."),
            );
            None
        }
        Ok(cidr) if !VPC_PREFIX_RANGE.contains(&cidr.prefix()) => {
            c.fail(
                attr("vpc_cidr"),
                "VPC CIDR prefix out of range",
                format!(
                    "`{cidr}` has a /{} prefix; AWS VPCs and the carving into 16 subnets need a prefix from /{} to /{}, for example 10.0.0.0/16.",
                    cidr.prefix(),
                    VPC_PREFIX_RANGE.start(),
                    VPC_PREFIX_RANGE.end()
                ),
            );
            None
        }
        Ok(cidr) => Some(cidr),
    }
}

/// Returns the configured zone names when they are known.
pub(super) fn check_zones(c: &mut Checker, config: &EnvironmentState) -> Option<Vec<String>> {
    if let Value::Value(count) = config.az_count {
        if count < 2 || count > SLOTS_PER_TIER as i64 {
            c.fail(
                attr("az_count"),
                "Invalid number of availability zones",
                format!("az_count is {count}; a production environment spans from 2 to {SLOTS_PER_TIER} availability zones. Set az_count to a number from 2 to {SLOTS_PER_TIER}."),
            );
        }
    }
    let Value::Value(items) = &config.availability_zones else {
        return None;
    };
    let names: Vec<String> = items
        .iter()
        .filter_map(|z| z.as_ref_option().cloned())
        .collect();
    let all_known = names.len() == items.len();
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        if let Value::Value(zone) = item {
            if !seen.insert(zone.clone()) {
                c.fail(
                    vec![Step::Attribute("availability_zones"), Step::Index(index as i64)],
                    "Duplicate availability zone",
                    format!("`{zone}` is listed twice; each zone gets one public and one private subnet, so list each zone once."),
                );
            }
        }
    }
    if all_known && (items.len() < 2 || items.len() > SLOTS_PER_TIER) {
        c.fail(
            attr("availability_zones"),
            "Invalid number of availability zones",
            format!("{} zones listed; list from 2 to {SLOTS_PER_TIER} distinct zones so the environment survives the loss of one.", items.len()),
        );
    }
    if let (Value::Value(count), true) = (config.az_count, all_known) {
        if count as usize != items.len() {
            c.fail(
                attr("az_count"),
                "az_count disagrees with availability_zones",
                format!("az_count is {count} but {} zones are listed. Remove az_count or make it match.", items.len()),
            );
        }
    }
    all_known.then_some(names)
}

pub(super) fn check_subnets(
    c: &mut Checker,
    config: &EnvironmentState,
    vpc: Option<Cidr>,
    zones: Option<&Vec<String>>,
) {
    let problems_before = c.problems.len();
    let mut placed: Vec<(Vec<Step>, Cidr)> = Vec::new();
    for (attribute, map) in [
        ("public_subnet_cidrs", &config.public_subnet_cidrs),
        ("private_subnet_cidrs", &config.private_subnet_cidrs),
    ] {
        let Value::Value(entries) = map else { continue };
        if config.availability_zones.is_null() {
            c.fail(
                attr(attribute),
                "Subnet blocks need named zones",
                format!("{attribute} is keyed by zone name, but availability_zones is not set. List the zones in availability_zones, or leave {attribute} out to have the blocks carved."),
            );
        }
        if let Some(zones) = zones {
            let missing: Vec<&String> =
                zones.iter().filter(|z| !entries.contains_key(*z)).collect();
            if !missing.is_empty() {
                c.fail(
                    attr(attribute),
                    "Subnet blocks missing for some zones",
                    format!(
                        "{attribute} has no block for {}. Give a block for every zone in availability_zones, or leave {attribute} out to have them carved.",
                        missing.iter().map(|z| format!("`{z}`")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        for (zone, value) in entries {
            let path = vec![Step::Attribute(attribute), Step::Key(zone.clone())];
            if let Some(zones) = zones {
                if !zones.contains(zone) {
                    c.fail(
                        path.clone(),
                        "Subnet for an unused availability zone",
                        format!("`{zone}` is not in availability_zones ({}); key subnet CIDRs by the zones the environment uses.", zones.join(", ")),
                    );
                }
            }
            let Value::Value(text) = value else { continue };
            let cidr = match text.parse::<Cidr>() {
                Ok(cidr) => cidr,
                Err(e) => {
                    c.fail(
                        path,
                        "Invalid subnet CIDR block",
                        format!("{e}. Write an IPv4 network inside vpc_cidr."),
                    );
                    continue;
                }
            };
            if let Some(vpc) = vpc {
                if !vpc.contains(&cidr) {
                    c.fail(path.clone(), "Subnet outside the VPC", format!("`{cidr}` is not inside the VPC block {vpc}. Choose a block within {vpc}."));
                    continue;
                }
            }
            if cidr.prefix() > SMALLEST_SUBNET_PREFIX {
                c.fail(path.clone(), "Subnet too small", format!("`{cidr}` is smaller than a /{SMALLEST_SUBNET_PREFIX}, the smallest subnet AWS allows."));
                continue;
            }
            if attribute == "public_subnet_cidrs" && cidr.prefix() > LOAD_BALANCER_SUBNET_PREFIX {
                c.fail(path.clone(), "Subnet too small for the load balancer", format!("`{cidr}` is smaller than a /{LOAD_BALANCER_SUBNET_PREFIX}; the load balancer lives in the public subnets and AWS needs a /{LOAD_BALANCER_SUBNET_PREFIX} or larger, with 8 free addresses, in each. Give a /{LOAD_BALANCER_SUBNET_PREFIX} or larger block."));
                continue;
            }
            if let Some((other, _)) = placed.iter().find(|(_, used)| used.overlaps(&cidr)) {
                let other = path_text(other);
                c.fail(
                    path.clone(),
                    "Overlapping subnets",
                    format!(
                        "`{cidr}` overlaps the block of {other}. Give every subnet its own block."
                    ),
                );
                continue;
            }
            placed.push((path, cidr));
        }
    }
    let explicit_blocks_valid = c.problems.len() == problems_before;
    check_carving(c, config, vpc, zones, explicit_blocks_valid);
}

/// The blocks the provider carves itself: each tier's subnets must be large
/// enough for what runs in them, and explicit blocks must leave them room.
pub(super) fn check_carving(
    c: &mut Checker,
    config: &EnvironmentState,
    vpc: Option<Cidr>,
    zones: Option<&Vec<String>>,
    explicit_blocks_valid: bool,
) {
    let Some(vpc) = vpc else { return };
    let carved_prefix = carved_subnet_prefix(vpc);
    if config.public_subnet_cidrs.is_null() && carved_prefix > LOAD_BALANCER_SUBNET_PREFIX {
        c.fail(
            attr("vpc_cidr"),
            "VPC too small for the load balancer",
            format!(
                "`{vpc}` is carved into /{carved_prefix} subnets, but the load balancer needs a /{LOAD_BALANCER_SUBNET_PREFIX} or larger public subnet in each zone. Use a VPC of /{} or larger, or give public_subnet_cidrs of /{LOAD_BALANCER_SUBNET_PREFIX} or larger.",
                LOAD_BALANCER_SUBNET_PREFIX - (carved_prefix - vpc.prefix())
            ),
        );
        return;
    }
    let explicit = [
        (Tier::Public, &config.public_subnet_cidrs),
        (Tier::Private, &config.private_subnet_cidrs),
    ];
    let carving = explicit.iter().any(|(_, map)| map.is_null());
    let all_known = explicit.iter().all(|(_, map)| known_map(map).is_some());
    let (Some(zones), true, true, true) = (zones, carving, all_known, explicit_blocks_valid) else {
        return;
    };
    let mut existing = BTreeMap::new();
    for (tier, map) in explicit {
        if let Some(entries) = known_map(map) {
            for (zone, text) in entries {
                if let Ok(cidr) = text.parse::<Cidr>() {
                    existing.insert((tier, zone), cidr);
                }
            }
        }
    }
    if let Err(error @ CarveError::NoFreeSlot { tier, .. }) = carve(vpc, zones, &existing) {
        let blocking = if tier == Tier::Public.as_str() {
            "private_subnet_cidrs"
        } else {
            "public_subnet_cidrs"
        };
        c.fail(
            attr(blocking),
            "Explicit subnets leave no room",
            format!("{error}. The provider carves the {tier} subnets from /{carved_prefix} slots of {vpc}; move the blocks of {blocking} so a slot stays free in each zone, or give {tier}_subnet_cidrs as well."),
        );
    }
}
