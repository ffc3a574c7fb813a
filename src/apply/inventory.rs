//! What exists in AWS for one environment, keyed by logical component.

use std::collections::{BTreeMap, BTreeSet};

use super::waiters::{retry_propagation, PROPAGATION_WINDOW};
use crate::aws::autoscaling::{self, Group, Refresh};
use crate::aws::ec2::{
    self, Ec2Inventory, FlowLog, Found, InstanceSettings, RouteTable, SecurityGroup,
    TemplateVersion, VpcDns,
};
use crate::aws::elbv2::{self, Listener, LoadBalancer, TargetGroup};
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::spec::{Names, TAG_COMPONENT, TAG_ENVIRONMENT};

mod boundary;
mod elb;
mod facts;
mod instances;
mod keying;
mod ownership;
mod templates;

pub use boundary::{foreign_interfaces, interface_in_words};
use facts::{
    elb_facts, group_facts, instance_facts, tags_in_chunks, vpc_facts, ElbFacts, GroupFacts,
};
pub use keying::key_matches;
use keying::{component, key_by_component, key_listed, single, standalone};
use ownership::{being_created, held_allocations, Ownership};

/// Every object of the environment that AWS reports.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub vpc: Option<Found>,
    /// keyed by component key (`rtb/public`, `rtb/private/us-east-1a`)
    pub route_tables: BTreeMap<String, RouteTable>,
    pub addresses: BTreeMap<String, Found>,
    /// the objects of the kinds the table of components lists generically
    /// (see [`ListedKind`]), by component key
    pub listed: BTreeMap<String, Found>,
    /// the environment's own flow log (`flowlog`), with its settings in `detail`
    pub flow_log: Option<Found>,
    /// the credentials may not describe flow logs
    pub flow_logs_denied: bool,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub launch_template: Option<Found>,
    pub bastion: Option<Found>,
    pub load_balancer: Option<LoadBalancer>,
    /// the load balancer's attributes by key, AWS's defaults filled in for keys it omits
    pub load_balancer_attributes: Option<BTreeMap<String, String>>,
    pub target_groups: Vec<TargetGroup>,
    pub listeners: Vec<Listener>,
    /// the targets registered in each target group, by target group ARN
    pub registered: BTreeMap<String, Vec<elbv2::Target>>,
    /// each target group's attributes by key (AWS's defaults filled in for
    /// keys it omits), by target group ARN
    pub target_group_attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// the rules besides the default one of each listener, by listener ARN
    pub listener_rules: BTreeMap<String, Vec<elbv2::ListenerRule>>,
    /// the certificates besides the default one of each HTTPS listener, by
    /// listener ARN
    pub listener_certificates: BTreeMap<String, Vec<String>>,
    /// the attributes that shape each listener's responses (headers it adds,
    /// `Server`), by listener ARN
    pub listener_responses: BTreeMap<String, BTreeMap<String, String>>,
    pub group: Option<Group>,
    /// the environment's group while AWS deletes it, which is then not `group`
    pub group_deleting: Option<Group>,
    /// the group's members read again after the targets, when the first read
    /// and the registered targets disagree (see `Inventory::confirm_members`)
    pub members_reread: Option<Vec<autoscaling::Member>>,
    /// the group's instance refresh that has not ended yet
    pub refresh: Option<Refresh>,
    /// the environment's target-tracking policy
    pub cpu_policy: Option<autoscaling::CpuPolicy>,
    /// the group's other scaling policies, scheduled actions and lifecycle hooks
    pub group_attachments: Vec<autoscaling::Attachment>,
    /// what the app instances run: the template version of the group, else the default one
    pub template_settings: Option<InstanceSettings>,
    /// the launch template's default version
    pub default_template: Option<TemplateVersion>,
    /// the version of the environment's launch template the group runs
    pub group_template: Option<TemplateVersion>,
    /// DNS support and hostnames of the VPC
    pub vpc_dns: Option<VpcDns>,
    /// the VPC's default security group, which must have no rules
    pub default_group: Option<SecurityGroup>,
    /// the VPC's flow logs (not managed by the provider; read for the posture report)
    pub flow_logs: Option<Vec<FlowLog>>,
    /// which route table is the VPC's main one (read by the VPC)
    pub main_route_table: Option<MainRouteTable>,
    /// IPv4 blocks associated with the VPC besides its own that no subnet
    /// uses: another's addition (one that holds another's subnet stays
    /// while the subnet does, which is reported)
    pub unused_vpc_blocks: Vec<ec2::ExtraIpv4Block>,
    /// the VPC's network ACLs, with the subnets each filters
    pub network_acls: Vec<ec2::NetworkAcl>,
    /// whether the bastion's root volume is encrypted
    pub bastion_root_encrypted: Option<bool>,
    /// whether the bastion refuses termination (`disableApiTermination`)
    pub bastion_termination_protected: bool,
    /// whether the bastion refuses stopping, and so termination (`disableApiStop`)
    pub bastion_stop_protected: bool,
    /// the instances the environment's group runs
    pub app_instances: Vec<Found>,
    /// what lives in the environment's VPC and is not the environment's
    /// (another team's instance, subnet, group, ...): reported, never touched
    pub foreign: Vec<ForeignObject>,
    /// objects outside the environment's VPC that carry its tags but are
    /// bound to nothing of it (another's copy, a leftover): reported, never touched
    pub tagged_elsewhere: Vec<String>,
    /// the unencrypted volumes attached to each instance of the environment
    /// (bastion and app instances), by instance ID; `None` when not read
    pub unencrypted_volumes: Option<BTreeMap<String, Vec<String>>>,
    /// the root device names of the images the launch template and the
    /// bastion run, by image ID: the one mapping that makes the root volume
    /// is made under that name
    pub image_roots: BTreeMap<String, ec2::ImageRoot>,
    /// tags of the load balancer and target groups, by ARN
    pub elb_tags: BTreeMap<String, BTreeMap<String, String>>,
    /// duplicates and objects without a component key: never used, deleted by destroy
    pub strays: Strays,
}

/// The VPC's main route table: the one subnets without their own table use.
/// AWS made it with the VPC and the environment never routes through it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MainRouteTable {
    pub table: String,
    /// the association that makes it main
    pub association: String,
    /// the table AWS made with the VPC, when it can be told from the others
    pub vpc_own: Option<String>,
    /// the VPC's bare route tables (no subnet, only the local route) that
    /// are not the environment's: AWS's own original main table among them
    pub others: Vec<String>,
}

/// What a virtual private gateway attached to the VPC is called.
const ATTACHED_VPN_GATEWAY: &str = "virtual private gateway";

/// An object inside the environment's boundary that is not the environment's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForeignObject {
    pub id: String,
    /// what it is, in words: `instance`, `security group`, ...
    pub kind: &'static str,
    /// its `Name` tag, when it has one
    pub name: Option<String>,
}

impl ForeignObject {
    pub fn new(kind: &'static str, id: &str, tags: &BTreeMap<String, String>) -> ForeignObject {
        ForeignObject {
            id: id.to_string(),
            kind,
            name: tags.get("Name").cloned(),
        }
    }

    /// What to do about it before the VPC can be deleted.
    pub fn remedy(&self, vpc: &str) -> String {
        match self.kind {
            ATTACHED_VPN_GATEWAY => format!(
                "is attached to the VPC {vpc} but is not the environment's: detach it (`aws ec2 detach-vpn-gateway --vpn-gateway-id {} --vpc-id {vpc}`)",
                self.id
            ),
            _ => format!("lives in the VPC {vpc} but is not the environment's: delete or move it"),
        }
    }
}

impl std::fmt::Display for ForeignObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.id)?;
        match &self.name {
            Some(name) => write!(f, " ({name:?})"),
            None => Ok(()),
        }
    }
}

/// Objects tagged for the environment that duplicate a component or carry no
/// component key, as a create retried after a lost response can leave behind.
#[derive(Clone, Debug, Default)]
pub struct Strays {
    pub ec2: Ec2Inventory,
    pub load_balancers: Vec<LoadBalancer>,
}

/// What a discovery serves, which decides what it reads besides the objects
/// themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Purpose {
    /// a refresh or an apply: every setting of every component is read, to be
    /// compared with the configuration
    #[default]
    Compare,
    /// a destroy: what deleting needs (the objects, whose they are, the load
    /// balancer's deletion protection, the bastion's protections, what would
    /// block). Settings that only a comparison reads and that go with what
    /// holds them are left unread: the load balancer's listeners (deleted
    /// with it) and their rules and attributes, the target groups' attributes
    /// and targets, the group's policies, scheduled actions, hooks,
    /// notifications and refresh (deleted with the group), and the VPC's DNS
    /// attributes. Those are one call per environment each, and Elastic Load
    /// Balancing's and Auto Scaling's account buckets are shared by every
    /// environment destroyed at once.
    Delete,
}

/// What the state (and a run that made objects) says: the objects it names
/// are the environment's whatever their tags, and their describes can join
/// an earlier round. It also says what the discovery serves.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    /// what is read besides the objects themselves
    pub purpose: Purpose,
    /// the listeners' ARNs, whose tags are read with the load balancer's (one
    /// that is out of date costs a round, never a wrong answer)
    pub listener_arns: Vec<String>,
    /// the component key of each object the state names, by its ID (by its
    /// address for the NAT gateways' Elastic IPs): an object whose component
    /// tag was changed out of band is still that component, and an Elastic IP
    /// or launch template named here is the environment's though nothing of
    /// it holds or runs it right now
    pub components: BTreeMap<String, String>,
}

/// Which objects discovery may take for the environment's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// by the environment's tags and names alone: before its VPC is known (create, import)
    ByName,
    /// bound to the VPC recorded in state: a VPC of the same name elsewhere, and
    /// anything in it, is another environment's
    InVpc(&'a str),
    /// bound, and also every load balancer and target group in the VPC whatever its
    /// name (an old port's target group), so an update or destroy leaves nothing behind
    EverythingInVpc(&'a str),
}

impl Lookup<'_> {
    fn vpc(&self) -> Option<&str> {
        match self {
            Lookup::ByName => None,
            Lookup::InVpc(vpc) | Lookup::EverythingInVpc(vpc) => Some(vpc),
        }
    }
}

/// The shape of the subnets' component keys (`subnet/public/us-east-1a`):
/// [`Inventory::objects_of`] gives them.
pub const SUBNET_KEYS: &str = "subnet/*/*";

/// The shape of the NAT gateways' component keys (`nat/us-east-1a`, `nat/regional`).
pub const NAT_GATEWAY_KEYS: &str = "nat/*";

/// A kind of component whose objects one [`ec2::Listing`] finds and nothing
/// but their [`Found`] describes: discovery, the boundary and keying treat
/// every such kind alike (see the table of components).
#[derive(Clone, Copy)]
pub struct ListedKind {
    /// its component key's shape, `*` standing for one segment
    pub key: &'static str,
    pub listing: ec2::Listing,
}

impl ListedKind {
    /// Whether `key` is the key of a component of this kind.
    pub fn matches(&self, key: &str) -> bool {
        key_matches(self.key, key)
    }
}

impl Inventory {
    /// The object of the listed kinds (see [`ListedKind`]) under component `key`.
    pub fn object(&self, key: &str) -> Option<&Found> {
        self.listed.get(key)
    }

    /// The objects of the listed kinds whose keys are of the shape `pattern`
    /// (`vpce/*`), by key.
    pub fn objects_of<'a>(
        &'a self,
        pattern: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Found)> + 'a {
        let listed = self.listed.iter();
        listed.filter(move |(key, _)| key_matches(pattern, key))
    }

    /// Describes everything of the environment: one call per EC2 type and the
    /// ELB and Auto Scaling lookups by name, concurrently, then what hangs off
    /// them (tags, listeners, policy, template), concurrently. Nothing here lists
    /// the account's other environments, so a refresh costs the same however
    /// many there are.
    ///
    /// A describe that names an object an earlier describe of the same round just
    /// listed can still be told it does not exist (AWS's endpoints learn of new
    /// objects at different moments); the round is read-only, so it is simply
    /// run again.
    ///
    /// `listed` are the kinds of the table of components that one listing
    /// each finds ([`Inventory::discover`] passes them).
    pub(super) async fn discover_listing(
        clients: &AwsClients,
        names: &Names,
        lookup: Lookup<'_>,
        hints: &Hints,
        listed: &[ListedKind],
    ) -> Result<Inventory, AwsError> {
        let deadline = tokio::time::Instant::now() + PROPAGATION_WINDOW;
        retry_propagation(deadline, "the environment's objects", || {
            Box::pin(Inventory::discover_once(
                clients, names, lookup, hints, listed,
            ))
        })
        .await
    }

    async fn discover_once(
        clients: &AwsClients,
        names: &Names,
        lookup: Lookup<'_>,
        hints: &Hints,
        listed: &[ListedKind],
    ) -> Result<Inventory, AwsError> {
        let listings: Vec<ec2::Listing> = listed.iter().map(|kind| kind.listing).collect();
        // Round 1: every describe that needs no answer of another, including those
        // that name objects by the environment's names or by the VPC in state; the
        // ones whose object may not exist are asked anyway, and their answers used
        // only when it does (see round 2).
        let vpc_in_state = lookup.vpc();
        let compares = hints.purpose == Purpose::Compare;
        // the load balancer and target group of the environment's names: a
        // lookup that lists the VPC's finds them there (see `elb::named`)
        let by_name = !matches!(lookup, Lookup::EverythingInVpc(_));
        let (elb, batches) = (&clients.elbv2, &clients.batches);
        let (
            mut ec2_found,
            load_balancer,
            named_group,
            group,
            scanned,
            group_read_by_name,
            named_versions,
            vpc_read_from_state,
        ) = futures::try_join!(
            ec2::discover(
                &clients.ec2,
                &clients.batches,
                ec2::Scope {
                    tag_key: TAG_ENVIRONMENT,
                    environment: &names.environment,
                    vpc: vpc_in_state,
                },
                &listings,
            ),
            async {
                match by_name {
                    true => elbv2::find_load_balancer(elb, batches, &names.load_balancer).await,
                    false => Ok(None),
                }
            },
            async {
                match by_name {
                    true => elbv2::find_target_group(elb, batches, &names.target_group).await,
                    false => Ok(None),
                }
            },
            autoscaling::find_group(&clients.autoscaling, &clients.batches, &names.app),
            async {
                match lookup {
                    Lookup::EverythingInVpc(vpc) => {
                        elbv2::in_vpc(&clients.elbv2, &clients.batches, vpc).await
                    }
                    _ => Ok((Vec::new(), Vec::new())),
                }
            },
            async {
                // asked before the group is known to exist only where it
                // likely does (the VPC in state has one): a create's lookup by
                // name would spend four Auto Scaling calls on a group not
                // there yet, which every environment created at once makes
                // in the account's one bucket before making anything
                match compares && vpc_in_state.is_some() {
                    true => Ok(group_facts(clients, &names.app).await.ok()),
                    false => Ok(None),
                }
            },
            async {
                let versions = ["$Default".to_string()];
                let template = ec2::TemplateRef::Name(&names.app);
                Ok(
                    ec2::launch_template_versions(&clients.ec2, template, &versions)
                        .await
                        .ok(),
                )
            },
            async {
                match vpc_in_state {
                    // the VPC may be gone: round 2 reads again if it is found;
                    // its default group comes with the VPC's other groups
                    Some(vpc) => Ok(vpc_facts(clients, vpc, true, hints.purpose).await.ok()),
                    None => Ok(None),
                }
            },
        )?;
        let mut own = Ownership::new(names, lookup, hints, &ec2_found.addresses);
        // listed with the VPC's groups when they are described by the VPC
        let listed_default_group = ec2_found
            .security_groups
            .iter()
            .find(|g| lookup.vpc().is_some() && g.name == "default")
            .cloned();
        // every subnet of the VPC, the environment's and others': a block
        // that holds one cannot be disassociated
        let subnet_blocks: Vec<String> = ec2_found
            .listed_objects(&ec2::SUBNETS)
            .iter()
            .filter_map(|s| s.detail.get("cidr").cloned())
            .collect();
        let (mut foreign, main_route_table) = match lookup.vpc() {
            Some(vpc) => {
                boundary::separate_foreign(&mut ec2_found, vpc, |id, tags| own.owns(id, tags))
            }
            None => (Vec::new(), None),
        };
        own.first_create = ec2_found.vpcs.first().is_some_and(being_created);
        let group = group.filter(|g| own.claims(&g.tags));
        // A group AWS is deleting (out of band, or by a destroy that stopped)
        // is gone for every purpose but one: AWS refuses to change it or to
        // make another of its name until the deletion ends, which apply and
        // destroy wait for. Its policies, refresh and instances go with it.
        let group_deleting = group.clone().filter(|g| g.deleting);
        let group = group.filter(|g| !g.deleting);
        own.run_by_group = group.as_ref().map(|g| g.launch_template_id.clone());
        let tagged_elsewhere = own.set_apart_tagged_elsewhere(&mut ec2_found);
        // the VPC that ELB objects must live in to be the environment's
        let home = lookup
            .vpc()
            .map(str::to_string)
            .or_else(|| ec2_found.vpcs.first().map(|v| v.id.clone()));
        let (scanned_balancers, scanned_groups) = scanned;
        let load_balancer =
            load_balancer.or_else(|| elb::named(&scanned_balancers, &names.load_balancer));
        let named_group = named_group.or_else(|| elb::named(&scanned_groups, &names.target_group));
        let balancers = elb::at_home(load_balancer, scanned_balancers, home.as_deref());
        let groups = elb::at_home(named_group, scanned_groups, home.as_deref());
        let mut arns: Vec<String> = balancers.iter().map(|lb| lb.arn.clone()).collect();
        arns.extend(groups.iter().map(|tg| tg.arn.clone()));
        let mut balancers = balancers.into_iter();
        let load_balancer = balancers.next();
        let extra_balancers: Vec<LoadBalancer> = balancers.collect();
        // the template found by its name but no longer tagged for the environment
        // is read in round 2, and is the environment's if its tags say so
        let untagged_template = named_versions
            .iter()
            .flatten()
            .map(|v| v.template_id.clone())
            .find(|id| !ec2_found.launch_templates.iter().any(|t| &t.id == id))
            .filter(|_| lookup.vpc().is_some() && ec2_found.launch_templates.is_empty());
        let template = ec2_found
            .launch_templates
            .first()
            .map(|t| t.id.clone())
            .or(untagged_template.clone());
        // Elastic IPs are not VPC-bound: those the environment's NAT gateways hold
        // but no longer tagged for it are read in round 2
        let untagged_addresses: Vec<String> =
            held_allocations(ec2_found.listed_objects(&ec2::NAT_GATEWAYS))
                .into_iter()
                .filter(|id| !ec2_found.addresses.iter().any(|a| &a.id == id))
                .collect();
        // and those the state names by their IPs that were not listed (their
        // environment tag changed): read by IP in round 2
        let unlisted_ips = own.unlisted_ips(&ec2_found.addresses);
        // the versions read by name count only if they are of the environment's template
        let mut template_versions: Vec<TemplateVersion> = named_versions
            .unwrap_or_default()
            .into_iter()
            .filter(|v| Some(&v.template_id) == template.as_ref())
            .collect();
        let wanted_versions =
            templates::versions_to_read(template.as_ref(), &template_versions, group.as_ref());
        let vpc_id = ec2_found.vpcs.first().map(|vpc| vpc.id.clone());
        // the group's running instances: they carry the environment's tags
        // from the group, and keep the old ones when the tags change
        let app_instances: Vec<Found> = ec2_found
            .instances
            .iter()
            .filter(|i| i.tags.get("aws:autoscaling:groupName") == Some(&names.app))
            .filter(|_| group_deleting.is_none())
            .cloned()
            .collect();
        let bastion_found = standalone(ec2_found.instances.clone())
            .into_iter()
            .find(|i| component(&i.tags) == "bastion");
        let bastion_id = bastion_found.as_ref().map(|i| i.id.clone());
        let root_volume = bastion_found
            .as_ref()
            .and_then(|i| i.detail.get("root_volume").cloned())
            .filter(|v| !v.is_empty());
        // every volume of every instance of the environment, for EC2.3 and
        // drift (not of a deleting group's, which terminate)
        let of_deleting_group = |i: &Found| {
            group_deleting.is_some() && i.tags.get("aws:autoscaling:groupName") == Some(&names.app)
        };
        let instance_volumes = instances::volumes_by_instance(
            ec2_found
                .instances
                .iter()
                .filter(|i| own.claims(&i.tags) && !of_deleting_group(i)),
        );
        let all_volumes = instances::every_volume(&instance_volumes, root_volume.clone());
        // the listeners' tags are read with the others' when the state names
        // the listeners; any it does not name cost one more round
        let hinted_listeners: Vec<String> = match &load_balancer {
            Some(_) if compares => hints.listener_arns.clone(),
            _ => Vec::new(),
        };
        // Round 2: what hangs off the objects of round 1.
        let (elb_read, group_read, more_versions, vpc_read, instance_read, by_id) = futures::try_join!(
            elb_facts(
                clients,
                load_balancer.as_ref(),
                &groups,
                &arns,
                &hinted_listeners,
                hints.purpose,
            ),
            async {
                match (&group, group_read_by_name) {
                    (Some(_), Some(facts)) => Ok(facts),
                    (Some(g), None) if compares => group_facts(clients, &g.name).await,
                    _ => Ok(GroupFacts::default()),
                }
            },
            async {
                match &template {
                    Some(id) if !wanted_versions.is_empty() => {
                        let template = ec2::TemplateRef::Id(id);
                        ec2::launch_template_versions(&clients.ec2, template, &wanted_versions)
                            .await
                    }
                    _ => Ok(Vec::new()),
                }
            },
            async {
                match (&vpc_id, vpc_read_from_state) {
                    (Some(_), Some(facts)) => Ok(Some(facts)),
                    (Some(vpc), None) => {
                        vpc_facts(clients, vpc, lookup.vpc().is_some(), hints.purpose)
                            .await
                            .map(Some)
                    }
                    (None, _) => Ok(None),
                }
            },
            instance_facts(clients, &all_volumes, bastion_id.as_deref()),
            async {
                futures::try_join!(
                    async {
                        match &untagged_template {
                            Some(id) => ec2::launch_template_by_id(&clients.ec2, id).await,
                            None => Ok(None),
                        }
                    },
                    ec2::addresses_by(&clients.ec2, "allocation-id", &untagged_addresses),
                    ec2::addresses_by(&clients.ec2, "public-ip", &unlisted_ips),
                )
            },
        )?;
        let ElbFacts {
            listeners,
            load_balancer_attributes,
            mut tags,
            mut listener_rules,
            registered,
            target_group_attributes,
        } = elb_read;
        let (volumes, bastion_termination_protected, bastion_stop_protected) = instance_read;
        let (template_by_name, addresses_held, addresses_recorded) = by_id;
        for address in addresses_held
            .into_iter()
            .chain(addresses_recorded.iter().cloned())
        {
            if !ec2_found.addresses.iter().any(|a| a.id == address.id) {
                ec2_found.addresses.push(address);
            }
        }
        // an address held by the environment's NAT gateways, or named by the
        // state, is keyed by what the state says whatever its tags
        let address_keys = own.address_keys(&addresses_recorded);
        let template_by_name = template_by_name.filter(|t| own.template_is_ours(t));
        let template = if untagged_template.is_some() && template_by_name.is_none() {
            // another's, or gone: nothing read of it is the environment's
            template_versions.clear();
            None
        } else {
            template
        };
        ec2_found.launch_templates.extend(template_by_name);
        // Round 3, only for listeners the state did not name, with the images.
        let unread: Vec<String> = listeners
            .iter()
            .map(|l| l.arn.clone())
            .filter(|arn| !tags.contains_key(arn))
            .collect();
        let no_rules_read: Vec<String> = listeners
            .iter()
            .map(|l| l.arn.clone())
            .filter(|arn| !listener_rules.contains_key(arn))
            .collect();
        let (vpc_dns, default_group, flow_logs, network_acls, vpn_gateways) = match vpc_read {
            Some(facts) => (
                facts.dns,
                facts.default_group.or(listed_default_group),
                facts.flow_logs,
                facts.network_acls,
                facts.vpn_gateways,
            ),
            None => (None, None, None, Vec::new(), Vec::new()),
        };
        // the environment makes no network ACL: any but the default is another's
        foreign.extend(
            network_acls
                .iter()
                .filter(|acl| lookup.vpc().is_some() && !acl.default)
                .map(|acl| ForeignObject {
                    id: acl.id.clone(),
                    kind: "network ACL",
                    name: None,
                }),
        );
        // it keeps the VPC from being deleted until detached
        foreign.extend(
            vpn_gateways
                .iter()
                .filter(|_| lookup.vpc().is_some())
                .map(|g| ForeignObject::new(ATTACHED_VPN_GATEWAY, &g.id, &g.tags)),
        );
        if lookup.vpc().is_some() {
            // the environment's flow logs came with the VPC's: one call a refresh
            ec2_found.flow_logs_denied = vpc_dns.is_some() && flow_logs.is_none();
            ec2_found.flow_logs = flow_logs
                .iter()
                .flatten()
                .filter(|f| own.claims(&f.tags))
                .cloned()
                .collect();
        }
        let flow_logs: Option<Vec<FlowLog>> =
            flow_logs.map(|all| all.iter().map(FlowLog::from).collect());
        for version in more_versions {
            if !template_versions.iter().any(|v| v.number == version.number) {
                template_versions.push(version);
            }
        }
        let bastion_root_encrypted = root_volume.and_then(|v| volumes.get(&v).copied());
        let unencrypted_volumes = Some(instances::unencrypted(instance_volumes, &volumes));
        let default_template = template_versions.iter().find(|v| v.default).cloned();
        let group_template =
            templates::version_run_by(group.as_ref(), template.as_ref(), &template_versions);
        let template_settings = group_template
            .as_ref()
            .or(default_template.as_ref())
            .map(|v| v.settings.clone());
        // what the template versions and the bastion run decides their root
        // device and its least size, which only the images say (one read for
        // every environment of the moment)
        let run_images: Vec<String> = template_versions
            .iter()
            .map(|v| v.settings.ami_id.clone())
            .chain(bastion_found.and_then(|b| b.detail.get("image").cloned()))
            .collect();
        let https_listeners: Vec<String> = listeners
            .iter()
            .filter(|l| l.protocol == "HTTPS")
            .map(|l| l.arn.clone())
            .collect();
        let every_listener: Vec<String> = listeners.iter().map(|l| l.arn.clone()).collect();
        let (more_tags, image_roots, more_rules, listener_certificates, listener_responses) = futures::try_join!(
            tags_in_chunks(clients, &unread),
            ec2::image_roots(
                &clients.ec2,
                &clients.batches,
                &clients.image_roots,
                &run_images
            ),
            elbv2::rules_of(&clients.elbv2, &no_rules_read),
            elbv2::extra_certificates_of(&clients.elbv2, &https_listeners),
            elbv2::response_attributes_of(&clients.elbv2, &every_listener),
        )?;
        tags.extend(more_tags);
        listener_rules.extend(more_rules);
        // only the listeners found now: a hinted one may be gone
        listener_rules.retain(|arn, _| listeners.iter().any(|l| &l.arn == arn));
        // found by name (and, with the VPC known, only in that VPC)
        let ours = |arn: &str| tags.get(arn).is_some_and(|t| own.claims(t));
        let load_balancer = load_balancer.filter(|lb| ours(&lb.arn));
        let (listeners, load_balancer_attributes) = if load_balancer.is_some() {
            (listeners, load_balancer_attributes)
        } else {
            (Vec::new(), None)
        };
        let target_groups: Vec<TargetGroup> =
            groups.into_iter().filter(|tg| ours(&tg.arn)).collect();
        let GroupFacts {
            cpu_policy,
            refresh,
            attachments: mut group_attachments,
        } = group_read;
        // read with the group itself
        group_attachments.extend(group.as_ref().and_then(|g| g.warm_pool.clone()));

        let mut strays = Strays {
            load_balancers: extra_balancers
                .into_iter()
                .filter(|lb| ours(&lb.arn))
                .collect(),
            ..Strays::default()
        };
        // only the claimed objects' tags are the environment's to read and
        // repair: another team's balancer or target group in the VPC (or one
        // of the environment's names elsewhere) keeps its tags untouched
        let claimed: BTreeSet<&str> = load_balancer
            .iter()
            .chain(&strays.load_balancers)
            .map(|lb| lb.arn.as_str())
            .chain(target_groups.iter().map(|tg| tg.arn.as_str()))
            .chain(listeners.iter().map(|l| l.arn.as_str()))
            .collect();
        let elb_tags = elb::only_claimed(tags, &claimed);
        let listener_rules = elb::only_claimed(listener_rules, &claimed);
        let listener_certificates = elb::only_claimed(listener_certificates, &claimed);
        let listener_responses = elb::only_claimed(listener_responses, &claimed);
        let registered = elb::only_claimed(registered, &claimed);
        let target_group_attributes = elb::only_claimed(target_group_attributes, &claimed);
        let e = ec2_found;
        let mut inventory = Inventory {
            vpc: single(e.vpcs, "vpc", &own.known, &mut strays.ec2.vpcs),
            route_tables: key_by_component(
                e.route_tables,
                &own.known,
                &mut strays.ec2.route_tables,
            ),
            addresses: key_by_component(e.addresses, &address_keys, &mut strays.ec2.addresses),
            security_groups: key_by_component(
                e.security_groups,
                &own.known,
                &mut strays.ec2.security_groups,
            ),
            listed: key_listed(e.listed, listed, &own.known, &mut strays.ec2.listed),
            flow_log: single(
                e.flow_logs,
                "flowlog",
                &own.known,
                &mut strays.ec2.flow_logs,
            ),
            flow_logs_denied: e.flow_logs_denied,
            launch_template: single(
                e.launch_templates,
                "lt",
                &own.known,
                &mut strays.ec2.launch_templates,
            ),
            bastion: single(
                standalone(e.instances),
                "bastion",
                &own.known,
                &mut strays.ec2.instances,
            ),
            load_balancer,
            load_balancer_attributes,
            target_groups,
            listeners,
            registered,
            target_group_attributes,
            listener_rules,
            listener_certificates,
            listener_responses,
            group,
            group_deleting,
            members_reread: None,
            refresh,
            cpu_policy,
            group_attachments,
            template_settings,
            default_template,
            group_template,
            main_route_table,
            unused_vpc_blocks: Vec::new(),
            network_acls,
            vpc_dns,
            default_group,
            flow_logs,
            bastion_root_encrypted,
            bastion_termination_protected,
            bastion_stop_protected,
            app_instances,
            foreign,
            tagged_elsewhere,
            unencrypted_volumes,
            image_roots,
            elb_tags,
            strays,
        };
        // judged only by the VPC in state, whose every subnet was listed:
        // before it, only the environment's are
        if lookup.vpc().is_some() {
            if let Some(vpc) = &inventory.vpc {
                inventory.unused_vpc_blocks = unused_blocks(vpc, &subnet_blocks);
            }
        }
        inventory.confirm_members(clients).await?;
        Ok(inventory)
    }

    /// Reads the group's members again when they and the targets registered
    /// in its target groups disagree. The group is read before the targets,
    /// so an instance that joined or left in between (a refresh's
    /// replacement, a scale event) would look missing from the target group
    /// or a stranger in it; read on both sides of the targets, it is neither.
    async fn confirm_members(&mut self, clients: &AwsClients) -> Result<(), AwsError> {
        let Some(group) = &self.group else {
            return Ok(());
        };
        if members_disagree(group, &self.registered) {
            let again =
                autoscaling::find_group(&clients.autoscaling, &clients.batches, &group.name)
                    .await?;
            self.members_reread = Some(again.map(|g| g.members).unwrap_or_default());
        }
        Ok(())
    }

    /// The DHCP options set the VPC uses, when the VPC is found.
    pub fn dhcp_options(&self) -> Option<&String> {
        self.vpc.as_ref()?.detail.get(ec2::DHCP_OPTIONS)
    }

    /// Whether the environment's VPC is still marked as being created.
    pub fn is_unfinished(&self) -> bool {
        self.vpc.as_ref().is_some_and(being_created)
    }
}

/// The IPv4 blocks of `vpc` besides its own that hold none of `subnets`.
fn unused_blocks(vpc: &Found, subnets: &[String]) -> Vec<ec2::ExtraIpv4Block> {
    let parsed = |text: &str| text.parse::<crate::plan::cidr::Cidr>().ok();
    let subnets: Vec<_> = subnets.iter().filter_map(|s| parsed(s)).collect();
    ec2::ExtraIpv4Block::of(vpc)
        .into_iter()
        .filter(|block| parsed(&block.cidr).is_some_and(|b| !subnets.iter().any(|s| b.contains(s))))
        .collect()
}

/// Whether the group's members and the targets registered in its target
/// groups disagree: a target that is not a member, or a member in service
/// that is not registered.
fn members_disagree(group: &Group, registered: &BTreeMap<String, Vec<elbv2::Target>>) -> bool {
    let is_member = |id: &str| group.members.iter().any(|m| m.id == id);
    let targets_of = group
        .target_groups
        .iter()
        .filter_map(|arn| registered.get(arn));
    targets_of.into_iter().any(|targets| {
        let is_registered = |id: &str| targets.iter().any(|t| t.id == id);
        let in_service = group.members.iter().filter(|m| m.is_in_service());
        targets.iter().any(|t| !is_member(&t.id))
            || in_service.clone().any(|m| !is_registered(&m.id))
    })
}

#[cfg(test)]
mod tests;
