//! Findings of a refresh: what differs from the configuration and what apply
//! does about it, worded for the plan. The wording is also read back at plan
//! time (the `drift` attribute is all a plan has), so [`Finding`] both writes and
//! parses it.

use std::collections::BTreeSet;

/// What apply does about a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// a missing component is created: it gets a new ID
    Create,
    /// the component is replaced: it gets a new ID
    Replace,
    /// a new launch template version is written from the configuration and a
    /// rolling instance refresh replaces every instance of the group
    Roll,
    /// fixed in place, the ID stays; the text says how, e.g. "removes it"
    InPlace(&'static str),
}

const CREATES: &str = "creates it";
const REPLACES: &str = "replaces it";
const ROLLS: &str =
    "writes a new launch template version from the configuration and rolls the instances to it";

impl Repair {
    fn text(&self) -> &'static str {
        match self {
            Repair::Create => CREATES,
            Repair::Replace => REPLACES,
            Repair::Roll => ROLLS,
            Repair::InPlace(text) => text,
        }
    }
}

/// One difference: `component` is its key (`sg/app`, `nat/us-east-1a`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub component: String,
    pub problem: String,
    pub repair: Repair,
}

impl Finding {
    pub fn new(component: impl Into<String>, problem: impl Into<String>, repair: Repair) -> Self {
        Finding {
            component: component.into(),
            problem: problem.into(),
            repair,
        }
    }
}

/// `<component> <problem>; apply <repair>`, e.g.
/// `sg/app has an extra ingress rule tcp/22 from ::/0; apply removes it`.
impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}; apply {}",
            self.component,
            self.problem,
            self.repair.text()
        )
    }
}

fn component_of(entry: &str) -> &str {
    entry.split_whitespace().next().unwrap_or_default()
}

/// The components that a repair gives a new ID (created or replaced).
pub fn renewed<'a>(entries: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    entries
        .into_iter()
        .filter(|e| {
            e.ends_with(&format!("; apply {CREATES}"))
                || e.ends_with(&format!("; apply {REPLACES}"))
        })
        .map(|e| component_of(e).to_string())
        .collect()
}

/// Whether a repair writes a new template version and replaces the instances.
pub fn rolls<'a>(entries: impl IntoIterator<Item = &'a String>) -> bool {
    entries
        .into_iter()
        .any(|e| e.ends_with(&format!("; apply {ROLLS}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_read_as_what_is_wrong_and_what_apply_does() {
        let finding = Finding::new(
            "sg/app",
            "has an extra ingress rule tcp/22 from ::/0",
            Repair::InPlace("removes it"),
        );
        assert_eq!(
            finding.to_string(),
            "sg/app has an extra ingress rule tcp/22 from ::/0; apply removes it"
        );
    }

    #[test]
    fn plans_read_back_which_components_get_new_ids_and_whether_instances_roll() {
        let entries: Vec<String> = [
            Finding::new("nat/us-east-1a", "is missing", Repair::Create),
            Finding::new(
                "bastion",
                "runs t3.small instead of t3.nano",
                Repair::Replace,
            ),
            Finding::new(
                "asg",
                "has min size 5 instead of 1",
                Repair::InPlace("restores it"),
            ),
        ]
        .iter()
        .map(Finding::to_string)
        .collect();
        assert_eq!(
            renewed(&entries),
            ["bastion".to_string(), "nat/us-east-1a".to_string()].into()
        );
        assert!(!rolls(&entries));
        let roll = Finding::new(
            "asg",
            "runs launch template version 3, where IMDSv2 is optional",
            Repair::Roll,
        );
        assert!(rolls(&[roll.to_string()]));
        assert!(renewed(&[roll.to_string()]).is_empty());
    }
}
