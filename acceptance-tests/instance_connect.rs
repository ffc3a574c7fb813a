//! The EC2 Instance Connect Endpoint: SSH to the app instances with no bastion
//! and no public address. Created in the first zone's private subnet with a
//! group that may open SSH to sg/app only, recreated when deleted out of band,
//! turned off and on in place (with a warning that says what SSH loses),
//! imported, and gone after destroy.

use aws_sdk_ec2::types::Filter;

use crate::harness::faults::AWS_LIKE_TIME_SCALE;
use crate::harness::terraform::Workspace;
use crate::harness::{runtime, string_map, Api, Live};

const ADDRESS: &str = "prodvpc_environment.tunnel";

fn config(endpoint: bool) -> String {
    with_bastion(endpoint, false)
}

fn with_bastion(endpoint: bool, bastion: bool) -> String {
    let bastion = if bastion {
        "ssh_ingress_cidrs = [\"198.51.100.0/24\"]"
    } else {
        "enabled = false"
    };
    format!(
        r#"resource "prodvpc_environment" "tunnel" {{
  name                      = "tunnel"
  nat_gateways              = "none"
  instance_connect_endpoint = {endpoint}
  app {{
    min_size = 0
    max_size = 1
  }}
  # written out: an import records the block (see the resource's Import section)
  load_balancer {{
    ingress_cidrs = ["0.0.0.0/0"]
  }}
  bastion {{
    {bastion}
  }}
}}
"#
    )
}

/// The VPC's endpoints that AWS has not finished deleting, as (ID, subnet,
/// groups, state), through the AWS model (moto has no such endpoints).
fn endpoints(aws: &Api, vpc: &str) -> Vec<(String, String, Vec<String>, String)> {
    runtime().block_on(async {
        let out = aws
            .ec2
            .describe_instance_connect_endpoints()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .send()
            .await
            .unwrap();
        out.instance_connect_endpoints()
            .iter()
            .filter(|e| e.state().map(|s| s.as_str()) != Some("delete-complete"))
            .map(|e| {
                (
                    e.instance_connect_endpoint_id().unwrap().to_string(),
                    e.subnet_id().unwrap_or_default().to_string(),
                    e.security_group_ids().to_vec(),
                    e.state().unwrap().as_str().to_string(),
                )
            })
            .collect()
    })
}

/// The group's rules, as (direction, port, peer group).
fn group_rules(aws: &Api, group: &str) -> Vec<(&'static str, i32, String)> {
    runtime().block_on(async {
        let out = aws
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .unwrap();
        let found = &out.security_groups()[0];
        let mut rules = Vec::new();
        for (direction, permissions) in [
            ("in", found.ip_permissions()),
            ("out", found.ip_permissions_egress()),
        ] {
            for p in permissions {
                let peers: Vec<String> = p
                    .user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .chain(
                        p.ip_ranges()
                            .iter()
                            .filter_map(|r| r.cidr_ip().map(str::to_string)),
                    )
                    .collect();
                for peer in peers {
                    rules.push((direction, p.from_port().unwrap_or(-1), peer));
                }
            }
        }
        rules.sort();
        rules
    })
}

#[test]
fn an_instance_connect_endpoint_gives_ssh_without_a_bastion_and_is_kept_changed_imported_and_destroyed(
) {
    let live = Live::apply(&config(true), ADDRESS, |_| {});
    live.ws.assert_no_changes("after the apply");
    let operator = Api::operator(&live.layer.endpoint());
    let state = live.state();
    let vpc = state["vpc_id"].as_str().unwrap().to_string();
    let id = state["instance_connect_endpoint_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("eice-"), "{id}");
    let groups = string_map(&state["security_group_ids"]);
    let private = string_map(&state["private_subnet_ids"]);
    let first_private = private.iter().min().map(|(_, s)| s.clone()).unwrap();
    // ready when apply returned, in the first zone's private subnet, with sg/eice only
    assert_eq!(
        endpoints(&operator, &vpc),
        vec![(
            id.clone(),
            first_private,
            vec![groups["eice"].clone()],
            "create-complete".to_string()
        )]
    );
    // the endpoint may open SSH to the app's group and nothing else; the app
    // admits SSH from it
    assert_eq!(
        group_rules(&operator, &groups["eice"]),
        vec![("out", 22, groups["app"].clone())]
    );
    assert!(group_rules(&operator, &groups["app"]).contains(&("in", 22, groups["eice"].clone())));

    // deleted out of band: while AWS deletes it, and once it is gone, the
    // plan says so and apply makes a new one (AWS's 30 s of deleting scaled
    // so that a plan on a busy machine still sees them)
    live.layer.model().set_time_scale(0.1);
    runtime()
        .block_on(
            operator
                .ec2
                .delete_instance_connect_endpoint()
                .instance_connect_endpoint_id(&id)
                .send(),
        )
        .unwrap();
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("eice is being deleted (delete-in-progress); apply replaces it")
            && plan
                .stdout
                .contains("The Instance Connect Endpoint will be replaced"),
        "{}",
        plan.stdout
    );
    while !endpoints(&operator, &vpc).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    live.layer.model().set_time_scale(AWS_LIKE_TIME_SCALE);
    live.repair("eice is missing; apply creates it");
    let renewed = live.state()["instance_connect_endpoint_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(renewed, id);
    assert_eq!(endpoints(&operator, &vpc).len(), 1);

    // imported: the switch is read back from AWS
    let imported = Workspace::new(Some(live.layer.endpoint()));
    imported.write(&config(true));
    imported.ok(&["import", "-no-color", ADDRESS, "tunnel"]);
    let read = imported.resource_values(ADDRESS);
    assert_eq!(read["instance_connect_endpoint"], serde_json::json!(true));
    assert_eq!(
        read["instance_connect_endpoint_id"].as_str(),
        Some(renewed.as_str())
    );
    imported.assert_no_changes("after the import");

    // turned off in place: the plan warns that SSH through it ends
    live.ws.write(&config(false));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("SSH through the Instance Connect Endpoint will end")
            && plan.stdout.contains("1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws.assert_no_changes("after turning it off");
    assert!(endpoints(&operator, &vpc).is_empty());
    let state = live.state();
    assert!(state["instance_connect_endpoint_id"].is_null());
    assert!(!string_map(&state["security_group_ids"]).contains_key("eice"));
    assert!(!group_rules(&operator, &groups["app"])
        .iter()
        .any(|(direction, port, _)| *direction == "in" && *port == 22));

    // a bastion, then from the bastion to the endpoint in one in-place change
    live.ws.write(&with_bastion(false, true));
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let bastion_group = string_map(&live.state()["security_group_ids"])["bastion"].clone();
    live.ws.write(&config(true));
    let plan = live.ws.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    live.ws.ok(&["apply", "-auto-approve", "-no-color"]);
    live.ws
        .assert_no_changes("after moving from the bastion to the endpoint");
    assert_eq!(endpoints(&operator, &vpc).len(), 1);
    let state = live.state();
    assert!(state["bastion_instance_id"].is_null());
    let groups = string_map(&state["security_group_ids"]);
    assert!(!groups.contains_key("bastion"));
    // SSH into the app from the endpoint's group alone
    let ssh_from: Vec<String> = group_rules(&operator, &groups["app"])
        .into_iter()
        .filter(|(direction, port, _)| *direction == "in" && *port == 22)
        .map(|(_, _, peer)| peer)
        .collect();
    assert_eq!(ssh_from, vec![groups["eice"].clone()]);
    assert_ne!(groups["eice"], bastion_group);

    // then destroyed: nothing of it is left
    live.ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(endpoints(&operator, &vpc).is_empty());
    assert_eq!(
        crate::lifecycle::leftovers(&live.api, "tunnel"),
        Vec::<String>::new()
    );
}
