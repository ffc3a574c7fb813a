//! IPv6 blocks and the carving of a /64 per subnet out of the VPC's
//! Amazon-provided /56.
//!
//! The slots mirror the IPv4 carving: each tier owns [`SLOTS_PER_TIER`]
//! /64s (public from 0, private from [`SLOTS_PER_TIER`]), a zone takes the
//! lowest free one of its tier, and a block once taken is kept, so adding or
//! removing a zone never moves another's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use thiserror::Error;

use super::cidr::{Tier, SLOTS_PER_TIER};

/// The prefix AWS gives a VPC from its own pool.
pub const VPC_PREFIX: u8 = 56;
/// The only subnet prefix AWS accepts.
pub const SUBNET_PREFIX: u8 = 64;

/// An IPv6 network in CIDR notation whose host bits are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Cidr {
    network: u128,
    prefix: u8,
}

/// Why a string is not a usable IPv6 block.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Ipv6CidrError {
    #[error("`{0}` is not an IPv6 CIDR block such as 2001:db8::/32")]
    Malformed(String),
    #[error("`{given}` has host bits set; the network address is {canonical}")]
    HostBitsSet { given: String, canonical: String },
}

impl Ipv6Cidr {
    /// Builds a block from an address and prefix; host bits are cleared.
    pub fn new(address: Ipv6Addr, prefix: u8) -> Self {
        let prefix = prefix.min(128);
        Ipv6Cidr {
            network: u128::from(address) & Self::mask(prefix),
            prefix,
        }
    }

    fn mask(prefix: u8) -> u128 {
        if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        }
    }

    /// `::/0`: every IPv6 address.
    pub const ANY: Ipv6Cidr = Ipv6Cidr {
        network: 0,
        prefix: 0,
    };

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.network)
    }

    /// True when `other` lies entirely inside `self`.
    pub fn contains(&self, other: &Ipv6Cidr) -> bool {
        other.prefix >= self.prefix && (other.network & Self::mask(self.prefix)) == self.network
    }

    /// The `index`-th block of prefix `prefix` inside `self`, if it exists.
    pub fn subdivide(&self, prefix: u8, index: u32) -> Option<Ipv6Cidr> {
        if prefix < self.prefix || prefix > 128 {
            return None;
        }
        let bits = prefix - self.prefix;
        if bits < 32 && u64::from(index) >= 1u64 << bits {
            return None;
        }
        let step = if prefix == 0 {
            0
        } else {
            1u128 << (128 - prefix)
        };
        Some(Ipv6Cidr {
            network: self.network + u128::from(index) * step,
            prefix,
        })
    }

    /// Parses `address/n`; host bits must be zero, as AWS requires.
    pub fn parse_strict(text: &str) -> Result<Ipv6Cidr, Ipv6CidrError> {
        let malformed = || Ipv6CidrError::Malformed(text.to_string());
        let (address, prefix) = text.split_once('/').ok_or_else(malformed)?;
        let address = Ipv6Addr::from_str(address).map_err(|_| malformed())?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 128 && !prefix.starts_with('+'))
            .ok_or_else(malformed)?;
        let cidr = Ipv6Cidr::new(address, prefix);
        if cidr.network() != address {
            return Err(Ipv6CidrError::HostBitsSet {
                given: text.to_string(),
                canonical: cidr.to_string(),
            });
        }
        Ok(cidr)
    }
}

impl FromStr for Ipv6Cidr {
    type Err = Ipv6CidrError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ipv6Cidr::parse_strict(text)
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// Gives every (tier, zone) of `zones` a /64 of `vpc`: the blocks of
/// `existing` inside `vpc` are kept (a block of an earlier /56 is not), the
/// others take the lowest free slot of their tier, zones in name order. The
/// blocks of zones not in `zones` (being removed, their subnets still there
/// while the new ones are made) are taken by nobody but stay occupied.
pub fn carve_ipv6(
    vpc: Ipv6Cidr,
    zones: &[String],
    existing: &BTreeMap<(Tier, String), Ipv6Cidr>,
) -> BTreeMap<(Tier, String), Ipv6Cidr> {
    let unique: BTreeSet<&String> = zones.iter().collect();
    let mut assigned: BTreeMap<(Tier, String), Ipv6Cidr> = existing
        .iter()
        .filter(|((_, zone), block)| {
            unique.contains(zone) && block.prefix == SUBNET_PREFIX && vpc.contains(block)
        })
        .map(|(key, block)| (key.clone(), *block))
        .collect();
    for tier in Tier::ALL {
        for zone in &unique {
            let key = (tier, (*zone).clone());
            if assigned.contains_key(&key) {
                continue;
            }
            // a /56 holds 256 /64s: past the tier's own slots, the rest of
            // the block (kept blocks may sit anywhere in it)
            let slots = (tier.first_slot()..tier.first_slot() + SLOTS_PER_TIER as u32)
                .chain(2 * SLOTS_PER_TIER as u32..256);
            let free = slots
                .filter_map(|slot| vpc.subdivide(SUBNET_PREFIX, slot))
                .find(|candidate| {
                    !assigned.values().any(|used| used == candidate)
                        && !existing.values().any(|used| used == candidate)
                });
            if let Some(free) = free {
                assigned.insert(key, free);
            }
        }
    }
    assigned
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn vpc() -> Ipv6Cidr {
        "2600:1f18:abcd:ef00::/56".parse().unwrap()
    }

    #[test]
    fn parses_prints_and_refuses() {
        assert_eq!(vpc().to_string(), "2600:1f18:abcd:ef00::/56");
        assert_eq!(Ipv6Cidr::parse_strict("::/0"), Ok(Ipv6Cidr::ANY));
        assert!(matches!(
            Ipv6Cidr::parse_strict("2600:1f18::1/64"),
            Err(Ipv6CidrError::HostBitsSet { canonical, .. }) if canonical == "2600:1f18::/64"
        ));
        for bad in ["10.0.0.0/16", "2600::", "2600::/129", "2600::/+4", "x/4"] {
            assert!(
                matches!(
                    Ipv6Cidr::parse_strict(bad),
                    Err(Ipv6CidrError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn tiers_take_the_slots_the_ipv4_carving_gives_them() {
        let carved = carve_ipv6(
            vpc(),
            &zones(&["us-east-1b", "us-east-1a"]),
            &BTreeMap::new(),
        );
        let text = |tier, zone: &str| carved[&(tier, zone.to_string())].to_string();
        assert_eq!(text(Tier::Public, "us-east-1a"), "2600:1f18:abcd:ef00::/64");
        assert_eq!(text(Tier::Public, "us-east-1b"), "2600:1f18:abcd:ef01::/64");
        assert_eq!(
            text(Tier::Private, "us-east-1a"),
            "2600:1f18:abcd:ef08::/64"
        );
        assert_eq!(
            text(Tier::Private, "us-east-1b"),
            "2600:1f18:abcd:ef09::/64"
        );
    }

    #[test]
    fn kept_blocks_stay_and_blocks_of_another_vpc_block_do_not() {
        let mut existing = BTreeMap::new();
        let kept: Ipv6Cidr = "2600:1f18:abcd:ef00::/64".parse().unwrap();
        let other: Ipv6Cidr = "2600:1f18:0:100::/64".parse().unwrap();
        existing.insert((Tier::Public, "us-east-1b".to_string()), kept);
        existing.insert((Tier::Private, "us-east-1b".to_string()), other);
        let carved = carve_ipv6(vpc(), &zones(&["us-east-1a", "us-east-1b"]), &existing);
        assert_eq!(carved[&(Tier::Public, "us-east-1b".into())], kept);
        assert_eq!(
            carved[&(Tier::Public, "us-east-1a".into())].to_string(),
            "2600:1f18:abcd:ef01::/64"
        );
        assert_eq!(
            carved[&(Tier::Private, "us-east-1b".into())].to_string(),
            "2600:1f18:abcd:ef09::/64"
        );
    }

    #[test]
    fn a_zone_swapped_in_does_not_take_the_block_of_the_zone_swapped_out() {
        let before = carve_ipv6(
            vpc(),
            &zones(&["us-east-1a", "us-east-1b"]),
            &BTreeMap::new(),
        );
        let after = carve_ipv6(vpc(), &zones(&["us-east-1a", "us-east-1c"]), &before);
        let old_b = before[&(Tier::Public, "us-east-1b".to_string())];
        assert_ne!(after[&(Tier::Public, "us-east-1c".to_string())], old_b);
        assert!(!after.contains_key(&(Tier::Public, "us-east-1b".to_string())));
        assert_eq!(
            after[&(Tier::Public, "us-east-1a".to_string())],
            before[&(Tier::Public, "us-east-1a".to_string())]
        );
    }

    proptest! {
        #[test]
        fn every_zone_gets_a_distinct_64_inside_the_vpc_and_kept_ones_never_move(
            count in 1usize..=8,
            removed in 0usize..8,
            seed in any::<u16>(),
        ) {
            let names: Vec<String> = (0..count).map(|i| format!("zone-{}", (i + seed as usize) % 11)).collect();
            let first = carve_ipv6(vpc(), &names, &BTreeMap::new());
            let blocks: BTreeSet<&Ipv6Cidr> = first.values().collect();
            prop_assert_eq!(blocks.len(), first.len());
            prop_assert!(first.values().all(|b| b.prefix() == SUBNET_PREFIX && vpc().contains(b)));
            // a zone removed and another added: the others keep their blocks
            let mut later = names.clone();
            if removed < later.len() { later.remove(removed); }
            later.push("zone-new".into());
            let second = carve_ipv6(vpc(), &later, &first);
            for (key, block) in &second {
                if let Some(before) = first.get(key) {
                    prop_assert_eq!(before, block);
                }
            }
            let distinct: BTreeSet<&Ipv6Cidr> = second.values().collect();
            prop_assert_eq!(distinct.len(), second.len());
        }
    }
}
