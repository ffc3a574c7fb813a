//! The provider binary Terraform and OpenTofu launch as a plugin.

use prodvpc::provider::ProdVpcProvider;

#[tokio::main]
async fn main() {
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
