//! EC2: VPC, subnets, gateways, addresses, route tables, security groups,
//! launch templates and the bastion instance; gateway endpoints in
//! [`endpoints`].

mod endpoints;

pub use endpoints::*;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, BlockDeviceMapping, DomainType, EbsBlockDevice, Filter, HttpTokensState,
    IamInstanceProfileAssociationState, IamInstanceProfileSpecification,
    InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification, IpPermission, IpRange,
    Ipv6Range, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateTagSpecificationRequest,
    PrefixListId, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification, UserIdGroupPair,
    VolumeType,
};
use aws_sdk_ec2::Client;

use crate::error::AwsError;
use crate::plan::spec::InstanceProfile;

type Result<T> = std::result::Result<T, AwsError>;

/// Tags of one object: the environment's plus its component key.
pub type Tags = BTreeMap<String, String>;

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

fn owned_by(tag_key: &str, environment: &str) -> Filter {
    filter(&format!("tag:{tag_key}"), environment)
}

fn required<T>(value: Option<T>, operation: &'static str, field: &'static str) -> Result<T> {
    value.ok_or(AwsError::MissingField { operation, field })
}

/// Names of the available availability zones of the region, sorted.
pub async fn available_zones(client: &Client) -> Result<Vec<String>> {
    let out = client
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .filters(filter("zone-type", "availability-zone"))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeAvailabilityZones", e))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones)
}

/// Whether an image exists and is visible to this account.
pub async fn image_exists(client: &Client, id: &str) -> Result<bool> {
    match client.describe_images().image_ids(id).send().await {
        Ok(out) => Ok(!out.images().is_empty()),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeImages", e);
            if error.is_not_found()
                || matches!(&error, AwsError::Api { code, .. } if code.starts_with("InvalidAMIID"))
            {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

/// The `(instance type, zone)` pairs the region offers among `types` and `zones`.
pub async fn instance_type_offerings(
    client: &Client,
    types: &[String],
    zones: &[String],
) -> Result<std::collections::BTreeSet<(String, String)>> {
    let mut offered = std::collections::BTreeSet::new();
    let mut pages = client
        .describe_instance_type_offerings()
        .location_type(aws_sdk_ec2::types::LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .set_values(Some(types.to_vec()))
                .build(),
        )
        .filters(
            Filter::builder()
                .name("location")
                .set_values(Some(zones.to_vec()))
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("DescribeInstanceTypeOfferings", e))?;
        for offering in page.instance_type_offerings() {
            if let (Some(kind), Some(zone)) = (offering.instance_type(), offering.location()) {
                offered.insert((kind.as_str().to_string(), zone.to_string()));
            }
        }
    }
    Ok(offered)
}

/// Whether a key pair of that name exists in the region.
pub async fn key_pair_exists(client: &Client, name: &str) -> Result<bool> {
    match client.describe_key_pairs().key_names(name).send().await {
        Ok(out) => Ok(!out.key_pairs().is_empty()),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeKeyPairs", e);
            if error.is_not_found() {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

/// The newest Amazon Linux 2023 x86_64 image published by Amazon.
pub async fn latest_amazon_linux(client: &Client) -> Result<String> {
    let out = client
        .describe_images()
        .owners("amazon")
        .filters(filter("name", "al2023-ami-2023.*-x86_64"))
        .filters(filter("state", "available"))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeImages", e))?;
    out.images()
        .iter()
        .filter(|image| image.image_id().is_some())
        .max_by_key(|image| image.creation_date().unwrap_or_default().to_string())
        .and_then(|image| image.image_id().map(str::to_string))
        .ok_or_else(|| {
            AwsError::Unsatisfiable(
                "no Amazon Linux 2023 image is visible in this region; set app.ami_id".into(),
            )
        })
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
    pub subnets: Vec<Found>,
    pub internet_gateways: Vec<Found>,
    pub route_tables: Vec<RouteTable>,
    pub addresses: Vec<Found>,
    pub nat_gateways: Vec<Found>,
    pub security_groups: Vec<SecurityGroup>,
    pub launch_templates: Vec<Found>,
    pub instances: Vec<Found>,
    pub gateway_endpoints: Vec<Found>,
}

impl Ec2Inventory {
    pub fn is_empty(&self) -> bool {
        self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.route_tables.is_empty()
            && self.addresses.is_empty()
            && self.nat_gateways.is_empty()
            && self.security_groups.is_empty()
            && self.launch_templates.is_empty()
            && self.instances.is_empty()
            && self.gateway_endpoints.is_empty()
    }
}

/// A route table with its associations and routes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteTable {
    pub id: String,
    pub tags: Tags,
    /// association id -> subnet id
    pub associations: BTreeMap<String, String>,
    /// destination CIDR -> gateway or NAT gateway id
    pub routes: BTreeMap<String, String>,
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

/// A route as (destination, target): destinations of both IP families and prefix
/// lists, targets of every kind, so that no route added out of band goes unseen.
fn route_of(route: &aws_sdk_ec2::types::Route) -> Option<(String, String)> {
    let destination = route
        .destination_cidr_block()
        .or(route.destination_ipv6_cidr_block())
        .or(route.destination_prefix_list_id())?;
    let target = route
        .nat_gateway_id()
        .or(route.gateway_id())
        .or(route.instance_id())
        .or(route.network_interface_id())
        .or(route.vpc_peering_connection_id())
        .or(route.transit_gateway_id())
        .or(route.egress_only_internet_gateway_id())
        .or(route.local_gateway_id())
        .or(route.carrier_gateway_id())
        .unwrap_or("blackhole");
    Some((destination.to_string(), target.to_string()))
}

/// Describes every object tagged for `environment`, one call per type, concurrently.
pub async fn discover(client: &Client, tag_key: &str, environment: &str) -> Result<Ec2Inventory> {
    let (mut found, gateway_endpoints) = futures::try_join!(
        discover_core(client, tag_key, environment),
        gateway_endpoints(client, tag_key, environment),
    )?;
    found.gateway_endpoints = gateway_endpoints;
    Ok(found)
}

/// The network, address, group, template and instance types.
async fn discover_core(client: &Client, tag_key: &str, environment: &str) -> Result<Ec2Inventory> {
    let owned = owned_by(tag_key, environment);
    let (vpcs, subnets, igws, route_tables, addresses, nats, sgs, lts, instances) = futures::try_join!(
        async {
            let out = client
                .describe_vpcs()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
            Ok::<_, AwsError>(
                out.vpcs()
                    .iter()
                    .map(|v| Found {
                        id: v.vpc_id().unwrap_or_default().into(),
                        tags: tag_map(Some(v.tags())),
                        detail: [("cidr", v.cidr_block().unwrap_or_default().to_string())].into(),
                    })
                    .collect::<Vec<_>>(),
            )
        },
        async {
            let out = client
                .describe_subnets()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
            Ok(out
                .subnets()
                .iter()
                .map(|s| Found {
                    id: s.subnet_id().unwrap_or_default().into(),
                    tags: tag_map(Some(s.tags())),
                    detail: [
                        ("cidr", s.cidr_block().unwrap_or_default().to_string()),
                        (
                            "zone",
                            s.availability_zone().unwrap_or_default().to_string(),
                        ),
                        ("vpc", s.vpc_id().unwrap_or_default().to_string()),
                        (
                            "map_public_ip",
                            s.map_public_ip_on_launch().unwrap_or(false).to_string(),
                        ),
                    ]
                    .into(),
                })
                .collect::<Vec<_>>())
        },
        async {
            let out = client
                .describe_internet_gateways()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeInternetGateways", e))?;
            Ok(out
                .internet_gateways()
                .iter()
                .map(|g| Found {
                    id: g.internet_gateway_id().unwrap_or_default().into(),
                    tags: tag_map(Some(g.tags())),
                    detail: g
                        .attachments()
                        .iter()
                        .filter_map(|a| a.vpc_id())
                        .map(|v| ("vpc", v.to_string()))
                        .take(1)
                        .collect(),
                })
                .collect::<Vec<_>>())
        },
        async {
            let out = client
                .describe_route_tables()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeRouteTables", e))?;
            Ok(out
                .route_tables()
                .iter()
                .map(|t| RouteTable {
                    id: t.route_table_id().unwrap_or_default().into(),
                    tags: tag_map(Some(t.tags())),
                    associations: t
                        .associations()
                        .iter()
                        .filter_map(|a| {
                            Some((
                                a.route_table_association_id()?.to_string(),
                                a.subnet_id()?.to_string(),
                            ))
                        })
                        .collect(),
                    routes: t.routes().iter().filter_map(route_of).collect(),
                })
                .collect::<Vec<_>>())
        },
        async {
            let out = client
                .describe_addresses()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeAddresses", e))?;
            Ok(out
                .addresses()
                .iter()
                .map(|a| Found {
                    id: a.allocation_id().unwrap_or_default().into(),
                    tags: tag_map(Some(a.tags())),
                    detail: [("public_ip", a.public_ip().unwrap_or_default().to_string())].into(),
                })
                .collect::<Vec<_>>())
        },
        async {
            // Filtered by tag here and again below: some implementations ignore tag filters on this call.
            let out = client
                .describe_nat_gateways()
                .filter(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeNatGateways", e))?;
            Ok(out
                .nat_gateways()
                .iter()
                .filter(|g| {
                    tag_map(Some(g.tags())).get(tag_key).map(String::as_str) == Some(environment)
                })
                .filter(|g| {
                    !matches!(
                        g.state().map(|s| s.as_str()),
                        Some("deleted") | Some("deleting") | Some("failed")
                    )
                })
                .map(|g| Found {
                    id: g.nat_gateway_id().unwrap_or_default().into(),
                    tags: tag_map(Some(g.tags())),
                    detail: [
                        ("subnet", g.subnet_id().unwrap_or_default().to_string()),
                        (
                            "state",
                            g.state()
                                .map(|s| s.as_str().to_string())
                                .unwrap_or_default(),
                        ),
                    ]
                    .into(),
                })
                .collect::<Vec<_>>())
        },
        async {
            let out = client
                .describe_security_groups()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
            Ok(out
                .security_groups()
                .iter()
                .map(security_group_of)
                .collect::<Vec<_>>())
        },
        async {
            let out = client
                .describe_launch_templates()
                .filters(owned.clone())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeLaunchTemplates", e))?;
            Ok(out
                .launch_templates()
                .iter()
                .map(|t| Found {
                    id: t.launch_template_id().unwrap_or_default().into(),
                    tags: tag_map(Some(t.tags())),
                    detail: [
                        (
                            "name",
                            t.launch_template_name().unwrap_or_default().to_string(),
                        ),
                        (
                            "latest_version",
                            t.latest_version_number().unwrap_or(1).to_string(),
                        ),
                        (
                            "default_version",
                            t.default_version_number().unwrap_or(1).to_string(),
                        ),
                    ]
                    .into(),
                })
                .collect::<Vec<_>>())
        },
        async {
            let out = client
                .describe_instances()
                .filters(owned.clone())
                .filters(
                    Filter::builder()
                        .name("instance-state-name")
                        .values("pending")
                        .values("running")
                        .values("stopping")
                        .values("stopped")
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeInstances", e))?;
            Ok(out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| Found {
                    id: i.instance_id().unwrap_or_default().into(),
                    tags: tag_map(Some(i.tags())),
                    detail: [
                        (
                            "public_ip",
                            i.public_ip_address().unwrap_or_default().to_string(),
                        ),
                        ("subnet", i.subnet_id().unwrap_or_default().to_string()),
                        ("image", i.image_id().unwrap_or_default().to_string()),
                        (
                            "instance_type",
                            i.instance_type()
                                .map(|t| t.as_str().to_string())
                                .unwrap_or_default(),
                        ),
                        ("key_name", i.key_name().unwrap_or_default().to_string()),
                        (
                            // by ARN: the `Id` beside it is not the same thing everywhere
                            "instance_profile",
                            i.iam_instance_profile()
                                .and_then(|p| p.arn())
                                .unwrap_or_default()
                                .to_string(),
                        ),
                        (
                            "http_tokens",
                            i.metadata_options()
                                .and_then(|m| m.http_tokens())
                                .map(|t| t.as_str().to_string())
                                .unwrap_or_default(),
                        ),
                        ("security_groups", {
                            // the instance's groups are those of its interfaces; some
                            // implementations list them in one place only
                            let groups: std::collections::BTreeSet<&str> = i
                                .security_groups()
                                .iter()
                                .filter_map(|g| g.group_id())
                                .chain(
                                    i.network_interfaces()
                                        .iter()
                                        .flat_map(|n| n.groups())
                                        .filter_map(|g| g.group_id()),
                                )
                                .collect();
                            groups.into_iter().collect::<Vec<_>>().join(",")
                        }),
                        (
                            "root_volume",
                            i.block_device_mappings()
                                .iter()
                                .find(|m| m.device_name() == i.root_device_name())
                                .or(i.block_device_mappings().first())
                                .and_then(|m| m.ebs())
                                .and_then(|e| e.volume_id())
                                .unwrap_or_default()
                                .to_string(),
                        ),
                        (
                            "state",
                            i.state()
                                .and_then(|s| s.name())
                                .map(|n| n.as_str().to_string())
                                .unwrap_or_default(),
                        ),
                    ]
                    .into(),
                })
                .collect::<Vec<_>>())
        },
    )?;
    Ok(Ec2Inventory {
        vpcs,
        subnets,
        internet_gateways: igws,
        route_tables,
        addresses,
        nat_gateways: nats,
        security_groups: sgs,
        launch_templates: lts,
        instances,
        gateway_endpoints: Vec::new(),
    })
}

fn flatten_permissions(permissions: &[IpPermission]) -> Vec<RawRule> {
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

fn permission(rule: &RawRule) -> IpPermission {
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

/// Creates the VPC; its DNS attributes are set by reconcile, which also repairs them.
pub async fn create_vpc(client: &Client, cidr: &str, tags: &Tags) -> Result<String> {
    let out = client
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(tag_spec(ResourceType::Vpc, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateVpc", e))?;
    Ok(required(out.vpc().and_then(|v| v.vpc_id()), "CreateVpc", "VpcId")?.to_string())
}

/// The VPC's DNS settings, as the provider sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpcDns {
    pub support: bool,
    pub hostnames: bool,
}

impl VpcDns {
    /// The ALB, SSM and instance hostnames need both.
    pub const WANTED: VpcDns = VpcDns {
        support: true,
        hostnames: true,
    };
}

/// Reads DNS support and hostnames (AWS answers one attribute per call).
pub async fn vpc_dns(client: &Client, vpc_id: &str) -> Result<VpcDns> {
    let read = |attribute: aws_sdk_ec2::types::VpcAttributeName| {
        client
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute)
            .send()
    };
    let (support, hostnames) = futures::join!(
        read(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport),
        read(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
    );
    let value = |v: Option<&AttributeBooleanValue>| v.and_then(|v| v.value()).unwrap_or(false);
    Ok(VpcDns {
        support: value(
            support
                .map_err(|e| AwsError::from_sdk("DescribeVpcAttribute", e))?
                .enable_dns_support(),
        ),
        hostnames: value(
            hostnames
                .map_err(|e| AwsError::from_sdk("DescribeVpcAttribute", e))?
                .enable_dns_hostnames(),
        ),
    })
}

/// Sets the DNS attributes that differ from `wanted`.
pub async fn set_vpc_dns(
    client: &Client,
    vpc_id: &str,
    current: VpcDns,
    wanted: VpcDns,
) -> Result<()> {
    let flag = |value: bool| AttributeBooleanValue::builder().value(value).build();
    // AWS accepts only one attribute per call; hostnames need support, so support goes first
    if current.support != wanted.support {
        client
            .modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_support(flag(wanted.support))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyVpcAttribute", e))?;
    }
    if current.hostnames != wanted.hostnames {
        client
            .modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_hostnames(flag(wanted.hostnames))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyVpcAttribute", e))?;
    }
    Ok(())
}

/// Creates a subnet; whether it maps public IPs is set by reconcile, which also repairs it.
pub async fn create_subnet(
    client: &Client,
    vpc_id: &str,
    zone: &str,
    cidr: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .create_subnet()
        .vpc_id(vpc_id)
        .availability_zone(zone)
        .cidr_block(cidr)
        .tag_specifications(tag_spec(ResourceType::Subnet, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateSubnet", e))?;
    Ok(required(
        out.subnet().and_then(|s| s.subnet_id()),
        "CreateSubnet",
        "SubnetId",
    )?
    .to_string())
}

/// Public subnets map a public IP on launch (the bastion needs one); private ones never.
pub async fn map_public_ip_on_launch(client: &Client, subnet: &str, public: bool) -> Result<()> {
    client
        .modify_subnet_attribute()
        .subnet_id(subnet)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifySubnetAttribute", e))?;
    Ok(())
}

/// Creates an internet gateway (attachment is separate so a crash in between is repaired).
pub async fn create_internet_gateway(client: &Client, tags: &Tags) -> Result<String> {
    let out = client
        .create_internet_gateway()
        .tag_specifications(tag_spec(ResourceType::InternetGateway, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateInternetGateway", e))?;
    Ok(required(
        out.internet_gateway().and_then(|g| g.internet_gateway_id()),
        "CreateInternetGateway",
        "InternetGatewayId",
    )?
    .to_string())
}

pub async fn attach_internet_gateway(client: &Client, igw: &str, vpc_id: &str) -> Result<()> {
    client
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AttachInternetGateway", e))?;
    Ok(())
}

pub async fn detach_internet_gateway(client: &Client, igw: &str, vpc_id: &str) -> Result<()> {
    client
        .detach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DetachInternetGateway", e))?;
    Ok(())
}

pub async fn delete_internet_gateway(client: &Client, igw: &str) -> Result<()> {
    client
        .delete_internet_gateway()
        .internet_gateway_id(igw)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteInternetGateway", e))?;
    Ok(())
}

/// Allocates an Elastic IP for a NAT gateway; returns (allocation id, public ip).
pub async fn allocate_address(client: &Client, tags: &Tags) -> Result<(String, String)> {
    let out = client
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tag_spec(ResourceType::ElasticIp, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AllocateAddress", e))?;
    Ok((
        required(out.allocation_id(), "AllocateAddress", "AllocationId")?.to_string(),
        out.public_ip().unwrap_or_default().to_string(),
    ))
}

pub async fn release_address(client: &Client, allocation_id: &str) -> Result<()> {
    client
        .release_address()
        .allocation_id(allocation_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ReleaseAddress", e))?;
    Ok(())
}

/// Creates a public NAT gateway; `token` makes a retried call idempotent.
pub async fn create_nat_gateway(
    client: &Client,
    subnet_id: &str,
    allocation_id: &str,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .create_nat_gateway()
        .subnet_id(subnet_id)
        .allocation_id(allocation_id)
        .client_token(token)
        .tag_specifications(tag_spec(ResourceType::Natgateway, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateNatGateway", e))?;
    Ok(required(
        out.nat_gateway().and_then(|g| g.nat_gateway_id()),
        "CreateNatGateway",
        "NatGatewayId",
    )?
    .to_string())
}

/// The state of a NAT gateway (`pending`, `available`, `deleting`, `deleted`, `failed`), if it exists.
pub async fn nat_gateway_state(client: &Client, id: &str) -> Result<Option<String>> {
    match client
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .nat_gateways()
            .first()
            .and_then(|g| g.state())
            .map(|s| s.as_str().to_string())),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeNatGateways", e);
            if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// The NAT gateways of a VPC that are being deleted and still hold the
/// Elastic IP `allocation_id`: AWS disassociates the address only once the
/// gateway reaches `deleted`, minutes later, and refuses a new gateway on it
/// until then (`Resource.AlreadyAssociated`).
pub async fn nat_gateways_releasing(
    client: &Client,
    vpc_id: &str,
    allocation_id: &str,
) -> Result<Vec<String>> {
    // filtered by state here rather than by the API: the state is the one field
    // that must be read as AWS reports it now
    let out = client
        .describe_nat_gateways()
        .filter(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeNatGateways", e))?;
    Ok(out
        .nat_gateways()
        .iter()
        .filter(|g| g.state().map(|s| s.as_str()) == Some("deleting"))
        .filter(|g| {
            g.nat_gateway_addresses()
                .iter()
                .any(|a| a.allocation_id() == Some(allocation_id))
        })
        .filter_map(|g| g.nat_gateway_id().map(str::to_string))
        .collect())
}

pub async fn delete_nat_gateway(client: &Client, id: &str) -> Result<()> {
    client
        .delete_nat_gateway()
        .nat_gateway_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteNatGateway", e))?;
    Ok(())
}

pub async fn create_route_table(client: &Client, vpc_id: &str, tags: &Tags) -> Result<String> {
    let out = client
        .create_route_table()
        .vpc_id(vpc_id)
        .tag_specifications(tag_spec(ResourceType::RouteTable, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateRouteTable", e))?;
    Ok(required(
        out.route_table().and_then(|t| t.route_table_id()),
        "CreateRouteTable",
        "RouteTableId",
    )?
    .to_string())
}

/// Points `0.0.0.0/0` of a table at an internet or NAT gateway, replacing an existing default route.
pub async fn set_default_route(
    client: &Client,
    table: &str,
    target: &str,
    exists: bool,
) -> Result<()> {
    // CreateRoute and ReplaceRoute take the same arguments but are distinct builder types
    macro_rules! send_default_route {
        ($builder:expr, $operation:literal) => {{
            let call = $builder
                .route_table_id(table)
                .destination_cidr_block("0.0.0.0/0");
            let call = if target.starts_with("nat-") {
                call.nat_gateway_id(target)
            } else {
                call.gateway_id(target)
            };
            call.send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk($operation, e))
        }};
    }
    if exists {
        send_default_route!(client.replace_route(), "ReplaceRoute")
    } else {
        send_default_route!(client.create_route(), "CreateRoute")
    }
}

pub async fn delete_default_route(client: &Client, table: &str) -> Result<()> {
    delete_route(client, table, "0.0.0.0/0").await
}

/// Deletes the route to `destination`: an IPv4 or IPv6 block or a prefix list ID.
pub async fn delete_route(client: &Client, table: &str, destination: &str) -> Result<()> {
    let call = client.delete_route().route_table_id(table);
    let call = if destination.starts_with("pl-") {
        call.destination_prefix_list_id(destination)
    } else if destination.contains(':') {
        call.destination_ipv6_cidr_block(destination)
    } else {
        call.destination_cidr_block(destination)
    };
    call.send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteRoute", e))?;
    Ok(())
}

/// Moves a subnet's association to another route table in one call.
pub async fn replace_route_table_association(
    client: &Client,
    association: &str,
    table: &str,
) -> Result<()> {
    client
        .replace_route_table_association()
        .association_id(association)
        .route_table_id(table)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ReplaceRouteTableAssociation", e))?;
    Ok(())
}

pub async fn associate_route_table(client: &Client, table: &str, subnet: &str) -> Result<()> {
    client
        .associate_route_table()
        .route_table_id(table)
        .subnet_id(subnet)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssociateRouteTable", e))?;
    Ok(())
}

pub async fn disassociate_route_table(client: &Client, association: &str) -> Result<()> {
    client
        .disassociate_route_table()
        .association_id(association)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DisassociateRouteTable", e))?;
    Ok(())
}

pub async fn delete_route_table(client: &Client, table: &str) -> Result<()> {
    client
        .delete_route_table()
        .route_table_id(table)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteRouteTable", e))?;
    Ok(())
}

pub async fn create_security_group(
    client: &Client,
    vpc_id: &str,
    name: &str,
    description: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(name)
        .description(description)
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e))?;
    Ok(required(out.group_id(), "CreateSecurityGroup", "GroupId")?.to_string())
}

/// Adds rules; rules already present are not an error.
pub async fn authorize(
    client: &Client,
    group: &str,
    direction: Direction,
    rules: &[RawRule],
) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let permissions = Some(rules.iter().map(permission).collect());
    let result = match direction {
        Direction::Ingress => client
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(permissions)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e)),
        Direction::Egress => client
            .authorize_security_group_egress()
            .group_id(group)
            .set_ip_permissions(permissions)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupEgress", e)),
    };
    match result {
        Err(e) if e.class() == crate::error::ErrorClass::Conflict => Ok(()),
        other => other,
    }
}

/// Removes rules; rules already gone are not an error.
pub async fn revoke(
    client: &Client,
    group: &str,
    direction: Direction,
    rules: &[RawRule],
) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let permissions = Some(rules.iter().map(permission).collect());
    let result = match direction {
        Direction::Ingress => client
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(permissions)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e)),
        Direction::Egress => client
            .revoke_security_group_egress()
            .group_id(group)
            .set_ip_permissions(permissions)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupEgress", e)),
    };
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
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

fn security_group_of(g: &aws_sdk_ec2::types::SecurityGroup) -> SecurityGroup {
    SecurityGroup {
        id: g.group_id().unwrap_or_default().into(),
        name: g.group_name().unwrap_or_default().into(),
        vpc_id: g.vpc_id().unwrap_or_default().into(),
        tags: tag_map(Some(g.tags())),
        ingress: flatten_permissions(g.ip_permissions()),
        egress: flatten_permissions(g.ip_permissions_egress()),
    }
}

/// A flow log of a VPC, as far as the posture report needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowLog {
    pub id: String,
    /// `ACCEPT`, `REJECT` or `ALL`
    pub traffic_type: String,
}

/// The flow logs AWS has for a VPC, whoever created them (the provider creates none).
pub async fn flow_logs(client: &Client, vpc_id: &str) -> Result<Vec<FlowLog>> {
    let out = client
        .describe_flow_logs()
        .filter(filter("resource-id", vpc_id))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeFlowLogs", e))?;
    Ok(out
        .flow_logs()
        .iter()
        .map(|f| FlowLog {
            id: f.flow_log_id().unwrap_or_default().to_string(),
            traffic_type: f
                .traffic_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        })
        .collect())
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

/// What an instance launched by the provider runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceSettings {
    pub ami_id: String,
    pub instance_type: String,
    pub security_group: String,
    pub user_data: Option<String>,
    pub key_name: Option<String>,
    pub iam_instance_profile: Option<InstanceProfile>,
    pub hardening: Hardening,
}

/// The security settings of an instance, compared like the rest so that a
/// weakened copy is never taken for the real thing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hardening {
    /// IMDSv2 only: metadata requests need a session token
    pub tokens_required: bool,
    pub root_volume_encrypted: bool,
    pub public_ip: bool,
}

impl Hardening {
    /// The app instances: IMDSv2 only, encrypted root volume, no public IP.
    pub const APP: Hardening = Hardening {
        tokens_required: true,
        root_volume_encrypted: true,
        public_ip: false,
    };
    /// The bastion: as the app instances, but reachable from the internet.
    pub const BASTION: Hardening = Hardening {
        tokens_required: true,
        root_volume_encrypted: true,
        public_ip: true,
    };

    /// What differs from `wanted`, worded for the plan.
    pub fn weakened(&self, wanted: &Hardening) -> Vec<&'static str> {
        let mut differences = Vec::new();
        if self.tokens_required != wanted.tokens_required {
            differences.push(if wanted.tokens_required {
                "IMDSv2 is optional"
            } else {
                "IMDSv2 is required"
            });
        }
        if self.root_volume_encrypted != wanted.root_volume_encrypted {
            differences.push(if wanted.root_volume_encrypted {
                "the root volume is unencrypted"
            } else {
                "the root volume is encrypted"
            });
        }
        if self.public_ip != wanted.public_ip {
            differences.push(if wanted.public_ip {
                "there is no public IP"
            } else {
                "a public IP is assigned"
            });
        }
        differences
    }
}

impl InstanceSettings {
    /// What differs from `wanted`, worded for the plan (`type t3.large instead of t3.micro`).
    pub fn differences(&self, wanted: &InstanceSettings) -> Vec<String> {
        let mut found = Vec::new();
        let mut compare = |name: &str, actual: &str, expected: &str| {
            if actual != expected {
                found.push(format!("{name} {actual:?} instead of {expected:?}"));
            }
        };
        compare("image", &self.ami_id, &wanted.ami_id);
        compare("type", &self.instance_type, &wanted.instance_type);
        compare(
            "security group",
            &self.security_group,
            &wanted.security_group,
        );
        compare(
            "key",
            self.key_name.as_deref().unwrap_or("none"),
            wanted.key_name.as_deref().unwrap_or("none"),
        );
        if self.iam_instance_profile != wanted.iam_instance_profile {
            compare(
                "instance profile",
                InstanceProfile::text_of(self.iam_instance_profile.as_ref()),
                InstanceProfile::text_of(wanted.iam_instance_profile.as_ref()),
            );
        }
        if self.user_data != wanted.user_data {
            found.push("other user data".into());
        }
        found.extend(
            self.hardening
                .weakened(&wanted.hardening)
                .into_iter()
                .map(str::to_string),
        );
        found
    }
}

/// The app instances' template data: IMDSv2 only, encrypted gp3 root volume, no public IP.
fn launch_template_data(settings: &InstanceSettings, tags: &Tags) -> RequestLaunchTemplateData {
    use base64::Engine;
    let instance_tags = |resource| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(resource)
            .set_tags(Some(sdk_tags(tags)))
            .build()
    };
    RequestLaunchTemplateData::builder()
        .image_id(&settings.ami_id)
        .instance_type(settings.instance_type.as_str().into())
        // explicit: instances of the app never get a public address, whatever the subnet says
        .network_interfaces(
            aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .device_index(0)
                .associate_public_ip_address(settings.hardening.public_ip)
                .groups(&settings.security_group)
                .delete_on_termination(true)
                .build(),
        )
        .set_user_data(
            settings
                .user_data
                .as_ref()
                .map(|u| base64::engine::general_purpose::STANDARD.encode(u)),
        )
        .set_key_name(settings.key_name.clone())
        .set_iam_instance_profile(settings.iam_instance_profile.as_ref().map(|profile| {
            let builder = LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
            // as configured: the template is read back and compared as written
            if profile.is_arn() {
                builder.arn(profile.as_str()).build()
            } else {
                builder.name(profile.as_str()).build()
            }
        }))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(if settings.hardening.tokens_required {
                    LaunchTemplateHttpTokensState::Required
                } else {
                    LaunchTemplateHttpTokensState::Optional
                })
                .http_endpoint(
                    aws_sdk_ec2::types::LaunchTemplateInstanceMetadataEndpointState::Enabled,
                )
                .http_put_response_hop_limit(2)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name("/dev/xvda")
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .encrypted(settings.hardening.root_volume_encrypted)
                        .volume_type(VolumeType::Gp3)
                        .volume_size(20)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .tag_specifications(instance_tags(ResourceType::Instance))
        .tag_specifications(instance_tags(ResourceType::Volume))
        .build()
}

/// Creates the app launch template; returns its id and version.
pub async fn create_launch_template(
    client: &Client,
    name: &str,
    settings: &InstanceSettings,
    tags: &Tags,
) -> Result<(String, i64)> {
    let out = client
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(launch_template_data(settings, tags))
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateLaunchTemplate", e))?;
    let template = required(
        out.launch_template(),
        "CreateLaunchTemplate",
        "LaunchTemplate",
    )?;
    Ok((
        required(
            template.launch_template_id(),
            "CreateLaunchTemplate",
            "LaunchTemplateId",
        )?
        .to_string(),
        template.latest_version_number().unwrap_or(1),
    ))
}

/// Adds a version with new settings and makes it the default; returns its number.
pub async fn new_launch_template_version(
    client: &Client,
    id: &str,
    settings: &InstanceSettings,
    tags: &Tags,
) -> Result<i64> {
    let out = client
        .create_launch_template_version()
        .launch_template_id(id)
        .launch_template_data(launch_template_data(settings, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateLaunchTemplateVersion", e))?;
    let version = required(
        out.launch_template_version()
            .and_then(|v| v.version_number()),
        "CreateLaunchTemplateVersion",
        "VersionNumber",
    )?;
    set_default_version(client, id, version).await?;
    Ok(version)
}

/// One version of a launch template and what it runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateVersion {
    /// the template's ID: a lookup by name may meet another account object's template
    pub template_id: String,
    pub number: i64,
    pub default: bool,
    pub settings: InstanceSettings,
}

/// A launch template, by ID or by name.
#[derive(Clone, Copy, Debug)]
pub enum TemplateRef<'a> {
    Id(&'a str),
    /// before its ID is known: a refresh reads the versions in the same round
    /// as the template itself
    Name(&'a str),
}

/// What the given versions of a launch template run (`$Default`, `$Latest` or
/// numbers), in one call; an unknown template or version reads as none.
pub async fn launch_template_versions(
    client: &Client,
    template: TemplateRef<'_>,
    versions: &[String],
) -> Result<Vec<TemplateVersion>> {
    let request = client
        .describe_launch_template_versions()
        .set_versions(Some(versions.to_vec()));
    let request = match template {
        TemplateRef::Id(id) => request.launch_template_id(id),
        TemplateRef::Name(name) => request.launch_template_name(name),
    };
    let out = request.send().await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let error = AwsError::from_sdk("DescribeLaunchTemplateVersions", e);
            return if error.is_not_found() {
                Ok(Vec::new())
            } else {
                Err(error)
            };
        }
    };
    Ok(out
        .launch_template_versions()
        .iter()
        .filter_map(|v| {
            Some(TemplateVersion {
                template_id: v.launch_template_id()?.to_string(),
                number: v.version_number()?,
                default: v.default_version().unwrap_or(false),
                settings: template_settings(v.launch_template_data()?),
            })
        })
        .collect())
}

fn template_settings(data: &aws_sdk_ec2::types::ResponseLaunchTemplateData) -> InstanceSettings {
    use base64::Engine;
    let interface = data.network_interfaces().first();
    let root_volume = data
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some("/dev/xvda"))
        .and_then(|m| m.ebs());
    InstanceSettings {
        ami_id: data.image_id().unwrap_or_default().to_string(),
        instance_type: data
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        security_group: data
            .network_interfaces()
            .iter()
            .flat_map(|n| n.groups())
            .chain(data.security_group_ids())
            .next()
            .cloned()
            .unwrap_or_default(),
        user_data: data.user_data().and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
        }),
        key_name: data.key_name().map(str::to_string),
        // read back as written: by ARN when the template names one, else by name
        iam_instance_profile: data
            .iam_instance_profile()
            .and_then(|p| p.arn().or(p.name()))
            .map(InstanceProfile::new),
        hardening: Hardening {
            tokens_required: data
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .is_some_and(|t| *t == LaunchTemplateHttpTokensState::Required),
            root_volume_encrypted: root_volume.and_then(|e| e.encrypted()).unwrap_or(false),
            public_ip: interface
                .and_then(
                    aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecification::associate_public_ip_address,
                )
                .unwrap_or(false),
        },
    }
}

/// Makes an existing version the template's default.
pub async fn set_default_version(client: &Client, id: &str, version: i64) -> Result<()> {
    client
        .modify_launch_template()
        .launch_template_id(id)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyLaunchTemplate", e))?;
    Ok(())
}

pub async fn delete_launch_template(client: &Client, id: &str) -> Result<()> {
    client
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteLaunchTemplate", e))?;
    Ok(())
}

/// Launches the bastion: IMDSv2 only, encrypted root volume, public IP.
pub async fn run_bastion(
    client: &Client,
    subnet: &str,
    settings: &InstanceSettings,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .run_instances()
        .image_id(&settings.ami_id)
        .instance_type(settings.instance_type.as_str().into())
        .min_count(1)
        .max_count(1)
        .client_token(token)
        .set_key_name(settings.key_name.clone())
        .set_iam_instance_profile(
            settings
                .iam_instance_profile
                .as_ref()
                .map(profile_specification),
        )
        .network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(subnet)
                .associate_public_ip_address(settings.hardening.public_ip)
                .groups(&settings.security_group)
                .build(),
        )
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(if settings.hardening.tokens_required {
                    HttpTokensState::Required
                } else {
                    HttpTokensState::Optional
                })
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/xvda")
                .ebs(
                    EbsBlockDevice::builder()
                        .encrypted(settings.hardening.root_volume_encrypted)
                        .volume_type(VolumeType::Gp3)
                        .volume_size(8)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .tag_specifications(tag_spec(ResourceType::Instance, tags))
        .tag_specifications(tag_spec(ResourceType::Volume, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RunInstances", e))?;
    Ok(required(
        out.instances().first().and_then(|i| i.instance_id()),
        "RunInstances",
        "InstanceId",
    )?
    .to_string())
}

fn profile_specification(profile: &InstanceProfile) -> IamInstanceProfileSpecification {
    let builder = IamInstanceProfileSpecification::builder();
    if profile.is_arn() {
        builder.arn(profile.as_str()).build()
    } else {
        builder.name(profile.as_str()).build()
    }
}

/// The ID of the association that gives `instance` its instance profile, if one
/// is in place or being made.
pub async fn instance_profile_association(
    client: &Client,
    instance: &str,
) -> Result<Option<String>> {
    let out = client
        .describe_iam_instance_profile_associations()
        .filters(filter("instance-id", instance))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeIamInstanceProfileAssociations", e))?;
    Ok(out
        .iam_instance_profile_associations()
        .iter()
        .filter(|a| {
            matches!(
                a.state(),
                Some(IamInstanceProfileAssociationState::Associated)
                    | Some(IamInstanceProfileAssociationState::Associating)
            )
        })
        .find_map(|a| a.association_id().map(str::to_string)))
}

/// Sets, replaces or removes the instance profile of a running instance, in place.
pub async fn set_instance_profile(
    client: &Client,
    instance: &str,
    profile: Option<&InstanceProfile>,
) -> Result<()> {
    let association = instance_profile_association(client, instance).await?;
    match (association, profile) {
        (None, None) => {}
        (None, Some(profile)) => {
            client
                .associate_iam_instance_profile()
                .instance_id(instance)
                .iam_instance_profile(profile_specification(profile))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("AssociateIamInstanceProfile", e))?;
        }
        (Some(association), Some(profile)) => {
            client
                .replace_iam_instance_profile_association()
                .association_id(association)
                .iam_instance_profile(profile_specification(profile))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ReplaceIamInstanceProfileAssociation", e))?;
        }
        (Some(association), None) => {
            client
                .disassociate_iam_instance_profile()
                .association_id(association)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DisassociateIamInstanceProfile", e))?;
        }
    }
    Ok(())
}

/// Requires IMDSv2 on a running instance, in place.
pub async fn require_metadata_tokens(client: &Client, instance: &str) -> Result<()> {
    client
        .modify_instance_metadata_options()
        .instance_id(instance)
        .http_tokens(HttpTokensState::Required)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceMetadataOptions", e))?;
    Ok(())
}

/// Sets the security groups of a running instance, in place.
pub async fn set_instance_groups(client: &Client, instance: &str, groups: &[String]) -> Result<()> {
    client
        .modify_instance_attribute()
        .instance_id(instance)
        .set_groups(Some(groups.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute", e))?;
    Ok(())
}

/// Whether each volume is encrypted, by volume ID.
pub async fn volumes_encrypted(client: &Client, ids: &[String]) -> Result<BTreeMap<String, bool>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    match client
        .describe_volumes()
        .set_volume_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(out) => Ok(out
            .volumes()
            .iter()
            .filter_map(|v| Some((v.volume_id()?.to_string(), v.encrypted().unwrap_or(false))))
            .collect()),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeVolumes", e);
            if error.is_not_found() {
                Ok(BTreeMap::new())
            } else {
                Err(error)
            }
        }
    }
}

pub async fn terminate_instances(client: &Client, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    client
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("TerminateInstances", e))?;
    Ok(())
}

/// IDs of the instances among `ids` that are not yet terminated.
pub async fn live_instances(client: &Client, ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = client
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await;
    match out {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect()),
        Err(e) => {
            let error = AwsError::from_sdk("DescribeInstances", e);
            if error.is_not_found() {
                Ok(Vec::new())
            } else {
                Err(error)
            }
        }
    }
}

pub async fn delete_subnet(client: &Client, id: &str) -> Result<()> {
    client
        .delete_subnet()
        .subnet_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteSubnet", e))?;
    Ok(())
}

pub async fn delete_vpc(client: &Client, id: &str) -> Result<()> {
    client
        .delete_vpc()
        .vpc_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteVpc", e))?;
    Ok(())
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
