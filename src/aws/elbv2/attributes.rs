//! The load balancer's and target group's attributes: read with AWS's
//! defaults filled in, and set only where they differ.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerAttribute, TargetGroupAttribute};
use aws_sdk_elasticloadbalancingv2::Client;

use super::Result;
use crate::error::AwsError;
use crate::plan::spec::attribute::{AWS_DEFAULTS, TARGET_GROUP_DEFAULTS};

/// The load balancer's attributes by key. A key AWS (or an emulator) leaves
/// out reads as AWS's default for it. Like [`super::listeners`], asked of a load
/// balancer just listed: a not-found error is returned, to be asked again.
pub async fn load_balancer_attributes(
    client: &Client,
    arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = match client
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(AwsError::from_sdk("DescribeLoadBalancerAttributes", e)),
    };
    let reported = out.attributes().iter().map(|a| (a.key(), a.value()));
    Ok(with_defaults(&AWS_DEFAULTS, reported))
}

/// The attributes AWS reports by key, with the value of `defaults` for each
/// key it leaves out (emulators may leave out keys never set).
fn with_defaults<'a>(
    defaults: &[(&str, &str)],
    reported: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    let mut found: BTreeMap<String, String> = defaults
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    found.extend(reported.filter_map(|(key, value)| {
        Some((key?.to_string(), value.unwrap_or_default().to_string()))
    }));
    found
}

/// Sets these attributes of the load balancer, leaving the others as they are.
pub async fn set_load_balancer_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<&str, String>,
) -> Result<()> {
    let attributes = attributes
        .iter()
        .map(|(key, value)| {
            LoadBalancerAttribute::builder()
                .key(*key)
                .value(value)
                .build()
        })
        .collect();
    client
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyLoadBalancerAttributes", e))?;
    Ok(())
}

/// The target group's attributes by key, with AWS's value for each key of
/// [`TARGET_GROUP_DEFAULTS`] it leaves out.
pub async fn target_group_attributes(
    client: &Client,
    arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = client
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeTargetGroupAttributes", e))?;
    let reported = out.attributes().iter().map(|a| (a.key(), a.value()));
    Ok(with_defaults(&TARGET_GROUP_DEFAULTS, reported))
}

/// Sets these attributes of the target group, leaving the others as they are.
pub async fn set_target_group_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<&str, String>,
) -> Result<()> {
    let attributes = attributes
        .iter()
        .map(|(key, value)| {
            TargetGroupAttribute::builder()
                .key(*key)
                .value(value)
                .build()
        })
        .collect();
    client
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyTargetGroupAttributes", e))?;
    Ok(())
}
