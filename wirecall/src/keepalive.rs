//! HTTP/2 keepalive: a PING every `interval`, and a connection whose peer does not answer
//! within `timeout` is taken for dead and closed, so that its calls fail promptly
//! (`UNAVAILABLE`) instead of waiting on a peer that is gone or a network that is cut.
//!
//! Pings go out whether or not calls are open. Servers police pings: grpc-go's default
//! enforcement allows one every 5 minutes (and none without calls), and answers more with
//! GOAWAY `ENHANCE_YOUR_CALM` "too_many_pings"; set the interval to suit the server.

use std::time::Duration;

use h2::{Ping, PingPong};

/// Keepalive settings: ping every `interval`, give up after `timeout` without a pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
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
/// alongside the connection it came from (that is what sends the pings).
pub(crate) async fn watch(mut pings: PingPong, keepalive: Keepalive) -> Ended {
    loop {
        tokio::time::sleep(keepalive.interval).await;
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
