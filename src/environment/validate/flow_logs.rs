//! The `flow_logs` block: where the records go, the delivery role that goes
//! with a log group (and only with one), the traffic and the interval.

use tf_provider::value::Value;

use super::load_balancer::bucket_name_problem;
use super::{in_block, Checker, Step};
use crate::environment::model::{first, EnvironmentState};
use crate::plan::spec::{flow_log_service, FlowLogService, TrafficType, FLOW_LOG_INTERVALS};

fn path(name: &'static str) -> Vec<Step> {
    in_block("flow_logs", name)
}

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Why `arn` cannot be an S3 destination: `arn:<partition>:s3:::bucket[/prefix]`.
fn s3_destination_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, _, region, account, resource] = parts[..] else {
        return Some("is not an ARN of the form arn:aws:s3:::BUCKET[/PREFIX]".into());
    };
    if !region.is_empty() || !account.is_empty() {
        return Some(
            "names a region or account, which bucket ARNs leave empty (arn:aws:s3:::BUCKET)".into(),
        );
    }
    let (bucket, prefix) = resource.split_once('/').unwrap_or((resource, ""));
    if let Some(problem) = bucket_name_problem(bucket) {
        return Some(format!("names the bucket `{bucket}`, which {problem}"));
    }
    if prefix.split('/').any(|part| part == "AWSLogs") {
        return Some("uses AWSLogs as a folder of the prefix, which AWS reserves (it adds AWSLogs/<account>/ after the prefix itself)".into());
    }
    None
}

/// Why `arn` cannot be a log group destination:
/// `arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]`.
fn log_group_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, _, region, account, resource] = parts[..] else {
        return Some("is not an ARN of the form arn:aws:logs:REGION:ACCOUNT:log-group:NAME".into());
    };
    let name = resource
        .strip_prefix("log-group:")
        .map(|rest| rest.strip_suffix(":*").unwrap_or(rest));
    let name_ok = |name: &str| {
        (1..=512).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
    };
    if region.is_empty() || !is_account(account) {
        Some(
            "needs a region and a 12-digit account (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)"
                .into(),
        )
    } else if !name.is_some_and(name_ok) {
        Some("does not end in log-group: and a log group name of 1-512 letters, digits and . _ - / #".into())
    } else {
        None
    }
}

/// The shape of an IAM role ARN: `arn:<partition>:iam::<account>:role/<path/>name`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && is_account(account)
        && resource
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
}

pub(super) fn check_flow_logs(c: &mut Checker, config: &EnvironmentState) {
    let Some(block) = first(&config.flow_logs) else {
        return;
    };
    let service = match &block.destination_arn {
        Value::Value(arn) => {
            let service = flow_log_service(arn).filter(|_| arn.starts_with("arn:aws"));
            let problem = match service {
                Some(FlowLogService::S3) => s3_destination_problem(arn),
                Some(FlowLogService::CloudWatchLogs) => log_group_problem(arn),
                None => {
                    Some("is neither an S3 bucket ARN nor a CloudWatch Logs log group ARN".into())
                }
            };
            if let Some(problem) = problem {
                c.fail(path("destination_arn"), "Invalid flow log destination", format!("`{arn}` {problem}. Give an S3 bucket such as \"arn:aws:s3:::shop-flow-logs\" (optionally with a prefix: \"arn:aws:s3:::shop-flow-logs/vpc\") or a log group such as \"arn:aws:logs:us-east-1:123456789012:log-group:shop-vpc\"."));
            }
            service
        }
        _ => None,
    };
    match (&block.iam_role_arn, service) {
        (Value::Value(_), Some(FlowLogService::S3)) => {
            c.fail(path("iam_role_arn"), "Role not used with S3", "The log delivery service writes flow logs to S3 with the bucket's policy, not a role: remove iam_role_arn, and let the bucket policy allow delivery.logs.amazonaws.com to write (AWS's \"Publish flow logs to Amazon S3\").");
        }
        (Value::Null, Some(FlowLogService::CloudWatchLogs)) => {
            c.fail(path("iam_role_arn"), "Delivery role required", "Flow logs reach a CloudWatch Logs log group through a role the flow log service assumes: set iam_role_arn to a role that trusts vpc-flow-logs.amazonaws.com and may call logs:CreateLogStream, logs:PutLogEvents and logs:DescribeLogStreams on the group.");
        }
        (Value::Value(role), _) if !is_role_arn(role) => {
            c.fail(path("iam_role_arn"), "Invalid role ARN", format!("`{role}` is not an IAM role ARN; write it as arn:aws:iam::ACCOUNT:role/NAME, such as \"arn:aws:iam::123456789012:role/vpc-flow-logs\"."));
        }
        _ => {}
    }
    if let Value::Value(traffic) = &block.traffic_type {
        if TrafficType::parse(traffic).is_none() {
            c.fail(path("traffic_type"), "Unknown traffic type", format!("`{traffic}` is not one of {}. Use \"ALL\" (what EC2.6 asks for, with \"REJECT\"), \"ACCEPT\" or \"REJECT\", in capitals as AWS writes them.", TrafficType::CHOICES.map(|t| format!("\"{t}\"")).join(", ")));
        }
    }
    if let Value::Value(interval) = block.max_aggregation_interval {
        if !FLOW_LOG_INTERVALS.iter().any(|i| i64::from(*i) == interval) {
            c.fail(path("max_aggregation_interval"), "Unsupported aggregation interval", format!("AWS aggregates flow log records over 60 or 600 seconds, not {interval}. Use 60 for finer records or 600 (the default)."));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_destinations_follow_bucket_rules() {
        assert!(s3_destination_problem("arn:aws:s3:::shop-flow-logs").is_none());
        assert!(s3_destination_problem("arn:aws:s3:::shop-flow-logs/vpc/prod").is_none());
        assert!(s3_destination_problem("arn:aws:s3:::Shop").is_some());
        assert!(s3_destination_problem("arn:aws:s3:us-east-1::shop-logs").is_some());
        assert!(s3_destination_problem("arn:aws:s3:::shop-logs/AWSLogs").is_some());
    }

    #[test]
    fn log_groups_need_region_account_and_name() {
        let good = "arn:aws:logs:us-east-1:123456789012:log-group:shop/vpc";
        assert!(log_group_problem(good).is_none());
        assert!(log_group_problem(&format!("{good}:*")).is_none());
        assert!(log_group_problem("arn:aws:logs::123456789012:log-group:x").is_some());
        assert!(log_group_problem("arn:aws:logs:us-east-1:123:log-group:x").is_some());
        assert!(log_group_problem("arn:aws:logs:us-east-1:123456789012:stream:x").is_some());
        assert!(log_group_problem("arn:aws:logs:us-east-1:123456789012:log-group:a b").is_some());
    }

    #[test]
    fn role_arns_name_a_role() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/flow"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/service/flow"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/flow"));
        assert!(!is_role_arn("flow"));
    }
}
