//! An IPv4 block associated with a VPC besides its primary one.

use super::{code, modelled, quiet};
use crate::harness::runtime;

#[test]
fn an_ipv4_block_that_holds_a_subnet_cannot_be_disassociated() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let ec2 = &m.aws.ec2;
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .and_then(|v| v.vpc_id)
            .unwrap();
        let association = ec2
            .associate_vpc_cidr_block()
            .vpc_id(&vpc)
            .cidr_block("10.10.0.0/16")
            .send()
            .await
            .unwrap()
            .cidr_block_association
            .and_then(|a| a.association_id)
            .unwrap();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.10.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap()
            .subnet
            .and_then(|s| s.subnet_id)
            .unwrap();
        let disassociate = || {
            ec2.disassociate_vpc_cidr_block()
                .association_id(&association)
                .send()
        };
        assert_eq!(
            code(&disassociate().await),
            "InvalidCidrBlock.InUse",
            "moto lets it go"
        );
        ec2.delete_subnet().subnet_id(&subnet).send().await.unwrap();
        disassociate().await.unwrap();
    });
}
