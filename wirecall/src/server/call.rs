//! One incoming call and the four ways of answering it: unary, server streaming, client
//! streaming and bidirectional. Generated code calls these; each reads the request, runs the
//! handler (dropped if the client cancels or the deadline passes) and writes the response.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use futures_core::Stream;
use http::Extensions;
use tracing::Instrument;

use super::send::{self, Reply, ReplyBody};
use super::ServerConfig;
use crate::batch::{Batch, Batches};
use crate::codec::{encode_frame, Decoder, Encoder, ProstCodec};
use crate::compression::Encoding;
use crate::context::{CallContext, CancelOnDrop};
use crate::deadline::Timer;
use crate::interceptor::{CallInfo, Chain, Direction, Observer};
use crate::metadata::MetadataMap;
use crate::streaming::Side;
use crate::wire::RecvBody;
use crate::{Request, Response, Status, Streaming};
use http::HeaderValue;

/// A call routed to a service, handed to the generated `Service::call`.
pub struct ServerCall {
    metadata: MetadataMap,
    body: Option<RecvBody>,
    reply: Reply,
    config: Arc<ServerConfig>,
    deadline: Option<Instant>,
    /// The deadline's timer (none when the client sent no `grpc-timeout`).
    timer: Timer,
    remote_addr: Option<SocketAddr>,
    /// The request's `grpc-encoding`.
    request_encoding: Option<Encoding>,
    /// The client's `grpc-accept-encoding`.
    accept_encoding: Option<HeaderValue>,
    /// The call's deadline and cancellation, current while it runs; cancelled when the
    /// call ends, however it ends.
    context: CallContext,
    _cancel: CancelOnDrop,
    /// The routed service and method.
    service: &'static str,
    method: &'static str,
    /// When the server received the call's headers.
    started: Instant,
    /// What interceptors put in for the handler's `Request::extensions`.
    extensions: Extensions,
    /// The call's interceptors, when it has any.
    observer: Option<Box<Observer>>,
    /// The connection's count of client-cancelled calls (rapid-reset protection).
    resets: Option<Arc<super::resets::Resets>>,
    /// Counts this call as in flight on its connection (ping policy, max_connection_idle).
    _in_flight: Option<super::activity::InFlight>,
}

impl std::fmt::Debug for ServerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCall")
            .field("deadline", &self.deadline)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

/// Why a handler did not produce its result.
enum Interrupted {
    /// The client reset the stream; nothing more may be sent.
    Cancelled,
    /// The deadline passed.
    DeadlineExceeded,
    /// The handler (or its response stream) panicked, with this message.
    Panicked(String),
}

impl ServerCall {
    pub(crate) fn new(
        metadata: MetadataMap,
        body: RecvBody,
        reply: Reply,
        config: Arc<ServerConfig>,
        deadline: Option<Instant>,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        let context = CallContext::new(deadline);
        ServerCall {
            service: "",
            method: "",
            started: Instant::now(),
            extensions: Extensions::new(),
            observer: None,
            _cancel: context.cancel_on_drop(),
            context,
            metadata,
            body: Some(body),
            reply,
            config,
            deadline,
            timer: Timer::new(deadline),
            remote_addr,
            request_encoding: None,
            accept_encoding: None,
            resets: None,
            _in_flight: None,
        }
    }

    /// Names the routed service and method, and adds the server's interceptors.
    pub(crate) fn routed(mut self, service: &'static str, method: &'static str) -> Self {
        self.service = service;
        self.method = method;
        let config = self.config.clone();
        self.add_interceptors(&config.interceptors.0);
        self
    }

    /// Answers the call with `status` without running anything (a refusal before routing
    /// to the handler, e.g. by a tower layer).
    #[cfg(feature = "tower")]
    pub(crate) fn refuse(mut self, status: Status) {
        self.answer(status);
    }

    /// Adds interceptors after those the call already has.
    pub(crate) fn add_interceptors(&mut self, chain: &Chain) {
        if chain.is_empty() {
            return;
        }
        match &mut self.observer {
            Some(observer) => observer.chain.extend(chain.iter().cloned()),
            None => {
                let info = CallInfo {
                    service: self.service,
                    method: self.method,
                    remote_addr: self.remote_addr,
                    deadline: self.deadline,
                    started: self.started,
                    sent: Default::default(),
                    received: Default::default(),
                };
                self.observer = Some(Box::new(Observer::new(chain.clone(), info)));
            }
        }
    }

    /// Runs the interceptors' `on_call`s; a refusal is answered here and returned.
    async fn enter(&mut self) -> Result<(), ()> {
        let Some(observer) = self.observer.as_mut() else {
            return Ok(());
        };
        let reply = &mut self.reply;
        let intercept = observer.on_call(&mut self.metadata, &mut self.extensions);
        let result = race(intercept, &mut self.timer, |cx| reply.poll_reset(cx)).await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(status)) => {
                self.answer(status);
                Err(())
            }
            Err(why) => {
                self.interrupt(why);
                Err(())
            }
        }
    }

    /// Notes the status the call ends with, for the interceptors' `on_end`.
    fn record(&mut self, status: &Status) {
        if let Some(observer) = &mut self.observer {
            observer.outcome = Some(status.clone());
        }
    }

    /// Tells the interceptors about a sent message.
    fn sent(&self, size: usize) {
        if let Some(observer) = &self.observer {
            observer.on_message(Direction::Sent, size);
        }
    }

    /// Adds the response metadata the interceptors asked for.
    fn intercepted_metadata(&self, metadata: &mut MetadataMap) {
        if let Some(observer) = &self.observer {
            metadata.extend_with_prefix(&observer.response_metadata, "");
        }
    }

    /// Adds the trailer metadata the interceptors asked for.
    fn intercepted_trailers(&self, trailers: &mut MetadataMap) {
        if let Some(observer) = &self.observer {
            trailers.extend_with_prefix(&observer.response_trailers, "");
        }
    }

    /// Answers with a trailers-only response carrying `status`.
    fn answer(&mut self, mut status: Status) {
        self.record(&status);
        self.intercepted_metadata(status.metadata_mut());
        self.intercepted_trailers(status.metadata_mut());
        self.reply.trailers_only(status);
    }

    /// Sends the response headers.
    fn send_headers(
        &mut self,
        mut metadata: MetadataMap,
        encoding: Option<Encoding>,
    ) -> Option<ReplyBody> {
        self.intercepted_metadata(&mut metadata);
        self.reply.headers(metadata, encoding).ok()
    }

    /// Ends a response whose headers were sent, with `status` in the trailers.
    fn end(&mut self, body: &mut ReplyBody, mut status: Status) {
        self.record(&status);
        self.intercepted_trailers(status.metadata_mut());
        body.trailers(status.into_trailers());
    }

    /// Ends a successful response with its trailer metadata.
    fn end_ok(&mut self, body: &mut ReplyBody, mut trailers: MetadataMap) {
        if self.observer.is_some() {
            self.record(&Status::ok(""));
        }
        self.intercepted_trailers(&mut trailers);
        body.trailers(send::ok_trailers(trailers));
    }

    /// The context the call runs in (see [`crate::context`]).
    pub(crate) fn context(&self) -> &CallContext {
        &self.context
    }

    /// Starts the request's extensions with the connection's (the TLS peer's certificates).
    pub(crate) fn with_extensions(mut self, extensions: &Extensions) -> Self {
        if !extensions.is_empty() {
            self.extensions = extensions.clone();
        }
        self
    }

    /// Counts the call as in flight on its connection until it ends.
    pub(crate) fn with_in_flight(mut self, in_flight: super::activity::InFlight) -> Self {
        self._in_flight = Some(in_flight);
        self
    }

    /// Counts this call in `resets` if the client cancels it.
    pub(crate) fn with_resets(mut self, resets: Arc<super::resets::Resets>) -> Self {
        self.resets = Some(resets);
        self
    }

    /// The client reset the stream while the call ran.
    fn cancelled_by_client(&mut self) {
        if let Some(resets) = &self.resets {
            resets.record(crate::clock::now());
        }
        self.record(&Status::cancelled("cancelled by the client"));
    }

    pub(crate) fn with_encodings(
        mut self,
        request: Option<Encoding>,
        accept: Option<HeaderValue>,
    ) -> Self {
        self.request_encoding = request;
        self.accept_encoding = accept;
        self
    }

    /// The encoding for the response: the handler's choice, else the server's default, if
    /// the client accepts it.
    fn response_encoding(&self, chosen: Option<Encoding>) -> Option<Encoding> {
        let encoding = chosen.or(self.config.send_compressed)?;
        if encoding == Encoding::Identity {
            return None;
        }
        if encoding.accepted_by(self.accept_encoding.as_ref()) {
            Some(encoding)
        } else {
            tracing::debug!(%encoding, "client does not accept the encoding; sending uncompressed");
            None
        }
    }

    /// Answers a unary call with protobuf messages.
    pub async fn unary<Req, Resp, F, Fut>(self, handler: F)
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: FnOnce(Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.unary_with(ProstCodec::default(), ProstCodec::default(), handler)
            .await
    }

    /// Answers a server-streaming call with protobuf messages.
    pub async fn server_streaming<Req, Resp, S, F, Fut>(self, handler: F)
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        S: Stream<Item = Result<Resp, Status>>,
        F: FnOnce(Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<S>, Status>>,
    {
        self.server_streaming_with(ProstCodec::default(), ProstCodec::default(), handler)
            .await
    }

    /// Answers a client-streaming call with protobuf messages.
    pub async fn client_streaming<Req, Resp, F, Fut>(self, handler: F)
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: FnOnce(Request<Streaming<Req>>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.client_streaming_with(ProstCodec::default(), ProstCodec::default(), handler)
            .await
    }

    /// Answers a bidirectional-streaming call with protobuf messages.
    pub async fn streaming<Req, Resp, S, F, Fut>(self, handler: F)
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        S: Stream<Item = Result<Resp, Status>>,
        F: FnOnce(Request<Streaming<Req>>) -> Fut,
        Fut: Future<Output = Result<Response<S>, Status>>,
    {
        self.streaming_with(ProstCodec::default(), ProstCodec::default(), handler)
            .await
    }

    /// Answers a unary call with any codec.
    pub async fn unary_with<D, E, F, Fut>(mut self, decoder: D, mut encoder: E, handler: F)
    where
        D: Decoder,
        E: Encoder,
        F: FnOnce(Request<D::Item>) -> Fut,
        Fut: Future<Output = Result<Response<E::Item>, Status>>,
    {
        if self.enter().await.is_err() {
            return;
        }
        let request = match self.read_single(decoder).await {
            Ok(request) => request,
            Err(ReadError::Status(status)) => return self.answer(status),
            Err(ReadError::Interrupted(why)) => return self.interrupt(why),
        };
        let response = match self.run(handler(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(status)) => return self.answer(status),
            Err(interrupted) => return self.interrupt(interrupted),
        };
        let encoding = self.response_encoding(response.compression());
        let (parts, message) = response.into_parts();
        let (metadata, trailers) = (parts.metadata, parts.trailers);
        let mut buf = BytesMut::new();
        if let Err(status) = encode_frame(
            &mut encoder,
            &message,
            &mut buf,
            self.config.limits.max_encoding_message_size,
            encoding,
        ) {
            return self.answer(status);
        }
        let Some(mut stream) = self.send_headers(metadata, encoding) else {
            return;
        };
        self.sent(buf.len());
        if stream.data_now(buf.freeze()).is_ok() {
            self.end_ok(&mut stream, trailers);
        }
    }

    /// Answers a server-streaming call with any codec.
    pub async fn server_streaming_with<D, E, S, F, Fut>(
        mut self,
        decoder: D,
        encoder: E,
        handler: F,
    ) where
        D: Decoder,
        E: Encoder,
        S: Stream<Item = Result<E::Item, Status>>,
        F: FnOnce(Request<D::Item>) -> Fut,
        Fut: Future<Output = Result<Response<S>, Status>>,
    {
        if self.enter().await.is_err() {
            return;
        }
        let request = match self.read_single(decoder).await {
            Ok(request) => request,
            Err(ReadError::Status(status)) => return self.answer(status),
            Err(ReadError::Interrupted(why)) => return self.interrupt(why),
        };
        self.respond_with_stream(handler(request), encoder).await;
    }

    /// Answers a client-streaming call with any codec.
    pub async fn client_streaming_with<D, E, F, Fut>(mut self, decoder: D, encoder: E, handler: F)
    where
        D: Decoder,
        E: Encoder,
        F: FnOnce(Request<Streaming<D::Item, D>>) -> Fut,
        Fut: Future<Output = Result<Response<E::Item>, Status>>,
    {
        if self.enter().await.is_err() {
            return;
        }
        let request = self.request_stream(decoder);
        // A unary response is a stream of one message.
        let handler = async move {
            handler(request)
                .await
                .map(|response| response.map(|message| crate::message_stream::iter([Ok(message)])))
        };
        self.respond_with_stream(handler, encoder).await;
    }

    /// Answers a bidirectional-streaming call with any codec.
    pub async fn streaming_with<D, E, S, F, Fut>(mut self, decoder: D, encoder: E, handler: F)
    where
        D: Decoder,
        E: Encoder,
        S: Stream<Item = Result<E::Item, Status>>,
        F: FnOnce(Request<Streaming<D::Item, D>>) -> Fut,
        Fut: Future<Output = Result<Response<S>, Status>>,
    {
        if self.enter().await.is_err() {
            return;
        }
        let request = self.request_stream(decoder);
        self.respond_with_stream(handler(request), encoder).await;
    }

    fn request_stream<D: Decoder>(&mut self, decoder: D) -> Request<Streaming<D::Item, D>> {
        let body = self.body.take().expect("the request body is read once");
        let mut stream = Streaming::new(
            body,
            decoder,
            self.config.limits.max_decoding_message_size,
            Side::Server,
        );
        stream.set_encoding(self.request_encoding);
        if self.reply.text_body() {
            stream.set_text_body();
        }
        if let Some(observer) = &self.observer {
            stream.set_hook(observer.message_hook());
        }
        let mut request = Request::from_server(
            std::mem::take(&mut self.metadata),
            stream,
            self.deadline,
            self.remote_addr,
        );
        *request.extensions_mut() = std::mem::take(&mut self.extensions);
        request
    }

    /// Reads the one request message of a unary or server-streaming call.
    async fn read_single<D: Decoder>(&mut self, decoder: D) -> Result<Request<D::Item>, ReadError> {
        let (parts, mut stream) = self.request_stream(decoder).into_parts();
        let read = async {
            let Some(message) = stream.message().await? else {
                // A cardinality violation: UNIMPLEMENTED, as statuscodes.md says.
                return Err(Status::unimplemented(
                    "request stream ended without a message, where the method takes one",
                ));
            };
            if stream.message().await?.is_some() {
                return Err(Status::unimplemented(
                    "more than one request message for a unary or server-streaming method",
                ));
            }
            Ok(message)
        };
        let message = self.run(read).await.map_err(ReadError::Interrupted)??;
        Ok(Request::from_parts(parts, message))
    }

    /// Runs the handler's future until it finishes, the client cancels or the deadline passes.
    async fn run<Fut: Future>(&mut self, fut: Fut) -> Result<Fut::Output, Interrupted> {
        let reply = &mut self.reply;
        let reset = |cx: &mut Context<'_>| reply.poll_reset(cx);
        match self.observer.as_ref().and_then(|o| o.span.clone()) {
            Some(span) => race(fut.instrument(span), &mut self.timer, reset).await,
            None => race(fut, &mut self.timer, reset).await,
        }
    }

    /// Answers (or not) a call whose handler did not finish.
    fn interrupt(&mut self, why: Interrupted) {
        match why {
            Interrupted::Cancelled => {
                tracing::debug!("call cancelled by the client");
                self.cancelled_by_client();
            }
            Interrupted::DeadlineExceeded => {
                self.answer(crate::deadline::exceeded());
            }
            Interrupted::Panicked(what) => {
                tracing::error!(
                    service = self.service,
                    method = self.method,
                    panic = %what,
                    "handler panicked; answering INTERNAL"
                );
                self.answer(Status::internal("the handler panicked"));
            }
        }
    }

    /// Runs a handler that answers with a stream and sends every message, then the trailers.
    async fn respond_with_stream<E, S, Fut>(mut self, handler: Fut, mut encoder: E)
    where
        E: Encoder,
        S: Stream<Item = Result<E::Item, Status>>,
        Fut: Future<Output = Result<Response<S>, Status>>,
    {
        let response = match self.run(handler).await {
            Ok(Ok(response)) => response,
            Ok(Err(status)) => return self.answer(status),
            Err(interrupted) => return self.interrupt(interrupted),
        };
        let encoding = self.response_encoding(response.compression());
        let (parts, messages) = response.into_parts();
        let (metadata, trailers) = (parts.metadata, parts.trailers);
        let Some(mut stream) = self.send_headers(metadata, encoding) else {
            return;
        };
        let mut messages = pin!(messages);
        let hook = self.observer.as_ref().map(|o| o.message_hook());
        let max = self.config.limits.max_encoding_message_size;
        let mut batches = Batches::new(max, encoding, hook);
        loop {
            let next = batches.next(messages.as_mut(), &mut encoder, |item| item);
            let batch = match race(next, &mut self.timer, |cx| stream.poll_reset(cx)).await {
                Ok(batch) => batch,
                Err(Interrupted::Cancelled) => return self.cancelled_by_client(),
                Err(Interrupted::DeadlineExceeded) => {
                    return self.end(&mut stream, crate::deadline::exceeded());
                }
                Err(Interrupted::Panicked(what)) => {
                    tracing::error!(
                        service = self.service,
                        method = self.method,
                        panic = %what,
                        "response stream panicked; ending the call with INTERNAL"
                    );
                    return self.end(&mut stream, Status::internal("the handler panicked"));
                }
            };
            let (bytes, last, failed) = match batch {
                Batch::End => break,
                Batch::Chunk { bytes, last } => (bytes, last, None),
                // Messages encoded before a failure are still sent, ahead of its status.
                Batch::Failed { status, before } => (before, true, Some(status)),
            };
            if !bytes.is_empty() && stream.data(bytes).await.is_err() {
                return;
            }
            if let Some(status) = failed {
                return self.end(&mut stream, status);
            }
            if last {
                break;
            }
        }
        self.end_ok(&mut stream, trailers);
    }
}

/// Why reading the request did not give a message.
enum ReadError {
    Status(Status),
    Interrupted(Interrupted),
}

impl From<Status> for ReadError {
    fn from(status: Status) -> Self {
        ReadError::Status(status)
    }
}

/// Polls `fut` until it finishes, `reset` reports the client's RST_STREAM, or `timer` fires.
/// A panic while polling `fut` ends it too: the handler is not polled again.
async fn race<Fut: Future>(
    fut: Fut,
    timer: &mut Timer,
    mut reset: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> Result<Fut::Output, Interrupted> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => return Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => {}
            Err(panic) => return Poll::Ready(Err(Interrupted::Panicked(panic_message(&panic)))),
        }
        if reset(cx).is_ready() {
            return Poll::Ready(Err(Interrupted::Cancelled));
        }
        if timer.poll_expired(cx).is_ready() {
            return Poll::Ready(Err(Interrupted::DeadlineExceeded));
        }
        Poll::Pending
    })
    .await
}

/// The text of a panic's payload, when it has one.
fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-text panic payload".to_owned()
    }
}
