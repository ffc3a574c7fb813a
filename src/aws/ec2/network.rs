//! The VPC and its settings, subnets, the internet gateway and flow logs.

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};
use aws_sdk_ec2::Client;

use crate::error::AwsError;
use crate::plan::spec::{TAG_ENVIRONMENT, TAG_STATUS};

use super::{made_by, made_with, once, required, tag_map, tag_spec, Found, Listing, Result, Tags};
use crate::aws::create_once::create_once;

/// The VPCs tagged for the environment `name`, each with its `prodvpc:status`
/// tag (`creating` until a create completes).
pub async fn environment_vpcs(
    client: &Client,
    name: &str,
) -> Result<Vec<(String, Option<String>)>> {
    let out = client
        .describe_vpcs()
        .filters(super::filter(&format!("tag:{TAG_ENVIRONMENT}"), name))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
    Ok(out
        .vpcs()
        .iter()
        .map(|vpc| {
            let status = vpc
                .tags()
                .iter()
                .find(|tag| tag.key() == Some(TAG_STATUS))
                .and_then(|tag| tag.value())
                .map(str::to_string);
            (vpc.vpc_id().unwrap_or_default().to_string(), status)
        })
        .collect())
}

/// Creates the VPC; its DNS attributes are set by reconcile, which also repairs them.
pub async fn create_vpc(client: &Client, cidr: &str, tags: &Tags) -> Result<String> {
    create_once(
        tags,
        |tags| async move {
            let out = client
                .create_vpc()
                .cidr_block(cidr)
                .tag_specifications(tag_spec(ResourceType::Vpc, &tags))
                .customize()
                .config_override(once())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateVpc", e))?;
            Ok(required(out.vpc().and_then(|v| v.vpc_id()), "CreateVpc", "VpcId")?.to_string())
        },
        |token| async move {
            let out = client
                .describe_vpcs()
                .filters(made_with(&token))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeVpcs", e))?;
            Ok(out
                .vpcs()
                .first()
                .and_then(|v| v.vpc_id())
                .map(str::to_string))
        },
    )
    .await
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
    create_once(
        tags,
        |tags| async move {
            let out = client
                .create_subnet()
                .vpc_id(vpc_id)
                .availability_zone(zone)
                .cidr_block(cidr)
                .tag_specifications(tag_spec(ResourceType::Subnet, &tags))
                .customize()
                .config_override(once())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateSubnet", e))?;
            Ok(required(
                out.subnet().and_then(|s| s.subnet_id()),
                "CreateSubnet",
                "SubnetId",
            )?
            .to_string())
        },
        // the block in the VPC: `InvalidSubnet.Conflict` names no subnet
        |token| async move {
            let out = client
                .describe_subnets()
                .filters(super::filter("vpc-id", vpc_id))
                .filters(super::filter("cidr-block", cidr))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
            Ok(out
                .subnets()
                .iter()
                .find(|s| made_by(&tag_map(Some(s.tags())), &token, tags))
                .and_then(|s| s.subnet_id())
                .map(str::to_string))
        },
    )
    .await
}

/// The key of a VPC's IPv4 blocks besides its primary one in its
/// [`Found::detail`]: `association=block` pairs, comma-separated.
pub const EXTRA_IPV4_BLOCKS: &str = "extra_ipv4_blocks";

/// An IPv4 block associated with a VPC besides the one it was made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraIpv4Block {
    pub association_id: String,
    pub cidr: String,
}

impl ExtraIpv4Block {
    /// The detail entry of a VPC whose primary block is `primary`, from its
    /// IPv4 associations as (ID, block, state): the associated ones besides it.
    pub(super) fn detail_of<'a>(
        primary: &str,
        associations: impl Iterator<Item = (Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
    ) -> (&'static str, String) {
        // one being associated is left to whoever is about to use it (and
        // AWS may refuse to let it go yet); without a primary block to tell
        // from, none is extra
        let extra: Vec<String> = associations
            .filter(|(_, _, state)| *state == Some("associated"))
            .filter_map(|(id, block, _)| Some((id?, block?)))
            .filter(|(_, block)| !primary.is_empty() && *block != primary)
            .map(|(id, block)| format!("{id}={block}"))
            .collect();
        (EXTRA_IPV4_BLOCKS, extra.join(","))
    }

    /// The extra blocks a discovered VPC records.
    pub fn of(vpc: &Found) -> Vec<ExtraIpv4Block> {
        let listed = vpc.detail.get(EXTRA_IPV4_BLOCKS).map_or("", String::as_str);
        listed
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(id, cidr)| ExtraIpv4Block {
                association_id: id.to_string(),
                cidr: cidr.to_string(),
            })
            .collect()
    }
}

/// The key of a VPC's DHCP options set in its [`Found::detail`].
pub const DHCP_OPTIONS: &str = "dhcp_options";

/// Makes `options` the DHCP options set of `vpc` (`default`: none).
pub async fn associate_dhcp_options(client: &Client, vpc: &str, options: &str) -> Result<()> {
    client
        .associate_dhcp_options()
        .vpc_id(vpc)
        .dhcp_options_id(options)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssociateDhcpOptions", e))?;
    Ok(())
}

/// Whether DHCP options set `id` exists (and is visible to this account).
pub async fn dhcp_options_exist(client: &Client, id: &str) -> Result<bool> {
    let out = client
        .describe_dhcp_options()
        .filters(Filter::builder().name("dhcp-options-id").values(id).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeDhcpOptions", e))?;
    Ok(!out.dhcp_options().is_empty())
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

/// A subnet's settings the configuration does not offer, kept at AWS's
/// defaults: how its instances are named in DNS, and whether it answers
/// IPv4-only names with NAT64 addresses (which route nowhere here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubnetSetting {
    HostnameType,
    ResourceNameARecord,
    ResourceNameAaaaRecord,
    Dns64,
}

impl SubnetSetting {
    pub const ALL: [SubnetSetting; 4] = [
        SubnetSetting::HostnameType,
        SubnetSetting::ResourceNameARecord,
        SubnetSetting::ResourceNameAaaaRecord,
        SubnetSetting::Dns64,
    ];

    /// The key of its value in a subnet's [`Found::detail`].
    pub fn detail(self) -> &'static str {
        match self {
            SubnetSetting::HostnameType => "hostname_type",
            SubnetSetting::ResourceNameARecord => "resource_name_a_record",
            SubnetSetting::ResourceNameAaaaRecord => "resource_name_aaaa_record",
            SubnetSetting::Dns64 => "dns64",
        }
    }

    /// The setting in words, as drift names it.
    pub fn words(self) -> &'static str {
        match self {
            SubnetSetting::HostnameType => "hostname type",
            SubnetSetting::ResourceNameARecord => "DNS A records of instance names",
            SubnetSetting::ResourceNameAaaaRecord => "DNS AAAA records of instance names",
            SubnetSetting::Dns64 => "DNS64",
        }
    }

    /// AWS's default, as the detail holds it.
    pub fn default(self) -> &'static str {
        match self {
            SubnetSetting::HostnameType => "ip-name",
            _ => "false",
        }
    }

    fn read(self, s: &aws_sdk_ec2::types::Subnet) -> String {
        let naming = s.private_dns_name_options_on_launch();
        let on = |value: Option<bool>| value.unwrap_or(false).to_string();
        match self {
            SubnetSetting::HostnameType => naming
                .and_then(|n| n.hostname_type())
                .map_or(self.default().to_string(), |t| t.as_str().to_string()),
            SubnetSetting::ResourceNameARecord => {
                on(naming.and_then(|n| n.enable_resource_name_dns_a_record()))
            }
            SubnetSetting::ResourceNameAaaaRecord => {
                on(naming.and_then(|n| n.enable_resource_name_dns_aaaa_record()))
            }
            SubnetSetting::Dns64 => on(s.enable_dns64()),
        }
    }
}

/// Puts `setting` of `subnet` back to AWS's default (one attribute a call,
/// as AWS takes them).
pub async fn restore_subnet_setting(
    client: &Client,
    subnet: &str,
    setting: SubnetSetting,
) -> Result<()> {
    let off = || AttributeBooleanValue::builder().value(false).build();
    let modify = client.modify_subnet_attribute().subnet_id(subnet);
    let modify = match setting {
        SubnetSetting::HostnameType => {
            modify.private_dns_hostname_type_on_launch(aws_sdk_ec2::types::HostnameType::IpName)
        }
        SubnetSetting::ResourceNameARecord => {
            modify.enable_resource_name_dns_a_record_on_launch(off())
        }
        SubnetSetting::ResourceNameAaaaRecord => {
            modify.enable_resource_name_dns_aaaa_record_on_launch(off())
        }
        SubnetSetting::Dns64 => modify.enable_dns64(off()),
    };
    modify
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifySubnetAttribute", e))?;
    Ok(())
}

/// The settings of `subnet` (as discovery found it) that are off AWS's
/// defaults, with the value found.
pub fn subnet_settings_off_default(subnet: &Found) -> Vec<(SubnetSetting, &str)> {
    SubnetSetting::ALL
        .into_iter()
        .filter_map(|setting| {
            let seen = subnet.detail.get(setting.detail())?;
            (seen != setting.default()).then_some((setting, seen.as_str()))
        })
        .collect()
}

/// How discovery lists subnets, by their VPC.
pub const SUBNETS: Listing = Listing {
    operation: "DescribeSubnets",
    vpc_filter: "vpc-id",
    noun: "subnet",
    describe: |client, selection| Box::pin(async move { subnets(&client, selection).await }),
};

/// The subnets `selection` picks, with their block, zone, VPC, address
/// settings and IPv6 association.
pub async fn subnets(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    let out = client
        .describe_subnets()
        .filters(selection)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSubnets", e))?;
    Ok(out.subnets().iter().map(subnet_found).collect())
}

/// A subnet as discovery keeps it.
fn subnet_found(s: &aws_sdk_ec2::types::Subnet) -> Found {
    Found {
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
            (
                "assign_ipv6",
                // the field: the getter reads like the operation the IAM
                // policy check looks for
                s.assign_ipv6_address_on_creation
                    .unwrap_or(false)
                    .to_string(),
            ),
        ]
        .into_iter()
        .chain(SubnetSetting::ALL.map(|setting| (setting.detail(), setting.read(s))))
        .chain(super::Ipv6Association::detail_of(
            s.ipv6_cidr_block_association_set().iter().map(|a| {
                (
                    a.association_id(),
                    a.ipv6_cidr_block(),
                    a.ipv6_cidr_block_state()
                        .and_then(|s| s.state())
                        .map(|s| s.as_str()),
                )
            }),
        ))
        .collect(),
    }
}

/// How discovery lists internet gateways, by the VPC they are attached to.
pub const INTERNET_GATEWAYS: Listing = Listing {
    operation: "DescribeInternetGateways",
    vpc_filter: "attachment.vpc-id",
    noun: "internet gateway",
    describe: |client, selection| {
        Box::pin(async move { internet_gateways(&client, selection).await })
    },
};

/// The internet gateways `selection` picks, each with the VPC it is attached
/// to (if any) in `detail["vpc"]`.
pub async fn internet_gateways(client: &Client, selection: Filter) -> Result<Vec<Found>> {
    let out = client
        .describe_internet_gateways()
        .filters(selection)
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
        .collect())
}

/// Creates an internet gateway (attachment is separate so a crash in between is repaired).
pub async fn create_internet_gateway(client: &Client, tags: &Tags) -> Result<String> {
    create_once(
        tags,
        |tags| async move {
            let out = client
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, &tags))
                .customize()
                .config_override(once())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateInternetGateway", e))?;
            Ok(required(
                out.internet_gateway().and_then(|g| g.internet_gateway_id()),
                "CreateInternetGateway",
                "InternetGatewayId",
            )?
            .to_string())
        },
        |token| async move {
            let out = client
                .describe_internet_gateways()
                .filters(made_with(&token))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeInternetGateways", e))?;
            Ok(out
                .internet_gateways()
                .first()
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string))
        },
    )
    .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{HostnameType, PrivateDnsNameOptionsOnLaunch, Subnet};

    #[test]
    fn a_subnet_as_aws_makes_it_has_its_dns_settings_at_their_defaults() {
        let made = Subnet::builder()
            .private_dns_name_options_on_launch(
                PrivateDnsNameOptionsOnLaunch::builder()
                    .hostname_type(HostnameType::IpName)
                    .enable_resource_name_dns_a_record(false)
                    .enable_resource_name_dns_aaaa_record(false)
                    .build(),
            )
            .enable_dns64(false)
            .build();
        assert_eq!(
            subnet_settings_off_default(&subnet_found(&made)),
            Vec::new()
        );
        // an answer that leaves them out means the same
        let bare = subnet_found(&Subnet::builder().build());
        assert_eq!(subnet_settings_off_default(&bare), Vec::new());
    }

    #[test]
    fn a_vpc_s_associated_blocks_besides_its_own_are_its_extra_blocks() {
        let (key, detail) = ExtraIpv4Block::detail_of(
            "10.0.0.0/16",
            [
                (Some("assoc-0"), Some("10.0.0.0/16"), Some("associated")),
                (Some("assoc-1"), Some("10.1.0.0/16"), Some("associated")),
                (Some("assoc-2"), Some("10.2.0.0/16"), Some("disassociated")),
                (Some("assoc-3"), Some("10.3.0.0/16"), Some("associating")),
            ]
            .into_iter(),
        );
        let vpc = Found {
            detail: [(key, detail)].into(),
            ..Found::default()
        };
        let (_, unknown_primary) = ExtraIpv4Block::detail_of(
            "",
            [(Some("assoc-0"), Some("10.0.0.0/16"), Some("associated"))].into_iter(),
        );
        assert_eq!(unknown_primary, "");
        let block = |id: &str, cidr: &str| ExtraIpv4Block {
            association_id: id.into(),
            cidr: cidr.into(),
        };
        assert_eq!(
            ExtraIpv4Block::of(&vpc),
            vec![block("assoc-1", "10.1.0.0/16")],
            "one still being associated is left to whoever is about to use it"
        );
        assert_eq!(ExtraIpv4Block::of(&Found::default()), Vec::new());
    }

    #[test]
    fn every_dns_setting_changed_out_of_band_is_read_with_its_value() {
        let changed = Subnet::builder()
            .private_dns_name_options_on_launch(
                PrivateDnsNameOptionsOnLaunch::builder()
                    .hostname_type(HostnameType::ResourceName)
                    .enable_resource_name_dns_a_record(true)
                    .enable_resource_name_dns_aaaa_record(true)
                    .build(),
            )
            .enable_dns64(true)
            .build();
        let found = subnet_found(&changed);
        assert_eq!(
            subnet_settings_off_default(&found),
            vec![
                (SubnetSetting::HostnameType, "resource-name"),
                (SubnetSetting::ResourceNameARecord, "true"),
                (SubnetSetting::ResourceNameAaaaRecord, "true"),
                (SubnetSetting::Dns64, "true"),
            ]
        );
    }
}
