//! Our own HTTP/2 client connection fed any server bytes, in pieces, opening streams as it
//! goes (see `wirecall::fuzzing::http2_client`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecall::fuzzing::http2_client(data));
