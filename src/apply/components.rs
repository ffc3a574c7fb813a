//! The table of components: for each kind of component the blueprint can
//! plan, how its key reads, which family compares it, how apply makes it and
//! removes it once unplanned, how it is found in an [`Inventory`] (for the
//! kinds one describe finds, the describe itself), which attributes of the
//! state record its IDs, which of its objects carry tags and through which
//! API, what destroy deletes and in which wave, and which outputs a new one
//! changes. Discovery, the boundary, what is missing, drift, retagging,
//! outputs, destroy and plan unknowns walk this table instead of keeping lists
//! of their own, so a new kind is a row here plus its family's calls, and the
//! tests below refuse a kind without a way to be read, compared or deleted.

use std::collections::{BTreeMap, BTreeSet};

use super::bastion::bastion_drift;
use super::compute::{
    app_drift, attachment_drift, kept_settings_drift, scaling_policy_drift,
    suspended_processes_drift,
};
use super::endpoints::endpoint_drift;
use super::flow_logs::flow_log_drift;
use super::instance_connect::instance_connect_drift;
use super::inventory::{
    key_matches, Hints, Inventory, ListedKind, Lookup, NAT_GATEWAY_KEYS, SUBNET_KEYS,
};
use super::ipv6::ipv6_drift;
use super::load_balancer::{
    listener_certificate_drift, listener_key, listener_response_drift, listener_rule_drift,
    load_balancer_attribute_drift, registration_drift, target_group_attribute_drift,
    target_group_of,
};
use super::network::network_drift;
use super::run::{Making, PlacedStep, RemoveStep, VpcStep};
use super::security::rule_drift;
use super::teardown::{self, Step};
use crate::aws::ec2::{self, Found, Tags};
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::blueprint::{Blueprint, Kind};
use crate::plan::drift::Finding;
use crate::plan::spec::{EnvironmentSpec, Names};

/// A comparison of what AWS holds with what the spec asks for.
pub(super) type Check = fn(&EnvironmentSpec, &Blueprint, &Inventory) -> Vec<Finding>;

/// The modules that own a group of kinds: their AWS calls and their checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    Network,
    Security,
    Compute,
    Endpoints,
    FlowLogs,
    LoadBalancer,
    Bastion,
    InstanceConnect,
}

impl Family {
    /// The family's comparisons of what AWS holds with the spec.
    pub fn checks(self) -> &'static [Check] {
        match self {
            Family::Network => &[network_drift, ipv6_drift],
            Family::Security => &[|spec, _, inv| rule_drift(spec, inv)],
            Family::Compute => &[
                scaling_policy_drift,
                suspended_processes_drift,
                attachment_drift,
                kept_settings_drift,
                app_drift,
            ],
            Family::Endpoints => &[endpoint_drift],
            Family::FlowLogs => &[|spec, _, inv| flow_log_drift(spec, inv)],
            Family::LoadBalancer => &[
                |spec, _, inv| load_balancer_attribute_drift(spec, inv),
                |_, _, inv| listener_rule_drift(inv),
                |_, _, inv| listener_certificate_drift(inv),
                |_, _, inv| listener_response_drift(inv),
                |spec, _, inv| registration_drift(spec, inv),
                |spec, _, inv| target_group_attribute_drift(spec, inv),
            ],
            Family::Bastion => &[bastion_drift],
            Family::InstanceConnect => &[instance_connect_drift],
        }
    }
}

/// The families in the order of their first row: the order drift reports in.
pub(super) fn families() -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    for row in COMPONENTS {
        if !families.contains(&row.family) {
            families.push(row.family);
        }
    }
    families
}

/// The API that reads and writes a kind's tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    Ec2,
    Elb,
    AutoScaling,
}

/// An object of the environment with its tags: (component key, ID or ARN, tags).
pub(super) type TaggedObject<'a> = (String, &'a String, &'a Tags);

/// How a row lists the objects of its kind that carry tags.
pub(super) type Tagged = for<'a> fn(&EnvironmentSpec, &'a Inventory) -> Vec<TaggedObject<'a>>;

/// The stage of destroy that deletes a kind: every stage waits for the one
/// before it, the kinds within one run concurrently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Wave {
    /// what holds network interfaces (instances, the load balancer, NAT
    /// gateways), the gateway endpoints that the route tables serve, and the
    /// flow logs (AWS would remove a deleted VPC's only eventually)
    Holders,
    /// what those held on to
    Held,
    Subnets,
    Vpc,
}

impl Wave {
    pub const IN_ORDER: [Wave; 4] = [Wave::Holders, Wave::Held, Wave::Subnets, Wave::Vpc];
}

/// How destroy removes a kind.
#[derive(Clone, Copy)]
pub(super) enum Deletion {
    /// a step of its own, in that wave
    Own(Wave, Step),
    /// the step of that kind removes it too (AWS deletes listeners with their
    /// load balancer and the policy with its group)
    // read by the test that every kind is deleted
    #[cfg_attr(not(test), allow(dead_code))]
    By(Kind),
}

/// One row of the table.
pub(super) struct Declaration {
    pub kind: Kind,
    /// the key's shape, `*` standing for one segment (a zone, a role, ...)
    pub key: &'static str,
    pub family: Family,
    /// where its objects are found
    pub source: Source,
    /// the API that tags its objects
    pub api: Api,
    pub deletion: Deletion,
    /// the computed attributes a new object under `key` changes, beyond the
    /// IDs of what the refresh found missing
    pub renews: fn(key: &str) -> &'static [&'static str],
    /// the attributes that record its objects' IDs
    pub recorded: Recorded,
    /// how apply makes and repairs it
    pub making: Making,
    /// what deletes its objects the plan no longer has, before anything else
    /// unplanned goes (else reconcile's own removal does)
    pub removal: Option<RemoveStep>,
}

/// Where a kind's objects are found.
#[derive(Clone, Copy)]
pub(super) enum Source {
    /// by a describe of VPC-bound objects that discovery, the boundary and
    /// keying treat alike (see [`ListedKind`]): the objects are
    /// [`Inventory::listed`] under keys of the row's shape, so what is found,
    /// deleted and tagged follows, and another's in the VPC is reported
    Listed(ec2::Listing),
    /// by the inventory's own reads
    Read {
        /// the keys of the components of the table's kinds the inventory
        /// holds; [`Declaration::present`] keeps those of the row's kind
        found: fn(&EnvironmentSpec, &Inventory) -> Vec<String>,
        /// the IDs (ARNs, names) of every object of the kind, duplicates
        /// included: what destroy deletes
        ids: fn(&Inventory) -> Vec<String>,
        /// its objects that carry the environment's tags, as (component key,
        /// ID or ARN, tags): the key is what the object is, which its
        /// component tag may no longer say
        tagged: Tagged,
    },
}

/// Where the state records the IDs (ARNs, names) of a kind's objects, and how
/// they are read from an inventory. Refresh and apply fill those attributes,
/// and discovery keys an object whose ID they record back to its component,
/// whatever its tags say.
#[derive(Clone, Copy)]
pub(super) enum Recorded {
    /// in no attribute of its own
    Nowhere,
    /// its one object's ID, in this attribute (with its Markdown description)
    Id(&'static str, &'static str, fn(&Inventory) -> Option<String>),
    /// its objects' IDs by component key, in map attributes given as
    /// (attribute, key prefix, description): each entry is keyed by what
    /// follows the prefix
    Ids(
        &'static [(&'static str, &'static str, &'static str)],
        fn(&Inventory) -> Vec<(String, String)>,
    ),
}

/// The shape of an attribute that records IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// the ID of the one object of component `key`
    One { key: &'static str },
    /// IDs keyed by what follows `prefix` in their component keys
    Map { prefix: &'static str },
}

/// An attribute of the state that records IDs.
#[derive(Clone, Copy, Debug)]
pub struct RecordingAttribute {
    pub name: &'static str,
    pub record: Record,
    /// Markdown, for the schema
    pub description: &'static str,
}

/// Every attribute of the state that records IDs: the schema declares them
/// from here.
pub fn recording_attributes() -> impl Iterator<Item = RecordingAttribute> {
    COMPONENTS.iter().flat_map(|row| {
        let attributes: Vec<RecordingAttribute> = match row.recorded {
            Recorded::Nowhere => Vec::new(),
            Recorded::Id(name, description, _) => vec![RecordingAttribute {
                name,
                record: Record::One { key: row.key },
                description,
            }],
            Recorded::Ids(maps, _) => maps
                .iter()
                .map(|&(name, prefix, description)| RecordingAttribute {
                    name,
                    record: Record::Map { prefix },
                    description,
                })
                .collect(),
        };
        attributes
    })
}

/// The IDs an attribute records, as read from an inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordedIds {
    One(Option<String>),
    /// by what follows the attribute's key prefix
    Map(BTreeMap<String, String>),
}

/// What every attribute that records IDs holds, read from `inv`.
pub fn recorded_ids(inv: &Inventory) -> Vec<(&'static str, RecordedIds)> {
    COMPONENTS
        .iter()
        .flat_map(|row| {
            let values: Vec<(&'static str, RecordedIds)> = match row.recorded {
                Recorded::Nowhere => Vec::new(),
                Recorded::Id(attribute, _, id) => vec![(attribute, RecordedIds::One(id(inv)))],
                Recorded::Ids(maps, ids) => {
                    let ids = ids(inv);
                    maps.iter()
                        .map(|&(attribute, prefix, _)| {
                            let entries = ids.iter().filter_map(|(key, id)| {
                                Some((key.strip_prefix(prefix)?.to_string(), id.clone()))
                            });
                            (attribute, RecordedIds::Map(entries.collect()))
                        })
                        .collect()
                }
            };
            values
        })
        .collect()
}

/// The kinds whose objects a listing finds (see [`Declaration::listing`]).
pub(super) fn listed_kinds() -> Vec<ListedKind> {
    COMPONENTS
        .iter()
        .filter_map(|row| match row.source {
            Source::Listed(listing) => Some(ListedKind {
                key: row.key,
                listing,
            }),
            Source::Read { .. } => None,
        })
        .collect()
}

impl Inventory {
    /// Describes everything of the environment (see
    /// `Inventory::discover_listing`), the kinds the table lists among it.
    pub async fn discover(
        clients: &AwsClients,
        names: &Names,
        lookup: Lookup<'_>,
    ) -> Result<Inventory, AwsError> {
        Inventory::discover_hinted(clients, names, lookup, &Hints::default()).await
    }

    /// [`Inventory::discover`] with what the state says (a refresh), so that
    /// fewer describes wait for others.
    pub async fn discover_hinted(
        clients: &AwsClients,
        names: &Names,
        lookup: Lookup<'_>,
        hints: &Hints,
    ) -> Result<Inventory, AwsError> {
        let listed = listed_kinds();
        let inv = Inventory::discover_listing(clients, names, lookup, hints, &listed).await?;
        // by name, the environment's tag finds its VPC, and nothing else: only
        // what lives in that VPC or is bound to it is the environment's (an
        // object elsewhere carrying its tags is another's, never modified or
        // deleted), and without a VPC it has nothing yet, as the VPC is the
        // first thing an apply makes
        let (mut bound, by_name) = match lookup {
            Lookup::ByName => {
                let Some(vpc) = inv.vpc.as_ref().map(|vpc| vpc.id.clone()) else {
                    return Ok(Inventory::default());
                };
                let bound = Lookup::EverythingInVpc(&vpc);
                let bound = Inventory::discover_listing(clients, names, bound, hints, &listed);
                (bound.await?, Some(inv))
            }
            _ => (inv, None),
        };
        if bound.is_unfinished() {
            // a run of this environment stopped (interrupted, timed out)
            // between making a gateway and attaching it to the VPC it was
            // making: the gateway, attached to nothing, is that run's. Found
            // by its tags, and only while the environment's own VPC is still
            // being created: afterwards a gateway is the environment's only
            // when attached to its VPC
            let by_name = match by_name {
                Some(inv) => inv,
                None => {
                    let by_name =
                        Inventory::discover_listing(clients, names, Lookup::ByName, hints, &listed);
                    by_name.await?
                }
            };
            for (key, found) in by_name.listed {
                let detached = found.detail.get("vpc").is_none_or(String::is_empty);
                if detached && !bound.listed.contains_key(&key) {
                    bound.listed.insert(key, found);
                }
            }
        }
        Ok(bound)
    }
}

/// The IDs of the listed objects of the shape `pattern`, and of the strays
/// of their listing.
fn listed_ids(inv: &Inventory, pattern: &str, listing: &ec2::Listing) -> Vec<String> {
    let strays = inv.strays.ec2.listed.get(listing.operation);
    let strays = strays.into_iter().flat_map(|l| &l.objects);
    ids_of(inv.objects_of(pattern).map(|(_, f)| f).chain(strays))
}

fn listed_tagged<'a>(inv: &'a Inventory, pattern: &'a str) -> Vec<TaggedObject<'a>> {
    inv.objects_of(pattern)
        .map(|(key, f)| (key.clone(), &f.id, &f.tags))
        .collect()
}

impl Declaration {
    /// Whether `key` is the key of a component of this kind.
    pub fn matches(&self, key: &str) -> bool {
        key_matches(self.key, key)
    }

    /// The keys of the components of this kind that the inventory holds.
    pub fn present(&self, spec: &EnvironmentSpec, inv: &Inventory) -> Vec<String> {
        match self.source {
            Source::Listed(_) => inv
                .objects_of(self.key)
                .map(|(key, _)| key.clone())
                .collect(),
            Source::Read { found, .. } => found(spec, inv)
                .into_iter()
                .filter(|key| self.matches(key))
                .collect(),
        }
    }

    /// The IDs (ARNs, names) of every object of this kind, duplicates
    /// included: what destroy deletes.
    pub fn ids(&self, inv: &Inventory) -> Vec<String> {
        match self.source {
            Source::Listed(listing) => listed_ids(inv, self.key, &listing),
            Source::Read { ids, .. } => ids(inv),
        }
    }

    /// Its objects that carry the environment's tags.
    fn tagged<'a>(&self, spec: &EnvironmentSpec, inv: &'a Inventory) -> Vec<TaggedObject<'a>> {
        match self.source {
            Source::Listed(_) => listed_tagged(inv, self.key),
            Source::Read { tagged, .. } => tagged(spec, inv),
        }
    }
}

/// The steps of the kinds made as soon as the VPC stands.
pub(super) fn steps_with_vpc() -> impl Iterator<Item = VpcStep> {
    COMPONENTS.iter().filter_map(|row| match row.making {
        Making::WithVpc(step) => Some(step),
        _ => None,
    })
}

/// The steps of the kinds made once the subnets and security groups stand.
pub(super) fn placed_steps() -> impl Iterator<Item = PlacedStep> {
    COMPONENTS.iter().filter_map(|row| match row.making {
        Making::Placed(step) => Some(step),
        _ => None,
    })
}

/// The steps that delete what of their kind the plan no longer has, in the
/// table's order.
pub(super) fn removals() -> impl Iterator<Item = RemoveStep> {
    COMPONENTS.iter().filter_map(|row| row.removal)
}

/// The deletion steps of a wave.
pub(super) fn steps_in(wave: Wave) -> impl Iterator<Item = Step> {
    COMPONENTS.iter().filter_map(move |row| match row.deletion {
        Deletion::Own(w, step) if w == wave => Some(step),
        _ => None,
    })
}

/// The objects of the environment that carry its tags, of the kinds whose
/// tags `apis` read and write.
pub(super) fn tagged_objects<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
    apis: &[Api],
) -> Vec<TaggedObject<'a>> {
    COMPONENTS
        .iter()
        .filter(|row| apis.contains(&row.api))
        .flat_map(|row| row.tagged(spec, inv))
        .collect()
}

fn ids_of<'a>(found: impl Iterator<Item = &'a Found>) -> Vec<String> {
    found.map(|f| f.id.clone()).collect()
}

/// The IDs of every object of the environment the inventory holds, for
/// destroy to delete and to name what is left.
pub fn object_ids(inv: &Inventory) -> Vec<String> {
    COMPONENTS.iter().flat_map(|row| row.ids(inv)).collect()
}

/// The row whose key pattern `key` matches.
fn row_of(key: &str) -> Option<&'static Declaration> {
    COMPONENTS.iter().find(|row| row.matches(key))
}

/// The computed attributes that get new values when the components `renewed`
/// (by key) are created or replaced.
pub fn renewed_outputs<'a>(
    renewed: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<&'static str> {
    renewed
        .into_iter()
        .filter_map(|key| Some((row_of(key)?.renews)(key)))
        .flatten()
        .copied()
        .collect()
}

mod table;

pub(super) use table::COMPONENTS;

#[cfg(test)]
mod tests;
