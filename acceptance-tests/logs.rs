//! The provider's logs as Terraform shows them: at the level `TF_LOG_PROVIDER`
//! or `TF_LOG` asks for, one DEBUG line per AWS call, warnings visible under
//! `TF_LOG=warn`, and none of the SDK's internals below TRACE.

use std::collections::BTreeMap;

use crate::harness::faults::FaultLayer;
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;

const CONFIG: &str = r#"resource "prodvpc_environment" "logged" {
  name         = "logged"
  nat_gateways = "none"
  bastion {
    enabled = false
  }
}
"#;

/// Terraform's rendering of the provider's lines: `<time> [LEVEL] provider.<binary>: <message>: k=v ...`.
fn provider_lines<'a>(stderr: &'a str, level: &str) -> Vec<&'a str> {
    let tag = format!("[{level}]");
    stderr
        .lines()
        .filter(|line| line.contains(&tag) && line.contains("provider.terraform-provider-prodvpc"))
        .collect()
}

/// The value of `key=value` in a rendered line.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    line[start..].split_whitespace().next()
}

#[test]
fn terraform_shows_provider_lines_at_their_level() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.write(CONFIG);
    layer.reset_counts();

    let apply = ws.run_with_env(
        &["apply", "-auto-approve", "-no-color"],
        &[("TF_LOG_PROVIDER", "debug")],
    );
    assert_eq!(apply.code, 0, "{}", apply.text());
    // every line was parsed as go-plugin JSON: none is left raw
    assert!(
        !apply.stderr.contains("\"@message\""),
        "a provider line was not understood:\n{}",
        apply.stderr
    );
    let calls: Vec<&str> = provider_lines(&apply.stderr, "DEBUG")
        .into_iter()
        .filter(|line| line.contains(": AWS call "))
        .collect();
    assert!(!calls.is_empty(), "no AWS call lines:\n{}", apply.stderr);
    // one line per call: their attempts add up to the requests AWS received
    let mut logged: BTreeMap<String, usize> = BTreeMap::new();
    for line in &calls {
        let operation = value_of(line, "operation").expect("operation");
        let attempts: usize = value_of(line, "attempts")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no attempts in {line}"));
        assert!(value_of(line, "duration_ms").is_some(), "{line}");
        assert!(value_of(line, "@module") == Some("prodvpc.aws"), "{line}");
        *logged.entry(operation.to_string()).or_default() += attempts;
    }
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for (key, count) in layer.counts() {
        let action = key.split_once(':').map_or(key.as_str(), |(_, a)| a);
        *received.entry(action.to_string()).or_default() += count;
    }
    assert_eq!(logged, received);
    // a create names the component it makes
    let create_vpc = calls
        .iter()
        .find(|line| line.contains("operation=CreateVpc"))
        .expect("a CreateVpc line");
    assert!(create_vpc.contains("component=vpc"), "{create_vpc}");
    assert!(value_of(create_vpc, "request_id").is_some(), "{create_vpc}");
    // the SDK's, HTTP/2's and TLS's internals stay out below TRACE
    for internal in [
        "@module=aws_smithy",
        "@module=h2",
        "@module=hyper",
        "@module=rustls",
    ] {
        assert!(
            !apply.stderr.contains(internal),
            "{internal} at DEBUG:\n{}",
            apply.stderr
        );
    }

    // nothing at all when no level is set
    let quiet = ws.run(&["plan", "-no-color"]);
    assert_eq!(quiet.code, 0, "{}", quiet.text());
    assert!(!quiet.stderr.contains("AWS call"), "{}", quiet.stderr);

    // the environment disappears elsewhere: the provider warns when it drops it from state
    let other = Workspace::new(Some(layer.endpoint()));
    other.write(CONFIG);
    other.ok(&[
        "import",
        "-no-color",
        "prodvpc_environment.logged",
        "logged",
    ]);
    other.ok(&["destroy", "-auto-approve", "-no-color"]);
    let plan = ws.run_with_env(&["plan", "-no-color"], &[("TF_LOG", "warn")]);
    assert_eq!(plan.code, 0, "{}", plan.text());
    let warnings = provider_lines(&plan.stderr, "WARN");
    assert!(
        warnings
            .iter()
            .any(|line| line.contains("VPC not found; removing the environment from state")),
        "no provider warning under TF_LOG=warn:\n{}",
        plan.stderr
    );
    assert!(
        provider_lines(&plan.stderr, "DEBUG").is_empty(),
        "{}",
        plan.stderr
    );
    assert!(
        provider_lines(&plan.stderr, "INFO").is_empty(),
        "{}",
        plan.stderr
    );
}

/// A provider directory whose plugin is the real binary with its stderr also
/// copied, as written, to `stderr.log`.
fn provider_keeping_stderr(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = env!("CARGO_BIN_EXE_terraform-provider-prodvpc");
    let log = dir.join("stderr.log");
    let wrapper = dir.join("terraform-provider-prodvpc");
    std::fs::write(
        &wrapper,
        format!(
            "#!/usr/bin/env bash\nexec '{real}' \"$@\" 2> >(tee -a '{}' >&2)\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

/// The keys of a top-level JSON object in the order the line writes them.
fn keys_in_written_order(line: &str) -> Vec<String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|key| {
            let written = serde_json::Value::String(key.clone()).to_string() + ":";
            (
                line.find(&written).expect("the key as written"),
                key.clone(),
            )
        })
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, key)| key).collect()
}

#[test]
fn every_entry_is_one_line_at_trace_with_its_fields_in_one_order() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let provider_dir = tempfile::tempdir().unwrap();
    let raw_log = provider_keeping_stderr(provider_dir.path());
    let ws = Workspace::with_provider_dir(Some(layer.endpoint()), provider_dir.path());
    ws.write(CONFIG);
    let apply = ws.run_with_env(
        &["apply", "-auto-approve", "-no-color"],
        &[("TF_LOG_PROVIDER", "trace")],
    );
    assert_eq!(apply.code, 0, "{}", apply.text());

    // what the provider writes: one JSON object a line, the same four keys in one order
    let raw = std::fs::read_to_string(&raw_log).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    assert!(lines.len() > 100, "{raw}");
    for line in &lines {
        assert_eq!(
            keys_in_written_order(line),
            ["@level", "@message", "@module", "@timestamp"],
            "{line}"
        );
    }
    // the dependencies' internals are among them (TLS, HTTP/2), so they are covered
    for library in ["rustls", "h2"] {
        assert!(
            lines
                .iter()
                .any(|line| line.contains(&format!("\"@module\":\"{library}."))),
            "no {library} entry at TRACE"
        );
    }

    // what Terraform shows: every line starts with its time and level
    for line in apply.stderr.lines() {
        let (time, rest) = line.split_once(' ').unwrap_or((line, ""));
        assert!(
            time.len() >= 20 && time.starts_with("20") && rest.starts_with('['),
            "a line without time or level in Terraform's log: {line}"
        );
    }
    // the AWS call lines name their fields in one order, each component once
    let calls: Vec<&str> = provider_lines(&apply.stderr, "DEBUG")
        .into_iter()
        .filter(|line| line.contains(": AWS call "))
        .collect();
    assert!(calls.len() > 20, "{}", apply.stderr);
    let order = [" service=", " operation=", " duration_ms=", " attempts="];
    for line in &calls {
        let at: Vec<usize> = order
            .iter()
            .map(|key| {
                line.find(key)
                    .unwrap_or_else(|| panic!("no{key} in {line}"))
            })
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "{order:?} out of order: {line}"
        );
        if let Some(component) = value_of(line, "object").and_then(|o| {
            o.trim_matches('"')
                .strip_prefix("component=")
                .map(str::to_string)
        }) {
            let names: Vec<&str> = component.split(',').collect();
            let mut unique = names.clone();
            unique.dedup();
            assert_eq!(names, unique, "a component named twice: {line}");
        }
    }
    assert!(
        calls
            .iter()
            .any(|line| line.contains("operation=CreateLaunchTemplate")
                && line.contains("\"component=lt ")),
        "no CreateLaunchTemplate line naming component lt once"
    );
}
