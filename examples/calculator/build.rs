//! Generates the Calculator's code from `proto/math.proto`.

fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(&["proto/math.proto"], &["proto"])
}
