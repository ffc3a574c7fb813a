//! The load balancer's, target group's and listeners' attributes: read with AWS's
//! defaults filled in, and set only where they differ.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    ListenerAttribute, LoadBalancerAttribute, TargetGroupAttribute,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::Result;
use crate::error::AwsError;
use crate::plan::spec::attribute::{AWS_DEFAULTS, TARGET_GROUP_DEFAULTS};

/// The load balancer's attributes by key. A key AWS (or an emulator) leaves
/// out reads as AWS's default for it. Like [`super::listeners`], asked of a load
/// balancer just listed: a not-found error is returned, to be asked again.
pub async fn load_balancer_attributes(
    client: &Client,
    arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = match client
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(AwsError::from_sdk("DescribeLoadBalancerAttributes", e)),
    };
    let reported = out.attributes().iter().map(|a| (a.key(), a.value()));
    Ok(with_defaults(&AWS_DEFAULTS, reported))
}

/// The attributes AWS reports by key, with the value of `defaults` for each
/// key it leaves out (emulators may leave out keys never set).
fn with_defaults<'a>(
    defaults: &[(&str, &str)],
    reported: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    let mut found: BTreeMap<String, String> = defaults
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    found.extend(reported.filter_map(|(key, value)| {
        Some((key?.to_string(), value.unwrap_or_default().to_string()))
    }));
    found
}

/// Sets these attributes of the load balancer, leaving the others as they are.
pub async fn set_load_balancer_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<&str, String>,
) -> Result<()> {
    let attributes = attributes
        .iter()
        .map(|(key, value)| {
            LoadBalancerAttribute::builder()
                .key(*key)
                .value(value)
                .build()
        })
        .collect();
    client
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyLoadBalancerAttributes", e))?;
    Ok(())
}

/// The target group's attributes by key, with AWS's value for each key of
/// [`TARGET_GROUP_DEFAULTS`] it leaves out.
pub async fn target_group_attributes(
    client: &Client,
    arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = client
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeTargetGroupAttributes", e))?;
    let reported = out.attributes().iter().map(|a| (a.key(), a.value()));
    Ok(with_defaults(&TARGET_GROUP_DEFAULTS, reported))
}

/// Sets these attributes of the target group, leaving the others as they are.
pub async fn set_target_group_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<&str, String>,
) -> Result<()> {
    let attributes = attributes
        .iter()
        .map(|(key, value)| {
            TargetGroupAttribute::builder()
                .key(*key)
                .value(value)
                .build()
        })
        .collect();
    client
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyTargetGroupAttributes", e))?;
    Ok(())
}

/// The attributes of each of `listeners` that change what its responses
/// carry (`routing.http.response.*`: headers it adds such as CORS, HSTS or a
/// content security policy, and whether it names itself in `Server`), by
/// listener ARN; none for a listener that is gone.
pub async fn response_attributes_of(
    client: &Client,
    listeners: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let reads = listeners.iter().map(|arn| async move {
        let out = match client
            .describe_listener_attributes()
            .listener_arn(arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return AwsError::from_sdk("DescribeListenerAttributes", e)
                    .or_gone((arn.clone(), BTreeMap::new()))
            }
        };
        let found = out
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?, a.value().unwrap_or_default())))
            .filter(|(key, _)| key.starts_with(RESPONSE))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Ok((arn.clone(), found))
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// The prefix of the listener attributes that shape responses.
const RESPONSE: &str = "routing.http.response.";

/// The one response attribute whose default is not empty: AWS sends its
/// `Server` header unless told not to.
const SERVER_ENABLED: &str = "routing.http.response.server.enabled";

/// A listener's response attribute away from AWS's default: what it is, and
/// the value that restores the default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseChange {
    pub key: String,
    pub value: String,
    pub default: &'static str,
}

impl ResponseChange {
    /// The change in words: `adds response header Access-Control-Allow-Origin: *`.
    pub fn words(&self) -> String {
        if self.key == SERVER_ENABLED {
            return "leaves out the Server response header".into();
        }
        let header: Vec<String> = self
            .key
            .trim_start_matches(RESPONSE)
            .trim_end_matches(".header_value")
            .split('_')
            .map(|word| {
                let mut letters = word.chars();
                letters
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + letters.as_str())
                    .unwrap_or_default()
            })
            .collect();
        format!("adds response header {}: {}", header.join("-"), self.value)
    }
}

/// The response attributes among `attributes` that are not AWS's defaults
/// (no header added, `Server` sent): the configuration sets none of them.
pub fn response_changes(attributes: &BTreeMap<String, String>) -> Vec<ResponseChange> {
    attributes
        .iter()
        .filter(|(key, _)| key.starts_with(RESPONSE))
        .filter_map(|(key, value)| {
            let default = if key == SERVER_ENABLED { "true" } else { "" };
            (!value.eq_ignore_ascii_case(default)).then(|| ResponseChange {
                key: key.clone(),
                value: value.clone(),
                default,
            })
        })
        .collect()
}

/// Restores AWS's defaults of `changes` on `listener` (an empty value removes
/// a header); a listener that is gone has none to restore.
pub async fn restore_response_attributes(
    client: &Client,
    listener: &str,
    changes: &[ResponseChange],
) -> Result<()> {
    let attributes = changes
        .iter()
        .map(|c| {
            ListenerAttribute::builder()
                .key(&c.key)
                .value(c.default)
                .build()
        })
        .collect();
    match client
        .modify_listener_attributes()
        .listener_arn(listener)
        .set_attributes(Some(attributes))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => AwsError::from_sdk("ModifyListenerAttributes", e).or_gone(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_attributes_at_aws_defaults_are_no_change_and_others_say_which_header() {
        let attributes: BTreeMap<String, String> = [
            ("routing.http.response.server.enabled", "false"),
            (
                "routing.http.response.access_control_allow_origin.header_value",
                "*",
            ),
            (
                "routing.http.response.content_security_policy.header_value",
                "",
            ),
            ("routing.http.response.x_frame_options.header_value", "DENY"),
            ("tcp.idle_timeout.seconds", "350"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let words: Vec<String> = response_changes(&attributes)
            .iter()
            .map(ResponseChange::words)
            .collect();
        assert_eq!(
            words,
            [
                "adds response header Access-Control-Allow-Origin: *",
                "leaves out the Server response header",
                "adds response header X-Frame-Options: DENY",
            ]
        );
        let defaults: BTreeMap<String, String> =
            [(SERVER_ENABLED.to_string(), "true".to_string())].into();
        assert!(response_changes(&defaults).is_empty());
    }
}
