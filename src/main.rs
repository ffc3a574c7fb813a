//! The provider binary Terraform and OpenTofu launch as a plugin.

use prodvpc::provider::ProdVpcProvider;

/// The release this binary is, and the commit it was built from (release
/// builds record it; development builds do not, to keep rebuilds cheap).
fn version() -> String {
    let commit = option_env!("PRODVPC_BUILD_COMMIT").unwrap_or("development build");
    format!(
        "terraform-provider-prodvpc {} ({commit}) {}_{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH)
    )
}

/// Terraform names platforms as Go does (`linux_amd64`, `darwin_arm64`).
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|arg| matches!(arg.as_str(), "--version" | "-version" | "version" | "-v"))
    {
        println!("{}", version());
        return;
    }
    prodvpc::logging::report_panics_as_go_does();
    // tf-provider's Diagnostic appends a backtrace to its detail when library
    // backtraces are enabled; users read those details, so they stay off
    // (the panic report captures its own backtrace). Set before any thread exists.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // reconcile is one deep future (every branch of the dependency graph
        // nested in it): 2 MiB worker stacks are too small to poll it
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(serve());
}

async fn serve() {
    // Two rustls crypto backends are linked (ring by tonic, aws-lc-rs by the AWS
    // SDK); a TLS config built without naming one needs the process default set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // stdout carries the plugin handshake, so logs go to stderr, as JSON lines
    // Terraform files at their own level (see `prodvpc::logging`)
    prodvpc::logging::init_from_environment();
    if let Err(error) = prodvpc::plugin::serve(ProdVpcProvider::default()).await {
        eprintln!("terraform-provider-prodvpc: {error:#}");
        std::process::exit(1);
    }
}
