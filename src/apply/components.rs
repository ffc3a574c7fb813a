//! The table of components: for each kind of component the blueprint can
//! plan, how its key reads, which family compares it, how apply makes it and
//! removes it once unplanned, how it is found in an [`Inventory`] (for the
//! kinds one describe finds, the describe itself), which attributes of the
//! state record its IDs, which of its objects carry tags and through which
//! API, what destroy deletes and in which wave, and which outputs a new one
//! changes. Discovery, the boundary, what is missing, drift, retagging,
//! outputs, destroy and plan unknowns walk this table instead of keeping lists
//! of their own, so a new kind is a row here plus its family's calls, and the
//! tests below refuse a kind without a way to be read, compared or deleted.

use std::collections::{BTreeMap, BTreeSet};

use super::bastion::bastion_drift;
use super::compute::app_drift;
use super::endpoints::endpoint_drift;
use super::flow_logs::flow_log_drift;
use super::instance_connect::instance_connect_drift;
use super::inventory::{
    key_matches, Hints, Inventory, ListedKind, Lookup, NAT_GATEWAY_KEYS, SUBNET_KEYS,
};
use super::ipv6::ipv6_drift;
use super::load_balancer::{
    listener_key, listener_rule_drift, load_balancer_attribute_drift, registration_drift,
    target_group_of,
};
use super::network::network_drift;
use super::run::{Making, PlacedStep, RemoveStep, VpcStep};
use super::security::rule_drift;
use super::teardown::{self, Step};
use crate::aws::ec2::{self, Found, Tags};
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::blueprint::{Blueprint, Kind};
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{EnvironmentSpec, Names};

/// A comparison of what AWS holds with what the spec asks for.
pub(super) type Check = fn(&EnvironmentSpec, &Blueprint, &Inventory) -> Vec<Finding>;

/// The modules that own a group of kinds: their AWS calls and their checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    Network,
    Security,
    Compute,
    Endpoints,
    FlowLogs,
    LoadBalancer,
    Bastion,
    InstanceConnect,
}

impl Family {
    /// The family's comparisons of what AWS holds with the spec.
    pub fn checks(self) -> &'static [Check] {
        match self {
            Family::Network => &[network_drift, ipv6_drift],
            Family::Security => &[|spec, _, inv| rule_drift(spec, inv)],
            Family::Compute => &[scaling_policy_drift, suspended_processes_drift, app_drift],
            Family::Endpoints => &[endpoint_drift],
            Family::FlowLogs => &[|spec, _, inv| flow_log_drift(spec, inv)],
            Family::LoadBalancer => &[
                |spec, _, inv| load_balancer_attribute_drift(spec, inv),
                |_, _, inv| listener_rule_drift(inv),
                |spec, _, inv| registration_drift(spec, inv),
            ],
            Family::Bastion => &[bastion_drift],
            Family::InstanceConnect => &[instance_connect_drift],
        }
    }
}

/// The families in the order of their first row: the order drift reports in.
pub(super) fn families() -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for row in COMPONENTS {
        if !families.contains(&row.family) {
            families.push(row.family);
        }
    }
    families
}

/// The API that reads and writes a kind's tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    Ec2,
    Elb,
    AutoScaling,
}

/// An object of the environment with its tags: (component key, ID or ARN, tags).
pub(super) type TaggedObject<'a> = (String, &'a String, &'a Tags);

/// How a row lists the objects of its kind that carry tags.
pub(super) type Tagged = for<'a> fn(&EnvironmentSpec, &'a Inventory) -> Vec<TaggedObject<'a>>;

/// The stage of destroy that deletes a kind: every stage waits for the one
/// before it, the kinds within one run concurrently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Wave {
    /// what holds network interfaces (instances, the load balancer, NAT
    /// gateways), the gateway endpoints that the route tables serve, and the
    /// flow logs (AWS would remove a deleted VPC's only eventually)
    Holders,
    /// what those held on to
    Held,
    Subnets,
    Vpc,
}

impl Wave {
    pub const IN_ORDER: [Wave; 4] = [Wave::Holders, Wave::Held, Wave::Subnets, Wave::Vpc];
}

/// How destroy removes a kind.
#[derive(Clone, Copy)]
pub(super) enum Deletion {
    /// a step of its own, in that wave
    Own(Wave, Step),
    /// the step of that kind removes it too (AWS deletes listeners with their
    /// load balancer and the policy with its group)
    // read by the test that every kind is deleted
    #[cfg_attr(not(test), allow(dead_code))]
    By(Kind),
}

/// One row of the table.
pub(super) struct Declaration {
    pub kind: Kind,
    /// the key's shape, `*` standing for one segment (a zone, a role, ...)
    pub key: &'static str,
    pub family: Family,
    /// where its objects are found
    pub source: Source,
    /// the API that tags its objects
    pub api: Api,
    pub deletion: Deletion,
    /// the computed attributes a new object under `key` changes, beyond the
    /// IDs of what the refresh found missing
    pub renews: fn(key: &str) -> &'static [&'static str],
    /// the attributes that record its objects' IDs
    pub recorded: Recorded,
    /// how apply makes and repairs it
    pub making: Making,
    /// what deletes its objects the plan no longer has, before anything else
    /// unplanned goes (else reconcile's own removal does)
    pub removal: Option<RemoveStep>,
}

/// Where a kind's objects are found.
#[derive(Clone, Copy)]
pub(super) enum Source {
    /// by a describe of VPC-bound objects that discovery, the boundary and
    /// keying treat alike (see [`ListedKind`]): the objects are
    /// [`Inventory::listed`] under keys of the row's shape, so what is found,
    /// deleted and tagged follows, and another's in the VPC is reported
    Listed(ec2::Listing),
    /// by the inventory's own reads
    Read {
        /// the keys of the components of the table's kinds the inventory
        /// holds; [`Declaration::present`] keeps those of the row's kind
        found: fn(&EnvironmentSpec, &Inventory) -> Vec<String>,
        /// the IDs (ARNs, names) of every object of the kind, duplicates
        /// included: what destroy deletes
        ids: fn(&Inventory) -> Vec<String>,
        /// its objects that carry the environment's tags, as (component key,
        /// ID or ARN, tags): the key is what the object is, which its
        /// component tag may no longer say
        tagged: Tagged,
    },
}

/// Where the state records the IDs (ARNs, names) of a kind's objects, and how
/// they are read from an inventory. Refresh and apply fill those attributes,
/// and discovery keys an object whose ID they record back to its component,
/// whatever its tags say.
#[derive(Clone, Copy)]
pub(super) enum Recorded {
    /// in no attribute of its own
    Nowhere,
    /// its one object's ID, in this attribute (with its Markdown description)
    Id(&'static str, &'static str, fn(&Inventory) -> Option<String>),
    /// its objects' IDs by component key, in map attributes given as
    /// (attribute, key prefix, description): each entry is keyed by what
    /// follows the prefix
    Ids(
        &'static [(&'static str, &'static str, &'static str)],
        fn(&Inventory) -> Vec<(String, String)>,
    ),
}

/// The shape of an attribute that records IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// the ID of the one object of component `key`
    One { key: &'static str },
    /// IDs keyed by what follows `prefix` in their component keys
    Map { prefix: &'static str },
}

/// An attribute of the state that records IDs.
#[derive(Clone, Copy, Debug)]
pub struct RecordingAttribute {
    pub name: &'static str,
    pub record: Record,
    /// Markdown, for the schema
    pub description: &'static str,
}

/// Every attribute of the state that records IDs: the schema declares them
/// from here.
pub fn recording_attributes() -> impl Iterator<Item = RecordingAttribute> {
    COMPONENTS.iter().flat_map(|row| {
        let attributes: Vec<RecordingAttribute> = match row.recorded {
            Recorded::Nowhere => Vec::new(),
            Recorded::Id(name, description, _) => vec![RecordingAttribute {
                name,
                record: Record::One { key: row.key },
                description,
            }],
            Recorded::Ids(maps, _) => maps
                .iter()
                .map(|&(name, prefix, description)| RecordingAttribute {
                    name,
                    record: Record::Map { prefix },
                    description,
                })
                .collect(),
        };
        attributes
    })
}

/// The IDs an attribute records, as read from an inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordedIds {
    One(Option<String>),
    /// by what follows the attribute's key prefix
    Map(BTreeMap<String, String>),
}

/// What every attribute that records IDs holds, read from `inv`.
pub fn recorded_ids(inv: &Inventory) -> Vec<(&'static str, RecordedIds)> {
    COMPONENTS
        .iter()
        .flat_map(|row| {
            let values: Vec<(&'static str, RecordedIds)> = match row.recorded {
                Recorded::Nowhere => Vec::new(),
                Recorded::Id(attribute, _, id) => vec![(attribute, RecordedIds::One(id(inv)))],
                Recorded::Ids(maps, ids) => {
                    let ids = ids(inv);
                    maps.iter()
                        .map(|&(attribute, prefix, _)| {
                            let entries = ids.iter().filter_map(|(key, id)| {
                                Some((key.strip_prefix(prefix)?.to_string(), id.clone()))
                            });
                            (attribute, RecordedIds::Map(entries.collect()))
                        })
                        .collect()
                }
            };
            values
        })
        .collect()
}

/// The kinds whose objects a listing finds (see [`Declaration::listing`]).
pub(super) fn listed_kinds() -> Vec<ListedKind> {
    COMPONENTS
        .iter()
        .filter_map(|row| match row.source {
            Source::Listed(listing) => Some(ListedKind {
                key: row.key,
                listing,
            }),
            Source::Read { .. } => None,
        })
        .collect()
}

impl Inventory {
    /// Describes everything of the environment (see
    /// [`Inventory::discover_listing`]), the kinds the table lists among it.
    pub async fn discover(
        clients: &AwsClients,
        names: &Names,
        lookup: Lookup<'_>,
    ) -> Result<Inventory, AwsError> {
        Inventory::discover_hinted(clients, names, lookup, &Hints::default()).await
    }

    /// [`Inventory::discover`] with what the state says (a refresh), so that
    /// fewer describes wait for others.
    pub async fn discover_hinted(
        clients: &AwsClients,
        names: &Names,
        lookup: Lookup<'_>,
        hints: &Hints,
    ) -> Result<Inventory, AwsError> {
        Inventory::discover_listing(clients, names, lookup, hints, &listed_kinds()).await
    }
}

fn listed_ids_by_key(inv: &Inventory, pattern: &str) -> Vec<(String, String)> {
    let listed = inv.objects_of(pattern);
    listed.map(|(key, f)| (key.clone(), f.id.clone())).collect()
}

fn listed_id(inv: &Inventory, key: &str) -> Option<String> {
    inv.object(key).map(|f| f.id.clone())
}

/// The IDs of the listed objects of the shape `pattern`, and of the strays
/// of their listing.
fn listed_ids(inv: &Inventory, pattern: &str, listing: &ec2::Listing) -> Vec<String> {
    let strays = inv.strays.ec2.listed.get(listing.operation);
    let strays = strays.into_iter().flat_map(|l| &l.objects);
    ids_of(inv.objects_of(pattern).map(|(_, f)| f).chain(strays))
}

fn listed_tagged<'a>(inv: &'a Inventory, pattern: &'a str) -> Vec<TaggedObject<'a>> {
    inv.objects_of(pattern)
        .map(|(key, f)| (key.clone(), &f.id, &f.tags))
        .collect()
}

fn id_of(found: &Option<Found>) -> Option<String> {
    found.as_ref().map(|f| f.id.clone())
}

fn keys<V>(map: &BTreeMap<String, V>) -> Vec<String> {
    map.keys().cloned().collect()
}

fn one<T>(found: &Option<T>, key: &str) -> Vec<String> {
    found.iter().map(|_| key.to_string()).collect()
}

/// What an environment consists of.
pub(super) const COMPONENTS: &[Declaration] = &[
    Declaration {
        kind: Kind::Vpc,
        key: "vpc",
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Id(
            "vpc_id",
            "ID of the VPC.",
            |inv| id_of(&inv.vpc),
        ),
        source: Source::Read {
            found: |_, inv| one(&inv.vpc, "vpc"),
            ids: |inv| ids_of(inv.vpc.iter().chain(&inv.strays.ec2.vpcs)),
            tagged: |_, inv| keyed_one(&inv.vpc, "vpc"),
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Vpc, |t| Box::pin(teardown::vpcs(t))),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::InternetGateway,
        key: "igw",
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Id(
            "internet_gateway_id",
            "ID of the internet gateway.",
            |inv| listed_id(inv, "igw"),
        ),
        source: Source::Listed(ec2::INTERNET_GATEWAYS),
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(teardown::internet_gateways(t))),
        renews: |_| &["internet_gateway_id"],
    },
    Declaration {
        kind: Kind::EgressOnlyInternetGateway,
        key: "eigw",
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Id(
            "egress_only_internet_gateway_id",
            "ID of the egress-only internet gateway that carries the private subnets' outbound IPv6 traffic (null without `ipv6`).",
            |inv| listed_id(inv, "eigw"),
        ),
        source: Source::Listed(ec2::EGRESS_ONLY_INTERNET_GATEWAYS),
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(super::ipv6::teardown(t))),
        renews: |_| &["egress_only_internet_gateway_id"],
    },
    Declaration {
        kind: Kind::Subnet,
        key: SUBNET_KEYS,
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Ids(
            &[
                (
                    "public_subnet_ids",
                    "subnet/public/",
                    "Public subnet IDs keyed by AZ name.",
                ),
                (
                    "private_subnet_ids",
                    "subnet/private/",
                    "Private subnet IDs keyed by AZ name.",
                ),
            ],
            |inv| listed_ids_by_key(inv, SUBNET_KEYS),
        ),
        source: Source::Listed(ec2::SUBNETS),
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Subnets, |t| Box::pin(teardown::subnets(t))),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::PublicRouteTable,
        key: "rtb/public",
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Nowhere,
        source: Source::Read {
            found: |_, inv| keys(&inv.route_tables),
            // every route table, as one step deletes them all
            ids: |inv| {
                let tables = inv
                    .route_tables
                    .values()
                    .chain(&inv.strays.ec2.route_tables);
                tables.map(|t| t.id.clone()).collect()
            },
            tagged: |_, inv| {
                let tables = inv.route_tables.iter();
                tables
                    .map(|(key, t)| (key.clone(), &t.id, &t.tags))
                    .collect()
            },
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(teardown::route_tables(t))),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::PrivateRouteTable,
        key: "rtb/private/*",
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Nowhere,
        source: Source::Read {
            found: |_, inv| keys(&inv.route_tables),
            // one step deletes every route table
            ids: |_| Vec::new(),
            tagged: |_, _| Vec::new(),
        },
        api: Api::Ec2,
        deletion: Deletion::By(Kind::PublicRouteTable),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::ElasticIp,
        key: "eip/*",
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        // `nat_public_ips` records their addresses, not their IDs
        recorded: Recorded::Nowhere,
        source: Source::Read {
            found: |_, inv| keys(&inv.addresses),
            ids: |inv| ids_of(inv.addresses.values().chain(&inv.strays.ec2.addresses)),
            tagged: |_, inv| keyed(&inv.addresses),
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(teardown::addresses(t))),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::NatGateway,
        key: NAT_GATEWAY_KEYS,
        family: Family::Network,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Ids(
            &[
                (
                    "nat_gateway_ids",
                    "nat/",
                    "NAT gateway IDs keyed by the AZ they stand in, or by `regional` for the regional NAT gateway.",
                ),
            ],
            |inv| listed_ids_by_key(inv, NAT_GATEWAY_KEYS),
        ),
        source: Source::Listed(ec2::NAT_GATEWAYS),
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Holders, |t| Box::pin(teardown::nat_gateways(t))),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::SecurityGroup,
        key: "sg/*",
        family: Family::Security,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Ids(
            &[
                (
                    "security_group_ids",
                    "sg/",
                    "Security group IDs keyed `alb`, `app`, (when the bastion is enabled) `bastion` and (with `instance_connect_endpoint`) `eice`.",
                ),
            ],
            |inv| {
                let groups = inv.security_groups.iter();
                groups.map(|(key, g)| (key.clone(), g.id.clone())).collect()
            },
        ),
        source: Source::Read {
            found: |_, inv| keys(&inv.security_groups),
            ids: |inv| {
                let groups = inv
                    .security_groups
                    .values()
                    .chain(&inv.strays.ec2.security_groups);
                groups.map(|g| g.id.clone()).collect()
            },
            tagged: |_, inv| {
                let groups = inv.security_groups.iter();
                groups
                    .map(|(key, g)| (key.clone(), &g.id, &g.tags))
                    .collect()
            },
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(teardown::security_groups(t))),
        // the template names the app group: a new group is a new version
        renews: |key| match key {
            "sg/app" => &["launch_template_version"],
            _ => &[],
        },
    },
    Declaration {
        kind: Kind::LaunchTemplate,
        key: "lt",
        family: Family::Compute,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Id(
            "launch_template_id",
            "ID of the app launch template.",
            |inv| id_of(&inv.launch_template),
        ),
        source: Source::Read {
            found: |_, inv| one(&inv.launch_template, "lt"),
            ids: |inv| {
                ids_of(
                    inv.launch_template
                        .iter()
                        .chain(&inv.strays.ec2.launch_templates),
                )
            },
            tagged: |_, inv| keyed_one(&inv.launch_template, "lt"),
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(teardown::launch_templates(t))),
        renews: |_| &["launch_template_id", "launch_template_version"],
    },
    Declaration {
        kind: Kind::AutoScalingGroup,
        key: "asg",
        family: Family::Compute,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Id(
            "autoscaling_group_name",
            "Name of the Auto Scaling Group.",
            |inv| inv.group.as_ref().map(|g| g.name.clone()),
        ),
        source: Source::Read {
            found: |_, inv| one(&inv.group, "asg"),
            ids: |inv| inv.group.iter().map(|g| g.name.clone()).collect(),
            tagged: |_, inv| {
                inv.group
                    .iter()
                    .map(|g| ("asg".to_string(), &g.name, &g.tags))
                    .collect()
            },
        },
        api: Api::AutoScaling,
        deletion: Deletion::Own(Wave::Holders, |t| {
            Box::pin(teardown::auto_scaling_groups(t))
        }),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::ScalingPolicy,
        key: "policy/cpu",
        family: Family::Compute,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Nowhere,
        source: Source::Read {
            found: |_, inv| one(&inv.cpu_policy, "policy/cpu"),
            ids: |_| Vec::new(),
            tagged: |_, _| Vec::new(),
        },
        api: Api::AutoScaling,
        deletion: Deletion::By(Kind::AutoScalingGroup),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::GatewayEndpoint,
        key: "vpce/*",
        family: Family::Endpoints,
        making: Making::InOrder,
        removal: Some(|run, inv, planned| Box::pin(run.remove_gateway_endpoints(inv, planned))),
        recorded: Recorded::Ids(
            &[
                (
                    "vpc_endpoint_ids",
                    "vpce/",
                    "Gateway endpoint IDs keyed by service (`s3`, `dynamodb`).",
                ),
            ],
            |inv| listed_ids_by_key(inv, "vpce/*"),
        ),
        source: Source::Listed(ec2::GATEWAY_ENDPOINTS),
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Holders, |t| Box::pin(teardown::gateway_endpoints(t))),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::FlowLog,
        key: "flowlog",
        family: Family::FlowLogs,
        making: Making::WithVpc(|run, inv, vpc| Box::pin(run.ensure_flow_log(inv, vpc))),
        removal: Some(|run, inv, planned| Box::pin(run.remove_flow_log(inv, planned))),
        recorded: Recorded::Id(
            "flow_log_id",
            "ID of the VPC's flow log (null without `flow_logs`).",
            |inv| id_of(&inv.flow_log),
        ),
        source: Source::Read {
            found: |_, inv| one(&inv.flow_log, "flowlog"),
            ids: |inv| ids_of(inv.flow_log.iter().chain(&inv.strays.ec2.flow_logs)),
            tagged: |_, inv| keyed_one(&inv.flow_log, "flowlog"),
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Holders, |t| Box::pin(teardown::flow_logs(t))),
        renews: |_| &["flow_log_id"],
    },
    Declaration {
        kind: Kind::LoadBalancer,
        key: "alb",
        family: Family::LoadBalancer,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Id(
            "alb_arn",
            "ARN of the Application Load Balancer.",
            |inv| inv.load_balancer.as_ref().map(|lb| lb.arn.clone()),
        ),
        source: Source::Read {
            found: |_, inv| one(&inv.load_balancer, "alb"),
            ids: |inv| {
                let balancers = inv.load_balancer.iter().chain(&inv.strays.load_balancers);
                balancers.map(|lb| lb.arn.clone()).collect()
            },
            tagged: |_, inv| {
                elb_tagged(
                    inv,
                    inv.load_balancer
                        .iter()
                        .map(|lb| ("alb".to_string(), &lb.arn)),
                )
            },
        },
        api: Api::Elb,
        deletion: Deletion::Own(Wave::Holders, |t| Box::pin(teardown::load_balancers(t))),
        renews: |_| &["alb_arn", "alb_dns_name", "listener_arns"],
    },
    Declaration {
        kind: Kind::TargetGroup,
        key: "tg",
        family: Family::LoadBalancer,
        making: Making::InOrder,
        removal: None,
        // `target_group_arn` is the group of the configured port, which the
        // inventory alone does not say (an import reads the port from it)
        recorded: Recorded::Nowhere,
        source: Source::Read {
            found: |spec, inv| one(&target_group_of(spec, inv), "tg"),
            ids: |inv| inv.target_groups.iter().map(|tg| tg.arn.clone()).collect(),
            tagged: |spec, inv| {
                elb_tagged(
                    inv,
                    target_group_of(spec, inv).map(|tg| ("tg".to_string(), &tg.arn)),
                )
            },
        },
        api: Api::Elb,
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(teardown::target_groups(t))),
        renews: |_| &["target_group_arn"],
    },
    Declaration {
        kind: Kind::Listener,
        key: "listener/*",
        family: Family::LoadBalancer,
        making: Making::InOrder,
        removal: None,
        recorded: Recorded::Ids(
            &[
                (
                    "listener_arns",
                    "listener/",
                    "Listener ARNs keyed by protocol (`http`, `https`).",
                ),
            ],
            |inv| {
                let listeners = inv.listeners.iter();
                listeners
                    .filter_map(|l| Some((listener_key(l.port)?, l.arn.clone())))
                    .collect()
            },
        ),
        source: Source::Read {
            // a listener on another port than 80 or 443 is not the environment's own
            found: |_, inv| {
                inv.listeners
                    .iter()
                    .filter_map(|l| listener_key(l.port))
                    .collect()
            },
            ids: |_| Vec::new(),
            tagged: |_, inv| {
                let listeners = inv.listeners.iter();
                elb_tagged(
                    inv,
                    listeners.filter_map(|l| Some((listener_key(l.port)?, &l.arn))),
                )
            },
        },
        api: Api::Elb,
        deletion: Deletion::By(Kind::LoadBalancer),
        renews: |_| &[],
    },
    Declaration {
        kind: Kind::Bastion,
        key: "bastion",
        family: Family::Bastion,
        making: Making::Placed(|run, at| Box::pin(run.ensure_bastion(at))),
        removal: None,
        recorded: Recorded::Id(
            "bastion_instance_id",
            "Instance ID of the bastion (null when disabled).",
            |inv| id_of(&inv.bastion),
        ),
        source: Source::Read {
            found: |_, inv| one(&inv.bastion, "bastion"),
            ids: |inv| ids_of(inv.bastion.iter().chain(&inv.strays.ec2.instances)),
            tagged: |_, inv| keyed_one(&inv.bastion, "bastion"),
        },
        api: Api::Ec2,
        deletion: Deletion::Own(Wave::Holders, |t| Box::pin(teardown::instances(t))),
        renews: |_| {
            &[
                "bastion_instance_id",
                "bastion_public_ip",
                "bastion_ipv6_address",
            ]
        },
    },
    Declaration {
        kind: Kind::InstanceConnectEndpoint,
        key: "eice",
        family: Family::InstanceConnect,
        making: Making::Placed(|run, at| Box::pin(run.ensure_instance_connect_endpoint(at))),
        removal: Some(|run, inv, planned| {
            Box::pin(run.remove_instance_connect_endpoint(inv, planned))
        }),
        recorded: Recorded::Id(
            "instance_connect_endpoint_id",
            "ID of the EC2 Instance Connect Endpoint (null without `instance_connect_endpoint`).",
            |inv| listed_id(inv, "eice"),
        ),
        source: Source::Listed(ec2::INSTANCE_CONNECT_ENDPOINTS),
        api: Api::Ec2,
        // it holds a network interface in a private subnet and uses sg/eice
        deletion: Deletion::Own(Wave::Holders, |t| {
            Box::pin(super::instance_connect::teardown(t))
        }),
        renews: |_| &["instance_connect_endpoint_id"],
    },
];

impl Declaration {
    /// Whether `key` is the key of a component of this kind.
    pub fn matches(&self, key: &str) -> bool {
        key_matches(self.key, key)
    }

    /// The keys of the components of this kind that the inventory holds.
    pub fn present(&self, spec: &EnvironmentSpec, inv: &Inventory) -> Vec<String> {
        match self.source {
            Source::Listed(_) => inv
                .objects_of(self.key)
                .map(|(key, _)| key.clone())
                .collect(),
            Source::Read { found, .. } => found(spec, inv)
                .into_iter()
                .filter(|key| self.matches(key))
                .collect(),
        }
    }

    /// The IDs (ARNs, names) of every object of this kind, duplicates
    /// included: what destroy deletes.
    pub fn ids(&self, inv: &Inventory) -> Vec<String> {
        match self.source {
            Source::Listed(listing) => listed_ids(inv, self.key, &listing),
            Source::Read { ids, .. } => ids(inv),
        }
    }

    /// Its objects that carry the environment's tags.
    fn tagged<'a>(&self, spec: &EnvironmentSpec, inv: &'a Inventory) -> Vec<TaggedObject<'a>> {
        match self.source {
            Source::Listed(_) => listed_tagged(inv, self.key),
            Source::Read { tagged, .. } => tagged(spec, inv),
        }
    }
}

/// The steps of the kinds made as soon as the VPC stands.
pub(super) fn steps_with_vpc() -> impl Iterator<Item = VpcStep> {
    COMPONENTS.iter().filter_map(|row| match row.making {
        Making::WithVpc(step) => Some(step),
        _ => None,
    })
}

/// The steps of the kinds made once the subnets and security groups stand.
pub(super) fn placed_steps() -> impl Iterator<Item = PlacedStep> {
    COMPONENTS.iter().filter_map(|row| match row.making {
        Making::Placed(step) => Some(step),
        _ => None,
    })
}

/// The steps that delete what of their kind the plan no longer has, in the
/// table's order.
pub(super) fn removals() -> impl Iterator<Item = RemoveStep> {
    COMPONENTS.iter().filter_map(|row| row.removal)
}

/// The deletion steps of a wave.
pub(super) fn steps_in(wave: Wave) -> impl Iterator<Item = Step> {
    COMPONENTS.iter().filter_map(move |row| match row.deletion {
        Deletion::Own(w, step) if w == wave => Some(step),
        _ => None,
    })
}

fn keyed(map: &BTreeMap<String, Found>) -> Vec<TaggedObject<'_>> {
    map.iter()
        .map(|(key, f)| (key.clone(), &f.id, &f.tags))
        .collect()
}

fn keyed_one<'a>(found: &'a Option<Found>, key: &str) -> Vec<TaggedObject<'a>> {
    found
        .iter()
        .map(|f| (key.to_string(), &f.id, &f.tags))
        .collect()
}

/// ELB objects keep their tags apart, by ARN.
fn elb_tagged<'a>(
    inv: &'a Inventory,
    objects: impl IntoIterator<Item = (String, &'a String)>,
) -> Vec<TaggedObject<'a>> {
    objects
        .into_iter()
        .filter_map(|(key, arn)| Some((key, arn, inv.elb_tags.get(arn)?)))
        .collect()
}

/// The objects of the environment that carry its tags, of the kinds whose
/// tags `apis` read and write.
pub(super) fn tagged_objects<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
    apis: &[Api],
) -> Vec<TaggedObject<'a>> {
    COMPONENTS
        .iter()
        .filter(|row| apis.contains(&row.api))
        .flat_map(|row| row.tagged(spec, inv))
        .collect()
}

fn ids_of<'a>(found: impl Iterator<Item = &'a Found>) -> Vec<String> {
    found.map(|f| f.id.clone()).collect()
}

/// The IDs of every object of the environment the inventory holds, for
/// destroy to delete and to name what is left.
pub fn object_ids(inv: &Inventory) -> Vec<String> {
    COMPONENTS.iter().flat_map(|row| row.ids(inv)).collect()
}

/// The row whose key pattern `key` matches.
fn row_of(key: &str) -> Option<&'static Declaration> {
    COMPONENTS.iter().find(|row| row.matches(key))
}

/// The computed attributes that get new values when the components `renewed`
/// (by key) are created or replaced.
pub fn renewed_outputs<'a>(
    renewed: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<&'static str> {
    renewed
        .into_iter()
        .filter_map(|key| Some((row_of(key)?.renews)(key)))
        .flatten()
        .copied()
        .collect()
}

/// The target tracking policy's settings, against the spec.
fn scaling_policy_drift(spec: &EnvironmentSpec, _: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let Some(policy) = &inv.cpu_policy else {
        return Vec::new();
    };
    let differences = policy.differences(spec.app.cpu_target);
    if differences.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        "policy/cpu",
        differences.join(", "),
        Repair::InPlace("restores it"),
    )]
}

/// Processes of the group suspended out of band.
fn suspended_processes_drift(_: &EnvironmentSpec, _: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    inv.group
        .iter()
        .filter(|g| !g.suspended.is_empty())
        .map(|group| {
            Finding::new(
                "asg",
                format!(
                    "has processes suspended ({}), so it does not launch, check or replace instances as it should",
                    group.suspended.join(", ")
                ),
                Repair::InPlace("resumes them"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::blueprint::{blueprint, tests::sample_spec, Component};
    use crate::plan::spec::{
        FlowLogDestination, FlowLogSpec, GatewayService, NatStrategy, TrafficType,
    };

    /// The row of a kind.
    fn declaration(kind: Kind) -> &'static Declaration {
        COMPONENTS
            .iter()
            .find(|d| d.kind == kind)
            .unwrap_or_else(|| panic!("{kind:?} has no row in the table of components"))
    }

    /// A spec that plans every kind of component there is.
    fn everything() -> Blueprint {
        let mut spec = sample_spec();
        spec.instance_connect_endpoint = true;
        spec.ipv6 = true;
        spec.nat = NatStrategy::OnePerAz;
        spec.load_balancer.certificate_arn =
            Some("arn:aws:acm:us-east-1:123456789012:certificate/x".into());
        spec.endpoints.services = [GatewayService::S3, GatewayService::DynamoDb].into();
        spec.flow_logs = Some(FlowLogSpec {
            destination: FlowLogDestination::S3 {
                arn: "arn:aws:s3:::logs".into(),
            },
            traffic_type: TrafficType::All,
            max_aggregation_interval: 600,
        });
        blueprint(&spec, &["us-east-1a".into(), "us-east-1b".into()]).unwrap()
    }

    #[test]
    fn every_kind_planned_has_one_row_and_every_row_is_planned() {
        let planned: BTreeSet<Kind> = everything()
            .components
            .iter()
            .map(Component::kind)
            .collect();
        for kind in &planned {
            let rows = COMPONENTS.iter().filter(|d| d.kind == *kind).count();
            assert_eq!(rows, 1, "{kind:?} has {rows} rows in the table");
        }
        let declared: BTreeSet<Kind> = COMPONENTS.iter().map(|d| d.kind).collect();
        assert_eq!(declared, planned, "rows for kinds no spec plans");
    }

    #[test]
    fn every_key_matches_the_row_of_its_kind_and_no_other() {
        for component in everything().components {
            let key = component.key();
            let matching: Vec<Kind> = COMPONENTS
                .iter()
                .filter(|d| d.matches(&key))
                .map(|d| d.kind)
                .collect();
            assert_eq!(matching, [component.kind()], "{key}");
        }
        let subnet = declaration(Kind::Subnet);
        assert!(!subnet.matches("subnet/public"));
        assert!(!subnet.matches("subnet/public/us-east-1a/x"));
        assert!(!subnet.matches("subnet//us-east-1a"));
    }

    #[test]
    fn every_kind_can_be_read_compared_and_deleted() {
        let empty = Inventory::default();
        let spec = sample_spec();
        for row in COMPONENTS {
            // read: nothing is found where nothing exists
            assert!(row.present(&spec, &empty).is_empty(), "{:?}", row.kind);
            assert!(row.ids(&empty).is_empty(), "{:?}", row.kind);
            // compared by its family's checks
            assert!(
                !row.family.checks().is_empty(),
                "{:?}: family {:?} compares nothing",
                row.kind,
                row.family
            );
            // deleted by a step of its own or with what deletes it
            if let Deletion::By(parent) = row.deletion {
                assert!(
                    matches!(declaration(parent).deletion, Deletion::Own(..)),
                    "{:?} goes with {parent:?}, which has no deletion of its own",
                    row.kind
                );
            }
        }
    }

    #[test]
    fn the_inventory_reads_back_each_kind_it_holds() {
        let spec = sample_spec();
        let inv = Inventory {
            route_tables: [
                ("rtb/public".to_string(), Default::default()),
                ("rtb/private/us-east-1a".to_string(), Default::default()),
            ]
            .into(),
            cpu_policy: Some(crate::aws::autoscaling::CpuPolicy {
                target: 50.0,
                metric: crate::aws::autoscaling::CpuPolicy::METRIC.into(),
                scale_in_disabled: false,
                enabled: true,
            }),
            ..Inventory::default()
        };
        assert_eq!(
            declaration(Kind::PublicRouteTable).present(&spec, &inv),
            ["rtb/public"]
        );
        assert_eq!(
            declaration(Kind::PrivateRouteTable).present(&spec, &inv),
            ["rtb/private/us-east-1a"]
        );
        assert_eq!(
            declaration(Kind::ScalingPolicy).present(&spec, &inv),
            ["policy/cpu"]
        );
    }

    #[test]
    fn a_renewed_component_turns_unknown_only_the_outputs_its_row_names() {
        let renewed: Vec<String> = ["sg/app", "sg/alb", "alb", "nat/us-east-1a", "unheard-of"]
            .map(String::from)
            .into();
        assert_eq!(
            renewed_outputs(&renewed),
            [
                "alb_arn",
                "alb_dns_name",
                "launch_template_version",
                "listener_arns"
            ]
            .into()
        );
        assert!(renewed_outputs(&["sg/bastion".to_string()]).is_empty());
    }

    #[test]
    fn destroy_sees_every_object_and_every_duplicate() {
        let found = |id: &str| Found {
            id: id.into(),
            ..Found::default()
        };
        let mut inv = Inventory {
            vpc: Some(found("vpc-1")),
            listed: [("subnet/public/us-east-1a".to_string(), found("subnet-1"))].into(),
            load_balancer: Some(crate::aws::elbv2::LoadBalancer {
                arn: "arn:alb".into(),
                ..Default::default()
            }),
            group: Some(crate::aws::autoscaling::Group {
                name: "shop-app".into(),
                ..Default::default()
            }),
            ..Inventory::default()
        };
        inv.strays.ec2.instances.push(found("i-copy"));
        // the kinds a listing finds: the keyed object and its listing's strays
        inv.listed.insert("vpce/s3".into(), found("vpce-1"));
        inv.listed.insert("eigw".into(), found("eigw-1"));
        for (listing, copy) in [
            (ec2::GATEWAY_ENDPOINTS, "vpce-copy"),
            (ec2::SUBNETS, "subnet-copy"),
        ] {
            let listed = ec2::Listed {
                noun: listing.noun,
                objects: vec![found(copy)],
            };
            inv.strays.ec2.listed.insert(listing.operation, listed);
        }
        let ids: BTreeSet<String> = object_ids(&inv).into_iter().collect();
        let expected = [
            "vpc-1",
            "subnet-1",
            "subnet-copy",
            "i-copy",
            "arn:alb",
            "shop-app",
            "vpce-1",
            "vpce-copy",
            "eigw-1",
        ];
        assert_eq!(ids, expected.map(String::from).into());
    }
}
