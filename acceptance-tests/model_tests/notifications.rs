//! A group's notification configurations, which moto has no API for.

use std::time::{Duration, Instant};

use super::{auto_scaling_group, code, launch_template, modelled, network, quiet, SDA1_IMAGE};
use crate::harness::{runtime, Api};

/// The (topic, type) pairs configured for group `app`.
async fn configured(aws: &Api) -> Vec<(String, String)> {
    let out = aws
        .autoscaling
        .describe_notification_configurations()
        .auto_scaling_group_names("app")
        .send()
        .await
        .unwrap();
    out.notification_configurations()
        .iter()
        .map(|c| {
            (
                c.topic_arn().unwrap_or_default().to_string(),
                c.notification_type().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_groups_notification_configurations_are_kept_per_topic_and_go_with_the_group() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let aws = &m.aws;
        let topic = "arn:aws:sns:us-east-1:123456789012:ops";
        let put = |kinds: &'static [&'static str]| {
            let mut put = aws
                .autoscaling
                .put_notification_configuration()
                .auto_scaling_group_name("app")
                .topic_arn(topic);
            for kind in kinds {
                put = put.notification_types(*kind);
            }
            put.send()
        };
        // no group of that name yet
        assert_eq!(
            code(&put(&["autoscaling:EC2_INSTANCE_LAUNCH"]).await),
            "ValidationError"
        );
        let net = network(aws).await;
        let template = launch_template(aws, SDA1_IMAGE).await;
        auto_scaling_group(aws, &net, &template, 0, None).await;
        put(&[
            "autoscaling:EC2_INSTANCE_LAUNCH",
            "autoscaling:EC2_INSTANCE_TERMINATE",
        ])
        .await
        .unwrap();
        // a second put for the topic replaces its types
        put(&["autoscaling:EC2_INSTANCE_LAUNCH_ERROR"])
            .await
            .unwrap();
        assert_eq!(
            configured(aws).await,
            [(
                topic.to_string(),
                "autoscaling:EC2_INSTANCE_LAUNCH_ERROR".to_string()
            )]
        );
        aws.autoscaling
            .delete_notification_configuration()
            .auto_scaling_group_name("app")
            .topic_arn(topic)
            .send()
            .await
            .unwrap();
        assert!(configured(aws).await.is_empty());
        // deleted with the group
        put(&["autoscaling:EC2_INSTANCE_LAUNCH"]).await.unwrap();
        aws.autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name("app")
            .force_delete(true)
            .send()
            .await
            .unwrap();
        let deleted = Instant::now();
        while !configured(aws).await.is_empty() {
            assert!(
                deleted.elapsed() < Duration::from_secs(10),
                "kept after the group"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
}
