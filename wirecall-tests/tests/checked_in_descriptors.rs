//! The encoded descriptor sets checked in under `wirecall/src/descriptors/` are what the
//! `.proto` files under `wirecall/proto/` compile to today.
//!
//! wirecall ships them as bytes (`include_bytes!`) rather than compiling them in a build
//! script, so that no user's build runs protox. This test recompiles the protos with protox
//! exactly as those files were made and fails, naming the stale file, when the bytes differ
//! (a `.proto` changed, or a new protox encodes differently).
//!
//! To refresh the files, run the test with `WIRECALL_BLESS=1`: it rewrites them, and the
//! diff is then reviewed and committed like any other change:
//!
//! ```sh
//! WIRECALL_BLESS=1 cargo test -p wirecall-tests --test checked_in_descriptors
//! ```

use std::path::{Path, PathBuf};

/// The command that rewrites the checked-in files.
const BLESS: &str = "WIRECALL_BLESS=1 cargo test -p wirecall-tests --test checked_in_descriptors";

/// The `wirecall` crate's directory.
fn wirecall_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    workspace
        .expect("wirecall-tests is in the workspace")
        .join("wirecall")
}

/// The descriptors of wirecall's own services (health, reflection), with source info
/// (comments), which reflection serves.
fn builtin() -> Vec<u8> {
    let mut compiler = protox::Compiler::new([wirecall_dir().join("proto")]).expect("include path");
    compiler
        .include_source_info(true)
        .open_files([
            "grpc/health/v1/health.proto",
            "grpc/reflection/v1/reflection.proto",
            "grpc/reflection/v1alpha/reflection.proto",
        ])
        .expect("wirecall/proto compiles");
    compiler.encode_file_descriptor_set()
}

/// `google.rpc.Status` and the standard error details, with their imports, which render
/// rich error details as JSON.
fn google_rpc() -> Vec<u8> {
    let mut compiler = protox::Compiler::new([wirecall_dir().join("proto")]).expect("include path");
    compiler
        .include_imports(true)
        .open_files(["google/rpc/status.proto", "google/rpc/error_details.proto"])
        .expect("wirecall/proto compiles");
    compiler.encode_file_descriptor_set()
}

/// Compares (or, blessing, writes) one checked-in file.
fn check(name: &str, compiled: Vec<u8>) {
    let path = wirecall_dir().join("src/descriptors").join(name);
    if std::env::var_os("WIRECALL_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &compiled)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let checked_in =
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        checked_in == compiled,
        "{} is stale: wirecall/proto compiles to {} bytes that differ from its {} bytes; \
         refresh it with `{BLESS}` and commit the result",
        path.display(),
        compiled.len(),
        checked_in.len(),
    );
}

#[test]
fn builtin_descriptors_are_up_to_date() {
    check("builtin.bin", builtin());
}

#[test]
fn google_rpc_descriptors_are_up_to_date() {
    check("google_rpc.bin", google_rpc());
}
