//! EC2: the shared pieces (tags, filters, the objects discovery returns and
//! discovery itself, the region checks, retagging) here, and one submodule per
//! family of objects: `network`, `routing`, `security`, `instances`, `templates`,
//! `endpoints` and `flow_logs`, re-exported so callers name them all as `ec2::...`.

mod acls;
mod dependants;
mod discovery;
mod endpoints;
mod flow_logs;
mod instance_connect;
mod instances;
mod ipv6;
mod network;
mod region;
mod routing;
mod security;
mod templates;

pub use acls::*;
pub use dependants::*;
pub use discovery::*;
pub use endpoints::*;
pub use flow_logs::*;
pub use instance_connect::*;
pub use instances::*;
pub use ipv6::*;
pub use network::*;
pub use region::*;
pub use routing::*;
pub use security::*;
pub use templates::*;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;

use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;

type Result<T> = std::result::Result<T, AwsError>;

pub use super::Tags;

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(resource: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(sdk_tags(tags)))
        .build()
}

fn tag_map(tags: Option<&[Tag]>) -> Tags {
    super::tag_pairs(
        tags.unwrap_or_default()
            .iter()
            .map(|t| (t.key(), t.value())),
    )
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// A filter on every value of `values`.
fn filter_any(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

/// Overrides that send a call once, without the SDK's retries: for the creates
/// [`crate::aws::create_once`] retries itself, looking first for what a lost
/// attempt made.
fn once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

/// Whether an object found where a create's object would be (its CIDR or name
/// in the VPC) is that create's: it carries the create's token, or the same
/// environment and component key (made by an earlier run that stopped before
/// it could record it). Anything else there is another's, and the create's
/// refusal stands.
fn made_by(found: &Tags, token: &str, wanted: &Tags) -> bool {
    use crate::plan::spec::{TAG_COMPONENT, TAG_CREATE_TOKEN, TAG_ENVIRONMENT};
    let same = |key: &str| found.get(key).is_some() && found.get(key) == wanted.get(key);
    found.get(TAG_CREATE_TOKEN).map(String::as_str) == Some(token)
        || (same(TAG_ENVIRONMENT) && same(TAG_COMPONENT))
}

/// Selects the object a create tagged with `token` made.
fn made_with(token: &str) -> Filter {
    filter(
        &format!("tag:{}", crate::aws::create_once::TAG_CREATE_TOKEN),
        token,
    )
}

fn owned_by(tag_key: &str, environment: &str) -> Filter {
    filter(&format!("tag:{tag_key}"), environment)
}

/// The error of the first item a batch call lists as unsuccessful: EC2 answers
/// such calls with success and names the failures in the answer.
fn first_failure(
    operation: &'static str,
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
) -> Option<AwsError> {
    let failure = items.first()?.error()?;
    let code = failure.code().unwrap_or_default().to_string();
    let message = failure.message().unwrap_or_default().to_string();
    Some(AwsError::Api {
        operation,
        class: crate::error::classify_message(&code, &message),
        code,
        message,
        request_id: None,
    })
}

/// Ok unless a batch delete's failure is more than "already gone".
fn deleted_unless_failed(
    operation: &'static str,
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
) -> Result<()> {
    first_failure(operation, items).map_or(Ok(()), |error| error.or_gone(()))
}

fn required<T>(value: Option<T>, operation: &'static str, field: &'static str) -> Result<T> {
    value.ok_or(AwsError::MissingField { operation, field })
}

/// An EC2 object found by its ownership tag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub id: String,
    pub tags: Tags,
    /// type-specific facts, e.g. the CIDR of a subnet or VPC
    pub detail: BTreeMap<&'static str, String>,
}

/// Everything EC2 holds for one environment, from one describe per type.
#[derive(Clone, Debug, Default)]
pub struct Ec2Inventory {
    pub vpcs: Vec<Found>,
    pub route_tables: Vec<RouteTable>,
    pub addresses: Vec<Found>,
    pub security_groups: Vec<SecurityGroup>,
    pub launch_templates: Vec<Found>,
    pub instances: Vec<Found>,
    /// what each [`Listing`] found, by its operation
    pub listed: BTreeMap<&'static str, Listed>,
    /// the flow logs tagged for the environment
    pub flow_logs: Vec<Found>,
    /// the credentials may not describe flow logs (an IAM policy older than
    /// `flow_logs`): none can have been made, and none can be managed
    pub flow_logs_denied: bool,
}

impl Ec2Inventory {
    /// What `listing` found.
    pub fn listed_objects(&self, listing: &Listing) -> &[Found] {
        self.listed
            .get(listing.operation)
            .map_or(&[], |l| l.objects.as_slice())
    }

    pub fn is_empty(&self) -> bool {
        self.vpcs.is_empty()
            && self.route_tables.is_empty()
            && self.addresses.is_empty()
            && self.security_groups.is_empty()
            && self.launch_templates.is_empty()
            && self.instances.is_empty()
            && self.listed.values().all(|l| l.objects.is_empty())
            && self.flow_logs.is_empty()
    }
}

/// A route table with its associations and routes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteTable {
    pub id: String,
    pub tags: Tags,
    /// association id -> subnet id, or the gateway id of an edge association
    pub associations: BTreeMap<String, String>,
    /// the virtual private gateways whose routes it takes
    pub propagating: Vec<String>,
    /// destination CIDR -> gateway or NAT gateway id
    pub routes: BTreeMap<String, String>,
    /// set on the VPC's main route table: the association that makes it main
    pub main_association: Option<String>,
}

/// A security group with its rules flattened to one per (protocol, ports, peer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub tags: Tags,
    pub ingress: Vec<RawRule>,
    pub egress: Vec<RawRule>,
}

/// One permission as EC2 reports it, in either direction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawRule {
    /// `tcp`, `udp`, `icmp`, or `-1` for all traffic
    pub protocol: String,
    /// -1 when the protocol has no ports
    pub from_port: i32,
    pub to_port: i32,
    /// where ingress comes from, or where egress goes
    pub source: RuleSource,
}

/// The peer of a rule: every kind EC2 has, so that none goes unseen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleSource {
    Cidr(String),
    Ipv6Cidr(String),
    PrefixList(String),
    Group(String),
}

impl RawRule {
    /// All traffic to (or from) every IPv4 address: what AWS gives a new group as egress.
    pub fn all_traffic_ipv4() -> RawRule {
        RawRule {
            protocol: "-1".into(),
            from_port: -1,
            to_port: -1,
            source: RuleSource::Cidr("0.0.0.0/0".into()),
        }
    }

    /// AWS's default outbound rule for IPv6, which a group of a VPC with an
    /// IPv6 block has beside the IPv4 one.
    pub fn all_traffic_ipv6() -> RawRule {
        RawRule {
            source: RuleSource::Ipv6Cidr("::/0".into()),
            ..RawRule::all_traffic_ipv4()
        }
    }

    /// The traffic part of the rule, e.g. `tcp/22`, `udp/1000-2000` or `all traffic`.
    pub fn traffic(&self) -> String {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", _, _) => "all traffic".into(),
            (protocol, -1, _) => protocol.to_string(),
            (protocol, from, to) if from == to => format!("{protocol}/{from}"),
            (protocol, from, to) => format!("{protocol}/{from}-{to}"),
        }
    }
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSource::Cidr(peer)
            | RuleSource::Ipv6Cidr(peer)
            | RuleSource::PrefixList(peer)
            | RuleSource::Group(peer) => f.write_str(peer),
        }
    }
}

/// Which rules of a security group a call changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// The Elastic IPs whose `filter` (`allocation-id`, `public-ip`) is one of
/// `values`, as discovery reports them; no call when there are none. Filtered
/// rather than named, so that an address released meanwhile is simply absent.
pub async fn addresses_by(client: &Client, filter: &str, values: &[String]) -> Result<Vec<Found>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let out = client
        .describe_addresses()
        .filters(
            Filter::builder()
                .name(filter)
                .set_values(Some(values.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeAddresses", e))?;
    Ok(out.addresses().iter().map(address_of).collect())
}

/// The launch template of this ID, as discovery reports it. Not-found is an
/// error: the caller found the template moments ago by its name, so it is
/// AWS's eventual consistency, and discovery asks again.
pub async fn launch_template_by_id(client: &Client, id: &str) -> Result<Option<Found>> {
    let out = client
        .describe_launch_templates()
        .launch_template_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeLaunchTemplates", e))?;
    Ok(out.launch_templates().first().map(launch_template_of))
}

/// Replaces the environment tags of objects (keys no longer wanted are removed).
pub async fn retag(client: &Client, ids: &[String], tags: &Tags, removed: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    if !removed.is_empty() {
        client
            .delete_tags()
            .set_resources(Some(ids.to_vec()))
            .set_tags(Some(
                removed
                    .iter()
                    .map(|k| Tag::builder().key(k).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteTags", e))?;
    }
    client
        .create_tags()
        .set_resources(Some(ids.to_vec()))
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateTags", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_object_in_the_way_of_a_create_is_its_own_by_token_or_by_environment_and_component() {
        let wanted = tags(&[
            ("prodvpc:environment", "shop"),
            ("prodvpc:component", "subnet/public/us-east-1a"),
        ]);
        let token = tags(&[("prodvpc:create-token", "t1")]);
        assert!(made_by(&token, "t1", &wanted));
        assert!(!made_by(&token, "t2", &wanted));
        // an earlier run's, stopped before it recorded the subnet
        assert!(made_by(&wanted, "t2", &wanted));
        let another_component = tags(&[
            ("prodvpc:environment", "shop"),
            ("prodvpc:component", "subnet/private/us-east-1a"),
        ]);
        assert!(!made_by(&another_component, "t2", &wanted));
        let untagged = Tags::new();
        assert!(!made_by(&untagged, "t2", &wanted));
        assert!(
            !made_by(&untagged, "t2", &Tags::new()),
            "no tags are nobody's"
        );
    }
}
