//! What is registered in a target group, and its health.

use super::*;

/// A target registered in a target group: an instance ID (or an address)
/// and the port it takes requests on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub id: String,
    pub port: Option<i32>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// The targets registered in the target group (draining ones left out: they
/// are on their way out). The target group was just listed, so AWS saying it
/// does not exist is its endpoints not knowing it yet: the not-found error is
/// returned for the caller to ask again, never read as "no targets".
pub async fn registered_targets(client: &Client, target_group: &str) -> Result<Vec<Target>> {
    let out = match client
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(AwsError::from_sdk("DescribeTargetHealth", e)),
    };
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health()
                .and_then(|h| h.state())
                .is_none_or(|s| s.as_str() != "draining")
        })
        .filter_map(|d| {
            let target = d.target()?;
            Some(Target {
                id: target.id()?.to_string(),
                port: target.port(),
            })
        })
        .collect())
}

/// Deregisters targets (each on the port it is registered on).
pub async fn deregister_targets(
    client: &Client,
    target_group: &str,
    targets: &[Target],
) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    client
        .deregister_targets()
        .target_group_arn(target_group)
        .set_targets(Some(
            targets
                .iter()
                .map(|t| {
                    TargetDescription::builder()
                        .id(&t.id)
                        .set_port(t.port)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeregisterTargets", e))?;
    Ok(())
}

/// Registers instances in the target group on its port.
pub async fn register_targets(client: &Client, target_group: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    client
        .register_targets()
        .target_group_arn(target_group)
        .set_targets(Some(
            ids.iter()
                .map(|id| TargetDescription::builder().id(id).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RegisterTargets", e))?;
    Ok(())
}

/// What the target group reports of its targets: the `healthy` ones, and
/// for each `unhealthy` one AWS's reason code and description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetHealth {
    pub healthy: std::collections::BTreeSet<String>,
    /// instance ID -> `Target.ResponseCodeMismatch: Health checks failed with these codes: [500]`
    pub unhealthy: BTreeMap<String, String>,
}

impl TargetHealth {
    /// The unhealthy targets and their reasons in one line, if any.
    pub fn unhealthy_text(&self) -> Option<String> {
        (!self.unhealthy.is_empty()).then(|| {
            self.unhealthy
                .iter()
                .map(|(id, why)| format!("{id} {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The instances the target group reports `healthy`, and the reasons of the
/// `unhealthy` ones.
pub async fn target_health(client: &Client, target_group: &str) -> Result<TargetHealth> {
    let out = match client
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeTargetHealth", e))
    {
        Ok(out) => out,
        // a target group created moments ago: nothing is healthy in it yet
        Err(error) if error.is_not_found() => return Ok(TargetHealth::default()),
        Err(error) => return Err(error),
    };
    let mut health = TargetHealth::default();
    for description in out.target_health_descriptions() {
        let (Some(id), Some(target)) = (
            description.target().and_then(|t| t.id()),
            description.target_health(),
        ) else {
            continue;
        };
        match target.state().map(|s| s.as_str()) {
            Some("healthy") => {
                health.healthy.insert(id.to_string());
            }
            Some("unhealthy") => {
                let reason = target.reason().map_or("no reason code", |r| r.as_str());
                let detail = target.description().unwrap_or("no description");
                health
                    .unhealthy
                    .insert(id.to_string(), format!("{reason}: {detail}"));
            }
            _ => {}
        }
    }
    Ok(health)
}
