//! One incoming call and the four ways of answering it: unary, server streaming, client
//! streaming and bidirectional. Generated code calls these; each reads the request, runs the
//! handler (dropped if the client cancels or the deadline passes) and writes the response.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::pin;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use h2::server::SendResponse;
use h2::RecvStream;
use tokio::time::Sleep;

use super::send::{self, send_trailers, send_trailers_only};
use super::ServerConfig;
use crate::codec::{encode_frame, Decoder, Encoder, ProstCodec};
use crate::compression::Encoding;
use crate::context::{CallContext, CancelOnDrop};
use crate::flow_control::{take_ready, Ready, BATCH_BYTES};
use crate::metadata::MetadataMap;
use crate::streaming::Side;
use crate::{Request, Response, Status, Streaming};
use http::HeaderValue;

/// A call routed to a service, handed to the generated `Service::call`.
pub struct ServerCall {
    metadata: MetadataMap,
    body: Option<RecvStream>,
    respond: SendResponse<Bytes>,
    config: Arc<ServerConfig>,
    deadline: Option<Instant>,
    /// The deadline's timer, made once and only when the client sent `grpc-timeout`.
    timer: Option<Pin<Box<Sleep>>>,
    remote_addr: Option<SocketAddr>,
    /// The request's `grpc-encoding`.
    request_encoding: Option<Encoding>,
    /// The client's `grpc-accept-encoding`.
    accept_encoding: Option<HeaderValue>,
    /// The call's deadline and cancellation, current while it runs; cancelled when the
    /// call ends, however it ends.
    context: CallContext,
    _cancel: CancelOnDrop,
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
}

impl ServerCall {
    pub(crate) fn new(
        metadata: MetadataMap,
        body: RecvStream,
        respond: SendResponse<Bytes>,
        config: Arc<ServerConfig>,
        deadline: Option<Instant>,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        let context = CallContext::new(deadline);
        ServerCall {
            _cancel: context.cancel_on_drop(),
            context,
            metadata,
            body: Some(body),
            respond,
            config,
            deadline,
            timer: deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into()))),
            remote_addr,
            request_encoding: None,
            accept_encoding: None,
        }
    }

    /// The context the call runs in (see [`crate::context`]).
    pub(crate) fn context(&self) -> &CallContext {
        &self.context
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
        let request = match self.read_single(decoder).await {
            Ok(request) => request,
            Err(ReadError::Status(status)) => return send_trailers_only(&mut self.respond, status),
            Err(ReadError::Interrupted(why)) => return self.interrupted(why),
        };
        let response = match self.run(handler(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(status)) => return send_trailers_only(&mut self.respond, status),
            Err(interrupted) => return self.interrupted(interrupted),
        };
        let encoding = self.response_encoding(response.compression());
        let (metadata, trailers, message) = response.into_parts();
        let mut buf = BytesMut::new();
        if let Err(status) = encode_frame(
            &mut encoder,
            &message,
            &mut buf,
            self.config.limits.max_encoding_message_size,
            encoding,
        ) {
            return send_trailers_only(&mut self.respond, status);
        }
        let Ok(mut stream) = send::send_headers(&mut self.respond, metadata, encoding) else {
            return;
        };
        if stream.send_data(buf.freeze(), false).is_ok() {
            let _ = stream.send_trailers(send::ok_trailers(trailers));
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
        let request = match self.read_single(decoder).await {
            Ok(request) => request,
            Err(ReadError::Status(status)) => return send_trailers_only(&mut self.respond, status),
            Err(ReadError::Interrupted(why)) => return self.interrupted(why),
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
        Request::from_server(
            std::mem::take(&mut self.metadata),
            stream,
            self.deadline,
            self.remote_addr,
        )
    }

    /// Reads the one request message of a unary or server-streaming call.
    async fn read_single<D: Decoder>(&mut self, decoder: D) -> Result<Request<D::Item>, ReadError> {
        let (metadata, extensions, mut stream) = self.request_stream(decoder).into_parts();
        let read = async {
            let Some(message) = stream.message().await? else {
                return Err(Status::internal("request stream ended without a message"));
            };
            if stream.message().await?.is_some() {
                return Err(Status::internal(
                    "more than one request message for a unary or server-streaming method",
                ));
            }
            Ok(message)
        };
        let message = self.run(read).await.map_err(ReadError::Interrupted)??;
        let mut request = Request::from_server(metadata, message, self.deadline, self.remote_addr);
        *request.extensions_mut() = extensions;
        Ok(request)
    }

    /// Runs the handler's future until it finishes, the client cancels or the deadline passes.
    async fn run<Fut: Future>(&mut self, fut: Fut) -> Result<Fut::Output, Interrupted> {
        let respond = &mut self.respond;
        race(fut, &mut self.timer, |cx| respond.poll_reset(cx).map(drop)).await
    }

    fn interrupted(mut self, why: Interrupted) {
        match why {
            Interrupted::Cancelled => tracing::debug!("call cancelled by the client"),
            Interrupted::DeadlineExceeded => send_trailers_only(
                &mut self.respond,
                Status::deadline_exceeded("deadline exceeded"),
            ),
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
            Ok(Err(status)) => return send_trailers_only(&mut self.respond, status),
            Err(interrupted) => return self.interrupted(interrupted),
        };
        let encoding = self.response_encoding(response.compression());
        let (metadata, trailers, messages) = response.into_parts();
        let Ok(mut stream) = send::send_headers(&mut self.respond, metadata, encoding) else {
            return;
        };
        let mut messages = pin!(messages);
        let mut buf = BytesMut::new();
        let max = self.config.limits.max_encoding_message_size;
        loop {
            let next = poll_fn(|cx| messages.as_mut().poll_next(cx));
            let item = match race(next, &mut self.timer, |cx| stream.poll_reset(cx).map(drop)).await
            {
                Ok(item) => item,
                Err(Interrupted::Cancelled) => return,
                Err(Interrupted::DeadlineExceeded) => {
                    return send_trailers(
                        &mut stream,
                        Status::deadline_exceeded("deadline exceeded"),
                    )
                }
            };
            let Some(item) = item else { break };
            // Encode this message and every one already waiting behind it into one chunk.
            let mut failed = None;
            let mut take = |item: Result<E::Item, Status>| {
                let encoded = item.and_then(|message| {
                    encode_frame(&mut encoder, &message, &mut buf, max, encoding)
                });
                match encoded {
                    Ok(()) => buf.len() < BATCH_BYTES,
                    Err(status) => {
                        failed = Some(status);
                        false
                    }
                }
            };
            let ready = if take(item) {
                take_ready(messages.as_mut(), take).await
            } else {
                Ready::Stopped
            };
            // Messages encoded before a failure are still sent, ahead of its status.
            if !buf.is_empty()
                && crate::flow_control::send_data(&mut stream, buf.split().freeze())
                    .await
                    .is_err()
            {
                return;
            }
            if let Some(status) = failed {
                return send_trailers(&mut stream, status);
            }
            if ready == Ready::Ended {
                break;
            }
        }
        let _ = stream.send_trailers(send::ok_trailers(trailers));
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
async fn race<Fut: Future>(
    fut: Fut,
    timer: &mut Option<Pin<Box<Sleep>>>,
    mut reset: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> Result<Fut::Output, Interrupted> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(output) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if reset(cx).is_ready() {
            return Poll::Ready(Err(Interrupted::Cancelled));
        }
        if let Some(timer) = timer {
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Interrupted::DeadlineExceeded));
            }
        }
        Poll::Pending
    })
    .await
}
