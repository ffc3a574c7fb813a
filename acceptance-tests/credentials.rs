//! Credentials as configured: a `profile` in the provider block signs every
//! call even with `AWS_ACCESS_KEY_ID` in the environment (as hashicorp/aws
//! does), the log names where the credentials came from, and a profile the
//! shared files do not define is refused when the provider is configured, on
//! `profile`, before any call.

use std::collections::BTreeSet;

use crate::harness::faults::FaultLayer;
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;

/// The profile's access key, and the environment's (the harness's) one.
const PROFILE_KEY: &str = "AKIAPRODPROFILE00001";
const ENVIRONMENT_KEY: &str = "test";

/// Writes a config and a credentials file into the workspace; returns the
/// environment that points the SDK at them (beside the harness's own keys).
fn shared_files(ws: &Workspace) -> Vec<(&'static str, String)> {
    let config = ws.path().join("aws-config");
    let credentials = ws.path().join("aws-credentials");
    std::fs::write(
        &config,
        "[profile prod]\nregion = us-east-1\n\n[profile staging]\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        &credentials,
        format!("[prod]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = prod-secret\n\n[staging]\naws_access_key_id = AKIASTAGING000000001\naws_secret_access_key = staging-secret\n"),
    )
    .unwrap();
    vec![
        ("AWS_CONFIG_FILE", config.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.display().to_string(),
        ),
        ("AWS_ACCESS_KEY_ID", ENVIRONMENT_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("TF_LOG_PROVIDER", "info".to_string()),
    ]
}

fn run(
    ws: &Workspace,
    args: &[&str],
    env: &[(&'static str, String)],
) -> crate::harness::terraform::Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ws.run_with_env(args, &env)
}

fn workspace(layer: &FaultLayer, profile: &str) -> Workspace {
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.write(&format!(
        "provider \"prodvpc\" {{\n  profile = \"{profile}\"\n}}\n{}",
        crate::lifecycle::small("profiled")
    ));
    ws
}

#[test]
fn the_provider_blocks_profile_signs_every_call_over_the_environments_keys() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let ws = workspace(&layer, "prod");
    let env = shared_files(&ws);
    layer.reset_counts();
    let plan = run(&ws, &["plan", "-no-color"], &env);
    assert_eq!(plan.code, 0, "{}", plan.text());
    let signers: BTreeSet<String> = layer.signers().into_values().flatten().collect();
    assert_eq!(
        signers,
        BTreeSet::from([PROFILE_KEY.to_string()]),
        "every call of the plan is signed with the profile's key"
    );
    let logged = plan
        .stderr
        .lines()
        .find(|l| l.contains("[INFO]") && l.contains("AWS calls are signed with these credentials"))
        .unwrap_or_else(|| panic!("no credentials line:\n{}", plan.stderr));
    assert!(
        logged.contains("source=\"profile prod (provider block)\"")
            && logged.contains(&format!("access_key_id={PROFILE_KEY}")),
        "{logged}"
    );
}

#[test]
fn a_profile_the_shared_files_do_not_define_is_refused_on_profile() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let ws = workspace(&layer, "prdo");
    let env = shared_files(&ws);
    layer.reset_counts();
    let plan = run(&ws, &["plan", "-json", "-no-color"], &env);
    assert_ne!(plan.code, 0, "{}", plan.text());
    let errors: Vec<(String, String)> = plan
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .map(|m| {
            let d = &m["diagnostic"];
            (
                d["summary"].as_str().unwrap_or_default().to_string(),
                d["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(errors, [(
        "Unknown profile".to_string(),
        "no profile named prdo in the shared config and credentials files (they define prod, staging). Name a profile of AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/config and ~/.aws/credentials), create it (`aws configure --profile NAME`), or leave profile out to use the standard chain.".to_string(),
    )]);
    let pointed = plan
        .stdout
        .lines()
        .any(|l| l.contains("Unknown profile") && l.contains("profile = \\\"prdo\\\""));
    assert!(
        pointed,
        "the diagnostic points at profile:\n{}",
        plan.stdout
    );
    assert!(
        layer.signers().is_empty(),
        "nothing was called: {:?}",
        layer.signers()
    );
}
