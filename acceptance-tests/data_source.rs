//! The `prodvpc_environment` data source, from a second working directory: it
//! reads the environment another configuration built, attribute for attribute
//! as that configuration's state has it, without a single call that changes
//! AWS; a name the region has no environment of, or one still being created,
//! fails at plan on `name`; a name known only after apply is read at apply.

use std::collections::BTreeMap;

use crate::harness::terraform::{Run, Workspace};
use crate::harness::{runtime, Emulator};
use crate::lifecycle::small;

/// A configuration that reads the environment `name` and outputs the whole
/// object, and the attributes a consumer typically takes one by one.
fn reader(name: &str) -> String {
    format!(
        r#"data "prodvpc_environment" "shop" {{
  name = {name}
}}
output "environment" {{
  value = data.prodvpc_environment.shop
}}
output "vpc_id" {{
  value = data.prodvpc_environment.shop.vpc_id
}}
output "private_subnet_ids" {{
  value = data.prodvpc_environment.shop.private_subnet_ids
}}
output "alb_dns_name" {{
  value = data.prodvpc_environment.shop.alb_dns_name
}}
output "app_security_group" {{
  value = data.prodvpc_environment.shop.security_group_ids["app"]
}}
"#
    )
}

/// Calls that may change something in AWS: anything but a describe, get or list.
fn changing_calls(counts: &std::collections::HashMap<String, usize>) -> BTreeMap<String, usize> {
    counts
        .iter()
        .filter(|(key, n)| {
            let action = key.split(':').nth(1).unwrap_or_default();
            **n > 0
                && !["Describe", "Get", "List"]
                    .iter()
                    .any(|r| action.starts_with(r))
        })
        .map(|(key, n)| (key.clone(), *n))
        .collect()
}

/// The error diagnostic of `run` says `says` and points at the source line of `name`.
fn refused_on_name(run: &Run, says: &str) {
    assert_ne!(run.code, 0, "accepted:\n{}", run.text());
    let text = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(says),
        "does not say `{says}`:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains(':') && l.contains("name = ")),
        "not on `name`:\n{}",
        run.stderr
    );
}

#[test]
fn the_data_source_reads_what_the_resource_built_and_changes_nothing() {
    let env = Emulator::aws_like();
    let owner = Workspace::new(Some(env.layer.endpoint()));
    owner.write(&small("shop"));
    owner.ok(&["apply", "-auto-approve", "-no-color"]);
    // the owner's state as a refresh sees it now, to compare with a read now
    owner.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let built = owner.resource_values("prodvpc_environment.shop");

    let consumer = Workspace::new(Some(env.layer.endpoint()));
    consumer.write(&reader("\"shop\""));
    env.layer.reset_counts();
    consumer.ok(&["apply", "-auto-approve", "-no-color"]);
    let counts = env.layer.counts();
    assert!(
        counts.get("ec2:DescribeVpcs").copied().unwrap_or(0) > 0,
        "the data source read nothing: {counts:?}"
    );
    assert_eq!(
        changing_calls(&counts),
        BTreeMap::new(),
        "reading the environment changed AWS"
    );

    let outputs = consumer.outputs();
    let read = &outputs["environment"]["value"];
    let read = read.as_object().expect("the data source's object");
    for key in [
        "id",
        "vpc_id",
        "vpc_cidr",
        "availability_zones",
        "public_subnet_ids",
        "private_subnet_ids",
        "public_subnet_cidrs",
        "private_subnet_cidrs",
        "nat_gateway_ids",
        "nat_public_ips",
        "security_group_ids",
        "alb_arn",
        "alb_dns_name",
        "alb_zone_id",
        "target_group_arn",
        "listener_arns",
        "launch_template_id",
        "autoscaling_group_name",
        "bastion_instance_id",
        "bastion_public_ip",
        "posture",
        "tags_all",
    ] {
        assert!(read.contains_key(key), "the data source has no `{key}`");
    }
    // every attribute it has is the resource's, with the value the owner's state holds
    for (key, value) in read {
        assert_eq!(value, &built[key], "`{key}` differs from the resource's");
        // the configuration sets everything but a flow log, an Instance
        // Connect Endpoint and IPv6
        let unset = [
            "flow_log_id",
            "instance_connect_endpoint_id",
            "vpc_ipv6_cidr",
            "public_subnet_ipv6_cidrs",
            "private_subnet_ipv6_cidrs",
            "egress_only_internet_gateway_id",
            "bastion_ipv6_address",
        ];
        assert_eq!(
            value.is_null(),
            unset.contains(&key.as_str()),
            "`{key}` is {value}"
        );
    }
    assert!(!read.contains_key("drift"));
    assert_eq!(outputs["vpc_id"]["value"], built["vpc_id"]);
    assert_eq!(
        outputs["private_subnet_ids"]["value"],
        built["private_subnet_ids"]
    );
    assert_eq!(outputs["alb_dns_name"]["value"], built["alb_dns_name"]);
    assert_eq!(
        outputs["app_security_group"]["value"],
        built["security_group_ids"]["app"]
    );
    assert_eq!(read["posture"]["EC2.2"], "pass");
    consumer.assert_no_changes("after reading the environment");

    // a name known only after apply is read at apply
    let late = Workspace::new(Some(env.layer.endpoint()));
    late.write(&format!(
        "resource \"terraform_data\" \"name\" {{\n  input = \"shop\"\n}}\n{}",
        reader("terraform_data.name.output")
    ));
    let plan = late.run(&["plan", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.text());
    assert!(
        plan.stdout.contains("will be read during apply"),
        "{}",
        plan.stdout
    );
    late.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(late.outputs()["vpc_id"]["value"], built["vpc_id"]);

    // an environment whose create has not completed is not read
    let vpc = built["vpc_id"].as_str().expect("vpc id").to_string();
    let tag_status = |status: Option<&str>| {
        runtime().block_on(async {
            let tag = aws_sdk_ec2::types::Tag::builder().key("prodvpc:status");
            match status {
                Some(value) => {
                    env.api
                        .ec2
                        .create_tags()
                        .resources(&vpc)
                        .tags(tag.value(value).build())
                        .send()
                        .await
                        .unwrap();
                }
                None => {
                    env.api
                        .ec2
                        .delete_tags()
                        .resources(&vpc)
                        .tags(tag.build())
                        .send()
                        .await
                        .unwrap();
                }
            }
        })
    };
    tag_status(Some("creating"));
    let unfinished = consumer.run(&["plan", "-no-color"]);
    refused_on_name(&unfinished, "is still being created");
    tag_status(None);
    consumer.assert_no_changes("once the environment is complete again");

    // a name the region has no environment of
    let ghost = Workspace::new(Some(env.layer.endpoint()));
    ghost.write(&reader("\"ghost\""));
    let missing = ghost.run(&["plan", "-no-color"]);
    refused_on_name(&missing, "No environment named `ghost`");
    refused_on_name(&missing, "in us-east-1");
}

#[test]
fn an_invalid_name_is_refused_at_validate_on_name() {
    let ws = Workspace::new(None);
    ws.write(&reader("\"shop--prod\""));
    let run = ws.run(&["validate", "-no-color"]);
    refused_on_name(&run, "two hyphens");
}
