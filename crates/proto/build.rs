//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed) into the generated
//! messages, clients and servers, and keeps the descriptor set for gRPC server reflection.

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "imprint/audit/v1/audit.proto",
    "imprint/authors/v1/authors.proto",
    "imprint/events/v1/events.proto",
    "imprint/files/v1/files.proto",
    "imprint/gateway/v1/downloads.proto",
    "imprint/gateway/v1/gateway.proto",
    "imprint/gateway/v1/webhooks.proto",
    "imprint/papers/v1/papers.proto",
    "imprint/papers/v1/taxonomy.proto",
    "imprint/recommendations/v1/recommendations.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let fds = protox::Compiler::new([&root])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(FILES)?
        .file_descriptor_set();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("imprint_descriptor.bin"), fds.encode_to_vec())?;
    // Our codec: malformed requests are INVALID_ARGUMENT, and every request is bounded as it
    // is decoded (src/codec.rs).
    tonic_prost_build::configure()
        .codec_path("crate::codec::BoundedCodec")
        .compile_fds(fds)?;
    Ok(())
}
