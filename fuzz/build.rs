//! Generates the test service the server_connection target serves next to health and
//! reflection: its HTTP rules and `NO_SIDE_EFFECTS` method give the REST and Connect GET
//! paths of the gateway something to route to.
fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=proto/fuzz.proto");
    wirecall_build::compile_protos(&["fuzz.proto"], &["proto"])
}
