//! The rows of the table of components: what an environment consists of.

use std::collections::BTreeMap;

use super::*;

/// What an environment consists of.
pub(in crate::apply) const COMPONENTS: &[Declaration] = &[
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
        deletion: Deletion::Own(Wave::Held, |t| Box::pin(crate::apply::ipv6::teardown(t))),
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
            Box::pin(crate::apply::instance_connect::teardown(t))
        }),
        renews: |_| &["instance_connect_endpoint_id"],
    },
];

fn listed_ids_by_key(inv: &Inventory, pattern: &str) -> Vec<(String, String)> {
    let listed = inv.objects_of(pattern);
    listed.map(|(key, f)| (key.clone(), f.id.clone())).collect()
}

fn listed_id(inv: &Inventory, key: &str) -> Option<String> {
    inv.object(key).map(|f| f.id.clone())
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
