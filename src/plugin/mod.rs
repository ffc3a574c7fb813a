//! The plugin transport: how Terraform and OpenTofu start and talk to this
//! binary. go-plugin's handshake on stdout, a gRPC server on loopback with
//! mutual TLS, the `tfplugin6.Provider` service and go-plugin's own services.
//!
//! Owning the transport (rather than the tf-provider crate's `serve`) gives
//! the provider the whole protocol: state upgrades from older schema versions,
//! and a server that only accepts the Terraform process that started it.

mod functions;
mod numbers;
mod service;
mod tls;
pub mod wire;

use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::provider::ProdVpcProvider;
pub use service::{ProviderService, ENVIRONMENT_TYPE};

/// The generated protocol types (tfplugin6.8, as Terraform 1.11 ships it).
#[allow(clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's broker, controller and stdio services.
#[allow(clippy::all, clippy::pedantic)]
pub mod go_plugin {
    tonic::include_proto!("plugin");
}

/// The cookie Terraform and OpenTofu set when they start a provider; without
/// it the binary was run by hand.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's core protocol version and the plugin protocol this binary speaks.
const CORE_PROTOCOL_VERSION: u32 = 1;
const PLUGIN_PROTOCOL_VERSION: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("this binary is a Terraform provider plugin: run it through `terraform` or `tofu`, not directly")]
    NotLaunchedByTerraform,
    #[error("the client speaks plugin protocol versions {0}; this provider speaks version 6 (Terraform 1.0 or later, OpenTofu)")]
    ProtocolMismatch(String),
    #[error("invalid {name}: {reason}")]
    Environment { name: &'static str, reason: String },
    #[error("no free port to listen on: {0}")]
    Listen(std::io::Error),
    #[error("installing the interrupt handler: {0}")]
    Signal(std::io::Error),
    #[error("setting up TLS: {0}")]
    Tls(String),
    #[error("gRPC server: {0}")]
    Server(#[from] tonic::transport::Error),
}

/// What the launching process asked for, read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// PEM certificate of the client; absent when the client disabled TLS.
    pub client_cert: Option<String>,
    pub port_range: Option<(u16, u16)>,
}

impl Launch {
    /// Reads go-plugin's variables through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Launch, TransportError> {
        if var(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(TransportError::NotLaunchedByTerraform);
        }
        if let Some(versions) = var("PLUGIN_PROTOCOL_VERSIONS") {
            let wanted = PLUGIN_PROTOCOL_VERSION.to_string();
            if !versions.split(',').any(|v| v.trim() == wanted) {
                return Err(TransportError::ProtocolMismatch(versions));
            }
        }
        let port = |name: &'static str| -> Result<Option<u16>, TransportError> {
            var(name)
                .map(|text| {
                    text.parse().map_err(|_| TransportError::Environment {
                        name,
                        reason: format!("`{text}` is not a port number"),
                    })
                })
                .transpose()
        };
        let port_range = match (port("PLUGIN_MIN_PORT")?, port("PLUGIN_MAX_PORT")?) {
            (None, None) => None,
            (min, max) => {
                let (min, max) = (min.unwrap_or(1024), max.unwrap_or(u16::MAX));
                Some((min.min(max), min.max(max)))
            }
        };
        Ok(Launch {
            client_cert: var("PLUGIN_CLIENT_CERT").filter(|pem| !pem.trim().is_empty()),
            port_range,
        })
    }
}

/// go-plugin's handshake line: core version, protocol version, network,
/// address, wire protocol and the server certificate (base64 DER, unpadded).
pub fn handshake_line(address: &str, server_cert_der: Option<&[u8]>) -> String {
    use base64::Engine;
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{PLUGIN_PROTOCOL_VERSION}|tcp|{address}|grpc|{cert}")
}

/// Listens on a port of the range chosen at random, trying the others in turn
/// when it is taken: a predictable port (the lowest free one) lets any local
/// process get there first and jam the connection Terraform is about to make.
async fn listen(range: Option<(u16, u16)>) -> Result<TcpListener, TransportError> {
    let Some((min, max)) = range else {
        return TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(TransportError::Listen);
    };
    let span = u32::from(max - min) + 1;
    let start = random_u64() % u64::from(span);
    let mut last_error = None;
    for step in 0..span {
        let port = min + ((start + u64::from(step)) % u64::from(span)) as u16;
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(TransportError::Listen(last_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "empty port range")
    })))
}

/// A random number from the operating system's randomness (the standard
/// library seeds each `RandomState` from it).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Serves the provider until Terraform shuts it down.
pub async fn serve(provider: ProdVpcProvider) -> Result<(), TransportError> {
    let launch = Launch::from_env(|name| std::env::var(name).ok())?;
    ignore_interrupts()?;
    let listener = listen(launch.port_range).await?;
    let address = listener.local_addr().map_err(TransportError::Listen)?;
    let shutdown = CancellationToken::new();
    let services = Services {
        shutdown: shutdown.clone(),
    };
    let router = tonic::transport::Server::builder()
        .add_service(proto::provider_server::ProviderServer::new(
            ProviderService::new(provider),
        ))
        .add_service(go_plugin::grpc_controller_server::GrpcControllerServer::new(services.clone()))
        .add_service(go_plugin::grpc_broker_server::GrpcBrokerServer::new(
            services.clone(),
        ))
        .add_service(go_plugin::grpc_stdio_server::GrpcStdioServer::new(services));
    let stopped = {
        let shutdown = shutdown.clone();
        async move { shutdown.cancelled().await }
    };

    match launch.client_cert {
        Some(client_pem) => {
            let identity = tls::ServerIdentity::generate()?;
            let acceptor = tls::acceptor(&identity, &client_pem)?;
            announce(&handshake_line(
                &address.to_string(),
                Some(&identity.cert_der),
            ));
            let incoming = tls::incoming(connections(listener), acceptor, shutdown.clone());
            router
                .serve_with_incoming_shutdown(incoming, stopped)
                .await?;
        }
        None => {
            announce(&handshake_line(&address.to_string(), None));
            let incoming = connections(listener);
            router
                .serve_with_incoming_shutdown(incoming, stopped)
                .await?;
        }
    }
    Ok(())
}

/// A terminal's Ctrl-C reaches the whole process group, this process
/// included. Terraform handles it and asks the provider to stop through the
/// protocol (StopProvider); dying on the signal instead would lose the state
/// of the work in flight. go-plugin's own plugins ignore it the same way.
fn ignore_interrupts() -> Result<(), TransportError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupts =
            signal(SignalKind::interrupt()).map_err(|e| TransportError::Environment {
                name: "SIGINT handler",
                reason: e.to_string(),
            })?;
        tokio::spawn(async move {
            while interrupts.recv().await.is_some() {
                tracing::debug!(
                    "interrupt ignored: Terraform stops the provider through the protocol"
                );
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            tracing::debug!("interrupt ignored: Terraform stops the provider through the protocol");
        }
    });
    Ok(())
}

/// Accepted connections with Nagle's algorithm off: every RPC is a few small
/// HTTP/2 frames, and holding them back for coalescing delays each call.
fn connections(
    listener: TcpListener,
) -> impl Stream<Item = std::io::Result<TcpStream>> + Send + 'static {
    use futures::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|connection| {
        let connection = connection?;
        connection.set_nodelay(true)?;
        Ok(connection)
    })
}

fn announce(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    // Terraform waits for this line; if stdout is gone there is nobody to serve.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// go-plugin's controller, broker and stdio services.
#[derive(Clone)]
struct Services {
    /// Cancelled by `GRPCController.Shutdown`; ends the server.
    shutdown: CancellationToken,
}

type BoxStream<T> = std::pin::Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

impl Services {
    /// A stream that stays open, silent, until the server shuts down.
    fn open_until_shutdown<T: Send + 'static>(&self) -> BoxStream<T> {
        let shutdown = self.shutdown.clone();
        Box::pin(futures::stream::once(async move {
            shutdown.cancelled().await;
            Err(Status::cancelled("provider shutting down"))
        }))
    }
}

#[tonic::async_trait]
impl go_plugin::grpc_controller_server::GrpcController for Services {
    async fn shutdown(
        &self,
        _: Request<go_plugin::Empty>,
    ) -> Result<Response<go_plugin::Empty>, Status> {
        self.shutdown.cancel();
        Ok(Response::new(go_plugin::Empty {}))
    }
}

#[tonic::async_trait]
impl go_plugin::grpc_broker_server::GrpcBroker for Services {
    type StartStreamStream = BoxStream<go_plugin::ConnInfo>;

    /// The provider opens no extra connections, so the broker has nothing to say.
    async fn start_stream(
        &self,
        _: Request<tonic::Streaming<go_plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Ok(Response::new(self.open_until_shutdown()))
    }
}

#[tonic::async_trait]
impl go_plugin::grpc_stdio_server::GrpcStdio for Services {
    type StreamStdioStream = BoxStream<go_plugin::StdioData>;

    /// Logs go to stderr, which go-plugin already forwards; nothing to stream.
    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(self.open_until_shutdown()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn refuses_to_run_without_the_cookie() {
        let error = Launch::from_env(env(&[])).unwrap_err();
        assert!(matches!(error, TransportError::NotLaunchedByTerraform));
        let wrong = Launch::from_env(env(&[(MAGIC_COOKIE_KEY, "nope")])).unwrap_err();
        assert!(matches!(wrong, TransportError::NotLaunchedByTerraform));
    }

    #[test]
    fn requires_protocol_six_when_versions_are_offered() {
        let error = Launch::from_env(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "4,5"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("4,5"), "{error}");
        let launch = Launch::from_env(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
            ("PLUGIN_CLIENT_CERT", "-----BEGIN CERTIFICATE-----"),
        ]))
        .unwrap();
        assert_eq!(
            launch.client_cert.as_deref(),
            Some("-----BEGIN CERTIFICATE-----")
        );
        assert_eq!(launch.port_range, None);
    }

    #[test]
    fn reads_the_port_range_in_either_order() {
        let launch = Launch::from_env(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_MIN_PORT", "20010"),
            ("PLUGIN_MAX_PORT", "20000"),
        ]))
        .unwrap();
        assert_eq!(launch.port_range, Some((20000, 20010)));
        let bad = Launch::from_env(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_MIN_PORT", "low"),
        ]))
        .unwrap_err();
        assert!(bad.to_string().contains("PLUGIN_MIN_PORT"), "{bad}");
    }

    #[test]
    fn handshake_line_carries_the_certificate_unpadded() {
        assert_eq!(
            handshake_line("127.0.0.1:4000", None),
            "1|6|tcp|127.0.0.1:4000|grpc|"
        );
        let line = handshake_line("127.0.0.1:4000", Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|tcp|127.0.0.1:4000|grpc|AQIDBA");
    }

    #[tokio::test]
    async fn the_port_is_not_the_lowest_free_one() {
        let mut ports = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let listener = listen(Some((20000, 29999))).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            assert!((20000..=29999).contains(&port));
            ports.insert(port);
        }
        // four draws from 10,000 ports: the same one four times would mean no randomness
        assert!(ports.len() > 1, "{ports:?}");
    }
}
