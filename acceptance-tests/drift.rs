//! Complete drift: everything the provider sets is changed out of band through
//! the API, the refresh shows each change in `drift` with what apply does about
//! it, apply restores it (checked through the API), and the plan after is empty.
//! Several kinds of drift share one environment, since every apply costs seconds.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, HttpTokensState, IpPermission, IpRange, Ipv6Range,
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, RequestLaunchTemplateData, Tag,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ListenerAttribute, RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use crate::harness::faults::{Fault, FaultLayer};
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Live};

const ADDRESS: &str = "prodvpc_environment.drift";

fn config(team: &str, instance_type: &str) -> String {
    format!(
        r#"provider "prodvpc" {{
  default_tags {{
    tags = {{ cost_center = "100" }}
  }}
}}

resource "prodvpc_environment" "drift" {{
  name         = "drift"
  vpc_cidr     = "10.40.0.0/16"
  nat_gateways = "single"
  app {{
    port              = 8080
    instance_type     = "{instance_type}"
    min_size          = 1
    max_size          = 3
    health_check_path = "/health"
  }}
  bastion {{
    ssh_ingress_cidrs = ["198.51.100.0/24"]
  }}
  tags = {{ team = "{team}" }}
}}
"#
    )
}

impl Live {
    /// The environment every drift test tampers with, applied and settled.
    fn settled() -> Live {
        let live = Live::apply(&config("a", "t3.micro"), ADDRESS, |_| {});
        live.ws.assert_no_changes("after the apply");
        live
    }

    /// Plans into a file; returns the plan's text and the paths `after_unknown` marks.
    fn saved_plan(&self) -> (String, Vec<String>) {
        let plan = self.ws.run(&[
            "plan",
            "-detailed-exitcode",
            "-no-color",
            "-out=drift.tfplan",
        ]);
        assert_eq!(plan.code, 2, "the drift is not planned:\n{}", plan.text());
        let shown = self.ws.ok(&["show", "-json", "drift.tfplan"]);
        let json: serde_json::Value = serde_json::from_str(&shown.stdout).expect("plan json");
        let change = json["resource_changes"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["address"] == ADDRESS))
            .map(|r| r["change"].clone())
            .expect("the environment is in the plan");
        assert_eq!(change["actions"], serde_json::json!(["update"]));
        let mut unknown = Vec::new();
        unknown_paths("", &change["after_unknown"], &mut unknown);
        (plan.text(), unknown)
    }

    /// Applies the saved plan; every attribute in `kept` is as it was in
    /// `before`. Returns the state after.
    fn apply_saved_plan(&self, before: &serde_json::Value, kept: &[&str]) -> serde_json::Value {
        self.ws
            .ok(&["apply", "-auto-approve", "-no-color", "drift.tfplan"]);
        let after = self.state();
        for key in kept {
            assert_eq!(after[key], before[key], "{key} survives the repair");
        }
        after
    }

    /// The `posture` the refresh of the saved plan found (Terraform keeps the
    /// refreshed state in the plan, not in the state file).
    fn refreshed_posture(&self) -> BTreeMap<String, String> {
        let shown = self.ws.ok(&["show", "-json", "drift.tfplan"]);
        let json: serde_json::Value = serde_json::from_str(&shown.stdout).expect("plan json");
        json["prior_state"]["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["address"] == ADDRESS))
            .map(|r| string_map(&r["values"]["posture"]))
            .expect("the environment is in the refreshed state")
    }

    /// The ID of one of the environment's route tables, by component key.
    fn route_table(&self, component: &str) -> String {
        runtime().block_on(async {
            let out = self
                .api
                .ec2
                .describe_route_tables()
                .filters(tag("prodvpc:environment", "drift"))
                .filters(tag("prodvpc:component", component))
                .send()
                .await
                .unwrap();
            out.route_tables()[0].route_table_id().unwrap().to_string()
        })
    }
}

fn tag(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// Every path under `value` that is `true` (unknown after apply).
fn unknown_paths(prefix: &str, value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Bool(true) => into.push(prefix.to_string()),
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                unknown_paths(&path, inner, into);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                unknown_paths(&format!("{prefix}[{index}]"), inner, into);
            }
        }
        _ => {}
    }
}

fn assert_mentions(plan: &str, expected: &[&str]) {
    for entry in expected {
        assert!(
            plan.contains(entry),
            "the plan does not say {entry:?}:\n{plan}"
        );
    }
}

/// Asserts each control's verdict: `pass`, or a failure whose reason contains the text.
fn assert_posture(posture: &BTreeMap<String, String>, expected: &[(&str, &str)]) {
    for (control, verdict) in expected {
        let found = posture
            .get(*control)
            .unwrap_or_else(|| panic!("{control} is not judged: {posture:#?}"));
        let matches = if *verdict == "pass" {
            found == "pass"
        } else {
            found.starts_with("fail: ") && found.contains(verdict)
        };
        assert!(matches, "{control} is {found:?}, expected {verdict:?}");
    }
}

/// The controls an environment built with the drift configuration passes, as
/// built and again after every repair.
const PASSED_BY_DEFAULT: [(&str, &str); 12] = [
    ("EC2.2", "pass"),
    ("EC2.3", "pass"),
    ("EC2.8", "pass"),
    ("EC2.18", "pass"),
    ("EC2.19", "pass"),
    ("EC2.25", "pass"),
    ("EC2.170", "pass"),
    ("ELB.4", "pass"),
    ("ELB.13", "pass"),
    ("AutoScaling.1", "pass"),
    ("AutoScaling.2", "pass"),
    ("AutoScaling.9", "pass"),
];

fn tcp(port: i32) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
}

#[test]
fn network_rules_tags_and_settings_drift_is_planned_repaired_and_settled() {
    let live = Live::settled();
    let state = live.state();
    // judged from AWS after the apply: the provider's defaults pass, and the
    // failures by design or by choice say why
    let posture = string_map(&state["posture"]);
    assert_posture(&posture, &PASSED_BY_DEFAULT);
    assert_posture(
        &posture,
        &[
            ("EC2.9", "has public IPv4"),
            ("EC2.9", "by design, as the SSH entry point"),
            (
                "EC2.15",
                "assign public IPv4 on launch by design (the bastion's address)",
            ),
            ("EC2.6", "the VPC has no flow log: set flow_logs"),
            ("ELB.5", "writes no access logs (load_balancer.access_logs)"),
            (
                "ELB.6",
                "no deletion protection (load_balancer.deletion_protection)",
            ),
            ("ELB.1", "serves without redirecting to HTTPS"),
        ],
    );
    // the flow logs cost a refresh one call, asked by the VPC in state
    live.layer.reset_counts();
    live.ws.assert_no_changes("a second refresh");
    assert_eq!(live.layer.count("ec2:DescribeFlowLogs"), 1);
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let igw = state["internet_gateway_id"].as_str().unwrap().to_string();
    let public = string_map(&state["public_subnet_ids"]);
    let (zone, subnet) = public
        .iter()
        .next()
        .map(|(z, s)| (z.clone(), s.clone()))
        .unwrap();
    let private = string_map(&state["private_subnet_ids"]);
    let groups = string_map(&state["security_group_ids"]);
    let group_name = state["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    let target_group = state["target_group_arn"].as_str().unwrap().to_string();
    let http = string_map(&state["listener_arns"])["http"].clone();
    let bastion = state["bastion_instance_id"].as_str().unwrap().to_string();
    let public_table = live.route_table("rtb/public");
    let api = &live.api;
    let default_group = runtime().block_on(async {
        let out = api
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values(&vpc).build())
            .filters(
                Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.security_groups()[0].group_id().unwrap().to_string()
    });

    // through the AWS model, which knows route propagation (moto does not):
    // the public table takes a virtual private gateway's routes, and is made
    // the internet gateway's edge route table (ingress routing)
    let operator = Api::operator(&live.layer.endpoint());
    runtime().block_on(async {
        operator
            .ec2
            .enable_vgw_route_propagation()
            .route_table_id(&public_table)
            .gateway_id("vgw-0123456789abcdef0")
            .send()
            .await
            .unwrap();
        operator
            .ec2
            .associate_route_table()
            .route_table_id(&public_table)
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
    });
    runtime().block_on(async {
        let ec2 = &api.ec2;
        // VPC DNS hostnames off, a public subnet without public IP mapping, a
        // private subnet associated with the public route table, an extra route
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .unwrap();
        ec2.modify_subnet_attribute()
            .subnet_id(&subnet)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .unwrap();
        ec2.create_route()
            .route_table_id(&public_table)
            .destination_cidr_block("192.0.2.0/24")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        // rules: IPv6 SSH into the app, an egress rule on the ALB group, rules on the default group
        ec2.authorize_security_group_ingress()
            .group_id(&groups["app"])
            .ip_permissions(
                tcp(22)
                    .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ec2.authorize_security_group_egress()
            .group_id(&groups["alb"])
            .ip_permissions(
                tcp(5432)
                    .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&default_group)
            .ip_permissions(
                tcp(80)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // a flow log of rejected traffic, which the provider neither makes nor removes
        let flow = ec2
            .create_flow_logs()
            .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
            .resource_ids(&vpc)
            .traffic_type(aws_sdk_ec2::types::TrafficType::Reject)
            .log_destination_type(aws_sdk_ec2::types::LogDestinationType::CloudWatchLogs)
            .log_group_name("drift-flow")
            .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/flow-logs")
            .send()
            .await
            .unwrap();
        assert!(flow.unsuccessful().is_empty(), "{flow:?}");
        // tags: one removed, one added, a Name changed
        ec2.delete_tags()
            .resources(&private[&zone])
            .tags(Tag::builder().key("team").build())
            .send()
            .await
            .unwrap();
        ec2.create_tags()
            .resources(&vpc)
            .tags(Tag::builder().key("rogue").value("yes").build())
            .send()
            .await
            .unwrap();
        ec2.create_tags()
            .resources(&igw)
            .tags(Tag::builder().key("Name").value("renamed").build())
            .send()
            .await
            .unwrap();
        // the bastion answers metadata requests without a token, to a
        // container behind it too, and with its endpoint off
        ec2.modify_instance_metadata_options()
            .instance_id(&bastion)
            .http_tokens(HttpTokensState::Optional)
            .http_put_response_hop_limit(2)
            .http_endpoint(aws_sdk_ec2::types::InstanceMetadataEndpointState::Disabled)
            .send()
            .await
            .unwrap();
        // and routes traffic not addressed to it
        ec2.modify_instance_attribute()
            .instance_id(&bastion)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .unwrap();
        // the group's bounds, grace period and health check type, the target
        // group's health check, the listener's action
        api.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group_name)
            .max_size(7)
            .health_check_grace_period(0)
            .health_check_type("EC2")
            .send()
            .await
            .unwrap();
        api.elbv2
            .modify_target_group()
            .target_group_arn(&target_group)
            .health_check_path("/tampered")
            .health_check_interval_seconds(30)
            .send()
            .await
            .unwrap();
        api.elbv2
            .modify_listener()
            .listener_arn(&http)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Redirect)
                    .redirect_config(
                        RedirectActionConfig::builder()
                            .protocol("HTTPS")
                            .port("443")
                            .status_code(RedirectActionStatusCodeEnum::Http302)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });

    let (plan, unknown) = live.saved_plan();
    assert_mentions(
        &plan,
        &[
            "vpc has DNS hostnames off; apply turns it on",
            &format!("subnet/public/{zone} does not map public IPs on launch; apply turns it on"),
            "rtb/public has an extra route to 192.0.2.0/24 via",
            &format!("rtb/public is the edge route table of gateway {igw}, so traffic arriving through it is routed by this table; apply disassociates it"),
            "rtb/public takes the routes virtual private gateway vgw-0123456789abcdef0 propagates; apply turns route propagation off",
            "sg/app has an extra ingress rule tcp/22 from ::/0; apply removes it",
            "sg/alb has an extra egress rule tcp/5432 to 10.0.0.0/8; apply removes it",
            "sg/default has an extra ingress rule tcp/80 from 0.0.0.0/0; apply removes it",
            &format!("subnet/private/{zone} lacks tag team = \\\"a\\\"; apply retags it"),
            "vpc has an extra tag rogue = \\\"yes\\\"; apply retags it",
            "igw has tag Name = \\\"renamed\\\" instead of \\\"drift-igw\\\"; apply retags it",
            "bastion has IMDSv2 optional, metadata hop limit 2 instead of 1, metadata endpoint disabled instead of enabled; apply restores its metadata options",
            "bastion has source/destination check off, so it forwards traffic not addressed to it; apply turns it back on",
            "asg has max size 7 instead of 3; apply restores it",
            "asg has health check grace period 0s instead of 300s; apply restores it",
            "asg uses EC2 health checks instead of ELB; apply restores it",
            "tg health check has path /tampered instead of /health, interval 30s instead of 15s; apply restores it",
            "listener/http does not forward to the target group; apply restores it",
        ],
    );
    // and on the attributes that state those settings, as AWS has them
    let said = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    for change in [
        "~ max_size = 7 -> 3",
        "~ health_check_grace_period = 0 -> 300",
        "~ health_check_path = \"/tampered\" -> \"/health\"",
    ] {
        assert!(
            said.contains(change),
            "the plan does not show {change:?}:\n{plan}"
        );
    }
    assert!(
        !plan.contains("Every app instance will be replaced"),
        "nothing here replaces instances:\n{plan}"
    );
    // every ID stays: the repair replaces nothing, so only the drift itself and
    // the posture judged after it are open
    assert_eq!(
        unknown,
        vec!["drift".to_string(), "posture".to_string()],
        "{plan}"
    );
    let refreshed = live.refreshed_posture();
    // port 80 from anywhere is authorized, even on the default group (EC2.2 covers it)
    assert_eq!(refreshed["EC2.18"], "fail: sg/app allows tcp/22 from ::/0");
    assert_posture(
        &refreshed,
        &[
            ("EC2.2", "default security group"),
            (
                "EC2.2",
                "has 1 ingress and 0 egress rules; apply strips them",
            ),
            ("EC2.8", "does not require IMDSv2 (http_tokens optional)"),
            ("EC2.18", "sg/app allows tcp/22 from ::/0"),
            ("EC2.19", "sg/app allows tcp/22 from ::/0"),
            ("EC2.6", "pass"),
            ("AutoScaling.1", "uses EC2 health checks, not ELB"),
        ],
    );

    let after = live.apply_saved_plan(
        &state,
        &[
            "vpc_id",
            "public_subnet_ids",
            "nat_gateway_ids",
            "security_group_ids",
            "bastion_instance_id",
            "launch_template_version",
            "target_group_arn",
            "listener_arns",
        ],
    );
    assert_eq!(after["drift"], serde_json::json!([]));
    let posture = string_map(&after["posture"]);
    assert_posture(&posture, &PASSED_BY_DEFAULT);
    // the flow log added out of band is observed, not removed
    assert_posture(&posture, &[("EC2.6", "pass")]);

    runtime().block_on(async {
        let tables = operator
            .ec2
            .describe_route_tables()
            .route_table_ids(&public_table)
            .send()
            .await
            .unwrap();
        let table = &tables.route_tables()[0];
        assert!(table.propagating_vgws().is_empty(), "{table:?}");
        assert!(
            table
                .associations()
                .iter()
                .all(|a| a.gateway_id().is_none()),
            "{table:?}"
        );
    });
    runtime().block_on(async {
        let ec2 = &api.ec2;
        let hostnames = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc)
            .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap();
        assert_eq!(
            hostnames.enable_dns_hostnames().and_then(|v| v.value()),
            Some(true)
        );
        let subnets = ec2
            .describe_subnets()
            .subnet_ids(&subnet)
            .send()
            .await
            .unwrap();
        assert_eq!(subnets.subnets()[0].map_public_ip_on_launch(), Some(true));
        let tables = ec2
            .describe_route_tables()
            .route_table_ids(&public_table)
            .send()
            .await
            .unwrap();
        assert!(tables.route_tables()[0]
            .routes()
            .iter()
            .all(|r| r.destination_cidr_block() != Some("192.0.2.0/24")));
        assert!(api
            .ingress(&groups["app"])
            .await
            .iter()
            .all(|r| !r.contains("::/0")));
        let described = ec2
            .describe_security_groups()
            .group_ids(&groups["alb"])
            .group_ids(&default_group)
            .send()
            .await
            .unwrap();
        for group in described.security_groups() {
            if group.group_id() == Some(default_group.as_str()) {
                assert!(
                    group.ip_permissions().is_empty(),
                    "default group: {group:?}"
                );
                assert!(
                    group.ip_permissions_egress().is_empty(),
                    "default group: {group:?}"
                );
            } else {
                let egress = group.ip_permissions_egress();
                assert_eq!(egress.len(), 1, "only all traffic out: {egress:?}");
                assert_eq!(egress[0].ip_protocol(), Some("-1"));
            }
        }
        let tags_of = |tags: &[Tag]| -> BTreeMap<String, String> {
            tags.iter()
                .map(|t| {
                    (
                        t.key().unwrap().to_string(),
                        t.value().unwrap_or("").to_string(),
                    )
                })
                .collect()
        };
        let vpcs = ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        assert!(!tags_of(vpcs.vpcs()[0].tags()).contains_key("rogue"));
        let subnets = ec2
            .describe_subnets()
            .subnet_ids(&private[&zone])
            .send()
            .await
            .unwrap();
        assert_eq!(tags_of(subnets.subnets()[0].tags())["team"], "a");
        let igws = ec2
            .describe_internet_gateways()
            .internet_gateway_ids(&igw)
            .send()
            .await
            .unwrap();
        assert_eq!(
            tags_of(igws.internet_gateways()[0].tags())["Name"],
            "drift-igw"
        );
        let instances = ec2
            .describe_instances()
            .instance_ids(&bastion)
            .send()
            .await
            .unwrap();
        let instance = &instances.reservations()[0].instances()[0];
        assert_eq!(instance.source_dest_check(), Some(true));
        let metadata = instance.metadata_options().unwrap();
        assert_eq!(metadata.http_tokens(), Some(&HttpTokensState::Required));
        assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
        assert_eq!(
            metadata.http_endpoint(),
            Some(&aws_sdk_ec2::types::InstanceMetadataEndpointState::Enabled)
        );
        let group = api.group(&group_name).await;
        assert_eq!(group.max_size(), Some(3));
        assert_eq!(group.health_check_grace_period(), Some(300));
        let target_groups = api
            .elbv2
            .describe_target_groups()
            .target_group_arns(&target_group)
            .send()
            .await
            .unwrap();
        let tg = &target_groups.target_groups()[0];
        assert_eq!(tg.health_check_path(), Some("/health"));
        assert_eq!(tg.health_check_interval_seconds(), Some(15));
        let listener = api
            .listeners(state["alb_arn"].as_str().unwrap())
            .await
            .into_iter()
            .find(|l| l.listener_arn() == Some(http.as_str()))
            .unwrap();
        let action = &listener.default_actions()[0];
        assert_eq!(action.r#type(), Some(&ActionTypeEnum::Forward));
        assert_eq!(action.target_group_arn(), Some(target_group.as_str()));
    });
    live.ws.assert_no_changes("after the repair");
}

/// Tags of one EC2 object, read through the API.
fn ec2_tags(api: &Api, id: &str) -> BTreeMap<String, String> {
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_tags()
            .filters(Filter::builder().name("resource-id").values(id).build())
            .send()
            .await
            .unwrap();
        out.tags()
            .iter()
            .map(|t| {
                let text = |v: Option<&str>| v.unwrap_or_default().to_string();
                (text(t.key()), text(t.value()))
            })
            .collect()
    })
}

#[test]
fn the_provider_s_own_tags_removed_or_changed_are_tag_drift_and_nothing_is_built_twice() {
    let live = Live::settled();
    // reading by the VPC replaced the tag filters: one describe per type, the
    // VPC's default security group listed with its other groups
    live.layer.reset_counts();
    live.ws.assert_no_changes("a second refresh");
    let counts = live.layer.counts();
    for action in [
        "ec2:DescribeVpcs",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeInternetGateways",
        "ec2:DescribeEgressOnlyInternetGateways",
        "ec2:DescribeRouteTables",
        "ec2:DescribeInstances",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeAddresses",
        "ec2:DescribeLaunchTemplates",
    ] {
        assert_eq!(counts.get(action).copied(), Some(1), "{action}: {counts:?}");
    }
    // besides one describe per object type: the bastion's termination and
    // stop protection (one attribute per call), the subnets' network ACLs,
    // the listener's rules and the target group's registrations
    assert_eq!(
        counts.get("ec2:DescribeInstanceAttribute").copied(),
        Some(2),
        "{counts:?}"
    );
    for action in [
        "ec2:DescribeNetworkAcls",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        // the listener's response headers
        "elasticloadbalancing:DescribeListenerAttributes",
        // what the group runs besides the environment's policy
        "autoscaling:DescribePolicies",
        "autoscaling:DescribeScheduledActions",
        "autoscaling:DescribeLifecycleHooks",
        "autoscaling:DescribeNotificationConfigurations",
        // the root of the image the template and the bastion run, once a process
        "ec2:DescribeImages",
        // another's virtual private gateways attached to the VPC
        "ec2:DescribeVpnGateways",
        // another's interfaces in the VPC, told from the NAT gateways' (in
        // every state: a deleted one's interface lingers) by a second
        // DescribeNatGateways
        "ec2:DescribeNetworkInterfaces",
    ] {
        assert_eq!(counts.get(action).copied(), Some(1), "{action}: {counts:?}");
    }
    assert_eq!(
        counts.get("ec2:DescribeNatGateways").copied(),
        Some(2),
        "{counts:?}"
    );
    // the load balancer's, target group's and listeners' tags in one DescribeTags
    assert_eq!(counts.values().sum::<usize>(), 39, "{counts:?}");
    let state = live.state();
    let api = &live.api;
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let (zone, subnet) = string_map(&state["public_subnet_ids"])
        .into_iter()
        .next()
        .unwrap();
    let app_group = string_map(&state["security_group_ids"])["app"].clone();
    let (nat_zone, nat) = string_map(&state["nat_gateway_ids"])
        .into_iter()
        .next()
        .unwrap();
    let template = state["launch_template_id"].as_str().unwrap().to_string();
    let alb = state["alb_arn"].as_str().unwrap().to_string();
    let group_name = state["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    let environment_tag = || Tag::builder().key("prodvpc:environment").build();
    let address = runtime().block_on(async {
        let ec2 = &api.ec2;
        let out = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&nat)
            .send()
            .await
            .unwrap();
        let address = out.nat_gateways()[0].nat_gateway_addresses()[0]
            .allocation_id()
            .unwrap()
            .to_string();
        // the environment tag (and the VPC's completion marker) removed from
        // the VPC, a security group, the NAT gateway, its address and the
        // launch template; a subnet's component key changed
        ec2.delete_tags()
            .resources(&vpc)
            .tags(environment_tag())
            .tags(Tag::builder().key("prodvpc:status").build())
            .send()
            .await
            .unwrap();
        for id in [&app_group, &nat, &address, &template] {
            ec2.delete_tags()
                .resources(id)
                .tags(environment_tag())
                .send()
                .await
                .unwrap();
        }
        ec2.create_tags()
            .resources(&subnet)
            .tags(
                Tag::builder()
                    .key("prodvpc:component")
                    .value("tampered")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // and from the load balancer and the Auto Scaling group, found by name
        api.elbv2
            .remove_tags()
            .resource_arns(&alb)
            .tag_keys("prodvpc:environment")
            .send()
            .await
            .unwrap();
        api.autoscaling
            .delete_tags()
            .tags(
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(&group_name)
                    .resource_type("auto-scaling-group")
                    .key("prodvpc:environment")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        address
    });

    let (plan, unknown) = live.saved_plan();
    let lacks = |component: &str| {
        format!("{component} lacks tag prodvpc:environment = \\\"drift\\\"; apply retags it")
    };
    assert_mentions(
        &plan,
        &[
            &lacks("vpc"),
            &lacks("sg/app"),
            &lacks(&format!("nat/{nat_zone}")),
            &lacks(&format!("eip/{nat_zone}")),
            &lacks("lt"),
            &lacks("alb"),
            &lacks("asg"),
            &format!(
                "subnet/public/{zone} has tag prodvpc:component = \\\"tampered\\\" instead of \\\"subnet/public/{zone}\\\"; apply retags it"
            ),
        ],
    );
    assert!(!plan.contains("is missing"), "nothing is missing:\n{plan}");
    assert_eq!(
        unknown,
        vec!["drift".to_string(), "posture".to_string()],
        "a retag replaces nothing:\n{plan}"
    );

    live.apply_saved_plan(
        &state,
        &[
            "vpc_id",
            "public_subnet_ids",
            "private_subnet_ids",
            "nat_gateway_ids",
            "nat_public_ips",
            "security_group_ids",
            "launch_template_id",
            "alb_arn",
        ],
    );
    for id in [&vpc, &app_group, &nat, &address, &template] {
        assert_eq!(
            ec2_tags(api, id)
                .get("prodvpc:environment")
                .map(String::as_str),
            Some("drift"),
            "{id} is retagged"
        );
    }
    assert_eq!(
        ec2_tags(api, &vpc)
            .get("prodvpc:status")
            .map(String::as_str),
        Some("complete"),
        "the VPC's completion marker is restored"
    );
    assert_eq!(
        ec2_tags(api, &subnet)["prodvpc:component"],
        format!("subnet/public/{zone}")
    );
    runtime().block_on(async {
        let tags = api
            .elbv2
            .describe_tags()
            .resource_arns(&alb)
            .send()
            .await
            .unwrap();
        let alb_tags = tags.tag_descriptions()[0].tags();
        assert!(
            alb_tags
                .iter()
                .any(|t| t.key() == Some("prodvpc:environment") && t.value() == Some("drift")),
            "{alb_tags:?}"
        );
        let group = api.group(&group_name).await;
        assert!(
            group
                .tags()
                .iter()
                .any(|t| t.key() == Some("prodvpc:environment") && t.value() == Some("drift")),
            "{:?}",
            group.tags()
        );
        // one of each, as before: nothing was built a second time
        let ec2 = &api.ec2;
        let vpcs = ec2.describe_vpcs().send().await.unwrap();
        let ours = vpcs
            .vpcs()
            .iter()
            .filter(|v| v.cidr_block() == Some("10.40.0.0/16"))
            .count();
        assert_eq!(ours, 1, "one VPC");
        let in_vpc = || Filter::builder().name("vpc-id").values(&vpc).build();
        let subnets = ec2
            .describe_subnets()
            .filters(in_vpc())
            .send()
            .await
            .unwrap();
        assert_eq!(subnets.subnets().len(), 4, "two zones, two tiers");
        let nats = ec2
            .describe_nat_gateways()
            .filter(in_vpc())
            .send()
            .await
            .unwrap();
        let live_nats = nats
            .nat_gateways()
            .iter()
            .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
            .count();
        assert_eq!(live_nats, 1, "one NAT gateway (`single`)");
        let addresses = ec2.describe_addresses().send().await.unwrap();
        assert_eq!(addresses.addresses().len(), 1, "one Elastic IP");
        let templates = ec2.describe_launch_templates().send().await.unwrap();
        assert_eq!(templates.launch_templates().len(), 1, "one launch template");
        let balancers = api.elbv2.describe_load_balancers().send().await.unwrap();
        assert_eq!(balancers.load_balancers().len(), 1, "one load balancer");
    });
    live.ws.assert_no_changes("after the retag");
}

/// A copy of the launch template's version with IMDSv2 optional, an unencrypted
/// root volume and a public IP, as someone might write it by hand.
fn tampered_version(api: &Api, template: &str, state: &serde_json::Value) -> i64 {
    let image = state["app"][0]["ami_id"].as_str().unwrap();
    let group = string_map(&state["security_group_ids"])["app"].clone();
    runtime().block_on(async {
        let out = api
            .ec2
            .create_launch_template_version()
            .launch_template_id(template)
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id(image)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .metadata_options(
                        LaunchTemplateInstanceMetadataOptionsRequest::builder()
                            .http_tokens(LaunchTemplateHttpTokensState::Optional)
                            .build(),
                    )
                    .block_device_mappings(
                        LaunchTemplateBlockDeviceMappingRequest::builder()
                            .device_name("/dev/xvda")
                            .ebs(
                                LaunchTemplateEbsBlockDeviceRequest::builder()
                                    .encrypted(false)
                                    .volume_size(20)
                                    .build(),
                            )
                            .build(),
                    )
                    .network_interfaces(
                        LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                            .device_index(0)
                            .associate_public_ip_address(true)
                            .groups(group)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap()
    })
}

fn default_version(api: &Api, template: &str) -> i64 {
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_launch_templates()
            .launch_template_ids(template)
            .send()
            .await
            .unwrap();
        out.launch_templates()[0].default_version_number().unwrap()
    })
}

fn running_version(api: &Api, group: &str) -> String {
    runtime().block_on(async {
        api.group(group)
            .await
            .launch_template()
            .and_then(|t| t.version())
            .unwrap()
            .to_string()
    })
}

#[test]
fn a_launch_template_version_made_out_of_band_is_never_run() {
    let live = Live::settled();
    let state = live.state();
    let template = state["launch_template_id"].as_str().unwrap().to_string();
    let group = state["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    let version = state["launch_template_version"].as_i64().unwrap();
    let api = &live.api;

    // a weakened version becomes the default; the group still runs the right one
    let tampered = tampered_version(api, &template, &state);
    runtime().block_on(async {
        api.ec2
            .modify_launch_template()
            .launch_template_id(&template)
            .default_version(tampered.to_string())
            .send()
            .await
            .unwrap();
    });
    let (plan, unknown) = live.saved_plan();
    assert_mentions(
        &plan,
        &[&format!(
            "lt has version {tampered} as its default, where IMDSv2 is optional, the root volume is unencrypted, a public IP is assigned, metadata hop limit 1 instead of 2; apply makes the version the group runs the default again"
        )],
    );
    assert_eq!(
        unknown,
        vec!["drift".to_string(), "posture".to_string()],
        "{plan}"
    );
    // the posture judges the version the group runs, which is still the provider's
    assert_posture(&live.refreshed_posture(), &[("EC2.170", "pass")]);
    // an unrelated change applied with it must not switch the group to the tampered version
    live.ws.write(&config("b", "t3.micro"));
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(running_version(api, &group), version.to_string());
    assert_eq!(default_version(api, &template), version);
    assert_eq!(
        live.state()["launch_template_version"],
        state["launch_template_version"]
    );
    live.ws
        .assert_no_changes("after the default version is restored");

    // the group itself is switched to the weakened version
    runtime().block_on(async {
        api.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .version(tampered.to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let (plan, unknown) = live.saved_plan();
    assert_mentions(
        &plan,
        &[
            &format!("asg runs launch template version {tampered}, where IMDSv2 is optional"),
            "apply writes a new launch template version from the configuration and rolls the instances to it",
            "Every app instance will be replaced",
        ],
    );
    // the template version is new; every ID stays
    assert_eq!(
        unknown,
        vec![
            "drift".to_string(),
            "launch_template_version".to_string(),
            "posture".to_string()
        ],
        "{plan}"
    );
    assert_posture(
        &live.refreshed_posture(),
        &[
            (
                "EC2.170",
                "the launch template version the group runs does not require IMDSv2",
            ),
            ("EC2.25", "assigns public IPs"),
        ],
    );
    live.layer.reset_counts();
    live.ws
        .ok(&["apply", "-auto-approve", "-no-color", "drift.tfplan"]);
    let repaired = live.state();
    let new_version = repaired["launch_template_version"].as_i64().unwrap();
    assert!(
        new_version > tampered,
        "a new version is written, not the tampered one adopted"
    );
    assert_eq!(running_version(api, &group), new_version.to_string());
    assert_eq!(default_version(api, &template), new_version);
    assert_eq!(
        live.layer.count("autoscaling:StartInstanceRefresh"),
        1,
        "the instances roll"
    );
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(&template)
            .versions(new_version.to_string())
            .send()
            .await
            .unwrap();
        let data = out.launch_template_versions()[0]
            .launch_template_data()
            .unwrap();
        assert_eq!(
            data.metadata_options().and_then(|m| m.http_tokens()),
            Some(&LaunchTemplateHttpTokensState::Required)
        );
        assert_eq!(
            data.network_interfaces()[0].associate_public_ip_address(),
            Some(false)
        );
    });
    live.ws
        .assert_no_changes("after the group rolls to a version from the configuration");

    // the group set to launch `$Latest`: the next version anyone adds would
    // be what it launches; apply pins the version again, without a roll
    runtime().block_on(async {
        api.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .version("$Latest")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    live.layer.reset_counts();
    live.repair(&format!(
        "asg launches launch template version $Latest (now {new_version}) instead of a pinned version; apply pins the version it runs"
    ));
    assert_eq!(running_version(api, &group), new_version.to_string());
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 0);

    // a change of instance type says that every instance is replaced
    live.ws.write(&config("b", "t3.small"));
    let plan = live.ws.ok(&["plan", "-no-color"]);
    assert_mentions(
        &plan.text(),
        &[
            "Every app instance will be replaced",
            "rolling instance refresh",
        ],
    );
}

#[test]
fn settings_made_after_creation_are_set_when_a_failed_create_resumes() {
    let moto = Moto::start();
    let layer = FaultLayer::aws_like(&moto.endpoint());
    let api = Api::new(&moto.endpoint());
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.write(
        r#"resource "prodvpc_environment" "resume" {
  name         = "resume"
  nat_gateways = "none"
  bastion {
    enabled = false
  }
}
"#,
    );
    // the VPC exists, but turning its DNS hostnames on fails for good
    layer.inject(
        "ec2:ModifyVpcAttribute",
        Fault::Error {
            status: 400,
            code: "InvalidParameterValue".into(),
        },
        1,
    );
    let run = ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.code, 0, "the injected failure must fail the apply");
    ws.ok(&["untaint", "prodvpc_environment.resume"]);
    let plan = ws.ok(&["plan", "-no-color"]);
    assert_mentions(
        &plan.stdout,
        &["vpc has DNS hostnames off; apply turns it on"],
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let state = ws.resource_values("prodvpc_environment.resume");
    runtime().block_on(async {
        let vpc = state["vpc_id"].as_str().unwrap();
        let hostnames = api
            .ec2
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap();
        assert_eq!(
            hostnames.enable_dns_hostnames().and_then(|v| v.value()),
            Some(true)
        );
        // without a bastion no subnet needs to hand out public addresses
        for (key, public) in [("public_subnet_ids", false), ("private_subnet_ids", false)] {
            for subnet in string_map(&state[key]).values() {
                let out = api
                    .ec2
                    .describe_subnets()
                    .subnet_ids(subnet)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    out.subnets()[0].map_public_ip_on_launch(),
                    Some(public),
                    "{key} {subnet}"
                );
            }
        }
    });
    ws.assert_no_changes("after the resumed create");
}

#[test]
fn tags_other_tools_manage_are_neither_drift_nor_removed() {
    let hcl = config("a", "t3.micro").replacen(
        "provider \"prodvpc\" {\n",
        "provider \"prodvpc\" {\n  ignore_tags {\n    keys         = [\"backup-plan\"]\n    key_prefixes = [\"cost:\"]\n  }\n",
        1,
    );
    let live = Live::apply(&hcl, ADDRESS, |_| {});
    live.ws.assert_no_changes("after the apply");
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let subnet = string_map(&state["private_subnet_ids"])
        .into_values()
        .next()
        .unwrap();
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    runtime().block_on(async {
        live.api
            .ec2
            .create_tags()
            .resources(&vpc)
            .resources(&subnet)
            .tags(tag("backup-plan", "daily"))
            .tags(tag("cost:owner", "finance"))
            .tags(tag("stray", "1"))
            .send()
            .await
            .unwrap();
    });
    let plan = live.ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(
        plan.stdout.contains(r#"has an extra tag stray = \"1\""#),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("backup-plan") && !plan.stdout.contains("cost:owner"),
        "ignored tags are not drift:\n{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after the repair");
    runtime().block_on(async {
        for id in [&vpc, &subnet] {
            let out = live
                .api
                .ec2
                .describe_tags()
                .filters(
                    Filter::builder()
                        .name("resource-id")
                        .values(id.as_str())
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let tags: BTreeMap<&str, &str> = out
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?)))
                .collect();
            assert_eq!(tags.get("backup-plan"), Some(&"daily"), "{id}: {tags:?}");
            assert_eq!(tags.get("cost:owner"), Some(&"finance"), "{id}: {tags:?}");
            assert!(!tags.contains_key("stray"), "{id}: {tags:?}");
        }
    });
}

/// AWS's endpoints learn of a new object at different moments: right after a
/// load balancer or target group is created, the describes that hang off it
/// can answer that it does not exist while the listing already shows it.
#[test]
fn a_refresh_told_that_what_it_just_listed_does_not_exist_reads_it_again() {
    let live = Live::settled();
    let not_found = |code: &str| Fault::Error {
        status: 400,
        code: code.into(),
    };
    let reads = [
        (
            "elasticloadbalancing:DescribeTargetHealth",
            "TargetGroupNotFound",
        ),
        (
            "elasticloadbalancing:DescribeListeners",
            "LoadBalancerNotFound",
        ),
        (
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "LoadBalancerNotFound",
        ),
    ];
    live.layer.reset_counts();
    for (read, code) in reads {
        live.layer.inject(read, not_found(code), 1);
    }
    // neither a listener to create, nor targets to register, nor settings to restore
    live.ws
        .assert_no_changes("after not-found answers for objects just listed");
    // at least twice: a read answered in a round that another read's error
    // ends is asked once more with the round
    for (read, _) in reads {
        assert!(live.layer.count(read) >= 2, "{read} is asked again");
    }
}

#[test]
fn operational_settings_changed_out_of_band_are_planned_and_restored() {
    let live = Live::settled();
    // what moto drops of a change is kept by the model in front of it
    let through_model = Api::new(&live.layer.endpoint());
    // and what moto has no API for is made by an operator through the model
    let operator = Api::operator(&live.layer.endpoint());
    let state = live.state();
    let group = state["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    let target_group = state["target_group_arn"].as_str().unwrap().to_string();
    let s3_endpoint = string_map(&state["vpc_endpoint_ids"])["s3"].clone();
    let policy = format!("{group}-cpu-target-tracking");
    let private_subnet = string_map(&state["private_subnet_ids"])["us-east-1a"].clone();
    let private_table = live.route_table("rtb/private/us-east-1b");
    let igw = state["internet_gateway_id"].as_str().unwrap().to_string();
    let public_table = live.route_table("rtb/public");
    let groups = string_map(&state["security_group_ids"]);
    let default_acl_entries = || {
        runtime().block_on(async {
            let acls = live
                .api
                .ec2
                .describe_network_acls()
                .filters(Filter::builder().name("default").values("true").build())
                .filters(
                    Filter::builder()
                        .name("vpc-id")
                        .values(state["vpc_id"].as_str().unwrap())
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let acl = &acls.network_acls()[0];
            let entries: BTreeSet<(i32, bool, String)> = acl
                .entries()
                .iter()
                .map(|e| {
                    (
                        e.rule_number().unwrap(),
                        e.egress().unwrap(),
                        e.rule_action().unwrap().as_str().to_string(),
                    )
                })
                .collect();
            (acl.network_acl_id().unwrap().to_string(), entries)
        })
    };
    let (default_acl, aws_defaults) = default_acl_entries();
    let app_instance = runtime().block_on(async {
        live.api.group(&group).await.instances()[0]
            .instance_id()
            .unwrap()
            .to_string()
    });
    let (vpc_own_table, other_table) = runtime().block_on(async {
        // launches and health checks suspended: the group no longer heals
        live.api
            .autoscaling
            .suspend_processes()
            .auto_scaling_group_name(&group)
            .scaling_processes("Launch")
            .scaling_processes("HealthCheck")
            .send()
            .await
            .unwrap();
        // the policy may only scale out
        live.api
            .autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(&group)
            .policy_name(&policy)
            .policy_type("TargetTrackingScaling")
            .target_tracking_configuration(
                aws_sdk_autoscaling::types::TargetTrackingConfiguration::builder()
                    .predefined_metric_specification(
                        aws_sdk_autoscaling::types::PredefinedMetricSpecification::builder()
                            .predefined_metric_type(
                                aws_sdk_autoscaling::types::MetricType::AsgAverageCpuUtilization,
                            )
                            .build(),
                    )
                    .target_value(50.0)
                    .disable_scale_in(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // the health check probes another port and takes a redirect for healthy
        live.api
            .elbv2
            .modify_target_group()
            .target_group_arn(&target_group)
            .health_check_port("9999")
            .matcher(
                aws_sdk_elasticloadbalancingv2::types::Matcher::builder()
                    .http_code("200-399")
                    .build(),
            )
            .health_check_timeout_seconds(10)
            .send()
            .await
            .unwrap();
        // a rule on the HTTP listener sends every request elsewhere, and its
        // responses let any origin read them and hide the Server header
        let http = string_map(&state["listener_arns"])["http"].clone();
        live.api
            .elbv2
            .modify_listener_attributes()
            .listener_arn(&http)
            .attributes(
                ListenerAttribute::builder()
                    .key("routing.http.response.access_control_allow_origin.header_value")
                    .value("*")
                    .build(),
            )
            .attributes(
                ListenerAttribute::builder()
                    .key("routing.http.response.server.enabled")
                    .value("false")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        live.api
            .elbv2
            .create_rule()
            .listener_arn(&http)
            .priority(1)
            .conditions(
                aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                    .field("path-pattern")
                    .values("/*")
                    .build(),
            )
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Redirect)
                    .redirect_config(
                        RedirectActionConfig::builder()
                            .host("elsewhere.example")
                            .status_code(RedirectActionStatusCodeEnum::Http302)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // every instance taken out of the target group: nothing serves
        let members: Vec<String> = live
            .api
            .group(&group)
            .await
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        live.api
            .elbv2
            .deregister_targets()
            .target_group_arn(&target_group)
            .set_targets(Some(
                members
                    .iter()
                    .map(|id| {
                        aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                            .id(id)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
        // a private subnet's way out straight through the internet gateway
        live.api
            .ec2
            .replace_route()
            .route_table_id(&private_table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        // the public table made the VPC's main one
        let tables = live
            .api
            .ec2
            .describe_route_tables()
            .filters(
                Filter::builder()
                    .name("vpc-id")
                    .values(state["vpc_id"].as_str().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let main_association = tables
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .find(|a| a.main() == Some(true))
            .and_then(|a| a.route_table_association_id())
            .unwrap()
            .to_string();
        let vpc_own_table = tables
            .route_tables()
            .iter()
            .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
            .and_then(|t| t.route_table_id())
            .unwrap()
            .to_string();
        live.api
            .ec2
            .replace_route_table_association()
            .association_id(&main_association)
            .route_table_id(&public_table)
            .send()
            .await
            .unwrap();
        // and another team's table in the VPC, with a route of its own: the
        // main role goes back to the VPC's own table, never to this one
        let other_table = live
            .api
            .ec2
            .create_route_table()
            .vpc_id(state["vpc_id"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .route_table
            .unwrap()
            .route_table_id
            .unwrap();
        live.api
            .ec2
            .create_route()
            .route_table_id(&other_table)
            .destination_cidr_block("192.0.2.0/24")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        // a deny-all network ACL on a private subnet (a new ACL denies everything)
        let acl = live
            .api
            .ec2
            .create_network_acl()
            .vpc_id(state["vpc_id"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .network_acl
            .unwrap()
            .network_acl_id
            .unwrap();
        let acls = live
            .api
            .ec2
            .describe_network_acls()
            .filters(
                Filter::builder()
                    .name("association.subnet-id")
                    .values(&private_subnet)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let association = acls.network_acls()[0]
            .associations()
            .iter()
            .find(|a| a.subnet_id() == Some(private_subnet.as_str()))
            .and_then(|a| a.network_acl_association_id())
            .unwrap()
            .to_string();
        live.api
            .ec2
            .replace_network_acl_association()
            .association_id(association)
            .network_acl_id(&acl)
            .send()
            .await
            .unwrap();
        // a deny-all rule in front of the VPC's default network ACL's own
        live.api
            .ec2
            .create_network_acl_entry()
            .network_acl_id(&default_acl)
            .rule_number(50)
            .egress(false)
            .rule_action(aws_sdk_ec2::types::RuleAction::Deny)
            .protocol("-1")
            .cidr_block("0.0.0.0/0")
            .send()
            .await
            .unwrap();
        // a running app instance's metadata service opened up: tokens
        // optional, responses reaching one hop further
        live.api
            .ec2
            .modify_instance_metadata_options()
            .instance_id(&app_instance)
            .http_tokens(aws_sdk_ec2::types::HttpTokensState::Optional)
            .http_put_response_hop_limit(3)
            .send()
            .await
            .unwrap();
        // the load balancer lets smuggled requests through and trusts the
        // client's forwarded-for header
        live.api
            .elbv2
            .modify_load_balancer_attributes()
            .load_balancer_arn(state["alb_arn"].as_str().unwrap())
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                    .key("routing.http.desync_mitigation_mode")
                    .value("monitor")
                    .build(),
            )
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                    .key("routing.http.xff_header_processing.mode")
                    .value("preserve")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // the target group pins sessions to one instance, cuts requests off
        // when an instance leaves, and sends new requests by its own choice
        let tg_attribute = |key: &str, value: &str| {
            aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                .key(key)
                .value(value)
                .build()
        };
        live.api
            .elbv2
            .modify_target_group_attributes()
            .target_group_arn(&target_group)
            .attributes(tg_attribute("stickiness.enabled", "true"))
            .attributes(tg_attribute("deregistration_delay.timeout_seconds", "0"))
            .attributes(tg_attribute(
                "load_balancing.algorithm.type",
                "least_outstanding_requests",
            ))
            .send()
            .await
            .unwrap();
        // the group scales itself to nothing every night, holds each new
        // instance before it serves, and steps out on a policy of its own
        live.api
            .autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name(&group)
            .scheduled_action_name("night")
            .recurrence("0 22 * * *")
            .min_size(0)
            .desired_capacity(0)
            .send()
            .await
            .unwrap();
        live.api
            .autoscaling
            .put_lifecycle_hook()
            .auto_scaling_group_name(&group)
            .lifecycle_hook_name("hold")
            .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
            .heartbeat_timeout(300)
            .default_result("CONTINUE")
            .send()
            .await
            .unwrap();
        live.api
            .autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(&group)
            .policy_name("step-out")
            .policy_type("SimpleScaling")
            .adjustment_type("ChangeInCapacity")
            .scaling_adjustment(2)
            .send()
            .await
            .unwrap();
        // and can no longer shrink past its new instances or this one, picks
        // others to end, recycles them daily, and keeps a pool of instances
        // of its own besides
        through_model
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .new_instances_protected_from_scale_in(true)
            .termination_policies("NewestInstance")
            .max_instance_lifetime(86400)
            .default_cooldown(10)
            .default_instance_warmup(60)
            .instance_maintenance_policy(
                aws_sdk_autoscaling::types::InstanceMaintenancePolicy::builder()
                    .min_healthy_percentage(0)
                    .max_healthy_percentage(100)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        live.api
            .autoscaling
            .set_instance_protection()
            .auto_scaling_group_name(&group)
            .instance_ids(&app_instance)
            .protected_from_scale_in(true)
            .send()
            .await
            .unwrap();
        // and tells a topic of every launch
        operator
            .autoscaling
            .put_notification_configuration()
            .auto_scaling_group_name(&group)
            .topic_arn("arn:aws:sns:us-east-1:123456789012:ops")
            .notification_types("autoscaling:EC2_INSTANCE_LAUNCH")
            .notification_types("autoscaling:EC2_INSTANCE_TERMINATE")
            .send()
            .await
            .unwrap();
        live.api
            .autoscaling
            .put_warm_pool()
            .auto_scaling_group_name(&group)
            .min_size(1)
            .pool_state(aws_sdk_autoscaling::types::WarmPoolState::Stopped)
            .send()
            .await
            .unwrap();
        // and routes traffic not addressed to it
        live.api
            .ec2
            .modify_instance_attribute()
            .instance_id(&app_instance)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .unwrap();
        // and is put in the load balancer's group too, which the internet reaches
        live.api
            .ec2
            .modify_instance_attribute()
            .instance_id(&app_instance)
            .groups(&groups["app"])
            .groups(&groups["alb"])
            .send()
            .await
            .unwrap();
        // the private subnet publishes its instances' names in DNS
        live.api
            .ec2
            .modify_subnet_attribute()
            .subnet_id(&private_subnet)
            .enable_resource_name_dns_a_record_on_launch(
                AttributeBooleanValue::builder().value(true).build(),
            )
            .send()
            .await
            .unwrap();
        // the S3 endpoint denies everything
        live.api
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&s3_endpoint)
            .policy_document(
                r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap();
        (vpc_own_table, other_table)
    });
    let (plan, _) = live.saved_plan();
    assert_mentions(
        &plan,
        &[
            "asg has processes suspended (HealthCheck, Launch)",
            "apply resumes them",
            "policy/cpu has scale-in disabled",
            "tg health check has port 9999 instead of traffic-port, matcher 200-399 instead of 200, timeout 10s instead of 5s",
            "vpce/s3 has an endpoint policy other than full access",
            "(priority 1: path-pattern /* -> redirect), which routes around its default action",
            "listener/http adds response header Access-Control-Allow-Origin: * (routing.http.response.access_control_allow_origin.header_value); apply restores AWS's default",
            "listener/http leaves out the Server response header (routing.http.response.server.enabled)",
            "apply deletes it",
            "apply restores the full-access policy",
            "subnet/private/us-east-1a is filtered by network ACL acl-",
            &format!("rtb/public is the VPC's main route table, so every subnet without a table of its own routes through it; the VPC's own is {vpc_own_table}; apply gives the main association back to the VPC's own table"),
            &format!("rtb/private/us-east-1b routes 0.0.0.0/0 to the internet gateway {igw} instead of its NAT gateway, which exposes the private subnet"),
            "apply moves it back to the VPC's default network ACL",
            "tg lacks the group's instances",
            "which serve no requests; apply registers them and waits until they serve",
            &format!("asg instance {app_instance} has IMDSv2 optional, metadata hop limit 3 instead of 2, source/destination check off, so it forwards traffic not addressed to it, security groups {} instead of sg/app alone", {
                let mut both = [groups["app"].clone(), groups["alb"].clone()];
                both.sort();
                both.join(",")
            }),
            &format!("vpc has default network ACL {default_acl}, which filters the environment's subnets, with rules other than AWS's defaults: inbound rule 50 denies all traffic from 0.0.0.0/0"),
            "apply restores AWS's default rules",
            "apply restores what its launch template version gave it",
            "alb has routing.http.desync_mitigation_mode monitor instead of defensive",
            "alb has routing.http.xff_header_processing.mode preserve instead of append",
            "asg has scaling policy step-out (SimpleScaling), which the environment does not declare; apply deletes it",
            "asg has scheduled action night (recurrence 0 22 * * *",
            "asg has lifecycle hook hold (autoscaling:EC2_INSTANCE_LAUNCHING, CONTINUE after 300 s), which the environment does not declare",
            "asg has new instances protected from scale-in true instead of AWS's default false; apply restores it",
            "asg has termination policies NewestInstance instead of AWS's default Default",
            "asg has maximum instance lifetime 86400s instead of AWS's default none",
            "asg has default cooldown 10s instead of AWS's default 300s",
            "asg has default instance warmup 60s instead of AWS's default none",
            "asg has instance maintenance policy 0% to 100% of the desired capacity healthy during replacements instead of AWS's default none",
            &format!("asg has instances protected from scale-in ({app_instance}), which it can then never terminate to shrink; apply lifts the protection"),
            "asg has warm pool (min 1, up to the group's maximum prepared, Stopped), which the environment does not declare; apply deletes it",
            "asg has notification configuration to arn:aws:sns:us-east-1:123456789012:ops (autoscaling:EC2_INSTANCE_LAUNCH, autoscaling:EC2_INSTANCE_TERMINATE), which the environment does not declare; apply deletes it",
            "subnet/private/us-east-1a has DNS settings for its instances other than AWS's defaults: DNS A records of instance names true instead of false; apply restores them",
            "tg has stickiness.enabled true instead of false",
            "tg has deregistration_delay.timeout_seconds 0 instead of 300",
            "tg has load_balancing.algorithm.type least_outstanding_requests instead of round_robin",
        ],
    );
    live.apply_saved_plan(
        &state,
        &["vpc_id", "target_group_arn", "autoscaling_group_name"],
    );
    live.ws
        .assert_no_changes("after the operational settings are restored");
    assert_eq!(
        default_acl_entries(),
        (default_acl.clone(), aws_defaults),
        "the default ACL has AWS's rules only"
    );
    runtime().block_on(async {
        let asg = live.api.group(&group).await;
        assert!(asg.suspended_processes().is_empty(), "{asg:?}");
        let described = live
            .api
            .ec2
            .describe_instances()
            .instance_ids(&app_instance)
            .send()
            .await
            .unwrap();
        let options = described.reservations()[0].instances()[0]
            .metadata_options()
            .unwrap();
        assert_eq!(
            options.http_tokens(),
            Some(&aws_sdk_ec2::types::HttpTokensState::Required)
        );
        assert_eq!(options.http_put_response_hop_limit(), Some(2));
        assert_eq!(
            described.reservations()[0].instances()[0].source_dest_check(),
            Some(true)
        );
        let in_groups: Vec<&str> = described.reservations()[0].instances()[0]
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .collect();
        assert_eq!(in_groups, vec![groups["app"].as_str()]);
        let attributes = live
            .api
            .elbv2
            .describe_load_balancer_attributes()
            .load_balancer_arn(state["alb_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let value = |key: &str| {
            attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value())
                .map(str::to_string)
        };
        assert_eq!(
            value("routing.http.desync_mitigation_mode").as_deref(),
            Some("defensive")
        );
        assert_eq!(
            value("routing.http.xff_header_processing.mode").as_deref(),
            Some("append")
        );
        let attributes = live
            .api
            .elbv2
            .describe_target_group_attributes()
            .target_group_arn(&target_group)
            .send()
            .await
            .unwrap();
        let kept: BTreeMap<&str, &str> = attributes
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?, a.value()?)))
            .collect();
        for (key, value) in [
            ("stickiness.enabled", "false"),
            ("deregistration_delay.timeout_seconds", "300"),
            ("load_balancing.algorithm.type", "round_robin"),
        ] {
            assert_eq!(kept.get(key).copied(), Some(value), "{key}: {kept:?}");
        }
        let policies = live
            .api
            .autoscaling
            .describe_policies()
            .auto_scaling_group_name(&group)
            .send()
            .await
            .unwrap();
        assert_eq!(
            policies.scaling_policies().len(),
            1,
            "the environment's policy alone: {policies:?}"
        );
        let tracking = policies.scaling_policies()[0]
            .target_tracking_configuration()
            .unwrap();
        let scheduled = live
            .api
            .autoscaling
            .describe_scheduled_actions()
            .auto_scaling_group_name(&group)
            .send()
            .await
            .unwrap();
        assert!(
            scheduled.scheduled_update_group_actions().is_empty(),
            "{scheduled:?}"
        );
        let hooks = live
            .api
            .autoscaling
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(&group)
            .send()
            .await
            .unwrap();
        assert!(hooks.lifecycle_hooks().is_empty(), "{hooks:?}");
        let subnets = live
            .api
            .ec2
            .describe_subnets()
            .subnet_ids(&private_subnet)
            .send()
            .await
            .unwrap();
        assert_eq!(
            subnets.subnets()[0]
                .private_dns_name_options_on_launch()
                .and_then(|o| o.enable_resource_name_dns_a_record()),
            Some(false)
        );
        assert_eq!(asg.new_instances_protected_from_scale_in(), Some(false));
        let modelled = through_model.group(&group).await;
        let notifications = operator
            .autoscaling
            .describe_notification_configurations()
            .auto_scaling_group_names(&group)
            .send()
            .await
            .unwrap();
        assert!(
            notifications.notification_configurations().is_empty(),
            "{notifications:?}"
        );
        assert_eq!(
            (
                modelled.termination_policies(),
                modelled.max_instance_lifetime(),
                modelled.default_cooldown(),
                modelled.default_instance_warmup(),
                modelled.instance_maintenance_policy()
            ),
            (&["Default".to_string()][..], None, Some(300), None, None),
            "AWS's defaults again"
        );
        assert!(
            asg.warm_pool_configuration().is_none(),
            "the warm pool is deleted: {asg:?}"
        );
        let protected: Vec<&str> = asg
            .instances()
            .iter()
            .filter(|i| i.protected_from_scale_in() == Some(true))
            .filter_map(|i| i.instance_id())
            .collect();
        assert!(protected.is_empty(), "no instance protected: {protected:?}");
        assert_eq!(tracking.disable_scale_in(), Some(false));
        let groups = live
            .api
            .elbv2
            .describe_target_groups()
            .target_group_arns(&target_group)
            .send()
            .await
            .unwrap();
        let tg = &groups.target_groups()[0];
        assert_eq!(tg.health_check_port(), Some("traffic-port"));
        assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200"));
        assert_eq!(tg.health_check_timeout_seconds(), Some(5));
        let endpoints = live
            .api
            .ec2
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(&s3_endpoint)
            .send()
            .await
            .unwrap();
        let document = endpoints.vpc_endpoints()[0].policy_document().unwrap();
        assert!(document.contains("\"Allow\""), "{document}");
        let http = string_map(&state["listener_arns"])["http"].clone();
        let rules = live
            .api
            .elbv2
            .describe_rules()
            .listener_arn(&http)
            .send()
            .await
            .unwrap();
        assert!(
            rules.rules().iter().all(|r| r.is_default() == Some(true)),
            "{rules:?}"
        );
        let responses = live
            .api
            .elbv2
            .describe_listener_attributes()
            .listener_arn(&http)
            .send()
            .await
            .unwrap();
        let response: BTreeMap<&str, &str> = responses
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?, a.value()?)))
            .filter(|(key, _)| key.starts_with("routing.http.response."))
            .collect();
        assert_eq!(
            response,
            BTreeMap::from([
                ("routing.http.response.access_control_allow_origin.header_value", ""),
                ("routing.http.response.server.enabled", "true"),
            ]),
            "AWS's defaults again"
        );
        let health = live
            .api
            .elbv2
            .describe_target_health()
            .target_group_arn(&target_group)
            .send()
            .await
            .unwrap();
        assert!(
            !health.target_health_descriptions().is_empty(),
            "the group's instances serve again"
        );
        let acls = live
            .api
            .ec2
            .describe_network_acls()
            .filters(
                Filter::builder()
                    .name("association.subnet-id")
                    .values(&private_subnet)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            acls.network_acls()[0].is_default(),
            Some(true),
            "the subnet is back on the default ACL"
        );
        let main = live
            .api
            .ec2
            .describe_route_tables()
            .filters(
                Filter::builder()
                    .name("association.main")
                    .values("true")
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("vpc-id")
                    .values(state["vpc_id"].as_str().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            main.route_tables()[0].route_table_id(),
            Some(vpc_own_table.as_str()),
            "the VPC's own table is the main one again, not {public_table} nor another team's {other_table}"
        );
        live.api
            .ec2
            .delete_route_table()
            .route_table_id(&other_table)
            .send()
            .await
            .unwrap();
    });
}

/// The DHCP options set the VPC uses, and whether `set` still exists.
fn vpc_dhcp_options(api: &Api, vpc: &str, set: &str) -> (String, bool) {
    runtime().block_on(async {
        let vpcs = api.ec2.describe_vpcs().vpc_ids(vpc).send().await.unwrap();
        let used = vpcs.vpcs()[0].dhcp_options_id().unwrap().to_string();
        (used, api.dhcp_options_exist(set).await)
    })
}

#[test]
fn the_vpc_keeps_its_dhcp_options_set_and_ipv4_block_and_takes_a_configured_set_in_place() {
    let live = Live::settled();
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let recorded = state["dhcp_options_id"].as_str().unwrap().to_string();
    let (used, _) = vpc_dhcp_options(&live.api, &vpc, &recorded);
    assert_eq!(used, recorded, "the state records the set AWS gave the VPC");

    // another set, sending the instances to other DNS servers
    let rogue = runtime().block_on(live.api.dhcp_options("203.0.113.53"));
    runtime().block_on(async {
        live.api
            .ec2
            .associate_dhcp_options()
            .vpc_id(&vpc)
            .dhcp_options_id(&rogue)
            .send()
            .await
            .unwrap();
    });
    let (plan, _) = live.saved_plan();
    assert_mentions(
        &plan,
        &[&format!("vpc uses DHCP options set {rogue} instead of {recorded}, so its instances may be given other DNS servers; apply associates the environment's set again")],
    );
    live.apply_saved_plan(&state, &["vpc_id", "dhcp_options_id"]);
    live.ws
        .assert_no_changes("after the DHCP options are restored");
    assert_eq!(
        vpc_dhcp_options(&live.api, &vpc, &rogue),
        (recorded.clone(), true),
        "the VPC's own set again; the other is left as it was"
    );

    // an IPv4 block added to the VPC is drift, and disassociated; one that
    // holds another's subnet stays while the subnet does (the subnet is
    // reported), and becomes drift once it is gone
    let associate = |cidr: &str| {
        runtime().block_on(async {
            live.api
                .ec2
                .associate_vpc_cidr_block()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .send()
                .await
                .unwrap()
                .cidr_block_association
                .unwrap()
                .association_id
                .unwrap()
        })
    };
    let extra = associate("10.41.0.0/16");
    live.repair(&format!(
        "vpc has IPv4 block 10.41.0.0/16 ({extra}) besides its own, which the environment does not declare; apply disassociates it"
    ));
    let blocks = || {
        runtime().block_on(async {
            let vpcs = live
                .api
                .ec2
                .describe_vpcs()
                .vpc_ids(&vpc)
                .send()
                .await
                .unwrap();
            vpcs.vpcs()[0]
                .cidr_block_association_set()
                .iter()
                .filter(|a| {
                    a.cidr_block_state().and_then(|s| s.state())
                        == Some(&aws_sdk_ec2::types::VpcCidrBlockStateCode::Associated)
                })
                .filter_map(|a| a.cidr_block().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(blocks(), ["10.40.0.0/16"]);
    let held = associate("10.42.0.0/16");
    let other_subnet = runtime().block_on(async {
        live.api
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.42.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap()
            .subnet
            .unwrap()
            .subnet_id
            .unwrap()
    });
    let plan = live.ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.text());
    assert!(plan.text().contains(&other_subnet), "{}", plan.text());
    runtime().block_on(async {
        live.api
            .ec2
            .delete_subnet()
            .subnet_id(&other_subnet)
            .send()
            .await
            .unwrap();
    });
    live.repair(&format!(
        "vpc has IPv4 block 10.42.0.0/16 ({held}) besides its own"
    ));
    assert_eq!(blocks(), ["10.40.0.0/16"]);

    // a set of the user's own, named in the configuration: changed in place
    let directory = runtime().block_on(live.api.dhcp_options("10.40.0.10"));
    let configured = config("a", "t3.micro").replace(
        "  nat_gateways = \"single\"\n",
        &format!("  nat_gateways = \"single\"\n  dhcp_options_id = \"{directory}\"\n"),
    );
    live.ws.write(&configured);
    let plan = live.ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("~ dhcp_options_id") && plan.stdout.contains("1 to change"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws
        .assert_no_changes("after the configured set is associated");
    assert_eq!(live.state()["dhcp_options_id"], directory.as_str());
    assert_eq!(
        vpc_dhcp_options(&live.api, &vpc, &directory),
        (directory.clone(), true)
    );

    // a set that does not exist is refused at plan, on the attribute
    live.ws
        .write(&configured.replace(&directory, "dopt-0123456789abcdef0"));
    let refused = live.ws.run(&["plan", "-no-color"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("DHCP options set not found")
            && refused.stderr.contains("dhcp_options_id"),
        "{}",
        refused.text()
    );

    // destroy leaves the sets, which are not the environment's
    live.ws.write(&configured);
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    for set in [&directory, &rogue] {
        let kept = runtime().block_on(live.api.dhcp_options_exist(set));
        assert!(kept, "{set} is kept");
    }

    // a create with a configured set gives the new VPC that set
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws
        .assert_no_changes("after a create with a configured set");
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap();
    assert_eq!(state["dhcp_options_id"], directory.as_str());
    assert_eq!(
        vpc_dhcp_options(&live.api, vpc, &directory),
        (directory.clone(), true)
    );
}
