//! Mutual TLS as go-plugin does it: the client passes its certificate in
//! `PLUGIN_CLIENT_CERT`, the server answers with a fresh self-signed one in
//! the handshake line, and each side accepts exactly the other's certificate.
//!
//! go-plugin's client certificate is a self-signed CA certificate on a P-521
//! key. A web-PKI verifier rejects a CA certificate used as a leaf, and the
//! `ring` backend cannot verify P-521 signatures, which is why generic setups
//! end up making client authentication optional. Here the certificate is
//! pinned (compared byte for byte) and signatures are checked with the
//! aws-lc-rs backend, which verifies P-521: authentication stays mandatory.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::TransportError;

/// The server's certificate and key, made at start-up and never stored.
pub struct ServerIdentity {
    pub cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl ServerIdentity {
    pub fn generate() -> Result<ServerIdentity, TransportError> {
        let failed = |e: rcgen::Error| TransportError::Tls(format!("server certificate: {e}"));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        // go-plugin's client verifies the server against this very certificate
        // as its only root, for the name `localhost`.
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(failed)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(&key).map_err(failed)?;
        Ok(ServerIdentity {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Accepts only a client presenting the certificate it announced.
#[derive(Debug)]
struct PinnedClient {
    expected: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: go-plugin's client then offers its only certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS acceptor that presents `identity` and requires the client certificate `client_pem`.
pub fn acceptor(
    identity: &ServerIdentity,
    client_pem: &str,
) -> Result<TlsAcceptor, TransportError> {
    let expected = CertificateDer::from_pem_slice(client_pem.as_bytes()).map_err(|e| {
        TransportError::Environment {
            name: "PLUGIN_CLIENT_CERT",
            reason: format!("not a PEM certificate ({e})"),
        }
    })?;
    let provider = provider();
    let verifier = Arc::new(PinnedClient {
        expected,
        provider: provider.clone(),
    });
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![CertificateDer::from(identity.cert_der.clone())], key)
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// How long a connection may take to complete its TLS handshake. Terraform's
/// own client finishes in milliseconds; a connection that stays silent is
/// dropped rather than kept.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);
/// Handshakes in progress at once; more connections wait to be accepted.
const HANDSHAKES_AT_ONCE: usize = 128;

/// The `connections` that completed the TLS handshake. Handshakes run
/// concurrently, each within [`HANDSHAKE_DEADLINE`], so an idle or slow
/// connection never holds up another one. A failed handshake (a process
/// without the pinned certificate) is dropped, not served.
pub fn incoming(
    connections: impl Stream<Item = std::io::Result<TcpStream>> + Send + 'static,
    acceptor: TlsAcceptor,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> {
    let (ready, established) = tokio::sync::mpsc::channel(HANDSHAKES_AT_ONCE);
    let slots = Arc::new(Semaphore::new(HANDSHAKES_AT_ONCE));
    tokio::spawn(async move {
        let mut connections = std::pin::pin!(connections);
        loop {
            let connection = tokio::select! {
                next = connections.next() => match next {
                    Some(connection) => connection,
                    None => break,
                },
                () = shutdown.cancelled() => break,
            };
            let tcp = match connection {
                Ok(tcp) => tcp,
                Err(error) => {
                    tracing::warn!("plugin connection failed: {error}");
                    continue;
                }
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let acceptor = acceptor.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                let _slot = slot;
                match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = ready.send(Ok(tls)).await;
                    }
                    Ok(Err(error)) => tracing::warn!("refused a plugin connection: {error}"),
                    Err(_) => tracing::warn!(
                        "dropped a plugin connection that did not complete TLS within {}s",
                        HANDSHAKE_DEADLINE.as_secs()
                    ),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(established)
}
