//! Create, check through the AWS API, refresh, repair drift, and destroy, with
//! the real Terraform CLI against moto behind the fault layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_sdk_ec2::types::Filter;
use prodvpc::plan::cidr::Cidr;

use crate::harness::faults::{Fault, AWS_LIKE_TIME_SCALE};
use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Emulator};

fn tag_filter(environment: &str) -> Filter {
    Filter::builder()
        .name("tag:prodvpc:environment")
        .values(environment)
        .build()
}

/// How many subnets carry the environment's tag.
async fn tagged_subnets(api: &Api, environment: &str) -> usize {
    api.ec2
        .describe_subnets()
        .filters(tag_filter(environment))
        .send()
        .await
        .unwrap()
        .subnets()
        .len()
}

fn complete_example(ws: &Workspace) {
    ws.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/complete"));
}

/// Destroys the environment and asserts that nothing tagged for it is left.
fn destroy_leaves_nothing(ws: &Workspace, api: &Api, environment: &str) {
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(leftovers(api, environment), Vec::<String>::new());
}

/// Every object tagged for the environment that still exists (instances: not terminated).
pub(crate) fn leftovers(api: &Api, environment: &str) -> Vec<String> {
    runtime().block_on(async {
        let f = tag_filter(environment);
        let mut left = Vec::new();
        let vpcs = api
            .ec2
            .describe_vpcs()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            vpcs.vpcs()
                .iter()
                .map(|v| format!("vpc {}", v.vpc_id().unwrap())),
        );
        let subnets = api
            .ec2
            .describe_subnets()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            subnets
                .subnets()
                .iter()
                .map(|s| format!("subnet {}", s.subnet_id().unwrap())),
        );
        let igws = api
            .ec2
            .describe_internet_gateways()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            igws.internet_gateways()
                .iter()
                .map(|g| format!("igw {}", g.internet_gateway_id().unwrap())),
        );
        let egress_only = api
            .ec2
            .describe_egress_only_internet_gateways()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            egress_only
                .egress_only_internet_gateways()
                .iter()
                .map(|g| format!("eigw {}", g.egress_only_internet_gateway_id().unwrap())),
        );
        let eips = api
            .ec2
            .describe_addresses()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            eips.addresses()
                .iter()
                .map(|a| format!("eip {}", a.allocation_id().unwrap())),
        );
        let tables = api
            .ec2
            .describe_route_tables()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            tables
                .route_tables()
                .iter()
                .map(|t| format!("rtb {}", t.route_table_id().unwrap())),
        );
        let groups = api
            .ec2
            .describe_security_groups()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            groups
                .security_groups()
                .iter()
                .map(|g| format!("sg {}", g.group_id().unwrap())),
        );
        let nats = api.ec2.describe_nat_gateways().send().await.unwrap();
        left.extend(
            nats.nat_gateways()
                .iter()
                .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
                .filter(|n| n.tags().iter().any(|t| t.value() == Some(environment)))
                .map(|n| format!("nat {}", n.nat_gateway_id().unwrap())),
        );
        let endpoints = api
            .ec2
            .describe_vpc_endpoints()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            endpoints
                .vpc_endpoints()
                .iter()
                .filter(|e| {
                    e.state()
                        .is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
                })
                .map(|e| format!("vpce {}", e.vpc_endpoint_id().unwrap())),
        );
        let lts = api
            .ec2
            .describe_launch_templates()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            lts.launch_templates()
                .iter()
                .map(|t| format!("lt {}", t.launch_template_id().unwrap())),
        );
        let instances = api
            .ec2
            .describe_instances()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            instances
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter(|i| {
                    i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated")
                })
                .map(|i| format!("instance {}", i.instance_id().unwrap())),
        );
        let lbs = api.elbv2.describe_load_balancers().send().await.unwrap();
        left.extend(
            lbs.load_balancers()
                .iter()
                .filter(|l| l.load_balancer_name() == Some(environment))
                .map(|l| format!("alb {}", l.load_balancer_name().unwrap())),
        );
        let tgs = api.elbv2.describe_target_groups().send().await.unwrap();
        left.extend(
            tgs.target_groups()
                .iter()
                .filter(|t| {
                    t.target_group_name()
                        .is_some_and(|n| n.starts_with(&format!("{environment}-")))
                })
                .map(|t| format!("tg {}", t.target_group_name().unwrap())),
        );
        let asgs = api
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        left.extend(
            asgs.auto_scaling_groups()
                .iter()
                .filter(|g| g.auto_scaling_group_name() == Some(&format!("{environment}-app")))
                .map(|g| format!("asg {}", g.auto_scaling_group_name().unwrap())),
        );
        left
    })
}

/// Checks the whole topology of examples/complete through the API.
fn verify_complete_topology(api: &Api, state: &serde_json::Value) {
    let vpc_id = state["vpc_id"].as_str().expect("vpc_id").to_string();
    let public = string_map(&state["public_subnet_ids"]);
    let private = string_map(&state["private_subnet_ids"]);
    let nats = string_map(&state["nat_gateway_ids"]);
    let groups = string_map(&state["security_group_ids"]);
    assert_eq!(public.len(), 2);
    assert_eq!(private.len(), 2);
    runtime().block_on(async {
        // VPC and subnets: one public and one private per AZ, in the right zone and CIDR
        let vpc = api
            .ec2
            .describe_vpcs()
            .vpc_ids(&vpc_id)
            .send()
            .await
            .unwrap();
        assert_eq!(vpc.vpcs()[0].cidr_block(), Some("10.20.0.0/16"));
        let subnets = api
            .ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .unwrap();
        assert_eq!(subnets.subnets().len(), 4);
        for s in subnets.subnets() {
            let zone = s.availability_zone().unwrap();
            let id = s.subnet_id().unwrap();
            let is_public = public.get(zone).map(String::as_str) == Some(id);
            assert!(
                is_public || private.get(zone).map(String::as_str) == Some(id),
                "subnet {id} is not in state"
            );
            assert_eq!(
                s.map_public_ip_on_launch(),
                Some(is_public),
                "map_public_ip_on_launch of {id}"
            );
            let tags: BTreeMap<_, _> = s
                .tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap()))
                .collect();
            assert_eq!(tags["prodvpc:environment"], "shop-prod");
            assert_eq!(tags["team"], "shop");
            assert_eq!(tags["managed_by"], "terraform");
            let tier = if is_public { "public" } else { "private" };
            assert_eq!(tags["prodvpc:component"], format!("subnet/{tier}/{zone}"));
        }
        // NAT gateways: one per AZ, each in its zone's public subnet
        assert_eq!(nats.len(), 2);
        for (zone, nat) in &nats {
            let out = api
                .ec2
                .describe_nat_gateways()
                .nat_gateway_ids(nat)
                .send()
                .await
                .unwrap();
            assert_eq!(
                out.nat_gateways()[0].subnet_id(),
                Some(public[zone].as_str()),
                "NAT of {zone}"
            );
        }
        // routes: public -> igw, private of each zone -> its own NAT
        let igw = state["internet_gateway_id"].as_str().unwrap();
        let tables = api
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .unwrap();
        let mut checked = 0;
        for table in tables.route_tables() {
            let default = table
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
            for association in table.associations() {
                let Some(subnet) = association.subnet_id() else {
                    continue;
                };
                let target = default.and_then(|r| r.nat_gateway_id().or(r.gateway_id()));
                if let Some((_, _)) = public.iter().find(|(_, id)| id.as_str() == subnet) {
                    assert_eq!(
                        target,
                        Some(igw),
                        "public subnet {subnet} must route to the igw"
                    );
                } else {
                    let zone = private
                        .iter()
                        .find(|(_, id)| id.as_str() == subnet)
                        .map(|(z, _)| z.clone())
                        .expect("associated subnet is ours");
                    assert_eq!(
                        target,
                        Some(nats[&zone].as_str()),
                        "private subnet of {zone} must route to its NAT"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 4, "every subnet is associated with a route table");
        // security groups: exactly the rules of the contract
        assert_eq!(
            api.ingress(&groups["alb"]).await,
            BTreeSet::from(["tcp/80 0.0.0.0/0".to_string()])
        );
        assert_eq!(
            api.ingress(&groups["app"]).await,
            BTreeSet::from([
                format!("tcp/8080 {}", groups["alb"]),
                format!("tcp/22 {}", groups["bastion"])
            ])
        );
        assert_eq!(
            api.ingress(&groups["bastion"]).await,
            BTreeSet::from(["tcp/22 203.0.113.0/24".to_string()])
        );
        // ALB: internet-facing in both public subnets, HTTP listener forwarding to the target group
        let lb = api
            .elbv2
            .describe_load_balancers()
            .names("shop-prod")
            .send()
            .await
            .unwrap();
        let lb = &lb.load_balancers()[0];
        assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
        let lb_subnets: BTreeSet<&str> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .collect();
        assert_eq!(lb_subnets, public.values().map(String::as_str).collect());
        let tg_arn = state["target_group_arn"].as_str().unwrap();
        let listeners = api.listeners(lb.load_balancer_arn().unwrap()).await;
        assert_eq!(listeners.len(), 1);
        let listener = &listeners[0];
        assert_eq!(listener.port(), Some(80));
        assert_eq!(
            listener.default_actions()[0].r#type().map(|t| t.as_str()),
            Some("forward")
        );
        assert_eq!(
            listener.default_actions()[0].target_group_arn(),
            Some(tg_arn)
        );
        let tg = api
            .elbv2
            .describe_target_groups()
            .target_group_arns(tg_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(tg.target_groups()[0].port(), Some(8080));
        assert_eq!(tg.target_groups()[0].health_check_path(), Some("/health"));
        // ASG: private subnets, sizes, target group, ELB health checks, CPU policy
        let asg = api.group("shop-prod-app").await;
        assert_eq!(
            (asg.min_size(), asg.max_size(), asg.desired_capacity()),
            (Some(2), Some(6), Some(2))
        );
        let asg_subnets: BTreeSet<&str> = asg.vpc_zone_identifier().unwrap().split(',').collect();
        assert_eq!(asg_subnets, private.values().map(String::as_str).collect());
        assert_eq!(asg.target_group_arns(), [tg_arn.to_string()]);
        assert_eq!(asg.health_check_type(), Some("ELB"));
        let policies = api
            .autoscaling
            .describe_policies()
            .auto_scaling_group_name("shop-prod-app")
            .send()
            .await
            .unwrap();
        let policy = &policies.scaling_policies()[0];
        assert_eq!(policy.policy_type(), Some("TargetTrackingScaling"));
        let tracking = policy.target_tracking_configuration().unwrap();
        assert_eq!(tracking.target_value(), Some(50.0));
        // launch template: IMDSv2, encrypted root volume, app SG
        let lt_id = state["launch_template_id"].as_str().unwrap();
        let data = api.template_data(lt_id, "$Default").await;
        assert_eq!(
            data.metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str()),
            Some("required")
        );
        assert_eq!(
            data.block_device_mappings()[0]
                .ebs()
                .and_then(|e| e.encrypted()),
            Some(true)
        );
        let interface = &data.network_interfaces()[0];
        assert_eq!(
            interface.associate_public_ip_address(),
            Some(false),
            "no public IP for the app"
        );
        assert_eq!(interface.groups(), std::slice::from_ref(&groups["app"]));
        // the VPC's default security group lets nothing in or out
        let default = api
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let default = &default.security_groups()[0];
        assert!(
            default.ip_permissions().is_empty() && default.ip_permissions_egress().is_empty(),
            "default security group keeps rules: {default:?}"
        );
        // DNS support and hostnames on
        for attribute in [
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
        ] {
            let out = api
                .ec2
                .describe_vpc_attribute()
                .vpc_id(&vpc_id)
                .attribute(attribute.clone())
                .send()
                .await
                .unwrap();
            let on = out
                .enable_dns_support()
                .or(out.enable_dns_hostnames())
                .and_then(|v| v.value());
            assert_eq!(on, Some(true), "{attribute:?}");
        }
        // bastion: first public subnet, public IP, bastion SG
        let bastion = state["bastion_instance_id"].as_str().unwrap();
        let out = api
            .ec2
            .describe_instances()
            .instance_ids(bastion)
            .send()
            .await
            .unwrap();
        let instance = &out.reservations()[0].instances()[0];
        let first_zone = public.keys().next().unwrap();
        assert_eq!(instance.subnet_id(), Some(public[first_zone].as_str()));
        assert!(instance.public_ip_address().is_some());
        assert_eq!(
            state["bastion_public_ip"].as_str(),
            instance.public_ip_address()
        );
        let attached: Vec<&str> = instance
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .chain(
                instance
                    .network_interfaces()
                    .iter()
                    .flat_map(|n| n.groups())
                    .filter_map(|g| g.group_id()),
            )
            .collect();
        assert!(
            attached.contains(&groups["bastion"].as_str()),
            "bastion groups: {attached:?}"
        );
        assert_eq!(
            instance
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str()),
            Some("required")
        );
    });
}

#[test]
fn complete_environment_lifecycle() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    complete_example(&ws);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let state = ws.resource_values("prodvpc_environment.shop");
    verify_complete_topology(&env.api, &state);
    assert!(ws.outputs()["url"]["value"]
        .as_str()
        .unwrap()
        .starts_with("http://shop-prod"));

    // a plan right after apply is empty
    ws.assert_no_changes("after the apply");

    // out-of-band, through the layer so AWS's release of the NAT's address is emulated:
    // delete a NAT gateway, a private subnet's default route and a security group rule
    let out_of_band = Api::new(&env.layer.endpoint());
    let nats = string_map(&state["nat_gateway_ids"]);
    let (zone, nat) = nats
        .iter()
        .next()
        .map(|(z, n)| (z.clone(), n.clone()))
        .unwrap();
    let other_zone = nats.keys().find(|z| **z != zone).unwrap().clone();
    let tables = runtime()
        .block_on(
            env.api
                .ec2
                .describe_route_tables()
                .filters(tag_filter("shop-prod"))
                .send(),
        )
        .unwrap();
    let other_table = tables
        .route_tables()
        .iter()
        .find(|t| {
            t.tags()
                .iter()
                .any(|tag| tag.value() == Some(&format!("rtb/private/{other_zone}")))
        })
        .unwrap();
    let table_id = other_table.route_table_id().unwrap().to_string();
    let groups = string_map(&state["security_group_ids"]);
    // the deleted gateway holds its Elastic IP for 5.5 s (55 s on AWS): longer than
    // the plan below takes, so the apply meets the address still associated
    env.layer.model().set_time_scale(0.1);
    runtime().block_on(async {
        out_of_band
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&nat)
            .send()
            .await
            .unwrap();
        out_of_band
            .ec2
            .delete_route()
            .route_table_id(&table_id)
            .destination_cidr_block("0.0.0.0/0")
            .send()
            .await
            .unwrap();
        out_of_band
            .ec2
            .revoke_security_group_ingress()
            .group_id(&groups["bastion"])
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .cidr_ip("203.0.113.0/24")
            .send()
            .await
            .unwrap();
    });
    let plan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "drift not shown:\n{}", plan.text());
    assert!(
        plan.stdout.contains(&format!(
            "rtb/private/{zone} does not route to its NAT gateway"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("sg/bastion lacks ingress rule tcp/22 from 203.0.113.0/24"),
        "{}",
        plan.stdout
    );
    // AWS reports a new NAT gateway as pending for a while: the waiter polls through it
    // objects from here on take AWS's time at the suite's usual scale
    env.layer.model().set_time_scale(AWS_LIKE_TIME_SCALE);
    env.layer.reset_counts();
    env.layer.inject(
        "ec2:DescribeNatGateways",
        Fault::Rewrite {
            from: "<state>available</state>".into(),
            to: "<state>pending</state>".into(),
        },
        6,
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // 5 calls when every answer is `available`; the pending answers make the waiters poll again
    let polls = env.layer.count("ec2:DescribeNatGateways");
    assert!(
        polls > 5,
        "the NAT waiters did not poll through the pending state ({polls} calls)"
    );
    let repaired = ws.resource_values("prodvpc_environment.shop");
    assert_eq!(
        repaired["vpc_id"], state["vpc_id"],
        "the VPC survives the repair"
    );
    assert_eq!(repaired["public_subnet_ids"], state["public_subnet_ids"]);
    let repaired_nats = string_map(&repaired["nat_gateway_ids"]);
    assert_ne!(
        repaired_nats[&zone], nat,
        "a new NAT gateway replaces the deleted one"
    );
    assert_eq!(
        repaired_nats[&other_zone], nats[&other_zone],
        "the other NAT gateway survives"
    );
    assert_eq!(
        repaired["nat_public_ips"], state["nat_public_ips"],
        "the Elastic IPs are reused"
    );
    verify_complete_topology(&env.api, &repaired);
    ws.assert_no_changes("after the repair");

    destroy_leaves_nothing(&ws, &env.api, "shop-prod");
}

const SMALL: &str = "resource \"prodvpc_environment\" \"{name}\" {\n  name = \"{name}\"\n  nat_gateways = \"single\"\n  bastion {\n    ssh_ingress_cidrs = [\"198.51.100.0/24\"]\n  }\n}\n";

pub(crate) fn small(name: &str) -> String {
    SMALL.replace("{name}", name)
}

#[test]
fn destroy_outlasts_dependency_violations_and_throttling() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("faulty"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // round trips as to a real region, so the retries interleave with other calls
    env.layer.set_latency(std::time::Duration::from_millis(20));
    env.layer
        .inject("ec2:DeleteSubnet", Fault::dependency_violation(), 3);
    env.layer
        .inject("ec2:DeleteSecurityGroup", Fault::dependency_violation(), 3);
    env.layer
        .inject("ec2:DescribeSubnets", Fault::throttling(), 2);
    env.layer.inject("ec2:DescribeVpcs", Fault::throttling(), 2);
    env.layer
        .inject("ec2:DescribeRouteTables", Fault::internal_error(), 1);
    env.layer.inject(
        "elasticloadbalancing:DescribeLoadBalancers",
        Fault::Latency(std::time::Duration::from_millis(300)),
        2,
    );
    env.layer.reset_counts();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(
        env.layer.count("ec2:DeleteSubnet") >= 2 + 3,
        "subnet deletes retried: {:?}",
        env.layer.counts()
    );
    assert!(env.layer.count("ec2:DeleteSecurityGroup") >= 2 + 3);
    assert_eq!(leftovers(&env.api, "faulty"), Vec::<String>::new());
}

#[test]
fn failed_create_keeps_state_and_the_next_apply_resumes_without_duplicates() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("resume"));
    // the load balancer call fails for good this time (more failures than the SDK retries)
    env.layer.inject(
        "elasticloadbalancing:CreateLoadBalancer",
        Fault::Error {
            status: 400,
            code: "ValidationError".into(),
        },
        1,
    );
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.code, 0, "the injected failure must fail the apply");
    assert!(run.text().contains("ValidationError"), "{}", run.text());
    let partial = ws.resource_values("prodvpc_environment.resume");
    assert!(
        partial["vpc_id"]
            .as_str()
            .is_some_and(|v| v.starts_with("vpc-")),
        "state keeps what was created: {partial}"
    );
    assert_eq!(string_map(&partial["public_subnet_ids"]).len(), 2);
    // the advice is what Terraform does next with a tainted create
    let advice = run.text().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        advice.contains("the next apply deletes it and builds it anew")
            && advice.contains("terraform untaint")
            && !advice.contains("resumes where it stopped"),
        "{advice}"
    );

    // untainted, the next apply continues from where the first one stopped
    ws.ok(&["untaint", "prodvpc_environment.resume"]);
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("alb is missing"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let done = ws.resource_values("prodvpc_environment.resume");
    assert!(done["alb_arn"].as_str().is_some());
    assert_eq!(done["vpc_id"], partial["vpc_id"], "resumed, not rebuilt");
    assert_eq!(done["public_subnet_ids"], partial["public_subnet_ids"]);
    ws.assert_no_changes("after the apply");
    runtime().block_on(async {
        let vpcs = env
            .api
            .ec2
            .describe_vpcs()
            .filters(tag_filter("resume"))
            .send()
            .await
            .unwrap();
        assert_eq!(vpcs.vpcs().len(), 1, "one VPC");
        assert_eq!(tagged_subnets(&env.api, "resume").await, 4, "four subnets");
        let lbs = env
            .api
            .elbv2
            .describe_load_balancers()
            .send()
            .await
            .unwrap();
        assert_eq!(lbs.load_balancers().len(), 1, "one ALB");
        let instances = env
            .api
            .ec2
            .describe_instances()
            .filters(tag_filter("resume"))
            .send()
            .await
            .unwrap();
        let bastions = instances
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
            .filter(|i| i.tags().iter().any(|t| t.value() == Some("bastion")))
            .count();
        assert_eq!(bastions, 1, "one bastion");
    });
    destroy_leaves_nothing(&ws, &env.api, "resume");
}

#[test]
fn two_environments_do_not_touch_each_other() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&format!("{}{}", small("blue"), small("green")));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let blue = ws.resource_values("prodvpc_environment.blue");
    let green = ws.resource_values("prodvpc_environment.green");
    assert_ne!(blue["vpc_id"], green["vpc_id"]);
    ws.ok(&[
        "destroy",
        "-auto-approve",
        "-no-color",
        "-target",
        "prodvpc_environment.blue",
    ]);
    assert_eq!(leftovers(&env.api, "blue"), Vec::<String>::new());
    assert!(leftovers(&env.api, "green").len() >= 10, "green is intact");
    let plan = ws.run(&[
        "plan",
        "-detailed-exitcode",
        "-no-color",
        "-target",
        "prodvpc_environment.green",
    ]);
    assert_eq!(
        plan.code,
        0,
        "green unchanged:\n{}",
        plan.stdout
            .lines()
            .filter(|l| l.contains("missing") || l.contains("rule") || l.contains("route"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// One configuration of the varied-configurations test and what the API must show.
struct Variant {
    name: &'static str,
    body: &'static str,
    zones: usize,
    nats: usize,
    bastion: bool,
    listeners: usize,
}

const VARIANTS: [Variant; 5] = [
    Variant {
        name: "minimal",
        body: "bastion {\n    ssh_ingress_cidrs = [\"198.51.100.0/24\"]\n  }",
        zones: 2,
        nats: 2,
        bastion: true,
        listeners: 1,
    },
    Variant {
        name: "wide",
        body: "vpc_cidr = \"192.168.4.0/23\"\n  az_count = 3\n  nat_gateways = \"none\"\n  load_balancer {\n    certificate_arn = \"arn:aws:iam::123456789012:server-certificate/wide\"\n  }\n  bastion {\n    enabled = false\n  }",
        zones: 3,
        nats: 0,
        bastion: false,
        listeners: 2,
    },
    Variant {
        name: "pinned",
        body: "availability_zones = [\"us-east-1b\", \"us-east-1c\"]\n  public_subnet_cidrs = { \"us-east-1b\" = \"10.0.1.0/24\", \"us-east-1c\" = \"10.0.2.0/24\" }\n  private_subnet_cidrs = { \"us-east-1b\" = \"10.0.101.0/24\", \"us-east-1c\" = \"10.0.102.0/24\" }\n  nat_gateways = \"single\"\n  app {\n    port = 3000\n  }\n  bastion {\n    ssh_ingress_cidrs = [\"198.51.100.7/32\"]\n    instance_type = \"t3.micro\"\n  }",
        zones: 2,
        nats: 1,
        bastion: true,
        listeners: 1,
    },
    Variant {
        name: "tuned",
        body: "app {\n    min_size = 0\n    max_size = 1\n    desired_capacity = 1\n    cpu_target = 72.5\n    ami_id = \"ami-0ed094fb1304fd857\"\n  }\n  load_balancer {\n    ingress_cidrs = [\"10.0.0.0/8\", \"192.0.2.0/24\"]\n  }\n  bastion {\n    ssh_ingress_cidrs = [\"198.51.100.0/24\", \"203.0.113.0/24\"]\n    key_name = \"ops\"\n  }\n  timeouts {\n    create = \"20m\"\n    delete = \"1h\"\n  }\n  tags = { team = \"tuned\", \"cost center\" = \"42\" }",
        zones: 2,
        nats: 2,
        bastion: true,
        listeners: 1,
    },
    Variant {
        // values unknown until apply: they come from another resource
        name: "late",
        body: "app {\n    port = terraform_data.settings.output.port\n  }\n  bastion {\n    ssh_ingress_cidrs = [terraform_data.settings.output.cidr]\n  }",
        zones: 2,
        nats: 2,
        bastion: true,
        listeners: 1,
    },
];

#[test]
fn varied_configurations_converge_and_clean_up() {
    let env = Emulator::aws_like();
    // the key pair a variant names must exist: plan checks it against the region
    runtime().block_on(async {
        env.api
            .ec2
            .create_key_pair()
            .key_name("ops")
            .send()
            .await
            .unwrap();
    });
    for variant in &VARIANTS {
        let ws = Workspace::new(Some(env.layer.endpoint()));
        let settings = "resource \"terraform_data\" \"settings\" {\n  input = { port = 8081, cidr = \"203.0.113.9/32\" }\n}\n";
        ws.write(&format!(
            "{settings}resource \"prodvpc_environment\" \"v\" {{\n  name = \"{}\"\n  {}\n}}\n",
            variant.name, variant.body
        ));
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        ws.assert_no_changes(&format!("{}, after the apply", variant.name));
        let state = ws.resource_values("prodvpc_environment.v");
        assert_eq!(
            string_map(&state["public_subnet_ids"]).len(),
            variant.zones,
            "{}",
            variant.name
        );
        assert_eq!(
            string_map(&state["nat_gateway_ids"]).len(),
            variant.nats,
            "{}",
            variant.name
        );
        assert_eq!(
            state["bastion_instance_id"].is_string(),
            variant.bastion,
            "{}",
            variant.name
        );
        assert_eq!(
            string_map(&state["listener_arns"]).len(),
            variant.listeners,
            "{}",
            variant.name
        );
        runtime().block_on(async {
            let subnets = env
                .api
                .ec2
                .describe_subnets()
                .filters(tag_filter(variant.name))
                .send()
                .await
                .unwrap();
            assert_eq!(
                subnets.subnets().len(),
                2 * variant.zones,
                "{}",
                variant.name
            );
            let vpc_cidr: Cidr = state["vpc_cidr"].as_str().unwrap().parse().unwrap();
            let blocks: Vec<Cidr> = subnets
                .subnets()
                .iter()
                .map(|s| s.cidr_block().unwrap().parse().unwrap())
                .collect();
            for (i, block) in blocks.iter().enumerate() {
                assert!(
                    vpc_cidr.contains(block),
                    "{}: {block} outside {vpc_cidr}",
                    variant.name
                );
                assert!(
                    blocks[i + 1..].iter().all(|other| !other.overlaps(block)),
                    "{}: overlapping subnets",
                    variant.name
                );
            }
        });
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
        assert_eq!(
            leftovers(&env.api, variant.name),
            Vec::<String>::new(),
            "{}",
            variant.name
        );
    }
}

#[test]
fn an_environment_deleted_elsewhere_is_planned_again() {
    let env = Emulator::aws_like();
    let first = Workspace::new(Some(env.layer.endpoint()));
    first.write(&small("gone"));
    first.ok(&["apply", "-auto-approve", "-no-color"]);
    // another workspace adopts the environment and deletes it
    let second = Workspace::new(Some(env.layer.endpoint()));
    second.write(&small("gone"));
    second.ok(&["import", "-no-color", "prodvpc_environment.gone", "gone"]);
    destroy_leaves_nothing(&second, &env.api, "gone");
    let plan = first.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(
        plan.stdout.contains("1 to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
}

#[test]
fn inputs_the_region_cannot_serve_fail_at_plan_with_nothing_built() {
    let env = Emulator::aws_like();
    let cases = [
        (
            "availability_zones = [\"us-east-1a\", \"us-east-1z\"]",
            "Unknown availability zone",
            "us-east-1z",
        ),
        ("az_count = 8", "Not enough availability zones", "az_count"),
        (
            "app {\n    ami_id = \"ami-00000000000000000\"\n  }",
            "Image not found",
            "ami_id",
        ),
    ];
    for (body, summary, line) in cases {
        let ws = Workspace::new(Some(env.layer.endpoint()));
        ws.write(&format!("resource \"prodvpc_environment\" \"x\" {{\n  name = \"refused\"\n  {body}\n  bastion {{\n    enabled = false\n  }}\n}}\n"));
        let run = ws.run(&["plan", "-no-color"]);
        assert_ne!(run.code, 0, "{body} was accepted");
        assert!(run.stderr.contains(summary), "{body}: {}", run.stderr);
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(line) && l.contains(':')),
            "{body}: the diagnostic does not point at {line}:\n{}",
            run.stderr
        );
    }
    assert_eq!(env.layer.count("ec2:CreateVpc"), 0);
    assert_eq!(leftovers(&env.api, "refused"), Vec::<String>::new());
}

#[test]
fn provider_endpoints_and_region_override_the_environment() {
    let env = Emulator::aws_like();
    // AWS_ENDPOINT_URL points at a closed port here: only the provider block can work
    let ws = Workspace::new(None);
    let url = env.layer.endpoint();
    ws.write(&format!(
        "provider \"prodvpc\" {{\n  region = \"us-east-1\"\n  max_retries = 2\n  endpoints {{\n    ec2 = \"{url}\"\n    autoscaling = \"{url}\"\n    elbv2 = \"{url}\"\n  }}\n}}\n{}",
        small("routed")
    ));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // every service's calls went to the provider block's endpoints (a call may
    // be repeated while AWS does not see a just-created object yet)
    assert_eq!(env.layer.count("ec2:CreateVpc"), 1);
    assert!(env.layer.count("autoscaling:CreateAutoScalingGroup") >= 1);
    assert!(env.layer.count("elasticloadbalancing:CreateLoadBalancer") >= 1);
    destroy_leaves_nothing(&ws, &env.api, "routed");
}

/// The objects carrying each component key, by kind (instances, which share
/// their group's key, and volumes left out).
fn objects_by_component(api: &Api) -> BTreeMap<String, Vec<String>> {
    runtime().block_on(async {
        let tags = api
            .ec2
            .describe_tags()
            .filters(
                Filter::builder()
                    .name("key")
                    .values("prodvpc:component")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for tag in tags.tags() {
            let kind = tag.resource_type().map(|t| t.as_str()).unwrap_or_default();
            if matches!(kind, "instance" | "volume" | "network-interface") {
                continue;
            }
            found
                .entry(format!("{kind} {}", tag.value().unwrap_or_default()))
                .or_default()
                .push(tag.resource_id().unwrap_or_default().to_string());
        }
        found
    })
}

/// AWS does the work of a create and its answer is lost on the way back (an
/// HTTP 500): calls without a ClientToken would make a second object on the
/// SDK's retry, which nothing records and destroy leaves behind.
#[test]
fn a_create_whose_answer_is_lost_is_found_and_nothing_is_made_twice() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("lost"));
    let creates = [
        "ec2:CreateVpc",
        "ec2:CreateSubnet",
        "ec2:CreateInternetGateway",
        "ec2:AllocateAddress",
        "ec2:CreateSecurityGroup",
        "ec2:CreateRouteTable",
        "ec2:CreateLaunchTemplate",
    ];
    for create in creates {
        env.layer.inject(create, Fault::LostAnswer, 1);
    }
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let objects = objects_by_component(&env.api);
    let twice: Vec<_> = objects.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "made twice: {twice:?}");
    let state = ws.resource_values("prodvpc_environment.lost");
    assert_eq!(
        objects["vpc vpc"],
        [state["vpc_id"].as_str().unwrap().to_string()],
        "state names the VPC AWS made"
    );
    assert_eq!(
        objects["internet-gateway igw"],
        [state["internet_gateway_id"].as_str().unwrap().to_string()]
    );
    let templates = runtime().block_on(async {
        env.api
            .ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
            .len()
    });
    assert_eq!(templates, 1);
    ws.assert_no_changes("after an apply whose creates lost their answers");
    destroy_leaves_nothing(&ws, &env.api, "lost");
}

/// A run stopped moments after it made the VPC and the internet gateway (a
/// crash, a killed CI job), and an apply at once: AWS does not list those
/// objects by tag yet, and the create must still find and take them.
#[test]
fn a_create_right_after_a_stopped_one_takes_what_it_made() {
    let env = Emulator::aws_like();
    env.layer
        .model()
        .set_listing_lag(std::time::Duration::from_secs(2));
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("stopped"));
    ws.ok(&["plan", "-out=tfplan", "-no-color"]);
    let through_layer = Api::new(&env.layer.endpoint());
    let spec = |kind, component: &str, status: Option<&str>| {
        let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        let tags = [
            Some(tag("prodvpc:environment", "stopped")),
            Some(tag("prodvpc:component", component)),
            status.map(|s| tag("prodvpc:status", s)),
        ];
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags.into_iter().flatten().collect()))
            .build()
    };
    let (vpc, igw) = runtime().block_on(async {
        let vpc = through_layer
            .ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .tag_specifications(spec(
                aws_sdk_ec2::types::ResourceType::Vpc,
                "vpc",
                Some("creating"),
            ))
            .send()
            .await
            .unwrap();
        let igw = through_layer
            .ec2
            .create_internet_gateway()
            .tag_specifications(spec(
                aws_sdk_ec2::types::ResourceType::InternetGateway,
                "igw",
                None,
            ))
            .send()
            .await
            .unwrap();
        (
            vpc.vpc().unwrap().vpc_id().unwrap().to_string(),
            igw.internet_gateway()
                .unwrap()
                .internet_gateway_id()
                .unwrap()
                .to_string(),
        )
    });
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    let state = ws.resource_values("prodvpc_environment.stopped");
    assert_eq!(
        state["vpc_id"],
        vpc.as_str(),
        "the stopped run's VPC is taken"
    );
    assert_eq!(state["internet_gateway_id"], igw.as_str());
    let objects = objects_by_component(&env.api);
    let twice: Vec<_> = objects.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "made twice: {twice:?}");
    ws.assert_no_changes("after the create that took the stopped run's objects");
    destroy_leaves_nothing(&ws, &env.api, "stopped");
}

#[test]
fn destroy_also_removes_duplicates_left_by_retried_creates() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("dupes"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let state = ws.resource_values("prodvpc_environment.dupes");
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let zone = string_map(&state["public_subnet_ids"])
        .keys()
        .next()
        .unwrap()
        .clone();
    // what a create whose response was lost, then retried, leaves behind
    runtime().block_on(async {
        let tags = |component: &str| {
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(match component.split('/').next().unwrap() {
                    "subnet" => aws_sdk_ec2::types::ResourceType::Subnet,
                    "rtb" => aws_sdk_ec2::types::ResourceType::RouteTable,
                    _ => aws_sdk_ec2::types::ResourceType::SecurityGroup,
                })
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("prodvpc:environment")
                        .value("dupes")
                        .build(),
                )
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("prodvpc:component")
                        .value(component)
                        .build(),
                )
                .build()
        };
        let api = &env.api.ec2;
        let subnet = api
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.0.250.0/24")
            .availability_zone(&zone)
            .tag_specifications(tags(&format!("subnet/public/{zone}")))
            .send()
            .await
            .unwrap();
        let table = api
            .create_route_table()
            .vpc_id(&vpc)
            .tag_specifications(tags("rtb/public"))
            .send()
            .await
            .unwrap();
        api.associate_route_table()
            .route_table_id(table.route_table().unwrap().route_table_id().unwrap())
            .subnet_id(subnet.subnet().unwrap().subnet_id().unwrap())
            .send()
            .await
            .unwrap();
        api.create_security_group()
            .vpc_id(&vpc)
            .group_name("dupes-app-again")
            .description("duplicate")
            .tag_specifications(tags("sg/app"))
            .send()
            .await
            .unwrap();
    });
    // (an Elastic IP with its tags and bound to nothing is not the
    // environment's once its first create completed: see the boundary tests)
    assert!(leftovers(&env.api, "dupes").len() > 15);
    destroy_leaves_nothing(&ws, &env.api, "dupes");
}

#[test]
fn the_create_timeout_bounds_the_wait_and_keeps_what_exists() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("slow").replace(
        "  nat_gateways = \"single\"",
        "  nat_gateways = \"single\"\n  timeouts {\n    create = \"8s\"\n  }",
    ));
    // (a create first looks for what an interrupted one made, twice, 2 s
    // apart: a budget of a few seconds would end before the VPC on a busy
    // machine, and rightly leave nothing in state)
    // a NAT gateway that never leaves `pending`
    env.layer.inject(
        "ec2:DescribeNatGateways",
        Fault::Rewrite {
            from: "<state>available</state>".into(),
            to: "<state>pending</state>".into(),
        },
        usize::MAX,
    );
    let started = std::time::Instant::now();
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    let waited = started.elapsed();
    assert_ne!(run.code, 0);
    assert!(run.text().contains("timed out"), "{}", run.text());
    assert!(
        waited < std::time::Duration::from_secs(30),
        "the 8s timeout took {waited:?}"
    );
    let partial = ws.resource_values("prodvpc_environment.slow");
    assert!(
        partial["vpc_id"].as_str().is_some(),
        "what exists is kept in state: {partial}"
    );
    env.layer.clear_faults();
    // with the NAT gateway available again the create completes
    ws.write(&small("slow"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.assert_no_changes("after the apply");
    destroy_leaves_nothing(&ws, &env.api, "slow");
}

#[test]
fn a_load_balancer_and_group_deleted_out_of_band_are_recreated() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("mended"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let before = ws.resource_values("prodvpc_environment.mended");
    // deleted through the layer, as in AWS: the model sees the deletions (the
    // load balancer's interfaces linger, the group's instances shut down)
    let elsewhere = Api::new(&env.layer.endpoint());
    runtime().block_on(async {
        elsewhere
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(before["alb_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        elsewhere
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name("mended-app")
            .force_delete(true)
            .send()
            .await
            .unwrap();
    });
    let plan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(
        plan.stdout.contains("alb is missing") && plan.stdout.contains("asg is missing"),
        "{}",
        plan.stdout
    );
    // the recreated group's name is the one the environment's name gives: known
    let said = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("autoscaling_group_name = \"mended-app\""),
        "{}",
        plan.stdout
    );
    // and the load balancer's hosted zone, the region's for every one, stays known
    assert!(!said.contains("alb_zone_id"), "{}", plan.stdout);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let after = ws.resource_values("prodvpc_environment.mended");
    assert!(after["alb_arn"]
        .as_str()
        .is_some_and(|arn| Some(arn) != before["alb_arn"].as_str()));
    assert_eq!(after["autoscaling_group_name"], "mended-app");
    assert_eq!(after["vpc_id"], before["vpc_id"]);
    ws.assert_no_changes("after the apply");
    destroy_leaves_nothing(&ws, &env.api, "mended");
}

#[test]
fn an_interrupt_stops_the_apply_and_keeps_what_was_built() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("halt"));
    // a slow region, so the apply is still building when the interrupt comes
    env.layer.set_latency(std::time::Duration::from_millis(400));
    let apply = ws.spawn(&["apply", "-auto-approve", "-no-color"]);
    let started = std::time::Instant::now();
    // interrupted once the VPC exists and the subnets are on their way
    while env.layer.count("ec2:CreateSubnet") == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the apply never reached CreateSubnet"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // as a terminal's Ctrl-C: SIGINT to terraform and the provider alike
    let group = format!("-{}", apply.id());
    let signalled = std::process::Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let out = apply.wait_with_output().expect("terraform exits");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "an interrupted apply must fail:\n{text}"
    );
    assert!(
        text.contains("interrupted: Terraform asked the provider to stop"),
        "the provider did not report the stop:\n{text}"
    );
    env.layer.set_latency(std::time::Duration::ZERO);
    assert_eq!(
        env.layer.count("autoscaling:CreateAutoScalingGroup"),
        0,
        "the apply went on after the interrupt"
    );
    // the provider survived the signal and returned what exists
    let partial = ws.resource_values("prodvpc_environment.halt");
    assert!(
        partial["vpc_id"]
            .as_str()
            .is_some_and(|v| v.starts_with("vpc-")),
        "state keeps what was created: {partial}"
    );

    ws.ok(&["untaint", "prodvpc_environment.halt"]);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let done = ws.resource_values("prodvpc_environment.halt");
    assert_eq!(done["vpc_id"], partial["vpc_id"], "resumed, not rebuilt");
    assert!(done["autoscaling_group_name"].as_str().is_some());
    // calls abandoned by the interrupt left nothing twice: found by tags, adopted
    let subnets = runtime().block_on(tagged_subnets(&env.api, "halt"));
    assert_eq!(subnets, 4, "four subnets");
    ws.assert_no_changes("after the apply");
    destroy_leaves_nothing(&ws, &env.api, "halt");
}

#[test]
fn a_failed_destroy_keeps_the_environment_in_state() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("stays"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    env.layer.inject(
        "ec2:DeleteVpc",
        Fault::Error {
            status: 400,
            code: "UnauthorizedOperation".into(),
        },
        1,
    );
    let failed = ws.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_ne!(failed.code, 0, "the injected failure must fail the destroy");
    assert!(
        failed.text().contains("UnauthorizedOperation"),
        "{}",
        failed.text()
    );
    // still tracked, so the next destroy finishes the job
    let listed = ws.ok(&["state", "list"]);
    assert!(
        listed.stdout.contains("prodvpc_environment.stays"),
        "the environment left the state while its VPC exists:\n{}",
        listed.stdout
    );
    destroy_leaves_nothing(&ws, &env.api, "stays");
}

#[test]
fn a_second_configuration_with_the_same_name_is_refused_and_cannot_touch_the_first() {
    let env = Emulator::aws_like();
    let first = Workspace::new(Some(env.layer.endpoint()));
    first.write(&small("shared"));
    first.ok(&["apply", "-auto-approve", "-no-color"]);
    let owned = first.resource_values("prodvpc_environment.shared");
    let before = leftovers(&env.api, "shared");

    let second = Workspace::new(Some(env.layer.endpoint()));
    second.write(&small("shared").replace("198.51.100.0/24", "192.0.2.0/24"));
    let run = second.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.code, 0, "the second create must fail:\n{}", run.text());
    let text = run.text();
    assert!(text.contains("already exists"), "{text}");
    assert!(
        text.contains("terraform import"),
        "the fix is named: {text}"
    );
    assert!(
        second
            .resource_values("prodvpc_environment.shared")
            .is_null(),
        "the refused create records nothing that a destroy could act on"
    );
    // the second configuration's destroy has nothing to delete
    second.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        leftovers(&env.api, "shared"),
        before,
        "the first environment is intact"
    );
    let bastion_group = owned["security_group_ids"]["bastion"]
        .as_str()
        .expect("bastion group")
        .to_string();
    let rules = runtime().block_on(env.api.ingress(&bastion_group));
    assert!(
        rules.contains("tcp/22 198.51.100.0/24") && !rules.contains("tcp/22 192.0.2.0/24"),
        "the first environment's rules are its own: {rules:?}"
    );
    first.assert_no_changes("after the refused second create");
    let stale = std::fs::read_to_string(first.path().join("terraform.tfstate")).unwrap();
    destroy_leaves_nothing(&first, &env.api, "shared");

    // Once the first is gone the name is free: the second builds its own. A
    // destroy from the first's stale state (its VPC gone) touches none of it.
    second.ok(&["apply", "-auto-approve", "-no-color"]);
    let successor = leftovers(&env.api, "shared");
    first.write_state(&stale);
    first.ok(&["destroy", "-auto-approve", "-refresh=false", "-no-color"]);
    assert_eq!(
        leftovers(&env.api, "shared"),
        successor,
        "a stale state's destroy left the successor alone"
    );
    second.assert_no_changes("after the stale destroy");
    destroy_leaves_nothing(&second, &env.api, "shared");
}

#[test]
fn create_before_destroy_cannot_reuse_the_name_and_deletes_nothing() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    let config = small("cbd").replace(
        "  nat_gateways = \"single\"\n",
        "  nat_gateways = \"single\"\n  vpc_cidr = \"10.0.0.0/16\"\n  lifecycle {\n    create_before_destroy = true\n  }\n",
    );
    ws.write(&config);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let vpc = ws.resource_values("prodvpc_environment.cbd")["vpc_id"].clone();
    let before = leftovers(&env.api, "cbd");
    // a vpc_cidr change forces a replacement, which create_before_destroy creates first
    ws.write(&config.replace("10.0.0.0/16", "10.1.0.0/16"));
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.text());
    assert!(run.text().contains("already exists"), "{}", run.text());
    assert_eq!(
        leftovers(&env.api, "cbd"),
        before,
        "nothing was deleted or added"
    );
    assert_eq!(
        ws.resource_values("prodvpc_environment.cbd")["vpc_id"],
        vpc,
        "state still tracks the live environment"
    );
    ws.write(&config);
    ws.assert_no_changes("back on the original configuration");
    destroy_leaves_nothing(&ws, &env.api, "cbd");
}

#[test]
fn a_failed_update_keeps_the_change_pending_until_a_later_apply_makes_it() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    let config = small("honest").replace(
        "  bastion {",
        "  app {\n    health_check_path = \"/\"\n  }\n  bastion {",
    );
    ws.write(&config);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.write(&config.replace(
        "health_check_path = \"/\"",
        "health_check_path = \"/healthz\"",
    ));
    env.layer.inject(
        "elasticloadbalancing:ModifyTargetGroup",
        Fault::Error {
            status: 400,
            code: "AccessDenied".into(),
        },
        20,
    );
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(
        run.code,
        0,
        "the refused call fails the apply:\n{}",
        run.text()
    );
    assert!(run.text().contains("AccessDenied"), "{}", run.text());
    let state = ws.resource_values("prodvpc_environment.honest");
    assert_eq!(
        state["app"][0]["health_check_path"], "/",
        "state records what AWS has, not what was asked: {state}"
    );
    env.layer.clear_faults();
    let plan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.code,
        2,
        "the change is still pending:\n{}",
        plan.text()
    );
    assert!(plan.stdout.contains("/healthz"), "{}", plan.stdout);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let arn = ws.resource_values("prodvpc_environment.honest")["target_group_arn"]
        .as_str()
        .expect("target group")
        .to_string();
    let path = runtime().block_on(async {
        env.api
            .elbv2
            .describe_target_groups()
            .target_group_arns(&arn)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .health_check_path()
            .map(str::to_string)
    });
    assert_eq!(path.as_deref(), Some("/healthz"));
    ws.assert_no_changes("after the finishing apply");
    destroy_leaves_nothing(&ws, &env.api, "honest");
}

#[test]
fn timeouts_bound_slow_calls_as_well_as_waits() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("sluggish").replace(
        "  nat_gateways = \"single\"",
        "  nat_gateways = \"single\"\n  timeouts {\n    create = \"2s\"\n  }",
    ));
    // every call as slow as a distant, busy region: the create needs far more than 2s
    env.layer.set_latency(std::time::Duration::from_millis(400));
    let started = std::time::Instant::now();
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.text());
    let text = run.text();
    let said = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // the whole budget, and what was pending when it ran out: a wait, or the
    // AWS calls still unanswered, by name
    assert!(said.contains("timed out after 2.0s waiting for "), "{said}");
    let pending = said.split("waiting for ").nth(1).unwrap_or_default();
    assert!(
        pending.starts_with("AWS to answer EC2.") || pending.starts_with("the "),
        "{said}"
    );
    // plan and refresh calls at 400 ms each come on top of the 2s create budget
    assert!(
        took < std::time::Duration::from_secs(15),
        "the 2s create timeout took {took:?}"
    );

    // finished at full speed, then an update and a destroy each bounded by their own timeout
    env.layer.set_latency(std::time::Duration::ZERO);
    let bounded = |update: &str, delete: &str| {
        small("sluggish").replace(
            "  nat_gateways = \"single\"",
            &format!("  nat_gateways = \"single\"\n  timeouts {{\n    create = \"30m\"\n    update = \"{update}\"\n    delete = \"{delete}\"\n  }}"),
        )
    };
    ws.write(&bounded("30m", "2s"));
    // the budget ran out before the first create call: nothing exists, so no
    // (tainted) state either, and the next apply is a plain create
    let listed = ws.run(&["state", "list"]);
    assert_eq!(listed.stdout.trim(), "", "{}", listed.text());
    assert_eq!(leftovers(&env.api, "sluggish"), Vec::<String>::new());
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.write(&bounded("2s", "2s").replace("198.51.100.0/24", "192.0.2.0/24"));
    env.layer.set_latency(std::time::Duration::from_millis(400));
    for (args, phase) in [
        (&["apply", "-auto-approve", "-no-color"][..], "update"),
        (&["destroy", "-auto-approve", "-no-color"][..], "destroy"),
    ] {
        let run = ws.run(args);
        assert_ne!(run.code, 0, "the {phase} must time out: {}", run.text());
        let said = run.text().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            said.contains("timed out after 2.0s waiting for "),
            "{phase}: {said}"
        );
    }
    // a destroy takes the timeouts in state: raised by an apply first
    env.layer.set_latency(std::time::Duration::ZERO);
    ws.write(&bounded("30m", "30m"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(leftovers(&env.api, "sluggish"), Vec::<String>::new());
}

#[test]
fn apply_returns_once_the_load_balancer_is_active_and_min_size_instances_are_healthy() {
    let env = Emulator::aws_like();
    // the app's first boot needs the internet: an instance launched before
    // its private subnet routes to an available NAT gateway never serves
    env.layer.model().set_boot_needs_way_out(true);
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&small("serving"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let state = ws.resource_values("prodvpc_environment.serving");
    // asked through the layer, which answers as AWS would (moto alone reports
    // every load balancer active and every target healthy at once)
    let seen = Api::new(&env.layer.endpoint());
    let (lb_state, healthy) = runtime().block_on(async {
        let lb = seen
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(state["alb_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let lb_state = lb.load_balancers()[0]
            .state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string());
        let health = seen
            .elbv2
            .describe_target_health()
            .target_group_arn(state["target_group_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let healthy = health
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                d.target_health()
                    .and_then(|h| h.state())
                    .is_some_and(|s| s.as_str() == "healthy")
            })
            .count();
        (lb_state, healthy)
    });
    assert_eq!(lb_state.as_deref(), Some("active"));
    assert!(
        healthy >= 2,
        "min_size (2) instances healthy when apply returned: {healthy}"
    );
    destroy_leaves_nothing(&ws, &env.api, "serving");
}
