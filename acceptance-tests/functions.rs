//! Provider-defined functions through the real Terraform CLI: a configuration
//! plans against the blocks an environment will carve before it exists.

use crate::harness::terraform::Workspace;

#[test]
fn subnet_layout_gives_the_resource_s_blocks_at_plan_and_refuses_bad_arguments_by_position() {
    let ws = Workspace::new(None);
    ws.write(
        r#"
locals {
  layout = provider::prodvpc::subnet_layout("10.20.0.0/16", ["us-east-1b", "us-east-1a"])
}
output "public"  { value = local.layout.public }
output "private" { value = local.layout.private }
# known at plan: a for_each over the zones of the layout plans
resource "terraform_data" "per_zone" {
  for_each = local.layout.private
  input    = each.value
}
"#,
    );
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("terraform_data.per_zone[\"us-east-1a\"]")
            && plan.stdout.contains("\"10.20.128.0/20\""),
        "{}",
        plan.stdout
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let out = ws.ok(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs["public"]["value"]["us-east-1a"], "10.20.0.0/20");
    assert_eq!(outputs["public"]["value"]["us-east-1b"], "10.20.16.0/20");
    assert_eq!(outputs["private"]["value"]["us-east-1a"], "10.20.128.0/20");
    assert_eq!(outputs["private"]["value"]["us-east-1b"], "10.20.144.0/20");

    ws.write(
        r#"
output "bad" { value = provider::prodvpc::subnet_layout("10.0.0.0/8", ["us-east-1a", "us-east-1b"]) }
"#,
    );
    let refused = ws.run(&["plan", "-no-color"]);
    assert_ne!(refused.code, 0);
    let text = refused
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains(
            "vpc_cidr `10.0.0.0/8` has a /8 prefix; the environment needs one from /16 to /24"
        ),
        "{text}"
    );
    assert!(
        text.contains("vpc_cidr"),
        "the error names the argument: {text}"
    );
}
