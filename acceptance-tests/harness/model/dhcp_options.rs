//! A VPC's DHCP options set outlives the VPC: AWS deletes a VPC and keeps the
//! set it used (the account's default set serves every new VPC; another may
//! be shared by many). moto 5.2.1 deletes the set with the VPC. So before
//! moto deletes a VPC, the model gives it no set, which moto then keeps.

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
    // a VPC that does not exist is refused by moto, as by AWS
    let _ = model
        .api
        .ec2
        .associate_dhcp_options()
        .vpc_id(vpc)
        .dhcp_options_id("default")
        .send()
        .await;
}
