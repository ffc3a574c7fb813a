//! The deletions AWS refuses while something still depends on the object and
//! moto allows: a subnet or security group with a network interface in it (NAT
//! gateway until deleted, load balancer until its interfaces are gone, instance
//! until terminated, EC2 Instance Connect Endpoint until `delete-complete`), a
//! security group another group's rule references, an internet gateway detach
//! while public addresses are mapped in the VPC, an Elastic IP a NAT gateway
//! holds, a VPC with an attached internet gateway or egress-only internet
//! gateway, security groups, an EC2
//! Instance Connect Endpoint or a regional NAT gateway left (moto checks only
//! subnets and route tables), a regional NAT gateway's own route table, an
//! Elastic IP a regional NAT gateway holds given to something else, and an
//! Auto Scaling Group with instances deleted without ForceDelete.

use std::time::Instant;

use aws_sdk_ec2::types::Filter;

use super::{ipv6, regional_nat, Call, Model, Refusal};

/// The refusal AWS would give this call now, if any.
pub async fn refusal(model: &Model, call: &Call) -> Option<Refusal> {
    let now = Instant::now();
    match call.key().as_str() {
        "ec2:DeleteSubnet" => {
            let subnet = call.param("SubnetId")?;
            let holders = model.state().world.subnet_holders(subnet, now);
            (!holders.is_empty()).then(|| {
                Refusal::dependency(format!(
                    "The subnet '{subnet}' has dependencies and cannot be deleted."
                ))
            })
        }
        "ec2:DeleteSecurityGroup" => {
            let group = call.param("GroupId")?;
            let held = !model.state().world.group_holders(group, now).is_empty();
            (held || referenced(model, group).await)
                .then(|| Refusal::dependency(format!("resource {group} has a dependent object")))
        }
        "ec2:DetachInternetGateway" => {
            let vpc = call.param("VpcId")?;
            let holders = model.state().world.public_address_holders(vpc, now);
            (!holders.is_empty()).then(|| {
                Refusal::dependency(format!(
                    "Network {vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
                ))
            })
        }
        "ec2:ReleaseAddress" => {
            let allocation = call.param("AllocationId")?;
            let world = &model.state().world;
            // AWS's answer for an address a zonal NAT gateway maps, deleted
            // moments ago included, is a permission error
            let zonal = world
                .nat_gateways
                .values()
                .any(|n| n.allocation == allocation && n.holds_address(now));
            let holder = world.allocation_holder(allocation, now);
            holder.map(|_| match zonal {
                true => Refusal::new(
                    400,
                    "AuthFailure",
                    "You do not have permission to access the specified resource.",
                ),
                false => Refusal::new(
                    400,
                    "InvalidIPAddress.InUse",
                    &format!("Address {allocation} is in use."),
                ),
            })
        }
        "ec2:DeleteRouteTable" => {
            let table = call.param("RouteTableId")?;
            let owner = regional_nat::route_table_owner(&model.state().world, table, now);
            owner.map(|_| {
                Refusal::dependency(format!(
                    "The routeTable '{table}' has dependencies and cannot be deleted."
                ))
            })
        }
        "ec2:AssociateAddress" => {
            // moto knows nothing of the association: AWS refuses to take the
            // address from the gateway, reassociation allowed or not
            let allocation = call.param("AllocationId")?;
            let state = model.state();
            let (_, association) = state.world.regional_address(allocation, now)?;
            Some(Refusal::new(
                400,
                "Resource.AlreadyAssociated",
                &format!(
                    "resource {allocation} is already associated with associate-id {association}"
                ),
            ))
        }
        "ec2:DeleteVpc" => {
            let vpc = call.param("VpcId")?;
            let held = !model.state().world.vpc_holders(vpc, now).is_empty();
            (held || vpc_has_dependencies(model, vpc).await).then(|| {
                Refusal::dependency(format!(
                    "The vpc '{vpc}' has dependencies and cannot be deleted."
                ))
            })
        }
        "autoscaling:DeleteAutoScalingGroup" => {
            let name = call.param("AutoScalingGroupName")?;
            if call.param("ForceDelete") != Some("true") {
                let in_moto = model.group(name).await?.instances().len();
                let terminating = model.state().world.group_instances(name, now);
                if in_moto + terminating > 0 {
                    return Some(Refusal::new(
                        400,
                        "ResourceInUse",
                        "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.",
                    ));
                }
            }
            // a launch under way is a scaling activity, which even ForceDelete
            // does not cut short
            (model.state().world.group_launching(name, now) > 0).then(|| {
                Refusal::new(
                    400,
                    "ScalingActivityInProgress",
                    "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.",
                )
            })
        }
        _ => None,
    }
}

/// Whether another security group's rule (ingress or egress) names `group`.
async fn referenced(model: &Model, group: &str) -> bool {
    let Ok(out) = model.api.ec2.describe_security_groups().send().await else {
        return false;
    };
    out.security_groups()
        .iter()
        .filter(|g| g.group_id() != Some(group))
        .flat_map(|g| g.ip_permissions().iter().chain(g.ip_permissions_egress()))
        .flat_map(|p| p.user_id_group_pairs())
        .any(|pair| pair.group_id() == Some(group))
}

/// Whether the VPC still has an internet gateway, an egress-only internet
/// gateway or a virtual private gateway attached (moto deletes the VPC and
/// keeps the egress-only one attached to nothing), or a security group or
/// network ACL other than its default one.
async fn vpc_has_dependencies(model: &Model, vpc: &str) -> bool {
    let by = |name: &str| Filter::builder().name(name).values(vpc).build();
    let gateways = model
        .api
        .ec2
        .describe_internet_gateways()
        .filters(by("attachment.vpc-id"))
        .send()
        .await
        .map(|o| !o.internet_gateways().is_empty())
        .unwrap_or(false);
    let groups = model
        .api
        .ec2
        .describe_security_groups()
        .filters(by("vpc-id"))
        .send()
        .await
        .map(|o| {
            o.security_groups()
                .iter()
                .any(|g| g.group_name() != Some("default"))
        })
        .unwrap_or(false);
    // AWS deletes the default network ACL with the VPC, not another one
    let acls = model
        .api
        .ec2
        .describe_network_acls()
        .filters(by("vpc-id"))
        .send()
        .await
        .map(|o| {
            o.network_acls()
                .iter()
                .any(|a| a.is_default() != Some(true))
        })
        .unwrap_or(false);
    // a virtual private gateway must be detached first (moto deletes the VPC
    // and keeps the attachment)
    let vpn_gateways = model
        .api
        .ec2
        .describe_vpn_gateways()
        .filters(by("attachment.vpc-id"))
        .send()
        .await
        .map(|o| {
            o.vpn_gateways().iter().any(|g| {
                g.vpc_attachments().iter().any(|a| {
                    a.vpc_id() == Some(vpc)
                        && a.state() != Some(&aws_sdk_ec2::types::AttachmentStatus::Detached)
                })
            })
        })
        .unwrap_or(false);
    gateways
        || groups
        || acls
        || vpn_gateways
        || ipv6::egress_only_gateway_attached(model, vpc).await
}
