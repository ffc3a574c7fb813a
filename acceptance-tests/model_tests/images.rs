//! Images as AWS describes them and the launches AWS refuses for them.

use aws_sdk_ec2::types::{
    ArchitectureValues, BlockDeviceMapping, EbsBlockDevice, InstanceType, VirtualizationType,
};

use super::{
    auto_scaling_group, code, failed_launch, launch_template, message, modelled, network, quiet,
};
use super::{Network, SDA1_IMAGE, WINDOWS_IMAGE};
use crate::harness::{runtime, Api};

/// An image registered as `x86_64` and HVM, EBS-backed with a root snapshot of
/// `root_gib` under `/dev/sda1` (`None`: instance store-backed), with or
/// without ENA.
pub async fn register_image(aws: &Api, name: &str, ena: bool, root_gib: Option<i32>) -> String {
    let mut register = aws
        .ec2
        .register_image()
        .name(name)
        .architecture(ArchitectureValues::X8664)
        .virtualization_type("hvm")
        .root_device_name("/dev/sda1")
        .ena_support(ena);
    if let Some(size) = root_gib {
        register = register.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(
                    EbsBlockDevice::builder()
                        .snapshot_id("snap-0123456789abcdef0")
                        .volume_size(size)
                        .build(),
                )
                .build(),
        );
    }
    register.send().await.unwrap().image_id.unwrap()
}

/// (virtualization, root device type, ENA, root snapshot GiB) as DescribeImages says.
async fn described(aws: &Api, image: &str) -> (String, String, bool, Option<i32>) {
    let out = aws
        .ec2
        .describe_images()
        .image_ids(image)
        .send()
        .await
        .unwrap();
    let image = &out.images()[0];
    let root = image.root_device_name();
    (
        image
            .virtualization_type()
            .map(VirtualizationType::as_str)
            .unwrap_or_default()
            .to_string(),
        image
            .root_device_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        image.ena_support().unwrap_or(false),
        image
            .block_device_mappings()
            .iter()
            .find(|m| m.device_name() == root)
            .and_then(|m| m.ebs()?.volume_size()),
    )
}

#[test]
fn images_are_described_as_aws_keeps_them() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let aws = &m.aws;
        // moto's catalogue, as AWS describes images of each kind
        let hvm = |gib| ("hvm".to_string(), "ebs".to_string(), true, Some(gib));
        assert_eq!(described(aws, WINDOWS_IMAGE).await, hvm(30));
        assert_eq!(described(aws, SDA1_IMAGE).await, hvm(8));
        assert_eq!(
            described(aws, "ami-8104a4f8").await,
            ("paravirtual".into(), "ebs".into(), false, Some(8))
        );
        // registered: what the registration said, where moto keeps only the name
        let large = register_image(aws, "large", true, Some(40)).await;
        assert_eq!(described(aws, &large).await, hvm(40));
        let no_ena = register_image(aws, "no-ena", false, Some(8)).await;
        assert_eq!(
            described(aws, &no_ena).await,
            ("hvm".into(), "ebs".into(), false, Some(8))
        );
        let store = register_image(aws, "store", true, None).await;
        assert_eq!(
            described(aws, &store).await,
            ("hvm".into(), "instance-store".into(), true, None)
        );
    });
}

/// RunInstances of `image` as `kind` in the network's first subnet, its root
/// volume sized `root_gib` when given: AWS's error code and message.
async fn launch(
    aws: &Api,
    net: &Network,
    image: &str,
    kind: InstanceType,
    root_gib: Option<i32>,
) -> (String, String) {
    let mut run = aws
        .ec2
        .run_instances()
        .image_id(image)
        .instance_type(kind)
        .min_count(1)
        .max_count(1)
        .subnet_id(&net.subnets[0]);
    if let Some(size) = root_gib {
        run = run.block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(EbsBlockDevice::builder().volume_size(size).build())
                .build(),
        );
    }
    let out = run.send().await;
    (code(&out), message(&out))
}

#[test]
fn a_launch_the_image_cannot_make_is_refused() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let aws = &m.aws;
        let net = network(aws).await;
        let no_ena = register_image(aws, "no-ena", false, Some(8)).await;
        let store = register_image(aws, "store", true, None).await;
        let invalid = "InvalidParameterCombination".to_string();
        assert_eq!(
            launch(aws, &net, &no_ena, InstanceType::T3Micro, None).await,
            (invalid.clone(), "Enhanced networking with the Elastic Network Adapter (ENA) is required for the 't3.micro' instance type. Ensure that you are using an AMI that is enabled for ENA.".into())
        );
        // a type that has no ENA launches it
        assert_eq!(
            launch(aws, &net, &no_ena, InstanceType::T2Micro, None).await.0,
            ""
        );
        assert_eq!(
            launch(aws, &net, "ami-8104a4f8", InstanceType::T2Micro, None).await,
            (
                invalid.clone(),
                "Virtualization type 'hvm' is required for instances of type 't2.micro'.".into()
            )
        );
        assert_eq!(
            launch(aws, &net, &store, InstanceType::T3Micro, None).await,
            (invalid, "The instance type 't3.micro' does not support instance store-backed AMIs. Use an Amazon EBS-backed AMI.".into())
        );
        // a root volume smaller than the image's snapshot; as large, it launches
        let (refused, why) = launch(aws, &net, WINDOWS_IMAGE, InstanceType::T3Micro, Some(20)).await;
        assert_eq!(refused, "InvalidBlockDeviceMapping");
        assert!(
            why.starts_with("Volume of size 20GB is smaller than snapshot 'snap-")
                && why.ends_with("', expect size >= 30GB"),
            "{why}"
        );
        assert_eq!(
            launch(aws, &net, WINDOWS_IMAGE, InstanceType::T3Micro, Some(30)).await.0,
            ""
        );
    });
}

#[test]
fn a_group_whose_image_cannot_launch_reports_the_failed_launch_and_starts_none() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let aws = &m.aws;
        let net = network(aws).await;
        let no_ena = register_image(aws, "no-ena", false, Some(8)).await;
        let template = launch_template(aws, &no_ena).await;
        auto_scaling_group(aws, &net, &template, 1, None).await;
        let group = aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("app")
            .send()
            .await
            .unwrap();
        assert!(
            group.auto_scaling_groups()[0].instances().is_empty(),
            "a launch AWS refused makes no member"
        );
        assert_eq!(
            failed_launch(aws).await,
            "Enhanced networking with the Elastic Network Adapter (ENA) is required for the 't3.micro' instance type. Ensure that you are using an AMI that is enabled for ENA. Launching EC2 instance failed."
        );
    });
}
