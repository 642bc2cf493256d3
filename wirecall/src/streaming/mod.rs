//! [`Streaming`]: the messages arriving on one RPC, decoded one at a time as the peer sends
//! them. The same type reads requests on the server and responses on the client; on the
//! client it also reads the response head (`head`) and the trailers, and turns a non-OK
//! `grpc-status` into an error.

pub(crate) mod head;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::HeaderMap;

use crate::codec::{Decoder, ProstCodec};
use crate::compression::Encoding;
use crate::deadline::Timer;
use crate::frame::FrameDecoder;
use crate::interceptor::{ClientObserver, MessageHook};
use crate::metadata::MetadataMap;
use crate::task::AbortOnDrop;
use crate::wire::{PendingResponse, RecvBody, StreamError};
use crate::{Code, Status};
use head::Head;

/// A client call's running request sender, as its response stream keeps it: dropping it
/// stops the task; it says why the sending failed when the fault was ours.
#[derive(Debug)]
pub(crate) struct RequestSender {
    _task: AbortOnDrop,
    /// Why the sender gave up, when the fault was ours (e.g. a message over the send limit).
    error: Arc<Mutex<Option<Status>>>,
}

impl RequestSender {
    /// A sender for a task already spawned, which records its failure in `error`.
    pub(crate) fn from_task(task: AbortOnDrop, error: Arc<Mutex<Option<Status>>>) -> Self {
        RequestSender { _task: task, error }
    }

    /// The status the sender failed with, if it failed on its own.
    pub(crate) fn error(&self) -> Option<Status> {
        self.error.lock().ok()?.clone()
    }
}

/// The response head of a retried client call: the attempt loop, until an attempt commits.
pub(crate) type RetriedHead = Pin<Box<dyn Future<Output = Result<Committed, Status>> + Send>>;

/// The attempt that committed a retried call: its response head has arrived.
pub(crate) struct Committed {
    pub(crate) head: Head,
    pub(crate) body: RecvBody,
    pub(crate) in_flight: crate::in_flight::InFlight,
}

/// A stream of received messages. Yields `Err` once, at the end, if the call failed.
pub struct Streaming<T, D = ProstCodec<T>> {
    /// Client side, until the response headers arrive.
    head: Option<PendingHead>,
    /// The response headers, once read.
    headers: Option<MetadataMap>,
    body: Option<RecvBody>,
    decoder: D,
    frames: FrameDecoder,
    chunk: Bytes,
    state: State,
    side: Side,
    encoding: Option<Encoding>,
    max_message_size: usize,
    trailers: Option<MetadataMap>,
    deadline: Timer,
    /// Client side: the task sending our request stream; stopped when the call ends.
    sender: Option<RequestSender>,
    /// Server side: the interceptors told about each received message.
    hook: Option<MessageHook>,
    /// Client side: the call's interceptors, told how the stream ended.
    observer: Option<Box<ClientObserver>>,
    /// Client side: counts the call on its connection while the stream lives.
    in_flight: Option<crate::in_flight::InFlight>,
    /// Server side, gRPC-Web text: the body is base64.
    text: Option<Box<crate::web::TextDecoder>>,
    _message: std::marker::PhantomData<fn() -> T>,
}

/// A client's response head still to come.
enum PendingHead {
    /// The head of the call's one attempt.
    Plain(PendingResponse),
    /// The attempt loop of a retried streaming call.
    Retried(RetriedHead),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Messages,
    Trailers,
    Done,
}

/// Which side of the call reads the stream: a client expects trailers at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

impl<T, D: Decoder<Item = T>> Streaming<T, D> {
    pub(crate) fn new(body: RecvBody, decoder: D, max_message_size: usize, side: Side) -> Self {
        Streaming::build(None, Some(body), decoder, max_message_size, side)
    }

    /// Client side: a stream whose response headers are still to come.
    pub(crate) fn pending(head: PendingResponse, decoder: D, max_message_size: usize) -> Self {
        Streaming::build(
            Some(PendingHead::Plain(head)),
            None,
            decoder,
            max_message_size,
            Side::Client,
        )
    }

    /// Client side: a stream whose head comes from the attempts of a retried call.
    pub(crate) fn retried(head: RetriedHead, decoder: D, max_message_size: usize) -> Self {
        Streaming::build(
            Some(PendingHead::Retried(head)),
            None,
            decoder,
            max_message_size,
            Side::Client,
        )
    }

    fn build(
        head: Option<PendingHead>,
        body: Option<RecvBody>,
        decoder: D,
        max_message_size: usize,
        side: Side,
    ) -> Self {
        Streaming {
            head,
            headers: None,
            body,
            decoder,
            frames: FrameDecoder::new(max_message_size),
            chunk: Bytes::new(),
            state: State::Messages,
            side,
            encoding: None,
            max_message_size,
            trailers: None,
            deadline: Timer::default(),
            sender: None,
            hook: None,
            observer: None,
            in_flight: None,
            text: None,
            _message: std::marker::PhantomData,
        }
    }

    /// The stream's `grpc-encoding`, used for messages flagged as compressed.
    pub(crate) fn set_encoding(&mut self, encoding: Option<Encoding>) {
        self.encoding = encoding;
    }

    pub(crate) fn set_deadline(&mut self, deadline: Timer) {
        self.deadline = deadline;
    }

    /// The body is base64 (gRPC-Web text): decode it before the frames.
    pub(crate) fn set_text_body(&mut self) {
        self.text = Some(Box::default());
    }

    pub(crate) fn set_hook(&mut self, hook: MessageHook) {
        self.hook = Some(hook);
    }

    /// Client side: hands the call's interceptors to the stream, which reports its messages
    /// and how it ended.
    pub(crate) fn set_observer(&mut self, observer: Box<ClientObserver>) {
        self.hook = Some(observer.hook());
        self.observer = Some(observer);
    }

    /// Whether the stream has ended (its status is known).
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Tells the interceptors, if any, how the call ended (`on_end` runs as the observer
    /// is dropped, now rather than with the stream).
    fn settle(&mut self, status: Option<&Status>) {
        if let Some(mut observer) = self.observer.take() {
            observer.record(status.cloned().unwrap_or_else(|| Status::ok("")));
        }
    }

    pub(crate) fn set_sender(&mut self, sender: RequestSender) {
        self.sender = Some(sender);
    }

    /// Client side: the call's place in its connection's count of calls in flight.
    pub(crate) fn set_in_flight(&mut self, mut in_flight: crate::in_flight::InFlight) {
        // Already done: a trailers-only OK.
        if self.state == State::Done {
            in_flight.succeeded();
        }
        self.in_flight = Some(in_flight);
    }

    /// Client side: the response headers (custom metadata), waiting for them if they have not
    /// arrived. A call that failed before any message gives its status here.
    pub async fn headers(&mut self) -> Result<&MetadataMap, Status> {
        if let Some(status) = poll_fn(|cx| self.poll_head(cx)).await {
            return Err(status);
        }
        Ok(self.headers.get_or_insert_with(MetadataMap::new))
    }

    /// Waits for the response headers and takes them.
    pub(crate) async fn take_headers(&mut self) -> Result<MetadataMap, Status> {
        self.headers().await?;
        Ok(self.headers.take().unwrap_or_default())
    }

    /// Reads the response head if it is still pending; `Some(status)` when it ends the call
    /// with an error.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Option<Status>> {
        if self.head.is_none() {
            return Poll::Ready(None);
        }
        if let Some(status) = self.poll_deadline(cx) {
            self.head = None;
            self.settle(Some(&status));
            self.end();
            return Poll::Ready(Some(status));
        }
        let Some(head) = &mut self.head else {
            return Poll::Ready(None);
        };
        let result = match head {
            PendingHead::Plain(head) => ready!(Pin::new(head).poll(cx)),
            PendingHead::Retried(head) => {
                let result = ready!(head.as_mut().poll(cx));
                self.head = None;
                let parsed = result.map(|committed| {
                    self.in_flight = Some(committed.in_flight);
                    self.body = Some(committed.body);
                    committed.head
                });
                return Poll::Ready(self.apply(parsed));
            }
        };
        self.head = None;
        Poll::Ready(self.accept(result))
    }

    /// Client side: a stream whose response head has already arrived (and said messages
    /// or a trailers-only OK follow).
    pub(crate) fn answered(
        head: Head,
        body: RecvBody,
        decoder: D,
        max_message_size: usize,
    ) -> Self {
        let mut stream =
            Streaming::build(None, Some(body), decoder, max_message_size, Side::Client);
        stream.apply(Ok(head));
        stream
    }

    /// Takes in the response head; `Some(status)` when it ends the call with an error.
    fn accept(&mut self, result: Result<http::Response<RecvBody>, StreamError>) -> Option<Status> {
        let parsed = result
            .map_err(|e| self.wire_status(e.status))
            .and_then(|response| {
                let (parts, body) = response.into_parts();
                self.body = Some(body);
                head::parse(parts.status, parts.headers)
            });
        self.apply(parsed)
    }

    /// Takes in what the response head said; `Some(status)` when it ended the call.
    fn apply(&mut self, parsed: Result<Head, Status>) -> Option<Status> {
        match parsed {
            Ok(Head::Messages { metadata, encoding }) => {
                self.headers = Some(metadata);
                self.encoding = encoding;
                None
            }
            Ok(Head::TrailersOnly { trailers }) => {
                if let Some(in_flight) = &mut self.in_flight {
                    in_flight.succeeded();
                }
                self.trailers = Some(trailers);
                self.settle(None);
                self.end();
                None
            }
            Err(status) => {
                self.trailers = Some(status.metadata().clone());
                self.settle(Some(&status));
                self.end();
                Some(status)
            }
        }
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Option<Status> {
        self.deadline
            .poll_expired(cx)
            .is_ready()
            .then(crate::deadline::exceeded)
    }

    /// The status for a failed stream, unless our own request sender failed first (e.g. a
    /// request message over the send limit), whose status is the better answer.
    fn wire_status(&self, status: Status) -> Status {
        self.sender
            .as_ref()
            .and_then(RequestSender::error)
            .unwrap_or(status)
    }

    /// The next message; `Ok(None)` once the peer has finished successfully.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| self.poll_message(cx)).await.transpose()
    }

    /// Client side: the trailing metadata, reading (and dropping) any messages not yet read.
    /// `Ok(None)` on the server side, where requests carry no trailers, and when the
    /// trailers were already taken.
    pub async fn trailers(&mut self) -> Result<Option<MetadataMap>, Status> {
        while self.message().await?.is_some() {}
        Ok(self.trailers.take())
    }

    /// Takes the trailers of a finished stream without waiting.
    pub(crate) fn take_trailers(&mut self) -> MetadataMap {
        self.trailers.take().unwrap_or_default()
    }

    /// The one response message of a unary or client-streaming call, with the response's
    /// headers and trailers.
    pub(crate) async fn single(mut self) -> Result<crate::Response<T>, Status> {
        let headers = self.take_headers().await?;
        let Some(message) = self.message().await? else {
            return Err(Status::internal("server sent no response message"));
        };
        if self.message().await?.is_some() {
            return Err(Status::internal(
                "server sent more than one response message for a unary method",
            ));
        }
        let mut response = crate::Response::new(message);
        *response.metadata_mut() = headers;
        *response.trailers_mut() = self.take_trailers();
        Ok(response)
    }

    fn end(&mut self) {
        self.state = State::Done;
        self.deadline.clear();
        self.sender = None;
    }

    fn finish(&mut self, result: Option<Result<T, Status>>) -> Poll<Option<Result<T, Status>>> {
        if !matches!(result, Some(Err(_))) {
            if let Some(in_flight) = &mut self.in_flight {
                in_flight.succeeded();
            }
        }
        if self.observer.is_some() {
            let status = match &result {
                Some(Err(status)) => Some(status.clone()),
                _ => None,
            };
            self.settle(status.as_ref());
        }
        self.end();
        Poll::Ready(result)
    }

    fn fail(&mut self, status: Status) -> Poll<Option<Result<T, Status>>> {
        self.finish(Some(Err(status)))
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>> {
        if let Some(status) = ready!(self.poll_head(cx)) {
            return Poll::Ready(Some(Err(status)));
        }
        if self.state != State::Done {
            if let Some(status) = self.poll_deadline(cx) {
                return self.fail(status);
            }
        }
        loop {
            match self.state {
                State::Done => return Poll::Ready(None),
                State::Messages => {
                    match self.frames.decode(&mut self.chunk) {
                        Ok(Some(frame)) => {
                            if let Some(hook) = &self.hook {
                                hook.report(
                                    crate::interceptor::Direction::Received,
                                    crate::frame::HEADER_LEN + frame.payload.len(),
                                );
                            }
                            let payload = if frame.compressed {
                                match self.decompress(&frame.payload) {
                                    Ok(payload) => payload,
                                    Err(status) => return self.fail(status),
                                }
                            } else {
                                frame.payload
                            };
                            return match self.decoder.decode_frame(payload, frame.compressed) {
                                Ok(message) => Poll::Ready(Some(Ok(message))),
                                Err(status) => self.fail(status),
                            };
                        }
                        Ok(None) => {}
                        Err(err) => return self.fail(err.into_status()),
                    }
                    let Some(body) = &mut self.body else {
                        return self.finish(None);
                    };
                    match ready!(body.poll_data(cx)) {
                        Some(Ok(data)) => {
                            self.chunk = match &mut self.text {
                                None => data,
                                Some(text) => match text.decode(&data) {
                                    Ok(decoded) => decoded,
                                    Err(err) => return self.fail(err.into()),
                                },
                            };
                        }
                        Some(Err(status)) => {
                            let status = self.wire_status(status);
                            return self.fail(status);
                        }
                        None => {
                            if let Some(Err(err)) = self.text.as_ref().map(|t| t.finish()) {
                                return self.fail(err.into());
                            }
                            if let Err(err) = self.frames.finish() {
                                return self.fail(err.into_status());
                            }
                            if self.side == Side::Server {
                                return self.finish(None);
                            }
                            self.state = State::Trailers;
                        }
                    }
                }
                State::Trailers => {
                    let Some(body) = &mut self.body else {
                        return self.finish(None);
                    };
                    match ready!(body.poll_trailers(cx)) {
                        Ok(Some(trailers)) => return self.end_with_trailers(trailers),
                        Ok(None) => {
                            return self.fail(Status::internal(
                                "server closed the stream without sending trailers",
                            ))
                        }
                        Err(status) => {
                            let status = self.wire_status(status);
                            return self.fail(status);
                        }
                    }
                }
            }
        }
    }

    fn decompress(&self, payload: &[u8]) -> Result<Bytes, Status> {
        crate::compression::decompress_message(self.encoding, payload, self.max_message_size)
    }

    fn end_with_trailers(&mut self, trailers: HeaderMap) -> Poll<Option<Result<T, Status>>> {
        // The common case, `grpc-status: 0`, builds no Status.
        if trailers
            .get(&crate::status::GRPC_STATUS)
            .is_some_and(|v| v.as_bytes() == b"0")
        {
            self.trailers = Some(MetadataMap::from_headers(trailers));
            return self.finish(None);
        }
        match Status::from_header_map(&trailers) {
            Some(status) if status.code() == Code::Ok => {
                self.trailers = Some(MetadataMap::from_headers(trailers));
                self.finish(None)
            }
            Some(status) => {
                self.trailers = Some(status.metadata().clone());
                self.fail(status)
            }
            None => self.fail(Status::internal("trailers without grpc-status")),
        }
    }
}

impl<T, D: Decoder<Item = T>> futures_core::Stream for Streaming<T, D> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx)
    }
}

impl<T, D: Decoder<Item = T>> Unpin for Streaming<T, D> {}

impl<T, D> std::fmt::Debug for Streaming<T, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
