//! Lifecycle benchmark: applies, plans and destroys `examples/complete` with the
//! real terraform CLI against moto behind the fault layer, and reports wall time,
//! AWS calls per phase and the provider's peak memory.
//!
//! Run: `cargo bench --bench lifecycle` (add `-- 5` for five rounds).

#[allow(dead_code)]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::faults::FaultLayer;
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

fn main() {
    let rounds: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(3);
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let provider_dir = tempfile::tempdir().unwrap();
    let rss_log = measured_provider(provider_dir.path());
    let mut rows = Vec::new();
    for round in 1..=rounds {
        let ws = Workspace::with_provider_dir(Some(layer.endpoint()), provider_dir.path());
        ws.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/complete"));
        layer.reset_counts();
        let apply = timed(&ws, &["apply", "-auto-approve", "-no-color"]);
        let apply_calls = total_calls(&layer);
        layer.reset_counts();
        let plan = timed(&ws, &["plan", "-detailed-exitcode", "-no-color"]);
        let plan_calls = total_calls(&layer);
        layer.reset_counts();
        let destroy = timed(&ws, &["destroy", "-auto-approve", "-no-color"]);
        let destroy_calls = total_calls(&layer);
        rows.push((
            round,
            apply,
            apply_calls,
            plan,
            plan_calls,
            destroy,
            destroy_calls,
        ));
    }
    println!("| round | apply | AWS calls | plan (refresh) | AWS calls | destroy | AWS calls |");
    println!("|---|---|---|---|---|---|---|");
    for (round, apply, ac, plan, pc, destroy, dc) in &rows {
        println!(
            "| {round} | {:.2} s | {ac} | {:.2} s | {pc} | {:.2} s | {dc} |",
            apply.as_secs_f64(),
            plan.as_secs_f64(),
            destroy.as_secs_f64()
        );
    }
    // With a round trip per call, as against a real region, the dependency graph
    // shows: the calls of independent branches overlap instead of adding up.
    let latency = Duration::from_millis(100);
    layer.set_latency(latency);
    let ws = Workspace::with_provider_dir(Some(layer.endpoint()), provider_dir.path());
    ws.copy_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/complete"));
    layer.reset_counts();
    let started = Instant::now();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let apply = started.elapsed();
    let calls = total_calls(&layer);
    layer.reset_counts();
    let destroy = timed(&ws, &["destroy", "-auto-approve", "-no-color"]);
    let destroy_calls = total_calls(&layer);
    println!(
        "\nwith {} ms added to every AWS call: apply {:.2} s for {calls} calls ({:.1} s if they ran one after another), destroy {:.2} s for {destroy_calls} calls ({:.1} s one after another)",
        latency.as_millis(),
        apply.as_secs_f64(),
        calls as f64 * latency.as_secs_f64(),
        destroy.as_secs_f64(),
        destroy_calls as f64 * latency.as_secs_f64(),
    );
    println!(
        "provider peak resident memory over all runs: {:.1} MiB",
        peak_kib(&rss_log) as f64 / 1024.0
    );
    println!(
        "provider start to handshake line, median of 20 starts: {:.1} ms",
        handshake_median(20).as_secs_f64() * 1000.0
    );
}
