//! The image each instance launches from against what its instance type runs,
//! judged at plan time: an arm64 type cannot start an x86_64 image, a Nitro
//! type an image without ENA, an HVM-only type a paravirtual image; AWS would
//! say so only when the instances launch, with the environment half built.

use std::collections::BTreeMap;

use tf_provider::value::Value;
use tf_provider::AttributePath;

use super::model::{first, EnvironmentState};
use crate::aws::ec2::{Image, TypeFacts, DEFAULT_IMAGE_ARCHITECTURE};

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
    /// that attribute's path when this launch's block sets the image
    pub ami_path: Option<AttributePath>,
}

/// A launch that cannot work, or an image to think twice about: where to
/// report it, whether it stops the plan, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageProblem {
    pub path: AttributePath,
    pub error: bool,
    pub summary: &'static str,
    pub detail: String,
}

/// What would stop each launch's instances from starting, judged from the
/// image and the instance type as EC2 describes them: the architecture, ENA
/// (every Nitro type requires it), the virtualization type and the root
/// device type. A problem of the image itself is reported on the image's
/// attribute when the launch sets one, else on the instance type. Images and
/// types AWS does not know, and facts EC2 does not state, are left to the
/// checks that report them.
pub fn launch_problems(
    launches: &[Launch],
    images: &BTreeMap<String, Image>,
    types: &BTreeMap<String, TypeFacts>,
) -> Vec<ImageProblem> {
    let mut problems = Vec::new();
    for launch in launches {
        let Some(kind) = types.get(&launch.instance_type) else {
            continue;
        };
        let (named, image) = match &launch.image {
            ImageChoice::Id(id) => match images.get(id) {
                Some(image) => (format!("image `{id}`"), image.clone()),
                None => continue,
            },
            ImageChoice::Default => (
                "the default image (the newest Amazon Linux 2023)".to_string(),
                Image {
                    architecture: DEFAULT_IMAGE_ARCHITECTURE.into(),
                    ..Image::default()
                },
            ),
            ImageChoice::Unknown => continue,
        };
        let instance_type = &launch.instance_type;
        let fix = launch.ami_attribute;
        let on_image = || {
            launch
                .ami_path
                .clone()
                .unwrap_or_else(|| launch.instance_type_path.clone())
        };
        let mut report = |path: AttributePath, detail: String| {
            problems.push(ImageProblem {
                path,
                error: true,
                summary: "Image and instance type do not match",
                detail,
            })
        };
        let runs = &kind.architectures;
        if !image.architecture.is_empty() && !runs.is_empty() && !runs.contains(&image.architecture)
        {
            let architecture = &image.architecture;
            let runs = runs.join(" and ");
            report(
                launch.instance_type_path.clone(),
                format!("`{instance_type}` runs {runs} only, but {named} is built for {architecture}, so no instance could start. Choose an instance type that runs {architecture}, or set {fix} to an image built for {runs}."),
            );
            continue;
        }
        if kind.ena == "required" && image.ena == Some(false) {
            report(
                on_image(),
                format!("`{instance_type}` requires enhanced networking (ENA), but {named} is not enabled for ENA, so EC2 would refuse every launch. Set {fix} to an image enabled for ENA (every current Amazon Linux, Ubuntu, RHEL and Windows image is), or enable it on the image (`aws ec2 modify-image-attribute --ena-support`) once its operating system has the ENA driver."),
            );
        }
        if !image.virtualization.is_empty()
            && !kind.virtualization_types.is_empty()
            && !kind.virtualization_types.contains(&image.virtualization)
        {
            let virtualization = &image.virtualization;
            report(
                on_image(),
                format!("{named} uses {virtualization} virtualization, which `{instance_type}` cannot run (it runs {}). Set {fix} to an HVM image.", kind.virtualization_types.join(" and ")),
            );
        }
        if image.root_device_type == "instance-store" {
            // the provider's root volume is an encrypted EBS volume (EC2.3)
            report(
                on_image(),
                format!("{named} is instance store-backed, but the environment's instances boot from an encrypted EBS root volume. Set {fix} to an EBS-backed image."),
            );
        }
    }
    problems.dedup();
    problems
}

/// What makes a configured image unusable or worth a second look, on its own
/// attribute: one EC2 cannot launch yet (or any longer), a deprecated one.
pub fn image_problems(path: &AttributePath, id: &str, image: &Image) -> Vec<ImageProblem> {
    let mut problems = Vec::new();
    if !image.state.is_empty() && image.state != "available" {
        let state = &image.state;
        let why = match state.as_str() {
            "pending" => "it is still being made: wait until it is available",
            "disabled" => "it is disabled: enable it (`aws ec2 enable-image`)",
            _ => "EC2 cannot launch it: use another image",
        };
        problems.push(ImageProblem {
            path: path.clone(),
            error: true,
            summary: "Image not available",
            detail: format!(
                "Image `{id}` is {state}, so no instance could start; {why}, then plan again."
            ),
        });
    }
    if let Some(since) = &image.deprecated_since {
        problems.push(ImageProblem {
            path: path.clone(),
            error: false,
            summary: "Deprecated image",
            detail: format!("Image `{id}` is deprecated since {since}: AWS no longer lists it, it receives no updates, and its owner may remove it. Instances launch from it until it is deregistered; move to a current image."),
        });
    }
    problems
}

/// A Windows image on the bastion, which serves SSH: a warning on `path`.
pub fn bastion_image_problem(
    path: &AttributePath,
    id: &str,
    image: &Image,
) -> Option<ImageProblem> {
    image.windows.then(|| ImageProblem {
        path: path.clone(),
        error: false,
        summary: "Windows image on an SSH bastion",
        detail: format!("Image `{id}` is a Windows image, which runs no SSH server unless its setup installs one: the bastion's SSH ingress and EC2 Instance Connect would reach nothing. Use a Linux image for the bastion (bastion.ami_id)."),
    })
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
            ami_path: Some(AttributePath::new("app").index(0).attribute("ami_id")),
        }
    }

    fn image(architecture: &str) -> Image {
        Image {
            architecture: architecture.into(),
            virtualization: "hvm".into(),
            root_device_type: "ebs".into(),
            ena: Some(true),
            state: "available".into(),
            ..Image::default()
        }
    }

    fn nitro(architecture: &str) -> TypeFacts {
        TypeFacts {
            architectures: vec![architecture.into()],
            virtualization_types: vec!["hvm".into()],
            root_device_types: vec!["ebs".into()],
            ena: "required".into(),
        }
    }

    fn facts() -> (BTreeMap<String, Image>, BTreeMap<String, TypeFacts>) {
        let images = [
            ("ami-arm".to_string(), image("arm64")),
            (
                "ami-no-ena".to_string(),
                Image {
                    ena: Some(false),
                    ..image("x86_64")
                },
            ),
            (
                "ami-pv".to_string(),
                Image {
                    virtualization: "paravirtual".into(),
                    ena: Some(false),
                    ..image("x86_64")
                },
            ),
            (
                "ami-store".to_string(),
                Image {
                    root_device_type: "instance-store".into(),
                    ..image("x86_64")
                },
            ),
            // as moto describes images: no word on ENA
            (
                "ami-silent".to_string(),
                Image {
                    ena: None,
                    ..image("x86_64")
                },
            ),
        ]
        .into();
        let types = [
            ("t3.micro".to_string(), nitro("x86_64")),
            ("t4g.micro".to_string(), nitro("arm64")),
            (
                "t2.micro".to_string(),
                TypeFacts {
                    ena: "unsupported".into(),
                    ..nitro("x86_64")
                },
            ),
        ]
        .into();
        (images, types)
    }

    fn details(found: &[ImageProblem]) -> Vec<&str> {
        found.iter().map(|p| p.detail.as_str()).collect()
    }

    #[test]
    fn an_arm64_type_with_the_default_image_or_an_x86_type_with_an_arm64_image_is_refused() {
        let (images, types) = facts();
        let found = launch_problems(
            &[
                launch("t4g.micro", ImageChoice::Default),
                launch("t3.micro", ImageChoice::Id("ami-arm".into())),
            ],
            &images,
            &types,
        );
        assert_eq!(details(&found), [
            "`t4g.micro` runs arm64 only, but the default image (the newest Amazon Linux 2023) is built for x86_64, so no instance could start. Choose an instance type that runs x86_64, or set app.ami_id to an image built for arm64.",
            "`t3.micro` runs x86_64 only, but image `ami-arm` is built for arm64, so no instance could start. Choose an instance type that runs arm64, or set app.ami_id to an image built for x86_64.",
        ]);
        assert!(found.iter().all(|p| p.error
            && p.path
                == AttributePath::new("app")
                    .index(0)
                    .attribute("instance_type")));
    }

    #[test]
    fn an_image_without_ena_on_a_nitro_type_a_paravirtual_or_an_instance_store_image_is_refused_on_the_image(
    ) {
        let (images, types) = facts();
        let found = launch_problems(
            &[
                launch("t3.micro", ImageChoice::Id("ami-no-ena".into())),
                launch("t2.micro", ImageChoice::Id("ami-pv".into())),
                launch("t3.micro", ImageChoice::Id("ami-store".into())),
            ],
            &images,
            &types,
        );
        assert_eq!(details(&found), [
            "`t3.micro` requires enhanced networking (ENA), but image `ami-no-ena` is not enabled for ENA, so EC2 would refuse every launch. Set app.ami_id to an image enabled for ENA (every current Amazon Linux, Ubuntu, RHEL and Windows image is), or enable it on the image (`aws ec2 modify-image-attribute --ena-support`) once its operating system has the ENA driver.",
            "image `ami-pv` uses paravirtual virtualization, which `t2.micro` cannot run (it runs hvm). Set app.ami_id to an HVM image.",
            "image `ami-store` is instance store-backed, but the environment's instances boot from an encrypted EBS root volume. Set app.ami_id to an EBS-backed image.",
        ]);
        assert!(found
            .iter()
            .all(|p| p.error && p.path == AttributePath::new("app").index(0).attribute("ami_id")));
        // the bastion on the app's image: reported on its instance type
        let mut borrowed = launch("t3.micro", ImageChoice::Id("ami-no-ena".into()));
        borrowed.ami_path = None;
        let found = launch_problems(&[borrowed.clone()], &images, &types);
        assert_eq!(found[0].path, borrowed.instance_type_path);
    }

    #[test]
    fn matching_unknown_unstated_and_unlisted_images_and_types_pass() {
        let (images, types) = facts();
        let found = launch_problems(
            &[
                launch("t3.micro", ImageChoice::Default),
                launch("t4g.micro", ImageChoice::Id("ami-arm".into())),
                launch("t4g.micro", ImageChoice::Unknown),
                launch("t4g.micro", ImageChoice::Id("ami-gone".into())),
                launch("x9.bogus", ImageChoice::Default),
                // no ENA where the type has none, and ENA unstated
                launch("t2.micro", ImageChoice::Id("ami-no-ena".into())),
                launch("t3.micro", ImageChoice::Id("ami-silent".into())),
            ],
            &images,
            &types,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn an_image_not_available_is_refused_and_a_deprecated_one_or_windows_on_the_bastion_warned() {
        let path = AttributePath::new("bastion").index(0).attribute("ami_id");
        let pending = Image {
            state: "pending".into(),
            ..image("x86_64")
        };
        let found = image_problems(&path, "ami-new", &pending);
        assert_eq!(
            details(&found),
            ["Image `ami-new` is pending, so no instance could start; it is still being made: wait until it is available, then plan again."]
        );
        assert!(found[0].error);
        let old_windows = Image {
            deprecated_since: Some("2025-01-01T00:00:00.000Z".into()),
            windows: true,
            ..image("x86_64")
        };
        let found = image_problems(&path, "ami-old", &old_windows);
        assert_eq!(
            found
                .iter()
                .map(|p| (p.error, p.summary))
                .collect::<Vec<_>>(),
            [(false, "Deprecated image")]
        );
        let windows = bastion_image_problem(&path, "ami-old", &old_windows).unwrap();
        assert_eq!(
            (windows.error, windows.summary),
            (false, "Windows image on an SSH bastion")
        );
        assert!(image_problems(&path, "ami-ok", &image("x86_64")).is_empty());
        assert!(bastion_image_problem(&path, "ami-ok", &image("x86_64")).is_none());
    }
}
