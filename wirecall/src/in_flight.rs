//! A count of calls in flight (a client connection's), and [`InFlight`], the guard that
//! holds one call in it: a connection's keepalive pings only while it has calls, and its
//! balancer weighs connections by them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A channel's calls: how many are in flight, and when one last started or ended (its idle
/// mode reads them).
#[derive(Debug)]
pub(crate) struct ChannelCalls {
    count: AtomicUsize,
    /// When `last` counts from.
    base: Instant,
    /// When a call last started, or the last one in flight ended, in nanoseconds after
    /// `base`.
    last: AtomicU64,
}

impl ChannelCalls {
    pub(crate) fn new(now: Instant) -> Self {
        ChannelCalls {
            count: AtomicUsize::new(0),
            base: now,
            last: AtomicU64::new(0),
        }
    }

    /// Calls in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// When a call last started or the last one ended.
    pub(crate) fn last_active(&self) -> Instant {
        self.base + Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }

    /// Notes activity at `now`; the shared value is written at most once a millisecond.
    pub(crate) fn touch(&self, now: Instant) {
        let nanos = now.saturating_duration_since(self.base).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        if nanos.saturating_sub(self.last.load(Ordering::Relaxed)) > 1_000_000 {
            self.last.store(nanos, Ordering::Relaxed);
        }
    }

    /// One more call in flight (from before its pick, so a call waiting for a backend keeps
    /// the channel awake); the guard ends it.
    pub(crate) fn start(self: &Arc<Self>, now: Instant) -> ChannelCall {
        self.touch(now);
        self.count.fetch_add(1, Ordering::AcqRel);
        ChannelCall(self.clone())
    }
}

/// One call counted in its channel's [`ChannelCalls`] until dropped.
#[derive(Debug)]
pub(crate) struct ChannelCall(Arc<ChannelCalls>);

impl Drop for ChannelCall {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.touch(crate::clock::now());
        }
    }
}

/// Where a call's outcome is counted (outlier detection's counter of its backend).
pub(crate) trait Outcomes: Send + Sync {
    /// One call ended: `ok` when with status OK.
    fn record(&self, ok: bool);
}

/// One call in flight on a connection, counted until dropped; and, when its backend's
/// outcomes are counted, the call's outcome: a failure unless [`InFlight::succeeded`] said
/// otherwise before the drop (a call cancelled or reset ends as one, as in gRPC's other
/// implementations).
pub(crate) struct InFlight {
    calls: Arc<AtomicUsize>,
    /// The call in its channel's count (its idle timer reads it).
    channel: Option<ChannelCall>,
    outcome: Option<(Arc<dyn Outcomes>, bool)>,
}

impl InFlight {
    pub(crate) fn new(calls: &Arc<AtomicUsize>) -> Self {
        calls.fetch_add(1, Ordering::AcqRel);
        InFlight {
            calls: calls.clone(),
            channel: None,
            outcome: None,
        }
    }

    /// Keeps the call counted in its channel's calls until dropped.
    pub(crate) fn hold(&mut self, call: ChannelCall) {
        self.channel = Some(call);
    }

    /// Counts the call's outcome into `outcomes` when it ends.
    pub(crate) fn count_into(&mut self, outcomes: Arc<dyn Outcomes>) {
        self.outcome = Some((outcomes, false));
    }

    /// The call ended with status OK.
    pub(crate) fn succeeded(&mut self) {
        if let Some((_, ok)) = &mut self.outcome {
            *ok = true;
        }
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("counted", &self.outcome.is_some())
            .finish()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.calls.fetch_sub(1, Ordering::AcqRel);
        if let Some((outcomes, ok)) = &self.outcome {
            outcomes.record(*ok);
        }
    }
}
