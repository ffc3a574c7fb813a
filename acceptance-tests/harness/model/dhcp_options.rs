//! A VPC's DHCP options set outlives the VPC: AWS deletes a VPC and keeps the
//! set it used (the account's default set serves every new VPC; another may
//! be shared by many). moto 5.2.1 deletes the set with the VPC. So right
//! before moto deletes a VPC (when it will), the model gives it no set, which
//! moto then keeps.

use super::{Call, Model};

/// Detaches the DHCP options set of the VPC a DeleteVpc names, about to be
/// forwarded to moto, so that moto keeps the set as AWS does.
pub async fn keep_set_of_deleted_vpc(model: &Model, call: &Call) {
    if call.key() != "ec2:DeleteVpc" {
        return;
    }
    let Some(vpc) = call.param("VpcId") else {
        return;
    };
    if !moto_deletes(model, vpc).await {
        // refused: the VPC keeps its set
        return;
    }
    let _ = model
        .api
        .ec2
        .associate_dhcp_options()
        .vpc_id(vpc)
        .dhcp_options_id("default")
        .send()
        .await;
}

/// Whether moto will delete the VPC when asked (the model refused already what
/// AWS refuses that moto does not): moto refuses while subnets, an attached
/// virtual private gateway (not yet detached) or a route table besides the
/// main one remain (a VPC that does not exist has none: moto refuses it, and
/// giving it no set first fails harmlessly).
async fn moto_deletes(model: &Model, vpc: &str) -> bool {
    let by_vpc = || {
        aws_sdk_ec2::types::Filter::builder()
            .name("vpc-id")
            .values(vpc)
            .build()
    };
    let ec2 = &model.api.ec2;
    let (subnets, tables, gateways) = futures::join!(
        ec2.describe_subnets().filters(by_vpc()).send(),
        ec2.describe_route_tables().filters(by_vpc()).send(),
        ec2.describe_vpn_gateways()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("attachment.vpc-id")
                    .values(vpc)
                    .build(),
            )
            .send(),
    );
    let no_subnets = subnets.is_ok_and(|o| o.subnets().is_empty());
    let main_table_only = tables.is_ok_and(|o| o.route_tables().len() <= 1);
    let attached = |g: &aws_sdk_ec2::types::VpnGateway| {
        g.vpc_attachments().iter().any(|a| {
            a.vpc_id() == Some(vpc)
                && a.state() != Some(&aws_sdk_ec2::types::AttachmentStatus::Detached)
        })
    };
    let no_gateway = gateways.is_ok_and(|o| !o.vpn_gateways().iter().any(attached));
    no_subnets && main_table_only && no_gateway
}
