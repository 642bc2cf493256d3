//! Generates code for the test protos.
fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(
        &[
            "greeter.proto",
            "wirecall/test/echo.proto",
            "wirecall/test/features.proto",
        ],
        &["proto"],
    )
}
