//! Images as AWS describes and launches them. moto describes every image with
//! a 15 GiB root snapshot and no word on ENA, and keeps of a RegisterImage
//! only its name and description. AWS keeps what an image was registered
//! with (architecture, virtualization type, root device, its snapshot's size,
//! ENA support) and refuses a launch the image cannot make:
//!
//! - a root volume smaller than the image's root snapshot
//!   (`InvalidBlockDeviceMapping`);
//! - an image without ENA on a type that requires it (every Nitro type: t3,
//!   m5, ...), a paravirtual image on a type that runs HVM only, an
//!   instance store-backed image on a type whose root must be EBS
//!   (`InvalidParameterCombination`).
//!
//! RunInstances is refused with AWS's words; a group's launch fails with the
//! same words in its scaling activities (see [`super::instances::sync_groups`])
//! and its instance never starts. moto's own images are described as AWS
//! describes their kind: a Windows image's root snapshot is 30 GiB, another's
//! 8 GiB (an instance store-backed image has none); an HVM image supports ENA.
//! moto launches every registered image under `/dev/sda1`, so images
//! registered through the model keep that root device name. As AWS does,
//! DescribeImages says `enaSupport` only of an image enabled for ENA: of
//! another it says nothing (so a caller cannot tell it from an image whose
//! describer leaves the field out).

use super::world::World;
use super::xml::Element;
use super::{Call, Model, Refusal};

/// What AWS knows of an image that decides how it launches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFacts {
    pub architecture: String,
    /// `hvm` or `paravirtual`
    pub virtualization: String,
    pub root_device_name: String,
    /// `ebs` or `instance-store`
    pub root_device_type: String,
    pub ena: bool,
    /// the root snapshot and its size (GiB); `None` for an instance
    /// store-backed image
    pub root_snapshot: Option<(String, i32)>,
}

impl ImageFacts {
    /// An image of moto's catalogue, as AWS describes one of its kind.
    fn of_kind(
        architecture: Option<&str>,
        virtualization: Option<&str>,
        root_device_name: Option<&str>,
        root_device_type: Option<&str>,
        windows: bool,
        snapshot: Option<&str>,
    ) -> ImageFacts {
        let virtualization = virtualization.unwrap_or("hvm").to_string();
        let root_device_type = root_device_type.unwrap_or("ebs").to_string();
        let ebs = root_device_type == "ebs";
        ImageFacts {
            architecture: architecture.unwrap_or("x86_64").to_string(),
            ena: virtualization == "hvm",
            virtualization,
            root_device_name: root_device_name.unwrap_or("/dev/sda1").to_string(),
            root_snapshot: ebs.then(|| {
                (
                    snapshot.unwrap_or("snap-model").to_string(),
                    if windows { 30 } else { 8 },
                )
            }),
            root_device_type,
        }
    }

    /// An image as a RegisterImage call gives it (AWS's defaults where the call
    /// is silent: i386, paravirtual, no ENA; EBS-backed when its root device
    /// is mapped to a volume).
    fn registered(call: &Call) -> ImageFacts {
        let given_root = call.param("RootDeviceName").unwrap_or("/dev/sda1");
        let index = call
            .params
            .iter()
            .find_map(|(name, value)| {
                let rest = name.strip_prefix("BlockDeviceMapping.")?;
                let (index, field) = rest.split_once('.')?;
                (field == "DeviceName" && value == given_root).then(|| index.to_string())
            })
            .unwrap_or_default();
        let ebs = |field: &str| call.param(&format!("BlockDeviceMapping.{index}.Ebs.{field}"));
        let backed_by_ebs = !index.is_empty()
            && call
                .params
                .iter()
                .any(|(n, _)| n.starts_with(&format!("BlockDeviceMapping.{index}.Ebs.")));
        ImageFacts {
            architecture: call.param("Architecture").unwrap_or("i386").to_string(),
            virtualization: call
                .param("VirtualizationType")
                .unwrap_or("paravirtual")
                .to_string(),
            // where moto makes the root volume of whatever it launches
            root_device_name: "/dev/sda1".to_string(),
            root_device_type: if backed_by_ebs {
                "ebs"
            } else {
                "instance-store"
            }
            .to_string(),
            ena: call.param("EnaSupport") == Some("true"),
            root_snapshot: backed_by_ebs.then(|| {
                (
                    ebs("SnapshotId").unwrap_or("snap-model").to_string(),
                    ebs("VolumeSize").and_then(|s| s.parse().ok()).unwrap_or(8),
                )
            }),
        }
    }

    /// An image of moto's answer, as AWS describes it.
    fn of_item(world: &World, item: &Element) -> Option<(String, ImageFacts)> {
        let id = item.child_text("imageId")?.to_string();
        if let Some(facts) = world.images.get(&id) {
            return Some((id, facts.clone()));
        }
        let root = item.child_text("rootDeviceName");
        let snapshot = item
            .child("blockDeviceMapping")
            .into_iter()
            .flat_map(|m| &m.children)
            .find(|m| m.child_text("deviceName") == root)
            .and_then(|m| m.path_text(&["ebs", "snapshotId"]));
        let facts = ImageFacts::of_kind(
            item.child_text("architecture"),
            item.child_text("virtualizationType"),
            root,
            item.child_text("rootDeviceType"),
            item.child_text("platform") == Some("windows"),
            snapshot,
        );
        Some((id, facts))
    }

    /// Why AWS refuses to launch this image as `instance_type` with a root
    /// volume of `root_gib` (when the launch sizes it), if it does.
    pub fn launch_refusal(
        &self,
        instance_type: &str,
        kind: &TypeFacts,
        root_gib: Option<i32>,
    ) -> Option<Refusal> {
        let combination =
            |message: String| Some(Refusal::new(400, "InvalidParameterCombination", &message));
        // a type whose facts moto leaves out is not judged on them
        if kind.ena == "required" && !self.ena {
            return combination(format!("Enhanced networking with the Elastic Network Adapter (ENA) is required for the '{instance_type}' instance type. Ensure that you are using an AMI that is enabled for ENA."));
        }
        if !kind.virtualization_types.is_empty()
            && !kind.virtualization_types.contains(&self.virtualization)
        {
            let required = kind.virtualization_types.join("' or '");
            return combination(format!(
                "Virtualization type '{required}' is required for instances of type '{instance_type}'."
            ));
        }
        if !kind.root_device_types.is_empty()
            && !kind.root_device_types.contains(&self.root_device_type)
        {
            return combination(format!("The instance type '{instance_type}' does not support instance store-backed AMIs. Use an Amazon EBS-backed AMI."));
        }
        match (&self.root_snapshot, root_gib) {
            (Some((snapshot, size)), Some(given)) if given < *size => Some(Refusal::new(
                400,
                "InvalidBlockDeviceMapping",
                &format!("Volume of size {given}GB is smaller than snapshot '{snapshot}', expect size >= {size}GB"),
            )),
            _ => None,
        }
    }
}

/// What AWS knows of an instance type that decides which images it launches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeFacts {
    pub virtualization_types: Vec<String>,
    pub root_device_types: Vec<String>,
    /// `required`, `supported` or `unsupported`
    pub ena: String,
}

/// Keeps what a RegisterImage gave the image it made.
pub fn learn(world: &mut World, call: &Call, answer: &Element) {
    if call.key() != "ec2:RegisterImage" {
        return;
    }
    if let Some(id) = answer.child_text("imageId") {
        world
            .images
            .insert(id.to_string(), ImageFacts::registered(call));
    }
}

/// Describes each image as AWS would.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element) {
    if call.key() != "ec2:DescribeImages" {
        return;
    }
    answer.for_each_with_child("imageId", &mut |_, item| {
        let Some((_, facts)) = ImageFacts::of_item(world, item) else {
            return;
        };
        item.set_path(&["architecture"], &facts.architecture);
        item.set_path(&["virtualizationType"], &facts.virtualization);
        item.set_path(&["rootDeviceName"], &facts.root_device_name);
        item.set_path(&["rootDeviceType"], &facts.root_device_type);
        match facts.ena {
            true => item.set_path(&["enaSupport"], "true"),
            false => item.remove_child("enaSupport"),
        }
        item.remove_child("blockDeviceMapping");
        if let Some((snapshot, size)) = &facts.root_snapshot {
            // the root device's mapping only: the list's one item
            let root = ["blockDeviceMapping", "item"];
            let at = |field: &[&'static str]| [&root[..], field].concat();
            item.set_path(&at(&["deviceName"]), &facts.root_device_name);
            item.set_path(&at(&["ebs", "snapshotId"]), snapshot);
            item.set_path(&at(&["ebs", "volumeSize"]), &size.to_string());
            item.set_path(&at(&["ebs", "deleteOnTermination"]), "true");
            item.set_path(&at(&["ebs", "volumeType"]), "gp3");
        }
    });
}

/// The facts of image `id`, as AWS would describe it (`None`: not found).
pub async fn image(model: &Model, id: &str) -> Option<ImageFacts> {
    if let Some(facts) = model.state().world.images.get(id) {
        return Some(facts.clone());
    }
    let out = model
        .api
        .ec2
        .describe_images()
        .image_ids(id)
        .send()
        .await
        .ok()?;
    let image = out.images().first()?;
    let root = image.root_device_name();
    let snapshot = image
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == root)
        .and_then(|m| m.ebs()?.snapshot_id());
    Some(ImageFacts::of_kind(
        image.architecture().map(|a| a.as_str()),
        image.virtualization_type().map(|v| v.as_str()),
        root,
        image.root_device_type().map(|t| t.as_str()),
        image.platform().is_some_and(|p| p.as_str() == "windows"),
        snapshot,
    ))
}

/// The facts of `instance_type`, from moto's catalogue (`None`: unknown).
pub async fn instance_type(model: &Model, instance_type: &str) -> Option<TypeFacts> {
    let out = model
        .api
        .ec2
        .describe_instance_types()
        .instance_types(instance_type.into())
        .send()
        .await
        .ok()?;
    let info = out.instance_types().first()?;
    Some(TypeFacts {
        virtualization_types: info
            .supported_virtualization_types()
            .iter()
            .map(|v| v.as_str().to_string())
            .collect(),
        root_device_types: info
            .supported_root_device_types()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        ena: info
            .network_info()
            .and_then(|n| n.ena_support())
            .map(|e| e.as_str().to_string())
            .unwrap_or_default(),
    })
}

/// Why AWS refuses `image` launched as `instance_type` with a root volume of
/// `root_gib` (when the launch maps the image's root device), if it does.
pub async fn refusal_for(
    model: &Model,
    image_id: &str,
    instance_type: &str,
    root_gib: impl FnOnce(&ImageFacts) -> Option<i32>,
) -> Option<Refusal> {
    let (image, kind) = futures::join!(
        image(model, image_id),
        self::instance_type(model, instance_type)
    );
    let (image, kind) = (image?, kind?);
    image.launch_refusal(instance_type, &kind, root_gib(&image))
}

/// AWS's answer to a RunInstances whose image cannot launch as asked.
pub async fn refusal(model: &Model, call: &Call) -> Option<Refusal> {
    if call.key() != "ec2:RunInstances" {
        return None;
    }
    let image = call.param("ImageId")?;
    let instance_type = call.param("InstanceType").unwrap_or("m1.small");
    refusal_for(model, image, instance_type, |facts| {
        let index = call.params.iter().find_map(|(name, value)| {
            let rest = name.strip_prefix("BlockDeviceMapping.")?;
            let (index, field) = rest.split_once('.')?;
            (field == "DeviceName" && *value == facts.root_device_name).then_some(index)
        })?;
        call.param(&format!("BlockDeviceMapping.{index}.Ebs.VolumeSize"))?
            .parse()
            .ok()
    })
    .await
}
