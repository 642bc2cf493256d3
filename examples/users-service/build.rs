//! Generates the UserService's code from `proto/user_service.proto`.

fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(&["proto/user_service.proto"], &["proto"])
}
