//! The VPC, its settings, subnets and internet gateway: ensured, and compared
//! with the spec for drift.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;

use super::inventory::{Inventory, SUBNET_KEYS};
use super::routing::extra_routes;
use super::run::{ignore_not_found, Result, Run};
use super::waiters::retry_propagation;
use crate::aws::ec2::{self, Found, VpcDns};
use crate::error::AwsError;
use crate::plan::blueprint::{nat_for_zone, Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{EnvironmentSpec, NatStrategy};

impl Run<'_> {
    /// The settings a VPC gets after creation: DNS support and hostnames on, the
    /// default security group stripped. Checked on every run, so a resumed create
    /// or a repair sets them too.
    pub(super) async fn ensure_vpc_settings(&self, inv: &Inventory, vpc_id: &str) -> Result<()> {
        let ec2c = &self.clients.ec2;
        let dns = retry_propagation(self.deadline, "VPC DNS attributes", || async {
            let current = match inv.vpc_dns {
                Some(current) if inv.vpc.is_some() => current,
                // a new VPC: AWS turns support on and hostnames off
                _ => ec2::vpc_dns(ec2c, vpc_id).await?,
            };
            ec2::set_vpc_dns(ec2c, vpc_id, current, VpcDns::WANTED).await
        });
        let default_group =
            retry_propagation(self.deadline, "the default security group", || async {
                let group = match &inv.default_group {
                    Some(group) if inv.vpc.is_some() => group.clone(),
                    _ => ec2::listed_default_security_group(ec2c, vpc_id).await?,
                };
                ec2::strip_default_security_group(ec2c, &group).await
            });
        let acls = async {
            let (Some(default), off) = subnets_off_default_acl(inv) else {
                return Ok(());
            };
            for (_, association, _) in off {
                ec2::replace_network_acl_association(ec2c, association, default).await?;
            }
            if let Some(changes) = default_acl_changes(inv, ipv6_rules_wanted(self.spec, inv)) {
                for entry in &changes.extra {
                    ec2::delete_network_acl_entry(ec2c, default, entry.rule_number, entry.egress)
                        .await?;
                }
                for (entry, replace) in &changes.restore {
                    match ec2::put_network_acl_entry(ec2c, default, entry, *replace).await {
                        // AWS added it as the VPC's IPv6 block was associated
                        Err(AwsError::Api { code, .. })
                            if code == "NetworkAclEntryAlreadyExists" =>
                        {
                            ec2::put_network_acl_entry(ec2c, default, entry, true).await?
                        }
                        other => other?,
                    }
                }
            }
            Ok::<_, AwsError>(())
        };
        let main_table = async {
            match (main_route_table_taken(inv), &inv.main_route_table) {
                (Some(_), Some(main)) => match &main.vpc_own {
                    Some(own) => {
                        ec2::replace_route_table_association(ec2c, &main.association, own).await
                    }
                    // the VPC's own main table was deleted, or cannot be told
                    // from another team's: the finding says what to do
                    None => Ok(()),
                },
                _ => Ok(()),
            }
        };
        let dhcp = async {
            let Some(wanted) = self.spec.dhcp_options.as_deref() else {
                return Ok(());
            };
            // a new VPC has the set AWS gives every new VPC: a configured one
            // is associated whatever that is
            if inv.dhcp_options().is_some_and(|c| c == wanted) {
                return Ok(());
            }
            retry_propagation(self.deadline, "DHCP options", || {
                ec2::associate_dhcp_options(ec2c, vpc_id, wanted)
            })
            .await
        };
        let blocks = try_join_all(inv.unused_vpc_blocks.iter().map(|block| async move {
            match ec2::disassociate_vpc_cidr_block(ec2c, &block.association_id).await {
                // a subnet made in it since it was read keeps it: the next
                // plan reports the subnet
                Err(AwsError::Api { code, .. }) if code == "InvalidCidrBlock.InUse" => Ok(()),
                other => other.or_else(ignore_not_found),
            }
        }));
        futures::try_join!(dns, default_group, acls, main_table, dhcp, blocks)?;
        Ok(())
    }

    pub(super) async fn ensure_subnets(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
    ) -> Result<BTreeMap<(Tier, String), String>> {
        let work = bp.subnets.iter().map(|((tier, zone), cidr)| async move {
            let component = Component::Subnet(*tier, zone.clone());
            let public = maps_public_ips_by_design(self.spec, *tier);
            let found = inv.object(&component.key());
            let id = match found {
                Some(found) => found.id.clone(),
                None => {
                    let tags = self.tags(&component);
                    let cidr = cidr.to_string();
                    let id = retry_propagation(self.deadline, "subnet", || {
                        ec2::create_subnet(&self.clients.ec2, vpc_id, zone, &cidr, &tags)
                    })
                    .await?;
                    id
                }
            };
            // a new subnet maps no public IPs, as private ones must not
            let maps_public_ip = found.is_some_and(maps_public_ip);
            if maps_public_ip != public {
                retry_propagation(self.deadline, "subnet public IP mapping", || {
                    ec2::map_public_ip_on_launch(&self.clients.ec2, &id, public)
                })
                .await?;
            }
            for (setting, _) in found
                .map(ec2::subnet_settings_off_default)
                .unwrap_or_default()
            {
                ec2::restore_subnet_setting(&self.clients.ec2, &id, setting).await?;
            }
            Ok::<_, AwsError>(((*tier, zone.clone()), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    pub(super) async fn ensure_internet_gateway(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<String> {
        let (id, attached) = match inv.object("igw") {
            Some(found) => (
                found.id.clone(),
                found.detail.get("vpc").is_some_and(|v| v == vpc_id),
            ),
            None => (
                ec2::create_internet_gateway(
                    &self.clients.ec2,
                    &self.tags(&Component::InternetGateway),
                )
                .await?,
                false,
            ),
        };
        if !attached {
            retry_propagation(self.deadline, "internet gateway attachment", || {
                ec2::attach_internet_gateway(&self.clients.ec2, &id, vpc_id)
            })
            .await?;
        }
        Ok(id)
    }
}

/// The VPC's DHCP options set and the one it should use, when they differ
/// (known once the configuration names one or the creation recorded AWS's).
fn dhcp_options_changed<'a>(
    spec: &'a EnvironmentSpec,
    inv: &'a Inventory,
) -> Option<(&'a str, &'a str)> {
    let wanted = spec.dhcp_options.as_deref()?;
    let current = inv.dhcp_options()?;
    (current != wanted).then_some((current.as_str(), wanted))
}

/// The environment's route table that was made the VPC's main one, by key.
fn main_route_table_taken(inv: &Inventory) -> Option<&str> {
    let main = inv.main_route_table.as_ref()?;
    inv.route_tables
        .iter()
        .find(|(_, t)| t.id == main.table)
        .map(|(key, _)| key.as_str())
}

/// The VPC's default network ACL, and each of the environment's subnets that
/// another ACL filters instead, as (component key, association ID, ACL ID).
fn subnets_off_default_acl(inv: &Inventory) -> (Option<&str>, Vec<(&str, &str, &str)>) {
    let default = inv
        .network_acls
        .iter()
        .find(|acl| acl.default)
        .map(|acl| acl.id.as_str());
    let off = inv
        .objects_of(SUBNET_KEYS)
        .filter_map(|(key, subnet)| {
            inv.network_acls
                .iter()
                .filter(|acl| !acl.default)
                .find_map(|acl| {
                    acl.associations.iter().find(|(_, s)| **s == subnet.id).map(
                        |(association, _)| (key.as_str(), association.as_str(), acl.id.as_str()),
                    )
                })
        })
        .collect();
    (default, off)
}

/// How the VPC's default network ACL, which filters every subnet of the
/// environment, differs from the rules AWS made it with.
struct DefaultAclChanges<'a> {
    acl: &'a str,
    /// rules AWS did not make (its final deny-all rules, 32767, cannot change)
    extra: Vec<&'a ec2::AclEntry>,
    /// AWS's allow-all rules to write back, and whether one of that number
    /// is there to replace
    restore: Vec<(ec2::AclEntry, bool)>,
    /// what the plan says of each difference
    said: Vec<String>,
}

/// Whether the default ACL is to have AWS's IPv6 allow rules: with `ipv6`
/// (AWS adds them with the VPC's block only to an ACL it finds unchanged),
/// and while the VPC has a block at all (turning `ipv6` off removes them
/// with the block).
fn ipv6_rules_wanted(spec: &EnvironmentSpec, inv: &Inventory) -> bool {
    spec.ipv6
        || inv
            .vpc
            .as_ref()
            .is_some_and(|v| ec2::Ipv6Association::of(v).is_some())
}

fn default_acl_changes(inv: &Inventory, ipv6: bool) -> Option<DefaultAclChanges<'_>> {
    let acl = inv.network_acls.iter().find(|acl| acl.default)?;
    let wanted_rules: Vec<ec2::AclEntry> = [false, true]
        .into_iter()
        .flat_map(|egress| ec2::AclEntry::allow_all_rules(egress, ipv6))
        .collect();
    let mut changes = DefaultAclChanges {
        acl: &acl.id,
        extra: Vec::new(),
        restore: Vec::new(),
        said: Vec::new(),
    };
    for wanted in &wanted_rules {
        let wanted = wanted.clone();
        let seen = acl
            .entries
            .iter()
            .find(|e| e.egress == wanted.egress && e.rule_number == wanted.rule_number);
        match seen {
            Some(entry) if *entry == wanted => {}
            Some(entry) => {
                changes.said.push(entry.to_string());
                changes.restore.push((wanted, true));
            }
            None => {
                changes.said.push(format!("no {wanted}"));
                changes.restore.push((wanted, false));
            }
        }
    }
    // AWS's allow-all rules are written back above when changed; the final
    // rules cannot change
    changes.extra = acl
        .entries
        .iter()
        .filter(|e| {
            !wanted_rules
                .iter()
                .any(|w| w.egress == e.egress && w.rule_number == e.rule_number)
                && !ec2::AclEntry::FINAL_RULES.contains(&e.rule_number)
        })
        .collect();
    changes
        .said
        .extend(changes.extra.iter().map(ToString::to_string));
    (!changes.said.is_empty()).then_some(changes)
}

/// Whether subnets of `tier` map public IPv4 addresses on launch: the public
/// ones while a bastion may need one; without a bastion only the load
/// balancer's nodes live there, which AWS addresses itself, so none does
/// (Security Hub's EC2.15 passes).
pub(super) fn maps_public_ips_by_design(spec: &EnvironmentSpec, tier: Tier) -> bool {
    tier == Tier::Public && spec.bastion.is_some()
}

pub(super) fn maps_public_ip(subnet: &Found) -> bool {
    subnet
        .detail
        .get("map_public_ip")
        .is_some_and(|v| v == "true")
}

/// How the regional NAT gateway's addresses differ from the plan: each zone's
/// traffic goes out from that zone's Elastic IP of the environment, and from
/// no other address.
fn regional_nat_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let key = Component::NatGateway(NatStrategy::REGIONAL_KEY.to_string()).key();
    let Some(nat) = inv
        .object(&key)
        .filter(|_| spec.nat == NatStrategy::Regional)
    else {
        return Vec::new();
    };
    let wanted = |zone: &str| {
        inv.addresses
            .get(&Component::ElasticIp(zone.to_string()).key())
            .map(|a| a.id.clone())
    };
    let held: Vec<ec2::GatewayAddress> = ec2::GatewayAddress::all_of(nat)
        .into_iter()
        .filter(ec2::GatewayAddress::in_use)
        .collect();
    let mut findings = Vec::new();
    for zone in &bp.address_zones {
        let Some(allocation) = wanted(zone) else {
            // a missing address is a finding of its own
            continue;
        };
        if !held
            .iter()
            .any(|a| &a.zone == zone && a.allocation == allocation)
        {
            findings.push(Finding::new(
                &key,
                format!("does not send {zone}'s traffic out from its Elastic IP {allocation}"),
                Repair::InPlace("associates it"),
            ));
        }
    }
    for address in &held {
        if wanted(&address.zone).as_ref() != Some(&address.allocation) {
            findings.push(Finding::new(
                &key,
                format!(
                    "sends {}'s traffic out from Elastic IP {}, which is not the environment's address for that zone",
                    address.zone, address.allocation
                ),
                Repair::InPlace("disassociates it"),
            ));
        }
    }
    findings
}

/// VPC DNS, public IP mapping of the subnets, and the routes and associations
/// of every route table.
pub(super) fn network_drift(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let (Some(key), Some(main)) = (main_route_table_taken(inv), &inv.main_route_table) {
        const TAKEN: &str = "is the VPC's main route table, so every subnet without a table of its own routes through it";
        findings.push(match (&main.vpc_own, main.others.as_slice()) {
            (Some(own), _) => Finding::new(
                key,
                format!("{TAKEN}; the VPC's own is {own}"),
                Repair::InPlace("gives the main association back to the VPC's own table"),
            ),
            (None, []) => Finding::new(
                key,
                format!("{TAKEN}, and no other table of the VPC can be the VPC's own (none has only the local route and no subnet)"),
                Repair::InPlace("leaves it: make a table with only the local route main (aws ec2 replace-route-table-association)"),
            ),
            (None, others) => Finding::new(
                key,
                format!(
                    "{TAKEN}, and which of {} is the VPC's own cannot be told",
                    others.join(", ")
                ),
                Repair::InPlace("leaves it, never making another team's table main: make the VPC's own main again (aws ec2 replace-route-table-association)"),
            ),
        });
    }
    if let (Some(default), off) = subnets_off_default_acl(inv) {
        findings.extend(off.into_iter().map(|(key, _, acl)| {
            Finding::new(
                key,
                format!(
                    "is filtered by network ACL {acl} instead of the VPC's default {default}, whose rules the environment's traffic needs"
                ),
                Repair::InPlace("moves it back to the VPC's default network ACL"),
            )
        }));
    }
    if let Some(changes) = default_acl_changes(inv, ipv6_rules_wanted(spec, inv)) {
        findings.push(Finding::new(
            "vpc",
            format!(
                "has default network ACL {}, which filters the environment's subnets, with rules other than AWS's defaults: {}",
                changes.acl,
                changes.said.join(", ")
            ),
            Repair::InPlace("restores AWS's default rules"),
        ));
    }
    if let Some(dns) = inv.vpc_dns {
        for (on, what) in [
            (dns.support, "DNS support"),
            (dns.hostnames, "DNS hostnames"),
        ] {
            if !on {
                findings.push(Finding::new(
                    "vpc",
                    format!("has {what} off"),
                    Repair::InPlace("turns it on"),
                ));
            }
        }
    }
    findings.extend(inv.unused_vpc_blocks.iter().map(|block| {
        Finding::new(
            "vpc",
            format!(
                "has IPv4 block {} ({}) besides its own, which the environment does not declare",
                block.cidr, block.association_id
            ),
            Repair::InPlace("disassociates it"),
        )
    }));
    if let Some((current, wanted)) = dhcp_options_changed(spec, inv) {
        findings.push(Finding::new(
            "vpc",
            format!(
                "uses DHCP options set {current} instead of {wanted}, so its instances may be given other DNS servers"
            ),
            Repair::InPlace("associates the environment's set again"),
        ));
    }
    findings.extend(regional_nat_drift(spec, bp, inv));
    let subnet =
        |tier: Tier, zone: &str| inv.object(&Component::Subnet(tier, zone.to_string()).key());
    for (tier, zone) in bp.subnets.keys() {
        let Some(found) = subnet(*tier, zone) else {
            continue;
        };
        let public = maps_public_ips_by_design(spec, *tier);
        if maps_public_ip(found) != public {
            let key = Component::Subnet(*tier, zone.clone()).key();
            findings.push(if public {
                Finding::new(
                    key,
                    "does not map public IPs on launch",
                    Repair::InPlace("turns it on"),
                )
            } else {
                Finding::new(
                    key,
                    "maps public IPs on launch",
                    Repair::InPlace("turns it off"),
                )
            });
        }
        let off_default = ec2::subnet_settings_off_default(found);
        if !off_default.is_empty() {
            let differences: Vec<String> = off_default
                .iter()
                .map(|(setting, seen)| {
                    format!(
                        "{} {seen} instead of {}",
                        setting.words(),
                        setting.default()
                    )
                })
                .collect();
            findings.push(Finding::new(
                Component::Subnet(*tier, zone.clone()).key(),
                format!(
                    "has DNS settings for its instances other than AWS's defaults: {}",
                    differences.join(", ")
                ),
                Repair::InPlace("restores them"),
            ));
        }
    }
    let names: BTreeMap<&String, &String> = inv
        .objects_of(SUBNET_KEYS)
        .map(|(k, s)| (&s.id, k))
        .collect();
    /// A route table as planned: where its default route goes, which subnets it serves.
    struct Planned<'a> {
        component: Component,
        /// whether the table has a default route at all
        routed: bool,
        /// the gateway it goes to, when that exists
        target: Option<String>,
        subnets: Vec<(Tier, &'a String)>,
    }
    let mut tables = vec![Planned {
        component: Component::PublicRouteTable,
        routed: true,
        target: inv.object("igw").map(|g| g.id.clone()),
        subnets: bp.zones.iter().map(|z| (Tier::Public, z)).collect(),
    }];
    for zone in &bp.zones {
        let nat_zone = nat_for_zone(spec.nat, &bp.zones, zone);
        tables.push(Planned {
            component: Component::PrivateRouteTable(zone.clone()),
            routed: nat_zone.is_some(),
            target: nat_zone
                .and_then(|z| inv.object(&Component::NatGateway(z).key()))
                .map(|n| n.id.clone()),
            subnets: vec![(Tier::Private, zone)],
        });
    }
    for Planned {
        component,
        routed,
        target,
        subnets,
    } in tables
    {
        let key = component.key();
        let Some(table) = inv.route_tables.get(&key) else {
            continue;
        };
        let current = table.routes.get("0.0.0.0/0");
        if current != target.as_ref() {
            findings.push(match (component, routed) {
                (Component::PublicRouteTable, _) => Finding::new(
                    &key,
                    "has no default route to the internet gateway",
                    Repair::InPlace("restores the route"),
                ),
                (_, true) => Finding::new(
                    &key,
                    match current {
                        // the private subnets' instances would be reachable
                        // from, and reach, the internet directly
                        Some(via) if inv.object("igw").is_some_and(|g| &g.id == via) => {
                            format!("routes 0.0.0.0/0 to the internet gateway {via} instead of its NAT gateway, which exposes the private subnet")
                        }
                        Some(via) => {
                            format!("does not route to its NAT gateway (0.0.0.0/0 goes to {via})")
                        }
                        None => "does not route to its NAT gateway (no default route)".to_string(),
                    },
                    Repair::InPlace("restores the route"),
                ),
                (_, false) => Finding::new(
                    &key,
                    "has a default route though nat_gateways is \"none\"",
                    Repair::InPlace("removes it"),
                ),
            });
        }
        for destination in extra_routes(table) {
            findings.push(Finding::new(
                &key,
                format!(
                    "has an extra route to {destination} via {}",
                    table.routes[&destination]
                ),
                Repair::InPlace("removes it"),
            ));
        }
        let associated: BTreeSet<&String> = table.associations.values().collect();
        for (tier, zone) in &subnets {
            if let Some(found) = subnet(*tier, zone) {
                if !associated.contains(&found.id) {
                    findings.push(Finding::new(
                        &key,
                        format!(
                            "is not associated with {}",
                            Component::Subnet(*tier, (*zone).clone()).key()
                        ),
                        Repair::InPlace("associates it"),
                    ));
                }
            }
        }
        for subnet in associated.iter().filter(|s| !names.contains_key(*s)) {
            let what = match subnet.starts_with("subnet-") {
                true => format!("is associated with {subnet}, which is not the environment's"),
                // ingress routing: what arrives through the gateway goes
                // where this table says, past the VPC's own routing
                false => format!("is the edge route table of gateway {subnet}, so traffic arriving through it is routed by this table"),
            };
            findings.push(Finding::new(
                &key,
                what,
                Repair::InPlace("disassociates it"),
            ));
        }
        for gateway in &table.propagating {
            findings.push(Finding::new(
                &key,
                format!("takes the routes virtual private gateway {gateway} propagates"),
                Repair::InPlace("turns route propagation off"),
            ));
        }
    }
    findings
}
