//! Generates the plugin-protocol *client* used by the protocol-level tests.
//! The provider's own server side is generated inside the `tf-provider` crate.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_build::configure()
        .protoc_arg("--experimental_allow_proto3_optional")
        .build_server(false)
        .build_client(true)
        .compile_protos(
            &["proto/tfplugin6.5.proto", "proto/plugin.proto"],
            &["proto"],
        )?;
    Ok(())
}
