//! Elastic Load Balancing v2: the ALB, its target group and listeners.

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
pub use attributes::*;

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

/// A listener and what its default action does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listener {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    /// `forward` or `redirect`
    pub action: String,
    pub target_group: Option<String>,
    /// the default certificate of an HTTPS listener
    pub certificate: Option<String>,
    /// where a redirect goes, as `STATUS PROTOCOL://HOST:PORT/PATH?QUERY`
    /// with AWS's placeholders for the parts kept from the request
    pub redirect: Option<String>,
    /// the security policy (meaningful on HTTPS only: some endpoints report one on HTTP too)
    pub ssl_policy: Option<String>,
}

/// How the provider's redirect reads in [`Listener::redirect`]: to HTTPS on
/// 443, keeping the request's host, path and query.
pub const REDIRECT_TO_HTTPS: &str = "HTTP_301 HTTPS://#{host}:443/#{path}?#{query}";

/// A redirect in the words of [`Listener::redirect`]. A part not given is
/// kept from the request: AWS reports it as its placeholder (`#{host}`,
/// `/#{path}`, `#{query}`), which is what this fills in when an endpoint
/// leaves it out, so the same redirect always reads the same.
fn redirect_in_words(r: &RedirectActionConfig) -> String {
    let path = r.path().unwrap_or("/#{path}");
    format!(
        "{} {}://{}:{}{}?{}",
        r.status_code().map(|c| c.as_str()).unwrap_or_default(),
        r.protocol().unwrap_or("#{protocol}"),
        r.host().unwrap_or("#{host}"),
        r.port().unwrap_or("#{port}"),
        path,
        r.query().unwrap_or("#{query}"),
    )
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

/// Every load balancer and target group in a VPC (all pages). Listing by VPC
/// rather than by name also finds objects left behind by an earlier port or name.
///
/// Neither describe filters by VPC, so each lists the region's: the reads
/// of every environment asking at the same moment share one listing (the
/// largest pages AWS gives, 400), each taking its VPC's objects.
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
            let mut found = Vec::new();
            let mut pages = client
                .describe_load_balancers()
                .page_size(LISTING_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeLoadBalancers", e))?;
                found.extend(
                    page.load_balancers()
                        .iter()
                        .filter_map(|lb| Some((lb.vpc_id()?.to_string(), load_balancer_of(lb)))),
                );
            }
            Ok(found)
        },
    );
    let groups = batches.read_with(
        client,
        "DescribeTargetGroups",
        "every target group, by VPC",
        usize::MAX,
        vpc_id,
        |client, _| async move {
            let mut found = Vec::new();
            let mut pages = client
                .describe_target_groups()
                .page_size(LISTING_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeTargetGroups", e))?;
                found.extend(
                    page.target_groups()
                        .iter()
                        .filter_map(|tg| Some((tg.vpc_id()?.to_string(), target_group_of(tg)))),
                );
            }
            Ok(found)
        },
    );
    futures::try_join!(balancers, groups)
}

/// The most load balancers or target groups one page of a listing holds.
const LISTING_PAGE: i32 = 400;

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
                let mut states = Vec::new();
                let mut pages = client
                    .describe_load_balancers()
                    .page_size(LISTING_PAGE)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeLoadBalancers", e))?;
                    for lb in page.load_balancers() {
                        let state = lb.state().and_then(|s| s.code());
                        let state = state.map(|c| c.as_str().to_string());
                        states.push((
                            lb.load_balancer_arn().unwrap_or_default().to_string(),
                            state.unwrap_or_default(),
                        ));
                    }
                }
                Ok(states)
            },
        )
        .await?;
    Ok(found.into_iter().next())
}

/// A target registered in a target group: an instance ID (or an address)
/// and the port it takes requests on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub id: String,
    pub port: Option<i32>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// The targets registered in the target group (draining ones left out: they
/// are on their way out). The target group was just listed, so AWS saying it
/// does not exist is its endpoints not knowing it yet: the not-found error is
/// returned for the caller to ask again, never read as "no targets".
pub async fn registered_targets(client: &Client, target_group: &str) -> Result<Vec<Target>> {
    let out = match client
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(AwsError::from_sdk("DescribeTargetHealth", e)),
    };
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health()
                .and_then(|h| h.state())
                .is_none_or(|s| s.as_str() != "draining")
        })
        .filter_map(|d| {
            let target = d.target()?;
            Some(Target {
                id: target.id()?.to_string(),
                port: target.port(),
            })
        })
        .collect())
}

/// Deregisters targets (each on the port it is registered on).
pub async fn deregister_targets(
    client: &Client,
    target_group: &str,
    targets: &[Target],
) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    client
        .deregister_targets()
        .target_group_arn(target_group)
        .set_targets(Some(
            targets
                .iter()
                .map(|t| {
                    TargetDescription::builder()
                        .id(&t.id)
                        .set_port(t.port)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeregisterTargets", e))?;
    Ok(())
}

/// Registers instances in the target group on its port.
pub async fn register_targets(client: &Client, target_group: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    client
        .register_targets()
        .target_group_arn(target_group)
        .set_targets(Some(
            ids.iter()
                .map(|id| TargetDescription::builder().id(id).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RegisterTargets", e))?;
    Ok(())
}

/// What the target group reports of its targets: the `healthy` ones, and
/// for each `unhealthy` one AWS's reason code and description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetHealth {
    pub healthy: std::collections::BTreeSet<String>,
    /// instance ID -> `Target.ResponseCodeMismatch: Health checks failed with these codes: [500]`
    pub unhealthy: BTreeMap<String, String>,
}

impl TargetHealth {
    /// The unhealthy targets and their reasons in one line, if any.
    pub fn unhealthy_text(&self) -> Option<String> {
        (!self.unhealthy.is_empty()).then(|| {
            self.unhealthy
                .iter()
                .map(|(id, why)| format!("{id} {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The instances the target group reports `healthy`, and the reasons of the
/// `unhealthy` ones.
pub async fn target_health(client: &Client, target_group: &str) -> Result<TargetHealth> {
    let out = match client
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeTargetHealth", e))
    {
        Ok(out) => out,
        // a target group created moments ago: nothing is healthy in it yet
        Err(error) if error.is_not_found() => return Ok(TargetHealth::default()),
        Err(error) => return Err(error),
    };
    let mut health = TargetHealth::default();
    for description in out.target_health_descriptions() {
        let (Some(id), Some(target)) = (
            description.target().and_then(|t| t.id()),
            description.target_health(),
        ) else {
            continue;
        };
        match target.state().map(|s| s.as_str()) {
            Some("healthy") => {
                health.healthy.insert(id.to_string());
            }
            Some("unhealthy") => {
                let reason = target.reason().map_or("no reason code", |r| r.as_str());
                let detail = target.description().unwrap_or("no description");
                health
                    .unhealthy
                    .insert(id.to_string(), format!("{reason}: {detail}"));
            }
            _ => {}
        }
    }
    Ok(health)
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

/// A rule of a listener besides its default action: the environment's
/// listeners carry none, so every one is another's routing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerRule {
    pub arn: String,
    pub priority: String,
    /// what it matches and does, in words (`path-pattern /* -> redirect`)
    pub summary: String,
}

/// The rules of `listener` besides its default one; none for a listener that is gone.
pub async fn extra_rules(client: &Client, listener: &str) -> Result<Vec<ListenerRule>> {
    let out = match client.describe_rules().listener_arn(listener).send().await {
        Ok(out) => out,
        Err(e) => return AwsError::from_sdk("DescribeRules", e).or_gone(Vec::new()),
    };
    Ok(out
        .rules()
        .iter()
        .filter(|r| !r.is_default().unwrap_or(false))
        .map(|r| {
            let matches: Vec<String> = r
                .conditions()
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        c.field().unwrap_or("condition"),
                        c.values().join(",")
                    )
                })
                .collect();
            let actions: Vec<&str> = r
                .actions()
                .iter()
                .filter_map(|a| a.r#type().map(|t| t.as_str()))
                .collect();
            ListenerRule {
                arn: r.rule_arn().unwrap_or_default().into(),
                priority: r.priority().unwrap_or_default().into(),
                summary: format!("{} -> {}", matches.join(" and "), actions.join(", ")),
            }
        })
        .collect())
}

pub async fn delete_rule(client: &Client, arn: &str) -> Result<()> {
    match client.delete_rule().rule_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) => AwsError::from_sdk("DeleteRule", e).or_gone(()),
    }
}

/// The rules besides the default of each listener, by listener ARN.
pub async fn rules_of(
    client: &Client,
    listeners: &[String],
) -> Result<BTreeMap<String, Vec<ListenerRule>>> {
    let reads = listeners.iter().map(|arn| async move {
        extra_rules(client, arn)
            .await
            .map(|rules| (arn.clone(), rules))
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// The certificates of each of `listeners` (HTTPS ones) besides its default
/// one, by listener ARN: what it serves to clients naming other hosts (SNI).
pub async fn extra_certificates_of(
    client: &Client,
    listeners: &[String],
) -> Result<BTreeMap<String, Vec<String>>> {
    let reads = listeners.iter().map(|arn| async move {
        let mut extra = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = client
                .describe_listener_certificates()
                .listener_arn(arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeListenerCertificates", e))?;
            extra.extend(
                out.certificates()
                    .iter()
                    .filter(|c| c.is_default() != Some(true))
                    .filter_map(|c| c.certificate_arn().map(str::to_string)),
            );
            match out.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => return Ok::<_, AwsError>((arn.clone(), extra)),
            }
        }
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// Takes `certificates` off `listener` (its default one stays).
pub async fn remove_certificates(
    client: &Client,
    listener: &str,
    certificates: &[String],
) -> Result<()> {
    let certificates = certificates
        .iter()
        .map(|arn| Certificate::builder().certificate_arn(arn).build())
        .collect();
    match client
        .remove_listener_certificates()
        .listener_arn(listener)
        .set_certificates(Some(certificates))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => AwsError::from_sdk("RemoveListenerCertificates", e).or_gone(()),
    }
}

/// The listeners of a load balancer just listed. AWS saying the load balancer
/// does not exist is propagation, not "no listeners" (which would plan them
/// anew): the not-found error is returned, for the caller to ask again.
pub async fn listeners(client: &Client, load_balancer: &str) -> Result<Vec<Listener>> {
    let out = match client
        .describe_listeners()
        .load_balancer_arn(load_balancer)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(AwsError::from_sdk("DescribeListeners", e)),
    };
    Ok(out
        .listeners()
        .iter()
        .map(|l| {
            let action = l.default_actions().first();
            Listener {
                arn: l.listener_arn().unwrap_or_default().into(),
                port: l.port().unwrap_or_default(),
                protocol: l
                    .protocol()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                action: action
                    .and_then(|a| a.r#type())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                target_group: action
                    .and_then(|a| a.target_group_arn())
                    .map(str::to_string),
                certificate: l
                    .certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .map(str::to_string),
                ssl_policy: l.ssl_policy().map(str::to_string),
                redirect: action
                    .and_then(|a| a.redirect_config())
                    .map(redirect_in_words),
            }
        })
        .collect())
}

/// What a listener should do.
#[derive(Clone, Debug, PartialEq)]
pub enum ListenerAction {
    Forward(String),
    RedirectToHttps,
}

fn action(of: &ListenerAction) -> Action {
    match of {
        ListenerAction::Forward(tg) => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build(),
        ListenerAction::RedirectToHttps => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                // host, path and query written out, so a redirect changed
                // out of band is restored whole
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .host("#{host}")
                    .path("/#{path}")
                    .query("#{query}")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    }
}

/// How a listener speaks: HTTPS with a certificate and a security policy, or plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tls<'a> {
    Off,
    On {
        certificate: &'a str,
        policy: &'a str,
    },
}

impl<'a> Tls<'a> {
    pub fn certificate(&self) -> Option<&'a str> {
        match self {
            Tls::Off => None,
            Tls::On { certificate, .. } => Some(certificate),
        }
    }

    pub fn policy(&self) -> Option<&'a str> {
        match self {
            Tls::Off => None,
            Tls::On { policy, .. } => Some(policy),
        }
    }
}

/// Creates an HTTP or HTTPS listener.
pub async fn create_listener(
    client: &Client,
    load_balancer: &str,
    port: u16,
    tls: Tls<'_>,
    what: &ListenerAction,
    tags: &BTreeMap<String, String>,
) -> Result<String> {
    let out = client
        .create_listener()
        .load_balancer_arn(load_balancer)
        .port(i32::from(port))
        .protocol(listener_protocol(tls.certificate()))
        .set_certificates(certificates(tls.certificate()))
        .set_ssl_policy(tls.policy().map(str::to_string))
        .default_actions(action(what))
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateListener", e))?;
    Ok(out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .ok_or(AwsError::MissingField {
            operation: "CreateListener",
            field: "ListenerArn",
        })?
        .to_string())
}

/// HTTPS with a certificate, HTTP without.
pub fn listener_protocol(certificate: Option<&str>) -> ProtocolEnum {
    if certificate.is_some() {
        ProtocolEnum::Https
    } else {
        ProtocolEnum::Http
    }
}

fn certificates(certificate: Option<&str>) -> Option<Vec<Certificate>> {
    certificate.map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// Sets everything of a listener but its port: protocol, certificate, policy and action.
pub async fn modify_listener(
    client: &Client,
    arn: &str,
    tls: Tls<'_>,
    what: &ListenerAction,
) -> Result<()> {
    client
        .modify_listener()
        .listener_arn(arn)
        .protocol(listener_protocol(tls.certificate()))
        .set_certificates(certificates(tls.certificate()))
        .set_ssl_policy(tls.policy().map(str::to_string))
        .default_actions(action(what))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyListener", e))?;
    Ok(())
}

/// Sets the security policy of an HTTPS listener, and nothing else.
pub async fn set_ssl_policy(client: &Client, arn: &str, policy: &str) -> Result<()> {
    client
        .modify_listener()
        .listener_arn(arn)
        .ssl_policy(policy)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyListener", e))?;
    Ok(())
}

pub async fn delete_listener(client: &Client, arn: &str) -> Result<()> {
    client
        .delete_listener()
        .listener_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteListener", e))?;
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
