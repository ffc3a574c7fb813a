//! Elastic Load Balancing v2: the ALB and its target group here; listeners,
//! registered targets and attributes in their own modules.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, Tag, TargetDescription,
    TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use crate::aws::batch::Batches;
use crate::error::AwsError;

type Result<T> = std::result::Result<T, AwsError>;

mod attributes;
mod listeners;
mod targets;
pub use attributes::*;
pub use listeners::*;
pub use targets::*;

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// An ALB as the provider cares about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub zone_id: String,
    pub scheme: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub state: String,
    pub vpc_id: String,
    /// `ipv4` or `dualstack`
    pub ip_address_type: String,
}

/// The load balancer's address type: `dualstack` with IPv6, `ipv4` without.
pub fn ip_address_type(ipv6: bool) -> &'static str {
    if ipv6 {
        "dualstack"
    } else {
        "ipv4"
    }
}

/// Gives the load balancer IPv6 addresses beside its IPv4 ones, or takes them away.
pub async fn set_ip_address_type(client: &Client, arn: &str, ipv6: bool) -> Result<()> {
    client
        .set_ip_address_type()
        .load_balancer_arn(arn)
        .ip_address_type(aws_sdk_elasticloadbalancingv2::types::IpAddressType::from(
            ip_address_type(ipv6),
        ))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SetIpAddressType", e))?;
    Ok(())
}

/// A target group as the provider cares about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub port: i32,
    pub health_check: HealthCheck,
    pub vpc_id: String,
}

/// How the target group probes the app instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthCheck {
    pub enabled: bool,
    pub protocol: String,
    pub path: String,
    pub interval_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    /// `traffic-port` (the port targets are registered on) or a fixed port
    pub port: String,
    /// the HTTP codes that count as healthy
    pub matcher: String,
    pub timeout_seconds: i32,
}

impl HealthCheck {
    /// HTTP on `path` at the app's port every 15 s, answered with 200 within
    /// 5 s; three answers in a row decide healthy or not.
    pub fn on(path: &str) -> HealthCheck {
        HealthCheck {
            enabled: true,
            protocol: "HTTP".into(),
            path: path.to_string(),
            interval_seconds: 15,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            port: "traffic-port".into(),
            matcher: "200".into(),
            timeout_seconds: 5,
        }
    }

    /// The settings that differ from `wanted`, as `name actual (wanted ...)`.
    pub fn differences(&self, wanted: &HealthCheck) -> Vec<String> {
        let mut found = Vec::new();
        let mut compare = |name: &str, actual: String, expected: String| {
            if actual != expected {
                found.push(format!("{name} {actual} instead of {expected}"));
            }
        };
        compare(
            "enabled",
            self.enabled.to_string(),
            wanted.enabled.to_string(),
        );
        compare("protocol", self.protocol.clone(), wanted.protocol.clone());
        compare("path", self.path.clone(), wanted.path.clone());
        compare(
            "interval",
            format!("{}s", self.interval_seconds),
            format!("{}s", wanted.interval_seconds),
        );
        compare(
            "healthy threshold",
            self.healthy_threshold.to_string(),
            wanted.healthy_threshold.to_string(),
        );
        compare(
            "unhealthy threshold",
            self.unhealthy_threshold.to_string(),
            wanted.unhealthy_threshold.to_string(),
        );
        compare("port", self.port.clone(), wanted.port.clone());
        compare("matcher", self.matcher.clone(), wanted.matcher.clone());
        compare(
            "timeout",
            format!("{}s", self.timeout_seconds),
            format!("{}s", wanted.timeout_seconds),
        );
        found
    }
}

/// Tags of ELB objects by ARN. The reads of every environment at the same
/// moment share calls of up to 20 ARNs (what AWS takes).
pub async fn tags_of(
    client: &Client,
    batches: &Batches,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let reads = arns.iter().map(|arn| {
        batches.read_with(
            client,
            "DescribeTags",
            "ResourceArns",
            20,
            arn,
            |client, arns| async move {
                let out = client
                    .describe_tags()
                    .set_resource_arns(Some(arns))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeTags", e))?;
                Ok(out
                    .tag_descriptions()
                    .iter()
                    .filter_map(|d| {
                        let tags = super::tag_pairs(d.tags().iter().map(|t| (t.key(), t.value())));
                        let arn = d.resource_arn()?.to_string();
                        Some((arn.clone(), (arn, tags)))
                    })
                    .collect())
            },
        )
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

fn load_balancer_of(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> LoadBalancer {
    LoadBalancer {
        arn: lb.load_balancer_arn().unwrap_or_default().into(),
        name: lb.load_balancer_name().unwrap_or_default().into(),
        dns_name: lb.dns_name().unwrap_or_default().into(),
        zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().into(),
        scheme: lb
            .scheme()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        subnets: lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect(),
        security_groups: lb.security_groups().to_vec(),
        vpc_id: lb.vpc_id().unwrap_or_default().into(),
        ip_address_type: lb
            .ip_address_type()
            .map_or("ipv4", |t| t.as_str())
            .to_string(),
        state: lb
            .state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
    }
}

fn target_group_of(tg: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> TargetGroup {
    TargetGroup {
        arn: tg.target_group_arn().unwrap_or_default().into(),
        name: tg.target_group_name().unwrap_or_default().into(),
        port: tg.port().unwrap_or_default(),
        health_check: HealthCheck {
            enabled: tg.health_check_enabled().unwrap_or(false),
            protocol: tg
                .health_check_protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            path: tg.health_check_path().unwrap_or_default().into(),
            interval_seconds: tg.health_check_interval_seconds().unwrap_or_default(),
            healthy_threshold: tg.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or_default(),
            port: tg.health_check_port().unwrap_or_default().into(),
            matcher: tg
                .matcher()
                .and_then(|m| m.http_code())
                .unwrap_or_default()
                .into(),
            timeout_seconds: tg.health_check_timeout_seconds().unwrap_or_default(),
        },
        vpc_id: tg.vpc_id().unwrap_or_default().into(),
    }
}

/// Every load balancer of the region, in the largest pages AWS gives.
async fn every_load_balancer(client: &Client) -> Result<Vec<LoadBalancer>> {
    let mut found = Vec::new();
    let mut pages = client
        .describe_load_balancers()
        .page_size(LISTING_PAGE)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeLoadBalancers", e))?;
        found.extend(page.load_balancers().iter().map(load_balancer_of));
    }
    Ok(found)
}

/// Every target group of the region, in the largest pages AWS gives.
async fn every_target_group(client: &Client) -> Result<Vec<TargetGroup>> {
    let mut found = Vec::new();
    let mut pages = client
        .describe_target_groups()
        .page_size(LISTING_PAGE)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeTargetGroups", e))?;
        found.extend(page.target_groups().iter().map(target_group_of));
    }
    Ok(found)
}

/// The most load balancers or target groups one page of a listing holds.
const LISTING_PAGE: i32 = 400;

/// Every load balancer and target group in a VPC (all pages). Listing by VPC
/// rather than by name also finds objects left behind by an earlier port or name.
///
/// Neither describe filters by VPC, so each lists the region's: the reads
/// of every environment asking at the same moment share one listing, each
/// taking its VPC's.
pub async fn in_vpc(
    client: &Client,
    batches: &Batches,
    vpc_id: &str,
) -> Result<(Vec<LoadBalancer>, Vec<TargetGroup>)> {
    let balancers = batches.read_with(
        client,
        "DescribeLoadBalancers",
        "every load balancer, by VPC",
        usize::MAX,
        vpc_id,
        |client, _| async move {
            let all = every_load_balancer(&client).await?;
            Ok(all.into_iter().map(|lb| (lb.vpc_id.clone(), lb)).collect())
        },
    );
    let groups = batches.read_with(
        client,
        "DescribeTargetGroups",
        "every target group, by VPC",
        usize::MAX,
        vpc_id,
        |client, _| async move {
            let all = every_target_group(&client).await?;
            Ok(all.into_iter().map(|tg| (tg.vpc_id.clone(), tg)).collect())
        },
    );
    futures::try_join!(balancers, groups)
}

/// The load balancer's state (`provisioning`, `active`, `failed`, ...), `None`
/// when gone (AWS lists it while it is being deleted). The waits of every
/// environment polling at the same moment share one listing of the region's
/// load balancers (a region holds 50 by default, a page 400): naming them
/// would fail the call for all when one was created moments ago and is not
/// known yet, and AWS has no filter that tolerates it.
pub async fn load_balancer_state(
    client: &Client,
    batches: &Batches,
    arn: &str,
) -> Result<Option<String>> {
    let found = batches
        .read_with(
            client,
            "DescribeLoadBalancers",
            "every load balancer",
            usize::MAX,
            arn,
            |client, _| async move {
                let all = every_load_balancer(&client).await?;
                Ok(all.into_iter().map(|lb| (lb.arn, lb.state)).collect())
            },
        )
        .await?;
    Ok(found.into_iter().next())
}

/// The load balancer of that name, if any. The reads of every environment at
/// the same moment share calls of up to 20 names (see [`Batches`]: a name
/// AWS does not know fails the call, which is then asked name by name).
pub async fn find_load_balancer(
    client: &Client,
    batches: &Batches,
    name: &str,
) -> Result<Option<LoadBalancer>> {
    let found = batches
        .read_with(
            client,
            "DescribeLoadBalancers",
            "Names",
            20,
            name,
            |client, names| async move { load_balancers_named(&client, names).await },
        )
        .await;
    match found {
        Ok(found) => Ok(found.into_iter().next()),
        Err(error) => error.or_gone(None),
    }
}

/// The load balancers of these names, each with its name; fails when AWS
/// does not know one of them.
async fn load_balancers_named(
    client: &Client,
    names: Vec<String>,
) -> Result<Vec<(String, LoadBalancer)>> {
    let out = client
        .describe_load_balancers()
        .set_names(Some(names))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeLoadBalancers", e))?;
    Ok(out
        .load_balancers()
        .iter()
        .map(|lb| {
            let name = lb.load_balancer_name().unwrap_or_default().to_string();
            (name, load_balancer_of(lb))
        })
        .collect())
}

/// Creates the internet-facing ALB in the given subnets.
pub async fn create_load_balancer(
    client: &Client,
    name: &str,
    subnets: &[String],
    security_group: &str,
    ipv6: bool,
    tags: &BTreeMap<String, String>,
) -> Result<LoadBalancer> {
    client
        .create_load_balancer()
        .name(name)
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .ip_address_type(aws_sdk_elasticloadbalancingv2::types::IpAddressType::from(
            ip_address_type(ipv6),
        ))
        .set_subnets(Some(subnets.to_vec()))
        .security_groups(security_group)
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateLoadBalancer", e))?;
    let created = match load_balancers_named(client, vec![name.to_string()]).await {
        Ok(found) => found.into_iter().next().map(|(_, lb)| lb),
        Err(error) => error.or_gone(None)?,
    };
    created.ok_or(AwsError::MissingField {
        operation: "CreateLoadBalancer",
        field: "LoadBalancers",
    })
}

/// Points the ALB at a new set of subnets (one per AZ).
pub async fn set_subnets(client: &Client, arn: &str, subnets: &[String]) -> Result<()> {
    client
        .set_subnets()
        .load_balancer_arn(arn)
        .set_subnets(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SetSubnets", e))?;
    Ok(())
}

/// Puts the ALB in exactly these security groups.
pub async fn set_security_groups(client: &Client, arn: &str, groups: &[String]) -> Result<()> {
    client
        .set_security_groups()
        .load_balancer_arn(arn)
        .set_security_groups(Some(groups.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SetSecurityGroups", e))?;
    Ok(())
}

/// Deletes the load balancer; AWS refuses (`OperationNotPermitted`) while its
/// deletion protection is on.
pub async fn delete_load_balancer(client: &Client, arn: &str) -> Result<()> {
    client
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteLoadBalancer", e))?;
    Ok(())
}

/// The target group of that name, if any, read as [`find_load_balancer`] is.
pub async fn find_target_group(
    client: &Client,
    batches: &Batches,
    name: &str,
) -> Result<Option<TargetGroup>> {
    let found = batches
        .read_with(
            client,
            "DescribeTargetGroups",
            "Names",
            20,
            name,
            |client, names| async move {
                let out = client
                    .describe_target_groups()
                    .set_names(Some(names))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeTargetGroups", e))?;
                Ok(out
                    .target_groups()
                    .iter()
                    .map(|tg| {
                        let name = tg.target_group_name().unwrap_or_default().to_string();
                        (name, target_group_of(tg))
                    })
                    .collect())
            },
        )
        .await;
    match found {
        Ok(found) => Ok(found.into_iter().next()),
        Err(error) => error.or_gone(None),
    }
}

/// Creates the HTTP target group of the app instances.
pub async fn create_target_group(
    client: &Client,
    name: &str,
    vpc_id: &str,
    port: u16,
    health_check: &HealthCheck,
    tags: &BTreeMap<String, String>,
) -> Result<TargetGroup> {
    let out = client
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(port))
        .vpc_id(vpc_id)
        .target_type(TargetTypeEnum::Instance)
        .health_check_enabled(health_check.enabled)
        .health_check_path(&health_check.path)
        .health_check_protocol(health_check.protocol.as_str().into())
        .healthy_threshold_count(health_check.healthy_threshold)
        .unhealthy_threshold_count(health_check.unhealthy_threshold)
        .health_check_interval_seconds(health_check.interval_seconds)
        .health_check_port(&health_check.port)
        .health_check_timeout_seconds(health_check.timeout_seconds)
        .matcher(Matcher::builder().http_code(&health_check.matcher).build())
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateTargetGroup", e))?;
    out.target_groups()
        .first()
        .map(target_group_of)
        .ok_or(AwsError::MissingField {
            operation: "CreateTargetGroup",
            field: "TargetGroups",
        })
}

/// Sets every health check setting of the target group.
pub async fn modify_health_check(client: &Client, arn: &str, check: &HealthCheck) -> Result<()> {
    client
        .modify_target_group()
        .target_group_arn(arn)
        .health_check_enabled(check.enabled)
        .health_check_path(&check.path)
        .health_check_protocol(check.protocol.as_str().into())
        .healthy_threshold_count(check.healthy_threshold)
        .unhealthy_threshold_count(check.unhealthy_threshold)
        .health_check_interval_seconds(check.interval_seconds)
        .health_check_port(&check.port)
        .health_check_timeout_seconds(check.timeout_seconds)
        .matcher(Matcher::builder().http_code(&check.matcher).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyTargetGroup", e))?;
    Ok(())
}

pub async fn delete_target_group(client: &Client, arn: &str) -> Result<()> {
    client
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteTargetGroup", e))?;
    Ok(())
}

pub async fn retag(
    client: &Client,
    arns: &[String],
    tags: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<()> {
    if arns.is_empty() {
        return Ok(());
    }
    if !removed.is_empty() {
        client
            .remove_tags()
            .set_resource_arns(Some(arns.to_vec()))
            .set_tag_keys(Some(removed.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RemoveTags", e))?;
    }
    client
        .add_tags()
        .set_resource_arns(Some(arns.to_vec()))
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AddTags", e))?;
    Ok(())
}
