//! IPv4 arithmetic and subnet carving.
//!
//! Carving is deterministic and keyed by availability-zone name: every AZ owns
//! one fixed-size slot per tier, and a new AZ takes the lowest free slot, so
//! adding or removing an AZ never moves the subnets of the others.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use thiserror::Error;

/// Smallest and largest VPC prefixes the environment accepts.
pub const VPC_PREFIX_RANGE: std::ops::RangeInclusive<u8> = 16..=24;
/// The largest subnet prefix an Application Load Balancer accepts: AWS needs
/// a /27 or larger in every zone, with 8 free addresses for the load balancer.
pub const LOAD_BALANCER_SUBNET_PREFIX: u8 = 27;
/// AWS refuses subnets smaller than a /28.
pub const SMALLEST_SUBNET_PREFIX: u8 = 28;
/// Each tier has room for this many AZs; no AWS region has more.
pub const SLOTS_PER_TIER: usize = 8;
/// `log2(2 tiers * SLOTS_PER_TIER)`: how much longer a carved subnet prefix is than the VPC's.
const SLOT_BITS: u8 = 4;

/// An IPv4 network in CIDR notation whose host bits are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    network: u32,
    prefix: u8,
}

/// Why a string is not a usable CIDR block.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CidrError {
    /// the text is not `a.b.c.d/n`
    #[error("`{0}` is not an IPv4 CIDR block such as 10.0.0.0/16")]
    Malformed(String),
    /// host bits are set, so the block is ambiguous
    #[error("`{given}` has host bits set; the network address is {canonical}")]
    HostBitsSet { given: String, canonical: String },
}

impl Cidr {
    /// Builds a CIDR from a network address and prefix; host bits are cleared.
    pub fn new(address: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        Cidr {
            network: u32::from(address) & Self::mask(prefix),
            prefix,
        }
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    /// The prefix length (the `n` of `/n`).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The first address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    /// How many addresses the block holds.
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    fn last(&self) -> u32 {
        self.network | !Self::mask(self.prefix)
    }

    /// True when `other` lies entirely inside `self`.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && (other.network & Self::mask(self.prefix)) == self.network
    }

    /// True when the two blocks share at least one address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.network <= other.last() && other.network <= self.last()
    }

    /// The `index`-th block of prefix `prefix` inside `self`, if it exists.
    pub fn subdivide(&self, prefix: u8, index: u32) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let count = 1u64 << (prefix - self.prefix);
        if u64::from(index) >= count {
            return None;
        }
        let step = if prefix == 0 {
            0
        } else {
            1u32 << (32 - prefix)
        };
        Some(Cidr {
            network: self.network + index * step,
            prefix,
        })
    }

    /// Parses `a.b.c.d/n`; host bits must be zero, as AWS requires.
    pub fn parse_strict(text: &str) -> Result<Cidr, CidrError> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| CidrError::Malformed(text.to_string()))?;
        let address =
            Ipv4Addr::from_str(address).map_err(|_| CidrError::Malformed(text.to_string()))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32 && !prefix.starts_with('+'))
            .ok_or_else(|| CidrError::Malformed(text.to_string()))?;
        let cidr = Cidr::new(address, prefix);
        if cidr.network() != address {
            return Err(CidrError::HostBitsSet {
                given: text.to_string(),
                canonical: cidr.to_string(),
            });
        }
        Ok(cidr)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Cidr::parse_strict(text)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// The two subnet tiers of every AZ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// routes to the internet gateway; holds the ALB, NAT gateways and bastion
    Public,
    /// routes to a NAT gateway; holds the application instances
    Private,
}

impl Tier {
    /// Both tiers, public first.
    pub const ALL: [Tier; 2] = [Tier::Public, Tier::Private];

    /// Lower-case name used in tags and component keys.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }

    pub(crate) fn first_slot(&self) -> u32 {
        match self {
            Tier::Public => 0,
            Tier::Private => SLOTS_PER_TIER as u32,
        }
    }
}

/// Why subnets could not be carved.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CarveError {
    /// the VPC is too small for subnets of at least /28
    #[error("the VPC {vpc} is too small: subnets would be /{subnet_prefix} but AWS needs at least /{SMALLEST_SUBNET_PREFIX}; use a VPC prefix of /{max} or shorter", max = SMALLEST_SUBNET_PREFIX - SLOT_BITS)]
    VpcTooSmall { vpc: Cidr, subnet_prefix: u8 },
    /// more AZs than slots per tier
    #[error("{requested} availability zones requested but a tier has room for {SLOTS_PER_TIER}")]
    TooManyZones { requested: usize },
    /// every free slot overlaps an explicitly chosen subnet
    #[error("no free {tier} block left for {zone}: the explicit subnet CIDRs overlap every remaining slot of the VPC")]
    NoFreeSlot { tier: &'static str, zone: String },
}

/// The prefix of carved subnets for a VPC: 16 equal slots, 8 per tier.
pub fn carved_subnet_prefix(vpc: Cidr) -> u8 {
    vpc.prefix() + SLOT_BITS
}

/// Assigns a CIDR to every (tier, zone) pair that has none yet.
///
/// `existing` holds blocks already in use (kept from state or given by the
/// user); they are never moved. Those of zones not in `zones` (a zone being
/// removed, whose subnets still exist while the new ones are made) are
/// taken by nobody but stay occupied. New blocks take the lowest slot of
/// their tier that overlaps nothing already assigned or occupied, zones taken
/// in name order.
pub fn carve(
    vpc: Cidr,
    zones: &[String],
    existing: &BTreeMap<(Tier, String), Cidr>,
) -> Result<BTreeMap<(Tier, String), Cidr>, CarveError> {
    let subnet_prefix = carved_subnet_prefix(vpc);
    if subnet_prefix > SMALLEST_SUBNET_PREFIX {
        return Err(CarveError::VpcTooSmall { vpc, subnet_prefix });
    }
    let unique: BTreeSet<&String> = zones.iter().collect();
    if unique.len() > SLOTS_PER_TIER {
        return Err(CarveError::TooManyZones {
            requested: unique.len(),
        });
    }
    let mut assigned: BTreeMap<(Tier, String), Cidr> = existing
        .iter()
        .filter(|((_, zone), _)| unique.contains(zone))
        .map(|(key, cidr)| (key.clone(), *cidr))
        .collect();
    let occupied: Vec<Cidr> = existing
        .iter()
        .filter(|((_, zone), _)| !unique.contains(zone))
        .map(|(_, cidr)| *cidr)
        .collect();
    for tier in Tier::ALL {
        for zone in &unique {
            let key = (tier, (*zone).clone());
            if assigned.contains_key(&key) {
                continue;
            }
            let free = (tier.first_slot()..tier.first_slot() + SLOTS_PER_TIER as u32)
                .filter_map(|slot| vpc.subdivide(subnet_prefix, slot))
                .find(|candidate| {
                    assigned
                        .values()
                        .chain(&occupied)
                        .all(|used| !used.overlaps(candidate))
                })
                .ok_or_else(|| CarveError::NoFreeSlot {
                    tier: tier.as_str(),
                    zone: (*zone).clone(),
                })?;
            assigned.insert(key, free);
        }
    }
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_and_prints() {
        let cidr: Cidr = "10.20.0.0/16".parse().unwrap();
        assert_eq!(cidr.to_string(), "10.20.0.0/16");
        assert_eq!(cidr.size(), 65536);
    }

    #[test]
    fn rejects_malformed_and_host_bits() {
        for bad in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.0/33",
            "a.b.c.d/8",
            "10.0.0.0/+8",
            "",
        ] {
            assert!(
                matches!(Cidr::parse_strict(bad), Err(CidrError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Cidr::parse_strict("10.0.0.1/16"),
            Err(CidrError::HostBitsSet {
                given: "10.0.0.1/16".into(),
                canonical: "10.0.0.0/16".into()
            })
        );
    }

    #[test]
    fn carves_two_zones_of_a_slash_16() {
        let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
        let carved = carve(vpc, &zones(&["us-east-1a", "us-east-1b"]), &BTreeMap::new()).unwrap();
        let get = |tier, zone: &str| carved[&(tier, zone.to_string())].to_string();
        assert_eq!(get(Tier::Public, "us-east-1a"), "10.0.0.0/20");
        assert_eq!(get(Tier::Public, "us-east-1b"), "10.0.16.0/20");
        assert_eq!(get(Tier::Private, "us-east-1a"), "10.0.128.0/20");
        assert_eq!(get(Tier::Private, "us-east-1b"), "10.0.144.0/20");
    }

    #[test]
    fn smallest_vpc_gives_slash_28_subnets() {
        let vpc: Cidr = "192.168.7.0/24".parse().unwrap();
        let carved = carve(vpc, &zones(&["a", "b", "c"]), &BTreeMap::new()).unwrap();
        assert!(carved.values().all(|c| c.prefix() == 28));
        let too_small: Cidr = "192.168.7.0/25".parse().unwrap();
        assert!(matches!(
            carve(too_small, &zones(&["a", "b"]), &BTreeMap::new()),
            Err(CarveError::VpcTooSmall {
                subnet_prefix: 29,
                ..
            })
        ));
    }

    #[test]
    fn explicit_blocks_are_kept_and_avoided() {
        let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
        let mut existing = BTreeMap::new();
        existing.insert(
            (Tier::Public, "b".to_string()),
            "10.0.0.0/24".parse().unwrap(),
        );
        let carved = carve(vpc, &zones(&["a", "b"]), &existing).unwrap();
        assert_eq!(
            carved[&(Tier::Public, "b".into())].to_string(),
            "10.0.0.0/24"
        );
        assert_eq!(
            carved[&(Tier::Public, "a".into())].to_string(),
            "10.0.16.0/20"
        );
    }

    #[test]
    fn too_many_zones_is_refused() {
        let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
        let many: Vec<String> = (0..9).map(|i| format!("z{i}")).collect();
        assert_eq!(
            carve(vpc, &many, &BTreeMap::new()),
            Err(CarveError::TooManyZones { requested: 9 })
        );
    }

    #[test]
    fn a_zone_swapped_in_does_not_take_the_block_of_the_zone_swapped_out() {
        let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
        let before = carve(vpc, &zones(&["a", "b"]), &BTreeMap::new()).unwrap();
        let after = carve(vpc, &zones(&["a", "c"]), &before).unwrap();
        for tier in Tier::ALL {
            let c = after[&(tier, "c".to_string())];
            assert!(!c.overlaps(&before[&(tier, "b".to_string())]), "{c}");
            assert_eq!(
                after[&(tier, "a".to_string())],
                before[&(tier, "a".to_string())]
            );
        }
        assert!(!after.contains_key(&(Tier::Public, "b".to_string())));
    }

    proptest! {
        #[test]
        fn carved_subnets_are_inside_and_disjoint(
            octets in (0u8..=255, 0u8..=255),
            prefix in VPC_PREFIX_RANGE,
            count in 2usize..=SLOTS_PER_TIER,
        ) {
            let vpc = Cidr::new(Ipv4Addr::new(10, octets.0, octets.1, 0), prefix);
            let names: Vec<String> = (0..count).map(|i| format!("zone-{i}")).collect();
            let carved = carve(vpc, &names, &BTreeMap::new()).unwrap();
            prop_assert_eq!(carved.len(), 2 * count);
            let blocks: Vec<Cidr> = carved.values().copied().collect();
            for (i, a) in blocks.iter().enumerate() {
                prop_assert!(vpc.contains(a));
                for b in &blocks[i + 1..] {
                    prop_assert!(!a.overlaps(b));
                }
            }
        }

        #[test]
        fn adding_a_zone_keeps_the_others(count in 2usize..SLOTS_PER_TIER, extra in 0usize..SLOTS_PER_TIER) {
            let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
            let names: Vec<String> = (0..count).map(|i| format!("zone-{i}")).collect();
            let before = carve(vpc, &names, &BTreeMap::new()).unwrap();
            let mut more = names.clone();
            more.push(format!("added-{extra}"));
            let after = carve(vpc, &more, &before).unwrap();
            for (key, cidr) in &before {
                prop_assert_eq!(after.get(key), Some(cidr));
            }
        }

        #[test]
        fn carving_is_deterministic(count in 2usize..=SLOTS_PER_TIER) {
            let vpc: Cidr = "172.16.0.0/20".parse().unwrap();
            let names: Vec<String> = (0..count).map(|i| format!("z{i}")).collect();
            prop_assert_eq!(carve(vpc, &names, &BTreeMap::new()), carve(vpc, &names, &BTreeMap::new()));
        }
    }
}
