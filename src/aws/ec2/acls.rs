//! Network ACLs: which one filters each subnet's traffic.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;

use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;

use super::Result;

/// A network ACL of the VPC and the subnets it filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkAcl {
    pub id: String,
    /// the VPC's default ACL, which AWS made with the VPC (allow all, both ways)
    pub default: bool,
    /// association ID -> subnet
    pub associations: BTreeMap<String, String>,
}

/// Every network ACL of `vpc`; the reads of several VPCs at the same moment
/// share one call.
pub async fn network_acls(
    client: &Client,
    batches: &Batches,
    vpc: &str,
) -> Result<Vec<NetworkAcl>> {
    let client = client.clone();
    batches
        .read(
            "DescribeNetworkAcls",
            "vpc-id",
            EC2_FILTER_VALUES,
            vpc,
            move |vpcs| {
                let client = client.clone();
                async move {
                    let out = client
                        .describe_network_acls()
                        .filters(
                            aws_sdk_ec2::types::Filter::builder()
                                .name("vpc-id")
                                .set_values(Some(vpcs))
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeNetworkAcls", e))?;
                    Ok(out
                        .network_acls()
                        .iter()
                        .map(|acl| (acl.vpc_id().unwrap_or_default().to_string(), acl_of(acl)))
                        .collect())
                }
            },
        )
        .await
}

fn acl_of(acl: &aws_sdk_ec2::types::NetworkAcl) -> NetworkAcl {
    NetworkAcl {
        id: acl.network_acl_id().unwrap_or_default().into(),
        default: acl.is_default().unwrap_or(false),
        associations: acl
            .associations()
            .iter()
            .filter_map(|a| {
                Some((
                    a.network_acl_association_id()?.to_string(),
                    a.subnet_id()?.to_string(),
                ))
            })
            .collect(),
    }
}

/// Moves a subnet's association (`association`) to network ACL `acl`.
pub async fn replace_network_acl_association(
    client: &Client,
    association: &str,
    acl: &str,
) -> Result<()> {
    client
        .replace_network_acl_association()
        .association_id(association)
        .network_acl_id(acl)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ReplaceNetworkAclAssociation", e))?;
    Ok(())
}
