//! Many environments, one account: applies, plans (no changes) and destroys
//! configurations of 1, 3, 10 (and, when asked, 30) environments (`for_each`)
//! with the real terraform CLI against moto behind the AWS behaviour model
//! (throttling on), and plans 3 configurations of 3 environments at once
//! against one account. Reports each phase's wall time, AWS calls and the
//! throttling answers met.
//!
//! Run: `cargo bench --bench many` (1, 3 and 10 environments at time scale
//! 0.1), or name the counts and the scale: `cargo bench --bench many -- 1 3 10
//! 30 --scale 0.1`; `-- --at-once-only` runs the three configurations alone.
//! `PRODVPC_BENCH_CALLS=1` prints each apply's and rested plan's calls by
//! action; `PRODVPC_BENCH_LOG=<file>` appends the provider's DEBUG log;
//! `PRODVPC_BENCH_NO_ENDPOINTS=1` leaves the gateway endpoints out.

#[allow(dead_code)]
mod harness;

use std::time::{Duration, Instant};

use harness::faults::FaultLayer;
use harness::model::ModelConfig;
use harness::moto::Moto;
use harness::terraform::Workspace;

/// As in CI and the lifecycle benchmark.
const CONSISTENCY: f64 = 0.5;

/// Long enough for every bucket of the model to refill (the mutating one:
/// 50 tokens at 5 a second).
const REFILL: Duration = Duration::from_secs(10);

/// A configuration of `count` environments named `<prefix>-<n>`, with
/// `nat_gateways` (`single` or `none`); without gateway endpoints when
/// `PRODVPC_BENCH_NO_ENDPOINTS` is set (AWS creates gateway endpoints at 4 at
/// once and one every 3 seconds after, for the whole account: with many
/// environments that rate, not the provider, sets the pace of an apply).
fn configuration(prefix: &str, count: usize, nat_gateways: &str) -> String {
    let names: Vec<String> = (0..count).map(|n| format!("\"{prefix}-{n}\"")).collect();
    let endpoints = match std::env::var_os("PRODVPC_BENCH_NO_ENDPOINTS") {
        Some(_) => "  vpc_endpoints {\n    s3 = false\n    dynamodb = false\n  }\n",
        None => "",
    };
    format!(
        "resource \"prodvpc_environment\" \"env\" {{\n  for_each = toset([{}])\n  name = each.key\n  nat_gateways = \"{nat_gateways}\"\n{endpoints}  bastion {{\n    ssh_ingress_cidrs = [\"198.51.100.0/24\"]\n  }}\n}}\n",
        names.join(", ")
    )
}

struct Phase {
    wall: Duration,
    calls: usize,
    throttled: usize,
}

fn measure(ws: &Workspace, layer: &FaultLayer, args: &[&str]) -> Phase {
    layer.reset_counts();
    let throttled = layer.model().throttled_total();
    let started = Instant::now();
    // PRODVPC_BENCH_LOG=<file>: the provider's DEBUG log of every phase (each
    // call with its operation and wait), appended to the file
    let run = ws.run_with_env(args, &log_env());
    assert_eq!(run.code, 0, "terraform {args:?} failed:\n{}", run.text());
    Phase {
        wall: started.elapsed(),
        calls: layer.counts().values().sum(),
        throttled: layer.model().throttled_total() - throttled,
    }
}

/// With `PRODVPC_BENCH_LOG=<file>`, the provider's log, appended to the file:
/// DEBUG (each call), or the level `PRODVPC_BENCH_LOG_LEVEL` names (`TRACE`
/// adds each call's wait for its bucket).
fn log_env() -> Vec<(&'static str, &'static str)> {
    static ENV: std::sync::OnceLock<Vec<(&'static str, &'static str)>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        match std::env::var("PRODVPC_BENCH_LOG") {
            Ok(path) => vec![
                (
                    "TF_LOG_PROVIDER",
                    leak(std::env::var("PRODVPC_BENCH_LOG_LEVEL").unwrap_or("DEBUG".into())),
                ),
                ("TF_LOG_PATH", leak(path)),
            ],
            Err(_) => Vec::new(),
        }
    })
    .clone()
}

fn workspace(layer: &FaultLayer, hcl: &str) -> Workspace {
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.write(hcl);
    ws
}

fn row(environments: &str, phase: &str, p: &Phase) {
    println!(
        "| {environments} | {phase} | {:.1} s | {} | {} |",
        p.wall.as_secs_f64(),
        p.calls,
        p.throttled
    );
}

/// With `PRODVPC_BENCH_CALLS` set: the last phase's calls by action, most first.
fn print_calls(layer: &FaultLayer, phase: &str) {
    if std::env::var_os("PRODVPC_BENCH_CALLS").is_some() {
        let mut counts: Vec<(String, usize)> = layer.counts().into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        eprintln!("{phase}: {counts:?}");
    }
}

fn one_configuration(moto: &Moto, count: usize, scale: f64) {
    let layer =
        FaultLayer::start_modelled(&moto.endpoint(), ModelConfig::aws_like(scale, CONSISTENCY));
    // Terraform creates 10 at a time, each checking the Elastic IP quota (5
    // in the model) before it starts: a first wave of up to 10 passes, a
    // second would be refused, so more than 10 are built without NAT gateways
    let nat = if count > 10 { "none" } else { "single" };
    let ws = workspace(&layer, &configuration(&format!("many{count}"), count, nat));
    let apply = measure(&ws, &layer, &["apply", "-auto-approve", "-no-color"]);
    print_calls(&layer, &format!("apply of {count}"));
    let plan = measure(&ws, &layer, &["plan", "-detailed-exitcode", "-no-color"]);
    // the account's buckets full again, as after a quiet moment: what a plan
    // costs by itself, not what the apply before it left of the budget
    std::thread::sleep(REFILL);
    let rested = measure(&ws, &layer, &["plan", "-detailed-exitcode", "-no-color"]);
    print_calls(&layer, &format!("rested plan of {count}"));
    std::thread::sleep(REFILL);
    let destroy = measure(&ws, &layer, &["destroy", "-auto-approve", "-no-color"]);
    print_calls(&layer, &format!("destroy of {count}"));
    let label = count.to_string();
    row(&label, "apply", &apply);
    row(&label, "plan (no changes), right after the apply", &plan);
    row(&label, "plan (no changes), buckets refilled", &rested);
    row(&label, "destroy", &destroy);
}

/// Three configurations of three environments each, applied one after
/// another, then planned at the same moment against the same account. Without
/// NAT gateways: the region's Elastic IP quota (5) would refuse
/// the second configuration's, and a plan reads the same either way.
fn configurations_at_once(moto: &Moto, scale: f64) {
    let layer =
        FaultLayer::start_modelled(&moto.endpoint(), ModelConfig::aws_like(scale, CONSISTENCY));
    let workspaces: Vec<Workspace> = (0..3)
        .map(|c| workspace(&layer, &configuration(&format!("team{c}"), 3, "none")))
        .collect();
    for ws in &workspaces {
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
    }
    plan_at_once(
        &layer,
        &workspaces,
        "plan (no changes), the longest, right after the applies",
    );
    std::thread::sleep(REFILL);
    plan_at_once(
        &layer,
        &workspaces,
        "plan (no changes), the longest, buckets refilled",
    );
    for ws in &workspaces {
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    }
}

/// Starts a plan in each workspace at the same moment and reports the
/// longest, the calls of all and the throttling answers they met.
fn plan_at_once(layer: &FaultLayer, workspaces: &[Workspace], phase: &str) {
    layer.reset_counts();
    let throttled = layer.model().throttled_total();
    let started = Instant::now();
    let plans: Vec<_> = workspaces
        .iter()
        .map(|ws| ws.spawn_with_env(&["plan", "-detailed-exitcode", "-no-color"], &log_env()))
        .collect();
    let walls: Vec<Duration> = plans
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("terraform plan");
            assert_eq!(
                out.status.code(),
                Some(0),
                "plan:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            started.elapsed()
        })
        .collect();
    let longest = walls.iter().max().copied().unwrap_or_default();
    row(
        "3 configurations x 3, at once",
        phase,
        &Phase {
            wall: longest,
            calls: layer.counts().values().sum(),
            throttled: layer.model().throttled_total() - throttled,
        },
    );
    println!(
        "(each plan: {})",
        walls
            .iter()
            .map(|w| format!("{:.1} s", w.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale: f64 = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.1);
    let mut counts: Vec<usize> = args
        .iter()
        .filter(|a| !a.contains('.'))
        .filter_map(|a| a.parse().ok())
        .filter(|n| *n > 0)
        .collect();
    let at_once_only = args.iter().any(|a| a == "--at-once-only");
    if counts.is_empty() && !at_once_only {
        counts = vec![1, 3, 10];
    }
    let moto = Moto::start();
    // the first apply on a moto server pays for loading its image catalogue
    let warm_up = FaultLayer::start(&moto.endpoint());
    let ws = workspace(&warm_up, &configuration("warm", 1, "single"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);

    println!("time scale {scale}");
    println!("| environments | phase | wall | AWS calls | throttled |");
    println!("|---|---|---|---|---|");
    for count in counts {
        one_configuration(&moto, count, scale);
    }
    configurations_at_once(&moto, scale);
}
