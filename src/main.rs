//! The provider binary Terraform and OpenTofu launch as a plugin.

use prodvpc::provider::ProdVpcProvider;

fn main() {
    // tf-provider's Diagnostic appends a backtrace to its detail when library
    // backtraces are enabled; users read those details, so they stay off
    // (panics still honour RUST_BACKTRACE). Set before any thread exists.
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
    // stdout carries the plugin handshake, so logs go to stderr (shown with TF_LOG=debug)
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PRODVPC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .try_init();
    if let Err(error) = prodvpc::plugin::serve(ProdVpcProvider::default()).await {
        eprintln!("terraform-provider-prodvpc: {error:#}");
        std::process::exit(1);
    }
}
