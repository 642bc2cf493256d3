//! HTTP/2 frames: any bytes as a connection's incoming frames, each read by the rules of
//! its type, and written again (see `wirecall::fuzzing::http2_frames`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecall::fuzzing::http2_frames(data));
