//! Generates the prost messages and the pajamax (local-mode) `Echo` service from
//! proto/echo.proto, parsed by protox so that no protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/echo.proto");
    let fds = protox::compile(["echo.proto"], ["proto"])?;
    prost_build::Config::new()
        .service_generator(Box::new(pajamax_build::PajamaxGen::Local))
        .compile_fds(fds)?;
    Ok(())
}
