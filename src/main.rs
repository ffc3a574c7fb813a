//! The provider binary Terraform and OpenTofu launch as a plugin.

use prodvpc::provider::ProdVpcProvider;

fn main() {
    // tf-provider appends a backtrace to every diagnostic when backtraces are
    // enabled; users see diagnostics, so library backtraces stay off (panics
    // still honour RUST_BACKTRACE). Set before any thread exists.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(serve());
}

async fn serve() {
    // Both the gRPC server (ring) and the AWS SDK (aws-lc) link a rustls crypto
    // backend; with two present, rustls needs the process default chosen explicitly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // tf-provider installs its own subscriber when PLUGIN_LOG_FILE is set; a
    // second global subscriber would abort the process.
    if std::env::var_os("PLUGIN_LOG_FILE").is_none() {
        // stdout carries the plugin handshake, so logs go to stderr (shown with TF_LOG=debug)
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("PRODVPC_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with_ansi(false)
            .try_init();
    }
    if let Err(error) = tf_provider::serve("prodvpc", ProdVpcProvider::default()).await {
        eprintln!("terraform-provider-prodvpc: {error:#}");
        std::process::exit(1);
    }
}
