//! The server's keepalive enforcement, as grpc-go's: a client may ping at most once per
//! `min_interval` (default 5 minutes) while it has calls, and once per 2 hours without
//! (unless allowed), except that pings right after the server sent something are free
//! (clients ping to measure bandwidth when data arrives). Past 2 offending pings the
//! connection gets GOAWAY `ENHANCE_YOUR_CALM`.
//!
//! h2 answers pings itself and tells nobody, so the connection's bytes are watched here:
//! [`FrameHeaders`] follows the 9-byte frame headers of each direction (HTTP/2 section 4.1)
//! to see PING frames come in and DATA / HEADERS frames go out. It reads nothing else and
//! changes nothing: h2 does all the framing.

use std::time::{Duration, Instant};

/// HTTP/2 frame types this module looks for.
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;
/// The PING flag of an answer.
const ACK: u8 = 0x1;
/// The client connection preface (RFC 9113 section 3.4), before the first frame.
const PREFACE_LEN: usize = 24;

/// How many offending pings are forgiven, as grpc-go's `maxPingStrikes`.
const MAX_STRIKES: u32 = 2;
/// The interval for a client without calls that is not allowed to ping idle.
const IDLE_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);

/// The enforcement settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PingPolicy {
    pub(crate) min_interval: Duration,
    pub(crate) permit_without_calls: bool,
}

impl Default for PingPolicy {
    fn default() -> Self {
        PingPolicy {
            min_interval: Duration::from_secs(5 * 60),
            permit_without_calls: false,
        }
    }
}

/// Follows the frame headers in one direction of a connection's byte stream.
#[derive(Debug)]
pub(crate) struct FrameHeaders {
    /// Bytes still to skip: the preface, or the rest of a frame's payload.
    skip: usize,
    header: [u8; 9],
    have: usize,
}

impl FrameHeaders {
    /// For the bytes a server reads: the client's preface comes first.
    pub(crate) fn client_to_server() -> Self {
        FrameHeaders {
            skip: PREFACE_LEN,
            header: [0; 9],
            have: 0,
        }
    }

    /// For the bytes a server writes.
    pub(crate) fn server_to_client() -> Self {
        FrameHeaders {
            skip: 0,
            header: [0; 9],
            have: 0,
        }
    }

    /// Takes the next bytes of the stream; `frame(type, flags)` for each header completed.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], mut frame: impl FnMut(u8, u8)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 9 {
                let h = self.header;
                self.skip = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                self.have = 0;
                frame(h[3], h[4]);
            }
        }
    }
}

/// The enforcement state of one connection.
#[derive(Debug)]
pub(crate) struct PingWatch {
    policy: PingPolicy,
    read: FrameHeaders,
    written: FrameHeaders,
    last_ping: Option<Instant>,
    /// Whether the server sent DATA or HEADERS since the last ping.
    sent_since_ping: bool,
    strikes: u32,
}

impl PingWatch {
    pub(crate) fn new(policy: PingPolicy) -> Self {
        PingWatch {
            policy,
            read: FrameHeaders::client_to_server(),
            written: FrameHeaders::server_to_client(),
            last_ping: None,
            sent_since_ping: false,
            strikes: 0,
        }
    }

    /// Bytes the server wrote.
    pub(crate) fn wrote(&mut self, bytes: &[u8]) {
        let sent = &mut self.sent_since_ping;
        self.written.feed(bytes, |kind, _| {
            if kind == DATA || kind == HEADERS {
                *sent = true;
            }
        });
    }

    /// Bytes the server read at `now`, with `calls` in flight; `true` when the client has
    /// pinged too often and the connection should get GOAWAY ENHANCE_YOUR_CALM.
    pub(crate) fn read(&mut self, bytes: &[u8], now: Instant, calls: bool) -> bool {
        let mut pings = 0;
        self.read.feed(bytes, |kind, flags| {
            if kind == PING && flags & ACK == 0 {
                pings += 1;
            }
        });
        (0..pings).any(|_| self.ping(now, calls))
    }

    /// The server sent DATA or HEADERS (the engine that knows says so directly).
    pub(crate) fn sent(&mut self) {
        self.sent_since_ping = true;
    }

    /// A PING from the client at `now`, with `calls` in flight; `true` when it has pinged
    /// too often.
    pub(crate) fn ping(&mut self, now: Instant, calls: bool) -> bool {
        if std::mem::take(&mut self.sent_since_ping) {
            // A ping after the server sent something: forgiven, and the count starts over.
            self.strikes = 0;
            self.last_ping = Some(now);
            return false;
        }
        let interval = if calls || self.policy.permit_without_calls {
            self.policy.min_interval
        } else {
            IDLE_INTERVAL
        };
        let too_soon = self
            .last_ping
            .is_some_and(|last| now.duration_since(last) < interval);
        self.last_ping = Some(now);
        if too_soon {
            self.strikes += 1;
        }
        self.strikes > MAX_STRIKES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        out.extend_from_slice(payload);
        out
    }

    fn ping() -> Vec<u8> {
        frame(PING, 0, &[0; 8])
    }

    fn client_bytes(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        for f in frames {
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn frame_headers_are_found_across_any_split() {
        let bytes = client_bytes(&[
            frame(0x4, 0, &[0; 6]),
            ping(),
            frame(PING, ACK, &[0; 8]),
            ping(),
        ]);
        for chunk in 1..bytes.len() {
            let mut headers = FrameHeaders::client_to_server();
            let mut seen = Vec::new();
            for piece in bytes.chunks(chunk) {
                headers.feed(piece, |kind, flags| seen.push((kind, flags)));
            }
            assert_eq!(
                seen,
                [(0x4, 0), (PING, 0), (PING, ACK), (PING, 0)],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn the_third_ping_too_soon_is_refused() {
        let mut watch = PingWatch::new(PingPolicy::default());
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        assert!(
            !watch.read(&client_bytes(&[ping()]), at(0), true),
            "the first ping is fine"
        );
        assert!(!watch.read(&ping(), at(1), true), "strike 1");
        assert!(!watch.read(&ping(), at(2), true), "strike 2");
        assert!(watch.read(&ping(), at(3), true), "strike 3: GOAWAY");
    }

    #[test]
    fn pings_at_the_interval_or_after_data_are_fine() {
        let mut watch = PingWatch::new(PingPolicy::default());
        let t0 = Instant::now();
        watch.read(&client_bytes(&[]), t0, true);
        for i in 0..10 {
            let at = t0 + Duration::from_secs(300 * i);
            assert!(!watch.read(&ping(), at, true), "ping {i} every 5 minutes");
        }
        // Every second, but each right after the server sent DATA: bandwidth probes.
        for i in 0..10 {
            watch.wrote(&frame(DATA, 0, b"hello"));
            let at = t0 + Duration::from_secs(3000 + i);
            assert!(!watch.read(&ping(), at, true), "probe {i}");
        }
    }

    #[test]
    fn idle_clients_may_ping_once_in_two_hours_unless_allowed() {
        let t0 = Instant::now();
        let ten_minutes = |i: u64| t0 + Duration::from_secs(600 * i);
        let mut strict = PingWatch::new(PingPolicy::default());
        strict.read(&client_bytes(&[ping()]), t0, false);
        let refused = (1..=3).map(|i| strict.read(&ping(), ten_minutes(i), false));
        assert_eq!(refused.collect::<Vec<_>>(), [false, false, true]);

        let mut lenient = PingWatch::new(PingPolicy {
            permit_without_calls: true,
            ..PingPolicy::default()
        });
        lenient.read(&client_bytes(&[ping()]), t0, false);
        assert!((1..=5).all(|i| !lenient.read(&ping(), ten_minutes(i), false)));
    }
}
