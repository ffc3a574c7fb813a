//! Reads that hang off the environment's VPC, group and load balancer rather
//! than being found by tags.

use super::*;

/// What hangs off the group, read by its name.
#[derive(Default)]
pub(super) struct GroupFacts {
    pub(super) cpu_policy: Option<autoscaling::CpuPolicy>,
    /// its instance refresh under way
    pub(super) refresh: Option<Refresh>,
    /// its scaling policies besides the CPU policy, scheduled actions,
    /// lifecycle hooks and notification configurations
    pub(super) attachments: Vec<autoscaling::Attachment>,
}

/// The group's policies, refresh under way, scheduled actions, lifecycle
/// hooks and notification configurations, by the group's name.
pub(super) async fn group_facts(clients: &AwsClients, group: &str) -> Result<GroupFacts, AwsError> {
    let asg = &clients.autoscaling;
    let ((cpu_policy, policies), refresh, scheduled, hooks, notifications) = futures::try_join!(
        autoscaling::policies(asg, group),
        autoscaling::active_refresh(asg, group),
        autoscaling::scheduled_actions(asg, group),
        autoscaling::lifecycle_hooks(asg, group),
        autoscaling::notifications(asg, &clients.batches, group),
    )?;
    Ok(GroupFacts {
        cpu_policy,
        refresh,
        attachments: policies
            .into_iter()
            .chain(scheduled)
            .chain(hooks)
            .chain(notifications)
            .collect(),
    })
}

/// What is read of the VPC itself rather than found by tags.
pub(super) struct VpcFacts {
    /// `None` for a destroy, which compares nothing
    pub(super) dns: Option<VpcDns>,
    pub(super) default_group: Option<SecurityGroup>,
    /// every flow log of the VPC, the environment's own included; `None` when
    /// the credentials may not read them (an IAM policy older than the posture
    /// report): the report then leaves EC2.6 out
    pub(super) flow_logs: Option<Vec<Found>>,
    pub(super) network_acls: Vec<ec2::NetworkAcl>,
    /// the virtual private gateways attached to it: another's, as the
    /// environment attaches none
    pub(super) vpn_gateways: Vec<Found>,
}

/// The VPC's DNS settings (not for a destroy: `purpose`), its default
/// security group, flow logs, network ACLs and the virtual private gateways
/// attached to it. The default group is left out when `groups_listed`: a
/// discovery by the VPC lists it with the VPC's other groups.
pub(super) async fn vpc_facts(
    clients: &AwsClients,
    vpc: &str,
    groups_listed: bool,
    purpose: Purpose,
) -> Result<VpcFacts, AwsError> {
    let (dns, default_group, flow_logs, network_acls, vpn_gateways) = futures::try_join!(
        async {
            match purpose {
                Purpose::Compare => ec2::vpc_dns(&clients.ec2, vpc).await.map(Some),
                Purpose::Delete => Ok(None),
            }
        },
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
        ec2::vpn_gateways_attached(&clients.ec2, &clients.batches, vpc),
    )?;
    Ok(VpcFacts {
        dns,
        default_group,
        flow_logs,
        network_acls,
        vpn_gateways,
    })
}

/// Tags of ELB objects by ARN.
pub(super) async fn tags_in_chunks(
    clients: &AwsClients,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    elbv2::tags_of(&clients.elbv2, &clients.batches, arns).await
}

/// What hangs off the load balancer and target groups found by name or in the
/// VPC, read by their ARNs before it is known which are the environment's.
pub(super) struct ElbFacts {
    pub(super) listeners: Vec<Listener>,
    pub(super) load_balancer_attributes: Option<BTreeMap<String, String>>,
    /// every ARN's tags, the listeners' the state names included
    pub(super) tags: BTreeMap<String, BTreeMap<String, String>>,
    /// the rules of the listeners the state names
    pub(super) listener_rules: BTreeMap<String, Vec<elbv2::ListenerRule>>,
    /// the targets registered in each target group, by its ARN
    pub(super) registered: BTreeMap<String, Vec<elbv2::Target>>,
    pub(super) target_group_attributes: BTreeMap<String, BTreeMap<String, String>>,
}

/// The listeners and attributes of `load_balancer`, the tags of `arns` and of
/// the listeners the state names (`hinted_listeners`, with their rules), and
/// the targets and attributes of `groups`. For a destroy (`purpose`), only
/// the tags and the load balancer's attributes (its deletion protection).
pub(super) async fn elb_facts(
    clients: &AwsClients,
    load_balancer: Option<&LoadBalancer>,
    groups: &[TargetGroup],
    arns: &[String],
    hinted_listeners: &[String],
    purpose: Purpose,
) -> Result<ElbFacts, AwsError> {
    let elb = &clients.elbv2;
    let compared = match purpose {
        Purpose::Compare => groups,
        Purpose::Delete => &[],
    };
    let (listeners, load_balancer_attributes, (tags, listener_rules), (registered, attributes)) = futures::try_join!(
        async {
            match load_balancer {
                Some(lb) if purpose == Purpose::Compare => elbv2::listeners(elb, &lb.arn).await,
                _ => Ok(Vec::new()),
            }
        },
        async {
            match load_balancer {
                Some(lb) => elbv2::load_balancer_attributes(elb, &lb.arn)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        },
        async {
            // a listener replaced since the state was written fails the second
            // call; its tags are then read in round 3
            let (all, listeners, rules) = futures::join!(
                tags_in_chunks(clients, arns),
                tags_in_chunks(clients, hinted_listeners),
                elbv2::rules_of(elb, hinted_listeners),
            );
            let mut all = all?;
            all.extend(listeners.unwrap_or_default());
            Ok::<_, AwsError>((all, rules?))
        },
        async {
            let reads = compared.iter().map(|tg| async move {
                let (targets, attributes) = futures::try_join!(
                    elbv2::registered_targets(elb, &tg.arn),
                    elbv2::target_group_attributes(elb, &tg.arn),
                )?;
                Ok::<_, AwsError>(((tg.arn.clone(), targets), (tg.arn.clone(), attributes)))
            });
            let all = futures::future::try_join_all(reads).await?;
            Ok::<_, AwsError>(
                all.into_iter()
                    .unzip::<_, _, BTreeMap<_, _>, BTreeMap<_, _>>(),
            )
        },
    )?;
    Ok(ElbFacts {
        listeners,
        load_balancer_attributes,
        tags,
        listener_rules,
        registered,
        target_group_attributes: attributes,
    })
}

/// Whether each of `volumes` is encrypted, and whether the bastion is
/// protected from termination and from being stopped.
pub(super) async fn instance_facts(
    clients: &AwsClients,
    volumes: &[String],
    bastion: Option<&str>,
) -> Result<(BTreeMap<String, bool>, bool, bool), AwsError> {
    futures::try_join!(
        ec2::volumes_encrypted(&clients.ec2, &clients.batches, volumes),
        async {
            match bastion {
                Some(id) => ec2::termination_protected(&clients.ec2, id).await,
                None => Ok(false),
            }
        },
        async {
            match bastion {
                Some(id) => ec2::stop_protected(&clients.ec2, id).await,
                None => Ok(false),
            }
        }
    )
}
