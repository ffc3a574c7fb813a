//! Write-only user data (`app.user_data_wo`, Terraform 1.11): the script
//! reaches the launch template and never the state or a saved plan; its
//! version, recorded in the template version's description, decides when the
//! instances roll, is read back by a refresh and by import, and a template
//! switched out of band is repaired with the configured script.

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::RequestLaunchTemplateData;

use crate::harness::terraform::Workspace;
use crate::harness::{runtime, Api, Live};

const ADDRESS: &str = "prodvpc_environment.secret";

fn config(script: &str, version: i64) -> String {
    format!(
        r##"resource "prodvpc_environment" "secret" {{
  name         = "secret"
  nat_gateways = "none"
  app {{
    min_size             = 1
    max_size             = 1
    user_data_wo         = "#!/bin/sh\necho {script}"
    user_data_wo_version = {version}
  }}
  # written out: an import records the block (see the resource's Import section)
  load_balancer {{
    ingress_cidrs = ["0.0.0.0/0"]
  }}
  bastion {{
    enabled = false
  }}
}}
"##
    )
}

/// The user data and description of a launch template version.
fn template_version(api: &Api, template: &str, version: &str) -> (String, Option<String>) {
    use base64::Engine;
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(template)
            .versions(version)
            .send()
            .await
            .unwrap();
        let found = &out.launch_template_versions()[0];
        let encoded = found
            .launch_template_data()
            .and_then(|d| d.user_data())
            .unwrap_or_default();
        let script = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .unwrap();
        (
            String::from_utf8(script).unwrap(),
            found.version_description().map(str::to_string),
        )
    })
}

/// Asserts that neither the state file nor the saved plan `plan_file` (when
/// given) holds `secret` anywhere.
fn assert_kept_out(ws: &Workspace, secret: &str, plan_file: Option<&str>) {
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
    assert!(
        state.contains("user_data_wo_version") && !state.contains(secret),
        "the state holds the script:\n{state}"
    );
    if let Some(plan_file) = plan_file {
        // the values a plan records; its `configuration` section repeats the
        // configuration's literals, as the plan file holds the configuration
        let shown: serde_json::Value =
            serde_json::from_str(&ws.ok(&["show", "-json", plan_file]).stdout).unwrap();
        for section in [
            "planned_values",
            "resource_changes",
            "prior_state",
            "resource_drift",
        ] {
            let text = shown[section].to_string();
            assert!(
                !text.contains(secret),
                "the plan's {section} holds the script"
            );
        }
        assert!(shown["resource_changes"]
            .to_string()
            .contains("user_data_wo_version"));
    }
}

#[test]
fn write_only_user_data_reaches_the_template_never_the_state_and_rolls_by_its_version() {
    let live = Live::apply(&config("first-secret", 1), ADDRESS, |_| {});
    live.ws.assert_no_changes("after the apply");
    assert_kept_out(&live.ws, "first-secret", None);
    let state = live.state();
    assert!(state["app"][0]["user_data_wo"].is_null());
    assert_eq!(state["app"][0]["user_data_wo_version"], 1);
    let template = state["launch_template_id"].as_str().unwrap().to_string();
    let group = state["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    let first = state["launch_template_version"].as_i64().unwrap();
    assert_eq!(
        template_version(&live.api, &template, &first.to_string()),
        (
            "#!/bin/sh\necho first-secret".to_string(),
            Some("user_data_wo_version=1".to_string())
        )
    );

    // a new script under the same version changes nothing: no state holds the
    // script to compare with, as the attribute's documentation says
    live.ws.write(&config("second-secret", 1));
    live.ws
        .assert_no_changes("after a new script with the same version");

    // a new version rolls the instances to the new script
    live.ws.write(&config("second-secret", 2));
    let plan = live.ws.ok(&["plan", "-no-color", "-out=roll.tfplan"]);
    assert!(
        plan.stdout.contains("Every app instance will be replaced")
            && plan.stdout.contains("user_data_wo_version"),
        "{}",
        plan.stdout
    );
    assert_kept_out(&live.ws, "second-secret", Some("roll.tfplan"));
    live.layer.reset_counts();
    live.ws
        .ok(&["apply", "-auto-approve", "-no-color", "roll.tfplan"]);
    assert_eq!(live.layer.count("autoscaling:StartInstanceRefresh"), 1);
    let second = live.state()["launch_template_version"].as_i64().unwrap();
    assert!(second > first);
    assert_eq!(
        template_version(&live.api, &template, &second.to_string()),
        (
            "#!/bin/sh\necho second-secret".to_string(),
            Some("user_data_wo_version=2".to_string())
        )
    );
    assert_kept_out(&live.ws, "second-secret", None);
    live.ws.assert_no_changes("after the roll");

    // the group switched out of band to a version with other user data: the
    // refresh reads the version back, and apply rolls to the configured script
    runtime().block_on(async {
        let out = live
            .api
            .ec2
            .create_launch_template_version()
            .launch_template_id(&template)
            .source_version(second.to_string())
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .user_data("IyEvYmluL3NoCmVjaG8gcHduZWQ=")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let tampered = out
            .launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap();
        live.api
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .version(tampered.to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    live.repair("user data version none instead of 2");
    let repaired = live.state()["launch_template_version"].as_i64().unwrap();
    assert_eq!(
        template_version(&live.api, &template, &repaired.to_string()).0,
        "#!/bin/sh\necho second-secret"
    );
    assert_kept_out(&live.ws, "second-secret", None);

    // imported: the version is read back, the script is not
    let imported = Workspace::new(Some(live.layer.endpoint()));
    imported.write(&config("second-secret", 2));
    imported.ok(&["import", "-no-color", ADDRESS, "secret"]);
    let read = imported.resource_values(ADDRESS);
    assert_eq!(read["app"][0]["user_data_wo_version"], 2);
    assert!(read["app"][0]["user_data"].is_null());
    assert!(read["app"][0]["user_data_wo"].is_null());
    imported.assert_no_changes("after the import");

    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(live.api.tagged_vpcs("secret"), 0);
}
