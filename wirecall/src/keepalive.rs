//! HTTP/2 keepalive: a PING every `interval`, and a connection whose peer does not answer
//! within `timeout` is taken for dead and closed, so that its calls fail promptly
//! (`UNAVAILABLE`) instead of waiting on a peer that is gone or a network that is cut.
//!
//! A client pings only while it has calls in flight unless told to ping idle connections
//! too; a server pings every connection. Servers police pings: grpc-go's default
//! enforcement allows one every 5 minutes (and none without calls), and answers more with
//! GOAWAY `ENHANCE_YOUR_CALM` "too_many_pings"; set the interval to suit the server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use h2::{Ping, PingPong};

/// Keepalive settings: ping every `interval`, give up after `timeout` without a pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    /// Whether to ping a connection that has no call in flight (clients only).
    pub(crate) while_idle: bool,
}

/// Why [`watch`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// No pong within the timeout: the peer is gone.
    PeerSilent,
    /// The connection closed (or cannot ping any more); nothing to watch.
    Closed,
}

/// Pings the peer of `pings` as `keepalive` says until it stops answering. Must be polled
/// alongside the connection it came from (that is what sends the pings). With `calls`, a
/// connection without calls in flight is not pinged unless `keepalive.while_idle`.
pub(crate) async fn watch(
    mut pings: PingPong,
    keepalive: Keepalive,
    calls: Option<&AtomicUsize>,
) -> Ended {
    loop {
        tokio::time::sleep(keepalive.interval).await;
        let idle = calls.is_some_and(|c| c.load(Ordering::Acquire) == 0);
        if idle && !keepalive.while_idle {
            continue;
        }
        if pings.send_ping(Ping::opaque()).is_err() {
            return Ended::Closed;
        }
        let pong = std::future::poll_fn(|cx| pings.poll_pong(cx));
        match tokio::time::timeout(keepalive.timeout, pong).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Ended::Closed,
            Err(_) => return Ended::PeerSilent,
        }
    }
}
