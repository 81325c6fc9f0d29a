//! Compiles the vendored ONNX protobuf schema (`proto/onnx.proto`) into Rust
//! types with prost. protox parses the schema in pure Rust, so a fresh machine
//! needs no `protoc` binary.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let fds = protox::compile(["proto/onnx.proto"], ["proto"])
        .unwrap_or_else(|e| panic!("proto/onnx.proto does not parse: {e}"));
    prost_build::Config::new()
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating Rust code for onnx.proto failed: {e}"));
}
