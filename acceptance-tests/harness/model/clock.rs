//! Time in the model: AWS's durations (in seconds, as measured on real AWS)
//! multiplied by the test's `time_scale`, and a seeded random source so a run
//! can be repeated exactly.

use std::time::Duration;

/// NAT gateway `pending` before `available`.
pub const NAT_PENDING: f64 = 90.0;
/// NAT gateway `deleting` before `deleted`.
pub const NAT_DELETING: f64 = 55.0;
/// How long a zonal NAT gateway's Elastic IP stays mapped after the gateway
/// reads `deleted`: releasing it is refused (`AuthFailure`) until then, even
/// by callers that waited for `deleted` (an estimate: seconds, as reported).
pub const NAT_ADDRESS_LAG: f64 = 8.0;
/// A regional NAT gateway's Elastic IP `associating` before `succeeded`
/// (AWS publishes no figure; an estimate).
pub const NAT_ADDRESS_ASSOCIATING: f64 = 15.0;
/// A regional NAT gateway's Elastic IP `disassociating` before it is gone,
/// with no connections to drain (AWS publishes no figure; an estimate, cut
/// short by a smaller `MaxDrainDurationSeconds`).
pub const NAT_ADDRESS_DISASSOCIATING: f64 = 30.0;
/// Application load balancer `provisioning` before `active`.
pub const ALB_PROVISIONING: f64 = 150.0;
/// How long a deleted load balancer's network interfaces stay in its subnets.
pub const ALB_INTERFACES_LINGER: f64 = 90.0;
/// Instance `pending` before `running`: somewhere in this range.
pub const INSTANCE_PENDING: (f64, f64) = (12.0, 25.0);
/// Instance `shutting-down` before `terminated`.
pub const INSTANCE_SHUTTING_DOWN: f64 = 60.0;
/// Instance `stopping` before `stopped` (an EBS-backed instance shutting its
/// operating system down).
pub const INSTANCE_STOPPING: (f64, f64) = (15.0, 40.0);
/// EC2 Instance Connect Endpoint `create-in-progress` before `create-complete`.
pub const EICE_CREATING: f64 = 60.0;
/// EC2 Instance Connect Endpoint `delete-in-progress` before `delete-complete`.
pub const EICE_DELETING: f64 = 30.0;
/// How long a `delete-complete` EC2 Instance Connect Endpoint stays listed.
pub const EICE_DELETED_LISTED: f64 = 60.0;
/// An IPv6 block `associating` before `associated` (a VPC's Amazon-provided
/// /56 or a subnet's /64; AWS publishes no figure, an estimate).
pub const IPV6_ASSOCIATING: f64 = 5.0;
/// An IPv6 block `disassociating` before `disassociated` (an estimate).
pub const IPV6_DISASSOCIATING: f64 = 5.0;
/// Instance refresh `Pending` before `InProgress`.
pub const REFRESH_PENDING: f64 = 10.0;
/// Instance refresh `Cancelling` before `Cancelled`.
pub const REFRESH_CANCELLING: f64 = 20.0;

/// Scales AWS's durations for a test.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    scale: f64,
}

impl Clock {
    pub fn new(scale: f64) -> Clock {
        assert!(scale > 0.0, "time_scale must be positive");
        Clock { scale }
    }

    /// `seconds` of AWS time as the test experiences it.
    pub fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds * self.scale)
    }
}

/// SplitMix64: small, seedable, good enough to decide which calls fail.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[low, high)`.
    pub fn between(&mut self, (low, high): (f64, f64)) -> f64 {
        low + (high - low) * self.unit()
    }

    /// `probability` of `true`.
    pub fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && self.unit() < probability
    }

    /// A lowercase hex identifier of `len` digits, like the suffix AWS gives its IDs.
    pub fn hex(&mut self, len: usize) -> String {
        let mut out = String::new();
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }
}
