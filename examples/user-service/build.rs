//! Generates the UserService's code from `proto/user.proto`.

fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(&["proto/user.proto"], &["proto"])
}
