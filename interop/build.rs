//! Generates the grpc.testing messages and clients from Debian's `grpc-proto` package
//! (`/usr/share/grpc-proto`, or `$GRPC_PROTO_DIR`).
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-env-changed=GRPC_PROTO_DIR");
    let root = std::env::var_os("GRPC_PROTO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/grpc-proto"));
    let test = root.join("grpc/testing/test.proto");
    if !test.exists() {
        return Err(std::io::Error::other(format!(
            "{} is missing: install Debian's grpc-proto (scripts/install-deps.sh does)",
            test.display()
        )));
    }
    wirecall_build::Builder::new()
        .build_server(false)
        .compile(&[test], &[root])
}
