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
use crate::aws::ec2::{self, Found, InstanceSettings, RawRule, RuleSource, Tags};
use crate::aws::elbv2::{self, ListenerAction, LoadBalancer};
use crate::aws::AwsClients;
use crate::error::{AwsError, ErrorClass};
use crate::plan::blueprint::{blueprint, nat_for_zone, Blueprint, Component};
use crate::plan::cidr::{Cidr, Tier};
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
}

impl Run<'_> {
    fn tags(&self, component: &Component) -> Tags {
        let mut tags = self.spec.tags.clone();
        tags.insert(TAG_ENVIRONMENT.into(), self.spec.name.clone());
        tags.insert(TAG_COMPONENT.into(), component.key());
        tags.insert(
            "Name".into(),
            format!("{}-{}", self.spec.name, component.key().replace('/', "-")),
        );
        tags
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
    };
    let lookup = match &run.options.vpc_id {
        Some(vpc) => Lookup::EverythingInVpc(vpc),
        None => Lookup::ByName,
    };
    let inv = Inventory::discover(clients, &run.names, lookup).await?;
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
    // Settings made after creation are set on every run, so a VPC whose first run
    // stopped right after CreateVpc still gets them.
    let vpc_settings = async {
        retry_propagation(deadline, "VPC DNS attributes", || {
            ec2::enable_vpc_dns(&clients.ec2, &vpc_id)
        })
        .await?;
        retry_propagation(deadline, "the default security group", || {
            ec2::strip_default_security_group(&clients.ec2, &vpc_id)
        })
        .await
    };

    // Wave 1: everything that needs only the VPC.
    let (subnets, igw, groups, addresses, target_group, ()) = futures::try_join!(
        run.ensure_subnets(&inv, &bp, &vpc_id),
        run.ensure_internet_gateway(&inv, &vpc_id),
        run.ensure_security_groups(&inv, &vpc_id),
        run.ensure_addresses(&inv, &bp),
        run.ensure_target_group(&inv, &vpc_id),
        vpc_settings,
    )?;
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
    futures::try_join!(
        run.ensure_public_routes(&inv, &vpc_id, &igw, &public),
        async {
            let nats = run
                .ensure_nat_gateways(&inv, &bp, &subnets, &addresses)
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
    )?;
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
    async fn ensure_subnets(
        &self,
        inv: &Inventory,
        bp: &Blueprint,
        vpc_id: &str,
    ) -> Result<BTreeMap<(Tier, String), String>> {
        let work = bp.subnets.iter().map(|((tier, zone), cidr)| async move {
            let component = Component::Subnet(*tier, zone.clone());
            let id = match inv.subnets.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let tags = self.tags(&component);
                    let cidr = cidr.to_string();
                    let id = retry_propagation(self.deadline, "subnet", || {
                        ec2::create_subnet(&self.clients.ec2, vpc_id, zone, &cidr, &tags)
                    })
                    .await?;
                    if *tier == Tier::Public {
                        retry_propagation(self.deadline, "public IP mapping", || {
                            ec2::map_public_ip_on_launch(&self.clients.ec2, &id, true)
                        })
                        .await?;
                    }
                    id
                }
            };
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
        let rules = wanted.iter().map(|(role, rules)| {
            let ids = &ids;
            async move {
                let current = inv
                    .security_groups
                    .get(&Component::SecurityGroup(*role).key())
                    .map(|g| g.ingress.clone())
                    .unwrap_or_default();
                let desired: Vec<RawRule> = rules.iter().map(|r| raw_rule(r, ids)).collect();
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
                ec2::revoke_ingress(&self.clients.ec2, &ids[role], &extra).await?;
                retry_propagation(self.deadline, "security group rules", || {
                    ec2::authorize_ingress(&self.clients.ec2, &ids[role], &missing)
                })
                .await
            }
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
        match existing {
            Some(tg) => {
                if tg.health_check_path != app.health_check_path {
                    retry_propagation(self.deadline, "target group health check", || {
                        elbv2::modify_health_check(
                            &self.clients.elbv2,
                            &tg.arn,
                            &app.health_check_path,
                        )
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
                        &app.health_check_path,
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
        let associated: BTreeSet<&String> = existing
            .map(|t| t.associations.values().collect())
            .unwrap_or_default();
        let associations = subnets
            .iter()
            .filter(|s| !associated.contains(s))
            .map(|subnet| {
                retry_propagation(self.deadline, "route table association", || {
                    ec2::associate_route_table(&self.clients.ec2, &table, subnet)
                })
            });
        try_join_all(associations).await.map(|_| ())
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
        subnets: &BTreeMap<(Tier, String), String>,
        addresses: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let work = bp.nat_zones.iter().map(|zone| async move {
            let component = Component::NatGateway(zone.clone());
            let id = match inv.nat_gateways.get(&component.key()) {
                Some(found) => found.id.clone(),
                None => {
                    let token =
                        format!("{}-{}-{}", self.spec.name, component.key(), addresses[zone]);
                    let tags = self.tags(&component);
                    let subnet = &subnets[&(Tier::Public, zone.clone())];
                    // retried while the address is still held by a NAT gateway being deleted
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
        let certificate = self.spec.load_balancer.certificate_arn.as_deref();
        let forward = ListenerAction::Forward(target_group.to_string());
        let mut wanted: Vec<(u16, &'static str, Option<&str>, ListenerAction)> = Vec::new();
        match certificate {
            Some(cert) => {
                wanted.push((443, "https", Some(cert), forward));
                wanted.push((80, "http", None, ListenerAction::RedirectToHttps));
            }
            None => wanted.push((80, "http", None, forward)),
        }
        for (port, protocol, cert, action) in &wanted {
            match inv.listeners.iter().find(|l| l.port == i32::from(*port)) {
                Some(existing) => {
                    let matches = match action {
                        ListenerAction::Forward(tg) => {
                            existing.action == "forward"
                                && existing.target_group.as_deref() == Some(tg)
                        }
                        ListenerAction::RedirectToHttps => existing.action == "redirect",
                    };
                    if !matches {
                        retry_propagation(self.deadline, "listener", || {
                            elbv2::modify_listener(&self.clients.elbv2, &existing.arn, action)
                        })
                        .await?;
                    }
                }
                None => {
                    let tags = self.tags(&Component::Listener(protocol));
                    retry_propagation(self.deadline, "listener", || {
                        elbv2::create_listener(
                            &self.clients.elbv2,
                            alb,
                            *port,
                            *cert,
                            action,
                            &tags,
                        )
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

    fn instance_settings(&self, group: &str, ami_id: &str) -> InstanceSettings {
        InstanceSettings {
            ami_id: ami_id.to_string(),
            instance_type: self.spec.app.instance_type.clone(),
            security_group: group.to_string(),
            user_data: self.spec.app.user_data.clone(),
            key_name: None,
        }
    }

    /// The launch template, with a new default version when what the instances run
    /// changed.
    async fn ensure_launch_template(
        &self,
        inv: &Inventory,
        group: &str,
        ami_id: &str,
    ) -> Result<Template> {
        let wanted = self.instance_settings(group, ami_id);
        let tags = self.tags(&Component::LaunchTemplate);
        match &inv.launch_template {
            Some(found) => {
                let current = found
                    .detail
                    .get("default_version")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                if inv.template_settings.as_ref() == Some(&wanted) {
                    return Ok(Template {
                        id: found.id.clone(),
                        version: current,
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
        let settings = InstanceSettings {
            ami_id: bastion.ami_id.clone().unwrap_or_else(|| ami_id.to_string()),
            instance_type: bastion.instance_type.clone(),
            security_group: group.clone(),
            user_data: None,
            key_name: bastion.key_name.clone(),
        };
        if let Some(existing) = &inv.bastion {
            let detail = |key: &str| existing.detail.get(key).cloned().unwrap_or_default();
            let matches = detail("subnet") == *subnet
                && detail("instance_type") == settings.instance_type
                && detail("image") == settings.ami_id
                && detail("key_name") == settings.key_name.clone().unwrap_or_default();
            if matches {
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
        let (ec2_ids, ec2_removed) = outdated(ec2_objects);
        let (elb_arns, elb_removed) = outdated(inv.elb_tags.iter().collect());
        futures::try_join!(
            ec2::retag(&self.clients.ec2, &ec2_ids, &wanted, &ec2_removed),
            async {
                for chunk in elb_arns.chunks(20) {
                    elbv2::retag(&self.clients.elbv2, chunk, &wanted, &elb_removed).await?;
                }
                Ok(())
            },
            async {
                match &inv.group {
                    Some(group) if shared(&group.tags) != wanted => {
                        autoscaling::retag(
                            &self.clients.autoscaling,
                            &group.name,
                            &wanted,
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

/// Differences between what exists and what the spec asks for, worded for the plan.
pub fn drift(spec: &EnvironmentSpec, bp: &Blueprint, inv: &Inventory) -> Vec<String> {
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
    if inv
        .target_groups
        .iter()
        .any(|tg| tg.port == i32::from(spec.app.port))
    {
        found.insert("tg".into());
    }
    for listener in &inv.listeners {
        found.insert(if listener.port == 443 {
            "listener/https".into()
        } else {
            "listener/http".into()
        });
    }
    found.extend(inv.group.iter().map(|_| "asg".to_string()));
    if inv.cpu_target.is_some() {
        found.insert("policy/cpu".into());
    }
    let mut notes: Vec<String> = bp
        .components
        .iter()
        .map(Component::key)
        .filter(|k| !found.contains(k))
        .map(|k| format!("{k} is missing"))
        .collect();
    if let Some(target) = inv.cpu_target {
        if target != spec.app.cpu_target {
            notes.push(format!(
                "policy/cpu targets {target}% instead of {}%",
                spec.app.cpu_target
            ));
        }
    }
    // security group rules, compared by role
    let ids: BTreeMap<SgRole, String> = inv
        .security_groups
        .iter()
        .filter_map(|(k, g)| Some((SgRole::parse(k.strip_prefix("sg/")?)?, g.id.clone())))
        .collect();
    for (role, rules) in ingress_rules(spec) {
        let Some(group) = inv
            .security_groups
            .get(&Component::SecurityGroup(role).key())
        else {
            continue;
        };
        let desired: Vec<RawRule> = rules.iter().map(|r| raw_rule(r, &ids)).collect();
        for rule in rules
            .iter()
            .zip(&desired)
            .filter(|(_, raw)| !group.ingress.contains(raw))
            .map(|(r, _)| r)
        {
            notes.push(format!("sg/{} lacks rule {rule}", role.as_str()));
        }
        for raw in group.ingress.iter().filter(|r| !desired.contains(r)) {
            let source = match &raw.source {
                RuleSource::Cidr(c) => c.clone(),
                RuleSource::Group(g) => g.clone(),
            };
            notes.push(format!(
                "sg/{} has extra rule {}/{} from {source}",
                role.as_str(),
                raw.protocol,
                raw.from_port
            ));
        }
    }
    // routes
    for (key, table) in &inv.route_tables {
        if key == "rtb/public" {
            let igw = inv.internet_gateway.as_ref().map(|g| g.id.as_str());
            if table.routes.get("0.0.0.0/0").map(String::as_str) != igw || igw.is_none() {
                notes.push("rtb/public has no default route to the internet gateway".into());
            }
        } else if let Some(zone) = key.strip_prefix("rtb/private/") {
            let nat = nat_for_zone(spec.nat, &bp.zones, zone)
                .and_then(|z| inv.nat_gateways.get(&Component::NatGateway(z).key()))
                .map(|n| n.id.as_str());
            if table.routes.get("0.0.0.0/0").map(String::as_str) != nat {
                notes.push(format!("{key} does not route to its NAT gateway"));
            }
        }
    }
    if let Some(group) = &inv.group {
        if needs_rolling(group, inv.refresh.as_ref(), &group.launch_template_version) {
            notes.push(format!(
                "asg instances do not all run launch template version {}; apply rolls them with an instance refresh",
                group.launch_template_version
            ));
        }
    }
    notes
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
