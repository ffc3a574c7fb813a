//! Where the credentials come from. A profile named in the provider block
//! wins over the environment's keys, as in hashicorp/aws: the standard chain
//! takes `AWS_ACCESS_KEY_ID` first, so a user who named a profile would
//! otherwise deploy into whichever account the shell's keys belong to.

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_sdk_ec2::config::ProvideCredentials;
use aws_types::os_shim_internal::{Env, Fs};

use crate::error::AwsError;

/// Refuses a profile that the shared config and credentials files
/// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config`
/// and `~/.aws/credentials`) do not define.
pub async fn require_profile(profile: &str) -> Result<(), AwsError> {
    let profiles = aws_config::profile::load(&Fs::real(), &Env::real(), &Default::default(), None)
        .await
        .map_err(|e| {
            // a file that does not parse defines no profile the SDK could use
            tracing::warn!(error = %e, "the shared AWS config and credentials files could not be parsed");
            AwsError::UnknownProfile {
                profile: profile.to_string(),
                defined: Vec::new(),
            }
        })?;
    if profiles.get_profile(profile).is_some() {
        return Ok(());
    }
    let mut defined: Vec<String> = profiles.profiles().map(str::to_string).collect();
    defined.sort();
    Err(AwsError::UnknownProfile {
        profile: profile.to_string(),
        defined,
    })
}

/// The credentials of `profile` alone, never the environment's keys.
pub fn from_profile(profile: &str) -> ProfileFileCredentialsProvider {
    ProfileFileCredentialsProvider::builder()
        .profile_name(profile)
        .build()
}

/// Logs at INFO the role the calls run as and its account, read from its ARN
/// (resolving the role's credentials once more would be one more AssumeRole).
/// Returns the account.
pub fn log_role(role_arn: &str) -> String {
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let source = format!("role {role_arn} (assumed)");
    tracing::info!(
        source = source.as_str(),
        account,
        "AWS calls are signed with these credentials"
    );
    account.to_string()
}

/// Logs at INFO which identity the calls run as: the credentials' source, the
/// access key ID, and the account when the credentials carry it (SSO, an
/// assumed role, a profile with `aws_account_id`). Credentials that cannot be
/// had yet are a WARN here; the first call reports them as its error.
/// Returns the account when the credentials carry it, else their access key
/// ID (what the rate limiter can tell the account's calls by).
pub async fn log_identity(shared: &aws_config::SdkConfig, source: &str) -> Option<String> {
    let Some(provider) = shared.credentials_provider() else {
        tracing::warn!(source, "no AWS credentials provider is configured");
        return None;
    };
    match provider.provide_credentials().await {
        Ok(credentials) => {
            let account = credentials.account_id().map(|a| a.as_str().to_string());
            tracing::info!(
                source,
                access_key_id = credentials.access_key_id(),
                account = account
                    .as_deref()
                    .unwrap_or("not carried by these credentials"),
                "AWS calls are signed with these credentials"
            );
            Some(account.unwrap_or_else(|| credentials.access_key_id().to_string()))
        }
        Err(error) => {
            tracing::warn!(source, error = %crate::error::AwsError::Transport {
                operation: "resolving credentials",
                detail: error.to_string(),
            }, "AWS credentials are not available yet");
            None
        }
    }
}
