//! Typed errors of the AWS layer and their translation into diagnostics.

use std::time::Duration;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use thiserror::Error;

/// How the provider should react to a failed AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// the object does not exist (any more): success for a delete, drift for a read
    NotFound,
    /// the API asked us to slow down; the SDK retries, waiters back off further
    Throttled,
    /// another object still uses this one (ENIs lingering after an ALB or NAT gateway is gone)
    Dependency,
    /// the object exists already or is in a state that forbids the call right now
    Conflict,
    /// anything else: a real failure to report
    Other,
}

/// A failed step of the environment's lifecycle.
#[derive(Debug, Error, Clone)]
pub enum AwsError {
    /// an AWS API call failed
    #[error("{operation} failed: {code}: {message}")]
    Api {
        operation: &'static str,
        code: String,
        message: String,
        class: ErrorClass,
    },
    /// the call never got an answer (network, endpoint, credentials)
    #[error("{operation} could not reach AWS: {detail}")]
    Transport {
        operation: &'static str,
        detail: String,
    },
    /// a waiter ran out of time
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
    /// AWS answered without a field the provider needs
    #[error("{operation} returned no {field}")]
    MissingField {
        operation: &'static str,
        field: &'static str,
    },
    /// the request cannot be met in this account or region
    #[error("{0}")]
    Unsatisfiable(String),
    /// Terraform asked the provider to stop (an interrupt); work in flight was abandoned
    #[error("interrupted: Terraform asked the provider to stop")]
    Interrupted,
}

impl AwsError {
    /// The class of an API error; transport problems and timeouts count as `Other`.
    pub fn class(&self) -> ErrorClass {
        match self {
            AwsError::Api { class, .. } => *class,
            _ => ErrorClass::Other,
        }
    }

    /// True for errors that mean the object is already gone.
    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    /// Wraps an SDK error of any operation.
    pub fn from_sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match error.code() {
            Some(code) => AwsError::Api {
                operation,
                code: code.to_string(),
                message: error.message().unwrap_or_default().to_string(),
                class: classify(code),
            },
            None => AwsError::Transport {
                operation,
                detail: format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&error)
                ),
            },
        }
    }
}

/// Maps AWS error codes of EC2, Auto Scaling and ELBv2 to a reaction.
pub fn classify(code: &str) -> ErrorClass {
    let not_found = code.ends_with(".NotFound")
        || code.ends_with("NotFound")
        || code.ends_with(".Malformed") && code.starts_with("InvalidAllocationID")
        || matches!(
            code,
            "LoadBalancerNotFound"
                | "TargetGroupNotFound"
                | "ListenerNotFound"
                | "InvalidPermission.NotFound"
        );
    if not_found {
        return ErrorClass::NotFound;
    }
    match code {
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "SlowDown" => ErrorClass::Throttled,
        "DependencyViolation"
        | "ResourceInUse"
        | "ResourceInUseException"
        | "InvalidIPAddress.InUse"
        | "AuthFailure.InUse"
        | "InvalidAddress.InUse"
        | "ScalingActivityInProgress" => ErrorClass::Dependency,
        "InvalidPermission.Duplicate"
        | "AlreadyExists"
        | "AlreadyExistsFault"
        | "Resource.AlreadyAssociated"
        | "IncorrectState"
        | "InvalidState"
        | "IncorrectInstanceState" => ErrorClass::Conflict,
        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes_of_all_three_services() {
        assert_eq!(classify("InvalidVpcID.NotFound"), ErrorClass::NotFound);
        assert_eq!(
            classify("InvalidNatGatewayID.NotFound"),
            ErrorClass::NotFound
        );
        assert_eq!(classify("LoadBalancerNotFound"), ErrorClass::NotFound);
        assert_eq!(classify("DependencyViolation"), ErrorClass::Dependency);
        assert_eq!(classify("ResourceInUse"), ErrorClass::Dependency);
        assert_eq!(classify("RequestLimitExceeded"), ErrorClass::Throttled);
        assert_eq!(classify("Throttling"), ErrorClass::Throttled);
        assert_eq!(
            classify("InvalidPermission.Duplicate"),
            ErrorClass::Conflict
        );
        assert_eq!(classify("UnauthorizedOperation"), ErrorClass::Other);
    }
}
