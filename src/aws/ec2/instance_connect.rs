//! EC2 Instance Connect Endpoints: SSH to instances in private subnets without
//! a bastion or a public address. AWS allows one per VPC and one per subnet;
//! creation and deletion take minutes (`create-in-progress`,
//! `delete-in-progress`), and a deleted endpoint stays listed as
//! `delete-complete` for a while.

use aws_sdk_ec2::types::{Ec2InstanceConnectEndpoint, Filter, ResourceType};
use aws_sdk_ec2::Client;

use super::{filter, required, tag_map, tag_spec, Found, Listing, Result, Tags};
use crate::error::AwsError;

/// The state a finished create reaches.
pub const ENDPOINT_READY: &str = "create-complete";

/// States after which an endpoint no longer exists, though AWS still lists it
/// for a while.
fn is_gone(state: &str) -> bool {
    matches!(state, "delete-complete")
}

fn state_of(endpoint: &Ec2InstanceConnectEndpoint) -> String {
    endpoint
        .state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

fn found(e: &Ec2InstanceConnectEndpoint) -> Found {
    let mut groups: Vec<&str> = e.security_group_ids().iter().map(String::as_str).collect();
    groups.sort_unstable();
    Found {
        id: e.instance_connect_endpoint_id().unwrap_or_default().into(),
        tags: tag_map(Some(e.tags())),
        detail: [
            ("vpc", e.vpc_id().unwrap_or_default().to_string()),
            ("subnet", e.subnet_id().unwrap_or_default().to_string()),
            ("security_groups", groups.join(",")),
            (
                "preserve_client_ip",
                e.preserve_client_ip().unwrap_or(false).to_string(),
            ),
            ("state", state_of(e)),
            (
                "state_message",
                e.state_message().unwrap_or_default().to_string(),
            ),
            ("dns_name", e.dns_name().unwrap_or_default().to_string()),
            // the network interface it holds in its subnet
            ("interfaces", e.network_interface_ids().join(",")),
        ]
        .into(),
    }
}

/// How discovery lists the endpoints, by the VPC they stand in.
pub const INSTANCE_CONNECT_ENDPOINTS: Listing = Listing {
    operation: "DescribeInstanceConnectEndpoints",
    vpc_filter: "vpc-id",
    noun: "EC2 Instance Connect Endpoint",
    describe: |client, selection| {
        Box::pin(async move { instance_connect_endpoints(&client, selection).await })
    },
};

/// The endpoints `selection` picks that still exist, in any other state.
pub async fn instance_connect_endpoints(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    let out = client
        .describe_instance_connect_endpoints()
        .filters(selection)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeInstanceConnectEndpoints", e))?;
    Ok(out
        .instance_connect_endpoints()
        .iter()
        .filter(|e| !is_gone(&state_of(e)))
        .map(found)
        .collect())
}

/// The endpoint of that ID as AWS reports it now; `None` once it is gone.
pub async fn instance_connect_endpoint(client: &Client, id: &str) -> Result<Option<Found>> {
    match instance_connect_endpoints(client, filter("instance-connect-endpoint-id", id)).await {
        Ok(found) => Ok(found.into_iter().next()),
        Err(error) => error.or_gone(None),
    }
}

/// Creates an endpoint in `subnet` with `security_group`, the client's address
/// not preserved (instances see the endpoint's), so the app's group admits SSH
/// from the endpoint's group alone; `token` makes a retried call idempotent.
pub async fn create_instance_connect_endpoint(
    client: &Client,
    subnet: &str,
    security_group: &str,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .create_instance_connect_endpoint()
        .subnet_id(subnet)
        .security_group_ids(security_group)
        .preserve_client_ip(false)
        // AWS's default is dualstack in a subnet with an IPv6 block: an
        // address AWS manages there would keep the subnet's block from being
        // removed when `ipv6` is turned off
        .ip_address_type(aws_sdk_ec2::types::IpAddressType::Ipv4)
        .client_token(token)
        .tag_specifications(tag_spec(ResourceType::InstanceConnectEndpoint, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateInstanceConnectEndpoint", e))?;
    Ok(required(
        out.instance_connect_endpoint()
            .and_then(|e| e.instance_connect_endpoint_id()),
        "CreateInstanceConnectEndpoint",
        "InstanceConnectEndpointId",
    )?
    .to_string())
}

/// Starts deleting an endpoint; one AWS no longer knows is already gone.
pub async fn delete_instance_connect_endpoint(client: &Client, id: &str) -> Result<()> {
    match client
        .delete_instance_connect_endpoint()
        .instance_connect_endpoint_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => AwsError::from_sdk("DeleteInstanceConnectEndpoint", e).or_gone(()),
    }
}
