//! One client connection on wirecall's own HTTP/2 engine ([`crate::http2`]): the task that
//! does its I/O. Each turn it reads what the socket has, feeds it to the sans-IO client
//! connection (its events go to the calls' streams in [`crate::wire::own`]), and writes
//! everything the calls and the connection have to send in one write. The calls write
//! their requests straight into the connection's output and wake it.
//!
//! The connection ends when the server closes it or fails, when keepalive finds the
//! server silent, or once no [`Connection`] holds it any more and its last call is done
//! (then with GOAWAY NO_ERROR). A GOAWAY from the server marks it closed at once, so that
//! the channel connects anew while the calls already sent finish here.

use std::future::poll_fn;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::{Closed, Connection};
use super::endpoint::ChannelConfig;
use crate::http2::client::{ClientConnection, ClientEvent, ClientSide};
use crate::http2::endpoint::Limits;
use crate::http2::frame::Reason;
use crate::transport::Socket;
use crate::wire::own::{OwnOpener, OwnPings, Shared};
use crate::wire::Opener;
use crate::Status;

/// Reads per turn before the driver lets other tasks run.
const READS_PER_TURN: usize = 4;

/// How long the last bytes may take to go out when the connection closes.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts a connection over `io` to `target` (for the logs): its task is spawned, and
/// calls may open streams at once (the server's SETTINGS need not have come).
pub(super) fn start<IO>(config: &ChannelConfig, target: &str, io: IO) -> Connection
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Shared::new(ClientConnection::new(limits(config)));
    let closed = Arc::new(Closed::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let driver = Driver {
        socket: Socket::new(io),
        shared: shared.clone(),
        closed: closed.clone(),
        target: target.to_owned(),
    };
    let keepalive = config.keepalive;
    let busy = calls.clone();
    let pings = OwnPings(shared.clone());
    tokio::spawn(async move {
        let mut driver = driver;
        match keepalive {
            None => poll_fn(|cx| driver.poll_turn(cx)).await,
            Some(keepalive) => tokio::select! {
                () = poll_fn(|cx| driver.poll_turn(cx)) => {}
                ended = crate::keepalive::watch(pings, keepalive, Some(&busy)) => {
                    if ended == crate::keepalive::Ended::PeerSilent {
                        tracing::warn!(target = %driver.target, timeout = ?keepalive.timeout, "no keepalive pong: closing the connection");
                    }
                }
            },
        }
        driver.finish().await;
    });
    Connection {
        opener: Opener::Own(OwnOpener::new(shared)),
        closed,
        calls,
    }
}

/// Our engine's limits from the channel's settings.
fn limits(config: &ChannelConfig) -> Limits {
    let header_list = config.limits.max_header_list_size;
    Limits {
        initial_window: config.limits.initial_stream_window_size,
        connection_window: config.limits.initial_connection_window_size,
        max_header_list_size: header_list,
        // Enough frames of 1 KiB for the largest header list allowed, and no more.
        max_continuations: (header_list as usize / 1024).max(16),
        ..Limits::default()
    }
}

/// The I/O side of one client connection.
struct Driver<IO> {
    socket: Socket<IO>,
    shared: Arc<Shared<ClientSide>>,
    /// Set once the connection takes no more calls.
    closed: Arc<Closed>,
    target: String,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Driver<IO> {
    /// One turn: read, hand the events to the streams, write. Ready once the connection is
    /// over.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.lock().driver_runs();
        let mut reads = 0;
        loop {
            while reads < READS_PER_TURN {
                match self.socket.poll_read(cx) {
                    Poll::Ready(Some(bytes)) => {
                        reads += 1;
                        self.received(bytes);
                    }
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            let blocked = self.poll_flush_out(cx);
            // Checked and registered under one lock, as the server's driver does: a call
            // that writes after the check finds the waker to wake.
            let mut inner = self.shared.lock();
            if blocked.is_ready() && inner.conn.has_output() {
                continue;
            }
            if inner.unused() && !inner.conn.is_finished() {
                // No one can open a stream any more and none is open: done.
                inner.conn.go_away(Reason::NO_ERROR, b"");
                continue;
            }
            if self.socket.is_ended() || (inner.conn.is_finished() && blocked.is_ready()) {
                return Poll::Ready(());
            }
            inner.wait_for_output(cx.waker());
            drop(inner);
            if reads == READS_PER_TURN {
                // More may be waiting: let other tasks run first, then go on.
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
    }

    /// Takes in `bytes` read: the events go to their streams.
    fn received(&mut self, bytes: BytesMut) {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        inner.tick(crate::clock::now());
        if let Err(reason) = inner.conn.receive_owned(bytes) {
            tracing::debug!(target = %self.target, ?reason, "HTTP/2 connection error");
            inner.end(Status::unavailable(format!(
                "HTTP/2 connection error: {reason:?}"
            )));
            self.closed.close();
        }
        while let Some(event) = inner.conn.next_event() {
            if let ClientEvent::GoAway {
                last_stream,
                reason,
                debug: data,
            } = &event
            {
                let data = String::from_utf8_lossy(data);
                tracing::debug!(target = %self.target, last_stream, ?reason, %data, "the server sent GOAWAY");
                // New calls go to a new connection; those sent finish here.
                self.closed.close();
            }
            inner.deliver(event);
        }
        if inner.conn.take_seen().credit {
            inner.credit();
        }
        // Streams ended, or new SETTINGS: room to open more, maybe.
        inner.wake_openers();
    }

    /// Writes what the connection has to send: ready once all of it is written (or the
    /// socket failed), pending while the socket takes no more.
    fn poll_flush_out(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.lock().conn.output_into(self.socket.output());
        self.socket.poll_write(cx)
    }

    /// The connection is over: its calls fail with UNAVAILABLE, and its last bytes go.
    async fn finish(mut self) {
        {
            let mut inner = self.shared.lock();
            inner.end(Status::unavailable("the HTTP/2 connection closed"));
            inner.conn.output_into(self.socket.output());
        }
        self.closed.close();
        self.socket.close(LINGER).await;
    }
}
