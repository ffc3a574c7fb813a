//! Elastic IPs, NAT gateways and route tables: ensured in dependency order,
//! deleted with the waits AWS needs, and compared for drift.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use tokio::time::Instant;

use super::executor::{client_token, ignore_not_found, Result, Run};
use super::inventory::Inventory;
use super::waiters::{delete_with_retry, poll_until, retry_propagation};
use crate::aws::ec2::{self};
use crate::error::AwsError;
use crate::plan::blueprint::{nat_for_zone, Blueprint, Component};
use crate::plan::cidr::Tier;

impl Run<'_> {
    pub(super) async fn ensure_addresses(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
    ) -> Result<BTreeMap<String, String>> {
        let work = bp.nat_zones.iter().map(|zone| async move {
            let component = Component::ElasticIp(zone.clone());
            let id = match inv.addresses.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    ec2::allocate_address(&self.clients.ec2, &self.tags(&component))
                        .await?
                        .0
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
        target: Option<&str>,
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
        let current_route = existing.and_then(|t| t.routes.get("0.0.0.0/0"));
        match (target, current_route) {
            (Some(target), Some(current)) if current == target => {}
            (Some(target), current) => {
                retry_propagation(self.deadline, "default route", || {
                    ec2::set_default_route(&self.clients.ec2, &table, target, current.is_some())
                })
                .await?
            }
            (None, Some(_)) => ec2::delete_default_route(&self.clients.ec2, &table).await?,
            (None, None) => {}
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
        let planned: BTreeSet<String> = inv.subnets.values().map(|s| s.id.clone()).collect();
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
        Ok(table)
    }

    pub(super) async fn ensure_public_routes(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        igw: &str,
        public: &[String],
    ) -> Result<String> {
        self.ensure_route_table(inv, &Component::PublicRouteTable, vpc_id, Some(igw), public)
            .await
    }

    pub(super) async fn ensure_nat_gateways(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
        subnets: &BTreeMap<(Tier, String), String>,
        addresses: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let work = bp.nat_zones.iter().map(|zone| async move {
            let component = Component::NatGateway(zone.clone());
            let id = match inv.nat_gateways.get(&component.key()) {
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
                    retry_propagation(self.deadline, "NAT gateway creation", || {
                        ec2::create_nat_gateway(
                            &self.clients.ec2,
                            subnet,
                            &addresses[zone],
                            &token,
                            &tags,
                        )
                    })
                    .await?
                }
            };
            poll_until(
                self.deadline,
                &format!("NAT gateway {id} to become available"),
                || async {
                    let status =
                        ec2::nat_gateway_status(&self.clients.ec2, &self.clients.batches, &id)
                            .await?;
                    match status.as_ref().map(|s| s.state.as_str()) {
                        Some("available") => Ok(Some(())),
                        Some(state @ ("failed" | "deleted" | "deleting")) => {
                            // AWS's reason, when it gave one, says what to fix
                            Err(AwsError::FailedInAws {
                                what: format!("NAT gateway {id} in {zone}"),
                                reason: status
                                    .as_ref()
                                    .and_then(|s| s.failure.clone())
                                    .unwrap_or_else(|| {
                                        format!("it is {state}, AWS gave no reason")
                                    }),
                                outcome: "the next apply replaces it".into(),
                            })
                        }
                        _ => Ok(None),
                    }
                },
            )
            .await?;
            Ok::<_, AwsError>((zone.clone(), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    /// Waits until no NAT gateway being deleted holds the address: a gateway
    /// deleted out of band (or replaced) keeps its Elastic IP for about a minute.
    pub(super) async fn wait_address_released(
        &self,
        vpc_id: &str,
        allocation_id: &str,
    ) -> Result<()> {
        poll_until(
            self.deadline,
            &format!("Elastic IP {allocation_id} to be released by its deleted NAT gateway"),
            || async {
                let holders =
                    ec2::nat_gateways_releasing(&self.clients.ec2, vpc_id, allocation_id).await?;
                Ok(holders.is_empty().then_some(()))
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
    ) -> Result<Vec<String>> {
        let work = bp.zones.iter().map(|zone| async move {
            let target =
                nat_for_zone(self.spec.nat, &bp.zones, zone).and_then(|z| nats.get(&z).cloned());
            let subnet = subnets[&(Tier::Private, zone.clone())].clone();
            self.ensure_route_table(
                inv,
                &Component::PrivateRouteTable(zone.clone()),
                vpc_id,
                target.as_deref(),
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
            destination.as_str() != "0.0.0.0/0"
                && *target != "local"
                && !(destination.starts_with("pl-") && target.starts_with("vpce-"))
        })
        .map(|(destination, _)| destination.clone())
        .collect()
}
