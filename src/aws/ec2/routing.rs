//! Elastic IPs, NAT gateways, route tables and their routes and associations.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    AvailabilityMode, AvailabilityZoneAddress, DomainType, Filter, ResourceType,
};
use aws_sdk_ec2::Client;

use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;

use super::{
    filter, filter_any, made_with, once, required, tag_map, tag_spec, Found, Listing, Result, Tags,
};
use crate::aws::create_once::{create_once, token_for};

/// A route as (destination, target): destinations of both IP families and prefix
/// lists, targets of every kind, so that no route added out of band goes unseen.
pub(super) fn route_of(route: &aws_sdk_ec2::types::Route) -> Option<(String, String)> {
    // a virtual private gateway's propagated routes come and go with its
    // propagation, which is read (and turned off) on its own
    if route.origin() == Some(&aws_sdk_ec2::types::RouteOrigin::EnableVgwRoutePropagation) {
        return None;
    }
    let destination = route
        .destination_cidr_block()
        .or(route.destination_ipv6_cidr_block())
        .or(route.destination_prefix_list_id())?;
    let target = route
        .nat_gateway_id()
        .or(route.gateway_id())
        .or(route.instance_id())
        .or(route.network_interface_id())
        .or(route.vpc_peering_connection_id())
        .or(route.transit_gateway_id())
        .or(route.egress_only_internet_gateway_id())
        .or(route.local_gateway_id())
        .or(route.carrier_gateway_id())
        .unwrap_or("blackhole");
    Some((destination.to_string(), target.to_string()))
}

/// Allocates an Elastic IP for a NAT gateway; returns (allocation id, public ip).
pub async fn allocate_address(client: &Client, tags: &Tags) -> Result<(String, String)> {
    create_once(
        tags,
        |tags| async move {
            let out = client
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(ResourceType::ElasticIp, &tags))
                .customize()
                .config_override(once())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("AllocateAddress", e))?;
            Ok((
                required(out.allocation_id(), "AllocateAddress", "AllocationId")?.to_string(),
                out.public_ip().unwrap_or_default().to_string(),
            ))
        },
        |token| async move {
            let out = client
                .describe_addresses()
                .filters(made_with(&token))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeAddresses", e))?;
            Ok(out.addresses().first().and_then(|a| {
                Some((
                    a.allocation_id()?.to_string(),
                    a.public_ip().unwrap_or_default().to_string(),
                ))
            }))
        },
    )
    .await
}

pub async fn release_address(client: &Client, allocation_id: &str) -> Result<()> {
    client
        .release_address()
        .allocation_id(allocation_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ReleaseAddress", e))?;
    Ok(())
}

/// Where a NAT gateway stands and which Elastic IPs it sends traffic from.
pub enum NatPlacement<'a> {
    /// zonal: in a public subnet, with one address
    Subnet {
        subnet_id: &'a str,
        allocation_id: &'a str,
    },
    /// regional (AWS's `AvailabilityMode = regional`, no subnet), in manual
    /// mode: each zone's traffic leaves from that zone's address (zone to allocation)
    Regional {
        vpc_id: &'a str,
        addresses: &'a BTreeMap<String, String>,
    },
}

/// Creates a public NAT gateway placed as `placement` says; `token` makes a
/// retried call idempotent.
pub async fn create_nat_gateway(
    client: &Client,
    placement: NatPlacement<'_>,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let request = client
        .create_nat_gateway()
        .client_token(token)
        .tag_specifications(tag_spec(ResourceType::Natgateway, tags));
    let request = match placement {
        NatPlacement::Subnet {
            subnet_id,
            allocation_id,
        } => request.subnet_id(subnet_id).allocation_id(allocation_id),
        NatPlacement::Regional { vpc_id, addresses } => {
            let zones = addresses.iter().map(|(zone, allocation)| {
                AvailabilityZoneAddress::builder()
                    .availability_zone(zone)
                    .allocation_ids(allocation)
                    .build()
            });
            request
                .availability_mode(AvailabilityMode::Regional)
                .vpc_id(vpc_id)
                .set_availability_zone_addresses(Some(zones.collect()))
        }
    };
    let out = request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateNatGateway", e))?;
    Ok(required(
        out.nat_gateway().and_then(|g| g.nat_gateway_id()),
        "CreateNatGateway",
        "NatGatewayId",
    )?
    .to_string())
}

/// Gives the regional NAT gateway `nat` Elastic IP `allocation` for `zone`'s traffic.
pub async fn associate_nat_gateway_address(
    client: &Client,
    nat: &str,
    zone: &str,
    allocation: &str,
) -> Result<()> {
    client
        .associate_nat_gateway_address()
        .nat_gateway_id(nat)
        .availability_zone(zone)
        .allocation_ids(allocation)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssociateNatGatewayAddress", e))?;
    Ok(())
}

/// Takes the addresses of `associations` from NAT gateway `nat`.
pub async fn disassociate_nat_gateway_addresses(
    client: &Client,
    nat: &str,
    associations: &[String],
) -> Result<()> {
    client
        .disassociate_nat_gateway_address()
        .nat_gateway_id(nat)
        .set_association_ids(Some(associations.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DisassociateNatGatewayAddress", e))?;
    Ok(())
}

/// One Elastic IP of a NAT gateway, as DescribeNatGateways reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayAddress {
    /// the zone whose traffic it carries (regional gateways; empty for zonal ones)
    pub zone: String,
    pub allocation: String,
    pub association: String,
    /// `associating`, `succeeded`, `disassociating`, `failed`, ...
    pub status: String,
}

/// How discovery lists NAT gateways, by their VPC. Some implementations
/// ignore tag filters on this call: selected by tag (before the VPC is
/// known), objects are dealt out by their tag, so another environment's
/// never reach this one.
pub const NAT_GATEWAYS: Listing = Listing {
    operation: "DescribeNatGateways",
    vpc_filter: "vpc-id",
    noun: "NAT gateway",
    describe: |client, selection| Box::pin(async move { nat_gateways(&client, selection).await }),
};

/// The NAT gateways `selection` picks that are not deleted, deleting or
/// failed, with their subnet, state, mode, addresses, VPC, interfaces and
/// (regional ones) the route table AWS made for them.
pub async fn nat_gateways(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    let out = client
        .describe_nat_gateways()
        .filter(selection)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeNatGateways", e))?;
    Ok(out
        .nat_gateways()
        .iter()
        .filter(|g| {
            !matches!(
                g.state().map(|s| s.as_str()),
                Some("deleted") | Some("deleting") | Some("failed")
            )
        })
        .map(|g| {
            let interfaces: Vec<&str> = g
                .nat_gateway_addresses()
                .iter()
                .filter_map(|a| a.network_interface_id())
                .collect();
            Found {
                id: g.nat_gateway_id().unwrap_or_default().into(),
                tags: tag_map(Some(g.tags())),
                detail: [
                    ("subnet", g.subnet_id().unwrap_or_default().to_string()),
                    ("vpc", g.vpc_id().unwrap_or_default().to_string()),
                    (
                        "state",
                        g.state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                    (
                        "mode",
                        g.availability_mode()
                            .map_or("zonal", |m| m.as_str())
                            .to_string(),
                    ),
                    ("addresses", addresses_detail(g)),
                    ("interfaces", interfaces.join(",")),
                    // the table AWS makes for a regional gateway, with its
                    // route to the internet gateway
                    (
                        "route_table",
                        g.route_table_id().unwrap_or_default().to_string(),
                    ),
                ]
                .into(),
            }
        })
        .collect())
}

/// The Elastic IPs of NAT gateway `id` (none when it does not exist).
pub async fn nat_gateway_addresses(client: &Client, id: &str) -> Result<Vec<GatewayAddress>> {
    let out = client
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => return AwsError::from_sdk("DescribeNatGateways", e).or_gone(Vec::new()),
    };
    Ok(out
        .nat_gateways()
        .iter()
        .flat_map(|g| g.nat_gateway_addresses())
        .map(address_of_gateway)
        .collect())
}

/// A NAT gateway's addresses as a discovered object's `addresses` detail holds
/// them (see [`GatewayAddress::all_of`]).
pub(super) fn addresses_detail(g: &aws_sdk_ec2::types::NatGateway) -> String {
    g.nat_gateway_addresses()
        .iter()
        .map(address_of_gateway)
        .map(|a| [a.zone, a.allocation, a.association, a.status].join("|"))
        .collect::<Vec<_>>()
        .join(";")
}

impl GatewayAddress {
    /// Whether it carries its zone's traffic, or is about to: associated or
    /// associating, not on its way out (disassociating, which drains its
    /// connections first) nor failed.
    pub fn in_use(&self) -> bool {
        matches!(self.status.as_str(), "associating" | "succeeded")
    }

    /// The addresses of a discovered NAT gateway, from its `addresses` detail.
    pub fn all_of(found: &super::Found) -> Vec<GatewayAddress> {
        let Some(text) = found.detail.get("addresses") else {
            return Vec::new();
        };
        text.split(';')
            .filter(|item| !item.is_empty())
            .map(|item| {
                let mut parts = item.split('|').map(str::to_string);
                let mut next = || parts.next().unwrap_or_default();
                GatewayAddress {
                    zone: next(),
                    allocation: next(),
                    association: next(),
                    status: next(),
                }
            })
            .collect()
    }
}

pub(super) fn address_of_gateway(a: &aws_sdk_ec2::types::NatGatewayAddress) -> GatewayAddress {
    GatewayAddress {
        zone: a.availability_zone().unwrap_or_default().to_string(),
        allocation: a.allocation_id().unwrap_or_default().to_string(),
        association: a.association_id().unwrap_or_default().to_string(),
        status: a
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// The state of a NAT gateway (`pending`, `available`, `deleting`, `deleted`, `failed`), if it exists.
pub async fn nat_gateway_state(
    client: &Client,
    batches: &Batches,
    id: &str,
) -> Result<Option<String>> {
    Ok(nat_gateway_status(client, batches, id)
        .await?
        .map(|s| s.state))
}

/// A NAT gateway's state and, when it `failed`, AWS's reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatGatewayStatus {
    pub state: String,
    /// `FailureCode: FailureMessage`, as AWS gives them
    pub failure: Option<String>,
}

/// The state of a NAT gateway with AWS's reason when it failed, if it exists.
/// Waiters of every environment polling at the same moment share one call,
/// by filter: a gateway AWS does not list yet (moments after its create) is
/// simply absent from the answer, where naming it as a parameter would fail
/// the call for every gateway it carries.
pub async fn nat_gateway_status(
    client: &Client,
    batches: &Batches,
    id: &str,
) -> Result<Option<NatGatewayStatus>> {
    let by_id = ("nat-gateway-id", "nat-gateway-id");
    let found = merged_nat_gateways(client, batches, by_id, id, |g| {
        let id = g.nat_gateway_id().unwrap_or_default().to_string();
        vec![(id, status_of(g))]
    })
    .await;
    match found {
        Ok(found) => Ok(found.into_iter().next()),
        Err(error) => error.or_gone(None),
    }
}

/// Describes the NAT gateways, in every state, whose `filter_name` is `key`,
/// in one call with what other environments ask the same way at the same
/// moment (`selector` names the way: discovery's describe by VPC keeps only
/// live gateways, and is merged apart); `each` gives what a gateway answers,
/// keyed by the value of that filter it has.
pub(super) async fn merged_nat_gateways<T>(
    client: &Client,
    batches: &Batches,
    (filter_name, selector): (&'static str, &'static str),
    key: &str,
    each: fn(&aws_sdk_ec2::types::NatGateway) -> Vec<(String, T)>,
) -> Result<Vec<T>>
where
    T: Clone + Send + Sync + 'static,
{
    batches
        .read_with(
            client,
            "DescribeNatGateways",
            selector,
            EC2_FILTER_VALUES,
            key,
            move |client, keys| async move {
                let out = client
                    .describe_nat_gateways()
                    .filter(filter_any(filter_name, keys))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeNatGateways", e))?;
                Ok(out.nat_gateways().iter().flat_map(each).collect())
            },
        )
        .await
}

fn status_of(g: &aws_sdk_ec2::types::NatGateway) -> NatGatewayStatus {
    NatGatewayStatus {
        state: g
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        failure: match (g.failure_code(), g.failure_message()) {
            (None, None) => None,
            (code, message) => Some(format!(
                "{}: {}",
                code.unwrap_or("no failure code"),
                message.unwrap_or("no failure message")
            )),
        },
    }
}

/// The states of the VPC's NAT gateways, `deleting` or `deleted`, that held
/// Elastic IP `allocation_id`: AWS unmaps the address a while after the
/// gateway is deleted (read as it reports it now, not filtered by the API).
pub async fn nat_gateways_releasing(
    client: &Client,
    vpc_id: &str,
    allocation_id: &str,
) -> Result<Vec<String>> {
    let out = client
        .describe_nat_gateways()
        .filter(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeNatGateways", e))?;
    Ok(out
        .nat_gateways()
        .iter()
        .filter(|g| {
            g.nat_gateway_addresses()
                .iter()
                .any(|a| a.allocation_id() == Some(allocation_id))
        })
        .filter_map(|g| g.state().map(|s| s.as_str().to_string()))
        .filter(|state| matches!(state.as_str(), "deleting" | "deleted"))
        .collect())
}

/// Whether Elastic IP `allocation_id` is mapped to anything now.
pub async fn address_associated(client: &Client, allocation_id: &str) -> Result<bool> {
    let out = client
        .describe_addresses()
        .allocation_ids(allocation_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeAddresses", e))?;
    Ok(out.addresses().iter().any(|a| a.association_id().is_some()))
}

pub async fn delete_nat_gateway(client: &Client, id: &str) -> Result<()> {
    client
        .delete_nat_gateway()
        .nat_gateway_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteNatGateway", e))?;
    Ok(())
}

pub async fn create_route_table(client: &Client, vpc_id: &str, tags: &Tags) -> Result<String> {
    // every attempt (the SDK's, and a caller's retry of the whole call) carries
    // the same token, for which AWS returns the table the first one made
    let out = client
        .create_route_table()
        .client_token(token_for(tags))
        .vpc_id(vpc_id)
        .tag_specifications(tag_spec(ResourceType::RouteTable, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateRouteTable", e))?;
    Ok(required(
        out.route_table().and_then(|t| t.route_table_id()),
        "CreateRouteTable",
        "RouteTableId",
    )?
    .to_string())
}

/// Points a default route (`0.0.0.0/0` or `::/0`) of a table at an internet,
/// NAT or egress-only internet gateway, replacing an existing one.
pub async fn set_default_route(
    client: &Client,
    table: &str,
    destination: &str,
    target: &str,
    exists: bool,
) -> Result<()> {
    // CreateRoute and ReplaceRoute take the same arguments but are distinct builder types
    macro_rules! send_default_route {
        ($builder:expr, $operation:literal) => {{
            let call = $builder.route_table_id(table);
            let call = if destination.contains(':') {
                call.destination_ipv6_cidr_block(destination)
            } else {
                call.destination_cidr_block(destination)
            };
            let call = if target.starts_with("nat-") {
                call.nat_gateway_id(target)
            } else if target.starts_with("eigw-") {
                call.egress_only_internet_gateway_id(target)
            } else {
                call.gateway_id(target)
            };
            call.send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk($operation, e))
        }};
    }
    if exists {
        send_default_route!(client.replace_route(), "ReplaceRoute")
    } else {
        send_default_route!(client.create_route(), "CreateRoute")
    }
}

/// Deletes the route to `destination`: an IPv4 or IPv6 block or a prefix list ID.
pub async fn delete_route(client: &Client, table: &str, destination: &str) -> Result<()> {
    let call = client.delete_route().route_table_id(table);
    let call = if destination.starts_with("pl-") {
        call.destination_prefix_list_id(destination)
    } else if destination.contains(':') {
        call.destination_ipv6_cidr_block(destination)
    } else {
        call.destination_cidr_block(destination)
    };
    call.send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteRoute", e))?;
    Ok(())
}

/// Moves a subnet's association to another route table in one call.
pub async fn replace_route_table_association(
    client: &Client,
    association: &str,
    table: &str,
) -> Result<()> {
    client
        .replace_route_table_association()
        .association_id(association)
        .route_table_id(table)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ReplaceRouteTableAssociation", e))?;
    Ok(())
}

pub async fn associate_route_table(client: &Client, table: &str, subnet: &str) -> Result<()> {
    client
        .associate_route_table()
        .route_table_id(table)
        .subnet_id(subnet)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssociateRouteTable", e))?;
    Ok(())
}

/// Stops route table `table` from taking the routes virtual private gateway
/// `gateway` propagates.
pub async fn disable_route_propagation(client: &Client, table: &str, gateway: &str) -> Result<()> {
    client
        .disable_vgw_route_propagation()
        .route_table_id(table)
        .gateway_id(gateway)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DisableVgwRoutePropagation", e))?;
    Ok(())
}

pub async fn disassociate_route_table(client: &Client, association: &str) -> Result<()> {
    client
        .disassociate_route_table()
        .association_id(association)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DisassociateRouteTable", e))?;
    Ok(())
}

pub async fn delete_route_table(client: &Client, table: &str) -> Result<()> {
    client
        .delete_route_table()
        .route_table_id(table)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteRouteTable", e))?;
    Ok(())
}
