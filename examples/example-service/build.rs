//! Generates the Example service's code from `proto/example.proto`.

fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(&["proto/example.proto"], &["proto"])
}
