//! The environment as plain data: what the user asked for, with every default
//! applied and no unknown values left.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::cidr::{Cidr, Tier};
use super::ipv6::Ipv6Cidr;

mod app;
mod flow_logs;
pub use app::*;
pub use flow_logs::*;

/// Default VPC block when the configuration sets none.
pub const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
/// Default number of availability zones.
pub const DEFAULT_AZ_COUNT: usize = 2;
/// The bastion's instance type when the configuration sets none.
pub const DEFAULT_BASTION_INSTANCE_TYPE: &str = "t3.nano";
/// Longest environment name: the ALB is named after it and the target group
/// adds `-` and a port of up to five digits, within AWS's 32 characters.
pub const MAX_NAME_LEN: usize = 26;

/// Tag key that marks every object with the environment that owns it.
pub const TAG_ENVIRONMENT: &str = "prodvpc:environment";
/// Tag key that names the logical component an object plays in the environment.
pub const TAG_COMPONENT: &str = "prodvpc:component";
/// On the VPC: `creating` from the first call of a create until it completes, then
/// `complete`. A create adopts only an environment still `creating` (one an
/// interrupted create left behind); a complete one belongs to another
/// configuration and is refused. VPCs without the tag predate it and are complete.
pub const TAG_STATUS: &str = "prodvpc:status";
/// The token a create without a ClientToken carries, to find what an attempt
/// whose answer was lost made (see `crate::aws::create_once`): set once,
/// never compared, never removed.
pub const TAG_CREATE_TOKEN: &str = "prodvpc:create-token";
pub const STATUS_CREATING: &str = "creating";
pub const STATUS_COMPLETE: &str = "complete";

/// Whether an object found by where it lives (the environment's VPC, or a
/// name the environment gives) rather than by its tags is the environment's:
/// it carries the environment's tag, or it lacks that tag but still carries a
/// component key, because the tag was removed out of band (drift that apply
/// repairs). An object tagged for another environment is that one's; one with
/// no provider tag at all (the VPC's main route table and default group, the
/// user's own objects) was never the provider's.
pub fn belongs_to(tags: &BTreeMap<String, String>, environment: &str) -> bool {
    match tags.get(TAG_ENVIRONMENT) {
        Some(owner) => owner == environment,
        None => tags.contains_key(TAG_COMPONENT),
    }
}

/// Where the private subnets reach the internet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NatStrategy {
    /// one NAT gateway in each AZ; each private subnet uses its own AZ's (survives an AZ outage)
    #[default]
    OnePerAz,
    /// one NAT gateway in the first AZ shared by all private subnets (cheaper)
    Single,
    /// no NAT gateway: private subnets have no route to the internet
    None,
    /// one regional NAT gateway for the whole VPC (AWS's `AvailabilityMode =
    /// regional`), with an Elastic IP in each AZ: no public subnet hosts it,
    /// and it survives an AZ outage as one per AZ does
    Regional,
}

impl NatStrategy {
    /// The values the `nat_gateways` attribute accepts.
    pub const CHOICES: [&'static str; 4] = ["one_per_az", "single", "none", "regional"];

    /// What `nat_gateway_ids` keys the regional gateway by (zonal ones by their AZ).
    pub const REGIONAL_KEY: &'static str = "regional";

    /// Parses the attribute value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "one_per_az" => Some(Self::OnePerAz),
            "single" => Some(Self::Single),
            "none" => Some(Self::None),
            "regional" => Some(Self::Regional),
            _ => None,
        }
    }

    /// The attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OnePerAz => "one_per_az",
            Self::Single => "single",
            Self::None => "none",
            Self::Regional => "regional",
        }
    }
}

/// The HTTPS listener's TLS policy when the configuration sets none: TLS 1.3 and
/// 1.2 with forward-secret ciphers only (AWS's own API default, `2016-08`, still
/// accepts TLS 1.0).
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Seconds a connection may stay idle when the configuration sets none (AWS's default).
pub const DEFAULT_IDLE_TIMEOUT: u32 = 60;
/// The idle timeouts AWS accepts, in seconds.
pub const IDLE_TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=4000;

/// Where the load balancer writes its access logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogs {
    pub bucket: String,
    /// the key prefix inside the bucket; `None` writes at the bucket's root
    pub prefix: Option<String>,
}

/// The Application Load Balancer in front of the app.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerSpec {
    pub ingress_cidrs: Vec<Cidr>,
    /// empty without `ipv6`
    pub ingress_ipv6_cidrs: Vec<Ipv6Cidr>,
    /// When set, HTTPS on 443 serves the app and HTTP on 80 redirects to it.
    pub certificate_arn: Option<String>,
    /// the HTTPS listener's security policy (unused without a certificate)
    pub ssl_policy: String,
    /// requests with header names that are not valid HTTP are dropped, not forwarded
    pub drop_invalid_header_fields: bool,
    pub idle_timeout: u32,
    /// AWS refuses to delete the load balancer, and the provider refuses to destroy
    /// or replace the environment, while this is set
    pub deletion_protection: bool,
    pub access_logs: Option<AccessLogs>,
}

impl Default for LoadBalancerSpec {
    fn default() -> Self {
        LoadBalancerSpec {
            ingress_cidrs: vec![Cidr::new(std::net::Ipv4Addr::UNSPECIFIED, 0)],
            ingress_ipv6_cidrs: Vec::new(),
            certificate_arn: None,
            ssl_policy: DEFAULT_SSL_POLICY.to_string(),
            drop_invalid_header_fields: true,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            deletion_protection: false,
            access_logs: None,
        }
    }
}

/// Load balancer attribute keys, as ModifyLoadBalancerAttributes names them.
pub mod attribute {
    pub const DROP_INVALID_HEADER_FIELDS: &str = "routing.http.drop_invalid_header_fields.enabled";
    pub const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
    pub const DELETION_PROTECTION: &str = "deletion_protection.enabled";
    pub const ACCESS_LOGS: &str = "access_logs.s3.enabled";
    pub const ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";
    pub const ACCESS_LOGS_PREFIX: &str = "access_logs.s3.prefix";

    /// Settings the configuration does not offer, kept at AWS's defaults:
    /// each changes what reaches the app (smuggled requests, a host header
    /// passed through, a spoofable client address, requests let through
    /// without the WAF's verdict), so each is defended as drift.
    pub const FIXED: [(&str, &str); 6] = [
        ("routing.http.desync_mitigation_mode", "defensive"),
        ("waf.fail_open.enabled", "false"),
        ("routing.http.xff_header_processing.mode", "append"),
        ("routing.http.preserve_host_header.enabled", "false"),
        ("routing.http.xff_client_port.enabled", "false"),
        ("routing.http2.enabled", "true"),
    ];

    /// What AWS reports for each key the provider sets on a load balancer that
    /// never had it set (emulators may leave such keys out altogether).
    pub const AWS_DEFAULTS: [(&str, &str); 12] = [
        (DROP_INVALID_HEADER_FIELDS, "false"),
        (IDLE_TIMEOUT, "60"),
        (DELETION_PROTECTION, "false"),
        (ACCESS_LOGS, "false"),
        (ACCESS_LOGS_BUCKET, ""),
        (ACCESS_LOGS_PREFIX, ""),
        FIXED[0],
        FIXED[1],
        FIXED[2],
        FIXED[3],
        FIXED[4],
        FIXED[5],
    ];

    /// The target group's settings the configuration does not offer, kept at
    /// AWS's defaults (what a group made without them has): each changes which
    /// instance gets a request or what happens to requests under way
    /// (sessions pinned to one instance, a new instance starved or flooded,
    /// requests cut off when an instance leaves), so each is defended as drift.
    pub const TARGET_GROUP_DEFAULTS: [(&str, &str); 5] = [
        ("stickiness.enabled", "false"),
        ("load_balancing.algorithm.type", "round_robin"),
        ("slow_start.duration_seconds", "0"),
        ("deregistration_delay.timeout_seconds", "300"),
        (
            "load_balancing.cross_zone.enabled",
            "use_load_balancer_configuration",
        ),
    ];

    /// The configuration attribute (inside `load_balancer`) a key comes from.
    pub fn setting(key: &str) -> &'static str {
        match key {
            DROP_INVALID_HEADER_FIELDS => "drop_invalid_header_fields",
            IDLE_TIMEOUT => "idle_timeout",
            DELETION_PROTECTION => "deletion_protection",
            ACCESS_LOGS => "access_logs",
            ACCESS_LOGS_BUCKET => "access_logs.bucket",
            ACCESS_LOGS_PREFIX => "access_logs.prefix",
            // a fixed setting, named by its AWS key
            _ => FIXED
                .iter()
                .find(|(fixed, _)| *fixed == key)
                .map_or("an attribute", |(fixed, _)| fixed),
        }
    }
}

impl LoadBalancerSpec {
    /// The load balancer attributes this spec asks for, by key. With access logs
    /// off only the switch is compared: AWS keeps the old bucket and prefix then.
    pub fn attributes(&self) -> BTreeMap<&'static str, String> {
        let mut wanted = BTreeMap::from([
            (
                attribute::DROP_INVALID_HEADER_FIELDS,
                self.drop_invalid_header_fields.to_string(),
            ),
            (attribute::IDLE_TIMEOUT, self.idle_timeout.to_string()),
            (
                attribute::DELETION_PROTECTION,
                self.deletion_protection.to_string(),
            ),
            (
                attribute::ACCESS_LOGS,
                self.access_logs.is_some().to_string(),
            ),
        ]);
        wanted.extend(
            attribute::FIXED
                .iter()
                .map(|(key, value)| (*key, value.to_string())),
        );
        if let Some(logs) = &self.access_logs {
            wanted.insert(attribute::ACCESS_LOGS_BUCKET, logs.bucket.clone());
            wanted.insert(
                attribute::ACCESS_LOGS_PREFIX,
                logs.prefix.clone().unwrap_or_default(),
            );
        }
        wanted
    }

    /// Ports the ALB listens on (and opens to `ingress_cidrs`).
    pub fn listener_ports(&self) -> Vec<u16> {
        if self.certificate_arn.is_some() {
            vec![80, 443]
        } else {
            vec![80]
        }
    }
}

/// The SSH bastion host, when enabled.
#[derive(Clone, Debug, PartialEq)]
pub struct BastionSpec {
    pub instance_type: String,
    pub ssh_ingress_cidrs: Vec<Cidr>,
    pub ssh_ingress_ipv6_cidrs: Vec<Ipv6Cidr>,
    pub key_name: Option<String>,
    pub ami_id: Option<String>,
    /// changed in place on the running instance, never by replacing it
    pub iam_instance_profile: Option<InstanceProfile>,
}

/// An IAM instance profile, as the configuration names it: its name, or its ARN
/// `arn:<partition>:iam::<account>:instance-profile/<path/>name`. EC2 accepts
/// either but reports an instance's profile by ARN, so a name and an ARN that
/// ends in that name are the same profile.
#[derive(Clone, Debug, Eq)]
pub struct InstanceProfile(String);

impl InstanceProfile {
    pub fn new(text: impl Into<String>) -> InstanceProfile {
        InstanceProfile(text.into())
    }

    /// The text as configured (or as AWS reported it).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_arn(&self) -> bool {
        self.0.starts_with("arn:")
    }

    /// The text of an optional profile, `none` without one, for messages.
    pub fn text_of(profile: Option<&InstanceProfile>) -> &str {
        profile.map_or("none", InstanceProfile::as_str)
    }

    /// The profile's name: the ARN's last path segment, or the text itself.
    pub fn name(&self) -> &str {
        if self.is_arn() {
            self.0.rsplit('/').next().unwrap_or(&self.0)
        } else {
            &self.0
        }
    }
}

impl PartialEq for InstanceProfile {
    /// Two ARNs or two names compare as text; a name matches an ARN by its last
    /// path segment.
    fn eq(&self, other: &InstanceProfile) -> bool {
        if self.is_arn() == other.is_arn() {
            self.0 == other.0
        } else {
            self.name() == other.name()
        }
    }
}

/// Longest instance profile name IAM accepts.
pub const MAX_INSTANCE_PROFILE_NAME_LEN: usize = 128;

/// Why `text` cannot name an instance profile, or `None` when it can. Names have
/// 1-128 characters from `[A-Za-z0-9+=,.@_-]`; an ARN is
/// `arn:<partition>:iam::<12-digit account>:instance-profile/<path/>name`.
pub fn instance_profile_problem(text: &str) -> Option<String> {
    let name_problem = |name: &str| -> Option<String> {
        if name.is_empty() || name.len() > MAX_INSTANCE_PROFILE_NAME_LEN {
            return Some(format!(
                "a name has 1 to {MAX_INSTANCE_PROFILE_NAME_LEN} characters, `{name}` has {}",
                name.len()
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
        name.chars()
            .find(|c| !allowed(*c))
            .map(|c| format!("a name has only letters, digits and `+=,.@_-`, not `{c}`"))
    };
    if !text.starts_with("arn:") {
        return name_problem(text);
    }
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let shape = "an ARN reads `arn:aws:iam::<12-digit account>:instance-profile/<path/>name`";
    let [_, partition, service, region, account, resource] = parts.as_slice() else {
        return Some(shape.to_string());
    };
    let Some(path_and_name) = resource.strip_prefix("instance-profile/") else {
        return Some(format!(
            "{shape}, and `{resource}` is not an instance profile"
        ));
    };
    if partition.is_empty()
        || *service != "iam"
        || !region.is_empty()
        || account.len() != 12
        || !account.chars().all(|c| c.is_ascii_digit())
    {
        return Some(shape.to_string());
    }
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    name_problem(name)
}

/// An AWS service the private subnets reach through a gateway endpoint: free,
/// and its traffic no longer pays the NAT gateways' per-GB charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GatewayService {
    S3,
    DynamoDb,
}

impl GatewayService {
    pub const ALL: [GatewayService; 2] = [GatewayService::S3, GatewayService::DynamoDb];

    /// The attribute name in `vpc_endpoints` and the key of `vpc_endpoint_ids`.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayService::S3 => "s3",
            GatewayService::DynamoDb => "dynamodb",
        }
    }

    /// The endpoint service name in `region`.
    pub fn service_name(self, region: &str) -> String {
        format!("com.amazonaws.{region}.{}", self.as_str())
    }
}

/// The gateway endpoints and the route tables they are attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointsSpec {
    pub services: BTreeSet<GatewayService>,
    /// also attach them to the public route table (the bastion's traffic)
    pub public_route_table: bool,
}

impl Default for EndpointsSpec {
    /// Both endpoints, on the private route tables: free, and they cut NAT traffic.
    fn default() -> Self {
        EndpointsSpec {
            services: GatewayService::ALL.into_iter().collect(),
            public_route_table: false,
        }
    }
}

/// The partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub fn partition_of(region: &str) -> &'static str {
    [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ]
    .into_iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map_or("aws", |(_, partition)| partition)
}

/// Why an ARN cannot be used from `region`: another partition, or (when
/// `regional`) another region. `None` when it can, or is not an ARN at all
/// (the shape checks say so).
pub fn arn_region_problem(arn: &str, region: &str, regional: bool) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, _, arn_region, ..] = parts[..] else {
        return None;
    };
    let expected = partition_of(region);
    if partition != expected {
        return Some(format!(
            "is in the `{partition}` partition, but the provider's region {region} is in `{expected}`"
        ));
    }
    (regional && !arn_region.is_empty() && arn_region != region)
        .then(|| format!("is in {arn_region}, but the environment is built in {region}"))
}

/// How long each phase may take before the provider gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub create: Duration,
    pub update: Duration,
    pub delete: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            create: Duration::from_secs(30 * 60),
            update: Duration::from_secs(30 * 60),
            delete: Duration::from_secs(30 * 60),
        }
    }
}

/// Which availability zones to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneChoice {
    /// the first `n` available zones of the region, in name order
    Count(usize),
    /// exactly these zones
    Named(Vec<String>),
}

impl ZoneChoice {
    /// The zones an apply builds in: the named ones, or those `in_use` (in
    /// name order, as many as are asked for) followed by the region's
    /// `available` zones in name order, sorted. Plan and apply both choose with
    /// this, so the zones a plan shows are the ones apply builds. `None` when
    /// the region has too few zones.
    pub fn choose(&self, in_use: &[String], available: &[String]) -> Option<Vec<String>> {
        let count = match self {
            ZoneChoice::Named(zones) => return Some(zones.clone()),
            ZoneChoice::Count(n) => *n,
        };
        let mut chosen: Vec<String> = in_use
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .take(count)
            .collect();
        for zone in available {
            if chosen.len() >= count {
                break;
            }
            if !chosen.contains(zone) {
                chosen.push(zone.clone());
            }
        }
        chosen.sort();
        (chosen.len() == count).then_some(chosen)
    }
}

/// Everything the provider needs to build or compare an environment.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvironmentSpec {
    pub name: String,
    pub vpc_cidr: Cidr,
    pub zones: ZoneChoice,
    /// Subnet blocks fixed by the user or kept from state; the rest are carved.
    pub subnet_cidrs: BTreeMap<(Tier, String), Cidr>,
    pub nat: NatStrategy,
    pub app: AppSpec,
    pub load_balancer: LoadBalancerSpec,
    pub bastion: Option<BastionSpec>,
    /// an EC2 Instance Connect Endpoint in a private subnet: SSH to the app
    /// instances through AWS, with no bastion and no public address
    pub instance_connect_endpoint: bool,
    /// dual-stack: an Amazon-provided /56 on the VPC, a /64 per subnet, an
    /// egress-only internet gateway for the private subnets
    pub ipv6: bool,
    /// the subnets' /64s kept from state; the others are carved once the
    /// VPC's block is known
    pub ipv6_subnet_cidrs: BTreeMap<(Tier, String), Ipv6Cidr>,
    /// the DHCP options set the VPC uses: the configuration's, or the one AWS
    /// gave it (recorded at creation); `None` until that is known
    pub dhcp_options: Option<String>,
    pub endpoints: EndpointsSpec,
    /// `None`: the provider makes no flow log (off unless configured)
    pub flow_logs: Option<FlowLogSpec>,
    /// User tags merged over the provider's default tags.
    pub tags: BTreeMap<String, String>,
    /// tags other tools manage on the environment's objects (the provider's `ignore_tags`)
    pub ignored_tags: IgnoredTags,
    pub timeouts: Timeouts,
}

/// Tag keys that other tools set on the environment's objects (backup plans,
/// cost allocation): neither drift nor removed, whatever their value. Empty by
/// default: the configuration's tags are authoritative.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoredTags {
    pub keys: BTreeSet<String>,
    pub key_prefixes: Vec<String>,
}

impl IgnoredTags {
    /// Also true for the token a create carries (set once, never compared).
    pub fn ignores(&self, key: &str) -> bool {
        key == TAG_CREATE_TOKEN
            || self.keys.contains(key)
            || self
                .key_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }
}

/// The names of the objects whose APIs address them by name rather than by tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub environment: String,
    /// the ALB: the environment name itself (validation keeps it within 32 characters)
    pub load_balancer: String,
    /// carries the port: a target group's port is immutable, and the replacement
    /// must coexist with the old group while the listener switches
    pub target_group: String,
    /// the launch template and the Auto Scaling Group
    pub app: String,
}

impl Names {
    pub fn new(environment: &str, app_port: u16) -> Names {
        Names {
            environment: environment.to_string(),
            load_balancer: environment.to_string(),
            target_group: format!("{environment}-{app_port}"),
            app: app_name(environment),
        }
    }
}

/// The name of the launch template and of the Auto Scaling Group, which the
/// environment's name alone gives (so a plan knows it before they exist).
pub fn app_name(environment: &str) -> String {
    format!("{environment}-app")
}

impl EnvironmentSpec {
    pub fn names(&self) -> Names {
        Names::new(&self.name, self.app.port)
    }
}

/// The longest `timeouts` value: a week is far beyond any AWS wait, and every
/// deadline computed from it stays representable.
pub const LONGEST_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses durations such as `30m`, `1h30m`, `90s`, `2h`, up to [`LONGEST_TIMEOUT`].
pub fn parse_duration(text: &str) -> Option<Duration> {
    parse_duration_text(text).filter(|d| *d <= LONGEST_TIMEOUT)
}

/// Parses the text of a duration, however long.
pub fn parse_duration_text(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    let mut saw_unit = false;
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let amount: u64 = digits.parse().ok()?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        digits.clear();
        saw_unit = true;
    }
    if !digits.is_empty() || !saw_unit || total == 0 {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_of_another_partition_or_region_are_told_apart() {
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
        let acm = "arn:aws:acm:eu-west-1:123456789012:certificate/abc";
        assert_eq!(arn_region_problem(acm, "eu-west-1", true), None);
        assert_eq!(
            arn_region_problem(acm, "us-east-1", true).as_deref(),
            Some("is in eu-west-1, but the environment is built in us-east-1")
        );
        assert!(arn_region_problem(acm, "cn-north-1", true)
            .unwrap()
            .contains("`aws` partition"));
        let bucket = "arn:aws-cn:s3:::logs";
        assert!(arn_region_problem(bucket, "us-east-1", false)
            .unwrap()
            .contains("`aws-cn` partition, but the provider's region us-east-1 is in `aws`"));
        assert_eq!(arn_region_problem(bucket, "cn-north-1", false), None);
    }

    #[test]
    fn zones_are_chosen_in_use_first_then_in_name_order() {
        let names = |z: &[&str]| z.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let region = names(&["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
        assert_eq!(
            ZoneChoice::Count(2).choose(&[], &region),
            Some(names(&["eu-west-1a", "eu-west-1b"]))
        );
        assert_eq!(
            ZoneChoice::Count(3).choose(&names(&["eu-west-1c", "eu-west-1b"]), &region),
            Some(region.clone())
        );
        // a zone in use is kept even when it comes later in name order
        assert_eq!(
            ZoneChoice::Count(2).choose(&names(&["eu-west-1c"]), &region),
            Some(names(&["eu-west-1a", "eu-west-1c"]))
        );
        assert_eq!(
            ZoneChoice::Count(2).choose(&region, &[]),
            Some(names(&["eu-west-1a", "eu-west-1b"]))
        );
        assert_eq!(ZoneChoice::Count(4).choose(&[], &region), None);
        let named = ZoneChoice::Named(names(&["eu-west-1c"]));
        assert_eq!(named.choose(&region, &region), Some(names(&["eu-west-1c"])));
    }

    fn tagged(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_object_found_by_where_it_lives_is_ours_by_our_tag_or_by_a_component_key_alone() {
        let ours = tagged(&[(TAG_ENVIRONMENT, "shop"), (TAG_COMPONENT, "sg/app")]);
        assert!(belongs_to(&ours, "shop"));
        // our tag without a component key: ours (a stray, or a component to key by state)
        assert!(belongs_to(&tagged(&[(TAG_ENVIRONMENT, "shop")]), "shop"));
        // the environment tag removed out of band: still ours, to be retagged
        let untagged = tagged(&[(TAG_COMPONENT, "subnet/public/us-east-1a"), ("team", "a")]);
        assert!(belongs_to(&untagged, "shop"));
        // another environment's, even with a component key of ours
        assert!(!belongs_to(&ours, "shop-staging"));
        let theirs = tagged(&[(TAG_ENVIRONMENT, "shop-staging")]);
        assert!(!belongs_to(&theirs, "shop"));
        // never the provider's: no provider tag at all
        assert!(!belongs_to(&BTreeMap::new(), "shop"));
        assert!(!belongs_to(&tagged(&[("Name", "shop-vpc-main")]), "shop"));
        // an empty environment tag is not a missing one
        let emptied = tagged(&[(TAG_ENVIRONMENT, ""), (TAG_COMPONENT, "vpc")]);
        assert!(!belongs_to(&emptied, "shop"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("168h"), Some(LONGEST_TIMEOUT));
        for bad in [
            "",
            "30",
            "m",
            "1d",
            "0s",
            "-5m",
            "1.5h",
            "169h",
            "3000000000000000h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn nat_strategy_round_trips() {
        for choice in NatStrategy::CHOICES {
            assert_eq!(NatStrategy::parse(choice).unwrap().as_str(), choice);
        }
        assert_eq!(NatStrategy::parse("two"), None);
    }

    #[test]
    fn attributes_carry_the_log_bucket_only_when_logging() {
        let mut lb = LoadBalancerSpec::default();
        let wanted = lb.attributes();
        assert_eq!(wanted[attribute::DROP_INVALID_HEADER_FIELDS], "true");
        assert_eq!(wanted[attribute::IDLE_TIMEOUT], "60");
        assert_eq!(wanted[attribute::DELETION_PROTECTION], "false");
        assert_eq!(wanted[attribute::ACCESS_LOGS], "false");
        assert!(!wanted.contains_key(attribute::ACCESS_LOGS_BUCKET));
        lb.access_logs = Some(AccessLogs {
            bucket: "logs".into(),
            prefix: None,
        });
        let wanted = lb.attributes();
        assert_eq!(wanted[attribute::ACCESS_LOGS], "true");
        assert_eq!(wanted[attribute::ACCESS_LOGS_BUCKET], "logs");
        assert_eq!(wanted[attribute::ACCESS_LOGS_PREFIX], "");
    }

    #[test]
    fn instance_profiles_match_by_name_or_arn() {
        let arn = InstanceProfile::new("arn:aws:iam::123456789012:instance-profile/ops/ssm");
        assert_eq!(arn.name(), "ssm");
        assert_eq!(arn, InstanceProfile::new("ssm"));
        assert_eq!(InstanceProfile::new("ssm"), arn);
        assert_ne!(arn, InstanceProfile::new("other"));
        assert_ne!(
            arn,
            InstanceProfile::new("arn:aws:iam::123456789012:instance-profile/ssm")
        );
        assert_ne!(InstanceProfile::new("ssm"), InstanceProfile::new("SSM"));
    }

    #[test]
    fn instance_profile_shapes() {
        for good in [
            "ssm",
            "App.Role_1+=,@-",
            "arn:aws:iam::123456789012:instance-profile/ssm",
            "arn:aws-us-gov:iam::123456789012:instance-profile/team/app/ssm",
        ] {
            assert_eq!(instance_profile_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "has space",
            "a/b",
            &"x".repeat(129),
            "arn:aws:iam::123456789012:role/ssm",
            "arn:aws:iam::12345:instance-profile/ssm",
            "arn:aws:ec2::123456789012:instance-profile/ssm",
            "arn:aws:iam:us-east-1:123456789012:instance-profile/ssm",
            "arn:aws:iam::123456789012:instance-profile/",
            "arn:aws:iam",
        ] {
            assert!(instance_profile_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn listener_ports_follow_the_certificate() {
        let mut lb = LoadBalancerSpec::default();
        assert_eq!(lb.listener_ports(), vec![80]);
        lb.certificate_arn = Some("arn:aws:acm:us-east-1:123456789012:certificate/x".into());
        assert_eq!(lb.listener_ports(), vec![80, 443]);
    }
}
