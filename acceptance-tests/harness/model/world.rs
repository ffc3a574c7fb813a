//! The objects whose AWS lifecycle moto skips, each with the moments its state
//! changes, and the questions the refusal rules ask of them ("what still holds
//! an interface in this subnet?").

use std::collections::{BTreeSet, HashMap};
use std::time::{Instant, SystemTime};

/// A NAT gateway: `pending` until `available_at`, then `available`; after
/// DeleteNatGateway `deleting` until `deleted_at`.
#[derive(Clone, Debug)]
pub struct NatGateway {
    pub vpc: String,
    pub subnet: String,
    pub allocation: String,
    pub public_ip: String,
    pub available_at: Instant,
    pub deleted_at: Option<Instant>,
    /// set once the Elastic IP was disassociated at `deleted_at`
    pub released: bool,
}

impl NatGateway {
    pub fn state(&self, now: Instant) -> &'static str {
        match self.deleted_at {
            Some(at) if now < at => "deleting",
            Some(_) => "deleted",
            None if now < self.available_at => "pending",
            None => "available",
        }
    }

    /// Until it is deleted its interface sits in its subnet and its address is mapped.
    pub fn holds_interface(&self, now: Instant) -> bool {
        self.deleted_at.is_none_or(|at| now < at)
    }
}

/// An application load balancer: `provisioning` until `active_at`; once deleted,
/// its network interfaces stay until `interfaces_gone_at`.
#[derive(Clone, Debug)]
pub struct LoadBalancer {
    pub name: String,
    pub vpc: String,
    /// the settings AWS compares when the same name is created again
    pub settings: BalancerSettings,
    pub active_at: Instant,
    pub interfaces_gone_at: Option<Instant>,
    /// `deletion_protection.enabled` as last set (moto stores it but deletes anyway)
    pub deletion_protection: bool,
    /// moto's answer to the create call, replayed for an equal second create
    pub create_answer: String,
}

/// What makes two CreateLoadBalancer calls "the same".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalancerSettings {
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    pub scheme: String,
    pub kind: String,
    pub ip_address_type: String,
}

impl LoadBalancer {
    pub fn deleted(&self) -> bool {
        self.interfaces_gone_at.is_some()
    }

    pub fn state(&self, now: Instant) -> &'static str {
        if now < self.active_at {
            "provisioning"
        } else {
            "active"
        }
    }

    pub fn holds_interfaces(&self, now: Instant) -> bool {
        self.interfaces_gone_at.is_none_or(|at| now < at)
    }
}

/// An instance: `pending` until `running_at`; once terminated `shutting-down`
/// until `terminated_at`.
#[derive(Clone, Debug)]
pub struct Instance {
    pub subnet: String,
    pub security_groups: BTreeSet<String>,
    /// the Auto Scaling Group that launched it, if any
    pub group: Option<String>,
    pub running_at: Instant,
    pub terminated_at: Option<Instant>,
}

impl Instance {
    /// The EC2 state name and code.
    pub fn state(&self, now: Instant) -> (&'static str, u8) {
        match self.terminated_at {
            Some(at) if now < at => ("shutting-down", 32),
            Some(_) => ("terminated", 48),
            None if now < self.running_at => ("pending", 0),
            None => ("running", 16),
        }
    }

    pub fn holds_interface(&self, now: Instant) -> bool {
        self.terminated_at.is_none_or(|at| now < at)
    }
}

/// A target group's health check, which decides when a target turns healthy.
#[derive(Clone, Debug)]
pub struct TargetGroup {
    pub healthy_threshold: u32,
    pub interval_seconds: u32,
    /// when each target was registered (first seen for ones the group registered)
    pub registered: HashMap<String, Instant>,
}

/// One instance refresh of an Auto Scaling Group.
#[derive(Clone, Debug)]
pub struct Refresh {
    pub id: String,
    pub group: String,
    pub started: SystemTime,
    pub started_at: Instant,
    pub in_progress_at: Instant,
    pub successful_at: Instant,
    /// when CancelInstanceRefresh came, and when cancelling ends
    pub cancel: Option<(Instant, Instant)>,
    pub instances_to_update: usize,
    /// `(LaunchTemplateId or "", LaunchTemplateName or "", Version or "")`
    pub desired_template: Option<(String, String, String)>,
    /// the `Preferences.*` the start sent, as `(element name, value)` in the
    /// order DescribeInstanceRefreshes echoes them
    pub preferences: Vec<(&'static str, String)>,
    /// set once the group's instances were replaced
    pub replaced: bool,
}

impl Refresh {
    pub fn status(&self, now: Instant) -> &'static str {
        match self.cancel {
            Some((_, done)) if now < done => "Cancelling",
            Some(_) => "Cancelled",
            None if now < self.in_progress_at => "Pending",
            None if now < self.successful_at => "InProgress",
            None => "Successful",
        }
    }

    /// Pending, InProgress or Cancelling: blocks another refresh of the group.
    pub fn active(&self, now: Instant) -> bool {
        matches!(self.status(now), "Pending" | "InProgress" | "Cancelling")
    }

    pub fn percentage(&self, now: Instant) -> u32 {
        let at = self.cancel.map_or(now, |(requested, _)| requested.min(now));
        if at < self.in_progress_at {
            return 0;
        }
        let done = at
            .saturating_duration_since(self.in_progress_at)
            .as_secs_f64();
        let total = self
            .successful_at
            .saturating_duration_since(self.in_progress_at)
            .as_secs_f64();
        ((done / total.max(f64::EPSILON)) * 100.0).min(100.0) as u32
    }

    /// When the refresh reached a final status, if it has.
    pub fn ended_at(&self, now: Instant) -> Option<Instant> {
        match self.cancel {
            Some((_, done)) => (now >= done).then_some(done),
            None => (now >= self.successful_at).then_some(self.successful_at),
        }
    }
}

/// Everything the model tracks.
#[derive(Debug, Default)]
pub struct World {
    pub nat_gateways: HashMap<String, NatGateway>,
    pub load_balancers: HashMap<String, LoadBalancer>,
    pub instances: HashMap<String, Instance>,
    pub target_groups: HashMap<String, TargetGroup>,
    /// per Auto Scaling Group, oldest first
    pub refreshes: HashMap<String, Vec<Refresh>>,
}

impl World {
    /// What still has a network interface in `subnet`.
    pub fn subnet_holders(&self, subnet: &str, now: Instant) -> Vec<String> {
        let nats = self
            .nat_gateways
            .iter()
            .filter(|(_, n)| n.subnet == subnet && n.holds_interface(now))
            .map(|(id, _)| id.clone());
        let balancers = self
            .load_balancers
            .iter()
            .filter(|(_, b)| b.settings.subnets.contains(subnet) && b.holds_interfaces(now))
            .map(|(_, b)| b.name.clone());
        let instances = self
            .instances
            .iter()
            .filter(|(_, i)| i.subnet == subnet && i.holds_interface(now))
            .map(|(id, _)| id.clone());
        nats.chain(balancers).chain(instances).collect()
    }

    /// What still has a network interface in security group `group`.
    pub fn group_holders(&self, group: &str, now: Instant) -> Vec<String> {
        let balancers = self
            .load_balancers
            .iter()
            .filter(|(_, b)| b.settings.security_groups.contains(group) && b.holds_interfaces(now))
            .map(|(_, b)| b.name.clone());
        let instances = self
            .instances
            .iter()
            .filter(|(_, i)| i.security_groups.contains(group) && i.holds_interface(now))
            .map(|(id, _)| id.clone());
        balancers.chain(instances).collect()
    }

    /// What still maps a public address in `vpc` (a NAT gateway's Elastic IP,
    /// an internet-facing load balancer's interfaces).
    pub fn public_address_holders(&self, vpc: &str, now: Instant) -> Vec<String> {
        let nats = self
            .nat_gateways
            .iter()
            .filter(|(_, n)| n.vpc == vpc && n.holds_interface(now))
            .map(|(id, _)| id.clone());
        let balancers = self
            .load_balancers
            .iter()
            .filter(|(_, b)| {
                b.vpc == vpc && b.settings.scheme == "internet-facing" && b.holds_interfaces(now)
            })
            .map(|(_, b)| b.name.clone());
        nats.chain(balancers).collect()
    }

    /// The NAT gateway that still holds Elastic IP allocation `allocation`.
    pub fn allocation_holder(&self, allocation: &str, now: Instant) -> Option<String> {
        self.nat_gateways
            .iter()
            .find(|(_, n)| n.allocation == allocation && n.holds_interface(now))
            .map(|(id, _)| id.clone())
    }

    /// The live load balancer called `name`, if any.
    pub fn balancer_named(&self, name: &str) -> Option<&LoadBalancer> {
        self.load_balancers
            .values()
            .find(|b| b.name == name && !b.deleted())
    }

    /// Instances of Auto Scaling Group `group` not yet terminated.
    pub fn group_instances(&self, group: &str, now: Instant) -> usize {
        self.instances
            .values()
            .filter(|i| i.group.as_deref() == Some(group) && i.holds_interface(now))
            .count()
    }
}
