//! Generates the plugin protocol's gRPC server (the provider's transport, see
//! `src/plugin/`) and client (used by the protocol-level tests) from `proto/`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_build::configure()
        .protoc_arg("--experimental_allow_proto3_optional")
        .build_server(true)
        .build_client(true)
        .compile_protos(
            &["proto/tfplugin6.5.proto", "proto/plugin.proto"],
            &["proto"],
        )?;
    Ok(())
}
