//! W3C Trace Context (`traceparent`) for calls: parsing, formatting and child spans. Pure
//! code; the interceptors that carry it across calls are
//! [`interceptor::TraceContext`](crate::interceptor::TraceContext) (server) and
//! [`interceptor::TracePropagation`](crate::interceptor::TracePropagation) (client).
//!
//! A `traceparent` value is `00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>`,
//! lowercase; all-zero ids are invalid.

use std::fmt;

use crate::random::random_u64;

/// The metadata key.
pub const TRACEPARENT: &str = "traceparent";

/// One span's place in a trace.
///
/// Later versions of the format may carry more fields (`non_exhaustive`): make one with
/// [`TraceParent::new`], [`TraceParent::parse`] or [`TraceParent::new_root`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TraceParent {
    /// The trace every span of one request shares.
    pub trace_id: u128,
    /// This span's id.
    pub span_id: u64,
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

impl TraceParent {
    /// A span's place from its parts. All-zero ids make a value that receivers discard as
    /// invalid, as [`TraceParent::parse`] does.
    pub fn new(trace_id: u128, span_id: u64, flags: u8) -> TraceParent {
        TraceParent {
            trace_id,
            span_id,
            flags,
        }
    }

    /// Parses a `traceparent` value (version 00; later versions are read the same way, as
    /// the spec asks). `None` if it is malformed or has an all-zero id.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let bytes = value.as_bytes();
        if bytes.len() < 55 || (bytes.len() > 55 && bytes[55] != b'-') {
            return None;
        }
        let field = |range: std::ops::Range<usize>| {
            let text = value.get(range)?;
            text.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                .then_some(text)
        };
        let version = u8::from_str_radix(field(0..2)?, 16).ok()?;
        if version == 0xff || (version == 0 && bytes.len() != 55) {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = u128::from_str_radix(field(3..35)?, 16).ok()?;
        let span_id = u64::from_str_radix(field(36..52)?, 16).ok()?;
        let flags = u8::from_str_radix(field(53..55)?, 16).ok()?;
        (trace_id != 0 && span_id != 0).then_some(TraceParent {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The start of a new, sampled trace.
    pub fn new_root() -> TraceParent {
        TraceParent {
            trace_id: (u128::from(random_u64()) << 64) | u128::from(random_u64()),
            span_id: random_u64(),
            flags: 1,
        }
    }

    /// A span of the same trace whose parent is this one.
    pub fn child(&self) -> TraceParent {
        TraceParent {
            span_id: random_u64(),
            ..*self
        }
    }

    /// Whether the trace is sampled (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn new_makes_what_parse_reads() {
        let made = TraceParent::new(0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, 1);
        assert_eq!(TraceParent::parse(EXAMPLE), Some(made));
        assert_eq!(made.to_string(), EXAMPLE);
        assert!(!TraceParent::new(1, 2, 0).sampled());
    }

    #[test]
    fn parses_and_formats_the_spec_example() {
        let tp = TraceParent::parse(EXAMPLE).expect("valid");
        assert_eq!(tp.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(tp.span_id, 0x00f067aa0ba902b7);
        assert!(tp.sampled());
        assert_eq!(tp.to_string(), EXAMPLE);
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version may append fields after a dash.
        let future = format!("01{}-more", &EXAMPLE[2..]);
        assert!(TraceParent::parse(&future).is_some());
    }

    #[test]
    fn children_keep_the_trace_and_get_new_span_ids() {
        let root = TraceParent::new_root();
        assert_ne!(root.trace_id, 0);
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(TraceParent::parse(&child.to_string()), Some(child));
    }
}
