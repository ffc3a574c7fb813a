//! Lifecycle benchmark under the AWS behaviour model: applies, plans and
//! destroys `examples/complete` with the real terraform CLI against moto behind
//! the model, at two time scales, once with its NAT gateway per zone and once
//! with the regional NAT gateway, and reports each phase's wall time against
//! the physical floor (the longest chain of AWS-side waits), AWS calls,
//! throttling answers met, refresh's sequential depth and the provider's peak
//! memory.
//!
//! Run: `cargo bench --bench lifecycle` (scales 0.1 and 1.0), or name the
//! scales: `cargo bench --bench lifecycle -- 0.05 0.5`.

#[allow(dead_code)]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::faults::FaultLayer;
use harness::model::clock::{
    ALB_INTERFACES_LINGER, ALB_PROVISIONING, INSTANCE_PENDING, INSTANCE_SHUTTING_DOWN,
    NAT_DELETING, NAT_PENDING,
};
use harness::model::ModelConfig;
use harness::moto::Moto;
use harness::terraform::Workspace;

/// A provider directory whose plugin runs the real binary under GNU time, so each
/// provider process appends its peak resident set (KiB) to `rss.log`.
fn measured_provider(dir: &Path) -> std::path::PathBuf {
    let real = env!("CARGO_BIN_EXE_terraform-provider-prodvpc");
    let log = dir.join("rss.log");
    let wrapper = dir.join("terraform-provider-prodvpc");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/time -f %M -a -o '{}' '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

fn peak_kib(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

fn timed(ws: &Workspace, args: &[&str]) -> Duration {
    let started = Instant::now();
    ws.ok(args);
    started.elapsed()
}

/// Median time from starting the provider to its handshake line, with a client
/// certificate as Terraform passes it (so the server makes its key and certificate).
fn handshake_median(starts: usize) -> Duration {
    use std::io::BufRead;
    let key = rcgen::KeyPair::generate().unwrap();
    let client_pem = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem();
    let mut times: Vec<Duration> = (0..starts)
        .map(|_| {
            let started = Instant::now();
            let mut child =
                std::process::Command::new(env!("CARGO_BIN_EXE_terraform-provider-prodvpc"))
                    .env(
                        prodvpc::plugin::MAGIC_COOKIE_KEY,
                        prodvpc::plugin::MAGIC_COOKIE_VALUE,
                    )
                    .env("PLUGIN_CLIENT_CERT", &client_pem)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let elapsed = started.elapsed();
            assert!(line.starts_with("1|6|tcp|"), "handshake: {line}");
            let _ = child.kill();
            let _ = child.wait();
            elapsed
        })
        .collect();
    times.sort();
    times[starts / 2]
}

fn total_calls(layer: &FaultLayer) -> usize {
    layer.counts().values().sum()
}

/// The probability, as in CI, that a call naming an object younger than 1.5 s
/// is answered "not found".
const CONSISTENCY: f64 = 0.5;

/// What a round trip to a real region adds to every call when refresh's
/// sequential depth is measured.
const ADDED_LATENCY: Duration = Duration::from_millis(100);

/// How long EC2's describe bucket (100 calls, 20 a second) takes to refill from empty.
const ACCOUNT_BUCKET_REFILL: Duration = Duration::from_secs(5);

/// The longest chain of AWS-side waits of an apply, in AWS seconds: the load
/// balancer provisioning, or an instance launching and then passing
/// `healthy_checks` checks `interval` seconds apart, after the NAT gateways
/// its subnets route through are available (with `nat_gateways = "none"` at
/// once). Each chain starts as soon as the VPC's first objects exist.
fn apply_floor(healthy_checks: u32, interval: u32, nat: &str) -> f64 {
    let way_out = if nat == "none" { 0.0 } else { NAT_PENDING };
    let instance = way_out + INSTANCE_PENDING.1 + f64::from(healthy_checks * interval);
    ALB_PROVISIONING.max(instance)
}

/// The longest chain of a destroy: the load balancer's interfaces lingering in
/// its subnets, a NAT gateway deleting, or instances shutting down.
fn destroy_floor() -> f64 {
    ALB_INTERFACES_LINGER
        .max(NAT_DELETING)
        .max(INSTANCE_SHUTTING_DOWN)
}

/// The health check of the environment's target group: (healthy threshold, interval).
fn health_check(layer: &FaultLayer, ws: &Workspace) -> (u32, u32) {
    let state = ws.resource_values("prodvpc_environment.shop");
    let arn = state["target_group_arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let api = harness::Api::new(&layer.endpoint());
    harness::runtime().block_on(async {
        let out = api
            .elbv2
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await;
        let groups = out.map(|o| o.target_groups().to_vec()).unwrap_or_default();
        let group = groups.first();
        (
            group.and_then(|g| g.healthy_threshold_count()).unwrap_or(5) as u32,
            group
                .and_then(|g| g.health_check_interval_seconds())
                .unwrap_or(30) as u32,
        )
    })
}

/// Plans per median in the sequential depth measurement.
const PLAN_SAMPLES: usize = 7;

fn median_plan(ws: &Workspace) -> Duration {
    let mut times: Vec<Duration> = (0..PLAN_SAMPLES)
        .map(|_| timed(ws, &["plan", "-detailed-exitcode", "-no-color"]))
        .collect();
    times.sort();
    times[PLAN_SAMPLES / 2]
}

struct Phase {
    wall: Duration,
    calls: usize,
    /// calls per `service:Action`
    by_action: std::collections::BTreeMap<String, usize>,
    throttled: usize,
    /// throttling answers per `service:Action`
    throttled_by_action: std::collections::BTreeMap<String, usize>,
}

impl Phase {
    fn measure(ws: &Workspace, layer: &FaultLayer, args: &[&str]) -> Phase {
        layer.reset_counts();
        let throttled_before = layer.model().throttled_counts();
        let wall = timed(ws, args);
        let throttled_by_action: std::collections::BTreeMap<String, usize> = layer
            .model()
            .throttled_counts()
            .into_iter()
            .map(|(action, n)| {
                let before = throttled_before.get(&action).copied().unwrap_or(0);
                (action, n - before)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        Phase {
            wall,
            calls: total_calls(layer),
            by_action: layer.counts().into_iter().collect(),
            throttled: throttled_by_action.values().sum(),
            throttled_by_action,
        }
    }
}

struct Round {
    scale: f64,
    /// the `nat_gateways` the round ran with
    nat: &'static str,
    apply: Phase,
    apply_floor: f64,
    plan: Phase,
    /// median of PLAN_SAMPLES plans
    plan_median: Duration,
    /// the same with ADDED_LATENCY on every call
    plan_with_latency: Duration,
    destroy: Phase,
    destroy_floor: f64,
}

impl Round {
    /// Calls refresh makes one after another: what 100 ms more per call adds
    /// to a plan, in units of 100 ms.
    fn sequential_depth(&self) -> f64 {
        (self.plan_with_latency.as_secs_f64() - self.plan_median.as_secs_f64())
            / ADDED_LATENCY.as_secs_f64()
    }
}

/// The NAT strategies each scale runs with: `examples/complete`'s, and the regional gateway.
const NAT_STRATEGIES: [&str; 2] = ["one_per_az", "regional"];

fn run_round(moto: &Moto, provider_dir: &Path, scale: f64, nat: &'static str) -> Round {
    let layer =
        FaultLayer::start_modelled(&moto.endpoint(), ModelConfig::aws_like(scale, CONSISTENCY));
    let ws = Workspace::with_provider_dir(Some(layer.endpoint()), provider_dir);
    ws.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/complete"));
    let main = ws.path().join("main.tf");
    let config = std::fs::read_to_string(&main).unwrap();
    let strategy = format!("nat_gateways = \"{nat}\"");
    let config = config.replace("nat_gateways = \"one_per_az\"", &strategy);
    assert!(
        config.contains(&strategy),
        "examples/complete sets nat_gateways"
    );
    std::fs::write(&main, config).unwrap();
    let apply = Phase::measure(&ws, &layer, &["apply", "-auto-approve", "-no-color"]);
    let (checks, interval) = health_check(&layer, &ws);
    let plan = Phase::measure(&ws, &layer, &["plan", "-detailed-exitcode", "-no-color"]);
    // medians: one plan is a few hundred milliseconds, within the noise of a busy machine
    let plan_median = median_plan(&ws);
    layer.set_latency(ADDED_LATENCY);
    let plan_with_latency = median_plan(&ws);
    layer.set_latency(Duration::ZERO);
    // the fourteen plans above, each its own provider process with its own
    // share of the account's limits, have drained EC2's describe bucket:
    // destroy is measured as after an ordinary plan, once it has refilled
    std::thread::sleep(ACCOUNT_BUCKET_REFILL);
    let destroy = Phase::measure(&ws, &layer, &["destroy", "-auto-approve", "-no-color"]);
    Round {
        scale,
        nat,
        apply,
        apply_floor: apply_floor(checks, interval, nat) * scale,
        plan,
        plan_median,
        plan_with_latency,
        destroy,
        destroy_floor: destroy_floor() * scale,
    }
}

fn main() {
    let mut scales: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .collect();
    if scales.is_empty() {
        scales = vec![0.1, 1.0];
    }
    let moto = Moto::start();
    let provider_dir = tempfile::tempdir().unwrap();
    let rss_log = measured_provider(provider_dir.path());
    // the first apply on a moto server pays for loading its image catalogue
    let warm_up = FaultLayer::start(&moto.endpoint());
    let ws = Workspace::with_provider_dir(Some(warm_up.endpoint()), provider_dir.path());
    ws.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/complete"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);

    let rounds: Vec<Round> = scales
        .iter()
        .flat_map(|&scale| NAT_STRATEGIES.map(|nat| (scale, nat)))
        .map(|(scale, nat)| run_round(&moto, provider_dir.path(), scale, nat))
        .collect();
    println!(
        "| time scale | nat_gateways | phase | wall | floor | wall / floor | AWS calls | throttled |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rounds {
        for (name, phase, floor) in [
            ("apply", &r.apply, Some(r.apply_floor)),
            ("plan (refresh)", &r.plan, None),
            ("destroy", &r.destroy, Some(r.destroy_floor)),
        ] {
            let wall = phase.wall.as_secs_f64();
            let (floor, ratio) = match floor {
                Some(f) => (format!("{f:.1} s"), format!("{:.3}", wall / f)),
                None => ("-".into(), "-".into()),
            };
            println!(
                "| {} | {} | {name} | {wall:.1} s | {floor} | {ratio} | {} | {} |",
                r.scale, r.nat, phase.calls, phase.throttled
            );
        }
    }
    println!();
    for r in &rounds {
        println!(
            "time scale {}, {}: plan {:.2} s (median of {PLAN_SAMPLES}), with {} ms added to every AWS call {:.2} s: sequential depth {:.1}",
            r.scale,
            r.nat,
            r.plan_median.as_secs_f64(),
            ADDED_LATENCY.as_millis(),
            r.plan_with_latency.as_secs_f64(),
            r.sequential_depth()
        );
    }
    for r in &rounds {
        for (name, phase) in [
            ("apply", &r.apply),
            ("plan", &r.plan),
            ("destroy", &r.destroy),
        ] {
            if !phase.throttled_by_action.is_empty() {
                println!(
                    "time scale {}, {}: {name} throttled on {:?}",
                    r.scale, r.nat, phase.throttled_by_action
                );
            }
        }
    }
    if let Some(r) = rounds.last() {
        let calls: Vec<String> = r
            .plan
            .by_action
            .iter()
            .map(|(action, n)| format!("{action} {n}"))
            .collect();
        println!("calls of a refresh ({}): {}", r.nat, calls.join(", "));
    }
    println!(
        "provider peak resident memory over all runs: {:.1} MiB",
        peak_kib(&rss_log) as f64 / 1024.0
    );
    println!(
        "provider start to handshake line, median of 20 starts: {:.1} ms",
        handshake_median(20).as_secs_f64() * 1000.0
    );
}
