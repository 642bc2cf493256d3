//! One HTTP request the gateway answers: reading its body, writing the response (with the
//! CORS headers a page of another allowed origin needs), noticing the client go away.

use std::future::poll_fn;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::web::Cors;
use crate::wire::{RecvBody, Respond, SendBody};
use crate::Status;

/// The request's head, its body still to read, and where the response goes.
pub(crate) struct Exchange {
    pub(crate) head: http::request::Parts,
    body: Incoming,
    respond: Respond,
    /// The CORS policy and the request's allowed origin, when it came from another origin.
    cors: Option<(Arc<Cors>, HeaderValue)>,
}

impl Exchange {
    pub(crate) fn new(
        head: http::request::Parts,
        body: RecvBody,
        respond: Respond,
        cors: Option<&Arc<Cors>>,
    ) -> Exchange {
        let cors = cors.and_then(|cors| {
            let origin = cors.allow(head.headers.get(http::header::ORIGIN))?;
            Some((cors.clone(), origin))
        });
        Exchange {
            head,
            body: Incoming(Some(body)),
            respond,
            cors,
        }
    }

    /// Takes the request body, to be read elsewhere.
    pub(crate) fn take_body(&mut self) -> Incoming {
        Incoming(self.body.0.take())
    }

    /// The whole request body, refused past `limit` bytes.
    pub(crate) async fn body(&mut self, limit: usize) -> Result<Bytes, Status> {
        // The first chunk is kept as it is: most bodies come in one, and need no copy.
        let mut first = Bytes::new();
        let mut rest = BytesMut::new();
        while let Some(chunk) = self.body.chunk().await {
            let chunk = chunk?;
            if first.len() + rest.len() + chunk.len() > limit {
                return Err(Status::resource_exhausted(format!(
                    "request body larger than the limit ({limit} bytes)"
                )));
            }
            if first.is_empty() && rest.is_empty() {
                first = chunk;
            } else {
                if rest.is_empty() {
                    rest.extend_from_slice(&std::mem::take(&mut first));
                }
                rest.extend_from_slice(&chunk);
            }
        }
        Ok(if rest.is_empty() {
            first
        } else {
            rest.freeze()
        })
    }

    /// Resolves when the client resets the stream (it gave up on the call).
    pub(crate) async fn reset(&mut self) {
        poll_fn(|cx| self.respond.poll_reset(cx)).await;
    }

    /// The response head with `status`, `headers`, and CORS's.
    fn head(&self, status: StatusCode, mut headers: HeaderMap) -> http::Response<()> {
        if let Some((cors, origin)) = &self.cors {
            cors.add_response_headers(origin.clone(), &mut headers);
        }
        let mut response = http::Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// Answers with a whole response.
    pub(crate) fn respond(&mut self, status: StatusCode, headers: HeaderMap, body: Bytes) {
        let head = self.head(status, headers);
        match self.respond.send_headers(head, body.is_empty()) {
            Ok(mut stream) if !body.is_empty() => {
                if let Err(err) = stream.send_now(body, true) {
                    tracing::debug!(%err, "could not send a gateway response body");
                }
            }
            Ok(_) => {}
            Err(err) => tracing::debug!(%err, "could not send a gateway response"),
        }
    }

    /// Answers with a JSON body.
    pub(crate) fn respond_json(&mut self, status: StatusCode, mut headers: HeaderMap, body: Bytes) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.respond(status, headers, body);
    }

    /// Starts a streamed response; its body follows through [`Body`].
    pub(crate) fn start(&mut self, status: StatusCode, headers: HeaderMap) -> Option<Body> {
        let head = self.head(status, headers);
        match self.respond.send_headers(head, false) {
            Ok(stream) => Some(Body(stream)),
            Err(err) => {
                tracing::debug!(%err, "could not start a gateway response");
                None
            }
        }
    }
}

/// A request body being read (none once taken).
pub(crate) struct Incoming(Option<RecvBody>);

impl Incoming {
    /// The next chunk of the body, its flow-control window given back.
    pub(crate) async fn chunk(&mut self) -> Option<Result<Bytes, Status>> {
        self.0.as_mut()?.data().await
    }
}

/// A response body being sent.
pub(crate) struct Body(SendBody);

impl Body {
    /// Sends `data` under flow control; `Err` once the client is gone.
    pub(crate) async fn send(&mut self, data: Bytes) -> Result<(), Status> {
        self.0.send_data(data).await
    }

    /// Ends the body with `last`.
    pub(crate) fn finish(mut self, last: Bytes) {
        if let Err(err) = self.0.send_now(last, true) {
            tracing::debug!(%err, "could not end a gateway response");
        }
    }

    /// Resolves when the client resets the stream.
    pub(crate) async fn reset(&mut self) {
        poll_fn(|cx| self.0.poll_reset(cx)).await;
    }
}
