//! Tests of the AWS behaviour model itself: moto behind the modelled fault
//! layer, driven with the SDK directly (no Terraform). Each refusal must appear
//! and then lift after its scaled duration.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::config::http::HttpResponse;
use aws_sdk_autoscaling::operation::start_instance_refresh::{
    StartInstanceRefreshError, StartInstanceRefreshOutput,
};
use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefresh, InstancesDistribution, LaunchTemplateOverrides,
    LaunchTemplateSpecification, MixedInstancesPolicy, RefreshPreferences,
};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Ec2InstanceConnectEndpoint, IpPermission, RequestLaunchTemplateData, UserIdGroupPair,
};
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;

use crate::harness::faults::FaultLayer;
use crate::harness::model::ModelConfig;
use crate::harness::moto::Moto;
use crate::harness::{runtime, Api};

mod dhcp_options;
mod group_settings;
pub mod images;
mod ipv6;
mod listener_attributes;
mod notifications;
mod vpc_blocks;

struct Modelled {
    moto_server: Moto,
    layer: FaultLayer,
    /// through the layer, without SDK retries, so every refusal is seen
    aws: Api,
    /// straight to moto
    moto: Api,
}

/// Durations and propagation off unless a test turns them on.
fn quiet(time_scale: f64) -> ModelConfig {
    ModelConfig {
        time_scale,
        consistency_probability: 0.0,
        consistency_window: Duration::from_millis(1500),
        throttling: false,
        seed: 7,
        unhealthy_user_data: None,
        listing_lag: None,
    }
}

/// Tests that drive the API with calls the provider never makes: not checked
/// against the provider's IAM policy.
fn modelled(config: ModelConfig) -> Modelled {
    started(|moto| FaultLayer::start_modelled_on("127.0.0.1:0", moto, config))
}

/// Tests that make only calls the provider makes, checked against its IAM policy.
fn modelled_for_provider(config: ModelConfig) -> Modelled {
    started(|moto| FaultLayer::start_modelled(moto, config))
}

impl Modelled {
    /// The moto server, to set up what the calls only refer to (instance profiles).
    fn moto_server(&self) -> &Moto {
        &self.moto_server
    }
}

fn started(layer: impl FnOnce(&str) -> FaultLayer) -> Modelled {
    let moto = Moto::start();
    let layer = layer(&moto.endpoint());
    let aws = Api::without_retries(&layer.endpoint());
    let direct = Api::new(&moto.endpoint());
    Modelled {
        moto_server: moto,
        layer,
        aws,
        moto: direct,
    }
}

/// The AWS error code of a failed call ("" when it succeeded).
fn code<T, E: ProvideErrorMetadata, R>(result: &Result<T, SdkError<E, R>>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e.code().unwrap_or("no code").to_string(),
    }
}

fn message<T, E: ProvideErrorMetadata, R>(result: &Result<T, SdkError<E, R>>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => e.message().unwrap_or_default().to_string(),
    }
}

/// Polls `check` until it holds, then asserts that took most of `expected`
/// (AWS's duration, scaled) since `since`; fails the test when it never holds.
async fn reaches<F, Fut>(since: Instant, expected: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let limit = expected * 3 + Duration::from_secs(10);
    while !check().await {
        assert!(since.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let elapsed = since.elapsed();
    assert!(
        elapsed >= expected.mul_f64(0.8),
        "{what} after {elapsed:?}, expected about {expected:?}"
    );
}

/// AWS's `seconds` at the test's time scale.
fn scaled(seconds: f64, scale: f64) -> Duration {
    Duration::from_secs_f64(seconds * scale)
}

/// The error code of DeleteSubnet ("" when it succeeded).
async fn delete_subnet(aws: &Api, subnet: &str) -> String {
    code(&aws.ec2.delete_subnet().subnet_id(subnet).send().await)
}

/// The error code of DeleteSecurityGroup ("" when it succeeded).
async fn delete_group(aws: &Api, group: &str) -> String {
    code(&aws.ec2.delete_security_group().group_id(group).send().await)
}

/// The error code of detaching the network's internet gateway ("" when it succeeded).
async fn detach_gateway(aws: &Api, net: &Network) -> String {
    let out = aws
        .ec2
        .detach_internet_gateway()
        .internet_gateway_id(&net.gateway)
        .vpc_id(&net.vpc)
        .send()
        .await;
    assert!(
        out.is_ok() || message(&out).contains("mapped public address"),
        "{}",
        message(&out)
    );
    code(&out)
}

struct Network {
    vpc: String,
    subnets: Vec<String>,
    gateway: String,
    group: String,
}

/// A VPC with two subnets, an attached internet gateway and one security group.
async fn network(aws: &Api) -> Network {
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let subnet = aws
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        subnets.push(subnet.subnet.unwrap().subnet_id.unwrap());
    }
    let gateway = aws
        .ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    aws.ec2
        .attach_internet_gateway()
        .internet_gateway_id(&gateway)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let group = aws
        .ec2
        .create_security_group()
        .group_name("app")
        .description("app")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    Network {
        vpc,
        subnets,
        gateway,
        group,
    }
}

async fn nat_state(aws: &Api, id: &str) -> String {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .unwrap();
    out.nat_gateways()[0].state().unwrap().as_str().to_string()
}

#[test]
fn nat_gateway_is_pending_then_available_and_holds_its_address_subnet_and_gateway_until_deleted() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let allocation = m
            .aws
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id
            .unwrap();
        let created = Instant::now();
        let nat = m
            .aws
            .ec2
            .create_nat_gateway()
            .subnet_id(&net.subnets[0])
            .allocation_id(&allocation)
            .send()
            .await
            .unwrap()
            .nat_gateway
            .unwrap();
        assert_eq!(nat.state().unwrap().as_str(), "pending");
        let id = nat.nat_gateway_id.unwrap();
        assert_eq!(nat_state(&m.aws, &id).await, "pending");
        reaches(created, scaled(90.0, scale), "available", || async {
            nat_state(&m.aws, &id).await == "available"
        })
        .await;

        m.aws
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&id)
            .send()
            .await
            .unwrap();
        let deleting = Instant::now();
        assert_eq!(nat_state(&m.aws, &id).await, "deleting");
        let release = m
            .aws
            .ec2
            .release_address()
            .allocation_id(&allocation)
            .send()
            .await;
        // AWS's word for an address a NAT gateway maps is a permission error
        assert_eq!(code(&release), "AuthFailure");
        assert_eq!(
            delete_subnet(&m.aws, &net.subnets[0]).await,
            "DependencyViolation"
        );
        assert_eq!(detach_gateway(&m.aws, &net).await, "DependencyViolation");
        reaches(deleting, scaled(55.0, scale), "deleted", || async {
            nat_state(&m.aws, &id).await == "deleted"
        })
        .await;
        // and the address stays mapped a while after the gateway reads
        // `deleted`: a release that only waited for that is still refused
        let release = m
            .aws
            .ec2
            .release_address()
            .allocation_id(&allocation)
            .send()
            .await;
        assert_eq!(code(&release), "AuthFailure");
        reaches(
            deleting,
            scaled(55.0 + 8.0, scale),
            "address freed",
            || async {
                let out = m
                    .moto
                    .ec2
                    .describe_addresses()
                    .allocation_ids(&allocation)
                    .send()
                    .await
                    .unwrap();
                out.addresses()[0].association_id().is_none()
            },
        )
        .await;
        m.aws
            .ec2
            .release_address()
            .allocation_id(&allocation)
            .send()
            .await
            .unwrap();
        assert_eq!(delete_subnet(&m.aws, &net.subnets[0]).await, "");
        assert_eq!(detach_gateway(&m.aws, &net).await, "");
        assert_eq!(m.layer.model().refused("ec2:DeleteSubnet"), 1);
    });
}

async fn load_balancer_state(aws: &Api, arn: &str) -> String {
    let out = aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .unwrap();
    out.load_balancers()[0]
        .state()
        .unwrap()
        .code()
        .unwrap()
        .as_str()
        .to_string()
}

/// Creates the balancer `web` in the network's subnets and group.
async fn create_balancer(
    aws: &Api,
    net: &Network,
) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
    let out = aws
        .elbv2
        .create_load_balancer()
        .name("web")
        .set_subnets(Some(net.subnets.clone()))
        .security_groups(&net.group)
        .send()
        .await
        .unwrap();
    out.load_balancers()[0].clone()
}

#[test]
fn load_balancer_provisions_then_its_interfaces_linger_after_deletion() {
    let scale = 0.01;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let created = Instant::now();
        let balancer = &create_balancer(&m.aws, &net).await;
        assert_eq!(
            balancer.state().unwrap().code().unwrap().as_str(),
            "provisioning"
        );
        let arn = balancer.load_balancer_arn().unwrap().to_string();
        assert_eq!(load_balancer_state(&m.aws, &arn).await, "provisioning");
        reaches(created, scaled(150.0, scale), "active", || async {
            load_balancer_state(&m.aws, &arn).await == "active"
        })
        .await;

        m.aws
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(&arn)
            .send()
            .await
            .unwrap();
        let deleted = Instant::now();
        assert_eq!(
            delete_group(&m.aws, &net.group).await,
            "DependencyViolation"
        );
        assert_eq!(detach_gateway(&m.aws, &net).await, "DependencyViolation");
        reaches(deleted, scaled(90.0, scale), "subnet free", || async {
            delete_subnet(&m.aws, &net.subnets[1]).await.is_empty()
        })
        .await;
        assert!(m.layer.model().refused("ec2:DeleteSubnet") >= 1);
        assert_eq!(delete_group(&m.aws, &net.group).await, "");
        assert_eq!(detach_gateway(&m.aws, &net).await, "");
    });
}

#[test]
fn a_protected_load_balancer_is_not_deleted_until_its_protection_is_off() {
    use aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute;
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let balancer = create_balancer(&m.aws, &net).await;
        let arn = balancer.load_balancer_arn().unwrap().to_string();
        let protect = |on: bool| {
            m.aws
                .elbv2
                .modify_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key("idle_timeout.timeout_seconds")
                        .value("30")
                        .build(),
                )
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key("deletion_protection.enabled")
                        .value(on.to_string())
                        .build(),
                )
                .send()
        };
        let delete = || {
            m.aws
                .elbv2
                .delete_load_balancer()
                .load_balancer_arn(&arn)
                .send()
        };
        protect(true).await.unwrap();
        let refused = delete().await;
        assert_eq!(code(&refused), "OperationNotPermitted");
        assert_eq!(
            message(&refused),
            format!(
                "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        );
        let is_not_permitted = refused
            .as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_operation_not_permitted_exception());
        assert!(is_not_permitted, "the SDK reads it as its typed error");
        assert_eq!(
            m.layer
                .model()
                .refused("elasticloadbalancing:DeleteLoadBalancer"),
            1
        );
        let listed = m.moto.elbv2.describe_load_balancers().send().await.unwrap();
        assert_eq!(
            listed.load_balancers().len(),
            1,
            "moto never saw the delete"
        );

        protect(false).await.unwrap();
        delete().await.unwrap();
        let listed = m.moto.elbv2.describe_load_balancers().send().await.unwrap();
        assert!(listed.load_balancers().is_empty());
    });
}

#[test]
fn a_load_balancer_name_is_created_once_and_refused_with_other_settings() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let first = create_balancer(&m.aws, &net).await;
        let again = create_balancer(&m.aws, &net).await;
        assert_eq!(again.load_balancer_arn(), first.load_balancer_arn());
        let other = m
            .aws
            .elbv2
            .create_load_balancer()
            .name("web")
            .subnets(&net.subnets[0])
            .subnets(&net.subnets[1])
            .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
            .send()
            .await;
        assert_eq!(code(&other), "DuplicateLoadBalancerName");
        let listed = m.moto.elbv2.describe_load_balancers().send().await.unwrap();
        assert_eq!(listed.load_balancers().len(), 1, "moto holds one balancer");
    });
}

async fn instance_state(aws: &Api, id: &str) -> String {
    let out = aws
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_string()
}

async fn run_instance(aws: &Api, net: &Network) -> String {
    let out = aws
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(&net.subnets[0])
        .security_group_ids(&net.group)
        .send()
        .await
        .unwrap();
    let instance = &out.instances()[0];
    assert_eq!(
        instance.state().unwrap().name().unwrap().as_str(),
        "pending"
    );
    instance.instance_id().unwrap().to_string()
}

#[test]
fn instance_is_pending_then_running_and_holds_its_subnet_and_group_while_shutting_down() {
    let scale = 0.03;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let launched = Instant::now();
        let id = run_instance(&m.aws, &net).await;
        let state = instance_state(&m.aws, &id).await;
        // an answer back within the shortest pending time was asked inside it
        // (a loaded machine may take longer, and then "running" is right too)
        if launched.elapsed() < scaled(12.0, scale) {
            assert_eq!(state, "pending");
        }
        reaches(launched, scaled(12.0, scale), "running", || async {
            instance_state(&m.aws, &id).await == "running"
        })
        .await;

        let out = m
            .aws
            .ec2
            .terminate_instances()
            .instance_ids(&id)
            .send()
            .await
            .unwrap();
        let terminated = Instant::now();
        let current = out.terminating_instances()[0].current_state().unwrap();
        assert_eq!(current.name().unwrap().as_str(), "shutting-down");
        assert_eq!(instance_state(&m.aws, &id).await, "shutting-down");
        assert_eq!(
            delete_subnet(&m.aws, &net.subnets[0]).await,
            "DependencyViolation"
        );
        assert_eq!(
            delete_group(&m.aws, &net.group).await,
            "DependencyViolation"
        );
        reaches(terminated, scaled(60.0, scale), "terminated", || async {
            instance_state(&m.aws, &id).await == "terminated"
        })
        .await;
        assert_eq!(delete_group(&m.aws, &net.group).await, "");
        assert_eq!(delete_subnet(&m.aws, &net.subnets[0]).await, "");
    });
}

#[test]
fn a_stopped_instance_is_stopping_then_stopped_and_starts_pending_only_once_stopped() {
    let scale = 0.1;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let launched = Instant::now();
        let id = run_instance(&m.aws, &net).await;
        reaches(launched, scaled(12.0, scale), "running", || async {
            instance_state(&m.aws, &id).await == "running"
        })
        .await;

        let out = m.aws.ec2.stop_instances().instance_ids(&id).send().await;
        let stopped = Instant::now();
        let current = out.unwrap().stopping_instances()[0]
            .current_state()
            .cloned();
        assert_eq!(current.unwrap().name().unwrap().as_str(), "stopping");
        let start = || m.aws.ec2.start_instances().instance_ids(&id).send();
        assert_eq!(code(&start().await), "IncorrectInstanceState");
        reaches(stopped, scaled(15.0, scale), "stopped", || async {
            instance_state(&m.aws, &id).await == "stopped"
        })
        .await;

        let out = start().await.unwrap();
        let started = Instant::now();
        let current = out.starting_instances()[0].current_state().cloned();
        assert_eq!(current.unwrap().name().unwrap().as_str(), "pending");
        reaches(started, scaled(12.0, scale), "running again", || async {
            instance_state(&m.aws, &id).await == "running"
        })
        .await;
    });
}

async fn target_state(aws: &Api, target_group: &str, id: &str) -> String {
    let out = aws
        .elbv2
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
        .unwrap();
    out.target_health_descriptions()
        .iter()
        .find(|d| d.target().and_then(|t| t.id()) == Some(id))
        .and_then(|d| d.target_health())
        .and_then(|h| h.state())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

async fn target_group(aws: &Api, vpc: &str) -> String {
    aws.elbv2
        .create_target_group()
        .name("app")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .health_check_interval_seconds(10)
        .healthy_threshold_count(3)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string()
}

#[test]
fn a_target_is_initial_until_the_healthy_threshold_times_the_interval_after_it_runs() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let group = target_group(&m.aws, &net.vpc).await;
        let launched = Instant::now();
        let id = run_instance(&m.aws, &net).await;
        m.aws
            .elbv2
            .register_targets()
            .target_group_arn(&group)
            .targets(TargetDescription::builder().id(&id).build())
            .send()
            .await
            .unwrap();
        let out = m
            .aws
            .elbv2
            .describe_target_health()
            .target_group_arn(&group)
            .send()
            .await
            .unwrap();
        let health = out.target_health_descriptions()[0].target_health().unwrap();
        assert_eq!(health.state().unwrap().as_str(), "initial");
        assert_eq!(
            health.reason().unwrap().as_str(),
            "Elb.RegistrationInProgress"
        );
        // pending (at least 12 s), then 3 checks 10 s apart
        reaches(launched, scaled(12.0 + 30.0, scale), "healthy", || async {
            target_state(&m.aws, &group, &id).await == "healthy"
        })
        .await;
    });
}

/// The status message of group `app`'s latest scaling activity, which failed.
async fn failed_launch(aws: &Api) -> String {
    let activities = aws
        .autoscaling
        .describe_scaling_activities()
        .auto_scaling_group_name("app")
        .send()
        .await
        .unwrap();
    let activity = &activities.activities()[0];
    assert_eq!(activity.status_code().map(|c| c.as_str()), Some("Failed"));
    activity.status_message().unwrap_or_default().to_string()
}

async fn launch_template(aws: &Api, image: &str) -> String {
    aws.ec2
        .create_launch_template()
        .launch_template_name("app")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .launch_template
        .unwrap()
        .launch_template_id
        .unwrap()
}

async fn auto_scaling_group(
    aws: &Api,
    net: &Network,
    template: &str,
    size: i32,
    target_group: Option<&str>,
) {
    aws.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("app")
        .min_size(size)
        .max_size(size + 1)
        .desired_capacity(size)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(template)
                .version("$Latest")
                .build(),
        )
        .vpc_zone_identifier(net.subnets.join(","))
        .set_target_group_arns(target_group.map(|t| vec![t.to_string()]))
        .send()
        .await
        .unwrap();
}

#[test]
fn a_group_with_instances_is_deleted_only_with_force_or_once_they_terminated() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        let group_arn = target_group(&m.aws, &net.vpc).await;
        auto_scaling_group(&m.aws, &net, &template, 1, Some(&group_arn)).await;
        let group = m
            .aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("app")
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()[0]
            .clone();
        let member = &group.instances()[0];
        assert_eq!(member.lifecycle_state().unwrap().as_str(), "Pending");
        let id = member.instance_id().unwrap().to_string();
        assert_eq!(instance_state(&m.aws, &id).await, "pending");
        assert_eq!(target_state(&m.aws, &group_arn, &id).await, "initial");

        let delete = || {
            m.aws
                .autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name("app")
                .send()
        };
        assert_eq!(code(&delete().await), "ResourceInUse");
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .min_size(0)
            .desired_capacity(0)
            .send()
            .await
            .unwrap();
        let emptied = Instant::now();
        assert_eq!(instance_state(&m.aws, &id).await, "shutting-down");
        // the group deregisters what it terminates: the target drains
        assert_eq!(target_state(&m.aws, &group_arn, &id).await, "draining");
        assert_eq!(
            code(&delete().await),
            "ResourceInUse",
            "instances still terminating"
        );
        reaches(emptied, scaled(60.0, scale), "group deleted", || async {
            code(&delete().await).is_empty()
        })
        .await;
        // without instances left, AWS takes seconds
        let deleting = Instant::now();
        reaches(deleting, scaled(10.0, scale), "group gone", || async {
            group_status(&m.aws, "app").await.is_none()
        })
        .await;

        // ForceDelete does not wait for instances, but a launch under way is
        // a scaling activity AWS lets finish first
        auto_scaling_group(&m.aws, &net, &template, 1, None).await;
        let created = Instant::now();
        let force = || {
            m.aws
                .autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name("app")
                .force_delete(true)
                .send()
        };
        assert_eq!(code(&force().await), "ScalingActivityInProgress");
        // AWS takes 12 s or more to launch
        reaches(created, scaled(12.0, scale), "launch over", || async {
            code(&force().await).is_empty()
        })
        .await;
    });
}

/// The `Status` of group `name` as listed (`Some("")` for one that is not
/// being deleted), `None` once it is no longer listed.
async fn group_status(aws: &Api, name: &str) -> Option<String> {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap();
    let group = out.auto_scaling_groups().first()?;
    Some(group.status().unwrap_or_default().to_string())
}

#[test]
fn a_deleted_group_stays_listed_as_being_deleted_and_refuses_changes_until_it_is_gone() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        auto_scaling_group(&m.aws, &net, &template, 0, None).await;
        assert_eq!(group_status(&m.aws, "app").await.as_deref(), Some(""));
        m.aws
            .autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name("app")
            .policy_name("step")
            .policy_type("SimpleScaling")
            .adjustment_type("ChangeInCapacity")
            .scaling_adjustment(1)
            .send()
            .await
            .unwrap();
        let policies = || async {
            let out = m
                .aws
                .autoscaling
                .describe_policies()
                .auto_scaling_group_name("app")
                .send()
                .await
                .unwrap();
            out.scaling_policies().len()
        };
        assert_eq!(policies().await, 1);
        m.aws
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name("app")
            .force_delete(true)
            .send()
            .await
            .unwrap();
        let deleted = Instant::now();
        assert_eq!(
            group_status(&m.aws, "app").await.as_deref(),
            Some("Delete in progress")
        );
        let update = m
            .aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .max_size(2)
            .send()
            .await;
        assert_eq!(code(&update), "ValidationError");
        assert!(
            format!("{update:?}").contains("may not be modified while it is pending delete"),
            "{update:?}"
        );
        let again = m
            .aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name("app")
            .min_size(0)
            .max_size(1)
            .vpc_zone_identifier(net.subnets.join(","))
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .build(),
            )
            .send()
            .await;
        assert_eq!(code(&again), "AlreadyExists");
        // a repeated delete is accepted
        let repeated = m
            .aws
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name("app")
            .force_delete(true)
            .send()
            .await;
        assert_eq!(code(&repeated), "");
        reaches(deleted, scaled(10.0, scale), "group gone", || async {
            group_status(&m.aws, "app").await.is_none()
        })
        .await;
        // its policy went with it: a new group of its name has none
        auto_scaling_group(&m.aws, &net, &template, 0, None).await;
        assert_eq!(policies().await, 0);
    });
}

#[test]
fn a_target_group_created_again_with_its_settings_is_answered_with_the_same_group() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let create = |port: i32| {
            m.aws
                .elbv2
                .create_target_group()
                .name("same")
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(port)
                .vpc_id(&net.vpc)
                .send()
        };
        let arn = |out: aws_sdk_elasticloadbalancingv2::operation::create_target_group::CreateTargetGroupOutput| {
            out.target_groups()[0].target_group_arn().unwrap().to_string()
        };
        let first = arn(create(80).await.unwrap());
        // AWS: the same name and settings answer with the group that exists
        assert_eq!(arn(create(80).await.unwrap()), first);
        assert_eq!(
            code(&create(81).await),
            "DuplicateTargetGroupName",
            "other settings are refused"
        );
        m.aws
            .elbv2
            .delete_target_group()
            .target_group_arn(&first)
            .send()
            .await
            .unwrap();
        assert_ne!(arn(create(81).await.unwrap()), first, "a new one once it is gone");
    });
}

#[test]
fn a_group_member_has_the_groups_and_profile_its_template_names() {
    let m = modelled(quiet(0.01));
    let profile = m.moto_server().create_instance_profile("member");
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = m
            .aws
            .ec2
            .create_launch_template()
            .launch_template_name("app")
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id("ami-12c6146b")
                    .iam_instance_profile(
                        aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                            .name("member")
                            .build(),
                    )
                    .network_interfaces(
                        aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                            .device_index(0)
                            .groups(&net.group)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .launch_template
            .unwrap()
            .launch_template_id
            .unwrap();
        auto_scaling_group(&m.aws, &net, &template, 1, None).await;
        let group = m.moto.group("app").await;
        let id = group.instances()[0].instance_id().unwrap().to_string();
        let described = m
            .aws
            .ec2
            .describe_instances()
            .instance_ids(&id)
            .send()
            .await
            .unwrap();
        let instance = &described.reservations()[0].instances()[0];
        let groups: std::collections::BTreeSet<&str> = instance
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .chain(
                instance
                    .network_interfaces()
                    .iter()
                    .flat_map(|n| n.groups())
                    .filter_map(|g| g.group_id()),
            )
            .collect();
        // as AWS does, in the groups its template names (moto: the default group)
        assert_eq!(groups, std::collections::BTreeSet::from([net.group.as_str()]));
        // with the template's instance profile (moto: none)
        assert_eq!(
            instance.iam_instance_profile().and_then(|p| p.arn()),
            Some(profile.as_str())
        );
    });
}

#[test]
fn a_route_table_takes_a_virtual_private_gateway_s_routes_while_propagation_is_on() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let table = m
            .aws
            .ec2
            .create_route_table()
            .vpc_id(&net.vpc)
            .send()
            .await
            .unwrap()
            .route_table
            .unwrap()
            .route_table_id
            .unwrap();
        let propagating = || async {
            let out = m
                .aws
                .ec2
                .describe_route_tables()
                .route_table_ids(&table)
                .send()
                .await
                .unwrap();
            out.route_tables()[0]
                .propagating_vgws()
                .iter()
                .filter_map(|v| v.gateway_id().map(str::to_string))
                .collect::<Vec<_>>()
        };
        assert!(propagating().await.is_empty());
        m.aws
            .ec2
            .enable_vgw_route_propagation()
            .route_table_id(&table)
            .gateway_id("vgw-0123456789abcdef0")
            .send()
            .await
            .unwrap();
        assert_eq!(
            propagating().await,
            vec!["vgw-0123456789abcdef0".to_string()]
        );
        m.aws
            .ec2
            .disable_vgw_route_propagation()
            .route_table_id(&table)
            .gateway_id("vgw-0123456789abcdef0")
            .send()
            .await
            .unwrap();
        assert!(propagating().await.is_empty());
    });
}

#[test]
fn an_instance_that_boots_without_a_way_out_never_serves() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    m.layer.model().set_boot_needs_way_out(true);
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        let group_arn = target_group(&m.aws, &net.vpc).await;
        // the subnets use the VPC's main table, which has no default route yet
        auto_scaling_group(&m.aws, &net, &template, 1, Some(&group_arn)).await;
        let moto = &m.moto;
        let members = |count: usize| async move {
            let group = moto.group("app").await;
            let ids: Vec<String> = group
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect();
            assert_eq!(ids.len(), count, "{ids:?}");
            ids
        };
        let first = members(1).await.remove(0);
        let launched = Instant::now();
        reaches(launched, Duration::ZERO, "judged", || async {
            !matches!(
                target_state(&m.aws, &group_arn, &first).await.as_str(),
                "initial" | ""
            )
        })
        .await;
        assert_eq!(target_state(&m.aws, &group_arn, &first).await, "unhealthy");

        // with a way out through the internet gateway, the next one serves
        let main = m
            .aws
            .ec2
            .describe_route_tables()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&net.vpc)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .route_tables()[0]
            .route_table_id()
            .unwrap()
            .to_string();
        m.aws
            .ec2
            .create_route()
            .route_table_id(&main)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&net.gateway)
            .send()
            .await
            .unwrap();
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .desired_capacity(2)
            .send()
            .await
            .unwrap();
        let second = members(2)
            .await
            .into_iter()
            .find(|id| *id != first)
            .unwrap();
        let scaled_out = Instant::now();
        reaches(scaled_out, Duration::ZERO, "healthy", || async {
            target_state(&m.aws, &group_arn, &second).await == "healthy"
        })
        .await;
        assert_eq!(
            target_state(&m.aws, &group_arn, &first).await,
            "unhealthy",
            "a boot that failed stays failed"
        );
    });
}

#[test]
fn a_referenced_security_group_and_a_vpc_with_dependencies_are_not_deleted() {
    // AWS deletes a VPC's default network ACL with it, and refuses while
    // another is there (its user guide deletes every custom ACL first)
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let other = m
            .aws
            .ec2
            .create_security_group()
            .group_name("alb")
            .description("alb")
            .vpc_id(&net.vpc)
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        let rule = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(8080)
            .to_port(8080)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(&other).build())
            .build();
        m.aws
            .ec2
            .authorize_security_group_ingress()
            .group_id(&net.group)
            .ip_permissions(rule.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(delete_group(&m.aws, &other).await, "DependencyViolation");
        m.aws
            .ec2
            .revoke_security_group_ingress()
            .group_id(&net.group)
            .ip_permissions(rule)
            .send()
            .await
            .unwrap();
        assert_eq!(delete_group(&m.aws, &other).await, "");

        for subnet in &net.subnets {
            assert_eq!(delete_subnet(&m.aws, subnet).await, "");
        }
        let vpc = m.aws.ec2.delete_vpc().vpc_id(&net.vpc).send().await;
        assert_eq!(
            code(&vpc),
            "DependencyViolation",
            "gateway and group remain"
        );
        assert_eq!(detach_gateway(&m.aws, &net).await, "");
        let vpc = m.aws.ec2.delete_vpc().vpc_id(&net.vpc).send().await;
        assert_eq!(code(&vpc), "DependencyViolation", "the app group remains");
        assert_eq!(delete_group(&m.aws, &net.group).await, "");
        let acl = m
            .aws
            .ec2
            .create_network_acl()
            .vpc_id(&net.vpc)
            .send()
            .await
            .unwrap()
            .network_acl
            .and_then(|a| a.network_acl_id)
            .unwrap();
        let vpc = m.aws.ec2.delete_vpc().vpc_id(&net.vpc).send().await;
        assert_eq!(
            code(&vpc),
            "DependencyViolation",
            "a custom network ACL remains"
        );
        m.aws
            .ec2
            .delete_network_acl()
            .network_acl_id(&acl)
            .send()
            .await
            .unwrap();
        // a virtual private gateway is detached first
        let vpn_gateway = m
            .aws
            .ec2
            .create_vpn_gateway()
            .r#type(aws_sdk_ec2::types::GatewayType::Ipsec1)
            .send()
            .await
            .unwrap()
            .vpn_gateway
            .and_then(|g| g.vpn_gateway_id)
            .unwrap();
        let attach = m
            .aws
            .ec2
            .attach_vpn_gateway()
            .vpn_gateway_id(&vpn_gateway)
            .vpc_id(&net.vpc);
        let detach = m
            .aws
            .ec2
            .detach_vpn_gateway()
            .vpn_gateway_id(&vpn_gateway)
            .vpc_id(&net.vpc);
        attach.send().await.unwrap();
        let vpc = m.aws.ec2.delete_vpc().vpc_id(&net.vpc).send().await;
        assert_eq!(
            code(&vpc),
            "DependencyViolation",
            "a virtual private gateway is attached"
        );
        detach.send().await.unwrap();
        m.aws
            .ec2
            .delete_vpc()
            .vpc_id(&net.vpc)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn a_new_object_is_not_found_within_the_consistency_window() {
    let window = Duration::from_millis(600);
    let m = modelled(ModelConfig {
        consistency_probability: 1.0,
        ..quiet(0.01)
    });
    m.layer.model().set_consistency_window(window);
    runtime().block_on(async {
        let vpc = m
            .aws
            .ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let created = Instant::now();
        let subnet = || {
            m.aws
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block("10.0.0.0/24")
                .availability_zone("us-east-1a")
                .send()
        };
        let early = subnet().await;
        assert_eq!(code(&early), "InvalidVpcID.NotFound");
        assert!(message(&early).contains(&vpc), "{}", message(&early));
        let group = m
            .aws
            .elbv2
            .create_target_group()
            .name("app")
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(&vpc)
            .send()
            .await;
        assert_eq!(code(&group), "ValidationError");
        assert!(message(&group).contains("is not found"));
        reaches(created, window, "visible", || async {
            code(&subnet().await).is_empty()
        })
        .await;

        let template = launch_template(&m.aws, "ami-12c6146b").await;
        let group = m
            .aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name("app")
            .min_size(0)
            .max_size(1)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .build(),
            )
            .availability_zones("us-east-1a")
            .send()
            .await;
        assert_eq!(code(&group), "ValidationError");
        assert!(message(&group).contains("fully-formed launch template"));

        // set at runtime: off lets the next call through, on refuses it again
        m.layer.model().set_consistency(0.0);
        let vpc2 = m
            .aws
            .ec2
            .create_vpc()
            .cidr_block("10.1.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let describe = || m.aws.ec2.describe_vpcs().vpc_ids(&vpc2).send();
        assert_eq!(code(&describe().await), "");
        m.layer.model().set_consistency(1.0);
        assert_eq!(code(&describe().await), "InvalidVpcID.NotFound");
        let refused = m.layer.model().refused_counts();
        assert!(refused["ec2:CreateSubnet"] >= 1, "{refused:?}");
        assert_eq!(refused["elasticloadbalancing:CreateTargetGroup"], 1);
        assert_eq!(m.layer.model().throttled_total(), 0);
    });
}

#[test]
fn throttling_refuses_a_burst_and_lifts_as_the_bucket_refills() {
    let m = modelled_for_provider(ModelConfig::aws_like(0.01, 0.0));
    runtime().block_on(async {
        let mut throttled = None;
        for _ in 0..400 {
            let out = m.aws.ec2.describe_vpcs().send().await;
            if !code(&out).is_empty() {
                throttled = Some(out);
                break;
            }
        }
        let throttled = throttled.expect("100 burst at 20 per second throttles 400 calls");
        assert_eq!(code(&throttled), "RequestLimitExceeded");
        let status = throttled
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16());
        assert_eq!(status, Some(503));
        assert!(m.layer.model().throttled("ec2:DescribeVpcs") >= 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        m.aws.ec2.describe_vpcs().send().await.unwrap();

        // RunInstances has its own, much smaller bucket
        let run = || {
            m.aws
                .ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .min_count(1)
                .max_count(1)
                .send()
        };
        let mut codes = Vec::new();
        for _ in 0..10 {
            codes.push(code(&run().await));
        }
        assert!(
            codes.contains(&"RequestLimitExceeded".to_string()),
            "{codes:?}"
        );

        let mut load_balancers = Vec::new();
        for _ in 0..100 {
            load_balancers.push(code(&m.aws.elbv2.describe_load_balancers().send().await));
        }
        assert!(load_balancers.contains(&"Throttling".to_string()));
        assert!(m.layer.model().throttled_total() >= 3);
        let throttled = m.layer.model().throttled_counts();
        assert!(throttled["ec2:RunInstances"] >= 1, "{throttled:?}");
    });
}

#[test]
fn ec2_meters_each_action_apart_and_elb_each_category_beside_the_account() {
    let m = modelled_for_provider(ModelConfig::aws_like(0.01, 0.0));
    runtime().block_on(async {
        // DescribeVpcs' bucket emptied, DescribeSubnets still answers
        let mut vpcs_throttled = false;
        for _ in 0..400 {
            if code(&m.aws.ec2.describe_vpcs().send().await) == "RequestLimitExceeded" {
                vpcs_throttled = true;
                break;
            }
        }
        assert!(vpcs_throttled, "DescribeVpcs: 100 burst at 20 per second");
        assert_eq!(code(&m.aws.ec2.describe_subnets().send().await), "");

        // CreateVpcEndpoint has a bucket of 4 refilled at 0.3 a second: the
        // fifth of a burst is refused (the first four reach the emulator,
        // which refuses them for their made-up VPC), CreateTags still answers
        let mut endpoint_codes = Vec::new();
        for _ in 0..5 {
            let out = m
                .aws
                .ec2
                .create_vpc_endpoint()
                .vpc_id("vpc-00000000000000000")
                .service_name("com.amazonaws.us-east-1.s3")
                .send()
                .await;
            endpoint_codes.push(code(&out));
        }
        assert!(
            endpoint_codes[..4]
                .iter()
                .all(|c| c != "RequestLimitExceeded")
                && endpoint_codes[4] == "RequestLimitExceeded",
            "{endpoint_codes:?}"
        );
        let tags = m.aws.ec2.create_tags().resources("vpc-00000000000000000");
        let tags = tags.tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("k")
                .value("v")
                .build(),
        );
        assert_ne!(code(&tags.send().await), "RequestLimitExceeded");

        // DescribeInstances with neither filter nor pagination draws from a
        // bucket of 50; a filtered one still answers once that is empty
        let mut unfiltered_throttled = false;
        for _ in 0..300 {
            if code(&m.aws.ec2.describe_instances().send().await) == "RequestLimitExceeded" {
                unfiltered_throttled = true;
                break;
            }
        }
        assert!(
            unfiltered_throttled,
            "unfiltered DescribeInstances: 50 at 10 per second"
        );
        let filtered = m.aws.ec2.describe_instances().filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        );
        assert_eq!(code(&filtered.send().await), "");

        // ELB's changes (20 at 3 a second) run out before the account's
        // bucket (40 at 10): describes still answer
        let mut changes = Vec::new();
        for n in 0..30 {
            let out = m
                .aws
                .elbv2
                .create_target_group()
                .name(format!("burst-{n}"))
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(80)
                .vpc_id("vpc-00000000000000000")
                .send()
                .await;
            changes.push(code(&out));
        }
        assert!(changes.contains(&"Throttling".to_string()), "{changes:?}");
        assert_eq!(
            code(&m.aws.elbv2.describe_load_balancers().send().await),
            ""
        );
        let throttled = m.layer.model().throttled_counts();
        assert!(throttled["ec2:CreateVpcEndpoint"] >= 1, "{throttled:?}");
        assert!(
            throttled["elasticloadbalancing:CreateTargetGroup"] >= 1,
            "{throttled:?}"
        );
    });
}

/// The refreshes of group `app`, newest first.
async fn refreshes(aws: &Api) -> Vec<InstanceRefresh> {
    aws.autoscaling
        .describe_instance_refreshes()
        .auto_scaling_group_name("app")
        .send()
        .await
        .unwrap()
        .instance_refreshes()
        .to_vec()
}

async fn refresh_status(aws: &Api, id: &str) -> (String, i32) {
    let listed = refreshes(aws).await;
    let refresh = listed
        .iter()
        .find(|r| r.instance_refresh_id() == Some(id))
        .expect("the refresh is listed");
    (
        refresh.status().unwrap().as_str().to_string(),
        refresh.percentage_complete().unwrap_or(-1),
    )
}

async fn start_refresh(
    aws: &Api,
    template: &str,
    version: &str,
) -> Result<StartInstanceRefreshOutput, SdkError<StartInstanceRefreshError, HttpResponse>> {
    aws.autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name("app")
        .desired_configuration(
            DesiredConfiguration::builder()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_id(template)
                        .version(version)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
}

#[test]
fn an_instance_refresh_runs_to_success_and_replaces_the_instances() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        auto_scaling_group(&m.aws, &net, &template, 2, None).await;
        m.aws
            .ec2
            .create_launch_template_version()
            .launch_template_id(&template)
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id("ami-0ed094fb1304fd857")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let before = m.moto.group("app").await;
        let started = Instant::now();
        let id = start_refresh(&m.aws, &template, "2")
            .await
            .unwrap()
            .instance_refresh_id
            .unwrap();
        let again = start_refresh(&m.aws, &template, "2").await;
        assert_eq!(code(&again), "InstanceRefreshInProgress");
        let (status, _) = refresh_status(&m.aws, &id).await;
        assert!(status == "Pending" || status == "InProgress", "{status}");
        reaches(started, Duration::ZERO, "in progress", || async {
            refresh_status(&m.aws, &id).await.0 == "InProgress"
        })
        .await;
        // two batches of one (90% kept healthy), each launched (12-25 s) before the next
        reaches(started, scaled(34.0, scale), "successful", || async {
            refresh_status(&m.aws, &id).await.0 == "Successful"
        })
        .await;
        assert_eq!(refresh_status(&m.aws, &id).await.1, 100);
        let listed = refreshes(&m.aws).await;
        let desired = listed[0]
            .desired_configuration()
            .and_then(|d| d.launch_template())
            .and_then(|t| t.version());
        assert_eq!(desired, Some("2"));

        let after = m.moto.group("app").await;
        let version = after.launch_template().and_then(|t| t.version());
        assert_eq!(version, Some("2"), "the group takes the desired template");
        assert_eq!(after.instances().len(), 2);
        for instance in after.instances() {
            let id = instance.instance_id().unwrap();
            let old = before
                .instances()
                .iter()
                .any(|b| b.instance_id() == Some(id));
            assert!(!old, "instance {id} was not replaced");
            // moto reports the template's default version for every instance;
            // the image tells which version an instance was launched from
            let out = m
                .moto
                .ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .unwrap();
            let image = out.reservations()[0].instances()[0].image_id();
            assert_eq!(image, Some("ami-0ed094fb1304fd857"));
        }
        // finished: a new refresh may start
        start_refresh(&m.aws, &template, "2").await.unwrap();
    });
}

#[test]
fn a_cancelled_refresh_goes_through_cancelling_and_blocks_a_new_one_until_cancelled() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        auto_scaling_group(&m.aws, &net, &template, 1, None).await;
        let cancel = || {
            m.aws
                .autoscaling
                .cancel_instance_refresh()
                .auto_scaling_group_name("app")
                .send()
        };
        assert_eq!(code(&cancel().await), "ActiveInstanceRefreshNotFound");
        let id = start_refresh(&m.aws, &template, "1")
            .await
            .unwrap()
            .instance_refresh_id
            .unwrap();
        let cancelled = cancel().await.unwrap();
        let since = Instant::now();
        assert_eq!(cancelled.instance_refresh_id(), Some(id.as_str()));
        assert_eq!(refresh_status(&m.aws, &id).await.0, "Cancelling");
        assert_eq!(
            code(&start_refresh(&m.aws, &template, "1").await),
            "InstanceRefreshInProgress"
        );
        reaches(since, scaled(20.0, scale), "cancelled", || async {
            refresh_status(&m.aws, &id).await.0 == "Cancelled"
        })
        .await;
        assert_eq!(code(&cancel().await), "ActiveInstanceRefreshNotFound");
        let next = start_refresh(&m.aws, &template, "1").await.unwrap();
        let listed = refreshes(&m.aws).await;
        let order: Vec<_> = listed
            .iter()
            .filter_map(|r| r.instance_refresh_id())
            .collect();
        assert_eq!(
            order,
            vec![next.instance_refresh_id().unwrap(), id.as_str()],
            "newest first"
        );
    });
}

#[test]
fn a_client_token_returns_the_first_object_again() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let allocation = m
            .aws
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id
            .unwrap();
        let nat = || {
            m.aws
                .ec2
                .create_nat_gateway()
                .subnet_id(&net.subnets[0])
                .allocation_id(&allocation)
                .client_token("nat-token")
                .send()
        };
        let first = nat().await.unwrap().nat_gateway.unwrap().nat_gateway_id;
        let again = nat().await.unwrap().nat_gateway.unwrap().nat_gateway_id;
        assert_eq!(first, again);
        let listed = m.moto.ec2.describe_nat_gateways().send().await.unwrap();
        assert_eq!(listed.nat_gateways().len(), 1);

        let run = |subnet: &str| {
            m.aws
                .ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .min_count(1)
                .max_count(1)
                .subnet_id(subnet)
                .client_token("run-token")
                .send()
        };
        let first = run(&net.subnets[0]).await.unwrap().instances()[0]
            .instance_id
            .clone();
        let again = run(&net.subnets[0]).await.unwrap().instances()[0]
            .instance_id
            .clone();
        assert_eq!(first, again);
        let listed = m.moto.ec2.describe_instances().send().await.unwrap();
        let instances: usize = listed
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum();
        assert_eq!(instances, 1);
        assert_eq!(
            code(&run(&net.subnets[1]).await),
            "IdempotentParameterMismatch"
        );
    });
}

#[test]
fn refresh_preferences_are_checked_as_aws_does_and_echoed() {
    let m = modelled(quiet(0.02));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        auto_scaling_group(&m.aws, &net, &template, 1, None).await;
        let start = |min: Option<i32>, max: Option<i32>, warmup: Option<i32>| {
            m.aws
                .autoscaling
                .start_instance_refresh()
                .auto_scaling_group_name("app")
                .preferences(
                    RefreshPreferences::builder()
                        .set_min_healthy_percentage(min)
                        .set_max_healthy_percentage(max)
                        .set_instance_warmup(warmup)
                        .build(),
                )
                .send()
        };
        for (min, max) in [(None, Some(110)), (Some(40), Some(150)), (Some(101), None)] {
            let refused = start(min, max, None).await;
            assert_eq!(code(&refused), "ValidationError", "{min:?} {max:?}");
        }
        let id = start(Some(50), Some(150), Some(30))
            .await
            .unwrap()
            .instance_refresh_id
            .unwrap();
        let listed = refreshes(&m.aws).await;
        let refresh = &listed[0];
        assert_eq!(refresh.instance_refresh_id(), Some(id.as_str()));
        let preferences = refresh.preferences().expect("preferences echoed");
        assert_eq!(
            (
                preferences.min_healthy_percentage(),
                preferences.max_healthy_percentage(),
                preferences.instance_warmup()
            ),
            (Some(50), Some(150), Some(30))
        );
    });
}

/// A group of `size` on version 1 of a new template (version 2 runs `user_data`),
/// registered in a target group; returns (template, target group).
async fn versioned_group(m: &Modelled, size: i32, user_data: &str) -> (String, String) {
    use base64::Engine;
    let net = network(&m.aws).await;
    let template = launch_template(&m.aws, "ami-12c6146b").await;
    m.aws
        .ec2
        .create_launch_template_version()
        .launch_template_id(&template)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-0ed094fb1304fd857")
                .user_data(base64::engine::general_purpose::STANDARD.encode(user_data))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let target_group = target_group(&m.aws, &net.vpc).await;
    m.aws
        .autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("app")
        .min_size(size)
        .max_size(size + 1)
        .desired_capacity(size)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&template)
                .version("1")
                .build(),
        )
        .vpc_zone_identifier(net.subnets.join(","))
        .target_group_arns(&target_group)
        .send()
        .await
        .unwrap();
    (template, target_group)
}

/// The version the group reports, and the versions its instances report, sorted.
async fn versions(aws: &Api) -> (String, Vec<String>) {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("app")
        .send()
        .await
        .unwrap();
    let group = &out.auto_scaling_groups()[0];
    let mut instances: Vec<String> = group
        .instances()
        .iter()
        .filter_map(|i| i.launch_template()?.version().map(str::to_string))
        .collect();
    instances.sort();
    let version = group
        .launch_template()
        .and_then(|t| t.version())
        .unwrap_or_default()
        .to_string();
    (version, instances)
}

async fn start_with(aws: &Api, template: &str, preferences: RefreshPreferences) -> String {
    aws.autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name("app")
        .preferences(preferences)
        .desired_configuration(
            DesiredConfiguration::builder()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_id(template)
                        .version("2")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .instance_refresh_id
        .unwrap()
}

/// Polls refresh `id` until it reaches a status in `ends`, recording every
/// (status, percentage, instances to update) seen on the way.
async fn until_status(
    aws: &Api,
    id: &str,
    ends: &[&str],
    limit: Duration,
) -> (InstanceRefresh, Vec<(String, i32, i32)>) {
    let since = Instant::now();
    let mut seen = Vec::new();
    loop {
        let refresh = refreshes(aws)
            .await
            .into_iter()
            .find(|r| r.instance_refresh_id() == Some(id))
            .expect("the refresh is listed");
        let status = refresh.status().unwrap().as_str().to_string();
        let step = (
            status.clone(),
            refresh.percentage_complete().unwrap_or(-1),
            refresh.instances_to_update().unwrap_or(-1),
        );
        if seen.last() != Some(&step) {
            seen.push(step);
        }
        if ends.contains(&status.as_str()) {
            return (refresh, seen);
        }
        assert!(
            since.elapsed() < limit,
            "not {ends:?} within {limit:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for refresh `id` to end, asserts it ended `expected`, and returns it
/// with the steps seen on the way.
async fn ends(aws: &Api, id: &str, expected: &str) -> (InstanceRefresh, Vec<(String, i32, i32)>) {
    const ENDED: [&str; 5] = [
        "Successful",
        "Failed",
        "Cancelled",
        "RollbackSuccessful",
        "RollbackFailed",
    ];
    let (done, seen) = until_status(aws, id, &ENDED, Duration::from_secs(20)).await;
    assert_eq!(done.status().unwrap().as_str(), expected, "{seen:?}");
    (done, seen)
}

#[test]
fn a_refresh_replaces_in_batches_reports_progress_and_gives_the_group_its_version_at_the_end() {
    let scale = 0.01;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let (template, target_group) = versioned_group(&m, 2, "echo ok").await;
        assert_eq!(
            versions(&m.aws).await,
            ("1".into(), vec!["1".into(), "1".into()])
        );
        let id = start_with(
            &m.aws,
            &template,
            RefreshPreferences::builder()
                .min_healthy_percentage(50)
                .max_healthy_percentage(100)
                .build(),
        )
        .await;
        let mut during = None;
        let since = Instant::now();
        while since.elapsed() < Duration::from_secs(10) {
            let (reported, instances) = versions(&m.aws).await;
            if instances.contains(&"2".to_string()) {
                during = Some((reported, instances));
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (reported, instances) = during.expect("a replacement on version 2");
        assert_eq!(
            reported, "1",
            "the group reports its old version until the refresh succeeds"
        );
        assert_eq!(
            instances,
            vec!["1", "2"],
            "one batch of one: half kept in service"
        );
        let (done, seen) = ends(&m.aws, &id, "Successful").await;
        assert!(
            seen.iter()
                .any(|(s, p, left)| s == "InProgress" && *p == 50 && *left == 1),
            "progress after the first batch: {seen:?}"
        );
        assert_eq!(done.percentage_complete(), Some(100));
        assert_eq!(done.instances_to_update(), Some(0));
        assert_eq!(
            versions(&m.aws).await,
            ("2".into(), vec!["2".into(), "2".into()])
        );
        let group = m.moto.group("app").await;
        for instance in group.instances() {
            let id = instance.instance_id().unwrap();
            assert_eq!(target_state(&m.aws, &target_group, id).await, "healthy");
        }
    });
}

#[test]
fn a_replacement_failing_health_checks_fails_the_refresh_and_auto_rollback_restores_the_old_version(
) {
    let scale = 0.01;
    let m = modelled(ModelConfig {
        unhealthy_user_data: Some("exit 1".into()),
        ..quiet(scale)
    });
    runtime().block_on(async {
        let (template, target_group) = versioned_group(&m, 2, "#!/bin/sh\nexit 1\n").await;
        let rolled = start_with(
            &m.aws,
            &template,
            RefreshPreferences::builder()
                .min_healthy_percentage(50)
                .auto_rollback(true)
                .build(),
        )
        .await;
        let (done, seen) = ends(&m.aws, &rolled, "RollbackSuccessful").await;
        assert!(
            seen.iter().any(|(s, _, _)| s == "RollbackInProgress"),
            "{seen:?}"
        );
        let reason = done.status_reason().unwrap_or_default();
        assert!(
            reason.contains("failed ELB health checks")
                && reason.contains("Target.ResponseCodeMismatch"),
            "{reason}"
        );
        assert_eq!(
            versions(&m.aws).await,
            ("1".into(), vec!["1".into(), "1".into()])
        );
        // the instances it launched back from version 1 serve
        let group = m.moto.group("app").await;
        for instance in group.instances() {
            let id = instance.instance_id().unwrap();
            reaches(Instant::now(), Duration::ZERO, "healthy again", || async {
                target_state(&m.aws, &target_group, id).await == "healthy"
            })
            .await;
        }

        // without auto rollback it stops half way, the group on its old version
        let failed = start_with(
            &m.aws,
            &template,
            RefreshPreferences::builder()
                .min_healthy_percentage(50)
                .build(),
        )
        .await;
        let (done, _) = ends(&m.aws, &failed, "Failed").await;
        assert!(done
            .status_reason()
            .unwrap_or_default()
            .starts_with("Instance refresh failed:"));
        assert_eq!(
            versions(&m.aws).await,
            ("1".into(), vec!["1".into(), "2".into()])
        );
        let health = m
            .aws
            .elbv2
            .describe_target_health()
            .target_group_arn(&target_group)
            .send()
            .await
            .unwrap();
        let unhealthy = health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target_health())
            .find(|h| h.state().map(|s| s.as_str()) == Some("unhealthy"))
            .expect("the replacement on version 2 is unhealthy");
        assert_eq!(
            unhealthy.reason().map(|r| r.as_str()),
            Some("Target.ResponseCodeMismatch")
        );
    });
}

#[test]
fn a_refresh_rolled_back_by_hand_returns_to_the_previous_version() {
    let scale = 0.01;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let (template, _) = versioned_group(&m, 2, "echo ok").await;
        let rollback = || {
            m.aws
                .autoscaling
                .rollback_instance_refresh()
                .auto_scaling_group_name("app")
                .send()
        };
        assert_eq!(code(&rollback().await), "ActiveInstanceRefreshNotFound");
        let id = start_with(
            &m.aws,
            &template,
            RefreshPreferences::builder()
                .min_healthy_percentage(50)
                .build(),
        )
        .await;
        until_status(&m.aws, &id, &["InProgress"], Duration::from_secs(5)).await;
        let answered = rollback().await.unwrap();
        assert_eq!(answered.instance_refresh_id(), Some(id.as_str()));
        ends(&m.aws, &id, "RollbackSuccessful").await;
        assert_eq!(
            versions(&m.aws).await,
            ("1".into(), vec!["1".into(), "1".into()])
        );
        assert_eq!(code(&rollback().await), "ActiveInstanceRefreshNotFound");
    });
}

/// Images whose root device is not Amazon Linux's `/dev/xvda` (Ubuntu's,
/// with a root snapshot of 8 GiB; Windows Server's, of 30 GiB), and of
/// another architecture, as the tests use them (moto's catalogue holds AWS's
/// records).
pub const SDA1_IMAGE: &str = "ami-785db401";
pub const WINDOWS_IMAGE: &str = "ami-12c6146b";
pub const ARM64_IMAGE: &str = "ami-08976229d8b10b097";

/// The volumes of an instance as (device, GiB, encrypted), by device name.
async fn volumes_of(aws: &Api, instance: &str) -> Vec<(String, i32, bool)> {
    let out = aws
        .ec2
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for mapping in out.reservations()[0].instances()[0].block_device_mappings() {
        let volume = mapping.ebs().unwrap().volume_id().unwrap();
        let described = aws
            .ec2
            .describe_volumes()
            .volume_ids(volume)
            .send()
            .await
            .unwrap();
        let volume = &described.volumes()[0];
        found.push((
            mapping.device_name().unwrap().to_string(),
            volume.size().unwrap(),
            volume.encrypted().unwrap_or(false),
        ));
    }
    found.sort();
    found
}

async fn run_mapped(aws: &Api, net: &Network, image: &str, device: &str) -> String {
    let out = aws
        .ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .subnet_id(&net.subnets[0])
        .security_group_ids(&net.group)
        .block_device_mappings(
            aws_sdk_ec2::types::BlockDeviceMapping::builder()
                .device_name(device)
                .ebs(
                    aws_sdk_ec2::types::EbsBlockDevice::builder()
                        .encrypted(true)
                        .volume_size(20)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

#[test]
fn an_image_root_volume_is_always_made_and_a_mapping_changes_it_only_under_its_device_name() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let images = m
            .aws
            .ec2
            .describe_images()
            .image_ids(SDA1_IMAGE)
            .image_ids(ARM64_IMAGE)
            .send()
            .await
            .unwrap();
        let mut facts: Vec<(String, String, String)> = images
            .images()
            .iter()
            .map(|i| {
                (
                    i.image_id().unwrap().to_string(),
                    i.root_device_name().unwrap().to_string(),
                    i.architecture().unwrap().as_str().to_string(),
                )
            })
            .collect();
        facts.sort();
        assert_eq!(
            facts,
            [
                (ARM64_IMAGE.into(), "/dev/xvda".into(), "arm64".into()),
                (SDA1_IMAGE.into(), "/dev/sda1".into(), "x86_64".into()),
            ]
        );
        let net = network(&m.aws).await;
        // mapped under Amazon Linux's name: the image's root stays as the image has it
        let misnamed = run_mapped(&m.aws, &net, SDA1_IMAGE, "/dev/xvda").await;
        assert_eq!(
            volumes_of(&m.aws, &misnamed).await,
            [
                ("/dev/sda1".to_string(), 8, false),
                ("/dev/xvda".to_string(), 20, true),
            ]
        );
        // mapped under the image's root device name: exactly that volume, as asked
        let rooted = run_mapped(&m.aws, &net, SDA1_IMAGE, "/dev/sda1").await;
        assert_eq!(
            volumes_of(&m.aws, &rooted).await,
            [("/dev/sda1".to_string(), 20, true)]
        );
    });
}

/// What AWS reports for a NAT gateway whose subnet's zone has no capacity.
pub const NAT_FAILURE: (&str, &str) = (
    "InsufficientFreeAddressesInSubnet",
    "Subnet has insufficient free addresses to create this NAT gateway",
);

#[test]
fn a_nat_gateway_told_to_fail_ends_failed_with_aws_reason_and_frees_its_address() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    m.layer.model().fail_nat_gateways(Some(NAT_FAILURE));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let allocation = m
            .aws
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id
            .unwrap();
        let created = Instant::now();
        let id = m
            .aws
            .ec2
            .create_nat_gateway()
            .subnet_id(&net.subnets[0])
            .allocation_id(&allocation)
            .send()
            .await
            .unwrap()
            .nat_gateway
            .unwrap()
            .nat_gateway_id
            .unwrap();
        assert_eq!(nat_state(&m.aws, &id).await, "pending");
        reaches(created, scaled(90.0, scale), "failed", || async {
            nat_state(&m.aws, &id).await == "failed"
        })
        .await;
        let out = m
            .aws
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&id)
            .send()
            .await
            .unwrap();
        let gateway = &out.nat_gateways()[0];
        assert_eq!(
            (gateway.failure_code(), gateway.failure_message()),
            (Some(NAT_FAILURE.0), Some(NAT_FAILURE.1))
        );
        // a failed gateway holds nothing: its address and subnet are free
        reaches(created, Duration::ZERO, "address freed", || async {
            let out = m
                .moto
                .ec2
                .describe_addresses()
                .allocation_ids(&allocation)
                .send()
                .await
                .unwrap();
            out.addresses()[0].association_id().is_none()
        })
        .await;
        m.aws
            .ec2
            .release_address()
            .allocation_id(&allocation)
            .send()
            .await
            .unwrap();
        assert_eq!(delete_subnet(&m.aws, &net.subnets[0]).await, "");
        // told to stop failing, the next gateway becomes available
        m.layer.model().fail_nat_gateways(None);
        let again = m
            .aws
            .ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id
            .unwrap();
        let recreated = Instant::now();
        let id = m
            .aws
            .ec2
            .create_nat_gateway()
            .subnet_id(&net.subnets[1])
            .allocation_id(&again)
            .send()
            .await
            .unwrap()
            .nat_gateway
            .unwrap()
            .nat_gateway_id
            .unwrap();
        reaches(recreated, scaled(90.0, scale), "available", || async {
            nat_state(&m.aws, &id).await == "available"
        })
        .await;
    });
}

#[test]
fn an_instance_profile_is_invalid_to_ec2_until_iam_propagated_it() {
    let m = modelled(quiet(0.01));
    let profile = m.moto_server().create_instance_profile("fresh");
    m.layer
        .model()
        .delay_instance_profile("fresh", Duration::from_millis(800));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let launch = |by_arn: bool| {
            let spec = if by_arn {
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .arn(&profile)
                    .build()
            } else {
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .name("fresh")
                    .build()
            };
            m.aws
                .ec2
                .run_instances()
                .image_id(SDA1_IMAGE)
                .min_count(1)
                .max_count(1)
                .subnet_id(&net.subnets[0])
                .iam_instance_profile(spec)
                .send()
        };
        let early = launch(false).await;
        assert_eq!(code(&early), "InvalidParameterValue");
        assert_eq!(
            message(&early),
            "Value (fresh) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
        );
        assert_eq!(code(&launch(true).await), "InvalidParameterValue");
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(code(&launch(false).await), "");
        assert_eq!(code(&launch(true).await), "");
    });
}

#[test]
fn a_flow_log_s_fresh_delivery_role_cannot_be_assumed_until_iam_propagated_it() {
    let m = modelled(quiet(0.01));
    let role = "arn:aws:iam::123456789012:role/fresh-flow-logs";
    m.layer
        .model()
        .delay_role("fresh-flow-logs", Duration::from_millis(800));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let create = || {
            m.aws
                .ec2
                .create_flow_logs()
                .resource_ids(&net.vpc)
                .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
                .traffic_type(aws_sdk_ec2::types::TrafficType::All)
                .log_destination_type(aws_sdk_ec2::types::LogDestinationType::CloudWatchLogs)
                .log_group_name("fresh")
                .deliver_logs_permission_arn(role)
                .send()
        };
        let early = create().await;
        assert_eq!(code(&early), "InvalidParameter");
        assert_eq!(
            message(&early),
            format!("Unable to assume given IAM role: '{role}'")
        );
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(code(&create().await), "");
    });
}

#[test]
fn a_group_whose_template_names_a_fresh_profile_fails_its_launches_until_iam_propagated_it() {
    let m = modelled(quiet(0.01));
    m.moto_server().create_instance_profile("fresh-app");
    let window = Duration::from_millis(1500);
    m.layer.model().delay_instance_profile("fresh-app", window);
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = m
            .aws
            .ec2
            .create_launch_template()
            .launch_template_name("app")
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id(SDA1_IMAGE)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .iam_instance_profile(
                        aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                            .name("fresh-app")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .launch_template
            .unwrap()
            .launch_template_id
            .unwrap();
        let created = Instant::now();
        auto_scaling_group(&m.aws, &net, &template, 1, None).await;
        let lifecycle = || async {
            m.aws.group("app").await.instances()
                .iter()
                .filter_map(|i| i.lifecycle_state().map(|s| s.as_str().to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(lifecycle().await, ["Pending"]);
        assert_eq!(
            failed_launch(&m.aws).await,
            "Value (fresh-app) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name. Launching EC2 instance failed."
        );
        // once EC2 knows the profile, the group's next launch starts
        reaches(created, window, "in service", || async {
            lifecycle().await == ["InService"]
        })
        .await;
        let activities = m
            .aws
            .autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name("app")
            .send()
            .await
            .unwrap();
        assert!(activities
            .activities()
            .iter()
            .all(|a| a.status_code().map(|c| c.as_str()) != Some("Failed")));
    });
}

#[test]
fn a_zone_without_capacity_refuses_launches_there_and_only_there() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        m.layer.model().refuse_capacity_in(Some("us-east-1a"));
        let launch = |subnet: &str, zone: Option<&str>| {
            m.aws
                .ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Nano)
                .min_count(1)
                .max_count(1)
                .subnet_id(subnet)
                .set_placement(zone.map(|z| {
                    aws_sdk_ec2::types::Placement::builder()
                        .availability_zone(z)
                        .build()
                }))
                .send()
        };
        // by its subnet (us-east-1a), and by placement
        let refused = launch(&net.subnets[0], None).await;
        assert_eq!(code(&refused), "InsufficientInstanceCapacity");
        assert!(
            message(&refused).starts_with("We currently do not have sufficient t3.nano capacity in the Availability Zone you requested (us-east-1a)."),
            "{}",
            message(&refused)
        );
        assert_eq!(
            code(&launch(&net.subnets[0], Some("us-east-1a")).await),
            "InsufficientInstanceCapacity"
        );
        assert_eq!(m.layer.model().refused("ec2:RunInstances"), 2);
        // the other zone launches, and so does the first once capacity is back
        assert_eq!(code(&launch(&net.subnets[1], None).await), "");
        m.layer.model().refuse_capacity_in(None);
        assert_eq!(code(&launch(&net.subnets[0], None).await), "");
    });
}

#[test]
fn a_group_s_propagated_tags_win_over_its_template_s_instance_tags() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let tag = |key: &str, value: &str| {
            aws_sdk_ec2::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
        };
        let template = m
            .aws
            .ec2
            .create_launch_template()
            .launch_template_name("tagged")
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id("ami-12c6146b")
                    .tag_specifications(
                        aws_sdk_ec2::types::LaunchTemplateTagSpecificationRequest::builder()
                            .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                            .tags(tag("team", "from-template"))
                            .tags(tag("template-only", "kept"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .launch_template
            .unwrap()
            .launch_template_id
            .unwrap();
        let group_tag = |key: &str, value: &str, propagate: bool| {
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id("tagged")
                .resource_type("auto-scaling-group")
                .key(key)
                .value(value)
                .propagate_at_launch(propagate)
                .build()
        };
        m.aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name("tagged")
            .min_size(1)
            .max_size(1)
            .desired_capacity(1)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .version("$Latest")
                    .build(),
            )
            .vpc_zone_identifier(net.subnets.join(","))
            .tags(group_tag("team", "from-group", true))
            .tags(group_tag("group-only", "kept", true))
            .tags(group_tag("not-propagated", "x", false))
            .send()
            .await
            .unwrap();
        let out = m.aws.ec2.describe_instances().send().await.unwrap();
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| {
                i.tags()
                    .iter()
                    .any(|t| t.key() == Some("aws:autoscaling:groupName"))
            })
            .expect("the group launched its instance");
        let tags: std::collections::BTreeMap<&str, &str> = instance
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?)))
            .collect();
        assert_eq!(tags.get("team"), Some(&"from-group"), "{tags:?}");
        assert_eq!(tags.get("group-only"), Some(&"kept"), "{tags:?}");
        assert_eq!(tags.get("template-only"), Some(&"kept"), "{tags:?}");
        assert_eq!(tags.get("not-propagated"), None, "{tags:?}");
    });
}

/// What AWS reports for a launch with no capacity in the zone.
pub const LAUNCH_FAILURE: &str = "Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. Launching EC2 instance failed.";

#[test]
fn launches_told_to_fail_never_serve_and_the_scaling_activity_says_why() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, SDA1_IMAGE).await;
        let quiet_activities = m
            .aws
            .autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name("app")
            .send()
            .await
            .unwrap();
        assert!(quiet_activities.activities().is_empty());
        m.layer.model().fail_launches(Some(LAUNCH_FAILURE));
        auto_scaling_group(&m.aws, &net, &template, 1, None).await;
        let out = m
            .aws
            .autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name("app")
            .send()
            .await
            .unwrap();
        let activity = &out.activities()[0];
        assert_eq!(activity.status_code().map(|c| c.as_str()), Some("Failed"));
        assert_eq!(activity.status_message(), Some(LAUNCH_FAILURE));
        // the launch made no instance: no member, and nothing runs
        tokio::time::sleep(Duration::from_millis(600)).await;
        let group = m.aws.group("app").await;
        assert!(group.instances().is_empty(), "{:?}", group.instances());
        let out = m.aws.ec2.describe_instances().send().await.unwrap();
        let states: Vec<&str> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.state()?.name().map(|n| n.as_str()))
            .collect();
        assert!(
            !states.is_empty() && states.iter().all(|s| *s == "terminated"),
            "{states:?}"
        );
    });
}

#[test]
fn the_elastic_ip_quota_is_reported_and_enforced() {
    let m = modelled(quiet(0.01));
    m.layer.model().set_address_quota(2);
    runtime().block_on(async {
        let attributes = m
            .aws
            .ec2
            .describe_account_attributes()
            .attribute_names(aws_sdk_ec2::types::AccountAttributeName::from(
                "vpc-max-elastic-ips",
            ))
            .send()
            .await
            .unwrap();
        let limit: Vec<&str> = attributes
            .account_attributes()
            .iter()
            .filter(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
            .flat_map(|a| a.attribute_values())
            .filter_map(|v| v.attribute_value())
            .collect();
        assert_eq!(limit, ["2"]);
        let allocate = || {
            m.aws
                .ec2
                .allocate_address()
                .domain(aws_sdk_ec2::types::DomainType::Vpc)
                .send()
        };
        assert_eq!(code(&allocate().await), "");
        assert_eq!(code(&allocate().await), "");
        let third = allocate().await;
        assert_eq!(code(&third), "AddressLimitExceeded");
        assert_eq!(
            message(&third),
            "The maximum number of addresses has been reached."
        );
    });
}

#[test]
fn a_lost_answer_comes_back_as_an_internal_error_after_the_work_was_done() {
    let m = modelled_for_provider(quiet(0.01));
    m.layer.inject(
        "ec2:CreateVpc",
        crate::harness::faults::Fault::LostAnswer,
        1,
    );
    runtime().block_on(async {
        let lost = m
            .aws
            .ec2
            .create_vpc()
            .cidr_block("10.7.0.0/16")
            .send()
            .await;
        assert_eq!(code(&lost), "InternalError");
        let vpcs = m.moto.ec2.describe_vpcs().send().await.unwrap();
        let made: Vec<_> = vpcs
            .vpcs()
            .iter()
            .filter(|v| v.cidr_block() == Some("10.7.0.0/16"))
            .collect();
        assert_eq!(made.len(), 1, "AWS made the VPC whose answer was lost");
        // the next call is answered as usual
        let again = m
            .aws
            .ec2
            .create_vpc()
            .cidr_block("10.8.0.0/16")
            .send()
            .await;
        assert!(again.is_ok(), "{}", message(&again));
    });
}

#[test]
fn a_listing_by_filter_leaves_out_what_was_created_moments_ago() {
    let m = modelled(quiet(0.01));
    m.layer.model().set_listing_lag(Duration::from_millis(600));
    runtime().block_on(async {
        let tag = aws_sdk_ec2::types::Tag::builder()
            .key("prodvpc:environment")
            .value("lagging")
            .build();
        let vpc = m
            .aws
            .ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                    .tags(tag)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let listed = || async {
            m.aws
                .ec2
                .describe_vpcs()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("tag:prodvpc:environment")
                        .values("lagging")
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .vpcs()
                .len()
        };
        assert_eq!(listed().await, 0, "not listed yet");
        let by_id = m.aws.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap();
        assert_eq!(by_id.vpcs().len(), 1, "found by its ID");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(listed().await, 1, "listed once the lag is over");
    });
}

#[test]
fn the_vpc_quota_is_enforced_with_the_default_vpc_counted() {
    let m = modelled(quiet(0.01));
    // moto's region has its default VPC
    m.layer.model().set_vpc_quota(2);
    runtime().block_on(async {
        let create = |cidr: &'static str| m.aws.ec2.create_vpc().cidr_block(cidr).send();
        assert_eq!(code(&create("10.1.0.0/16").await), "");
        let refused = create("10.2.0.0/16").await;
        assert_eq!(code(&refused), "VpcLimitExceeded");
        assert_eq!(
            message(&refused),
            "The maximum number of VPCs has been reached."
        );
    });
}

/// An EC2 Instance Connect Endpoint as DescribeInstanceConnectEndpoints reports it.
async fn connect_endpoint(aws: &Api, id: &str) -> Ec2InstanceConnectEndpoint {
    let out = aws
        .ec2
        .describe_instance_connect_endpoints()
        .instance_connect_endpoint_ids(id)
        .send()
        .await
        .unwrap();
    out.instance_connect_endpoints()[0].clone()
}

async fn connect_endpoint_state(aws: &Api, id: &str) -> String {
    let endpoint = connect_endpoint(aws, id).await;
    endpoint.state().unwrap().as_str().to_string()
}

/// The IDs DescribeInstanceConnectEndpoints lists with `filter` set to `values`.
async fn connect_endpoints_by(aws: &Api, filter: &str, values: &[&str]) -> Vec<String> {
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name(filter)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build();
    let out = aws
        .ec2
        .describe_instance_connect_endpoints()
        .filters(filter)
        .send()
        .await
        .unwrap();
    out.instance_connect_endpoints()
        .iter()
        .map(|e| e.instance_connect_endpoint_id().unwrap().to_string())
        .collect()
}

/// CreateInstanceConnectEndpoint in `subnet` with ClientToken `token`: the
/// endpoint's ID, or the error's code and message.
async fn create_connect_endpoint(
    aws: &Api,
    subnet: &str,
    token: &str,
) -> Result<String, (String, String)> {
    let out = aws
        .ec2
        .create_instance_connect_endpoint()
        .subnet_id(subnet)
        .client_token(token)
        .send()
        .await;
    match out {
        Ok(out) => Ok(out
            .instance_connect_endpoint()
            .unwrap()
            .instance_connect_endpoint_id()
            .unwrap()
            .to_string()),
        Err(_) => Err((code(&out), message(&out))),
    }
}

fn endpoint_tag(key: &str, value: &str) -> aws_sdk_ec2::types::Tag {
    aws_sdk_ec2::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
}

fn tags_of(tags: &[aws_sdk_ec2::types::Tag]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = tags
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn an_instance_connect_endpoint_is_created_in_progress_then_complete_and_listed() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    m.layer.model().set_listing_lag(Duration::from_millis(500));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let created = Instant::now();
        let out = m
            .aws
            .ec2
            .create_instance_connect_endpoint()
            .subnet_id(&net.subnets[0])
            .security_group_ids(&net.group)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::InstanceConnectEndpoint)
                    .tags(endpoint_tag("Name", "bastion"))
                    .tags(endpoint_tag("team", "ops"))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(out.client_token().is_some_and(|t| !t.is_empty()));
        let endpoint = out.instance_connect_endpoint().unwrap();
        let id = endpoint.instance_connect_endpoint_id().unwrap().to_string();
        assert!(id.starts_with("eice-") && id.len() == 22, "{id}");
        assert_eq!(endpoint.state().unwrap().as_str(), "create-in-progress");
        assert_eq!(endpoint.owner_id(), Some("123456789012"));
        assert_eq!(
            endpoint.instance_connect_endpoint_arn(),
            Some(
                format!("arn:aws:ec2:us-east-1:123456789012:instance-connect-endpoint/{id}")
                    .as_str()
            )
        );
        let dns = endpoint.dns_name().unwrap();
        assert!(
            dns.starts_with(&format!("{id}."))
                && dns.ends_with(".ec2-instance-connect-endpoint.us-east-1.amazonaws.com"),
            "{dns}"
        );
        let fips = endpoint.fips_dns_name().unwrap();
        assert!(
            fips.starts_with(&format!("{id}."))
                && fips.ends_with(".fips.ec2-instance-connect-endpoint.us-east-1.amazonaws.com"),
            "{fips}"
        );
        assert_eq!(endpoint.subnet_id(), Some(net.subnets[0].as_str()));
        assert_eq!(endpoint.vpc_id(), Some(net.vpc.as_str()));
        assert_eq!(endpoint.availability_zone(), Some("us-east-1a"));
        assert_eq!(endpoint.security_group_ids(), [net.group.as_str()]);
        assert_eq!(endpoint.preserve_client_ip(), Some(false));
        assert_eq!(endpoint.ip_address_type().unwrap().as_str(), "ipv4");
        assert!(endpoint.created_at().is_some());
        let interfaces = endpoint.network_interface_ids();
        assert!(interfaces.len() == 1 && interfaces[0].starts_with("eni-"));
        assert_eq!(
            tags_of(endpoint.tags()),
            [
                ("Name".into(), "bastion".into()),
                ("team".into(), "ops".into())
            ]
        );

        // AWS lists a new endpoint by filter only a moment after its create
        assert_eq!(
            connect_endpoints_by(&m.aws, "vpc-id", &[&net.vpc])
                .await
                .len(),
            0
        );
        assert_eq!(
            connect_endpoint_state(&m.aws, &id).await,
            "create-in-progress"
        );
        reaches(created, scaled(60.0, scale), "create-complete", || async {
            connect_endpoint_state(&m.aws, &id).await == "create-complete"
        })
        .await;

        let listed = connect_endpoint(&m.aws, &id).await;
        assert_eq!(listed.dns_name(), endpoint.dns_name());
        assert_eq!(listed.tags(), endpoint.tags());
        assert_eq!(
            connect_endpoints_by(&m.aws, "vpc-id", &[&net.vpc]).await,
            [id.as_str()]
        );
        assert!(
            connect_endpoints_by(&m.aws, "vpc-id", &["vpc-0000000000000000f"])
                .await
                .is_empty()
        );
        assert_eq!(
            connect_endpoints_by(&m.aws, "tag:Name", &["bastion"]).await,
            [id.as_str()]
        );
        assert_eq!(
            connect_endpoints_by(&m.aws, "tag:Name", &["bast*"]).await,
            [id.as_str()]
        );
        assert!(connect_endpoints_by(&m.aws, "tag:Name", &["other"])
            .await
            .is_empty());
        assert_eq!(
            connect_endpoints_by(&m.aws, "tag-key", &["team"]).await,
            [id.as_str()]
        );
        assert_eq!(
            connect_endpoints_by(&m.aws, "state", &["create-in-progress", "create-complete"]).await,
            [id.as_str()]
        );
        assert_eq!(
            connect_endpoints_by(&m.aws, "subnet-id", &[&net.subnets[0]]).await,
            [id.as_str()]
        );

        let unknown = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .instance_connect_endpoint_ids("eice-0123456789abcdef0")
            .send()
            .await;
        assert_eq!(code(&unknown), "InvalidInstanceConnectEndpointId.NotFound");
        let malformed = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .instance_connect_endpoint_ids("eice-123")
            .send()
            .await;
        assert_eq!(
            code(&malformed),
            "InvalidInstanceConnectEndpointId.Malformed"
        );
        let bad_filter = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("owner-id")
                    .values("123456789012")
                    .build(),
            )
            .send()
            .await;
        assert_eq!(code(&bad_filter), "InvalidParameterValue");
    });
}

#[test]
fn one_instance_connect_endpoint_per_vpc_and_a_client_token_returns_the_first() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let first = create_connect_endpoint(&m.aws, &net.subnets[0], "eice-token")
            .await
            .unwrap();
        let again = create_connect_endpoint(&m.aws, &net.subnets[0], "eice-token")
            .await
            .unwrap();
        assert_eq!(first, again);
        let all = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .send()
            .await
            .unwrap();
        assert_eq!(all.instance_connect_endpoints().len(), 1);
        // the same token with other parameters
        let (refused, _) = create_connect_endpoint(&m.aws, &net.subnets[1], "eice-token")
            .await
            .unwrap_err();
        assert_eq!(refused, "IdempotentParameterMismatch");

        // no group named: the VPC's default group
        let default_group = m
            .moto
            .ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&net.vpc)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .security_groups()[0]
            .group_id()
            .unwrap()
            .to_string();
        assert_eq!(
            connect_endpoint(&m.aws, &first).await.security_group_ids(),
            [default_group]
        );

        for (subnet, token, names) in [
            (&net.subnets[1], "second-in-vpc", &net.vpc),
            (&net.subnets[0], "second-in-subnet", &net.subnets[0]),
        ] {
            let (refused, message) = create_connect_endpoint(&m.aws, subnet, token)
                .await
                .unwrap_err();
            assert_eq!(refused, "InstanceConnectEndpointLimitExceeded");
            assert!(
                message.contains(names.as_str()) && message.contains(&first),
                "{message}"
            );
        }

        let (refused, _) = create_connect_endpoint(&m.aws, "subnet-0123456789abcdef0", "unknown")
            .await
            .unwrap_err();
        assert_eq!(refused, "InvalidSubnetID.NotFound");

        // another VPC takes its own endpoint, but not with this VPC's group
        let other = network(&m.aws).await;
        let foreign_group = m
            .aws
            .ec2
            .create_instance_connect_endpoint()
            .subnet_id(&other.subnets[0])
            .security_group_ids(&net.group)
            .send()
            .await;
        assert_eq!(code(&foreign_group), "InvalidGroup.NotFound");
        let second = create_connect_endpoint(&m.aws, &other.subnets[0], "other-vpc")
            .await
            .unwrap();

        // listed a page at a time
        let page = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .max_results(1)
            .send()
            .await
            .unwrap();
        assert_eq!(page.instance_connect_endpoints().len(), 1);
        let next = page.next_token().unwrap().to_string();
        let rest = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .max_results(1)
            .next_token(next)
            .send()
            .await
            .unwrap();
        assert_eq!(rest.instance_connect_endpoints().len(), 1);
        assert!(rest.next_token().is_none());
        let mut paged: Vec<String> = page
            .instance_connect_endpoints()
            .iter()
            .chain(rest.instance_connect_endpoints())
            .map(|e| e.instance_connect_endpoint_id().unwrap().to_string())
            .collect();
        paged.sort();
        let mut expected = vec![first, second];
        expected.sort();
        assert_eq!(paged, expected);
    });
}

#[test]
fn an_instance_connect_endpoint_holds_its_subnet_group_and_vpc_until_delete_complete() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let created = Instant::now();
        let id = m
            .aws
            .ec2
            .create_instance_connect_endpoint()
            .subnet_id(&net.subnets[0])
            .security_group_ids(&net.group)
            .send()
            .await
            .unwrap()
            .instance_connect_endpoint()
            .unwrap()
            .instance_connect_endpoint_id()
            .unwrap()
            .to_string();
        let delete = || {
            m.aws
                .ec2
                .delete_instance_connect_endpoint()
                .instance_connect_endpoint_id(&id)
                .send()
        };
        // AWS does not delete an endpoint while it is being created
        assert_eq!(code(&delete().await), "IncorrectState");
        assert_eq!(
            delete_subnet(&m.aws, &net.subnets[0]).await,
            "DependencyViolation"
        );
        assert_eq!(
            delete_group(&m.aws, &net.group).await,
            "DependencyViolation"
        );
        let vpc = m.aws.ec2.delete_vpc().vpc_id(&net.vpc).send().await;
        assert_eq!(code(&vpc), "DependencyViolation");
        // EC2 lists its network interface in the subnet, requester managed
        let interfaces = || async {
            let by_vpc = aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&net.vpc)
                .build();
            let out = m
                .aws
                .ec2
                .describe_network_interfaces()
                .filters(by_vpc)
                .send()
                .await
                .unwrap();
            out.network_interfaces()
                .iter()
                .filter(|i| {
                    i.interface_type().map(|t| t.as_str()) == Some("ec2_instance_connect_endpoint")
                })
                .map(|i| {
                    (
                        i.network_interface_id().unwrap_or_default().to_string(),
                        i.subnet_id().unwrap_or_default().to_string(),
                        i.requester_managed().unwrap_or(false),
                    )
                })
                .collect::<Vec<_>>()
        };
        let endpoint_interface = m
            .aws
            .ec2
            .describe_instance_connect_endpoints()
            .instance_connect_endpoint_ids(&id)
            .send()
            .await
            .unwrap()
            .instance_connect_endpoints()[0]
            .network_interface_ids()[0]
            .clone();
        assert_eq!(
            interfaces().await,
            [(endpoint_interface, net.subnets[0].clone(), true)]
        );
        reaches(created, scaled(60.0, scale), "create-complete", || async {
            connect_endpoint_state(&m.aws, &id).await == "create-complete"
        })
        .await;

        let deleted = delete().await.unwrap();
        let deleting = Instant::now();
        let answered = deleted.instance_connect_endpoint().unwrap();
        assert_eq!(answered.instance_connect_endpoint_id(), Some(id.as_str()));
        assert_eq!(answered.state().unwrap().as_str(), "delete-in-progress");
        // deleting it again answers as the first time
        let again = delete().await.unwrap();
        assert_eq!(
            again
                .instance_connect_endpoint()
                .unwrap()
                .state()
                .unwrap()
                .as_str(),
            "delete-in-progress"
        );
        assert_eq!(
            delete_subnet(&m.aws, &net.subnets[0]).await,
            "DependencyViolation"
        );
        assert_eq!(
            delete_group(&m.aws, &net.group).await,
            "DependencyViolation"
        );
        reaches(deleting, scaled(30.0, scale), "delete-complete", || async {
            connect_endpoint_state(&m.aws, &id).await == "delete-complete"
        })
        .await;
        assert!(interfaces().await.is_empty(), "gone with the endpoint");
        assert_eq!(delete_subnet(&m.aws, &net.subnets[0]).await, "");
        assert_eq!(delete_group(&m.aws, &net.group).await, "");
        assert_eq!(
            connect_endpoints_by(&m.aws, "state", &["delete-complete"]).await,
            [id.as_str()]
        );
        reaches(deleting, scaled(90.0, scale), "gone", || async {
            let out = m
                .aws
                .ec2
                .describe_instance_connect_endpoints()
                .instance_connect_endpoint_ids(&id)
                .send()
                .await;
            code(&out) == "InvalidInstanceConnectEndpointId.NotFound"
        })
        .await;
        assert!(connect_endpoints_by(&m.aws, "vpc-id", &[&net.vpc])
            .await
            .is_empty());
        assert_eq!(
            code(&delete().await),
            "InvalidInstanceConnectEndpointId.NotFound"
        );
        let malformed = m
            .aws
            .ec2
            .delete_instance_connect_endpoint()
            .instance_connect_endpoint_id("eice-nothex")
            .send()
            .await;
        assert_eq!(
            code(&malformed),
            "InvalidInstanceConnectEndpointId.Malformed"
        );
    });
}

const EICE_FAILURE: &str = "Failed to create the network interface: subnet has no free addresses";

#[test]
fn instance_connect_endpoints_told_to_fail_end_create_failed_with_the_message() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    m.layer
        .model()
        .fail_instance_connect_endpoints(Some(EICE_FAILURE));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let created = Instant::now();
        let id = create_connect_endpoint(&m.aws, &net.subnets[0], "failing")
            .await
            .unwrap();
        assert_eq!(
            connect_endpoint_state(&m.aws, &id).await,
            "create-in-progress"
        );
        reaches(created, scaled(60.0, scale), "create-failed", || async {
            connect_endpoint_state(&m.aws, &id).await == "create-failed"
        })
        .await;
        let endpoint = connect_endpoint(&m.aws, &id).await;
        assert_eq!(endpoint.state_message(), Some(EICE_FAILURE));
        // a failed endpoint is there until deleted, and can be deleted
        assert_eq!(
            delete_subnet(&m.aws, &net.subnets[0]).await,
            "DependencyViolation"
        );
        let deleted = m
            .aws
            .ec2
            .delete_instance_connect_endpoint()
            .instance_connect_endpoint_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            deleted
                .instance_connect_endpoint()
                .unwrap()
                .state()
                .unwrap()
                .as_str(),
            "delete-in-progress"
        );
    });
}

#[test]
fn create_tags_naming_an_instance_connect_endpoint_and_a_vpc_tags_both() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let id = create_connect_endpoint(&m.aws, &net.subnets[0], "tagged")
            .await
            .unwrap();
        m.aws
            .ec2
            .create_tags()
            .resources(&id)
            .resources(&net.vpc)
            .tags(endpoint_tag("team", "ops"))
            .tags(endpoint_tag("Name", "bastion"))
            .send()
            .await
            .unwrap();
        let vpc_tags = || async {
            let out = m
                .moto
                .ec2
                .describe_vpcs()
                .vpc_ids(&net.vpc)
                .send()
                .await
                .unwrap();
            tags_of(out.vpcs()[0].tags())
        };
        let both: Vec<(String, String)> = vec![
            ("Name".into(), "bastion".into()),
            ("team".into(), "ops".into()),
        ];
        assert_eq!(tags_of(connect_endpoint(&m.aws, &id).await.tags()), both);
        assert_eq!(vpc_tags().await, both);
        assert_eq!(
            connect_endpoints_by(&m.aws, "tag:team", &["ops"]).await,
            [id.as_str()]
        );

        m.aws
            .ec2
            .delete_tags()
            .resources(&id)
            .resources(&net.vpc)
            .tags(aws_sdk_ec2::types::Tag::builder().key("team").build())
            .send()
            .await
            .unwrap();
        let left: Vec<(String, String)> = vec![("Name".into(), "bastion".into())];
        assert_eq!(tags_of(connect_endpoint(&m.aws, &id).await.tags()), left);
        assert_eq!(vpc_tags().await, left);

        // an endpoint AWS does not know fails the whole call
        let unknown = m
            .aws
            .ec2
            .create_tags()
            .resources("eice-0123456789abcdef0")
            .resources(&net.vpc)
            .tags(endpoint_tag("team", "dev"))
            .send()
            .await;
        assert_eq!(code(&unknown), "InvalidInstanceConnectEndpointId.NotFound");
        assert_eq!(vpc_tags().await, left);
    });
}

/// A mixed instances policy around version `version` of `template` with
/// `types` as its overrides, as the provider builds one.
fn mixed(
    template: &str,
    version: &str,
    types: &[&str],
    distribution: Option<InstancesDistribution>,
) -> MixedInstancesPolicy {
    MixedInstancesPolicy::builder()
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplate::builder()
                .launch_template_specification(
                    LaunchTemplateSpecification::builder()
                        .launch_template_id(template)
                        .version(version)
                        .build(),
                )
                .set_overrides(Some(
                    types
                        .iter()
                        .map(|t| LaunchTemplateOverrides::builder().instance_type(*t).build())
                        .collect(),
                ))
                .build(),
        )
        .set_instances_distribution(distribution)
        .build()
}

/// A distribution of `base` On-Demand instances, then `percentage`% On-Demand,
/// Spot by `spot`, On-Demand by priority: every field the provider sends.
fn distribution(base: i32, percentage: i32, spot: &str) -> InstancesDistribution {
    InstancesDistribution::builder()
        .on_demand_allocation_strategy("prioritized")
        .on_demand_base_capacity(base)
        .on_demand_percentage_above_base_capacity(percentage)
        .spot_allocation_strategy(spot)
        .build()
}

/// Group `app` of `size` in the network's subnets, launching by `policy`,
/// rebalancing its Spot capacity.
async fn mixed_group(aws: &Api, net: &Network, size: i32, policy: MixedInstancesPolicy) {
    aws.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("app")
        .min_size(0)
        .max_size(size + 2)
        .desired_capacity(size)
        .mixed_instances_policy(policy)
        .capacity_rebalance(true)
        .vpc_zone_identifier(net.subnets.join(","))
        .send()
        .await
        .unwrap();
}

/// A policy as reported: (template ID, name, version), the override types, and
/// the distribution's (On-Demand strategy, base, percentage, Spot strategy,
/// Spot pools).
type Reported = (
    (String, String, String),
    Vec<String>,
    (String, i32, i32, String, Option<i32>),
);

fn reported(policy: &MixedInstancesPolicy) -> Reported {
    let template = policy.launch_template().expect("a launch template");
    let spec = template.launch_template_specification().expect("a spec");
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    let d = policy.instances_distribution().expect("a distribution");
    (
        (
            text(spec.launch_template_id()),
            text(spec.launch_template_name()),
            text(spec.version()),
        ),
        template
            .overrides()
            .iter()
            .map(|o| text(o.instance_type()))
            .collect(),
        (
            text(d.on_demand_allocation_strategy()),
            d.on_demand_base_capacity().unwrap_or(-1),
            d.on_demand_percentage_above_base_capacity().unwrap_or(-1),
            text(d.spot_allocation_strategy()),
            d.spot_instance_pools(),
        ),
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_mixed_group_reports_its_policy_as_aws_fills_it_and_updates_keep_what_they_leave_out() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        let policy = mixed(
            &template,
            "1",
            &["t3.small", "t3a.small"],
            Some(distribution(1, 50, "price-capacity-optimized")),
        );
        mixed_group(&m.aws, &net, 3, policy).await;
        let group = m.aws.group("app").await;
        assert!(group.launch_template().is_none(), "the policy names it");
        assert_eq!(group.capacity_rebalance(), Some(true));
        let named = (template.clone(), "app".to_string(), "1".to_string());
        assert_eq!(
            reported(group.mixed_instances_policy().unwrap()),
            (
                named.clone(),
                strings(&["t3.small", "t3a.small"]),
                (
                    "prioritized".into(),
                    1,
                    50,
                    "price-capacity-optimized".into(),
                    None
                )
            )
        );

        // sizes only: the policy stays (moto wipes it), rebalancing turns off
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .desired_capacity(4)
            .capacity_rebalance(false)
            .send()
            .await
            .unwrap();
        let group = m.aws.group("app").await;
        assert_eq!(group.desired_capacity(), Some(4));
        assert_eq!(group.capacity_rebalance(), Some(false));
        assert_eq!(
            reported(group.mixed_instances_policy().expect("kept")).1,
            strings(&["t3.small", "t3a.small"])
        );

        // a new version and types with part of a distribution: the rest is kept
        m.aws
            .ec2
            .create_launch_template_version()
            .launch_template_id(&template)
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id("ami-0ed094fb1304fd857")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let partial = InstancesDistribution::builder()
            .on_demand_percentage_above_base_capacity(100)
            .build();
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .mixed_instances_policy(mixed(&template, "2", &["t3.medium"], Some(partial)))
            .send()
            .await
            .unwrap();
        let group = m.aws.group("app").await;
        assert!(group.launch_template().is_none());
        assert_eq!(
            reported(group.mixed_instances_policy().unwrap()),
            (
                (template.clone(), "app".into(), "2".into()),
                strings(&["t3.medium"]),
                (
                    "prioritized".into(),
                    1,
                    100,
                    "price-capacity-optimized".into(),
                    None
                )
            )
        );

        // a launch template alone takes the group off its policy
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&template)
                    .version("1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let group = m.aws.group("app").await;
        assert!(group.mixed_instances_policy().is_none());
        assert_eq!(group.launch_template().and_then(|t| t.version()), Some("1"));

        // and a policy without a distribution gets AWS's defaults
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .mixed_instances_policy(mixed(&template, "1", &["t3.small"], None))
            .send()
            .await
            .unwrap();
        let group = m.aws.group("app").await;
        assert!(group.launch_template().is_none(), "one or the other");
        assert_eq!(
            reported(group.mixed_instances_policy().unwrap()),
            (
                named,
                strings(&["t3.small"]),
                ("prioritized".into(), 0, 100, "lowest-price".into(), Some(2))
            )
        );
    });
}

/// The members of group `app` as (instance type, ID, whether Spot) as EC2
/// reports them, sorted; the group reports each one's type as EC2 does.
async fn members_launched(aws: &Api) -> Vec<(String, String, bool)> {
    let group = aws.group("app").await;
    let mut found = Vec::new();
    for member in group.instances() {
        let id = member.instance_id().unwrap();
        let out = aws
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        let instance = &out.reservations()[0].instances()[0];
        let spot =
            instance.instance_lifecycle() == Some(&aws_sdk_ec2::types::InstanceLifecycleType::Spot);
        let ec2_type = instance
            .instance_type()
            .map(|t| t.as_str())
            .unwrap_or_default();
        assert_eq!(member.instance_type(), Some(ec2_type), "{id}");
        found.push((ec2_type.to_string(), id.to_string(), spot));
    }
    found.sort();
    found
}

#[test]
fn a_mixed_group_launches_its_first_type_and_spot_above_the_on_demand_share_rounded_up() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        let policy = mixed(
            &template,
            "1",
            &["t3.small", "t3a.small"],
            Some(distribution(0, 50, "price-capacity-optimized")),
        );
        // half of 3 On-Demand: 2 (moto launches 2 instances in all)
        mixed_group(&m.aws, &net, 3, policy).await;
        let members = members_launched(&m.aws).await;
        assert_eq!(members.len(), 3, "{members:?}");
        assert!(
            members.iter().all(|(t, _, _)| t == "t3.small"),
            "the first override, not the template's t3.micro: {members:?}"
        );
        assert_eq!(
            members.iter().filter(|(_, _, spot)| *spot).count(),
            1,
            "{members:?}"
        );

        // one more: above the On-Demand share of 4 (2), so Spot
        m.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .desired_capacity(4)
            .send()
            .await
            .unwrap();
        let members = members_launched(&m.aws).await;
        assert_eq!(members.len(), 4, "{members:?}");
        assert_eq!(
            members.iter().filter(|(_, _, spot)| *spot).count(),
            2,
            "{members:?}"
        );
    });
}

#[test]
fn mixed_instances_policies_aws_refuses_are_refused_with_its_error() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        let create = |policy: MixedInstancesPolicy| {
            m.aws
                .autoscaling
                .create_auto_scaling_group()
                .auto_scaling_group_name("app")
                .min_size(0)
                .max_size(1)
                .mixed_instances_policy(policy)
                .vpc_zone_identifier(net.subnets.join(","))
                .send()
        };
        let types: Vec<String> = (0..41).map(|i| format!("t3.type{i}")).collect();
        let types: Vec<&str> = types.iter().map(String::as_str).collect();
        let refused = [
            ("41 types", mixed(&template, "1", &types, None)),
            (
                "an unknown Spot strategy",
                mixed(
                    &template,
                    "1",
                    &["t3.small"],
                    Some(distribution(0, 50, "cheapest")),
                ),
            ),
            (
                "101% On-Demand",
                mixed(
                    &template,
                    "1",
                    &["t3.small"],
                    Some(distribution(0, 101, "lowest-price")),
                ),
            ),
            (
                "a negative base",
                mixed(
                    &template,
                    "1",
                    &["t3.small"],
                    Some(distribution(-1, 100, "lowest-price")),
                ),
            ),
        ];
        for (what, policy) in refused {
            let out = create(policy).await;
            assert_eq!(code(&out), "ValidationError", "{what}");
        }
        let pools = InstancesDistribution::builder()
            .spot_allocation_strategy("capacity-optimized")
            .spot_instance_pools(3)
            .build();
        let out = create(mixed(&template, "1", &["t3.small"], Some(pools))).await;
        assert_eq!(
            message(&out),
            "SpotInstancePools option is only available with the lowest-price allocation strategy."
        );
        let unnamed = MixedInstancesPolicy::builder()
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplate::builder()
                    .launch_template_specification(
                        LaunchTemplateSpecification::builder().version("1").build(),
                    )
                    .build(),
            )
            .build();
        let out = create(unnamed).await;
        assert_eq!(
            message(&out),
            "Valid requests must contain either launchTemplateId or LaunchTemplateName"
        );
        // nothing was made; a valid policy is
        assert_eq!(
            m.layer
                .model()
                .refused("autoscaling:CreateAutoScalingGroup"),
            6
        );
        create(mixed(&template, "1", &["t3.small"], None))
            .await
            .unwrap();

        // an update or a refresh names a template or a policy, not both
        let spec = LaunchTemplateSpecification::builder()
            .launch_template_id(&template)
            .version("1")
            .build();
        let both = m
            .aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("app")
            .launch_template(spec.clone())
            .mixed_instances_policy(mixed(&template, "1", &["t3.small"], None))
            .send()
            .await;
        assert_eq!(code(&both), "ValidationError");
        let both = m
            .aws
            .autoscaling
            .start_instance_refresh()
            .auto_scaling_group_name("app")
            .desired_configuration(
                DesiredConfiguration::builder()
                    .launch_template(spec)
                    .mixed_instances_policy(mixed(&template, "1", &["t3.small"], None))
                    .build(),
            )
            .send()
            .await;
        assert_eq!(code(&both), "ValidationError");
        assert!(refreshes(&m.aws).await.is_empty());
    });
}

/// Starts a refresh of group `app` towards `desired`, skipping matching
/// instances when `skip`, half the group at a time.
async fn refresh_towards(aws: &Api, desired: DesiredConfiguration, skip: bool) -> String {
    aws.autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name("app")
        .desired_configuration(desired)
        .preferences(
            RefreshPreferences::builder()
                .min_healthy_percentage(50)
                .skip_matching(skip)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .instance_refresh_id
        .unwrap()
}

#[test]
fn a_refresh_towards_a_mixed_policy_gives_the_group_the_policy_when_it_succeeds() {
    let m = modelled(quiet(0.01));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let template = launch_template(&m.aws, "ami-12c6146b").await;
        m.aws
            .ec2
            .create_launch_template_version()
            .launch_template_id(&template)
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id("ami-0ed094fb1304fd857")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let spread = || Some(distribution(0, 50, "price-capacity-optimized"));
        mixed_group(
            &m.aws,
            &net,
            2,
            mixed(&template, "1", &["t3.small"], spread()),
        )
        .await;
        let policy_version = |group: aws_sdk_autoscaling::types::AutoScalingGroup| {
            group
                .mixed_instances_policy()
                .map(|p| reported(p).0 .2)
                .unwrap_or_default()
        };
        let desired = |version: &str, types: &[&str]| {
            DesiredConfiguration::builder()
                .mixed_instances_policy(mixed(&template, version, types, spread()))
                .build()
        };
        let id = refresh_towards(&m.aws, desired("2", &["t3.medium", "t3.small"]), false).await;
        let echoed = refreshes(&m.aws).await[0]
            .desired_configuration()
            .and_then(|d| d.mixed_instances_policy())
            .map(|p| (reported(p).0 .2, reported(p).1));
        assert_eq!(
            echoed,
            Some(("2".to_string(), strings(&["t3.medium", "t3.small"])))
        );
        until_status(&m.aws, &id, &["InProgress"], Duration::from_secs(5)).await;
        assert_eq!(
            policy_version(m.aws.group("app").await),
            "1",
            "the group keeps its policy until the refresh succeeds"
        );
        ends(&m.aws, &id, "Successful").await;
        let group = m.aws.group("app").await;
        assert!(group.launch_template().is_none());
        let policy = reported(group.mixed_instances_policy().unwrap());
        assert_eq!(
            (policy.0 .2, policy.1),
            ("2".to_string(), strings(&["t3.medium", "t3.small"]))
        );
        assert_eq!(versions(&m.aws).await.1, vec!["2", "2"]);
        let launched = members_launched(&m.aws).await;
        assert!(
            launched.iter().all(|(t, _, _)| t == "t3.medium"),
            "replacements of the desired policy's first type: {launched:?}"
        );

        // skipping matches: instances of a type the policy still lists stay...
        let before: Vec<String> = launched.iter().map(|(_, id, _)| id.clone()).collect();
        let kept = refresh_towards(&m.aws, desired("2", &["t3.large", "t3.medium"]), true).await;
        ends(&m.aws, &kept, "Successful").await;
        let ids = |members: Vec<(String, String, bool)>| -> Vec<String> {
            members.into_iter().map(|(_, id, _)| id).collect()
        };
        assert_eq!(ids(members_launched(&m.aws).await), before);
        // ...and those of a type it no longer lists are replaced
        let moved = refresh_towards(&m.aws, desired("2", &["t3.large"]), true).await;
        ends(&m.aws, &moved, "Successful").await;
        let launched = members_launched(&m.aws).await;
        assert!(launched
            .iter()
            .all(|(t, id, _)| t == "t3.large" && !before.contains(id)));

        // a launch template alone takes the group off its policy when it succeeds
        let plain = refresh_towards(
            &m.aws,
            DesiredConfiguration::builder()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_id(&template)
                        .version("1")
                        .build(),
                )
                .build(),
            false,
        )
        .await;
        ends(&m.aws, &plain, "Successful").await;
        let group = m.aws.group("app").await;
        assert!(group.mixed_instances_policy().is_none());
        assert_eq!(
            versions(&m.aws).await,
            ("1".into(), vec!["1".into(), "1".into()])
        );
        let launched = members_launched(&m.aws).await;
        assert!(
            launched.iter().all(|(t, _, spot)| t == "t3.micro" && !spot),
            "the template's type, On-Demand: {launched:?}"
        );
    });
}

/// A VPC Elastic IP's allocation ID.
async fn elastic_ip(aws: &Api) -> String {
    aws.ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id
        .unwrap()
}

/// A regional NAT gateway in manual mode, one zone's addresses per entry.
async fn create_regional_nat(
    aws: &Api,
    vpc: &str,
    zones: &[(&str, &str)],
    token: Option<&str>,
) -> Result<aws_sdk_ec2::types::NatGateway, String> {
    let mut create = aws
        .ec2
        .create_nat_gateway()
        .availability_mode(aws_sdk_ec2::types::AvailabilityMode::Regional)
        .vpc_id(vpc)
        .set_client_token(token.map(str::to_string))
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Natgateway)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value("egress")
                        .build(),
                )
                .build(),
        );
    for (zone, allocation) in zones {
        create = create.availability_zone_addresses(
            aws_sdk_ec2::types::AvailabilityZoneAddress::builder()
                .availability_zone(*zone)
                .allocation_ids(*allocation)
                .build(),
        );
    }
    let out = create.send().await;
    match out {
        Ok(out) => Ok(out.nat_gateway.unwrap()),
        Err(e) => Err(e.code().unwrap_or("no code").to_string()),
    }
}

async fn regional_nat(aws: &Api, id: &str) -> aws_sdk_ec2::types::NatGateway {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.nat_gateways().len(), 1, "{id} listed once");
    out.nat_gateways()[0].clone()
}

/// The IDs DescribeNatGateways lists with filter `name` = `value`.
async fn nat_ids_by(aws: &Api, name: &str, value: &str) -> Vec<String> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(
            aws_sdk_ec2::types::Filter::builder()
                .name(name)
                .values(value)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.nat_gateways()
        .iter()
        .filter_map(|g| g.nat_gateway_id().map(str::to_string))
        .collect()
}

/// `(allocation, zone, status)` of each address, sorted.
fn zone_addresses(gateway: &aws_sdk_ec2::types::NatGateway) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = gateway
        .nat_gateway_addresses()
        .iter()
        .map(|a| {
            (
                a.allocation_id().unwrap_or_default().to_string(),
                a.availability_zone().unwrap_or_default().to_string(),
                a.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    found
}

/// The association ID DescribeAddresses reports for `allocation`.
async fn address_association(aws: &Api, allocation: &str) -> Option<String> {
    let out = aws
        .ec2
        .describe_addresses()
        .allocation_ids(allocation)
        .send()
        .await
        .unwrap();
    out.addresses()[0].association_id().map(str::to_string)
}

#[test]
fn regional_nat_gateway_is_pending_then_available_with_its_zone_addresses_and_own_route_table() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let (a, b) = (elastic_ip(&m.aws).await, elastic_ip(&m.aws).await);
        let created = Instant::now();
        let zones = [("us-east-1a", a.as_str()), ("us-east-1b", b.as_str())];
        let nat = create_regional_nat(&m.aws, &net.vpc, &zones, Some("token-1"))
            .await
            .unwrap();
        let id = nat.nat_gateway_id().unwrap().to_string();
        assert_eq!(nat.state().unwrap().as_str(), "pending");
        assert_eq!(nat.availability_mode().unwrap().as_str(), "regional");
        assert_eq!(nat.auto_provision_zones().unwrap().as_str(), "disabled");
        assert_eq!(nat.auto_scaling_ips().unwrap().as_str(), "disabled");
        assert_eq!(nat.connectivity_type().unwrap().as_str(), "public");
        assert_eq!(nat.vpc_id(), Some(net.vpc.as_str()));
        assert_eq!(nat.subnet_id(), None);
        let mut expected: Vec<(String, String, String)> = vec![
            (a.clone(), "us-east-1a".into(), "associating".into()),
            (b.clone(), "us-east-1b".into(), "associating".into()),
        ];
        expected.sort();
        assert_eq!(zone_addresses(&nat), expected);
        for address in nat.nat_gateway_addresses() {
            assert!(address.association_id().unwrap().starts_with("eipassoc-"));
            assert!(address.availability_zone_id().is_some());
            assert!(address.public_ip().is_some());
            assert_eq!(address.network_interface_id(), None);
        }
        // moto never sees it
        let direct = m.moto.ec2.describe_nat_gateways().send().await.unwrap();
        assert!(direct.nat_gateways().is_empty());

        // AWS made it a route table with the default route to the internet gateway
        let table = nat.route_table_id().unwrap().to_string();
        let tables = m
            .aws
            .ec2
            .describe_route_tables()
            .route_table_ids(&table)
            .send()
            .await
            .unwrap();
        let routes = tables.route_tables()[0].routes();
        assert!(routes
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == Some(net.gateway.as_str())));

        // listed by the filters the provider uses, not by a subnet
        assert_eq!(
            nat_ids_by(&m.aws, "vpc-id", &net.vpc).await,
            vec![id.clone()]
        );
        assert_eq!(
            nat_ids_by(&m.aws, "tag:Name", "egress").await,
            vec![id.clone()]
        );
        assert_eq!(
            nat_ids_by(&m.aws, "tag-key", "Name").await,
            vec![id.clone()]
        );
        assert_eq!(
            nat_ids_by(&m.aws, "state", "pending").await,
            vec![id.clone()]
        );
        assert!(nat_ids_by(&m.aws, "subnet-id", &net.subnets[0])
            .await
            .is_empty());
        let tags = regional_nat(&m.aws, &id).await.tags().to_vec();
        assert_eq!(tags[0].key(), Some("Name"));

        reaches(created, scaled(90.0, scale), "available", || async {
            regional_nat(&m.aws, &id).await.state().unwrap().as_str() == "available"
        })
        .await;
        let now = regional_nat(&m.aws, &id).await;
        assert!(zone_addresses(&now)
            .iter()
            .all(|(_, _, s)| s == "succeeded"));
        // the same token answers with the same gateway, as it is now
        let again = create_regional_nat(&m.aws, &net.vpc, &zones, Some("token-1"))
            .await
            .unwrap();
        assert_eq!(again.nat_gateway_id(), Some(id.as_str()));
        assert_eq!(again.state().unwrap().as_str(), "available");

        // its addresses are associated, to nothing of the customer's
        let association = now
            .nat_gateway_addresses()
            .iter()
            .find(|x| x.allocation_id() == Some(a.as_str()))
            .and_then(|x| x.association_id())
            .map(str::to_string);
        assert_eq!(address_association(&m.aws, &a).await, association);
        let release = m.aws.ec2.release_address().allocation_id(&a).send().await;
        assert_eq!(code(&release), "InvalidIPAddress.InUse");
        let interface = m
            .aws
            .ec2
            .create_network_interface()
            .subnet_id(&net.subnets[0])
            .send()
            .await
            .unwrap()
            .network_interface
            .unwrap()
            .network_interface_id
            .unwrap();
        let taken = m
            .aws
            .ec2
            .associate_address()
            .allocation_id(&a)
            .network_interface_id(&interface)
            .allow_reassociation(true)
            .send()
            .await;
        assert_eq!(code(&taken), "Resource.AlreadyAssociated");
        // a second gateway cannot have them either
        let other = create_regional_nat(&m.aws, &net.vpc, &[("us-east-1a", &a)], None).await;
        assert_eq!(other.unwrap_err(), "Resource.AlreadyAssociated");

        // what it holds stays until it is deleted
        let vpc = m.aws.ec2.delete_vpc().vpc_id(&net.vpc).send().await;
        assert_eq!(code(&vpc), "DependencyViolation");
        assert_eq!(detach_gateway(&m.aws, &net).await, "DependencyViolation");
        let own = m
            .aws
            .ec2
            .delete_route_table()
            .route_table_id(&table)
            .send()
            .await;
        assert_eq!(code(&own), "DependencyViolation");

        m.aws
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&id)
            .send()
            .await
            .unwrap();
        let deleting = Instant::now();
        let gateway = regional_nat(&m.aws, &id).await;
        assert_eq!(gateway.state().unwrap().as_str(), "deleting");
        assert!(gateway.delete_time().is_some());
        let release = m.aws.ec2.release_address().allocation_id(&a).send().await;
        assert_eq!(code(&release), "InvalidIPAddress.InUse");
        reaches(deleting, scaled(55.0, scale), "deleted", || async {
            regional_nat(&m.aws, &id).await.state().unwrap().as_str() == "deleted"
        })
        .await;
        assert_eq!(
            nat_ids_by(&m.aws, "state", "deleted").await,
            vec![id.clone()]
        );
        // deleted: the addresses are free (not released) and the route table gone
        assert_eq!(address_association(&m.aws, &a).await, None);
        reaches(deleting, Duration::ZERO, "route table removed", || async {
            let out = m
                .moto
                .ec2
                .describe_route_tables()
                .route_table_ids(&table)
                .send()
                .await;
            out.is_err()
        })
        .await;
        m.aws
            .ec2
            .release_address()
            .allocation_id(&a)
            .send()
            .await
            .unwrap();
        assert_eq!(detach_gateway(&m.aws, &net).await, "");
        let gone = m
            .aws
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&id)
            .send()
            .await;
        assert_eq!(code(&gone), "NatGatewayNotFound");
    });
}

#[test]
fn regional_nat_gateway_addresses_are_associated_and_disassociated_per_zone() {
    let scale = 0.02;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let mut eips = Vec::new();
        for _ in 0..4 {
            eips.push(elastic_ip(&m.aws).await);
        }
        let created = Instant::now();
        let nat = create_regional_nat(&m.aws, &net.vpc, &[("us-east-1a", &eips[0])], None)
            .await
            .unwrap();
        let id = nat.nat_gateway_id().unwrap().to_string();
        reaches(created, scaled(90.0, scale), "available", || async {
            regional_nat(&m.aws, &id).await.state().unwrap().as_str() == "available"
        })
        .await;

        // a second zone, by its name
        let associating = Instant::now();
        let out = m
            .aws
            .ec2
            .associate_nat_gateway_address()
            .nat_gateway_id(&id)
            .availability_zone("us-east-1b")
            .allocation_ids(&eips[1])
            .send()
            .await
            .unwrap();
        assert_eq!(out.nat_gateway_id(), Some(id.as_str()));
        let added = &out.nat_gateway_addresses()[0];
        assert_eq!(added.status().unwrap().as_str(), "associating");
        assert_eq!(added.availability_zone(), Some("us-east-1b"));
        reaches(associating, scaled(15.0, scale), "succeeded", || async {
            zone_addresses(&regional_nat(&m.aws, &id).await)
                .iter()
                .all(|(_, _, s)| s == "succeeded")
        })
        .await;
        // another address for that zone, by the zone's ID
        let zone_id = regional_nat(&m.aws, &id)
            .await
            .nat_gateway_addresses()
            .iter()
            .find(|a| a.availability_zone() == Some("us-east-1b"))
            .and_then(|a| a.availability_zone_id())
            .unwrap()
            .to_string();
        m.aws
            .ec2
            .associate_nat_gateway_address()
            .nat_gateway_id(&id)
            .availability_zone_id(&zone_id)
            .allocation_ids(&eips[2])
            .send()
            .await
            .unwrap();
        let mut zones: Vec<String> = zone_addresses(&regional_nat(&m.aws, &id).await)
            .into_iter()
            .map(|(_, zone, _)| zone)
            .collect();
        zones.sort();
        assert_eq!(zones, vec!["us-east-1a", "us-east-1b", "us-east-1b"]);

        // what AWS refuses
        let refused = |zone: Option<&'static str>, allocation: String| {
            let aws = &m.aws;
            let id = id.clone();
            async move {
                let out = aws
                    .ec2
                    .associate_nat_gateway_address()
                    .nat_gateway_id(&id)
                    .set_availability_zone(zone.map(str::to_string))
                    .allocation_ids(allocation)
                    .send()
                    .await;
                code(&out)
            }
        };
        assert_eq!(
            refused(Some("us-east-1a"), eips[1].clone()).await,
            "Resource.AlreadyAssociated"
        );
        assert_eq!(
            refused(Some("us-east-1a"), "eipalloc-0123456789abcdef0".into()).await,
            "InvalidAllocationID.NotFound"
        );
        assert_eq!(
            refused(Some("us-west-2a"), eips[3].clone()).await,
            "InvalidParameterValue"
        );
        assert_eq!(refused(None, eips[3].clone()).await, "MissingParameter");

        // the first zone's address goes: disassociating, then gone
        let first = regional_nat(&m.aws, &id)
            .await
            .nat_gateway_addresses()
            .iter()
            .find(|a| a.allocation_id() == Some(eips[0].as_str()))
            .and_then(|a| a.association_id())
            .unwrap()
            .to_string();
        let disassociating = Instant::now();
        let out = m
            .aws
            .ec2
            .disassociate_nat_gateway_address()
            .nat_gateway_id(&id)
            .association_ids(&first)
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.nat_gateway_addresses()[0].status().unwrap().as_str(),
            "disassociating"
        );
        // no other change while it drains
        assert_eq!(
            refused(Some("us-east-1a"), eips[3].clone()).await,
            "IncorrectState"
        );
        let again = m
            .aws
            .ec2
            .disassociate_nat_gateway_address()
            .nat_gateway_id(&id)
            .association_ids(&first)
            .send()
            .await;
        assert_eq!(code(&again), "IncorrectState");
        assert!(address_association(&m.aws, &eips[0]).await.is_some());
        reaches(disassociating, scaled(30.0, scale), "gone", || async {
            !regional_nat(&m.aws, &id)
                .await
                .nat_gateway_addresses()
                .iter()
                .any(|a| a.allocation_id() == Some(eips[0].as_str()))
        })
        .await;
        assert_eq!(address_association(&m.aws, &eips[0]).await, None);
        m.aws
            .ec2
            .release_address()
            .allocation_id(&eips[0])
            .send()
            .await
            .unwrap();
        let unknown = m
            .aws
            .ec2
            .disassociate_nat_gateway_address()
            .nat_gateway_id(&id)
            .association_ids("eipassoc-0123456789abcdef0")
            .send()
            .await;
        assert_eq!(code(&unknown), "InvalidAssociationID.NotFound");
        // a short drain ends sooner
        let second = regional_nat(&m.aws, &id)
            .await
            .nat_gateway_addresses()
            .iter()
            .find(|a| a.allocation_id() == Some(eips[2].as_str()))
            .and_then(|a| a.association_id())
            .unwrap()
            .to_string();
        let drained = Instant::now();
        m.aws
            .ec2
            .disassociate_nat_gateway_address()
            .nat_gateway_id(&id)
            .association_ids(&second)
            .max_drain_duration_seconds(5)
            .send()
            .await
            .unwrap();
        reaches(drained, scaled(5.0, scale), "drained", || async {
            regional_nat(&m.aws, &id)
                .await
                .nat_gateway_addresses()
                .len()
                == 1
        })
        .await;
        assert!(drained.elapsed() < scaled(30.0, scale));
    });
}

#[test]
fn regional_nat_gateway_is_routed_to_retagged_and_refused_as_aws_refuses() {
    let scale = 0.001;
    let m = modelled(quiet(scale));
    runtime().block_on(async {
        let net = network(&m.aws).await;
        let eip = elastic_ip(&m.aws).await;
        let nat = create_regional_nat(&m.aws, &net.vpc, &[("us-east-1a", &eip)], None)
            .await
            .unwrap();
        let id = nat.nat_gateway_id().unwrap().to_string();

        // a route to it, which moto would store without a target
        let table = m
            .aws
            .ec2
            .create_route_table()
            .vpc_id(&net.vpc)
            .send()
            .await
            .unwrap()
            .route_table
            .unwrap()
            .route_table_id
            .unwrap();
        let default_route = |table: String| {
            let aws = &m.aws;
            async move {
                let out = aws
                    .ec2
                    .describe_route_tables()
                    .route_table_ids(table)
                    .send()
                    .await
                    .unwrap();
                let route = out.route_tables()[0]
                    .routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                    .cloned()
                    .unwrap();
                (
                    route.nat_gateway_id().map(str::to_string),
                    route.gateway_id().map(str::to_string),
                    route.state().map(|s| s.as_str().to_string()),
                )
            }
        };
        m.aws
            .ec2
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            default_route(table.clone()).await,
            (Some(id.clone()), None, Some("active".into()))
        );
        m.aws
            .ec2
            .replace_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&net.gateway)
            .send()
            .await
            .unwrap();
        let (nat_target, gateway_target, _) = default_route(table.clone()).await;
        assert_eq!(
            (nat_target, gateway_target),
            (None, Some(net.gateway.clone()))
        );
        m.aws
            .ec2
            .replace_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(default_route(table.clone()).await.0, Some(id.clone()));

        // retagged with other objects in one call
        m.aws
            .ec2
            .create_tags()
            .resources(&id)
            .resources(&net.vpc)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("env")
                    .value("shop")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            nat_ids_by(&m.aws, "tag:env", "shop").await,
            vec![id.clone()]
        );
        let vpc_tags = m
            .moto
            .ec2
            .describe_vpcs()
            .vpc_ids(&net.vpc)
            .send()
            .await
            .unwrap();
        assert!(vpc_tags.vpcs()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("env")));
        m.aws
            .ec2
            .delete_tags()
            .resources(&id)
            .tags(aws_sdk_ec2::types::Tag::builder().key("Name").build())
            .send()
            .await
            .unwrap();
        let tags: Vec<String> = regional_nat(&m.aws, &id)
            .await
            .tags()
            .iter()
            .filter_map(|t| t.key().map(str::to_string))
            .collect();
        assert_eq!(tags, vec!["env"]);

        // a zonal gateway still goes to moto, reported zonal
        let zonal_eip = elastic_ip(&m.aws).await;
        let zonal = m
            .aws
            .ec2
            .create_nat_gateway()
            .subnet_id(&net.subnets[0])
            .allocation_id(&zonal_eip)
            .send()
            .await
            .unwrap()
            .nat_gateway
            .unwrap()
            .nat_gateway_id
            .unwrap();
        assert_eq!(
            regional_nat(&m.aws, &zonal)
                .await
                .availability_mode()
                .unwrap()
                .as_str(),
            "zonal"
        );
        let mut listed = nat_ids_by(&m.aws, "vpc-id", &net.vpc).await;
        listed.sort();
        let mut both = vec![id.clone(), zonal.clone()];
        both.sort();
        assert_eq!(listed, both);

        // what AWS refuses or changes
        let spare = elastic_ip(&m.aws).await;
        let with_subnet = m
            .aws
            .ec2
            .create_nat_gateway()
            .availability_mode(aws_sdk_ec2::types::AvailabilityMode::Regional)
            .vpc_id(&net.vpc)
            .subnet_id(&net.subnets[0])
            .send()
            .await;
        assert_eq!(code(&with_subnet), "InvalidParameterCombination");
        let without_vpc = m
            .aws
            .ec2
            .create_nat_gateway()
            .availability_mode(aws_sdk_ec2::types::AvailabilityMode::Regional)
            .send()
            .await;
        assert_eq!(code(&without_vpc), "MissingParameter");
        let elsewhere =
            create_regional_nat(&m.aws, &net.vpc, &[("eu-west-1a", &spare)], None).await;
        assert_eq!(elsewhere.unwrap_err(), "InvalidParameterValue");
        let private = m
            .aws
            .ec2
            .create_nat_gateway()
            .availability_mode(aws_sdk_ec2::types::AvailabilityMode::Regional)
            .vpc_id(&net.vpc)
            .connectivity_type(aws_sdk_ec2::types::ConnectivityType::Private)
            .send()
            .await
            .unwrap()
            .nat_gateway
            .unwrap();
        assert_eq!(private.connectivity_type().unwrap().as_str(), "public");
        assert_eq!(private.auto_provision_zones().unwrap().as_str(), "enabled");
        // a VPC without an internet gateway: it fails as a zonal one does
        let bare = m
            .aws
            .ec2
            .create_vpc()
            .cidr_block("10.1.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let stranded = create_regional_nat(&m.aws, &bare, &[("us-east-1a", &spare)], None)
            .await
            .unwrap();
        assert_eq!(stranded.route_table_id(), None);
        let stranded = stranded.nat_gateway_id().unwrap().to_string();
        reaches(Instant::now(), Duration::ZERO, "failed", || async {
            regional_nat(&m.aws, &stranded)
                .await
                .state()
                .unwrap()
                .as_str()
                == "failed"
        })
        .await;
        let failed = regional_nat(&m.aws, &stranded).await;
        assert_eq!(failed.failure_code(), Some("Gateway.NotAttached"));
        // a failed gateway holds nothing
        assert_eq!(address_association(&m.aws, &spare).await, None);
        let deleted = m.aws.ec2.delete_vpc().vpc_id(&bare).send().await;
        assert_eq!(code(&deleted), "");

        // deleted, routes to it stay as blackholes
        m.aws
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&id)
            .send()
            .await
            .unwrap();
        reaches(Instant::now(), Duration::ZERO, "deleted", || async {
            regional_nat(&m.aws, &id).await.state().unwrap().as_str() == "deleted"
        })
        .await;
        assert_eq!(
            default_route(table.clone()).await,
            (Some(id.clone()), None, Some("blackhole".into()))
        );
    });
}
