//! Request throttling as AWS applies it: a token bucket per API family that
//! refills in real time (not scaled: a rate limit does not care how fast the
//! test clock runs).

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

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The buckets a call draws from, keyed by family.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: HashMap<&'static str, Bucket>,
}

/// Which bucket a call draws from, with that bucket's burst and refill rate.
/// EC2 throttles per API family (documented defaults, rounded); ELBv2 and Auto
/// Scaling publish no numbers, so they get one moderate bucket per service.
fn family(service: &str, action: &str) -> (&'static str, f64, f64) {
    match (service, action) {
        ("ec2", "CreateNatGateway") => ("ec2:CreateNatGateway", 10.0, 1.0),
        ("ec2", "RunInstances") => ("ec2:RunInstances", 5.0, 2.0),
        ("ec2", a) if a.starts_with("Describe") || a.starts_with("Get") => {
            ("ec2:non-mutating", 100.0, 20.0)
        }
        ("ec2", _) => ("ec2:mutating", 50.0, 5.0),
        ("elasticloadbalancing", _) => ("elasticloadbalancing", 40.0, 10.0),
        ("autoscaling", _) => ("autoscaling", 40.0, 10.0),
        _ => ("other", 100.0, 20.0),
    }
}

impl Throttle {
    /// Whether the call may proceed now (and uses a token if so).
    pub fn admit(&mut self, service: &str, action: &str, now: Instant) -> bool {
        let (name, burst, per_second) = family(service, action);
        self.buckets
            .entry(name)
            .or_insert_with(|| Bucket::new(burst, per_second))
            .take(now)
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
