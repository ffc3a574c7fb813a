//! The provider's `assume_role` block: the role is assumed once per configured
//! provider process with the base credentials (`test`), every EC2, Elastic Load
//! Balancing and Auto Scaling call is signed with the role's temporary
//! credentials (moto hands out `ASIA...` access keys), a refusal stops the
//! configuration with one diagnostic on the block, and bad values are refused
//! at validate time.

use std::collections::BTreeSet;

use crate::harness::faults::{Fault, FaultLayer};
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;
use crate::lifecycle::leftovers;
use crate::validation::assert_validate_refuses;

/// The harness's own account: moto routes a call to its access key's account,
/// so a role of another account would build in a world the test cannot see.
const ROLE: &str = "arn:aws:iam::123456789012:role/prodvpc-deploy";

/// The access key of the base credentials the harness gives Terraform.
const BASE_KEY: &str = "test";

/// The provider block of the tests, with every argument of `assume_role` set.
fn provider_block() -> String {
    format!(
        "provider \"prodvpc\" {{\n  assume_role {{\n    role_arn     = \"{ROLE}\"\n    session_name = \"ci-deploy\"\n    external_id  = \"tenant-42\"\n    duration     = \"1h\"\n  }}\n}}\n"
    )
}

/// The keys that signed the environment's calls (every service but STS) since the last reset.
fn service_signers(layer: &FaultLayer) -> BTreeSet<String> {
    layer
        .signers()
        .into_iter()
        .filter(|(call, _)| !call.starts_with("sts:"))
        .flat_map(|(_, keys)| keys)
        .collect()
}

/// Runs `args`, which configures the provider in one process, and checks that it
/// assumed the role once, with the base key, and signed every other call with
/// that one role key, whichever client made it. Returns the services called.
fn run_as_role(ws: &Workspace, layer: &FaultLayer, args: &[&str]) -> BTreeSet<String> {
    layer.reset_counts();
    ws.ok(args);
    assert_eq!(
        layer.count("sts:AssumeRole"),
        1,
        "terraform {args:?}: one AssumeRole per provider process: {:?}",
        layer.counts()
    );
    let signers = layer.signers();
    assert_eq!(
        signers.get("sts:AssumeRole"),
        Some(&BTreeSet::from([BASE_KEY.to_string()])),
        "the base credentials assume the role"
    );
    let keys = service_signers(layer);
    assert_eq!(
        keys.len(),
        1,
        "terraform {args:?}: one role key: {signers:?}"
    );
    let key = keys.first().unwrap();
    assert!(
        key.starts_with("ASIA"),
        "terraform {args:?}: signed with {key}, not the role's"
    );
    signers
        .keys()
        .filter_map(|call| call.split(':').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn apply_and_destroy_sign_every_call_with_the_assumed_role() {
    let moto = Moto::start();
    let layer = FaultLayer::aws_like(&moto.endpoint());
    let api = crate::harness::Api::new(&moto.endpoint());
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.write(&format!(
        "{}{}",
        provider_block(),
        crate::lifecycle::small("assumed")
    ));
    let planned = ws.ok(&["plan", "-out", "tfplan", "-no-color"]);
    assert!(planned.stdout.contains("1 to add"), "{}", planned.stdout);
    let applied = run_as_role(&ws, &layer, &["apply", "-no-color", "tfplan"]);
    for service in ["ec2", "elasticloadbalancing", "autoscaling", "sts"] {
        assert!(applied.contains(service), "apply called {applied:?}");
    }
    let request = layer.last_request("sts:AssumeRole").unwrap_or_default();
    for sent in [
        "RoleSessionName=ci-deploy",
        "ExternalId=tenant-42",
        "DurationSeconds=3600",
    ] {
        assert!(request.contains(sent), "AssumeRole sent {request}");
    }
    assert_eq!(api.tagged_vpcs("assumed"), 1, "built where the test looks");
    run_as_role(&ws, &layer, &["plan", "-refresh-only", "-no-color"]);
    ws.ok(&["plan", "-destroy", "-out", "tfdestroy", "-no-color"]);
    run_as_role(&ws, &layer, &["apply", "-no-color", "tfdestroy"]);
    assert_eq!(leftovers(&api, "assumed"), Vec::<String>::new());
}

#[test]
fn a_refused_role_stops_configuration_on_assume_role() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.write(&format!(
        "{}{}",
        provider_block(),
        crate::lifecycle::small("refused")
    ));
    layer.inject(
        "sts:AssumeRole",
        Fault::Error {
            status: 403,
            code: "AccessDenied".into(),
        },
        1,
    );
    let run = ws.run(&["plan", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.text());
    let text = run.text();
    for says in [
        "Cannot assume the configured role",
        ROLE,
        "AccessDenied: injected by the test fault layer",
        "trust policy",
        "external_id",
        "role_arn",
    ] {
        assert!(text.contains(says), "missing `{says}`:\n{text}");
    }
    for dump in ["panicked", "ServiceError", "ErrorMetadata", "Error {"] {
        assert!(!text.contains(dump), "`{dump}` in:\n{text}");
    }
    assert_eq!(
        text.matches("Cannot assume the configured role").count(),
        1,
        "{text}"
    );
    assert!(
        service_signers(&layer).is_empty(),
        "nothing called before the role was assumed: {:?}",
        layer.counts()
    );
}

#[test]
fn an_unreachable_sts_fails_configuration_in_seconds() {
    let ws = Workspace::new(None);
    ws.write(&format!(
        "{}{}",
        provider_block(),
        crate::lifecycle::small("offline")
    ));
    let started = std::time::Instant::now();
    let run = ws.run_with_env(
        &["plan", "-no-color"],
        &[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")],
    );
    let text = run.text();
    assert_ne!(run.code, 0, "{text}");
    assert!(text.contains("Cannot assume the configured role"), "{text}");
    assert!(text.contains("STS is reachable"), "{text}");
    assert!(!text.contains("dispatch failure"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn bad_assume_role_values_are_refused_at_validate() {
    let environment = "resource \"prodvpc_environment\" \"x\" {\n  name = \"shop\"\n  bastion {\n    enabled = false\n  }\n}\n";
    for (block, line, says) in [
        (
            "role_arn = \"prodvpc-deploy\"",
            "role_arn",
            "arn:aws:iam::123456789012:role/terraform",
        ),
        (
            "role_arn = \"arn:aws:iam::123456789012:user/ci\"",
            "role_arn",
            "does not name a role",
        ),
        (
            "role_arn = \"arn:aws:iam::1234:role/ci\"",
            "role_arn",
            "12-digit account ID",
        ),
        (
            "role_arn = \"{ROLE}\"\n    session_name = \"ci deploy\"",
            "session_name",
            "2 to 64",
        ),
        (
            "role_arn = \"{ROLE}\"\n    session_name = \"x\"",
            "session_name",
            "2 to 64",
        ),
        (
            "role_arn = \"{ROLE}\"\n    external_id = \"x\"",
            "external_id",
            "2 to 1224",
        ),
        (
            "role_arn = \"{ROLE}\"\n    duration = \"5m\"",
            "duration",
            "15m to 12h",
        ),
        (
            "role_arn = \"{ROLE}\"\n    duration = \"13h\"",
            "duration",
            "15m to 12h",
        ),
        (
            "role_arn = \"{ROLE}\"\n    duration = \"an hour\"",
            "duration",
            "not a duration",
        ),
    ] {
        let block = block.replace("{ROLE}", ROLE);
        assert_validate_refuses(
            &format!(
                "provider \"prodvpc\" {{\n  assume_role {{\n    {block}\n  }}\n}}\n{environment}"
            ),
            line,
            says,
        );
    }
}
