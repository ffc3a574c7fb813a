//! Request throttling as AWS applies it: token buckets that refill in real
//! time (not scaled: a rate limit does not care how fast the test clock
//! runs), as AWS's throttling guides publish them.
//!
//! - EC2 meters each API action in a bucket of its own, sized by the
//!   action's category (describes 100 at 20 a second, other actions 50 at 5),
//!   or by the action's own size for the actions AWS lists apart
//!   (`CreateVpcEndpoint` 4 at 0.3 a second, `CreateTags` 100 at 10, ...).
//!   Seven describes asked without a filter or pagination draw from a
//!   smaller bucket (50 at 10).
//! - Elastic Load Balancing meters every call against one account bucket (40
//!   at 10) and against its category's (creating a load balancer 10 at 0.2,
//!   registrations 20 at 4, describes 40 at 10, other changes 20 at 3).
//! - Auto Scaling publishes no numbers: one moderate bucket.

use std::collections::HashMap;
use std::time::Instant;

/// A bucket of `burst` tokens refilled at `per_second`.
#[derive(Clone, Debug)]
struct Bucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(burst: f64, per_second: f64) -> Bucket {
        Bucket {
            burst,
            per_second,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
    }
}

/// The buckets calls draw from, by name.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: HashMap<String, Bucket>,
}

/// A bucket a call draws from: its name, burst and refill per second.
type Meter = (String, f64, f64);

/// EC2 actions metered apart from their category (AWS's "uncategorized
/// actions"), as (action, burst, refill per second).
const EC2_OWN_RATES: &[(&str, f64, f64)] = &[
    ("AssignIpv6Addresses", 100.0, 5.0),
    ("AssociateNatGatewayAddress", 10.0, 1.0),
    ("CreateLaunchTemplateVersion", 100.0, 5.0),
    ("CreateNatGateway", 10.0, 1.0),
    ("CreateTags", 100.0, 10.0),
    ("CreateVpcEndpoint", 4.0, 0.3),
    ("DeleteNatGateway", 10.0, 1.0),
    ("DeleteTags", 100.0, 10.0),
    ("DeleteVpcEndpoints", 4.0, 0.3),
    ("DisassociateNatGatewayAddress", 10.0, 1.0),
    ("ModifyInstanceMetadataOptions", 100.0, 5.0),
    ("ModifyLaunchTemplate", 100.0, 5.0),
    ("ModifyVpcEndpoint", 4.0, 0.3),
    ("RunInstances", 5.0, 2.0),
    ("StartInstances", 5.0, 2.0),
    ("TerminateInstances", 100.0, 5.0),
];

/// EC2 describes that, asked with neither a filter nor pagination, draw from
/// a smaller bucket than the other describes.
const EC2_UNFILTERED: &[&str] = &[
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
];

/// The buckets a call of `action` draws from; `narrowed` says whether it
/// carries a filter or pagination.
fn meters(service: &str, action: &str, narrowed: bool) -> Vec<Meter> {
    let own = |name: String, burst: f64, per_second: f64| vec![(name, burst, per_second)];
    match service {
        "ec2" => {
            let name = format!("ec2:{action}");
            if let Some((_, burst, rate)) = EC2_OWN_RATES.iter().find(|(a, ..)| *a == action) {
                own(name, *burst, *rate)
            } else if ["Describe", "Get", "List", "Search"]
                .iter()
                .any(|verb| action.starts_with(verb))
            {
                if EC2_UNFILTERED.contains(&action) && !narrowed {
                    own(format!("{name} (unfiltered)"), 50.0, 10.0)
                } else {
                    own(name, 100.0, 20.0)
                }
            } else {
                own(name, 50.0, 5.0)
            }
        }
        "elasticloadbalancing" => {
            let (category, burst, rate) = match action {
                "CreateLoadBalancer" | "SetSubnets" => ("resource-intensive", 10.0, 0.2),
                "RegisterTargets" | "DeregisterTargets" => ("registration", 20.0, 4.0),
                a if a.starts_with("Describe") => ("non-mutating", 40.0, 10.0),
                _ => ("mutating", 20.0, 3.0),
            };
            vec![
                ("elasticloadbalancing".to_string(), 40.0, 10.0),
                (format!("elasticloadbalancing {category}"), burst, rate),
            ]
        }
        "autoscaling" => own("autoscaling".to_string(), 40.0, 10.0),
        _ => own("other".to_string(), 100.0, 20.0),
    }
}

impl Throttle {
    /// Whether the call may proceed now: every bucket it draws from holds a
    /// token (each then gives one). `narrowed`: the call carries a filter or
    /// pagination.
    pub fn admit(&mut self, service: &str, action: &str, narrowed: bool, now: Instant) -> bool {
        let meters = meters(service, action, narrowed);
        let mut admitted = true;
        for (name, burst, per_second) in &meters {
            let bucket = self
                .buckets
                .entry(name.clone())
                .or_insert_with(|| Bucket::new(*burst, *per_second));
            bucket.refill(now);
            admitted &= bucket.tokens >= 1.0;
        }
        if admitted {
            for (name, ..) in &meters {
                if let Some(bucket) = self.buckets.get_mut(name) {
                    bucket.tokens -= 1.0;
                }
            }
        }
        admitted
    }
}

/// The answer AWS gives a throttled call: EC2 `RequestLimitExceeded` with HTTP
/// 503, the other services `Throttling` with HTTP 400.
pub fn refusal(service: &str) -> super::Refusal {
    if service == "ec2" {
        super::Refusal::new(503, "RequestLimitExceeded", "Request limit exceeded.")
    } else {
        super::Refusal::new(400, "Throttling", "Rate exceeded")
    }
}
