//! Credentials of an assumed IAM role, for cross-account access: the base
//! credential chain signs one STS AssumeRole call when the provider is
//! configured, and the three service clients share the role's credentials.

use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_sdk_ec2::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::identity::{
    Identity, IdentityFuture, ResolveCachedIdentity, ResolveIdentity, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::sync::Mutex;

use crate::error::AwsError;
use crate::plan::assume_role::AssumeRole;

/// How long before the role's credentials expire they are renewed, so no call
/// is signed with credentials that expire while it is retried.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Attempts of each AssumeRole call: STS rarely throttles, and a wrong
/// endpoint or a refusal must not hold the configuration for a minute.
const STS_ATTEMPTS: u32 = 3;

/// The identity cache of the clients: it starts with the credentials assumed
/// at configure, so the clients' first calls need no second AssumeRole, and
/// renews them through the role's provider shortly before they expire. One
/// renewal at a time: concurrent calls wait for it instead of each calling STS.
#[derive(Debug)]
struct AssumedRoleCache {
    current: Mutex<Identity>,
}

impl AssumedRoleCache {
    fn is_fresh(identity: &Identity) -> bool {
        identity.expiration().is_none_or(|expiry| {
            expiry
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > RENEW_BEFORE_EXPIRY)
        })
    }
}

impl ResolveCachedIdentity for AssumedRoleCache {
    fn resolve_cached_identity<'a>(
        &'a self,
        resolver: SharedIdentityResolver,
        runtime_components: &'a RuntimeComponents,
        config_bag: &'a ConfigBag,
    ) -> IdentityFuture<'a> {
        IdentityFuture::new(async move {
            let mut current = self.current.lock().await;
            if !Self::is_fresh(&current) {
                *current = resolver
                    .resolve_identity(runtime_components, config_bag)
                    .await?;
            }
            Ok(current.clone())
        })
    }
}

/// `shared` with its credentials replaced by those of `role`, assumed once
/// now with `shared`'s own credentials, so a refused or unreachable STS fails
/// the provider's configuration instead of its first call. STS is reached as
/// the standard chain says (`AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`,
/// then the regional endpoint).
pub async fn assume(shared: &SdkConfig, role: &AssumeRole) -> Result<SdkConfig, AwsError> {
    let mut builder = AssumeRoleProvider::builder(&role.role_arn).session_name(&role.session_name);
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id);
    }
    if let Some(length) = role.duration {
        builder = builder.session_length(length);
    }
    // a refused or unreachable STS fails the configuration in seconds, not after ten backoffs
    let sts = shared
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(STS_ATTEMPTS))
        .build();
    let provider = builder.configure(&sts).build().await;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|error| AwsError::assume_role(&role.role_arn, &error))?;
    let cache = AssumedRoleCache {
        current: Mutex::new(credentials.into()),
    };
    Ok(shared
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(cache)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_renewed_minutes_before_they_expire() {
        let expiring = |left: Duration| Identity::new("key", Some(SystemTime::now() + left));
        assert!(AssumedRoleCache::is_fresh(&expiring(Duration::from_secs(
            3600
        ))));
        assert!(!AssumedRoleCache::is_fresh(&expiring(Duration::from_secs(
            60
        ))));
        assert!(!AssumedRoleCache::is_fresh(&Identity::new(
            "key",
            Some(SystemTime::now() - Duration::from_secs(1))
        )));
        assert!(AssumedRoleCache::is_fresh(&Identity::new("key", None)));
    }
}
