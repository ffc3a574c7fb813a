//! The environment's boundary: what would stop a destroy half way (protection
//! on one of its objects, objects of others inside or depending on it) stops it
//! before anything is deleted, named with what to do; nothing that is not the
//! environment's is modified or deleted.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, InstanceAttributeName as Protection, IpPermission, UserIdGroupPair,
    VpcEndpointType,
};

use crate::harness::{runtime, string_map, Api, Live};

const ADDRESS: &str = "prodvpc_environment.edge";

const HCL: &str = r#"
resource "prodvpc_environment" "edge" {
  name         = "edge"
  vpc_cidr     = "10.60.0.0/16"
  nat_gateways = "single"
  app {
    min_size = 1
    max_size = 2
  }
  bastion {
    ssh_ingress_cidrs = ["198.51.100.0/24"]
  }
}
"#;

#[test]
fn destroy_refuses_before_deleting_anything_while_protection_or_foreign_dependants_stand_in_its_way(
) {
    let live = Live::apply(HCL, ADDRESS, |_| {});
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let bastion = state["bastion_instance_id"].as_str().unwrap().to_string();
    let app_group = string_map(&state["security_group_ids"])["app"].clone();
    let subnet = string_map(&state["private_subnet_ids"])
        .into_values()
        .next()
        .unwrap();
    let ec2 = &live.api.ec2;
    let protect = |attribute: Protection, on: bool| {
        let value = AttributeBooleanValue::builder().value(on).build();
        let modify = ec2.modify_instance_attribute().instance_id(&bastion);
        let modify = match attribute {
            Protection::DisableApiStop => modify.disable_api_stop(value),
            _ => modify.disable_api_termination(value),
        };
        runtime().block_on(modify.send()).unwrap();
    };
    let protected = |attribute: Protection| {
        runtime().block_on(async {
            let out = ec2
                .describe_instance_attribute()
                .instance_id(&bastion)
                .attribute(attribute)
                .send()
                .await
                .unwrap();
            out.disable_api_termination()
                .or(out.disable_api_stop())
                .and_then(|v| v.value())
                .unwrap_or(false)
        })
    };

    // termination and stop protection (which refuses termination too) set
    // out of band are drift that apply turns off
    for (attribute, finding) in [
        (
            Protection::DisableApiTermination,
            "bastion has termination protection on",
        ),
        (Protection::DisableApiStop, "bastion has stop protection on"),
    ] {
        protect(attribute.clone(), true);
        live.repair(finding);
        assert!(!protected(attribute), "apply turned {finding:?} off");
    }

    // a bastion stopped out of band is started again; AWS gives it a new
    // public address, which the plan shows as unknown and state records
    let address =
        |state: &serde_json::Value| state["bastion_public_ip"].as_str().map(str::to_string);
    let before = address(&state);
    let operator = Api::operator(&live.layer.endpoint());
    runtime()
        .block_on(operator.ec2.stop_instances().instance_ids(&bastion).send())
        .unwrap();
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.contains("bastion_public_ip") && l.contains("(known after apply)")),
        "{}",
        plan.stdout
    );
    live.repair("so SSH through it is cut; apply starts it");
    let after = live.state();
    assert_eq!(
        after["bastion_instance_id"].as_str(),
        Some(bastion.as_str())
    );
    assert!(
        address(&after).is_some_and(|ip| Some(&ip) != before.as_ref()),
        "{before:?} -> {:?}",
        address(&after)
    );

    // protection again, another team's network interface in a private subnet,
    // and another team's group in the VPC with a rule naming sg/app
    protect(Protection::DisableApiTermination, true);
    protect(Protection::DisableApiStop, true);
    let (interface, other_group, other_table, endpoint) = runtime().block_on(async {
        let interface = ec2
            .create_network_interface()
            .subnet_id(&subnet)
            .description("another team's service")
            .send()
            .await
            .unwrap()
            .network_interface
            .unwrap()
            .network_interface_id
            .unwrap();
        let other_group = ec2
            .create_security_group()
            .group_name("other-team")
            .description("not the environment's")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&other_group)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(8080)
                    .to_port(8080)
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id(&app_group).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // and another team's route table in the VPC
        let other_table = ec2
            .create_route_table()
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .route_table
            .unwrap()
            .route_table_id
            .unwrap();
        // and another team's interface endpoint in a private subnet
        let other_endpoint = ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name("com.amazonaws.us-east-1.ssm")
            .subnet_ids(&subnet)
            .send()
            .await
            .unwrap()
            .vpc_endpoint
            .unwrap();
        // and the office's VPN gateway, attached to the VPC
        let vpn_gateway = ec2
            .create_vpn_gateway()
            .r#type(aws_sdk_ec2::types::GatewayType::Ipsec1)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::VpnGateway)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value("office VPN")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .vpn_gateway
            .unwrap()
            .vpn_gateway_id
            .unwrap();
        ec2.attach_vpn_gateway()
            .vpn_gateway_id(&vpn_gateway)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        (
            interface,
            other_group,
            other_table,
            (other_endpoint, vpn_gateway),
        )
    });
    let (endpoint, vpn_gateway) = endpoint;
    let other_endpoint = endpoint.vpc_endpoint_id().unwrap().to_string();
    // a plan reports what is not the environment's, and changes nothing of it
    let plan = live.ws.run(&["plan", "-no-color"]);
    let said = plan.text().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("Objects in the environment's VPC that are not its own")
            && said.contains(&format!("security group {other_group} (\"other-team\")"))
            && said.contains(&format!("VPC endpoint {other_endpoint}"))
            && said.contains(&format!(
                "virtual private gateway {vpn_gateway} (\"office VPN\")"
            ))
            && said.contains(&format!(
                "network interface {interface} (\"another team's service\") in subnet {subnet}"
            )),
        "{said}"
    );
    let refused = live.ws.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_ne!(refused.code, 0, "{}", refused.text());
    let text = refused
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        // the endpoint, and the network interface it holds in the subnet
        "destroy deleted nothing: 8 objects stand in its way".to_string(),
        format!("virtual private gateway {vpn_gateway} (\"office VPN\") is attached to the VPC {vpc} but is not the environment's: detach it (`aws ec2 detach-vpn-gateway --vpn-gateway-id {vpn_gateway} --vpc-id {vpc}`)"),
        format!("VPC endpoint {other_endpoint} lives in the VPC {vpc} but is not the environment's"),
        format!("route table {other_table} lives in the VPC {vpc} but is not the environment's"),
        format!("the bastion {bastion} has termination protection on"),
        format!("--instance-id {bastion} --no-disable-api-termination"),
        format!("the bastion {bastion} has stop protection on"),
        format!("--instance-id {bastion} --no-disable-api-stop"),
        format!("network interface {interface} (\"another team's service\") in subnet {subnet} is not the environment's"),
        format!("security group {other_group} (\"other-team\") lives in the VPC {vpc} but is not the environment's"),
        "Running destroy again changes nothing until they are gone".to_string(),
    ] {
        assert!(text.contains(&expected), "no `{expected}` in: {text}");
    }
    // nothing was deleted
    assert_eq!(live.api.tagged_vpcs("edge"), 1);
    assert_eq!(live.state()["alb_arn"], state["alb_arn"]);
    runtime().block_on(async {
        let group = live.api.group("edge-app").await;
        assert!(!group.instances().is_empty(), "the group still serves");
    });

    // once they are gone, destroy finishes, and leaves the other team's objects alone
    protect(Protection::DisableApiTermination, false);
    protect(Protection::DisableApiStop, false);
    runtime().block_on(async {
        ec2.delete_network_interface()
            .network_interface_id(&interface)
            .send()
            .await
            .unwrap();
        ec2.detach_vpn_gateway()
            .vpn_gateway_id(&vpn_gateway)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        ec2.delete_route_table()
            .route_table_id(&other_table)
            .send()
            .await
            .unwrap();
        ec2.delete_vpc_endpoints()
            .vpc_endpoint_ids(&other_endpoint)
            .send()
            .await
            .unwrap();
        // what AWS removes with the endpoint a while after
        for eni in endpoint.network_interface_ids() {
            let _gone_already = ec2
                .delete_network_interface()
                .network_interface_id(eni)
                .send()
                .await;
        }
    });
    let still = live.ws.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_ne!(still.code, 0, "the other team's group is still in the VPC");
    assert!(still.text().contains(&other_group), "{}", still.text());
    runtime().block_on(async {
        ec2.delete_security_group()
            .group_id(&other_group)
            .send()
            .await
            .unwrap();
    });
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(live.api.tagged_vpcs("edge"), 0);
    let gateways = runtime().block_on(async {
        ec2.describe_vpn_gateways()
            .vpn_gateway_ids(&vpn_gateway)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(
        gateways.vpn_gateways().len(),
        1,
        "the VPN gateway is left alone"
    );
}

#[test]
fn the_vpc_and_subnets_in_state_stay_the_environment_s_whatever_their_environment_tag_says() {
    let live = Live::apply(HCL, ADDRESS, |_| {});
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let subnet = string_map(&state["private_subnet_ids"])
        .into_values()
        .next()
        .unwrap();
    runtime().block_on(async {
        live.api
            .ec2
            .create_tags()
            .resources(&vpc)
            .resources(&subnet)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("prodvpc:environment")
                    .value("someone-else")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let plan = live.ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "a retagged VPC is tag drift, never a new environment:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(r#"vpc has tag prodvpc:environment = \"someone-else\" instead of \"edge\""#),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after the tags are restored");
    let after = live.state();
    assert_eq!(after["vpc_id"], state["vpc_id"]);
    assert_eq!(after["private_subnet_ids"], state["private_subnet_ids"]);
    assert_eq!(live.api.tagged_vpcs("edge"), 1);
    assert_eq!(live.api.tagged_vpcs("someone-else"), 0);
}

#[test]
fn another_team_s_target_group_in_the_vpc_keeps_its_tags_and_a_stranger_leaves_the_environment_s() {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Tag, TargetDescription};
    let live = Live::apply(HCL, ADDRESS, |_| {});
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let bastion = state["bastion_instance_id"].as_str().unwrap().to_string();
    let target_group = state["target_group_arn"].as_str().unwrap().to_string();
    let elbv2 = &live.api.elbv2;
    let tags_of = |arn: &str| {
        runtime().block_on(async {
            let out = elbv2
                .describe_tags()
                .resource_arns(arn)
                .send()
                .await
                .unwrap();
            out.tag_descriptions()[0]
                .tags()
                .iter()
                .map(|t| format!("{}={}", t.key().unwrap(), t.value().unwrap_or_default()))
                .collect::<Vec<_>>()
        })
    };
    let targets = || {
        runtime().block_on(async {
            let out = elbv2
                .describe_target_health()
                .target_group_arn(&target_group)
                .send()
                .await
                .unwrap();
            out.target_health_descriptions()
                .iter()
                .filter_map(|d| d.target()?.id().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    // another team's target group in the VPC, and the bastion (no member of
    // the group) registered in the environment's: it would take its requests
    let other_group = runtime().block_on(async {
        let other = elbv2
            .create_target_group()
            .name("other-team")
            .protocol(ProtocolEnum::Http)
            .port(9000)
            .vpc_id(&vpc)
            .tags(Tag::builder().key("team").value("b").build())
            .send()
            .await
            .unwrap();
        elbv2
            .register_targets()
            .target_group_arn(&target_group)
            .targets(TargetDescription::builder().id(&bastion).build())
            .send()
            .await
            .unwrap();
        other.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string()
    });
    assert!(targets().contains(&bastion));
    live.repair(&format!(
        "has {bastion}:80 registered, which is not the group's instances on port 80"
    ));
    assert!(!targets().contains(&bastion), "{:?}", targets());
    assert!(
        !targets().is_empty(),
        "the group's instances stay registered"
    );
    assert_eq!(tags_of(&other_group), vec!["team=b".to_string()]);
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(tags_of(&other_group), vec!["team=b".to_string()]);
}

#[test]
fn a_create_leaves_another_vpc_s_objects_that_carry_the_environment_s_tags_untouched() {
    use aws_sdk_ec2::types::{IpRange, ResourceType};
    let emulator = crate::harness::Emulator::aws_like();
    let ec2 = &emulator.api.ec2;
    // another team's VPC, with a group that copied the environment's tags
    // (a cloned stack, a tag policy): found by tag alone, it is not the
    // environment's
    let (other_vpc, other_group) = runtime().block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.99.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let group = ec2
            .create_security_group()
            .group_name("team-b-app")
            .description("another team's")
            .vpc_id(&vpc)
            .tag_specifications(copied_tags(ResourceType::SecurityGroup, "sg/app"))
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(5432)
                    .to_port(5432)
                    .ip_ranges(IpRange::builder().cidr_ip("10.99.0.0/16").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        (vpc, group)
    });
    let described = || {
        runtime().block_on(async {
            let out = ec2
                .describe_security_groups()
                .group_ids(&other_group)
                .send()
                .await
                .unwrap();
            let group = &out.security_groups()[0];
            let mut tags: Vec<String> = group
                .tags()
                .iter()
                .map(|t| format!("{}={}", t.key().unwrap(), t.value().unwrap()))
                .collect();
            tags.sort();
            (format!("{:?}", group.ip_permissions()), tags)
        })
    };
    let before = described();
    let ws = crate::harness::terraform::Workspace::new(Some(emulator.layer.endpoint()));
    ws.write(HCL);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let state = ws.resource_values(ADDRESS);
    assert_ne!(state["vpc_id"].as_str(), Some(other_vpc.as_str()));
    assert_ne!(
        string_map(&state["security_group_ids"])["app"],
        other_group,
        "the environment made its own group"
    );
    assert_eq!(described(), before, "the other team's group is untouched");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        described(),
        before,
        "and still there, untouched, after destroy"
    );
}

#[test]
fn a_target_group_of_another_with_the_environment_s_next_name_is_refused_not_taken_over() {
    use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, Tag, TargetTypeEnum};
    let live = Live::apply(HCL, ADDRESS, |_| {});
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let own = state["target_group_arn"].as_str().unwrap().to_string();
    let elbv2 = &live.api.elbv2;
    // another team made `edge-9090` in the VPC with the settings the
    // environment's next target group will have: AWS answers the
    // environment's create with it (made through the AWS model, which
    // answers as AWS does)
    let operator = Api::operator(&live.layer.endpoint());
    let other = runtime().block_on(async {
        let described = elbv2
            .describe_target_groups()
            .target_group_arns(&own)
            .send()
            .await
            .unwrap();
        let tg = &described.target_groups()[0];
        let made = operator
            .elbv2
            .create_target_group()
            .name("edge-9090")
            .protocol(ProtocolEnum::Http)
            .port(9090)
            .vpc_id(&vpc)
            .target_type(TargetTypeEnum::Instance)
            .health_check_enabled(true)
            .health_check_path(tg.health_check_path().unwrap())
            .health_check_protocol(tg.health_check_protocol().unwrap().clone())
            .healthy_threshold_count(tg.healthy_threshold_count().unwrap())
            .unhealthy_threshold_count(tg.unhealthy_threshold_count().unwrap())
            .health_check_interval_seconds(tg.health_check_interval_seconds().unwrap())
            .health_check_port(tg.health_check_port().unwrap())
            .health_check_timeout_seconds(tg.health_check_timeout_seconds().unwrap())
            .matcher(
                Matcher::builder()
                    .http_code(tg.matcher().unwrap().http_code().unwrap())
                    .build(),
            )
            .tags(Tag::builder().key("team").value("b").build())
            .send()
            .await
            .unwrap();
        made.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string()
    });
    live.ws.write(&HCL.replace(
        "    max_size = 2\n",
        "    max_size = 2\n    port     = 9090\n",
    ));
    let refused = live.ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(refused.code, 0, "{}", refused.text());
    let said = refused
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        said.contains(&format!(
            "target group edge-9090 ({other}) exists in the VPC and is not the environment's"
        )),
        "{said}"
    );
    runtime().block_on(async {
        let tags = elbv2
            .describe_tags()
            .resource_arns(&other)
            .send()
            .await
            .unwrap();
        let keys: Vec<&str> = tags.tag_descriptions()[0]
            .tags()
            .iter()
            .filter_map(|t| t.key())
            .collect();
        assert_eq!(
            keys,
            vec!["team"],
            "the other team's group is not tagged over"
        );
    });
    assert_ne!(
        live.state()["target_group_arn"].as_str(),
        Some(other.as_str())
    );
}

#[test]
fn copies_of_the_environment_s_address_and_template_tags_outside_it_are_reported_never_touched() {
    use aws_sdk_ec2::types::{DomainType, RequestLaunchTemplateData, ResourceType};
    let live = Live::apply(HCL, ADDRESS, |_| {});
    let state = live.state();
    let zone = string_map(&state["nat_public_ips"])
        .into_keys()
        .next()
        .unwrap();
    // another team's address and template with every tag the environment's
    // own carry (a cloned stack, a tag policy): no gateway of the environment
    // holds the one, its group does not run the other, the state names neither
    let operator = Api::operator(&live.layer.endpoint());
    let (allocation, template) = runtime().block_on(async {
        let address = operator
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(copied_tags(ResourceType::ElasticIp, &format!("eip/{zone}")))
            .send()
            .await
            .unwrap();
        let template = operator
            .ec2
            .create_launch_template()
            .launch_template_name("team-b-app")
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .build(),
            )
            .tag_specifications(copied_tags(ResourceType::LaunchTemplate, "lt"))
            .send()
            .await
            .unwrap();
        (
            address.allocation_id.unwrap(),
            template
                .launch_template
                .unwrap()
                .launch_template_id
                .unwrap(),
        )
    });
    let still_there = || {
        runtime().block_on(async {
            let addresses = live
                .api
                .ec2
                .describe_addresses()
                .allocation_ids(&allocation)
                .send()
                .await
                .map(|out| out.addresses().len())
                .unwrap_or(0);
            let templates = live
                .api
                .ec2
                .describe_launch_templates()
                .launch_template_ids(&template)
                .send()
                .await
                .map(|out| out.launch_templates().len())
                .unwrap_or(0);
            (addresses, templates)
        })
    };
    // AWS lists a new object in a filtered describe only a moment later
    std::thread::sleep(std::time::Duration::from_secs(1));
    let plan = live.ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "nothing to do: {}", plan.text());
    let text = plan.text().replace('\n', " ");
    for expected in [
        "Objects outside the environment that carry its tags",
        allocation.as_str(),
        template.as_str(),
    ] {
        assert!(text.contains(expected), "no `{expected}` in: {text}");
    }
    assert_eq!(
        string_map(&live.state()["nat_public_ips"]),
        string_map(&state["nat_public_ips"]),
        "the environment's own address is still the one it records"
    );
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(still_there(), (1, 1), "destroy left the copies alone");
}

/// Every tag the environment `edge` gives its `component`, copied by another
/// team (a cloned stack, a tag policy), with one of that team's own.
fn copied_tags(
    kind: aws_sdk_ec2::types::ResourceType,
    component: &str,
) -> aws_sdk_ec2::types::TagSpecification {
    use aws_sdk_ec2::types::{Tag, TagSpecification};
    TagSpecification::builder()
        .resource_type(kind)
        .tags(
            Tag::builder()
                .key("prodvpc:environment")
                .value("edge")
                .build(),
        )
        .tags(
            Tag::builder()
                .key("prodvpc:component")
                .value(component)
                .build(),
        )
        .tags(Tag::builder().key("team").value("b").build())
        .build()
}
