//! Rapid-reset protection (CVE-2023-44487): a client that opens calls and resets them at
//! once makes the server start work it never finishes, without ever passing the limit on
//! concurrent streams. Each connection counts the calls its client cancelled while they
//! ran; past the limit within one window, the connection gets GOAWAY `ENHANCE_YOUR_CALM`
//! and closes, while other connections keep being served.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many client-cancelled calls a connection may have per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResetLimit {
    pub(crate) count: u32,
    pub(crate) window: Duration,
}

impl Default for ResetLimit {
    /// 200 per second: far above what cancellations, hedging or deadlines produce, far
    /// below a flood (which runs at tens of thousands per second).
    fn default() -> Self {
        ResetLimit {
            count: 200,
            window: Duration::from_secs(1),
        }
    }
}

/// The resets of one connection, counted in fixed windows.
#[derive(Debug)]
pub(crate) struct Resets {
    limit: ResetLimit,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    count: u32,
}

impl Resets {
    pub(crate) fn new(limit: ResetLimit) -> Self {
        Resets {
            limit,
            state: Mutex::new(Window {
                started: crate::clock::now(),
                count: 0,
            }),
        }
    }

    /// Counts one call the client cancelled, at `now`.
    pub(crate) fn record(&self, now: Instant) {
        let mut window = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(window.started) >= self.limit.window {
            window.started = now;
            window.count = 0;
        }
        window.count = window.count.saturating_add(1);
    }

    /// Whether the current window has more resets than the limit allows.
    pub(crate) fn exceeded(&self, now: Instant) -> bool {
        let window = self.state.lock().unwrap_or_else(|e| e.into_inner());
        now.duration_since(window.started) < self.limit.window && window.count > self.limit.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resets(count: u32) -> Resets {
        Resets::new(ResetLimit {
            count,
            window: Duration::from_secs(1),
        })
    }

    #[test]
    fn more_than_the_limit_within_a_window_is_exceeded() {
        let resets = resets(3);
        let t0 = Instant::now();
        for i in 0..3 {
            resets.record(t0 + Duration::from_millis(i * 10));
        }
        assert!(
            !resets.exceeded(t0 + Duration::from_millis(50)),
            "at the limit"
        );
        resets.record(t0 + Duration::from_millis(60));
        assert!(resets.exceeded(t0 + Duration::from_millis(70)));
    }

    #[test]
    fn a_new_window_starts_over() {
        let resets = resets(2);
        let t0 = Instant::now();
        for _ in 0..3 {
            resets.record(t0);
        }
        assert!(resets.exceeded(t0));
        // The window has passed: its count no longer counts.
        assert!(!resets.exceeded(t0 + Duration::from_secs(1)));
        resets.record(t0 + Duration::from_millis(1_500));
        assert!(!resets.exceeded(t0 + Duration::from_millis(1_600)));
    }
}
