//! A count of calls in flight (a client connection's), and [`InFlight`], the guard that
//! holds one call in it: a connection's keepalive pings only while it has calls, and its
//! balancer weighs connections by them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One call in flight on a connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub(crate) fn new(calls: &Arc<AtomicUsize>) -> Self {
        calls.fetch_add(1, Ordering::AcqRel);
        InFlight(calls.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
