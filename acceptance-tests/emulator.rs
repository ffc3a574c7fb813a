//! AWS emulator: moto behind the fault layer with the AWS behaviour model, as a
//! standalone process for demos and manual runs. Point the provider's
//! `endpoints { ec2, autoscaling, elbv2 }` at the address it prints.
//!
//! ```text
//! cargo run --example aws-emulator -- --listen 127.0.0.1:4566 --moto http://127.0.0.1:5000 --scale 0.02 --consistency 0.3
//! ```
//!
//! Flags (all optional):
//! - `--listen HOST:PORT`  loopback address to serve on (default `127.0.0.1:4566`)
//! - `--moto URL`          the moto server to forward to (default `http://127.0.0.1:5000`);
//!   it must already be running
//! - `--scale S`           AWS's durations are multiplied by S (default `0.02`: a NAT
//!   gateway is pending 1.8 s instead of 90 s)
//! - `--consistency P`     chance (0.0 - 1.0) that a call naming an object created less
//!   than 1.5 s ago fails with AWS's NotFound error (default `0.0`)
//! - `--no-throttling`     turns AWS's request rate limits off
//! - `--seed N`            seeds the model's random decisions (default `1`)
//!
//! Prints one line `ready http://HOST:PORT` once it accepts calls, then serves
//! until killed.

/// The parts of the test harness the layer needs (not the Terraform ones).
#[allow(dead_code)]
mod harness {
    mod api;
    pub mod faults;
    pub mod iam;
    pub mod model;

    pub use api::{runtime, Api};
}

use harness::faults::FaultLayer;
use harness::model::ModelConfig;

struct Flags {
    listen: String,
    moto: String,
    config: ModelConfig,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Flags, String> {
    let mut flags = Flags {
        listen: "127.0.0.1:4566".into(),
        moto: "http://127.0.0.1:5000".into(),
        config: ModelConfig::aws_like(0.02, 0.0),
    };
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        if flag == "--no-throttling" {
            flags.config.throttling = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value
                .parse::<f64>()
                .map_err(|_| format!("{flag} {value}: {what} expected"))
        };
        match flag.as_str() {
            "--listen" => flags.listen = value.clone(),
            "--moto" => flags.moto = value.clone(),
            "--scale" => flags.config.time_scale = number("a positive number")?,
            "--consistency" => flags.config.consistency_probability = number("a probability")?,
            "--seed" => {
                flags.config.seed = value
                    .parse()
                    .map_err(|_| format!("--seed {value}: a whole number expected"))?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if flags.config.time_scale <= 0.0 {
        return Err("--scale must be positive".into());
    }
    if !(0.0..=1.0).contains(&flags.config.consistency_probability) {
        return Err("--consistency must be between 0.0 and 1.0".into());
    }
    Ok(flags)
}

fn main() {
    let flags = match parse(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(problem) => {
            eprintln!("aws-emulator: {problem} (flags: --listen HOST:PORT --moto URL --scale S --consistency P --no-throttling --seed N)");
            std::process::exit(2);
        }
    };
    let layer = FaultLayer::start_modelled_on(&flags.listen, &flags.moto, flags.config);
    println!("ready {}", layer.endpoint());
    loop {
        std::thread::park();
    }
}
