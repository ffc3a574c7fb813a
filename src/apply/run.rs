//! A run of apply: the clients, the spec, the deadline and the options every
//! family's step works with, and the helpers they share. Families and the
//! reconcile that orders their steps both import this; it imports neither.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::inventory::Inventory;
use crate::aws::ec2::Tags;
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::cidr::Tier;
use crate::plan::security::SgRole;
use crate::plan::spec::{EnvironmentSpec, Names, TAG_COMPONENT, TAG_ENVIRONMENT};

pub(super) type Result<T> = std::result::Result<T, AwsError>;

/// Choices of an update that the spec alone cannot express.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// the user changed `desired_capacity`: set it even though the autoscaler owns it otherwise
    pub set_desired_capacity: bool,
    /// the VPC this resource instance owns (from state); `None` for a create
    pub vpc_id: Option<String>,
    /// the component key the state records for each EC2 object's ID (see [`Hints`](super::inventory::Hints))
    pub components: BTreeMap<String, String>,
    /// how far the run got, for the caller to read when it fails
    pub progress: Arc<Progress>,
}

/// How far a run got: what a failed create has to record in state.
#[derive(Debug, Default)]
pub struct Progress {
    /// set when the run makes its first create call (or finds a VPC already
    /// there): a failure before it leaves nothing in AWS
    began_building: AtomicBool,
    /// the VPC the run made or found, which binds whatever it built to the
    /// resource instance even when AWS does not list it yet
    vpc: std::sync::Mutex<Option<String>>,
    /// the component key of each object the run made that is bound to
    /// nothing yet (an Elastic IP before its NAT gateway, the launch template
    /// before its group): the state records them even when the run fails
    made: std::sync::Mutex<BTreeMap<String, String>>,
}

impl Progress {
    pub fn began_building(&self) -> bool {
        self.began_building.load(Ordering::Acquire)
    }

    pub fn vpc(&self) -> Option<String> {
        self.vpc.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn building(&self, started: bool) {
        self.began_building.store(started, Ordering::Release);
    }

    pub(super) fn in_vpc(&self, vpc: &str) {
        *self.vpc.lock().unwrap_or_else(|p| p.into_inner()) = Some(vpc.to_string());
    }

    pub fn made(&self) -> BTreeMap<String, String> {
        self.made.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn made_object(&self, id: &str, component: &Component) {
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        made.insert(id.to_string(), component.key());
    }
}

pub(super) struct Run<'a> {
    pub(super) clients: &'a AwsClients,
    pub(super) spec: &'a EnvironmentSpec,
    pub(super) names: Names,
    pub(super) deadline: Instant,
    pub(super) options: Options,
    /// part of every ClientToken: a call retried within this run is answered with
    /// the object its first attempt made, while a later run that must replace an
    /// object (deleted out of band) gets a new one, not the deleted one again
    pub(super) run_id: String,
}

/// Every tag an object of `component` carries: the user's and default tags, the
/// ownership tags and its `Name`.
pub(super) fn component_tags(spec: &EnvironmentSpec, component: &str) -> Tags {
    let mut tags = spec.tags.clone();
    tags.insert(TAG_ENVIRONMENT.into(), spec.name.clone());
    tags.insert(TAG_COMPONENT.into(), component.to_string());
    tags.insert(
        "Name".into(),
        format!("{}-{}", spec.name, component.replace('/', "-")),
    );
    tags
}

/// The tags that are an object's own rather than shared by the environment's
/// objects: its component key and its `Name`.
pub(super) fn own_tags(spec: &EnvironmentSpec, component: &str) -> Tags {
    component_tags(spec, component)
        .into_iter()
        .filter(|(k, _)| k == TAG_COMPONENT || k == "Name")
        .collect()
}

impl Run<'_> {
    pub(super) fn tags(&self, component: &Component) -> Tags {
        component_tags(self.spec, &component.key())
    }
}

/// A ClientToken (at most 64 characters) that is the same for the same request.
pub(super) fn client_token(parts: &[&str]) -> String {
    // FNV-1a: stable across runs and platforms, unlike the std hasher
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("|").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("prodvpc-{hash:016x}")
}

pub(super) fn ignore_not_found(error: AwsError) -> Result<()> {
    error.or_gone(())
}

/// What a component's step is given once the subnets and security groups
/// stand (see [`Making::Placed`]).
pub(super) struct Placement<'a> {
    pub inv: &'a Inventory,
    pub bp: &'a Blueprint,
    /// subnet IDs by tier and zone
    pub subnets: &'a BTreeMap<(Tier, String), String>,
    /// security group IDs by role
    pub groups: &'a BTreeMap<SgRole, String>,
    /// the root device name of each image, by image ID
    pub image_roots: &'a BTreeMap<String, crate::aws::ec2::ImageRoot>,
    /// the image the app runs, which the bastion runs too unless it names its own
    pub ami_id: &'a str,
}

/// A component's step that needs only the VPC.
pub(super) type VpcStep =
    for<'a> fn(&'a Run<'a>, &'a Inventory, &'a str) -> BoxFuture<'a, Result<()>>;

/// A component's step that needs the subnets and the security groups.
pub(super) type PlacedStep =
    for<'a> fn(&'a Run<'a>, &'a Placement<'a>) -> BoxFuture<'a, Result<()>>;

/// A step that deletes what of a kind the plan (by component key) no longer has.
pub(super) type RemoveStep =
    for<'a> fn(&'a Run<'a>, &'a Inventory, &'a BTreeSet<String>) -> BoxFuture<'a, Result<()>>;

/// How apply makes and repairs a kind.
#[derive(Clone, Copy)]
pub(super) enum Making {
    /// by reconcile's own steps, ordered by the results later steps take
    /// (subnet, group and gateway IDs, ...)
    InOrder,
    /// by its step, run as soon as the VPC stands
    WithVpc(VpcStep),
    /// by its step, run once the subnets and security groups stand
    Placed(PlacedStep),
}
