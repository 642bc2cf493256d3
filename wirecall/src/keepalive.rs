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

use std::task::{Context, Poll};

use h2::{Ping, PingPong};

/// A connection's way to ping its peer: h2's, or our own engine's.
pub(crate) trait Pinger {
    /// Sends a PING; `false` if the connection cannot any more.
    fn send_ping(&mut self) -> bool;
    /// Ready with `true` when the PING was acknowledged, `false` if the connection ended.
    fn poll_pong(&mut self, cx: &mut Context<'_>) -> Poll<bool>;
}

impl Pinger for PingPong {
    fn send_ping(&mut self) -> bool {
        PingPong::send_ping(self, Ping::opaque()).is_ok()
    }

    fn poll_pong(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        PingPong::poll_pong(self, cx).map(|pong| pong.is_ok())
    }
}

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
    mut pings: impl Pinger,
    keepalive: Keepalive,
    calls: Option<&AtomicUsize>,
) -> Ended {
    loop {
        tokio::time::sleep(keepalive.interval).await;
        let idle = calls.is_some_and(|c| c.load(Ordering::Acquire) == 0);
        if idle && !keepalive.while_idle {
            continue;
        }
        if !pings.send_ping() {
            return Ended::Closed;
        }
        let pong = std::future::poll_fn(|cx| pings.poll_pong(cx));
        match tokio::time::timeout(keepalive.timeout, pong).await {
            Ok(true) => {}
            Ok(false) => return Ended::Closed,
            Err(_) => return Ended::PeerSilent,
        }
    }
}
