//! What holds on to the environment from outside it: network interfaces in
//! its VPC, virtual private gateways attached to it, other security groups
//! whose rules name its groups, and the protection an instance carries
//! against termination. Destroy asks these before it deletes anything.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter};
use aws_sdk_ec2::Client;

use crate::error::AwsError;

use super::{filter_any, tag_map, Found, Result};
use crate::aws::batch::{Batches, EC2_FILTER_VALUES};

/// A network interface as destroy judges it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkInterface {
    pub id: String,
    pub subnet: String,
    pub description: String,
    /// made by a service for its own use (a load balancer's, a NAT gateway's, a Lambda's)
    pub requester_managed: bool,
    /// the instance it is attached to, if any
    pub instance: Option<String>,
    /// `interface`, or the service's (`nat_gateway`, `lambda`, `vpc_endpoint`, ...)
    pub interface_type: String,
}

/// Every network interface in `vpc`, read with those of the other
/// environments that ask at the same moment (one call for all their VPCs).
pub async fn network_interfaces(
    client: &Client,
    batches: &Batches,
    vpc: &str,
) -> Result<Vec<NetworkInterface>> {
    batches
        .read_with(
            client,
            "DescribeNetworkInterfaces",
            "vpc-id",
            EC2_FILTER_VALUES,
            vpc,
            |client, vpcs| async move {
                let mut found = Vec::new();
                let mut pages = client
                    .describe_network_interfaces()
                    .filters(filter_any("vpc-id", vpcs))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page =
                        page.map_err(|e| AwsError::from_sdk("DescribeNetworkInterfaces", e))?;
                    found.extend(page.network_interfaces().iter().map(|eni| {
                        let vpc = eni.vpc_id().unwrap_or_default().to_string();
                        let interface = NetworkInterface {
                            id: eni.network_interface_id().unwrap_or_default().into(),
                            subnet: eni.subnet_id().unwrap_or_default().into(),
                            description: eni.description().unwrap_or_default().into(),
                            requester_managed: eni.requester_managed().unwrap_or(false),
                            instance: eni
                                .attachment()
                                .and_then(|a| a.instance_id())
                                .map(str::to_string),
                            interface_type: eni
                                .interface_type()
                                .map(|t| t.as_str().to_string())
                                .unwrap_or_default(),
                        };
                        (vpc, interface)
                    }));
                }
                Ok(found)
            },
        )
        .await
}

/// The virtual private gateways attached to `vpc` (or attaching, or
/// detaching: AWS deletes a VPC only once they are detached), read with
/// those of the other environments that ask at the same moment. The
/// environment never attaches one: each is another's.
pub async fn vpn_gateways_attached(
    client: &Client,
    batches: &Batches,
    vpc: &str,
) -> Result<Vec<Found>> {
    batches
        .read_with(
            client,
            "DescribeVpnGateways",
            "attachment.vpc-id",
            EC2_FILTER_VALUES,
            vpc,
            |client, vpcs| async move {
                let out = client
                    .describe_vpn_gateways()
                    .filters(filter_any("attachment.vpc-id", vpcs))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeVpnGateways", e))?;
                let detached = aws_sdk_ec2::types::AttachmentStatus::Detached;
                Ok(out
                    .vpn_gateways()
                    .iter()
                    .flat_map(|gateway| {
                        let found = Found {
                            id: gateway.vpn_gateway_id().unwrap_or_default().into(),
                            tags: tag_map(Some(gateway.tags())),
                            ..Found::default()
                        };
                        // a gateway lists the VPCs it was attached to before too
                        gateway
                            .vpc_attachments()
                            .iter()
                            .filter(|a| a.state() != Some(&detached))
                            .filter_map(move |a| Some((a.vpc_id()?.to_string(), found.clone())))
                            .collect::<Vec<_>>()
                    })
                    .collect())
            },
        )
        .await
}

/// The network interfaces of a VPC, and those of its NAT gateways in any
/// state: what tells another's interfaces in it from the environment's.
pub type VpcInterfaces = (Vec<NetworkInterface>, BTreeSet<String>);

/// The network interfaces of `vpc` and of its NAT gateways, each read
/// merged with the reads of the other environments that ask at the same
/// moment.
pub async fn vpc_interfaces(
    client: &Client,
    batches: &Batches,
    vpc: &str,
) -> Result<VpcInterfaces> {
    futures::try_join!(
        network_interfaces(client, batches, vpc),
        nat_gateway_interfaces(client, batches, vpc),
    )
}

/// The network interfaces of every NAT gateway in `vpc`, whatever its state
/// (a deleting gateway's interface is still the environment's).
pub async fn nat_gateway_interfaces(
    client: &Client,
    batches: &Batches,
    vpc: &str,
) -> Result<BTreeSet<String>> {
    let by_vpc = ("vpc-id", "vpc-id, every state");
    let found = super::routing::merged_nat_gateways(client, batches, by_vpc, vpc, |g| {
        let vpc = g.vpc_id().unwrap_or_default();
        let interfaces = g.nat_gateway_addresses().iter();
        interfaces
            .filter_map(|a| Some((vpc.to_string(), a.network_interface_id()?.to_string())))
            .collect()
    })
    .await?;
    Ok(found.into_iter().collect())
}

/// Security groups (in any VPC) whose inbound or outbound rules name one of
/// `groups`, as `(id, name)`; `groups` themselves included when they do.
pub async fn groups_referencing(
    client: &Client,
    groups: &[String],
) -> Result<Vec<(String, String)>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let ask = |name: &'static str| async move {
        client
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name(name)
                    .set_values(Some(groups.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))
    };
    let (inbound, outbound) = futures::try_join!(
        ask("ip-permission.group-id"),
        ask("egress.ip-permission.group-id")
    )?;
    let mut found: Vec<(String, String)> = inbound
        .security_groups()
        .iter()
        .chain(outbound.security_groups())
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_string(),
                g.group_name().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// Whether the instance refuses TerminateInstances (`disableApiTermination`).
pub async fn termination_protected(client: &Client, instance: &str) -> Result<bool> {
    let out = describe_attribute(
        client,
        instance,
        aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination,
    )
    .await?;
    Ok(out
        .disable_api_termination()
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false))
}

/// Whether the instance refuses StopInstances (`disableApiStop`), which
/// also refuses TerminateInstances.
pub async fn stop_protected(client: &Client, instance: &str) -> Result<bool> {
    let out = describe_attribute(
        client,
        instance,
        aws_sdk_ec2::types::InstanceAttributeName::DisableApiStop,
    )
    .await?;
    Ok(out
        .disable_api_stop()
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false))
}

async fn describe_attribute(
    client: &Client,
    instance: &str,
    attribute: aws_sdk_ec2::types::InstanceAttributeName,
) -> Result<aws_sdk_ec2::operation::describe_instance_attribute::DescribeInstanceAttributeOutput> {
    client
        .describe_instance_attribute()
        .instance_id(instance)
        .attribute(attribute)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeInstanceAttribute", e))
}

/// Turns the instance's termination protection off.
pub async fn allow_termination(client: &Client, instance: &str) -> Result<()> {
    client
        .modify_instance_attribute()
        .instance_id(instance)
        .disable_api_termination(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute", e))?;
    Ok(())
}

/// Turns the instance's stop protection off.
pub async fn allow_stop(client: &Client, instance: &str) -> Result<()> {
    client
        .modify_instance_attribute()
        .instance_id(instance)
        .disable_api_stop(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute", e))?;
    Ok(())
}
