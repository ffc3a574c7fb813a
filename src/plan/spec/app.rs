//! The application tier's settings: the launch template, the Auto Scaling
//! Group (with its mix of instance types) and how a refresh replaces instances.

use super::InstanceProfile;

/// The application tier: launch template, Auto Scaling Group and scaling policy.
#[derive(Clone, Debug, PartialEq)]
pub struct AppSpec {
    /// `None` means the newest Amazon Linux 2023 image, looked up at apply time.
    pub ami_id: Option<String>,
    pub instance_type: String,
    pub port: u16,
    /// the script, `app.user_data` or `app.user_data_wo`; a write-only one is
    /// known only during an apply (from the configuration)
    pub user_data: Option<String>,
    /// `app.user_data_wo_version`: set when the script is write-only. The
    /// launch template version records it, and it, not the script (which no
    /// state holds), decides whether the template is the configured one.
    pub user_data_version: Option<i64>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: Option<u32>,
    pub cpu_target: f64,
    pub health_check_path: String,
    /// seconds Auto Scaling lets a new instance start before it judges its health
    pub health_check_grace_period: u32,
    /// how the rolling refresh after a launch template change replaces instances
    pub instance_refresh: RefreshPreferences,
    /// apply returns once `min_size` instances serve behind the load balancer
    pub wait_for_capacity: bool,
    /// the instance profile on the launch template, so the instances get its
    /// role's credentials (Systems Manager Session Manager, for one)
    pub iam_instance_profile: Option<InstanceProfile>,
    /// several instance types and a Spot share (a mixed instances policy);
    /// `None`: the launch template's type, all On-Demand
    pub mixed_instances: Option<InstanceMix>,
}

/// What the group launches beyond its launch template: AWS's mixed instances
/// policy. The launch template stays the one the provider writes; the types
/// override its instance type, in order of priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceMix {
    pub instance_types: Vec<String>,
    /// instances kept On-Demand before any Spot is used
    pub on_demand_base_capacity: u32,
    /// percent of the capacity above the base that is On-Demand; the rest is Spot
    pub on_demand_percentage_above_base: u32,
    pub spot_allocation_strategy: String,
}

impl InstanceMix {
    /// AWS's limit of instance types (overrides) in one mixed instances policy.
    pub const MAX_INSTANCE_TYPES: usize = 40;
    /// How Auto Scaling may choose Spot pools, as AWS names them.
    pub const SPOT_STRATEGIES: [&'static str; 4] = [
        "price-capacity-optimized",
        "capacity-optimized",
        "capacity-optimized-prioritized",
        "lowest-price",
    ];
    /// AWS's recommendation: pools deep enough to be interrupted rarely, at a low price.
    pub const DEFAULT_SPOT_STRATEGY: &'static str = "price-capacity-optimized";
    pub const DEFAULT_ON_DEMAND_BASE: u32 = 0;
    pub const DEFAULT_ON_DEMAND_PERCENTAGE: u32 = 100;

    /// Whether any capacity may run on Spot.
    pub fn uses_spot(&self) -> bool {
        self.on_demand_percentage_above_base < 100
    }

    /// Whether Auto Scaling replaces a Spot instance AWS warns is at risk before
    /// it is interrupted (capacity rebalancing): on whenever Spot is used.
    pub fn capacity_rebalance(&self) -> bool {
        self.uses_spot()
    }

    /// One line for the plan: `t3.micro, t3a.micro; 1 On-Demand, then 25% On-Demand (Spot: price-capacity-optimized)`.
    pub fn describe(&self) -> String {
        format!(
            "{}; {} On-Demand, then {}% On-Demand (Spot: {})",
            self.instance_types.join(", "),
            self.on_demand_base_capacity,
            self.on_demand_percentage_above_base,
            self.spot_allocation_strategy
        )
    }
}

/// Longest health check grace period AWS accepts, in seconds (two hours).
pub const MAX_HEALTH_CHECK_GRACE_PERIOD: u32 = 7200;
/// Longest instance warmup the provider accepts, in seconds (an hour).
pub const MAX_INSTANCE_WARMUP: u32 = 3600;

/// The preferences of the rolling instance refresh, with AWS's rules: the
/// minimum healthy percentage is 0-100, the maximum 100-200, at most 100 apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshPreferences {
    /// percent of the desired capacity kept in service and healthy
    pub min_healthy_percentage: u32,
    /// percent of the desired capacity allowed in service or pending; above 100
    /// replacements launch before the instances they replace terminate
    pub max_healthy_percentage: u32,
    /// seconds a new instance warms up before the next batch; `None` lets AWS
    /// use the group's default warmup, else its health check grace period
    pub instance_warmup: Option<u32>,
    /// apply returns once the refresh succeeded (or failed and was rolled back);
    /// `false`: right after starting it
    pub wait_for_completion: bool,
}

impl Default for RefreshPreferences {
    fn default() -> Self {
        RefreshPreferences {
            min_healthy_percentage: 90,
            max_healthy_percentage: 100,
            instance_warmup: None,
            wait_for_completion: true,
        }
    }
}

impl RefreshPreferences {
    /// The healthy percentages AWS accepts for each bound.
    pub const MIN_HEALTHY_RANGE: std::ops::RangeInclusive<u32> = 0..=100;
    pub const MAX_HEALTHY_RANGE: std::ops::RangeInclusive<u32> = 100..=200;
    /// The widest gap AWS allows between the two percentages.
    pub const MAX_HEALTHY_SPREAD: u32 = 100;
}

impl Default for AppSpec {
    fn default() -> Self {
        AppSpec {
            ami_id: None,
            instance_type: "t3.micro".into(),
            port: 80,
            user_data: None,
            user_data_version: None,
            min_size: 2,
            max_size: 4,
            desired_capacity: None,
            cpu_target: 50.0,
            health_check_path: "/".into(),
            health_check_grace_period: 300,
            instance_refresh: RefreshPreferences::default(),
            wait_for_capacity: true,
            iam_instance_profile: None,
            mixed_instances: None,
        }
    }
}

impl AppSpec {
    /// The capacity to create the group with: the explicit one, else `min_size`.
    pub fn initial_capacity(&self) -> u32 {
        self.desired_capacity.unwrap_or(self.min_size)
    }
}
