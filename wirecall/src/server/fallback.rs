//! Other HTTP on the same port: a tower `Service` (an axum `Router`, a static page,
//! `/metrics`, `/healthz`) that answers every request that is not gRPC, gRPC-Web, Connect or
//! REST, over HTTP/2 and HTTP/1.1 alike ([`ServerBuilder::fallback`](super::ServerBuilder::fallback)).
//! Its requests arrive with an [`IncomingBody`]; its responses are streamed back under flow
//! control, trailers included.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame};

use crate::wire::{RecvBody, Respond, SendBody};
use crate::Status;

/// Errors a fallback service or its bodies may give.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Serving = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A fallback service with its types erased: it serves one request, answering through
/// `Respond`.
#[derive(Clone)]
pub(crate) struct Fallback(
    Arc<dyn Fn(http::Request<IncomingBody>, Respond) -> Serving + Send + Sync>,
);

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fallback")
    }
}

impl Fallback {
    pub(crate) fn new<S, B>(service: S) -> Fallback
    where
        S: tower_service::Service<http::Request<IncomingBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Fallback(Arc::new(move |request, respond| {
            let mut service = service.clone();
            Box::pin(async move {
                let response = async {
                    poll_fn(|cx| service.poll_ready(cx)).await?;
                    service.call(request).await
                };
                let response: Result<_, BoxError> = response.await.map_err(Into::into);
                match response {
                    Ok(response) => send(response, respond).await,
                    Err(err) => {
                        tracing::warn!(%err, "the fallback service failed: answering 500");
                        answer_error(respond);
                    }
                }
            })
        }))
    }

    /// Serves one request, as a task of its own.
    pub(crate) fn serve(&self, request: http::Request<RecvBody>, respond: Respond) {
        tokio::spawn((self.0)(request.map(IncomingBody), respond));
    }
}

/// Sends `response`, its body under flow control; stops if the client goes away.
async fn send<B>(response: http::Response<B>, mut respond: Respond)
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = response.into_parts();
    let empty = body.is_end_stream();
    let mut sent = match respond.send_headers(http::Response::from_parts(parts, ()), empty) {
        Ok(sent) => sent,
        Err(status) => return tracing::debug!(%status, "could not answer a fallback request"),
    };
    if empty {
        return;
    }
    let mut body = std::pin::pin!(body);
    loop {
        let frame = poll_fn(|cx| next_frame(body.as_mut(), &mut sent, cx)).await;
        let frame = match frame {
            Next::Frame(frame) => frame,
            Next::End => {
                let _ = sent.send_now(Bytes::new(), true);
                return;
            }
            Next::Failed(err) => {
                tracing::debug!(%err, "a fallback response body failed: stream reset");
                return sent.reset();
            }
            Next::Reset => return tracing::debug!("the client left a fallback response"),
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                if sent.send_data(data).await.is_err() {
                    return;
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(trailers) = frame.into_trailers() {
            let _ = sent.send_trailers(trailers);
            return;
        }
    }
}

/// What a response body gave next.
enum Next {
    Frame(Frame<Bytes>),
    End,
    Failed(BoxError),
    /// The client reset the stream while the body was pending.
    Reset,
}

fn next_frame<B>(body: Pin<&mut B>, sent: &mut SendBody, cx: &mut Context<'_>) -> Poll<Next>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match body.poll_frame(cx) {
        Poll::Ready(Some(Ok(frame))) => Poll::Ready(Next::Frame(frame)),
        Poll::Ready(Some(Err(err))) => Poll::Ready(Next::Failed(err.into())),
        Poll::Ready(None) => Poll::Ready(Next::End),
        Poll::Pending => sent.poll_reset(cx).map(|()| Next::Reset),
    }
}

fn answer_error(mut respond: Respond) {
    let mut response = http::Response::new(());
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    let _ = respond.send_headers(response, true);
}

/// The body of a request a fallback service gets: the bytes as the client sends them, under
/// flow control, then its trailers if it has any.
pub struct IncomingBody(RecvBody);

impl std::fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingBody").finish_non_exhaustive()
    }
}

impl Body for IncomingBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match std::task::ready!(self.0.poll_data(cx)) {
            Some(Ok(data)) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Some(Err(status)) => Poll::Ready(Some(Err(status))),
            None => {
                let trailers: Result<Option<HeaderMap>, Status> =
                    std::task::ready!(self.0.poll_trailers(cx));
                Poll::Ready(trailers.transpose().map(|t| t.map(Frame::trailers)))
            }
        }
    }
}
