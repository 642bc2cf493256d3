//! HTTP/1.1, which is what browsers speak to a plaintext server: hyper reads the requests of
//! a connection, and each goes to the same dispatch as an HTTP/2 stream's (gRPC-Web, the
//! gateway's Connect and REST, CORS), its body read by hyper and its response sent through an
//! in-memory stream ([`crate::wire::queue`]) that hyper writes out. gRPC-Web needs no HTTP
//! trailers, so nothing is lost on the way.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::{Core, Peer, Serving};
use crate::wire::queue::{self, Receiver};
use crate::wire::{Core as _, Http1Body, RecvBody, Respond};

/// Serves one HTTP/1.1 connection until it closes (or, on shutdown, after its request in
/// progress; at once when the grace period is over).
pub(crate) async fn serve<IO>(io: IO, serving: Serving)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let remote_addr = serving.remote_addr;
    // A request's headers must arrive within the handshake timeout (slow-headers clients).
    let header_timeout = serving.config.handshake_timeout;
    let mut graceful = serving.shutdown.graceful.clone();
    let mut abort = serving.shutdown.abort.clone();
    let core = Arc::new(Core {
        peer: Peer::new(&serving),
        router: serving.router.clone(),
        config: serving.config.clone(),
    });
    let service = service_fn(move |request| answer(core.clone(), request));
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
            tokio::select! {
                result = served.as_mut() => result,
                _ = abort.wait_for(|abort| *abort) => Ok(()),
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(?remote_addr, %err, "HTTP/1.1 connection ended with an error");
    }
}

/// Answers one request: dispatched like an HTTP/2 stream, its response head awaited.
async fn answer(
    core: Arc<Core>,
    request: http::Request<Incoming>,
) -> Result<http::Response<Receiver>, Infallible> {
    let (parts, body) = request.into_parts();
    let window = core.config.limits.initial_stream_window_size as usize;
    let (responder, head) = queue::respond(window);
    let body = RecvBody::Http1(Box::new(Http1Body::new(body)));
    let request = http::Request::from_parts(parts, body);
    // The call's first step runs here, on the connection's task: a call whose request has
    // arrived and whose handler answers at once needs no task of its own.
    crate::task::with_context(|cx| core.serve(request, Respond::Queue(responder), Some(cx))).await;
    Ok(match head.await {
        Ok(mut response) => {
            *response.version_mut() = http::Version::HTTP_11;
            response
        }
        Err(_) => {
            tracing::debug!("a call ended without a response head");
            error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    })
}

/// A response with `status` and no body.
fn error(status: StatusCode) -> http::Response<Receiver> {
    let (mut sender, receiver) = queue::channel(1);
    let _ = sender.send(queue::Frame::End);
    let mut response = http::Response::new(receiver);
    *response.status_mut() = status;
    response
}
