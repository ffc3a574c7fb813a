//! The VPC's flow log: what it records and where it delivers.

/// Which traffic a flow log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TrafficType {
    /// accepted and rejected traffic (what AWS Foundational Security Best Practices EC2.6 asks for)
    #[default]
    All,
    Accept,
    Reject,
}

impl TrafficType {
    /// The values `flow_logs.traffic_type` accepts, as AWS spells them.
    pub const CHOICES: [&'static str; 3] = ["ALL", "ACCEPT", "REJECT"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ALL" => Some(Self::All),
            "ACCEPT" => Some(Self::Accept),
            "REJECT" => Some(Self::Reject),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Accept => "ACCEPT",
            Self::Reject => "REJECT",
        }
    }
}

/// Where a flow log delivers its records, judged from the destination ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowLogDestination {
    /// an S3 bucket, with an optional key prefix: the log delivery service writes
    /// with the bucket's policy, so no role is passed
    S3 { arn: String },
    /// a CloudWatch Logs log group, written through `role_arn`
    CloudWatchLogs { arn: String, role_arn: String },
}

impl FlowLogDestination {
    pub fn arn(&self) -> &str {
        match self {
            Self::S3 { arn } | Self::CloudWatchLogs { arn, .. } => arn,
        }
    }

    /// The destination type as EC2 spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::S3 { .. } => "s3",
            Self::CloudWatchLogs { .. } => "cloud-watch-logs",
        }
    }

    pub fn role_arn(&self) -> Option<&str> {
        match self {
            Self::S3 { .. } => None,
            Self::CloudWatchLogs { role_arn, .. } => Some(role_arn),
        }
    }
}

/// The service an ARN belongs to, as far as flow logs care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowLogService {
    S3,
    CloudWatchLogs,
}

/// The destination service of an ARN (`arn:<partition>:s3:::bucket[/prefix]` or
/// `arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]`); `None` for anything else.
pub fn flow_log_service(arn: &str) -> Option<FlowLogService> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if partition.is_empty() {
        return None;
    }
    match service {
        "s3" => Some(FlowLogService::S3),
        "logs" => Some(FlowLogService::CloudWatchLogs),
        _ => None,
    }
}

/// The form AWS reports a destination in: a log group's trailing `:*` and a
/// prefix's trailing `/` are not part of it.
pub fn normalized_destination(arn: &str) -> &str {
    arn.trim_end_matches(":*").trim_end_matches('/')
}

/// Aggregation intervals AWS offers, in seconds.
pub const FLOW_LOG_INTERVALS: [u32; 2] = [60, 600];
/// AWS's default aggregation interval, in seconds.
pub const DEFAULT_FLOW_LOG_INTERVAL: u32 = 600;

/// A flow log of the VPC's traffic, delivered to S3 or CloudWatch Logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowLogSpec {
    pub destination: FlowLogDestination,
    pub traffic_type: TrafficType,
    /// seconds over which packets are aggregated into one record
    pub max_aggregation_interval: u32,
}
