//! Gateway VPC endpoints (S3, DynamoDB): the route tables they serve are the
//! endpoint's own attribute; AWS adds and removes the prefix-list routes itself.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, ResourceType, VpcEndpoint, VpcEndpointType};
use aws_sdk_ec2::Client;

use super::{
    deleted_unless_failed, filter, filter_any, required, tag_map, tag_spec, Found, Listing, Result,
    Tags,
};
use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;

/// States after which an endpoint no longer exists, though AWS still lists it
/// for a while.
fn is_gone(state: &str) -> bool {
    matches!(
        state.to_ascii_lowercase().as_str(),
        "deleting" | "deleted" | "failed" | "rejected" | "expired"
    )
}

fn state_of(endpoint: &VpcEndpoint) -> String {
    endpoint
        .state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The route tables an endpoint serves, sorted and comma-joined as in [`Found::detail`].
pub fn route_table_list(tables: &BTreeSet<String>) -> String {
    tables.iter().cloned().collect::<Vec<_>>().join(",")
}

/// The route tables an endpoint reported by [`GATEWAY_ENDPOINTS`] serves.
pub fn route_tables_of(endpoint: &Found) -> BTreeSet<String> {
    endpoint
        .detail
        .get("route_tables")
        .map(|list| {
            list.split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The endpoints that `filters` pick, in every state.
async fn describe_endpoints(client: &Client, filters: Vec<Filter>) -> Result<Vec<VpcEndpoint>> {
    let out = client
        .describe_vpc_endpoints()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeVpcEndpoints", e))?;
    Ok(out.vpc_endpoints().to_vec())
}

/// The gateway endpoints that `selection` picks, in every state.
async fn describe_gateway_endpoints(
    client: &Client,
    selection: Filter,
) -> Result<Vec<VpcEndpoint>> {
    describe_endpoints(
        client,
        vec![selection, filter("vpc-endpoint-type", "Gateway")],
    )
    .await
}

/// How discovery lists the endpoints, by the VPC they are in: every type,
/// so that another's (an interface endpoint, whose network interfaces also
/// keep the VPC from being deleted) is reported, not only gateways like the
/// environment's own.
pub const GATEWAY_ENDPOINTS: Listing = Listing {
    operation: "DescribeVpcEndpoints",
    vpc_filter: "vpc-id",
    noun: "VPC endpoint",
    describe: |client, selection| Box::pin(async move { vpc_endpoints(&client, selection).await }),
};

/// The live endpoints of every type that `selection` picks, with their
/// type, service name, VPC and route tables.
pub async fn vpc_endpoints(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    Ok(describe_endpoints(client, vec![selection])
        .await?
        .iter()
        .filter(|e| !is_gone(&state_of(e)))
        .map(|e| Found {
            id: e.vpc_endpoint_id().unwrap_or_default().into(),
            tags: tag_map(Some(e.tags())),
            detail: [
                (
                    "type",
                    e.vpc_endpoint_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                ),
                ("service", e.service_name().unwrap_or_default().to_string()),
                ("vpc", e.vpc_id().unwrap_or_default().to_string()),
                (
                    "route_tables",
                    route_table_list(&e.route_table_ids().iter().cloned().collect()),
                ),
                ("state", state_of(e)),
                (
                    "policy",
                    e.policy_document().unwrap_or_default().to_string(),
                ),
            ]
            .into(),
        })
        .collect())
}

/// Creates a gateway endpoint for `service_name` serving `route_tables`;
/// `token` makes a retried call idempotent.
pub async fn create_gateway_endpoint(
    client: &Client,
    vpc_id: &str,
    service_name: &str,
    route_tables: &BTreeSet<String>,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .create_vpc_endpoint()
        .vpc_id(vpc_id)
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .service_name(service_name)
        .set_route_table_ids(Some(route_tables.iter().cloned().collect()))
        .client_token(token)
        .tag_specifications(tag_spec(ResourceType::VpcEndpoint, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateVpcEndpoint", e))?;
    Ok(required(
        out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()),
        "CreateVpcEndpoint",
        "VpcEndpointId",
    )?
    .to_string())
}

/// Attaches the endpoint to `add` and detaches it from `remove`.
pub async fn change_endpoint_route_tables(
    client: &Client,
    endpoint_id: &str,
    add: &BTreeSet<String>,
    remove: &BTreeSet<String>,
) -> Result<()> {
    client
        .modify_vpc_endpoint()
        .vpc_endpoint_id(endpoint_id)
        .set_add_route_table_ids(Some(add.iter().cloned().collect()))
        .set_remove_route_table_ids(Some(remove.iter().cloned().collect()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyVpcEndpoint", e))?;
    Ok(())
}

/// The policy AWS gives a gateway endpoint made without one: everyone may do
/// everything through it (what reaches the service is up to its own policies).
pub const FULL_ACCESS_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// Whether an endpoint's policy document lets everything through, however it
/// is written (AWS answers with its own spacing; a missing document is the default).
pub fn allows_everything(endpoint: &Found) -> bool {
    let Some(document) = endpoint.detail.get("policy").filter(|d| !d.is_empty()) else {
        return true;
    };
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    let statements = |doc: serde_json::Value| doc.get("Statement").cloned();
    match (parse(document), parse(FULL_ACCESS_POLICY)) {
        (Some(found), Some(full)) => statements(found) == statements(full),
        _ => false,
    }
}

/// Gives the endpoint the full-access policy again.
pub async fn reset_endpoint_policy(client: &Client, endpoint_id: &str) -> Result<()> {
    client
        .modify_vpc_endpoint()
        .vpc_endpoint_id(endpoint_id)
        .policy_document(FULL_ACCESS_POLICY)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyVpcEndpoint", e))?;
    Ok(())
}

/// Deletes an endpoint. The deletes of every environment at the same moment
/// go out in one call: DeleteVpcEndpoints takes many IDs, and AWS allows it
/// only 4 calls at once and one every 3 seconds after. AWS answers with HTTP
/// 200 and lists each endpoint it could not delete; one it does not know is
/// already gone.
pub async fn delete_vpc_endpoint(
    client: &Client,
    batches: &Batches,
    endpoint_id: &str,
) -> Result<()> {
    let answers = batches
        .read_with(
            client,
            "DeleteVpcEndpoints",
            "VpcEndpointId",
            EC2_FILTER_VALUES,
            endpoint_id,
            |client, ids| async move {
                let out = client
                    .delete_vpc_endpoints()
                    .set_vpc_endpoint_ids(Some(ids.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DeleteVpcEndpoints", e))?;
                // each endpoint's own outcome, from the items AWS lists as failed
                Ok(ids
                    .into_iter()
                    .map(|id| {
                        let failed: Vec<_> = out
                            .unsuccessful()
                            .iter()
                            .filter(|item| item.resource_id() == Some(id.as_str()))
                            .cloned()
                            .collect();
                        let outcome = deleted_unless_failed("DeleteVpcEndpoints", &failed);
                        (id, outcome)
                    })
                    .collect())
            },
        )
        .await?;
    answers.into_iter().next().unwrap_or(Ok(()))
}

/// The VPC's gateway endpoints that are not yet deleted, with their states
/// (`available`, `deleting`, ...). Asked by filter rather than by ID: AWS may
/// answer a call naming an endpoint created moments ago that it does not
/// exist, which must not pass for a deletion. The waits of every environment
/// at the same moment share one call.
pub async fn live_gateway_endpoints(
    client: &Client,
    batches: &Batches,
    vpc_id: &str,
) -> Result<BTreeMap<String, String>> {
    let found = batches
        .read_with(
            client,
            "DescribeVpcEndpoints",
            "vpc-id, with states",
            EC2_FILTER_VALUES,
            vpc_id,
            |client, vpcs| async move {
                let selection = filter_any("vpc-id", vpcs);
                Ok(describe_gateway_endpoints(&client, selection)
                    .await?
                    .iter()
                    .filter(|e| state_of(e) != "deleted")
                    .filter_map(|e| {
                        let vpc = e.vpc_id()?.to_string();
                        Some((vpc, (e.vpc_endpoint_id()?.to_string(), state_of(e))))
                    })
                    .collect())
            },
        )
        .await?;
    Ok(found.into_iter().collect())
}
