//! Many environments in one configuration (`for_each`), served by one
//! provider process: their reads at the same moment are merged into shared
//! calls, each environment gets exactly its own objects back, the process
//! keeps to AWS's request rates, and throttling answers from elsewhere are
//! absorbed by short retries.

use std::collections::BTreeMap;

use crate::harness::faults::Fault;
use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Emulator};
use crate::lifecycle::leftovers;

/// Environments in the test's configuration: enough for every merged call to
/// carry several environments' keys, few enough to keep the suite quick (the
/// benchmark measures 10 and 30).
const ENVIRONMENTS: [&str; 4] = ["east", "west", "north", "south"];

fn configuration() -> String {
    let names: Vec<String> = ENVIRONMENTS.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "resource \"prodvpc_environment\" \"env\" {{\n  for_each = toset([{}])\n  name = each.key\n  nat_gateways = \"single\"\n  bastion {{\n    enabled = false\n  }}\n}}\n",
        names.join(", ")
    )
}

fn address(name: &str) -> String {
    format!("prodvpc_environment.env[\"{name}\"]")
}

/// Every environment's attributes in the state, by name.
fn states(ws: &Workspace) -> BTreeMap<String, serde_json::Value> {
    ENVIRONMENTS
        .iter()
        .map(|n| (n.to_string(), ws.resource_values(&address(n))))
        .collect()
}

/// The VPC each of these subnets lives in, asked of the API directly.
fn subnet_vpcs(env: &Emulator, subnets: Vec<String>) -> Vec<String> {
    runtime().block_on(async {
        let out = env
            .api
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets))
            .send()
            .await
            .unwrap();
        out.subnets()
            .iter()
            .map(|s| s.vpc_id().unwrap_or_default().to_string())
            .collect()
    })
}

#[test]
fn many_environments_apply_plan_empty_and_destroy_with_merged_reads() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&configuration());
    env.layer.reset_counts();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // what the region offers is asked once for every environment planned
    // and applied at the same moment: two plans and apply's choice of zones
    // would otherwise ask three times per environment
    for action in [
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeAccountAttributes",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeInstanceTypeOfferings",
        "ec2:DescribeImages",
    ] {
        let calls = env.layer.count(action);
        assert!(
            (1..ENVIRONMENTS.len()).contains(&calls),
            "{action}: {calls} calls for {} environments",
            ENVIRONMENTS.len()
        );
    }
    // the group's attachments are read once it exists (the read that ends
    // the apply), not asked of a group not made yet before anything is made
    let hooks = env.layer.count("autoscaling:DescribeLifecycleHooks");
    assert!(hooks <= ENVIRONMENTS.len(), "{hooks} reads of hooks");

    // each environment's state names its own objects, in its own VPC
    let applied = states(&ws);
    let vpcs: std::collections::BTreeSet<&str> = applied
        .values()
        .map(|s| s["vpc_id"].as_str().unwrap())
        .collect();
    assert_eq!(vpcs.len(), ENVIRONMENTS.len(), "one VPC each");
    for (name, state) in &applied {
        let subnets: Vec<String> = string_map(&state["public_subnet_ids"])
            .into_values()
            .chain(string_map(&state["private_subnet_ids"]).into_values())
            .collect();
        assert_eq!(subnets.len(), 4, "{name}: {state}");
        for vpc in subnet_vpcs(&env, subnets) {
            assert_eq!(vpc, state["vpc_id"].as_str().unwrap(), "{name}'s subnets");
        }
    }

    // a refresh of every environment: one call per describe, not one per environment,
    // and no throttling answer drawn
    env.layer.reset_counts();
    let throttled = env.layer.model().throttled_total();
    ws.assert_no_changes("after applying several environments");
    for action in [
        "ec2:DescribeSubnets",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeInstances",
        "elasticloadbalancing:DescribeLoadBalancers",
        "autoscaling:DescribeAutoScalingGroups",
        // asked beside the first reads, not after each inventory
        "ec2:DescribeNetworkInterfaces",
    ] {
        let calls = env.layer.count(action);
        assert!(
            (1..ENVIRONMENTS.len()).contains(&calls),
            "{action}: {calls} calls for {} environments",
            ENVIRONMENTS.len()
        );
    }
    assert_eq!(env.layer.model().throttled_total(), throttled);

    // three plans at once, as workspaces of one account run on one machine:
    // their Elastic Load Balancing reads (about 80) outnumber the account's
    // burst (40), and processes that each spent it would draw throttling
    // answers; sharing the account's buckets, they pace together
    env.layer.reset_counts();
    let plans: Vec<_> = (0..3)
        .map(|_| ws.spawn(&["plan", "-lock=false", "-detailed-exitcode", "-no-color"]))
        .collect();
    for plan in plans {
        let out = plan.wait_with_output().expect("terraform plan");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let elb_calls: usize = env
        .layer
        .counts()
        .iter()
        .filter(|(action, _)| action.starts_with("elasticloadbalancing:"))
        .map(|(_, n)| n)
        .sum();
    assert!(elb_calls > 40, "{elb_calls} Elastic Load Balancing calls");
    assert_eq!(
        env.layer.model().throttled_total(),
        throttled,
        "plans at once drew throttling answers"
    );

    // merged reads answer exactly what separate reads do: refreshed one
    // environment at a time (each alone in its calls), the state is the same
    ws.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let merged = states(&ws);
    for name in ENVIRONMENTS {
        ws.ok(&[
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-no-color",
            "-target",
            &address(name),
        ]);
    }
    assert_eq!(states(&ws), merged);
    assert_eq!(merged, applied, "a refresh changes nothing");

    // destroy's refresh reads every setting once; destroy itself reads only
    // what deleting needs, not again what only a comparison uses
    env.layer.reset_counts();
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    for name in ENVIRONMENTS {
        assert_eq!(leftovers(&env.api, name), Vec::<String>::new(), "{name}");
    }
    for action in [
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "autoscaling:DescribePolicies",
        "autoscaling:DescribeLifecycleHooks",
        // asked beside destroy's first reads, merged, not after each inventory
        "ec2:DescribeNetworkInterfaces",
    ] {
        let calls = env.layer.count(action);
        assert!(
            (1..=ENVIRONMENTS.len()).contains(&calls),
            "{action}: {calls} calls to destroy {} environments",
            ENVIRONMENTS.len()
        );
    }
    // the deletion protection is read again right before deleting
    assert!(
        env.layer
            .count("elasticloadbalancing:DescribeLoadBalancerAttributes")
            > ENVIRONMENTS.len()
    );
}

/// The value of `key=value` in a provider line as Terraform renders it.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!(" {key}="))
        .map_or(line.len(), |i| i + key.len() + 2);
    // Terraform ends the provider's own fields with a colon
    line[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches(':')
}

#[test]
fn a_burst_of_throttling_answers_is_retried_after_short_waits() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    // two environments without NAT gateways: quick to build, and their reads merge
    ws.write(
        &configuration()
            .replace(
                "\"east\", \"west\", \"north\", \"south\"",
                "\"east\", \"west\"",
            )
            .replace("\"single\"", "\"none\""),
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // another process sharing the account has drained the bucket for a moment
    const BURST: usize = 4;
    env.layer
        .inject("ec2:DescribeSubnets", Fault::throttling(), BURST);
    let plan = ws.run_with_env(
        &["plan", "-detailed-exitcode", "-no-color"],
        &[("TF_LOG_PROVIDER", "debug")],
    );
    assert_eq!(plan.code, 0, "{}", plan.text());
    // the burst may fall on one merged call or on each environment's own
    let lines: Vec<&str> = plan
        .stderr
        .lines()
        .filter(|l| l.contains("operation=DescribeSubnets") && l.contains("retried_on="))
        .collect();
    assert!(
        !lines.is_empty(),
        "no retried DescribeSubnets line:\n{}",
        plan.stderr
    );
    let mut met = 0;
    for line in lines {
        // each line says which code each retried attempt met and how long the call waited
        let codes: Vec<&str> = field(line, "retried_on").split(',').collect();
        // the injected answers, and any the model's own buckets gave
        assert!(
            codes
                .iter()
                .all(|c| matches!(*c, "Throttling" | "RequestLimitExceeded")),
            "{line}"
        );
        met += codes.iter().filter(|c| **c == "Throttling").count();
        let waited: u64 = field(line, "retry_wait_ms")
            .parse()
            .unwrap_or_else(|_| panic!("no wait in {line}"));
        // backoff is capped at a few seconds per retry, never the SDK's default 20 s
        let cap = prodvpc::aws::MAX_BACKOFF.as_millis() as u64;
        assert!(waited > 0 && waited <= cap * codes.len() as u64, "{line}");
    }
    assert_eq!(met, BURST, "every throttling answer was met and retried");
}
