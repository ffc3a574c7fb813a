//! Speaks plugin protocol 6 to the provider binary directly, as Terraform does:
//! handshake on stdout, then gRPC calls through a client generated from `proto/`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[allow(clippy::all, dead_code)]
mod tfplugin6 {
    include!(concat!(env!("OUT_DIR"), "/tfplugin6.rs"));
}

use tfplugin6::provider_client::ProviderClient;

const MAGIC_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

#[test]
fn handshake_and_get_provider_schema() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terraform-provider-prodvpc"))
        .env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("provider binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("handshake line");
    let fields: Vec<&str> = line.trim().split('|').collect();
    assert_eq!(fields[0], "1", "core protocol version in {line}");
    assert_eq!(fields[1], "6", "plugin protocol version in {line}");
    assert_eq!(fields[2], "tcp");
    assert_eq!(fields[4], "grpc");
    let address = format!("http://{}", fields[3]);

    let schema = crate::harness::runtime().block_on(async {
        let mut client = ProviderClient::connect(address)
            .await
            .expect("gRPC connection");
        client
            .get_provider_schema(tfplugin6::get_provider_schema::Request {})
            .await
            .expect("GetProviderSchema")
            .into_inner()
    });
    let _ = child.kill();
    let _ = child.wait();

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
}
