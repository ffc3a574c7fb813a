//! Every failure says why, in AWS's words: a NAT gateway that ends `failed`
//! reports its `FailureCode` and `FailureMessage`, and the next apply
//! replaces it.

use aws_sdk_ec2::types::Filter;

use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Emulator};
use crate::model_tests::NAT_FAILURE;

fn config(nat_gateways: &str) -> String {
    format!(
        r#"resource "prodvpc_environment" "failing" {{
  name         = "failing"
  nat_gateways = "{nat_gateways}"
  app {{
    min_size = 0
    max_size = 1
  }}
  bastion {{
    enabled = false
  }}
}}
"#
    )
}

/// The errors of a `-json` run as (summary, detail).
pub fn json_errors(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .map(|m| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&m["diagnostic"]["summary"]),
                text(&m["diagnostic"]["detail"]),
            )
        })
        .collect()
}

#[test]
fn a_failed_nat_gateway_reports_aws_reason_and_the_next_apply_replaces_it() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&config("none"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    env.layer.model().fail_nat_gateways(Some(NAT_FAILURE));
    ws.write(&config("single"));
    let run = ws.run(&["apply", "-auto-approve", "-json", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.text());
    let failed: Vec<(String, String)> = runtime().block_on(async {
        let out = env
            .api
            .ec2
            .describe_nat_gateways()
            .filter(
                Filter::builder()
                    .name("tag:prodvpc:environment")
                    .values("failing")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.nat_gateways()
            .iter()
            .map(|g| {
                (
                    g.nat_gateway_id().unwrap().to_string(),
                    g.subnet_id().unwrap().to_string(),
                )
            })
            .collect()
    });
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (id, _) = &failed[0];
    // the failed gateway freed the address the run made for it: bound to
    // nothing, it is the environment's because the state records it
    let address = string_map(&ws.resource_values("prodvpc_environment.failing")["nat_public_ips"]);
    assert_eq!(address.len(), 1, "{address:?}");
    let zone = string_map(&ws.resource_values("prodvpc_environment.failing")["public_subnet_ids"])
        .into_keys()
        .next()
        .unwrap();
    assert_eq!(
        json_errors(&run.stdout),
        [(
            "Updating the environment failed".to_string(),
            format!(
                "NAT gateway {id} in {zone} failed: {}: {}; the next apply replaces it.\n\nAWS's reason says what to fix: a setting, a quota (Service Quotas), or capacity in a zone (wait or choose another instance type). Then apply again.",
                NAT_FAILURE.0, NAT_FAILURE.1
            ),
        )]
    );
    env.layer.model().fail_nat_gateways(None);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.assert_no_changes("after the failed NAT gateway was replaced");
    let nats = string_map(&ws.resource_values("prodvpc_environment.failing")["nat_gateway_ids"]);
    assert_eq!(nats.len(), 1, "{nats:?}");
    assert!(
        !nats.values().any(|n| n == id),
        "the failed gateway is replaced: {nats:?}"
    );
    assert_eq!(
        string_map(&ws.resource_values("prodvpc_environment.failing")["nat_public_ips"]),
        address,
        "on the address the failed run made"
    );
}

#[test]
fn a_bastion_profile_created_moments_before_is_waited_for_within_iams_propagation_window() {
    let env = Emulator::aws_like();
    env.moto().create_instance_profile("ops-fresh");
    // as right after `aws_iam_instance_profile` created it in the same apply
    env.layer
        .model()
        .delay_instance_profile("ops-fresh", std::time::Duration::from_secs(4));
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(
        r#"resource "prodvpc_environment" "fresh" {
  name         = "fresh"
  nat_gateways = "single"
  app {
    min_size = 0
    max_size = 1
  }
  bastion {
    ssh_ingress_cidrs    = ["198.51.100.0/24"]
    iam_instance_profile = "ops-fresh"
  }
}
"#,
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        env.layer.model().refused("ec2:RunInstances") >= 1,
        "EC2 refused the profile at least once: {:?}",
        env.layer.model().refused_counts()
    );
    ws.assert_no_changes("after the bastion launched with its fresh profile");
}

#[test]
fn an_app_profile_created_moments_before_is_waited_for_while_the_group_retries_its_launches() {
    let env = Emulator::aws_like();
    env.moto().create_instance_profile("app-fresh");
    // as right after `aws_iam_instance_profile` created it in the same apply:
    // the group's launches fail until EC2 knows it
    env.layer
        .model()
        .delay_instance_profile("app-fresh", std::time::Duration::from_secs(4));
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(
        r#"resource "prodvpc_environment" "fresh" {
  name         = "fresh"
  nat_gateways = "single"
  app {
    min_size             = 1
    max_size             = 2
    iam_instance_profile = "app-fresh"
  }
  bastion {
    enabled = false
  }
}
"#,
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        env.layer.model().launch_failures_reported() >= 1,
        "the group's launch failed on the profile at least once while the apply waited"
    );
    ws.assert_no_changes("after the group launched with its fresh profile");
}

#[test]
fn a_bastion_refused_for_capacity_in_its_zone_launches_in_the_next_public_subnet() {
    let env = Emulator::aws_like();
    // every refusal counted below is then the zone's lack of capacity
    env.layer.model().set_consistency(0.0);
    env.layer.model().refuse_capacity_in(Some("us-east-1a"));
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(
        r#"resource "prodvpc_environment" "short" {
  name         = "short"
  nat_gateways = "none"
  app {
    min_size = 0
    max_size = 1
  }
  bastion {
    ssh_ingress_cidrs = ["198.51.100.0/24"]
  }
}
"#,
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // refused once in us-east-1a (not retried there), launched in us-east-1b
    assert_eq!(
        env.layer.model().refused("ec2:RunInstances"),
        1,
        "{:?}",
        env.layer.model().refused_counts()
    );
    let state = ws.resource_values("prodvpc_environment.short");
    let bastion = state["bastion_instance_id"].as_str().unwrap().to_string();
    let subnet = runtime().block_on(async {
        let out = env
            .api
            .ec2
            .describe_instances()
            .instance_ids(&bastion)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0]
            .subnet_id()
            .unwrap()
            .to_string()
    });
    assert_eq!(
        subnet,
        string_map(&state["public_subnet_ids"])["us-east-1b"]
    );
    // a bastion in another public subnet is where it may be: no drift, kept
    env.layer.model().refuse_capacity_in(None);
    ws.assert_no_changes("after the bastion launched in the second zone");
}

#[test]
fn a_launch_failure_ends_the_capacity_wait_at_once_with_aws_reason() {
    let env = Emulator::aws_like();
    env.layer
        .model()
        .fail_launches(Some(crate::model_tests::LAUNCH_FAILURE));
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(
        r#"resource "prodvpc_environment" "starved" {
  name         = "starved"
  nat_gateways = "single"
  app {
    min_size = 1
    max_size = 2
  }
  bastion {
    enabled = false
  }
}
"#,
    );
    let started = std::time::Instant::now();
    let run = ws.run(&["apply", "-auto-approve", "-json", "-no-color"]);
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.text());
    // the create timeout is 20 minutes: the wait ended on AWS's answer, not on time
    assert!(took < std::time::Duration::from_secs(120), "took {took:?}");
    let group = ws.resource_values("prodvpc_environment.starved")["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    let errors = json_errors(&run.stdout);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (summary, detail) = &errors[0];
    assert_eq!(summary, "Creating the environment failed");
    let expected = format!(
        "launching t3.micro instances of group {group} (0 of 1 serving) failed: {}; the group keeps trying; fix what AWS names and apply again.\n\n",
        crate::model_tests::LAUNCH_FAILURE
    );
    assert!(detail.starts_with(&expected), "{detail}");
}

#[test]
fn instances_failing_health_checks_are_reported_with_their_reason_codes() {
    let env = Emulator::aws_like();
    env.layer.model().set_unhealthy_user_data(Some("exit 1"));
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(
        r##"resource "prodvpc_environment" "sick" {
  name         = "sick"
  nat_gateways = "single"
  app {
    min_size  = 1
    max_size  = 1
    user_data = "#!/bin/sh\nexit 1\n"
  }
  bastion {
    enabled = false
  }
  timeouts {
    create = "40s"
  }
}
"##,
    );
    let run = ws.run(&["apply", "-auto-approve", "-json", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.text());
    let instance = runtime().block_on(async {
        let group = ws.resource_values("prodvpc_environment.sick")["autoscaling_group_name"]
            .as_str()
            .unwrap()
            .to_string();
        env.api.group(&group).await.instances()[0]
            .instance_id()
            .unwrap()
            .to_string()
    });
    let errors = json_errors(&run.stdout);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let detail = &errors[0].1;
    assert!(
        detail.contains(&format!(
            "(0 serving when time ran out; failing their health checks: {instance} Target.ResponseCodeMismatch: Health checks failed with these codes: [500]; set app.wait_for_capacity = false to skip this wait)"
        )),
        "{detail}"
    );
}

#[test]
fn nat_gateways_the_elastic_ip_quota_cannot_serve_are_refused_at_plan_on_nat_gateways() {
    let env = Emulator::aws_like();
    env.layer.model().set_address_quota(5);
    // four of the five addresses are held by others
    runtime().block_on(async {
        for _ in 0..4 {
            env.api
                .ec2
                .allocate_address()
                .domain(aws_sdk_ec2::types::DomainType::Vpc)
                .send()
                .await
                .unwrap();
        }
    });
    let ws = Workspace::new(Some(env.layer.endpoint()));
    let write = |nat_gateways: &str| {
        ws.write(&format!(
            "resource \"prodvpc_environment\" \"quota\" {{\n  name = \"quota\"\n  nat_gateways = \"{nat_gateways}\"\n  bastion {{\n    enabled = false\n  }}\n}}\n"
        ))
    };
    write("one_per_az");
    let run = ws.run(&["plan", "-json", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.text());
    assert_eq!(
        json_errors(&run.stdout),
        [(
            "Not enough Elastic IPs".to_string(),
            "nat_gateways = \"one_per_az\" needs 2 Elastic IPs (one per NAT gateway), so 2 new, but the account uses 4 of its 5 in this region (1 left). Release Elastic IPs nothing uses, ask for a higher \"EC2-VPC Elastic IPs\" quota in Service Quotas, or choose fewer NAT gateways (\"single\" needs one).".to_string(),
        )]
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("Not enough Elastic IPs")
                && l.contains("nat_gateways = \\\"one_per_az\\\"")
                && l.contains("\"snippet\"")),
        "the diagnostic points at nat_gateways:\n{}",
        run.stdout
    );
    assert_eq!(env.layer.count("ec2:AllocateAddress"), 0);
    // one NAT gateway fits: the plan passes
    write("single");
    ws.ok(&["plan", "-no-color"]);
}

#[test]
fn a_region_at_its_vpc_quota_refuses_the_create_with_the_quota_and_nothing_is_built() {
    let env = Emulator::aws_like();
    // the region's default VPC is its only one allowed
    env.layer.model().set_vpc_quota(1);
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(
        "resource \"prodvpc_environment\" \"full\" {\n  name = \"full\"\n  nat_gateways = \"none\"\n  bastion {\n    enabled = false\n  }\n}\n",
    );
    let run = ws.run(&["apply", "-auto-approve", "-json", "-no-color"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let errors = json_errors(&run.stdout);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (summary, detail) = &errors[0];
    assert_eq!(summary, "Creating the environment failed");
    assert!(
        detail.starts_with(
            "CreateVpc failed: VpcLimitExceeded: The maximum number of VPCs has been reached."
        ) && detail.ends_with("An account quota of the region is reached (the code says which): raise it in Service Quotas, or free what uses it, then apply again; it resumes where it stopped."),
        "{detail}"
    );
    assert_eq!(
        crate::lifecycle::leftovers(&env.api, "full"),
        Vec::<String>::new(),
        "nothing is built"
    );
    // nothing to replace: the refused create left no (tainted) state behind
    let listed = ws.run(&["state", "list"]);
    assert_eq!(listed.stdout.trim(), "", "{}", listed.text());
    let plan = ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("will be created") && !plan.stdout.contains("tainted"),
        "{}",
        plan.text()
    );
}
