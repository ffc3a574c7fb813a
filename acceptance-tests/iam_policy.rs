//! The published IAM policy stays least-privilege and complete: every action
//! in it is an operation the provider's source makes (or one AWS checks on the
//! caller's behalf), every operation the source makes is in it, and the guide
//! shows the document users copy. The calls the acceptance tests really make
//! are checked by each fault layer (`harness/iam.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::harness::iam::{denied, policy_actions, PolicyCheck, POLICY_PATH};

/// Actions the provider never calls but AWS checks against the caller: the
/// first load balancer and the first Auto Scaling Group in an account create
/// their service-linked roles, launching with an instance profile passes its
/// role to EC2, a flow log to CloudWatch Logs passes its delivery role, and one
/// to S3 sets up the log delivery.
const CHECKED_ON_THE_CALLERS_BEHALF: [&str; 5] = [
    // the Instance Connect Endpoint's network interface, made in the caller's name
    "ec2:CreateNetworkInterface",
    "iam:CreateServiceLinkedRole",
    "iam:PassRole",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
];

/// IAM's prefix for the service each module of `src/aws/` wraps.
const IAM_PREFIX: [(&str, &str); 3] = [
    ("ec2.rs", "ec2"),
    ("autoscaling.rs", "autoscaling"),
    ("elbv2.rs", "elasticloadbalancing"),
];

/// The first word of every SDK operation the provider uses; builder methods
/// and getters start otherwise (or take arguments).
const OPERATION_VERBS: [&str; 29] = [
    "add",
    "allocate",
    "assign",
    "associate",
    "attach",
    "authorize",
    "cancel",
    "create",
    "delete",
    "deregister",
    "describe",
    "detach",
    "disable",
    "disassociate",
    "modify",
    "put",
    "register",
    "release",
    "remove",
    "replace",
    "resume",
    "revoke",
    "rollback",
    "run",
    "set",
    "start",
    "terminate",
    "unassign",
    "update",
];

/// Getters of fields AWS reports whose names start like an operation.
const GETTERS: [&str; 4] = [
    "disable_api_stop",
    "disable_api_termination",
    "disable_scale_in",
    "start_time",
];

/// `create_vpc` -> `CreateVpc`.
fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The SDK operations called in one source file: `.operation()` with no
/// arguments, whitespace ignored (calls are chained over several lines).
fn operations_in(source: &str) -> BTreeSet<String> {
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .split('.')
        .filter_map(|piece| {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let called_bare = piece[name.len()..].starts_with("()");
            let verb = name.split('_').next().unwrap_or_default();
            let operation = OPERATION_VERBS.contains(&verb) && !GETTERS.contains(&name.as_str());
            (called_bare && name.contains('_') && operation).then(|| pascal_case(&name))
        })
        .collect()
}

/// The source files of the provider's AWS modules, each with the file of the
/// service module it belongs to (`ec2/endpoints.rs` belongs to `ec2.rs`).
fn aws_sources() -> Vec<(std::path::PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/aws") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).expect("service module folder") {
                sources.push((inner.expect("entry").path(), format!("{name}.rs")));
            }
        } else {
            sources.push((path, name));
        }
    }
    sources.retain(|(path, _)| path.extension().is_some_and(|e| e == "rs"));
    sources
}

/// Every `service:Action` the provider's AWS modules call, by IAM prefix.
fn source_actions() -> BTreeSet<String> {
    let prefixes: BTreeMap<&str, &str> = IAM_PREFIX.into_iter().collect();
    let mut actions = BTreeSet::new();
    for (path, file) in aws_sources() {
        let operations = operations_in(&std::fs::read_to_string(&path).expect("source file"));
        if operations.is_empty() {
            continue;
        }
        let prefix = prefixes.get(file.as_str()).unwrap_or_else(|| {
            panic!("src/aws/{file} calls {operations:?}: add its IAM service prefix to IAM_PREFIX")
        });
        actions.extend(operations.iter().map(|op| format!("{prefix}:{op}")));
    }
    actions
}

#[test]
fn every_action_in_the_policy_is_called_by_the_provider() {
    let called = source_actions();
    assert!(called.len() > 50, "too few operations found: {called:?}");
    let unused: Vec<String> = policy_actions()
        .into_iter()
        .filter(|a| !called.contains(a) && !CHECKED_ON_THE_CALLERS_BEHALF.contains(&a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "{POLICY_PATH} allows {unused:?}, which the provider never calls: remove them"
    );
}

#[test]
fn every_operation_in_the_source_is_in_the_policy() {
    let missing = denied(&source_actions());
    assert!(
        missing.is_empty(),
        "the provider calls {missing:?}, which {POLICY_PATH} does not allow: add them"
    );
}

#[test]
fn operations_are_read_from_chained_calls() {
    let source = "self.client\n    .create_vpc()\n    .cidr_block(cidr)\n    .send().await?;\nlet id = out.vpc_id();\nbuilder.set_subnets(Some(ids));";
    assert_eq!(
        operations_in(source),
        BTreeSet::from(["CreateVpc".to_string()])
    );
}

#[test]
fn a_call_the_policy_does_not_allow_fails_the_test() {
    let check = PolicyCheck::new(|| {
        BTreeSet::from(["ec2:CreateVpc".to_string(), "ec2:DeleteKeyPair".to_string()])
    });
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(check)))
        .expect_err("the check fails");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("ec2:DeleteKeyPair"), "{message}");
    assert!(!message.contains("CreateVpc"), "{message}");
}

#[test]
fn assuming_the_role_is_the_base_identitys_permission_not_the_policys() {
    let seen = BTreeSet::from([
        "ec2:CreateVpc".to_string(),
        "sts:AssumeRole".to_string(),
        "sts:GetCallerIdentity".to_string(),
    ]);
    assert_eq!(
        denied(&seen),
        BTreeSet::from(["sts:GetCallerIdentity".to_string()])
    );
    assert!(!policy_actions().iter().any(|a| a.starts_with("sts:")));
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guides/iam-policy.md"),
    )
    .unwrap();
    assert!(guide.contains("`sts:AssumeRole`"), "the guide documents it");
}

#[test]
fn the_guide_shows_the_published_policy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = std::fs::read_to_string(root.join(POLICY_PATH)).unwrap();
    let guide = std::fs::read_to_string(root.join("docs/guides/iam-policy.md")).unwrap();
    assert!(
        guide.contains(&format!("```json\n{policy}```")),
        "docs/guides/iam-policy.md must show {POLICY_PATH} verbatim in a json block"
    );
}
