//! Reads that hang off the environment's VPC, group and load balancer rather
//! than being found by tags.

use super::*;

/// What hangs off the group, read by its name.
#[derive(Default)]
pub(super) struct GroupFacts {
    pub(super) cpu_policy: Option<autoscaling::CpuPolicy>,
    /// its instance refresh under way
    pub(super) refresh: Option<Refresh>,
    /// its scaling policies besides the CPU policy, scheduled actions and
    /// lifecycle hooks
    pub(super) attachments: Vec<autoscaling::Attachment>,
}

/// The group's policies, refresh under way, scheduled actions and lifecycle
/// hooks, by the group's name.
pub(super) async fn group_facts(clients: &AwsClients, group: &str) -> Result<GroupFacts, AwsError> {
    let asg = &clients.autoscaling;
    let ((cpu_policy, policies), refresh, scheduled, hooks) = futures::try_join!(
        autoscaling::policies(asg, group),
        autoscaling::active_refresh(asg, group),
        autoscaling::scheduled_actions(asg, group),
        autoscaling::lifecycle_hooks(asg, group),
    )?;
    Ok(GroupFacts {
        cpu_policy,
        refresh,
        attachments: policies.into_iter().chain(scheduled).chain(hooks).collect(),
    })
}

/// What is read of the VPC itself rather than found by tags.
pub(super) struct VpcFacts {
    pub(super) dns: VpcDns,
    pub(super) default_group: Option<SecurityGroup>,
    /// every flow log of the VPC, the environment's own included; `None` when
    /// the credentials may not read them (an IAM policy older than the posture
    /// report): the report then leaves EC2.6 out
    pub(super) flow_logs: Option<Vec<Found>>,
    pub(super) network_acls: Vec<ec2::NetworkAcl>,
}

/// The VPC's DNS settings, its default security group and its flow logs. The
/// default group is left out when `groups_listed`: a discovery by the VPC
/// lists it with the VPC's other groups.
pub(super) async fn vpc_facts(
    clients: &AwsClients,
    vpc: &str,
    groups_listed: bool,
) -> Result<VpcFacts, AwsError> {
    let (dns, default_group, flow_logs, network_acls) = futures::try_join!(
        ec2::vpc_dns(&clients.ec2, vpc),
        async {
            if groups_listed {
                return Ok(None);
            }
            ec2::default_security_group(&clients.ec2, vpc).await
        },
        async {
            match ec2::flow_logs(&clients.ec2, &clients.batches, vpc).await {
                Ok(logs) => Ok(Some(logs)),
                Err(error) if error.is_access_denied() => Ok(None),
                Err(error) => Err(error),
            }
        },
        ec2::network_acls(&clients.ec2, &clients.batches, vpc),
    )?;
    Ok(VpcFacts {
        dns,
        default_group,
        flow_logs,
        network_acls,
    })
}

/// Tags of ELB objects by ARN.
pub(super) async fn tags_in_chunks(
    clients: &AwsClients,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    elbv2::tags_of(&clients.elbv2, &clients.batches, arns).await
}
