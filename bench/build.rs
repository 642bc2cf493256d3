//! Generates the wirecall and the tonic code for proto/bench.proto, both without protoc:
//! wirecall's into `OUT_DIR/wirecall`, tonic's (from a protox-compiled descriptor set) into
//! `OUT_DIR/tonic`. Both use `bytes::Bytes` for `bytes` fields. wirecall also gets
//! proto/gateway.proto (package `bench.gateway`: the REST rule `wirecall-echo --gateway`
//! serves, with the `google.api.http` option wirecall-build brings); tonic does not.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = ["proto/bench.proto"];
    let includes = ["proto"];

    let mut wirecall = wirecall_build::Builder::new().out_dir(out.join("wirecall"));
    wirecall.prost_config().bytes(["."]);
    wirecall.compile(&["proto/bench.proto", "proto/gateway.proto"], &includes)?;

    let fds = protox::compile(protos, includes)?;
    let tonic_dir = out.join("tonic");
    std::fs::create_dir_all(&tonic_dir)?;
    tonic_prost_build::configure()
        .out_dir(&tonic_dir)
        .bytes(".")
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto/bench.proto");
    println!("cargo:rerun-if-changed=proto/gateway.proto");
    Ok(())
}
