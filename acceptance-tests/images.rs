//! Any image works as the default one does: the root volume is mapped under
//! the image's own root device name (`/dev/sda1` here, where Amazon Linux has
//! `/dev/xvda`), encrypted and of the configured size (or the image's root
//! snapshot's, when larger), with no second volume; an unencrypted volume is
//! drift and fails EC2.3; and an image the instance type cannot launch (its
//! architecture, ENA, virtualization, root device type) is refused at plan.

use aws_sdk_ec2::types::Filter;

use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Emulator, Live};
use crate::model_tests::images::register_image;
use crate::model_tests::{ARM64_IMAGE, SDA1_IMAGE, WINDOWS_IMAGE};

const ADDRESS: &str = "prodvpc_environment.images";

fn config(image: &str) -> String {
    format!(
        r#"resource "prodvpc_environment" "images" {{
  name         = "images"
  nat_gateways = "single"
  app {{
    ami_id   = "{image}"
    min_size = 1
    max_size = 2
  }}
  bastion {{
    ssh_ingress_cidrs = ["198.51.100.0/24"]
  }}
}}
"#
    )
}

/// The volumes the default version of `template` maps, as (device,
/// encrypted, GiB).
fn template_mappings(api: &Api, template: &str) -> Vec<(String, bool, i32)> {
    runtime().block_on(async {
        api.template_data(template, "$Default")
            .await
            .block_device_mappings()
            .iter()
            .map(|m| {
                let ebs = m.ebs().unwrap();
                (
                    m.device_name().unwrap().to_string(),
                    ebs.encrypted().unwrap(),
                    ebs.volume_size().unwrap(),
                )
            })
            .collect()
    })
}

/// A volume as (device, GiB, encrypted).
type Volume = (String, i32, bool);

/// Each live instance of the environment with its volumes.
fn instance_volumes(api: &Api, environment: &str) -> Vec<(String, Vec<Volume>)> {
    runtime().block_on(async {
        let out = api
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:prodvpc:environment")
                    .values(environment)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut found = Vec::new();
        for instance in out.reservations().iter().flat_map(|r| r.instances()) {
            let mut volumes = Vec::new();
            for mapping in instance.block_device_mappings() {
                let id = mapping.ebs().and_then(|e| e.volume_id()).unwrap();
                let described = api
                    .ec2
                    .describe_volumes()
                    .volume_ids(id)
                    .send()
                    .await
                    .unwrap();
                let volume = &described.volumes()[0];
                volumes.push((
                    mapping.device_name().unwrap().to_string(),
                    volume.size().unwrap(),
                    volume.encrypted().unwrap_or(false),
                ));
            }
            volumes.sort();
            found.push((instance.instance_id().unwrap().to_string(), volumes));
        }
        found.sort();
        found
    })
}

/// Attaches a new unencrypted volume to `instance`, as someone might by hand.
fn attach_unencrypted_volume(api: &Api, instance: &str) -> String {
    runtime().block_on(async {
        let described = api
            .ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .unwrap();
        let zone = described.reservations()[0].instances()[0]
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap()
            .to_string();
        let volume = api
            .ec2
            .create_volume()
            .availability_zone(zone)
            .size(4)
            .encrypted(false)
            .send()
            .await
            .unwrap()
            .volume_id()
            .unwrap()
            .to_string();
        api.ec2
            .attach_volume()
            .volume_id(&volume)
            .instance_id(instance)
            .device("/dev/sdf")
            .send()
            .await
            .unwrap();
        volume
    })
}

#[test]
fn an_image_with_another_root_device_gets_exactly_an_encrypted_root_volume() {
    let live = Live::apply(&config(SDA1_IMAGE), ADDRESS, |_| {});
    live.ws
        .assert_no_changes("after an apply with a /dev/sda1 image");
    let state = live.state();
    let template = state["launch_template_id"].as_str().unwrap().to_string();
    assert_eq!(
        template_mappings(&live.api, &template),
        [("/dev/sda1".to_string(), true, 20)]
    );
    let bastion = state["bastion_instance_id"].as_str().unwrap().to_string();
    let instances = instance_volumes(&live.api, "images");
    assert_eq!(
        instances.len(),
        2,
        "the bastion and one app instance: {instances:?}"
    );
    for (instance, volumes) in &instances {
        let size = if *instance == bastion { 8 } else { 20 };
        assert_eq!(
            volumes,
            &[("/dev/sda1".to_string(), size, true)],
            "{instance} has exactly its encrypted root volume"
        );
    }
    assert_eq!(string_map(&state["posture"])["EC2.3"], "pass");

    // a volume attached by hand: EC2.3 fails and the bastion is replaced
    let volume = attach_unencrypted_volume(&live.api, &bastion);
    live.ws
        .ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(
        string_map(&live.state()["posture"])["EC2.3"],
        format!("fail: bastion {bastion} has unencrypted volume {volume}; apply replaces it")
    );
    live.repair("bastion has 2 volumes instead of 1; apply replaces it");
    let after = live.state();
    assert_ne!(after["bastion_instance_id"], state["bastion_instance_id"]);
    assert_eq!(string_map(&after["posture"])["EC2.3"], "pass");
}

#[test]
fn a_template_mapping_amazon_linux_root_device_on_another_image_is_drift_and_rolled() {
    let live = Live::apply(&config(SDA1_IMAGE), ADDRESS, |_| {});
    let state = live.state();
    let template = state["launch_template_id"].as_str().unwrap().to_string();
    let group = state["autoscaling_group_name"]
        .as_str()
        .unwrap()
        .to_string();
    // what an earlier release wrote: the root volume under Amazon Linux's name
    runtime().block_on(async {
        let version = live
            .api
            .ec2
            .create_launch_template_version()
            .launch_template_id(&template)
            .source_version("$Default")
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .block_device_mappings(
                        aws_sdk_ec2::types::LaunchTemplateBlockDeviceMappingRequest::builder()
                            .device_name("/dev/xvda")
                            .ebs(
                                aws_sdk_ec2::types::LaunchTemplateEbsBlockDeviceRequest::builder()
                                    .encrypted(true)
                                    .volume_size(20)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap();
        live.api
            .ec2
            .modify_launch_template()
            .launch_template_id(&template)
            .default_version(version.to_string())
            .send()
            .await
            .unwrap();
        live.api
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .version(version.to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    // the plan shows the drift list's quotes escaped
    live.repair(r#"root device \"/dev/xvda\" instead of \"/dev/sda1\""#);
    let bastion = live.state()["bastion_instance_id"]
        .as_str()
        .unwrap()
        .to_string();
    for (instance, volumes) in instance_volumes(&live.api, "images") {
        let size = if instance == bastion { 8 } else { 20 };
        assert_eq!(
            volumes,
            [("/dev/sda1".to_string(), size, true)],
            "{instance}"
        );
    }
}

/// The errors of a plan that fails as (summary, detail, the configuration
/// line they point at).
fn plan_errors(ws: &Workspace) -> Vec<(String, String, String)> {
    plan_diagnostics(ws)
        .into_iter()
        .filter(|(severity, ..)| severity == "error")
        .map(|(_, summary, detail, line)| (summary, detail, line))
        .collect()
}

#[test]
fn an_image_the_instance_type_cannot_run_is_refused_at_plan_on_the_instance_type() {
    let env = Emulator::aws_like();
    let summary = "Image and instance type do not match";
    // an arm64 type with the default image, and the app's arm64 image left
    // to a bastion of an x86_64 type
    let cases = [
        (
            "app {\n    instance_type = \"t4g.micro\"\n  }\n  bastion {\n    enabled = false\n  }".to_string(),
            "`t4g.micro` runs arm64 only, but the default image (the newest Amazon Linux 2023) is built for x86_64, so no instance could start. Choose an instance type that runs x86_64, or set app.ami_id to an image built for arm64.".to_string(),
            "instance_type = \"t4g.micro\"",
        ),
        (
            format!("app {{\n    ami_id = \"{ARM64_IMAGE}\"\n    instance_type = \"t4g.micro\"\n  }}\n  bastion {{\n    ssh_ingress_cidrs = [\"198.51.100.0/24\"]\n    instance_type = \"t3.nano\"\n  }}"),
            format!("`t3.nano` runs x86_64 only, but image `{ARM64_IMAGE}` is built for arm64, so no instance could start. Choose an instance type that runs arm64, or set bastion.ami_id to an image built for x86_64."),
            "instance_type = \"t3.nano\"",
        ),
    ];
    for (body, detail, line) in cases {
        let ws = Workspace::new(Some(env.layer.endpoint()));
        ws.write(&format!(
            "resource \"prodvpc_environment\" \"x\" {{\n  name = \"arch\"\n  {body}\n}}\n"
        ));
        assert_eq!(
            plan_errors(&ws),
            [(summary.to_string(), detail, line.to_string())],
            "{body}"
        );
    }
    // an arm64 image on an arm64 type plans
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&format!(
        "resource \"prodvpc_environment\" \"x\" {{\n  name = \"arch\"\n  app {{\n    ami_id = \"{ARM64_IMAGE}\"\n    instance_type = \"t4g.micro\"\n  }}\n  bastion {{\n    enabled = false\n  }}\n}}\n"
    ));
    ws.ok(&["plan", "-no-color"]);
    assert_eq!(env.layer.count("ec2:CreateVpc"), 0);
}

#[test]
fn an_image_with_a_larger_root_snapshot_gets_root_volumes_that_large_and_serves() {
    // Windows Server: a 30 GiB root snapshot, larger than the app's 20 GiB and
    // the bastion's 8 GiB, which EC2 would refuse
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(&config(WINDOWS_IMAGE));
    let applied = ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        applied.text().contains("Windows image on an SSH bastion"),
        "the bastion on the app's Windows image is warned of:\n{}",
        applied.text()
    );
    ws.assert_no_changes("after an apply with a Windows image");
    let state = ws.resource_values(ADDRESS);
    let template = state["launch_template_id"].as_str().unwrap().to_string();
    assert_eq!(
        template_mappings(&env.api, &template),
        [("/dev/sda1".to_string(), true, 30)]
    );
    let instances = instance_volumes(&env.api, "images");
    assert_eq!(
        instances.len(),
        2,
        "the bastion and one app instance: {instances:?}"
    );
    for (instance, volumes) in &instances {
        assert_eq!(
            volumes,
            &[("/dev/sda1".to_string(), 30, true)],
            "{instance} has exactly its encrypted root volume, as large as the image's snapshot"
        );
    }
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

/// The provider's diagnostics of a plan that fails as (severity, summary,
/// detail, the configuration line they point at).
fn plan_diagnostics(ws: &Workspace) -> Vec<(String, String, String, String)> {
    let run = ws.run(&["plan", "-json", "-no-color"]);
    assert_ne!(run.code, 0, "the plan was accepted:\n{}", run.text());
    run.stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["type"] == "diagnostic")
        .map(|message| message["diagnostic"].clone())
        // Terraform's own, on the locally built provider
        .filter(|d| d["summary"] != "Provider development overrides are in effect")
        .map(|d| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&d["severity"]),
                text(&d["summary"]),
                text(&d["detail"]),
                text(&d["snippet"]["code"]).trim().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_image_no_instance_could_launch_from_is_refused_at_plan_on_the_image() {
    let env = Emulator::aws_like();
    // registered by an operator through the model, which keeps what AWS keeps of them
    let aws = Api::operator(&env.layer.endpoint());
    let store = runtime().block_on(register_image(&aws, "instance-store", true, None));
    let paravirtual = "ami-8104a4f8";
    let summary = "Image and instance type do not match";
    let error = |detail: String, line: &str| {
        (
            "error".to_string(),
            summary.to_string(),
            detail,
            line.to_string(),
        )
    };
    let cases = [
        (
            format!("app {{\n    min_size = 1\n  }}\n  bastion {{\n    ami_id = \"{store}\"\n    ssh_ingress_cidrs = [\"198.51.100.0/24\"]\n  }}"),
            vec![error(
                format!("image `{store}` is instance store-backed, but the environment's instances boot from an encrypted EBS root volume. Set bastion.ami_id to an EBS-backed image."),
                &format!("ami_id = \"{store}\""),
            )],
        ),
        (
            format!("app {{\n    ami_id = \"{paravirtual}\"\n    instance_type = \"t2.micro\"\n  }}\n  bastion {{\n    enabled = false\n  }}"),
            vec![error(
                format!("image `{paravirtual}` uses paravirtual virtualization, which `t2.micro` cannot run (it runs hvm). Set app.ami_id to an HVM image."),
                &format!("ami_id = \"{paravirtual}\""),
            )],
        ),
    ];
    for (body, expected) in cases {
        let ws = Workspace::new(Some(env.layer.endpoint()));
        ws.write(&format!(
            "resource \"prodvpc_environment\" \"x\" {{\n  name = \"images\"\n  {body}\n}}\n"
        ));
        assert_eq!(plan_diagnostics(&ws), expected, "{body}");
    }
    assert_eq!(env.layer.count("ec2:CreateVpc"), 0);
}

/// An environment that names no image: it keeps the newest Amazon Linux it
/// was built with, which its owner may later deregister.
const KEPT_IMAGE: &str = r#"resource "prodvpc_environment" "images" {
  name         = "kept"
  nat_gateways = "single"
  app {
    min_size = 1
    max_size = 1
  }
  bastion {
    enabled = false
  }
}
"#;

#[test]
fn an_image_the_environment_kept_that_is_gone_is_warned_of_and_blocks_no_other_change() {
    let env = Emulator::aws_like();
    let ws = Workspace::new(Some(env.layer.endpoint()));
    ws.write(KEPT_IMAGE);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let image = ws.resource_values(ADDRESS)["app"][0]["ami_id"]
        .as_str()
        .unwrap()
        .to_string();
    runtime().block_on(async {
        env.api
            .ec2
            .deregister_image()
            .image_id(&image)
            .send()
            .await
            .unwrap();
    });
    // a change of another setting is planned, not refused for the image
    ws.write(&KEPT_IMAGE.replace(
        "  nat_gateways",
        "  tags         = { team = \"web\" }\n  nat_gateways",
    ));
    let plan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "the tags change, no error:\n{}", plan.text());
    // as one line: Terraform wraps the detail
    let text = plan.text().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Warning: Image not found")
            && text.contains(&format!(
                "`{image}`, which the environment's instances launch from, no longer exists"
            ))
            && text.contains("set ami_id to a current image"),
        "{text}"
    );
    // and applied: the launch template keeps the version it runs
    let template_before = ws.resource_values(ADDRESS)["launch_template_id"].clone();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.assert_no_changes("after the tags change");
    assert_eq!(
        ws.resource_values(ADDRESS)["launch_template_id"],
        template_before
    );
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}
