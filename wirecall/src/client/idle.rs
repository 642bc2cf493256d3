//! Channel idle mode (gRPC's `idleTimeout`, default 30 minutes): a channel with no call in
//! flight for that long since the last one started or ended closes its connections and
//! stops resolving, as if just made; its next call wakes it. [`Activity`] is what calls tell
//! the channel (through [`ChannelCalls`]); the timer task that acts on it lives in
//! `channel.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::in_flight::{ChannelCall, ChannelCalls};

/// A channel's call activity, for its idle timer.
#[derive(Debug)]
pub(crate) struct Activity {
    pub(crate) timeout: Duration,
    calls: Arc<ChannelCalls>,
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
    /// A call started as the timer stopped, and started another timer: stop this one.
    Stop,
}

impl Activity {
    pub(crate) fn new(timeout: Duration, now: Instant) -> Self {
        Activity {
            timeout,
            calls: Arc::new(ChannelCalls::new(now)),
            timer: AtomicBool::new(false),
        }
    }

    /// A call starts at `now`: counted until the guard (kept by its `InFlight` once it has a
    /// stream) drops; and whether the timer is not running and must be started.
    pub(crate) fn call_started(&self, now: Instant) -> (ChannelCall, bool) {
        let call = self.calls.start(now);
        let start_timer =
            !self.timer.load(Ordering::Relaxed) && !self.timer.swap(true, Ordering::AcqRel);
        (call, start_timer)
    }

    /// The timer's look at `now`: idle once no call is in flight and none started or ended
    /// for the timeout.
    pub(crate) fn check(&self, now: Instant) -> Check {
        if self.calls.in_flight() > 0 {
            return Check::Until(now + self.timeout);
        }
        let due = self.calls.last_active() + self.timeout;
        if due > now {
            return Check::Until(due);
        }
        self.timer.store(false, Ordering::Release);
        // A call that started as the timer stopped: it is in flight, so no IDLE; it started
        // a timer of its own, or this one goes on.
        if self.calls.in_flight() > 0 {
            return match self.timer.swap(true, Ordering::AcqRel) {
                true => Check::Stop,
                false => Check::Until(now + self.timeout),
            };
        }
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
        let (call, start) = activity.call_started(t0 + Duration::from_secs(1));
        assert!(start);
        // A call in flight keeps the channel awake.
        let later = t0 + Duration::from_secs(70);
        assert_eq!(activity.check(later), Check::Until(later + minute));
        // The timer runs: later calls start no other; idle counts from the last call's end.
        let (second, start) = activity.call_started(t0 + Duration::from_secs(2));
        assert!(!start);
        drop(second);
        drop(call);
        let ended = activity.calls.last_active();
        assert!(ended >= t0 + Duration::from_secs(2));
        assert_eq!(activity.check(ended), Check::Until(ended + minute));
        assert_eq!(activity.check(ended + minute), Check::Idle);
        // Idle: the next call starts the timer again.
        let (_call, start) = activity.call_started(ended + minute);
        assert!(start);
    }
}
