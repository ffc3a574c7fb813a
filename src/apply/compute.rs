//! The launch template, the Auto Scaling Group and its scaling policy: ensured,
//! rolled through instance refreshes, waited for until the capacity serves, and
//! compared for drift.

use std::collections::BTreeSet;

use super::inventory::Inventory;
use super::load_balancer::{listener_differences, target_group_of, wanted_listeners};
use super::run::{ignore_not_found, Result, Run};
use super::waiters::{poll_until, retry_propagation, wait_group_deleted};
use crate::aws::autoscaling::{self, GroupSettings};
use crate::aws::ec2::{self, Hardening, InstanceSettings, Layout};
use crate::aws::elbv2::{self, HealthCheck};
use crate::error::{AwsError, ErrorClass, RolloutFailure};
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::drift::{Finding, Repair};
use crate::plan::security::SgRole;
use crate::plan::spec::{EnvironmentSpec, InstanceMix, InstanceProfile};

mod drift;

pub(super) use drift::{
    app_drift, attachment_drift, forwards_traffic, kept_settings_drift, metadata_changes,
    protected_instances, scaling_policy_drift, suspended_processes_drift, FORWARDS,
};
use drift::{app_instance_drift, mix_drift};

impl Run<'_> {
    /// The launch template version for the group: the one it runs when that matches
    /// the spec (made the default again if another version took its place), else a
    /// new version written from the spec. A version made out of band is never
    /// adopted, however it came to be the default. Returns (id, version, whether
    /// the instances must roll onto it).
    pub(super) async fn ensure_launch_template(
        &self,
        inv: &Inventory,
        group: &str,
        ami_id: &str,
        root: &ec2::ImageRoot,
    ) -> Result<Template> {
        let wanted = app_settings(self.spec, group, ami_id, root);
        let tags = self.tags(&Component::LaunchTemplate);
        match &inv.launch_template {
            Some(found) => {
                let good = |v: &&ec2::TemplateVersion| v.settings.fits(&wanted);
                let default = inv.default_template.as_ref();
                // the version the group runs when it is right; else the default
                // when it is right and a rollout towards it is under way (an
                // apply that did not wait for it); with no group yet nothing
                // runs, and the default serves if it is right
                let rolling_to = |v: &&ec2::TemplateVersion| {
                    inv.group.is_none()
                        || refresh_towards(inv.refresh.as_ref(), &v.number.to_string())
                };
                let usable = inv
                    .group_template
                    .as_ref()
                    .filter(|_| inv.group.is_some())
                    .filter(good)
                    .or(default.filter(good).filter(rolling_to));
                if let Some(version) = usable {
                    if default.map(|d| d.number) != Some(version.number) {
                        ec2::set_default_version(&self.clients.ec2, &found.id, version.number)
                            .await?;
                    }
                    return Ok(Template {
                        id: found.id.clone(),
                        version: version.number,
                        new_version: false,
                    });
                }
                let version = retry_propagation(self.deadline, "launch template version", || {
                    ec2::new_launch_template_version(&self.clients.ec2, &found.id, &wanted, &tags)
                })
                .await?;
                Ok(Template {
                    id: found.id.clone(),
                    version,
                    new_version: true,
                })
            }
            None => {
                let (id, version) = retry_propagation(self.deadline, "launch template", || {
                    ec2::create_launch_template(&self.clients.ec2, &self.names.app, &wanted, &tags)
                })
                .await?;
                self.options
                    .progress
                    .made_object(&id, &Component::LaunchTemplate);
                Ok(Template {
                    id,
                    version,
                    new_version: false,
                })
            }
        }
    }

    pub(super) async fn ensure_group(
        &self,
        inv: &Inventory,
        private: &[String],
        target_group: &str,
        template: &Template,
    ) -> Result<()> {
        let version = template.version;
        let app = &self.spec.app;
        let settings = GroupSettings {
            min_size: app.min_size,
            max_size: app.max_size,
            desired_capacity: app.initial_capacity(),
            subnets: private.to_vec(),
            target_group: target_group.to_string(),
            launch_template_id: template.id.clone(),
            launch_template_version: version.to_string(),
            health_check_grace_period: app.health_check_grace_period,
            mix: app.mixed_instances.clone(),
        };
        match &inv.group {
            None => {
                if let Some(deleting) = &inv.group_deleting {
                    tracing::info!(group = %deleting.name, "waiting for AWS to finish deleting the group before making it again");
                    wait_group_deleted(self.clients, &deleting.name, self.deadline).await?;
                }
                let tags = self.tags(&Component::AutoScalingGroup);
                retry_propagation(self.deadline, "auto scaling group", || {
                    autoscaling::create_group(
                        &self.clients.autoscaling,
                        &self.names.app,
                        &settings,
                        &tags,
                    )
                })
                .await?;
            }
            Some(group) => {
                let same_subnets =
                    group.subnets.iter().collect::<BTreeSet<_>>() == private.iter().collect();
                let same_bounds =
                    (group.min_size, group.max_size) == (app.min_size as i32, app.max_size as i32);
                let same_health_checks = group.health_check_grace_period
                    == app.health_check_grace_period as i32
                    && group.health_check_type == autoscaling::HEALTH_CHECK_TYPE;
                // an instance refresh gives the group the new version when it
                // succeeds: switched here only when no instance has to roll
                let same_template = group.launch_template_id == template.id
                    && group.launch_template_version == version.to_string();
                let switch_template = !same_template && !rolls(inv, group, template);
                // a new mix applies to what launches from now on: set in place,
                // around the version the group runs unless it switches
                let same_mix = mix_drift(group, app.mixed_instances.as_ref()).is_none();
                let launch_version = if switch_template {
                    Some(version.to_string())
                } else if !same_mix {
                    Some(group.launch_template_version.clone())
                } else {
                    None
                };
                let out_of_bounds = group.desired_capacity < app.min_size as i32
                    || group.desired_capacity > app.max_size as i32;
                // capacity chosen by the autoscaler is kept unless the user changed
                // desired_capacity or it falls outside the new bounds
                let desired = (self.options.set_desired_capacity || out_of_bounds)
                    .then(|| app.initial_capacity())
                    .filter(|d| *d as i32 != group.desired_capacity);
                let to_default: Vec<_> = group.off_default.iter().map(|(s, _)| *s).collect();
                if !same_subnets
                    || !same_bounds
                    || !same_health_checks
                    || launch_version.is_some()
                    || desired.is_some()
                    || !to_default.is_empty()
                {
                    retry_propagation(self.deadline, "auto scaling group", || {
                        autoscaling::update_group(
                            &self.clients.autoscaling,
                            &self.names.app,
                            &settings,
                            launch_version.as_deref(),
                            desired,
                            &to_default,
                        )
                    })
                    .await?;
                }
                let wanted = [target_group.to_string()];
                retry_propagation(self.deadline, "auto scaling group target groups", || {
                    autoscaling::set_target_groups(
                        &self.clients.autoscaling,
                        &self.names.app,
                        &group.target_groups,
                        &wanted,
                    )
                })
                .await?;
                for attachment in &inv.group_attachments {
                    let removed = autoscaling::remove_attachment(
                        &self.clients.autoscaling,
                        &self.names.app,
                        attachment,
                    );
                    removed.await.or_else(ignore_not_found)?;
                }
                if !group.suspended.is_empty() {
                    // suspended launches or health checks would keep the group
                    // from replacing and serving
                    autoscaling::resume_processes(&self.clients.autoscaling, &self.names.app)
                        .await?;
                }
                let protected = protected_instances(group);
                if !protected.is_empty() {
                    let asg = &self.clients.autoscaling;
                    autoscaling::unprotect_instances(asg, &self.names.app, &protected).await?;
                }
                self.restore_instances(inv).await?;
                self.roll_instances(inv, group, template).await?;
            }
        }
        let policy_right = inv
            .cpu_policy
            .as_ref()
            .is_some_and(|p| p.differences(app.cpu_target).is_empty());
        if !policy_right {
            retry_propagation(self.deadline, "scaling policy", || {
                autoscaling::put_cpu_policy(
                    &self.clients.autoscaling,
                    &self.names.app,
                    app.cpu_target,
                )
            })
            .await?;
        }
        Ok(())
    }

    /// The group's members as AWS lists them now (none without the group).
    /// The read is merged with the other environments' of the moment.
    pub(super) async fn group_members(&self) -> Result<Vec<autoscaling::Member>> {
        let group = autoscaling::find_group(
            &self.clients.autoscaling,
            &self.clients.batches,
            &self.names.app,
        )
        .await?;
        Ok(group.map(|g| g.members).unwrap_or_default())
    }

    /// Gives the group's running instances back the metadata options,
    /// security groups and instance profile their template version launched
    /// them with, where someone changed them in place: a refresh would not
    /// see it, as the instances still run the right version.
    async fn restore_instances(&self, inv: &Inventory) -> Result<()> {
        let ec2c = &self.clients.ec2;
        // an instance gone, or on its way out since it was read (a scale-in,
        // a refresh), needs nothing restored
        let gone = |error: AwsError| match &error {
            AwsError::Api { code, .. } if code == "IncorrectInstanceState" => Ok(()),
            _ => super::run::ignore_not_found(error),
        };
        for instance in &inv.app_instances {
            let drift = app_instance_drift(inv, instance);
            let id = &instance.id;
            if drift.metadata {
                ec2::set_metadata_options(ec2c, id, &Hardening::APP, &Layout::APP)
                    .await
                    .or_else(gone)?;
            }
            if drift.forwards {
                ec2::check_source_dest(ec2c, id).await.or_else(gone)?;
            }
            if let Some(group) = &drift.groups {
                ec2::set_instance_groups(ec2c, id, std::slice::from_ref(group))
                    .await
                    .or_else(gone)?;
            }
            if let Some(profile) = &drift.profile {
                retry_propagation(self.deadline, "app instance profile", || {
                    ec2::set_instance_profile(ec2c, id, profile.as_ref())
                })
                .await
                .or_else(gone)?;
            }
        }
        Ok(())
    }

    /// Rolls the group's instances onto template `version` with an instance
    /// refresh (the configured preferences, skipping instances that run it
    /// already, AWS's auto rollback on) unless they run it already. The
    /// decision rests on what the instances run, not on what this run changed,
    /// so a refresh that could not start is started by the next apply. A
    /// refresh towards another version (an earlier configuration's, or one
    /// started elsewhere) is cancelled and its end awaited first: AWS refuses a
    /// new one while one is active. A refresh towards `version` under way
    /// already is followed instead of started again. Unless the configuration
    /// says not to wait, returns once the refresh succeeded; a refresh that
    /// fails, is cancelled or runs out of time leaves the group on the version
    /// it ran before (rolled back by AWS, or by a refresh back to it) and is an
    /// error with AWS's reason.
    pub(super) async fn roll_instances(
        &self,
        inv: &Inventory,
        group: &autoscaling::Group,
        template: &Template,
    ) -> Result<()> {
        let version = template.version.to_string();
        let client = &self.clients.autoscaling;
        let name = &self.names.app;
        let under_way = inv
            .refresh
            .as_ref()
            .filter(|r| refresh_towards(Some(r), &version));
        let other = inv.refresh.as_ref().filter(|_| under_way.is_none());
        if under_way.is_none() && other.is_none() && !rolls(inv, group, template) {
            return Ok(());
        }
        let id = match under_way {
            Some(refresh) => refresh.id.clone(),
            None => {
                if other.is_some() {
                    autoscaling::cancel_instance_refresh(client, name).await?;
                }
                self.start_refresh(&template.id, &version, true).await?
            }
        };
        if !self.spec.app.instance_refresh.wait_for_completion {
            tracing::info!(group = %name, refresh = %id, version = %version, "instance refresh started; not waiting for it (instance_refresh.wait_for_completion = false)");
            return Ok(());
        }
        let previous = group.launch_template_version.clone();
        let ended = match self.follow_refresh(&id, &version).await {
            Ok(refresh) if refresh.status == "Successful" => return Ok(()),
            Ok(refresh) => refresh,
            Err(AwsError::Timeout { waited, .. }) => {
                // out of time with the instances half on each version: AWS
                // rolls back what it replaced; the apply does not wait for it
                let rolling_back = autoscaling::rollback_instance_refresh(client, name).await?;
                return Err(AwsError::Rollout(Box::new(RolloutFailure {
                    group: name.clone(),
                    refresh: id,
                    version,
                    status: "timed out".into(),
                    reason: format!(
                        "still running when the update's budget ran out after {:.0}s (raise timeouts.update for a slower rollout)",
                        waited.as_secs_f64()
                    ),
                    outcome: if rolling_back {
                        format!("AWS is rolling the instances back to version {previous}")
                    } else {
                        format!("the group stays on version {previous}")
                    },
                })));
            }
            Err(other) => return Err(other),
        };
        let reason = ended
            .status_reason
            .clone()
            .unwrap_or_else(|| "AWS gave no reason".into());
        let outcome = match ended.status.as_str() {
            "RollbackSuccessful" => {
                format!("AWS rolled the instances back to version {previous}")
            }
            // failed, cancelled, or a rollback that failed: what was replaced
            // goes back to the version the group ran
            _ => self.roll_back(template, &previous).await,
        };
        Err(AwsError::Rollout(Box::new(RolloutFailure {
            group: name.clone(),
            refresh: id,
            version,
            status: ended.status,
            reason,
            outcome,
        })))
    }

    /// Starts a refresh towards `version` once no other refresh is active
    /// (one that began in between is waited out too); returns its ID.
    async fn start_refresh(
        &self,
        template: &str,
        version: &str,
        auto_rollback: bool,
    ) -> Result<String> {
        let client = &self.clients.autoscaling;
        let name = &self.names.app;
        let wanted = &self.spec.app.instance_refresh;
        let preferences = autoscaling::RefreshSettings {
            min_healthy_percentage: wanted.min_healthy_percentage,
            max_healthy_percentage: wanted.max_healthy_percentage,
            instance_warmup: wanted.instance_warmup,
            auto_rollback,
        };
        poll_until(
            self.deadline,
            &format!("the running instance refresh of {name} to end before a new one starts"),
            || async {
                if autoscaling::active_refresh(client, name).await?.is_some() {
                    return Ok(None);
                }
                match autoscaling::start_instance_refresh(
                    client,
                    name,
                    &preferences,
                    template,
                    version,
                    self.spec.app.mixed_instances.as_ref(),
                )
                .await
                {
                    Ok(id) => Ok(Some(id)),
                    // another refresh began in between: wait for it too
                    Err(e) if e.class() == ErrorClass::Conflict => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }

    /// Follows refresh `id` until it ends, logging its progress as it changes.
    async fn follow_refresh(&self, id: &str, version: &str) -> Result<autoscaling::Refresh> {
        let client = &self.clients.autoscaling;
        let name = &self.names.app;
        let last = std::sync::Mutex::new(None::<(String, Option<i32>)>);
        poll_until(
            self.deadline,
            &format!("instance refresh {id} of group {name} to bring every instance onto launch template version {version}"),
            || async {
                // a refresh started a moment ago may not be listed yet
                let Some(refresh) = autoscaling::refresh_by_id(client, name, id).await? else {
                    return Ok(None);
                };
                let progress = (refresh.status.clone(), refresh.percentage_complete);
                let mut seen = last.lock().unwrap_or_else(|p| p.into_inner());
                if seen.as_ref() != Some(&progress) {
                    tracing::info!(
                        group = %name,
                        refresh = %id,
                        status = %refresh.status,
                        percentage_complete = refresh.percentage_complete.unwrap_or(0),
                        instances_to_update = refresh.instances_to_update.unwrap_or(0),
                        "instance refresh progress"
                    );
                    *seen = Some(progress);
                }
                Ok(refresh.ended().then_some(refresh))
            },
        )
        .await
    }

    /// After a refresh that ended without AWS rolling it back: a refresh back
    /// to `previous` (only what runs another version is replaced), followed
    /// within the update's budget. Says where the instances are left.
    async fn roll_back(&self, template: &Template, previous: &str) -> String {
        if previous.is_empty() || previous == template.version.to_string() {
            return "the instances keep the versions they run".into();
        }
        let back = match self.start_refresh(&template.id, previous, false).await {
            Ok(id) => id,
            Err(e) => return format!("rolling back to version {previous} could not start ({e})"),
        };
        match self.follow_refresh(&back, previous).await {
            Ok(r) if r.status == "Successful" => {
                format!("the instances were rolled back to version {previous}")
            }
            Ok(r) => format!(
                "rolling back to version {previous} (refresh {back}) ended {}: {}",
                r.status,
                r.status_reason.unwrap_or_default()
            ),
            Err(_) => format!(
                "rolling back to version {previous} (refresh {back}) goes on after this apply"
            ),
        }
    }

    /// Waits until `min_size` instances are in service and healthy in the target
    /// group, unless the user chose not to wait. The timeout message says how many
    /// were serving when time ran out.
    pub(super) async fn wait_for_capacity(&self, target_group: &str) -> Result<()> {
        let app = &self.spec.app;
        if !app.wait_for_capacity || app.min_size == 0 {
            return Ok(());
        }
        let serving = std::sync::Mutex::new(0usize);
        // the targets failing their health checks, with AWS's reason codes
        let failing = std::sync::Mutex::new(None::<String>);
        // launch failures of this wait, not of an earlier apply's
        let since = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        let propagated_by = tokio::time::Instant::now() + super::waiters::PROPAGATION_WINDOW;
        let outcome = poll_until(
            self.deadline,
            &format!(
                "{} instance(s) of group {} to be in service and healthy in the target group",
                app.min_size, self.names.app
            ),
            || async {
                // the group first (its read is shared with the other
                // environments' waits); the group's own reads only when they
                // can tell something: health once an instance is in service,
                // launch failures while fewer than the minimum are (a failed
                // launch may leave no member, or one pending for good)
                let members = self.group_members().await?;
                let in_service_count = members.iter().filter(|m| m.is_in_service()).count();
                let (health, failed_launch) = futures::try_join!(
                    async {
                        match in_service_count > 0 {
                            true => elbv2::target_health(&self.clients.elbv2, target_group).await,
                            false => Ok(elbv2::TargetHealth::default()),
                        }
                    },
                    async {
                        match in_service_count < app.min_size as usize {
                            true => {
                                autoscaling::latest_failed_activity(
                                    &self.clients.autoscaling,
                                    &self.names.app,
                                    since,
                                )
                                .await
                            }
                            false => Ok(None),
                        }
                    },
                )?;
                let count = members
                    .iter()
                    .filter(|m| m.is_in_service() && health.healthy.contains(&m.id))
                    .count();
                *serving.lock().unwrap_or_else(|p| p.into_inner()) = count;
                *failing.lock().unwrap_or_else(|p| p.into_inner()) = health.unhealthy_text();
                if count >= app.min_size as usize {
                    return Ok(Some(()));
                }
                // AWS's latest launch failed: waiting longer only delays its reason
                let unknown_profile = failed_launch.as_ref().is_some_and(|reason| {
                    reason
                        .to_ascii_lowercase()
                        .contains("invalid iam instance profile")
                });
                match (failed_launch, &app.iam_instance_profile) {
                    // a profile IAM created moments before: the group retries
                    // its launches, and EC2 knows the profile within minutes
                    (Some(_), Some(_))
                        if unknown_profile && tokio::time::Instant::now() < propagated_by =>
                    {
                        Ok(None)
                    }
                    (Some(reason), Some(profile)) if unknown_profile => {
                        Err(super::waiters::unknown_profile("app", profile, &reason))
                    }
                    (Some(reason), _) => Err(AwsError::FailedInAws {
                        what: format!(
                            "launching {} instances of group {} ({count} of {} serving)",
                            app.instance_type, self.names.app, app.min_size
                        ),
                        reason,
                        outcome: "the group keeps trying; fix what AWS names and apply again"
                            .into(),
                    }),
                    (None, _) => Ok(None),
                }
            },
        )
        .await;
        match outcome {
            Err(AwsError::Timeout { what, waited }) => Err(AwsError::Timeout {
                what: format!(
                    "{what} ({} serving when time ran out{}; set app.wait_for_capacity = false to skip this wait)",
                    serving.into_inner().unwrap_or_else(|p| p.into_inner()),
                    failing
                        .into_inner()
                        .unwrap_or_else(|p| p.into_inner())
                        .map(|f| format!("; failing their health checks: {f}"))
                        .unwrap_or_default()
                ),
                waited,
            }),
            other => other,
        }
    }
}

/// Whether the group's instances must roll onto `template`: a version this run
/// made while instances live (some endpoints report the template's current
/// default for every instance, so what they report cannot tell), instances on
/// another version, or a refresh towards it under way.
fn rolls(inv: &Inventory, group: &autoscaling::Group, template: &Template) -> bool {
    let version = template.version.to_string();
    let has_instances = group.members.iter().any(autoscaling::Member::is_live);
    (template.new_version && has_instances)
        || needs_rolling(group, None, &version)
        || refresh_towards(inv.refresh.as_ref(), &version)
}

/// Whether some live instance runs another template version than `version` and no
/// refresh towards `version` is under way already.
pub(super) fn needs_rolling(
    group: &autoscaling::Group,
    refresh: Option<&autoscaling::Refresh>,
    version: &str,
) -> bool {
    let stale = group.members.iter().any(|m| {
        m.is_live() && !m.launch_template_version.is_empty() && m.launch_template_version != version
    });
    stale && !refresh_towards(refresh, version)
}

/// Whether a refresh rolls forwards towards `version` (not cancelling, not
/// rolling back, not ended).
pub(super) fn refresh_towards(refresh: Option<&autoscaling::Refresh>, version: &str) -> bool {
    refresh.is_some_and(|r| r.target_version.as_deref() == Some(version) && rolls_forward(r))
}

/// Whether a refresh is still bringing instances onto its desired version.
fn rolls_forward(refresh: &autoscaling::Refresh) -> bool {
    matches!(refresh.status.as_str(), "Pending" | "InProgress" | "Baking")
}

/// The launch template the group is to run.
#[derive(Clone, Debug)]
pub(super) struct Template {
    id: String,
    /// the version the group is set to
    version: i64,
    /// whether this run made that version
    new_version: bool,
}

/// What the app instances run, as the launch template must say it; the root
/// volume is mapped under the image's root device and is at least as large as
/// its root snapshot (`root`).
pub(super) fn app_settings(
    spec: &EnvironmentSpec,
    group: &str,
    ami_id: &str,
    root: &ec2::ImageRoot,
) -> InstanceSettings {
    InstanceSettings {
        ami_id: ami_id.to_string(),
        root_device: root.device.clone(),
        instance_type: spec.app.instance_type.clone(),
        security_group: group.to_string(),
        user_data: spec.app.user_data.clone(),
        user_data_version: spec.app.user_data_version,
        key_name: None,
        iam_instance_profile: spec.app.iam_instance_profile.clone(),
        hardening: Hardening::APP,
        layout: Layout::APP.for_image(root),
    }
}
