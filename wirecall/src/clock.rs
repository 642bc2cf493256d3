//! The one clock of the runtime code: tokio's, as a `std::time::Instant`. It is the system's
//! monotonic clock, except under tokio's paused test clock, which it follows, so that
//! connection timers (idle, age, keepalive, ping and reset policies) run on simulated time in
//! tests.

use std::time::Instant;

/// Now, by tokio's clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
