//! Generates the zoo, with one include file that nests every package in its modules.
fn main() -> std::io::Result<()> {
    let mut builder = wirecall_build::Builder::new();
    builder.prost_config().include_file("zoo.rs");
    builder.compile(
        &[
            "zoo/keywords.proto",
            "zoo/clash.proto",
            "zoo/legacy.proto",
            "zoo/wkt.proto",
            "nopackage.proto",
        ],
        &["proto"],
    )
}
