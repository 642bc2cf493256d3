//! HPACK: arbitrary header blocks against one decoder, and the round trip of whatever
//! decodes through our encoder and a second decoder (see `wirecall::fuzzing::hpack`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wirecall::fuzzing::hpack(data));
