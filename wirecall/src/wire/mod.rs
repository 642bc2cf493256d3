//! The wire under one call: the halves of one HTTP stream, whatever carries them. The call
//! core (server calls, [`crate::Streaming`], the response writers) reads and writes through
//! these three types and nothing else:
//!
//! - [`RecvBody`]: receive data, then trailers; a reset arrives as an error status;
//! - [`Respond`]: a server call's response before its headers: send them, or see the reset;
//! - [`SendBody`]: send data under flow control (waiting for credit), trailers, or see the
//!   reset.
//!
//! Each is an enum over the transports: `H2` (a stream of an h2 connection, the native gRPC
//! path), `Own` (a stream of a connection on our own HTTP/2 engine, [`own`]), `Queue` (an in-memory stream, [`queue`]: what HTTP/1.1, the gateway and the tests
//! hand a call) and, for request bodies read by hyper, `Http1`. An enum rather than a trait
//! object: the set is closed, and the hot path pays one match, not a virtual call and a box.

pub(crate) mod own;
pub(crate) mod queue;
#[cfg(feature = "web")]
pub(crate) mod reframe;

use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::HeaderMap;

use crate::http2::client::ClientSide;
use crate::http2::connection::ServerSide;
use crate::Status;

/// The receiving half of a stream: a request body on the server, a response body on the
/// client.
pub(crate) enum RecvBody {
    /// A stream of an h2 connection.
    H2(h2::RecvStream),
    /// A stream of a connection served by our own HTTP/2 engine.
    Own(own::OwnRecv<ServerSide>),
    /// A stream of a client's connection on our own HTTP/2 engine.
    OwnClient(own::OwnRecv<ClientSide>),
    /// An in-memory stream.
    Queue(queue::Receiver),
    /// A request body read by hyper (HTTP/1.1); boxed, as it is the largest.
    #[cfg(feature = "web")]
    Http1(Box<Http1Body>),
    /// A body whose messages are converted as they are read (JSON to protobuf).
    #[cfg(feature = "web")]
    Reframed(Box<reframe::Reframed>),
}

impl RecvBody {
    /// The next chunk of data, its flow-control credit handed back as it is taken; `None`
    /// once the data has ended (trailers may follow). A reset is an error.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match self {
            RecvBody::H2(body) => match ready!(body.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    Poll::Ready(Some(Ok(data)))
                }
                Some(Err(err)) => Poll::Ready(Some(Err(crate::status::from_h2_error(&err)))),
                None => Poll::Ready(None),
            },
            RecvBody::Own(body) => body.poll_data(cx),
            RecvBody::OwnClient(body) => body.poll_data(cx),
            RecvBody::Queue(body) => body.poll_data(cx),
            #[cfg(feature = "web")]
            RecvBody::Http1(body) => body.poll_data(cx),
            #[cfg(feature = "web")]
            RecvBody::Reframed(body) => body.poll_data(cx),
        }
    }

    /// The trailers after the data, if any.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        match self {
            RecvBody::H2(body) => body
                .poll_trailers(cx)
                .map_err(|err| crate::status::from_h2_error(&err)),
            RecvBody::Own(body) => body.poll_trailers(cx),
            RecvBody::OwnClient(body) => body.poll_trailers(cx),
            RecvBody::Queue(body) => body.poll_trailers(cx),
            #[cfg(feature = "web")]
            RecvBody::Http1(body) => Poll::Ready(Ok(body.trailers.take())),
            #[cfg(feature = "web")]
            RecvBody::Reframed(body) => body.poll_trailers(cx),
        }
    }

    /// The next chunk of data (see [`poll_data`](Self::poll_data)).
    #[cfg(feature = "web")]
    pub(crate) async fn data(&mut self) -> Option<Result<Bytes, Status>> {
        poll_fn(|cx| self.poll_data(cx)).await
    }
}

/// The sending half of a stream: a response body on the server, a request body on the
/// client.
pub(crate) enum SendBody {
    /// A stream of an h2 connection.
    H2(h2::SendStream<Bytes>),
    /// A stream of a connection served by our own HTTP/2 engine.
    Own(own::OwnSend<ServerSide>),
    /// A stream of a client's connection on our own HTTP/2 engine.
    OwnClient(own::OwnSend<ClientSide>),
    /// An in-memory stream.
    Queue(queue::Sender),
}

impl SendBody {
    /// Sends `data` without outrunning the peer's flow-control window: waits for credit and
    /// sends as much as is granted each time.
    pub(crate) async fn send_data(&mut self, data: Bytes) -> Result<(), Status> {
        match self {
            SendBody::H2(stream) => send_h2_data(stream, data).await,
            SendBody::Own(stream) => stream.send_data(data).await,
            SendBody::OwnClient(stream) => stream.send_data(data).await,
            SendBody::Queue(stream) => {
                poll_fn(|cx| stream.poll_ready(cx)).await?;
                stream.send(queue::Frame::Data(data))
            }
        }
    }

    /// Sends `data` at once, whatever the window: the transport keeps what the window does
    /// not allow yet (a unary response's one message, sent as it is ready).
    pub(crate) fn send_now(&mut self, data: Bytes, end_stream: bool) -> Result<(), Status> {
        match self {
            SendBody::H2(stream) => stream
                .send_data(data, end_stream)
                .map_err(|err| crate::status::from_h2_error(&err)),
            SendBody::Own(stream) => stream.send_now(data, end_stream),
            SendBody::OwnClient(stream) => stream.send_now(data, end_stream),
            SendBody::Queue(stream) => {
                if !data.is_empty() {
                    stream.send(queue::Frame::Data(data))?;
                }
                if end_stream {
                    stream.send(queue::Frame::End)?;
                }
                Ok(())
            }
        }
    }

    /// Ends the stream with `trailers`.
    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), Status> {
        match self {
            SendBody::H2(stream) => stream
                .send_trailers(trailers)
                .map_err(|err| crate::status::from_h2_error(&err)),
            SendBody::Own(stream) => stream.send_trailers(trailers),
            SendBody::OwnClient(stream) => stream.send_trailers(trailers),
            SendBody::Queue(stream) => stream.send(queue::Frame::Trailers(trailers)),
        }
    }

    /// Ends the stream abruptly (RST_STREAM CANCEL on HTTP/2).
    pub(crate) fn reset(&mut self) {
        match self {
            SendBody::H2(stream) => stream.send_reset(h2::Reason::CANCEL),
            SendBody::Own(stream) => stream.reset(),
            SendBody::OwnClient(stream) => stream.reset(),
            SendBody::Queue(stream) => {
                let _ = stream.send(queue::Frame::Reset(Status::cancelled("stream reset")));
            }
        }
    }

    /// Ready once the peer has reset the stream (or gone).
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            SendBody::H2(stream) => stream.poll_reset(cx).map(drop),
            SendBody::Own(stream) => stream.poll_reset(cx),
            SendBody::OwnClient(stream) => stream.poll_reset(cx),
            SendBody::Queue(stream) => stream.poll_closed(cx),
        }
    }
}

/// Sends `data` on an h2 stream under its flow control.
async fn send_h2_data(stream: &mut h2::SendStream<Bytes>, mut data: Bytes) -> Result<(), Status> {
    let failed = |err: h2::Error| crate::status::from_h2_error(&err);
    while !data.is_empty() {
        if stream.capacity() >= data.len() {
            return stream.send_data(data, false).map_err(failed);
        }
        stream.reserve_capacity(data.len());
        let granted = match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(result) => result.map_err(failed)?,
            None => return Err(failed(h2::Error::from(h2::Reason::STREAM_CLOSED))),
        };
        if granted == 0 {
            continue;
        }
        let chunk = data.split_to(granted.min(data.len()));
        stream.send_data(chunk, false).map_err(failed)?;
    }
    Ok(())
}

/// A server call's response, before its headers are sent.
pub(crate) enum Respond {
    /// A stream of an h2 connection.
    H2(h2::server::SendResponse<Bytes>),
    /// A stream of a connection on our own HTTP/2 engine.
    Own(own::OwnRespond),
    /// An in-memory stream.
    Queue(queue::Responder),
}

impl Respond {
    /// Sends the response head; with `end_stream` it is the whole response (trailers-only, an
    /// HTTP error), else the body follows on the [`SendBody`] returned.
    pub(crate) fn send_headers(
        &mut self,
        head: http::Response<()>,
        end_stream: bool,
    ) -> Result<SendBody, Status> {
        match self {
            Respond::H2(respond) => respond
                .send_response(head, end_stream)
                .map(SendBody::H2)
                .map_err(|err| crate::status::from_h2_error(&err)),
            Respond::Own(respond) => respond.send_headers(head, end_stream).map(SendBody::Own),
            Respond::Queue(respond) => respond.send(head, end_stream).map(SendBody::Queue),
        }
    }

    /// Ready once the peer has reset the stream (or gone) before the response.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Respond::H2(respond) => respond.poll_reset(cx).map(drop),
            Respond::Own(respond) => respond.poll_reset(cx),
            Respond::Queue(respond) => respond.poll_closed(cx),
        }
    }
}

/// A request body read by hyper: its data, then the trailers hyper found after it.
#[cfg(feature = "web")]
pub(crate) struct Http1Body {
    body: hyper::body::Incoming,
    trailers: Option<HeaderMap>,
}

#[cfg(feature = "web")]
impl Http1Body {
    pub(crate) fn new(body: hyper::body::Incoming) -> Self {
        Http1Body {
            body,
            trailers: None,
        }
    }

    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>> {
        use hyper::body::Body;
        loop {
            let frame = match ready!(std::pin::Pin::new(&mut self.body).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(err)) => {
                    tracing::debug!(%err, "HTTP/1.1 request body failed");
                    return Poll::Ready(Some(Err(Status::cancelled(format!(
                        "request body failed: {err}"
                    )))));
                }
                Some(Ok(frame)) => frame,
            };
            match frame.into_data() {
                Ok(data) if data.is_empty() => continue,
                Ok(data) => return Poll::Ready(Some(Ok(data))),
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.trailers = Some(trailers);
                        return Poll::Ready(None);
                    }
                }
            }
        }
    }
}

/// A client's way to open streams on one connection.
#[derive(Clone)]
pub(crate) enum Opener {
    /// An h2 connection.
    H2(h2::client::SendRequest<Bytes>),
    /// A connection on our own HTTP/2 engine.
    Own(own::OwnOpener),
    /// A server's call core, reached without HTTP/2.
    Direct(Direct),
}

/// What hands a request straight to a server's call core: the head with its body, and where
/// to answer. Nothing is framed or parsed on the way; the server reads the same head and
/// body an HTTP/2 stream would give it.
#[derive(Clone)]
pub(crate) struct Direct {
    core: std::sync::Arc<dyn Core>,
    /// The flow-control window of each direction of its streams.
    window: usize,
}

/// A server's call core as a [`Direct`] reaches it. With a context `inline`, the call may
/// take its first step on the caller's task (see [`Direct::call`]).
pub(crate) trait Core: Send + Sync {
    /// Serves a request as if an HTTP/2 stream had brought it.
    fn serve(&self, request: http::Request<RecvBody>, respond: Respond, inline: Inline<'_, '_>);

    /// Serves a gRPC call whose head was read already: no request head to build or parse.
    #[cfg(feature = "web")]
    fn call(&self, call: Call<'_>, body: RecvBody, respond: Respond, inline: Inline<'_, '_>);
}

/// The caller's context, when a call may take its first step on the caller's task.
pub(crate) type Inline<'a, 'b> = Option<&'a mut Context<'b>>;

/// A gRPC call's head, already read (by the gateway, from its own protocol's request).
#[cfg(feature = "web")]
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// `/package.Service/Method`.
    pub(crate) path: &'a str,
    pub(crate) metadata: crate::metadata::MetadataMap,
    /// The time the call may take.
    pub(crate) timeout: Option<std::time::Duration>,
}

impl Direct {
    /// Streams given to `core`, each direction with `window` bytes of credit.
    pub(crate) fn new(window: usize, core: std::sync::Arc<dyn Core>) -> Direct {
        Direct { core, window }
    }

    /// A call whose whole request body is known: the stream is opened with it already
    /// written and ended, and the call takes its first step on the caller's task, so one
    /// that needs not wait (a unary handler that answers at once) has answered before its
    /// response head is awaited, with no task of its own.
    #[cfg(feature = "web")]
    pub(crate) async fn call(
        &self,
        call: Call<'_>,
        body: Bytes,
    ) -> Result<http::Response<RecvBody>, StreamError> {
        let (mut sender, receiver) = queue::channel(self.window);
        let sent = sender
            .send(queue::Frame::Data(body))
            .and_then(|()| sender.send(queue::Frame::End));
        if let Err(status) = sent {
            return Err(StreamError {
                status,
                refused: false,
            });
        }
        let (responder, response) = queue::respond(self.window);
        let (body, respond) = (RecvBody::Queue(receiver), Respond::Queue(responder));
        crate::task::with_context(|cx| self.core.call(call, body, respond, Some(cx))).await;
        PendingResponse::Queue(response).await
    }
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// Waits until the connection takes one more stream.
    pub(crate) async fn ready(self) -> Result<Opener, Status> {
        match self {
            Opener::H2(sender) => sender
                .ready()
                .await
                .map(Opener::H2)
                .map_err(|err| crate::status::from_h2_error(&err)),
            Opener::Own(mut opener) => {
                poll_fn(|cx| opener.poll_ready(cx)).await?;
                Ok(Opener::Own(opener))
            }
            Opener::Direct(direct) => Ok(Opener::Direct(direct)),
        }
    }

    /// Opens a stream with the request head: where the response head will arrive, and the
    /// request body's sending half.
    pub(crate) fn open(
        &mut self,
        head: http::Request<()>,
    ) -> Result<(PendingResponse, SendBody), Status> {
        match self {
            Opener::H2(sender) => sender
                .send_request(head, false)
                .map(|(response, body)| (PendingResponse::H2(response), SendBody::H2(body)))
                .map_err(|err| crate::status::from_h2_error(&err)),
            Opener::Own(opener) => opener.open(head).map(|(response, body)| {
                (PendingResponse::Own(response), SendBody::OwnClient(body))
            }),
            Opener::Direct(direct) => {
                let (sender, receiver) = queue::channel(direct.window);
                let (responder, response) = queue::respond(direct.window);
                let mut request = head.map(|()| RecvBody::Queue(receiver));
                // As a stream's: no HTTP/1.1 connection headers to look for.
                *request.version_mut() = http::Version::HTTP_2;
                direct.core.serve(request, Respond::Queue(responder), None);
                Ok((PendingResponse::Queue(response), SendBody::Queue(sender)))
            }
        }
    }
}

/// Why a stream ended before its response head.
#[derive(Debug)]
pub(crate) struct StreamError {
    /// The status the call fails with.
    pub(crate) status: Status,
    /// The server refused the stream before its application saw it (REFUSED_STREAM): safe
    /// to retry.
    pub(crate) refused: bool,
}

/// A client's response head still to come.
pub(crate) enum PendingResponse {
    /// On an h2 connection.
    H2(h2::client::ResponseFuture),
    /// On a connection on our own HTTP/2 engine.
    Own(own::OwnResponse),
    /// From a server's call core, in memory.
    Queue(queue::ResponseHead),
}

impl std::future::Future for PendingResponse {
    type Output = Result<http::Response<RecvBody>, StreamError>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            PendingResponse::H2(response) => {
                let result = ready!(std::pin::Pin::new(response).poll(cx));
                Poll::Ready(match result {
                    Ok(response) => Ok(response.map(RecvBody::H2)),
                    Err(err) => Err(StreamError {
                        status: crate::status::from_h2_error(&err),
                        refused: err.reason() == Some(h2::Reason::REFUSED_STREAM),
                    }),
                })
            }
            PendingResponse::Own(response) => {
                let response = ready!(response.poll_head(cx))?;
                Poll::Ready(Ok(response.map(RecvBody::OwnClient)))
            }
            PendingResponse::Queue(response) => {
                let result = ready!(std::pin::Pin::new(response).poll(cx));
                Poll::Ready(match result {
                    Ok(response) => Ok(response.map(RecvBody::Queue)),
                    Err(_) => Err(StreamError {
                        status: Status::unavailable("the server dropped the call unanswered"),
                        refused: false,
                    }),
                })
            }
        }
    }
}
