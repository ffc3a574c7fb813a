//! Plans as exact as Terraform's own resources: what a saved plan marks
//! unknown (`terraform show -json`) is exactly what apply will change, so
//! other resources can be keyed on the environment's maps from the first plan.

use std::collections::BTreeSet;

use crate::harness::terraform::Workspace;
use crate::harness::{string_map, Emulator};

/// An environment with a NAT gateway per zone and a resource per private
/// subnet, keyed by the environment's own map.
fn configuration(az_count: u8) -> String {
    format!(
        r#"
resource "prodvpc_environment" "x" {{
  name         = "exact"
  az_count     = {az_count}
  nat_gateways = "one_per_az"
  app {{
    min_size         = 1
    max_size         = 2
    desired_capacity = 1
  }}
  bastion {{
    enabled = false
  }}
}}

resource "terraform_data" "per_private_subnet" {{
  for_each = prodvpc_environment.x.private_subnet_ids
  input    = each.value
}}
"#
    )
}

/// `terraform plan -out` followed by `terraform show -json` of that plan.
fn saved_plan(ws: &Workspace) -> serde_json::Value {
    ws.ok(&["plan", "-out=tfplan", "-no-color"]);
    let shown = ws.ok(&["show", "-json", "tfplan"]);
    serde_json::from_str(&shown.stdout).expect("plan json")
}

fn change_of<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["resource_changes"]
        .as_array()
        .and_then(|changes| changes.iter().find(|c| c["address"] == address))
        .map(|c| &c["change"])
        .unwrap_or_else(|| panic!("no change of {address} in {plan}"))
}

/// The paths (`a.0.b`, `map.key`) the plan marks unknown after apply.
fn unknown_paths(after_unknown: &serde_json::Value) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, path: &str, found: &mut BTreeSet<String>) {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::Bool(true) => {
                found.insert(path.to_string());
            }
            serde_json::Value::Object(entries) => {
                for (key, inner) in entries {
                    walk(inner, &join(key), found);
                }
            }
            serde_json::Value::Array(items) => {
                for (index, inner) in items.iter().enumerate() {
                    walk(inner, &join(&index.to_string()), found);
                }
            }
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    walk(after_unknown, "", &mut found);
    found
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// The actions planned for each instance of the per-subnet resource.
fn per_subnet_actions(plan: &serde_json::Value) -> BTreeSet<(String, String)> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "terraform_data")
        .map(|c| {
            (
                c["index"].as_str().unwrap_or_default().to_string(),
                c["change"]["actions"].to_string(),
            )
        })
        .collect()
}

#[test]
fn first_plans_know_zones_keys_and_blocks_and_zone_changes_keep_what_survives() {
    let emulator = Emulator::aws_like();
    let ws = Workspace::new(Some(emulator.layer.endpoint()));
    let environment = "prodvpc_environment.x";
    ws.write(&configuration(2));

    // the first plan: zones, blocks and every map's keys known, only IDs unknown
    let plan = saved_plan(&ws);
    let create = change_of(&plan, environment);
    let after = &create["after"];
    assert_eq!(
        after["availability_zones"],
        serde_json::json!(["us-east-1a", "us-east-1b"])
    );
    assert_eq!(
        string_map(&after["public_subnet_cidrs"]).len(),
        2,
        "carved at plan: {after}"
    );
    assert_eq!(string_map(&after["private_subnet_cidrs"]).len(), 2);
    assert_eq!(after["autoscaling_group_name"], "exact-app");
    // the region's constant zone of every application load balancer
    assert_eq!(after["alb_zone_id"], "Z35SXDOTRQ7X7K");
    assert_eq!(
        unknown_paths(&create["after_unknown"]),
        set(&[
            "alb_arn",
            "alb_dns_name",
            "app.0.ami_id",
            // the set AWS gives every new VPC, named by no API beforehand
            "dhcp_options_id",
            "internet_gateway_id",
            "launch_template_id",
            "launch_template_version",
            "listener_arns.http",
            "nat_gateway_ids.us-east-1a",
            "nat_gateway_ids.us-east-1b",
            "nat_public_ips.us-east-1a",
            "nat_public_ips.us-east-1b",
            "posture",
            "private_subnet_ids.us-east-1a",
            "private_subnet_ids.us-east-1b",
            "public_subnet_ids.us-east-1a",
            "public_subnet_ids.us-east-1b",
            "security_group_ids.alb",
            "security_group_ids.app",
            "target_group_arn",
            "vpc_endpoint_ids.dynamodb",
            "vpc_endpoint_ids.s3",
            "vpc_id",
        ])
    );
    assert_eq!(
        per_subnet_actions(&plan),
        BTreeSet::from([
            ("us-east-1a".to_string(), "[\"create\"]".to_string()),
            ("us-east-1b".to_string(), "[\"create\"]".to_string()),
        ]),
        "for_each over the subnet map plans on the first plan"
    );
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    let two = ws.resource_values(environment);
    assert_eq!(two["availability_zones"], after["availability_zones"]);
    assert_eq!(two["public_subnet_cidrs"], after["public_subnet_cidrs"]);
    assert_eq!(two["private_subnet_cidrs"], after["private_subnet_cidrs"]);
    assert_eq!(two["alb_zone_id"], after["alb_zone_id"]);
    ws.assert_no_changes("after the first apply");

    // a zone added by count: only its entries (and the posture) are unknown
    ws.write(&configuration(3));
    let plan = saved_plan(&ws);
    let update = change_of(&plan, environment);
    assert_eq!(
        unknown_paths(&update["after_unknown"]),
        set(&[
            "nat_gateway_ids.us-east-1c",
            "nat_public_ips.us-east-1c",
            "posture",
            "private_subnet_ids.us-east-1c",
            "public_subnet_ids.us-east-1c",
        ])
    );
    assert_eq!(
        update["after"]["availability_zones"],
        serde_json::json!(["us-east-1a", "us-east-1b", "us-east-1c"])
    );
    let planned_private = string_map(&update["after"]["private_subnet_cidrs"]);
    assert_eq!(planned_private.len(), 3, "the new zone is carved at plan");
    assert_eq!(
        per_subnet_actions(&plan),
        BTreeSet::from([
            ("us-east-1a".to_string(), "[\"no-op\"]".to_string()),
            ("us-east-1b".to_string(), "[\"no-op\"]".to_string()),
            ("us-east-1c".to_string(), "[\"create\"]".to_string()),
        ]),
        "resources keyed on surviving subnets are untouched"
    );
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    let three = ws.resource_values(environment);
    assert_eq!(string_map(&three["private_subnet_cidrs"]), planned_private);
    ws.assert_no_changes("after adding a zone");

    // and removed again: nothing AWS keeps becomes unknown
    ws.write(&configuration(2));
    let plan = saved_plan(&ws);
    let update = change_of(&plan, environment);
    assert_eq!(unknown_paths(&update["after_unknown"]), set(&["posture"]));
    for kept in [
        "public_subnet_ids",
        "private_subnet_ids",
        "nat_gateway_ids",
        "nat_public_ips",
    ] {
        assert_eq!(update["after"][kept], two[kept], "{kept}");
    }
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    ws.assert_no_changes("after removing a zone");

    // the name is this configuration's own: replacing the environment plans
    ws.ok(&["taint", "-no-color", environment]);
    let replace = ws.ok(&["plan", "-no-color"]);
    assert!(
        replace.stdout.contains("is tainted, so must be replaced")
            && replace
                .stdout
                .contains("Plan: 1 to add, 2 to change, 1 to destroy"),
        "{}",
        replace.text()
    );
    ws.ok(&["untaint", "-no-color", environment]);
    // while another configuration's create of the same name is said at plan, on
    // `name`, and refused at apply
    let other = Workspace::new(Some(emulator.layer.endpoint()));
    other.write(&configuration(2));
    let warned = other.ok(&["plan", "-no-color"]);
    let said = warned
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for words in [
        "Warning: An environment of this name already exists",
        "name = \"exact\"",
        "so apply will refuse to create it and change nothing",
        "terraform import <address> exact",
    ] {
        assert!(said.contains(words), "no `{words}` in:\n{}", warned.text());
    }
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

/// Blocks computed by another resource, a size left to follow the bounds,
/// and a CPU target.
fn computed_blocks(min_size: u8, cpu_target: u8) -> String {
    format!(
        r#"
resource "terraform_data" "block" {{
  for_each = {{ "us-east-1a" = "10.0.128.0/20", "us-east-1b" = "10.0.144.0/20" }}
  input    = each.value
}}

resource "prodvpc_environment" "x" {{
  name               = "computed"
  availability_zones = ["us-east-1a", "us-east-1b"]
  nat_gateways       = "none"
  private_subnet_cidrs = {{
    "us-east-1a" = terraform_data.block["us-east-1a"].output
    "us-east-1b" = terraform_data.block["us-east-1b"].output
  }}
  app {{
    min_size   = {min_size}
    max_size   = 2
    cpu_target = {cpu_target}
  }}
  bastion {{
    enabled = false
  }}
}}
"#
    )
}

#[test]
fn blocks_unknown_at_plan_sizes_and_scaling_plan_exactly() {
    let emulator = Emulator::aws_like();
    let ws = Workspace::new(Some(emulator.layer.endpoint()));
    let environment = "prodvpc_environment.x";
    ws.write(&computed_blocks(1, 50));
    // the configured blocks stay unknown, and the carving waits for them
    let plan = saved_plan(&ws);
    let create = change_of(&plan, environment);
    let unknown = unknown_paths(&create["after_unknown"]);
    for path in [
        "private_subnet_cidrs.us-east-1a",
        "private_subnet_cidrs.us-east-1b",
        "public_subnet_cidrs.us-east-1a",
        "public_subnet_cidrs.us-east-1b",
    ] {
        assert!(unknown.contains(path), "{path} is not unknown: {unknown:?}");
    }
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    let state = ws.resource_values(environment);
    assert_eq!(
        string_map(&state["private_subnet_cidrs"])["us-east-1a"],
        "10.0.128.0/20"
    );
    assert_eq!(
        string_map(&state["public_subnet_cidrs"]),
        [
            ("us-east-1a".to_string(), "10.0.0.0/20".to_string()),
            ("us-east-1b".to_string(), "10.0.16.0/20".to_string()),
        ]
        .into()
    );
    assert_eq!(state["app"][0]["desired_capacity"], 1);
    ws.assert_no_changes("after blocks computed at apply");

    // min_size raised past the desired capacity the configuration leaves out:
    // the plan says what AWS will run, and nothing becomes unknown
    ws.write(&computed_blocks(2, 50));
    let plan = saved_plan(&ws);
    let update = change_of(&plan, environment);
    assert_eq!(update["after"]["app"][0]["desired_capacity"], 2);
    assert_eq!(unknown_paths(&update["after_unknown"]), set(&[]));
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    let group = crate::harness::runtime()
        .block_on(emulator.api.group("computed-app"))
        .desired_capacity();
    assert_eq!(group, Some(2));
    ws.assert_no_changes("after min_size rose past the desired capacity");

    // a CPU target cannot change a control's verdict: the posture stays known
    ws.write(&computed_blocks(2, 65));
    let plan = saved_plan(&ws);
    let update = change_of(&plan, environment);
    assert_eq!(unknown_paths(&update["after_unknown"]), set(&[]));
    assert_eq!(update["after"]["posture"], update["before"]["posture"]);
    ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
    ws.assert_no_changes("after a CPU target change");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

/// The inputs the table of changes varies.
#[derive(Clone)]
struct Knobs {
    nat: &'static str,
    bastion: bool,
    port: u16,
    instance_type: &'static str,
    dynamodb_endpoint: bool,
    health_check_path: &'static str,
}

impl Knobs {
    fn hcl(&self) -> String {
        let bastion = if self.bastion {
            "ssh_ingress_cidrs = [\"198.51.100.0/24\"]"
        } else {
            "enabled = false"
        };
        format!(
            r#"
resource "prodvpc_environment" "x" {{
  name         = "table"
  nat_gateways = "{nat}"
  app {{
    port              = {port}
    instance_type     = "{instance_type}"
    health_check_path = "{health_check_path}"
    min_size          = 1
    max_size          = 2
  }}
  bastion {{
    {bastion}
  }}
  vpc_endpoints {{
    dynamodb = {dynamodb}
  }}
}}
"#,
            nat = self.nat,
            port = self.port,
            instance_type = self.instance_type,
            health_check_path = self.health_check_path,
            dynamodb = self.dynamodb_endpoint,
        )
    }
}

#[test]
fn each_kind_of_change_plans_unknown_exactly_what_it_changes() {
    let emulator = Emulator::aws_like();
    let ws = Workspace::new(Some(emulator.layer.endpoint()));
    let environment = "prodvpc_environment.x";
    let mut knobs = Knobs {
        nat: "single",
        bastion: true,
        port: 8080,
        instance_type: "t3.micro",
        dynamodb_endpoint: true,
        health_check_path: "/health",
    };
    ws.write(&knobs.hcl());
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    type Change = fn(&mut Knobs);
    let table: [(&str, Change, &[&str]); 7] = [
        (
            "a NAT gateway per zone",
            |k| k.nat = "one_per_az",
            &[
                "nat_gateway_ids.us-east-1b",
                "nat_public_ips.us-east-1b",
                "posture",
            ],
        ),
        ("the bastion off", |k| k.bastion = false, &["posture"]),
        (
            "the bastion on",
            |k| k.bastion = true,
            // the image it ran before is kept in state, and runs again
            &[
                "bastion_instance_id",
                "bastion_public_ip",
                "posture",
                "security_group_ids.bastion",
            ],
        ),
        (
            "another port",
            |k| k.port = 9090,
            &["posture", "target_group_arn"],
        ),
        (
            "another instance type",
            |k| k.instance_type = "t3.small",
            &["launch_template_version", "posture"],
        ),
        (
            "an endpoint removed",
            |k| k.dynamodb_endpoint = false,
            &["posture"],
        ),
        (
            "a health check path",
            |k| k.health_check_path = "/ready",
            &[],
        ),
    ];
    for (change, apply_change, unknown) in table {
        apply_change(&mut knobs);
        ws.write(&knobs.hcl());
        let plan = saved_plan(&ws);
        let update = change_of(&plan, environment);
        assert_eq!(update["actions"], serde_json::json!(["update"]), "{change}");
        assert_eq!(
            unknown_paths(&update["after_unknown"]),
            set(unknown),
            "{change}: what the plan leaves unknown"
        );
        ws.ok(&["apply", "-auto-approve", "-no-color", "tfplan"]);
        ws.assert_no_changes(&format!("after {change}"));
        let state = ws.resource_values(environment);
        // every value the plan knew is what apply recorded
        for (key, planned) in update["after"].as_object().unwrap() {
            if unknown_paths(&update["after_unknown"][key]).is_empty() {
                assert_eq!(&state[key], planned, "{change}: {key}");
            }
        }
    }
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}
