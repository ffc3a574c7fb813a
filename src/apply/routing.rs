//! Elastic IPs, NAT gateways and route tables: ensured in dependency order,
//! deleted with the waits AWS needs, and compared for drift.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use tokio::time::Instant;

use super::inventory::{Inventory, NAT_GATEWAY_KEYS, SUBNET_KEYS};
use super::run::{client_token, ignore_not_found, Result, Run};
use super::waiters::{delete_with_retry, poll_until, retry_propagation, retry_scarce_create};
use crate::aws::ec2::{self};
use crate::error::AwsError;
use crate::plan::blueprint::{nat_for_zone, Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::spec::NatStrategy;

/// Where a route table's default routes go; `None` means no such route.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DefaultRoutes<'a> {
    /// `0.0.0.0/0`
    pub ipv4: Option<&'a str>,
    /// `::/0`
    pub ipv6: Option<&'a str>,
}

impl<'a> DefaultRoutes<'a> {
    pub const DESTINATIONS: [&'static str; 2] = ["0.0.0.0/0", "::/0"];

    fn by_destination(self) -> [(&'static str, Option<&'a str>); 2] {
        [
            (Self::DESTINATIONS[0], self.ipv4),
            (Self::DESTINATIONS[1], self.ipv6),
        ]
    }
}

impl Run<'_> {
    pub(super) async fn ensure_addresses(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
    ) -> Result<BTreeMap<String, String>> {
        let work = bp.address_zones.iter().map(|zone| async move {
            let component = Component::ElasticIp(zone.clone());
            let id = match inv.addresses.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let (id, _) =
                        ec2::allocate_address(&self.clients.ec2, &self.tags(&component)).await?;
                    self.options.progress.made_object(&id, &component);
                    id
                }
            };
            Ok::<_, AwsError>((zone.clone(), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    pub(super) async fn ensure_route_table(
        &self,
        inv: &Inventory,
        component: &Component,
        vpc_id: &str,
        targets: DefaultRoutes<'_>,
        subnets: &[String],
    ) -> Result<String> {
        let existing = inv.route_tables.get(&component.key());
        let table = match existing {
            Some(t) => t.id.clone(),
            None => {
                let tags = self.tags(component);
                retry_propagation(self.deadline, "route table", || {
                    ec2::create_route_table(&self.clients.ec2, vpc_id, &tags)
                })
                .await?
            }
        };
        for (destination, target) in targets.by_destination() {
            let current_route = existing.and_then(|t| t.routes.get(destination));
            match (target, current_route) {
                (Some(target), Some(current)) if current == target => {}
                (Some(target), current) => {
                    retry_propagation(self.deadline, "default route", || {
                        ec2::set_default_route(
                            &self.clients.ec2,
                            &table,
                            destination,
                            target,
                            current.is_some(),
                        )
                    })
                    .await?
                }
                (None, Some(_)) => ec2::delete_route(&self.clients.ec2, &table, destination)
                    .await
                    .or_else(ignore_not_found)?,
                (None, None) => {}
            }
        }
        // routes added out of band go; the VPC's local route is AWS's own
        let extra_routes = existing
            .map(extra_routes)
            .unwrap_or_default()
            .into_iter()
            .map(|destination| {
                let table = &table;
                async move {
                    ec2::delete_route(&self.clients.ec2, table, &destination)
                        .await
                        .or_else(ignore_not_found)
                }
            });
        try_join_all(extra_routes).await?;
        let associated: BTreeSet<&String> = existing
            .map(|t| t.associations.values().collect())
            .unwrap_or_default();
        // a subnet associated with another of the environment's tables moves in
        // one call; that table leaves the association alone (see below)
        let elsewhere = |subnet: &String| {
            inv.route_tables
                .values()
                .filter(|t| t.id != table)
                .flat_map(|t| t.associations.iter())
                .find(|(_, s)| *s == subnet)
                .map(|(association, _)| association.clone())
        };
        let associations = subnets
            .iter()
            .filter(|s| !associated.contains(s))
            .map(|subnet| {
                let moved = elsewhere(subnet);
                let table = &table;
                retry_propagation(self.deadline, "route table association", move || {
                    let moved = moved.clone();
                    async move {
                        match moved {
                            Some(association) => {
                                ec2::replace_route_table_association(
                                    &self.clients.ec2,
                                    &association,
                                    table,
                                )
                                .await
                            }
                            None => {
                                ec2::associate_route_table(&self.clients.ec2, table, subnet).await
                            }
                        }
                    }
                })
            });
        try_join_all(associations).await?;
        // associations with subnets no planned table claims go
        let planned: BTreeSet<String> = inv
            .objects_of(SUBNET_KEYS)
            .map(|(_, s)| s)
            .map(|s| s.id.clone())
            .collect();
        let stray = existing
            .map(|t| {
                t.associations
                    .iter()
                    .filter(|(_, s)| !subnets.contains(s) && !planned.contains(*s))
                    .map(|(association, _)| association.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|association| async move {
                ec2::disassociate_route_table(&self.clients.ec2, &association)
                    .await
                    .or_else(ignore_not_found)
            });
        try_join_all(stray).await?;
        // routes a virtual private gateway propagates are not the environment's
        let propagating = existing
            .map(|t| t.propagating.as_slice())
            .unwrap_or_default();
        let propagations = propagating.iter().map(|gateway| {
            let table = &table;
            async move {
                ec2::disable_route_propagation(&self.clients.ec2, table, gateway)
                    .await
                    .or_else(ignore_not_found)
            }
        });
        try_join_all(propagations).await?;
        Ok(table)
    }

    pub(super) async fn ensure_public_routes(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        igw: &str,
        public: &[String],
    ) -> Result<String> {
        // the internet gateway carries IPv6 both ways too
        let targets = DefaultRoutes {
            ipv4: Some(igw),
            ipv6: self.spec.ipv6.then_some(igw),
        };
        self.ensure_route_table(inv, &Component::PublicRouteTable, vpc_id, targets, public)
            .await
    }

    /// The NAT gateways of the plan, available with their addresses; keyed as
    /// [`Blueprint::nat_zones`] keys them.
    pub(super) async fn ensure_nat_gateways(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
        subnets: &BTreeMap<(Tier, String), String>,
        addresses: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        self.free_planned_addresses(inv, bp, addresses).await?;
        if self.spec.nat == NatStrategy::Regional {
            let id = self
                .ensure_regional_nat_gateway(inv, vpc_id, addresses)
                .await?;
            return Ok([(NatStrategy::REGIONAL_KEY.to_string(), id)].into());
        }
        let work = bp.nat_zones.iter().map(|zone| async move {
            let component = Component::NatGateway(zone.clone());
            let id = match inv.object(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let token = client_token(&[
                        &self.spec.name,
                        &component.key(),
                        &addresses[zone],
                        &self.run_id,
                    ]);
                    let tags = self.tags(&component);
                    let subnet = &subnets[&(Tier::Public, zone.clone())];
                    // an address allocated in this run cannot be held by anything
                    if inv
                        .addresses
                        .contains_key(&Component::ElasticIp(zone.clone()).key())
                    {
                        self.wait_address_released(vpc_id, &addresses[zone]).await?;
                    }
                    retry_scarce_create(self.deadline, "NAT gateway creation", || {
                        ec2::create_nat_gateway(
                            &self.clients.ec2,
                            ec2::NatPlacement::Subnet {
                                subnet_id: subnet,
                                allocation_id: &addresses[zone],
                            },
                            &token,
                            &tags,
                        )
                    })
                    .await?
                }
            };
            self.wait_nat_available(&id, &format!("NAT gateway {id} in {zone}"))
                .await?;
            Ok::<_, AwsError>((zone.clone(), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    /// Waits until NAT gateway `id` (`what`, for a failure) is available; one
    /// that failed or is going away is an error with AWS's reason.
    async fn wait_nat_available(&self, id: &str, what: &str) -> Result<()> {
        poll_until(
            self.deadline,
            &format!("NAT gateway {id} to become available"),
            || async {
                let status =
                    ec2::nat_gateway_status(&self.clients.ec2, &self.clients.batches, id).await?;
                match status.as_ref().map(|s| s.state.as_str()) {
                    Some("available") => Ok(Some(())),
                    Some(state @ ("failed" | "deleted" | "deleting")) => {
                        // AWS's reason, when it gave one, says what to fix
                        Err(AwsError::FailedInAws {
                            what: what.to_string(),
                            reason: status
                                .as_ref()
                                .and_then(|s| s.failure.clone())
                                .unwrap_or_else(|| format!("it is {state}, AWS gave no reason")),
                            outcome: "the next apply replaces it".into(),
                        })
                    }
                    _ => Ok(None),
                }
            },
        )
        .await
    }

    /// Deletes the NAT gateways no longer planned that hold an address a
    /// planned one needs, and waits until AWS releases it: a switch between
    /// zonal and regional gateways keeps the addresses (and what allow-lists
    /// them), and AWS lets an Elastic IP serve one gateway at a time.
    async fn free_planned_addresses(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        addresses: &BTreeMap<String, String>,
    ) -> Result<()> {
        let planned: BTreeSet<String> = bp
            .nat_zones
            .iter()
            .map(|key| Component::NatGateway(key.clone()).key())
            .collect();
        let needed: BTreeSet<&String> = addresses.values().collect();
        let holders = inv
            .objects_of(NAT_GATEWAY_KEYS)
            .filter(|(key, _)| !planned.contains(*key))
            .filter(|(_, found)| {
                ec2::GatewayAddress::all_of(found)
                    .iter()
                    .any(|a| needed.contains(&a.allocation))
            })
            .map(|(_, found)| {
                tracing::info!(nat_gateway = %found.id, "deleting the NAT gateway first: a planned gateway takes its Elastic IP");
                delete_nat_gateway(
                    &self.clients.ec2,
                    &self.clients.batches,
                    &found.id,
                    self.deadline,
                )
            });
        try_join_all(holders).await?;
        Ok(())
    }

    /// The regional NAT gateway, available with exactly `addresses` (zone to
    /// allocation): an address is associated for each zone that lacks its own,
    /// and any other is disassociated.
    async fn ensure_regional_nat_gateway(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        addresses: &BTreeMap<String, String>,
    ) -> Result<String> {
        let component = Component::NatGateway(NatStrategy::REGIONAL_KEY.to_string());
        let client = &self.clients.ec2;
        let id = match inv.object(&component.key()) {
            Some(found) => found.id.clone(),
            None => {
                let allocations: Vec<&str> = addresses.values().map(String::as_str).collect();
                let token = client_token(&[
                    &self.spec.name,
                    &component.key(),
                    &allocations.join(","),
                    &self.run_id,
                ]);
                let tags = self.tags(&component);
                // a gateway deleted out of band (or replaced) holds its addresses
                // until it is gone
                let earlier = addresses
                    .iter()
                    .filter(|(zone, _)| {
                        inv.addresses
                            .contains_key(&Component::ElasticIp((*zone).clone()).key())
                    })
                    .map(|(_, allocation)| self.wait_address_released(vpc_id, allocation));
                try_join_all(earlier).await?;
                retry_scarce_create(self.deadline, "NAT gateway creation", || {
                    let placement = ec2::NatPlacement::Regional { vpc_id, addresses };
                    ec2::create_nat_gateway(client, placement, &token, &tags)
                })
                .await?
            }
        };
        self.wait_nat_available(&id, &format!("regional NAT gateway {id}"))
            .await?;
        // AWS refuses any address change while one is disassociating (it
        // drains the address's connections first): the planned addresses are
        // associated first, once no drain is under way, and the others are
        // disassociated only then
        let wanted = |a: &ec2::GatewayAddress| addresses.get(&a.zone) == Some(&a.allocation);
        let current = ec2::nat_gateway_addresses(client, &id).await?;
        let missing: Vec<(&String, &String)> = addresses
            .iter()
            .filter(|(zone, allocation)| {
                !current
                    .iter()
                    .any(|a| &a.zone == *zone && &a.allocation == *allocation && a.in_use())
            })
            .collect();
        if !missing.is_empty() {
            self.poll_addresses(&id, "no Elastic IP to be disassociating", |now| {
                Ok(!now.iter().any(|a| a.status == "disassociating"))
            })
            .await?;
            for (zone, allocation) in missing {
                retry_propagation(self.deadline, "NAT gateway address", || {
                    ec2::associate_nat_gateway_address(client, &id, zone, allocation)
                })
                .await?;
            }
        }
        self.poll_addresses(&id, "each zone's Elastic IP to be associated", |now| {
            if let Some(failed) = now.iter().find(|a| wanted(a) && a.status == "failed") {
                return Err(AwsError::FailedInAws {
                    what: format!("regional NAT gateway {id}"),
                    reason: format!(
                        "its Elastic IP {} for {} failed to associate",
                        failed.allocation, failed.zone
                    ),
                    outcome: "the next apply associates it again".into(),
                });
            }
            Ok(addresses.iter().all(|(zone, allocation)| {
                now.iter().any(|a| {
                    &a.zone == zone && &a.allocation == allocation && a.status == "succeeded"
                })
            }))
        })
        .await?;
        let now = ec2::nat_gateway_addresses(client, &id).await?;
        let extra: Vec<String> = now
            .iter()
            .filter(|a| !wanted(a) && a.in_use())
            .map(|a| a.association.clone())
            .collect();
        if !extra.is_empty() {
            ec2::disassociate_nat_gateway_addresses(client, &id, &extra).await?;
        }
        Ok(id)
    }

    /// Polls the addresses of NAT gateway `id` until `done` says so (or fails).
    async fn poll_addresses(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&[ec2::GatewayAddress]) -> Result<bool>,
    ) -> Result<()> {
        poll_until(
            self.deadline,
            &format!("regional NAT gateway {id}: {what}"),
            || async {
                let now = ec2::nat_gateway_addresses(&self.clients.ec2, id).await?;
                Ok(done(&now)?.then_some(()))
            },
        )
        .await
    }

    /// Waits until no NAT gateway being deleted holds the address: a gateway
    /// deleted out of band (or replaced) keeps its Elastic IP for about a
    /// minute, and AWS unmaps it some seconds after the gateway reads `deleted`.
    pub(super) async fn wait_address_released(
        &self,
        vpc_id: &str,
        allocation_id: &str,
    ) -> Result<()> {
        let ec2 = &self.clients.ec2;
        poll_until(
            self.deadline,
            &format!("Elastic IP {allocation_id} to be released by its deleted NAT gateway"),
            || async {
                let states = ec2::nat_gateways_releasing(ec2, vpc_id, allocation_id).await?;
                if states.iter().any(|s| s == "deleting") {
                    return Ok(None);
                }
                let lingering =
                    !states.is_empty() && ec2::address_associated(ec2, allocation_id).await?;
                Ok((!lingering).then_some(()))
            },
        )
        .await
    }

    pub(super) async fn ensure_private_routes(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
        subnets: &BTreeMap<(Tier, String), String>,
        nats: &BTreeMap<String, String>,
        egress_only: Option<&str>,
    ) -> Result<Vec<String>> {
        let work = bp.zones.iter().map(|zone| async move {
            let target =
                nat_for_zone(self.spec.nat, &bp.zones, zone).and_then(|z| nats.get(&z).cloned());
            let subnet = subnets[&(Tier::Private, zone.clone())].clone();
            self.ensure_route_table(
                inv,
                &Component::PrivateRouteTable(zone.clone()),
                vpc_id,
                DefaultRoutes {
                    ipv4: target.as_deref(),
                    ipv6: egress_only,
                },
                &[subnet],
            )
            .await
        });
        try_join_all(work).await
    }
}

pub(super) async fn delete_nat_gateway(
    client: &aws_sdk_ec2::Client,
    batches: &crate::aws::batch::Batches,
    id: &str,
    deadline: Instant,
) -> Result<()> {
    ec2::delete_nat_gateway(client, id)
        .await
        .or_else(ignore_not_found)?;
    poll_until(
        deadline,
        &format!("NAT gateway {id} to be deleted"),
        || async {
            Ok(matches!(
                ec2::nat_gateway_state(client, batches, id)
                    .await?
                    .as_deref(),
                None | Some("deleted")
            )
            .then_some(()))
        },
    )
    .await
}

pub(super) async fn delete_route_table(
    client: &aws_sdk_ec2::Client,
    table: &ec2::RouteTable,
    deadline: Instant,
) -> Result<()> {
    for association in table.associations.keys() {
        ec2::disassociate_route_table(client, association)
            .await
            .or_else(ignore_not_found)?;
    }
    delete_with_retry(deadline, "route table", || {
        ec2::delete_route_table(client, &table.id)
    })
    .await
}

/// Destinations of a table's routes other than its default route, the VPC's
/// local route and the prefix-list routes of gateway endpoints (which AWS adds
/// and removes as the endpoint is attached and detached, see
/// [`super::endpoints`]): only routes added out of band.
pub(super) fn extra_routes(table: &ec2::RouteTable) -> Vec<String> {
    table
        .routes
        .iter()
        .filter(|(destination, target)| {
            !DefaultRoutes::DESTINATIONS.contains(&destination.as_str())
                && *target != "local"
                && !(destination.starts_with("pl-") && target.starts_with("vpce-"))
        })
        .map(|(destination, _)| destination.clone())
        .collect()
}
