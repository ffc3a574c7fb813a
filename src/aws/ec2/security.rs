//! Security groups and their rules, the VPC's default group included.

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};
use aws_sdk_ec2::Client;

use crate::error::AwsError;

use super::{
    filter, made_by, once, required, tag_map, tag_spec, Direction, RawRule, Result, RuleSource,
    SecurityGroup, Tags,
};
use crate::aws::create_once::create_once;

pub(super) fn flatten_permissions(permissions: &[IpPermission]) -> Vec<RawRule> {
    let mut rules = Vec::new();
    for p in permissions {
        let base = |source| RawRule {
            protocol: p.ip_protocol().unwrap_or_default().to_string(),
            from_port: p.from_port().unwrap_or(-1),
            to_port: p.to_port().unwrap_or(-1),
            source,
        };
        for range in p.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                rules.push(base(RuleSource::Cidr(cidr.to_string())));
            }
        }
        for range in p.ipv6_ranges() {
            if let Some(cidr) = range.cidr_ipv6() {
                rules.push(base(RuleSource::Ipv6Cidr(cidr.to_string())));
            }
        }
        for list in p.prefix_list_ids() {
            if let Some(id) = list.prefix_list_id() {
                rules.push(base(RuleSource::PrefixList(id.to_string())));
            }
        }
        for pair in p.user_id_group_pairs() {
            if let Some(group) = pair.group_id() {
                rules.push(base(RuleSource::Group(group.to_string())));
            }
        }
    }
    rules.sort();
    rules
}

pub(super) fn permission(rule: &RawRule) -> IpPermission {
    let builder = IpPermission::builder().ip_protocol(&rule.protocol);
    // ports mean nothing to "all traffic" and are left out, as EC2 reports them
    let builder = if rule.protocol == "-1" {
        builder
    } else {
        builder.from_port(rule.from_port).to_port(rule.to_port)
    };
    match &rule.source {
        RuleSource::Cidr(cidr) => builder.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
        RuleSource::Ipv6Cidr(cidr) => {
            builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
        }
        RuleSource::PrefixList(id) => {
            builder.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
        }
        RuleSource::Group(group) => {
            builder.user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
        }
    }
    .build()
}

pub async fn create_security_group(
    client: &Client,
    vpc_id: &str,
    name: &str,
    description: &str,
    tags: &Tags,
) -> Result<String> {
    create_once(
        tags,
        |tags| async move {
            let out = client
                .create_security_group()
                .vpc_id(vpc_id)
                .group_name(name)
                .description(description)
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, &tags))
                .customize()
                .config_override(once())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e))?;
            Ok(required(out.group_id(), "CreateSecurityGroup", "GroupId")?.to_string())
        },
        // the name in the VPC: `InvalidGroup.Duplicate` names no group
        |token| async move {
            let out = client
                .describe_security_groups()
                .filters(filter("vpc-id", vpc_id))
                .filters(filter("group-name", name))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
            Ok(out
                .security_groups()
                .iter()
                .find(|g| made_by(&tag_map(Some(g.tags())), &token, tags))
                .and_then(|g| g.group_id())
                .map(str::to_string))
        },
    )
    .await
}

/// Sends one of the four rule calls (authorize or revoke, ingress or egress),
/// whose builders are distinct types with the same methods.
macro_rules! rule_call {
    ($builder:expr, $operation:literal, $group:expr, $permissions:expr) => {
        $builder
            .group_id($group)
            .set_ip_permissions($permissions)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk($operation, e))
    };
}

/// Adds rules; rules already present are not an error.
pub async fn authorize(
    client: &Client,
    group: &str,
    direction: Direction,
    rules: &[RawRule],
) -> Result<()> {
    change_rules(client, group, direction, rules, RuleChange::Authorize).await
}

/// Removes rules; rules already gone are not an error.
pub async fn revoke(
    client: &Client,
    group: &str,
    direction: Direction,
    rules: &[RawRule],
) -> Result<()> {
    change_rules(client, group, direction, rules, RuleChange::Revoke).await
}

#[derive(Clone, Copy)]
enum RuleChange {
    Authorize,
    Revoke,
}

async fn change_rules(
    client: &Client,
    group: &str,
    direction: Direction,
    rules: &[RawRule],
    change: RuleChange,
) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let permissions = Some(rules.iter().map(permission).collect());
    let result = match (change, direction) {
        (RuleChange::Authorize, Direction::Ingress) => rule_call!(
            client.authorize_security_group_ingress(),
            "AuthorizeSecurityGroupIngress",
            group,
            permissions
        ),
        (RuleChange::Authorize, Direction::Egress) => rule_call!(
            client.authorize_security_group_egress(),
            "AuthorizeSecurityGroupEgress",
            group,
            permissions
        ),
        (RuleChange::Revoke, Direction::Ingress) => rule_call!(
            client.revoke_security_group_ingress(),
            "RevokeSecurityGroupIngress",
            group,
            permissions
        ),
        (RuleChange::Revoke, Direction::Egress) => rule_call!(
            client.revoke_security_group_egress(),
            "RevokeSecurityGroupEgress",
            group,
            permissions
        ),
    };
    // a rule already there (authorize) or already gone (revoke) is what was asked
    match (result, change) {
        (Err(e), RuleChange::Authorize) if e.class() == crate::error::ErrorClass::Conflict => {
            Ok(())
        }
        // the rule is gone; a group not found (yet) is not a rule removed
        (Err(AwsError::Api { code, .. }), RuleChange::Revoke)
            if code == "InvalidPermission.NotFound" =>
        {
            Ok(())
        }
        (other, _) => other,
    }
}

/// Adds ingress rules; rules already present are not an error.
pub async fn authorize_ingress(client: &Client, group: &str, rules: &[RawRule]) -> Result<()> {
    authorize(client, group, Direction::Ingress, rules).await
}

/// Removes ingress rules; rules already gone are not an error.
pub async fn revoke_ingress(client: &Client, group: &str, rules: &[RawRule]) -> Result<()> {
    revoke(client, group, Direction::Ingress, rules).await
}

/// The VPC's default security group, with its rules. It is never tagged, so it
/// is looked up by VPC and name.
pub async fn default_security_group(
    client: &Client,
    vpc_id: &str,
) -> Result<Option<SecurityGroup>> {
    let out = client
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
    Ok(out.security_groups().first().map(security_group_of))
}

pub(super) fn security_group_of(g: &aws_sdk_ec2::types::SecurityGroup) -> SecurityGroup {
    SecurityGroup {
        id: g.group_id().unwrap_or_default().into(),
        name: g.group_name().unwrap_or_default().into(),
        vpc_id: g.vpc_id().unwrap_or_default().into(),
        tags: tag_map(Some(g.tags())),
        ingress: flatten_permissions(g.ip_permissions()),
        egress: flatten_permissions(g.ip_permissions_egress()),
    }
}

/// The default security group of a VPC. Every VPC has one: when AWS does not list
/// it yet, the VPC was created moments ago and the answer is a propagation error
/// for the caller to retry.
pub async fn listed_default_security_group(client: &Client, vpc_id: &str) -> Result<SecurityGroup> {
    default_security_group(client, vpc_id)
        .await?
        .ok_or_else(|| AwsError::Api {
            operation: "DescribeSecurityGroups",
            code: "InvalidGroup.NotFound".into(),
            message: format!("the default security group of {vpc_id} is not listed yet"),
            class: crate::error::ErrorClass::Propagation,
            request_id: None,
        })
}

/// Strips every rule of the default security group so nothing that lands in it can talk.
pub async fn strip_default_security_group(client: &Client, group: &SecurityGroup) -> Result<()> {
    futures::try_join!(
        revoke(client, &group.id, Direction::Ingress, &group.ingress),
        revoke(client, &group.id, Direction::Egress, &group.egress),
    )?;
    Ok(())
}

pub async fn delete_security_group(client: &Client, group: &str) -> Result<()> {
    client
        .delete_security_group()
        .group_id(group)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteSecurityGroup", e))?;
    Ok(())
}
