//! Typed errors of the AWS layer and their translation into diagnostics.

use std::time::Duration;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;
use thiserror::Error;

/// EC2's answer to a launch in a zone without capacity for the instance type.
pub const INSUFFICIENT_CAPACITY: &str = "InsufficientInstanceCapacity";

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

/// A failed step of the environment's lifecycle. Each message is one line a
/// person can act on: no SDK internals, no debug output.
#[derive(Debug, Error, Clone)]
pub enum AwsError {
    /// an AWS API call failed
    #[error("{operation} failed: {code}: {message}{}", request_id_text(request_id))]
    Api {
        operation: &'static str,
        code: String,
        message: String,
        class: ErrorClass,
        /// AWS's request ID, for a support case; absent when AWS sent none
        request_id: Option<String>,
    },
    /// the call never got an answer (network, endpoint, credentials)
    #[error("{operation} could not reach AWS: {detail}")]
    Transport {
        operation: &'static str,
        detail: String,
    },
    /// the endpoint answered, but not as an AWS API does (a proxy, a wrong URL, a broken emulator)
    #[error(
        "{operation} got HTTP {status} without an AWS error code from the endpoint{}",
        request_id_text(request_id)
    )]
    Unexpected {
        operation: &'static str,
        status: u16,
        request_id: Option<String>,
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
    /// destroy found objects in its way (protected, or not the environment's but
    /// depending on it) before deleting anything
    #[error("destroy deleted nothing: {} in its way: {}", blocking_count(blockers), blockers.join("; "))]
    DestroyBlocked { blockers: Vec<String> },
    /// destroy found the load balancer's deletion protection on, before deleting anything
    #[error("load balancer {arn} has deletion protection enabled, so nothing was deleted")]
    DeletionProtected { arn: String },
    /// an instance refresh the apply started did not bring every instance onto
    /// the new launch template version
    #[error("{0}")]
    Rollout(Box<RolloutFailure>),
    /// a read merged with other environments' reads got no answer: the task
    /// making the merged call ended without one (the runtime shutting down)
    #[error("{operation} merged with other environments' reads got no answer")]
    MergedCallLost { operation: &'static str },
    /// Terraform asked the provider to stop (an interrupt); work in flight was abandoned
    #[error("interrupted: Terraform asked the provider to stop")]
    Interrupted,
    /// STS did not give the provider the credentials of the configured role
    /// (access denied, a wrong external ID, STS unreachable)
    #[error("assuming role {role_arn} failed: {detail}")]
    AssumeRole { role_arn: String, detail: String },
    /// AWS ended an object's creation or launch as failed and said why (a NAT
    /// gateway's `FailureCode`, a scaling activity's `StatusMessage`)
    #[error("{what} failed: {reason}; {outcome}")]
    FailedInAws {
        what: String,
        /// AWS's own words
        reason: String,
        /// what becomes of it (`the next apply replaces it`)
        outcome: String,
    },
    /// the provider block names a profile that the shared config and
    /// credentials files do not define
    #[error("no profile named {profile} in the shared config and credentials files ({})", if defined.is_empty() { "they define none".to_string() } else { format!("they define {}", defined.join(", ")) })]
    UnknownProfile {
        profile: String,
        /// the profiles the files define, sorted
        defined: Vec<String>,
    },
}

/// How a rollout ended short of its version, and where it left the instances.
#[derive(Debug, Error, Clone)]
#[error("instance refresh {refresh} of group {group} towards launch template version {version} ended {status}: {reason}; {outcome}")]
pub struct RolloutFailure {
    pub group: String,
    pub refresh: String,
    pub version: String,
    /// AWS's status, or `timed out` when the update's budget ran out first
    pub status: String,
    /// AWS's `StatusReason`, or what the provider saw
    pub reason: String,
    /// where the instances are left: back on the version they ran, or going there
    pub outcome: String,
}

fn blocking_count(blockers: &[String]) -> String {
    match blockers.len() {
        1 => "1 object stands".to_string(),
        n => format!("{n} objects stand"),
    }
}

fn request_id_text(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map(|id| format!(" (request ID {id})"))
        .unwrap_or_default()
}

/// One line from possibly multi-line text.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a call got no answer, in words: the messages of the error's causes,
/// without the SDK's wrappers and debug dumps.
fn cause_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = one_line(&current.to_string());
        // wrappers repeat their cause's message or say only "dispatch failure"
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    let useful: Vec<&String> = parts
        .iter()
        .filter(|p| !matches!(p.as_str(), "dispatch failure" | "io error" | "other"))
        .collect();
    match useful.last() {
        Some(last) => (*last).clone(),
        None => parts.join(": "),
    }
}

impl AwsError {
    /// Wraps the failure of the credentials provider that assumes `role_arn`:
    /// STS's error code and message when STS answered, else why it could not be reached.
    pub fn assume_role(role_arn: &str, error: &(dyn std::error::Error + 'static)) -> AwsError {
        let mut cause = Some(error);
        let mut answer = None;
        while let Some(current) = cause {
            if let Some(meta) = current.downcast_ref::<aws_smithy_types::error::ErrorMetadata>() {
                answer = meta.code().map(|code| {
                    let request_id = meta.extra("aws_request_id").map(str::to_string);
                    format!(
                        "{code}: {}{}",
                        one_line(meta.message().unwrap_or_default()),
                        request_id_text(&request_id)
                    )
                });
                break;
            }
            cause = current.source();
        }
        AwsError::AssumeRole {
            role_arn: role_arn.to_string(),
            detail: answer.unwrap_or_else(|| cause_text(error)),
        }
    }

    /// The class of an API error; transport problems and timeouts count as `Other`.
    pub fn class(&self) -> ErrorClass {
        match self {
            AwsError::Api { class, .. } => *class,
            _ => ErrorClass::Other,
        }
    }

    /// True when an account or region quota refused the call (`VpcLimitExceeded`,
    /// `AddressLimitExceeded`, `TooManyLoadBalancers`, ...), not throttling.
    pub fn is_quota(&self) -> bool {
        matches!(self, AwsError::Api { code, class, .. }
            if *class != ErrorClass::Throttled
                && (code.ends_with("LimitExceeded") || code.starts_with("TooMany")))
    }

    /// True when the credentials may not make the call.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, AwsError::Api { code, .. }
            if matches!(code.as_str(), "UnauthorizedOperation" | "AccessDenied"))
    }

    /// `gone` when the error says the object does not exist (the answer a
    /// describe or delete then stands for), else the error itself.
    pub fn or_gone<T>(self, gone: T) -> Result<T, AwsError> {
        if self.is_not_found() {
            Ok(gone)
        } else {
            Err(self)
        }
    }

    /// True when the zone has no capacity for the instance type right now
    /// (AWS: try another zone, or later).
    pub fn is_insufficient_capacity(&self) -> bool {
        matches!(self, AwsError::Api { code, .. } if code == INSUFFICIENT_CAPACITY)
    }

    /// True for errors that mean the object is already gone.
    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    /// Wraps an SDK error of any operation.
    pub fn from_sdk<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let request_id = error
            .meta()
            .request_id()
            .or_else(|| error.request_id())
            .map(str::to_string);
        if let Some(code) = error.code() {
            return AwsError::Api {
                operation,
                code: code.to_string(),
                message: one_line(error.message().unwrap_or_default()),
                class: classify_call(operation, code, error.message().unwrap_or_default()),
                request_id,
            };
        }
        match &error {
            SdkError::ServiceError(failure) => AwsError::Unexpected {
                operation,
                status: failure.raw().status().as_u16(),
                request_id,
            },
            SdkError::ResponseError(failure) => AwsError::Unexpected {
                operation,
                status: failure.raw().status().as_u16(),
                request_id,
            },
            SdkError::TimeoutError(_) => AwsError::Transport {
                operation,
                detail: "no answer within the time limit".to_string(),
            },
            _ => AwsError::Transport {
                operation,
                detail: cause_text(&error),
            },
        }
    }
}

/// Like [`classify_message`], for the answers whose meaning depends on the
/// call: EC2 answers `ReleaseAddress` of an Elastic IP a NAT gateway still
/// maps (a deleted one's included, for some seconds after it reads
/// `deleted`) with `AuthFailure`, which there means "in use", not bad
/// credentials (those fail every call, and are called `AuthFailure` on
/// `DescribeAddresses` first).
pub fn classify_call(operation: &str, code: &str, message: &str) -> ErrorClass {
    match (operation, code) {
        ("ReleaseAddress", "AuthFailure") => ErrorClass::Dependency,
        _ => classify_message(code, message),
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
    // IAM propagates a new instance profile to EC2 in seconds (up to about
    // two minutes); until then EC2 calls the name invalid
    if code == "InvalidParameterValue" && message.contains("invalid iam instance profile") {
        return ErrorClass::Propagation;
    }
    // the same for a flow log's delivery role made a moment ago
    if message.contains("unable to assume given iam role") {
        return ErrorClass::Propagation;
    }
    // a security group and subnet made moments ago, before EC2's endpoints
    // agree which VPC each is in (the provider only pairs its own, of one VPC)
    if message.contains("belong to different networks") {
        return ErrorClass::Propagation;
    }
    let names_missing_object = [
        "does not exist",
        "not found",
        "cannot be found",
        // Auto Scaling, for target groups it does not see yet
        "ensure they exist",
    ]
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
        // `InvalidLaunchTemplateName.NotFoundException`
        || code.ends_with(".NotFoundException")
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
        | "InvalidAddress.InUse"
        // an IPv6 block still used by a subnet or a network interface, or a
        // subnet block whose removal has not finished
        | "InvalidCidrBlock.InUse"
        | "ScalingActivityInProgress" => ErrorClass::Dependency,
        "InvalidPermission.Duplicate"
        // a create's object exists already (made by an attempt whose answer was lost)
        | "InvalidSubnet.Conflict"
        | "InvalidGroup.Duplicate"
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
    fn quotas_are_told_from_throttling() {
        let api = |code: &str| AwsError::Api {
            operation: "CreateVpc",
            code: code.into(),
            message: String::new(),
            class: classify(code),
            request_id: None,
        };
        assert!(api("VpcLimitExceeded").is_quota());
        assert!(api("TooManyLoadBalancers").is_quota());
        assert!(!api("RequestLimitExceeded").is_quota());
        assert!(!api("InvalidParameterValue").is_quota());
    }

    #[test]
    fn classifies_codes_of_all_three_services() {
        assert_eq!(classify("InvalidVpcID.NotFound"), ErrorClass::NotFound);
        assert_eq!(
            classify("InvalidNatGatewayID.NotFound"),
            ErrorClass::NotFound
        );
        assert_eq!(classify("LoadBalancerNotFound"), ErrorClass::NotFound);
        assert_eq!(
            classify("InvalidLaunchTemplateName.NotFoundException"),
            ErrorClass::NotFound
        );
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
    fn an_address_a_nat_gateway_still_maps_is_in_use_and_elsewhere_auth_failure_is_not() {
        assert_eq!(
            classify_call(
                "ReleaseAddress",
                "AuthFailure",
                "You do not have permission to access the specified resource."
            ),
            ErrorClass::Dependency
        );
        assert_eq!(
            classify_call(
                "DescribeAddresses",
                "AuthFailure",
                "AWS was not able to validate the provided access credentials"
            ),
            ErrorClass::Other
        );
        assert_eq!(
            classify_call("ReleaseAddress", "InvalidAllocationID.NotFound", ""),
            ErrorClass::NotFound
        );
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
            (
                "ValidationError",
                "Provided Target Groups may not be valid. Please ensure they exist and try again.",
            ),
            (
                "InvalidParameterValue",
                "Value (ops) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
            ),
            (
                "InvalidParameter",
                "Unable to assume given IAM role: 'arn:aws:iam::123456789012:role/flow-logs'",
            ),
            (
                "InvalidParameter",
                "Security group sg-0abc and subnet subnet-0def belong to different networks.",
            ),
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

    #[test]
    fn api_errors_read_as_one_line_with_the_request_id() {
        let error = AwsError::Api {
            operation: "CreateListener",
            code: "CertificateNotFound".into(),
            message: one_line("Certificate 'arn:x'\n not found"),
            class: ErrorClass::Other,
            request_id: Some("0f6e-11".into()),
        };
        assert_eq!(
            error.to_string(),
            "CreateListener failed: CertificateNotFound: Certificate 'arn:x' not found (request ID 0f6e-11)"
        );
    }

    #[test]
    fn transport_failures_keep_the_cause_and_drop_the_wrappers() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Wrapper(#[source] std::io::Error);
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let text = cause_text(&Wrapper(refused));
        assert_eq!(text, "Connection refused (os error 111)");
        assert!(!text.contains('{'), "{text}");
    }

    fn response(status: u16, request_id: Option<&str>) -> HttpResponse {
        let mut response = HttpResponse::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        if let Some(id) = request_id {
            response
                .headers_mut()
                .insert("x-amzn-requestid", id.to_string());
        }
        response
    }

    #[test]
    fn answers_that_are_not_aws_errors_give_their_status_not_a_network_failure() {
        use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;
        use aws_smithy_types::error::ErrorMetadata;
        let not_aws = AwsError::from_sdk::<DescribeVpcsError>(
            "DescribeVpcs",
            SdkError::response_error("not XML", response(404, None)),
        );
        assert_eq!(
            not_aws.to_string(),
            "DescribeVpcs got HTTP 404 without an AWS error code from the endpoint"
        );
        let no_code = AwsError::from_sdk(
            "DescribeVpcs",
            SdkError::service_error(
                DescribeVpcsError::generic(ErrorMetadata::builder().build()),
                response(500, Some("req-1")),
            ),
        );
        assert!(
            matches!(no_code, AwsError::Unexpected { status: 500, .. }),
            "{no_code}"
        );
        assert!(
            no_code.to_string().ends_with("(request ID req-1)"),
            "{no_code}"
        );
        let coded = AwsError::from_sdk(
            "DescribeVpcs",
            SdkError::service_error(
                DescribeVpcsError::generic(
                    ErrorMetadata::builder()
                        .code("UnauthorizedOperation")
                        .message("You are not authorized\nto perform this operation.")
                        .build(),
                ),
                response(403, Some("req-2")),
            ),
        );
        assert_eq!(
            coded.to_string(),
            "DescribeVpcs failed: UnauthorizedOperation: You are not authorized to perform this operation. (request ID req-2)"
        );
    }
}
