//! The `bastion` block: the networks allowed to reach it.

use tf_provider::value::Value;

use crate::environment::model::{first, EnvironmentState};
use crate::plan::cidr::Cidr;

use super::{
    attr, check_instance_profile, check_rule_count, in_block, Checker, Step,
    MAX_SSH_PUBLIC_ADDRESSES,
};

pub(super) fn check_bastion(c: &mut Checker, config: &EnvironmentState) {
    let block = first(&config.bastion);
    let enabled = match block.map(|b| &b.enabled) {
        None | Some(Value::Null) | Some(Value::Value(true)) => Some(true),
        Some(Value::Value(false)) => Some(false),
        Some(Value::Unknown) => None,
    };
    let ssh = block
        .map(|b| b.ssh_ingress_cidrs.clone())
        .unwrap_or_default();
    let path = in_block("bastion", "ssh_ingress_cidrs");
    let cidrs = c.cidr_list(&ssh, &path);
    if let Value::Value(items) = &ssh {
        for (index, item) in items.iter().enumerate() {
            if let Some(cidr) = item.as_ref_option().and_then(|t| t.parse::<Cidr>().ok()) {
                if cidr.prefix() == 0 {
                    let mut at = path.clone();
                    at.push(Step::Index(index as i64));
                    c.fail(at, "SSH open to the whole internet", format!("`{cidr}` would expose SSH to every address. List your office or VPN ranges instead, such as 203.0.113.0/24."));
                }
            }
        }
    }
    check_rule_count(
        c,
        path.clone(),
        &cidrs,
        &[crate::plan::security::SSH_PORT],
        "the bastion's security group",
    );
    let all_known = matches!(&ssh, Value::Value(items) if items.iter().all(|i| !i.is_unknown()));
    let literal_world = cidrs.iter().any(|cidr| cidr.prefix() == 0);
    let reach = public_addresses(&cidrs);
    if all_known && !literal_world && reach > MAX_SSH_PUBLIC_ADDRESSES {
        c.fail(
            path.clone(),
            "SSH open to too much of the internet",
            format!("Together these blocks let {reach} public addresses reach SSH ({:.0}% of the IPv4 internet); at most {MAX_SSH_PUBLIC_ADDRESSES} (a /8) are allowed, and private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10) do not count. List your office or VPN ranges, such as 203.0.113.0/24.", reach as f64 * 100.0 / (1u64 << 32) as f64),
        );
    }
    if let Some(bastion) = block {
        check_instance_profile(c, "bastion", &bastion.iam_instance_profile);
    }
    if let Some(Value::Value(key)) = block.map(|b| &b.key_name) {
        if key.is_empty() || key.len() > 255 || !key.is_ascii() {
            c.fail(in_block("bastion", "key_name"), "Invalid key pair name", format!("`{key}` cannot name an EC2 key pair: names have 1 to 255 ASCII characters. Give the name of a key pair of this region, or leave key_name out."));
        }
    }
    let missing =
        matches!(ssh, Value::Null) || matches!(&ssh, Value::Value(items) if items.is_empty());
    if enabled == Some(true) && missing && cidrs.is_empty() {
        let at = if block.is_some() {
            path
        } else {
            attr("bastion")
        };
        c.fail(at, "Bastion needs ssh_ingress_cidrs", "The bastion is enabled (the default) but no address may reach it. Add `bastion { ssh_ingress_cidrs = [\"203.0.113.0/24\"] }` with your admin ranges, or `bastion { enabled = false }`.");
    }
}

/// How many addresses outside the private ranges the blocks cover together.
pub(super) fn public_addresses(cidrs: &[Cidr]) -> u64 {
    let span = |cidr: &Cidr| {
        let start = u64::from(u32::from(cidr.network()));
        (start, start + cidr.size())
    };
    let mut spans: Vec<(u64, u64)> = cidrs.iter().map(span).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let private: Vec<(u64, u64)> = [
        "10.0.0.0/8",
        "100.64.0.0/10",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ]
    .iter()
    .filter_map(|text| text.parse::<Cidr>().ok())
    .map(|cidr| span(&cidr))
    .collect();
    merged
        .iter()
        .map(|&(start, end)| {
            let inside_private: u64 = private
                .iter()
                .map(|&(p_start, p_end)| end.min(p_end).saturating_sub(start.max(p_start)))
                .sum();
            end - start - inside_private
        })
        .sum()
}
