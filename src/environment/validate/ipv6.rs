//! `ipv6` and the IPv6 blocks allowed in: well-formed, used only with
//! `ipv6`, never the whole internet for SSH.

use tf_provider::value::Value;

use crate::environment::model::{first, EnvironmentState, StrList};
use crate::plan::ipv6::Ipv6Cidr;

use super::{in_block, Checker, Step, MAX_INGRESS_RULES};

pub(super) fn check_ipv6(c: &mut Checker, config: &EnvironmentState) {
    let off = config.ipv6 != Value::Value(true) && !config.ipv6.is_unknown();
    let lb = first(&config.load_balancer).map(|lb| &lb.ingress_ipv6_cidrs);
    let ssh = first(&config.bastion).map(|b| &b.ssh_ingress_ipv6_cidrs);
    let lb_ports = match first(&config.load_balancer) {
        Some(lb) if !lb.certificate_arn.is_null() => 2,
        _ => 1,
    };
    for (list, block, attribute, ports, what) in [
        (
            lb,
            "load_balancer",
            "ingress_ipv6_cidrs",
            lb_ports,
            "the load balancer's",
        ),
        (ssh, "bastion", "ssh_ingress_ipv6_cidrs", 1, "the bastion's"),
    ] {
        let Some(list) = list else { continue };
        let path = in_block(block, attribute);
        let blocks = ipv6_list(c, list, &path);
        let listed = matches!(list, Value::Value(items) if !items.is_empty());
        if off && listed {
            c.fail(
                path.clone(),
                "IPv6 blocks without ipv6",
                format!("{attribute} admits IPv6 clients, but the environment has no IPv6 (`ipv6` is off), so nothing could reach it over IPv6. Set `ipv6 = true`, or leave {attribute} out."),
            );
        }
        if block == "bastion" {
            for (index, cidr) in &blocks {
                if cidr.prefix() == 0 {
                    let mut at = path.clone();
                    at.push(Step::Index(*index as i64));
                    c.fail(at, "SSH open to the whole internet", format!("`{cidr}` would expose SSH to every IPv6 address. List your office or VPN ranges instead, such as 2001:db8:1234::/48."));
                }
            }
        }
        let distinct: std::collections::BTreeSet<&Ipv6Cidr> =
            blocks.iter().map(|(_, b)| b).collect();
        let rules = distinct.len() * ports;
        if rules > MAX_INGRESS_RULES {
            c.fail(path, "Too many inbound rules", format!("These {} blocks make {rules} IPv6 inbound rules on {what} security group; AWS allows {MAX_INGRESS_RULES} per security group for IPv6. List at most {} blocks, merging neighbouring ones into larger blocks.", distinct.len(), MAX_INGRESS_RULES / ports));
        }
    }
}

/// The known items of `list` that parse, with their index; the others are refused.
fn ipv6_list(c: &mut Checker, list: &StrList, base: &[Step]) -> Vec<(usize, Ipv6Cidr)> {
    let Value::Value(items) = list else {
        return Vec::new();
    };
    let mut parsed = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Value::Value(text) = item else { continue };
        match text.parse::<Ipv6Cidr>() {
            Ok(cidr) => parsed.push((index, cidr)),
            Err(e) => {
                let mut path = base.to_vec();
                path.push(Step::Index(index as i64));
                c.fail(
                    path,
                    "Invalid IPv6 CIDR block",
                    format!("{e}. Write an IPv6 network such as 2001:db8:1234::/48."),
                );
            }
        }
    }
    parsed
}
