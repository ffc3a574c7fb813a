//! One deletion step per kind of component, each removing every object of
//! its kind, the duplicates a retried create left behind included. Not-found
//! is done; what AWS refuses while network interfaces linger is retried until
//! the deadline. The table of components says which wave runs each step.

use futures::future::{try_join_all, BoxFuture};
use tokio::time::Instant;

use super::endpoints::delete_gateway_endpoint;
use super::flow_logs::delete_flow_logs;
use super::inventory::{Inventory, NAT_GATEWAY_KEYS, SUBNET_KEYS};
use super::routing::{delete_nat_gateway, delete_route_table};
use super::run::{ignore_not_found, Result};
use super::waiters::{delete_with_retry, poll_until, wait_group_deleted, wait_terminated};
use crate::aws::ec2::{self, Found};
use crate::aws::{autoscaling, elbv2, AwsClients};

/// What every deletion step works from.
pub(super) struct Teardown<'a> {
    pub clients: &'a AwsClients,
    pub inv: &'a Inventory,
    pub deadline: Instant,
}

/// A deletion step, as the table of components names it.
pub(super) type Step = for<'a> fn(&'a Teardown<'a>) -> BoxFuture<'a, Result<()>>;

impl Teardown<'_> {
    pub(super) fn ec2(&self) -> &aws_sdk_ec2::Client {
        &self.clients.ec2
    }
}

/// The component's object, if found, then its duplicates.
pub(super) fn with_strays<'a>(one: Option<&'a Found>, more: &'a [Found]) -> Vec<&'a Found> {
    one.into_iter().chain(more).collect()
}

impl Teardown<'_> {
    /// The listed objects whose keys are of the shape `pattern` (see
    /// [`super::inventory::ListedKind`]) and the strays of their `listing`.
    pub(super) fn listed_with_strays<'a>(
        &'a self,
        pattern: &'a str,
        listing: &ec2::Listing,
    ) -> Vec<&'a Found> {
        let strays = self.inv.strays.ec2.listed.get(listing.operation);
        let strays = strays.into_iter().flat_map(|l| &l.objects);
        let listed = self.inv.objects_of(pattern).map(|(_, f)| f);
        listed.chain(strays).collect()
    }
}

/// Deletes each of `items` concurrently.
pub(super) async fn each<'a, T: 'a, F, Fut>(
    items: impl IntoIterator<Item = &'a T>,
    delete: F,
) -> Result<()>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    try_join_all(items.into_iter().map(delete))
        .await
        .map(|_| ())
}

pub(super) async fn vpcs(t: &Teardown<'_>) -> Result<()> {
    let vpcs = with_strays(t.inv.vpc.as_ref(), &t.inv.strays.ec2.vpcs);
    each(vpcs, |vpc| {
        delete_with_retry(t.deadline, "VPC", move || ec2::delete_vpc(t.ec2(), &vpc.id))
    })
    .await
}

pub(super) async fn subnets(t: &Teardown<'_>) -> Result<()> {
    let subnets = t.listed_with_strays(SUBNET_KEYS, &ec2::SUBNETS);
    each(subnets, |s| {
        delete_with_retry(t.deadline, "subnet", move || {
            ec2::delete_subnet(t.ec2(), &s.id)
        })
    })
    .await
}

pub(super) async fn internet_gateways(t: &Teardown<'_>) -> Result<()> {
    each(
        t.listed_with_strays("igw", &ec2::INTERNET_GATEWAYS),
        |igw| async move {
            if let Some(vpc) = igw.detail.get("vpc") {
                delete_with_retry(t.deadline, "internet gateway detachment", || {
                    ec2::detach_internet_gateway(t.ec2(), &igw.id, vpc)
                })
                .await?;
            }
            delete_with_retry(t.deadline, "internet gateway", || {
                ec2::delete_internet_gateway(t.ec2(), &igw.id)
            })
            .await
        },
    )
    .await
}

/// Every route table, public and private: the two kinds share the inventory's map.
pub(super) async fn route_tables(t: &Teardown<'_>) -> Result<()> {
    let tables = t
        .inv
        .route_tables
        .values()
        .chain(&t.inv.strays.ec2.route_tables);
    each(tables, |table| {
        delete_route_table(t.ec2(), table, t.deadline)
    })
    .await
}

pub(super) async fn addresses(t: &Teardown<'_>) -> Result<()> {
    let addresses = t.inv.addresses.values().chain(&t.inv.strays.ec2.addresses);
    each(addresses, |a| {
        delete_with_retry(t.deadline, "Elastic IP release", move || {
            ec2::release_address(t.ec2(), &a.id)
        })
    })
    .await
}

pub(super) async fn nat_gateways(t: &Teardown<'_>) -> Result<()> {
    let nats = t.listed_with_strays(NAT_GATEWAY_KEYS, &ec2::NAT_GATEWAYS);
    each(nats, |nat| {
        delete_nat_gateway(t.ec2(), &t.clients.batches, &nat.id, t.deadline)
    })
    .await
}

pub(super) async fn gateway_endpoints(t: &Teardown<'_>) -> Result<()> {
    let endpoints = t.listed_with_strays("vpce/*", &ec2::GATEWAY_ENDPOINTS);
    each(endpoints, |e| {
        delete_gateway_endpoint(t.clients, e, t.deadline)
    })
    .await
}

pub(super) async fn flow_logs(t: &Teardown<'_>) -> Result<()> {
    let logs = t.inv.flow_log.iter().chain(&t.inv.strays.ec2.flow_logs);
    delete_flow_logs(t.ec2(), logs, t.deadline).await
}

pub(super) async fn security_groups(t: &Teardown<'_>) -> Result<()> {
    let groups: Vec<&ec2::SecurityGroup> = t
        .inv
        .security_groups
        .values()
        .chain(&t.inv.strays.ec2.security_groups)
        .collect();
    // rules referencing each other keep groups alive: clear them first (the
    // Instance Connect Endpoint's group names sg/app in an egress rule)
    each(groups.iter().copied(), |group| async move {
        let egress: Vec<ec2::RawRule> = group
            .egress
            .iter()
            .filter(|r| matches!(r.source, ec2::RuleSource::Group(_)))
            .cloned()
            .collect();
        ec2::revoke_ingress(t.ec2(), &group.id, &group.ingress)
            .await
            .or_else(ignore_not_found)?;
        ec2::revoke(t.ec2(), &group.id, ec2::Direction::Egress, &egress)
            .await
            .or_else(ignore_not_found)
    })
    .await?;
    each(groups, |g| {
        delete_with_retry(t.deadline, "security group", move || {
            ec2::delete_security_group(t.ec2(), &g.id)
        })
    })
    .await
}

pub(super) async fn launch_templates(t: &Teardown<'_>) -> Result<()> {
    let strays = &t.inv.strays.ec2.launch_templates;
    for template in with_strays(t.inv.launch_template.as_ref(), strays) {
        ec2::delete_launch_template(t.ec2(), &template.id)
            .await
            .or_else(ignore_not_found)?;
    }
    Ok(())
}

/// The bastion, and any instance the environment launched twice.
pub(super) async fn instances(t: &Teardown<'_>) -> Result<()> {
    let ids: Vec<String> = with_strays(t.inv.bastion.as_ref(), &t.inv.strays.ec2.instances)
        .into_iter()
        .map(|f| f.id.clone())
        .collect();
    ec2::terminate_instances(t.ec2(), &ids)
        .await
        .or_else(ignore_not_found)?;
    wait_terminated(t.clients, &ids, t.deadline).await
}

pub(super) async fn load_balancers(t: &Teardown<'_>) -> Result<()> {
    let elb = &t.clients.elbv2;
    let balancers = t
        .inv
        .load_balancer
        .iter()
        .chain(&t.inv.strays.load_balancers);
    each(balancers, |lb| async move {
        elbv2::delete_load_balancer(elb, &lb.arn)
            .await
            .or_else(ignore_not_found)?;
        poll_until(t.deadline, "the load balancer to be deleted", || async {
            let state = elbv2::load_balancer_state(elb, &t.clients.batches, &lb.arn).await?;
            Ok(state.is_none().then_some(()))
        })
        .await
    })
    .await
}

/// Every target group found, the one of an old port included.
pub(super) async fn target_groups(t: &Teardown<'_>) -> Result<()> {
    each(&t.inv.target_groups, |tg| {
        delete_with_retry(t.deadline, "target group", move || {
            elbv2::delete_target_group(&t.clients.elbv2, &tg.arn)
        })
    })
    .await
}

/// The group, then the instances it ran, which AWS terminates with it.
pub(super) async fn auto_scaling_groups(t: &Teardown<'_>) -> Result<()> {
    let asg = &t.clients.autoscaling;
    let Some(group) = &t.inv.group else {
        // one AWS is deleting already (a destroy that stopped, or out of
        // band) takes its instances with it: the subnets wait for both
        let Some(deleting) = &t.inv.group_deleting else {
            return Ok(());
        };
        wait_group_deleted(t.clients, &deleting.name, t.deadline).await?;
        return wait_terminated(t.clients, &deleting.instances, t.deadline).await;
    };
    // a launch under way refuses even a forced delete until it is over
    delete_with_retry(t.deadline, "the Auto Scaling Group", || {
        autoscaling::delete_group(asg, &group.name)
    })
    .await?;
    wait_group_deleted(t.clients, &group.name, t.deadline).await?;
    wait_terminated(t.clients, &group.instances, t.deadline).await
}
