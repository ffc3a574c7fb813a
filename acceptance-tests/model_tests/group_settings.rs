//! The settings of a group that moto drops and AWS keeps.

use super::{auto_scaling_group, launch_template, modelled, network, quiet};
use crate::harness::{runtime, Api};

/// The group's (cooldown, termination policies, lifetime, warmup), as listed.
async fn kept(aws: &Api) -> (Option<i32>, Vec<String>, Option<i32>, Option<i32>) {
    let group = aws.group("app").await;
    (
        group.default_cooldown(),
        group.termination_policies().to_vec(),
        group.max_instance_lifetime(),
        group.default_instance_warmup(),
    )
}

#[test]
fn a_group_lists_the_cooldown_lifetime_warmup_and_termination_policies_it_was_given() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        m.aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name("app")
            .min_size(0)
            .max_size(2)
            .desired_capacity(0)
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .build(),
            )
            .vpc_zone_identifier(net.subnets.join(","))
            .send()
            .await
            .unwrap();
        assert_eq!(
            kept(&m.aws).await,
            (Some(300), vec!["Default".to_string()], None, None),
            "AWS's defaults"
        );
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .default_cooldown(10)
            .termination_policies("NewestInstance")
            .termination_policies("OldestLaunchTemplate")
            .max_instance_lifetime(86400)
            .default_instance_warmup(60)
            .send()
            .await
            .unwrap();
        assert_eq!(
            kept(&m.aws).await,
            (
                Some(10),
                vec![
                    "NewestInstance".to_string(),
                    "OldestLaunchTemplate".to_string()
                ],
                Some(86400),
                Some(60)
            ),
            "moto lists 300, Default, none and none whatever was set"
        );
        // a lifetime of 0 and a warmup of -1 clear them; an update that leaves
        // a setting out keeps it
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .max_instance_lifetime(0)
            .default_instance_warmup(-1)
            .send()
            .await
            .unwrap();
        let (cooldown, _, lifetime, warmup) = kept(&m.aws).await;
        assert_eq!((cooldown, lifetime, warmup), (Some(10), None, None));
    });
}

/// The group's instance maintenance policy as (min, max) healthy percentage.
async fn maintenance(aws: &Api) -> Option<(Option<i32>, Option<i32>)> {
    let group = aws.group("app").await;
    group
        .instance_maintenance_policy()
        .map(|p| (p.min_healthy_percentage(), p.max_healthy_percentage()))
}

#[test]
fn a_group_lists_the_instance_maintenance_policy_it_was_given_until_cleared() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        auto_scaling_group(&m.aws, &net, &template, 0, None).await;
        assert_eq!(maintenance(&m.aws).await, None, "none until set");
        let update = |min: i32, max: i32| {
            m.aws
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name("app")
                .instance_maintenance_policy(
                    aws_sdk_autoscaling::types::InstanceMaintenancePolicy::builder()
                        .min_healthy_percentage(min)
                        .max_healthy_percentage(max)
                        .build(),
                )
                .send()
        };
        update(0, 100).await.unwrap();
        assert_eq!(maintenance(&m.aws).await, Some((Some(0), Some(100))));
        // -1 clears both bounds, and the policy with them
        update(-1, -1).await.unwrap();
        assert_eq!(maintenance(&m.aws).await, None);
    });
}
