//! The model's IPv6 dual-stack: association states, subnet block checks, the
//! default network ACL's IPv6 rules, and the refusals AWS gives when IPv6 is
//! turned on or off in the wrong order.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, RuleAction};
use aws_sdk_elasticloadbalancingv2::types::IpAddressType;

use super::{code, message, modelled, network, quiet, reaches, scaled, Modelled};
use crate::harness::{runtime, Api};

/// AWS's IPv6 association time (the model's estimate), in seconds.
const ASSOCIATING: f64 = 5.0;

async fn vpc(aws: &Api, cidr: &str) -> String {
    let out = aws.ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
    out.vpc.unwrap().vpc_id.unwrap()
}

/// Associates an Amazon-provided /56 with `vpc`: (association ID, block, answered state).
async fn associate_vpc_block(aws: &Api, vpc: &str) -> (String, String, String) {
    let out = aws
        .ec2
        .associate_vpc_cidr_block()
        .vpc_id(vpc)
        .amazon_provided_ipv6_cidr_block(true)
        .send()
        .await
        .unwrap();
    let association = out.ipv6_cidr_block_association.unwrap();
    let state = association.ipv6_cidr_block_state.unwrap().state.unwrap();
    (
        association.association_id.unwrap(),
        association.ipv6_cidr_block.unwrap(),
        state.as_str().to_string(),
    )
}

async fn vpc_block_state(aws: &Api, vpc: &str) -> String {
    let out = aws.ec2.describe_vpcs().vpc_ids(vpc).send().await.unwrap();
    let association = &out.vpcs()[0].ipv6_cidr_block_association_set()[0];
    let state = association
        .ipv6_cidr_block_state()
        .unwrap()
        .state()
        .unwrap();
    state.as_str().to_string()
}

/// The states of a subnet's IPv6 blocks.
async fn subnet_block_states(aws: &Api, subnet: &str) -> Vec<String> {
    let out = aws
        .ec2
        .describe_subnets()
        .subnet_ids(subnet)
        .send()
        .await
        .unwrap();
    out.subnets()[0]
        .ipv6_cidr_block_association_set()
        .iter()
        .map(|a| {
            let state = a.ipv6_cidr_block_state().unwrap().state().unwrap();
            state.as_str().to_string()
        })
        .collect()
}

/// The `index`th /64 of a /56.
fn slash64(block: &str, index: u32) -> String {
    let network: std::net::Ipv6Addr = block.split('/').next().unwrap().parse().unwrap();
    let network = u128::from(network) + (u128::from(index) << 64);
    format!("{}/64", std::net::Ipv6Addr::from(network))
}

/// The error code of AssociateSubnetCidrBlock, and its association ID when it succeeded.
async fn associate_subnet_block(aws: &Api, subnet: &str, block: &str) -> (String, String) {
    let out = aws
        .ec2
        .associate_subnet_cidr_block()
        .subnet_id(subnet)
        .ipv6_cidr_block(block)
        .send()
        .await;
    let id = out
        .as_ref()
        .ok()
        .and_then(|o| o.ipv6_cidr_block_association())
        .and_then(|a| a.association_id())
        .unwrap_or_default()
        .to_string();
    (code(&out), id)
}

/// The local route of `block` in the VPC's main route table, if it is there.
async fn local_route(aws: &Api, vpc: &str, block: &str) -> bool {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .unwrap();
    out.route_tables()
        .iter()
        .flat_map(|t| t.routes())
        .any(|r| r.destination_ipv6_cidr_block() == Some(block) && r.gateway_id() == Some("local"))
}

/// The default network ACL's IPv6 rules: (rule number, egress, allow).
async fn default_acl_ipv6_rules(aws: &Api, vpc: &str) -> Vec<(i32, bool, bool)> {
    let out = aws
        .ec2
        .describe_network_acls()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("default").values("true").build())
        .send()
        .await
        .unwrap();
    let mut rules: Vec<_> = out.network_acls()[0]
        .entries()
        .iter()
        .filter(|e| e.ipv6_cidr_block() == Some("::/0") && e.protocol() == Some("-1"))
        .map(|e| {
            (
                e.rule_number().unwrap(),
                e.egress().unwrap(),
                e.rule_action() == Some(&RuleAction::Allow),
            )
        })
        .collect();
    rules.sort();
    rules
}

#[test]
fn a_vpc_ipv6_block_is_associating_then_associated_and_opens_the_default_acl_to_ipv6() {
    let scale = 0.2;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let started = Instant::now();
        let (_, block, answered) = associate_vpc_block(&m.aws, &net.vpc).await;
        assert_eq!(answered, "associating");
        assert_eq!(vpc_block_state(&m.aws, &net.vpc).await, "associating");
        // no subnet block comes from it, and no local route leads to it, yet
        let (refused, _) =
            associate_subnet_block(&m.aws, &net.subnets[0], &slash64(&block, 1)).await;
        assert_eq!(refused, "InvalidSubnet.Range");
        assert!(!local_route(&m.aws, &net.vpc, &block).await);
        reaches(
            started,
            scaled(ASSOCIATING, scale),
            "associated",
            || async { vpc_block_state(&m.aws, &net.vpc).await == "associated" },
        )
        .await;
        assert!(local_route(&m.aws, &net.vpc, &block).await);
        // rule 101 allows all IPv6 each way; the `*` rule (32768) denies the rest
        assert_eq!(
            default_acl_ipv6_rules(&m.aws, &net.vpc).await,
            vec![
                (101, false, true),
                (101, true, true),
                (32768, false, false),
                (32768, true, false)
            ]
        );
    });
}

#[test]
fn a_modified_default_acl_direction_gets_no_ipv6_allow_rule() {
    let m = modelled(quiet(1e-3));
    runtime().block_on(async {
        let vpc = vpc(&m.aws, "10.0.0.0/16").await;
        let acls = m
            .aws
            .ec2
            .describe_network_acls()
            .filters(Filter::builder().name("vpc-id").values(&vpc).build())
            .send()
            .await
            .unwrap();
        let acl = acls.network_acls()[0].network_acl_id().unwrap().to_string();
        m.aws
            .ec2
            .create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(90)
            .protocol("6")
            .rule_action(RuleAction::Deny)
            .egress(false)
            .cidr_block("203.0.113.0/24")
            .port_range(
                aws_sdk_ec2::types::PortRange::builder()
                    .from(22)
                    .to(22)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        associate_vpc_block(&m.aws, &vpc).await;
        assert_eq!(
            default_acl_ipv6_rules(&m.aws, &vpc).await,
            vec![
                (101, true, true),
                (32768, false, false),
                (32768, true, false)
            ]
        );
    });
}

/// A VPC whose IPv6 block is associated: (VPC, its subnets, the block, its association).
async fn dual_stack(m: &Modelled) -> (String, Vec<String>, String, String) {
    let net = network(&m.aws).await;
    let (association, block, _) = associate_vpc_block(&m.aws, &net.vpc).await;
    reaches(Instant::now(), Duration::ZERO, "associated", || async {
        vpc_block_state(&m.aws, &net.vpc).await == "associated"
    })
    .await;
    (net.vpc, net.subnets, block, association)
}

#[test]
fn a_subnet_block_is_one_slash_64_of_the_vpc_block_that_no_other_subnet_has() {
    let scale = 0.1;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let (_, subnets, block, _) = dual_stack(&m).await;
        let (wider, _) =
            associate_subnet_block(&m.aws, &subnets[0], &block.replace("/56", "/60")).await;
        assert_eq!(wider, "InvalidParameterValue");
        let (outside, _) = associate_subnet_block(&m.aws, &subnets[0], "2001:db8::/64").await;
        assert_eq!(outside, "InvalidSubnet.Range");

        let started = Instant::now();
        let out = m
            .aws
            .ec2
            .associate_subnet_cidr_block()
            .subnet_id(&subnets[0])
            .ipv6_cidr_block(slash64(&block, 1))
            .send()
            .await
            .unwrap();
        let state = out
            .ipv6_cidr_block_association()
            .unwrap()
            .ipv6_cidr_block_state();
        assert_eq!(state.unwrap().state().unwrap().as_str(), "associating");
        assert_eq!(
            subnet_block_states(&m.aws, &subnets[0]).await,
            ["associating"]
        );
        // the state AWS names, not moto's rendering of a Python dict
        reaches(
            started,
            scaled(ASSOCIATING, scale),
            "subnet block associated",
            || async { subnet_block_states(&m.aws, &subnets[0]).await == ["associated"] },
        )
        .await;

        let (second, _) = associate_subnet_block(&m.aws, &subnets[0], &slash64(&block, 2)).await;
        assert_eq!(second, "InvalidParameterValue");
        let taken = associate_subnet_block(&m.aws, &subnets[1], &slash64(&block, 1)).await;
        assert_eq!(taken.0, "InvalidSubnet.Conflict");
        let (free, _) = associate_subnet_block(&m.aws, &subnets[1], &slash64(&block, 2)).await;
        assert_eq!(free, "");
    });
}

#[test]
fn ipv6_is_turned_off_subnet_by_subnet_before_the_vpc_block_goes() {
    let scale = 0.1;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let (vpc, subnets, block, vpc_association) = dual_stack(&m).await;
        let assign = |subnet: String, on: bool| {
            let ec2 = m.aws.ec2.clone();
            async move {
                let value = aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(on)
                    .build();
                let out = ec2
                    .modify_subnet_attribute()
                    .subnet_id(subnet)
                    .assign_ipv6_address_on_creation(value)
                    .send()
                    .await;
                (code(&out), message(&out))
            }
        };
        let (refused, why) = assign(subnets[0].clone(), true).await;
        assert_eq!(refused, "InvalidParameterValue");
        assert!(
            why.contains("has an IPv6 CIDR block associated with it"),
            "{why}"
        );

        let (_, association) =
            associate_subnet_block(&m.aws, &subnets[0], &slash64(&block, 0)).await;
        assert_eq!(assign(subnets[0].clone(), true).await.0, "");
        let disassociate_subnet = || async {
            m.aws
                .ec2
                .disassociate_subnet_cidr_block()
                .association_id(&association)
                .send()
                .await
        };
        assert_eq!(code(&disassociate_subnet().await), "InvalidCidrBlock.InUse");
        let disassociate_vpc = || async {
            m.aws
                .ec2
                .disassociate_vpc_cidr_block()
                .association_id(&vpc_association)
                .send()
                .await
        };
        let in_use = disassociate_vpc().await;
        assert_eq!(code(&in_use), "InvalidCidrBlock.InUse");
        assert!(message(&in_use).contains(&block), "{}", message(&in_use));

        assert_eq!(assign(subnets[0].clone(), false).await.0, "");
        let out = disassociate_subnet().await.unwrap();
        let state = out
            .ipv6_cidr_block_association()
            .unwrap()
            .ipv6_cidr_block_state();
        assert_eq!(state.unwrap().state().unwrap().as_str(), "disassociating");

        let started = Instant::now();
        disassociate_vpc().await.unwrap();
        assert_eq!(vpc_block_state(&m.aws, &vpc).await, "disassociating");
        reaches(started, scaled(5.0, scale), "disassociated", || async {
            vpc_block_state(&m.aws, &vpc).await == "disassociated"
        })
        .await;
        assert!(!local_route(&m.aws, &vpc, &block).await);
    });
}

#[test]
fn egress_only_gateways_are_filtered_by_tags_only_and_hold_their_vpc() {
    let m = modelled(quiet(1e-3));
    runtime().block_on(async {
        let vpc = vpc(&m.aws, "10.0.0.0/16").await;
        let gateway = m
            .aws
            .ec2
            .create_egress_only_internet_gateway()
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .egress_only_internet_gateway
            .unwrap()
            .egress_only_internet_gateway_id
            .unwrap();
        let by = |name: &str| {
            m.aws
                .ec2
                .describe_egress_only_internet_gateways()
                .filters(Filter::builder().name(name).values(&vpc).build())
                .send()
        };
        let refused = by("attachment.vpc-id").await;
        assert_eq!(code(&refused), "InvalidParameterValue");
        assert_eq!(
            message(&refused),
            "The filter 'attachment.vpc-id' is invalid"
        );
        assert_eq!(code(&by("tag-key").await), "");
        assert_eq!(code(&by("tag:Name").await), "");

        let delete_vpc = || async { code(&m.aws.ec2.delete_vpc().vpc_id(&vpc).send().await) };
        assert_eq!(delete_vpc().await, "DependencyViolation");
        m.aws
            .ec2
            .delete_egress_only_internet_gateway()
            .egress_only_internet_gateway_id(&gateway)
            .send()
            .await
            .unwrap();
        assert_eq!(delete_vpc().await, "");
    });
}

#[test]
fn a_dualstack_load_balancer_needs_an_associated_ipv6_block_in_each_subnet() {
    let scale = 0.1;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let (_, subnets, block, _) = dual_stack(&m).await;
        let create = |name: &str, kind: IpAddressType| {
            m.aws
                .elbv2
                .create_load_balancer()
                .name(name)
                .set_subnets(Some(subnets.clone()))
                .ip_address_type(kind)
                .send()
        };
        let refused = create("dual", IpAddressType::Dualstack).await;
        assert_eq!(code(&refused), "ValidationError");
        assert_eq!(
            message(&refused),
            "You must specify subnets with an associated IPv6 CIDR block."
        );
        let arn = create("app", IpAddressType::Ipv4)
            .await
            .unwrap()
            .load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string();
        let set_dualstack = || async {
            code(
                &m.aws
                    .elbv2
                    .set_ip_address_type()
                    .load_balancer_arn(&arn)
                    .ip_address_type(IpAddressType::Dualstack)
                    .send()
                    .await,
            )
        };
        associate_subnet_block(&m.aws, &subnets[0], &slash64(&block, 0)).await;
        assert_eq!(set_dualstack().await, "ValidationError");
        associate_subnet_block(&m.aws, &subnets[1], &slash64(&block, 1)).await;
        // still associating
        assert_eq!(set_dualstack().await, "ValidationError");
        let started = Instant::now();
        reaches(started, Duration::ZERO, "dualstack", || async {
            set_dualstack().await.is_empty()
        })
        .await;
    });
}

/// The primary network interface of instance `id` and its IPv6 addresses, as
/// DescribeInstances reports them.
async fn primary_interface(aws: &Api, id: &str) -> (String, Vec<String>) {
    let out = aws
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    let instance = &out.reservations()[0].instances()[0];
    interface_addresses(instance)
}

fn interface_addresses(instance: &aws_sdk_ec2::types::Instance) -> (String, Vec<String>) {
    let primary = instance
        .network_interfaces()
        .iter()
        .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
        .expect("a primary network interface");
    (
        primary.network_interface_id().unwrap().to_string(),
        primary
            .ipv6_addresses()
            .iter()
            .filter_map(|a| a.ipv6_address().map(str::to_string))
            .collect(),
    )
}

/// Whether IPv6 `address` is inside `block`.
fn in_block(address: &str, block: &str) -> bool {
    let (network, length) = block.split_once('/').unwrap();
    let network = u128::from(network.parse::<std::net::Ipv6Addr>().unwrap());
    let address = u128::from(address.parse::<std::net::Ipv6Addr>().unwrap());
    let mask = u128::MAX << (128 - length.parse::<u32>().unwrap());
    address & mask == network & mask
}

#[test]
fn an_instance_launched_into_a_subnet_that_assigns_ipv6_gets_one_address_from_its_block() {
    let m = modelled(quiet(1e-3));
    runtime().block_on(async {
        let (_, subnets, block, _) = dual_stack(&m).await;
        let assigning = slash64(&block, 0);
        assert_eq!(
            associate_subnet_block(&m.aws, &subnets[0], &assigning)
                .await
                .0,
            ""
        );
        // the other subnet has a block but does not assign from it
        assert_eq!(
            associate_subnet_block(&m.aws, &subnets[1], &slash64(&block, 1))
                .await
                .0,
            ""
        );
        m.aws
            .ec2
            .modify_subnet_attribute()
            .subnet_id(&subnets[0])
            .assign_ipv6_address_on_creation(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let run = |subnet: String, count: Option<i32>| {
            let ec2 = m.aws.ec2.clone();
            async move {
                let out = ec2
                    .run_instances()
                    .image_id("ami-12c6146b")
                    .min_count(1)
                    .max_count(1)
                    .subnet_id(subnet)
                    .set_ipv6_address_count(count)
                    .send()
                    .await
                    .unwrap();
                let instance = &out.instances()[0];
                let (_, answered) = interface_addresses(instance);
                (instance.instance_id().unwrap().to_string(), answered)
            }
        };

        // one address from the subnet's /64, in the launch's answer and after
        let (id, answered) = run(subnets[0].clone(), None).await;
        assert_eq!(answered.len(), 1, "{answered:?}");
        assert!(in_block(&answered[0], &assigning), "{answered:?}");
        let (interface, described) = primary_interface(&m.aws, &id).await;
        assert_eq!(described, answered);
        let (_, again) = primary_interface(&m.aws, &id).await;
        assert_eq!(again, answered, "assigned once");

        // none where the subnet does not assign
        let (plain, none) = run(subnets[1].clone(), None).await;
        assert!(none.is_empty(), "{none:?}");
        assert!(primary_interface(&m.aws, &plain).await.1.is_empty());

        // a launch that asks for addresses gets those only
        let (asked, two) = run(subnets[0].clone(), Some(2)).await;
        assert_eq!(two.len(), 2, "{two:?}");
        assert_eq!(primary_interface(&m.aws, &asked).await.1.len(), 2);

        // UnassignIpv6Addresses takes the launch's address away again
        let out = m
            .aws
            .ec2
            .unassign_ipv6_addresses()
            .network_interface_id(&interface)
            .ipv6_addresses(&answered[0])
            .send()
            .await
            .unwrap();
        assert_eq!(out.unassigned_ipv6_addresses(), answered.as_slice());
        assert!(primary_interface(&m.aws, &id).await.1.is_empty());

        // a group's member launched there gets one as well
        let template = super::launch_template(&m.aws, "ami-12c6146b").await;
        m.aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name("app")
            .min_size(1)
            .max_size(1)
            .desired_capacity(1)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(template)
                    .version("$Latest")
                    .build(),
            )
            .vpc_zone_identifier(&subnets[0])
            .send()
            .await
            .unwrap();
        let groups = m
            .aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("app")
            .send()
            .await
            .unwrap();
        let member = groups.auto_scaling_groups()[0].instances()[0]
            .instance_id()
            .unwrap()
            .to_string();
        let (_, member_addresses) = primary_interface(&m.aws, &member).await;
        assert_eq!(member_addresses.len(), 1, "{member_addresses:?}");
        assert!(in_block(&member_addresses[0], &assigning));
    });
}

#[test]
fn an_address_assigned_by_count_comes_from_the_block_the_subnet_has_now() {
    let m = modelled(quiet(1e-3));
    runtime().block_on(async {
        let (_, subnets, block, _) = dual_stack(&m).await;
        let first = slash64(&block, 0);
        let (code, association) = associate_subnet_block(&m.aws, &subnets[0], &first).await;
        assert_eq!(code, "");
        let out = m
            .aws
            .ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .min_count(1)
            .max_count(1)
            .subnet_id(&subnets[0])
            .send()
            .await
            .unwrap();
        let id = out.instances()[0].instance_id().unwrap().to_string();
        let (interface, _) = primary_interface(&m.aws, &id).await;
        // the subnet's block replaced by another of the VPC's /64s
        m.aws
            .ec2
            .disassociate_subnet_cidr_block()
            .association_id(&association)
            .send()
            .await
            .unwrap();
        let second = slash64(&block, 7);
        reaches(Instant::now(), Duration::ZERO, "block replaced", || async {
            associate_subnet_block(&m.aws, &subnets[0], &second)
                .await
                .0
                .is_empty()
        })
        .await;
        reaches(Instant::now(), Duration::ZERO, "associated", || async {
            subnet_block_states(&m.aws, &subnets[0]).await == ["associated"]
        })
        .await;
        let assigned = m
            .aws
            .ec2
            .assign_ipv6_addresses()
            .network_interface_id(&interface)
            .ipv6_address_count(1)
            .send()
            .await
            .unwrap();
        let addresses = assigned.assigned_ipv6_addresses().to_vec();
        assert_eq!(addresses.len(), 1);
        assert!(
            in_block(&addresses[0], &second),
            "{addresses:?} not in {second}"
        );
        assert_eq!(primary_interface(&m.aws, &id).await.1, addresses);
    });
}
