//! Which of the objects discovery found are the environment's: the VPC in
//! state and what lives in it, what the state names, and what is bound to
//! those (the addresses its NAT gateways hold, the template its group runs).
//! A tag alone makes nothing the environment's outside its first create.

use std::collections::{BTreeMap, BTreeSet};

use super::{Hints, Lookup};
use crate::aws::ec2::{self, Ec2Inventory, Found};
use crate::plan::spec::{belongs_to, Names, STATUS_CREATING, TAG_ENVIRONMENT, TAG_STATUS};

use super::keying::component;

/// The rules of ownership for one discovery.
pub(super) struct Ownership<'a> {
    names: &'a Names,
    /// the VPC in state, when there is one: what lives in it is judged by it
    in_vpc: bool,
    /// the component key of each object the state names, by its ID (the
    /// VPC in state is the `vpc`; a recorded address also by its ID)
    pub(super) known: BTreeMap<String, String>,
    /// set while the environment's first create is unfinished (its VPC still
    /// says so): what it made before it stopped carries its component key
    pub(super) first_create: bool,
    /// the launch template the environment's group runs
    pub(super) run_by_group: Option<String>,
}

impl<'a> Ownership<'a> {
    /// The rules for a discovery bound as `lookup` says, knowing the state's
    /// IDs (`hints`) and the addresses found by tag (the state records the
    /// NAT gateways' addresses by their IPs).
    pub(super) fn new(
        names: &'a Names,
        lookup: Lookup<'_>,
        hints: &Hints,
        addresses: &[Found],
    ) -> Ownership<'a> {
        let mut known = hints.components.clone();
        if let Some(vpc) = lookup.vpc() {
            known.insert(vpc.to_string(), "vpc".to_string());
        }
        for address in addresses {
            let recorded = address.detail.get("public_ip").and_then(|ip| known.get(ip));
            if let Some(key) = recorded.cloned() {
                known.insert(address.id.clone(), key);
            }
        }
        Ownership {
            names,
            in_vpc: lookup.vpc().is_some(),
            known,
            first_create: false,
            run_by_group: None,
        }
    }

    /// Whether an object found by where it lives (the VPC, the environment's
    /// names) is the environment's by its tags. Before the VPC is known only
    /// those tagged for it are: anything else could be another's.
    pub(super) fn claims(&self, tags: &BTreeMap<String, String>) -> bool {
        let environment = self.names.environment.as_str();
        if self.in_vpc {
            belongs_to(tags, environment)
        } else {
            tags.get(TAG_ENVIRONMENT).map(String::as_str) == Some(environment)
        }
    }

    /// Whether an object in the VPC is the environment's: one the state names
    /// is whatever its tags say now (a changed environment tag is tag drift,
    /// never a reason to build it again).
    pub(super) fn owns(&self, id: &str, tags: &BTreeMap<String, String>) -> bool {
        self.known.contains_key(id) || self.claims(tags)
    }

    fn made_by_first_create(&self, tags: &BTreeMap<String, String>, prefix: &str) -> bool {
        self.first_create && component(tags).starts_with(prefix) && self.claims(tags)
    }

    /// A launch template is the environment's when the state names it, its
    /// group runs it, or it is the template of the environment's name, which
    /// no other can take (a region's template names are unique), while it
    /// carries its tags: so it is recognised after an import, or a run
    /// stopped right after making it again.
    pub(super) fn template_is_ours(&self, template: &Found) -> bool {
        let named_ours =
            template.detail.get("name") == Some(&self.names.app) && self.claims(&template.tags);
        self.known.contains_key(&template.id)
            || self.run_by_group.as_ref() == Some(&template.id)
            || named_ours
            || self.made_by_first_create(&template.tags, "lt")
    }

    /// Addresses and templates are found by tag across the account, not by
    /// the VPC: one is the environment's only when bound to it (held by its
    /// NAT gateways, named by the state or by the run that made it, run by
    /// its group). Tags alone, even all of the environment's, are another's
    /// copy (or a leftover to release by hand): taken out of `found` and
    /// returned in words, to report, never to release or delete.
    pub(super) fn set_apart_tagged_elsewhere(&self, found: &mut Ec2Inventory) -> Vec<String> {
        if !self.in_vpc {
            return Vec::new();
        }
        let held = held_allocations(found.listed_objects(&ec2::NAT_GATEWAYS));
        let (addresses, addresses_elsewhere): (Vec<Found>, Vec<Found>) =
            std::mem::take(&mut found.addresses)
                .into_iter()
                .partition(|a| {
                    held.contains(&a.id)
                        || self.known.contains_key(&a.id)
                        || self.made_by_first_create(&a.tags, "eip/")
                });
        found.addresses = addresses;
        let (templates, templates_elsewhere): (Vec<Found>, Vec<Found>) =
            std::mem::take(&mut found.launch_templates)
                .into_iter()
                .partition(|t| self.template_is_ours(t));
        found.launch_templates = templates;
        let addresses = addresses_elsewhere.iter().map(|a| {
            let ip = a.detail.get("public_ip").map(String::as_str);
            format!("Elastic IP {} ({})", a.id, ip.unwrap_or_default())
        });
        let templates = templates_elsewhere
            .iter()
            .map(|t| format!("launch template {}", t.id));
        addresses.chain(templates).collect()
    }

    /// The addresses the state names by their IPs that `listed` lacks (their
    /// environment tag changed), to read by IP; one a gateway holds may be
    /// read a second time.
    pub(super) fn unlisted_ips(&self, listed: &[Found]) -> Vec<String> {
        self.known
            .iter()
            .filter(|(ip, key)| key.starts_with("eip/") && ip.parse::<std::net::IpAddr>().is_ok())
            .map(|(ip, _)| ip.clone())
            .filter(|ip| !listed.iter().any(|a| a.detail.get("public_ip") == Some(ip)))
            .collect()
    }

    /// The keys of the addresses: those the state names, by ID or, for
    /// `read_by_ip`, by their IPs, are keyed by what the state says whatever
    /// their tags.
    pub(super) fn address_keys(&self, read_by_ip: &[Found]) -> BTreeMap<String, String> {
        let mut keys = self.known.clone();
        for address in read_by_ip {
            let recorded = address
                .detail
                .get("public_ip")
                .and_then(|ip| self.known.get(ip));
            if let Some(key) = recorded {
                keys.insert(address.id.clone(), key.clone());
            }
        }
        keys
    }
}

/// Whether a VPC is still marked as being created by its environment's first apply.
pub(super) fn being_created(vpc: &Found) -> bool {
    vpc.tags.get(TAG_STATUS).map(String::as_str) == Some(STATUS_CREATING)
}

/// The Elastic IPs the NAT gateways hold: a zonal gateway's one, each of a
/// regional gateway's per zone.
pub(super) fn held_allocations(nat_gateways: &[Found]) -> BTreeSet<String> {
    nat_gateways
        .iter()
        .flat_map(ec2::GatewayAddress::all_of)
        .map(|a| a.allocation)
        .filter(|id| !id.is_empty())
        .collect()
}
