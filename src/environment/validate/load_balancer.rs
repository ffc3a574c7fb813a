//! The `load_balancer` block: certificate, settings, access logs.

use tf_provider::value::Value;

use crate::environment::model::{first, EnvironmentState, LoadBalancerBlock};
use crate::plan::spec::{DEFAULT_IDLE_TIMEOUT, DEFAULT_SSL_POLICY, IDLE_TIMEOUT_RANGE};

use super::{check_rule_count, in_block, Checker, Step};

/// The shape of an ACM certificate ARN or an IAM server certificate ARN.
pub(super) fn is_certificate_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let partition_ok = partition.starts_with("aws");
    let resource_ok = |kind: &str| {
        resource
            .strip_prefix(kind)
            .is_some_and(|id| !id.is_empty() && !id.contains(char::is_whitespace))
    };
    prefix == "arn"
        && partition_ok
        && account_ok
        && match service {
            "acm" => !region.is_empty() && resource_ok("certificate/"),
            "iam" => region.is_empty() && resource_ok("server-certificate/"),
            _ => false,
        }
}

pub(super) fn check_load_balancer(c: &mut Checker, config: &EnvironmentState) {
    let Some(lb) = first(&config.load_balancer) else {
        return;
    };
    let cidrs = c.cidr_list(
        &lb.ingress_cidrs,
        &in_block("load_balancer", "ingress_cidrs"),
    );
    if let (Value::Value(items), true) = (&lb.ingress_cidrs, cidrs.is_empty()) {
        if items.is_empty() {
            c.fail(in_block("load_balancer", "ingress_cidrs"), "No ingress allowed", "ingress_cidrs is empty, so nobody could reach the application. List at least one block, such as \"0.0.0.0/0\".");
        }
    }
    // a listener on 443 as well once a certificate is set (or may be: unknown)
    let ports: &[u16] = if lb.certificate_arn.is_null() {
        &[80]
    } else {
        &[80, 443]
    };
    check_rule_count(
        c,
        in_block("load_balancer", "ingress_cidrs"),
        &cidrs,
        ports,
        "the load balancer's security group",
    );
    check_load_balancer_settings(c, lb);
    if let Value::Value(arn) = &lb.certificate_arn {
        if !is_certificate_arn(arn) {
            c.fail(in_block("load_balancer", "certificate_arn"), "Invalid certificate ARN", format!("`{arn}` is not a certificate ARN; give an ACM certificate's ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID) or an IAM server certificate's (arn:aws:iam::ACCOUNT:server-certificate/NAME)."));
        }
    }
}

/// Why `name` cannot name an S3 bucket, after AWS's bucket naming rules.
pub(super) fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&name.len()) {
        Some("is not 3-63 characters long")
    } else if !name.bytes().all(allowed) {
        Some("may only hold lowercase letters, digits, dots and hyphens")
    } else if !edge(name.as_bytes().first()) || !edge(name.as_bytes().last()) {
        Some("must start and end with a letter or digit")
    } else if name.contains("..") {
        Some("must not hold two dots in a row")
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("must not be formatted as an IP address")
    } else if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", "--x-s3", ".mrap"]
            .iter()
            .any(|s| name.ends_with(s))
    {
        Some("uses a prefix or suffix AWS reserves")
    } else {
        None
    }
}

/// The shape of an Elastic Load Balancing security policy name, such as
/// `ELBSecurityPolicy-TLS13-1-2-2021-06` or `ELBSecurityPolicy-FS-1-2-Res-2020-10`.
pub(super) fn is_ssl_policy_name(name: &str) -> bool {
    name.strip_prefix("ELBSecurityPolicy-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !rest.starts_with('-')
            && !rest.ends_with('-')
    })
}

pub(super) fn check_load_balancer_settings(c: &mut Checker, lb: &LoadBalancerBlock) {
    if let Value::Value(policy) = &lb.ssl_policy {
        if !is_ssl_policy_name(policy) {
            c.fail(in_block("load_balancer", "ssl_policy"), "Invalid SSL policy name", format!("`{policy}` is not an Elastic Load Balancing security policy name. Use one of AWS's predefined policies, such as \"{DEFAULT_SSL_POLICY}\" or \"ELBSecurityPolicy-TLS13-1-2-Res-2021-06\" (`aws elbv2 describe-ssl-policies` lists them)."));
        }
    }
    if let Value::Value(seconds) = lb.idle_timeout {
        let in_range = u32::try_from(seconds).is_ok_and(|s| IDLE_TIMEOUT_RANGE.contains(&s));
        if !in_range {
            c.fail(in_block("load_balancer", "idle_timeout"), "idle_timeout out of range", format!("idle_timeout is {seconds} seconds; AWS accepts {} to {}. Default {DEFAULT_IDLE_TIMEOUT}.", IDLE_TIMEOUT_RANGE.start(), IDLE_TIMEOUT_RANGE.end()));
        }
    }
    let Some(logs) = first(&lb.access_logs) else {
        return;
    };
    let path = |name: &'static str| {
        let mut path = in_block("load_balancer", "access_logs");
        path.extend([Step::Index(0), Step::Attribute(name)]);
        path
    };
    if let Value::Value(bucket) = &logs.bucket {
        if let Some(problem) = bucket_name_problem(bucket) {
            c.fail(path("bucket"), "Invalid S3 bucket name", format!("`{bucket}` {problem}, so it cannot name an S3 bucket. Give the name of an existing bucket (not its ARN or URL), such as \"shop-alb-logs\"."));
        }
    }
    if let Value::Value(prefix) = &logs.prefix {
        if prefix.starts_with('/') || prefix.ends_with('/') {
            c.fail(path("prefix"), "Invalid access log prefix", format!("`{prefix}` starts or ends with \"/\", which AWS refuses. Write it without the slashes, such as \"{}\".", prefix.trim_matches('/')));
        } else if prefix.contains("AWSLogs") {
            c.fail(path("prefix"), "Invalid access log prefix", format!("`{prefix}` contains \"AWSLogs\", which AWS refuses: it adds AWSLogs/<account>/ after the prefix itself. Remove that part."));
        }
    }
}
