//! `grpc-timeout` (and its writer) and `Connect-Timeout-Ms`.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wirecall::deadline::{format_timeout, parse_timeout};

/// The largest timeout the header can carry: 99999999 hours.
const MAX: Duration = Duration::from_secs(99_999_999 * 3600);

fuzz_target!(|data: &[u8]| {
    if let Some(timeout) = parse_timeout(data) {
        let (unit, digits) = data.split_last().expect("a parsed timeout is not empty");
        assert!(b"HMSmun".contains(unit), "unit {unit}");
        assert!(!digits.is_empty() && digits.len() <= 8);
        assert!(digits.iter().all(u8::is_ascii_digit));
        assert!(timeout <= MAX);
        // Written back, it is never shorter.
        let written = format_timeout(timeout);
        assert!(written.len() <= 9, "{written:?}");
        let back = parse_timeout(written.as_bytes()).expect("what is written parses");
        assert!(back >= timeout, "{timeout:?} -> {written:?} -> {back:?}");
    }

    // Any duration (12 bytes of the input) is written as a valid header that is never
    // shorter, up to the largest the header carries.
    if data.len() >= 12 {
        let secs = u64::from_le_bytes(data[..8].try_into().unwrap());
        let nanos = u32::from_le_bytes(data[8..12].try_into().unwrap()) % 1_000_000_000;
        let timeout = Duration::new(secs, nanos);
        let written = format_timeout(timeout);
        let back = parse_timeout(written.as_bytes()).expect("what is written parses");
        assert!(
            back >= timeout.min(MAX),
            "{timeout:?} -> {written:?} -> {back:?}"
        );
    }

    wirecall::fuzzing::connect_timeout(data);
});
