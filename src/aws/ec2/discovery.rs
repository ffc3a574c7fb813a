//! Discovery: the environment's EC2 objects, one describe per type, merged
//! across environments (see [`crate::aws::batch`]).

use super::*;

/// Which objects a discovery describes.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// the ownership tag's key
    pub tag_key: &'a str,
    /// the environment's name: the ownership tag's value
    pub environment: &'a str,
    /// the environment's VPC, once known. Objects that live in a VPC are then
    /// described by that VPC, whatever their tags say, and the caller judges
    /// which are the environment's: a tag removed or changed out of band is
    /// drift to repair, not an object lost (and built twice). Before the VPC is
    /// known, and for objects outside any VPC, the ownership tag finds them.
    pub vpc: Option<&'a str>,
}

impl Scope<'_> {
    fn tagged(&self) -> Filter {
        owned_by(self.tag_key, self.environment)
    }

    /// The selection of the objects found by the ownership tag.
    fn by_tag(&self) -> Selection {
        Selection {
            filter: format!("tag:{}", self.tag_key),
            value: self.environment.to_string(),
            tag_key: Some(self.tag_key.to_string()),
        }
    }

    /// The selection of a VPC-bound type, whose describe names the VPC an
    /// object lives in `vpc_filter` (`vpc-id`, `attachment.vpc-id`).
    fn in_vpc(&self, vpc_filter: &str) -> Selection {
        match self.vpc {
            Some(vpc) => Selection {
                filter: vpc_filter.to_string(),
                value: vpc.to_string(),
                tag_key: None,
            },
            None => self.by_tag(),
        }
    }
}

/// One describe filter with one value, and how an object of the answer is
/// told to be this selection's once the describe is merged with other
/// environments' (see [`crate::aws::batch`]): by its VPC, or by the value of
/// its ownership tag.
#[derive(Clone, Debug)]
struct Selection {
    filter: String,
    value: String,
    /// set when the filter is the ownership tag: objects are then keyed by its value
    tag_key: Option<String>,
}

/// What merging needs of an object: its tags.
trait Tagged {
    fn tags(&self) -> &Tags;
}

impl Tagged for Found {
    fn tags(&self) -> &Tags {
        &self.tags
    }
}

impl Tagged for RouteTable {
    fn tags(&self) -> &Tags {
        &self.tags
    }
}

impl Tagged for SecurityGroup {
    fn tags(&self) -> &Tags {
        &self.tags
    }
}

/// Describes the objects `selection` picks, merged with the same describe of
/// other environments made at the same moment. `fetch` makes the call with a
/// filter of every merged value and answers each object with its VPC.
async fn merged<T, F, Fut>(
    batches: &Batches,
    operation: &'static str,
    selection: &Selection,
    fetch: F,
) -> Result<Vec<T>>
where
    T: Tagged + Clone + Send + Sync + 'static,
    F: Fn(Filter) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Vec<(String, T)>>> + Send + 'static,
{
    let filter_name = selection.filter.clone();
    let tag_key = selection.tag_key.clone();
    let fetch = move |values: Vec<String>| {
        let answer = fetch(
            Filter::builder()
                .name(&filter_name)
                .set_values(Some(values))
                .build(),
        );
        let tag_key = tag_key.clone();
        async move {
            Ok(answer
                .await?
                .into_iter()
                .filter_map(|(vpc, object)| {
                    let key = match &tag_key {
                        Some(tag_key) => object.tags().get(tag_key)?.clone(),
                        None => vpc,
                    };
                    Some((key, object))
                })
                .collect())
        }
    };
    batches
        .read(
            operation,
            &selection.filter,
            EC2_FILTER_VALUES,
            &selection.value,
            fetch,
        )
        .await
}

/// A describe that lists one kind of VPC-bound object with no facts beyond a
/// [`Found`], declared by the family that owns the kind (its row in the table
/// of components names it): discovery makes it, merged across environments,
/// and the boundary reports another's objects of the kind by `noun`.
#[derive(Clone, Copy)]
pub struct Listing {
    /// the describe, as merged reads and the call log name it
    pub operation: &'static str,
    /// the filter that names the VPC an object lives in (`vpc-id`, `attachment.vpc-id`)
    pub vpc_filter: &'static str,
    /// what one object is, in words (`egress-only internet gateway`)
    pub noun: &'static str,
    /// lists the objects the filter selects, each naming its VPC in
    /// `detail["vpc"]` (and the network interfaces it holds, if any, in
    /// `detail["interfaces"]`, comma-separated: destroy knows them for the
    /// environment's)
    pub describe: fn(Client, Filter) -> futures::future::BoxFuture<'static, Result<Vec<Found>>>,
}

/// What one [`Listing`] found.
#[derive(Clone, Debug, Default)]
pub struct Listed {
    /// what one object is, in words
    pub noun: &'static str,
    pub objects: Vec<Found>,
}

/// Describes the environment's objects (see [`Scope`]), one call per type,
/// concurrently, each merged with other environments' (see `merged`):
/// the types discovery knows, and those `listings` declare. With the VPC
/// known, the flow logs are left to the caller: it reads them with the VPC's,
/// in the same call.
pub async fn discover(
    client: &Client,
    batches: &Batches,
    scope: Scope<'_>,
    listings: &[Listing],
) -> Result<Ec2Inventory> {
    let listed = futures::future::try_join_all(listings.iter().map(|listing| {
        let client = client.clone();
        let describe = listing.describe;
        async move {
            let objects = merged(
                batches,
                listing.operation,
                &scope.in_vpc(listing.vpc_filter),
                move |selection| {
                    let client = client.clone();
                    async move { describe(client, selection).await.map(by_vpc) }
                },
            )
            .await?;
            let listed = Listed {
                noun: listing.noun,
                objects,
            };
            Ok::<_, AwsError>((listing.operation, listed))
        }
    }));
    let (mut found, listed, flow_logs) =
        futures::try_join!(discover_core(client, batches, scope), listed, async {
            if scope.vpc.is_some() {
                return Ok(Some(Vec::new()));
            }
            match own_flow_logs(client, scope.tagged()).await {
                Ok(logs) => Ok(Some(logs)),
                Err(error) if error.is_access_denied() => Ok(None),
                Err(error) => Err(error),
            }
        },)?;
    found.listed = listed.into_iter().collect();
    found.flow_logs_denied = flow_logs.is_none();
    found.flow_logs = flow_logs.unwrap_or_default();
    Ok(found)
}

/// Objects that name their VPC in `detail["vpc"]`, with it.
fn by_vpc(objects: Vec<Found>) -> Vec<(String, Found)> {
    objects
        .into_iter()
        .map(|o| (o.detail.get("vpc").cloned().unwrap_or_default(), o))
        .collect()
}

/// Runs a describe of `$client` merged with other environments' (see
/// [`merged`]): `$call` builds the request from the client and the filter,
/// `$answer` maps the output to `(VPC, object)` pairs.
macro_rules! merged_describe {
    ($client:expr, $batches:expr, $operation:literal, $selection:expr, |$c:ident, $f:ident| $call:expr, |$out:ident| $answer:expr) => {{
        let client = $client.clone();
        merged($batches, $operation, $selection, move |$f| {
            let $c = client.clone();
            async move {
                let $out = $call
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk($operation, e))?;
                Ok($answer)
            }
        })
    }};
}

/// The network, address, group, template and instance types.
async fn discover_core(
    client: &Client,
    batches: &Batches,
    scope: Scope<'_>,
) -> Result<Ec2Inventory> {
    let bound = scope.in_vpc("vpc-id");
    let tagged = scope.by_tag();
    let (vpcs, route_tables, addresses, sgs, lts, instances) = futures::try_join!(
        merged_describe!(
            client,
            batches,
            "DescribeVpcs",
            &bound,
            |c, f| c.describe_vpcs().filters(f),
            |out| out
                .vpcs()
                .iter()
                .map(|v| (
                    v.vpc_id().unwrap_or_default().to_string(),
                    Found {
                        id: v.vpc_id().unwrap_or_default().into(),
                        tags: tag_map(Some(v.tags())),
                        detail: [
                            ("cidr", v.cidr_block().unwrap_or_default().to_string()),
                            (
                                DHCP_OPTIONS,
                                v.dhcp_options_id().unwrap_or_default().to_string()
                            ),
                            ExtraIpv4Block::detail_of(
                                v.cidr_block().unwrap_or_default(),
                                v.cidr_block_association_set().iter().map(|a| {
                                    (
                                        a.association_id(),
                                        a.cidr_block(),
                                        a.cidr_block_state()
                                            .and_then(|s| s.state())
                                            .map(|s| s.as_str()),
                                    )
                                }),
                            ),
                        ]
                        .into_iter()
                        .chain(Ipv6Association::detail_of(
                            v.ipv6_cidr_block_association_set().iter().map(|a| (
                                a.association_id(),
                                a.ipv6_cidr_block(),
                                a.ipv6_cidr_block_state()
                                    .and_then(|s| s.state())
                                    .map(|s| s.as_str())
                            ))
                        ))
                        .collect(),
                    },
                ))
                .collect::<Vec<_>>()
        ),
        merged_describe!(
            client,
            batches,
            "DescribeRouteTables",
            &bound,
            |c, f| c.describe_route_tables().filters(f),
            |out| out
                .route_tables()
                .iter()
                .map(|t| (
                    t.vpc_id().unwrap_or_default().to_string(),
                    RouteTable {
                        id: t.route_table_id().unwrap_or_default().into(),
                        tags: tag_map(Some(t.tags())),
                        // a subnet's, or a gateway's (an edge association:
                        // traffic arriving through it is routed by the table)
                        associations: t
                            .associations()
                            .iter()
                            .filter_map(|a| {
                                Some((
                                    a.route_table_association_id()?.to_string(),
                                    a.subnet_id().or(a.gateway_id())?.to_string(),
                                ))
                            })
                            .collect(),
                        propagating: t
                            .propagating_vgws()
                            .iter()
                            .filter_map(|v| v.gateway_id())
                            .map(str::to_string)
                            .collect(),
                        routes: t.routes().iter().filter_map(route_of).collect(),
                        main_association: t
                            .associations()
                            .iter()
                            .find(|a| a.main().unwrap_or(false))
                            .and_then(|a| a.route_table_association_id())
                            .map(str::to_string),
                    },
                ))
                .collect::<Vec<_>>()
        ),
        merged_describe!(
            client,
            batches,
            "DescribeAddresses",
            &tagged,
            |c, f| c.describe_addresses().filters(f),
            |out| out
                .addresses()
                .iter()
                .map(|a| (String::new(), address_of(a)))
                .collect::<Vec<_>>()
        ),
        merged_describe!(
            client,
            batches,
            "DescribeSecurityGroups",
            &bound,
            |c, f| c.describe_security_groups().filters(f),
            |out| out
                .security_groups()
                .iter()
                .map(|g| (
                    g.vpc_id().unwrap_or_default().to_string(),
                    security_group_of(g)
                ))
                .collect::<Vec<_>>()
        ),
        merged_describe!(
            client,
            batches,
            "DescribeLaunchTemplates",
            &tagged,
            |c, f| c.describe_launch_templates().filters(f),
            |out| out
                .launch_templates()
                .iter()
                .map(|t| (String::new(), launch_template_of(t)))
                .collect::<Vec<_>>()
        ),
        merged_describe!(
            client,
            batches,
            "DescribeInstances",
            &bound,
            |c, f| c.describe_instances().filters(f).filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .values("stopping")
                    .values("stopped")
                    .build(),
            ),
            |out| out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| (i.vpc_id().unwrap_or_default().to_string(), instance_of(i)))
                .collect::<Vec<_>>()
        ),
    )?;
    Ok(Ec2Inventory {
        vpcs,
        route_tables,
        addresses,
        security_groups: sgs,
        launch_templates: lts,
        instances,
        listed: BTreeMap::new(),
        flow_logs: Vec::new(),
        flow_logs_denied: false,
    })
}

/// An instance as discovery reports it.
pub(super) fn instance_of(i: &aws_sdk_ec2::types::Instance) -> Found {
    Found {
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
                "source_dest_check",
                i.source_dest_check().unwrap_or(true).to_string(),
            ),
            (
                "http_tokens",
                i.metadata_options()
                    .and_then(|m| m.http_tokens())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
            ),
            (
                "metadata_hop_limit",
                i.metadata_options()
                    .and_then(|m| m.http_put_response_hop_limit())
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
            ),
            (
                "metadata_endpoint",
                i.metadata_options()
                    .and_then(|m| m.http_endpoint())
                    .map(|e| e.as_str().to_string())
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
                // every attached volume: only the root volume is the provider's
                "volumes",
                i.block_device_mappings()
                    .iter()
                    .filter_map(|m| m.ebs().and_then(|e| e.volume_id()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "state",
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
            ),
            // `eni=address` pairs: what turning IPv6 off gives up first
            (
                "ipv6_addresses",
                i.network_interfaces()
                    .iter()
                    .flat_map(|n| {
                        let eni = n.network_interface_id().unwrap_or_default();
                        n.ipv6_addresses()
                            .iter()
                            .filter_map(move |a| Some(format!("{eni}={}", a.ipv6_address()?)))
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "primary_interface",
                i.network_interfaces()
                    .iter()
                    .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
                    .or(i.network_interfaces().first())
                    .and_then(|n| n.network_interface_id())
                    .unwrap_or_default()
                    .to_string(),
            ),
        ]
        .into(),
    }
}

/// The `eni=address` pairs of an instance's IPv6 addresses, by interface.
pub fn ipv6_addresses_of(instance: &Found) -> BTreeMap<String, Vec<String>> {
    let mut by_interface: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in instance
        .detail
        .get("ipv6_addresses")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        if let Some((eni, address)) = pair.split_once('=') {
            by_interface
                .entry(eni.to_string())
                .or_default()
                .push(address.to_string());
        }
    }
    by_interface
}

pub(super) fn address_of(address: &aws_sdk_ec2::types::Address) -> Found {
    Found {
        id: address.allocation_id().unwrap_or_default().into(),
        tags: tag_map(Some(address.tags())),
        detail: [(
            "public_ip",
            address.public_ip().unwrap_or_default().to_string(),
        )]
        .into(),
    }
}

pub(super) fn launch_template_of(template: &aws_sdk_ec2::types::LaunchTemplate) -> Found {
    Found {
        id: template.launch_template_id().unwrap_or_default().into(),
        tags: tag_map(Some(template.tags())),
        detail: [
            (
                "name",
                template
                    .launch_template_name()
                    .unwrap_or_default()
                    .to_string(),
            ),
            (
                "latest_version",
                template.latest_version_number().unwrap_or(1).to_string(),
            ),
            (
                "default_version",
                template.default_version_number().unwrap_or(1).to_string(),
            ),
        ]
        .into(),
    }
}
