//! The group's settings the configuration does not offer, kept at AWS's
//! defaults, and the scale-in protection of its instances.

use super::*;

/// The settings of the group the configuration does not offer, kept at AWS's
/// defaults: each changes which instances it keeps or how it scales, and a
/// change made out of band is drift that apply undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeptSetting {
    /// every new instance protected from scale-in: the group cannot shrink
    NewInstancesProtected,
    /// which instances a scale-in terminates first
    TerminationPolicies,
    /// instances replaced once they reach an age
    MaxInstanceLifetime,
    /// the pause after a simple scaling activity
    DefaultCooldown,
    /// how long a new instance's metrics are left out of scaling
    DefaultInstanceWarmup,
    /// how much capacity stays in service while instances are replaced (a
    /// minimum of 0% lets every instance go at once)
    InstanceMaintenancePolicy,
}

impl KeptSetting {
    pub const ALL: [KeptSetting; 6] = [
        KeptSetting::NewInstancesProtected,
        KeptSetting::TerminationPolicies,
        KeptSetting::MaxInstanceLifetime,
        KeptSetting::DefaultCooldown,
        KeptSetting::DefaultInstanceWarmup,
        KeptSetting::InstanceMaintenancePolicy,
    ];

    /// The setting in words, as drift names it.
    pub fn words(self) -> &'static str {
        match self {
            KeptSetting::NewInstancesProtected => "new instances protected from scale-in",
            KeptSetting::TerminationPolicies => "termination policies",
            KeptSetting::MaxInstanceLifetime => "maximum instance lifetime",
            KeptSetting::DefaultCooldown => "default cooldown",
            KeptSetting::DefaultInstanceWarmup => "default instance warmup",
            KeptSetting::InstanceMaintenancePolicy => "instance maintenance policy",
        }
    }

    /// AWS's default, as it is read back.
    pub fn default(self) -> &'static str {
        match self {
            KeptSetting::NewInstancesProtected => "false",
            KeptSetting::TerminationPolicies => "Default",
            KeptSetting::MaxInstanceLifetime
            | KeptSetting::DefaultInstanceWarmup
            | KeptSetting::InstanceMaintenancePolicy => "none",
            KeptSetting::DefaultCooldown => "300s",
        }
    }

    pub(super) fn read(self, g: &AutoScalingGroup) -> String {
        // a lifetime of 0 is none; a warmup of 0 is a warmup
        let seconds = |value: Option<i32>, none_below: i32| match value {
            Some(s) if s >= none_below => format!("{s}s"),
            _ => "none".to_string(),
        };
        match self {
            KeptSetting::NewInstancesProtected => g
                .new_instances_protected_from_scale_in()
                .unwrap_or(false)
                .to_string(),
            KeptSetting::TerminationPolicies => match g.termination_policies() {
                [] => "Default".to_string(),
                policies => policies.join(", "),
            },
            KeptSetting::MaxInstanceLifetime => seconds(g.max_instance_lifetime(), 1),
            KeptSetting::DefaultCooldown => g
                .default_cooldown()
                .map_or("300s".to_string(), |s| format!("{s}s")),
            KeptSetting::DefaultInstanceWarmup => seconds(g.default_instance_warmup(), 0),
            KeptSetting::InstanceMaintenancePolicy => {
                // -1 is how AWS reports a bound cleared
                let percent = |p: Option<i32>| p.filter(|p| *p >= 0).map(|p| format!("{p}%"));
                let policy = g.instance_maintenance_policy();
                match (
                    percent(policy.and_then(|p| p.min_healthy_percentage())),
                    percent(policy.and_then(|p| p.max_healthy_percentage())),
                ) {
                    (None, None) => "none".to_string(),
                    (min, max) => format!(
                        "{} to {} of the desired capacity healthy during replacements",
                        min.as_deref().unwrap_or("unset"),
                        max.as_deref().unwrap_or("unset")
                    ),
                }
            }
        }
    }

    /// The update that puts the setting back to AWS's default. A lifetime
    /// of 0, a warmup of -1 and maintenance bounds of -1 are how AWS clears them.
    pub(super) fn restore(self, update: GroupUpdate) -> GroupUpdate {
        match self {
            KeptSetting::NewInstancesProtected => {
                update.new_instances_protected_from_scale_in(false)
            }
            KeptSetting::TerminationPolicies => update.termination_policies("Default"),
            KeptSetting::MaxInstanceLifetime => update.max_instance_lifetime(0),
            KeptSetting::DefaultCooldown => update.default_cooldown(300),
            KeptSetting::DefaultInstanceWarmup => update.default_instance_warmup(-1),
            KeptSetting::InstanceMaintenancePolicy => update.instance_maintenance_policy(
                aws_sdk_autoscaling::types::InstanceMaintenancePolicy::builder()
                    .min_healthy_percentage(-1)
                    .max_healthy_percentage(-1)
                    .build(),
            ),
        }
    }
}

/// Lifts the scale-in protection of `instances` of group `name`. AWS refuses
/// a call naming an instance that left service since it was read (a scale-in,
/// a refresh): the others of its batch are then lifted one by one, and that
/// one is left to go.
pub async fn unprotect_instances(client: &Client, name: &str, instances: &[String]) -> Result<()> {
    let unprotect = |ids: Vec<String>| {
        client
            .set_instance_protection()
            .auto_scaling_group_name(name)
            .set_instance_ids(Some(ids))
            .protected_from_scale_in(false)
            .send()
    };
    // "The instance i-… is not in InService or EnteringStandby or Standby",
    // "… is not part of Auto Scaling group …"
    let left_service = |e: &AwsError| {
        matches!(e, AwsError::Api { code, message, .. } if code == "ValidationError"
            && (message.contains("is not in InService") || message.contains("is not part of")))
    };
    // AWS takes at most 50 instances a call
    for chunk in instances.chunks(50) {
        let batch = unprotect(chunk.to_vec())
            .await
            .map_err(|e| AwsError::from_sdk("SetInstanceProtection", e));
        match batch {
            Err(error) if left_service(&error) => {
                for id in chunk {
                    match unprotect(vec![id.clone()])
                        .await
                        .map_err(|e| AwsError::from_sdk("SetInstanceProtection", e))
                    {
                        Err(error) if left_service(&error) => {}
                        other => other.map(drop)?,
                    }
                }
            }
            other => other.map(drop)?,
        }
    }
    Ok(())
}
