//! IPv6 dual-stack: the VPC's Amazon-provided /56, a /64 per subnet and the
//! egress-only internet gateway, ensured; taken away in the order AWS allows
//! when `ipv6` is turned off; and compared for drift. The `::/0` routes are
//! the route tables' (see [`super::routing::DefaultRoutes`]), the load
//! balancer's address type and the IPv6 rules are the load balancer's and the
//! security groups'.

use std::collections::BTreeMap;

use futures::future::try_join_all;

use super::inventory::{Inventory, SUBNET_KEYS};
use super::run::{ignore_not_found, Result, Run};
use super::teardown::{each, Teardown};
use super::waiters::{delete_with_retry, poll_until, retry_propagation};
use crate::aws::ec2::{self, Found, Ipv6Association};
use crate::error::AwsError;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::drift::{Finding, Repair};
use crate::plan::ipv6::{carve_ipv6, Ipv6Cidr};
use crate::plan::spec::EnvironmentSpec;

/// Whether instances launched in a subnet get an IPv6 address.
fn assigns_ipv6(subnet: &Found) -> bool {
    subnet
        .detail
        .get("assign_ipv6")
        .is_some_and(|v| v == "true")
}

impl Run<'_> {
    /// With `ipv6`, the VPC's IPv6 block: asked of AWS's pool when the VPC
    /// has none, and waited for until AWS has associated it (subnets can take
    /// a /64 of it only then).
    pub(super) async fn ensure_vpc_ipv6(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<Option<Ipv6Cidr>> {
        if !self.spec.ipv6 {
            return Ok(None);
        }
        let ec2c = &self.clients.ec2;
        let current = inv
            .vpc
            .as_ref()
            .filter(|v| v.id == vpc_id)
            .and_then(Ipv6Association::of);
        let association = match current {
            Some(association) if association.state == "associated" => association,
            seen => {
                // asked again first: an interrupted run may have asked
                // already, and AWS would give the VPC a second block
                let asked = match seen {
                    Some(_) => true,
                    None => ec2::vpc_ipv6(ec2c, vpc_id)
                        .await
                        .or_else(|e| e.or_gone(None))?
                        .is_some(),
                };
                if !asked {
                    retry_propagation(self.deadline, "the VPC's IPv6 block", || {
                        ec2::associate_vpc_ipv6(ec2c, vpc_id)
                    })
                    .await?;
                }
                poll_until(
                    self.deadline,
                    &format!("the IPv6 block of VPC {vpc_id} to be associated"),
                    || async {
                        // a VPC made moments ago may not be seen yet
                        match ec2::vpc_ipv6(ec2c, vpc_id).await {
                            Ok(found) => Ok(found.filter(|a| a.state == "associated")),
                            Err(e) if e.is_not_found() => Ok(None),
                            Err(e) => Err(e),
                        }
                    },
                )
                .await?
            }
        };
        association
            .block
            .parse()
            .map(Some)
            .map_err(|_| AwsError::MissingField {
                operation: "DescribeVpcs",
                field: "Ipv6CidrBlock",
            })
    }

    /// Gives each subnet its /64 of `vpc_block` (kept where it has one), and
    /// sets whether instances launched there get an IPv6 address.
    pub(super) async fn ensure_subnet_ipv6(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        subnets: &BTreeMap<(Tier, String), String>,
        vpc_block: Option<Ipv6Cidr>,
    ) -> Result<()> {
        let found =
            |key: &(Tier, String)| inv.object(&Component::Subnet(key.0, key.1.clone()).key());
        let blocks = vpc_block.map(|vpc| {
            let mut kept = self.spec.ipv6_subnet_cidrs.clone();
            // every subnet's block, a removed zone's included: that subnet
            // is deleted only once the new ones serve
            kept.extend(inv.objects_of(SUBNET_KEYS).filter_map(|(key, subnet)| {
                let (tier, zone) = key.strip_prefix("subnet/")?.split_once('/')?;
                let tier = Tier::ALL.into_iter().find(|t| t.as_str() == tier)?;
                let block = Ipv6Association::of(subnet)?.block.parse().ok()?;
                Some(((tier, zone.to_string()), block))
            }));
            carve_ipv6(vpc, &bp.zones, &kept)
        });
        let associations = subnets.iter().map(|(key, id)| {
            let block = blocks.as_ref().and_then(|blocks| blocks.get(key));
            async move {
                if let (None, Some(block)) = (found(key).and_then(Ipv6Association::of), block) {
                    let block = block.to_string();
                    retry_propagation(self.deadline, "a subnet's IPv6 block", || {
                        ec2::associate_subnet_ipv6(&self.clients.ec2, id, &block)
                    })
                    .await?;
                }
                Ok::<_, AwsError>(())
            }
        });
        try_join_all(associations).await?;
        // AWS takes a moment to associate a block, and refuses a dualstack
        // load balancer and the assignment until it has: one poll for all
        let unsettled: Vec<String> = subnets
            .iter()
            .filter(|(key, _)| {
                found(key)
                    .and_then(Ipv6Association::of)
                    .is_none_or(|a| a.state != "associated")
            })
            .map(|(_, id)| id.clone())
            .collect();
        if self.spec.ipv6 && !unsettled.is_empty() {
            poll_until(
                self.deadline,
                "the subnets' IPv6 blocks to be associated",
                || async {
                    match ec2::subnet_ipv6_states(&self.clients.ec2, &unsettled).await {
                        Ok(states) => Ok(unsettled
                            .iter()
                            .all(|id| {
                                states
                                    .get(id)
                                    .is_some_and(|s| s.iter().any(|s| s == "associated"))
                            })
                            .then_some(())),
                        // a subnet made moments ago may not be seen yet
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        let work = subnets.iter().map(|(key, id)| async move {
            let subnet = found(key);
            if subnet.is_some_and(assigns_ipv6) != self.spec.ipv6 {
                retry_propagation(self.deadline, "a subnet's IPv6 assignment", || {
                    ec2::assign_ipv6_on_creation(&self.clients.ec2, id, self.spec.ipv6)
                })
                .await?;
            }
            Ok::<_, AwsError>(())
        });
        try_join_all(work).await?;
        Ok(())
    }

    /// With `ipv6`, the VPC's egress-only internet gateway: the private
    /// subnets' way out over IPv6, with no way in.
    pub(super) async fn ensure_egress_only_gateway(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<Option<String>> {
        if !self.spec.ipv6 {
            return Ok(None);
        }
        if let Some(found) = inv.object("eigw") {
            return Ok(Some(found.id.clone()));
        }
        let tags = self.tags(&Component::EgressOnlyInternetGateway);
        retry_propagation(self.deadline, "egress-only internet gateway", || {
            ec2::create_egress_only_internet_gateway(&self.clients.ec2, vpc_id, &tags)
        })
        .await
        .map(Some)
    }

    /// With `ipv6`, the bastion kept running that has no IPv6 address (it
    /// was launched before IPv6 was turned on) gets one, so the IPv6 blocks
    /// allowed SSH can reach it; a bastion launched now gets one from its
    /// subnet.
    pub(super) async fn ensure_bastion_ipv6(&self, bastion: &Found) -> Result<()> {
        if !self.spec.ipv6 {
            return Ok(());
        }
        let interface = bastion
            .detail
            .get("primary_interface")
            .filter(|i| !i.is_empty());
        match interface {
            Some(interface) if ec2::ipv6_addresses_of(bastion).is_empty() => {
                retry_propagation(self.deadline, "the bastion's IPv6 address", || {
                    ec2::assign_ipv6_address(&self.clients.ec2, interface)
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// Without `ipv6`, once the routes and the load balancer no longer use
    /// IPv6: the environment's instances give up their IPv6 addresses (AWS
    /// keeps a subnet's block while any is held), then the subnets' blocks
    /// go, then the VPC's, and the egress-only internet gateway.
    pub(super) async fn remove_ipv6(&self, inv: &Inventory) -> Result<()> {
        if self.spec.ipv6 {
            return Ok(());
        }
        let ec2c = &self.clients.ec2;
        let deadline = self.deadline;
        let held = inv
            .bastion
            .iter()
            .chain(&inv.app_instances)
            .flat_map(|instance| ec2::ipv6_addresses_of(instance).into_iter())
            .map(|(interface, addresses)| async move {
                ec2::unassign_ipv6_addresses(ec2c, &interface, &addresses)
                    .await
                    .or_else(ignore_not_found)
            });
        try_join_all(held).await?;
        let subnet_blocks = inv
            .objects_of(SUBNET_KEYS)
            .map(|(_, s)| s)
            .filter_map(Ipv6Association::of)
            .map(|association| async move {
                delete_with_retry(deadline, "a subnet's IPv6 block", || {
                    ec2::disassociate_subnet_cidr_block(ec2c, &association.association_id)
                })
                .await
            });
        try_join_all(subnet_blocks).await?;
        // AWS removes a subnet's block in the background, and refuses the
        // VPC's while any subnet's is still there
        let subnet_ids: Vec<String> = inv
            .objects_of(SUBNET_KEYS)
            .map(|(_, s)| s)
            .map(|s| s.id.clone())
            .collect();
        if !subnet_ids.is_empty() {
            poll_until(
                deadline,
                "the subnets' IPv6 blocks to be removed",
                || async {
                    match ec2::subnet_ipv6_states(ec2c, &subnet_ids).await {
                        Ok(states) => Ok(states.values().all(Vec::is_empty).then_some(())),
                        // a subnet gone holds nothing; the others are asked again
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        if let Some(association) = inv.vpc.as_ref().and_then(Ipv6Association::of) {
            delete_with_retry(deadline, "the VPC's IPv6 block", || {
                ec2::disassociate_vpc_cidr_block(ec2c, &association.association_id)
            })
            .await?;
            // AWS leaves the IPv6 allow rules it added to the default network
            // ACL; a VPC without IPv6 has AWS's IPv4 rules alone
            if let Some(acl) = inv.network_acls.iter().find(|acl| acl.default) {
                for entry in acl
                    .entries
                    .iter()
                    .filter(|e| e.rule_number == ec2::AclEntry::ALLOW_ALL_IPV6_RULE)
                {
                    ec2::delete_network_acl_entry(ec2c, &acl.id, entry.rule_number, entry.egress)
                        .await
                        .or_else(ignore_not_found)?;
                }
            }
        }
        if let Some(gateway) = inv.object("eigw") {
            delete_with_retry(deadline, "egress-only internet gateway", || {
                ec2::delete_egress_only_internet_gateway(ec2c, &gateway.id)
            })
            .await?;
        }
        Ok(())
    }
}

/// The VPC's and subnets' IPv6 blocks, the subnets' IPv6 assignment and the
/// route tables' `::/0` routes, against `ipv6`.
pub(super) fn ipv6_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let mut findings = Vec::new();
    let vpc_block = inv.vpc.as_ref().and_then(Ipv6Association::of);
    match (&vpc_block, spec.ipv6) {
        (None, true) if inv.vpc.is_some() => findings.push(Finding::new(
            "vpc",
            "has no IPv6 block",
            Repair::InPlace("asks AWS for one, and gives every subnet a /64 of it"),
        )),
        (Some(association), false) => findings.push(Finding::new(
            "vpc",
            format!("has IPv6 block {} though ipv6 is off", association.block),
            Repair::InPlace("removes it, with the subnets' blocks"),
        )),
        _ => {}
    }
    for (tier, zone) in bp.subnets.keys() {
        let key = Component::Subnet(*tier, zone.clone()).key();
        let Some(subnet) = inv.object(&key) else {
            continue;
        };
        let block = Ipv6Association::of(subnet);
        if spec.ipv6 && block.is_none() {
            findings.push(Finding::new(
                &key,
                "has no IPv6 block",
                Repair::InPlace("gives it its /64"),
            ));
        }
        if let (false, Some(association)) = (spec.ipv6, &block) {
            findings.push(Finding::new(
                &key,
                format!("has IPv6 block {} though ipv6 is off", association.block),
                Repair::InPlace("removes it"),
            ));
        }
        if assigns_ipv6(subnet) != spec.ipv6 {
            findings.push(Finding::new(
                &key,
                if spec.ipv6 {
                    "does not assign IPv6 addresses on launch"
                } else {
                    "assigns IPv6 addresses on launch though ipv6 is off"
                },
                Repair::InPlace(if spec.ipv6 {
                    "turns it on"
                } else {
                    "turns it off"
                }),
            ));
        }
    }
    if let Some(bastion) = inv.bastion.as_ref().filter(|_| spec.ipv6) {
        if ec2::ipv6_addresses_of(bastion).is_empty() {
            findings.push(Finding::new(
                "bastion",
                "has no IPv6 address, so the IPv6 blocks allowed SSH cannot reach it",
                Repair::InPlace("assigns one"),
            ));
        }
    }
    findings.extend(ipv6_route_drift(spec, bp, inv));
    findings
}

/// Each table's `::/0`: to the internet gateway from the public subnets, to
/// the egress-only internet gateway from the private ones, none without `ipv6`.
fn ipv6_route_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let id = |key| inv.object(key).map(|f| f.id.clone());
    let (igw, eigw) = (id("igw"), id("eigw"));
    let tables = std::iter::once((Component::PublicRouteTable, igw, "the internet gateway"))
        // every private table, whatever its NAT gateway: IPv6 needs none
        .chain(bp.zones.iter().map(|zone| {
            (
                Component::PrivateRouteTable(zone.clone()),
                eigw.clone(),
                "the egress-only internet gateway",
            )
        }));
    let mut findings = Vec::new();
    for (component, target, target_name) in tables {
        let key = component.key();
        let Some(table) = inv.route_tables.get(&key) else {
            continue;
        };
        let current = table.routes.get("::/0");
        match (spec.ipv6, current) {
            (true, current) if target.is_some() && current != target.as_ref() => {
                findings.push(Finding::new(
                    &key,
                    match current {
                        Some(via) => format!("routes ::/0 to {via} instead of {target_name}"),
                        None => format!("has no ::/0 route to {target_name}"),
                    },
                    Repair::InPlace("restores the route"),
                ))
            }
            (false, Some(via)) => findings.push(Finding::new(
                &key,
                format!("routes ::/0 to {via} though ipv6 is off"),
                Repair::InPlace("removes it"),
            )),
            _ => {}
        }
    }
    findings
}

/// Destroy's step: deletes the egress-only internet gateway and any duplicate.
pub(super) async fn teardown(t: &Teardown<'_>) -> Result<()> {
    let gateways = t.listed_with_strays("eigw", &ec2::EGRESS_ONLY_INTERNET_GATEWAYS);
    each(gateways, |gateway| {
        delete_with_retry(t.deadline, "egress-only internet gateway", move || {
            ec2::delete_egress_only_internet_gateway(t.ec2(), &gateway.id)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::RouteTable;
    use crate::plan::blueprint::{blueprint, tests::sample_spec};

    fn found(id: &str, detail: &[(&'static str, &str)]) -> Found {
        Found {
            id: id.into(),
            tags: Default::default(),
            detail: detail.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    /// An environment as AWS holds it with IPv6 everywhere.
    fn dual_stack(bp: &Blueprint) -> Inventory {
        let mut inv = Inventory {
            vpc: Some(found(
                "vpc-1",
                &[
                    ("ipv6", "2600:1f18::/56"),
                    ("ipv6_association", "vpc-cidr-assoc-1"),
                    ("ipv6_state", "associated"),
                ],
            )),
            listed: [
                ("igw".to_string(), found("igw-1", &[])),
                ("eigw".to_string(), found("eigw-1", &[])),
            ]
            .into(),
            ..Inventory::default()
        };
        for (index, (tier, zone)) in bp.subnets.keys().enumerate() {
            let block = format!("2600:1f18:0:{index}::/64");
            inv.listed.insert(
                Component::Subnet(*tier, zone.clone()).key(),
                found(
                    &format!("subnet-{index}"),
                    &[
                        ("ipv6", &block),
                        ("ipv6_association", "subnet-cidr-assoc"),
                        ("ipv6_state", "associated"),
                        ("assign_ipv6", "true"),
                    ],
                ),
            );
        }
        let table = |target: &str| RouteTable {
            routes: [("::/0".to_string(), target.to_string())].into(),
            ..RouteTable::default()
        };
        inv.route_tables
            .insert(Component::PublicRouteTable.key(), table("igw-1"));
        for zone in &bp.zones {
            inv.route_tables.insert(
                Component::PrivateRouteTable(zone.clone()).key(),
                table("eigw-1"),
            );
        }
        inv
    }

    fn texts(findings: Vec<Finding>) -> Vec<String> {
        findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_dual_stack_environment_as_planned_has_no_drift_and_each_change_is_one_finding() {
        let mut spec = sample_spec();
        spec.ipv6 = true;
        let zones = ["us-east-1a".to_string(), "us-east-1b".to_string()];
        let bp = blueprint(&spec, &zones).unwrap();
        let inv = dual_stack(&bp);
        assert_eq!(texts(ipv6_drift(&spec, &bp, &inv)), Vec::<String>::new());

        let mut changed = inv.clone();
        let private = Component::PrivateRouteTable("us-east-1b".into()).key();
        changed
            .route_tables
            .get_mut(&private)
            .unwrap()
            .routes
            .clear();
        let subnet = Component::Subnet(Tier::Public, "us-east-1a".into()).key();
        changed
            .listed
            .get_mut(&subnet)
            .unwrap()
            .detail
            .insert("assign_ipv6", "false".into());
        let found = texts(ipv6_drift(&spec, &bp, &changed));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|f| f.contains(
            "rtb/private/us-east-1b has no ::/0 route to the egress-only internet gateway"
        )));
        assert!(found
            .iter()
            .any(|f| f.contains("does not assign IPv6 addresses on launch")));

        // the same AWS with ipv6 off: every IPv6 part is drift to remove
        spec.ipv6 = false;
        let bp = blueprint(&spec, &zones).unwrap();
        let found = texts(ipv6_drift(&spec, &bp, &inv));
        assert!(found
            .iter()
            .any(|f| f.contains("vpc has IPv6 block 2600:1f18::/56 though ipv6 is off")));
        assert!(found
            .iter()
            .any(|f| f.contains("routes ::/0 to eigw-1 though ipv6 is off")));
    }
}
