//! Channel idle mode (gRPC's `idleTimeout`, default 30 minutes): a channel with no call in
//! flight and none started for that long closes its connections and stops resolving, as if
//! just made; its next call wakes it. [`Activity`] is what calls tell the channel; the timer
//! task that acts on it lives in `channel.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A channel's call activity, for its idle timer.
#[derive(Debug)]
pub(crate) struct Activity {
    pub(crate) timeout: Duration,
    /// When the channel was made: `last` counts from it.
    base: Instant,
    /// When the last call started, in nanoseconds after `base`.
    last: AtomicU64,
    /// Calls in flight on the channel (counted by their `InFlight`).
    pub(crate) calls: Arc<AtomicUsize>,
    /// Whether the timer task runs.
    timer: AtomicBool,
}

/// What the idle timer found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Not idle yet: look again then.
    Until(Instant),
    /// Idle for the whole timeout: go IDLE (the timer has stopped).
    Idle,
}

impl Activity {
    pub(crate) fn new(timeout: Duration, now: Instant) -> Self {
        Activity {
            timeout,
            base: now,
            last: AtomicU64::new(0),
            calls: Arc::new(AtomicUsize::new(0)),
            timer: AtomicBool::new(false),
        }
    }

    /// A call starts at `now`; true when the timer is not running and must be started.
    pub(crate) fn call_started(&self, now: Instant) -> bool {
        let nanos = now.saturating_duration_since(self.base).as_nanos();
        self.last
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
        !self.timer.load(Ordering::Relaxed) && !self.timer.swap(true, Ordering::AcqRel)
    }

    fn last_call(&self) -> Instant {
        self.base + Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }

    /// The timer's look at `now`: idle once no call is in flight and none started for the
    /// timeout. A call in flight counts as activity now.
    pub(crate) fn check(&self, now: Instant) -> Check {
        if self.calls.load(Ordering::Acquire) > 0 {
            return Check::Until(now + self.timeout);
        }
        let due = self.last_call() + self.timeout;
        if due > now {
            return Check::Until(due);
        }
        self.timer.store(false, Ordering::Release);
        Check::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_after_the_timeout_with_no_call_in_flight() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let activity = Activity::new(minute, t0);
        assert!(activity.call_started(t0 + Duration::from_secs(1)));
        // The timer runs now: later calls do not start another.
        assert!(!activity.call_started(t0 + Duration::from_secs(2)));
        let due = t0 + Duration::from_secs(62);
        assert_eq!(
            activity.check(t0 + Duration::from_secs(61)),
            Check::Until(due)
        );
        activity.calls.fetch_add(1, Ordering::AcqRel);
        let later = t0 + Duration::from_secs(70);
        assert_eq!(activity.check(later), Check::Until(later + minute));
        activity.calls.fetch_sub(1, Ordering::AcqRel);
        assert_eq!(activity.check(later), Check::Idle);
        // Idle: the next call starts the timer again.
        assert!(activity.call_started(later + Duration::from_secs(1)));
    }
}
