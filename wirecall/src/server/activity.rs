//! How busy one connection is, for `max_connection_idle`: the calls in flight and when the
//! last one ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The calls of one connection.
#[derive(Debug)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    last_end: Mutex<Instant>,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_end: Mutex::new(crate::clock::now()),
        })
    }

    /// A call starts; it counts until the guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Whether a call is in flight.
    pub(crate) fn has_calls(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Since when the connection has had no call, or `None` while it has some.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(*self.last_end.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One call in flight.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Only the end of the last call matters to `idle_since`: no clock read or lock for
        // the others. (Between the count reaching 0 and the time being written, an idle
        // check could read the previous end: at worst a GOAWAY one call early.)
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.last_end.lock().unwrap_or_else(|e| e.into_inner()) = crate::clock::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_only_without_calls_and_since_the_last_one_ended() {
        let activity = Activity::new();
        let created = activity.idle_since().expect("idle when new");
        let first = activity.start();
        let second = activity.start();
        assert_eq!(activity.idle_since(), None);
        drop(first);
        assert_eq!(activity.idle_since(), None, "one call still in flight");
        drop(second);
        let since = activity.idle_since().expect("idle again");
        assert!(since >= created);
    }
}
