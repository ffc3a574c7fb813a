//! The `prodvpc` provider: its configuration block and the AWS clients it builds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};
use tokio_util::sync::CancellationToken;

use crate::aws::{AwsClients, ClientSettings, Endpoints, SharedClients};
use crate::environment::validate::{self, Step};
use crate::environment::EnvironmentResource;
use crate::plan::assume_role::{self, AssumeRole, DEFAULT_SESSION_NAME};

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct EndpointsBlock {
    pub ec2: Value<String>,
    pub autoscaling: Value<String>,
    pub elbv2: Value<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct AssumeRoleBlock {
    pub role_arn: Value<String>,
    pub session_name: Value<String>,
    pub external_id: Value<String>,
    pub duration: Value<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct DefaultTagsBlock {
    pub tags: Value<BTreeMap<String, Value<String>>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct IgnoreTagsBlock {
    pub keys: Value<Vec<Value<String>>>,
    pub key_prefixes: Value<Vec<Value<String>>>,
}

/// The provider block as Terraform sends it.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ProviderConfig {
    pub region: Value<String>,
    pub profile: Value<String>,
    pub max_retries: Value<i64>,
    pub endpoints: Value<Vec<EndpointsBlock>>,
    pub default_tags: Value<Vec<DefaultTagsBlock>>,
    #[serde(default)]
    pub ignore_tags: Value<Vec<IgnoreTagsBlock>>,
    pub assume_role: Value<Vec<AssumeRoleBlock>>,
}

/// The provider.
#[derive(Default)]
pub struct ProdVpcProvider {
    clients: SharedClients,
    /// Cancelled when Terraform asks the provider to stop (StopProvider).
    stop: CancellationToken,
}

fn optional(attr_type: AttributeType, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(doc),
        constraint: AttributeConstraint::Optional,
        sensitive: false,
        deprecated: false,
    }
}

fn required(attr_type: AttributeType, doc: &str) -> Attribute {
    Attribute {
        constraint: AttributeConstraint::Required,
        ..optional(attr_type, doc)
    }
}

fn nested(doc: &str, attributes: Vec<(&str, Attribute)>) -> NestedBlock {
    NestedBlock::Optional(Block {
        version: 1,
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        blocks: HashMap::new(),
        description: Description::markdown(doc),
        deprecated: false,
    })
}

/// The provider block's schema.
pub fn provider_schema() -> Schema {
    use AttributeType::{Number, String};
    let endpoint = |service: &str| {
        optional(
            String,
            &format!(
                "URL of the {service} API, overriding `AWS_ENDPOINT_URL` and the regional default."
            ),
        )
    };
    Schema {
        version: 1,
        block: Block {
            version: 1,
            attributes: [
                ("region", optional(String, "AWS region, for example `us-east-1`. Default: the standard chain (`AWS_REGION`, the profile's region). A region AWS does not offer is refused at plan, wherever it comes from.")),
                ("profile", optional(String, "Named profile of the shared AWS config and credentials files (SSO profiles included). When set, its credentials sign every call, whatever `AWS_ACCESS_KEY_ID` and the rest of the environment say, and a profile the files do not define is refused. Default: the standard chain (`AWS_ACCESS_KEY_ID`, then `AWS_PROFILE` or `default`, SSO, the instance role).")),
                ("max_retries", optional(Number, "Retries of a throttled or failed AWS call before giving up, backing off with jitter for at most 3 s between attempts. Default `9`.")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            blocks: [
                ("endpoints", nested("Custom service endpoints, for emulators or private endpoints.", vec![
                    ("ec2", endpoint("EC2")),
                    ("autoscaling", endpoint("Auto Scaling")),
                    ("elbv2", endpoint("Elastic Load Balancing v2")),
                ])),
                ("default_tags", nested("Tags applied to every AWS object this provider creates, under each resource's own `tags`.", vec![
                    ("tags", optional(AttributeType::Map(Box::new(String)), "Tag keys and values.")),
                ])),
                ("ignore_tags", nested("Tags that other tools manage on the environment's objects (AWS Backup plans, cost allocation, compliance scanners): a refresh does not report them as drift and apply neither removes nor changes them. Without this block the configuration's tags are authoritative: any other tag is drift that apply removes. Tags the configuration sets under an ignored key are not compared either.", vec![
                    ("keys", optional(AttributeType::List(Box::new(String)), "Tag keys to ignore, exactly as written (case-sensitive).")),
                    ("key_prefixes", optional(AttributeType::List(Box::new(String)), "Tag key prefixes to ignore, such as `backup:` or `cost-`.")),
                ])),
                ("assume_role", nested("An IAM role to work as, for example in another account: the standard chain's credentials call STS `AssumeRole` once when the provider is configured, and the role's temporary credentials sign every call, renewed before they expire. The base identity needs `sts:AssumeRole` on the role, and the role needs the provider's IAM policy.", vec![
                    ("role_arn", required(String, "ARN of the role, such as `arn:aws:iam::123456789012:role/terraform`. Its trust policy must allow the base identity.")),
                    ("session_name", optional(String, &format!("Session name shown in CloudTrail: 2 to 64 letters, digits or `+=,.@_-`. Default `{DEFAULT_SESSION_NAME}`."))),
                    ("external_id", optional(String, "External ID the role's trust policy requires (`sts:ExternalId`), 2 to 1224 characters.")),
                    ("duration", optional(String, "Length of the role session, such as `15m`, `1h` or `1h30m`: 15 minutes to 12 hours, and at most the role's maximum session duration. Default: STS's, one hour.")),
                ])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            description: Description::markdown("Stands up production AWS network environments. Credentials come from the standard AWS chain."),
            deprecated: false,
        },
    }
}

/// Whether `region` has the shape of an AWS region name: a two-letter area,
/// one or more words, a number (`us-east-1`, `us-gov-west-1`, `ap-southeast-4`).
fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [area, words @ .., number] = parts.as_slice() else {
        return false;
    };
    let lower_word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
    area.len() == 2
        && lower_word(area)
        && !words.is_empty()
        && words.iter().all(|w| lower_word(w))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Refuses a region AWS does not offer (as far as this version knows), which
/// no endpoint serves: with the fix, naming where the name came from (`source`).
fn known_region(region: &str, source: &str) -> Result<(), String> {
    if crate::plan::regions::is_known(region) {
        return Ok(());
    }
    Err(format!(
        "AWS has no region `{region}`{source}. Set region to one of {}; if AWS opened `{region}` after this provider version, upgrade the provider.",
        crate::plan::regions::near(region).join(", ")
    ))
}

/// The `host:port` an endpoint URL connects to, or why it is not a URL the SDK can use.
fn endpoint_address(url: &str) -> Result<(String, u16), String> {
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, 443)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, 80)
    } else {
        return Err("it does not start with http:// or https://".to_string());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{port}` is not a port number"))?;
            (host, port)
        }
        _ => (authority, default_port),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-.[]:".contains(ch));
    if !host_ok {
        return Err(format!("`{host}` is not a host name"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    ))
}

/// How long configure waits for an endpoint to accept a connection.
const ENDPOINT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Connects once to each configured endpoint, so an emulator or private
/// endpoint that is down fails in seconds, on its attribute, instead of
/// after every retry of the first call.
async fn check_endpoints_reachable(endpoints: &Endpoints, diags: &mut Diagnostics) -> bool {
    let configured = [
        ("ec2", &endpoints.ec2),
        ("autoscaling", &endpoints.autoscaling),
        ("elbv2", &endpoints.elbv2),
    ];
    let probes = configured.iter().filter_map(|(service, url)| {
        let url = url.as_ref()?;
        let (host, port) = endpoint_address(url).ok()?;
        Some(async move {
            let connect = tokio::net::TcpStream::connect((host.as_str(), port));
            let outcome = match tokio::time::timeout(ENDPOINT_CONNECT_TIMEOUT, connect).await {
                Ok(Ok(_)) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(_) => Some(format!(
                    "no answer within {}s",
                    ENDPOINT_CONNECT_TIMEOUT.as_secs()
                )),
            };
            (*service, url.clone(), outcome)
        })
    });
    let mut reachable = true;
    for (service, url, failure) in futures::future::join_all(probes).await {
        if let Some(failure) = failure {
            reachable = false;
            diags.error(
                "Endpoint unreachable",
                format!("Nothing accepts connections at {url} ({failure}). Start the service there, or correct or remove endpoints.{service}."),
                AttributePath::new("endpoints").index(0).attribute(service),
            );
        }
    }
    reachable
}

impl ProviderConfig {
    /// The client settings, with problems reported against their attribute.
    pub fn settings(&self, diags: &mut Diagnostics) -> Option<ClientSettings> {
        let mut valid = true;
        if let Value::Value(region) = &self.region {
            if !is_region_name(region) {
                valid = false;
                diags.error(
                    "Invalid region",
                    format!("`{region}` is not an AWS region name. Write one such as us-east-1 or eu-west-3, or leave region out to use AWS_REGION or the profile's region."),
                    AttributePath::new("region"),
                );
            } else if let Err(detail) = known_region(region, "") {
                valid = false;
                diags.error("Unknown region", detail, AttributePath::new("region"));
            }
        }
        if let Some(block) = self.endpoints.as_ref_option().and_then(|list| list.first()) {
            for (service, url) in [
                ("ec2", &block.ec2),
                ("autoscaling", &block.autoscaling),
                ("elbv2", &block.elbv2),
            ] {
                if let Value::Value(url) = url {
                    if let Err(why) = endpoint_address(url) {
                        valid = false;
                        diags.error(
                            "Invalid endpoint URL",
                            format!("`{url}` cannot be used: {why}. Write a URL such as https://ec2.us-east-1.amazonaws.com or http://127.0.0.1:5000."),
                            AttributePath::new("endpoints").index(0).attribute(service),
                        );
                    }
                }
            }
        }
        let endpoints = self
            .endpoints
            .as_ref_option()
            .and_then(|list| list.first())
            .map(|block| Endpoints {
                ec2: block.ec2.as_ref_option().cloned(),
                autoscaling: block.autoscaling.as_ref_option().cloned(),
                elbv2: block.elbv2.as_ref_option().cloned(),
            })
            .unwrap_or_default();
        let default_tags: BTreeMap<String, String> = self
            .default_tags
            .as_ref_option()
            .and_then(|list| list.first())
            .and_then(|block| block.tags.as_ref_option())
            .map(|tags| {
                tags.iter()
                    .filter_map(|(k, v)| v.as_ref_option().map(|v| (k.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let tag_path = [
            Step::Attribute("default_tags"),
            Step::Index(0),
            Step::Attribute("tags"),
        ];
        let tag_problems = validate::tag_problems(&default_tags, &tag_path);
        validate::report(&tag_problems, diags);
        valid &= tag_problems.is_empty();
        let ignored_tags = self.ignored_tags(diags);
        valid &= ignored_tags.is_some();
        let assume_role = self.assume_role(diags);
        valid &= assume_role.is_ok();
        let max_retries = match self.max_retries {
            Value::Value(n) if !(0..=100).contains(&n) => {
                diags.error(
                    "Invalid max_retries",
                    format!("max_retries is {n}; use a number from 0 to 100."),
                    AttributePath::new("max_retries"),
                );
                return None;
            }
            Value::Value(n) => Some(n as u32),
            _ => None,
        };
        if !valid {
            return None;
        }
        Some(ClientSettings {
            region: self.region.as_ref_option().cloned(),
            profile: self.profile.as_ref_option().cloned(),
            max_retries,
            endpoints,
            default_tags,
            ignored_tags: ignored_tags.unwrap_or_default(),
            assume_role: assume_role.ok().flatten(),
        })
    }

    /// The `ignore_tags` block as the tags it names; `None` (with an error on
    /// the attribute) for an empty key or prefix, which would ignore nothing or
    /// everything.
    fn ignored_tags(&self, diags: &mut Diagnostics) -> Option<crate::plan::spec::IgnoredTags> {
        let Some(block) = self
            .ignore_tags
            .as_ref_option()
            .and_then(|list| list.first())
        else {
            return Some(Default::default());
        };
        let mut valid = true;
        let mut strings = |list: &Value<Vec<Value<String>>>, attribute: &'static str| {
            let values: Vec<String> = list
                .as_ref_option()
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_ref_option().cloned())
                        .collect()
                })
                .unwrap_or_default();
            for (index, value) in values.iter().enumerate() {
                if value.trim().is_empty() {
                    valid = false;
                    diags.error(
                        "Empty tag key in ignore_tags",
                        format!("`{attribute}` entry {index} is empty: an empty key ignores nothing and an empty prefix every tag. Remove it, or write the key or prefix to ignore."),
                        AttributePath::new("ignore_tags")
                            .index(0)
                            .attribute(attribute)
                            .index(index as i64),
                    );
                }
            }
            values
        };
        let keys = strings(&block.keys, "keys").into_iter().collect();
        let key_prefixes = strings(&block.key_prefixes, "key_prefixes");
        valid.then_some(crate::plan::spec::IgnoredTags { keys, key_prefixes })
    }

    /// Whether every value of the `assume_role` block is known: configured
    /// without one, the provider would work as the wrong identity or session.
    fn assume_role_known(&self, diags: &mut Diagnostics) -> bool {
        let Some(block) = self
            .assume_role
            .as_ref_option()
            .and_then(|list| list.first())
        else {
            return true;
        };
        let attributes = [
            ("role_arn", &block.role_arn),
            ("session_name", &block.session_name),
            ("external_id", &block.external_id),
            ("duration", &block.duration),
        ];
        let unknown: Vec<&'static str> = attributes
            .into_iter()
            .filter(|(_, value)| matches!(value, Value::Unknown))
            .map(|(attribute, _)| attribute)
            .collect();
        for attribute in &unknown {
            diags.error(
                "Role to assume not known yet",
                format!("assume_role.{attribute} comes from something not yet created, and the provider must assume the role before it plans anything. Set it from a variable or a literal, or apply what it comes from first (terraform apply -target=...)."),
                AttributePath::new("assume_role").index(0).attribute(*attribute),
            );
        }
        unknown.is_empty()
    }

    /// The `assume_role` block, when present and complete; `Err` when a value is refused.
    fn assume_role(&self, diags: &mut Diagnostics) -> Result<Option<AssumeRole>, ()> {
        let Some(block) = self
            .assume_role
            .as_ref_option()
            .and_then(|list| list.first())
        else {
            return Ok(None);
        };
        // values unknown until apply are checked when the provider is configured with them
        let Value::Value(role_arn) = &block.role_arn else {
            return Ok(None);
        };
        fn text(value: &Value<String>) -> Option<&str> {
            value.as_ref_option().map(String::as_str)
        }
        assume_role::check(
            role_arn,
            text(&block.session_name),
            text(&block.external_id),
            text(&block.duration),
        )
        .map(Some)
        .map_err(|problems| {
            for problem in problems {
                diags.error(
                    problem.summary,
                    problem.detail,
                    AttributePath::new("assume_role")
                        .index(0)
                        .attribute(problem.attribute),
                );
            }
        })
    }
}

impl ProdVpcProvider {
    /// Checks the provider block; problems are reported against their attribute.
    pub fn validate(&self, diags: &mut Diagnostics, config: &ProviderConfig) {
        let _ = config.settings(diags);
    }

    /// Builds the AWS clients the resource uses.
    pub async fn configure(&self, diags: &mut Diagnostics, config: &ProviderConfig) {
        if !config.assume_role_known(diags) {
            return;
        }
        let Some(settings) = config.settings(diags) else {
            return;
        };
        if !check_endpoints_reachable(&settings.endpoints, diags).await {
            return;
        }
        let role_arn = settings
            .assume_role
            .as_ref()
            .map(|role| role.role_arn.clone());
        let clients = match AwsClients::connect(settings).await {
            Ok(clients) => Arc::new(clients),
            Err(error @ crate::error::AwsError::UnknownProfile { .. }) => {
                diags.error(
                    "Unknown profile",
                    format!("{error}. Name a profile of AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/config and ~/.aws/credentials), create it (`aws configure --profile NAME`), or leave profile out to use the standard chain."),
                    AttributePath::new("profile"),
                );
                return;
            }
            Err(error) => {
                let role = role_arn.unwrap_or_default();
                diags.error(
                    "Cannot assume the configured role",
                    format!("{error}. Check that the base credentials (environment, profile, SSO, instance role) are allowed sts:AssumeRole on {role}, that the role's trust policy names that identity and, when it requires one, the same external_id, and that STS is reachable (AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL when set)."),
                    AttributePath::new("assume_role").index(0).attribute("role_arn"),
                );
                return;
            }
        };
        // a region from AWS_REGION or the profile is refused as a written one is
        if config.region.is_null() {
            if let Some(region) = clients.ec2.config().region() {
                if let Err(detail) = known_region(
                    region.as_ref(),
                    " (from AWS_REGION or the profile, as the provider block sets none)",
                ) {
                    diags.error("Unknown region", detail, AttributePath::new("region"));
                    return;
                }
            }
        }
        // Terraform configures a provider process once; a second call keeps the first clients.
        let _ = self.clients.set(clients);
    }

    /// The `prodvpc_environment` resource, sharing this provider's clients and stop signal.
    pub fn environment(&self) -> EnvironmentResource {
        EnvironmentResource::new(self.clients.clone(), self.stop.clone())
    }

    /// Abandons the work in flight: each operation returns at once with the
    /// state of what exists. Everything it created is tagged, so the next
    /// command finds it.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_have_the_aws_shape() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-4",
            "il-central-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in ["moon-1", "useast1", "us-east", "US-EAST-1", "us--1", ""] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn regions_aws_does_not_offer_are_refused_with_the_likely_ones() {
        assert_eq!(known_region("eu-west-3", ""), Ok(()));
        let refused = known_region("eu-west-9", "").unwrap_err();
        assert!(
            refused.starts_with("AWS has no region `eu-west-9`."),
            "{refused}"
        );
        assert!(
            refused.contains("eu-west-1, eu-west-2, eu-west-3"),
            "{refused}"
        );
        let config = ProviderConfig {
            region: Value::Value("xx-east-9".into()),
            ..Default::default()
        };
        let mut diags = Diagnostics::default();
        assert!(config.settings(&mut diags).is_none());
        assert_eq!(diags.errors.len(), 1, "{:?}", diags.errors);
        assert_eq!(diags.errors[0].summary, "Unknown region");
    }

    #[test]
    fn endpoint_urls_give_their_address_or_the_reason() {
        assert_eq!(
            endpoint_address("http://127.0.0.1:5000"),
            Ok(("127.0.0.1".into(), 5000))
        );
        assert_eq!(
            endpoint_address("https://ec2.us-east-1.amazonaws.com/"),
            Ok(("ec2.us-east-1.amazonaws.com".into(), 443))
        );
        assert!(endpoint_address("localhost:5000")
            .unwrap_err()
            .contains("http://"));
        assert!(endpoint_address("http://host:99999")
            .unwrap_err()
            .contains("port"));
        assert!(endpoint_address("http://").unwrap_err().contains("host"));
        assert!(endpoint_address("http://a b").unwrap_err().contains("host"));
    }

    #[test]
    fn a_role_unknown_until_apply_passes_validation_but_not_configuration() {
        let config = ProviderConfig {
            assume_role: Value::Value(vec![AssumeRoleBlock {
                role_arn: Value::Unknown,
                duration: Value::Value("1h".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let mut diags = Diagnostics::default();
        assert!(config.settings(&mut diags).is_some());
        assert!(diags.errors.is_empty(), "{:?}", diags.errors);
        assert!(!config.assume_role_known(&mut diags));
        assert_eq!(diags.errors.len(), 1, "{:?}", diags.errors);
        assert_eq!(diags.errors[0].attribute.steps.len(), 3);
        assert!(diags.errors[0].detail.contains("assume_role.role_arn"));
    }

    #[test]
    fn settings_name_the_attribute_at_fault() {
        let config = ProviderConfig {
            region: Value::Value("moon-1".into()),
            endpoints: Value::Value(vec![EndpointsBlock {
                elbv2: Value::Value("elb.local".into()),
                ..Default::default()
            }]),
            default_tags: Value::Value(vec![DefaultTagsBlock {
                tags: Value::Value([("Name".to_string(), Value::Value("x".to_string()))].into()),
            }]),
            ..Default::default()
        };
        let mut diags = Diagnostics::default();
        assert!(config.settings(&mut diags).is_none());
        let paths: Vec<usize> = diags
            .errors
            .iter()
            .map(|d| d.attribute.steps.len())
            .collect();
        assert_eq!(paths, vec![1, 3, 4], "{:?}", diags.errors);
    }
}
