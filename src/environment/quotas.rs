//! Account quotas plan can check before apply meets them half way: the
//! Elastic IPs the NAT gateways need against the addresses the account has
//! left in the region.

use crate::aws::ec2::AddressHeadroom;

/// Why `nat_gateways = strategy`, which needs `needed` addresses, cannot get
/// them, with the numbers and the ways out; `None` when it can.
pub fn address_shortfall(
    strategy: &str,
    needed: usize,
    headroom: AddressHeadroom,
) -> Option<String> {
    // the environment's own addresses are reused; only the rest are allocated
    let new = needed.saturating_sub(headroom.environments_own);
    let left = headroom.quota.saturating_sub(headroom.in_use);
    if new <= left {
        return None;
    }
    let reused = match headroom.environments_own.min(needed) {
        0 => String::new(),
        own => format!(", {own} of them the environment's own"),
    };
    let each = if strategy == crate::plan::spec::NatStrategy::Regional.as_str() {
        "one per zone for the regional NAT gateway"
    } else {
        "one per NAT gateway"
    };
    Some(format!(
        "nat_gateways = \"{strategy}\" needs {needed} Elastic IPs ({each}{reused}), so {new} new, but the account uses {} of its {} in this region ({left} left). Release Elastic IPs nothing uses, ask for a higher \"EC2-VPC Elastic IPs\" quota in Service Quotas, or choose fewer NAT gateways (\"single\" needs one).",
        headroom.in_use, headroom.quota
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headroom(quota: usize, in_use: usize, environments_own: usize) -> AddressHeadroom {
        AddressHeadroom {
            quota,
            in_use,
            environments_own,
        }
    }

    #[test]
    fn too_few_addresses_left_for_the_new_nat_gateways_is_refused_with_the_numbers() {
        assert_eq!(
            address_shortfall("one_per_az", 2, headroom(5, 4, 0)).as_deref(),
            Some("nat_gateways = \"one_per_az\" needs 2 Elastic IPs (one per NAT gateway), so 2 new, but the account uses 4 of its 5 in this region (1 left). Release Elastic IPs nothing uses, ask for a higher \"EC2-VPC Elastic IPs\" quota in Service Quotas, or choose fewer NAT gateways (\"single\" needs one).")
        );
        assert_eq!(
            address_shortfall("one_per_az", 3, headroom(5, 5, 1)).as_deref(),
            Some("nat_gateways = \"one_per_az\" needs 3 Elastic IPs (one per NAT gateway, 1 of them the environment's own), so 2 new, but the account uses 5 of its 5 in this region (0 left). Release Elastic IPs nothing uses, ask for a higher \"EC2-VPC Elastic IPs\" quota in Service Quotas, or choose fewer NAT gateways (\"single\" needs one).")
        );
    }

    #[test]
    fn addresses_the_environment_has_or_the_account_can_spare_pass() {
        assert_eq!(address_shortfall("one_per_az", 2, headroom(5, 3, 0)), None);
        assert_eq!(address_shortfall("one_per_az", 2, headroom(5, 5, 2)), None);
        assert_eq!(address_shortfall("none", 0, headroom(5, 5, 0)), None);
    }
}
