//! The compute family's comparisons of what AWS holds with the spec: the
//! group, its template version and instances, the scaling policy.

use super::*;

/// How what the group launches differs from the configuration's mix: another
/// policy, none where one is configured (or the reverse), or capacity
/// rebalancing switched. Set in place: it applies to what launches next.
pub(super) fn mix_drift(
    group: &autoscaling::Group,
    wanted: Option<&InstanceMix>,
) -> Option<Finding> {
    let describe = |mix: Option<&InstanceMix>| {
        mix.map_or_else(
            || "the launch template's type only".to_string(),
            InstanceMix::describe,
        )
    };
    let rebalance = wanted.is_some_and(InstanceMix::capacity_rebalance);
    let text = if group.mix.as_ref() != wanted {
        format!(
            "launches {} instead of {}",
            describe(group.mix.as_ref()),
            describe(wanted)
        )
    } else if group.capacity_rebalance != rebalance {
        format!(
            "has capacity rebalancing {} while it {} Spot",
            if group.capacity_rebalance {
                "on"
            } else {
                "off"
            },
            if rebalance { "uses" } else { "does not use" }
        )
    } else {
        return None;
    };
    Some(Finding::new("asg", text, Repair::InPlace("restores it")))
}

/// How a live app instance's metadata options differ from those its template
/// gives (IMDSv2 required, the hop limit), worded for the plan; an instance
/// on its way out is not compared.
pub(in crate::apply) fn metadata_changes(
    instance: &ec2::Found,
    hardening: &Hardening,
    layout: &Layout,
) -> Vec<String> {
    let detail = |key: &str| instance.detail.get(key).map(String::as_str);
    let mut changes = Vec::new();
    if hardening.tokens_required && detail("http_tokens") != Some("required") {
        changes.push("IMDSv2 optional".to_string());
    }
    let hops = layout.metadata_hop_limit.to_string();
    match detail("metadata_hop_limit") {
        Some(seen) if !seen.is_empty() && seen != hops => {
            changes.push(format!("metadata hop limit {seen} instead of {hops}"));
        }
        _ => {}
    }
    // an endpoint turned off cuts the instance from its role's credentials
    let wanted = if layout.metadata_endpoint_enabled {
        "enabled"
    } else {
        "disabled"
    };
    match detail("metadata_endpoint") {
        Some(seen) if !seen.is_empty() && seen != wanted => {
            changes.push(format!("metadata endpoint {seen} instead of {wanted}"));
        }
        _ => {}
    }
    changes
}

/// Whether the instance's source/destination check was turned off: it then
/// forwards traffic not addressed to it (a router inside the environment).
pub(in crate::apply) fn forwards_traffic(instance: &ec2::Found) -> bool {
    instance.detail.get("source_dest_check").map(String::as_str) == Some("false")
}

/// The words for [`forwards_traffic`].
pub(in crate::apply) const FORWARDS: &str =
    "source/destination check off, so it forwards traffic not addressed to it";

/// How a running app instance differs from what its template version
/// launched it with: metadata options, security groups, instance profile
/// (each changed in place out of band; a refresh would not see them, as the
/// instance still runs the right version).
pub(super) struct InstanceDrift {
    pub(super) words: Vec<String>,
    pub(super) metadata: bool,
    /// its source/destination check is off
    pub(super) forwards: bool,
    /// the group it should be in alone, when it is not
    pub(super) groups: Option<String>,
    /// the profile it should have, when it has another
    pub(super) profile: Option<Option<InstanceProfile>>,
}

pub(super) fn app_instance_drift(inv: &Inventory, instance: &ec2::Found) -> InstanceDrift {
    // one on its way out is left alone (the group replaces it)
    let running = matches!(
        instance.detail.get("state").map(String::as_str),
        Some("pending" | "running")
    );
    let metadata = match running {
        true => metadata_changes(instance, &Hardening::APP, &Layout::APP),
        false => Vec::new(),
    };
    let mut drift = InstanceDrift {
        metadata: !metadata.is_empty(),
        words: metadata,
        forwards: running && forwards_traffic(instance),
        groups: None,
        profile: None,
    };
    if drift.forwards {
        drift.words.push(FORWARDS.to_string());
    }
    // compared with the version the group runs, for the instances that run
    // it: one an instance refresh is about to replace is not drift
    let runs = inv
        .group
        .iter()
        .flat_map(|g| &g.members)
        .find(|m| m.id == instance.id)
        .map(|m| m.launch_template_version.as_str());
    let Some(version) = inv
        .group_template
        .as_ref()
        .filter(|v| Some(v.number.to_string().as_str()) == runs)
    else {
        return drift;
    };
    let detail = |key: &str| instance.detail.get(key).cloned().unwrap_or_default();
    let wanted = &version.settings;
    if running && instance.detail.contains_key("security_groups") {
        let groups = detail("security_groups");
        if groups != wanted.security_group {
            drift
                .words
                .push(format!("security groups {groups} instead of sg/app alone"));
            drift.groups = Some(wanted.security_group.clone());
        }
    }
    let profile = Some(detail("instance_profile"))
        .filter(|arn| !arn.is_empty())
        .map(InstanceProfile::new);
    if running && profile != wanted.iam_instance_profile {
        drift.words.push(format!(
            "instance profile {:?} instead of {:?}",
            InstanceProfile::text_of(profile.as_ref()),
            InstanceProfile::text_of(wanted.iam_instance_profile.as_ref())
        ));
        drift.profile = Some(wanted.iam_instance_profile.clone());
    }
    drift
}

/// The group (sizes, placement, template version), the target group's health
/// check, the listeners and the load balancer's placement.
pub(in crate::apply) fn app_drift(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let subnet_ids = |tier: Tier| -> BTreeSet<String> {
        bp.zones
            .iter()
            .filter_map(|z| inv.object(&Component::Subnet(tier, z.clone()).key()))
            .map(|s| s.id.clone())
            .collect()
    };
    let restores = Repair::InPlace("restores it");
    let target_group = target_group_of(spec, inv);
    let app_group = inv
        .security_groups
        .get(&Component::SecurityGroup(SgRole::App).key());
    if let Some(group) = &inv.group {
        let app = &spec.app;
        for (setting, seen, wanted, unit) in [
            ("min size", group.min_size, app.min_size, ""),
            ("max size", group.max_size, app.max_size, ""),
            (
                "health check grace period",
                group.health_check_grace_period,
                app.health_check_grace_period,
                "s",
            ),
        ] {
            if seen != wanted as i32 {
                findings.push(Finding::new(
                    "asg",
                    format!("has {setting} {seen}{unit} instead of {wanted}{unit}"),
                    restores.clone(),
                ));
            }
        }
        if let Some(finding) = mix_drift(group, app.mixed_instances.as_ref()) {
            findings.push(finding);
        }
        if group.health_check_type != autoscaling::HEALTH_CHECK_TYPE {
            findings.push(Finding::new(
                "asg",
                format!(
                    "uses {} health checks instead of {}",
                    group.health_check_type,
                    autoscaling::HEALTH_CHECK_TYPE
                ),
                restores.clone(),
            ));
        }
        if group.subnets.iter().cloned().collect::<BTreeSet<_>>() != subnet_ids(Tier::Private) {
            findings.push(Finding::new(
                "asg",
                "does not run in exactly the private subnets",
                restores.clone(),
            ));
        }
        if let Some(tg) = target_group {
            if group.target_groups != [tg.arn.clone()] {
                findings.push(Finding::new(
                    "asg",
                    "is not registered with exactly the target group",
                    restores.clone(),
                ));
            }
        }
        let template = inv.launch_template.as_ref();
        if let (Some(template), Some(app_group)) = (template, app_group) {
            let running = inv.group_template.as_ref();
            let image = app
                .ami_id
                .clone()
                .or_else(|| running.map(|v| v.settings.ami_id.clone()))
                .unwrap_or_default();
            // an image no longer visible cannot say its root: the version's
            // own device is taken at its word, and its size is the provider's
            let root = inv.image_roots.get(&image).cloned().unwrap_or_else(|| {
                running
                    .map(|v| ec2::ImageRoot {
                        device: v.settings.root_device.clone(),
                        snapshot_gib: None,
                    })
                    .unwrap_or_default()
            });
            let wanted = app_settings(spec, &app_group.id, &image, &root);
            let rollout = inv.refresh.as_ref().filter(|r| rolls_forward(r));
            // a rollout towards the configuration's version (an apply that did
            // not wait for it) is the change under way, not drift
            let towards_configured = rollout.is_some_and(|r| {
                inv.default_template.as_ref().is_some_and(|d| {
                    d.settings.fits(&wanted) && r.target_version == Some(d.number.to_string())
                })
            });
            if let Some(refresh) = rollout.filter(|_| !towards_configured) {
                findings.push(Finding::new(
                    "asg",
                    format!(
                        "has instance refresh {} under way towards launch template version {}, which is not the configuration's",
                        refresh.id,
                        refresh.target_version.as_deref().unwrap_or("(none named)")
                    ),
                    Repair::InPlace("cancels it and rolls the instances onto the configuration's version"),
                ));
            }
            match running {
                _ if towards_configured => {}
                _ if group.launch_template_id != template.id => findings.push(Finding::new(
                    "asg",
                    format!(
                        "runs launch template {:?}, not the environment's",
                        group.launch_template_id
                    ),
                    Repair::Roll,
                )),
                None => findings.push(Finding::new(
                    "asg",
                    format!(
                        "runs launch template version {:?}, which does not exist",
                        group.launch_template_version
                    ),
                    Repair::Roll,
                )),
                Some(version) if !version.settings.fits(&wanted) => findings.push(Finding::new(
                    "asg",
                    format!(
                        "runs launch template version {}, where {}",
                        version.number,
                        version.settings.differences(&wanted).join(", ")
                    ),
                    Repair::Roll,
                )),
                Some(version) => {
                    // `$Latest` or `$Default`: whoever adds a version or moves
                    // the default decides what the group launches next
                    if group.launch_template_version.parse::<i64>().is_err() {
                        findings.push(Finding::new(
                            "asg",
                            format!(
                                "launches launch template version {} (now {}) instead of a pinned version",
                                Some(group.launch_template_version.as_str())
                                    .filter(|v| !v.is_empty())
                                    .unwrap_or("$Default"),
                                version.number
                            ),
                            Repair::InPlace("pins the version it runs"),
                        ));
                    }
                    if let Some(default) = inv
                        .default_template
                        .as_ref()
                        .filter(|d| d.number != version.number)
                    {
                        findings.push(Finding::new(
                            "lt",
                            format!(
                                "has version {} as its default, where {}",
                                default.number,
                                default.settings.differences(&wanted).join(", ")
                            ),
                            Repair::InPlace("makes the version the group runs the default again"),
                        ));
                    }
                }
            }
        }
    }
    for instance in &inv.app_instances {
        let drift = app_instance_drift(inv, instance);
        if !drift.words.is_empty() {
            findings.push(Finding::new(
                "asg",
                format!("instance {} has {}", instance.id, drift.words.join(", ")),
                Repair::InPlace("restores what its launch template version gave it"),
            ));
        }
    }
    if let Some(group) = &inv.group {
        let rolling = inv.refresh.as_ref().is_some_and(rolls_forward);
        // `$Latest` and `$Default` read as the version they stand for now
        let version = inv
            .group_template
            .as_ref()
            .map_or(group.launch_template_version.clone(), |v| {
                v.number.to_string()
            });
        if !rolling && needs_rolling(group, inv.refresh.as_ref(), &version) {
            findings.push(Finding::new(
                "asg",
                format!("has instances that do not run launch template version {version}"),
                Repair::InPlace("rolls them with an instance refresh"),
            ));
        }
    }
    if let Some(tg) = target_group {
        let differences = tg
            .health_check
            .differences(&HealthCheck::on(&spec.app.health_check_path));
        if !differences.is_empty() {
            findings.push(Finding::new(
                "tg",
                format!("health check has {}", differences.join(", ")),
                restores.clone(),
            ));
        }
    }
    if let Some(lb) = &inv.load_balancer {
        if lb.subnets.iter().cloned().collect::<BTreeSet<_>>() != subnet_ids(Tier::Public) {
            findings.push(Finding::new(
                "alb",
                "is not in exactly the public subnets",
                restores.clone(),
            ));
        }
        let alb_group = inv
            .security_groups
            .get(&Component::SecurityGroup(SgRole::Alb).key());
        if let Some(alb_group) = alb_group {
            if lb.security_groups != [alb_group.id.clone()] {
                findings.push(Finding::new(
                    "alb",
                    "is not in exactly sg/alb",
                    restores.clone(),
                ));
            }
        }
        let wanted = wanted_listeners(
            spec,
            &target_group.map(|tg| tg.arn.clone()).unwrap_or_default(),
        );
        for listener in &inv.listeners {
            match wanted.iter().find(|w| i32::from(w.0) == listener.port) {
                Some((_, protocol, tls, action)) => {
                    let mut differences = listener_differences(listener, *tls, action);
                    if target_group.is_none() {
                        // the missing target group is a finding of its own
                        differences.retain(|d| !d.contains("forward"));
                    }
                    if !differences.is_empty() {
                        findings.push(Finding::new(
                            Component::Listener(protocol).key(),
                            differences.join(", "),
                            restores.clone(),
                        ));
                    }
                }
                None => findings.push(Finding::new(
                    "alb",
                    format!("has an extra listener on port {}", listener.port),
                    Repair::InPlace("removes it"),
                )),
            }
        }
    }
    findings
}
/// The target tracking policy's settings, against the spec.
pub(in crate::apply) fn scaling_policy_drift(
    spec: &EnvironmentSpec,
    _: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let Some(policy) = &inv.cpu_policy else {
        return Vec::new();
    };
    let differences = policy.differences(spec.app.cpu_target);
    if differences.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        "policy/cpu",
        differences.join(", "),
        Repair::InPlace("restores it"),
    )]
}

/// Processes of the group suspended out of band.
pub(in crate::apply) fn suspended_processes_drift(
    _: &EnvironmentSpec,
    _: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    inv.group
        .iter()
        .filter(|g| !g.suspended.is_empty())
        .map(|group| {
            Finding::new(
                "asg",
                format!(
                    "has processes suspended ({}), so it does not launch, check or replace instances as it should",
                    group.suspended.join(", ")
                ),
                Repair::InPlace("resumes them"),
            )
        })
        .collect()
}

/// Scaling policies, scheduled actions, lifecycle hooks, a warm pool and
/// notification configurations on the group that the environment does not
/// declare: each changes its capacity, holds its instances, or tells another
/// system of them, on its own.
pub(in crate::apply) fn attachment_drift(
    _: &EnvironmentSpec,
    _: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    inv.group_attachments
        .iter()
        .map(|attachment| {
            Finding::new(
                "asg",
                format!("has {attachment}, which the environment does not declare"),
                Repair::InPlace("deletes it"),
            )
        })
        .collect()
}

/// Settings of the group the configuration does not offer that are no longer
/// at AWS's defaults, and its instances protected from scale-in: the group
/// could no longer shrink, would recycle or pick its instances otherwise.
pub(in crate::apply) fn kept_settings_drift(
    _: &EnvironmentSpec,
    _: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let Some(group) = &inv.group else {
        return Vec::new();
    };
    let mut findings: Vec<Finding> = group
        .off_default
        .iter()
        .map(|(setting, seen)| {
            Finding::new(
                "asg",
                format!(
                    "has {} {seen} instead of AWS's default {}",
                    setting.words(),
                    setting.default()
                ),
                Repair::InPlace("restores it"),
            )
        })
        .collect();
    let protected = protected_instances(group);
    if !protected.is_empty() {
        findings.push(Finding::new(
            "asg",
            format!(
                "has instances protected from scale-in ({}), which it can then never terminate to shrink",
                protected.join(", ")
            ),
            Repair::InPlace("lifts the protection"),
        ));
    }
    findings
}

/// The group's instances in service or standby that are protected from
/// scale-in (AWS changes the protection of those alone: one still pending
/// is seen once in service).
pub(in crate::apply) fn protected_instances(group: &autoscaling::Group) -> Vec<String> {
    let changeable = |m: &&autoscaling::Member| {
        m.is_in_service() || matches!(m.lifecycle_state.as_str(), "Standby" | "EnteringStandby")
    };
    group
        .members
        .iter()
        .filter(changeable)
        .filter(|m| m.protected_from_scale_in)
        .map(|m| m.id.clone())
        .collect()
}
