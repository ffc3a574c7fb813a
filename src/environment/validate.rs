//! Configuration checks that need no AWS call. Each problem names the attribute
//! and says how to fix it; values still unknown at plan time pass untouched.

use std::collections::BTreeSet;

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::model::{first, known_map, EnvironmentState, StrList};
use crate::plan::cidr::{Cidr, SLOTS_PER_TIER, SMALLEST_SUBNET_PREFIX, VPC_PREFIX_RANGE};
use crate::plan::spec::{parse_duration, NatStrategy, DEFAULT_VPC_CIDR, MAX_NAME_LEN};

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
        "Use 1-{MAX_NAME_LEN} letters, digits and hyphens, starting with a letter and not ending with a hyphen (AWS load balancer and target group names are limited to 32 characters and the target group adds the port)."
    );
    let valid_chars = name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    let starts_with_letter = name
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphabetic());
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !valid_chars
        || !starts_with_letter
        || name.ends_with('-')
    {
        c.fail(
            attr("name"),
            "Invalid environment name",
            format!("`{name}` cannot name AWS load balancers. {fix}"),
        );
    } else if name.to_ascii_lowercase().starts_with("internal-") {
        c.fail(
            attr("name"),
            "Invalid environment name",
            format!("`{name}` starts with `internal-`, which AWS reserves for internal load balancers. Choose another name."),
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
                format!("az_count is {count}; a production environment spans from 2 to {SLOTS_PER_TIER} availability zones. Set az_count = 2 or more."),
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
    for (value, name) in [
        (&app.min_size, "min_size"),
        (&app.max_size, "max_size"),
        (&app.desired_capacity, "desired_capacity"),
    ] {
        if let Value::Value(n) = value {
            if *n < 0 {
                c.fail(
                    in_block("app", name),
                    "Negative size",
                    format!("{name} is {n}; sizes count instances and cannot be negative."),
                );
            }
        }
    }
    if let (Value::Value(min), Value::Value(max)) = (app.min_size, app.max_size) {
        if min > max {
            c.fail(in_block("app", "min_size"), "min_size exceeds max_size", format!("min_size is {min} but max_size is {max}. Raise max_size to at least {min} or lower min_size."));
        }
        if max < 1 {
            c.fail(
                in_block("app", "max_size"),
                "max_size too small",
                "max_size must be at least 1 so the group can run the app.",
            );
        }
    }
    if let Value::Value(desired) = app.desired_capacity {
        let min = app.min_size.as_ref_option().copied().unwrap_or(2);
        let max = app.max_size.as_ref_option().copied();
        let above = max.is_some_and(|max| desired > max);
        if desired < min || above {
            let max_text = max.map_or("max_size".to_string(), |m| m.to_string());
            c.fail(in_block("app", "desired_capacity"), "desired_capacity outside the bounds", format!("desired_capacity is {desired}; it must lie between min_size ({min}) and max_size ({max_text})."));
        }
    }
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
    if let Value::Value(arn) = &lb.certificate_arn {
        if !arn.starts_with("arn:") {
            c.fail(in_block("load_balancer", "certificate_arn"), "Invalid certificate ARN", format!("`{arn}` is not an ARN; give the ACM certificate's ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."));
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
            if parse_duration(text).is_none() {
                c.fail(in_block("timeouts", name), "Invalid duration", format!("`{text}` is not a duration; write hours, minutes and seconds such as \"30m\", \"1h30m\" or \"90s\"."));
            }
        }
    }
}

fn check_tags(c: &mut Checker, config: &EnvironmentState) {
    let Some(tags) = known_map(&config.tags) else {
        return;
    };
    for key in tags.keys() {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("prodvpc:") {
            c.fail(vec![Step::Attribute("tags"), Step::Key(key.clone())], "Reserved tag key", format!("`{key}` uses a reserved prefix (`aws:` belongs to AWS, `prodvpc:` marks ownership). Rename the tag."));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::model::{string_list, string_map, AppBlock, BastionBlock};

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
}
