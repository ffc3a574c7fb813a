//! One thin module per AWS service over the official SDK clients. Nothing here
//! knows about Terraform; errors are [`crate::error::AwsError`].

pub mod assume_role;
pub mod autoscaling;
pub mod batch;
pub mod call_log;
pub mod create_once;
pub mod credentials;
pub mod ec2;
pub mod elbv2;
pub mod pace;

use std::collections::BTreeMap;

use crate::error::AwsError;
use crate::plan::assume_role::AssumeRole;

/// Collects `(key, value)` pairs of any service's tag type; tags without a key are skipped.
pub(crate) fn tag_pairs<'a>(
    tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter_map(|(key, value)| Some((key?.to_string(), value.unwrap_or_default().to_string())))
        .collect()
}

/// Tags of one object: the environment's plus its component key.
pub type Tags = BTreeMap<String, String>;

/// Set once by the provider's `configure`, read by the resource. Terraform may
/// validate and plan before it configures the provider, hence the shared
/// set-once cell.
pub type SharedClients = std::sync::Arc<std::sync::OnceLock<std::sync::Arc<AwsClients>>>;

/// The SDK clients of one provider configuration, built once in `configure`.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// the provider's `default_tags`, applied under every resource's own tags
    pub default_tags: BTreeMap<String, String>,
    /// the provider's `ignore_tags`: tags other tools manage
    pub ignored_tags: crate::plan::spec::IgnoredTags,
    /// the reads of this configuration's environments merged into shared calls
    pub batches: std::sync::Arc<batch::Batches>,
    /// what each image read so far says of its root, which never changes for
    /// an image (its block device mappings are fixed at registration)
    pub image_roots: std::sync::Arc<ec2::KnownImageRoots>,
}

/// Endpoint overrides for single services (emulators, VPC endpoints, FIPS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub ec2: Option<String>,
    pub autoscaling: Option<String>,
    pub elbv2: Option<String>,
}

/// What the provider block configures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub max_retries: Option<u32>,
    pub endpoints: Endpoints,
    pub default_tags: BTreeMap<String, String>,
    pub ignored_tags: crate::plan::spec::IgnoredTags,
    /// the role whose credentials sign every call, assumed with the standard chain's
    pub assume_role: Option<AssumeRole>,
}

/// The longest pause between two attempts of a call. A throttling answer
/// means the account's shared budget is spent for a moment, not for long:
/// the SDK's default cap (20 s) stalls a whole plan on one unlucky call,
/// while a few seconds with jitter spreads the retries of many environments.
pub const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(3);

/// Standard retries, `max_retries` of them (default 9): exponential backoff
/// with full jitter from 250 ms, at most [`MAX_BACKOFF`]. Not the SDK's
/// adaptive mode: its own rate limiter, once throttled, slows every later call
/// of the client for tens of seconds, while [`pace`] already keeps this
/// process under AWS's rates, so a throttling answer here comes from other
/// processes sharing the account and passes in moments.
pub fn retry_config(max_retries: Option<u32>) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(max_retries.unwrap_or(9) + 1)
        .with_initial_backoff(std::time::Duration::from_millis(250))
        .with_max_backoff(MAX_BACKOFF)
}

/// Refuses retries of a connection that was refused or whose host name does
/// not resolve: AWS endpoints never refuse connections, so the endpoint is
/// wrong or the emulator is down, and retrying with backoff only delays the
/// error by up to a minute. Timeouts and dropped connections are still retried.
#[derive(Debug, Clone, Copy)]
struct UnreachableEndpoint;

impl aws_sdk_ec2::config::retry::ClassifyRetry for UnreachableEndpoint {
    fn classify_retry(
        &self,
        ctx: &aws_sdk_ec2::config::interceptors::InterceptorContext,
    ) -> aws_sdk_ec2::config::retry::RetryAction {
        use aws_sdk_ec2::config::retry::RetryAction;
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(connector) = error.as_connector_error() else {
            return RetryAction::NoActionIndicated;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(connector);
        while let Some(current) = cause {
            let refused = current
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            let unresolved = current.to_string().starts_with("dns error");
            if refused || unresolved {
                return RetryAction::RetryForbidden;
            }
            cause = current.source();
        }
        RetryAction::NoActionIndicated
    }

    fn name(&self) -> &'static str {
        "unreachable endpoint"
    }
}

impl AwsClients {
    /// Resolves credentials, region and endpoints through the standard AWS chain
    /// (environment, shared config and profiles, SSO, instance metadata), with the
    /// provider block's settings on top. With `assume_role`, the role is
    /// assumed here, so a refusal fails the configuration.
    pub async fn connect(settings: ClientSettings) -> Result<AwsClients, AwsError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = settings.region.clone() {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some(profile) = &settings.profile {
            credentials::require_profile(profile).await?;
            // the profile's credentials, not the chain's first find (the environment's keys)
            loader = loader
                .profile_name(profile)
                .credentials_provider(credentials::from_profile(profile));
        }
        loader = loader.retry_config(retry_config(settings.max_retries));
        // an endpoint that does not answer fails each attempt in seconds, not minutes
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(3))
                .build(),
        );
        // Upload stall protection would take a call waiting for its turn in the
        // rate limiter (see `pace`) for a stalled upload and fail it after 5 s;
        // the bodies are a few hundred bytes. Stalled downloads are still caught.
        loader = loader.stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .build(),
        );
        let mut shared = loader.load().await;
        if let Some(role) = &settings.assume_role {
            shared = assume_role::assume(&shared, role).await?;
        }
        let account = match (&settings.assume_role, &settings.profile) {
            (Some(role), _) => Some(credentials::log_role(&role.role_arn)),
            (None, Some(profile)) => {
                credentials::log_identity(&shared, &format!("profile {profile} (provider block)"))
                    .await
            }
            (None, None) => {
                credentials::log_identity(&shared, "the standard chain (environment, AWS_PROFILE or default profile, SSO, instance role)").await
            }
        };
        // the account's buckets, shared with the machine's other processes
        // that call it (see `pace`)
        let region = shared.region().map(|r| r.to_string()).unwrap_or_default();
        let pacing = |endpoint: &Option<String>| {
            pace::scope(
                account.as_deref().unwrap_or_default(),
                &region,
                endpoint.as_deref().or(shared.endpoint_url()),
            )
        };

        // every client logs one DEBUG line per call (see `call_log`)
        let scope = pacing(&settings.endpoints.ec2);
        let mut ec2 = aws_sdk_ec2::config::Builder::from(&shared)
            .retry_classifier(UnreachableEndpoint)
            .interceptor(call_log::AwsCallLog::new(scope.clone()))
            .http_client(pace::paced(&shared, pace::Service::Ec2, scope));
        if let Some(url) = &settings.endpoints.ec2 {
            ec2 = ec2.endpoint_url(url);
        }
        let scope = pacing(&settings.endpoints.autoscaling);
        let mut autoscaling = aws_sdk_autoscaling::config::Builder::from(&shared)
            .retry_classifier(UnreachableEndpoint)
            .interceptor(call_log::AwsCallLog::new(scope.clone()))
            .http_client(pace::paced(&shared, pace::Service::AutoScaling, scope));
        if let Some(url) = &settings.endpoints.autoscaling {
            autoscaling = autoscaling.endpoint_url(url);
        }
        let scope = pacing(&settings.endpoints.elbv2);
        let mut elbv2 = aws_sdk_elasticloadbalancingv2::config::Builder::from(&shared)
            .retry_classifier(UnreachableEndpoint)
            .interceptor(call_log::AwsCallLog::new(scope.clone()))
            .http_client(pace::paced(&shared, pace::Service::Elb, scope));
        if let Some(url) = &settings.endpoints.elbv2 {
            elbv2 = elbv2.endpoint_url(url);
        }
        Ok(AwsClients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(elbv2.build()),
            default_tags: settings.default_tags,
            ignored_tags: settings.ignored_tags,
            batches: Default::default(),
            image_roots: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_a_few_seconds_at_most() {
        let config = retry_config(None);
        assert_eq!(config.max_attempts(), 10);
        assert!(config.max_backoff() <= std::time::Duration::from_secs(5));
        assert!(config.initial_backoff() < std::time::Duration::from_secs(1));
        assert_eq!(retry_config(Some(2)).max_attempts(), 3);
        assert_eq!(config.mode(), aws_config::retry::RetryMode::Standard);
    }

    #[tokio::test]
    async fn clients_are_paced_without_a_configured_http_client() {
        // the loaded configuration names no HTTP client (the SDK builds its
        // default inside each client): pacing builds that default itself
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        assert!(shared.http_client().is_none());
        let paced = pace::paced(
            &shared,
            pace::Service::Ec2,
            pace::scope("", "us-east-1", None),
        );
        assert!(format!("{paced:?}").contains("Ec2"));
    }
}
