//! Destroy: deletes every object of the environment in AWS's order, waiting out
//! what lingers, and fails naming what is left.

use futures::future::try_join_all;
use tokio::time::Instant;

use super::endpoints::delete_gateway_endpoint;
use super::executor::{ignore_not_found, Result};
use super::flow_logs::delete_flow_logs;
use super::inventory::{Inventory, Lookup};
use super::routing::{delete_nat_gateway, delete_route_table};
use super::waiters::{delete_with_retry, poll_until};
use crate::aws::autoscaling::{self};
use crate::aws::ec2::{self, Found};
use crate::aws::elbv2::{self, LoadBalancer};
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::spec::{attribute, Names};

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
    if vpc_id.is_some() && inv.vpc.is_none() {
        // The VPC, deleted last, is gone: what is found by name (the load
        // balancer, the group, the template, addresses) is a leftover of this
        // environment, unless an environment of the same name now exists, whose
        // objects those are.
        let by_name = Inventory::discover(clients, names, Lookup::ByName).await?;
        if by_name.vpc.is_some() {
            tracing::info!(environment = %names.environment, "the VPC in state is gone and another environment has the name; nothing of this one is left");
            return Ok(());
        }
    }
    // AWS would refuse only the load balancer's deletion, after the group and the
    // bastion are gone: refuse the whole destroy up front instead
    if let (Some(lb), Some(attributes)) = (&inv.load_balancer, &inv.load_balancer_attributes) {
        if attributes
            .get(attribute::DELETION_PROTECTION)
            .map(String::as_str)
            == Some("true")
        {
            return Err(AwsError::DeletionProtected {
                arn: lb.arn.clone(),
            });
        }
    }
    if let Some(vpc) = vpc_id.filter(|_| inv.vpc.is_some()) {
        let blockers = blockers(clients, names, &inv, vpc).await?;
        if !blockers.is_empty() {
            return Err(AwsError::DestroyBlocked { blockers });
        }
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
    let endpoints: Vec<&Found> = inv
        .gateway_endpoints
        .values()
        .chain(&strays.gateway_endpoints)
        .collect();
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

    // Wave 1: compute and the load balancer, which hold network interfaces, the
    // gateway endpoints, which the route tables of wave 2 serve, and the flow
    // logs (AWS would remove a deleted VPC's only eventually).
    futures::try_join!(
        delete_flow_logs(ec2c, inv.flow_log.iter().chain(&strays.flow_logs), deadline),
        async {
            let deletions = endpoints
                .iter()
                .map(|e| delete_gateway_endpoint(ec2c, e, deadline));
            try_join_all(deletions).await.map(|_| ())
        },
        async {
            if let Some(group) = &inv.group {
                autoscaling::delete_group(&clients.autoscaling, &group.name)
                    .await
                    .or_else(ignore_not_found)?;
                poll_until(deadline, "the Auto Scaling Group to be deleted", || async {
                    Ok(
                        autoscaling::find_group(
                            &clients.autoscaling,
                            &clients.batches,
                            &group.name,
                        )
                        .await?
                        .is_none()
                        .then_some(()),
                    )
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
                .map(|nat| delete_nat_gateway(ec2c, &clients.batches, &nat.id, deadline));
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

/// What would stop the destroy part way, found before anything is deleted:
/// the bastion's termination protection, objects in the VPC that are not the
/// environment's (instances, subnets, groups, network interfaces of other
/// services), and other security groups whose rules name the environment's.
/// Each entry names the object and what to do.
async fn blockers(
    clients: &AwsClients,
    names: &Names,
    inv: &Inventory,
    vpc: &str,
) -> Result<Vec<String>> {
    let own_groups: Vec<String> = inv.security_groups.values().map(|g| g.id.clone()).collect();
    let (interfaces, nat_interfaces, referencing) = futures::try_join!(
        ec2::network_interfaces(&clients.ec2, vpc),
        ec2::nat_gateway_interfaces(&clients.ec2, vpc),
        ec2::groups_referencing(&clients.ec2, &own_groups),
    )?;
    let mut found = Vec::new();
    if let Some(bastion) = inv
        .bastion
        .as_ref()
        .filter(|_| inv.bastion_termination_protected)
    {
        found.push(format!(
            "the bastion {} has termination protection on: turn it off (`aws ec2 modify-instance-attribute --instance-id {} --no-disable-api-termination`, or `terraform apply`, which turns it off)",
            bastion.id, bastion.id
        ));
    }
    found.extend(inv.foreign.iter().map(|object| {
        format!("{object} lives in the VPC {vpc} but is not the environment's: delete or move it")
    }));
    // the load balancer's interfaces say whose they are; instances' interfaces
    // go with their instances (another's instance is listed above)
    let balancer = format!("ELB app/{}/", names.load_balancer);
    found.extend(
        interfaces
            .iter()
            .filter(|eni| eni.instance.is_none() && !nat_interfaces.contains(&eni.id))
            .filter(|eni| !(eni.requester_managed && eni.description.starts_with(&balancer)))
            .map(|eni| {
                let what = if eni.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({:?})", eni.description)
                };
                format!(
                    "network interface {}{what} in subnet {} is not the environment's: delete it, or the service that made it",
                    eni.id, eni.subnet
                )
            }),
    );
    found.extend(
        referencing
            .iter()
            .filter(|(id, _)| {
                !own_groups.contains(id) && !inv.foreign.iter().any(|f| &f.id == id)
            })
            .map(|(id, name)| {
                format!(
                    "security group {id} ({name:?}) is not the environment's and has rules naming the environment's groups: remove those rules"
                )
            }),
    );
    Ok(found)
}

pub(super) async fn wait_terminated(
    clients: &AwsClients,
    ids: &[String],
    deadline: Instant,
) -> Result<()> {
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
