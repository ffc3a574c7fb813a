//! The objects whose AWS lifecycle moto skips, each with the moments its state
//! changes, what moto drops of an Auto Scaling Group, and the questions the
//! refusal rules ask of them ("what still holds an interface in this subnet?").

use std::collections::{BTreeSet, HashMap};
use std::time::{Instant, SystemTime};

use super::instance_connect::Endpoint;
use super::ipv6::Ipv6;
use super::mixed::{GroupSettings, MixedPolicy};
use super::regional_nat::RegionalNat;

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
    /// when AWS unmaps its Elastic IP, a while after `deleted_at`
    pub address_freed_at: Option<Instant>,
    /// set once the Elastic IP was disassociated (at `address_freed_at`, or when it failed)
    pub released: bool,
    /// AWS's `FailureCode` and `FailureMessage` when it ends `failed` instead
    /// of `available`
    pub failure: Option<(String, String)>,
}

impl NatGateway {
    pub fn state(&self, now: Instant) -> &'static str {
        nat_state(
            self.available_at,
            self.deleted_at,
            self.failure.is_some(),
            now,
        )
    }

    /// Whether it ended `failed` by `now`.
    pub fn failed(&self, now: Instant) -> bool {
        self.state(now) == "failed"
    }

    /// Until it is deleted (or has failed, when AWS removes its interface and
    /// frees its address) its interface sits in its subnet and its address is mapped.
    pub fn holds_interface(&self, now: Instant) -> bool {
        !self.failed(now) && self.deleted_at.is_none_or(|at| now < at)
    }

    /// Its Elastic IP stays mapped until a while after it reads `deleted`.
    pub fn holds_address(&self, now: Instant) -> bool {
        !self.failed(now) && self.address_freed_at.is_none_or(|at| now < at)
    }
}

/// A NAT gateway's state (zonal or regional): `pending` until `available_at`,
/// then `available` (or `failed`); once deleted `deleting` until `deleted_at`,
/// then `deleted`.
pub fn nat_state(
    available_at: Instant,
    deleted_at: Option<Instant>,
    fails: bool,
    now: Instant,
) -> &'static str {
    match deleted_at {
        Some(at) if now < at => "deleting",
        Some(_) => "deleted",
        None if now < available_at => "pending",
        None if fails => "failed",
        None => "available",
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
    /// set by StopInstances: `stopping` until then, `stopped` after, until a
    /// StartInstances makes it `pending` again
    pub stopped_at: Option<Instant>,
    pub terminated_at: Option<Instant>,
    /// the launch template version its group launched it from
    pub template_version: Option<String>,
    /// set when its launch template's user data carries the model's marker of
    /// a broken app: its health checks fail
    pub failing: bool,
    /// launched by its group while the model makes launches fail: AWS never
    /// started it, so it is no member of its group and EC2 reports it
    /// `terminated` (moto made it, and counts it in the group)
    pub launch_failed: bool,
    /// the type its group launched it as (with a mixed instances policy the
    /// override AWS launches, where moto launches the template's type);
    /// `None` (not a group's): moto's word stands
    pub instance_type: Option<String>,
    /// launched as a Spot Instance (a mixed instances policy's share above
    /// its On-Demand capacity)
    pub spot: bool,
}

impl Instance {
    /// The EC2 state name and code.
    pub fn state(&self, now: Instant) -> (&'static str, u8) {
        if self.launch_failed {
            return ("terminated", 48);
        }
        match self.terminated_at {
            Some(at) if now < at => ("shutting-down", 32),
            Some(_) => ("terminated", 48),
            None => match self.stopped_at {
                Some(at) if now < at => ("stopping", 64),
                Some(_) => ("stopped", 80),
                None if now < self.running_at => ("pending", 0),
                None => ("running", 16),
            },
        }
    }

    /// Whether StartInstances would be refused: AWS starts only a `stopped`
    /// instance (a `stopping` one must finish first).
    pub fn unstartable(&self, now: Instant) -> Option<&'static str> {
        let (state, _) = self.state(now);
        matches!(state, "stopping" | "shutting-down" | "terminated").then_some(state)
    }

    pub fn holds_interface(&self, now: Instant) -> bool {
        !self.launch_failed && self.terminated_at.is_none_or(|at| now < at)
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

/// A launch template as a group or a refresh names it:
/// `(LaunchTemplateId or "", LaunchTemplateName or "", Version or "")`.
pub type TemplateRef = (String, String, String);

/// Where an instance refresh stands, as DescribeInstanceRefreshes names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    InProgress,
    /// until the given moment, then `Cancelled`
    Cancelling(Instant),
    Cancelled,
    Successful,
    Failed,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::InProgress => "InProgress",
            Phase::Cancelling(_) => "Cancelling",
            Phase::Cancelled => "Cancelled",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::RollbackInProgress => "RollbackInProgress",
            Phase::RollbackSuccessful => "RollbackSuccessful",
            Phase::RollbackFailed => "RollbackFailed",
        }
    }

    /// Not ended: blocks another refresh of the group.
    pub fn active(self) -> bool {
        matches!(
            self,
            Phase::Pending | Phase::InProgress | Phase::Cancelling(_) | Phase::RollbackInProgress
        )
    }

    /// Replacing instances, forwards or back.
    pub fn replacing(self) -> bool {
        matches!(self, Phase::InProgress | Phase::RollbackInProgress)
    }
}

/// One instance refresh of an Auto Scaling Group: `Pending` until
/// `in_progress_at`, then replacing instances batch by batch (each batch's
/// replacements must run and pass their health checks before the next batch),
/// ending `Successful`, or on a replacement that fails its health checks
/// `Failed` (or, with auto rollback, `RollbackInProgress` back to the previous
/// template, then `RollbackSuccessful`).
#[derive(Clone, Debug)]
pub struct Refresh {
    pub id: String,
    pub group: String,
    pub started: SystemTime,
    pub started_at: Instant,
    pub in_progress_at: Instant,
    pub phase: Phase,
    pub ended_at: Option<Instant>,
    /// AWS's `StatusReason`: why it failed, rolled back or was cancelled
    pub status_reason: Option<String>,
    /// the instances to replace when it began
    pub instances_to_update: usize,
    /// the instances still to replace in the current direction
    pub remaining: Vec<String>,
    /// instances replaced so far, for `PercentageComplete`
    pub replaced: usize,
    pub desired_template: Option<TemplateRef>,
    /// the mixed instances policy of the desired configuration, around
    /// `desired_template`; `None` with a desired template: the group leaves
    /// its policy for the template alone when the refresh succeeds
    pub desired_policy: Option<MixedPolicy>,
    /// what the group ran when the refresh started: where a rollback goes back to
    pub previous_template: Option<TemplateRef>,
    /// the `Preferences.*` the start sent, as `(element name, value)` in the
    /// order DescribeInstanceRefreshes echoes them
    pub preferences: Vec<(&'static str, String)>,
}

impl Refresh {
    pub fn status(&self) -> &'static str {
        self.phase.name()
    }

    pub fn active(&self) -> bool {
        self.phase.active()
    }

    pub fn preference(&self, name: &str) -> Option<&str> {
        self.preferences
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str) -> Option<u32> {
        self.preference(name).and_then(|v| v.parse().ok())
    }

    /// How many instances one batch replaces: the room between the minimum and
    /// the maximum healthy percentage (AWS's defaults 90 and 100), at least one.
    pub fn batch_size(&self) -> usize {
        let min = self.number("MinHealthyPercentage").unwrap_or(90) as usize;
        let max = self.number("MaxHealthyPercentage").unwrap_or(100) as usize;
        (self.instances_to_update * max.saturating_sub(min) / 100).max(1)
    }

    pub fn percentage(&self) -> u32 {
        match self.phase {
            Phase::Successful => 100,
            _ if self.instances_to_update == 0 => 0,
            _ => (self.replaced * 100 / self.instances_to_update).min(100) as u32,
        }
    }

    /// The template the replacements launch from: the desired one going
    /// forwards, the previous one rolling back.
    pub fn target(&self) -> Option<&TemplateRef> {
        match self.phase {
            Phase::RollbackInProgress | Phase::RollbackSuccessful | Phase::RollbackFailed => {
                self.previous_template.as_ref()
            }
            _ => self.desired_template.as_ref(),
        }
    }

    /// The template the group reports while the refresh runs: AWS gives the
    /// group its desired configuration only once the refresh succeeds.
    pub fn reported_template(&self) -> Option<&TemplateRef> {
        match self.phase {
            Phase::Successful => self.desired_template.as_ref(),
            _ => self.previous_template.as_ref(),
        }
    }

    pub fn end(&mut self, phase: Phase, now: Instant) {
        self.phase = phase;
        self.ended_at = Some(now);
    }
}

/// Everything the model tracks.
#[derive(Debug, Default)]
pub struct World {
    pub nat_gateways: HashMap<String, NatGateway>,
    pub load_balancers: HashMap<String, LoadBalancer>,
    pub instances: HashMap<String, Instance>,
    pub target_groups: HashMap<String, TargetGroup>,
    /// each live target group's create by name: (ARN, the create's settings,
    /// moto's answer), for AWS's idempotent answer to the same create
    pub target_group_creates: HashMap<String, (String, String, String)>,
    /// the virtual private gateways each route table takes routes from
    pub propagations: HashMap<String, std::collections::BTreeSet<String>>,
    /// per Auto Scaling Group, oldest first
    pub refreshes: HashMap<String, Vec<Refresh>>,
    /// the groups AWS is deleting, with when each is gone
    pub deleting_groups: HashMap<String, Instant>,
    /// EC2 Instance Connect Endpoints (moto has none), by ID
    pub instance_connect_endpoints: HashMap<String, Endpoint>,
    /// what each Auto Scaling Group keeps that moto does not (its mixed
    /// instances policy, capacity rebalancing), by name
    pub groups: HashMap<String, GroupSettings>,
    /// regional NAT gateways (moto knows only zonal ones), by ID
    pub regional_nats: HashMap<String, RegionalNat>,
    /// routes whose target is a regional NAT gateway, which moto stores
    /// without a target: `(route table, destination)` -> gateway
    pub regional_routes: HashMap<(String, String), String>,
    /// the IPv6 block associations whose states the model times
    pub ipv6: Ipv6,
    /// what RegisterImage gave the images it made (moto keeps only their
    /// names), by ID
    pub images: HashMap<String, super::images::ImageFacts>,
    /// each Auto Scaling Group's notification configurations (moto has none)
    pub notifications: super::notifications::Configurations,
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
        let endpoints = self
            .instance_connect_endpoints
            .values()
            .filter(|e| e.subnet == subnet && e.holds_interface(now))
            .map(|e| e.id.clone());
        nats.chain(balancers)
            .chain(instances)
            .chain(endpoints)
            .collect()
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
        let endpoints = self
            .instance_connect_endpoints
            .values()
            .filter(|e| e.groups.iter().any(|g| g == group) && e.holds_interface(now))
            .map(|e| e.id.clone());
        balancers.chain(instances).chain(endpoints).collect()
    }

    /// What the model knows still lives in `vpc` and keeps it from being
    /// deleted (an EC2 Instance Connect Endpoint until `delete-complete`, a
    /// regional NAT gateway until `deleted`).
    pub fn vpc_holders(&self, vpc: &str, now: Instant) -> Vec<String> {
        let endpoints = self
            .instance_connect_endpoints
            .values()
            .filter(|e| e.vpc == vpc && e.holds_interface(now))
            .map(|e| e.id.clone());
        let regional = self
            .regional_nats
            .values()
            .filter(|n| n.vpc == vpc && n.live(now))
            .map(|n| n.id.clone());
        endpoints.chain(regional).collect()
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
        let regional = self
            .regional_nats
            .values()
            .filter(|n| n.vpc == vpc && n.held_addresses(now).next().is_some())
            .map(|n| n.id.clone());
        nats.chain(balancers).chain(regional).collect()
    }

    /// The NAT gateway (zonal or regional) that still holds Elastic IP
    /// allocation `allocation`.
    pub fn allocation_holder(&self, allocation: &str, now: Instant) -> Option<String> {
        let zonal = self
            .nat_gateways
            .iter()
            .find(|(_, n)| n.allocation == allocation && n.holds_address(now))
            .map(|(id, _)| id.clone());
        zonal.or_else(|| {
            self.regional_address(allocation, now)
                .map(|(gateway, _)| gateway.to_string())
        })
    }

    /// The regional NAT gateway that holds `allocation`, with the address'
    /// association ID.
    pub fn regional_address(&self, allocation: &str, now: Instant) -> Option<(&str, &str)> {
        self.regional_nats.values().find_map(|n| {
            n.held_addresses(now)
                .find(|a| a.allocation == allocation)
                .map(|a| (n.id.as_str(), a.association.as_str()))
        })
    }

    /// The live load balancer called `name`, if any.
    pub fn balancer_named(&self, name: &str) -> Option<&LoadBalancer> {
        self.load_balancers
            .values()
            .find(|b| b.name == name && !b.deleted())
    }

    /// Instances Auto Scaling Group `group` is launching (still `pending`).
    pub fn group_launching(&self, group: &str, now: Instant) -> usize {
        self.instances
            .values()
            .filter(|i| i.group.as_deref() == Some(group) && i.state(now).0 == "pending")
            .count()
    }

    /// Instances of Auto Scaling Group `group` not yet terminated.
    pub fn group_instances(&self, group: &str, now: Instant) -> usize {
        self.instances
            .values()
            .filter(|i| i.group.as_deref() == Some(group) && i.holds_interface(now))
            .count()
    }
}
