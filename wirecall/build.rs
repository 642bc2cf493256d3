//! Compiles the `.proto` files of wirecall's own services (health, reflection) into one
//! encoded `FileDescriptorSet`, which reflection serves so that clients can describe them,
//! and the google.rpc status and error-detail types into another, which renders rich error
//! details as JSON (the HTTP/JSON gateway, the `wirecall` command).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "grpc/health/v1/health.proto",
        "grpc/reflection/v1/reflection.proto",
        "grpc/reflection/v1alpha/reflection.proto",
    ];
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).open_files(files)?;
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    std::fs::write(
        out.join("wirecall_builtin_descriptors.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_imports(true)
        .open_files(["google/rpc/status.proto", "google/rpc/error_details.proto"])?;
    std::fs::write(
        out.join("google_rpc_descriptors.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
