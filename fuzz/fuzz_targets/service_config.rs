//! The service config (`ServiceConfig::from_json`) on arbitrary text, the lookups a channel
//! makes in it, and protobuf JSON durations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    wirecall::fuzzing::service_config(text);
});
