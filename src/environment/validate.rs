//! Configuration checks that need no AWS call. Each problem names the attribute
//! and says how to fix it; values still unknown at plan time pass untouched.

mod app;
mod bastion;
mod flow_logs;
mod ipv6;
mod load_balancer;
mod network;
mod tags;
#[cfg(test)]
mod tests;

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use self::app::check_app;
use self::bastion::check_bastion;
use self::flow_logs::check_flow_logs;
use self::ipv6::check_ipv6;
use self::load_balancer::check_load_balancer;
use self::network::{check_name, check_subnets, check_vpc, check_zones};
use self::tags::check_tags;
pub use self::tags::{check_tag_total, tag_problems};
use super::model::{first, EnvironmentState, StrList};
use crate::plan::cidr::Cidr;
use crate::plan::spec::{
    parse_duration, parse_duration_text, NatStrategy, LONGEST_TIMEOUT, TAG_COMPONENT,
    TAG_ENVIRONMENT,
};

pub use crate::plan::cidr::LOAD_BALANCER_SUBNET_PREFIX;
/// AWS's limit of tags on one object (EC2, Elastic Load Balancing, Auto Scaling alike).
pub const MAX_TAGS: usize = 50;
/// Tags the provider itself puts on every object.
pub const PROVIDER_TAGS: [&str; 3] = [TAG_ENVIRONMENT, TAG_COMPONENT, "Name"];
const MAX_TAG_KEY_LEN: usize = 128;
const MAX_TAG_VALUE_LEN: usize = 256;
/// Launch template user data is limited to 16 KB before base64 encoding.
pub const MAX_USER_DATA_BYTES: usize = 16 * 1024;
/// Auto Scaling sizes are 32-bit integers.
const MAX_GROUP_SIZE: i64 = i32::MAX as i64;
/// SSH may reach at most this many public addresses (a /8's worth); private
/// ranges do not count, since they are not the internet.
const MAX_SSH_PUBLIC_ADDRESSES: u64 = 1 << 24;

/// AWS's default quota of inbound rules per security group (IPv4 rules; the
/// quota "Inbound or outbound rules per security group").
pub const MAX_INGRESS_RULES: usize = 60;

/// Refuses `cidrs` that would give a security group more inbound rules than
/// AWS allows: one rule per distinct block and port (`ports`, named for the message).
fn check_rule_count(c: &mut Checker, path: Vec<Step>, cidrs: &[Cidr], ports: &[u16], group: &str) {
    let blocks: std::collections::BTreeSet<&Cidr> = cidrs.iter().collect();
    let rules = blocks.len() * ports.len();
    if rules > MAX_INGRESS_RULES {
        let ports_text = ports
            .iter()
            .map(|p| format!("tcp/{p}"))
            .collect::<Vec<_>>()
            .join(" and ");
        c.fail(path, "Too many inbound rules", format!("These {} blocks make {rules} inbound rules on {group} (one per block for {ports_text}); AWS allows {MAX_INGRESS_RULES} inbound rules per security group. List at most {} blocks, merging neighbouring ones into larger blocks.", blocks.len(), MAX_INGRESS_RULES / ports.len().max(1)));
    }
}

/// One invalid input.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Attribute path in Terraform's notation, for example `app[0].port`.
    pub path: Vec<Step>,
    pub summary: String,
    pub detail: String,
}

/// A step of an attribute path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Attribute(&'static str),
    Index(i64),
    Key(String),
}

impl Problem {
    /// The path as Terraform prints it, e.g. `app[0].port` or `tags["aws:x"]`.
    pub fn path_text(&self) -> String {
        path_text(&self.path)
    }

    fn attribute_path(&self) -> AttributePath {
        let mut path = AttributePath::root();
        for step in &self.path {
            match step {
                Step::Attribute(name) => path.add_attribute(*name),
                Step::Index(i) => path.add_index(*i),
                Step::Key(k) => path.add_key(k.clone()),
            };
        }
        path
    }
}

/// Renders a path in Terraform's notation.
pub fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Attribute(name) if out.is_empty() => out.push_str(name),
            Step::Attribute(name) => {
                out.push('.');
                out.push_str(name)
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(k) => out.push_str(&format!("[\"{k}\"]")),
        }
    }
    out
}

/// Reports every problem as an error diagnostic on its attribute.
pub fn report(problems: &[Problem], diags: &mut Diagnostics) {
    for problem in problems {
        diags.error(
            problem.summary.clone(),
            problem.detail.clone(),
            problem.attribute_path(),
        );
    }
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, path: Vec<Step>, summary: impl Into<String>, detail: impl Into<String>) {
        self.problems.push(Problem {
            path,
            summary: summary.into(),
            detail: detail.into(),
        });
    }

    /// Checks each known item of a CIDR list; returns the parsed ones.
    fn cidr_list(&mut self, list: &StrList, base: &[Step]) -> Vec<Cidr> {
        let Value::Value(items) = list else {
            return Vec::new();
        };
        let mut parsed = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Value::Value(text) = item {
                let mut path = base.to_vec();
                path.push(Step::Index(index as i64));
                match text.parse::<Cidr>() {
                    Ok(cidr) => parsed.push((path, cidr)),
                    Err(e) => self.fail(
                        path,
                        "Invalid CIDR block",
                        format!("{e}. Write an IPv4 network such as 203.0.113.0/24."),
                    ),
                }
            }
        }
        parsed.into_iter().map(|(_, c)| c).collect()
    }
}

fn attr(name: &'static str) -> Vec<Step> {
    vec![Step::Attribute(name)]
}

/// An instance profile must be a name or an instance profile ARN: EC2 would refuse
/// anything else only when it launches an instance, after the rest was built.
fn check_instance_profile(c: &mut Checker, block: &'static str, value: &Value<String>) {
    if let Value::Value(text) = value {
        if let Some(problem) = crate::plan::spec::instance_profile_problem(text) {
            c.fail(in_block(block, "iam_instance_profile"), "Invalid instance profile", format!("`{text}` cannot name an IAM instance profile: {problem}. Give the profile's name (as `aws iam list-instance-profiles` shows it), such as \"app-ssm\", or its ARN, or leave iam_instance_profile out."));
        }
    }
}

fn in_block(block: &'static str, name: &'static str) -> Vec<Step> {
    vec![
        Step::Attribute(block),
        Step::Index(0),
        Step::Attribute(name),
    ]
}

/// Checks a resource configuration; an empty result means it is valid as far as can be told.
/// The problems of an environment's name alone, as [`check`] judges it: for
/// what names an existing environment (import, the data source).
pub fn check_name_only(name: &Value<String>) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    check_name(&mut c, name);
    c.problems
}

pub fn check(config: &EnvironmentState) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    check_name(&mut c, &config.name);
    let vpc = check_vpc(&mut c, &config.vpc_cidr);
    let zones = check_zones(&mut c, config);
    check_subnets(&mut c, config, vpc, zones.as_ref());
    if let Value::Value(nat) = &config.nat_gateways {
        if NatStrategy::parse(nat).is_none() {
            c.fail(
                attr("nat_gateways"),
                "Unknown NAT strategy",
                format!(
                    "`{nat}` is not one of {}. Use \"one_per_az\" for a NAT gateway per AZ, \"single\" for one shared gateway, \"regional\" for one regional gateway with an address per AZ, or \"none\".",
                    NatStrategy::CHOICES.map(|s| format!("\"{s}\"")).join(", ")
                ),
            );
        }
    }
    check_dhcp_options(&mut c, &config.dhcp_options_id);
    check_app(&mut c, config);
    check_load_balancer(&mut c, config);
    check_bastion(&mut c, config);
    check_ipv6(&mut c, config);
    check_flow_logs(&mut c, config);
    check_timeouts(&mut c, config);
    check_tags(&mut c, config);
    c.problems
}

/// A DHCP options set is named by its ID (`dopt-` and 8 or 17 hexadecimal
/// digits), or `default` for none at all, as AWS takes it.
fn check_dhcp_options(c: &mut Checker, value: &Value<String>) {
    let Value::Value(id) = value else {
        return;
    };
    let hex = id.strip_prefix("dopt-").filter(|h| {
        matches!(h.len(), 8 | 17)
            && h.chars()
                .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase())
    });
    if hex.is_none() && id != "default" {
        c.fail(
            attr("dhcp_options_id"),
            "Invalid DHCP options set ID",
            format!("`{id}` is not a DHCP options set ID; write one like \"dopt-0123456789abcdef0\" (see `aws ec2 describe-dhcp-options`), or \"default\" for none."),
        );
    }
}

/// The problems of `config` for a Terraform that cannot send write-only
/// values (before 1.11): it would store them in state and plan.
pub fn write_only_unsupported(config: &EnvironmentState) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    if first(&config.app).is_some_and(|app| !app.user_data_wo.is_null()) {
        c.fail(in_block("app", "user_data_wo"), "Write-only attributes need Terraform 1.11 or later", "This Terraform does not support write-only attributes, so `user_data_wo` would be stored in state and plan. Upgrade to Terraform 1.11 or later (or OpenTofu 1.11 or later), or pass the script in `user_data` instead.");
    }
    c.problems
}

fn check_timeouts(c: &mut Checker, config: &EnvironmentState) {
    let Some(timeouts) = first(&config.timeouts) else {
        return;
    };
    for (value, name) in [
        (&timeouts.create, "create"),
        (&timeouts.update, "update"),
        (&timeouts.delete, "delete"),
    ] {
        if let Value::Value(text) = value {
            if parse_duration(text).is_some() {
                continue;
            }
            let longest = LONGEST_TIMEOUT.as_secs() / 3600;
            // well formed, but beyond what 64 bits of seconds hold
            let overflows = text
                .chars()
                .all(|ch| ch.is_ascii_digit() || "hms".contains(ch))
                && text.ends_with(['h', 'm', 's'])
                && text.chars().any(|ch| ch.is_ascii_digit() && ch != '0');
            if parse_duration_text(text).is_some() || overflows {
                c.fail(in_block("timeouts", name), "Duration too long", format!("`{text}` is longer than any wait the provider can use; the longest is \"{longest}h\" (7 days). AWS finishes every step far sooner, so \"1h\" is plenty."));
            } else {
                c.fail(in_block("timeouts", name), "Invalid duration", format!("`{text}` is not a duration; write hours, minutes and seconds such as \"30m\", \"1h30m\" or \"90s\"."));
            }
        }
    }
}
