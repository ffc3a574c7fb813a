//! Creates what is missing and repairs what drifted (reconcile), or deletes
//! everything (destroy), running independent branches concurrently.
//!
//! Reconcile is idempotent: it starts from what [`Inventory::discover`] finds by
//! tag, so re-running it after a crash resumes without duplicates.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use tokio::time::Instant;

use super::components::{placed_steps, removals, steps_with_vpc, tagged_objects, Api};
use super::inventory::{Hints, Inventory, Lookup, NAT_GATEWAY_KEYS, SUBNET_KEYS};
use super::routing::{delete_nat_gateway, delete_route_table};
use super::run::{ignore_not_found, own_tags, Placement, Result, Run};
pub use super::run::{Options, Progress};
use super::waiters::{delete_with_retry, retry_propagation, wait_terminated};
use crate::aws::autoscaling::{self};
use crate::aws::ec2::{self, Tags};
use crate::aws::elbv2::{self};
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::blueprint::{blueprint, Blueprint, Component};
use crate::plan::cidr::{Cidr, Tier};
use crate::plan::security::SgRole;
use crate::plan::spec::{
    EnvironmentSpec, ZoneChoice, STATUS_COMPLETE, STATUS_CREATING, TAG_COMPONENT, TAG_ENVIRONMENT,
    TAG_STATUS,
};

/// Resolves the zones: the named ones, or those already in use followed by the
/// region's first available zones, until `n` are chosen (as the plan chose them,
/// see [`ZoneChoice::choose`]).
pub async fn resolve_zones(
    clients: &AwsClients,
    spec: &EnvironmentSpec,
    inventory: &Inventory,
) -> Result<Vec<String>> {
    let in_use: Vec<String> = inventory
        .objects_of(SUBNET_KEYS)
        .map(|(_, s)| s)
        .filter_map(|s| s.detail.get("zone").cloned())
        .collect();
    if let Some(chosen) = spec.zones.choose(&in_use, &[]) {
        return Ok(chosen);
    }
    let available = ec2::available_zones(&clients.ec2, &clients.batches).await?;
    spec.zones.choose(&in_use, &available).ok_or_else(|| {
        AwsError::Unsatisfiable(format!(
            "the region has {} available zones but az_count is {}; lower az_count",
            available.len(),
            match &spec.zones {
                ZoneChoice::Count(n) => *n,
                ZoneChoice::Named(zones) => zones.len(),
            }
        ))
    })
}

/// What reconcile ended with: the layout it realised.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub blueprint: Blueprint,
    pub ami_id: String,
    /// the environment's VPC, which binds the resource instance to it
    pub vpc_id: String,
}

/// Brings AWS in line with `spec`: creates every missing component, repairs
/// routes and security group rules, and removes components the spec no longer has.
pub async fn reconcile(
    clients: &AwsClients,
    spec: &EnvironmentSpec,
    options: Options,
    deadline: Instant,
) -> Result<Reconciled> {
    let run = Run {
        clients,
        spec,
        names: spec.names(),
        deadline,
        options,
        run_id: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos().to_string())
            .unwrap_or_default(),
    };
    let lookup = match &run.options.vpc_id {
        Some(vpc) => Lookup::EverythingInVpc(vpc),
        None => Lookup::ByName,
    };
    // the waves are boxed: their joined futures are too large for a worker thread's stack
    let hints = Hints {
        components: run.options.components.clone(),
        ..Hints::default()
    };
    let mut inv = Box::pin(Inventory::discover_hinted(
        clients, &run.names, lookup, &hints,
    ))
    .await?;
    if lookup == Lookup::ByName && (inv.vpc.is_none() || inv.is_unfinished()) {
        // AWS lists an object only a moment after answering its create: an
        // earlier run stopped just after making the VPC or what followed it (a
        // crash, a killed CI job) would otherwise see nothing, or not all, and
        // make it a second time
        tokio::time::sleep(super::waiters::LISTED_LATE).await;
        inv = Box::pin(Inventory::discover_hinted(
            clients, &run.names, lookup, &hints,
        ))
        .await?;
    }
    if let Some(vpc) = &inv.vpc {
        if run.options.vpc_id.is_none() && !inv.is_unfinished() {
            return Err(AwsError::Owned {
                name: spec.name.clone(),
                vpc_id: vpc.id.clone(),
            });
        }
    } else if let Some(vpc) = &run.options.vpc_id {
        return Err(AwsError::Unsatisfiable(format!(
            "the environment's VPC {vpc} no longer exists; run `terraform apply` again to plan its re-creation"
        )));
    }
    let (zones, ami_id) = futures::try_join!(resolve_zones(clients, spec, &inv), async {
        match (&spec.app.ami_id, &inv.template_settings) {
            (Some(ami), _) => Ok(ami.clone()),
            (None, Some(current)) if !current.ami_id.is_empty() => Ok(current.ami_id.clone()),
            (None, _) => ec2::latest_amazon_linux(&clients.ec2, &clients.batches).await,
        }
    })?;
    let mut kept = spec.clone();
    for (key, subnet) in inv.objects_of(SUBNET_KEYS) {
        if let (Some(zone), Some(cidr)) = (
            subnet.detail.get("zone"),
            subnet
                .detail
                .get("cidr")
                .and_then(|c| c.parse::<Cidr>().ok()),
        ) {
            let tier = if key.starts_with("subnet/public/") {
                Tier::Public
            } else {
                Tier::Private
            };
            kept.subnet_cidrs
                .entry((tier, zone.clone()))
                .or_insert(cidr);
        }
    }
    let bp = blueprint(&kept, &zones).map_err(|e| AwsError::Unsatisfiable(e.to_string()))?;
    // the images say what their root device is called: the one mapping that
    // makes the root volume encrypted and of its size is made under that name
    let unread_images: Vec<String> = std::iter::once(ami_id.clone())
        .chain(spec.bastion.as_ref().and_then(|b| b.ami_id.clone()))
        .filter(|id| !inv.image_roots.contains_key(id))
        .collect();
    let mut image_roots = inv.image_roots.clone();
    image_roots.extend(
        ec2::image_roots(
            &clients.ec2,
            &clients.batches,
            &clients.image_roots,
            &unread_images,
        )
        .await?,
    );
    // an image the template runs that is gone since (its owner deregistered
    // it): the version's own root device is taken at its word, as drift takes
    // it, so the rest of the environment can still be changed
    if let (false, Some(current)) = (image_roots.contains_key(&ami_id), &inv.template_settings) {
        if current.ami_id == ami_id {
            let root = ec2::ImageRoot {
                device: current.root_device.clone(),
                snapshot_gib: None,
            };
            image_roots.insert(ami_id.clone(), root);
        }
    }
    // the newest image is looked up once: later runs keep what the template runs,
    // so a new Amazon Linux release never rolls the instances by itself

    run.options.progress.building(true);
    let vpc_id = match &inv.vpc {
        Some(vpc) => vpc.id.clone(),
        None => {
            let mut tags = run.tags(&Component::Vpc);
            tags.insert(TAG_STATUS.into(), STATUS_CREATING.into());
            ec2::create_vpc(&clients.ec2, &spec.vpc_cidr.to_string(), &tags)
                .await
                .inspect_err(|error| {
                    // AWS refused the request (a quota, a setting): no VPC exists
                    if matches!(error, AwsError::Api { .. }) {
                        run.options.progress.building(false);
                    }
                })?
        }
    };
    run.options.progress.in_vpc(&vpc_id);
    // Wave 1: everything that needs only the VPC.
    let (subnets, igw, egress_only, groups, addresses, target_group, (), _) = Box::pin(async {
        futures::try_join!(
            async {
                let (subnets, vpc_block) = futures::try_join!(
                    run.ensure_subnets(&inv, &bp, &vpc_id),
                    run.ensure_vpc_ipv6(&inv, &vpc_id),
                )?;
                run.ensure_subnet_ipv6(&inv, &bp, &subnets, vpc_block)
                    .await?;
                Ok(subnets)
            },
            run.ensure_internet_gateway(&inv, &vpc_id),
            run.ensure_egress_only_gateway(&inv, &vpc_id),
            run.ensure_security_groups(&inv, &vpc_id),
            run.ensure_addresses(&inv, &bp),
            run.ensure_target_group(&inv, &vpc_id),
            run.ensure_vpc_settings(&inv, &vpc_id),
            try_join_all(steps_with_vpc().map(|step| step(&run, &inv, &vpc_id))),
        )
    })
    .await?;
    let public: Vec<String> = bp
        .zones
        .iter()
        .map(|z| subnets[&(Tier::Public, z.clone())].clone())
        .collect();
    let private: Vec<String> = bp
        .zones
        .iter()
        .map(|z| subnets[&(Tier::Private, z.clone())].clone())
        .collect();

    let placement = Placement {
        inv: &inv,
        bp: &bp,
        subnets: &subnets,
        groups: &groups,
        image_roots: &image_roots,
        ami_id: &ami_id,
    };

    // Wave 2: independent branches, each awaiting only its own prerequisites.
    // The group launches only once its subnets have their way out (routes to
    // the NAT gateways, once available, and the gateway endpoints): an
    // instance's user data runs once, at its first boot, and one that needs
    // the internet or S3 would otherwise fail for good
    let (ways_out, ways_out_ready) = tokio::sync::watch::channel(false);
    Box::pin(async {
        futures::try_join!(
            async {
                let (public_table, private_tables) = futures::try_join!(
                    run.ensure_public_routes(&inv, &vpc_id, &igw, &public),
                    async {
                        let nats = run
                            .ensure_nat_gateways(&inv, &bp, &vpc_id, &subnets, &addresses)
                            .await?;
                        run.ensure_private_routes(
                            &inv,
                            &bp,
                            &vpc_id,
                            &subnets,
                            &nats,
                            egress_only.as_deref(),
                        )
                        .await
                    },
                )?;
                run.ensure_gateway_endpoints(&inv, &vpc_id, &public_table, &private_tables)
                    .await?;
                ways_out.send_replace(true);
                Ok(())
            },
            async {
                let alb = run
                    .ensure_load_balancer(&inv, &public, &groups[&SgRole::Alb])
                    .await?;
                run.ensure_load_balancer_attributes(&inv, &alb).await?;
                run.ensure_listeners(&inv, &alb, &target_group).await?;
                run.wait_load_balancer_active(&alb).await
            },
            async {
                let template = run
                    .ensure_launch_template(
                        &inv,
                        &groups[&SgRole::App],
                        &ami_id,
                        &super::bastion::image_root(&image_roots, &ami_id)?,
                    )
                    .await?;
                run.retag_group(&inv).await?;
                // an error ends the routing branch before it says ready, and
                // the join with it
                let mut ready = ways_out_ready.clone();
                let _sender_gone = ready.wait_for(|ready| *ready).await.is_err();
                run.ensure_group(&inv, &private, &target_group, &template)
                    .await?;
                run.register_members(&inv).await?;
                run.wait_for_capacity(&target_group).await
            },
            try_join_all(placed_steps().map(|step| step(&run, &placement))),
            run.retag(&inv),
        )
    })
    .await?;
    // Wave 3: with routes, listeners and groups switched over, remove what is no longer planned.
    run.remove_unplanned(&inv, &bp).await?;
    let status = inv.vpc.as_ref().and_then(|v| v.tags.get(TAG_STATUS));
    if status.map(String::as_str) != Some(STATUS_COMPLETE) {
        let complete = [(TAG_STATUS.to_string(), STATUS_COMPLETE.to_string())].into();
        retry_propagation(deadline, "the VPC's completion tag", || {
            ec2::retag(&clients.ec2, std::slice::from_ref(&vpc_id), &complete, &[])
        })
        .await?;
    }
    Ok(Reconciled {
        blueprint: bp,
        ami_id,
        vpc_id,
    })
}

impl Run<'_> {
    /// Deletes what exists but is no longer planned, once its replacement carries
    /// the traffic: a disabled bastion and its group, NAT gateways and addresses of a
    /// changed strategy, the subnets and route tables of a removed zone, an old
    /// target group.
    pub(super) async fn remove_unplanned(&self, inv: &Inventory, bp: &Blueprint) -> Result<()> {
        let planned: BTreeSet<String> = bp.components.iter().map(Component::key).collect();
        // first, one kind after another in the table's order: an endpoint
        // going away may still serve a route table that goes too
        for remove in removals() {
            remove(self, inv, &planned).await?;
        }
        self.remove_ipv6(inv).await?;
        let unplanned = |key: &String| !planned.contains(key);
        let ec2c = &self.clients.ec2;
        let deadline = self.deadline;
        let bastion = async {
            if planned.contains(&Component::Bastion.key()) {
                return Ok(());
            }
            if let Some(instance) = &inv.bastion {
                let ids = std::slice::from_ref(&instance.id);
                ec2::terminate_instances(ec2c, ids)
                    .await
                    .or_else(ignore_not_found)?;
                wait_terminated(self.clients, ids, deadline).await?;
            }
            self.delete_group_of(inv, SgRole::Bastion).await?;
            Ok(())
        };
        let nats = async {
            let gone = inv
                .objects_of(NAT_GATEWAY_KEYS)
                .filter(|(k, _)| unplanned(k))
                .map(|(_, nat)| delete_nat_gateway(ec2c, &self.clients.batches, &nat.id, deadline));
            try_join_all(gone).await?;
            let released = inv
                .addresses
                .iter()
                .filter(|(k, _)| unplanned(k))
                .map(|(_, a)| {
                    delete_with_retry(deadline, "Elastic IP release", move || {
                        ec2::release_address(ec2c, &a.id)
                    })
                });
            try_join_all(released).await?;
            let tables = inv
                .route_tables
                .iter()
                .filter(|(k, _)| unplanned(k))
                .map(|(_, table)| delete_route_table(ec2c, table, deadline));
            try_join_all(tables).await?;
            // the public route table stays; its associations with removed subnets go
            let removed: BTreeSet<&String> = inv
                .objects_of(SUBNET_KEYS)
                .filter(|(k, _)| unplanned(k))
                .map(|(_, s)| &s.id)
                .collect();
            let associations = inv
                .route_tables
                .values()
                .flat_map(|t| t.associations.iter())
                .filter(|(_, subnet)| removed.contains(subnet))
                .map(|(association, _)| async move {
                    ec2::disassociate_route_table(ec2c, association)
                        .await
                        .or_else(ignore_not_found)
                });
            try_join_all(associations).await?;
            let subnets = inv
                .objects_of(SUBNET_KEYS)
                .filter(|(k, _)| unplanned(k))
                .map(|(_, s)| {
                    delete_with_retry(deadline, "subnet of a removed zone", move || {
                        ec2::delete_subnet(ec2c, &s.id)
                    })
                });
            try_join_all(subnets).await.map(|_| ())
        };
        let target_groups = async {
            let port = i32::from(self.spec.app.port);
            let old = inv
                .target_groups
                .iter()
                .filter(|tg| tg.port != port)
                .map(|tg| {
                    delete_with_retry(deadline, "old target group", move || {
                        elbv2::delete_target_group(&self.clients.elbv2, &tg.arn)
                    })
                });
            try_join_all(old).await.map(|_| ())
        };
        futures::try_join!(bastion, nats, target_groups)?;
        Ok(())
    }

    /// The shared tags (user tags, default tags, ownership) every object must
    /// carry; tags other tools manage are neither set nor removed.
    fn wanted_shared_tags(&self) -> Tags {
        let mut wanted = self.spec.tags.clone();
        wanted.retain(|k, _| !self.spec.ignored_tags.ignores(k));
        wanted.insert(TAG_ENVIRONMENT.into(), self.spec.name.clone());
        wanted
    }

    /// The shared tags among `tags`: not an object's own (component, Name), not
    /// AWS's, not the completion marker, not another tool's.
    fn shared_tags(&self, tags: &Tags) -> Tags {
        tags.iter()
            .filter(|(k, _)| {
                k.as_str() != TAG_COMPONENT
                    && k.as_str() != TAG_STATUS
                    && k.as_str() != "Name"
                    && !k.starts_with("aws:")
                    && !self.spec.ignored_tags.ignores(k)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The shared tag keys of `tags` the environment no longer wants.
    fn stale_keys(&self, tags: &Tags, wanted: &Tags) -> Vec<String> {
        self.shared_tags(tags)
            .into_keys()
            .filter(|k| !wanted.contains_key(k))
            .collect()
    }

    /// Brings the group's tags up to date: run before the group launches
    /// anything, so the instances it launches carry them.
    pub(super) async fn retag_group(&self, inv: &Inventory) -> Result<()> {
        let Some(group) = &inv.group else {
            return Ok(());
        };
        let wanted = self.wanted_shared_tags();
        let own = own_tags(self.spec, &Component::AutoScalingGroup.key());
        if self.shared_tags(&group.tags) == wanted
            && own.iter().all(|(k, v)| group.tags.get(k) == Some(v))
        {
            return Ok(());
        }
        let mut named = wanted.clone();
        named.extend(own);
        autoscaling::retag(
            &self.clients.autoscaling,
            &group.name,
            &named,
            &self.stale_keys(&group.tags, &wanted),
        )
        .await
    }

    /// Brings the shared tags (user tags, default tags, ownership) of every object
    /// that existed before this run up to date, the group's running instances
    /// included (the group tags only the ones it launches next); new objects
    /// were tagged at creation, the group itself by [`Run::retag_group`].
    pub(super) async fn retag(&self, inv: &Inventory) -> Result<()> {
        let wanted = self.wanted_shared_tags();
        let ec2_objects: Vec<(&String, &BTreeMap<String, String>)> =
            tagged_objects(self.spec, inv, &[Api::Ec2])
                .into_iter()
                .map(|(_, id, tags)| (id, tags))
                .chain(inv.app_instances.iter().map(|i| (&i.id, &i.tags)))
                .collect();
        // The IDs whose shared tags differ from the wanted ones, and every stale key among them.
        let outdated = |objects: Vec<(&String, &BTreeMap<String, String>)>| {
            let stale: Vec<_> = objects
                .into_iter()
                .filter(|(_, tags)| self.shared_tags(tags) != wanted)
                .collect();
            let ids: Vec<String> = stale.iter().map(|(id, _)| (*id).clone()).collect();
            let removed: Vec<String> = stale
                .iter()
                .flat_map(|(_, tags)| self.stale_keys(tags, &wanted))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            (ids, removed)
        };
        // an object's own tags (its component key and Name), changed out of band,
        // are set again object by object: each has its own values
        // the group's own tags are set by [`Run::retag_group`]
        let retagged: Vec<(&String, Tags)> = tagged_objects(self.spec, inv, &[Api::Ec2, Api::Elb])
            .into_iter()
            .filter_map(|(key, id, tags)| {
                let own = own_tags(self.spec, &key);
                own.iter()
                    .any(|(k, v)| tags.get(k) != Some(v))
                    .then_some((id, own))
            })
            .collect();
        let (ec2_ids, ec2_removed) = outdated(ec2_objects);
        let (elb_arns, elb_removed) = outdated(inv.elb_tags.iter().collect());
        let names = retagged.iter().map(|(id, tags)| async move {
            let id = std::slice::from_ref(*id);
            if id[0].starts_with("arn:") {
                elbv2::retag(&self.clients.elbv2, id, tags, &[]).await
            } else {
                ec2::retag(&self.clients.ec2, id, tags, &[]).await
            }
        });
        try_join_all(names).await?;
        futures::try_join!(
            ec2::retag(&self.clients.ec2, &ec2_ids, &wanted, &ec2_removed),
            async {
                for chunk in elb_arns.chunks(20) {
                    elbv2::retag(&self.clients.elbv2, chunk, &wanted, &elb_removed).await?;
                }
                Ok(())
            },
        )?;
        Ok(())
    }
}
