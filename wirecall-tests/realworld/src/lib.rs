//! Real-world protos, all of them, in one crate: it compiles without a warning or it fails.
include!(concat!(env!("OUT_DIR"), "/realworld.rs"));
