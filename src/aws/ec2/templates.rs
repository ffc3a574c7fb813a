//! Launch templates: what the provider's instances run ([`InstanceSettings`]),
//! written as template versions and read back to be compared.

use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateTagSpecificationRequest,
    RequestLaunchTemplateData, ResourceType, VolumeType,
};
use aws_sdk_ec2::Client;

use crate::error::AwsError;
use crate::plan::spec::InstanceProfile;

use super::{required, sdk_tags, tag_spec, Result, Tags};

/// What an instance launched by the provider runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceSettings {
    pub ami_id: String,
    pub instance_type: String,
    pub security_group: String,
    pub user_data: Option<String>,
    /// the version of a write-only script (`app.user_data_wo_version`), which
    /// the launch template version's description records: with it, the
    /// version, not the script, is compared, as no state holds the script
    pub user_data_version: Option<i64>,
    pub key_name: Option<String>,
    pub iam_instance_profile: Option<InstanceProfile>,
    /// the device the root volume is mapped under: the image's root device
    /// name, so that the mapping sets the real root volume's size and
    /// encryption rather than adding an empty volume beside it
    pub root_device: String,
    pub hardening: Hardening,
    pub layout: Layout,
}

/// The rest of what the provider sets on an instance: one network interface,
/// the metadata service's reach, the root volume. A template version that
/// differs in any of them (a second interface, a metadata hop more, a
/// smaller volume) is not the provider's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub network_interfaces: usize,
    /// hops a metadata response may travel: 2 lets containers on the app
    /// instances reach it, 1 keeps it on the bastion itself
    pub metadata_hop_limit: i32,
    pub metadata_endpoint_enabled: bool,
    /// gp3, GiB
    pub root_volume_gib: i32,
    /// volumes mapped: the root volume only
    pub block_devices: usize,
}

impl Layout {
    /// The app instances' layout: a 20 GiB root volume unless their image's
    /// root snapshot is larger (see [`Layout::for_image`]).
    pub const APP: Layout = Layout {
        network_interfaces: 1,
        metadata_hop_limit: 2,
        metadata_endpoint_enabled: true,
        root_volume_gib: 20,
        block_devices: 1,
    };
    pub const BASTION: Layout = Layout {
        network_interfaces: 1,
        metadata_hop_limit: 1,
        metadata_endpoint_enabled: true,
        root_volume_gib: 8,
        block_devices: 1,
    };

    /// This layout for an image whose root is `root`: EC2 refuses a root
    /// volume smaller than the image's root snapshot (30 GiB on Windows, more
    /// on some images), so the volume is at least that large.
    pub fn for_image(self, root: &super::ImageRoot) -> Layout {
        Layout {
            root_volume_gib: self.root_volume_gib.max(root.snapshot_gib.unwrap_or(0)),
            ..self
        }
    }

    /// What differs from `wanted`, worded for the plan.
    fn differences(&self, wanted: &Layout) -> Vec<String> {
        let mut found = Vec::new();
        if self.network_interfaces != wanted.network_interfaces {
            found.push(format!(
                "{} network interfaces instead of {}",
                self.network_interfaces, wanted.network_interfaces
            ));
        }
        if self.metadata_hop_limit != wanted.metadata_hop_limit {
            found.push(format!(
                "metadata hop limit {} instead of {}",
                self.metadata_hop_limit, wanted.metadata_hop_limit
            ));
        }
        if self.metadata_endpoint_enabled != wanted.metadata_endpoint_enabled {
            found.push("the metadata endpoint is disabled".into());
        }
        if self.block_devices != wanted.block_devices {
            found.push(format!(
                "{} volumes mapped instead of {}",
                self.block_devices, wanted.block_devices
            ));
        }
        if self.root_volume_gib != wanted.root_volume_gib {
            found.push(format!(
                "a {} GiB gp3 root volume instead of {} GiB",
                self.root_volume_gib, wanted.root_volume_gib
            ));
        }
        found
    }
}

/// The security settings of an instance, compared like the rest so that a
/// weakened copy is never taken for the real thing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hardening {
    /// IMDSv2 only: metadata requests need a session token
    pub tokens_required: bool,
    pub root_volume_encrypted: bool,
    pub public_ip: bool,
}

impl Hardening {
    /// The app instances: IMDSv2 only, encrypted root volume, no public IP.
    pub const APP: Hardening = Hardening {
        tokens_required: true,
        root_volume_encrypted: true,
        public_ip: false,
    };
    /// The bastion: as the app instances, but reachable from the internet.
    pub const BASTION: Hardening = Hardening {
        tokens_required: true,
        root_volume_encrypted: true,
        public_ip: true,
    };

    /// What differs from `wanted`, worded for the plan.
    pub fn weakened(&self, wanted: &Hardening) -> Vec<&'static str> {
        let mut differences = Vec::new();
        if self.tokens_required != wanted.tokens_required {
            differences.push(if wanted.tokens_required {
                "IMDSv2 is optional"
            } else {
                "IMDSv2 is required"
            });
        }
        if self.root_volume_encrypted != wanted.root_volume_encrypted {
            differences.push(if wanted.root_volume_encrypted {
                "the root volume is unencrypted"
            } else {
                "the root volume is encrypted"
            });
        }
        if self.public_ip != wanted.public_ip {
            differences.push(if wanted.public_ip {
                "there is no public IP"
            } else {
                "a public IP is assigned"
            });
        }
        differences
    }
}

impl InstanceSettings {
    /// Whether a template version with these settings is the configured one
    /// (`wanted`): nothing in [`Self::differences`]. Not equality: a write-only
    /// script is judged by its version, as a plan judges it, so a changed
    /// script under the same version never rolls the instances.
    pub fn fits(&self, wanted: &InstanceSettings) -> bool {
        self.differences(wanted).is_empty()
    }

    /// What differs from `wanted`, worded for the plan (`type t3.large instead of t3.micro`).
    pub fn differences(&self, wanted: &InstanceSettings) -> Vec<String> {
        let mut found = Vec::new();
        let mut compare = |name: &str, actual: &str, expected: &str| {
            if actual != expected {
                found.push(format!("{name} {actual:?} instead of {expected:?}"));
            }
        };
        compare("image", &self.ami_id, &wanted.ami_id);
        compare("type", &self.instance_type, &wanted.instance_type);
        compare("root device", &self.root_device, &wanted.root_device);
        compare(
            "security group",
            &self.security_group,
            &wanted.security_group,
        );
        compare(
            "key",
            self.key_name.as_deref().unwrap_or("none"),
            wanted.key_name.as_deref().unwrap_or("none"),
        );
        if self.iam_instance_profile != wanted.iam_instance_profile {
            compare(
                "instance profile",
                InstanceProfile::text_of(self.iam_instance_profile.as_ref()),
                InstanceProfile::text_of(wanted.iam_instance_profile.as_ref()),
            );
        }
        match wanted.user_data_version {
            Some(version) if self.user_data_version != Some(version) => found.push(format!(
                "user data version {} instead of {version}",
                self.user_data_version
                    .map_or_else(|| "none".to_string(), |v| v.to_string())
            )),
            Some(_) => {}
            None if self.user_data != wanted.user_data => found.push("other user data".into()),
            // the same script, but recorded as write-only: import and the
            // next refresh would read it back as such
            None if self.user_data_version.is_some() => {
                found.push("user data recorded as write-only".into())
            }
            None => {}
        }
        found.extend(
            self.hardening
                .weakened(&wanted.hardening)
                .into_iter()
                .map(str::to_string),
        );
        found.extend(self.layout.differences(&wanted.layout));
        found
    }
}

/// The app instances' template data: IMDSv2 only, encrypted gp3 root volume, no public IP.
fn launch_template_data(settings: &InstanceSettings, tags: &Tags) -> RequestLaunchTemplateData {
    use base64::Engine;
    let instance_tags = |resource| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(resource)
            .set_tags(Some(sdk_tags(tags)))
            .build()
    };
    RequestLaunchTemplateData::builder()
        .image_id(&settings.ami_id)
        .instance_type(settings.instance_type.as_str().into())
        // explicit: instances of the app never get a public address, whatever the subnet says
        .network_interfaces(
            aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .device_index(0)
                .associate_public_ip_address(settings.hardening.public_ip)
                .groups(&settings.security_group)
                .delete_on_termination(true)
                .build(),
        )
        .set_user_data(
            settings
                .user_data
                .as_ref()
                .map(|u| base64::engine::general_purpose::STANDARD.encode(u)),
        )
        .set_key_name(settings.key_name.clone())
        .set_iam_instance_profile(settings.iam_instance_profile.as_ref().map(|profile| {
            let builder = LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
            // as configured: the template is read back and compared as written
            if profile.is_arn() {
                builder.arn(profile.as_str()).build()
            } else {
                builder.name(profile.as_str()).build()
            }
        }))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(if settings.hardening.tokens_required {
                    LaunchTemplateHttpTokensState::Required
                } else {
                    LaunchTemplateHttpTokensState::Optional
                })
                .http_endpoint(
                    aws_sdk_ec2::types::LaunchTemplateInstanceMetadataEndpointState::Enabled,
                )
                .http_put_response_hop_limit(settings.layout.metadata_hop_limit)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(&settings.root_device)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .encrypted(settings.hardening.root_volume_encrypted)
                        .volume_type(VolumeType::Gp3)
                        .volume_size(settings.layout.root_volume_gib)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .tag_specifications(instance_tags(ResourceType::Instance))
        .tag_specifications(instance_tags(ResourceType::Volume))
        .build()
}

/// What a launch template version's description starts with when its user
/// data is write-only, followed by `app.user_data_wo_version`.
const USER_DATA_VERSION_MARK: &str = "user_data_wo_version=";

/// The description of a template version with `settings`: the version of a
/// write-only script, which a refresh reads back in place of the script.
fn version_description(settings: &InstanceSettings) -> Option<String> {
    settings
        .user_data_version
        .map(|version| format!("{USER_DATA_VERSION_MARK}{version}"))
}

/// The write-only script's version a template version's description records.
fn user_data_version(description: &str) -> Option<i64> {
    description
        .strip_prefix(USER_DATA_VERSION_MARK)?
        .parse()
        .ok()
}

/// Creates the app launch template; returns its id and version.
pub async fn create_launch_template(
    client: &Client,
    name: &str,
    settings: &InstanceSettings,
    tags: &Tags,
) -> Result<(String, i64)> {
    // every attempt (the SDK's, and a caller's retry of the whole call) carries
    // the same token, for which AWS returns the template the first one made
    let out = client
        .create_launch_template()
        .client_token(crate::aws::create_once::token_for(tags))
        .launch_template_name(name)
        .set_version_description(version_description(settings))
        .launch_template_data(launch_template_data(settings, tags))
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateLaunchTemplate", e))?;
    let template = required(
        out.launch_template(),
        "CreateLaunchTemplate",
        "LaunchTemplate",
    )?;
    Ok((
        required(
            template.launch_template_id(),
            "CreateLaunchTemplate",
            "LaunchTemplateId",
        )?
        .to_string(),
        template.latest_version_number().unwrap_or(1),
    ))
}

/// Adds a version with new settings and makes it the default; returns its number.
pub async fn new_launch_template_version(
    client: &Client,
    id: &str,
    settings: &InstanceSettings,
    tags: &Tags,
) -> Result<i64> {
    let out = client
        .create_launch_template_version()
        .launch_template_id(id)
        .set_version_description(version_description(settings))
        .launch_template_data(launch_template_data(settings, tags))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateLaunchTemplateVersion", e))?;
    let version = required(
        out.launch_template_version()
            .and_then(|v| v.version_number()),
        "CreateLaunchTemplateVersion",
        "VersionNumber",
    )?;
    set_default_version(client, id, version).await?;
    Ok(version)
}

/// One version of a launch template and what it runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateVersion {
    /// the template's ID: a lookup by name may meet another account object's template
    pub template_id: String,
    pub number: i64,
    pub default: bool,
    pub settings: InstanceSettings,
}

/// A launch template, by ID or by name.
#[derive(Clone, Copy, Debug)]
pub enum TemplateRef<'a> {
    Id(&'a str),
    /// before its ID is known: a refresh reads the versions in the same round
    /// as the template itself
    Name(&'a str),
}

/// What the given versions of a launch template run (`$Default`, `$Latest` or
/// numbers), in one call; an unknown template or version reads as none.
pub async fn launch_template_versions(
    client: &Client,
    template: TemplateRef<'_>,
    versions: &[String],
) -> Result<Vec<TemplateVersion>> {
    let request = client
        .describe_launch_template_versions()
        .set_versions(Some(versions.to_vec()));
    let request = match template {
        TemplateRef::Id(id) => request.launch_template_id(id),
        TemplateRef::Name(name) => request.launch_template_name(name),
    };
    let out = request.send().await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            return AwsError::from_sdk("DescribeLaunchTemplateVersions", e).or_gone(Vec::new())
        }
    };
    Ok(out
        .launch_template_versions()
        .iter()
        .filter_map(|v| {
            Some(TemplateVersion {
                template_id: v.launch_template_id()?.to_string(),
                number: v.version_number()?,
                default: v.default_version().unwrap_or(false),
                settings: InstanceSettings {
                    user_data_version: v.version_description().and_then(user_data_version),
                    ..template_settings(v.launch_template_data()?)
                },
            })
        })
        .collect())
}

pub(super) fn template_settings(
    data: &aws_sdk_ec2::types::ResponseLaunchTemplateData,
) -> InstanceSettings {
    use base64::Engine;
    let interface = data.network_interfaces().first();
    // the provider maps one volume, the root; with more mapped, the first
    // speaks for the root and the count tells the version is not the provider's
    let root_mapping = data.block_device_mappings().first();
    let root_volume = root_mapping.and_then(|m| m.ebs());
    InstanceSettings {
        ami_id: data.image_id().unwrap_or_default().to_string(),
        instance_type: data
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        // every group, joined: a version with one more group is not the provider's
        security_group: data
            .network_interfaces()
            .iter()
            .flat_map(|n| n.groups())
            .chain(data.security_group_ids())
            .cloned()
            .collect::<std::collections::BTreeSet<String>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(","),
        user_data: data.user_data().and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
        }),
        // in the version's description, which `launch_template_versions` reads
        user_data_version: None,
        key_name: data.key_name().map(str::to_string),
        // read back as written: by ARN when the template names one, else by name
        iam_instance_profile: data
            .iam_instance_profile()
            .and_then(|p| p.arn().or(p.name()))
            .map(InstanceProfile::new),
        root_device: root_mapping
            .and_then(|m| m.device_name())
            .unwrap_or_default()
            .to_string(),
        hardening: Hardening {
            tokens_required: data
                .metadata_options()
                .and_then(|m| m.http_tokens())
                .is_some_and(|t| *t == LaunchTemplateHttpTokensState::Required),
            root_volume_encrypted: root_volume.and_then(|e| e.encrypted()).unwrap_or(false),
            public_ip: interface
                .and_then(
                    aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecification::associate_public_ip_address,
                )
                .unwrap_or(false),
        },
        layout: Layout {
            network_interfaces: data.network_interfaces().len(),
            metadata_hop_limit: data
                .metadata_options()
                .and_then(|m| m.http_put_response_hop_limit())
                .unwrap_or(1),
            metadata_endpoint_enabled: data
                .metadata_options()
                .and_then(|m| m.http_endpoint())
                .is_none_or(|e| e.as_str() == "enabled"),
            root_volume_gib: root_volume.and_then(|e| e.volume_size()).unwrap_or(0),
            block_devices: data.block_device_mappings().len(),
        },
    }
}

/// Makes an existing version the template's default.
pub async fn set_default_version(client: &Client, id: &str, version: i64) -> Result<()> {
    client
        .modify_launch_template()
        .launch_template_id(id)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyLaunchTemplate", e))?;
    Ok(())
}

pub async fn delete_launch_template(client: &Client, id: &str) -> Result<()> {
    client
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteLaunchTemplate", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_only_script_is_compared_by_its_version_a_plain_one_by_its_text() {
        let template = |script: &str, version: Option<i64>| InstanceSettings {
            user_data: Some(script.to_string()),
            user_data_version: version,
            ..InstanceSettings::default()
        };
        // a refresh knows the version only: the script is in no state
        let wanted = InstanceSettings {
            user_data: None,
            user_data_version: Some(2),
            ..InstanceSettings::default()
        };
        assert!(template("any", Some(2)).differences(&wanted).is_empty());
        assert_eq!(
            template("any", Some(1)).differences(&wanted),
            ["user data version 1 instead of 2"]
        );
        assert_eq!(
            template("any", None).differences(&wanted),
            ["user data version none instead of 2"]
        );
        let plain = template("echo hi", None);
        assert!(template("echo hi", None).differences(&plain).is_empty());
        // back from write-only to plain, even with the same script: rewritten
        assert_eq!(
            template("echo hi", Some(3)).differences(&plain),
            ["user data recorded as write-only"]
        );
        assert_eq!(
            template("echo bye", None).differences(&plain),
            ["other user data"]
        );
        // the description carries the version, and nothing else parses as one
        let written = version_description(&template("x", Some(7))).unwrap();
        assert_eq!(user_data_version(&written), Some(7));
        assert_eq!(version_description(&plain), None);
        assert_eq!(user_data_version("made by hand"), None);
    }

    #[test]
    fn a_version_with_more_groups_or_another_layout_is_not_the_providers() {
        let wanted = InstanceSettings {
            security_group: "sg-app".into(),
            hardening: Hardening::APP,
            layout: Layout::APP,
            ..InstanceSettings::default()
        };
        assert!(wanted.differences(&wanted).is_empty());
        let tampered = InstanceSettings {
            security_group: "sg-app,sg-open".into(),
            layout: Layout {
                network_interfaces: 2,
                metadata_hop_limit: 3,
                ..Layout::APP
            },
            ..wanted.clone()
        };
        assert_eq!(
            tampered.differences(&wanted),
            [
                "security group \"sg-app,sg-open\" instead of \"sg-app\"",
                "2 network interfaces instead of 1",
                "metadata hop limit 3 instead of 2",
            ]
        );
    }

    #[test]
    fn a_version_mapping_another_device_than_the_images_root_or_more_volumes_is_not_the_providers()
    {
        let wanted = InstanceSettings {
            root_device: "/dev/sda1".into(),
            hardening: Hardening::APP,
            layout: Layout::APP,
            ..InstanceSettings::default()
        };
        let amazon_linux_mapping = InstanceSettings {
            root_device: "/dev/xvda".into(),
            layout: Layout {
                block_devices: 2,
                ..Layout::APP
            },
            ..wanted.clone()
        };
        assert_eq!(
            amazon_linux_mapping.differences(&wanted),
            [
                "root device \"/dev/xvda\" instead of \"/dev/sda1\"",
                "2 volumes mapped instead of 1",
            ]
        );
    }
}
