//! gRPC-Web over HTTP/1.1, which is what browsers speak to a plaintext server: hyper reads
//! the HTTP/1.1 requests of a connection and passes each to the server's HTTP/2 core over an
//! in-memory HTTP/2 connection of its own, streaming bodies both ways. gRPC-Web needs no
//! HTTP trailers, so nothing is lost on the way; every gRPC rule of the core (routing,
//! limits, deadlines, interceptors, CORS) applies unchanged.

use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use http::header::{CONNECTION, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use http::uri::PathAndQuery;
use http::{StatusCode, Uri, Version};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::{self, Serving};

/// The in-memory pipe's buffer.
const PIPE_BYTES: usize = 256 * 1024;

/// Serves one HTTP/1.1 connection until it closes (or, on shutdown, after its request in
/// progress).
pub(crate) async fn serve<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let remote_addr = serving.remote_addr;
    // A request's headers must arrive within the handshake timeout (slow-headers clients).
    let header_timeout = serving.config.handshake_timeout;
    let mut graceful = serving.shutdown.graceful.clone();
    let (near, far) = tokio::io::duplex(PIPE_BYTES);
    let core = tokio::spawn(connection::serve(far, serving));
    let (sender, driver) = match h2::client::handshake(near).await {
        Ok(handshake) => handshake,
        Err(err) => {
            tracing::debug!(%err, "the in-memory HTTP/2 connection failed");
            return;
        }
    };
    let driver = tokio::spawn(async move {
        let _ = driver.await;
    });
    let service = service_fn(move |request| forward(sender.clone(), request));
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service);
    let mut served = pin!(served);
    let closing = async {
        let _ = graceful.wait_for(|closing| *closing).await;
    };
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = closing => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(?remote_addr, %err, "HTTP/1.1 connection ended with an error");
    }
    driver.abort();
    let _ = core.await;
}

/// Passes one HTTP/1.1 request to the HTTP/2 core and its answer back.
async fn forward(
    sender: SendRequest<Bytes>,
    request: http::Request<Incoming>,
) -> Result<http::Response<Relayed>, Infallible> {
    let (mut parts, body) = request.into_parts();
    // HTTP/2 wants an absolute URI and none of HTTP/1's connection headers.
    let authority = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = match Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path)
        .build()
    {
        Ok(uri) => uri,
        Err(_) => return Ok(Relayed::error(StatusCode::BAD_REQUEST)),
    };
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE, HOST, TE] {
        parts.headers.remove(name);
    }
    parts.headers.remove("keep-alive");
    parts.headers.remove("proxy-connection");
    parts.version = Version::HTTP_2;
    let empty = body.is_end_stream();
    let Ok(mut sender) = sender.ready().await else {
        return Ok(Relayed::error(StatusCode::SERVICE_UNAVAILABLE));
    };
    let (response, send) = match sender.send_request(http::Request::from_parts(parts, ()), empty) {
        Ok(sent) => sent,
        Err(err) => {
            tracing::debug!(%err, "could not pass an HTTP/1.1 request on");
            return Ok(Relayed::error(StatusCode::SERVICE_UNAVAILABLE));
        }
    };
    if !empty {
        tokio::spawn(pump(body, send));
    }
    match response.await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            parts.version = Version::HTTP_11;
            Ok(http::Response::from_parts(parts, Relayed(Some(body))))
        }
        Err(err) => {
            tracing::debug!(%err, "the HTTP/2 core did not answer");
            Ok(Relayed::error(StatusCode::SERVICE_UNAVAILABLE))
        }
    }
}

/// Copies an HTTP/1.1 request body into the HTTP/2 stream, under its flow control.
async fn pump(mut body: Incoming, mut send: SendStream<Bytes>) {
    loop {
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    if crate::flow_control::send_data(&mut send, data)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = send.send_trailers(trailers);
                        return;
                    }
                }
            },
            Some(Err(err)) => {
                tracing::debug!(%err, "HTTP/1.1 request body failed");
                send.send_reset(h2::Reason::CANCEL);
                return;
            }
            None => break,
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// A response body read from the HTTP/2 core (or none, for the bridge's own errors).
pub(crate) struct Relayed(Option<RecvStream>);

impl Relayed {
    fn error(status: StatusCode) -> http::Response<Relayed> {
        let mut response = http::Response::new(Relayed(None));
        *response.status_mut() = status;
        response
    }
}

impl Body for Relayed {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let Some(body) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        match body.poll_data(cx) {
            Poll::Ready(Some(Ok(data))) => {
                let _ = body.flow_control().release_capacity(data.len());
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
            Poll::Ready(None) => {}
            Poll::Pending => return Poll::Pending,
        }
        let trailers = std::task::ready!(body.poll_trailers(cx));
        self.0 = None;
        Poll::Ready(trailers.transpose().map(|t| t.map(Frame::trailers)))
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(RecvStream::is_end_stream)
    }
}
