//! A VPC's DHCP options set outlives the VPC.

use super::{modelled, quiet};
use crate::harness::runtime;

#[test]
fn a_deleted_vpc_leaves_its_dhcp_options_set_in_place() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let ec2 = &m.aws.ec2;
        let options = m.aws.dhcp_options("10.0.0.2").await;
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        ec2.associate_dhcp_options()
            .vpc_id(&vpc)
            .dhcp_options_id(&options)
            .send()
            .await
            .unwrap();
        ec2.delete_vpc().vpc_id(&vpc).send().await.unwrap();
        assert!(
            m.aws.dhcp_options_exist(&options).await,
            "the set is still there (moto deletes it with the VPC)"
        );
    });
}
