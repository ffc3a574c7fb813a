//! The SSH bastion: ensured, replaced when only a new instance can change it,
//! and compared for drift.

use std::collections::BTreeMap;

use super::compute::{forwards_traffic, metadata_changes, FORWARDS};
use super::inventory::Inventory;
use super::run::{client_token, ignore_not_found, Placement, Result, Run};
use super::waiters::{poll_until, retry_propagation, retry_scarce_create};
use crate::aws::ec2::{self, Found, Hardening, InstanceSettings, Layout};
use crate::error::AwsError;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::drift::{Finding, Repair};
use crate::plan::security::SgRole;
use crate::plan::spec::{EnvironmentSpec, InstanceProfile};

impl Run<'_> {
    /// Launches the bastion, replacing one whose settings or subnet no longer match.
    pub(super) async fn ensure_bastion(&self, at: &Placement<'_>) -> Result<()> {
        let &Placement {
            inv,
            bp,
            subnets,
            groups,
            image_roots,
            ami_id,
        } = at;
        let (Some(bastion), Some(group)) = (&self.spec.bastion, groups.get(&SgRole::Bastion))
        else {
            return Ok(());
        };
        let public = public_subnets(bp, |zone| subnets.get(&(Tier::Public, zone.to_string())));
        let image = bastion.ami_id.as_deref().unwrap_or(ami_id);
        let settings = bastion_settings(bastion, group, image, &image_root(image_roots, image)?);
        if let Some(existing) = &inv.bastion {
            // the environment's bastion must stay replaceable and destroyable
            // (stop protection refuses termination too)
            if inv.bastion_termination_protected {
                ec2::allow_termination(&self.clients.ec2, &existing.id).await?;
            }
            if inv.bastion_stop_protected {
                ec2::allow_stop(&self.clients.ec2, &existing.id).await?;
            }
            let check = BastionCheck::of(existing, inv.bastion_root_encrypted, &settings, &public);
            if check.replace.is_empty() {
                if check.stopped.is_some() {
                    self.start_bastion(&existing.id).await?;
                }
                // what can change on a running instance changes in place
                self.ensure_bastion_ipv6(existing).await?;
                if !check.metadata.is_empty() {
                    ec2::set_metadata_options(
                        &self.clients.ec2,
                        &existing.id,
                        &Hardening::BASTION,
                        &Layout::BASTION,
                    )
                    .await?;
                }
                if check.forwards {
                    ec2::check_source_dest(&self.clients.ec2, &existing.id).await?;
                }
                if !check.groups_match {
                    ec2::set_instance_groups(
                        &self.clients.ec2,
                        &existing.id,
                        std::slice::from_ref(group),
                    )
                    .await?;
                }
                if !check.profile_matches {
                    retry_propagation(self.deadline, "bastion instance profile", || {
                        ec2::set_instance_profile(
                            &self.clients.ec2,
                            &existing.id,
                            settings.iam_instance_profile.as_ref(),
                        )
                    })
                    .await
                    .map_err(|e| unknown_profile(e, &settings))?;
                }
                return Ok(());
            }
            ec2::terminate_instances(&self.clients.ec2, std::slice::from_ref(&existing.id))
                .await
                .or_else(ignore_not_found)?;
        }
        // a zone without capacity for the type sends the launch to the next zone
        let mut short = Vec::new();
        for (zone, subnet) in &public {
            match self.launch_bastion(subnet, group, &settings).await {
                Err(error) if error.is_insufficient_capacity() => {
                    tracing::warn!(zone = %zone, instance_type = %settings.instance_type, "no capacity for the bastion in this zone; trying the next one");
                    short.push(zone.as_str());
                }
                launched => return launched.map_err(|e| unknown_profile(e, &settings)),
            }
        }
        Err(AwsError::Unsatisfiable(format!(
            "no zone of the environment has capacity for the bastion's instance type {} right now (InsufficientInstanceCapacity in {}); apply again later, or choose another bastion.instance_type",
            settings.instance_type,
            short.join(", ")
        )))
    }

    /// Starts the stopped bastion (one still stopping first finishes, as AWS
    /// starts only a stopped instance) and waits until it runs with its new
    /// public address, which state then records.
    async fn start_bastion(&self, id: &str) -> Result<()> {
        let state = || async {
            ec2::instance_state(&self.clients.ec2, id)
                .await?
                .ok_or_else(|| AwsError::Unsatisfiable(format!("the bastion {id} is gone")))
        };
        poll_until(self.deadline, "the bastion to finish stopping", || async {
            Ok((state().await?.0 != "stopping").then_some(()))
        })
        .await?;
        ec2::start_instance(&self.clients.ec2, id).await?;
        poll_until(self.deadline, "the bastion to run", || async {
            let (state, public_ip) = state().await?;
            Ok((state == "running" && !public_ip.is_empty()).then_some(()))
        })
        .await
    }

    async fn launch_bastion(
        &self,
        subnet: &str,
        group: &str,
        settings: &InstanceSettings,
    ) -> Result<()> {
        // the token names this exact launch, so a retried call never starts a second bastion
        let token = client_token(&[
            &self.spec.name,
            "bastion",
            subnet,
            group,
            &settings.ami_id,
            &settings.instance_type,
            settings.key_name.as_deref().unwrap_or(""),
            settings
                .iam_instance_profile
                .as_ref()
                .map_or("", InstanceProfile::as_str),
            &self.run_id,
        ]);
        let tags = self.tags(&Component::Bastion);
        retry_scarce_create(self.deadline, "bastion", || {
            ec2::run_bastion(&self.clients.ec2, subnet, settings, &token, &tags)
        })
        .await?;
        Ok(())
    }
}

/// The environment's public subnets in zone order, as (zone, subnet ID): the
/// bastion launches in the first zone with capacity and may live in any.
fn public_subnets<'a>(
    bp: &Blueprint,
    subnet_of: impl Fn(&str) -> Option<&'a String>,
) -> Vec<(String, String)> {
    bp.zones
        .iter()
        .filter_map(|zone| Some((zone.clone(), subnet_of(zone)?.clone())))
        .collect()
}

/// An instance profile EC2 still calls invalid once IAM's propagation window
/// has passed does not exist (or was deleted): said on its attribute.
fn unknown_profile(error: AwsError, settings: &InstanceSettings) -> AwsError {
    let profile = settings.iam_instance_profile.as_ref();
    match (&error, profile) {
        (AwsError::Api { message, .. }, Some(profile))
            if message
                .to_ascii_lowercase()
                .contains("invalid iam instance profile") =>
        {
            super::waiters::unknown_profile("bastion", profile, &error.to_string())
        }
        _ => error,
    }
}

/// Where and how large image `ami_id` makes its root volume, from the image
/// roots known (`roots`).
pub(super) fn image_root(
    roots: &BTreeMap<String, ec2::ImageRoot>,
    ami_id: &str,
) -> Result<ec2::ImageRoot> {
    roots.get(ami_id).cloned().ok_or_else(|| {
            crate::error::AwsError::Unsatisfiable(format!(
                "image {ami_id} does not exist in this region or is not shared with this account; use an AMI ID of this region"
            ))
        })
}

/// What the bastion runs; `ami_id` is the image it launches from and `root`
/// that image's root device and snapshot size.
pub(super) fn bastion_settings(
    bastion: &crate::plan::spec::BastionSpec,
    group: &str,
    ami_id: &str,
    root: &ec2::ImageRoot,
) -> InstanceSettings {
    InstanceSettings {
        ami_id: ami_id.to_string(),
        root_device: root.device.clone(),
        instance_type: bastion.instance_type.clone(),
        security_group: group.to_string(),
        user_data: None,
        user_data_version: None,
        key_name: bastion.key_name.clone(),
        iam_instance_profile: bastion.iam_instance_profile.clone(),
        hardening: Hardening::BASTION,
        layout: Layout::BASTION.for_image(root),
    }
}

/// How the running bastion compares with its settings.
pub(super) struct BastionCheck {
    /// what only a new instance can change, worded for the plan
    replace: Vec<String>,
    /// how its metadata options differ from the bastion's hardening
    metadata: Vec<String>,
    /// its source/destination check is off
    forwards: bool,
    groups_match: bool,
    /// the instance reports its profile by ARN, matched against a name by its last segment
    profile_matches: bool,
    /// the instance's profile, for the plan
    profile: Option<InstanceProfile>,
    /// `stopping` or `stopped`: it serves no SSH until started
    stopped: Option<String>,
}

impl BastionCheck {
    pub(super) fn of(
        instance: &Found,
        root_encrypted: Option<bool>,
        wanted: &InstanceSettings,
        public: &[(String, String)],
    ) -> BastionCheck {
        let detail = |key: &str| instance.detail.get(key).cloned().unwrap_or_default();
        let mut replace = Vec::new();
        let subnet = detail("subnet");
        if !public.iter().any(|(_, id)| *id == subnet) {
            replace.push(format!(
                "runs in subnet {subnet:?}, not in a public subnet of the environment"
            ));
        }
        for (what, actual, expected) in [
            (
                "has type",
                detail("instance_type"),
                wanted.instance_type.as_str(),
            ),
            ("runs image", detail("image"), wanted.ami_id.as_str()),
            (
                "has key",
                detail("key_name"),
                wanted.key_name.as_deref().unwrap_or(""),
            ),
        ] {
            if actual != expected {
                replace.push(format!("{what} {actual:?} instead of {expected:?}"));
            }
        }
        if root_encrypted == Some(false) {
            replace.push("has an unencrypted root volume".into());
        }
        // the root volume only: a second one is the empty volume an image with
        // another root device name got from a mapping under the wrong name
        let volumes = detail("volumes")
            .split(',')
            .filter(|v| !v.is_empty())
            .count();
        if instance.detail.contains_key("volumes") && volumes != wanted.layout.block_devices {
            replace.push(format!(
                "has {volumes} volumes instead of {}",
                wanted.layout.block_devices
            ));
        }
        let profile = Some(detail("instance_profile"))
            .filter(|arn| !arn.is_empty())
            .map(InstanceProfile::new);
        BastionCheck {
            replace,
            metadata: metadata_changes(instance, &Hardening::BASTION, &Layout::BASTION),
            forwards: forwards_traffic(instance),
            groups_match: detail("security_groups") == wanted.security_group,
            profile_matches: profile == wanted.iam_instance_profile,
            profile,
            stopped: Some(detail("state")).filter(|s| matches!(s.as_str(), "stopping" | "stopped")),
        }
    }
}

pub(super) fn bastion_drift(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let group = inv
        .security_groups
        .get(&Component::SecurityGroup(SgRole::Bastion).key());
    let public = public_subnets(bp, |zone| {
        inv.object(&Component::Subnet(Tier::Public, zone.to_string()).key())
            .map(|s| &s.id)
    });
    let (Some(bastion), Some(instance), Some(group), false) =
        (&spec.bastion, &inv.bastion, group, public.is_empty())
    else {
        return Vec::new();
    };
    let image = bastion
        .ami_id
        .clone()
        .or_else(|| instance.detail.get("image").cloned())
        .unwrap_or_default();
    let root = inv.image_roots.get(&image).cloned().unwrap_or_default();
    let wanted = bastion_settings(bastion, &group.id, &image, &root);
    let check = BastionCheck::of(instance, inv.bastion_root_encrypted, &wanted, &public);
    let mut findings = Vec::new();
    if let (Some(state), true) = (&check.stopped, check.replace.is_empty()) {
        findings.push(Finding::new(
            "bastion",
            format!("is {state}, so SSH through it is cut"),
            Repair::InPlace("starts it (AWS gives it a new public IP)"),
        ));
    }
    for (protected, what) in [
        (inv.bastion_termination_protected, "termination"),
        (inv.bastion_stop_protected, "stop"),
    ] {
        if protected {
            findings.push(Finding::new(
                "bastion",
                format!("has {what} protection on, which would stop its replacement and destroy"),
                Repair::InPlace("turns it off"),
            ));
        }
    }
    if !check.replace.is_empty() {
        findings.push(Finding::new(
            "bastion",
            check.replace.join(", "),
            Repair::Replace,
        ));
        return findings;
    }
    if !check.metadata.is_empty() {
        findings.push(Finding::new(
            "bastion",
            format!("has {}", check.metadata.join(", ")),
            Repair::InPlace("restores its metadata options"),
        ));
    }
    if check.forwards {
        findings.push(Finding::new(
            "bastion",
            format!("has {FORWARDS}"),
            Repair::InPlace("turns it back on"),
        ));
    }
    if !check.groups_match {
        findings.push(Finding::new(
            "bastion",
            "is not in exactly sg/bastion",
            Repair::InPlace("restores its groups"),
        ));
    }
    if !check.profile_matches {
        findings.push(Finding::new(
            "bastion",
            format!(
                "has instance profile {:?} instead of {:?}",
                InstanceProfile::text_of(check.profile.as_ref()),
                InstanceProfile::text_of(wanted.iam_instance_profile.as_ref())
            ),
            Repair::InPlace("sets it on the running instance"),
        ));
    }
    findings
}
