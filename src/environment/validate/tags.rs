//! Tags: keys, values and the total per object, provider default tags included.

use std::collections::BTreeMap;

use crate::environment::model::{known_map, EnvironmentState};

use super::{
    attr, Checker, Problem, Step, MAX_TAGS, MAX_TAG_KEY_LEN, MAX_TAG_VALUE_LEN, PROVIDER_TAGS,
};

pub(super) fn check_tags(c: &mut Checker, config: &EnvironmentState) {
    let Some(tags) = known_map(&config.tags) else {
        return;
    };
    c.problems.extend(tag_problems(&tags, &attr("tags")));
    if tags.len() + PROVIDER_TAGS.len() > MAX_TAGS {
        c.fail(
            attr("tags"),
            "Too many tags",
            tag_count_detail(tags.len(), 0),
        );
    }
}

pub(super) fn tag_count_detail(own: usize, from_provider_block: usize) -> String {
    let room = MAX_TAGS - PROVIDER_TAGS.len();
    format!(
        "{own} tags here and {from_provider_block} more from the provider's default_tags; AWS allows {MAX_TAGS} tags per object and the provider adds {} of its own ({}), which leaves {room}. Remove tags.",
        PROVIDER_TAGS.len(),
        PROVIDER_TAGS.join(", ")
    )
}

/// Checks tag keys and values against AWS's rules for every service the
/// environment tags (EC2, Elastic Load Balancing, Auto Scaling); `base` is
/// the path of the map. Used for the resource's `tags` and the provider's
/// `default_tags`.
pub fn tag_problems(tags: &BTreeMap<String, String>, base: &[Step]) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    // Elastic Load Balancing allows only these characters in keys and values
    let allowed = |text: &str| {
        text.chars()
            .all(|ch| ch.is_alphanumeric() || ch == ' ' || "_.:/=+-@".contains(ch))
    };
    for (key, value) in tags {
        let mut path = base.to_vec();
        path.push(Step::Key(key.clone()));
        let lower = key.to_ascii_lowercase();
        let problem = if key.is_empty() {
            Some((
                "Empty tag key",
                "A tag key cannot be empty. Give the tag a key.".to_string(),
            ))
        } else if lower.starts_with("aws:") || lower.starts_with("prodvpc:") {
            Some(("Reserved tag key", format!("`{key}` uses a reserved prefix (`aws:` belongs to AWS, `prodvpc:` marks ownership). Rename the tag.")))
        } else if key == "Name" {
            Some(("Reserved tag key", "The provider names every object itself (`<name>-<component>`), so a `Name` tag would be overwritten. Rename the tag, for example to `Environment`.".to_string()))
        } else if key.chars().count() > MAX_TAG_KEY_LEN {
            Some((
                "Tag key too long",
                format!(
                    "The key `{key}` has {} characters; AWS allows {MAX_TAG_KEY_LEN}. Shorten it.",
                    key.chars().count()
                ),
            ))
        } else if value.chars().count() > MAX_TAG_VALUE_LEN {
            Some(("Tag value too long", format!("The value of `{key}` has {} characters; AWS allows {MAX_TAG_VALUE_LEN}. Shorten it.", value.chars().count())))
        } else if !allowed(key) || !allowed(value) {
            Some(("Invalid characters in a tag", format!("`{key}` = `{value}` has characters the load balancer refuses in tags. Use letters, digits, spaces and _ . : / = + - @.")))
        } else {
            None
        };
        if let Some((summary, detail)) = problem {
            c.fail(path, summary, detail);
        }
    }
    c.problems
}

/// The tag limit counted with the provider's `default_tags`, which only the
/// configured provider knows: checked at plan time.
pub fn check_tag_total(
    config: &EnvironmentState,
    default_tags: &BTreeMap<String, String>,
) -> Vec<Problem> {
    let Some(tags) = known_map(&config.tags) else {
        return Vec::new();
    };
    let from_defaults = default_tags
        .keys()
        .filter(|k| !tags.contains_key(*k))
        .count();
    if tags.len() + from_defaults + PROVIDER_TAGS.len() <= MAX_TAGS {
        return Vec::new();
    }
    vec![Problem {
        path: attr("tags"),
        summary: "Too many tags".to_string(),
        detail: tag_count_detail(tags.len(), from_defaults),
    }]
}
