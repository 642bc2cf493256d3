//! Our own HTTP/2 server connection fed any client bytes, in pieces (see
//! `wirecall::fuzzing::http2_connection`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecall::fuzzing::http2_connection(data));
