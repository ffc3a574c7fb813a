//! EC2: VPC, subnets, gateways, addresses, route tables, security groups,
//! launch templates and the bastion instance.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, BlockDeviceMapping, DomainType, EbsBlockDevice, Filter, HttpTokensState,
    InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification, IpPermission, IpRange,
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, Tag,
    TagSpecification, UserIdGroupPair, VolumeType,
};
use aws_sdk_ec2::Client;

use crate::error::AwsError;

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

/// A security group with its ingress rules flattened to one per (port, source).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub tags: Tags,
    pub ingress: Vec<RawRule>,
    pub egress_count: usize,
}

/// One TCP ingress permission as EC2 reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawRule {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    /// a CIDR block or a security group id
    pub source: RuleSource,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleSource {
    Cidr(String),
    Group(String),
}

/// Describes every object tagged for `environment`, one call per type, concurrently.
pub async fn discover(client: &Client, tag_key: &str, environment: &str) -> Result<Ec2Inventory> {
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
                    routes: t
                        .routes()
                        .iter()
                        .filter_map(|r| {
                            let target = r.nat_gateway_id().or(r.gateway_id())?;
                            Some((r.destination_cidr_block()?.to_string(), target.to_string()))
                        })
                        .collect(),
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
                .map(|g| SecurityGroup {
                    id: g.group_id().unwrap_or_default().into(),
                    name: g.group_name().unwrap_or_default().into(),
                    vpc_id: g.vpc_id().unwrap_or_default().into(),
                    tags: tag_map(Some(g.tags())),
                    ingress: flatten_permissions(g.ip_permissions()),
                    egress_count: g.ip_permissions_egress().len(),
                })
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
    let builder = IpPermission::builder()
        .ip_protocol(&rule.protocol)
        .from_port(rule.from_port)
        .to_port(rule.to_port);
    match &rule.source {
        RuleSource::Cidr(cidr) => builder.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
        RuleSource::Group(group) => {
            builder.user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
        }
    }
    .build()
}

/// Creates the VPC; DNS is switched on by [`enable_vpc_dns`] as a separate,
/// retried step, so a VPC whose DNS call failed is repaired by the next run.
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

/// DNS support and hostnames: the ALB, SSM and instance hostnames need both.
pub async fn enable_vpc_dns(client: &Client, vpc_id: &str) -> Result<()> {
    let on = || AttributeBooleanValue::builder().value(true).build();
    // AWS accepts only one attribute per call; support is on by default, so the
    // two calls need no order
    let support = client
        .modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_support(on())
        .send();
    let hostnames = client
        .modify_vpc_attribute()
        .vpc_id(vpc_id)
        .enable_dns_hostnames(on())
        .send();
    let (support, hostnames) = futures::join!(support, hostnames);
    support.map_err(|e| AwsError::from_sdk("ModifyVpcAttribute", e))?;
    hostnames.map_err(|e| AwsError::from_sdk("ModifyVpcAttribute", e))?;
    Ok(())
}

/// Creates a subnet; public IP mapping is set by [`map_public_ip_on_launch`].
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
    client
        .delete_route()
        .route_table_id(table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteRoute", e))?;
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

/// Adds ingress rules; rules already present are not an error.
pub async fn authorize_ingress(client: &Client, group: &str, rules: &[RawRule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let result = client
        .authorize_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(rules.iter().map(permission).collect()))
        .send()
        .await;
    match result.map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e)) {
        Err(e) if e.class() == crate::error::ErrorClass::Conflict => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Removes ingress rules; rules already gone are not an error.
pub async fn revoke_ingress(client: &Client, group: &str, rules: &[RawRule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let result = client
        .revoke_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(rules.iter().map(permission).collect()))
        .send()
        .await;
    match result.map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e)) {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The VPC's default security group, with its ingress and egress rules.
pub async fn default_security_group(
    client: &Client,
    vpc_id: &str,
) -> Result<Option<(String, Vec<IpPermission>, Vec<IpPermission>)>> {
    let out = client
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", "default"))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
    Ok(out.security_groups().first().map(|g| {
        (
            g.group_id().unwrap_or_default().to_string(),
            g.ip_permissions().to_vec(),
            g.ip_permissions_egress().to_vec(),
        )
    }))
}

/// Strips every rule of the default security group so nothing that lands in it can talk.
/// Every VPC has one: when AWS does not list it yet, the VPC was created moments
/// ago and the answer is a propagation error for the caller to retry.
pub async fn strip_default_security_group(client: &Client, vpc_id: &str) -> Result<()> {
    let Some((id, ingress, egress)) = default_security_group(client, vpc_id).await? else {
        return Err(AwsError::Api {
            operation: "DescribeSecurityGroups",
            code: "InvalidGroup.NotFound".into(),
            message: format!("the default security group of {vpc_id} is not listed yet"),
            class: crate::error::ErrorClass::Propagation,
            request_id: None,
        });
    };
    if !ingress.is_empty() {
        client
            .revoke_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
    }
    if !egress.is_empty() {
        client
            .revoke_security_group_egress()
            .group_id(&id)
            .set_ip_permissions(Some(egress))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupEgress", e))?;
    }
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
                .associate_public_ip_address(false)
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
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
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
                        .encrypted(true)
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
    client
        .modify_launch_template()
        .launch_template_id(id)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyLaunchTemplate", e))?;
    Ok(version)
}

/// What one version of a launch template runs.
pub async fn launch_template_settings(
    client: &Client,
    id: &str,
    version: &str,
) -> Result<Option<InstanceSettings>> {
    use base64::Engine;
    let out = client
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions(version)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let error = AwsError::from_sdk("DescribeLaunchTemplateVersions", e);
            return if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .map(|data| InstanceSettings {
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
        }))
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
        .network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(subnet)
                .associate_public_ip_address(true)
                .groups(&settings.security_group)
                .build(),
        )
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Required)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/xvda")
                .ebs(
                    EbsBlockDevice::builder()
                        .encrypted(true)
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
