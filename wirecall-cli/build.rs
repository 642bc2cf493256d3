//! Compiles the google.rpc status and error-detail protos, so that the command can print
//! the rich error details of a failed call as JSON even when the server does not describe
//! them.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_imports(true)
        .open_files(["google/rpc/status.proto", "google/rpc/error_details.proto"])?;
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    std::fs::write(
        out.join("google_rpc.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
