//! Generates the plugin protocol's gRPC server (the provider's transport, see
//! `src/plugin/`) and client (used by the protocol-level tests) from `proto/`,
//! and records the commit a release build comes from (`--version` prints it).
use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_build::configure()
        .protoc_arg("--experimental_allow_proto3_optional")
        .build_server(true)
        .build_client(true)
        .compile_protos(
            &["proto/tfplugin6.8.proto", "proto/plugin.proto"],
            &["proto"],
        )?;
    // Only release builds: watching the commit would rebuild development
    // builds after every commit.
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        record_commit();
    }
    Ok(())
}

/// Sets `PRODVPC_BUILD_COMMIT` from git; a source tree without git (or
/// without `.git`) builds just the same, without it.
fn record_commit() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return;
    };
    println!("cargo:rustc-env=PRODVPC_BUILD_COMMIT=commit {commit}");
    // rebuild when HEAD moves: HEAD itself (a branch switch) and the branch it names
    for path in ["HEAD", "refs/heads"] {
        if let Some(file) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
}
