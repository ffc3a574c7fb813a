//! Bad input never reaches AWS: every case is refused at `terraform plan`
//! with a diagnostic on its attribute that says how to fix it, and nothing is
//! created. Exact decimals are accepted and applied as written. The provider
//! block's region and endpoints are judged when the provider is configured.

use std::time::{Duration, Instant};

use crate::harness::faults::Fault;
use crate::harness::terraform::{Run, Workspace};
use crate::harness::{runtime, Emulator};

/// One refused configuration: the resource body, a word of the source line
/// the diagnostic must point at, and words its summary or detail must contain.
struct Case {
    body: String,
    line: &'static str,
    says: &'static str,
}

fn case(body: impl Into<String>, line: &'static str, says: &'static str) -> Case {
    Case {
        body: body.into(),
        line,
        says,
    }
}

const NO_BASTION: &str = "bastion {\n    enabled = false\n  }";

fn tags(count: usize) -> String {
    let entries: Vec<String> = (0..count).map(|i| format!("k{i} = \"v\"")).collect();
    format!("tags = {{ {} }}", entries.join(", "))
}

fn cases() -> Vec<Case> {
    vec![
        case(format!("{NO_BASTION}\n  load_balancer {{\n    certificate_arn = \"arn:nonsense\"\n  }}"), "certificate_arn", "not a certificate ARN"),
        case("bastion {\n    ssh_ingress_cidrs = [\"0.0.0.0/1\", \"128.0.0.0/1\"]\n  }", "ssh_ingress_cidrs", "at most 16777216"),
        case("bastion {\n    ssh_ingress_cidrs = [\"0.0.0.0/0\"]\n  }", "ssh_ingress_cidrs", "every address"),
        case(format!("{NO_BASTION}\n  app {{\n    max_size = 0\n  }}"), "max_size", "at least 1"),
        case(format!("{NO_BASTION}\n  app {{\n    max_size = 1\n  }}"), "max_size", "min_size is 2, the default"),
        case(format!("{NO_BASTION}\n  app {{\n    desired_capacity = 10\n  }}"), "desired_capacity", "max_size (4, the default)"),
        case(format!("{NO_BASTION}\n  app {{\n    cpu_target = 100.5\n  }}"), "cpu_target", "at most 100"),
        case(format!("{NO_BASTION}\n  app {{\n    port = 80.5\n  }}"), "port", "Whole number required"),
        case(format!("{NO_BASTION}\n  app {{\n    cpu_target = 1/3\n  }}"), "cpu_target", "more digits than AWS's API keeps"),
        case(format!("{NO_BASTION}\n  app {{\n    cpu_target = 45.000000000000001\n  }}"), "cpu_target", "for example 45"),
        case(format!("{NO_BASTION}\n  app {{\n    max_size = 1e30\n  }}"), "max_size", "Number out of range"),
        case(format!("{NO_BASTION}\n  app {{\n    user_data = format(\"%17000s\", \"x\")\n  }}"), "user_data", "at most 16384"),
        case(format!("{NO_BASTION}\n  timeouts {{\n    create = \"3000000000000000h\"\n  }}"), "create", "7 days"),
        case(format!("{NO_BASTION}\n  timeouts {{\n    delete = \"3000000000000000h\"\n  }}"), "delete", "7 days"),
        case(format!("{NO_BASTION}\n  {}", tags(48)), "tags", "Too many tags"),
        case(format!("{NO_BASTION}\n  tags = {{ \"{}\" = \"v\" }}", "k".repeat(129)), "tags", "129 characters"),
        case(format!("{NO_BASTION}\n  tags = {{ \"team\" = \"{}\" }}", "v".repeat(257)), "tags", "257 characters"),
        case(format!("{NO_BASTION}\n  tags = {{ \"\" = \"v\" }}"), "tags", "cannot be empty"),
        case(format!("{NO_BASTION}\n  tags = {{ Name = \"shop\" }}"), "tags", "names every object"),
        case(format!("{NO_BASTION}\n  vpc_cidr = \"10.0.0.0/24\""), "vpc_cidr", "/23 or larger"),
        case(format!("{NO_BASTION}\n  availability_zones = [\"us-east-1a\", \"us-east-1b\"]\n  public_subnet_cidrs = {{ \"us-east-1a\" = \"10.0.0.0/17\", \"us-east-1b\" = \"10.0.128.0/17\" }}"), "public_subnet_cidrs", "no free private block"),
        case(format!("{NO_BASTION}\n  availability_zones = [\"us-east-1a\", \"us-east-1b\"]\n  public_subnet_cidrs = {{ \"us-east-1a\" = \"10.0.0.0/28\", \"us-east-1b\" = \"10.0.1.0/24\" }}"), "public_subnet_cidrs", "/27 or larger"),
        case(format!("{NO_BASTION}\n  az_count = 100"), "az_count", "from 2 to 8"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws:s3:::Shop_Logs\"\n  }}"), "destination_arn", "Invalid flow log destination"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws:sqs:us-east-1:123456789012:q\"\n  }}"), "destination_arn", "neither an S3 bucket ARN nor a CloudWatch Logs"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws:s3:::shop-logs\"\n    iam_role_arn = \"arn:aws:iam::123456789012:role/flow\"\n  }}"), "iam_role_arn", "remove iam_role_arn"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws:logs:us-east-1:123456789012:log-group:vpc\"\n  }}"), "flow_logs", "Delivery role required"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws:s3:::shop-logs\"\n    traffic_type = \"all\"\n  }}"), "traffic_type", "in capitals"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws:s3:::shop-logs\"\n    max_aggregation_interval = 30\n  }}"), "max_aggregation_interval", "60 or 600"),
        case(format!("{NO_BASTION}\n  load_balancer {{\n    ingress_cidrs = [{}]\n  }}", (0..61).map(|i| format!("\"198.51.100.{i}/32\"")).collect::<Vec<_>>().join(", ")), "ingress_cidrs", "make 61 inbound rules"),
        // only the region can judge these
        case(format!("{NO_BASTION}\n  load_balancer {{\n    certificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\"\n  }}"), "certificate_arn", "is in eu-west-1, but the environment is built in us-east-1"),
        case(format!("{NO_BASTION}\n  load_balancer {{\n    certificate_arn = \"arn:aws-us-gov:iam::123456789012:server-certificate/shop\"\n  }}"), "certificate_arn", "is in the `aws-us-gov` partition"),
        case(format!("{NO_BASTION}\n  flow_logs {{\n    destination_arn = \"arn:aws-cn:s3:::shop-logs\"\n  }}"), "destination_arn", "is in the `aws-cn` partition, but the provider's region us-east-1 is in `aws`"),
        case(format!("{NO_BASTION}\n  app {{\n    instance_type = \"t9.mega\"\n  }}"), "instance_type", "not offered"),
        case("bastion {\n    ssh_ingress_cidrs = [\"203.0.113.0/24\"]\n    key_name = \"nobody\"\n  }", "key_name", "Key pair not found"),
    ]
}

/// The diagnostic of `run` points at a source line containing `line` and says `says`.
fn refused_on(run: &Run, line: &str, says: &str) -> bool {
    let text = run.stderr.replace('\n', " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let points = run
        .stderr
        .lines()
        .any(|l| l.contains(line) && l.contains(':'));
    points && text.contains(says)
}

fn plan(ws: &Workspace, name: &str, body: &str) -> Run {
    ws.write(&format!(
        "resource \"prodvpc_environment\" \"x\" {{\n  name = \"{name}\"\n  {body}\n}}\n"
    ));
    ws.run(&["plan", "-no-color"])
}

#[test]
fn bad_inputs_are_refused_at_plan_with_the_attribute_and_nothing_built() {
    let env = Emulator::plain();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    let mut bodies: Vec<(String, Case)> = cases()
        .into_iter()
        .map(|c| ("refused".to_string(), c))
        .collect();
    bodies.push(("shop--prod".into(), case(NO_BASTION, "name", "two hyphens")));
    bodies.push(("sg-shop".into(), case(NO_BASTION, "name", "`sg-`")));
    for (name, case) in &bodies {
        let run = plan(&ws, name, &case.body);
        assert_ne!(run.code, 0, "accepted:\n{}", case.body);
        assert!(
            refused_on(&run, case.line, case.says),
            "no diagnostic on `{}` saying `{}` for:\n{}\n{}",
            case.line,
            case.says,
            case.body,
            run.stderr
        );
        assert!(
            !run.stderr.contains("Unreadable value"),
            "{}: {}",
            case.body,
            run.stderr
        );
    }
    for action in [
        "ec2:CreateVpc",
        "ec2:CreateSecurityGroup",
        "elasticloadbalancing:CreateLoadBalancer",
    ] {
        assert_eq!(env.layer.count(action), 0, "{action} was called");
    }
}

#[test]
fn exact_decimals_are_accepted_and_applied_as_written() {
    let env = Emulator::plain();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write("resource \"prodvpc_environment\" \"x\" {\n  name = \"decimal\"\n  nat_gateways = \"none\"\n  app {\n    cpu_target = 70.1\n    port = 8080.0\n  }\n  bastion {\n    enabled = false\n  }\n}\n");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.assert_no_changes("after applying cpu_target = 70.1");
    let state = ws.resource_values("prodvpc_environment.x");
    assert_eq!(state["app"][0]["cpu_target"], serde_json::json!(70.1));
    assert_eq!(state["app"][0]["port"], serde_json::json!(8080));
    let target = runtime().block_on(async {
        let policies = env
            .api
            .autoscaling
            .describe_policies()
            .auto_scaling_group_name("decimal-app")
            .send()
            .await
            .unwrap();
        policies.scaling_policies()[0]
            .target_tracking_configuration()
            .and_then(|t| t.target_value())
    });
    assert_eq!(target, Some(70.1));
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

fn provider_plan(ws: &Workspace, provider: &str) -> Run {
    ws.write(&format!(
        "provider \"prodvpc\" {{\n  {provider}\n}}\nresource \"prodvpc_environment\" \"x\" {{\n  name = \"shop\"\n  {NO_BASTION}\n}}\n"
    ));
    ws.run(&["plan", "-no-color"])
}

#[test]
fn provider_block_errors_land_on_their_attribute() {
    let env = Emulator::plain();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    for (provider, line, says) in [
        ("region = \"moon-1\"", "region", "not an AWS region name"),
        (
            "region = \"xx-east-9\"",
            "region",
            "AWS has no region `xx-east-9`",
        ),
        (
            "endpoints {\n    ec2 = \"localhost:5000\"\n  }",
            "ec2",
            "http:// or https://",
        ),
        (
            "default_tags {\n    tags = { Name = \"x\" }\n  }",
            "tags",
            "names every object",
        ),
        (
            "default_tags {\n    tags = { \"prodvpc:owner\" = \"x\" }\n  }",
            "tags",
            "reserved prefix",
        ),
    ] {
        let run = provider_plan(&ws, provider);
        assert_ne!(run.code, 0, "accepted: {provider}");
        assert!(refused_on(&run, line, says), "{provider}:\n{}", run.stderr);
        assert!(!run.stderr.contains("DispatchFailure"), "{}", run.stderr);
    }
    // default tags count against AWS's limit with the resource's own
    let defaults: Vec<String> = (0..10).map(|i| format!("d{i} = \"v\"")).collect();
    ws.write(&format!(
        "provider \"prodvpc\" {{\n  default_tags {{\n    tags = {{ {} }}\n  }}\n}}\nresource \"prodvpc_environment\" \"x\" {{\n  name = \"shop\"\n  {NO_BASTION}\n  {}\n}}\n",
        defaults.join(", "),
        tags(40)
    ));
    let run = ws.run(&["plan", "-no-color"]);
    assert!(
        refused_on(&run, "tags", "10 more from the provider's default_tags"),
        "{}",
        run.stderr
    );
    assert_eq!(env.layer.count("ec2:CreateVpc"), 0);
}

#[test]
fn an_unreachable_endpoint_fails_within_seconds_in_one_sentence() {
    let ws = Workspace::new(None);
    let started = Instant::now();
    let run = provider_plan(
        &ws,
        "region = \"us-east-1\"\n  endpoints {\n    ec2 = \"http://127.0.0.1:9\"\n  }",
    );
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.text());
    assert!(
        refused_on(
            &run,
            "ec2",
            "Nothing accepts connections at http://127.0.0.1:9"
        ),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(!run.stderr.contains("DispatchFailure"), "{}", run.stderr);

    // the same through AWS_ENDPOINT_URL (set by the workspace), without retrying for a minute
    let started = Instant::now();
    let run = provider_plan(&ws, "region = \"us-east-1\"");
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.text());
    let text = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("could not reach AWS: Connection refused"),
        "{text}"
    );
    assert!(text.contains("Nothing was changed in AWS"), "{text}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    for debug in ["DispatchFailure", "ConnectorError", "{ source"] {
        assert!(
            !text.contains(debug),
            "debug output reached the user: {text}"
        );
    }
}

#[test]
fn aws_errors_at_plan_time_say_that_nothing_was_built() {
    let env = Emulator::plain();
    env.layer.inject(
        "ec2:DescribeAvailabilityZones",
        Fault::internal_error(),
        100,
    );
    let ws = Workspace::new(Some(env.layer.endpoint()));
    let run = provider_plan(&ws, "max_retries = 0");
    assert_ne!(run.code, 0, "{}", run.text());
    let text = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("DescribeAvailabilityZones failed: InternalError"),
        "{text}"
    );
    assert!(text.contains("Nothing was built"), "{text}");
    assert!(!text.contains("resumes"), "{text}");
    assert!(!text.contains("partly built"), "{text}");
    for debug in ["DispatchFailure", "ConnectorError", "{ source"] {
        assert!(
            !text.contains(debug),
            "debug output reached the user: {text}"
        );
    }
}
