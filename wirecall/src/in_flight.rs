//! A count of calls in flight (a client connection's), and [`InFlight`], the guard that
//! holds one call in it: a connection's keepalive pings only while it has calls, and its
//! balancer weighs connections by them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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
    /// The channel's count of its calls in flight (its idle timer reads it).
    channel: Option<Arc<AtomicUsize>>,
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

    /// Counts the call in `calls` too (its channel's), until dropped.
    pub(crate) fn count_in(&mut self, calls: &Arc<AtomicUsize>) {
        calls.fetch_add(1, Ordering::AcqRel);
        if let Some(old) = self.channel.replace(calls.clone()) {
            old.fetch_sub(1, Ordering::AcqRel);
        }
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
        if let Some(channel) = &self.channel {
            channel.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some((outcomes, ok)) = &self.outcome {
            outcomes.record(*ok);
        }
    }
}
