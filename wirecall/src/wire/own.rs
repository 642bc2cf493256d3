//! The streams of a connection served by wirecall's own HTTP/2 engine ([`crate::http2`]).
//!
//! One [`Shared`] per connection holds the sans-IO [`Connection`] and a [`Slot`] per stream
//! handed up. The connection's driver task feeds it what the socket read and writes what it
//! has to send; the calls' halves ([`OwnRecv`], [`OwnSend`], [`OwnRespond`]) lock it to take
//! their data and to write their response straight into the connection's output, then wake
//! the driver to flush. A call that answers on the driver's own task (its first poll runs
//! there) has its response written before the driver's turn ends: one socket write for a
//! whole batch of calls, with no channel between them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;

use crate::http2::connection::{Connection, Event};
use crate::http2::frame::Reason;
use crate::http2::message;
use crate::http2::StreamMap;
use crate::Status;

/// A connection and its streams, shared by its driver and its calls.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

/// What [`Shared`] guards.
pub(crate) struct Inner {
    /// The HTTP/2 connection.
    pub(crate) conn: Connection,
    slots: StreamMap<Slot>,
    /// Streams waiting for credit (a backlog, or a call in `send_data`), each once.
    waiting: Vec<u32>,
    /// The driver, waiting for output to write.
    driver: Option<Waker>,
    /// Why the connection ended, once it has: every stream fails with it.
    gone: Option<Status>,
    /// Our last PING (keepalive).
    ping: Ping,
}

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

/// How far a stream's response has gone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendPhase {
    /// No head yet.
    Head,
    /// The head went; data and trailers follow.
    Body,
    /// Ended (its last frame is in the connection's output).
    Ended,
}

/// Response bytes the flow-control windows did not take yet, and what ends the response
/// after them.
struct Backlog {
    data: Bytes,
    end_stream: bool,
    trailers: Option<HeaderMap>,
}

/// One stream, as its call sees it.
struct Slot {
    /// Request data received, not yet taken.
    data: VecDeque<Bytes>,
    end: RecvEnd,
    /// The stream was reset (by the client, or by us for its error): why.
    reset: Option<Status>,
    send: SendPhase,
    backlog: Option<Backlog>,
    recv_waker: Option<Waker>,
    send_waker: Option<Waker>,
    /// Whether the request body's half is still held.
    receiver: bool,
    /// Whether it is in [`Inner::waiting`].
    waiting: bool,
    /// How many of the response's halves are held (the responder, its body).
    senders: u8,
}

impl Shared {
    /// A connection's shared state.
    pub(crate) fn new(conn: Connection) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                conn,
                slots: StreamMap::default(),
                waiting: Vec::new(),
                driver: None,
                gone: None,
                ping: Ping::Idle,
            }),
        })
    }

    /// Locks it. A call that panicked while holding the lock left the connection as it
    /// was between two whole steps, so the lock is taken even if poisoned.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// A new stream handed up: its request body's half and its response's.
    pub(crate) fn open(
        &mut self,
        shared: &Arc<Shared>,
        stream: u32,
        end_stream: bool,
    ) -> (OwnRecv, OwnRespond) {
        let slot = Slot {
            data: VecDeque::new(),
            end: if end_stream {
                RecvEnd::Ended
            } else {
                RecvEnd::Open
            },
            reset: None,
            send: SendPhase::Head,
            backlog: None,
            recv_waker: None,
            send_waker: None,
            receiver: true,
            waiting: false,
            senders: 1,
        };
        self.slots.insert(stream, slot);
        let recv = OwnRecv {
            shared: shared.clone(),
            stream,
        };
        let respond = OwnRespond(Handle {
            shared: shared.clone(),
            stream,
        });
        (recv, respond)
    }

    /// Hands a stream's event to its call: data, trailers, reset. Credit for data no call
    /// will read goes back at once.
    pub(crate) fn deliver(&mut self, event: Event) {
        match event {
            Event::Data {
                stream,
                data,
                end_stream,
            } => {
                let len = data.len() as u32;
                match self.slots.get_mut(&stream) {
                    Some(slot) if slot.receiver => {
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
            Event::Trailers { stream, fields } => match message::trailers(fields) {
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
            },
            Event::Reset { stream, reason } => {
                self.reset(stream, crate::status::from_reset(reason.0, true));
            }
            _ => {}
        }
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
            if slot.reset.is_none() {
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

    /// What a stream's call fails with, if it can go no further.
    fn failure(&self, stream: u32) -> Option<Status> {
        match self.slots.get(&stream) {
            Some(slot) => slot.reset.clone(),
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
        if slot.senders == 0 && slot.send != SendPhase::Ended && slot.reset.is_none() {
            // The call dropped its response unfinished.
            self.conn.cancel(stream, Reason::CANCEL);
        } else if slot.senders == 0 && !slot.receiver && matches!(slot.end, RecvEnd::Open) {
            // Answered whole while the request is still coming: the client need send no
            // more (RFC 9113, 8.1).
            self.conn.cancel(stream, Reason::NO_ERROR);
        }
        if slot.senders == 0 && !slot.receiver {
            self.slots.remove(&stream);
            if self.slots.is_empty() {
                // A quiet connection holds no room for streams.
                self.slots = StreamMap::default();
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

/// A request body on our engine.
pub(crate) struct OwnRecv {
    shared: Arc<Shared>,
    stream: u32,
}

impl OwnRecv {
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
        if let Some(status) = failure {
            return Poll::Ready(Err(status));
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

impl Drop for OwnRecv {
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

/// One held half of a stream's response; the last one dropped settles the stream.
struct Handle {
    shared: Arc<Shared>,
    stream: u32,
}

impl Handle {
    /// Another half of the same response.
    fn another(&self, inner: &mut Inner) -> Handle {
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
    fn with_slot(&self, send: impl FnOnce(&mut Inner, u32)) -> Result<(), Status> {
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

impl Drop for Handle {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if let Some(slot) = inner.slots.get_mut(&self.stream) {
            slot.senders -= 1;
            inner.settle(self.stream);
        }
    }
}

/// A response not yet begun, on our engine.
pub(crate) struct OwnRespond(Handle);

impl OwnRespond {
    /// Sends the response head; with `end_stream` it is the whole response.
    pub(crate) fn send_headers(
        &mut self,
        head: http::Response<()>,
        end_stream: bool,
    ) -> Result<OwnSend, Status> {
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

/// A response body on our engine.
pub(crate) struct OwnSend(Handle);

impl OwnSend {
    /// Sends `data` within the windows, waiting for credit for the rest.
    pub(crate) async fn send_data(&mut self, mut data: Bytes) -> Result<(), Status> {
        std::future::poll_fn(|cx| {
            let stream = self.0.stream;
            let mut inner = self.0.shared.lock();
            if let Some(status) = inner.failure(stream) {
                return Poll::Ready(Err(status));
            }
            let sent = inner.conn.send_data(stream, &data, false);
            let _ = data.split_to(sent);
            inner.wake_driver();
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
            let Some(slot) = inner.slots.get_mut(&stream) else {
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
            let Some(slot) = inner.slots.get_mut(&stream) else {
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
pub(crate) struct OwnPings(pub(crate) Arc<Shared>);

impl crate::keepalive::Pinger for OwnPings {
    fn send_ping(&mut self) -> bool {
        self.0.lock().send_ping()
    }

    fn poll_pong(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        self.0.lock().poll_pong(cx)
    }
}
