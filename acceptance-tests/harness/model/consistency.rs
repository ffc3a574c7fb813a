//! Eventual consistency: right after an object is created, other calls that
//! name it may not find it yet. The window is real time (AWS's propagation
//! does not speed up with the test clock).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::xml::Element;
use super::{Call, Refusal};

/// Which element of a create call's answer names the object it created.
const CREATED: &[(&str, &str)] = &[
    ("ec2:CreateVpc", "vpcId"),
    ("ec2:CreateSubnet", "subnetId"),
    ("ec2:CreateSecurityGroup", "groupId"),
    ("ec2:CreateRouteTable", "routeTableId"),
    ("ec2:CreateInternetGateway", "internetGatewayId"),
    ("ec2:AllocateAddress", "allocationId"),
    ("ec2:CreateNatGateway", "natGatewayId"),
    ("ec2:CreateLaunchTemplate", "launchTemplateId"),
    ("ec2:CreateVpcEndpoint", "vpcEndpointId"),
    ("ec2:RunInstances", "instanceId"),
    ("elasticloadbalancing:CreateTargetGroup", "TargetGroupArn"),
    ("elasticloadbalancing:CreateLoadBalancer", "LoadBalancerArn"),
    ("elasticloadbalancing:CreateListener", "ListenerArn"),
];

/// The element of a listed object that names it, for every kind the
/// provider creates without a ClientToken or lists by tag.
const LISTED: &[&str] = &[
    "vpcId",
    "subnetId",
    "groupId",
    "allocationId",
    "internetGatewayId",
    "routeTableId",
    "natGatewayId",
    "vpcEndpointId",
    "launchTemplateId",
    "instanceConnectEndpointId",
];

/// Objects created through the layer and when.
#[derive(Debug, Default)]
pub struct Recent {
    created: HashMap<String, Instant>,
}

impl Recent {
    /// Remembers what a successful create call made (a replayed answer keeps
    /// the first creation time).
    pub fn learn(&mut self, call: &Call, answer: &Element, now: Instant) {
        let key = call.key();
        let Some((_, tag)) = CREATED.iter().find(|(action, _)| *action == key) else {
            return;
        };
        for id in answer.texts(tag) {
            self.created.entry(id).or_insert(now);
        }
    }

    /// Remembers an object the model created itself (moto never saw it).
    pub fn note(&mut self, id: &str, now: Instant) {
        self.created.entry(id.to_string()).or_insert(now);
    }

    /// Listing lag: an EC2 describe that selects by filters alone (no
    /// identifiers) leaves out the objects created less than `lag` ago, as AWS
    /// lists a new object only a moment after it answered the create; a
    /// describe by identifier finds it (unless [`Recent::young`] says otherwise).
    pub fn hide_young(&self, call: &Call, answer: &mut Element, lag: Duration, now: Instant) {
        if call.service != "ec2" || !call.action.starts_with("Describe") {
            return;
        }
        let selects_by_filter_alone = call.params.iter().all(|(name, _)| {
            matches!(
                name.as_str(),
                "Action" | "Version" | "MaxResults" | "NextToken"
            ) || name.starts_with("Filter.")
        });
        if !selects_by_filter_alone {
            return;
        }
        let young = |id: &str| {
            self.created
                .get(id)
                .is_some_and(|at| now.duration_since(*at) < lag)
        };
        answer.retain_listed(&mut |item| {
            !LISTED
                .iter()
                .any(|name| item.child_text(name).is_some_and(young))
        });
    }

    /// The first identifier the call names that is younger than `window`, and
    /// under which parameter. Filters are left alone: AWS answers them with an
    /// empty list rather than an error, which moto does as well for unknown IDs.
    pub fn young<'c>(
        &self,
        call: &'c Call,
        window: Duration,
        now: Instant,
    ) -> Option<(&'c str, &'c str)> {
        call.params
            .iter()
            .filter(|(name, _)| !name.starts_with("Filter."))
            .flat_map(|(name, value)| value.split(',').map(move |id| (name.as_str(), id.trim())))
            .find(|(_, id)| {
                self.created
                    .get(*id)
                    .is_some_and(|at| now.saturating_duration_since(*at) < window)
            })
    }
}

/// The error AWS gives when a call names an object it cannot see yet.
pub fn not_found(call: &Call, id: &str) -> Refusal {
    let bad = |code: &str, message: String| Refusal::new(400, code, &message);
    match call.service.as_str() {
        "elasticloadbalancing" => match id {
            _ if id.starts_with("vpc-") => bad("ValidationError", format!("The VPC ID '{id}' is not found")),
            _ if id.starts_with("sg-") => bad("InvalidSecurityGroup", format!("Security group '{id}' does not exist")),
            _ if id.starts_with("subnet-") => bad("SubnetNotFound", format!("The subnet ID '{id}' is not found")),
            _ if id.starts_with("i-") => bad(
                "InvalidTarget",
                format!("The following targets are not in a running state and cannot be registered: '{id}'"),
            ),
            _ if id.contains(":targetgroup/") => bad("TargetGroupNotFound", format!("Target groups '{id}' not found")),
            _ if id.contains(":listener/") => bad("ListenerNotFound", "One or more listeners not found".into()),
            _ => bad("LoadBalancerNotFound", "One or more load balancers not found".into()),
        },
        "autoscaling" => match id {
            _ if id.starts_with("lt-") => bad(
                "ValidationError",
                format!("You must use a valid fully-formed launch template. The specified launch template, with template ID {id}, does not exist."),
            ),
            _ if id.starts_with("subnet-") => bad("ValidationError", format!("The subnet ID '{id}' does not exist")),
            _ if id.contains(":targetgroup/") => bad(
                "ValidationError",
                "Provided Target Groups may not be valid. Please ensure they exist and try again.".into(),
            ),
            _ => bad("ValidationError", format!("The resource '{id}' does not exist")),
        },
        _ => {
            let (code, noun) = match id.split('-').next().unwrap_or_default() {
                "vpc" => ("InvalidVpcID.NotFound", "vpc ID"),
                "subnet" => ("InvalidSubnetID.NotFound", "subnet ID"),
                "sg" => ("InvalidGroup.NotFound", "security group"),
                "rtb" => ("InvalidRouteTableID.NotFound", "routeTable ID"),
                "igw" => ("InvalidInternetGatewayID.NotFound", "internetGateway ID"),
                "eipalloc" => ("InvalidAllocationID.NotFound", "allocation ID"),
                "nat" => ("InvalidNatGatewayID.NotFound", "natGateway ID"),
                "lt" => ("InvalidLaunchTemplateId.NotFound", "launch template ID"),
                "vpce" => ("InvalidVpcEndpointId.NotFound", "vpcEndpoint ID"),
                "eice" => (
                    "InvalidInstanceConnectEndpointId.NotFound",
                    "instanceConnectEndpoint ID",
                ),
                _ => ("InvalidInstanceID.NotFound", "instance ID"),
            };
            bad(code, format!("The {noun} '{id}' does not exist"))
        }
    }
}
