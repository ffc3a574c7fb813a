//! `terraform validate` accepts every example and refuses bad input with a
//! diagnostic that points at the attribute and says how to fix it.

use std::path::Path;

use crate::harness::terraform::Workspace;

fn example_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")];
    while let Some(dir) = stack.pop() {
        let mut has_tf = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "tf") {
                has_tf = true;
            }
        }
        if has_tf {
            dirs.push(dir);
        }
    }
    dirs.sort();
    dirs
}

#[test]
fn every_example_validates() {
    let dirs = example_dirs();
    assert!(dirs.len() >= 3, "examples found: {dirs:?}");
    for dir in dirs {
        let ws = Workspace::new(None);
        ws.copy_from(&dir);
        let run = ws.run(&["validate", "-no-color"]);
        assert_eq!(
            run.code,
            0,
            "{} does not validate:\n{}",
            dir.display(),
            run.text()
        );
    }
}

/// One bad configuration: the resource body, the line the diagnostic must point
/// at, and words its summary or detail must contain.
struct Case {
    body: &'static str,
    line: &'static str,
    says: &'static str,
}

const BASTION_OFF: &str = "bastion {\n    enabled = false\n  }";

fn cases() -> Vec<Case> {
    vec![
        Case { body: "vpc_cidr = \"10.0.0.0/33\"", line: "vpc_cidr", says: "not an IPv4 CIDR block" },
        Case { body: "vpc_cidr = \"10.0.0.1/16\"", line: "vpc_cidr", says: "host bits set" },
        Case { body: "vpc_cidr = \"10.0.0.0/12\"", line: "vpc_cidr", says: "from /16 to /24" },
        Case { body: "vpc_cidr = \"10.0.0.0/26\"", line: "vpc_cidr", says: "from /16 to /24" },
        Case { body: "availability_zones = [\"us-east-1a\", \"us-east-1b\"]\n  public_subnet_cidrs = { \"us-east-1a\" = \"192.168.0.0/24\", \"us-east-1b\" = \"10.0.1.0/24\" }", line: "public_subnet_cidrs", says: "not inside the VPC" },
        Case { body: "availability_zones = [\"us-east-1a\", \"us-east-1b\"]\n  private_subnet_cidrs = { \"us-east-1a\" = \"10.0.0.0/20\", \"us-east-1b\" = \"10.0.8.0/24\" }", line: "private_subnet_cidrs", says: "overlaps" },
        Case { body: "az_count = 1", line: "az_count", says: "from 2 to 8" },
        Case { body: "availability_zones = [\"us-east-1a\"]", line: "availability_zones", says: "from 2 to 8" },
        Case { body: "availability_zones = [\"us-east-1a\", \"us-east-1a\"]", line: "availability_zones", says: "listed twice" },
        Case { body: "app {\n    min_size = 5\n    max_size = 2\n  }", line: "min_size", says: "Raise max_size" },
        Case { body: "app {\n    min_size = 1\n    max_size = 3\n    desired_capacity = 7\n  }", line: "desired_capacity", says: "between min_size (1) and max_size (3)" },
        Case { body: "app {\n    port = 70000\n  }", line: "port", says: "1 to 65535" },
        Case { body: "app {\n    iam_instance_profile = \"arn:aws:iam::123456789012:role/app-ssm\"\n  }", line: "iam_instance_profile", says: "is not an instance profile" },
        Case { body: "app {\n    port = 0\n  }", line: "port", says: "1 to 65535" },
        Case { body: "app {\n    cpu_target = 0\n  }", line: "cpu_target", says: "greater than 0 and at most 100" },
        Case { body: "app {\n    cpu_target = 150\n  }", line: "cpu_target", says: "greater than 0 and at most 100" },
        Case { body: "app {\n    health_check_grace_period = 9000\n  }", line: "health_check_grace_period", says: "0 to 7200 seconds" },
        Case { body: "app {\n    instance_refresh {\n      min_healthy_percentage = 120\n    }\n  }", line: "min_healthy_percentage", says: "0 to 100 percent" },
        Case { body: "app {\n    instance_refresh {\n      min_healthy_percentage = 30\n      max_healthy_percentage = 150\n    }\n  }", line: "max_healthy_percentage", says: "Lower max_healthy_percentage to 130" },
        Case { body: "app {\n    instance_refresh {\n      instance_warmup = 4000\n    }\n  }", line: "instance_warmup", says: "0 to 3600 seconds" },
        Case { body: "nat_gateways = \"two\"", line: "nat_gateways", says: "\"one_per_az\"" },
        Case { body: "load_balancer {\n    ingress_cidrs = [\"everyone\"]\n  }", line: "ingress_cidrs", says: "not an IPv4 CIDR block" },
        Case { body: "tags = { \"aws:owner\" = \"x\" }", line: "tags", says: "reserved prefix" },
        Case { body: "timeouts {\n    create = \"soon\"\n  }", line: "create", says: "not a duration" },
    ]
}

fn check_bad_config(name: &str, body: &str, bastion: &str, line: &str, says: &str) {
    assert_validate_refuses(
        &format!("resource \"prodvpc_environment\" \"bad\" {{\n  name = \"{name}\"\n  {body}\n  {bastion}\n}}\n"),
        line,
        says,
    );
}

/// `terraform validate` refuses `hcl` with a diagnostic whose source line
/// contains `line` and whose summary or detail contains `says`.
pub(crate) fn assert_validate_refuses(hcl: &str, line: &str, says: &str) {
    let ws = Workspace::new(None);
    ws.write(hcl);
    let run = ws.run(&["validate", "-json", "-no-color"]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|_| panic!("validate -json output:\n{}", run.text()));
    assert_eq!(report["valid"], false, "{hcl} was accepted");
    let diagnostics = report["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let hit = diagnostics.iter().any(|d| {
        let text = format!(
            "{} {}",
            d["summary"].as_str().unwrap_or(""),
            d["detail"].as_str().unwrap_or("")
        );
        let code = d["snippet"]["code"].as_str().unwrap_or("");
        text.contains(says) && code.contains(line)
    });
    assert!(
        hit,
        "no diagnostic pointing at `{line}` saying `{says}` for:\n{hcl}\n{}",
        serde_json::to_string_pretty(&diagnostics).unwrap()
    );
}

#[test]
fn bad_inputs_are_refused_with_the_attribute_and_the_fix() {
    for case in cases() {
        check_bad_config("shop", case.body, BASTION_OFF, case.line, case.says);
    }
}

#[test]
fn bad_names_are_refused() {
    for name in [
        "1shop",
        "shop_prod",
        "shop-",
        "a-name-that-is-far-too-long-for-aws",
        "internal-shop",
    ] {
        check_bad_config(name, "", BASTION_OFF, "name", "name");
    }
}

#[test]
fn bastion_needs_safe_ssh_cidrs() {
    check_bad_config(
        "shop",
        "",
        "bastion {\n    enabled = true\n  }",
        "bastion",
        "ssh_ingress_cidrs",
    );
    check_bad_config("shop", "", "", "resource", "ssh_ingress_cidrs");
    check_bad_config(
        "shop",
        "",
        "bastion {\n    ssh_ingress_cidrs = [\"0.0.0.0/0\"]\n  }",
        "ssh_ingress_cidrs",
        "every address",
    );
    check_bad_config(
        "shop",
        "",
        "bastion {\n    ssh_ingress_cidrs = [\"10.1.0.0/0\"]\n  }",
        "ssh_ingress_cidrs",
        "host bits",
    );
}

#[test]
fn unknown_values_pass_validation() {
    let ws = Workspace::new(None);
    ws.write(
        "variable \"port\" { type = number }\nvariable \"cidrs\" { type = list(string) }\nresource \"prodvpc_environment\" \"x\" {\n  name = \"shop\"\n  app {\n    port = var.port\n  }\n  bastion {\n    ssh_ingress_cidrs = var.cidrs\n  }\n}\n",
    );
    let run = ws.run(&["validate", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.text());
}
