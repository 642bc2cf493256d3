//! Deadlines: the `grpc-timeout` header (PROTOCOL-HTTP2.md), at most 8 ASCII digits followed
//! by a unit, `H`ours, `M`inutes, `S`econds, `m`illiseconds, `u` (micro) or `n`anoseconds,
//! read and written here by pure code; and the timer every call waits on (`timer`).

mod timer;

pub(crate) use timer::{exceeded, Timer};

use std::time::Duration;

use http::HeaderValue;

/// The largest value the header can carry: 8 digits.
const MAX_DIGITS_VALUE: u64 = 99_999_999;

/// Parses a `grpc-timeout` value; `None` when it breaks the grammar.
pub fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats a timeout in the finest unit that fits in 8 digits, rounding up so a deadline is
/// never shortened by the encoding.
pub fn format_timeout(timeout: Duration) -> HeaderValue {
    let nanos = timeout.as_nanos();
    let units: [(u128, u8); 6] = [
        (1, b'n'),
        (1_000, b'u'),
        (1_000_000, b'm'),
        (1_000_000_000, b'S'),
        (60_000_000_000, b'M'),
        (3_600_000_000_000, b'H'),
    ];
    for (per_unit, unit) in units {
        let n = nanos.div_ceil(per_unit);
        if n <= u128::from(MAX_DIGITS_VALUE) {
            let text = format!("{n}{}", unit as char);
            return HeaderValue::from_str(&text).expect("digits and a unit letter");
        }
    }
    HeaderValue::from_static("99999999H")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout(b"10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(
            parse_timeout(b"99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(parse_timeout(b"0m"), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            &b""[..],
            b"S",
            b"100",
            b"123456789S",
            b"1s",
            b"-1S",
            b"1.5S",
            b" 1S",
        ] {
            assert_eq!(
                parse_timeout(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn formats_in_the_finest_unit_that_fits() {
        assert_eq!(format_timeout(Duration::from_nanos(5)), "5n");
        assert_eq!(format_timeout(Duration::from_millis(200)), "200000u");
        assert_eq!(format_timeout(Duration::from_secs(1)), "1000000u");
        assert_eq!(format_timeout(Duration::from_secs(100)), "100000m");
        assert_eq!(format_timeout(Duration::from_secs(1_000_000)), "1000000S");
        assert_eq!(format_timeout(Duration::from_secs(u64::MAX)), "99999999H");
        // Rounds up, never down.
        assert_eq!(format_timeout(Duration::new(100_000, 1)), "100001S");
    }

    #[test]
    fn format_then_parse_never_shortens() {
        for ms in [
            1u64,
            999,
            1_000,
            123_456,
            99_999_999,
            100_000_000,
            86_400_000 * 400,
        ] {
            let d = Duration::from_millis(ms);
            let back = parse_timeout(format_timeout(d).as_bytes()).unwrap();
            assert!(back >= d, "{d:?} -> {back:?}");
        }
    }
}
