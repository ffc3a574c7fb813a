//! Creates what is missing and repairs what drifted (reconcile), or deletes
//! everything (destroy), running independent branches concurrently.
//!
//! Reconcile is idempotent: it starts from what [`Inventory::discover`] finds by
//! tag, so re-running it after a crash resumes without duplicates.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use tokio::time::Instant;

use super::inventory::{Inventory, Lookup};
use super::waiters::{delete_with_retry, poll_until, retry_propagation};
use crate::aws::autoscaling::{self, GroupSettings};
use crate::aws::ec2::{
    self, Direction, Found, Hardening, InstanceSettings, RawRule, RuleSource, Tags, VpcDns,
};
use crate::aws::elbv2::{self, HealthCheck, ListenerAction, LoadBalancer};
use crate::aws::AwsClients;
use crate::error::{AwsError, ErrorClass};
use crate::plan::blueprint::{blueprint, nat_for_zone, Blueprint, Component};
use crate::plan::cidr::{Cidr, Tier};
use crate::plan::drift::{Finding, Repair};
use crate::plan::security::{ingress_rules, IngressRule, SgRole, Source};
use crate::plan::spec::{
    EnvironmentSpec, Names, ZoneChoice, STATUS_COMPLETE, STATUS_CREATING, TAG_COMPONENT,
    TAG_ENVIRONMENT, TAG_STATUS,
};

type Result<T> = std::result::Result<T, AwsError>;

/// Resolves the zones: the named ones, or those already in use followed by the
/// region's first available zones, until `n` are chosen.
pub async fn resolve_zones(
    clients: &AwsClients,
    spec: &EnvironmentSpec,
    inventory: &Inventory,
) -> Result<Vec<String>> {
    let count = match &spec.zones {
        ZoneChoice::Named(zones) => return Ok(zones.clone()),
        ZoneChoice::Count(n) => *n,
    };
    let mut chosen: Vec<String> = inventory
        .subnets
        .values()
        .filter_map(|s| s.detail.get("zone").cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(count)
        .collect();
    if chosen.len() < count {
        for zone in ec2::available_zones(&clients.ec2).await? {
            if chosen.len() == count {
                break;
            }
            if !chosen.contains(&zone) {
                chosen.push(zone);
            }
        }
    }
    if chosen.len() < count {
        return Err(AwsError::Unsatisfiable(format!(
            "the region has {} available zones but az_count is {count}; lower az_count",
            chosen.len()
        )));
    }
    chosen.sort();
    Ok(chosen)
}

/// Choices of an update that the spec alone cannot express.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// the user changed `desired_capacity`: set it even though the autoscaler owns it otherwise
    pub set_desired_capacity: bool,
    /// the VPC this resource instance owns (from state); `None` for a create
    pub vpc_id: Option<String>,
}

struct Run<'a> {
    clients: &'a AwsClients,
    spec: &'a EnvironmentSpec,
    names: Names,
    deadline: Instant,
    options: Options,
    /// part of every ClientToken: a call retried within this run is answered with
    /// the object its first attempt made, while a later run that must replace an
    /// object (deleted out of band) gets a new one, not the deleted one again
    run_id: String,
}

/// Every tag an object of `component` carries: the user's and default tags, the
/// ownership tags and its `Name`.
fn component_tags(spec: &EnvironmentSpec, component: &str) -> Tags {
    let mut tags = spec.tags.clone();
    tags.insert(TAG_ENVIRONMENT.into(), spec.name.clone());
    tags.insert(TAG_COMPONENT.into(), component.to_string());
    tags.insert(
        "Name".into(),
        format!("{}-{}", spec.name, component.replace('/', "-")),
    );
    tags
}

impl Run<'_> {
    fn tags(&self, component: &Component) -> Tags {
        component_tags(self.spec, &component.key())
    }
}

/// What reconcile ended with: the layout it realised.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub blueprint: Blueprint,
    pub ami_id: String,
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
    let inv = Box::pin(Inventory::discover(clients, &run.names, lookup)).await?;
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
            (None, _) => ec2::latest_amazon_linux(&clients.ec2).await,
        }
    })?;
    let mut kept = spec.clone();
    for (key, subnet) in &inv.subnets {
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
    // the newest image is looked up once: later runs keep what the template runs,
    // so a new Amazon Linux release never rolls the instances by itself

    let vpc_id = match &inv.vpc {
        Some(vpc) => vpc.id.clone(),
        None => {
            let mut tags = run.tags(&Component::Vpc);
            tags.insert(TAG_STATUS.into(), STATUS_CREATING.into());
            ec2::create_vpc(&clients.ec2, &spec.vpc_cidr.to_string(), &tags).await?
        }
    };
    // Wave 1: everything that needs only the VPC.
    let (subnets, igw, groups, addresses, target_group, ()) = Box::pin(async {
        futures::try_join!(
            run.ensure_subnets(&inv, &bp, &vpc_id),
            run.ensure_internet_gateway(&inv, &vpc_id),
            run.ensure_security_groups(&inv, &vpc_id),
            run.ensure_addresses(&inv, &bp),
            run.ensure_target_group(&inv, &vpc_id),
            run.ensure_vpc_settings(&inv, &vpc_id),
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

    // Wave 2: independent branches, each awaiting only its own prerequisites.
    Box::pin(async {
        futures::try_join!(
            run.ensure_public_routes(&inv, &vpc_id, &igw, &public),
            async {
                let nats = run
                    .ensure_nat_gateways(&inv, &bp, &vpc_id, &subnets, &addresses)
                    .await?;
                run.ensure_private_routes(&inv, &bp, &vpc_id, &subnets, &nats)
                    .await
            },
            async {
                let alb = run
                    .ensure_load_balancer(&inv, &public, &groups[&SgRole::Alb])
                    .await?;
                run.ensure_listeners(&inv, &alb, &target_group).await?;
                run.wait_load_balancer_active(&alb).await
            },
            async {
                let template = run
                    .ensure_launch_template(&inv, &groups[&SgRole::App], &ami_id)
                    .await?;
                run.ensure_group(&inv, &private, &target_group, &template)
                    .await?;
                run.wait_for_capacity(&target_group).await
            },
            run.ensure_bastion(&inv, &bp, &subnets, &groups, &ami_id),
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
    })
}

impl Run<'_> {
    /// The settings a VPC gets after creation: DNS support and hostnames on, the
    /// default security group stripped. Checked on every run, so a resumed create
    /// or a repair sets them too.
    async fn ensure_vpc_settings(&self, inv: &Inventory, vpc_id: &str) -> Result<()> {
        let ec2c = &self.clients.ec2;
        let dns = retry_propagation(self.deadline, "VPC DNS attributes", || async {
            let current = match inv.vpc_dns {
                Some(current) if inv.vpc.is_some() => current,
                // a new VPC: AWS turns support on and hostnames off
                _ => ec2::vpc_dns(ec2c, vpc_id).await?,
            };
            ec2::set_vpc_dns(ec2c, vpc_id, current, VpcDns::WANTED).await
        });
        let default_group =
            retry_propagation(self.deadline, "the default security group", || async {
                let group = match &inv.default_group {
                    Some(group) if inv.vpc.is_some() => group.clone(),
                    _ => ec2::listed_default_security_group(ec2c, vpc_id).await?,
                };
                ec2::strip_default_security_group(ec2c, &group).await
            });
        futures::try_join!(dns, default_group)?;
        Ok(())
    }

    async fn ensure_subnets(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
    ) -> Result<BTreeMap<(Tier, String), String>> {
        let work = bp.subnets.iter().map(|((tier, zone), cidr)| async move {
            let component = Component::Subnet(*tier, zone.clone());
            let public = *tier == Tier::Public;
            let found = inv.subnets.get(&component.key());
            let id = match found {
                Some(found) => found.id.clone(),
                None => {
                    let tags = self.tags(&component);
                    let cidr = cidr.to_string();
                    let id = retry_propagation(self.deadline, "subnet", || {
                        ec2::create_subnet(&self.clients.ec2, vpc_id, zone, &cidr, &tags)
                    })
                    .await?;
                    id
                }
            };
            // a new subnet maps no public IPs, as private ones must not
            let maps_public_ip = found.is_some_and(maps_public_ip);
            if maps_public_ip != public {
                retry_propagation(self.deadline, "subnet public IP mapping", || {
                    ec2::map_public_ip_on_launch(&self.clients.ec2, &id, public)
                })
                .await?;
            }
            Ok::<_, AwsError>(((*tier, zone.clone()), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    async fn ensure_internet_gateway(&self, inv: &Inventory, vpc_id: &str) -> Result<String> {
        let (id, attached) = match &inv.internet_gateway {
            Some(found) => (
                found.id.clone(),
                found.detail.get("vpc").is_some_and(|v| v == vpc_id),
            ),
            None => (
                ec2::create_internet_gateway(
                    &self.clients.ec2,
                    &self.tags(&Component::InternetGateway),
                )
                .await?,
                false,
            ),
        };
        if !attached {
            retry_propagation(self.deadline, "internet gateway attachment", || {
                ec2::attach_internet_gateway(&self.clients.ec2, &id, vpc_id)
            })
            .await?;
        }
        Ok(id)
    }

    async fn ensure_security_groups(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<BTreeMap<SgRole, String>> {
        let wanted = ingress_rules(self.spec);
        let work = wanted.keys().map(|role| async move {
            let component = Component::SecurityGroup(*role);
            let id = match inv.security_groups.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let name = format!("{}-{}", self.spec.name, role.as_str());
                    let tags = self.tags(&component);
                    retry_propagation(self.deadline, "security group", || {
                        ec2::create_security_group(
                            &self.clients.ec2,
                            vpc_id,
                            &name,
                            role.description(),
                            &tags,
                        )
                    })
                    .await?
                }
            };
            Ok::<_, AwsError>((*role, id))
        });
        let ids: BTreeMap<SgRole, String> = try_join_all(work).await?.into_iter().collect();
        // Rules reference other groups, so they are set once every group exists.
        let rules =
            wanted.iter().flat_map(|(role, rules)| {
                let ids = &ids;
                let found = inv
                    .security_groups
                    .get(&Component::SecurityGroup(*role).key());
                let ingress: Vec<RawRule> = rules.iter().map(|r| raw_rule(r, ids)).collect();
                [
                    (
                        Direction::Ingress,
                        ingress,
                        found.map(|g| g.ingress.clone()),
                    ),
                    // a new group already has AWS's default egress rule
                    (
                        Direction::Egress,
                        vec![RawRule::all_traffic_ipv4()],
                        Some(found.map_or_else(
                            || vec![RawRule::all_traffic_ipv4()],
                            |g| g.egress.clone(),
                        )),
                    ),
                ]
                .into_iter()
                .map(move |(direction, desired, current)| async move {
                    let current = current.unwrap_or_default();
                    let missing: Vec<RawRule> = desired
                        .iter()
                        .filter(|r| !current.contains(r))
                        .cloned()
                        .collect();
                    let extra: Vec<RawRule> = current
                        .iter()
                        .filter(|r| !desired.contains(r))
                        .cloned()
                        .collect();
                    ec2::revoke(&self.clients.ec2, &ids[role], direction, &extra).await?;
                    retry_propagation(self.deadline, "security group rules", || {
                        ec2::authorize(&self.clients.ec2, &ids[role], direction, &missing)
                    })
                    .await
                })
            });
        try_join_all(rules).await?;
        Ok(ids)
    }

    async fn ensure_addresses(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
    ) -> Result<BTreeMap<String, String>> {
        let work = bp.nat_zones.iter().map(|zone| async move {
            let component = Component::ElasticIp(zone.clone());
            let id = match inv.addresses.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    ec2::allocate_address(&self.clients.ec2, &self.tags(&component))
                        .await?
                        .0
                }
            };
            Ok::<_, AwsError>((zone.clone(), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    async fn ensure_target_group(&self, inv: &Inventory, vpc_id: &str) -> Result<String> {
        let app = &self.spec.app;
        let existing = inv
            .target_groups
            .iter()
            .find(|tg| tg.port == i32::from(app.port));
        let health_check = HealthCheck::on(&app.health_check_path);
        match existing {
            Some(tg) => {
                if tg.health_check != health_check {
                    retry_propagation(self.deadline, "target group health check", || {
                        elbv2::modify_health_check(&self.clients.elbv2, &tg.arn, &health_check)
                    })
                    .await?;
                }
                Ok(tg.arn.clone())
            }
            None => {
                let tags = self.tags(&Component::TargetGroup);
                let created = retry_propagation(self.deadline, "target group", || {
                    elbv2::create_target_group(
                        &self.clients.elbv2,
                        &self.names.target_group,
                        vpc_id,
                        app.port,
                        &health_check,
                        &tags,
                    )
                })
                .await?;
                Ok(created.arn)
            }
        }
    }

    async fn ensure_route_table(
        &self,
        inv: &Inventory,
        component: &Component,
        vpc_id: &str,
        target: Option<&str>,
        subnets: &[String],
    ) -> Result<()> {
        let existing = inv.route_tables.get(&component.key());
        let table = match existing {
            Some(t) => t.id.clone(),
            None => {
                let tags = self.tags(component);
                retry_propagation(self.deadline, "route table", || {
                    ec2::create_route_table(&self.clients.ec2, vpc_id, &tags)
                })
                .await?
            }
        };
        let current_route = existing.and_then(|t| t.routes.get("0.0.0.0/0"));
        match (target, current_route) {
            (Some(target), Some(current)) if current == target => {}
            (Some(target), current) => {
                retry_propagation(self.deadline, "default route", || {
                    ec2::set_default_route(&self.clients.ec2, &table, target, current.is_some())
                })
                .await?
            }
            (None, Some(_)) => ec2::delete_default_route(&self.clients.ec2, &table).await?,
            (None, None) => {}
        }
        // routes added out of band go; the VPC's local route is AWS's own
        let extra_routes = existing
            .map(extra_routes)
            .unwrap_or_default()
            .into_iter()
            .map(|destination| {
                let table = &table;
                async move {
                    ec2::delete_route(&self.clients.ec2, table, &destination)
                        .await
                        .or_else(ignore_not_found)
                }
            });
        try_join_all(extra_routes).await?;
        let associated: BTreeSet<&String> = existing
            .map(|t| t.associations.values().collect())
            .unwrap_or_default();
        // a subnet associated with another of the environment's tables moves in
        // one call; that table leaves the association alone (see below)
        let elsewhere = |subnet: &String| {
            inv.route_tables
                .values()
                .filter(|t| t.id != table)
                .flat_map(|t| t.associations.iter())
                .find(|(_, s)| *s == subnet)
                .map(|(association, _)| association.clone())
        };
        let associations = subnets
            .iter()
            .filter(|s| !associated.contains(s))
            .map(|subnet| {
                let moved = elsewhere(subnet);
                let table = &table;
                retry_propagation(self.deadline, "route table association", move || {
                    let moved = moved.clone();
                    async move {
                        match moved {
                            Some(association) => {
                                ec2::replace_route_table_association(
                                    &self.clients.ec2,
                                    &association,
                                    table,
                                )
                                .await
                            }
                            None => {
                                ec2::associate_route_table(&self.clients.ec2, table, subnet).await
                            }
                        }
                    }
                })
            });
        try_join_all(associations).await?;
        // associations with subnets no planned table claims go
        let planned: BTreeSet<String> = inv.subnets.values().map(|s| s.id.clone()).collect();
        let stray = existing
            .map(|t| {
                t.associations
                    .iter()
                    .filter(|(_, s)| !subnets.contains(s) && !planned.contains(*s))
                    .map(|(association, _)| association.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|association| async move {
                ec2::disassociate_route_table(&self.clients.ec2, &association)
                    .await
                    .or_else(ignore_not_found)
            });
        try_join_all(stray).await.map(|_| ())
    }

    async fn ensure_public_routes(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        igw: &str,
        public: &[String],
    ) -> Result<()> {
        self.ensure_route_table(inv, &Component::PublicRouteTable, vpc_id, Some(igw), public)
            .await
    }

    async fn ensure_nat_gateways(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
        subnets: &BTreeMap<(Tier, String), String>,
        addresses: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let work = bp.nat_zones.iter().map(|zone| async move {
            let component = Component::NatGateway(zone.clone());
            let id = match inv.nat_gateways.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let token = client_token(&[
                        &self.spec.name,
                        &component.key(),
                        &addresses[zone],
                        &self.run_id,
                    ]);
                    let tags = self.tags(&component);
                    let subnet = &subnets[&(Tier::Public, zone.clone())];
                    // an address allocated in this run cannot be held by anything
                    if inv
                        .addresses
                        .contains_key(&Component::ElasticIp(zone.clone()).key())
                    {
                        self.wait_address_released(vpc_id, &addresses[zone]).await?;
                    }
                    retry_propagation(self.deadline, "NAT gateway creation", || {
                        ec2::create_nat_gateway(
                            &self.clients.ec2,
                            subnet,
                            &addresses[zone],
                            &token,
                            &tags,
                        )
                    })
                    .await?
                }
            };
            poll_until(
                self.deadline,
                &format!("NAT gateway {id} to become available"),
                || async {
                    match ec2::nat_gateway_state(&self.clients.ec2, &id)
                        .await?
                        .as_deref()
                    {
                        Some("available") => Ok(Some(())),
                        Some("failed") | Some("deleted") | Some("deleting") => {
                            Err(AwsError::Unsatisfiable(format!(
                                "NAT gateway {id} failed to start; the next apply replaces it"
                            )))
                        }
                        _ => Ok(None),
                    }
                },
            )
            .await?;
            Ok::<_, AwsError>((zone.clone(), id))
        });
        Ok(try_join_all(work).await?.into_iter().collect())
    }

    /// Waits until no NAT gateway being deleted holds the address: a gateway
    /// deleted out of band (or replaced) keeps its Elastic IP for about a minute.
    async fn wait_address_released(&self, vpc_id: &str, allocation_id: &str) -> Result<()> {
        poll_until(
            self.deadline,
            &format!("Elastic IP {allocation_id} to be released by its deleted NAT gateway"),
            || async {
                let holders =
                    ec2::nat_gateways_releasing(&self.clients.ec2, vpc_id, allocation_id).await?;
                Ok(holders.is_empty().then_some(()))
            },
        )
        .await
    }

    async fn ensure_private_routes(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
        subnets: &BTreeMap<(Tier, String), String>,
        nats: &BTreeMap<String, String>,
    ) -> Result<()> {
        let work = bp.zones.iter().map(|zone| async move {
            let target =
                nat_for_zone(self.spec.nat, &bp.zones, zone).and_then(|z| nats.get(&z).cloned());
            let subnet = subnets[&(Tier::Private, zone.clone())].clone();
            self.ensure_route_table(
                inv,
                &Component::PrivateRouteTable(zone.clone()),
                vpc_id,
                target.as_deref(),
                &[subnet],
            )
            .await
        });
        try_join_all(work).await?;
        Ok(())
    }

    async fn ensure_load_balancer(
        &self,
        inv: &Inventory,
        public: &[String],
        group: &str,
    ) -> Result<String> {
        match &inv.load_balancer {
            Some(lb) => {
                let current: BTreeSet<&String> = lb.subnets.iter().collect();
                if current != public.iter().collect() {
                    retry_propagation(self.deadline, "load balancer subnets", || {
                        elbv2::set_subnets(&self.clients.elbv2, &lb.arn, public)
                    })
                    .await?;
                }
                if lb.security_groups != [group.to_string()] {
                    elbv2::set_security_groups(&self.clients.elbv2, &lb.arn, &[group.to_string()])
                        .await?;
                }
                Ok(lb.arn.clone())
            }
            None => {
                let tags = self.tags(&Component::LoadBalancer);
                let created = retry_propagation(self.deadline, "load balancer", || {
                    elbv2::create_load_balancer(
                        &self.clients.elbv2,
                        &self.names.load_balancer,
                        public,
                        group,
                        &tags,
                    )
                })
                .await?;
                Ok(created.arn)
            }
        }
    }

    async fn ensure_listeners(&self, inv: &Inventory, alb: &str, target_group: &str) -> Result<()> {
        let wanted = wanted_listeners(self.spec, target_group);
        for (port, protocol, cert, action) in &wanted {
            let cert = cert.as_deref();
            match inv.listeners.iter().find(|l| l.port == i32::from(*port)) {
                Some(existing) => {
                    if !listener_differences(existing, cert, action).is_empty() {
                        retry_propagation(self.deadline, "listener", || {
                            elbv2::modify_listener(&self.clients.elbv2, &existing.arn, cert, action)
                        })
                        .await?;
                    }
                }
                None => {
                    let tags = self.tags(&Component::Listener(protocol));
                    retry_propagation(self.deadline, "listener", || {
                        elbv2::create_listener(&self.clients.elbv2, alb, *port, cert, action, &tags)
                    })
                    .await?;
                }
            }
        }
        for stale in inv
            .listeners
            .iter()
            .filter(|l| !wanted.iter().any(|w| i32::from(w.0) == l.port))
        {
            elbv2::delete_listener(&self.clients.elbv2, &stale.arn)
                .await
                .or_else(ignore_not_found)?;
        }
        Ok(())
    }

    /// The launch template version for the group: the one it runs when that matches
    /// the spec (made the default again if another version took its place), else a
    /// new version written from the spec. A version made out of band is never
    /// adopted, however it came to be the default. Returns (id, version, whether
    /// the instances must roll onto it).
    async fn ensure_launch_template(
        &self,
        inv: &Inventory,
        group: &str,
        ami_id: &str,
    ) -> Result<Template> {
        let wanted = app_settings(self.spec, group, ami_id);
        let tags = self.tags(&Component::LaunchTemplate);
        match &inv.launch_template {
            Some(found) => {
                let good = |v: &&ec2::TemplateVersion| v.settings == wanted;
                let default = inv.default_template.as_ref();
                let usable = match &inv.group {
                    Some(_) => inv.group_template.as_ref().filter(good),
                    // no group yet: nothing runs, the default serves if it is right
                    None => default.filter(good),
                };
                if let Some(version) = usable {
                    if default.map(|d| d.number) != Some(version.number) {
                        ec2::set_default_version(&self.clients.ec2, &found.id, version.number)
                            .await?;
                    }
                    return Ok(Template {
                        id: found.id.clone(),
                        version: version.number,
                        new_version: false,
                    });
                }
                let version = retry_propagation(self.deadline, "launch template version", || {
                    ec2::new_launch_template_version(&self.clients.ec2, &found.id, &wanted, &tags)
                })
                .await?;
                Ok(Template {
                    id: found.id.clone(),
                    version,
                    new_version: true,
                })
            }
            None => {
                let (id, version) = retry_propagation(self.deadline, "launch template", || {
                    ec2::create_launch_template(&self.clients.ec2, &self.names.app, &wanted, &tags)
                })
                .await?;
                Ok(Template {
                    id,
                    version,
                    new_version: false,
                })
            }
        }
    }

    async fn ensure_group(
        &self,
        inv: &Inventory,
        private: &[String],
        target_group: &str,
        template: &Template,
    ) -> Result<()> {
        let version = template.version;
        let app = &self.spec.app;
        let settings = GroupSettings {
            min_size: app.min_size,
            max_size: app.max_size,
            desired_capacity: app.initial_capacity(),
            subnets: private.to_vec(),
            target_group: target_group.to_string(),
            launch_template_id: template.id.clone(),
            launch_template_version: version.to_string(),
        };
        match &inv.group {
            None => {
                let tags = self.tags(&Component::AutoScalingGroup);
                retry_propagation(self.deadline, "auto scaling group", || {
                    autoscaling::create_group(
                        &self.clients.autoscaling,
                        &self.names.app,
                        &settings,
                        &tags,
                    )
                })
                .await?;
            }
            Some(group) => {
                let same_subnets =
                    group.subnets.iter().collect::<BTreeSet<_>>() == private.iter().collect();
                let same_bounds =
                    (group.min_size, group.max_size) == (app.min_size as i32, app.max_size as i32);
                let same_template = group.launch_template_id == template.id
                    && group.launch_template_version == version.to_string();
                let out_of_bounds = group.desired_capacity < app.min_size as i32
                    || group.desired_capacity > app.max_size as i32;
                // capacity chosen by the autoscaler is kept unless the user changed
                // desired_capacity or it falls outside the new bounds
                let desired = (self.options.set_desired_capacity || out_of_bounds)
                    .then(|| app.initial_capacity())
                    .filter(|d| *d as i32 != group.desired_capacity);
                if !same_subnets || !same_bounds || !same_template || desired.is_some() {
                    retry_propagation(self.deadline, "auto scaling group", || {
                        autoscaling::update_group(
                            &self.clients.autoscaling,
                            &self.names.app,
                            &settings,
                            desired,
                        )
                    })
                    .await?;
                }
                let wanted = [target_group.to_string()];
                retry_propagation(self.deadline, "auto scaling group target groups", || {
                    autoscaling::set_target_groups(
                        &self.clients.autoscaling,
                        &self.names.app,
                        &group.target_groups,
                        &wanted,
                    )
                })
                .await?;
                self.roll_instances(inv, group, template).await?;
            }
        }
        if inv.cpu_target != Some(app.cpu_target) {
            retry_propagation(self.deadline, "scaling policy", || {
                autoscaling::put_cpu_policy(
                    &self.clients.autoscaling,
                    &self.names.app,
                    app.cpu_target,
                )
            })
            .await?;
        }
        Ok(())
    }

    /// Rolls the group's instances onto template `version` (keeping 90% in service)
    /// unless they run it already or a refresh towards it is under way. The
    /// decision rests on what the instances run, not on what this run changed, so
    /// a refresh that could not start is started by the next apply. A refresh
    /// towards another version is cancelled and its end awaited first: AWS refuses
    /// a new one while one is pending, running or cancelling.
    async fn roll_instances(
        &self,
        inv: &Inventory,
        group: &autoscaling::Group,
        template: &Template,
    ) -> Result<()> {
        let version = template.version.to_string();
        let has_instances = group.members.iter().any(autoscaling::Member::is_live);
        // a new version rolls whatever the instances report: some endpoints report
        // the template's current default for every instance
        let rolled_now = template.new_version
            && has_instances
            && !refresh_towards(inv.refresh.as_ref(), &version);
        if !rolled_now && !needs_rolling(group, inv.refresh.as_ref(), &version) {
            return Ok(());
        }
        let template = template.id.as_str();
        let client = &self.clients.autoscaling;
        let name = &self.names.app;
        if inv.refresh.is_some() {
            autoscaling::cancel_instance_refresh(client, name).await?;
        }
        poll_until(
            self.deadline,
            &format!("the running instance refresh of {name} to end before a new one starts"),
            || async {
                if autoscaling::active_refresh(client, name).await?.is_some() {
                    return Ok(None);
                }
                match autoscaling::start_instance_refresh(client, name, 90, template, &version)
                    .await
                {
                    Ok(()) => Ok(Some(())),
                    // another refresh began in between: wait for it too
                    Err(e) if e.class() == ErrorClass::Conflict => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }

    /// Waits until the load balancer is `active` (it is `provisioning` for minutes
    /// after creation and answers no requests until then).
    async fn wait_load_balancer_active(&self, arn: &str) -> Result<()> {
        let client = &self.clients.elbv2;
        poll_until(
            self.deadline,
            "the load balancer to become active",
            || async {
                match elbv2::load_balancer_state(client, arn).await?.as_deref() {
                    Some("active") => Ok(Some(())),
                    Some("failed") => Err(AwsError::Unsatisfiable(format!(
                        "load balancer {arn} failed to provision; the next apply retries it"
                    ))),
                    _ => Ok(None),
                }
            },
        )
        .await
    }

    /// Waits until `min_size` instances are in service and healthy in the target
    /// group, unless the user chose not to wait. The timeout message says how many
    /// were serving when time ran out.
    async fn wait_for_capacity(&self, target_group: &str) -> Result<()> {
        let app = &self.spec.app;
        if !app.wait_for_capacity || app.min_size == 0 {
            return Ok(());
        }
        let serving = std::sync::Mutex::new(0usize);
        let outcome = poll_until(
            self.deadline,
            &format!(
                "{} instance(s) of group {} to be in service and healthy in the target group",
                app.min_size, self.names.app
            ),
            || async {
                let (group, healthy) = futures::try_join!(
                    autoscaling::find_group(&self.clients.autoscaling, &self.names.app),
                    elbv2::healthy_targets(&self.clients.elbv2, target_group),
                )?;
                let count = group
                    .map(|g| {
                        g.members
                            .iter()
                            .filter(|m| m.lifecycle_state == "InService" && healthy.contains(&m.id))
                            .count()
                    })
                    .unwrap_or(0);
                *serving.lock().unwrap_or_else(|p| p.into_inner()) = count;
                Ok((count >= app.min_size as usize).then_some(()))
            },
        )
        .await;
        match outcome {
            Err(AwsError::Timeout { what, waited }) => Err(AwsError::Timeout {
                what: format!(
                    "{what} ({} serving when time ran out; set app.wait_for_capacity = false to skip this wait)",
                    serving.into_inner().unwrap_or_else(|p| p.into_inner())
                ),
                waited,
            }),
            other => other,
        }
    }

    /// Launches the bastion, replacing one whose settings or subnet no longer match.
    async fn ensure_bastion(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        subnets: &BTreeMap<(Tier, String), String>,
        groups: &BTreeMap<SgRole, String>,
        ami_id: &str,
    ) -> Result<()> {
        let (Some(bastion), Some(group)) = (&self.spec.bastion, groups.get(&SgRole::Bastion))
        else {
            return Ok(());
        };
        let zone = bp.zones.first().cloned().unwrap_or_default();
        let subnet = &subnets[&(Tier::Public, zone)];
        let settings = bastion_settings(bastion, group, ami_id);
        if let Some(existing) = &inv.bastion {
            let check = BastionCheck::of(existing, inv.bastion_root_encrypted, &settings, subnet);
            if check.replace.is_empty() {
                // what can change on a running instance changes in place
                if !check.tokens_required {
                    ec2::require_metadata_tokens(&self.clients.ec2, &existing.id).await?;
                }
                if !check.groups_match {
                    ec2::set_instance_groups(
                        &self.clients.ec2,
                        &existing.id,
                        std::slice::from_ref(group),
                    )
                    .await?;
                }
                return Ok(());
            }
            ec2::terminate_instances(&self.clients.ec2, std::slice::from_ref(&existing.id))
                .await
                .or_else(ignore_not_found)?;
        }
        // the token names this exact launch, so a retried call never starts a second bastion
        let token = client_token(&[
            &self.spec.name,
            "bastion",
            subnet,
            group,
            &settings.ami_id,
            &settings.instance_type,
            settings.key_name.as_deref().unwrap_or(""),
            &self.run_id,
        ]);
        let tags = self.tags(&Component::Bastion);
        retry_propagation(self.deadline, "bastion", || {
            ec2::run_bastion(&self.clients.ec2, subnet, &settings, &token, &tags)
        })
        .await?;
        Ok(())
    }

    /// Deletes what exists but is no longer planned, once its replacement carries
    /// the traffic: a disabled bastion and its group, NAT gateways and addresses of a
    /// changed strategy, the subnets and route tables of a removed zone, an old
    /// target group.
    async fn remove_unplanned(&self, inv: &Inventory, bp: &Blueprint) -> Result<()> {
        let planned: BTreeSet<String> = bp.components.iter().map(Component::key).collect();
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
            let group = inv
                .security_groups
                .get(&Component::SecurityGroup(SgRole::Bastion).key());
            if let Some(group) = group {
                delete_with_retry(deadline, "bastion security group", || {
                    ec2::delete_security_group(ec2c, &group.id)
                })
                .await?;
            }
            Ok(())
        };
        let nats = async {
            let gone = inv
                .nat_gateways
                .iter()
                .filter(|(k, _)| unplanned(k))
                .map(|(_, nat)| delete_nat_gateway(ec2c, &nat.id, deadline));
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
                .subnets
                .iter()
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
                .subnets
                .iter()
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

    /// Brings the shared tags (user tags, default tags, ownership) of every object
    /// that existed before this run up to date; new objects were tagged at creation.
    async fn retag(&self, inv: &Inventory) -> Result<()> {
        let mut wanted = self.spec.tags.clone();
        wanted.insert(TAG_ENVIRONMENT.into(), self.spec.name.clone());
        let shared = |tags: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            tags.iter()
                .filter(|(k, _)| {
                    k.as_str() != TAG_COMPONENT
                        && k.as_str() != TAG_STATUS
                        && k.as_str() != "Name"
                        && !k.starts_with("aws:")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let stale_keys = |tags: &BTreeMap<String, String>| -> Vec<String> {
            shared(tags)
                .into_keys()
                .filter(|k| !wanted.contains_key(k))
                .collect()
        };
        let mut ec2_objects: Vec<(&String, &BTreeMap<String, String>)> = Vec::new();
        ec2_objects.extend(inv.vpc.iter().map(|f| (&f.id, &f.tags)));
        ec2_objects.extend(inv.internet_gateway.iter().map(|f| (&f.id, &f.tags)));
        ec2_objects.extend(inv.launch_template.iter().map(|f| (&f.id, &f.tags)));
        ec2_objects.extend(inv.bastion.iter().map(|f| (&f.id, &f.tags)));
        for map in [&inv.subnets, &inv.addresses, &inv.nat_gateways] {
            ec2_objects.extend(map.values().map(|f| (&f.id, &f.tags)));
        }
        ec2_objects.extend(inv.route_tables.values().map(|t| (&t.id, &t.tags)));
        ec2_objects.extend(inv.security_groups.values().map(|g| (&g.id, &g.tags)));
        // The IDs whose shared tags differ from the wanted ones, and every stale key among them.
        let outdated = |objects: Vec<(&String, &BTreeMap<String, String>)>| {
            let stale: Vec<_> = objects
                .into_iter()
                .filter(|(_, tags)| shared(tags) != wanted)
                .collect();
            let ids: Vec<String> = stale.iter().map(|(id, _)| (*id).clone()).collect();
            let removed: Vec<String> = stale
                .iter()
                .flat_map(|(_, tags)| stale_keys(tags))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            (ids, removed)
        };
        // a Name changed out of band is set again, object by object (each has its own)
        let renamed: Vec<(String, String)> = ec2_objects
            .iter()
            .filter_map(|(id, tags)| {
                let wanted = component_tags(self.spec, tags.get(TAG_COMPONENT)?);
                (tags.get("Name") != wanted.get("Name"))
                    .then(|| ((*id).clone(), wanted["Name"].clone()))
            })
            .chain(inv.elb_tags.iter().filter_map(|(arn, tags)| {
                let wanted = component_tags(self.spec, tags.get(TAG_COMPONENT)?);
                (tags.get("Name") != wanted.get("Name"))
                    .then(|| (arn.clone(), wanted["Name"].clone()))
            }))
            .collect();
        let (ec2_ids, ec2_removed) = outdated(ec2_objects);
        let (elb_arns, elb_removed) = outdated(inv.elb_tags.iter().collect());
        let names = renamed.iter().map(|(id, name)| async move {
            let tag: Tags = [("Name".to_string(), name.clone())].into();
            if id.starts_with("arn:") {
                elbv2::retag(&self.clients.elbv2, std::slice::from_ref(id), &tag, &[]).await
            } else {
                ec2::retag(&self.clients.ec2, std::slice::from_ref(id), &tag, &[]).await
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
            async {
                let mut named = wanted.clone();
                let name = component_tags(self.spec, &Component::AutoScalingGroup.key());
                named.insert("Name".into(), name["Name"].clone());
                match &inv.group {
                    Some(group)
                        if shared(&group.tags) != wanted
                            || group.tags.get("Name") != named.get("Name") =>
                    {
                        autoscaling::retag(
                            &self.clients.autoscaling,
                            &group.name,
                            &named,
                            &stale_keys(&group.tags),
                        )
                        .await
                    }
                    _ => Ok(()),
                }
            },
        )?;
        Ok(())
    }
}

/// Whether some live instance runs another template version than `version` and no
/// refresh towards `version` is under way already.
fn needs_rolling(
    group: &autoscaling::Group,
    refresh: Option<&autoscaling::Refresh>,
    version: &str,
) -> bool {
    let stale = group.members.iter().any(|m| {
        m.is_live() && !m.launch_template_version.is_empty() && m.launch_template_version != version
    });
    stale && !refresh_towards(refresh, version)
}

/// Whether a refresh that is not being cancelled rolls towards `version`.
fn refresh_towards(refresh: Option<&autoscaling::Refresh>, version: &str) -> bool {
    refresh
        .is_some_and(|r| r.target_version.as_deref() == Some(version) && r.status != "Cancelling")
}

/// The launch template the group is to run.
#[derive(Clone, Debug)]
struct Template {
    id: String,
    /// the version the group is set to
    version: i64,
    /// whether this run made that version
    new_version: bool,
}

/// A ClientToken (at most 64 characters) that is the same for the same request.
fn client_token(parts: &[&str]) -> String {
    // FNV-1a: stable across runs and platforms, unlike the std hasher
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("|").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("prodvpc-{hash:016x}")
}

async fn delete_nat_gateway(
    client: &aws_sdk_ec2::Client,
    id: &str,
    deadline: Instant,
) -> Result<()> {
    ec2::delete_nat_gateway(client, id)
        .await
        .or_else(ignore_not_found)?;
    poll_until(
        deadline,
        &format!("NAT gateway {id} to be deleted"),
        || async {
            Ok(matches!(
                ec2::nat_gateway_state(client, id).await?.as_deref(),
                None | Some("deleted")
            )
            .then_some(()))
        },
    )
    .await
}

async fn delete_route_table(
    client: &aws_sdk_ec2::Client,
    table: &ec2::RouteTable,
    deadline: Instant,
) -> Result<()> {
    for association in table.associations.keys() {
        ec2::disassociate_route_table(client, association)
            .await
            .or_else(ignore_not_found)?;
    }
    delete_with_retry(deadline, "route table", || {
        ec2::delete_route_table(client, &table.id)
    })
    .await
}

fn raw_rule(rule: &IngressRule, groups: &BTreeMap<SgRole, String>) -> RawRule {
    RawRule {
        protocol: "tcp".into(),
        from_port: i32::from(rule.port),
        to_port: i32::from(rule.port),
        source: match &rule.source {
            Source::Cidr(cidr) => RuleSource::Cidr(cidr.to_string()),
            Source::Group(role) => RuleSource::Group(groups.get(role).cloned().unwrap_or_default()),
        },
    }
}

fn ignore_not_found(error: AwsError) -> Result<()> {
    if error.is_not_found() {
        Ok(())
    } else {
        Err(error)
    }
}

fn maps_public_ip(subnet: &Found) -> bool {
    subnet
        .detail
        .get("map_public_ip")
        .is_some_and(|v| v == "true")
}

/// Destinations of a table's routes other than its default route and the VPC's
/// local route: only routes added out of band.
fn extra_routes(table: &ec2::RouteTable) -> Vec<String> {
    table
        .routes
        .iter()
        .filter(|(destination, target)| destination.as_str() != "0.0.0.0/0" && *target != "local")
        .map(|(destination, _)| destination.clone())
        .collect()
}

/// The listeners the spec asks for: (port, protocol, certificate, action).
fn wanted_listeners(
    spec: &EnvironmentSpec,
    target_group: &str,
) -> Vec<(u16, &'static str, Option<String>, ListenerAction)> {
    let forward = ListenerAction::Forward(target_group.to_string());
    match &spec.load_balancer.certificate_arn {
        Some(cert) => vec![
            (443, "https", Some(cert.clone()), forward),
            (80, "http", None, ListenerAction::RedirectToHttps),
        ],
        None => vec![(80, "http", None, forward)],
    }
}

/// How a listener differs from what it should be, worded for the plan.
fn listener_differences(
    listener: &elbv2::Listener,
    certificate: Option<&str>,
    action: &ListenerAction,
) -> Vec<String> {
    let mut found = Vec::new();
    let protocol = elbv2::listener_protocol(certificate);
    if listener.protocol != protocol.as_str() {
        found.push(format!(
            "speaks {} instead of {}",
            listener.protocol,
            protocol.as_str()
        ));
    }
    if listener.certificate.as_deref() != certificate {
        found.push(format!(
            "uses certificate {} instead of {}",
            listener.certificate.as_deref().unwrap_or("none"),
            certificate.unwrap_or("none")
        ));
    }
    let acts = match action {
        ListenerAction::Forward(tg) => {
            listener.action == "forward" && listener.target_group.as_deref() == Some(tg)
        }
        ListenerAction::RedirectToHttps => {
            listener.action == "redirect"
                && listener.redirect.as_deref() == Some(elbv2::REDIRECT_TO_HTTPS)
        }
    };
    if !acts {
        found.push(match action {
            ListenerAction::Forward(_) => "does not forward to the target group".to_string(),
            ListenerAction::RedirectToHttps => "does not redirect to HTTPS on 443".to_string(),
        });
    }
    found
}

/// What the app instances run, as the launch template must say it.
fn app_settings(spec: &EnvironmentSpec, group: &str, ami_id: &str) -> InstanceSettings {
    InstanceSettings {
        ami_id: ami_id.to_string(),
        instance_type: spec.app.instance_type.clone(),
        security_group: group.to_string(),
        user_data: spec.app.user_data.clone(),
        key_name: None,
        hardening: Hardening::APP,
    }
}

fn bastion_settings(
    bastion: &crate::plan::spec::BastionSpec,
    group: &str,
    ami_id: &str,
) -> InstanceSettings {
    InstanceSettings {
        ami_id: bastion.ami_id.clone().unwrap_or_else(|| ami_id.to_string()),
        instance_type: bastion.instance_type.clone(),
        security_group: group.to_string(),
        user_data: None,
        key_name: bastion.key_name.clone(),
        hardening: Hardening::BASTION,
    }
}

/// How the running bastion compares with its settings.
struct BastionCheck {
    /// what only a new instance can change, worded for the plan
    replace: Vec<String>,
    tokens_required: bool,
    groups_match: bool,
}

impl BastionCheck {
    fn of(
        instance: &Found,
        root_encrypted: Option<bool>,
        wanted: &InstanceSettings,
        subnet: &str,
    ) -> BastionCheck {
        let detail = |key: &str| instance.detail.get(key).cloned().unwrap_or_default();
        let mut replace = Vec::new();
        for (what, actual, expected) in [
            ("runs in subnet", detail("subnet"), subnet),
            (
                "has type",
                detail("instance_type"),
                wanted.instance_type.as_str(),
            ),
            ("runs image", detail("image"), wanted.ami_id.as_str()),
            (
                "has key",
                detail("key_name"),
                wanted.key_name.as_deref().unwrap_or(""),
            ),
        ] {
            if actual != expected {
                replace.push(format!("{what} {actual:?} instead of {expected:?}"));
            }
        }
        if root_encrypted == Some(false) {
            replace.push("has an unencrypted root volume".into());
        }
        BastionCheck {
            replace,
            tokens_required: detail("http_tokens") == "required",
            groups_match: detail("security_groups") == wanted.security_group,
        }
    }
}

/// Differences between what exists and what the spec asks for, each worded as
/// what is wrong and what apply does about it (see [`Finding`]).
pub fn drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<String> {
    let mut findings = missing_components(spec, bp, inv);
    findings.extend(tag_drift(spec, bp, inv));
    findings.extend(network_drift(spec, bp, inv));
    findings.extend(rule_drift(spec, inv));
    findings.extend(app_drift(spec, bp, inv));
    findings.extend(bastion_drift(spec, bp, inv));
    findings.iter().map(Finding::to_string).collect()
}

fn missing_components(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    found.extend(inv.vpc.iter().map(|_| "vpc".to_string()));
    found.extend(inv.internet_gateway.iter().map(|_| "igw".to_string()));
    found.extend(inv.subnets.keys().cloned());
    found.extend(inv.route_tables.keys().cloned());
    found.extend(inv.addresses.keys().cloned());
    found.extend(inv.nat_gateways.keys().cloned());
    found.extend(inv.security_groups.keys().cloned());
    found.extend(inv.launch_template.iter().map(|_| "lt".to_string()));
    found.extend(inv.bastion.iter().map(|_| "bastion".to_string()));
    found.extend(inv.load_balancer.iter().map(|_| "alb".to_string()));
    if target_group_of(spec, inv).is_some() {
        found.insert("tg".into());
    }
    found.extend(inv.listeners.iter().map(|l| listener_key(l.port)));
    found.extend(inv.group.iter().map(|_| "asg".to_string()));
    if inv.cpu_target.is_some() {
        found.insert("policy/cpu".into());
    }
    let mut findings: Vec<Finding> = bp
        .components
        .iter()
        .map(Component::key)
        .filter(|k| !found.contains(k))
        .map(|k| Finding::new(k, "is missing", Repair::Create))
        .collect();
    if let Some(target) = inv.cpu_target {
        if target != spec.app.cpu_target {
            findings.push(Finding::new(
                "policy/cpu",
                format!("targets {target}% instead of {}%", spec.app.cpu_target),
                Repair::InPlace("restores it"),
            ));
        }
    }
    findings
}

fn target_group_of<'a>(
    spec: &EnvironmentSpec,
    inv: &'a Inventory,
) -> Option<&'a elbv2::TargetGroup> {
    inv.target_groups
        .iter()
        .find(|tg| tg.port == i32::from(spec.app.port))
}

fn listener_key(port: i32) -> String {
    if port == 443 {
        Component::Listener("https").key()
    } else {
        Component::Listener("http").key()
    }
}

/// Tags of every planned component, against what [`component_tags`] gives it.
fn tag_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let planned: BTreeSet<String> = bp.components.iter().map(Component::key).collect();
    let mut objects: Vec<(String, &Tags)> = Vec::new();
    objects.extend(inv.vpc.iter().map(|f| ("vpc".to_string(), &f.tags)));
    objects.extend(
        inv.internet_gateway
            .iter()
            .map(|f| ("igw".to_string(), &f.tags)),
    );
    objects.extend(
        inv.launch_template
            .iter()
            .map(|f| ("lt".to_string(), &f.tags)),
    );
    objects.extend(inv.bastion.iter().map(|f| ("bastion".to_string(), &f.tags)));
    for map in [&inv.subnets, &inv.addresses, &inv.nat_gateways] {
        objects.extend(map.iter().map(|(k, f)| (k.clone(), &f.tags)));
    }
    objects.extend(inv.route_tables.iter().map(|(k, t)| (k.clone(), &t.tags)));
    objects.extend(
        inv.security_groups
            .iter()
            .map(|(k, g)| (k.clone(), &g.tags)),
    );
    objects.extend(inv.group.iter().map(|g| ("asg".to_string(), &g.tags)));
    let elb = |arn: &str| inv.elb_tags.get(arn);
    objects.extend(
        inv.load_balancer
            .iter()
            .filter_map(|lb| Some(("alb".to_string(), elb(&lb.arn)?))),
    );
    objects
        .extend(target_group_of(spec, inv).and_then(|tg| Some(("tg".to_string(), elb(&tg.arn)?))));
    objects.extend(
        inv.listeners
            .iter()
            .filter_map(|l| Some((listener_key(l.port), elb(&l.arn)?))),
    );
    objects
        .into_iter()
        .filter(|(key, _)| planned.contains(key))
        .filter_map(|(key, tags)| {
            let wanted = component_tags(spec, &key);
            let mut problems = Vec::new();
            for (k, v) in &wanted {
                match tags.get(k) {
                    None => problems.push(format!("lacks tag {k} = {v:?}")),
                    Some(actual) if actual != v => {
                        problems.push(format!("has tag {k} = {actual:?} instead of {v:?}"))
                    }
                    Some(_) => {}
                }
            }
            for (k, v) in tags {
                // AWS's own tags and the provider's completion marker are not the spec's
                if !wanted.contains_key(k) && !k.starts_with("aws:") && k != TAG_STATUS {
                    problems.push(format!("has an extra tag {k} = {v:?}"));
                }
            }
            (!problems.is_empty())
                .then(|| Finding::new(key, problems.join(", "), Repair::InPlace("retags it")))
        })
        .collect()
}

/// VPC DNS, public IP mapping of the subnets, and the routes and associations
/// of every route table.
fn network_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(dns) = inv.vpc_dns {
        for (on, what) in [
            (dns.support, "DNS support"),
            (dns.hostnames, "DNS hostnames"),
        ] {
            if !on {
                findings.push(Finding::new(
                    "vpc",
                    format!("has {what} off"),
                    Repair::InPlace("turns it on"),
                ));
            }
        }
    }
    let subnet = |tier: Tier, zone: &str| {
        inv.subnets
            .get(&Component::Subnet(tier, zone.to_string()).key())
    };
    for (tier, zone) in bp.subnets.keys() {
        let Some(found) = subnet(*tier, zone) else {
            continue;
        };
        let public = *tier == Tier::Public;
        if maps_public_ip(found) != public {
            let key = Component::Subnet(*tier, zone.clone()).key();
            findings.push(if public {
                Finding::new(
                    key,
                    "does not map public IPs on launch",
                    Repair::InPlace("turns it on"),
                )
            } else {
                Finding::new(
                    key,
                    "maps public IPs on launch",
                    Repair::InPlace("turns it off"),
                )
            });
        }
    }
    let names: BTreeMap<&String, &String> = inv.subnets.iter().map(|(k, s)| (&s.id, k)).collect();
    /// A route table as planned: where its default route goes, which subnets it serves.
    struct Planned<'a> {
        component: Component,
        /// whether the table has a default route at all
        routed: bool,
        /// the gateway it goes to, when that exists
        target: Option<String>,
        subnets: Vec<(Tier, &'a String)>,
    }
    let mut tables = vec![Planned {
        component: Component::PublicRouteTable,
        routed: true,
        target: inv.internet_gateway.as_ref().map(|g| g.id.clone()),
        subnets: bp.zones.iter().map(|z| (Tier::Public, z)).collect(),
    }];
    for zone in &bp.zones {
        let nat_zone = nat_for_zone(spec.nat, &bp.zones, zone);
        tables.push(Planned {
            component: Component::PrivateRouteTable(zone.clone()),
            routed: nat_zone.is_some(),
            target: nat_zone
                .and_then(|z| inv.nat_gateways.get(&Component::NatGateway(z).key()))
                .map(|n| n.id.clone()),
            subnets: vec![(Tier::Private, zone)],
        });
    }
    for Planned {
        component,
        routed,
        target,
        subnets,
    } in tables
    {
        let key = component.key();
        let Some(table) = inv.route_tables.get(&key) else {
            continue;
        };
        let current = table.routes.get("0.0.0.0/0");
        if current != target.as_ref() {
            findings.push(match (component, routed) {
                (Component::PublicRouteTable, _) => Finding::new(
                    &key,
                    "has no default route to the internet gateway",
                    Repair::InPlace("restores the route"),
                ),
                (_, true) => Finding::new(
                    &key,
                    "does not route to its NAT gateway",
                    Repair::InPlace("restores the route"),
                ),
                (_, false) => Finding::new(
                    &key,
                    "has a default route though nat_gateways is \"none\"",
                    Repair::InPlace("removes it"),
                ),
            });
        }
        for destination in extra_routes(table) {
            findings.push(Finding::new(
                &key,
                format!(
                    "has an extra route to {destination} via {}",
                    table.routes[&destination]
                ),
                Repair::InPlace("removes it"),
            ));
        }
        let associated: BTreeSet<&String> = table.associations.values().collect();
        for (tier, zone) in &subnets {
            if let Some(found) = subnet(*tier, zone) {
                if !associated.contains(&found.id) {
                    findings.push(Finding::new(
                        &key,
                        format!(
                            "is not associated with {}",
                            Component::Subnet(*tier, (*zone).clone()).key()
                        ),
                        Repair::InPlace("associates it"),
                    ));
                }
            }
        }
        for subnet in associated.iter().filter(|s| !names.contains_key(*s)) {
            findings.push(Finding::new(
                &key,
                format!("is associated with {subnet}, which is not the environment's"),
                Repair::InPlace("disassociates it"),
            ));
        }
    }
    findings
}

/// Ingress and egress rules of the three groups and of the VPC's default group.
fn rule_drift(spec: &EnvironmentSpec, inv: &Inventory) -> Vec<Finding> {
    let ids: BTreeMap<SgRole, String> = inv
        .security_groups
        .iter()
        .filter_map(|(k, g)| Some((SgRole::parse(k.strip_prefix("sg/")?)?, g.id.clone())))
        .collect();
    let mut names: BTreeMap<String, String> = ids
        .iter()
        .map(|(role, id)| (id.clone(), format!("sg/{}", role.as_str())))
        .collect();
    if let Some(default) = &inv.default_group {
        names.insert(default.id.clone(), "sg/default".into());
    }
    let peer = |source: &RuleSource| match source {
        RuleSource::Group(id) => names.get(id).cloned().unwrap_or_else(|| id.clone()),
        other => other.to_string(),
    };
    let describe = |direction: Direction, rule: &RawRule| {
        let preposition = match direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        format!(
            "{} rule {} {preposition} {}",
            direction.as_str(),
            rule.traffic(),
            peer(&rule.source)
        )
    };
    let mut compared: Vec<(String, Direction, Vec<RawRule>, &Vec<RawRule>)> = Vec::new();
    for (role, rules) in ingress_rules(spec) {
        let key = Component::SecurityGroup(role).key();
        let Some(group) = inv.security_groups.get(&key) else {
            continue;
        };
        let desired = rules.iter().map(|r| raw_rule(r, &ids)).collect();
        compared.push((key.clone(), Direction::Ingress, desired, &group.ingress));
        compared.push((
            key,
            Direction::Egress,
            vec![RawRule::all_traffic_ipv4()],
            &group.egress,
        ));
    }
    if let Some(default) = &inv.default_group {
        // stripped: nothing that lands in the default group can talk
        compared.push((
            "sg/default".into(),
            Direction::Ingress,
            Vec::new(),
            &default.ingress,
        ));
        compared.push((
            "sg/default".into(),
            Direction::Egress,
            Vec::new(),
            &default.egress,
        ));
    }
    let mut findings = Vec::new();
    for (key, direction, desired, actual) in compared {
        for rule in desired.iter().filter(|r| !actual.contains(r)) {
            findings.push(Finding::new(
                &key,
                format!("lacks {}", describe(direction, rule)),
                Repair::InPlace("adds it"),
            ));
        }
        for rule in actual.iter().filter(|r| !desired.contains(r)) {
            findings.push(Finding::new(
                &key,
                format!("has an extra {}", describe(direction, rule)),
                Repair::InPlace("removes it"),
            ));
        }
    }
    findings
}

/// The group (sizes, placement, template version), the target group's health
/// check, the listeners and the load balancer's placement.
fn app_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let mut findings = Vec::new();
    let subnet_ids = |tier: Tier| -> BTreeSet<String> {
        bp.zones
            .iter()
            .filter_map(|z| inv.subnets.get(&Component::Subnet(tier, z.clone()).key()))
            .map(|s| s.id.clone())
            .collect()
    };
    let restores = Repair::InPlace("restores it");
    let target_group = target_group_of(spec, inv);
    let app_group = inv
        .security_groups
        .get(&Component::SecurityGroup(SgRole::App).key());
    if let Some(group) = &inv.group {
        let app = &spec.app;
        if group.min_size != app.min_size as i32 {
            findings.push(Finding::new(
                "asg",
                format!(
                    "has min size {} instead of {}",
                    group.min_size, app.min_size
                ),
                restores.clone(),
            ));
        }
        if group.max_size != app.max_size as i32 {
            findings.push(Finding::new(
                "asg",
                format!(
                    "has max size {} instead of {}",
                    group.max_size, app.max_size
                ),
                restores.clone(),
            ));
        }
        if group.subnets.iter().cloned().collect::<BTreeSet<_>>() != subnet_ids(Tier::Private) {
            findings.push(Finding::new(
                "asg",
                "does not run in exactly the private subnets",
                restores.clone(),
            ));
        }
        if let Some(tg) = target_group {
            if group.target_groups != [tg.arn.clone()] {
                findings.push(Finding::new(
                    "asg",
                    "is not registered with exactly the target group",
                    restores.clone(),
                ));
            }
        }
        let template = inv.launch_template.as_ref();
        if let (Some(template), Some(app_group)) = (template, app_group) {
            let running = inv.group_template.as_ref();
            let image = app
                .ami_id
                .clone()
                .or_else(|| running.map(|v| v.settings.ami_id.clone()))
                .unwrap_or_default();
            let wanted = app_settings(spec, &app_group.id, &image);
            match running {
                _ if group.launch_template_id != template.id => findings.push(Finding::new(
                    "asg",
                    format!(
                        "runs launch template {:?}, not the environment's",
                        group.launch_template_id
                    ),
                    Repair::Roll,
                )),
                None => findings.push(Finding::new(
                    "asg",
                    format!(
                        "runs launch template version {:?}, which does not exist",
                        group.launch_template_version
                    ),
                    Repair::Roll,
                )),
                Some(version) if version.settings != wanted => findings.push(Finding::new(
                    "asg",
                    format!(
                        "runs launch template version {}, where {}",
                        version.number,
                        version.settings.differences(&wanted).join(", ")
                    ),
                    Repair::Roll,
                )),
                Some(version) => {
                    if let Some(default) = inv
                        .default_template
                        .as_ref()
                        .filter(|d| d.number != version.number)
                    {
                        findings.push(Finding::new(
                            "lt",
                            format!(
                                "has version {} as its default, where {}",
                                default.number,
                                default.settings.differences(&wanted).join(", ")
                            ),
                            Repair::InPlace("makes the version the group runs the default again"),
                        ));
                    }
                }
            }
        }
    }
    if let Some(group) = &inv.group {
        if needs_rolling(group, inv.refresh.as_ref(), &group.launch_template_version) {
            findings.push(Finding::new(
                "asg",
                format!(
                    "has instances that do not run launch template version {}",
                    group.launch_template_version
                ),
                Repair::InPlace("rolls them with an instance refresh"),
            ));
        }
    }
    if let Some(tg) = target_group {
        let differences = tg
            .health_check
            .differences(&HealthCheck::on(&spec.app.health_check_path));
        if !differences.is_empty() {
            findings.push(Finding::new(
                "tg",
                format!("health check has {}", differences.join(", ")),
                restores.clone(),
            ));
        }
    }
    if let Some(lb) = &inv.load_balancer {
        if lb.subnets.iter().cloned().collect::<BTreeSet<_>>() != subnet_ids(Tier::Public) {
            findings.push(Finding::new(
                "alb",
                "is not in exactly the public subnets",
                restores.clone(),
            ));
        }
        let alb_group = inv
            .security_groups
            .get(&Component::SecurityGroup(SgRole::Alb).key());
        if let Some(alb_group) = alb_group {
            if lb.security_groups != [alb_group.id.clone()] {
                findings.push(Finding::new(
                    "alb",
                    "is not in exactly sg/alb",
                    restores.clone(),
                ));
            }
        }
        let wanted = wanted_listeners(
            spec,
            &target_group.map(|tg| tg.arn.clone()).unwrap_or_default(),
        );
        for listener in &inv.listeners {
            match wanted.iter().find(|w| i32::from(w.0) == listener.port) {
                Some((_, protocol, cert, action)) => {
                    let mut differences = listener_differences(listener, cert.as_deref(), action);
                    if target_group.is_none() {
                        // the missing target group is a finding of its own
                        differences.retain(|d| !d.contains("forward"));
                    }
                    if !differences.is_empty() {
                        findings.push(Finding::new(
                            Component::Listener(protocol).key(),
                            differences.join(", "),
                            restores.clone(),
                        ));
                    }
                }
                None => findings.push(Finding::new(
                    "alb",
                    format!("has an extra listener on port {}", listener.port),
                    Repair::InPlace("removes it"),
                )),
            }
        }
    }
    findings
}

fn bastion_drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<Finding> {
    let group = inv
        .security_groups
        .get(&Component::SecurityGroup(SgRole::Bastion).key());
    let subnet = bp.zones.first().and_then(|z| {
        inv.subnets
            .get(&Component::Subnet(Tier::Public, z.clone()).key())
    });
    let (Some(bastion), Some(instance), Some(group), Some(subnet)) =
        (&spec.bastion, &inv.bastion, group, subnet)
    else {
        return Vec::new();
    };
    let image = bastion
        .ami_id
        .clone()
        .or_else(|| instance.detail.get("image").cloned())
        .unwrap_or_default();
    let wanted = bastion_settings(bastion, &group.id, &image);
    let check = BastionCheck::of(instance, inv.bastion_root_encrypted, &wanted, &subnet.id);
    if !check.replace.is_empty() {
        return vec![Finding::new(
            "bastion",
            check.replace.join(", "),
            Repair::Replace,
        )];
    }
    let mut findings = Vec::new();
    if !check.tokens_required {
        findings.push(Finding::new(
            "bastion",
            "has IMDSv2 optional",
            Repair::InPlace("requires it"),
        ));
    }
    if !check.groups_match {
        findings.push(Finding::new(
            "bastion",
            "is not in exactly sg/bastion",
            Repair::InPlace("restores its groups"),
        ));
    }
    findings
}

/// Deletes every object of the environment, in reverse dependency order,
/// concurrently where possible, until nothing tagged for it is left. Duplicates
/// left by retried creates are deleted with the components they duplicate.
///
/// Without a VPC in state (a create interrupted before its first answer), only an
/// environment still marked as being created is deleted, never a complete one,
/// which belongs to another configuration.
pub async fn destroy(
    clients: &AwsClients,
    names: &Names,
    vpc_id: Option<&str>,
    deadline: Instant,
) -> Result<()> {
    let lookup = match vpc_id {
        Some(vpc) => Lookup::EverythingInVpc(vpc),
        None => Lookup::ByName,
    };
    let inv = Inventory::discover(clients, names, lookup).await?;
    if vpc_id.is_none() && inv.vpc.is_some() && !inv.is_unfinished() {
        return Ok(());
    }
    let ec2c = &clients.ec2;
    let strays = &inv.strays.ec2;
    let with_strays = |one: Option<&Found>, more: &[Found]| -> Vec<Found> {
        one.into_iter().chain(more).cloned().collect()
    };
    let vpcs = with_strays(inv.vpc.as_ref(), &strays.vpcs);
    let instances: Vec<String> = with_strays(inv.bastion.as_ref(), &strays.instances)
        .into_iter()
        .map(|f| f.id)
        .collect();
    let balancers: Vec<&LoadBalancer> = inv
        .load_balancer
        .iter()
        .chain(&inv.strays.load_balancers)
        .collect();
    let nat_gateways: Vec<&Found> = inv
        .nat_gateways
        .values()
        .chain(&strays.nat_gateways)
        .collect();
    let addresses: Vec<&Found> = inv.addresses.values().chain(&strays.addresses).collect();
    let templates = with_strays(inv.launch_template.as_ref(), &strays.launch_templates);
    let groups: Vec<&ec2::SecurityGroup> = inv
        .security_groups
        .values()
        .chain(&strays.security_groups)
        .collect();
    let tables: Vec<&ec2::RouteTable> = inv
        .route_tables
        .values()
        .chain(&strays.route_tables)
        .collect();
    let gateways = with_strays(inv.internet_gateway.as_ref(), &strays.internet_gateways);
    let subnets: Vec<&Found> = inv.subnets.values().chain(&strays.subnets).collect();
    let group_instances: Vec<String> = inv
        .group
        .as_ref()
        .map(|g| g.instances.clone())
        .unwrap_or_default();

    // Wave 1: compute and the load balancer, which hold network interfaces.
    futures::try_join!(
        async {
            if let Some(group) = &inv.group {
                autoscaling::delete_group(&clients.autoscaling, &group.name)
                    .await
                    .or_else(ignore_not_found)?;
                poll_until(deadline, "the Auto Scaling Group to be deleted", || async {
                    Ok(autoscaling::find_group(&clients.autoscaling, &group.name)
                        .await?
                        .is_none()
                        .then_some(()))
                })
                .await?;
            }
            wait_terminated(clients, &group_instances, deadline).await
        },
        async {
            ec2::terminate_instances(ec2c, &instances)
                .await
                .or_else(ignore_not_found)?;
            wait_terminated(clients, &instances, deadline).await
        },
        async {
            let deletions = balancers.iter().map(|lb| async move {
                elbv2::delete_load_balancer(&clients.elbv2, &lb.arn)
                    .await
                    .or_else(ignore_not_found)?;
                poll_until(deadline, "the load balancer to be deleted", || async {
                    let remaining = elbv2::load_balancer_exists(&clients.elbv2, &lb.arn).await?;
                    Ok((!remaining).then_some(()))
                })
                .await
            });
            try_join_all(deletions).await.map(|_| ())
        },
        async {
            let nats = nat_gateways
                .iter()
                .map(|nat| delete_nat_gateway(ec2c, &nat.id, deadline));
            try_join_all(nats).await?;
            let releases = addresses.iter().map(|a| {
                delete_with_retry(deadline, "Elastic IP release", move || {
                    ec2::release_address(ec2c, &a.id)
                })
            });
            try_join_all(releases).await.map(|_| ())
        },
    )?;

    // Wave 2: what those held on to.
    futures::try_join!(
        async {
            for template in &templates {
                ec2::delete_launch_template(ec2c, &template.id)
                    .await
                    .or_else(ignore_not_found)?;
            }
            let deletions = inv.target_groups.iter().map(|tg| {
                delete_with_retry(deadline, "target group", move || {
                    elbv2::delete_target_group(&clients.elbv2, &tg.arn)
                })
            });
            try_join_all(deletions).await.map(|_| ())
        },
        async {
            // rules referencing each other keep groups alive: clear them first
            let revokes = groups.iter().map(|group| async move {
                ec2::revoke_ingress(ec2c, &group.id, &group.ingress)
                    .await
                    .or_else(ignore_not_found)
            });
            try_join_all(revokes).await?;
            let deletions = groups.iter().map(|g| {
                delete_with_retry(deadline, "security group", move || {
                    ec2::delete_security_group(ec2c, &g.id)
                })
            });
            try_join_all(deletions).await.map(|_| ())
        },
        async {
            let deletions = tables
                .iter()
                .map(|table| delete_route_table(ec2c, table, deadline));
            try_join_all(deletions).await.map(|_| ())
        },
        async {
            let deletions = gateways.iter().map(|igw| async move {
                if let Some(vpc) = igw.detail.get("vpc") {
                    delete_with_retry(deadline, "internet gateway detachment", || {
                        ec2::detach_internet_gateway(ec2c, &igw.id, vpc)
                    })
                    .await?;
                }
                delete_with_retry(deadline, "internet gateway", || {
                    ec2::delete_internet_gateway(ec2c, &igw.id)
                })
                .await
            });
            try_join_all(deletions).await.map(|_| ())
        },
    )?;

    // Wave 3: subnets, then the VPCs.
    let deletions = subnets
        .iter()
        .map(|s| delete_with_retry(deadline, "subnet", move || ec2::delete_subnet(ec2c, &s.id)));
    try_join_all(deletions).await?;
    let deletions = vpcs
        .iter()
        .map(|vpc| delete_with_retry(deadline, "VPC", move || ec2::delete_vpc(ec2c, &vpc.id)));
    try_join_all(deletions).await?;
    let left = Inventory::discover(clients, names, lookup).await?;
    if !left.is_empty() {
        return Err(AwsError::Unsatisfiable(format!(
            "objects tagged for environment {} are still present after deletion ({}); run destroy again",
            names.environment,
            left.ids().join(", ")
        )));
    }
    Ok(())
}

async fn wait_terminated(clients: &AwsClients, ids: &[String], deadline: Instant) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    poll_until(deadline, "instances to terminate", || async {
        Ok(ec2::live_instances(&clients.ec2, ids)
            .await?
            .is_empty()
            .then_some(()))
    })
    .await
}
