//! AWS emulator: the acceptance tests' AWS as a standalone process, for the demo
//! and for trying configurations by hand: moto with the harness's corrections
//! (`harness/moto_as_aws.py`), behind the fault layer with the AWS behaviour
//! model. `make emulator` starts it (`.ci/emulator`).
//!
//! ```text
//! cargo run --example aws-emulator -- --listen 127.0.0.1:4566 --scale 0.05 --consistency 0.3
//! ```
//!
//! Flags (all optional):
//! - `--listen HOST:PORT`  loopback address to serve on (default `127.0.0.1:4566`)
//! - `--moto URL`          forward to a moto server already running there instead of
//!   starting the corrected one (its answers then differ from AWS where moto's do)
//! - `--scale S`           AWS's durations are multiplied by S (default `0.02`: a NAT
//!   gateway is pending 1.8 s instead of 90 s)
//! - `--consistency P`     chance (0.0 - 1.0) that a call naming an object created less
//!   than 1.5 s ago fails with AWS's NotFound error (default `0.0`)
//! - `--no-throttling`     turns AWS's request rate limits off
//! - `--seed N`            seeds the model's random decisions (default `1`)
//! - `--unhealthy-user-data TEXT`  instances launched from a launch template whose
//!   user data contains TEXT fail their target group's health checks (an app that
//!   does not start), to try a rollout that AWS rolls back
//!
//! Prints one line `ready http://HOST:PORT` once it accepts calls, then the
//! environment variables that point the provider at it, and serves until killed
//! (moto with it).

/// The parts of the test harness the layer needs (not the Terraform ones).
#[allow(dead_code)]
mod harness {
    mod api;
    pub mod faults;
    pub mod iam;
    pub mod model;
    pub mod moto;

    pub use api::{runtime, Api};
}

use harness::faults::FaultLayer;
use harness::model::ModelConfig;
use harness::moto::Moto;

struct Flags {
    listen: String,
    moto: Option<String>,
    config: ModelConfig,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Flags, String> {
    let mut flags = Flags {
        listen: "127.0.0.1:4566".into(),
        moto: None,
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
            "--moto" => flags.moto = Some(value.clone()),
            "--scale" => flags.config.time_scale = number("a positive number")?,
            "--consistency" => flags.config.consistency_probability = number("a probability")?,
            "--unhealthy-user-data" => flags.config.unhealthy_user_data = Some(value.clone()),
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
            eprintln!("aws-emulator: {problem} (flags: --listen HOST:PORT --moto URL --scale S --consistency P --no-throttling --seed N --unhealthy-user-data TEXT)");
            std::process::exit(2);
        }
    };
    // a moto started here lives (and stops) with this process
    let (upstream, _started_moto) = match flags.moto.clone() {
        Some(url) => (url, None),
        None => {
            let moto = Moto::start();
            (moto.endpoint(), Some(moto))
        }
    };
    let layer = FaultLayer::start_modelled_on(&flags.listen, &upstream, flags.config);
    let endpoint = layer.endpoint();
    println!("ready {endpoint}");
    println!(
        "\nThe AWS emulator answers at {endpoint} (every API moto serves).\n\
         Point the provider (and the AWS CLI) at it from another shell:\n\n\
         export AWS_ENDPOINT_URL={endpoint}\n\
         export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n\
         export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true\n\
         unset AWS_PROFILE\n\n\
         Everything lives in memory and is gone when it stops (Ctrl-C)."
    );
    loop {
        std::thread::park();
    }
}
