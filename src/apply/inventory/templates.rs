//! Which versions of the environment's launch template discovery reads, and
//! which one its group runs.

use crate::aws::autoscaling::Group;
use crate::aws::ec2::TemplateVersion;

/// The versions of `template` to read besides `read` (those read by name in
/// the first round): its default when that was not among them, and the one
/// the group names when it runs the template and that one is not known yet.
pub(super) fn versions_to_read(
    template: Option<&String>,
    read: &[TemplateVersion],
    group: Option<&Group>,
) -> Vec<String> {
    let mut wanted: Vec<String> = Vec::new();
    if template.is_some() && !read.iter().any(|v| v.default) {
        wanted.push("$Default".into());
    }
    if let Some(g) = group.filter(|g| Some(&g.launch_template_id) == template) {
        let runs = g.launch_template_version.as_str();
        let known = match runs {
            "" | "$Default" => true,
            "$Latest" => false,
            number => read.iter().any(|v| v.number.to_string() == number),
        };
        if !known {
            wanted.push(runs.to_string());
        }
    }
    wanted
}

/// The version of `template` the group runs, of `versions`: the one it names,
/// or what `$Default` and `$Latest` stand for now.
pub(super) fn version_run_by(
    group: Option<&Group>,
    template: Option<&String>,
    versions: &[TemplateVersion],
) -> Option<TemplateVersion> {
    let g = group?;
    let number = match g.launch_template_version.as_str() {
        "" | "$Default" => versions.iter().find(|v| v.default)?.number,
        "$Latest" => versions.iter().map(|v| v.number).max()?,
        number => number.parse().ok()?,
    };
    if Some(&g.launch_template_id) != template {
        return None;
    }
    versions.iter().find(|v| v.number == number).cloned()
}
