//! Several instance types and a Spot share (`app.mixed_instances`): the group
//! gets a mixed instances policy around the provider's launch template, with
//! capacity rebalancing whenever Spot is used; the mix changes in place
//! without replacing instances, a template change rolls them through a
//! refresh that names the mix, a policy changed out of band is repaired, import
//! reads the block back, removing it goes back to the template alone, and
//! destroy leaves nothing. A type the image cannot run is refused at plan.

use aws_sdk_autoscaling::types::{
    InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
    MixedInstancesPolicy,
};

use crate::harness::terraform::Workspace;
use crate::harness::{runtime, Api, Live};

const ADDRESS: &str = "prodvpc_environment.spot";

/// The configuration with `mix` as the body of `app.mixed_instances` (none
/// when empty) and the app's `instance_type`.
fn config(instance_type: &str, mix: &str) -> String {
    let mix = if mix.is_empty() {
        String::new()
    } else {
        format!("    mixed_instances {{\n      {mix}\n    }}\n")
    };
    format!(
        r#"resource "prodvpc_environment" "spot" {{
  name         = "spot"
  nat_gateways = "none"
  app {{
    instance_type = "{instance_type}"
    min_size      = 2
    max_size      = 2
{mix}  }}
  # written out: an import records the block (see the resource's Import section)
  load_balancer {{
    ingress_cidrs = ["0.0.0.0/0"]
  }}
  bastion {{
    enabled = false
  }}
}}
"#
    )
}

const HALF_SPOT: &str = r#"instance_types = ["t3.micro", "t3a.micro"]
      on_demand_base_capacity = 1
      on_demand_percentage_above_base_capacity = 50"#;

const ON_DEMAND: &str = r#"instance_types = ["t3a.micro", "t3.micro", "t2.micro"]"#;

/// What the group launches as AWS reports it: (template version, instance
/// types, On-Demand base, On-Demand percentage, Spot strategy) of its mixed
/// instances policy, or `None` without one; and its capacity rebalancing.
type Mix = (String, Vec<String>, i32, i32, String);

fn group_mix(api: &Api) -> (Option<Mix>, bool) {
    runtime().block_on(async {
        let group = api.group("spot-app").await;
        let mix = group.mixed_instances_policy().map(|policy| {
            let template = policy.launch_template().unwrap();
            let distribution = policy.instances_distribution().unwrap();
            (
                template
                    .launch_template_specification()
                    .and_then(|s| s.version())
                    .unwrap_or_default()
                    .to_string(),
                template
                    .overrides()
                    .iter()
                    .filter_map(|o| o.instance_type().map(str::to_string))
                    .collect(),
                distribution.on_demand_base_capacity().unwrap_or_default(),
                distribution
                    .on_demand_percentage_above_base_capacity()
                    .unwrap_or_default(),
                distribution
                    .spot_allocation_strategy()
                    .unwrap_or_default()
                    .to_string(),
            )
        });
        (mix, group.capacity_rebalance().unwrap_or(false))
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_mix_of_types_and_spot_is_created_changed_in_place_rolled_repaired_imported_and_destroyed() {
    let live = Live::apply(&config("t3.micro", HALF_SPOT), ADDRESS, |_| {});
    // through the AWS model, which keeps the policies (moto knows only the template)
    let aws = Api::operator(&live.layer.endpoint());
    // a type the image cannot run is refused at plan
    let arm = r#"instance_types = ["t3.micro", "t4g.micro"]"#;
    live.ws.write(&config("t3.micro", arm));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert_ne!(plan.code, 0);
    assert!(
        plan.stderr.contains("Image and instance type do not match")
            && plan.stderr.contains("`t4g.micro` runs arm64 only"),
        "{}",
        plan.stderr
    );
    live.ws.write(&config("t3.micro", HALF_SPOT));
    live.ws.assert_no_changes("after the apply");
    let state = live.state();
    let version = state["launch_template_version"]
        .as_i64()
        .unwrap()
        .to_string();
    assert_eq!(
        group_mix(&aws),
        (
            Some((
                version.clone(),
                strings(&["t3.micro", "t3a.micro"]),
                1,
                50,
                "price-capacity-optimized".to_string()
            )),
            true
        ),
        "a policy around the template, rebalancing its Spot capacity"
    );

    // all On-Demand over three types: in place, no instance replaced
    live.ws.write(&config("t3.micro", ON_DEMAND));
    let plan = live.ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy")
            && !plan.stdout.contains("Every app instance will be replaced"),
        "{}",
        plan.stdout
    );
    live.layer.reset_counts();
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 0);
    assert_eq!(
        group_mix(&aws),
        (
            Some((
                version.clone(),
                strings(&["t3a.micro", "t3.micro", "t2.micro"]),
                0,
                100,
                "price-capacity-optimized".to_string()
            )),
            false
        )
    );
    live.ws.assert_no_changes("after the mix changed in place");

    // back to a Spot share: the plan says what Spot means
    live.ws.write(&config("t3.micro", HALF_SPOT));
    let plan = live.ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("Part of the app capacity will run on Spot"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after Spot came back");

    // the policy changed out of band (all Spot, another type first): seen and restored
    runtime().block_on(async {
        let policy = MixedInstancesPolicy::builder()
            .launch_template(
                LaunchTemplate::builder()
                    .launch_template_specification(
                        LaunchTemplateSpecification::builder()
                            .launch_template_id(state["launch_template_id"].as_str().unwrap())
                            .version(&version)
                            .build(),
                    )
                    .overrides(
                        LaunchTemplateOverrides::builder()
                            .instance_type("m5.large")
                            .build(),
                    )
                    .build(),
            )
            .instances_distribution(
                InstancesDistribution::builder()
                    .on_demand_percentage_above_base_capacity(0)
                    .spot_allocation_strategy("lowest-price")
                    .build(),
            )
            .build();
        aws.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("spot-app")
            .mixed_instances_policy(policy)
            .send()
            .await
            .unwrap();
    });
    live.repair("asg launches m5.large;");
    assert_eq!(
        group_mix(&aws).0.map(|m| m.1),
        Some(strings(&["t3.micro", "t3a.micro"]))
    );

    // a template change rolls the instances through a refresh that names the mix
    live.ws.write(&config("t3.small", HALF_SPOT));
    live.layer.reset_counts();
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 1);
    let rolled = live.state()["launch_template_version"]
        .as_i64()
        .unwrap()
        .to_string();
    assert_ne!(rolled, version);
    let (mix, rebalance) = group_mix(&aws);
    assert_eq!(
        mix.map(|m| (m.0, m.1)),
        Some((rolled, strings(&["t3.micro", "t3a.micro"]))),
        "the refresh leaves the group's policy on the new version"
    );
    assert!(rebalance);
    live.ws.assert_no_changes("after the roll");

    // imported: the block is read back from the group
    let imported = Workspace::new(Some(live.layer.endpoint()));
    imported.write(&config("t3.small", HALF_SPOT));
    imported.ok(&["import", "-no-color", ADDRESS, "spot"]);
    let read = imported.resource_values(ADDRESS);
    assert_eq!(
        read["app"][0]["mixed_instances"][0]["instance_types"],
        serde_json::json!(["t3.micro", "t3a.micro"])
    );
    imported.assert_no_changes("after the import");

    // without the block: the template alone, in place
    live.ws.write(&config("t3.small", ""));
    live.layer.reset_counts();
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 0);
    assert_eq!(group_mix(&aws), (None, false));
    live.ws.assert_no_changes("after the mix was removed");

    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(live.api.tagged_vpcs("spot"), 0);
}
