//! An application load balancer's listener attributes, as AWS lists them.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ListenerAttribute, ProtocolEnum,
};

use super::{create_balancer, modelled, network, quiet, target_group};
use crate::harness::{runtime, Api};

async fn attributes(aws: &Api, listener: &str) -> BTreeMap<String, String> {
    let out = aws
        .elbv2
        .describe_listener_attributes()
        .listener_arn(listener)
        .send()
        .await
        .unwrap();
    out.attributes()
        .iter()
        .map(|a| {
            (
                a.key().unwrap_or_default().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_application_listener_sends_server_until_told_otherwise_and_has_no_idle_timeout() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let aws = &m.aws;
        let net = network(aws).await;
        let balancer = create_balancer(aws, &net).await;
        let group = target_group(aws, &net.vpc).await;
        let listener = aws
            .elbv2
            .create_listener()
            .load_balancer_arn(balancer.load_balancer_arn().unwrap())
            .port(80)
            .protocol(ProtocolEnum::Http)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&group)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .listeners()[0]
            .listener_arn()
            .unwrap()
            .to_string();
        let server = "routing.http.response.server.enabled".to_string();
        assert_eq!(
            attributes(aws, &listener).await,
            BTreeMap::from([(server.clone(), "true".to_string())])
        );
        let origin = "routing.http.response.access_control_allow_origin.header_value".to_string();
        aws.elbv2
            .modify_listener_attributes()
            .listener_arn(&listener)
            .attributes(ListenerAttribute::builder().key(&origin).value("*").build())
            .attributes(
                ListenerAttribute::builder()
                    .key(&server)
                    .value("false")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            attributes(aws, &listener).await,
            BTreeMap::from([(origin, "*".to_string()), (server, "false".to_string())])
        );
    });
}
