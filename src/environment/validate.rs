//! Configuration checks that need no AWS call. Each problem names the attribute
//! and says how to fix it; values still unknown at plan time pass untouched.

use std::collections::{BTreeMap, BTreeSet};

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::model::{
    first, known_map, EnvironmentState, InstanceRefreshBlock, LoadBalancerBlock, StrList,
};
use crate::plan::cidr::{
    carve, carved_subnet_prefix, CarveError, Cidr, Tier, SLOTS_PER_TIER, SMALLEST_SUBNET_PREFIX,
    VPC_PREFIX_RANGE,
};
use crate::plan::spec::{
    parse_duration, parse_duration_text, AppSpec, NatStrategy, RefreshPreferences,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_SSL_POLICY, DEFAULT_VPC_CIDR, IDLE_TIMEOUT_RANGE,
    LONGEST_TIMEOUT, MAX_HEALTH_CHECK_GRACE_PERIOD, MAX_INSTANCE_WARMUP, MAX_NAME_LEN,
    TAG_COMPONENT, TAG_ENVIRONMENT,
};

/// The largest subnet prefix an Application Load Balancer accepts: AWS needs
/// a /27 or larger in every zone, with 8 free addresses for the load balancer.
pub const LOAD_BALANCER_SUBNET_PREFIX: u8 = 27;
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
                    "`{nat}` is not one of {}. Use \"one_per_az\" for a NAT gateway per AZ, \"single\" for one shared gateway, or \"none\".",
                    NatStrategy::CHOICES.map(|s| format!("\"{s}\"")).join(", ")
                ),
            );
        }
    }
    check_app(&mut c, config);
    check_load_balancer(&mut c, config);
    check_bastion(&mut c, config);
    check_timeouts(&mut c, config);
    check_tags(&mut c, config);
    c.problems
}

fn check_name(c: &mut Checker, name: &Value<String>) {
    let Value::Value(name) = name else { return };
    let fix = format!(
        "Use 1-{MAX_NAME_LEN} letters, digits and single hyphens, starting with a letter and not ending with a hyphen: the name feeds the load balancer and target group names (32 characters at most, the target group adding the port), the security group names and the `Name` tags."
    );
    let valid_chars = name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    let starts_with_letter = name
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphabetic());
    let lower = name.to_ascii_lowercase();
    let problem = if name.is_empty() || name.len() > MAX_NAME_LEN {
        Some(format!("`{name}` has {} characters.", name.len()))
    } else if !valid_chars {
        Some(format!(
            "`{name}` has characters other than letters, digits and hyphens."
        ))
    } else if !starts_with_letter {
        Some(format!("`{name}` does not start with a letter."))
    } else if name.ends_with('-') {
        Some(format!("`{name}` ends with a hyphen."))
    } else if name.contains("--") {
        Some(format!(
            "`{name}` has two hyphens in a row, which AWS forbids in target group names."
        ))
    } else if lower.starts_with("internal-") {
        Some(format!(
            "`{name}` starts with `internal-`, which AWS reserves for internal load balancers."
        ))
    } else if lower.starts_with("sg-") {
        Some(format!("`{name}` starts with `sg-`: the security groups are named after the environment, and AWS forbids group names starting with `sg-`."))
    } else {
        None
    };
    if let Some(problem) = problem {
        c.fail(
            attr("name"),
            "Invalid environment name",
            format!("{problem} {fix}"),
        );
    }
}

fn check_vpc(c: &mut Checker, vpc_cidr: &Value<String>) -> Option<Cidr> {
    let text = match vpc_cidr {
        Value::Value(text) => text.as_str(),
        Value::Null => DEFAULT_VPC_CIDR,
        Value::Unknown => return None,
    };
    match text.parse::<Cidr>() {
        Err(e) => {
            c.fail(
                attr("vpc_cidr"),
                "Invalid VPC CIDR block",
                format!("{e}. Use a block from /16 to /24, for example 10.0.0.0/16."),
            );
            None
        }
        Ok(cidr) if !VPC_PREFIX_RANGE.contains(&cidr.prefix()) => {
            c.fail(
                attr("vpc_cidr"),
                "VPC CIDR prefix out of range",
                format!(
                    "`{cidr}` has a /{} prefix; AWS VPCs and the carving into 16 subnets need a prefix from /{} to /{}, for example 10.0.0.0/16.",
                    cidr.prefix(),
                    VPC_PREFIX_RANGE.start(),
                    VPC_PREFIX_RANGE.end()
                ),
            );
            None
        }
        Ok(cidr) => Some(cidr),
    }
}

/// Returns the configured zone names when they are known.
fn check_zones(c: &mut Checker, config: &EnvironmentState) -> Option<Vec<String>> {
    if let Value::Value(count) = config.az_count {
        if count < 2 || count > SLOTS_PER_TIER as i64 {
            c.fail(
                attr("az_count"),
                "Invalid number of availability zones",
                format!("az_count is {count}; a production environment spans from 2 to {SLOTS_PER_TIER} availability zones. Set az_count to a number from 2 to {SLOTS_PER_TIER}."),
            );
        }
    }
    let Value::Value(items) = &config.availability_zones else {
        return None;
    };
    let names: Vec<String> = items
        .iter()
        .filter_map(|z| z.as_ref_option().cloned())
        .collect();
    let all_known = names.len() == items.len();
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        if let Value::Value(zone) = item {
            if !seen.insert(zone.clone()) {
                c.fail(
                    vec![Step::Attribute("availability_zones"), Step::Index(index as i64)],
                    "Duplicate availability zone",
                    format!("`{zone}` is listed twice; each zone gets one public and one private subnet, so list each zone once."),
                );
            }
        }
    }
    if all_known && (items.len() < 2 || items.len() > SLOTS_PER_TIER) {
        c.fail(
            attr("availability_zones"),
            "Invalid number of availability zones",
            format!("{} zones listed; list from 2 to {SLOTS_PER_TIER} distinct zones so the environment survives the loss of one.", items.len()),
        );
    }
    if let (Value::Value(count), true) = (config.az_count, all_known) {
        if count as usize != items.len() {
            c.fail(
                attr("az_count"),
                "az_count disagrees with availability_zones",
                format!("az_count is {count} but {} zones are listed. Remove az_count or make it match.", items.len()),
            );
        }
    }
    all_known.then_some(names)
}

fn check_subnets(
    c: &mut Checker,
    config: &EnvironmentState,
    vpc: Option<Cidr>,
    zones: Option<&Vec<String>>,
) {
    let problems_before = c.problems.len();
    let mut placed: Vec<(Vec<Step>, Cidr)> = Vec::new();
    for (attribute, map) in [
        ("public_subnet_cidrs", &config.public_subnet_cidrs),
        ("private_subnet_cidrs", &config.private_subnet_cidrs),
    ] {
        let Value::Value(entries) = map else { continue };
        if config.availability_zones.is_null() {
            c.fail(
                attr(attribute),
                "Subnet blocks need named zones",
                format!("{attribute} is keyed by zone name, but availability_zones is not set. List the zones in availability_zones, or leave {attribute} out to have the blocks carved."),
            );
        }
        if let Some(zones) = zones {
            let missing: Vec<&String> =
                zones.iter().filter(|z| !entries.contains_key(*z)).collect();
            if !missing.is_empty() {
                c.fail(
                    attr(attribute),
                    "Subnet blocks missing for some zones",
                    format!(
                        "{attribute} has no block for {}. Give a block for every zone in availability_zones, or leave {attribute} out to have them carved.",
                        missing.iter().map(|z| format!("`{z}`")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        for (zone, value) in entries {
            let path = vec![Step::Attribute(attribute), Step::Key(zone.clone())];
            if let Some(zones) = zones {
                if !zones.contains(zone) {
                    c.fail(
                        path.clone(),
                        "Subnet for an unused availability zone",
                        format!("`{zone}` is not in availability_zones ({}); key subnet CIDRs by the zones the environment uses.", zones.join(", ")),
                    );
                }
            }
            let Value::Value(text) = value else { continue };
            let cidr = match text.parse::<Cidr>() {
                Ok(cidr) => cidr,
                Err(e) => {
                    c.fail(
                        path,
                        "Invalid subnet CIDR block",
                        format!("{e}. Write an IPv4 network inside vpc_cidr."),
                    );
                    continue;
                }
            };
            if let Some(vpc) = vpc {
                if !vpc.contains(&cidr) {
                    c.fail(path.clone(), "Subnet outside the VPC", format!("`{cidr}` is not inside the VPC block {vpc}. Choose a block within {vpc}."));
                    continue;
                }
            }
            if cidr.prefix() > SMALLEST_SUBNET_PREFIX {
                c.fail(path.clone(), "Subnet too small", format!("`{cidr}` is smaller than a /{SMALLEST_SUBNET_PREFIX}, the smallest subnet AWS allows."));
                continue;
            }
            if attribute == "public_subnet_cidrs" && cidr.prefix() > LOAD_BALANCER_SUBNET_PREFIX {
                c.fail(path.clone(), "Subnet too small for the load balancer", format!("`{cidr}` is smaller than a /{LOAD_BALANCER_SUBNET_PREFIX}; the load balancer lives in the public subnets and AWS needs a /{LOAD_BALANCER_SUBNET_PREFIX} or larger, with 8 free addresses, in each. Give a /{LOAD_BALANCER_SUBNET_PREFIX} or larger block."));
                continue;
            }
            if let Some((other, _)) = placed.iter().find(|(_, used)| used.overlaps(&cidr)) {
                let other = path_text(other);
                c.fail(
                    path.clone(),
                    "Overlapping subnets",
                    format!(
                        "`{cidr}` overlaps the block of {other}. Give every subnet its own block."
                    ),
                );
                continue;
            }
            placed.push((path, cidr));
        }
    }
    let explicit_blocks_valid = c.problems.len() == problems_before;
    check_carving(c, config, vpc, zones, explicit_blocks_valid);
}

/// The blocks the provider carves itself: each tier's subnets must be large
/// enough for what runs in them, and explicit blocks must leave them room.
fn check_carving(
    c: &mut Checker,
    config: &EnvironmentState,
    vpc: Option<Cidr>,
    zones: Option<&Vec<String>>,
    explicit_blocks_valid: bool,
) {
    let Some(vpc) = vpc else { return };
    let carved_prefix = carved_subnet_prefix(vpc);
    if config.public_subnet_cidrs.is_null() && carved_prefix > LOAD_BALANCER_SUBNET_PREFIX {
        c.fail(
            attr("vpc_cidr"),
            "VPC too small for the load balancer",
            format!(
                "`{vpc}` is carved into /{carved_prefix} subnets, but the load balancer needs a /{LOAD_BALANCER_SUBNET_PREFIX} or larger public subnet in each zone. Use a VPC of /{} or larger, or give public_subnet_cidrs of /{LOAD_BALANCER_SUBNET_PREFIX} or larger.",
                LOAD_BALANCER_SUBNET_PREFIX - (carved_prefix - vpc.prefix())
            ),
        );
        return;
    }
    let explicit = [
        (Tier::Public, &config.public_subnet_cidrs),
        (Tier::Private, &config.private_subnet_cidrs),
    ];
    let carving = explicit.iter().any(|(_, map)| map.is_null());
    let all_known = explicit.iter().all(|(_, map)| known_map(map).is_some());
    let (Some(zones), true, true, true) = (zones, carving, all_known, explicit_blocks_valid) else {
        return;
    };
    let mut existing = BTreeMap::new();
    for (tier, map) in explicit {
        if let Some(entries) = known_map(map) {
            for (zone, text) in entries {
                if let Ok(cidr) = text.parse::<Cidr>() {
                    existing.insert((tier, zone), cidr);
                }
            }
        }
    }
    if let Err(error @ CarveError::NoFreeSlot { tier, .. }) = carve(vpc, zones, &existing) {
        let blocking = if tier == Tier::Public.as_str() {
            "private_subnet_cidrs"
        } else {
            "public_subnet_cidrs"
        };
        c.fail(
            attr(blocking),
            "Explicit subnets leave no room",
            format!("{error}. The provider carves the {tier} subnets from /{carved_prefix} slots of {vpc}; move the blocks of {blocking} so a slot stays free in each zone, or give {tier}_subnet_cidrs as well."),
        );
    }
}

fn check_app(c: &mut Checker, config: &EnvironmentState) {
    let Some(app) = first(&config.app) else {
        return;
    };
    if let Value::Value(port) = app.port {
        if !(1..=65535).contains(&port) {
            c.fail(
                in_block("app", "port"),
                "Port out of range",
                format!("port is {port}; use a TCP port from 1 to 65535."),
            );
        }
    }
    check_sizes(c, app);
    if let Value::Value(target) = app.cpu_target {
        if !(target > 0.0 && target <= 100.0) {
            c.fail(in_block("app", "cpu_target"), "cpu_target out of range", format!("cpu_target is {target}; it is a percentage of average CPU, greater than 0 and at most 100 (for example 50)."));
        }
    }
    if let Value::Value(path) = &app.health_check_path {
        if !path.starts_with('/') || path.len() > 1024 {
            c.fail(in_block("app", "health_check_path"), "Invalid health check path", format!("`{path}` must start with `/` and be at most 1024 characters, for example \"/health\"."));
        }
    }
    if let Value::Value(grace) = app.health_check_grace_period {
        if !(0..=i64::from(MAX_HEALTH_CHECK_GRACE_PERIOD)).contains(&grace) {
            c.fail(in_block("app", "health_check_grace_period"), "health_check_grace_period out of range", format!("health_check_grace_period is {grace}; AWS accepts 0 to {MAX_HEALTH_CHECK_GRACE_PERIOD} seconds. Give instances about as long as the application takes to start, for example 300."));
        }
    }
    if let Some(refresh) = first(&app.instance_refresh) {
        check_instance_refresh(c, refresh);
    }
    check_instance_profile(c, "app", &app.iam_instance_profile);
    if let Value::Value(data) = &app.user_data {
        if data.len() > MAX_USER_DATA_BYTES {
            c.fail(in_block("app", "user_data"), "User data too long", format!("user_data has {} bytes; AWS accepts at most {MAX_USER_DATA_BYTES} (16 KB). Keep a short script that downloads the rest, for example from S3.", data.len()));
        }
    }
    for (value, name) in [
        (&app.instance_type, "instance_type"),
        (&app.ami_id, "ami_id"),
    ] {
        if let Value::Value(text) = value {
            let valid = if name == "ami_id" {
                text.starts_with("ami-")
            } else {
                text.contains('.')
            };
            if !valid {
                let example = if name == "ami_id" {
                    "ami-0123456789abcdef0"
                } else {
                    "t3.micro"
                };
                c.fail(
                    in_block("app", name),
                    format!("Invalid {name}"),
                    format!("`{text}` is not a valid {name}; write one like \"{example}\"."),
                );
            }
        }
    }
}

fn in_refresh(name: &'static str) -> Vec<Step> {
    let mut path = in_block("app", "instance_refresh");
    path.extend([Step::Index(0), Step::Attribute(name)]);
    path
}

/// AWS's rules for refresh preferences, judged with the defaults of what is not set.
fn check_instance_refresh(c: &mut Checker, refresh: &InstanceRefreshBlock) {
    let defaults = RefreshPreferences::default();
    let (min_range, max_range) = (
        RefreshPreferences::MIN_HEALTHY_RANGE,
        RefreshPreferences::MAX_HEALTHY_RANGE,
    );
    let percentage = |value: &Value<i64>, default: u32| match value {
        Value::Value(n) => Some(*n),
        Value::Null => Some(i64::from(default)),
        Value::Unknown => None,
    };
    let min = percentage(
        &refresh.min_healthy_percentage,
        defaults.min_healthy_percentage,
    );
    let max = percentage(
        &refresh.max_healthy_percentage,
        defaults.max_healthy_percentage,
    );
    let mut in_range = true;
    if let Some(min) = min.filter(|m| !contains(&min_range, *m)) {
        in_range = false;
        c.fail(in_refresh("min_healthy_percentage"), "min_healthy_percentage out of range", format!("min_healthy_percentage is {min}; AWS accepts {} to {} percent of the desired capacity, for example 90.", min_range.start(), min_range.end()));
    }
    if let Some(max) = max.filter(|m| !contains(&max_range, *m)) {
        in_range = false;
        c.fail(in_refresh("max_healthy_percentage"), "max_healthy_percentage out of range", format!("max_healthy_percentage is {max}; AWS accepts {} to {} percent of the desired capacity, for example 100 (replace, then launch) or 110 (launch replacements first).", max_range.start(), max_range.end()));
    }
    if let (Some(min), Some(max), true) = (min, max, in_range) {
        let spread = RefreshPreferences::MAX_HEALTHY_SPREAD;
        if max - min > i64::from(spread) {
            c.fail(in_refresh("max_healthy_percentage"), "Healthy percentages too far apart", format!("max_healthy_percentage ({max}) is {} above min_healthy_percentage ({min}); AWS allows at most {spread}. Lower max_healthy_percentage to {} or raise min_healthy_percentage to {}.", max - min, min + i64::from(spread), max - i64::from(spread)));
        }
    }
    if let Value::Value(warmup) = refresh.instance_warmup {
        if !(0..=i64::from(MAX_INSTANCE_WARMUP)).contains(&warmup) {
            c.fail(in_refresh("instance_warmup"), "instance_warmup out of range", format!("instance_warmup is {warmup}; use 0 to {MAX_INSTANCE_WARMUP} seconds, or leave it unset so AWS waits the group's health check grace period."));
        }
    }
}

fn contains(range: &std::ops::RangeInclusive<u32>, value: i64) -> bool {
    (i64::from(*range.start())..=i64::from(*range.end())).contains(&value)
}

/// A size as the group will get it: the configured value, else its default;
/// `None` while unknown. The flag says whether it was configured.
type Size = Option<(i64, bool)>;

fn size_text((value, configured): (i64, bool)) -> String {
    if configured {
        value.to_string()
    } else {
        format!("{value}, the default")
    }
}

/// Sizes are judged as the group gets them, defaults included; a size still
/// unknown at plan time is not judged, and neither is what depends on it.
fn check_sizes(c: &mut Checker, app: &super::model::AppBlock) {
    let defaults = AppSpec::default();
    let configured = |value: &Value<i64>| match value {
        Value::Value(n) => Some(*n),
        _ => None,
    };
    let mut sizes_valid = true;
    for (value, name) in [
        (&app.min_size, "min_size"),
        (&app.max_size, "max_size"),
        (&app.desired_capacity, "desired_capacity"),
    ] {
        match configured(value) {
            Some(n) if n < 0 => c.fail(
                in_block("app", name),
                "Negative size",
                format!("{name} is {n}; sizes count instances and cannot be negative."),
            ),
            Some(n) if n > MAX_GROUP_SIZE => c.fail(
                in_block("app", name),
                "Size too large",
                format!("{name} is {n}; Auto Scaling accepts at most {MAX_GROUP_SIZE}."),
            ),
            _ => continue,
        }
        sizes_valid = false;
    }
    if !sizes_valid {
        return;
    }
    let min: Size = match app.min_size {
        Value::Value(n) => Some((n, true)),
        Value::Null => Some((i64::from(defaults.min_size), false)),
        Value::Unknown => None,
    };
    let max: Size = match (app.max_size, min) {
        (Value::Value(n), _) => Some((n, true)),
        // the default maximum grows with a larger min_size (see apply_defaults)
        (Value::Null, Some((min, _))) => Some((min.max(i64::from(defaults.max_size)), false)),
        _ => None,
    };
    let desired: Size = configured(&app.desired_capacity).map(|n| (n, true));
    if let Some((0, _)) = max {
        c.fail(
            in_block("app", "max_size"),
            "max_size too small",
            "max_size is 0; it must be at least 1 so the group can run the app.",
        );
        return;
    }
    if let (Some(low), Some(high)) = (min, max) {
        if low.0 > high.0 {
            let (path, fix) = if low.1 {
                (
                    "min_size",
                    format!("Raise max_size to at least {} or lower min_size.", low.0),
                )
            } else {
                (
                    "max_size",
                    format!(
                        "Raise max_size to at least {}, or set min_size to {} or less.",
                        low.0, high.0
                    ),
                )
            };
            c.fail(
                in_block("app", path),
                "min_size exceeds max_size",
                format!(
                    "min_size is {} but max_size is {}. {fix}",
                    size_text(low),
                    size_text(high)
                ),
            );
            return;
        }
    }
    if let Some(want) = desired {
        let below = min.is_some_and(|low| want.0 < low.0);
        let above = max.is_some_and(|high| want.0 > high.0);
        if below || above {
            let bound = |size: Size| size.map_or("unknown".to_string(), size_text);
            c.fail(
                in_block("app", "desired_capacity"),
                "desired_capacity outside the bounds",
                format!(
                    "desired_capacity is {}; it must lie between min_size ({}) and max_size ({}). Change desired_capacity or the bound it crosses.",
                    want.0,
                    bound(min),
                    bound(max)
                ),
            );
        }
    }
}

/// The shape of an ACM certificate ARN or an IAM server certificate ARN.
fn is_certificate_arn(arn: &str) -> bool {
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

fn check_load_balancer(c: &mut Checker, config: &EnvironmentState) {
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
    check_load_balancer_settings(c, lb);
    if let Value::Value(arn) = &lb.certificate_arn {
        if !is_certificate_arn(arn) {
            c.fail(in_block("load_balancer", "certificate_arn"), "Invalid certificate ARN", format!("`{arn}` is not a certificate ARN; give an ACM certificate's ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID) or an IAM server certificate's (arn:aws:iam::ACCOUNT:server-certificate/NAME)."));
        }
    }
}

/// Why `name` cannot name an S3 bucket, after AWS's bucket naming rules.
fn bucket_name_problem(name: &str) -> Option<&'static str> {
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
fn is_ssl_policy_name(name: &str) -> bool {
    name.strip_prefix("ELBSecurityPolicy-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !rest.starts_with('-')
            && !rest.ends_with('-')
    })
}

fn check_load_balancer_settings(c: &mut Checker, lb: &LoadBalancerBlock) {
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

fn check_bastion(c: &mut Checker, config: &EnvironmentState) {
    let block = first(&config.bastion);
    let enabled = match block.map(|b| &b.enabled) {
        None | Some(Value::Null) | Some(Value::Value(true)) => Some(true),
        Some(Value::Value(false)) => Some(false),
        Some(Value::Unknown) => None,
    };
    let ssh = block
        .map(|b| b.ssh_ingress_cidrs.clone())
        .unwrap_or_default();
    let path = in_block("bastion", "ssh_ingress_cidrs");
    let cidrs = c.cidr_list(&ssh, &path);
    if let Value::Value(items) = &ssh {
        for (index, item) in items.iter().enumerate() {
            if let Some(cidr) = item.as_ref_option().and_then(|t| t.parse::<Cidr>().ok()) {
                if cidr.prefix() == 0 {
                    let mut at = path.clone();
                    at.push(Step::Index(index as i64));
                    c.fail(at, "SSH open to the whole internet", format!("`{cidr}` would expose SSH to every address. List your office or VPN ranges instead, such as 203.0.113.0/24."));
                }
            }
        }
    }
    let all_known = matches!(&ssh, Value::Value(items) if items.iter().all(|i| !i.is_unknown()));
    let literal_world = cidrs.iter().any(|cidr| cidr.prefix() == 0);
    let reach = public_addresses(&cidrs);
    if all_known && !literal_world && reach > MAX_SSH_PUBLIC_ADDRESSES {
        c.fail(
            path.clone(),
            "SSH open to too much of the internet",
            format!("Together these blocks let {reach} public addresses reach SSH ({:.0}% of the IPv4 internet); at most {MAX_SSH_PUBLIC_ADDRESSES} (a /8) are allowed, and private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10) do not count. List your office or VPN ranges, such as 203.0.113.0/24.", reach as f64 * 100.0 / (1u64 << 32) as f64),
        );
    }
    if let Some(bastion) = block {
        check_instance_profile(c, "bastion", &bastion.iam_instance_profile);
    }
    if let Some(Value::Value(key)) = block.map(|b| &b.key_name) {
        if key.is_empty() || key.len() > 255 || !key.is_ascii() {
            c.fail(in_block("bastion", "key_name"), "Invalid key pair name", format!("`{key}` cannot name an EC2 key pair: names have 1 to 255 ASCII characters. Give the name of a key pair of this region, or leave key_name out."));
        }
    }
    let missing =
        matches!(ssh, Value::Null) || matches!(&ssh, Value::Value(items) if items.is_empty());
    if enabled == Some(true) && missing && cidrs.is_empty() {
        let at = if block.is_some() {
            path
        } else {
            attr("bastion")
        };
        c.fail(at, "Bastion needs ssh_ingress_cidrs", "The bastion is enabled (the default) but no address may reach it. Add `bastion { ssh_ingress_cidrs = [\"203.0.113.0/24\"] }` with your admin ranges, or `bastion { enabled = false }`.");
    }
}

/// How many addresses outside the private ranges the blocks cover together.
fn public_addresses(cidrs: &[Cidr]) -> u64 {
    let span = |cidr: &Cidr| {
        let start = u64::from(u32::from(cidr.network()));
        (start, start + cidr.size())
    };
    let mut spans: Vec<(u64, u64)> = cidrs.iter().map(span).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let private: Vec<(u64, u64)> = [
        "10.0.0.0/8",
        "100.64.0.0/10",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ]
    .iter()
    .filter_map(|text| text.parse::<Cidr>().ok())
    .map(|cidr| span(&cidr))
    .collect();
    merged
        .iter()
        .map(|&(start, end)| {
            let inside_private: u64 = private
                .iter()
                .map(|&(p_start, p_end)| end.min(p_end).saturating_sub(start.max(p_start)))
                .sum();
            end - start - inside_private
        })
        .sum()
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

fn check_tags(c: &mut Checker, config: &EnvironmentState) {
    let Some(tags) = known_map(&config.tags) else {
        return;
    };
    c.problems.extend(tag_problems(&tags, &attr("tags")));
    if tags.len() + PROVIDER_TAGS.len() > MAX_TAGS {
        c.fail(
            attr("tags"),
            "Too many tags",
            tag_count_detail(tags.len(), 0),
        );
    }
}

fn tag_count_detail(own: usize, from_provider_block: usize) -> String {
    let room = MAX_TAGS - PROVIDER_TAGS.len();
    format!(
        "{own} tags here and {from_provider_block} more from the provider's default_tags; AWS allows {MAX_TAGS} tags per object and the provider adds {} of its own ({}), which leaves {room}. Remove tags.",
        PROVIDER_TAGS.len(),
        PROVIDER_TAGS.join(", ")
    )
}

/// Checks tag keys and values against AWS's rules for every service the
/// environment tags (EC2, Elastic Load Balancing, Auto Scaling); `base` is
/// the path of the map. Used for the resource's `tags` and the provider's
/// `default_tags`.
pub fn tag_problems(tags: &BTreeMap<String, String>, base: &[Step]) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    // Elastic Load Balancing allows only these characters in keys and values
    let allowed = |text: &str| {
        text.chars()
            .all(|ch| ch.is_alphanumeric() || ch == ' ' || "_.:/=+-@".contains(ch))
    };
    for (key, value) in tags {
        let mut path = base.to_vec();
        path.push(Step::Key(key.clone()));
        let lower = key.to_ascii_lowercase();
        let problem = if key.is_empty() {
            Some((
                "Empty tag key",
                "A tag key cannot be empty. Give the tag a key.".to_string(),
            ))
        } else if lower.starts_with("aws:") || lower.starts_with("prodvpc:") {
            Some(("Reserved tag key", format!("`{key}` uses a reserved prefix (`aws:` belongs to AWS, `prodvpc:` marks ownership). Rename the tag.")))
        } else if key == "Name" {
            Some(("Reserved tag key", "The provider names every object itself (`<name>-<component>`), so a `Name` tag would be overwritten. Rename the tag, for example to `Environment`.".to_string()))
        } else if key.chars().count() > MAX_TAG_KEY_LEN {
            Some((
                "Tag key too long",
                format!(
                    "The key `{key}` has {} characters; AWS allows {MAX_TAG_KEY_LEN}. Shorten it.",
                    key.chars().count()
                ),
            ))
        } else if value.chars().count() > MAX_TAG_VALUE_LEN {
            Some(("Tag value too long", format!("The value of `{key}` has {} characters; AWS allows {MAX_TAG_VALUE_LEN}. Shorten it.", value.chars().count())))
        } else if !allowed(key) || !allowed(value) {
            Some(("Invalid characters in a tag", format!("`{key}` = `{value}` has characters the load balancer refuses in tags. Use letters, digits, spaces and _ . : / = + - @.")))
        } else {
            None
        };
        if let Some((summary, detail)) = problem {
            c.fail(path, summary, detail);
        }
    }
    c.problems
}

/// The tag limit counted with the provider's `default_tags`, which only the
/// configured provider knows: checked at plan time.
pub fn check_tag_total(
    config: &EnvironmentState,
    default_tags: &BTreeMap<String, String>,
) -> Vec<Problem> {
    let Some(tags) = known_map(&config.tags) else {
        return Vec::new();
    };
    let from_defaults = default_tags
        .keys()
        .filter(|k| !tags.contains_key(*k))
        .count();
    if tags.len() + from_defaults + PROVIDER_TAGS.len() <= MAX_TAGS {
        return Vec::new();
    }
    vec![Problem {
        path: attr("tags"),
        summary: "Too many tags".to_string(),
        detail: tag_count_detail(tags.len(), from_defaults),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::model::{
        string_list, string_map, AccessLogsBlock, AppBlock, BastionBlock,
    };

    fn config() -> EnvironmentState {
        EnvironmentState {
            name: Value::Value("shop".into()),
            bastion: Value::Value(vec![BastionBlock {
                enabled: Value::Value(false),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn problems(change: impl FnOnce(&mut EnvironmentState)) -> Vec<(String, String)> {
        let mut c = config();
        change(&mut c);
        check(&c)
            .into_iter()
            .map(|p| (p.path_text(), p.detail))
            .collect()
    }

    #[test]
    fn a_plain_configuration_is_valid() {
        assert_eq!(problems(|_| {}), Vec::<(String, String)>::new());
    }

    #[test]
    fn sizes_name_the_block_attribute() {
        let found = problems(|c| {
            c.app = Value::Value(vec![AppBlock {
                min_size: Value::Value(4),
                max_size: Value::Value(2),
                ..Default::default()
            }])
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "app[0].min_size");
        assert!(found[0].1.contains("Raise max_size to at least 4"));
    }

    #[test]
    fn unknown_values_are_not_judged() {
        let found = problems(|c| {
            c.vpc_cidr = Value::Unknown;
            c.az_count = Value::Unknown;
            c.app = Value::Value(vec![AppBlock {
                port: Value::Unknown,
                min_size: Value::Unknown,
                ..Default::default()
            }]);
            c.tags = Value::Unknown;
        });
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn subnet_maps_must_cover_the_named_zones() {
        let zones = string_list(["us-east-1a".to_string(), "us-east-1b".to_string()]);
        let found = problems(|c| {
            c.availability_zones = zones;
            c.public_subnet_cidrs =
                string_map([("us-east-1a".to_string(), "10.0.0.0/24".to_string())]);
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "public_subnet_cidrs");
        assert!(found[0].1.contains("`us-east-1b`"));
        let without_zones = problems(|c| {
            c.public_subnet_cidrs =
                string_map([("us-east-1a".to_string(), "10.0.0.0/24".to_string())]);
        });
        assert!(
            without_zones[0].1.contains("availability_zones is not set"),
            "{without_zones:?}"
        );
    }

    #[test]
    fn tag_keys_are_paths_with_keys() {
        let found = problems(|c| c.tags = string_map([("prodvpc:x".to_string(), "1".to_string())]));
        assert_eq!(found[0].0, "tags[\"prodvpc:x\"]");
    }

    fn app(change: impl FnOnce(&mut AppBlock)) -> impl FnOnce(&mut EnvironmentState) {
        move |c| {
            let mut block = AppBlock::default();
            change(&mut block);
            c.app = Value::Value(vec![block]);
        }
    }

    fn refresh(
        min: Value<i64>,
        max: Value<i64>,
        warmup: Value<i64>,
    ) -> impl FnOnce(&mut EnvironmentState) {
        app(move |a| {
            a.instance_refresh = Value::Value(vec![InstanceRefreshBlock {
                min_healthy_percentage: min,
                max_healthy_percentage: max,
                instance_warmup: warmup,
            }])
        })
    }

    #[test]
    fn grace_period_and_refresh_preferences_follow_aws_rules() {
        use Value::{Null, Unknown};
        let v = Value::Value;
        for grace in [0, 300, 7200] {
            let found = problems(app(|a| a.health_check_grace_period = v(grace)));
            assert!(found.is_empty(), "{grace}: {found:?}");
        }
        for grace in [-1, 7201] {
            let found = problems(app(|a| a.health_check_grace_period = v(grace)));
            assert_eq!(found.len(), 1, "{grace}: {found:?}");
            assert_eq!(found[0].0, "app[0].health_check_grace_period");
            assert!(found[0].1.contains("0 to 7200 seconds"), "{found:?}");
        }
        for fine in [
            (Null, Null, Null),
            (v(0), v(100), v(0)),
            (v(100), v(200), v(3600)),
            (v(50), v(150), Null),
            // the default minimum (90) with the largest maximum it allows
            (Null, v(190), Null),
            (Unknown, v(200), Unknown),
        ] {
            let found = problems(refresh(fine.0, fine.1, fine.2));
            assert!(found.is_empty(), "{fine:?}: {found:?}");
        }
        let path = |name: &str| format!("app[0].instance_refresh[0].{name}");
        for (bad, attribute, fix) in [
            ((v(101), Null, Null), "min_healthy_percentage", "0 to 100"),
            ((v(-1), Null, Null), "min_healthy_percentage", "0 to 100"),
            ((Null, v(99), Null), "max_healthy_percentage", "100 to 200"),
            ((Null, v(201), Null), "max_healthy_percentage", "100 to 200"),
            (
                (v(40), v(150), Null),
                "max_healthy_percentage",
                "Lower max_healthy_percentage to 140 or raise min_healthy_percentage to 50",
            ),
            (
                (Null, v(191), Null),
                "max_healthy_percentage",
                "is 101 above min_healthy_percentage (90)",
            ),
            (
                (Null, Null, v(3601)),
                "instance_warmup",
                "0 to 3600 seconds",
            ),
        ] {
            let found = problems(refresh(bad.0, bad.1, bad.2));
            assert_eq!(found.len(), 1, "{bad:?}: {found:?}");
            assert_eq!(found[0].0, path(attribute), "{bad:?}");
            assert!(found[0].1.contains(fix), "{bad:?}: {found:?}");
        }
    }

    fn ssh<'a>(cidrs: &'a [&'a str]) -> impl FnOnce(&mut EnvironmentState) + 'a {
        move |c| {
            c.bastion = Value::Value(vec![BastionBlock {
                ssh_ingress_cidrs: string_list(cidrs.iter().map(|s| s.to_string())),
                ..Default::default()
            }])
        }
    }

    fn load_balancer(
        change: impl FnOnce(&mut LoadBalancerBlock),
    ) -> impl FnOnce(&mut EnvironmentState) {
        move |c| {
            let mut block = LoadBalancerBlock::default();
            change(&mut block);
            c.load_balancer = Value::Value(vec![block]);
        }
    }

    fn access_logs(bucket: &str, prefix: Option<&str>) -> impl FnOnce(&mut EnvironmentState) {
        let logs = AccessLogsBlock {
            bucket: Value::Value(bucket.to_string()),
            prefix: prefix.map(str::to_string).into(),
        };
        load_balancer(move |lb| lb.access_logs = Value::Value(vec![logs]))
    }

    #[test]
    fn load_balancer_settings_name_their_attribute_and_the_fix() {
        for (seconds, valid) in [
            (0, false),
            (1, true),
            (60, true),
            (4000, true),
            (4001, false),
        ] {
            let found = problems(load_balancer(|lb| lb.idle_timeout = Value::Value(seconds)));
            assert_eq!(found.is_empty(), valid, "{seconds}: {found:?}");
            if !valid {
                assert_eq!(found[0].0, "load_balancer[0].idle_timeout");
                assert!(found[0].1.contains("1 to 4000"), "{found:?}");
            }
        }
        for (policy, valid) in [
            ("ELBSecurityPolicy-TLS13-1-2-2021-06", true),
            ("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", true),
            ("ELBSecurityPolicy-2016-08", true),
            ("TLS13-1-2-2021-06", false),
            ("ELBSecurityPolicy-", false),
            ("ELBSecurityPolicy-TLS 1.3", false),
        ] {
            let found = problems(load_balancer(|lb| {
                lb.ssl_policy = Value::Value(policy.to_string())
            }));
            assert_eq!(found.is_empty(), valid, "{policy}: {found:?}");
            if !valid {
                assert_eq!(found[0].0, "load_balancer[0].ssl_policy");
                assert!(found[0].1.contains("describe-ssl-policies"), "{found:?}");
            }
        }
    }

    #[test]
    fn access_log_buckets_and_prefixes_follow_aws_rules() {
        for bucket in ["shop-alb-logs", "abc", "logs.example.com"] {
            assert!(
                problems(access_logs(bucket, Some("shop/prod"))).is_empty(),
                "{bucket}"
            );
        }
        for (bucket, says) in [
            ("ab", "3-63"),
            ("Shop-Logs", "lowercase"),
            ("arn:aws:s3:::logs", "lowercase"),
            ("-logs", "start and end"),
            ("logs..old", "two dots"),
            ("192.168.5.4", "IP address"),
            ("xn--logs", "reserves"),
        ] {
            let found = problems(access_logs(bucket, None));
            assert_eq!(found.len(), 1, "{bucket}: {found:?}");
            assert_eq!(found[0].0, "load_balancer[0].access_logs[0].bucket");
            assert!(found[0].1.contains(says), "{bucket}: {found:?}");
        }
        for (prefix, says) in [
            ("/shop", "without the slashes"),
            ("shop/", "\"shop\""),
            ("shop/AWSLogs", "AWSLogs"),
        ] {
            let found = problems(access_logs("shop-logs", Some(prefix)));
            assert_eq!(found.len(), 1, "{prefix}: {found:?}");
            assert_eq!(found[0].0, "load_balancer[0].access_logs[0].prefix");
            assert!(found[0].1.contains(says), "{prefix}: {found:?}");
        }
    }

    #[test]
    fn names_are_judged_against_every_aws_name_they_feed() {
        for (name, says) in [
            ("shop--prod", "two hyphens"),
            ("sg-shop", "`sg-`"),
            ("internal-shop", "internal-"),
            ("shop_prod", "letters, digits and hyphens"),
        ] {
            let found = problems(|c| c.name = Value::Value(name.into()));
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert_eq!(found[0].0, "name");
            assert!(found[0].1.contains(says), "{name}: {}", found[0].1);
        }
        assert!(problems(|c| c.name = Value::Value("shop-prod-2".into())).is_empty());
    }

    #[test]
    fn sizes_are_judged_with_their_defaults() {
        let alone_max = problems(app(|a| a.max_size = Value::Value(1)));
        assert_eq!(alone_max.len(), 1, "{alone_max:?}");
        assert_eq!(alone_max[0].0, "app[0].max_size");
        assert!(
            alone_max[0].1.contains("min_size is 2, the default"),
            "{alone_max:?}"
        );
        let zero = problems(app(|a| a.max_size = Value::Value(0)));
        assert_eq!(zero.len(), 1, "{zero:?}");
        assert!(zero[0].1.contains("at least 1"));
        let desired = problems(app(|a| a.desired_capacity = Value::Value(10)));
        assert_eq!(desired[0].0, "app[0].desired_capacity");
        assert!(
            desired[0].1.contains("max_size (4, the default)"),
            "{desired:?}"
        );
        // a larger min_size raises the default maximum with it
        assert!(problems(app(|a| a.min_size = Value::Value(6))).is_empty());
        let huge = problems(app(|a| a.max_size = Value::Value(1 << 40)));
        assert!(huge[0].1.contains("at most"), "{huge:?}");
    }

    #[test]
    fn sizes_depending_on_an_unknown_are_not_judged() {
        let found = problems(app(|a| {
            a.min_size = Value::Unknown;
            a.desired_capacity = Value::Value(1);
        }));
        assert!(found.is_empty(), "{found:?}");
        let unknown_max = problems(app(|a| {
            a.max_size = Value::Unknown;
            a.desired_capacity = Value::Value(1);
        }));
        assert_eq!(unknown_max.len(), 1, "{unknown_max:?}");
        assert!(unknown_max[0].1.contains("min_size (2, the default)"));
        assert!(!unknown_max[0].1.contains("(max_size)"));
    }

    #[test]
    fn ssh_sources_are_judged_by_the_addresses_they_cover_together() {
        let halves = problems(ssh(&["0.0.0.0/1", "128.0.0.0/1"]));
        assert_eq!(halves.len(), 1, "{halves:?}");
        assert_eq!(halves[0].0, "bastion[0].ssh_ingress_cidrs");
        assert!(halves[0].1.contains("at most 16777216"), "{halves:?}");
        let world = problems(ssh(&["0.0.0.0/0"]));
        assert_eq!(world.len(), 1, "{world:?}");
        assert!(world[0].1.contains("every address"));
        let private_and_office = problems(ssh(&["10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24"]));
        assert!(private_and_office.is_empty(), "{private_and_office:?}");
        assert_eq!(public_addresses(&["10.0.0.0/7".parse().unwrap()]), 1 << 24);
        assert_eq!(
            public_addresses(&[
                "203.0.113.0/24".parse().unwrap(),
                "203.0.113.0/25".parse().unwrap()
            ]),
            256
        );
    }

    #[test]
    fn certificate_arns_have_the_acm_or_iam_shape() {
        assert!(is_certificate_arn(
            "arn:aws:acm:us-east-1:123456789012:certificate/0b1c-22"
        ));
        assert!(is_certificate_arn(
            "arn:aws:iam::123456789012:server-certificate/wide"
        ));
        for bad in [
            "arn:nonsense",
            "arn:aws:acm:us-east-1:123:certificate/x",
            "arn:aws:s3:::bucket",
            "arn:aws:acm::123456789012:certificate/x",
            "arn:aws:acm:us-east-1:123456789012:certificate/",
        ] {
            assert!(!is_certificate_arn(bad), "{bad}");
        }
    }

    #[test]
    fn tags_follow_aws_limits() {
        let many = problems(|c| {
            c.tags = string_map((0..48).map(|i| (format!("k{i}"), "v".to_string())));
        });
        assert_eq!(many.len(), 1, "{many:?}");
        assert!(many[0].1.contains("leaves 47"), "{many:?}");
        for (key, value, summary) in [
            ("", "v", "cannot be empty"),
            ("Name", "x", "names every object"),
            (&"k".repeat(129)[..], "v", "129 characters"),
            ("team", &"v".repeat(257)[..], "257 characters"),
            ("team", "a;b", "characters the load balancer refuses"),
        ] {
            let found = problems(|c| c.tags = string_map([(key.to_string(), value.to_string())]));
            assert_eq!(found.len(), 1, "{key}: {found:?}");
            assert!(found[0].1.contains(summary), "{key}: {found:?}");
        }
        let config = EnvironmentState {
            tags: string_map((0..40).map(|i| (format!("k{i}"), "v".to_string()))),
            ..config()
        };
        let defaults = (0..10)
            .map(|i| (format!("d{i}"), "v".to_string()))
            .collect();
        assert_eq!(check_tag_total(&config, &defaults).len(), 1);
        assert!(check_tag_total(&config, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn instance_profiles_are_names_or_profile_arns() {
        let good = "arn:aws:iam::123456789012:instance-profile/ops/app-ssm";
        assert!(problems(app(|a| a.iam_instance_profile = Value::Value(good.into()))).is_empty());
        assert!(problems(app(|a| a.iam_instance_profile = Value::Unknown)).is_empty());
        let role = problems(app(|a| {
            a.iam_instance_profile = Value::Value("arn:aws:iam::123456789012:role/app-ssm".into())
        }));
        assert_eq!(role.len(), 1, "{role:?}");
        assert_eq!(role[0].0, "app[0].iam_instance_profile");
        assert!(role[0].1.contains("is not an instance profile"), "{role:?}");
        assert!(
            role[0].1.contains("leave iam_instance_profile out"),
            "{role:?}"
        );
        let bastion = problems(|c| {
            c.bastion = Value::Value(vec![BastionBlock {
                enabled: Value::Value(false),
                iam_instance_profile: Value::Value("ops profile".into()),
                ..Default::default()
            }])
        });
        assert_eq!(bastion.len(), 1, "{bastion:?}");
        assert_eq!(bastion[0].0, "bastion[0].iam_instance_profile");
        assert!(bastion[0].1.contains("not ` `"), "{bastion:?}");
    }

    #[test]
    fn user_data_and_durations_have_usable_sizes() {
        let long = problems(app(|a| {
            a.user_data = Value::Value("x".repeat(16 * 1024 + 1))
        }));
        assert_eq!(long[0].0, "app[0].user_data");
        let found = problems(|c| {
            c.timeouts = Value::Value(vec![super::super::model::TimeoutsBlock {
                create: Value::Value("99999999999999999999999h".into()),
                delete: Value::Value("169h".into()),
                update: Value::Value("soon".into()),
            }])
        });
        let summaries: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "timeouts[0].create",
                "timeouts[0].update",
                "timeouts[0].delete"
            ]
        );
        assert!(found[0].1.contains("\"168h\""), "{found:?}");
        assert!(found[1].1.contains("not a duration"), "{found:?}");
    }

    #[test]
    fn subnets_leave_room_for_the_load_balancer_and_the_other_tier() {
        let small_vpc = problems(|c| c.vpc_cidr = Value::Value("10.0.0.0/24".into()));
        assert_eq!(small_vpc.len(), 1, "{small_vpc:?}");
        assert_eq!(small_vpc[0].0, "vpc_cidr");
        assert!(small_vpc[0].1.contains("/23 or larger"), "{small_vpc:?}");
        let zones = || string_list(["us-east-1a".to_string(), "us-east-1b".to_string()]);
        let tiny_public = problems(|c| {
            c.availability_zones = zones();
            c.public_subnet_cidrs = string_map([
                ("us-east-1a".to_string(), "10.0.0.0/28".to_string()),
                ("us-east-1b".to_string(), "10.0.1.0/24".to_string()),
            ]);
        });
        assert_eq!(tiny_public.len(), 1, "{tiny_public:?}");
        assert_eq!(tiny_public[0].0, "public_subnet_cidrs[\"us-east-1a\"]");
        let no_room = problems(|c| {
            c.availability_zones = zones();
            c.public_subnet_cidrs = string_map([
                ("us-east-1a".to_string(), "10.0.0.0/17".to_string()),
                ("us-east-1b".to_string(), "10.0.128.0/17".to_string()),
            ]);
        });
        assert_eq!(no_room.len(), 1, "{no_room:?}");
        assert_eq!(no_room[0].0, "public_subnet_cidrs");
        assert!(no_room[0].1.contains("private"), "{no_room:?}");
    }

    #[test]
    fn zone_count_advice_fits_the_number() {
        let found = problems(|c| c.az_count = Value::Value(100));
        assert!(found[0].1.contains("from 2 to 8"), "{found:?}");
        assert!(!found[0].1.contains("2 or more"), "{found:?}");
    }
}
