//! VPC flow logs: the provider's own (tagged for the environment) and every
//! flow log of the VPC, which the posture report judges whoever created it.
//! AWS cannot modify a flow log's settings, so a change is a delete and a create.

use aws_sdk_ec2::types::{
    Filter, FlowLog as SdkFlowLog, FlowLogsResourceType, LogDestinationType, ResourceType,
    TrafficType,
};
use aws_sdk_ec2::Client;

use super::{
    deleted_unless_failed, first_failure, required, tag_map, tag_spec, Found, Result, Tags,
};
use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;
use crate::plan::spec::FlowLogSpec;

/// A flow log of a VPC, as far as the posture report needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowLog {
    pub id: String,
    /// `ACCEPT`, `REJECT` or `ALL`
    pub traffic_type: String,
}

impl From<&Found> for FlowLog {
    fn from(found: &Found) -> FlowLog {
        FlowLog {
            id: found.id.clone(),
            traffic_type: found
                .detail
                .get("traffic_type")
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// Every flow log AWS has for a VPC, whoever created them, as [`own_flow_logs`]
/// reports them.
/// The reads of several VPCs at the same moment share one call.
pub async fn flow_logs(client: &Client, batches: &Batches, vpc_id: &str) -> Result<Vec<Found>> {
    batches
        .read_with(
            client,
            "DescribeFlowLogs",
            "resource-id",
            EC2_FILTER_VALUES,
            vpc_id,
            |client, vpcs| async move {
                let selection = aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .set_values(Some(vpcs))
                    .build();
                let logs = describe(&client, selection).await?;
                Ok(logs
                    .into_iter()
                    .map(|log| (log.detail.get("vpc").cloned().unwrap_or_default(), log))
                    .collect())
            },
        )
        .await
}

/// The flow logs that `selection` picks (the environment's tag), with their
/// settings in [`Found::detail`]: `vpc`, `traffic_type`, `destination_type`,
/// `destination`, `role` and `interval`.
pub async fn own_flow_logs(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    describe(client, selection).await
}

async fn describe(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    let out = client
        .describe_flow_logs()
        .filter(selection)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeFlowLogs", e))?;
    Ok(out.flow_logs().iter().map(found).collect())
}

fn found(f: &SdkFlowLog) -> Found {
    let text = |value: Option<&str>| value.unwrap_or_default().to_string();
    Found {
        id: text(f.flow_log_id()),
        tags: tag_map(Some(f.tags())),
        detail: [
            ("vpc", text(f.resource_id())),
            ("traffic_type", text(f.traffic_type().map(|t| t.as_str()))),
            (
                "destination_type",
                text(f.log_destination_type().map(|t| t.as_str())),
            ),
            ("destination", destination_of(f)),
            ("role", text(f.deliver_logs_permission_arn())),
            (
                "interval",
                f.max_aggregation_interval()
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
            ),
        ]
        .into(),
    }
}

/// Where a flow log delivers: its destination ARN, which AWS reports for S3 and
/// for log groups given by ARN; a log group given by name is reported by name only.
fn destination_of(flow_log: &SdkFlowLog) -> String {
    flow_log
        .log_destination()
        .filter(|d| !d.is_empty())
        .or(flow_log.log_group_name())
        .unwrap_or_default()
        .to_string()
}

/// Creates the VPC's flow log. AWS answers a destination it cannot use (a
/// missing bucket, for one) with a success that lists the VPC as unsuccessful:
/// that is an error here, with AWS's words.
pub async fn create_flow_log(
    client: &Client,
    vpc_id: &str,
    spec: &FlowLogSpec,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let destination_type = match spec.destination.role_arn() {
        None => LogDestinationType::S3,
        Some(_) => LogDestinationType::CloudWatchLogs,
    };
    let out = client
        .create_flow_logs()
        .resource_type(FlowLogsResourceType::Vpc)
        .resource_ids(vpc_id)
        .traffic_type(TrafficType::from(spec.traffic_type.as_str()))
        .log_destination_type(destination_type)
        .log_destination(spec.destination.arn())
        .set_deliver_logs_permission_arn(spec.destination.role_arn().map(str::to_string))
        .max_aggregation_interval(spec.max_aggregation_interval as i32)
        .client_token(token)
        .tag_specifications(tag_spec(ResourceType::VpcFlowLog, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateFlowLogs", e))?;
    if let Some(error) = first_failure("CreateFlowLogs", out.unsuccessful()) {
        return Err(error);
    }
    Ok(required(out.flow_log_ids().first(), "CreateFlowLogs", "FlowLogIds")?.clone())
}

/// Deletes one flow log; one that is already gone is done.
pub async fn delete_flow_log(client: &Client, id: &str) -> Result<()> {
    let out = match client.delete_flow_logs().flow_log_ids(id).send().await {
        Ok(out) => out,
        Err(e) => return AwsError::from_sdk("DeleteFlowLogs", e).or_gone(()),
    };
    deleted_unless_failed("DeleteFlowLogs", out.unsuccessful())
}
