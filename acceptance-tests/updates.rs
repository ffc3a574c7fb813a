//! In-place changes of a live environment: each one reaches AWS, keeps the IDs
//! that must survive, and leaves an empty plan behind.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use crate::harness::faults::{FaultLayer, AWS_LIKE_TIME_SCALE};
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Live};

const CERTIFICATE: &str = "arn:aws:iam::123456789012:server-certificate/shop";

/// The inputs varied by the tests; `hcl` renders them.
#[derive(Clone)]
struct Inputs {
    team: &'static str,
    cost_center: &'static str,
    az_count: u8,
    nat: &'static str,
    port: u16,
    instance_type: &'static str,
    user_data: &'static str,
    sizes: (u8, u8, u8),
    cpu_target: u8,
    health_check_path: &'static str,
    grace_period: u16,
    /// the `instance_refresh` block's body, none when empty
    instance_refresh: &'static str,
    ingress: &'static str,
    certificate: bool,
    bastion: bool,
    ssh: &'static str,
    /// the body of a `vpc_endpoints` block; no block when `None`
    endpoints: Option<&'static str>,
    /// the body of a `flow_logs` block; no block when `None`
    flow_logs: Option<&'static str>,
    /// more lines of the `load_balancer` block
    load_balancer: &'static str,
    /// `iam_instance_profile` of the app and of the bastion; none when empty
    app_profile: &'static str,
    bastion_profile: &'static str,
}

impl Default for Inputs {
    fn default() -> Self {
        Inputs {
            team: "a",
            cost_center: "100",
            az_count: 2,
            nat: "single",
            port: 8080,
            instance_type: "t3.micro",
            user_data: "echo one",
            sizes: (1, 3, 1),
            cpu_target: 50,
            health_check_path: "/health",
            grace_period: 120,
            instance_refresh: "",
            ingress: "0.0.0.0/0",
            certificate: false,
            bastion: true,
            ssh: "198.51.100.0/24",
            endpoints: None,
            flow_logs: None,
            load_balancer: "",
            app_profile: "",
            bastion_profile: "",
        }
    }
}

impl Inputs {
    fn hcl(&self) -> String {
        let certificate = if self.certificate {
            format!("certificate_arn = \"{CERTIFICATE}\"")
        } else {
            String::new()
        };
        let instance_refresh = if self.instance_refresh.is_empty() {
            String::new()
        } else {
            format!(
                "instance_refresh {{\n      {}\n    }}",
                self.instance_refresh
            )
        };
        let profile = |name: &str| {
            if name.is_empty() {
                String::new()
            } else {
                format!("iam_instance_profile = \"{name}\"")
            }
        };
        let bastion = if self.bastion {
            format!(
                "enabled = true\n    ssh_ingress_cidrs = [\"{}\"]\n    {}",
                self.ssh,
                profile(self.bastion_profile)
            )
        } else {
            "enabled = false".to_string()
        };
        let endpoints = self
            .endpoints
            .map(|body| format!("vpc_endpoints {{\n    {body}\n  }}"))
            .unwrap_or_default();
        let flow_logs = self
            .flow_logs
            .map(|body| format!("flow_logs {{\n    {body}\n  }}"))
            .unwrap_or_default();
        format!(
            r#"provider "prodvpc" {{
  default_tags {{
    tags = {{ cost_center = "{cost_center}" }}
  }}
}}

resource "prodvpc_environment" "live" {{
  name         = "live"
  vpc_cidr     = "10.30.0.0/16"
  az_count     = {az_count}
  nat_gateways = "{nat}"
  app {{
    port              = {port}
    instance_type     = "{instance_type}"
    user_data         = "{user_data}"
    min_size          = {min}
    max_size          = {max}
    desired_capacity  = {desired}
    cpu_target        = {cpu}
    health_check_path = "{health}"
    health_check_grace_period = {grace}
    {app_profile}
    {instance_refresh}
  }}
  load_balancer {{
    ingress_cidrs = ["{ingress}"]
    {certificate}
    {load_balancer}
  }}
  bastion {{
    {bastion}
  }}
  {endpoints}
  {flow_logs}
  tags = {{ team = "{team}" }}
}}
"#,
            cost_center = self.cost_center,
            az_count = self.az_count,
            nat = self.nat,
            port = self.port,
            instance_type = self.instance_type,
            user_data = self.user_data,
            min = self.sizes.0,
            max = self.sizes.1,
            desired = self.sizes.2,
            cpu = self.cpu_target,
            health = self.health_check_path,
            grace = self.grace_period,
            ingress = self.ingress,
            load_balancer = self.load_balancer,
            app_profile = profile(self.app_profile),
            team = self.team,
        )
    }
}

impl Live {
    fn start(inputs: &Inputs) -> Live {
        Live::start_after(inputs, |_| {})
    }

    /// As `start`, once `prepare` has set up moto.
    fn start_after(inputs: &Inputs, prepare: impl FnOnce(&Moto)) -> Live {
        Live::apply(&inputs.hcl(), "prodvpc_environment.live", prepare)
    }

    /// Applies new inputs; the plan must be an in-place update, and the plan after it empty.
    fn change(&self, inputs: &Inputs) -> serde_json::Value {
        self.change_with_plan(inputs).0
    }

    /// As `change`, also returning the text of the plan.
    fn change_with_plan(&self, inputs: &Inputs) -> (serde_json::Value, String) {
        self.ws.write(&inputs.hcl());
        let plan = self.ws.ok(&["plan", "-no-color"]);
        assert!(
            plan.stdout.contains("1 to change, 0 to destroy"),
            "not an in-place update:\n{}",
            plan.stdout
        );
        self.ws.ok(&["apply", "-auto-approve", "-no-color"]);
        self.ws.assert_no_changes("after the change");
        let posture = self.state()["posture"].clone();
        assert!(
            posture.as_object().is_some_and(|p| !p.is_empty()),
            "the posture is judged again after the change: {posture}"
        );
        (self.state(), without_posture(&plan.stdout))
    }
}

/// The plan's text without the `posture` attribute, which every plan that
/// changes something shows as known after apply (it is judged from what AWS
/// holds then): what is left says whether anything else becomes unknown.
fn without_posture(plan: &str) -> String {
    let mut kept = Vec::new();
    let mut in_posture = false;
    for line in plan.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("~ posture ") {
            // `~ posture = {` opens the map's lines, closed by `} -> (known after apply)`
            in_posture = trimmed.ends_with('{');
            continue;
        }
        if in_posture {
            in_posture = !trimmed.starts_with('}');
            continue;
        }
        kept.push(line);
    }
    kept.join("\n")
}

fn surviving(state: &serde_json::Value) -> Vec<serde_json::Value> {
    [
        "vpc_id",
        "internet_gateway_id",
        "alb_arn",
        "launch_template_id",
        "autoscaling_group_name",
        "vpc_endpoint_ids",
    ]
    .iter()
    .map(|k| state[*k].clone())
    .collect()
}

/// For each live gateway endpoint of the VPC (by service, `s3` or `dynamodb`):
/// the route tables it serves, by component key, and those whose routes send
/// the service's prefix list to it.
fn endpoints_served(
    api: &Api,
    state: &serde_json::Value,
) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    runtime().block_on(async {
        let in_vpc = Filter::builder().name("vpc-id").values(&vpc).build();
        let tables = api
            .ec2
            .describe_route_tables()
            .filters(in_vpc.clone())
            .send()
            .await
            .unwrap();
        let key_of = |id: &str| -> String {
            tables
                .route_tables()
                .iter()
                .find(|t| t.route_table_id() == Some(id))
                .and_then(|t| {
                    t.tags()
                        .iter()
                        .find(|tag| tag.key() == Some("prodvpc:component"))
                })
                .and_then(|tag| tag.value())
                .unwrap_or(id)
                .to_string()
        };
        let endpoints = api
            .ec2
            .describe_vpc_endpoints()
            .filters(in_vpc)
            .send()
            .await
            .unwrap();
        endpoints
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                e.state()
                    .is_some_and(|s| s.as_str().eq_ignore_ascii_case("available"))
            })
            .map(|e| {
                let id = e.vpc_endpoint_id().unwrap();
                let service = e.service_name().unwrap().rsplit('.').next().unwrap();
                let served = e.route_table_ids().iter().map(|t| key_of(t)).collect();
                let routed = tables
                    .route_tables()
                    .iter()
                    .filter(|t| {
                        t.routes().iter().any(|r| {
                            r.gateway_id() == Some(id) && r.destination_prefix_list_id().is_some()
                        })
                    })
                    .map(|t| key_of(t.route_table_id().unwrap()))
                    .collect();
                (service.to_string(), (served, routed))
            })
            .collect()
    })
}

fn keys(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|k| k.to_string()).collect()
}

fn ingress(api: &Api, group: &str) -> BTreeSet<String> {
    runtime().block_on(api.ingress(group))
}

#[test]
fn tags_sizes_scaling_health_and_rules_change_in_place() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    let created = runtime().block_on(live.api.group("live-app"));
    assert_eq!(
        created.health_check_grace_period(),
        Some(120),
        "created with the configured grace period"
    );
    inputs.team = "b";
    inputs.cost_center = "200";
    inputs.sizes = (2, 5, 3);
    inputs.cpu_target = 60;
    inputs.health_check_path = "/healthz";
    // AWS keeps a grace period of 0 (moto turns 0 into 300 on create, not on update)
    inputs.grace_period = 0;
    inputs.ingress = "203.0.113.0/24";
    inputs.ssh = "192.0.2.0/24";
    let (after, plan) = live.change_with_plan(&inputs);
    // nothing here creates or replaces a component, so no ID is unknown in the plan
    assert!(
        !plan.contains("(known after apply)"),
        "spurious unknowns:\n{plan}"
    );
    assert_eq!(surviving(&after), surviving(&before));
    assert_eq!(after["public_subnet_ids"], before["public_subnet_ids"]);
    let groups = string_map(&after["security_group_ids"]);
    assert_eq!(
        ingress(&live.api, &groups["alb"]),
        BTreeSet::from(["tcp/80 203.0.113.0/24".to_string()])
    );
    assert_eq!(
        ingress(&live.api, &groups["bastion"]),
        BTreeSet::from(["tcp/22 192.0.2.0/24".to_string()])
    );
    runtime().block_on(async {
        let vpc = live
            .api
            .ec2
            .describe_vpcs()
            .vpc_ids(after["vpc_id"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<_, _> = vpc.vpcs()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        assert_eq!((tags["team"], tags["cost_center"]), ("b", "200"));
        let subnets = live
            .api
            .ec2
            .describe_subnets()
            .filters(Filter::builder().name("tag:team").values("b").build())
            .send()
            .await
            .unwrap();
        assert_eq!(subnets.subnets().len(), 4, "every subnet retagged");
        let asg = live.api.group("live-app").await;
        assert_eq!(
            (asg.min_size(), asg.max_size(), asg.desired_capacity()),
            (Some(2), Some(5), Some(3))
        );
        assert_eq!(asg.health_check_grace_period(), Some(0));
        assert!(asg
            .tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("b")));
        // the instances it ran before the change are retagged with it, and
        // those it launched for the new capacity carry the group's tags,
        // which AWS puts over the launch template's
        let ids = |group: &aws_sdk_autoscaling::types::AutoScalingGroup| -> BTreeSet<String> {
            group
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect()
        };
        let earlier = ids(&created);
        let launched: Vec<String> = ids(&asg).difference(&earlier).cloned().collect();
        assert!(
            !launched.is_empty(),
            "the group launched for the new capacity"
        );
        let running = live
            .api
            .ec2
            .describe_instances()
            .set_instance_ids(Some(earlier.into_iter().chain(launched).collect()))
            .send()
            .await
            .unwrap();
        let instances: Vec<_> = running
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .collect();
        assert!(!instances.is_empty());
        for instance in instances {
            let tags: BTreeMap<&str, &str> = instance
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?)))
                .collect();
            assert_eq!(
                (tags.get("team"), tags.get("cost_center")),
                (Some(&"b"), Some(&"200")),
                "{:?}: {tags:?}",
                instance.instance_id()
            );
        }
        let policies = live
            .api
            .autoscaling
            .describe_policies()
            .auto_scaling_group_name("live-app")
            .send()
            .await
            .unwrap();
        assert_eq!(
            policies.scaling_policies()[0]
                .target_tracking_configuration()
                .unwrap()
                .target_value(),
            Some(60.0)
        );
        let tg = live
            .api
            .elbv2
            .describe_target_groups()
            .target_group_arns(after["target_group_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(tg.target_groups()[0].health_check_path(), Some("/healthz"));
        let alb_tags = live
            .api
            .elbv2
            .describe_tags()
            .resource_arns(after["alb_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(alb_tags.tag_descriptions()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("b")));
    });
}

#[test]
fn desired_capacity_set_by_the_autoscaler_is_not_drift() {
    let inputs = Inputs::default();
    let live = Live::start(&inputs);
    runtime()
        .block_on(
            live.api
                .autoscaling
                .set_desired_capacity()
                .auto_scaling_group_name("live-app")
                .desired_capacity(3)
                .send(),
        )
        .unwrap();
    live.ws.assert_no_changes("scaling activity shown as drift");
}

#[test]
fn instance_settings_roll_a_new_template_version() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    inputs.instance_type = "t3.small";
    inputs.user_data = "echo two";
    inputs.instance_refresh =
        "min_healthy_percentage = 50\n      max_healthy_percentage = 150\n      instance_warmup = 30";
    live.layer.reset_counts();
    let (after, plan) = live.change_with_plan(&inputs);
    let unknown: Vec<&str> = plan
        .lines()
        .filter(|l| l.contains("(known after apply)"))
        .collect();
    assert_eq!(
        unknown.len(),
        1,
        "only the template version changes:\n{plan}"
    );
    assert!(unknown[0].contains("launch_template_version"), "{plan}");
    assert_eq!(surviving(&after), surviving(&before));
    let version = after["launch_template_version"].as_i64().unwrap();
    assert!(version > before["launch_template_version"].as_i64().unwrap());
    assert_eq!(
        live.layer.count("autoscaling:StartInstanceRefresh"),
        1,
        "one rolling refresh"
    );
    assert!(
        plan.contains("keep 50% of the group in service"),
        "the warning gives the configured share:\n{plan}"
    );
    // the model answers for the instance refreshes moto lacks
    let modelled = Api::new(&live.layer.endpoint());
    runtime().block_on(async {
        let refreshes = modelled
            .autoscaling
            .describe_instance_refreshes()
            .auto_scaling_group_name("live-app")
            .send()
            .await
            .unwrap();
        let preferences = refreshes.instance_refreshes()[0]
            .preferences()
            .expect("the refresh has preferences");
        assert_eq!(
            (
                preferences.min_healthy_percentage(),
                preferences.max_healthy_percentage(),
                preferences.instance_warmup()
            ),
            (Some(50), Some(150), Some(30)),
            "the refresh rolls with the configured preferences"
        );
        let lt = after["launch_template_id"].as_str().unwrap();
        let versions = live
            .api
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(lt)
            .versions("$Default")
            .send()
            .await
            .unwrap();
        let default = &versions.launch_template_versions()[0];
        assert_eq!(default.version_number(), Some(version));
        assert_eq!(
            default
                .launch_template_data()
                .unwrap()
                .instance_type()
                .map(|t| t.as_str()),
            Some("t3.small")
        );
        let asg = live.api.group("live-app").await;
        let spec = asg.launch_template().unwrap();
        assert_eq!(spec.version(), Some(version.to_string().as_str()));
    });
}

#[test]
fn two_template_changes_in_a_row_both_roll() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    live.layer.reset_counts();
    inputs.instance_type = "t3.small";
    let first = live.change(&inputs);
    // the first refresh is still rolling (minutes on AWS) when the second change comes
    inputs.instance_type = "t3.medium";
    let second = live.change(&inputs);
    let (v1, v2) = (
        first["launch_template_version"].as_i64().unwrap(),
        second["launch_template_version"].as_i64().unwrap(),
    );
    assert!(v2 > v1, "a new version for each change");
    assert_eq!(
        live.layer.count("autoscaling:StartInstanceRefresh"),
        2,
        "each change rolls: {:?}",
        live.layer.counts()
    );
    // a refresh still running towards the first version is cancelled and its end
    // awaited, so the second start is never refused as "in progress"
    assert_eq!(
        live.layer
            .model()
            .refused("autoscaling:StartInstanceRefresh"),
        0,
        "{:?}",
        live.layer.model().refused_counts()
    );
    let request = live
        .layer
        .last_request("autoscaling:StartInstanceRefresh")
        .unwrap();
    assert!(
        request.contains(&format!("LaunchTemplate.Version={v2}")),
        "the second refresh rolls to the second version: {request}"
    );
    live.ws.assert_no_changes("after the second change");
}

/// The refreshes of the environment's group as AWS (the model) reports them,
/// newest first.
fn refreshes(live: &Live) -> Vec<aws_sdk_autoscaling::types::InstanceRefresh> {
    let modelled = Api::new(&live.layer.endpoint());
    runtime().block_on(async {
        modelled
            .autoscaling
            .describe_instance_refreshes()
            .auto_scaling_group_name("live-app")
            .send()
            .await
            .unwrap()
            .instance_refreshes()
            .to_vec()
    })
}

fn status(refresh: &aws_sdk_autoscaling::types::InstanceRefresh) -> &str {
    refresh.status().map(|s| s.as_str()).unwrap_or_default()
}

/// The template version the group reports, and the versions its live
/// instances were launched from, as AWS (the model) reports them.
fn running_versions(live: &Live) -> (String, Vec<String>) {
    let modelled = Api::new(&live.layer.endpoint());
    runtime().block_on(async {
        let group = modelled.group("live-app").await;
        let instances = group
            .instances()
            .iter()
            .filter(|i| {
                !i.lifecycle_state()
                    .is_some_and(|s| s.as_str().starts_with("Terminat"))
            })
            .filter_map(|i| i.launch_template()?.version().map(str::to_string))
            .collect();
        let version = group.launch_template().and_then(|t| t.version());
        (version.unwrap_or_default().to_string(), instances)
    })
}

fn version_of(state: &serde_json::Value) -> String {
    state["launch_template_version"]
        .as_i64()
        .unwrap()
        .to_string()
}

#[test]
fn an_instance_type_change_returns_once_every_instance_runs_the_new_version() {
    let mut inputs = Inputs {
        sizes: (2, 4, 2),
        ..Inputs::default()
    };
    let live = Live::start(&inputs);
    inputs.instance_type = "t3.small";
    let after = live.change(&inputs);
    let version = version_of(&after);
    let listed = refreshes(&live);
    assert_eq!(status(&listed[0]), "Successful", "{listed:?}");
    let (group, instances) = running_versions(&live);
    assert_eq!(group, version);
    assert_eq!(
        instances,
        vec![version.clone(), version],
        "every instance rolled"
    );
}

#[test]
fn a_version_whose_instances_fail_health_checks_is_rolled_back_and_apply_fails_with_aws_reason() {
    let mut inputs = Inputs {
        sizes: (2, 4, 2),
        ..Inputs::default()
    };
    let live = Live::start(&inputs);
    let old = version_of(&live.state());
    live.layer.model().set_unhealthy_user_data(Some("exit 1"));
    inputs.user_data = "exit 1";
    live.ws.write(&inputs.hcl());
    let failed = live.ws.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(failed.code, 0, "{}", failed.text());
    let text = failed
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "ended RollbackSuccessful",
        "failed ELB health checks (Target.ResponseCodeMismatch",
        &format!("AWS rolled the instances back to version {old}"),
        "the next plan shows the change still to make",
    ] {
        assert!(text.contains(expected), "no `{expected}` in: {text}");
    }
    // never half on each: every instance and the group are back on the old version
    assert_eq!(
        running_versions(&live),
        (old.clone(), vec![old.clone(), old.clone()])
    );
    let state = live.state();
    assert_eq!(
        version_of(&state),
        old,
        "state keeps the version the instances run"
    );
    assert_eq!(state["app"][0]["user_data"], "echo one");
    let plan = live.ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "{}", plan.text());
    assert!(plan.stdout.contains(r#"~ user_data"#), "{}", plan.stdout);

    // with the cause fixed, the next apply rolls the fix through
    inputs.user_data = "echo two";
    let after = live.change(&inputs);
    let version = version_of(&after);
    assert_eq!(
        running_versions(&live),
        (version.clone(), vec![version.clone(), version])
    );
}

#[test]
fn without_waiting_apply_returns_right_after_starting_the_refresh() {
    let mut inputs = Inputs {
        instance_refresh: "wait_for_completion = false",
        ..Inputs::default()
    };
    let live = Live::start(&inputs);
    let old = version_of(&live.state());
    inputs.instance_type = "t3.small";
    live.ws.write(&inputs.hcl());
    // the refresh lasts some seconds (a tenth of AWS's time), so that a busy
    // machine still sees it under way when apply returns; the model judges
    // the targets' health checks at the new scale too, so they pass again
    // (3 checks 15 s apart, 4.5 s) before the apply
    live.layer.model().set_time_scale(0.1);
    std::thread::sleep(std::time::Duration::from_secs(5));
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let listed = refreshes(&live);
    assert!(
        matches!(status(&listed[0]), "Pending" | "InProgress"),
        "apply returned while the refresh runs: {listed:?}"
    );
    assert_eq!(
        running_versions(&live).0,
        old,
        "the group takes the version at the end"
    );
    // the change under way is not drift
    live.ws.assert_no_changes("while the refresh runs");
    let since = std::time::Instant::now();
    while status(&refreshes(&live)[0]) != "Successful" {
        assert!(since.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    live.ws
        .ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let version = version_of(&live.state());
    assert_ne!(
        version, old,
        "a refresh records the version the instances run now"
    );
    assert_eq!(running_versions(&live), (version.clone(), vec![version]));
    live.ws.assert_no_changes("after the refresh");
}

#[test]
fn a_refresh_started_elsewhere_towards_another_version_is_seen_and_replaced() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let old = version_of(&live.state());
    inputs.instance_type = "t3.small";
    let version = version_of(&live.change(&inputs));
    let template = live.state()["launch_template_id"]
        .as_str()
        .unwrap()
        .to_string();
    let modelled = Api::new(&live.layer.endpoint());
    // pending for AWS's 10 s, long enough for a plan to find it under way
    live.layer.model().set_time_scale(1.0);
    runtime().block_on(async {
        modelled
            .autoscaling
            .start_instance_refresh()
            .auto_scaling_group_name("live-app")
            .desired_configuration(
                aws_sdk_autoscaling::types::DesiredConfiguration::builder()
                    .launch_template(
                        aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                            .launch_template_id(&template)
                            .version(&old)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    live.layer.model().set_time_scale(AWS_LIKE_TIME_SCALE);
    live.repair(&format!(
        "under way towards launch template version {old}, which is not the configuration's"
    ));
    let listed = refreshes(&live);
    assert_eq!(status(&listed[0]), "Successful", "{listed:?}");
    assert!(
        listed.iter().any(|r| status(r) == "Cancelled"),
        "{listed:?}"
    );
    assert_eq!(running_versions(&live), (version.clone(), vec![version]));
}

#[test]
fn port_and_certificate_switch_target_group_and_listeners() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    inputs.port = 9090;
    inputs.certificate = true;
    let after = live.change(&inputs);
    assert_eq!(surviving(&after), surviving(&before));
    let new_tg = after["target_group_arn"].as_str().unwrap().to_string();
    assert_ne!(new_tg, before["target_group_arn"].as_str().unwrap());
    let listeners = string_map(&after["listener_arns"]);
    assert_eq!(
        listeners.keys().cloned().collect::<Vec<_>>(),
        vec!["http", "https"]
    );
    assert_eq!(
        listeners["http"],
        string_map(&before["listener_arns"])["http"],
        "the HTTP listener is kept"
    );
    let groups = string_map(&after["security_group_ids"]);
    assert_eq!(
        ingress(&live.api, &groups["alb"]),
        BTreeSet::from([
            "tcp/80 0.0.0.0/0".to_string(),
            "tcp/443 0.0.0.0/0".to_string()
        ])
    );
    assert!(ingress(&live.api, &groups["app"]).contains(&format!("tcp/9090 {}", groups["alb"])));
    assert!(!ingress(&live.api, &groups["app"]).contains(&format!("tcp/8080 {}", groups["alb"])));
    runtime().block_on(async {
        let listeners = live.api.listeners(after["alb_arn"].as_str().unwrap()).await;
        for listener in &listeners {
            let action = &listener.default_actions()[0];
            match listener.port() {
                Some(443) => assert_eq!(action.target_group_arn(), Some(new_tg.as_str())),
                Some(80) => assert_eq!(action.r#type().map(|t| t.as_str()), Some("redirect")),
                other => panic!("unexpected listener port {other:?}"),
            }
        }
        let tgs = live
            .api
            .elbv2
            .describe_target_groups()
            .send()
            .await
            .unwrap();
        assert_eq!(
            tgs.target_groups().len(),
            1,
            "the old target group is deleted"
        );
        let asg = live.api.group("live-app").await;
        assert_eq!(asg.target_group_arns(), std::slice::from_ref(&new_tg));
    });

    // the redirect sent to another host out of band: browsers keep a 301, so
    // it is drift to report and undo, not just its protocol and port
    let http = listeners["http"].clone();
    let redirect_host = |host: &str| {
        let host = host.to_string();
        let http = http.clone();
        let api = &live.api;
        runtime().block_on(async move {
            api.elbv2
                .modify_listener()
                .listener_arn(&http)
                .default_actions(
                    aws_sdk_elasticloadbalancingv2::types::Action::builder()
                        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Redirect)
                        .redirect_config(
                            aws_sdk_elasticloadbalancingv2::types::RedirectActionConfig::builder()
                                .protocol("HTTPS")
                                .port("443")
                                .host(host)
                                .status_code(
                                    aws_sdk_elasticloadbalancingv2::types::RedirectActionStatusCodeEnum::Http301,
                                )
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap();
        })
    };
    redirect_host("login.elsewhere.example");
    live.repair("redirects HTTP_301 HTTPS://login.elsewhere.example:443/#{path}?#{query} instead of HTTP_301 HTTPS://#{host}:443/#{path}?#{query}");
    runtime().block_on(async {
        let listeners = live.api.listeners(after["alb_arn"].as_str().unwrap()).await;
        let http = listeners.iter().find(|l| l.port() == Some(80)).unwrap();
        let redirect = http.default_actions()[0].redirect_config().unwrap();
        assert_eq!(redirect.host(), Some("#{host}"), "{redirect:?}");
    });

    // a second certificate on the HTTPS listener, which would answer as
    // another host: taken off, the configured one stays
    let https = listeners["https"].clone();
    let other = "arn:aws:iam::123456789012:server-certificate/elsewhere";
    let certificates = || {
        runtime().block_on(async {
            let out = live
                .api
                .elbv2
                .describe_listener_certificates()
                .listener_arn(&https)
                .send()
                .await
                .unwrap();
            out.certificates()
                .iter()
                .filter_map(|c| c.certificate_arn().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    runtime().block_on(async {
        live.api
            .elbv2
            .add_listener_certificates()
            .listener_arn(&https)
            .certificates(
                aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                    .certificate_arn(other)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    live.repair(&format!(
        "listener/https serves certificates {other} besides the configured one; apply removes them"
    ));
    assert_eq!(certificates(), [CERTIFICATE]);
    inputs.certificate = false;
    let plain = live.change(&inputs);
    assert_eq!(
        string_map(&plain["listener_arns"])
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["http"]
    );
    runtime().block_on(async {
        let listeners = live.api.listeners(plain["alb_arn"].as_str().unwrap()).await;
        assert_eq!(listeners.len(), 1);
        assert_eq!(
            listeners[0].default_actions()[0].target_group_arn(),
            Some(new_tg.as_str())
        );
    });

    // the listener moved to another port out of band: port 80 has none, and
    // the one on 8081 is not the environment's
    let http = string_map(&plain["listener_arns"])["http"].clone();
    runtime().block_on(async {
        live.api
            .elbv2
            .modify_listener()
            .listener_arn(&http)
            .port(8081)
            .send()
            .await
            .unwrap();
    });
    live.repair("listener/http is missing; apply creates it");
    let repaired = live.state();
    let arns = string_map(&repaired["listener_arns"]);
    assert_ne!(arns["http"], http, "a new listener serves port 80");
    runtime().block_on(async {
        let listeners = live.api.listeners(plain["alb_arn"].as_str().unwrap()).await;
        let ports: Vec<_> = listeners.iter().filter_map(|l| l.port()).collect();
        assert_eq!(ports, [80], "the listener on 8081 is removed");
    });
}

#[test]
fn bastion_toggles_off_and_on() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    inputs.bastion = false;
    let off = live.change(&inputs);
    assert!(off["bastion_instance_id"].is_null());
    let groups = string_map(&off["security_group_ids"]);
    assert!(!groups.contains_key("bastion"));
    assert!(
        ingress(&live.api, &groups["app"])
            .iter()
            .all(|r| !r.starts_with("tcp/22 ")),
        "no SSH into the app without a bastion"
    );
    runtime().block_on(async {
        let old = string_map(&before["security_group_ids"])["bastion"].clone();
        let found = live
            .api
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-id").values(&old).build())
            .send()
            .await
            .unwrap();
        assert!(
            found.security_groups().is_empty(),
            "the bastion security group is deleted"
        );
        let instance = live
            .api
            .ec2
            .describe_instances()
            .instance_ids(before["bastion_instance_id"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let state = instance.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string());
        assert_eq!(state.as_deref(), Some("terminated"));
    });
    inputs.bastion = true;
    let on = live.change(&inputs);
    assert!(on["bastion_instance_id"]
        .as_str()
        .is_some_and(|id| Some(id) != before["bastion_instance_id"].as_str()));
    assert_eq!(surviving(&on), surviving(&before));
}

#[test]
fn nat_strategy_changes_both_ways_without_touching_subnets() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    let single = string_map(&before["nat_gateway_ids"]);
    assert_eq!(single.len(), 1);
    // each plan warns with what its change cuts, and only that
    let warned = |plan: &str, summary: &str, says: &str| {
        let text = plan.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains(&format!("Warning: {summary}")) && text.contains(says),
            "no `{summary}` saying `{says}` in:\n{plan}"
        );
    };
    inputs.nat = "one_per_az";
    let (per_az, plan) = live.change_with_plan(&inputs);
    warned(
        &plan,
        "NAT gateways or subnets will move: connections will be cut",
        "The private subnets in us-east-1b switch to another NAT gateway",
    );
    let nats = string_map(&per_az["nat_gateway_ids"]);
    assert_eq!(nats.len(), 2);
    let (zone, kept) = single.iter().next().unwrap();
    assert_eq!(&nats[zone], kept, "the existing NAT gateway is kept");
    assert_eq!(per_az["private_subnet_ids"], before["private_subnet_ids"]);
    let routes = |state: &serde_json::Value| -> BTreeMap<String, Option<String>> {
        runtime()
            .block_on(async {
                let out = live
                    .api
                    .ec2
                    .describe_route_tables()
                    .filters(
                        Filter::builder()
                            .name("tag:prodvpc:environment")
                            .values("live")
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
                out.route_tables()
                    .iter()
                    .filter_map(|t| {
                        let key = t
                            .tags()
                            .iter()
                            .find_map(|tag| tag.value()?.strip_prefix("rtb/private/"))?
                            .to_string();
                        let nat = t
                            .routes()
                            .iter()
                            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                            .and_then(|r| r.nat_gateway_id())
                            .map(str::to_string);
                        Some((key, nat))
                    })
                    .collect::<BTreeMap<_, _>>()
            })
            .into_iter()
            .filter(|(zone, _)| string_map(&state["private_subnet_ids"]).contains_key(zone))
            .collect()
    };
    for (zone, nat) in routes(&per_az) {
        assert_eq!(
            nat.as_deref(),
            Some(nats[&zone].as_str()),
            "private subnet of {zone} uses its own NAT gateway"
        );
    }
    inputs.nat = "none";
    let (none, plan) = live.change_with_plan(&inputs);
    warned(
        &plan,
        "Private subnets will lose internet egress",
        "The private subnets in us-east-1a, us-east-1b lose all internet egress",
    );
    assert!(string_map(&none["nat_gateway_ids"]).is_empty());
    assert!(
        routes(&none).values().all(Option::is_none),
        "no internet route without NAT"
    );
    // the deleted gateways' interfaces, which linger, are not another's
    let after = live.ws.run(&["plan", "-no-color"]);
    assert!(!after.text().contains("not its own"), "{}", after.text());
    runtime().block_on(async {
        let addresses = live
            .api
            .ec2
            .describe_addresses()
            .filters(
                Filter::builder()
                    .name("tag:prodvpc:environment")
                    .values("live")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(
            addresses.addresses().is_empty(),
            "the Elastic IPs are released"
        );
    });
    inputs.nat = "single";
    let (back, plan) = live.change_with_plan(&inputs);
    warned(
        &plan,
        "NAT gateways or subnets will be added: nothing is cut",
        "The private subnets in us-east-1a, us-east-1b gain internet egress",
    );
    assert_eq!(string_map(&back["nat_gateway_ids"]).len(), 1);
    assert_eq!(back["public_subnet_ids"], before["public_subnet_ids"]);
    assert_eq!(surviving(&back), surviving(&before));
}

#[test]
fn adding_and_removing_a_zone_keeps_the_others() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    inputs.az_count = 3;
    let three = live.change(&inputs);
    let public = string_map(&three["public_subnet_ids"]);
    assert_eq!(public.len(), 3);
    for (zone, id) in string_map(&before["public_subnet_ids"]) {
        assert_eq!(public[&zone], id, "subnet of {zone} survives");
        assert_eq!(
            string_map(&three["public_subnet_cidrs"])[&zone],
            string_map(&before["public_subnet_cidrs"])[&zone]
        );
    }
    assert_eq!(surviving(&three), surviving(&before));
    let private3 = keys(&[
        "rtb/private/us-east-1a",
        "rtb/private/us-east-1b",
        "rtb/private/us-east-1c",
    ]);
    for (service, (served, routed)) in endpoints_served(&live.api, &three) {
        assert_eq!(served, private3, "{service} serves the new zone's table");
        assert_eq!(routed, private3, "{service} is routed from the new zone");
    }
    runtime().block_on(async {
        let lb = live
            .api
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(three["alb_arn"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(lb.load_balancers()[0].availability_zones().len(), 3);
        let asg = live.api.group("live-app").await;
        assert_eq!(asg.vpc_zone_identifier().unwrap().split(',').count(), 3);
    });
    inputs.az_count = 2;
    let two = live.change(&inputs);
    assert_eq!(
        endpoints_served(&live.api, &two).len(),
        2,
        "both endpoints survive the removal of a zone they served"
    );
    assert_eq!(two["public_subnet_ids"], before["public_subnet_ids"]);
    assert_eq!(two["private_subnet_ids"], before["private_subnet_ids"]);
    runtime().block_on(async {
        let subnets = live
            .api
            .ec2
            .describe_subnets()
            .filters(
                Filter::builder()
                    .name("vpc-id")
                    .values(two["vpc_id"].as_str().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            subnets.subnets().len(),
            4,
            "the removed zone's subnets are deleted"
        );
    });
}

#[test]
fn gateway_endpoints_serve_the_private_tables_change_in_place_and_are_repaired() {
    let mut inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    let private = keys(&["rtb/private/us-east-1a", "rtb/private/us-east-1b"]);
    let served = endpoints_served(&live.api, &before);
    assert_eq!(
        served.keys().cloned().collect::<BTreeSet<_>>(),
        keys(&["dynamodb", "s3"]),
        "both endpoints by default"
    );
    for (service, (tables, routed)) in &served {
        assert_eq!(tables, &private, "{service} serves every private table");
        assert_eq!(routed, &private, "{service}'s prefix list is routed to it");
    }
    let ids = string_map(&before["vpc_endpoint_ids"]);
    assert_eq!(ids.len(), 2);

    // one endpoint off, the other also on the public table: in place
    inputs.endpoints = Some("dynamodb = false\n    public_route_table = true");
    let changed = live.change(&inputs);
    let mut with_public = private.clone();
    with_public.insert("rtb/public".into());
    let served = endpoints_served(&live.api, &changed);
    assert_eq!(
        served.keys().cloned().collect::<BTreeSet<_>>(),
        keys(&["s3"])
    );
    assert_eq!(served["s3"], (with_public.clone(), with_public.clone()));
    assert_eq!(
        string_map(&changed["vpc_endpoint_ids"]),
        [("s3".to_string(), ids["s3"].clone())].into(),
        "the S3 endpoint is kept"
    );

    // detached out of band: drift, and apply attaches it again
    runtime().block_on(async {
        let table = live
            .api
            .ec2
            .describe_route_tables()
            .filters(
                Filter::builder()
                    .name("tag:prodvpc:component")
                    .values("rtb/private/us-east-1a")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        live.api
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&ids["s3"])
            .remove_route_table_ids(table.route_tables()[0].route_table_id().unwrap())
            .send()
            .await
            .unwrap();
    });
    live.repair("vpce/s3 does not serve rtb/private/us-east-1a; apply attaches it");
    assert_eq!(
        endpoints_served(&live.api, &changed)["s3"],
        (with_public.clone(), with_public)
    );

    // back to the defaults: DynamoDB again, the public table detached
    inputs.endpoints = None;
    let restored = live.change(&inputs);
    for (service, (tables, routed)) in endpoints_served(&live.api, &restored) {
        assert_eq!(tables, private, "{service}");
        assert_eq!(routed, private, "{service}");
    }
    assert_eq!(string_map(&restored["vpc_endpoint_ids"])["s3"], ids["s3"]);
}

const FLOW_LOG_BUCKET: &str = "live-flow-logs";
const FLOW_LOGS_TO_S3: &str = "destination_arn = \"arn:aws:s3:::live-flow-logs/vpc\"";
const FLOW_LOGS_REJECTED_EACH_MINUTE: &str = "destination_arn = \"arn:aws:s3:::live-flow-logs/vpc\"\n    traffic_type = \"REJECT\"\n    max_aggregation_interval = 60";
const FLOW_LOGS_TO_CLOUDWATCH: &str = "destination_arn = \"arn:aws:logs:us-east-1:123456789012:log-group:live-vpc\"\n    iam_role_arn = \"arn:aws:iam::123456789012:role/flow-logs\"";

/// The flow logs AWS has for `vpc`, by ID: traffic type, destination type,
/// destination, delivery role, aggregation interval and the environment tag.
fn flow_logs_of(api: &Api, vpc: &str) -> BTreeMap<String, [String; 6]> {
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_flow_logs()
            .filter(Filter::builder().name("resource-id").values(vpc).build())
            .send()
            .await
            .unwrap();
        out.flow_logs()
            .iter()
            .map(|f| {
                let text = |v: Option<&str>| v.unwrap_or_default().to_string();
                let owner = f
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("prodvpc:environment"))
                    .and_then(|t| t.value());
                (
                    text(f.flow_log_id()),
                    [
                        text(f.traffic_type().map(|t| t.as_str())),
                        text(f.log_destination_type().map(|t| t.as_str())),
                        text(f.log_destination()),
                        text(f.deliver_logs_permission_arn()),
                        f.max_aggregation_interval().unwrap_or_default().to_string(),
                        text(owner),
                    ],
                )
            })
            .collect()
    })
}

#[test]
fn flow_logs_are_created_replaced_repaired_removed_imported_and_destroyed() {
    let mut inputs = Inputs {
        flow_logs: Some(FLOW_LOGS_TO_S3),
        ..Inputs::default()
    };
    let live = Live::start_after(&inputs, |moto| moto.create_bucket(FLOW_LOG_BUCKET));
    let before = live.state();
    let vpc = before["vpc_id"].as_str().unwrap().to_string();
    let first = before["flow_log_id"].as_str().unwrap().to_string();
    let expect = |traffic: &str, kind: &str, destination: &str, role: &str, interval: &str| {
        [traffic, kind, destination, role, interval, "live"].map(str::to_string)
    };
    assert_eq!(
        flow_logs_of(&live.api, &vpc),
        [(
            first.clone(),
            expect("ALL", "s3", "arn:aws:s3:::live-flow-logs/vpc", "", "600")
        )]
        .into()
    );
    assert_eq!(before["posture"]["EC2.6"], "pass");

    // AWS cannot change a flow log: a new one replaces it, the ID is unknown in the plan
    inputs.flow_logs = Some(FLOW_LOGS_REJECTED_EACH_MINUTE);
    let (replaced, plan) = live.change_with_plan(&inputs);
    assert!(
        plan.contains("flow_log_id") && plan.contains("(known after apply)"),
        "{plan}"
    );
    let second = replaced["flow_log_id"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(
        flow_logs_of(&live.api, &vpc),
        [(
            second.clone(),
            expect("REJECT", "s3", "arn:aws:s3:::live-flow-logs/vpc", "", "60")
        )]
        .into(),
        "the old flow log is deleted"
    );
    assert_eq!(replaced["posture"]["EC2.6"], "pass", "REJECT satisfies it");

    // deleted out of band: drift, and apply creates it again
    runtime().block_on(async {
        live.api
            .ec2
            .delete_flow_logs()
            .flow_log_ids(&second)
            .send()
            .await
            .unwrap();
    });
    live.repair("flowlog is missing; apply creates it");
    let third = live.state()["flow_log_id"].as_str().unwrap().to_string();
    assert_eq!(flow_logs_of(&live.api, &vpc).len(), 1);

    // its tags are the environment's: one removed out of band is restored
    runtime().block_on(async {
        live.api
            .ec2
            .delete_tags()
            .resources(&third)
            .tags(aws_sdk_ec2::types::Tag::builder().key("team").build())
            .send()
            .await
            .unwrap();
    });
    live.repair("flowlog lacks tag team");
    assert_eq!(
        live.state()["flow_log_id"],
        third.as_str(),
        "retagged, not replaced"
    );

    // removed from the configuration: deleted, and EC2.6 fails again
    inputs.flow_logs = None;
    let removed = live.change(&inputs);
    assert!(removed["flow_log_id"].is_null());
    assert!(flow_logs_of(&live.api, &vpc).is_empty());
    assert!(
        removed["posture"]["EC2.6"]
            .as_str()
            .is_some_and(|v| v.starts_with("fail: the VPC has no flow log")),
        "{}",
        removed["posture"]
    );

    // to CloudWatch Logs, through a delivery role IAM made moments ago: AWS
    // cannot assume it at first, and apply waits for it
    live.layer
        .model()
        .delay_role("flow-logs", std::time::Duration::from_secs(3));
    inputs.flow_logs = Some(FLOW_LOGS_TO_CLOUDWATCH);
    let cloudwatch = live.change(&inputs);
    let fourth = cloudwatch["flow_log_id"].as_str().unwrap().to_string();
    assert_eq!(
        flow_logs_of(&live.api, &vpc),
        [(
            fourth,
            expect(
                "ALL",
                "cloud-watch-logs",
                "arn:aws:logs:us-east-1:123456789012:log-group:live-vpc",
                "arn:aws:iam::123456789012:role/flow-logs",
                "600"
            )
        )]
        .into()
    );

    // imported with the rest of the environment
    live.ws.ok(&["state", "rm", "prodvpc_environment.live"]);
    live.ws
        .ok(&["import", "-no-color", "prodvpc_environment.live", "live"]);
    live.ws.assert_no_changes("after import");
    assert_eq!(live.state()["flow_logs"], cloudwatch["flow_logs"]);

    // destroy leaves no flow log behind
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(flow_logs_of(&live.api, &vpc).is_empty());
}

#[test]
fn vpc_cidr_change_forces_replacement() {
    let inputs = Inputs::default();
    let live = Live::start(&inputs);
    live.ws
        .write(&inputs.hcl().replace("10.30.0.0/16", "10.31.0.0/16"));
    let plan = live.ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("# forces replacement"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("1 to add, 0 to change, 1 to destroy"),
        "{}",
        plan.stdout
    );
    // a full outage is said before it is approved, on the attribute that causes it
    let said = plan.text().split_whitespace().collect::<Vec<_>>().join(" ");
    for words in [
        "Warning: The whole environment will be replaced",
        "on main.tf line",
        "vpc_cidr",
        "deletes every object of the environment",
        "and then builds it all anew",
    ] {
        assert!(said.contains(words), "no `{words}` in:\n{}", plan.text());
    }
}

#[test]
fn import_round_trip() {
    let inputs = Inputs::default();
    let live = Live::start(&inputs);
    let before = live.state();
    live.ws.ok(&["state", "rm", "prodvpc_environment.live"]);
    live.ws
        .ok(&["import", "-no-color", "prodvpc_environment.live", "live"]);
    live.ws.assert_no_changes("after import");
    let imported = live.state();
    // every attribute is importable except the timeouts block (not set here)
    for (key, value) in before.as_object().unwrap() {
        assert_eq!(&imported[key], value, "{key} differs after import");
    }
    // the same through an `import` block
    live.ws.ok(&["state", "rm", "prodvpc_environment.live"]);
    live.ws.write(&format!(
        "{}\nimport {{\n  to = prodvpc_environment.live\n  id = \"live\"\n}}\n",
        inputs.hcl()
    ));
    let plan = live.ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("1 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(live.state()["vpc_id"], before["vpc_id"]);

    let ghost = Workspace::new(Some(live.layer.endpoint()));
    ghost.write(
        &inputs
            .hcl()
            .replace("name         = \"live\"", "name         = \"ghost\""),
    );
    let missing = ghost.run(&["import", "-no-color", "prodvpc_environment.live", "ghost"]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.text().contains("No environment named `ghost`"),
        "{}",
        missing.text()
    );
}

#[test]
fn state_of_schema_version_0_is_upgraded_and_refreshed() {
    let inputs = Inputs::default();
    let live = Live::start(&inputs);
    let current = live.state();
    // The environment as an earlier release recorded it: zone lists, the NAT
    // flag, no tags_all, and IDs that refresh must replace with AWS's own. The
    // VPC ID is the live one: it is what binds a state to its environment.
    let vpc = current["vpc_id"].as_str().expect("vpc id");
    live.ws.write_state(
        &include_str!("fixtures/environment-v0.tfstate").replace("vpc-0cc00000000000001", vpc),
    );
    live.ws.assert_no_changes("after the upgrade");
    live.ws
        .ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let pulled: serde_json::Value =
        serde_json::from_str(&live.ws.ok(&["state", "pull"]).stdout).expect("state json");
    let instance = &pulled["resources"][0]["instances"][0];
    assert_eq!(instance["schema_version"], 1);
    assert!(instance["attributes"].get("single_nat_gateway").is_none());
    let upgraded = live.state();
    for (key, value) in current.as_object().unwrap() {
        assert_eq!(&upgraded[key], value, "{key} differs after the upgrade");
    }
}

/// The load balancer's attributes as AWS reports them, by key.
fn balancer_attributes(api: &Api, arn: &str) -> BTreeMap<String, String> {
    runtime().block_on(async {
        let out = api
            .elbv2
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap();
        out.attributes()
            .iter()
            .map(|a| {
                (
                    a.key().unwrap_or_default().to_string(),
                    a.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    })
}

fn attribute<'a>(attributes: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    attributes
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{key} is not set: {attributes:?}"))
}

/// The SSL policy of the HTTPS listener.
fn https_policy(api: &Api, alb: &str) -> Option<String> {
    runtime().block_on(async {
        api.listeners(alb)
            .await
            .iter()
            .find(|l| l.port() == Some(443))
            .and_then(|l| l.ssl_policy().map(str::to_string))
    })
}

fn set_attribute(api: &Api, arn: &str, key: &str, value: &str) {
    use aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute;
    runtime()
        .block_on(
            api.elbv2
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key(key)
                        .value(value)
                        .build(),
                )
                .send(),
        )
        .unwrap();
}

/// Runs a destroy that must fail saying each of `says`, having deleted nothing.
fn refused_destroy(live: &Live, says: &[&str]) {
    refused_destroy_with(live, &[], says);
}

/// As [`refused_destroy`], with more arguments to `terraform destroy`.
fn refused_destroy_with(live: &Live, args: &[&str], says: &[&str]) {
    live.layer.reset_counts();
    let mut command = vec!["destroy", "-auto-approve", "-no-color"];
    command.extend(args);
    let refused = live.ws.run(&command);
    assert_ne!(refused.code, 0, "{}", refused.text());
    let said = refused
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for text in says {
        assert!(said.contains(text), "{text}:\n{}", refused.text());
    }
    assert_eq!(deletions(&live.layer), BTreeMap::new(), "nothing deleted");
}

/// Calls that delete or terminate something, by the layer's counts.
fn deletions(layer: &FaultLayer) -> BTreeMap<String, usize> {
    layer
        .counts()
        .into_iter()
        .filter(|(key, n)| {
            let action = key.split(':').nth(1).unwrap_or_default();
            *n > 0
                && (action.starts_with("Delete")
                    || action.starts_with("Terminate")
                    || action.starts_with("Release")
                    || action.starts_with("Detach")
                    || action.starts_with("Revoke"))
        })
        .collect()
}

#[test]
fn load_balancer_settings_change_in_place_drift_back_and_protect_the_environment() {
    const PROTECTED: &str = r#"ssl_policy                 = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    drop_invalid_header_fields = false
    idle_timeout               = 120
    deletion_protection        = true
    access_logs {
      bucket = "live-alb-logs"
      prefix = "shop"
    }"#;
    let mut inputs = Inputs {
        certificate: true,
        ..Inputs::default()
    };
    let live = Live::start(&inputs);
    let alb = live.state()["alb_arn"].as_str().unwrap().to_string();
    let created = balancer_attributes(&live.api, &alb);
    assert_eq!(
        attribute(&created, "routing.http.drop_invalid_header_fields.enabled"),
        "true"
    );
    assert_eq!(attribute(&created, "idle_timeout.timeout_seconds"), "60");
    assert_eq!(attribute(&created, "deletion_protection.enabled"), "false");
    assert_eq!(
        https_policy(&live.api, &alb).as_deref(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );

    // every setting changes in place, and nothing else becomes unknown
    inputs.load_balancer = PROTECTED;
    let (after, plan) = live.change_with_plan(&inputs);
    assert!(
        !plan.contains("(known after apply)"),
        "spurious unknowns:\n{plan}"
    );
    assert_eq!(after["alb_arn"], alb.as_str());
    let changed = balancer_attributes(&live.api, &alb);
    for (key, value) in [
        ("routing.http.drop_invalid_header_fields.enabled", "false"),
        ("idle_timeout.timeout_seconds", "120"),
        ("deletion_protection.enabled", "true"),
        ("access_logs.s3.enabled", "true"),
        ("access_logs.s3.bucket", "live-alb-logs"),
        ("access_logs.s3.prefix", "shop"),
    ] {
        assert_eq!(attribute(&changed, key), value, "{key}");
    }
    assert_eq!(
        https_policy(&live.api, &alb).as_deref(),
        Some("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
    );

    // changed out of band: each attribute is one drift line, and apply restores them
    set_attribute(
        &live.api,
        &alb,
        "routing.http.drop_invalid_header_fields.enabled",
        "true",
    );
    set_attribute(&live.api, &alb, "idle_timeout.timeout_seconds", "30");
    live.ws
        .ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let mut drift: Vec<String> =
        serde_json::from_value(live.state()["drift"].clone()).expect("drift list");
    drift.sort();
    assert_eq!(
        drift,
        [
            "alb has drop_invalid_header_fields true instead of false; apply restores it",
            "alb has idle_timeout 30 instead of 120; apply restores it",
        ]
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after the repair");
    let restored = balancer_attributes(&live.api, &alb);
    assert_eq!(
        attribute(&restored, "routing.http.drop_invalid_header_fields.enabled"),
        "false"
    );
    assert_eq!(attribute(&restored, "idle_timeout.timeout_seconds"), "120");

    // import reads every setting back
    let before = live.state();
    live.ws.ok(&["state", "rm", "prodvpc_environment.live"]);
    live.ws
        .ok(&["import", "-no-color", "prodvpc_environment.live", "live"]);
    assert_eq!(live.state()["load_balancer"], before["load_balancer"]);
    live.ws.assert_no_changes("after import");

    // protected: neither a replacement nor a destroy deletes anything
    live.ws
        .write(&inputs.hcl().replace("10.30.0.0/16", "10.31.0.0/16"));
    let replacement = live.ws.run(&["plan", "-no-color"]);
    assert_ne!(replacement.code, 0, "{}", replacement.text());
    assert!(
        replacement
            .text()
            .contains("Deletion protection forbids replacement"),
        "{}",
        replacement.text()
    );
    live.ws.write(&inputs.hcl());
    refused_destroy(
        &live,
        &[
            "Deletion protection forbids destroy",
            "deletion_protection",
            "set `deletion_protection = false`",
        ],
    );
    live.ws.assert_no_changes("after the refused destroy");

    // protection turned on behind the configuration's back stops destroy before it deletes
    inputs.load_balancer = "deletion_protection = false";
    live.change(&inputs);
    // through the layer, so the AWS model knows it too and refuses the deletion as AWS would
    let through_model = Api::new(&live.layer.endpoint());
    set_attribute(&through_model, &alb, "deletion_protection.enabled", "true");
    // the refresh sees it: refused at plan
    refused_destroy(
        &live,
        &["Deletion protection forbids destroy", "found it in AWS"],
    );
    // without a refresh, apply finds it before deleting anything
    refused_destroy_with(
        &live,
        &["-refresh=false"],
        &["has deletion protection enabled in AWS"],
    );

    // the fix the message gives: apply (restoring the configured `false`), then destroy
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(
        crate::lifecycle::leftovers(&live.api, "live"),
        Vec::<String>::new()
    );
}

const APP_PROFILE_B: &str = "arn:aws:iam::123456789012:instance-profile/app-b";

/// The instance profile the launch template version `version` names, by name or ARN.
fn template_profile(api: &Api, template: &str, version: i64) -> Option<String> {
    let data = runtime().block_on(api.template_data(template, &version.to_string()));
    data.iam_instance_profile()
        .and_then(|p| p.arn().or(p.name()))
        .map(str::to_string)
}

/// The instance profile associations of `instance`: (association ID, profile ARN).
fn profile_associations(api: &Api, instance: &str) -> Vec<(String, String)> {
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_iam_instance_profile_associations()
            .filters(
                Filter::builder()
                    .name("instance-id")
                    .values(instance)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.iam_instance_profile_associations()
            .iter()
            .map(|a| {
                (
                    a.association_id().unwrap_or_default().to_string(),
                    a.iam_instance_profile()
                        .and_then(|p| p.arn())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    })
}

#[test]
fn instance_profiles_set_roll_change_in_place_drift_back_and_import() {
    let mut inputs = Inputs {
        app_profile: "app-a",
        bastion_profile: "ops-a",
        ..Inputs::default()
    };
    let live = Live::start_after(&inputs, |moto| {
        for name in ["app-a", "app-b", "ops-a", "ops-b"] {
            let arn = moto.create_instance_profile(name);
            assert!(arn.ends_with(&format!(":instance-profile/{name}")), "{arn}");
        }
    });
    let before = live.state();
    let template = before["launch_template_id"].as_str().unwrap().to_string();
    let bastion = before["bastion_instance_id"].as_str().unwrap().to_string();
    // moto gives Auto Scaling instances no profile: the template is what says it
    let first_version = before["launch_template_version"].as_i64().unwrap();
    assert_eq!(
        template_profile(&live.api, &template, first_version).as_deref(),
        Some("app-a")
    );
    let associations = profile_associations(&live.api, &bastion);
    assert_eq!(associations.len(), 1, "{associations:?}");
    assert!(associations[0].1.ends_with("/ops-a"), "{associations:?}");

    // the app's profile is an instance setting: a new version, and the instances roll
    inputs.app_profile = APP_PROFILE_B;
    live.layer.reset_counts();
    let (rolled, plan) = live.change_with_plan(&inputs);
    let warning = plan
        .split("Warning: Every app instance will be replaced")
        .nth(1)
        .and_then(|rest| rest.split("Apply writes").next())
        .unwrap_or_default();
    assert!(
        warning.contains("iam_instance_profile = "),
        "the plan warns of the roll at the attribute:\n{plan}"
    );
    let version = rolled["launch_template_version"].as_i64().unwrap();
    assert!(version > first_version);
    assert_eq!(
        template_profile(&live.api, &template, version).as_deref(),
        Some(APP_PROFILE_B),
        "the new version names the profile as configured, by ARN"
    );
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 1);
    assert_eq!(rolled["bastion_instance_id"], before["bastion_instance_id"]);

    // the bastion's profile changes on the running instance
    inputs.bastion_profile = "ops-b";
    live.layer.reset_counts();
    let (changed, plan) = live.change_with_plan(&inputs);
    assert!(
        !plan.contains("bastion_instance_id"),
        "the bastion is kept:\n{plan}"
    );
    assert_eq!(
        changed["bastion_instance_id"].as_str(),
        Some(bastion.as_str())
    );
    assert_eq!(live.layer.count("ec2:RunInstances"), 0);
    assert_eq!(live.layer.count("ec2:TerminateInstances"), 0);
    assert_eq!(
        live.layer.count("ec2:ReplaceIamInstanceProfileAssociation"),
        1
    );
    let associations = profile_associations(&live.api, &bastion);
    assert_eq!(associations.len(), 1, "{associations:?}");
    assert!(associations[0].1.ends_with("/ops-b"), "{associations:?}");
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 0);

    // removed out of band: drift, and apply associates it again on the same instance
    runtime().block_on(async {
        live.api
            .ec2
            .disassociate_iam_instance_profile()
            .association_id(&associations[0].0)
            .send()
            .await
            .unwrap();
    });
    live.ws
        .ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let drift: Vec<String> =
        serde_json::from_value(live.state()["drift"].clone()).expect("drift list");
    assert_eq!(
        drift,
        ["bastion has instance profile \"none\" instead of \"ops-b\"; apply sets it on the running instance"]
    );
    live.layer.reset_counts();
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after the repair");
    assert_eq!(live.layer.count("ec2:AssociateIamInstanceProfile"), 1);
    assert_eq!(live.layer.count("ec2:RunInstances"), 0);
    assert_eq!(
        live.state()["bastion_instance_id"].as_str(),
        Some(bastion.as_str())
    );
    let associations = profile_associations(&live.api, &bastion);
    assert!(
        associations.len() == 1 && associations[0].1.ends_with("/ops-b"),
        "{associations:?}"
    );

    // import reads both back: the template's as written, the bastion's by name
    let before = live.state();
    live.ws.ok(&["state", "rm", "prodvpc_environment.live"]);
    live.ws
        .ok(&["import", "-no-color", "prodvpc_environment.live", "live"]);
    let imported = live.state();
    assert_eq!(
        imported["app"][0]["iam_instance_profile"].as_str(),
        Some(APP_PROFILE_B)
    );
    assert_eq!(
        imported["bastion"][0]["iam_instance_profile"].as_str(),
        Some("ops-b")
    );
    assert_eq!(imported["bastion"], before["bastion"]);
    live.ws.assert_no_changes("after import");
}

#[test]
fn another_teams_address_and_template_carrying_the_environment_tag_survive_destroy() {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let inputs = Inputs::default();
    let live = Live::start(&inputs);
    let tagged = |kind: ResourceType| {
        TagSpecification::builder()
            .resource_type(kind)
            .tags(
                Tag::builder()
                    .key("prodvpc:environment")
                    .value("live")
                    .build(),
            )
            .tags(Tag::builder().key("team").value("other").build())
            .build()
    };
    let (address, template) = runtime().block_on(async {
        let address = live
            .api
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .tag_specifications(tagged(ResourceType::ElasticIp))
            .send()
            .await
            .unwrap()
            .allocation_id
            .unwrap();
        let template = live
            .api
            .ec2
            .create_launch_template()
            .launch_template_name("other-team")
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .image_id("ami-12c6146b")
                    .build(),
            )
            .tag_specifications(tagged(ResourceType::LaunchTemplate))
            .send()
            .await
            .unwrap()
            .launch_template
            .unwrap()
            .launch_template_id
            .unwrap();
        (address, template)
    });
    live.ws
        .assert_no_changes("objects outside the boundary are not the environment's");
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    runtime().block_on(async {
        let addresses = live
            .api
            .ec2
            .describe_addresses()
            .allocation_ids(&address)
            .send()
            .await
            .unwrap();
        assert_eq!(
            addresses.addresses().len(),
            1,
            "the other team's address is kept"
        );
        let templates = live
            .api
            .ec2
            .describe_launch_templates()
            .launch_template_ids(&template)
            .send()
            .await
            .unwrap();
        assert_eq!(
            templates.launch_templates().len(),
            1,
            "the other team's template is kept"
        );
    });
    assert_eq!(live.api.tagged_vpcs("live"), 0);
}
