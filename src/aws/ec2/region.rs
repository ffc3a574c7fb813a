//! What the region and the account offer, read when a plan is checked and
//! when apply picks zones and images: zones, images, instance types and where
//! they are offered, key pairs, the Elastic IP quota, the default image.
//!
//! Every environment of a configuration asks these questions at the same
//! moment, and the answers are the same for all of them: each read joins the
//! others of its moment ([`Batches`]), so ten environments cost the calls of
//! one. Reads by several names go through filters, which never fail on a name
//! AWS does not know (a parameter list would fail the whole call for one).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use aws_sdk_ec2::types::LocationType;
use aws_sdk_ec2::Client;

use super::{filter, filter_any, tag_map};
use crate::aws::batch::{Batches, EC2_FILTER_VALUES};
use crate::error::AwsError;
use crate::plan::spec::TAG_ENVIRONMENT;

type Result<T> = std::result::Result<T, AwsError>;

/// The one key of a read whose answer is the region's (or the account's).
const REGION: &str = "region";

/// A read whose answer is the same for every reader of the moment.
async fn region_wide<T, F, Fut>(
    client: &Client,
    batches: &Batches,
    operation: &'static str,
    fetch: F,
) -> Result<T>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let found = batches
        .read_with(client, operation, REGION, 1, REGION, move |client, _| {
            let call = fetch(client);
            async move { Ok(vec![(REGION.to_string(), call.await?)]) }
        })
        .await?;
    found.into_iter().next().ok_or(AwsError::MissingField {
        operation,
        field: "answer",
    })
}

/// Names of the available availability zones of the region, sorted.
pub async fn available_zones(client: &Client, batches: &Batches) -> Result<Vec<String>> {
    region_wide(
        client,
        batches,
        "DescribeAvailabilityZones",
        |client| async move {
            let out = client
                .describe_availability_zones()
                .filters(filter("state", "available"))
                .filters(filter("zone-type", "availability-zone"))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeAvailabilityZones", e))?;
            let mut zones: Vec<String> = out
                .availability_zones()
                .iter()
                .filter_map(|z| z.zone_name().map(str::to_string))
                .collect();
            zones.sort();
            Ok(zones)
        },
    )
    .await
}

/// What the provider needs to know of an image to launch it as it should.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// where its root volume is made and how small that may be
    pub root: ImageRoot,
    /// `x86_64`, `arm64`, `i386`, ...
    pub architecture: String,
    /// `hvm` or `paravirtual` (empty when EC2 does not say)
    pub virtualization: String,
    /// `ebs` or `instance-store` (empty when EC2 does not say)
    pub root_device_type: String,
    /// whether it is enabled for ENA, which every Nitro type requires;
    /// `None` when EC2 does not say
    pub ena: Option<bool>,
    /// `available`, or `pending`, `failed`, `disabled`, ... (empty when EC2
    /// does not say)
    pub state: String,
    /// since when it is deprecated (RFC 3339), if that moment has come: AWS
    /// gives every public image a deprecation time two years ahead, which
    /// is no news
    pub deprecated_since: Option<String>,
    /// a Windows image
    pub windows: bool,
}

/// Where an image makes its instances' root volume, and how small that may be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageRoot {
    /// the device its root volume is made under (`/dev/xvda` on Amazon Linux,
    /// `/dev/sda1` on Ubuntu, Debian, RHEL, Windows and most others): the one
    /// mapping that sets the root volume's size and encryption
    pub device: String,
    /// the size of its root snapshot (GiB): EC2 refuses a smaller root volume
    /// (30 on Windows, 8 on most Linux images, more on some)
    pub snapshot_gib: Option<i32>,
}

impl Image {
    fn of(image: &aws_sdk_ec2::types::Image) -> Image {
        let device = image.root_device_name().unwrap_or_default().to_string();
        let snapshot_gib = image
            .block_device_mappings()
            .iter()
            .find(|m| m.device_name() == Some(device.as_str()))
            .and_then(|m| m.ebs()?.volume_size());
        Image {
            root: ImageRoot {
                device,
                snapshot_gib,
            },
            architecture: image
                .architecture()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            virtualization: image
                .virtualization_type()
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            root_device_type: image
                .root_device_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            ena: image.ena_support(),
            state: image
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            deprecated_since: image
                .deprecation_time()
                .filter(|at| has_come(at, std::time::SystemTime::now()))
                .map(str::to_string),
            windows: image
                .platform()
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("windows")),
        }
    }
}

/// The roots of the images read so far in this process, by image ID.
pub type KnownImageRoots = std::sync::Mutex<BTreeMap<String, ImageRoot>>;

/// Where each of `ids` makes its root volume and how small it may be, by ID
/// (an image that does not exist is left out). An image's block device
/// mappings never change, so each is asked for once per process (`known`):
/// every refresh and apply needs the roots of the images the environment runs.
pub async fn image_roots(
    client: &Client,
    batches: &Batches,
    known: &KnownImageRoots,
    ids: &[String],
) -> Result<BTreeMap<String, ImageRoot>> {
    let lock = || {
        known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    let unknown: Vec<String> = {
        let known = lock();
        ids.iter()
            .filter(|id| !known.contains_key(*id))
            .cloned()
            .collect()
    };
    let found = images(client, batches, &unknown).await?;
    let mut known = lock();
    known.extend(found.into_iter().map(|(id, image)| (id, image.root)));
    Ok(ids
        .iter()
        .filter_map(|id| Some((id.clone(), known.get(id)?.clone())))
        .collect())
}

/// Whether the RFC 3339 moment `at` is at or before `now` (an unreadable one
/// is not).
fn has_come(at: &str, now: std::time::SystemTime) -> bool {
    aws_smithy_types::DateTime::from_str(at, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .and_then(|at| std::time::SystemTime::try_from(at).ok())
        .is_some_and(|at| at <= now)
}

/// The image `id`, if it exists and this account may launch it (its own,
/// shared with it, or public; deprecated ones included, as asking by ID
/// includes them, and its own disabled ones, which plan names as such).
pub async fn image(client: &Client, batches: &Batches, id: &str) -> Result<Option<Image>> {
    let found = batches
        .read_with(
            client,
            "DescribeImages",
            "image-id",
            EC2_FILTER_VALUES,
            id,
            |client, ids| async move {
                let out = client
                    .describe_images()
                    .filters(filter_any("image-id", ids))
                    .include_deprecated(true)
                    .include_disabled(true)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeImages", e))?;
                Ok(out
                    .images()
                    .iter()
                    .map(|image| {
                        let id = image.image_id().unwrap_or_default().to_string();
                        (id, Image::of(image))
                    })
                    .collect())
            },
        )
        .await?;
    Ok(found.into_iter().next())
}

/// The images among `ids` that exist, by ID.
pub async fn images(
    client: &Client,
    batches: &Batches,
    ids: &[String],
) -> Result<BTreeMap<String, Image>> {
    let unique: BTreeSet<&String> = ids.iter().filter(|id| !id.is_empty()).collect();
    let found =
        futures::future::try_join_all(unique.iter().map(|id| image(client, batches, id))).await?;
    Ok(unique
        .into_iter()
        .zip(found)
        .filter_map(|(id, image)| Some((id.clone(), image?)))
        .collect())
}

/// The `(instance type, zone)` pairs the region offers among `types` and
/// `zones` (the region's zones: every reader asks about the same ones).
pub async fn instance_type_offerings(
    client: &Client,
    batches: &Batches,
    types: &[String],
    zones: &[String],
) -> Result<BTreeSet<(String, String)>> {
    let reads = types.iter().map(|kind| {
        let zones = zones.to_vec();
        batches.read_with(
            client,
            "DescribeInstanceTypeOfferings",
            "instance-type",
            EC2_FILTER_VALUES,
            kind,
            move |client, types| {
                let zones = zones.clone();
                async move {
                    let mut offered = Vec::new();
                    let mut pages = client
                        .describe_instance_type_offerings()
                        .location_type(LocationType::AvailabilityZone)
                        .filters(filter_any("instance-type", types))
                        .filters(filter_any("location", zones))
                        .into_paginator()
                        .send();
                    while let Some(page) = pages.next().await {
                        let page = page
                            .map_err(|e| AwsError::from_sdk("DescribeInstanceTypeOfferings", e))?;
                        for offering in page.instance_type_offerings() {
                            if let (Some(kind), Some(zone)) =
                                (offering.instance_type(), offering.location())
                            {
                                let kind = kind.as_str().to_string();
                                offered.push((kind.clone(), (kind, zone.to_string())));
                            }
                        }
                    }
                    Ok(offered)
                }
            },
        )
    });
    let answers = futures::future::try_join_all(reads).await?;
    Ok(answers.into_iter().flatten().collect())
}

/// What an instance type runs, as far as the images it can launch go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeFacts {
    /// `ProcessorInfo.SupportedArchitectures`: `x86_64`, `arm64`, ...
    pub architectures: Vec<String>,
    /// `hvm`, `paravirtual`
    pub virtualization_types: Vec<String>,
    /// `ebs`, `instance-store`
    pub root_device_types: Vec<String>,
    /// `NetworkInfo.EnaSupport`: `required` (every Nitro type), `supported`
    /// or `unsupported`
    pub ena: String,
}

impl TypeFacts {
    fn of(info: &aws_sdk_ec2::types::InstanceTypeInfo) -> TypeFacts {
        let texts = |values: Vec<&str>| values.into_iter().map(str::to_string).collect();
        TypeFacts {
            architectures: texts(
                info.processor_info()
                    .map(|p| p.supported_architectures())
                    .unwrap_or_default()
                    .iter()
                    .map(|a| a.as_str())
                    .collect(),
            ),
            virtualization_types: texts(
                info.supported_virtualization_types()
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            root_device_types: texts(
                info.supported_root_device_types()
                    .iter()
                    .map(|t| t.as_str())
                    .collect(),
            ),
            ena: info
                .network_info()
                .and_then(|n| n.ena_support())
                .map(|e| e.as_str().to_string())
                .unwrap_or_default(),
        }
    }
}

/// What each of `types` runs, by type; a type EC2 does not know is left out
/// (the offerings check names it). Asked by the `InstanceTypes` parameter
/// (100 a call), which answers in one page: a filter would page through every
/// type of the region. A type EC2 does not know fails the call
/// (`InvalidInstanceType`), which is then asked type by type.
pub async fn instance_type_facts(
    client: &Client,
    batches: &Batches,
    types: &[String],
) -> Result<BTreeMap<String, TypeFacts>> {
    let unique: BTreeSet<&String> = types.iter().collect();
    let reads = unique.iter().map(|kind| async move {
        let found = batches
            .read_with(
                client,
                "DescribeInstanceTypes",
                "InstanceTypes",
                100,
                kind,
                |client, types| async move {
                    let out = client
                        .describe_instance_types()
                        .set_instance_types(Some(types.iter().map(|t| t.as_str().into()).collect()))
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeInstanceTypes", e))
                        .map_err(unknown_type_is_not_found)?;
                    Ok(out
                        .instance_types()
                        .iter()
                        .filter_map(|info| {
                            Some((
                                info.instance_type()?.as_str().to_string(),
                                TypeFacts::of(info),
                            ))
                        })
                        .collect())
                },
            )
            .await;
        match found {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            other => other,
        }
    });
    let answers = futures::future::try_join_all(reads).await?;
    Ok(unique
        .into_iter()
        .zip(answers)
        .filter_map(|(kind, found)| Some((kind.clone(), found.into_iter().next()?)))
        .collect())
}

/// EC2's answer to a type it does not know, as the not-found it is.
fn unknown_type_is_not_found(error: AwsError) -> AwsError {
    match error {
        AwsError::Api {
            operation,
            code,
            message,
            request_id,
            ..
        } if code == "InvalidInstanceType" => AwsError::Api {
            operation,
            code,
            message,
            class: crate::error::ErrorClass::NotFound,
            request_id,
        },
        other => other,
    }
}

/// The account's Elastic IPs in this region: its quota, how many exist, and
/// how many of those are tagged for `environment` (which it reuses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressHeadroom {
    pub quota: usize,
    pub in_use: usize,
    pub environments_own: usize,
}

/// Reads the Elastic IP quota (`vpc-max-elastic-ips`) and the addresses that
/// count against it.
pub async fn address_headroom(
    client: &Client,
    batches: &Batches,
    environment: &str,
) -> Result<AddressHeadroom> {
    // the quota, and the environment tag of each address of the account
    let (quota, addresses): (usize, Vec<Option<String>>) = region_wide(
        client,
        batches,
        "DescribeAccountAttributes",
        |client| async move {
            let (attributes, addresses) = futures::try_join!(
                async {
                    client
                        .describe_account_attributes()
                        .attribute_names(aws_sdk_ec2::types::AccountAttributeName::from(
                            "vpc-max-elastic-ips",
                        ))
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeAccountAttributes", e))
                },
                async {
                    client
                        .describe_addresses()
                        .filters(filter("domain", "vpc"))
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DescribeAddresses", e))
                },
            )?;
            let quota = attributes
                .account_attributes()
                .iter()
                .filter(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
                .flat_map(|a| a.attribute_values())
                .find_map(|v| v.attribute_value()?.parse().ok())
                .unwrap_or(usize::MAX);
            let owners = addresses
                .addresses()
                .iter()
                .map(|a| tag_map(Some(a.tags())).remove(TAG_ENVIRONMENT))
                .collect();
            Ok((quota, owners))
        },
    )
    .await?;
    Ok(AddressHeadroom {
        quota,
        in_use: addresses.len(),
        environments_own: addresses
            .iter()
            .filter(|owner| owner.as_deref() == Some(environment))
            .count(),
    })
}

/// Whether a key pair of that name exists in the region.
pub async fn key_pair_exists(client: &Client, batches: &Batches, name: &str) -> Result<bool> {
    let found = batches
        .read_with(
            client,
            "DescribeKeyPairs",
            "key-name",
            EC2_FILTER_VALUES,
            name,
            |client, names| async move {
                let out = client
                    .describe_key_pairs()
                    .filters(filter_any("key-name", names))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeKeyPairs", e))?;
                Ok(out
                    .key_pairs()
                    .iter()
                    .filter_map(|k| Some((k.key_name()?.to_string(), ())))
                    .collect())
            },
        )
        .await?;
    Ok(!found.is_empty())
}

/// The architecture of the default image, the newest Amazon Linux 2023 x86_64.
pub const DEFAULT_IMAGE_ARCHITECTURE: &str = "x86_64";

/// The newest Amazon Linux 2023 x86_64 image published by Amazon.
pub async fn latest_amazon_linux(client: &Client, batches: &Batches) -> Result<String> {
    let newest: Option<String> =
        region_wide(client, batches, "DescribeImages", |client| async move {
            let out = client
                .describe_images()
                .owners("amazon")
                .filters(filter("name", "al2023-ami-2023.*-x86_64"))
                .filters(filter("state", "available"))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeImages", e))?;
            Ok(out
                .images()
                .iter()
                .filter(|image| image.image_id().is_some())
                .max_by_key(|image| image.creation_date().unwrap_or_default().to_string())
                .and_then(|image| image.image_id().map(str::to_string)))
        })
        .await?;
    newest.ok_or_else(|| {
        AwsError::Unsatisfiable(
            "no Amazon Linux 2023 image is visible in this region; set app.ami_id".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_deprecation_time_counts_once_it_has_come() {
        // 2026-01-01T00:00:00Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        assert!(has_come("2025-06-30T12:00:00.000Z", now));
        assert!(has_come("2026-01-01T00:00:00Z", now));
        // AWS's two years ahead for every public image
        assert!(!has_come("2027-06-30T12:00:00.000Z", now));
        assert!(!has_come("not a time", now));
    }
}
