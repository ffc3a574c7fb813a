//! Speaks plugin protocol 6 to the provider binary directly, as Terraform does:
//! handshake on stdout, then gRPC calls through the client generated from `proto/`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use prodvpc::plugin::go_plugin::grpc_controller_client::GrpcControllerClient;
use prodvpc::plugin::proto as tfplugin6;
use prodvpc::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use tfplugin6::provider_client::ProviderClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The provider process and the fields of its handshake line.
struct Plugin {
    child: Child,
    address: String,
    server_cert_der: Vec<u8>,
}

impl Plugin {
    fn start(client_cert_pem: Option<&str>) -> Plugin {
        let mut command = Command::new(env!("CARGO_BIN_EXE_terraform-provider-prodvpc"));
        command
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "6")
            .env_remove("PLUGIN_CLIENT_CERT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(pem) = client_cert_pem {
            command.env("PLUGIN_CLIENT_CERT", pem);
        }
        let mut child = command.spawn().expect("provider binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("handshake line");
        let fields: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(fields.len(), 6, "handshake line {line}");
        assert_eq!(fields[0], "1", "core protocol version in {line}");
        assert_eq!(fields[1], "6", "plugin protocol version in {line}");
        assert_eq!(fields[2], "tcp");
        assert!(fields[3].starts_with("127.0.0.1:"), "{line}");
        assert_eq!(fields[4], "grpc");
        let server_cert_der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(fields[5])
            .expect("certificate in base64");
        Plugin {
            child,
            address: fields[3].to_string(),
            server_cert_der,
        }
    }

    /// Waits for the process to exit on its own, up to `limit`.
    fn exited_within(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.child.try_wait().expect("process status").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A client certificate shaped like go-plugin's: self-signed, marked as a CA.
fn client_identity() -> (String, Identity) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).expect("certificate");
    let identity = Identity::from_pem(cert.pem(), key.serialize_pem());
    (cert.pem(), identity)
}

async fn tls_channel(plugin: &Plugin, identity: Option<Identity>) -> Result<Channel, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pem(
            "CERTIFICATE",
            &plugin.server_cert_der,
        )))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Channel::from_shared(format!("https://{}", plugin.address))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))
}

async fn schema_over(channel: Channel) -> Result<tfplugin6::get_provider_schema::Response, String> {
    ProviderClient::new(channel)
        .get_provider_schema(tfplugin6::get_provider_schema::Request {})
        .await
        .map(|r| r.into_inner())
        .map_err(|status| status.to_string())
}

#[test]
fn mutual_tls_admits_only_the_client_that_started_the_provider() {
    let (client_pem, identity) = client_identity();
    let mut plugin = Plugin::start(Some(&client_pem));
    assert!(
        !plugin.server_cert_der.is_empty(),
        "no server certificate announced"
    );
    crate::harness::runtime().block_on(async {
        let (_, stranger) = client_identity();
        for (who, identity) in [
            ("no certificate", None),
            ("another certificate", Some(stranger)),
        ] {
            let answer = match tls_channel(&plugin, identity).await {
                Ok(channel) => schema_over(channel).await.map(|_| ()),
                Err(error) => Err(error),
            };
            assert!(answer.is_err(), "a client with {who} was served");
        }
        let channel = tls_channel(&plugin, Some(identity))
            .await
            .expect("the announced client connects");
        let schema = schema_over(channel.clone())
            .await
            .expect("GetProviderSchema");
        assert!(schema.resource_schemas.contains_key("prodvpc_environment"));
        GrpcControllerClient::new(channel)
            .shutdown(prodvpc::plugin::go_plugin::Empty {})
            .await
            .expect("Shutdown");
    });
    assert!(
        plugin.exited_within(Duration::from_secs(5)),
        "the provider kept running after Shutdown"
    );
}

#[test]
fn idle_connections_do_not_keep_terraform_out() {
    let (client_pem, identity) = client_identity();
    let plugin = Plugin::start(Some(&client_pem));
    // a local process holds connections open without ever speaking TLS
    let idle: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(&plugin.address).expect("connect"))
        .collect();
    let started = Instant::now();
    let schema = crate::harness::runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let channel = tls_channel(&plugin, Some(identity)).await?;
            schema_over(channel).await
        })
        .await
    });
    let schema = schema
        .expect("the client with the right certificate was kept waiting behind idle connections")
        .expect("GetProviderSchema");
    assert!(schema.resource_schemas.contains_key("prodvpc_environment"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "served after {:?}",
        started.elapsed()
    );
    drop(idle);
}

#[test]
fn handshake_and_get_provider_schema() {
    let plugin = Plugin::start(None);
    assert!(
        plugin.server_cert_der.is_empty(),
        "TLS without a client certificate"
    );
    let schema = crate::harness::runtime().block_on(async {
        let channel = Channel::from_shared(format!("http://{}", plugin.address))
            .unwrap()
            .connect()
            .await
            .expect("gRPC connection");
        schema_over(channel).await.expect("GetProviderSchema")
    });

    assert!(schema.diagnostics.is_empty(), "{:?}", schema.diagnostics);
    let provider = schema
        .provider
        .expect("provider schema")
        .block
        .expect("block");
    let provider_attrs: Vec<&str> = provider
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for name in ["region", "profile", "max_retries"] {
        assert!(provider_attrs.contains(&name), "provider lacks {name}");
    }
    let environment = schema
        .resource_schemas
        .get("prodvpc_environment")
        .expect("prodvpc_environment");
    assert_eq!(environment.version, 1);
    let block = environment.block.as_ref().unwrap();
    let attribute = |name: &str| {
        block
            .attributes
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    };
    assert!(attribute("name").required);
    assert!(attribute("vpc_id").computed && !attribute("vpc_id").optional);
    assert!(attribute("vpc_cidr").optional && attribute("vpc_cidr").computed);
    for name in [
        "alb_dns_name",
        "nat_gateway_ids",
        "security_group_ids",
        "bastion_public_ip",
        "launch_template_version",
    ] {
        assert!(attribute(name).computed, "{name} is not computed");
    }
    let app = block
        .block_types
        .iter()
        .find(|b| b.type_name == "app")
        .expect("app block");
    assert_eq!(app.max_items, 1);
    let user_data = app
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.name == "user_data")
        .unwrap();
    assert!(user_data.sensitive);
    let nested: Vec<&str> = block
        .block_types
        .iter()
        .map(|b| b.type_name.as_str())
        .collect();
    for name in ["app", "load_balancer", "bastion", "timeouts"] {
        assert!(nested.contains(&name), "no {name} block");
    }
    // the data source of the same name: `name` in, the rest read-only
    let data = schema
        .data_source_schemas
        .get("prodvpc_environment")
        .and_then(|s| s.block.as_ref())
        .expect("prodvpc_environment data source");
    for read in &data.attributes {
        let argument = read.name == "name";
        assert_eq!(
            (read.required, read.optional, read.computed),
            (argument, false, !argument),
            "data source attribute {}",
            read.name
        );
    }
    assert!(data
        .attributes
        .iter()
        .any(|a| a.name == "private_subnet_ids"));
    assert!(data.block_types.is_empty());
}
