//! Compiles the `.proto` files of wirecall's own services (health, reflection) into one
//! encoded `FileDescriptorSet`, which reflection serves so that clients can describe them.
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
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
