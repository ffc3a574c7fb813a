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
    /// a call named an object created moments ago that this AWS endpoint does not
    /// see yet (eventual consistency): retried until the timeout, never reported as drift
    Propagation,
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
    #[error("timed out after {:.1}s waiting for {what}", waited.as_secs_f64())]
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
    /// a create found a complete environment of the same name: another configuration's
    #[error("an environment named {name} already exists ({vpc_id}) and is managed elsewhere")]
    Owned { name: String, vpc_id: String },
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
                class: classify_message(code, error.message().unwrap_or_default()),
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

/// Like [`classify`], reading the message where the code alone is too vague:
/// ELBv2 and Auto Scaling answer `ValidationError` both for bad input and for a
/// VPC, subnet or launch template created a moment ago that they do not see yet.
pub fn classify_message(code: &str, message: &str) -> ErrorClass {
    let class = classify(code);
    if class != ErrorClass::Other {
        return class;
    }
    let message = message.to_ascii_lowercase();
    let names_missing_object = ["does not exist", "not found", "cannot be found"]
        .iter()
        .any(|phrase| message.contains(phrase));
    let about_an_object = [
        "vpc",
        "subnet",
        "launch template",
        "security group",
        "target group",
        "load balancer",
        "auto scaling group",
        "autoscalinggroup",
    ]
    .iter()
    .any(|kind| message.contains(kind));
    if matches!(
        code,
        "ValidationError" | "InvalidParameterValue" | "InvalidParameter"
    ) && names_missing_object
        && about_an_object
    {
        ErrorClass::Propagation
    } else {
        ErrorClass::Other
    }
}

/// Maps AWS error codes of EC2, Auto Scaling and ELBv2 to a reaction.
pub fn classify(code: &str) -> ErrorClass {
    // ELBv2's answers for groups and subnets it does not see yet; they never mean
    // anything else for the provider's own calls
    if matches!(code, "InvalidSecurityGroup" | "InvalidSubnet") {
        return ErrorClass::Propagation;
    }
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
        | "IncorrectInstanceState"
        | "InstanceRefreshInProgress" => ErrorClass::Conflict,
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

    #[test]
    fn propagation_answers_are_told_apart_from_bad_input() {
        // one case per answer AWS gives for an object created a moment ago
        let propagating = [
            ("InvalidSecurityGroup", "Security group 'sg-1' does not exist"),
            ("InvalidSubnet", "The subnet ID 'subnet-1' is not valid"),
            ("ValidationError", "The VPC ID 'vpc-0abc' is not found"),
            (
                "ValidationError",
                "You must use a valid fully-formed launch template. The specified launch template, with template ID lt-0abc, does not exist.",
            ),
            ("ValidationError", "AutoScalingGroup name not found - null"),
            ("ValidationError", "Target group 'arn:aws:...' not found"),
        ];
        for (code, message) in propagating {
            assert_eq!(
                classify_message(code, message),
                ErrorClass::Propagation,
                "{code}: {message}"
            );
        }
        // the not-found codes keep their own class (a deleted object is gone, a
        // created one is retried by the caller that knows it just made it)
        assert_eq!(
            classify_message("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist"),
            ErrorClass::NotFound
        );
        assert_eq!(classify_message("SubnetNotFound", ""), ErrorClass::NotFound);
        assert_eq!(
            classify_message("InvalidLaunchTemplateId.NotFound", ""),
            ErrorClass::NotFound
        );
        // bad input stays a failure
        for (code, message) in [
            (
                "ValidationError",
                "Max bound, 1, must be greater than or equal to min bound, 2",
            ),
            ("ValidationError", "Health check path must start with '/'"),
            (
                "InvalidParameterValue",
                "Value (t9.huge) for parameter instanceType is invalid.",
            ),
        ] {
            assert_eq!(
                classify_message(code, message),
                ErrorClass::Other,
                "{message}"
            );
        }
        assert_eq!(classify("InstanceRefreshInProgress"), ErrorClass::Conflict);
    }
}
