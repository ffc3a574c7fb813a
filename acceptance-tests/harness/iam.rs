//! The published IAM policy (`examples/iam-policy/policy.json`) against the
//! calls the provider really makes: every fault layer checks, when the test
//! that started it ends, that each `service:Action` it forwarded is allowed.

use std::collections::BTreeSet;
use std::path::Path;

/// Where users copy the policy from; the guide shows the same document.
pub const POLICY_PATH: &str = "examples/iam-policy/policy.json";

/// Every action the policy allows, as `service:Action`.
pub fn policy_actions() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(POLICY_PATH);
    let text = std::fs::read_to_string(&path).expect("the IAM policy exists");
    let policy: serde_json::Value = serde_json::from_str(&text).expect("the IAM policy is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("a Statement list") {
        assert_eq!(statement["Effect"], "Allow", "the policy only allows");
        match &statement["Action"] {
            serde_json::Value::String(one) => {
                actions.insert(one.clone());
            }
            serde_json::Value::Array(many) => {
                actions.extend(many.iter().filter_map(|a| a.as_str()).map(str::to_string))
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

/// Calls made with the base identity rather than with the policy's: with
/// `assume_role`, the provider asks STS for the role's credentials, which the
/// base identity must be allowed on the role (docs/guides/iam-policy.md); the
/// role, which holds the policy, never calls STS.
pub const BASE_IDENTITY_ACTIONS: [&str; 1] = ["sts:AssumeRole"];

/// The calls that `seen` names and the policy does not allow (STS included:
/// any STS call but AssumeRole is one the guide does not document).
pub fn denied(seen: &BTreeSet<String>) -> BTreeSet<String> {
    seen.difference(&policy_actions())
        .filter(|action| !BASE_IDENTITY_ACTIONS.contains(&action.as_str()))
        .cloned()
        .collect()
}

/// Checks on drop that every call the layer forwarded is allowed by the policy.
/// Held by the fault layer (shared by its clones), so it runs once, when the
/// test drops its last handle on the layer.
pub struct PolicyCheck {
    seen: Box<dyn Fn() -> BTreeSet<String> + Send + Sync>,
}

impl PolicyCheck {
    /// `seen` lists every `service:Action` the layer has forwarded so far.
    pub fn new(seen: impl Fn() -> BTreeSet<String> + Send + Sync + 'static) -> PolicyCheck {
        PolicyCheck {
            seen: Box::new(seen),
        }
    }
}

impl Drop for PolicyCheck {
    fn drop(&mut self) {
        // a test already failing keeps its own message; a second panic would abort
        if std::thread::panicking() {
            return;
        }
        let denied = denied(&(self.seen)());
        assert!(
            denied.is_empty(),
            "the provider called {denied:?}, which {POLICY_PATH} does not allow: add the actions to it and to docs/guides/iam-policy.md"
        );
    }
}
