//! The bastion instance, its instance profile, metadata options and volumes,
//! and the instances' states.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, BlockDeviceMapping, EbsBlockDevice, HttpTokensState,
    IamInstanceProfileAssociationState, IamInstanceProfileSpecification,
    InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification, ResourceType,
    VolumeType,
};
use aws_sdk_ec2::Client;

use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;
use crate::plan::spec::InstanceProfile;

use super::{
    filter, filter_any, required, tag_spec, Hardening, InstanceSettings, Layout, Result, Tags,
};
/// Leaves `InsufficientInstanceCapacity` to the caller: AWS answers it with
/// HTTP 500, which the SDK would retry in the same zone for seconds, while
/// the zone lacks capacity for minutes; the caller tries another zone.
#[derive(Debug, Clone, Copy)]
struct NoCapacityInZone;

impl aws_sdk_ec2::config::retry::ClassifyRetry for NoCapacityInZone {
    fn classify_retry(
        &self,
        ctx: &aws_sdk_ec2::config::interceptors::InterceptorContext,
    ) -> aws_sdk_ec2::config::retry::RetryAction {
        use aws_sdk_ec2::config::retry::RetryAction;
        use aws_sdk_ec2::error::ProvideErrorMetadata;
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let code = error
            .as_operation_error()
            .and_then(|e| {
                e.downcast_ref::<aws_sdk_ec2::operation::run_instances::RunInstancesError>()
            })
            .and_then(|e| e.code());
        if code == Some(crate::error::INSUFFICIENT_CAPACITY) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "no capacity in the zone"
    }
}

/// Launches the bastion: IMDSv2 only, encrypted root volume, public IP.
pub async fn run_bastion(
    client: &Client,
    subnet: &str,
    settings: &InstanceSettings,
    token: &str,
    tags: &Tags,
) -> Result<String> {
    let out = client
        .run_instances()
        .image_id(&settings.ami_id)
        .instance_type(settings.instance_type.as_str().into())
        .min_count(1)
        .max_count(1)
        .client_token(token)
        .set_key_name(settings.key_name.clone())
        .set_iam_instance_profile(
            settings
                .iam_instance_profile
                .as_ref()
                .map(profile_specification),
        )
        .network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(subnet)
                .associate_public_ip_address(settings.hardening.public_ip)
                .groups(&settings.security_group)
                .build(),
        )
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(if settings.hardening.tokens_required {
                    HttpTokensState::Required
                } else {
                    HttpTokensState::Optional
                })
                .http_put_response_hop_limit(settings.layout.metadata_hop_limit)
                .build(),
        )
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(&settings.root_device)
                .ebs(
                    EbsBlockDevice::builder()
                        .encrypted(settings.hardening.root_volume_encrypted)
                        .volume_type(VolumeType::Gp3)
                        .volume_size(settings.layout.root_volume_gib)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .tag_specifications(tag_spec(ResourceType::Instance, tags))
        .tag_specifications(tag_spec(ResourceType::Volume, tags))
        .customize()
        .config_override(aws_sdk_ec2::Config::builder().retry_classifier(NoCapacityInZone))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RunInstances", e))?;
    Ok(required(
        out.instances().first().and_then(|i| i.instance_id()),
        "RunInstances",
        "InstanceId",
    )?
    .to_string())
}

fn profile_specification(profile: &InstanceProfile) -> IamInstanceProfileSpecification {
    let builder = IamInstanceProfileSpecification::builder();
    if profile.is_arn() {
        builder.arn(profile.as_str()).build()
    } else {
        builder.name(profile.as_str()).build()
    }
}

/// The ID of the association that gives `instance` its instance profile, if one
/// is in place or being made.
pub async fn instance_profile_association(
    client: &Client,
    instance: &str,
) -> Result<Option<String>> {
    let out = client
        .describe_iam_instance_profile_associations()
        .filters(filter("instance-id", instance))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeIamInstanceProfileAssociations", e))?;
    Ok(out
        .iam_instance_profile_associations()
        .iter()
        .filter(|a| {
            matches!(
                a.state(),
                Some(IamInstanceProfileAssociationState::Associated)
                    | Some(IamInstanceProfileAssociationState::Associating)
            )
        })
        .find_map(|a| a.association_id().map(str::to_string)))
}

/// Sets, replaces or removes the instance profile of a running instance, in place.
pub async fn set_instance_profile(
    client: &Client,
    instance: &str,
    profile: Option<&InstanceProfile>,
) -> Result<()> {
    let association = instance_profile_association(client, instance).await?;
    match (association, profile) {
        (None, None) => {}
        (None, Some(profile)) => {
            client
                .associate_iam_instance_profile()
                .instance_id(instance)
                .iam_instance_profile(profile_specification(profile))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("AssociateIamInstanceProfile", e))?;
        }
        (Some(association), Some(profile)) => {
            client
                .replace_iam_instance_profile_association()
                .association_id(association)
                .iam_instance_profile(profile_specification(profile))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ReplaceIamInstanceProfileAssociation", e))?;
        }
        (Some(association), None) => {
            client
                .disassociate_iam_instance_profile()
                .association_id(association)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DisassociateIamInstanceProfile", e))?;
        }
    }
    Ok(())
}

/// Sets a running instance's metadata options to the ones it was launched
/// with (`hardening` and `layout`), in place. Every option is named, so none
/// is left as someone else changed it.
pub async fn set_metadata_options(
    client: &Client,
    instance: &str,
    hardening: &Hardening,
    layout: &Layout,
) -> Result<()> {
    client
        .modify_instance_metadata_options()
        .instance_id(instance)
        .http_tokens(if hardening.tokens_required {
            HttpTokensState::Required
        } else {
            HttpTokensState::Optional
        })
        .http_put_response_hop_limit(layout.metadata_hop_limit)
        .http_endpoint(if layout.metadata_endpoint_enabled {
            aws_sdk_ec2::types::InstanceMetadataEndpointState::Enabled
        } else {
            aws_sdk_ec2::types::InstanceMetadataEndpointState::Disabled
        })
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceMetadataOptions", e))?;
    Ok(())
}

/// Sets the security groups of a running instance, in place.
pub async fn set_instance_groups(client: &Client, instance: &str, groups: &[String]) -> Result<()> {
    client
        .modify_instance_attribute()
        .instance_id(instance)
        .set_groups(Some(groups.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute", e))?;
    Ok(())
}

/// Turns the instance's source/destination check back on: it takes only
/// traffic addressed to it, as every instance AWS launches does.
pub async fn check_source_dest(client: &Client, instance: &str) -> Result<()> {
    client
        .modify_instance_attribute()
        .instance_id(instance)
        .source_dest_check(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute", e))?;
    Ok(())
}

/// Whether each volume is encrypted, by volume ID; a volume that no longer
/// exists is left out. The reads of several environments at the same moment
/// share calls (selected by filter: an unknown ID fails no one's read).
pub async fn volumes_encrypted(
    client: &Client,
    batches: &Batches,
    ids: &[String],
) -> Result<BTreeMap<String, bool>> {
    let reads = ids.iter().map(|id| {
        batches.read_with(
            client,
            "DescribeVolumes",
            "volume-id",
            EC2_FILTER_VALUES,
            id,
            |client, ids| async move {
                let out = client
                    .describe_volumes()
                    .filters(filter_any("volume-id", ids))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeVolumes", e))?;
                Ok(out
                    .volumes()
                    .iter()
                    .filter_map(|v| {
                        let id = v.volume_id()?.to_string();
                        Some((id.clone(), (id, v.encrypted().unwrap_or(false))))
                    })
                    .collect())
            },
        )
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

pub async fn terminate_instances(client: &Client, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    client
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("TerminateInstances", e))?;
    Ok(())
}

/// Starts a stopped instance (AWS gives it a new public IPv4 address).
pub async fn start_instance(client: &Client, id: &str) -> Result<()> {
    client
        .start_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("StartInstances", e))?;
    Ok(())
}

/// The state of instance `id` (`pending`, `running`, `stopping`, `stopped`,
/// ...) with its public IPv4 address; `None` once it is gone.
pub async fn instance_state(client: &Client, id: &str) -> Result<Option<(String, String)>> {
    let out = client.describe_instances().instance_ids(id).send().await;
    match out {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .map(|i| {
                (
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    i.public_ip_address().unwrap_or_default().to_string(),
                )
            })),
        Err(e) => AwsError::from_sdk("DescribeInstances", e).or_gone(None),
    }
}

/// The instances among `ids` that are not terminated yet. The waits of every
/// environment polling at the same moment share calls, by filter: an instance
/// AWS no longer lists is simply absent (naming it as a parameter would fail
/// the call for every instance it carries), and a filtered describe draws
/// from EC2's larger bucket.
pub async fn live_instances(
    client: &Client,
    batches: &Batches,
    ids: &[String],
) -> Result<Vec<String>> {
    let reads = ids.iter().map(|id| {
        batches.read_with(
            client,
            "DescribeInstances",
            "instance-id",
            EC2_FILTER_VALUES,
            id,
            |client, ids| async move {
                let mut states = Vec::new();
                let mut pages = client
                    .describe_instances()
                    .filters(filter_any("instance-id", ids))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::from_sdk("DescribeInstances", e))?;
                    for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                        let state = instance.state().and_then(|s| s.name());
                        let state = state.map(|n| n.as_str().to_string());
                        if let Some(id) = instance.instance_id() {
                            states.push((id.to_string(), state.unwrap_or_default()));
                        }
                    }
                }
                Ok(states)
            },
        )
    });
    let states = futures::future::try_join_all(reads).await?;
    Ok(ids
        .iter()
        .zip(states)
        .filter(|(_, states)| states.iter().any(|state| state != "terminated"))
        .map(|(id, _)| id.clone())
        .collect())
}
