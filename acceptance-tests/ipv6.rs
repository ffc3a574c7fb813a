//! IPv6 dual-stack: turned on for a live IPv4 environment in place (every
//! IPv4 ID kept), an Amazon-provided /56 on the VPC and a /64 per subnet as
//! the state says, `::/0` to the internet gateway from the public subnets
//! and to an egress-only internet gateway from the private ones, a
//! dualstack load balancer open to the IPv6 blocks allowed; out-of-band
//! changes seen and repaired; imported; turned off in place; and nothing
//! left after destroy, also when created dual-stack from the start.

use std::collections::BTreeMap;

use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Live};

const ADDRESS: &str = "prodvpc_environment.dual";

fn config(ipv6: bool) -> String {
    let ssh_ipv6 = if ipv6 {
        "ssh_ingress_ipv6_cidrs = [\"2001:db8:1234::/48\"]"
    } else {
        ""
    };
    format!(
        r#"resource "prodvpc_environment" "dual" {{
  name         = "dual"
  nat_gateways = "single"
  ipv6         = {ipv6}
  app {{
    min_size = 1
    max_size = 1
  }}
  # written out: an import records the block (see the resource's Import section)
  load_balancer {{
    ingress_cidrs = ["0.0.0.0/0"]
  }}
  bastion {{
    ssh_ingress_cidrs = ["198.51.100.0/24"]
    {ssh_ipv6}
  }}
}}
"#
    )
}

/// What AWS holds of the environment's IPv6, read through the model.
#[derive(Debug, PartialEq)]
struct Seen {
    /// the VPC's associated block
    vpc_block: Option<String>,
    /// subnet ID -> (associated block, assigns IPv6 on launch)
    subnets: BTreeMap<String, (Option<String>, bool)>,
    /// route table ID -> where `::/0` goes
    routes: BTreeMap<String, Option<String>>,
    /// egress-only internet gateways attached to the VPC
    egress_only: Vec<String>,
    load_balancer_type: String,
}

fn seen(aws: &Api, vpc: &str) -> Seen {
    runtime().block_on(async {
        let by_vpc = || {
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build()
        };
        let associated = |state: Option<&str>| state == Some("associated");
        let vpcs = aws.ec2.describe_vpcs().vpc_ids(vpc).send().await.unwrap();
        let vpc_block = vpcs.vpcs()[0]
            .ipv6_cidr_block_association_set()
            .iter()
            .find(|a| {
                associated(
                    a.ipv6_cidr_block_state()
                        .and_then(|s| s.state())
                        .map(|s| s.as_str()),
                )
            })
            .and_then(|a| a.ipv6_cidr_block().map(str::to_string));
        let subnets = aws
            .ec2
            .describe_subnets()
            .filters(by_vpc())
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .map(|s| {
                let block = s
                    .ipv6_cidr_block_association_set()
                    .iter()
                    .find(|a| {
                        associated(
                            a.ipv6_cidr_block_state()
                                .and_then(|s| s.state())
                                .map(|s| s.as_str()),
                        )
                    })
                    .and_then(|a| a.ipv6_cidr_block().map(str::to_string));
                (
                    s.subnet_id().unwrap().to_string(),
                    (block, s.assign_ipv6_address_on_creation().unwrap_or(false)),
                )
            })
            .collect();
        let routes = aws
            .ec2
            .describe_route_tables()
            .filters(by_vpc())
            .send()
            .await
            .unwrap()
            .route_tables()
            .iter()
            .map(|t| {
                let to = t
                    .routes()
                    .iter()
                    .find(|r| r.destination_ipv6_cidr_block() == Some("::/0"))
                    .and_then(|r| r.egress_only_internet_gateway_id().or(r.gateway_id()))
                    .map(str::to_string);
                (t.route_table_id().unwrap().to_string(), to)
            })
            .collect();
        let egress_only = aws
            .ec2
            .describe_egress_only_internet_gateways()
            .send()
            .await
            .unwrap()
            .egress_only_internet_gateways()
            .iter()
            .filter(|g| g.attachments().iter().any(|a| a.vpc_id() == Some(vpc)))
            .map(|g| g.egress_only_internet_gateway_id().unwrap().to_string())
            .collect();
        let balancers = aws.elbv2.describe_load_balancers().send().await.unwrap();
        let load_balancer_type = balancers
            .load_balancers()
            .iter()
            .find(|lb| lb.vpc_id() == Some(vpc))
            .and_then(|lb| lb.ip_address_type())
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        Seen {
            vpc_block,
            subnets,
            routes,
            egress_only,
            load_balancer_type,
        }
    })
}

/// The IDs that must survive turning IPv6 on or off.
fn ipv4_ids(state: &serde_json::Value) -> Vec<serde_json::Value> {
    [
        "vpc_id",
        "public_subnet_ids",
        "private_subnet_ids",
        "internet_gateway_id",
        "nat_gateway_ids",
        "alb_arn",
        "security_group_ids",
        "bastion_instance_id",
        "autoscaling_group_name",
    ]
    .iter()
    .map(|key| state[*key].clone())
    .collect()
}

/// AWS holds what the state says of a dual-stack environment.
fn assert_dual_stack(live: &Live, operator: &Api) {
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap();
    let aws = seen(operator, vpc);
    let vpc_block = state["vpc_ipv6_cidr"].as_str().unwrap();
    assert!(vpc_block.ends_with("/56"), "{vpc_block}");
    assert_eq!(aws.vpc_block.as_deref(), Some(vpc_block));
    let eigw = state["egress_only_internet_gateway_id"].as_str().unwrap();
    assert_eq!(aws.egress_only, vec![eigw.to_string()]);
    assert_eq!(aws.load_balancer_type, "dualstack");
    for (ids, blocks) in [
        ("public_subnet_ids", "public_subnet_ipv6_cidrs"),
        ("private_subnet_ids", "private_subnet_ipv6_cidrs"),
    ] {
        let ids = string_map(&state[ids]);
        let blocks = string_map(&state[blocks]);
        assert_eq!(ids.len(), blocks.len(), "{blocks:?}");
        for (zone, id) in ids {
            let block = blocks[&zone].clone();
            assert!(block.ends_with("/64"), "{block}");
            assert_eq!(aws.subnets[&id], (Some(block), true), "{zone}");
        }
    }
    let igw = state["internet_gateway_id"].as_str().unwrap();
    let mut targets: Vec<Option<String>> = aws.routes.into_values().collect();
    targets.sort();
    // the VPC's own main table routes nothing; the public table goes to the
    // internet gateway, each private one to the egress-only gateway
    let private = string_map(&state["private_subnet_ids"]).len();
    let mut expected = vec![None, Some(igw.to_string())];
    expected.extend(std::iter::repeat_n(Some(eigw.to_string()), private));
    expected.sort();
    assert_eq!(targets, expected);
    // the bastion has an address of its public subnet's /64, which the
    // IPv6 blocks allowed SSH reach
    let bastion_address: std::net::Ipv6Addr = state["bastion_ipv6_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let public_blocks = string_map(&state["public_subnet_ipv6_cidrs"]);
    assert!(
        public_blocks.values().any(|block| {
            let (network, _) = block.split_once('/').unwrap();
            let network: std::net::Ipv6Addr = network.parse().unwrap();
            network.segments()[..4] == bastion_address.segments()[..4]
        }),
        "{bastion_address} in none of {public_blocks:?}"
    );
    let groups = string_map(&state["security_group_ids"]);
    let alb = runtime().block_on(operator.ingress(&groups["alb"]));
    assert!(alb.iter().any(|r| r.contains("::/0")), "{alb:?}");
    let bastion = runtime().block_on(operator.ingress(&groups["bastion"]));
    assert!(
        bastion.iter().any(|r| r.contains("2001:db8:1234::/48")),
        "{bastion:?}"
    );
}

#[test]
fn ipv6_is_turned_on_in_place_kept_repaired_imported_turned_off_and_destroyed() {
    let live = Live::apply(&config(false), ADDRESS, |_| {});
    live.ws.assert_no_changes("after the IPv4 apply");
    let operator = Api::operator(&live.layer.endpoint());
    let before = live.state();
    assert!(before["vpc_ipv6_cidr"].is_null());
    assert!(before["egress_only_internet_gateway_id"].is_null());

    // on, in place: a warning says what changes, every IPv4 ID stays
    live.ws.write(&config(true));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("The environment will become dual-stack")
            && plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after turning IPv6 on");
    assert_eq!(ipv4_ids(&live.state()), ipv4_ids(&before));
    assert_dual_stack(&live, &operator);

    // out of band: a private table's ::/0 route removed and the load
    // balancer made IPv4-only; each is drift, and apply restores it
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let eigw = state["egress_only_internet_gateway_id"]
        .as_str()
        .unwrap()
        .to_string();
    let aws = seen(&operator, &vpc);
    let private_table = aws
        .routes
        .iter()
        .find(|(_, to)| to.as_deref() == Some(eigw.as_str()))
        .map(|(table, _)| table.clone())
        .unwrap();
    runtime().block_on(async {
        operator
            .ec2
            .delete_route()
            .route_table_id(&private_table)
            .destination_ipv6_cidr_block("::/0")
            .send()
            .await
            .unwrap();
    });
    live.repair("has no ::/0 route to the egress-only internet gateway");
    runtime().block_on(async {
        operator
            .elbv2
            .set_ip_address_type()
            .load_balancer_arn(state["alb_arn"].as_str().unwrap())
            .ip_address_type(aws_sdk_elasticloadbalancingv2::types::IpAddressType::Ipv4)
            .send()
            .await
            .unwrap();
    });
    live.repair("alb has IP address type ipv4 instead of dualstack");
    // the egress-only gateway deleted: made again, and the routes follow it
    runtime().block_on(async {
        operator
            .ec2
            .delete_egress_only_internet_gateway()
            .egress_only_internet_gateway_id(&eigw)
            .send()
            .await
            .unwrap();
    });
    live.repair("eigw is missing; apply creates it");
    assert_ne!(
        live.state()["egress_only_internet_gateway_id"].as_str(),
        Some(eigw.as_str())
    );
    assert_dual_stack(&live, &operator);

    // imported: the switch and the IPv6 blocks allowed in are read back
    let imported = Workspace::new(Some(live.layer.endpoint()));
    imported.write(&config(true));
    imported.ok(&["import", "-no-color", ADDRESS, "dual"]);
    let read = imported.resource_values(ADDRESS);
    assert_eq!(read["ipv6"], serde_json::json!(true));
    assert_eq!(read["vpc_ipv6_cidr"], live.state()["vpc_ipv6_cidr"]);
    imported.assert_no_changes("after the import");

    // off, in place: a warning says what IPv6 clients lose; nothing of IPv6 is left
    live.ws.write(&config(false));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("IPv6 will be removed from the environment")
            && plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after turning IPv6 off");
    assert_eq!(ipv4_ids(&live.state()), ipv4_ids(&before));
    let aws = seen(&operator, &vpc);
    assert_eq!(aws.vpc_block, None);
    assert!(aws.egress_only.is_empty());
    assert_eq!(aws.load_balancer_type, "ipv4");
    assert!(aws.subnets.values().all(|s| *s == (None, false)), "{aws:?}");
    assert!(aws.routes.values().all(Option::is_none), "{aws:?}");
    assert!(live.state()["bastion_ipv6_address"].is_null());

    // on again (AWS gives another /56), then destroyed: nothing is left
    live.ws.write(&config(true));
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after turning IPv6 on again");
    assert_dual_stack(&live, &operator);
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        crate::lifecycle::leftovers(&live.api, "dual"),
        Vec::<String>::new()
    );
}

#[test]
fn a_dual_stack_environment_is_created_in_one_apply_and_destroyed() {
    let hcl = config(true).replace("nat_gateways = \"single\"", "nat_gateways = \"none\"");
    let live = Live::apply(&hcl, ADDRESS, |_| {});
    live.ws.assert_no_changes("after the apply");
    let operator = Api::operator(&live.layer.endpoint());
    assert_dual_stack(&live, &operator);
    // an IPv6 block for SSH refused at plan when it is the whole internet
    live.ws.write(&hcl.replace("2001:db8:1234::/48", "::/0"));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.code != 0 && plan.stderr.contains("SSH open to the whole internet"),
        "{}",
        plan.text()
    );
    live.ws.write(&hcl);
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        crate::lifecycle::leftovers(&live.api, "dual"),
        Vec::<String>::new()
    );
}

#[test]
fn a_zone_added_to_a_dual_stack_environment_takes_its_blocks_from_the_plan() {
    let hcl = |zones: u32| {
        format!(
            r#"resource "prodvpc_environment" "dual" {{
  name                      = "dual"
  az_count                  = {zones}
  nat_gateways              = "regional"
  ipv6                      = true
  instance_connect_endpoint = true
  app {{
    min_size = 1
    max_size = 2
  }}
  bastion {{
    enabled = false
  }}
}}
"#
        )
    };
    let live = Live::apply(&hcl(2), ADDRESS, |_| {});
    live.ws.assert_no_changes("after the apply");
    let before = live.state();
    // a third zone: its /64s are known at plan, the others' are kept
    live.ws.write(&hcl(3));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    for map in ["public_subnet_ipv6_cidrs", "private_subnet_ipv6_cidrs"] {
        // the new zone's block in the plan, the kept ones unchanged
        let section = &plan.stdout[plan.stdout.find(map).unwrap()..];
        let section = &section[..section.find('}').unwrap()];
        assert!(
            section.contains("+ \"us-east-1c\" = \"")
                && section.contains("::/64\"")
                && section.contains("(2 unchanged elements hidden)"),
            "{section}"
        );
    }
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after adding a zone");
    let after = live.state();
    assert_eq!(string_map(&after["public_subnet_ipv6_cidrs"]).len(), 3);
    for kept in ["public_subnet_ipv6_cidrs", "private_subnet_ipv6_cidrs"] {
        let now = string_map(&after[kept]);
        for (zone, block) in string_map(&before[kept]) {
            assert_eq!(now[&zone], block, "{kept} of {zone} moved");
        }
    }
    let operator = Api::operator(&live.layer.endpoint());
    let aws = seen(&operator, after["vpc_id"].as_str().unwrap());
    assert_eq!(aws.load_balancer_type, "dualstack");
    assert!(aws
        .subnets
        .values()
        .all(|(block, assigns)| block.is_some() && *assigns));
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        crate::lifecycle::leftovers(&live.api, "dual"),
        Vec::<String>::new()
    );
}
