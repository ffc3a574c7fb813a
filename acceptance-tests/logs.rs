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
