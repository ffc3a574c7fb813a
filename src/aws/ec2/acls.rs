//! Network ACLs: which one filters each subnet's traffic, and its rules.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::RuleAction;
use aws_sdk_ec2::Client;

use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;

use super::{filter_any, Result};

/// A network ACL of the VPC and the subnets it filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkAcl {
    pub id: String,
    /// the VPC's default ACL, which AWS made with the VPC (allow all, both ways)
    pub default: bool,
    /// association ID -> subnet
    pub associations: BTreeMap<String, String>,
    /// its rules, both directions, AWS's final deny-all ones (32767) included
    pub entries: Vec<AclEntry>,
}

/// One rule of a network ACL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclEntry {
    pub rule_number: i32,
    /// outbound
    pub egress: bool,
    pub allow: bool,
    /// AWS's protocol number as text, `-1` for all traffic
    pub protocol: String,
    /// the IPv4 or IPv6 block it matches
    pub cidr: String,
    pub ports: Option<(i32, i32)>,
}

impl AclEntry {
    /// The number of AWS's allow-all rule in a default ACL.
    pub const ALLOW_ALL_RULE: i32 = 100;
    /// The number of the IPv6 allow-all rule AWS adds to the default ACL when
    /// the VPC gets an IPv6 block.
    pub const ALLOW_ALL_IPV6_RULE: i32 = 101;
    /// AWS's final deny-all rules, IPv4 and IPv6, which cannot change.
    pub const FINAL_RULES: [i32; 2] = [32767, 32768];

    /// AWS's allow-all rules of a default ACL in one direction: rule 100 for
    /// IPv4, and rule 101 for IPv6 when the VPC has an IPv6 block.
    pub fn allow_all_rules(egress: bool, ipv6: bool) -> Vec<AclEntry> {
        let mut rules = vec![AclEntry::allow_all(egress)];
        if ipv6 {
            rules.push(AclEntry {
                rule_number: AclEntry::ALLOW_ALL_IPV6_RULE,
                cidr: "::/0".into(),
                ..AclEntry::allow_all(egress)
            });
        }
        rules
    }

    /// The rule AWS puts in every default ACL, in both directions: rule 100
    /// allows all traffic from and to anywhere.
    pub fn allow_all(egress: bool) -> AclEntry {
        AclEntry {
            rule_number: AclEntry::ALLOW_ALL_RULE,
            egress,
            allow: true,
            protocol: "-1".into(),
            cidr: "0.0.0.0/0".into(),
            ports: None,
        }
    }
}

impl std::fmt::Display for AclEntry {
    /// `inbound rule 50 denies all traffic from 0.0.0.0/0`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (direction, from) = if self.egress {
            ("outbound", "to")
        } else {
            ("inbound", "from")
        };
        let verb = if self.allow { "allows" } else { "denies" };
        let protocol = match self.protocol.as_str() {
            "-1" => "all traffic".to_string(),
            "6" => "tcp".to_string(),
            "17" => "udp".to_string(),
            "1" => "icmp".to_string(),
            other => format!("protocol {other}"),
        };
        let ports = match self.ports {
            Some((low, high)) if low == high => format!(" port {low}"),
            Some((low, high)) => format!(" ports {low}-{high}"),
            None => String::new(),
        };
        write!(
            f,
            "{direction} rule {} {verb} {protocol}{ports} {from} {}",
            self.rule_number, self.cidr
        )
    }
}

/// Every network ACL of `vpc`; the reads of several VPCs at the same moment
/// share one call.
pub async fn network_acls(
    client: &Client,
    batches: &Batches,
    vpc: &str,
) -> Result<Vec<NetworkAcl>> {
    batches
        .read_with(
            client,
            "DescribeNetworkAcls",
            "vpc-id",
            EC2_FILTER_VALUES,
            vpc,
            |client, vpcs| async move {
                let out = client
                    .describe_network_acls()
                    .filters(filter_any("vpc-id", vpcs))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeNetworkAcls", e))?;
                Ok(out
                    .network_acls()
                    .iter()
                    .map(|acl| (acl.vpc_id().unwrap_or_default().to_string(), acl_of(acl)))
                    .collect())
            },
        )
        .await
}

fn acl_of(acl: &aws_sdk_ec2::types::NetworkAcl) -> NetworkAcl {
    NetworkAcl {
        id: acl.network_acl_id().unwrap_or_default().into(),
        default: acl.is_default().unwrap_or(false),
        associations: acl
            .associations()
            .iter()
            .filter_map(|a| {
                Some((
                    a.network_acl_association_id()?.to_string(),
                    a.subnet_id()?.to_string(),
                ))
            })
            .collect(),
        entries: acl
            .entries()
            .iter()
            .map(|entry| AclEntry {
                rule_number: entry.rule_number().unwrap_or_default(),
                egress: entry.egress().unwrap_or(false),
                allow: entry.rule_action() == Some(&RuleAction::Allow),
                protocol: entry.protocol().unwrap_or("-1").to_string(),
                cidr: entry
                    .cidr_block()
                    .or(entry.ipv6_cidr_block())
                    .unwrap_or_default()
                    .to_string(),
                ports: entry.port_range().and_then(|r| Some((r.from()?, r.to()?))),
            })
            .collect(),
    }
}

/// Deletes rule `rule_number` of `acl` in one direction.
pub async fn delete_network_acl_entry(
    client: &Client,
    acl: &str,
    rule_number: i32,
    egress: bool,
) -> Result<()> {
    client
        .delete_network_acl_entry()
        .network_acl_id(acl)
        .rule_number(rule_number)
        .egress(egress)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteNetworkAclEntry", e))?;
    Ok(())
}

/// Writes `entry` (without ports) into `acl`: replaces the rule of that
/// number and direction when there is one (`replace`), else adds it.
pub async fn put_network_acl_entry(
    client: &Client,
    acl: &str,
    entry: &AclEntry,
    replace: bool,
) -> Result<()> {
    let action = if entry.allow {
        RuleAction::Allow
    } else {
        RuleAction::Deny
    };
    // the two calls take the same settings through builders of distinct types
    macro_rules! entry_call {
        ($builder:expr, $operation:literal) => {
            $builder
                .network_acl_id(acl)
                .rule_number(entry.rule_number)
                .egress(entry.egress)
                .rule_action(action)
                .protocol(&entry.protocol)
                .set_cidr_block((!entry.cidr.contains(':')).then(|| entry.cidr.clone()))
                .set_ipv6_cidr_block(entry.cidr.contains(':').then(|| entry.cidr.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk($operation, e))
        };
    }
    if replace {
        entry_call!(client.replace_network_acl_entry(), "ReplaceNetworkAclEntry")
    } else {
        entry_call!(client.create_network_acl_entry(), "CreateNetworkAclEntry")
    }
}

/// Moves a subnet's association (`association`) to network ACL `acl`.
pub async fn replace_network_acl_association(
    client: &Client,
    association: &str,
    acl: &str,
) -> Result<()> {
    client
        .replace_network_acl_association()
        .association_id(association)
        .network_acl_id(acl)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ReplaceNetworkAclAssociation", e))?;
    Ok(())
}
