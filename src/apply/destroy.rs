//! Destroy: deletes every object of the environment in the waves the table of
//! components gives, waiting out what lingers, and fails naming what is left.

use futures::future::try_join_all;
use tokio::time::Instant;

use super::components::{object_ids, steps_in, Wave};
use super::inventory::{foreign_interfaces, interface_in_words, Hints, Inventory, Lookup, Purpose};
use super::run::Result;
use super::teardown::Teardown;
use super::waiters::LISTED_LATE;
use crate::aws::ec2;
use crate::aws::AwsClients;
use crate::error::AwsError;
use crate::plan::spec::{attribute, Names};

/// Deletes every object of the environment, in reverse dependency order,
/// concurrently where possible, until nothing tagged for it is left. Duplicates
/// left by retried creates are deleted with the components they duplicate.
///
/// Without a VPC in state (a create interrupted before its first answer), only an
/// environment still marked as being created is deleted, never a complete one,
/// which belongs to another configuration; and without any VPC nothing is,
/// as nothing found by its tags alone is the environment's. `hints` name what
/// the state records, such as the Elastic IPs no NAT gateway holds any more.
///
/// Its inventories read what deleting needs, not the settings only a refresh
/// compares ([`Purpose::Delete`]): many environments destroyed at once share
/// the account's request rates.
pub async fn destroy(
    clients: &AwsClients,
    names: &Names,
    vpc_id: Option<&str>,
    hints: &Hints,
    deadline: Instant,
) -> Result<()> {
    let hints = &Hints {
        purpose: Purpose::Delete,
        ..hints.clone()
    };
    let lookup = match vpc_id {
        Some(vpc) => Lookup::EverythingInVpc(vpc),
        None => Lookup::ByName,
    };
    // the VPC's network interfaces, which tell what would block, are asked
    // beside the inventory's first reads: every environment destroyed at the
    // same moment asks them then, so they merge into one call
    let (inv, early_interfaces) = futures::join!(
        Inventory::discover_hinted(clients, names, lookup, hints),
        async {
            match vpc_id {
                Some(vpc) => Some(ec2::vpc_interfaces(&clients.ec2, &clients.batches, vpc).await),
                None => None,
            }
        },
    );
    let inv = inv?;
    // later passes stay bound to the VPC found now: once it is deleted, a
    // look by name would find nothing of what it held
    let found_vpc = inv.vpc.as_ref().map(|vpc| vpc.id.clone());
    let lookup = match (lookup, &found_vpc) {
        (Lookup::ByName, Some(vpc)) => Lookup::EverythingInVpc(vpc),
        _ => lookup,
    };
    if vpc_id.is_none() && inv.vpc.is_some() && !inv.is_unfinished() {
        return Ok(());
    }
    if vpc_id.is_some() && inv.vpc.is_none() {
        // The VPC, deleted last, is gone: what is found by name (the load
        // balancer, the group, the template, addresses) is a leftover of this
        // environment, unless an environment of the same name now exists, whose
        // objects those are.
        let by_name = Inventory::discover_hinted(clients, names, Lookup::ByName, hints).await?;
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
    // the VPC in state, or the unfinished one found by name (what discovery
    // then bound the inventory to)
    if let Some(vpc) = inv.vpc.as_ref().map(|vpc| vpc.id.as_str()) {
        // read again only for another VPC (an unfinished create's, found by name)
        let interfaces = match early_interfaces {
            Some(read) if vpc_id == Some(vpc) => read?,
            _ => ec2::vpc_interfaces(&clients.ec2, &clients.batches, vpc).await?,
        };
        let blockers = blockers(clients, names, &inv, vpc, &interfaces).await?;
        if !blockers.is_empty() {
            return Err(AwsError::DestroyBlocked { blockers });
        }
    }
    // each wave waits for the one before it, as AWS refuses to delete what
    // something of a later wave still holds
    let mut inv = inv;
    let mut passes = 0;
    let left = loop {
        let teardown = Teardown {
            clients,
            inv: &inv,
            deadline,
        };
        for wave in Wave::IN_ORDER {
            try_join_all(steps_in(wave).map(|step| step(&teardown))).await?;
        }
        passes += 1;
        // AWS lists an object only a moment after its create answered (one an
        // interrupted apply made just before it stopped): what the first look
        // missed is found, and deleted, by another
        tokio::time::sleep(LISTED_LATE).await;
        let after = Inventory::discover_hinted(clients, names, lookup, hints).await?;
        if object_ids(&after).is_empty() || passes == DELETION_PASSES {
            break object_ids(&after);
        }
        inv = after;
    };
    if !left.is_empty() {
        return Err(AwsError::Unsatisfiable(format!(
            "objects tagged for environment {} are still present after deletion ({}); run destroy again",
            names.environment,
            left.join(", ")
        )));
    }
    Ok(())
}

/// How many times destroy looks for what is left and deletes it.
const DELETION_PASSES: usize = 3;

/// What would stop the destroy part way, found before anything is deleted:
/// the bastion's termination protection, objects in the VPC that are not the
/// environment's (instances, subnets, groups, network interfaces of other
/// services), and other security groups whose rules name the environment's.
/// Each entry names the object and what to do. `interfaces` are the VPC's
/// (see [`ec2::vpc_interfaces`]).
async fn blockers(
    clients: &AwsClients,
    names: &Names,
    inv: &Inventory,
    vpc: &str,
    (interfaces, nat_interfaces): &ec2::VpcInterfaces,
) -> Result<Vec<String>> {
    let own_groups: Vec<String> = inv.security_groups.values().map(|g| g.id.clone()).collect();
    let referencing = ec2::groups_referencing(&clients.ec2, &own_groups).await?;
    let mut found = Vec::new();
    // each refuses TerminateInstances (stop protection too, as AWS documents)
    for (protected, what, flag) in [
        (
            inv.bastion_termination_protected,
            "termination",
            "disable-api-termination",
        ),
        (inv.bastion_stop_protected, "stop", "disable-api-stop"),
    ] {
        if let Some(bastion) = inv.bastion.as_ref().filter(|_| protected) {
            found.push(format!(
                "the bastion {} has {what} protection on: turn it off (`aws ec2 modify-instance-attribute --instance-id {} --no-{flag}`, or `terraform apply`, which turns it off)",
                bastion.id, bastion.id
            ));
        }
    }
    found.extend(
        inv.foreign
            .iter()
            .map(|object| format!("{object} {}", object.remedy(vpc))),
    );
    found.extend(
        foreign_interfaces(inv, &names.load_balancer, interfaces, nat_interfaces)
            .into_iter()
            .map(|eni| {
                format!(
                    "{} is not the environment's: delete it, or the service that made it",
                    interface_in_words(eni)
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
