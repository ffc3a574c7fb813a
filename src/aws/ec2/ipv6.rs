//! IPv6: the VPC's Amazon-provided block, the subnets' /64s, the
//! egress-only internet gateway, and the addresses instances hold.

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use aws_sdk_ec2::Client;

use super::{made_by, made_with, once, required, tag_map, tag_spec, Found, Listing, Result, Tags};
use crate::aws::create_once::create_once;
use crate::error::AwsError;

/// An IPv6 block as AWS associates it with a VPC or subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Association {
    pub association_id: String,
    pub block: String,
    /// `associating`, `associated`, `disassociating`, ...
    pub state: String,
}

impl Ipv6Association {
    /// The association a discovered VPC or subnet records in its detail, if any.
    pub fn of(found: &Found) -> Option<Ipv6Association> {
        let detail = |key: &str| found.detail.get(key).filter(|v| !v.is_empty()).cloned();
        Some(Ipv6Association {
            association_id: detail("ipv6_association")?,
            block: detail("ipv6")?,
            state: detail("ipv6_state").unwrap_or_default(),
        })
    }

    /// Whether the block serves (or is about to): one being removed or gone does not.
    pub fn is_live(&self) -> bool {
        matches!(self.state.as_str(), "associating" | "associated")
    }

    /// The detail entries of the first live association among `associations`.
    pub(super) fn detail_of<'a>(
        associations: impl Iterator<Item = (Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
    ) -> Vec<(&'static str, String)> {
        associations
            .map(|(id, block, state)| Ipv6Association {
                association_id: id.unwrap_or_default().to_string(),
                block: block.unwrap_or_default().to_string(),
                state: state.unwrap_or_default().to_string(),
            })
            .find(Ipv6Association::is_live)
            .map(|a| {
                vec![
                    ("ipv6", a.block),
                    ("ipv6_association", a.association_id),
                    ("ipv6_state", a.state),
                ]
            })
            .unwrap_or_default()
    }
}

/// Asks AWS for a /56 of its own pool for the VPC; answers the association.
pub async fn associate_vpc_ipv6(client: &Client, vpc_id: &str) -> Result<Ipv6Association> {
    let out = client
        .associate_vpc_cidr_block()
        .vpc_id(vpc_id)
        .amazon_provided_ipv6_cidr_block(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssociateVpcCidrBlock", e))?;
    let association = required(
        out.ipv6_cidr_block_association(),
        "AssociateVpcCidrBlock",
        "Ipv6CidrBlockAssociation",
    )?;
    Ok(Ipv6Association {
        association_id: association.association_id().unwrap_or_default().to_string(),
        block: association
            .ipv6_cidr_block()
            .unwrap_or_default()
            .to_string(),
        state: association
            .ipv6_cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    })
}

/// The VPC's live IPv6 association, as AWS reports it now.
pub async fn vpc_ipv6(client: &Client, vpc_id: &str) -> Result<Option<Ipv6Association>> {
    let out = client
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
    Ok(out.vpcs().first().and_then(|vpc| {
        vpc.ipv6_cidr_block_association_set()
            .iter()
            .map(|a| Ipv6Association {
                association_id: a.association_id().unwrap_or_default().to_string(),
                block: a.ipv6_cidr_block().unwrap_or_default().to_string(),
                state: a
                    .ipv6_cidr_block_state()
                    .and_then(|s| s.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .find(Ipv6Association::is_live)
    }))
}

/// The states of the IPv6 blocks of each subnet among `ids` (`associating`,
/// `associated`, `disassociating`, ...), blocks AWS has finished removing
/// left out.
pub async fn subnet_ipv6_states(
    client: &Client,
    ids: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    let out = client
        .describe_subnets()
        .set_subnet_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| {
            let states = s
                .ipv6_cidr_block_association_set()
                .iter()
                .filter_map(|a| Some(a.ipv6_cidr_block_state()?.state()?.as_str().to_string()))
                .filter(|state| !matches!(state.as_str(), "disassociated" | "failed"))
                .collect();
            Some((s.subnet_id()?.to_string(), states))
        })
        .collect())
}

pub async fn disassociate_vpc_cidr_block(client: &Client, association_id: &str) -> Result<()> {
    client
        .disassociate_vpc_cidr_block()
        .association_id(association_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DisassociateVpcCidrBlock", e))?;
    Ok(())
}

pub async fn associate_subnet_ipv6(client: &Client, subnet: &str, block: &str) -> Result<()> {
    client
        .associate_subnet_cidr_block()
        .subnet_id(subnet)
        .ipv6_cidr_block(block)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssociateSubnetCidrBlock", e))?;
    Ok(())
}

pub async fn disassociate_subnet_cidr_block(client: &Client, association_id: &str) -> Result<()> {
    client
        .disassociate_subnet_cidr_block()
        .association_id(association_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DisassociateSubnetCidrBlock", e))?;
    Ok(())
}

/// Whether instances launched in the subnet get an IPv6 address.
pub async fn assign_ipv6_on_creation(client: &Client, subnet: &str, on: bool) -> Result<()> {
    client
        .modify_subnet_attribute()
        .subnet_id(subnet)
        .assign_ipv6_address_on_creation(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifySubnetAttribute", e))?;
    Ok(())
}

/// How discovery lists egress-only internet gateways: AWS filters them by tag
/// only, so every gateway of the account is listed, once for every merged
/// read, and dealt out by the VPC each is attached to.
pub const EGRESS_ONLY_INTERNET_GATEWAYS: Listing = Listing {
    operation: "DescribeEgressOnlyInternetGateways",
    vpc_filter: "attachment.vpc-id",
    noun: "egress-only internet gateway",
    describe: |client, _by_vpc_or_tag| {
        Box::pin(async move { egress_only_internet_gateways(&client).await })
    },
};

/// Every egress-only internet gateway of the account in the region, with the
/// VPC it is attached to in `detail["vpc"]`: AWS filters these by tag only,
/// so the environment's is told by its VPC.
pub async fn egress_only_internet_gateways(client: &Client) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    let mut pages = client
        .describe_egress_only_internet_gateways()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeEgressOnlyInternetGateways", e))?;
        found.extend(page.egress_only_internet_gateways().iter().map(|g| {
            Found {
                id: g
                    .egress_only_internet_gateway_id()
                    .unwrap_or_default()
                    .into(),
                tags: tag_map(Some(g.tags())),
                detail: g
                    .attachments()
                    .iter()
                    .filter(|a| a.state().is_none_or(|s| s.as_str() != "detached"))
                    .filter_map(|a| a.vpc_id())
                    .map(|v| ("vpc", v.to_string()))
                    .take(1)
                    .collect(),
            }
        }));
    }
    Ok(found)
}

/// Creates the VPC's egress-only internet gateway (attached as it is made).
pub async fn create_egress_only_internet_gateway(
    client: &Client,
    vpc_id: &str,
    tags: &Tags,
) -> Result<String> {
    create_once(
        tags,
        |tags| async move {
            let out = client
                .create_egress_only_internet_gateway()
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(ResourceType::EgressOnlyInternetGateway, &tags))
                .customize()
                .config_override(once())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateEgressOnlyInternetGateway", e))?;
            Ok(required(
                out.egress_only_internet_gateway()
                    .and_then(|g| g.egress_only_internet_gateway_id()),
                "CreateEgressOnlyInternetGateway",
                "EgressOnlyInternetGatewayId",
            )?
            .to_string())
        },
        |token| async move {
            let out = client
                .describe_egress_only_internet_gateways()
                .filters(made_with(&token))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeEgressOnlyInternetGateways", e))?;
            Ok(out
                .egress_only_internet_gateways()
                .iter()
                .find(|g| made_by(&tag_map(Some(g.tags())), &token, tags))
                .and_then(|g| g.egress_only_internet_gateway_id())
                .map(str::to_string))
        },
    )
    .await
}

pub async fn delete_egress_only_internet_gateway(client: &Client, id: &str) -> Result<()> {
    client
        .delete_egress_only_internet_gateway()
        .egress_only_internet_gateway_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteEgressOnlyInternetGateway", e))?;
    Ok(())
}

/// Gives a network interface one IPv6 address of its subnet's block.
pub async fn assign_ipv6_address(client: &Client, interface: &str) -> Result<()> {
    client
        .assign_ipv6_addresses()
        .network_interface_id(interface)
        .ipv6_address_count(1)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssignIpv6Addresses", e))?;
    Ok(())
}

/// Gives up the IPv6 addresses a network interface holds.
pub async fn unassign_ipv6_addresses(
    client: &Client,
    interface: &str,
    addresses: &[String],
) -> Result<()> {
    client
        .unassign_ipv6_addresses()
        .network_interface_id(interface)
        .set_ipv6_addresses(Some(addresses.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UnassignIpv6Addresses", e))?;
    Ok(())
}
