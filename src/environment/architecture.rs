//! The image each instance launches from against the architectures its
//! instance type runs, judged at plan time: an arm64 type cannot start an
//! x86_64 image, and AWS would say so only when the instances launch.

use std::collections::BTreeMap;

use tf_provider::value::Value;
use tf_provider::AttributePath;

use super::model::{first, EnvironmentState};
use crate::aws::ec2::{Image, DEFAULT_IMAGE_ARCHITECTURE};

/// The image an instance launches from, as far as plan can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageChoice {
    /// an image ID known at plan
    Id(String),
    /// left out: the newest Amazon Linux 2023 x86_64
    Default,
    /// known only at apply (another resource's output)
    Unknown,
}

/// The app instances' image: configured, kept from state, or the default.
pub fn app_image(planned: &EnvironmentState, config: &EnvironmentState) -> ImageChoice {
    let configured = first(&config.app).is_some_and(|a| !a.ami_id.is_null());
    match first(&planned.app).map(|a| &a.ami_id) {
        Some(Value::Value(id)) => ImageChoice::Id(id.clone()),
        _ if !configured => ImageChoice::Default,
        _ => ImageChoice::Unknown,
    }
}

/// The bastion's image: its own, else the app instances' one.
pub fn bastion_image(planned: &EnvironmentState, config: &EnvironmentState) -> ImageChoice {
    let configured = first(&config.bastion).is_some_and(|b| !b.ami_id.is_null());
    match first(&planned.bastion).map(|b| &b.ami_id) {
        Some(Value::Value(id)) => ImageChoice::Id(id.clone()),
        _ if !configured => app_image(planned, config),
        _ => ImageChoice::Unknown,
    }
}

/// One kind of instance the environment launches.
#[derive(Clone, Debug)]
pub struct Launch {
    pub instance_type_path: AttributePath,
    pub instance_type: String,
    pub image: ImageChoice,
    /// where the image is set, for the fix (`app.ami_id`)
    pub ami_attribute: &'static str,
}

/// Each launch whose image's architecture its instance type does not run, as
/// (the instance type's path, what is wrong and what to do). Images and types
/// AWS does not know are left to the checks that report them.
pub fn architecture_mismatches(
    launches: &[Launch],
    images: &BTreeMap<String, Image>,
    type_architectures: &BTreeMap<String, Vec<String>>,
) -> Vec<(AttributePath, String)> {
    launches
        .iter()
        .filter_map(|launch| {
            let (image, architecture) = match &launch.image {
                ImageChoice::Id(id) => (
                    format!("image `{id}`"),
                    images.get(id)?.architecture.as_str(),
                ),
                ImageChoice::Default => (
                    "the default image (the newest Amazon Linux 2023)".to_string(),
                    DEFAULT_IMAGE_ARCHITECTURE,
                ),
                ImageChoice::Unknown => return None,
            };
            let runs = type_architectures.get(&launch.instance_type)?;
            if runs.is_empty() || runs.iter().any(|a| a == architecture) {
                return None;
            }
            let runs = runs.join(" and ");
            Some((
                launch.instance_type_path.clone(),
                format!(
                    "`{}` runs {runs} only, but {image} is built for {architecture}, so no instance could start. Choose an instance type that runs {architecture}, or set {} to an image built for {runs}.",
                    launch.instance_type, launch.ami_attribute
                ),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(instance_type: &str, image: ImageChoice) -> Launch {
        Launch {
            instance_type_path: AttributePath::new("app")
                .index(0)
                .attribute("instance_type"),
            instance_type: instance_type.into(),
            image,
            ami_attribute: "app.ami_id",
        }
    }

    fn facts() -> (BTreeMap<String, Image>, BTreeMap<String, Vec<String>>) {
        let images = [(
            "ami-arm".to_string(),
            Image {
                root_device_name: "/dev/xvda".into(),
                architecture: "arm64".into(),
            },
        )]
        .into();
        let types = [
            ("t3.micro".to_string(), vec!["x86_64".to_string()]),
            ("t4g.micro".to_string(), vec!["arm64".to_string()]),
        ]
        .into();
        (images, types)
    }

    #[test]
    fn an_arm64_type_with_the_default_image_or_an_x86_type_with_an_arm64_image_is_refused() {
        let (images, types) = facts();
        let found = architecture_mismatches(
            &[
                launch("t4g.micro", ImageChoice::Default),
                launch("t3.micro", ImageChoice::Id("ami-arm".into())),
            ],
            &images,
            &types,
        );
        let details: Vec<&str> = found.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(details, [
            "`t4g.micro` runs arm64 only, but the default image (the newest Amazon Linux 2023) is built for x86_64, so no instance could start. Choose an instance type that runs x86_64, or set app.ami_id to an image built for arm64.",
            "`t3.micro` runs x86_64 only, but image `ami-arm` is built for arm64, so no instance could start. Choose an instance type that runs arm64, or set app.ami_id to an image built for x86_64.",
        ]);
    }

    #[test]
    fn matching_unknown_and_unlisted_images_and_types_pass() {
        let (images, types) = facts();
        let found = architecture_mismatches(
            &[
                launch("t3.micro", ImageChoice::Default),
                launch("t4g.micro", ImageChoice::Id("ami-arm".into())),
                launch("t4g.micro", ImageChoice::Unknown),
                launch("t4g.micro", ImageChoice::Id("ami-gone".into())),
                launch("x9.bogus", ImageChoice::Default),
            ],
            &images,
            &types,
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
