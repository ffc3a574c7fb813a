//! Test harness shared by the integration and acceptance tests: the moto
//! server, the fault layer in front of it, SDK clients for checking the API
//! directly, and a Terraform working directory wired to the built provider.

pub mod faults;
pub mod iam;
pub mod model;
pub mod moto;
pub mod terraform;

mod api;

pub use api::{runtime, Api};

use std::collections::{BTreeMap, BTreeSet};

use self::faults::FaultLayer;
use self::moto::Moto;
use self::terraform::Workspace;

/// A moto server of a test's own, the fault layer the provider talks to, and
/// clients that check the API directly (past the layer).
pub struct Emulator {
    moto: Moto,
    pub layer: FaultLayer,
    pub api: Api,
}

impl Emulator {
    /// Behind the plain fault layer: moto's answers (completed where moto
    /// lacks an API), plus what a test injects.
    pub fn plain() -> Emulator {
        Emulator::behind(FaultLayer::start)
    }

    /// Behind the AWS behaviour model ([`FaultLayer::aws_like`]).
    pub fn aws_like() -> Emulator {
        Emulator::behind(FaultLayer::aws_like)
    }

    fn behind(layer: impl FnOnce(&str) -> FaultLayer) -> Emulator {
        let moto = Moto::start();
        let layer = layer(&moto.endpoint());
        let api = Api::new(&moto.endpoint());
        Emulator { moto, layer, api }
    }

    /// The moto server itself, to set up what the provider only refers to
    /// (buckets, instance profiles).
    pub fn moto(&self) -> &Moto {
        &self.moto
    }
}

/// An environment applied from a configuration behind the AWS behaviour model:
/// its emulator (reached through `Deref`: `live.api`, `live.layer`) and its
/// working directory. Test files add the methods their changes need.
pub struct Live {
    emulator: Emulator,
    pub ws: Workspace,
    address: &'static str,
}

impl Live {
    /// Applies `hcl`, whose resource is `address`, once `prepare` has set up
    /// the emulator's moto.
    pub fn apply(hcl: &str, address: &'static str, prepare: impl FnOnce(&Moto)) -> Live {
        let emulator = Emulator::aws_like();
        prepare(emulator.moto());
        let ws = Workspace::new(Some(emulator.layer.endpoint()));
        ws.write(hcl);
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        Live {
            emulator,
            ws,
            address,
        }
    }

    /// The environment's attributes in the state.
    pub fn state(&self) -> serde_json::Value {
        self.ws.resource_values(self.address)
    }

    /// After an out-of-band change: the plan is a repair that names `finding`,
    /// apply makes it, and the plan after is empty.
    pub fn repair(&self, finding: &str) {
        let plan = self.ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(plan.code, 2, "{}", plan.text());
        assert!(
            plan.stdout.contains(finding),
            "no `{finding}` in:\n{}",
            plan.stdout
        );
        self.ws.ok(&["apply", "-auto-approve", "-no-color"]);
        self.ws
            .assert_no_changes(&format!("after the repair of `{finding}`"));
    }
}

impl std::ops::Deref for Live {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

impl Api {
    /// How many VPCs are tagged for the environment.
    pub fn tagged_vpcs(&self, environment: &str) -> usize {
        runtime().block_on(async {
            self.ec2
                .describe_vpcs()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("tag:prodvpc:environment")
                        .values(environment)
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .vpcs()
                .len()
        })
    }

    /// A DHCP options set that sends instances to DNS server `server`: one
    /// of another's (a directory's, or an attacker's), never the environment's.
    pub async fn dhcp_options(&self, server: &str) -> String {
        self.ec2
            .create_dhcp_options()
            .dhcp_configurations(
                aws_sdk_ec2::types::NewDhcpConfiguration::builder()
                    .key("domain-name-servers")
                    .values(server)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .dhcp_options
            .and_then(|o| o.dhcp_options_id)
            .unwrap()
    }

    /// Whether DHCP options set `id` exists.
    pub async fn dhcp_options_exist(&self, id: &str) -> bool {
        let sets = self
            .ec2
            .describe_dhcp_options()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("dhcp-options-id")
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        !sets.dhcp_options().is_empty()
    }

    /// The Auto Scaling Group of that name (it must exist).
    pub async fn group(&self, name: &str) -> aws_sdk_autoscaling::types::AutoScalingGroup {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap();
        out.auto_scaling_groups()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("no group {name}"))
    }

    /// What a launch template version runs (`$Default`, `$Latest` or a number; it must exist).
    pub async fn template_data(
        &self,
        template: &str,
        version: &str,
    ) -> aws_sdk_ec2::types::ResponseLaunchTemplateData {
        let out = self
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(template)
            .versions(version)
            .send()
            .await
            .unwrap();
        out.launch_template_versions()
            .first()
            .and_then(|v| v.launch_template_data())
            .cloned()
            .unwrap_or_else(|| panic!("no version {version} of {template}"))
    }

    /// The listeners of a load balancer.
    pub async fn listeners(
        &self,
        load_balancer_arn: &str,
    ) -> Vec<aws_sdk_elasticloadbalancingv2::types::Listener> {
        self.elbv2
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .send()
            .await
            .unwrap()
            .listeners()
            .to_vec()
    }

    /// Ingress rules of a security group, as `tcp/PORT SOURCE` (a CIDR or a group id).
    pub async fn ingress(&self, group: &str) -> BTreeSet<String> {
        let out = self
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .unwrap();
        let mut rules = BTreeSet::new();
        for p in out.security_groups()[0].ip_permissions() {
            let rule = format!(
                "{}/{}",
                p.ip_protocol().unwrap_or("-1"),
                p.from_port().unwrap_or(-1)
            );
            rules.extend(
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip())
                    .map(|c| format!("{rule} {c}")),
            );
            rules.extend(
                p.ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6())
                    .map(|c| format!("{rule} {c}")),
            );
            rules.extend(
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id())
                    .map(|g| format!("{rule} {g}")),
            );
        }
        rules
    }
}

/// A `map(string)` attribute of `terraform show -json` as a map.
pub fn string_map(value: &serde_json::Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}
