//! Compiles proto/ree/v1/*.proto with protox (pure Rust: no system protoc), generates the prost
//! messages and tonic services, their protobuf-JSON (pbjson) serde impls, and the descriptor set
//! that server reflection serves.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["ree/v1/ledger.proto", "ree/v1/tlog.proto"], ["proto"])?;
    let descriptor_path = out.join("ree_descriptor.bin");
    let bytes = fds.encode_to_vec();
    std::fs::write(&descriptor_path, &bytes)?;
    tonic_prost_build::configure()
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&bytes)?
        .build(&[".ree"])?;
    Ok(())
}
