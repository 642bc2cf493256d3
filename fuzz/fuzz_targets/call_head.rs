//! The server's reading of a request head (method, content type, `grpc-encoding`,
//! `grpc-timeout`, binary metadata): `wirecall::fuzzing::call_head` says the input's shape
//! and what it asserts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wirecall::fuzzing::call_head(data);
});
