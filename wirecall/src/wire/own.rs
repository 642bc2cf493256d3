//! The streams of a connection on wirecall's own HTTP/2 engine ([`crate::http2`]), served
//! or called.
//!
//! One [`Shared`] per connection holds the sans-IO connection (either side, [`Endpoint`])
//! and a [`Slot`] per stream. The connection's driver task feeds it what the socket read and
//! writes what it has to send; the calls' halves lock it to take their data and to write
//! straight into the connection's output, then wake the driver to flush:
//! - on a server, [`OwnRecv`] reads the request, [`OwnRespond`] and [`OwnSend`] answer;
//! - on a client, [`OwnOpener`] opens streams, [`OwnResponse`] waits for the response head,
//!   [`OwnSend`] sends the request body and [`OwnRecv`] reads the response's.
//!
//! A call that answers on a server driver's own task (its first poll runs there) has its
//! response written before the driver's turn ends: one socket write for a whole batch of
//! calls, with no channel between them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;

use crate::http2::client::{ClientEvent, ClientSide, Refused};
use crate::http2::connection::{Event, ServerSide};
use crate::http2::endpoint::{Endpoint, Role, Side};
use crate::http2::frame::Reason;
use crate::http2::message;
use crate::http2::StreamMap;
use crate::Status;

/// A connection and its streams, shared by its driver and its calls.
pub(crate) struct Shared<S: Side> {
    inner: Mutex<Inner<S>>,
}

/// What [`Shared`] guards.
pub(crate) struct Inner<S: Side> {
    /// The HTTP/2 connection.
    pub(crate) conn: Endpoint<S>,
    slots: StreamMap<Slot>,
    /// Streams waiting for credit (a backlog, or a call in `send_data`), each once.
    waiting: Vec<u32>,
    /// The driver, waiting for output to write.
    driver: Option<Waker>,
    /// Why the connection ended, once it has: every stream fails with it.
    gone: Option<Status>,
    /// Our last PING (keepalive).
    ping: Ping,
    /// A client's callers waiting for room to open a stream.
    openers: Vec<Waker>,
    /// A client's room taken by openers that are ready and have not opened yet.
    reserved: usize,
    /// A client's openers are all gone: no stream will be opened any more.
    users_gone: bool,
    /// When the connection's current period began ([`Inner::tick`]).
    period: std::time::Instant,
}

/// How many checks of [`Inner::expire_quiet`] a stream may stay quiet: waiting for credit
/// (`stalled`), or with nothing moving at all (`idle`); `None`: no limit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QuietLimits {
    pub(crate) stalled: Option<u32>,
    pub(crate) idle: Option<u32>,
}

impl QuietLimits {
    /// The check interval and the limits in checks for `stalled` and `idle` timeouts: a
    /// quarter of the shorter one, so that a stream goes within a quarter past its limit.
    /// `None` without either.
    pub(crate) fn every(
        stalled: Option<std::time::Duration>,
        idle: Option<std::time::Duration>,
    ) -> Option<(std::time::Duration, QuietLimits)> {
        let shortest = stalled.into_iter().chain(idle).min()?;
        let interval = (shortest / 4).max(std::time::Duration::from_millis(10));
        let checks = |limit: std::time::Duration| {
            (limit.as_nanos() / interval.as_nanos()).min(u128::from(u32::MAX)) as u32
        };
        let limits = QuietLimits {
            stalled: stalled.map(checks),
            idle: idle.map(checks),
        };
        Some((interval, limits))
    }
}

/// How long a period of the connection's empty-frame count lasts.
const PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Where our keepalive PING is.
enum Ping {
    /// None outstanding.
    Idle,
    /// Sent; the watcher waits for its ACK.
    Sent(Option<Waker>),
    /// Acknowledged, not yet seen by the watcher.
    Acked,
}

/// How far a stream's request has come in.
enum RecvEnd {
    /// More data may come.
    Open,
    /// Ended with its data.
    Ended,
    /// Ended with trailers, not taken yet.
    Trailers(HeaderMap),
}

/// How far a stream's outgoing message (a server's response, a client's request) has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendPhase {
    /// No head yet.
    Head,
    /// The head went; data and trailers follow.
    Body,
    /// Ended (its last frame is in the connection's output), or no longer wanted: a server
    /// that answered whole needs no more of a request (RST_STREAM NO_ERROR), and what the
    /// call still sends is dropped.
    Ended,
}

/// Where a client's response head is (a served stream has none to wait for).
enum Head {
    /// Not come yet.
    Awaited,
    /// Come, not taken yet.
    Came(http::response::Parts),
    /// Taken by the call (or none, on a server).
    Taken,
}

/// Outgoing bytes the flow-control windows did not take yet, and what ends the message
/// after them.
struct Backlog {
    data: Bytes,
    end_stream: bool,
    trailers: Option<HeaderMap>,
}

/// One stream, as its call sees it.
struct Slot {
    /// A client's response head.
    head: Head,
    /// Data received, not yet taken.
    data: VecDeque<Bytes>,
    end: RecvEnd,
    /// The stream was reset (by the peer, or by us for its error): why.
    reset: Option<Status>,
    /// The server refused the stream (REFUSED_STREAM, or above its GOAWAY's last stream):
    /// it never processed the request, which may be retried.
    refused: bool,
    send: SendPhase,
    backlog: Option<Backlog>,
    recv_waker: Option<Waker>,
    send_waker: Option<Waker>,
    /// Whether the receiving half (a request body; a response, or its body) is still held.
    receiver: bool,
    /// Whether it is in [`Inner::waiting`].
    waiting: bool,
    /// How many of the sending halves are held (a server's responder and its body; a
    /// client's request body).
    senders: u8,
    /// Checks of [`Inner::expire_quiet`] since something last moved on it.
    quiet: u32,
}

impl Slot {
    /// A stream's slot, its receiving half and `senders` sending halves held.
    fn new(head: Head, end_stream: bool, send: SendPhase, senders: u8) -> Slot {
        Slot {
            head,
            data: VecDeque::new(),
            end: if end_stream {
                RecvEnd::Ended
            } else {
                RecvEnd::Open
            },
            reset: None,
            refused: false,
            send,
            backlog: None,
            recv_waker: None,
            send_waker: None,
            receiver: true,
            waiting: false,
            senders,
            quiet: 0,
        }
    }
}

impl<S: Side> Shared<S> {
    /// A connection's shared state.
    pub(crate) fn new(conn: Endpoint<S>) -> Arc<Shared<S>> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                conn,
                slots: StreamMap::default(),
                waiting: Vec::new(),
                driver: None,
                gone: None,
                ping: Ping::Idle,
                openers: Vec::new(),
                reserved: 0,
                users_gone: false,
                period: crate::clock::now(),
            }),
        })
    }

    /// Locks it. A call that panicked while holding the lock left the connection as it
    /// was between two whole steps, so the lock is taken even if poisoned.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner<ServerSide> {
    /// A new stream handed up: its request body's half and its response's.
    pub(crate) fn open(
        &mut self,
        shared: &Arc<Shared<ServerSide>>,
        stream: u32,
        end_stream: bool,
    ) -> (OwnRecv<ServerSide>, OwnRespond) {
        let slot = Slot::new(Head::Taken, end_stream, SendPhase::Head, 1);
        self.slots.insert(stream, slot);
        let (recv, respond) = halves(shared, stream);
        (recv, OwnRespond(respond))
    }

    /// Hands a stream's event to its call: data, trailers, reset.
    pub(crate) fn deliver(&mut self, event: Event) {
        match event {
            Event::Data {
                stream,
                data,
                end_stream,
            } => self.data(stream, data, end_stream),
            Event::Trailers { stream, fields } => self.trailers(stream, fields),
            Event::Reset { stream, reason } => self.peer_reset(stream, reason),
            _ => {}
        }
    }
}

impl Inner<ClientSide> {
    /// Hands an event to its stream's call: the response head, data, trailers, a reset.
    /// Room to open streams (SETTINGS, a stream gone) wakes the callers waiting for it.
    pub(crate) fn deliver(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Response {
                stream,
                fields,
                end_stream,
            } => self.response(stream, fields, end_stream),
            ClientEvent::Data {
                stream,
                data,
                end_stream,
            } => self.data(stream, data, end_stream),
            ClientEvent::Trailers { stream, fields } => self.trailers(stream, fields),
            ClientEvent::Reset { stream, reason } => {
                let finished = self
                    .slots
                    .get(&stream)
                    .is_some_and(|slot| !matches!(slot.end, RecvEnd::Open));
                if reason == Reason::NO_ERROR && finished {
                    // The response is whole; the server needs no more of the request.
                    self.stop_sending(stream);
                } else {
                    if let Some(slot) = self.slots.get_mut(&stream) {
                        slot.refused = reason == Reason::REFUSED_STREAM;
                    }
                    self.peer_reset(stream, reason);
                }
                self.wake_openers();
            }
            ClientEvent::PingAck { .. } => self.ping_acked(),
            ClientEvent::Settings { .. } => self.wake_openers(),
            ClientEvent::Ping { .. } | ClientEvent::GoAway { .. } => {}
        }
    }

    /// A response head came for `stream`.
    fn response(&mut self, stream: u32, fields: Vec<message::Field>, end_stream: bool) {
        match message::response(fields) {
            Ok(head) => {
                if let Some(slot) = self.slots.get_mut(&stream) {
                    slot.head = Head::Came(head);
                    if end_stream {
                        slot.end = RecvEnd::Ended;
                    }
                    wake(&mut slot.recv_waker);
                }
            }
            Err(what) => {
                tracing::debug!(stream, what, "malformed response head: stream reset");
                self.conn.cancel(stream, Reason::PROTOCOL_ERROR);
                let status = Status::internal(format!("malformed response head: {what}"));
                self.reset(stream, status);
            }
        }
    }

    /// What the call still sends on `stream` is dropped: the server no longer wants it.
    fn stop_sending(&mut self, stream: u32) {
        if let Some(slot) = self.slots.get_mut(&stream) {
            slot.send = SendPhase::Ended;
            slot.backlog = None;
            wake(&mut slot.send_waker);
        }
        self.settle(stream);
    }

    /// Opens a stream with `head` (room was taken by [`OwnOpener::poll_ready`], or is
    /// there): where its response head will come, and its request body's half.
    fn open_stream(
        &mut self,
        shared: &Arc<Shared<ClientSide>>,
        head: http::Request<()>,
    ) -> Result<(OwnResponse, OwnSend<ClientSide>), Status> {
        if let Some(status) = &self.gone {
            return Err(status.clone());
        }
        let (parts, ()) = head.into_parts();
        let stream = self
            .conn
            .open(message::request_fields(&parts), false)
            .map_err(refused)?;
        self.slots
            .insert(stream, Slot::new(Head::Awaited, false, SendPhase::Body, 1));
        self.wake_driver();
        let (recv, send) = halves(shared, stream);
        Ok((OwnResponse(Some(recv)), OwnSend(send)))
    }
}

/// A new stream's receiving half and its first sending half.
fn halves<S: Side>(shared: &Arc<Shared<S>>, stream: u32) -> (OwnRecv<S>, Handle<S>) {
    let recv = OwnRecv {
        shared: shared.clone(),
        stream,
    };
    let send = Handle {
        shared: shared.clone(),
        stream,
    };
    (recv, send)
}

/// The status of a call that could not open a stream for `why`.
fn refused(why: Refused) -> Status {
    let what = match why {
        Refused::AtLimit => "at the server's limit of concurrent streams",
        Refused::GoingAway => "going away",
        Refused::Closed => "closed",
        Refused::Exhausted => "out of stream identifiers",
    };
    Status::unavailable(format!("the HTTP/2 connection is {what}"))
}

impl<S: Side> Inner<S> {
    /// Data came for `stream`. Credit for data no call will read goes back at once.
    fn data(&mut self, stream: u32, data: Bytes, end_stream: bool) {
        let len = data.len() as u32;
        match self.slots.get_mut(&stream) {
            Some(slot) if slot.receiver => {
                slot.quiet = 0;
                if !data.is_empty() {
                    slot.data.push_back(data);
                }
                if end_stream {
                    slot.end = RecvEnd::Ended;
                }
                wake(&mut slot.recv_waker);
            }
            _ => self.conn.release(stream, len),
        }
    }

    /// Trailers came for `stream`: they end what it receives.
    fn trailers(&mut self, stream: u32, fields: Vec<message::Field>) {
        match message::trailers(fields) {
            Ok(trailers) => {
                if let Some(slot) = self.slots.get_mut(&stream) {
                    slot.end = RecvEnd::Trailers(trailers);
                    wake(&mut slot.recv_waker);
                }
            }
            Err(what) => {
                tracing::debug!(stream, what, "malformed trailers: stream reset");
                self.conn.cancel(stream, Reason::PROTOCOL_ERROR);
                self.reset(
                    stream,
                    Status::internal(format!("malformed trailers: {what}")),
                );
            }
        }
    }

    /// The peer reset `stream` (or we did, for its error) with `reason`.
    fn peer_reset(&mut self, stream: u32, reason: Reason) {
        self.reset(stream, crate::status::from_reset(reason.0, true));
    }

    /// `stream` is gone with `status`: its call hears it, on both halves.
    fn reset(&mut self, stream: u32, status: Status) {
        if let Some(slot) = self.slots.get_mut(&stream) {
            slot.reset = Some(status);
            slot.backlog = None;
            // Data not read is moot now; its credit goes back.
            let unread: usize = slot.data.drain(..).map(|d| d.len()).sum();
            if unread > 0 {
                self.conn.release(stream, unread as u32);
            }
            wake(&mut slot.recv_waker);
            wake(&mut slot.send_waker);
            self.settle(stream);
        }
    }

    /// The windows may have grown: backlogs go out as far as they allow, and calls waiting
    /// for credit try again.
    pub(crate) fn credit(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        for &stream in &waiting {
            if let Some(slot) = self.slots.get_mut(&stream) {
                slot.waiting = false;
                wake(&mut slot.send_waker);
            }
            self.flush_backlog(stream);
        }
        // The allocation back, unless a stream listed itself again meanwhile.
        if self.waiting.is_empty() {
            self.waiting = waiting;
            self.waiting.clear();
        }
    }

    /// Lists `stream` as waiting for credit.
    fn wait_for_credit(&mut self, stream: u32) {
        if let Some(slot) = self.slots.get_mut(&stream) {
            if !slot.waiting {
                slot.waiting = true;
                self.waiting.push(stream);
            }
        }
    }

    /// The connection ended (`status` says how): every stream's call hears it.
    pub(crate) fn end(&mut self, status: Status) {
        for slot in self.slots.values_mut() {
            // What came whole stays readable; the sending halves fail with `gone`.
            if slot.reset.is_none() && matches!(slot.end, RecvEnd::Open) {
                slot.reset = Some(status.clone());
            }
            slot.backlog = None;
            wake(&mut slot.recv_waker);
            wake(&mut slot.send_waker);
        }
        if let Ping::Sent(waker) = &mut self.ping {
            wake(waker);
        }
        self.gone = Some(status);
        self.wake_openers();
    }

    /// Keeps the driver's waker, to be woken when there is output to write.
    pub(crate) fn wait_for_output(&mut self, waker: &Waker) {
        match &self.driver {
            Some(kept) if kept.will_wake(waker) => {}
            _ => self.driver = Some(waker.clone()),
        }
    }

    /// Forgets the driver's waker: it is running.
    pub(crate) fn driver_runs(&mut self) {
        self.driver = None;
    }

    /// The ACK of our PING came.
    pub(crate) fn ping_acked(&mut self) {
        if let Ping::Sent(waker) = &mut self.ping {
            wake(waker);
            self.ping = Ping::Acked;
        }
    }

    /// Sends a keepalive PING; `false` once the connection is gone.
    pub(crate) fn send_ping(&mut self) -> bool {
        if self.gone.is_some() {
            return false;
        }
        self.conn.ping(*b"wirecall");
        self.ping = Ping::Sent(None);
        self.wake_driver();
        true
    }

    /// Ready with `true` when our PING was acknowledged, `false` if the connection ended.
    pub(crate) fn poll_pong(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if self.gone.is_some() {
            return Poll::Ready(false);
        }
        match &mut self.ping {
            Ping::Acked => {
                self.ping = Ping::Idle;
                Poll::Ready(true)
            }
            Ping::Sent(waker) => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Ping::Idle => Poll::Ready(false),
        }
    }

    /// Wakes the driver if there is output to write.
    fn wake_driver(&mut self) {
        if self.conn.has_output() {
            if let Some(waker) = self.driver.take() {
                waker.wake();
            }
        }
    }

    /// Bytes are about to be received at `now`: past a period since the last began, a new
    /// one begins (frames that ask for no work are counted per period).
    pub(crate) fn tick(&mut self, now: std::time::Instant) {
        if now.saturating_duration_since(self.period) >= PERIOD {
            self.period = now;
            self.conn.new_period();
        }
    }

    /// Whether any stream is held by a call.
    pub(crate) fn has_streams(&self) -> bool {
        !self.slots.is_empty()
    }

    /// Something moved on `stream`: it is not quiet.
    fn moved(&mut self, stream: u32) {
        if let Some(slot) = self.slots.get_mut(&stream) {
            slot.quiet = 0;
        }
    }

    /// One more check of the streams that have gone quiet: a stream past `limits` is reset
    /// with CANCEL and its call cancelled. How many were.
    pub(crate) fn expire_quiet(&mut self, limits: QuietLimits) -> usize {
        let mut expired = Vec::new();
        for (&stream, slot) in self.slots.iter_mut() {
            if slot.reset.is_some() {
                continue;
            }
            slot.quiet = slot.quiet.saturating_add(1);
            let stalled = slot.waiting || slot.backlog.is_some();
            if stalled && limits.stalled.is_some_and(|checks| slot.quiet > checks) {
                expired.push((
                    stream,
                    "its response waited for flow-control credit too long",
                ));
            } else if limits.idle.is_some_and(|checks| slot.quiet > checks) {
                expired.push((stream, "nothing moved on it for too long"));
            }
        }
        for &(stream, why) in &expired {
            tracing::debug!(stream, why, "stream reset");
            self.conn.cancel(stream, Reason::CANCEL);
            self.reset(
                stream,
                Status::cancelled(format!("HTTP/2 stream reset: {why}")),
            );
        }
        self.wake_driver();
        expired.len()
    }

    /// Whether a client's connection is of no more use: no opener left, no stream held.
    pub(crate) fn unused(&self) -> bool {
        self.users_gone && self.slots.is_empty()
    }

    /// A client's callers waiting for room to open a stream look again.
    pub(crate) fn wake_openers(&mut self) {
        for waker in self.openers.drain(..) {
            waker.wake();
        }
    }

    /// Whether what `stream`'s call sends is no longer wanted (see [`SendPhase::Ended`]).
    fn stopped(&self, stream: u32) -> bool {
        self.slots
            .get(&stream)
            .is_some_and(|slot| slot.send == SendPhase::Ended)
    }

    /// What a stream's sending halves fail with, if they can go no further: its reset, or
    /// the connection's end.
    fn failure(&self, stream: u32) -> Option<Status> {
        match self.slots.get(&stream) {
            Some(slot) => slot.reset.clone().or_else(|| self.gone.clone()),
            None => Some(
                self.gone
                    .clone()
                    .unwrap_or_else(|| Status::internal("HTTP/2 stream no longer kept")),
            ),
        }
    }

    /// Sends what the windows allow of `stream`'s backlog, and what ends it once it is out.
    fn flush_backlog(&mut self, stream: u32) {
        let Some(slot) = self.slots.get_mut(&stream) else {
            return;
        };
        let Some(backlog) = slot.backlog.as_mut() else {
            return;
        };
        let ends_with_data = backlog.end_stream && backlog.trailers.is_none();
        let sent = self.conn.send_data(stream, &backlog.data, ends_with_data);
        let _ = backlog.data.split_to(sent);
        if sent > 0 {
            slot.quiet = 0;
        }
        if !backlog.data.is_empty() {
            self.wait_for_credit(stream);
            return;
        }
        let Some(backlog) = slot.backlog.take() else {
            return;
        };
        if let Some(trailers) = backlog.trailers {
            self.conn
                .send_headers(stream, message::fields_of(&trailers), true);
        }
        if backlog.end_stream || ends_with_data {
            slot.send = SendPhase::Ended;
        }
        self.settle(stream);
    }

    /// Forgets `stream`'s slot once no call holds it and nothing of it waits to go out; a
    /// response left unfinished is cancelled, and a request still coming is told to stop.
    fn settle(&mut self, stream: u32) {
        let Some(slot) = self.slots.get(&stream) else {
            return;
        };
        if slot.backlog.is_some() {
            return;
        }
        let unfinished = slot.senders == 0 && slot.send != SendPhase::Ended;
        let still_coming = !slot.receiver && matches!(slot.end, RecvEnd::Open);
        if slot.reset.is_none() {
            match S::ROLE {
                // The call dropped its response unfinished.
                Role::Server if unfinished => self.conn.cancel(stream, Reason::CANCEL),
                // Answered whole while the request is still coming: the client need send
                // no more (RFC 9113, 8.1).
                Role::Server if slot.senders == 0 && still_coming => {
                    self.conn.cancel(stream, Reason::NO_ERROR)
                }
                // The call dropped its response while it comes, or its request unfinished
                // with the response read or dropped (as h2 does: a request body let go
                // unended while the response is read leaves the stream be).
                Role::Client if still_coming || (unfinished && !slot.receiver) => {
                    self.conn.cancel(stream, Reason::CANCEL)
                }
                _ => {}
            }
        }
        if slot.senders == 0 && !slot.receiver {
            self.slots.remove(&stream);
            if self.slots.is_empty() {
                // A quiet connection holds no room for streams.
                self.slots = StreamMap::default();
            }
            self.wake_openers();
            if self.unused() {
                // The driver ends the connection.
                wake(&mut self.driver);
            }
        }
        self.wake_driver();
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

/// A request body (served) or a response body (called) on our engine.
pub(crate) struct OwnRecv<S: Side> {
    shared: Arc<Shared<S>>,
    stream: u32,
}

impl<S: Side> OwnRecv<S> {
    /// The next chunk of data, its credit handed back as it is taken.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        let Some(slot) = inner.slots.get_mut(&self.stream) else {
            return Poll::Ready(inner.failure(self.stream).map(Err));
        };
        if let Some(status) = &slot.reset {
            return Poll::Ready(Some(Err(status.clone())));
        }
        if let Some(data) = slot.data.pop_front() {
            inner.conn.release(self.stream, data.len() as u32);
            inner.wake_driver();
            return Poll::Ready(Some(Ok(data)));
        }
        match slot.end {
            RecvEnd::Open => {
                slot.recv_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            RecvEnd::Ended | RecvEnd::Trailers(_) => Poll::Ready(None),
        }
    }

    /// The trailers after the data, if any.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let mut inner = self.shared.lock();
        let failure = inner.failure(self.stream);
        let Some(slot) = inner.slots.get_mut(&self.stream) else {
            return Poll::Ready(failure.map_or(Ok(None), Err));
        };
        if let Some(status) = &slot.reset {
            return Poll::Ready(Err(status.clone()));
        }
        match std::mem::replace(&mut slot.end, RecvEnd::Ended) {
            RecvEnd::Trailers(trailers) => Poll::Ready(Ok(Some(trailers))),
            RecvEnd::Ended => Poll::Ready(Ok(None)),
            RecvEnd::Open => {
                slot.end = RecvEnd::Open;
                slot.recv_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<S: Side> Drop for OwnRecv<S> {
    /// Data received and not read gives its credit back; what comes later is dropped as it
    /// comes.
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        if let Some(slot) = inner.slots.get_mut(&self.stream) {
            slot.receiver = false;
            let unread: usize = slot.data.drain(..).map(|d| d.len()).sum();
            if unread > 0 {
                inner.conn.release(self.stream, unread as u32);
            }
            inner.settle(self.stream);
        }
    }
}

/// One held sending half of a stream; the last one dropped settles the stream.
struct Handle<S: Side> {
    shared: Arc<Shared<S>>,
    stream: u32,
}

impl<S: Side> Handle<S> {
    /// Another half of the same response.
    fn another(&self, inner: &mut Inner<S>) -> Handle<S> {
        if let Some(slot) = inner.slots.get_mut(&self.stream) {
            slot.senders += 1;
        }
        Handle {
            shared: self.shared.clone(),
            stream: self.stream,
        }
    }

    /// Runs `send` on the locked connection with this stream's id, unless the stream can go
    /// no further (its status is the error then).
    fn with_slot(&self, send: impl FnOnce(&mut Inner<S>, u32)) -> Result<(), Status> {
        let mut inner = self.shared.lock();
        if let Some(status) = inner.failure(self.stream) {
            return Err(status);
        }
        send(&mut inner, self.stream);
        Ok(())
    }

    /// Ready once the stream was reset or the connection ended.
    fn poll_reset(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.shared.lock();
        if inner.failure(self.stream).is_some() {
            return Poll::Ready(());
        }
        if let Some(slot) = inner.slots.get_mut(&self.stream) {
            slot.send_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<S: Side> Drop for Handle<S> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if let Some(slot) = inner.slots.get_mut(&self.stream) {
            slot.senders -= 1;
            inner.settle(self.stream);
        }
    }
}

/// A response not yet begun, on our engine.
pub(crate) struct OwnRespond(Handle<ServerSide>);

impl OwnRespond {
    /// Sends the response head; with `end_stream` it is the whole response.
    pub(crate) fn send_headers(
        &mut self,
        head: http::Response<()>,
        end_stream: bool,
    ) -> Result<OwnSend<ServerSide>, Status> {
        let stream = self.0.stream;
        let mut inner = self.0.shared.lock();
        if let Some(status) = inner.failure(stream) {
            return Err(status);
        }
        let (parts, ()) = head.into_parts();
        if !inner
            .conn
            .send_headers(stream, message::response_fields(&parts), end_stream)
        {
            return Err(Status::internal("HTTP/2 stream no longer open to send on"));
        }
        if let Some(slot) = inner.slots.get_mut(&stream) {
            slot.send = if end_stream {
                SendPhase::Ended
            } else {
                SendPhase::Body
            };
        }
        let body = OwnSend(self.0.another(&mut inner));
        inner.wake_driver();
        Ok(body)
    }

    /// Ready once the stream was reset or the connection ended.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_reset(cx)
    }
}

/// A response body (served) or a request body (called) on our engine.
pub(crate) struct OwnSend<S: Side>(Handle<S>);

impl<S: Side> OwnSend<S> {
    /// Sends `data` within the windows, waiting for credit for the rest.
    pub(crate) async fn send_data(&mut self, mut data: Bytes) -> Result<(), Status> {
        std::future::poll_fn(|cx| {
            let stream = self.0.stream;
            let mut inner = self.0.shared.lock();
            if let Some(status) = inner.failure(stream) {
                return Poll::Ready(Err(status));
            }
            if inner.stopped(stream) {
                return Poll::Ready(Ok(()));
            }
            let sent = inner.conn.send_data(stream, &data, false);
            let _ = data.split_to(sent);
            inner.wake_driver();
            if sent > 0 {
                inner.moved(stream);
            }
            if data.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if let Some(slot) = inner.slots.get_mut(&stream) {
                slot.send_waker = Some(cx.waker().clone());
            }
            inner.wait_for_credit(stream);
            Poll::Pending
        })
        .await
    }

    /// Sends `data` now: what the windows do not allow waits in the stream's backlog and
    /// goes out as credit comes.
    pub(crate) fn send_now(&mut self, mut data: Bytes, end_stream: bool) -> Result<(), Status> {
        self.0.with_slot(|inner, stream| {
            let Some(slot) = inner
                .slots
                .get_mut(&stream)
                .filter(|s| s.send != SendPhase::Ended)
            else {
                return;
            };
            if let Some(backlog) = slot.backlog.as_mut() {
                let mut joined = Vec::with_capacity(backlog.data.len() + data.len());
                joined.extend_from_slice(&backlog.data);
                joined.extend_from_slice(&data);
                backlog.data = joined.into();
                backlog.end_stream |= end_stream;
                return;
            }
            let sent = inner.conn.send_data(stream, &data, end_stream);
            let _ = data.split_to(sent);
            slot.quiet = 0;
            if data.is_empty() {
                if end_stream {
                    slot.send = SendPhase::Ended;
                }
            } else {
                slot.backlog = Some(Backlog {
                    data,
                    end_stream,
                    trailers: None,
                });
                inner.wait_for_credit(stream);
            }
            inner.wake_driver();
        })
    }

    /// Ends the response with `trailers` (after any backlog).
    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), Status> {
        self.0.with_slot(|inner, stream| {
            let Some(slot) = inner
                .slots
                .get_mut(&stream)
                .filter(|s| s.send != SendPhase::Ended)
            else {
                return;
            };
            if let Some(backlog) = slot.backlog.as_mut() {
                backlog.trailers = Some(trailers);
                backlog.end_stream = true;
                return;
            }
            slot.send = SendPhase::Ended;
            inner
                .conn
                .send_headers(stream, message::fields_of(&trailers), true);
            inner.wake_driver();
        })
    }

    /// Resets the stream with CANCEL.
    pub(crate) fn reset(&mut self) {
        let stream = self.0.stream;
        let mut inner = self.0.shared.lock();
        inner.conn.cancel(stream, Reason::CANCEL);
        inner.reset(stream, Status::cancelled("stream reset"));
    }

    /// Ready once the stream was reset or the connection ended.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_reset(cx)
    }
}

/// Keepalive PINGs on our engine's connection.
pub(crate) struct OwnPings<S: Side>(pub(crate) Arc<Shared<S>>);

impl<S: Side> crate::keepalive::Pinger for OwnPings<S> {
    fn send_ping(&mut self) -> bool {
        self.0.lock().send_ping()
    }

    fn poll_pong(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        self.0.lock().poll_pong(cx)
    }
}

/// A client's way to open streams on our engine's connection. One made ready holds room
/// for a stream until it opens it (or is dropped), so that a caller told "ready" is not
/// beaten to the last room by another.
pub(crate) struct OwnOpener {
    shared: Arc<Shared<ClientSide>>,
    reserved: bool,
    /// Held by every clone: the last one dropped tells the driver.
    users: Arc<Users>,
}

/// What every clone of a connection's [`OwnOpener`] holds; dropped with the last one, it
/// tells the driver that no stream will be opened any more.
struct Users(Arc<Shared<ClientSide>>);

impl Drop for Users {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.users_gone = true;
        wake(&mut inner.driver);
    }
}

impl OwnOpener {
    /// Opens streams on `shared`'s connection.
    pub(crate) fn new(shared: Arc<Shared<ClientSide>>) -> OwnOpener {
        OwnOpener {
            users: Arc::new(Users(shared.clone())),
            shared,
            reserved: false,
        }
    }

    /// Ready once room for one more stream is held; an error once the connection takes no
    /// more (gone, going away, out of identifiers).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        if self.reserved {
            return Poll::Ready(Ok(()));
        }
        let mut inner = self.shared.lock();
        if let Some(status) = &inner.gone {
            return Poll::Ready(Err(status.clone()));
        }
        match inner.conn.room() {
            Err(why) => Poll::Ready(Err(refused(why))),
            Ok(room) if room > inner.reserved => {
                inner.reserved += 1;
                self.reserved = true;
                Poll::Ready(Ok(()))
            }
            Ok(_) => {
                inner.openers.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Opens a stream with the request `head`.
    pub(crate) fn open(
        &mut self,
        head: http::Request<()>,
    ) -> Result<(OwnResponse, OwnSend<ClientSide>), Status> {
        let mut inner = self.shared.lock();
        if std::mem::take(&mut self.reserved) {
            inner.reserved -= 1;
        }
        inner.open_stream(&self.shared, head)
    }
}

impl Clone for OwnOpener {
    /// Another opener on the same connection, holding no room.
    fn clone(&self) -> OwnOpener {
        OwnOpener {
            shared: self.shared.clone(),
            reserved: false,
            users: self.users.clone(),
        }
    }
}

impl Drop for OwnOpener {
    fn drop(&mut self) {
        if self.reserved {
            let mut inner = self.shared.lock();
            inner.reserved -= 1;
            inner.wake_openers();
        }
    }
}

impl std::fmt::Debug for OwnOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnOpener")
            .field("reserved", &self.reserved)
            .finish_non_exhaustive()
    }
}

/// A client's response head still to come on our engine; it holds the response's
/// receiving half, which its body takes over.
pub(crate) struct OwnResponse(Option<OwnRecv<ClientSide>>);

impl OwnResponse {
    /// The response head with its body, or why the stream ended before it.
    pub(crate) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<http::Response<OwnRecv<ClientSide>>, super::StreamError>> {
        let Some(recv) = &self.0 else {
            let status = Status::internal("response head polled after it came");
            return Poll::Ready(Err(super::StreamError {
                status,
                refused: false,
            }));
        };
        let stream = recv.stream;
        let mut inner = recv.shared.lock();
        let failed = |status, refused| Poll::Ready(Err(super::StreamError { status, refused }));
        let Some(slot) = inner.slots.get_mut(&stream) else {
            let status = inner
                .failure(stream)
                .unwrap_or_else(|| Status::internal("no stream"));
            return failed(status, false);
        };
        if let Some(status) = &slot.reset {
            return failed(status.clone(), slot.refused);
        }
        match std::mem::replace(&mut slot.head, Head::Taken) {
            Head::Came(head) => {
                drop(inner);
                let body = self.0.take().expect("the receiving half");
                Poll::Ready(Ok(http::Response::from_parts(head, body)))
            }
            Head::Awaited => {
                slot.head = Head::Awaited;
                slot.recv_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Head::Taken => failed(Status::internal("response head taken twice"), false),
        }
    }
}
