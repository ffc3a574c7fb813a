//! Reads that hang off the environment's VPC, group and load balancer rather
//! than being found by tags.

use super::*;

/// The target of the group's CPU policy and its refresh under way, by the group's name.
pub(super) async fn group_facts(
    clients: &AwsClients,
    group: &str,
) -> Result<(Option<autoscaling::CpuPolicy>, Option<Refresh>), AwsError> {
    futures::try_join!(
        autoscaling::cpu_policy(&clients.autoscaling, &clients.batches, group),
        autoscaling::active_refresh(&clients.autoscaling, group),
    )
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
