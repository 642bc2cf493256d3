//! Generates the OrderService code from proto/order.proto.
fn main() -> std::io::Result<()> {
    wirecall_build::compile_protos(&["proto/order.proto"], &["proto"])
}
