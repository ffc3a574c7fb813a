//! Findings of a refresh: what differs from the configuration and what apply
//! does about it, worded for the plan (the `drift` attribute). What the plan
//! needs to know of them, which components get new IDs and whether the
//! instances roll, travels as [`Repairs`] in the resource's private state, so
//! nothing reads the wording back.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

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

/// What the findings of a refresh make apply do that the plan must show:
/// kept by the refresh in the resource's private state, which Terraform hands
/// to the plan that follows (and keeps with the state for `-refresh=false`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repairs {
    /// the components a repair creates or replaces: they get new IDs
    pub renewed: BTreeSet<String>,
    /// a repair writes a new launch template version and replaces the instances
    pub rolls: bool,
}

impl Repairs {
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Repairs {
        let mut repairs = Repairs::default();
        for finding in findings {
            match finding.repair {
                Repair::Create | Repair::Replace => {
                    repairs.renewed.insert(finding.component.clone());
                }
                Repair::Roll => repairs.rolls = true,
                Repair::InPlace(_) => {}
            }
        }
        repairs
    }
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
    fn plans_learn_which_components_get_new_ids_and_whether_instances_roll() {
        let findings = [
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
        ];
        let repairs = Repairs::of(&findings);
        assert_eq!(
            repairs.renewed,
            ["bastion".to_string(), "nat/us-east-1a".to_string()].into()
        );
        assert!(!repairs.rolls);
        let roll = Finding::new(
            "asg",
            "runs launch template version 3, where IMDSv2 is optional",
            Repair::Roll,
        );
        let repairs = Repairs::of([&roll]);
        assert!(repairs.rolls);
        assert!(repairs.renewed.is_empty());
        // as the private state carries it
        let json = serde_json::to_vec(&repairs).unwrap();
        assert_eq!(serde_json::from_slice::<Repairs>(&json).unwrap(), repairs);
    }
}
