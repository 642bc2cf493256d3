//! One HTTP/2 connection served by wirecall's own engine ([`crate::http2`]): the driver that
//! does its I/O. Each turn it reads what the socket has, feeds it to the sans-IO connection,
//! hands new streams to [`dispatch`] (a call's first poll runs right here), and writes all
//! the connection has to send in one write: the responses of every call that answered
//! during the turn go out together. The connection's limits and life (ping policy, rapid
//! reset, idle and age limits, keepalive, shutdown) follow the same [`Phase`] table as the
//! h2-backed connection.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::{dispatch, Peer, Serving, Shutdown};
use super::http2::{expired, jittered, Drain, Phase, LINGER};
use super::ping_policy::PingWatch;
use super::router::Router;
use super::ServerConfig;
use crate::http2::connection::{Connection, Event, Limits, ServerSide};
use crate::http2::frame::Reason;
use crate::http2::message;
use crate::transport::Socket;
use crate::wire::own::{OwnPings, OwnRecv, OwnRespond, QuietLimits, Shared};
use crate::wire::{RecvBody, Respond};
use crate::Status;

/// Reads per turn before the driver lets other tasks run.
const READS_PER_TURN: usize = 4;

/// The GOAWAY debug data grpc-go's clients back off on (their keepalive doubles).
const TOO_MANY_PINGS: &[u8] = b"too_many_pings";

/// Serves one connection until it closes; on `shutdown` it sends GOAWAY and lets in-flight
/// calls finish, and closes at once when told to abort.
pub(crate) async fn serve<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let peer = Peer::new(&serving);
    let Serving {
        remote_addr,
        router,
        config,
        shutdown,
        ..
    } = serving;
    let shared = Shared::new(Connection::new(limits(&config)));
    let mut driver = Driver {
        socket: Socket::new(io),
        shared: shared.clone(),
        pending: Vec::new(),
        pings: PingWatch::new(config.ping_policy),
        handshake: Some(Box::pin(tokio::time::sleep(config.handshake_timeout))),
        quiet: QuietLimits::every(config.stalled_stream_timeout, config.idle_stream_timeout),
        quiet_check: None,
        phase: Phase::Serving,
        router,
        config: config.clone(),
        peer,
        remote_addr,
    };
    let Shutdown {
        graceful: mut shutdown,
        mut abort,
    } = shutdown;
    if *shutdown.borrow() {
        driver.drain(Drain::Shutdown);
    }
    let mut keepalive = config.keepalive.map(|keepalive| {
        Box::pin(crate::keepalive::watch(
            OwnPings(shared.clone()),
            keepalive,
            None,
        ))
    });
    let idle_limit = config
        .max_connection_idle
        .unwrap_or(Duration::from_secs(3600));
    let mut idle_check = tokio::time::interval(idle_limit / 4);
    let mut age = config
        .max_connection_age
        .map(|(age, _)| Box::pin(tokio::time::sleep(jittered(age))));
    loop {
        tokio::select! {
            () = poll_fn(|cx| driver.poll_turn(cx)) => break,
            changed = shutdown.changed(), if driver.phase.serving() => {
                if changed.is_ok() {
                    driver.drain(Drain::Shutdown);
                } else {
                    driver.phase = Phase::Draining(Drain::Shutdown);
                }
            }
            _ = idle_check.tick(), if config.max_connection_idle.is_some() && driver.phase.serving() => {
                let idle_since = driver.peer.activity.idle_since();
                if idle_since.is_some_and(|since| crate::clock::now() - since >= idle_limit) {
                    tracing::debug!(?remote_addr, ?idle_limit, "idle connection: GOAWAY");
                    driver.drain(Drain::Idle);
                }
            }
            () = expired(&mut age), if age.is_some() && driver.phase.ages() => {
                if driver.phase == Phase::Draining(Drain::Age) {
                    driver.phase = Phase::Closing;
                    age = None;
                    driver.abort();
                } else {
                    tracing::debug!(?remote_addr, "connection at its maximum age: GOAWAY");
                    driver.drain(Drain::Age);
                    let grace = config.max_connection_age.map_or(Duration::ZERO, |(_, grace)| grace);
                    age = Some(Box::pin(tokio::time::sleep(grace)));
                }
            }
            ended = expired(&mut keepalive), if keepalive.is_some() => {
                keepalive = None;
                if ended == crate::keepalive::Ended::PeerSilent {
                    tracing::warn!(?remote_addr, "no keepalive pong: closing the connection");
                    break;
                }
            }
            changed = abort.changed(), if driver.phase != Phase::Aborted => {
                driver.phase = Phase::Aborted;
                if changed.is_ok() {
                    driver.abort();
                }
            }
        }
    }
    shared
        .lock()
        .end(Status::unavailable("the HTTP/2 connection closed"));
    driver.close().await;
}

/// Our engine's limits from the server's settings.
fn limits(config: &ServerConfig) -> Limits {
    let header_list = config.limits.max_header_list_size;
    Limits {
        max_concurrent_streams: config.max_concurrent_streams,
        initial_window: config.limits.initial_stream_window_size,
        connection_window: config.limits.initial_connection_window_size,
        max_frame_size: config.max_frame_size,
        max_header_list_size: header_list,
        header_table_size: 4096,
        // Enough frames of 1 KiB for the largest header list allowed, and no more.
        max_continuations: (header_list as usize / 1024).max(16),
        max_empty_frames: config.max_empty_frames,
    }
}

/// Why [`Driver::poll_read_some`] stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The socket has nothing more for now (it wakes the driver when it has).
    Waiting,
    /// The turn's reads are spent.
    Budget,
    /// Too much waits to be written.
    HeldBack,
    /// The client closed its side, or the socket failed.
    Ended,
}

/// A request handed up, waiting for the lock to be let go to be dispatched.
struct NewStream {
    stream: u32,
    /// The client reset it before it was dispatched (rapid reset's very pattern).
    reset: bool,
    head: http::request::Parts,
    body: OwnRecv<ServerSide>,
    respond: OwnRespond,
}

/// The I/O side of one connection.
struct Driver<IO> {
    /// Each read's bytes go to the connection without a copy.
    socket: Socket<IO>,
    shared: Arc<Shared<ServerSide>>,
    /// Streams to dispatch once the lock is let go.
    pending: Vec<NewStream>,
    pings: PingWatch,
    /// Until the client's preface and SETTINGS came: when it gives up waiting (slowloris).
    handshake: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How often streams are checked for being stalled or idle, and their limits in checks.
    quiet: Option<(Duration, QuietLimits)>,
    /// The checks' timer, while the connection has streams (an idle one holds none).
    quiet_check: Option<Pin<Box<tokio::time::Interval>>>,
    phase: Phase,
    router: Arc<Router>,
    config: Arc<ServerConfig>,
    peer: Peer,
    remote_addr: Option<std::net::SocketAddr>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Driver<IO> {
    /// One turn: read, dispatch, write. Ready once the connection is over: the client went,
    /// or the connection is finished and its last bytes are written.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.lock().driver_runs();
        if let Some(handshake) = &mut self.handshake {
            if self.shared.lock().conn.is_open() {
                self.handshake = None;
            } else if handshake.as_mut().poll(cx).is_ready() {
                let limit = self.config.handshake_timeout;
                tracing::debug!(remote_addr = ?self.remote_addr, ?limit, "no HTTP/2 preface and SETTINGS within the handshake timeout: closed");
                return Poll::Ready(());
            }
        }
        let mut reads = 0;
        loop {
            let read = self.poll_read_some(cx, &mut reads);
            self.poll_quiet_streams(cx);
            let blocked = self.poll_flush_out(cx);
            // Checked and registered under one lock: a call that writes output after the
            // check finds the waker to wake (between the two, its wake-up would be lost).
            let mut inner = self.shared.lock();
            if blocked.is_ready() && inner.conn.has_output() {
                continue; // more came while writing
            }
            if self.socket.is_ended() || (inner.conn.is_finished() && blocked.is_ready()) {
                return Poll::Ready(());
            }
            let unsent = self.socket.unsent() + inner.conn.output_len();
            if read == Read::HeldBack && unsent < self.config.max_send_buffer {
                continue; // the writes made room: read again (no read is waiting to wake us)
            }
            inner.wait_for_output(cx.waker());
            drop(inner);
            if read == Read::Budget {
                // More may be waiting: let other tasks run first, then go on.
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
    }

    /// Reads and takes in what the socket has, up to the turn's budget of reads, while less
    /// than `max_send_buffer` waits to be written: a client that sends and never reads
    /// (PINGs and SETTINGS to acknowledge, requests to answer) is held up by its own socket
    /// instead of growing the server's memory.
    fn poll_read_some(&mut self, cx: &mut Context<'_>, reads: &mut usize) -> Read {
        loop {
            if self.socket.is_ended() {
                return Read::Ended;
            }
            if *reads == READS_PER_TURN {
                return Read::Budget;
            }
            if self.unsent() >= self.config.max_send_buffer {
                return Read::HeldBack;
            }
            match self.socket.poll_read(cx) {
                Poll::Ready(Some(bytes)) => {
                    *reads += 1;
                    self.received(bytes, cx);
                }
                Poll::Ready(None) => return Read::Ended,
                Poll::Pending => return Read::Waiting,
            }
        }
    }

    /// Checks the streams for being stalled or idle when the timer says, while there are
    /// streams: those past their limits are reset.
    fn poll_quiet_streams(&mut self, cx: &mut Context<'_>) {
        let Some((every, limits)) = self.quiet else {
            return;
        };
        if !self.shared.lock().has_streams() {
            self.quiet_check = None;
            return;
        }
        let start = tokio::time::Instant::now() + every;
        let check = self
            .quiet_check
            .get_or_insert_with(|| Box::pin(tokio::time::interval_at(start, every)));
        while check.as_mut().poll_tick(cx).is_ready() {
            let expired = self.shared.lock().expire_quiet(limits);
            if expired > 0 {
                tracing::debug!(remote_addr = ?self.remote_addr, expired, "quiet streams reset");
            }
        }
    }

    /// Bytes to write not yet written.
    fn unsent(&self) -> usize {
        self.socket.unsent() + self.shared.lock().conn.output_len()
    }

    /// Takes in `bytes` read: the connection's events go to their streams, and new
    /// streams are dispatched, their first poll on this task.
    fn received(&mut self, bytes: BytesMut, cx: &mut Context<'_>) {
        let now = crate::clock::now();
        {
            let mut inner = self.shared.lock();
            let inner = &mut *inner;
            inner.tick(now);
            if inner.conn.receive_owned(bytes).is_err() {
                // The connection error's GOAWAY is written; the streams end with it.
                inner.end(Status::unavailable("HTTP/2 connection error"));
            }
            while let Some(event) = inner.conn.next_event() {
                match event {
                    Event::Request {
                        stream,
                        fields,
                        end_stream,
                    } => match message::request(fields) {
                        Ok(head) => {
                            let (body, respond) = inner.open(&self.shared, stream, end_stream);
                            self.pending.push(NewStream {
                                stream,
                                reset: false,
                                head,
                                body,
                                respond,
                            });
                        }
                        Err(what) => {
                            tracing::debug!(stream, what, "malformed request: stream reset");
                            inner.conn.cancel(stream, Reason::PROTOCOL_ERROR);
                        }
                    },
                    Event::Ping { .. } => {
                        if inner.conn.take_sent() {
                            self.pings.sent();
                        }
                        let calls = self.peer.activity.has_calls();
                        if self.pings.ping(now, calls) && self.phase.calmable() {
                            self.phase = Phase::Calmed;
                            tracing::warn!(remote_addr = ?self.remote_addr, policy = ?self.config.ping_policy, "too many pings: GOAWAY ENHANCE_YOUR_CALM");
                            inner
                                .conn
                                .go_away(Reason::ENHANCE_YOUR_CALM, TOO_MANY_PINGS);
                        }
                    }
                    Event::PingAck { .. } => inner.ping_acked(),
                    Event::GoAway {
                        last_stream,
                        reason,
                    } => {
                        tracing::debug!(remote_addr = ?self.remote_addr, last_stream, ?reason, "the client sent GOAWAY");
                    }
                    Event::Reset { stream, reason } => {
                        if let Some(new) = self.pending.iter_mut().find(|n| n.stream == stream) {
                            new.reset = true;
                        }
                        inner.deliver(Event::Reset { stream, reason });
                    }
                    other => inner.deliver(other),
                }
            }
            if inner.conn.take_seen().credit {
                inner.credit();
            }
        }
        // Dispatched with the lock let go: a call that answers at once takes it itself.
        let inline = self.config.inline_first_poll;
        // Taken, and let go after the loop: kept, the allocation (hundreds of bytes a
        // stream) would stay with every idle connection.
        let pending = std::mem::take(&mut self.pending);
        for NewStream {
            reset,
            head,
            body,
            respond,
            ..
        } in pending
        {
            if reset {
                // Never started: no call to see it, so it is counted here.
                self.peer.resets.record(now);
                continue;
            }
            if self.peer.resets.exceeded(now) {
                if self.phase.calmable() {
                    self.phase = Phase::Calmed;
                    tracing::warn!(remote_addr = ?self.remote_addr, limit = ?self.config.max_resets, "too many cancelled calls (rapid reset?): GOAWAY ENHANCE_YOUR_CALM");
                    self.shared
                        .lock()
                        .conn
                        .go_away(Reason::ENHANCE_YOUR_CALM, b"too many resets");
                }
                continue;
            }
            let (body, respond) = (RecvBody::Own(body), Respond::Own(respond));
            let (router, config, peer) = (&self.router, &self.config, &self.peer);
            if let Some(work) = dispatch(head, body, respond, router, config, peer) {
                work.start(inline.then_some(&mut *cx));
            }
        }
    }

    /// Writes what the connection has to send: ready once all of it is written (or the
    /// socket failed), pending while the socket takes no more.
    fn poll_flush_out(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut inner = self.shared.lock();
            inner.conn.output_into(self.socket.output());
            if inner.conn.take_sent() {
                self.pings.sent();
            }
        }
        self.socket.poll_write(cx)
    }

    /// GOAWAY NO_ERROR: the calls in flight finish, no new one starts.
    fn drain(&mut self, why: Drain) {
        self.phase = Phase::Draining(why);
        self.shared.lock().conn.go_away(Reason::NO_ERROR, b"");
    }

    /// GOAWAY, and the connection closes at once.
    fn abort(&mut self) {
        self.shared.lock().conn.abort();
    }

    /// The last bytes written, then, as the h2-backed connection does, what the client still
    /// sends read for a moment, so that closing does not reset what it has not read.
    async fn close(mut self) {
        // What the connection still has to send goes with the last write.
        self.shared.lock().conn.output_into(self.socket.output());
        self.socket.close(LINGER).await;
    }
}
