//! Writing a response: [`Reply`] sends the headers (or a trailers-only answer), [`ReplyBody`]
//! the messages under flow control and the trailers. The one place the protocols differ on
//! the way out: native gRPC, or gRPC-Web (its content type, CORS headers, base64 in text
//! mode, and trailers in a frame of the body). The call above writes the same either way.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::HeaderMap;

use crate::compression::{Encoding, ACCEPT_ENCODING};
use crate::headers::{CONTENT_TYPE_GRPC, GRPC_ACCEPT_ENCODING, GRPC_ENCODING};
use crate::metadata::MetadataMap;
use crate::web::{Cors, Mode};
use crate::wire::{Respond, SendBody};
use crate::Status;

#[cfg(feature = "web")]
use super::json::JsonReplies;

/// How a gRPC-Web call differs on the wire: its body encoding, and the CORS headers its
/// responses carry when the request came from an allowed other origin.
#[derive(Debug, Clone)]
pub(crate) struct WebCall {
    pub(crate) mode: Mode,
    pub(crate) cors: Option<(Arc<Cors>, HeaderValue)>,
}

impl WebCall {
    fn add_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.mode.content_type()),
        );
        if let Some((cors, origin)) = &self.cors {
            cors.add_response_headers(origin.clone(), headers);
        }
    }

    /// Response body bytes as sent: base64 in text mode.
    fn wire(&self, bytes: Bytes) -> Bytes {
        match self.mode {
            Mode::Binary => bytes,
            Mode::Text => crate::web::encode_text(&bytes),
        }
    }
}

/// A call's response, before its headers.
pub(crate) struct Reply {
    respond: Respond,
    /// Set for a gRPC-Web call.
    web: Option<WebCall>,
    /// Set for a call in JSON.
    #[cfg(feature = "web")]
    json: Option<JsonReplies>,
}

impl Reply {
    pub(crate) fn new(respond: Respond, web: Option<WebCall>) -> Reply {
        Reply {
            respond,
            web,
            #[cfg(feature = "web")]
            json: None,
        }
    }

    /// Makes the response JSON: its messages converted by `json`.
    #[cfg(feature = "web")]
    pub(crate) fn with_json(mut self, json: Option<JsonReplies>) -> Reply {
        self.json = json;
        self
    }

    /// Whether the messages are JSON.
    fn is_json(&self) -> bool {
        #[cfg(feature = "web")]
        return self.json.is_some();
        #[cfg(not(feature = "web"))]
        false
    }

    /// Whether the request body is base64 (gRPC-Web text).
    pub(crate) fn text_body(&self) -> bool {
        self.web.as_ref().is_some_and(|web| web.mode == Mode::Text)
    }

    fn head(&self, metadata: MetadataMap) -> http::Response<()> {
        let mut response = http::Response::new(());
        let headers = response.headers_mut();
        metadata.append_to(headers);
        match &self.web {
            None => {
                headers.insert(CONTENT_TYPE, CONTENT_TYPE_GRPC);
            }
            Some(web) => web.add_headers(headers),
        }
        if self.is_json() {
            let json = if self.web.is_some() {
                "application/grpc-web+json"
            } else {
                "application/grpc+json"
            };
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(json));
        }
        headers.insert(GRPC_ACCEPT_ENCODING, ACCEPT_ENCODING);
        response
    }

    /// Sends the response headers, naming the messages' encoding if they are compressed; the
    /// body follows on the [`ReplyBody`].
    pub(crate) fn headers(
        &mut self,
        metadata: MetadataMap,
        encoding: Option<Encoding>,
    ) -> Result<ReplyBody, Status> {
        let mut head = self.head(metadata);
        // JSON messages go uncompressed (they are converted after the call encoded them).
        if let Some(encoding) = encoding.filter(|_| !self.is_json()) {
            head.headers_mut()
                .insert(GRPC_ENCODING, encoding.header_value());
        }
        let send = self.respond.send_headers(head, false)?;
        Ok(ReplyBody {
            send,
            web: self.web.take(),
            #[cfg(feature = "web")]
            json: self.json.take().map(|json| (json, encoding)),
        })
    }

    /// Answers with a trailers-only response: one HEADERS frame holding the status (gRPC-Web
    /// clients read it from the headers too).
    pub(crate) fn trailers_only(&mut self, status: Status) {
        let mut response = self.head(MetadataMap::new());
        status.write_to(response.headers_mut());
        if let Err(err) = self.respond.send_headers(response, true) {
            tracing::debug!(%err, "could not send trailers-only response");
        }
    }

    /// Ready once the client has reset the stream (or gone).
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.respond.poll_reset(cx)
    }
}

/// A response whose headers were sent: its messages, then its trailers.
pub(crate) struct ReplyBody {
    send: SendBody,
    web: Option<WebCall>,
    /// A JSON call's converter, and the encoding the call compressed with.
    #[cfg(feature = "web")]
    json: Option<(JsonReplies, Option<Encoding>)>,
}

impl ReplyBody {
    /// Framed messages as they go on the wire: converted to JSON, base64 in gRPC-Web text.
    fn wire(&self, bytes: Bytes) -> Result<Bytes, Status> {
        #[cfg(feature = "web")]
        let bytes = match &self.json {
            Some((json, encoding)) => json.convert(bytes, *encoding)?,
            None => bytes,
        };
        Ok(match &self.web {
            None => bytes,
            Some(web) => web.wire(bytes),
        })
    }

    /// Sends framed messages under flow control.
    pub(crate) async fn data(&mut self, bytes: Bytes) -> Result<(), Status> {
        let bytes = self.wire(bytes)?;
        self.send.send_data(bytes).await
    }

    /// Sends framed messages at once, whatever the window (a unary response).
    pub(crate) fn data_now(&mut self, bytes: Bytes) -> Result<(), Status> {
        let bytes = self.wire(bytes)?;
        self.send.send_now(bytes, false)
    }

    /// Ends the response with `trailers`: HTTP trailers, or for gRPC-Web a trailer frame.
    pub(crate) fn trailers(&mut self, trailers: HeaderMap) {
        let sent = match &self.web {
            None => self.send.send_trailers(trailers),
            Some(web) => {
                let frame = web.wire(crate::web::trailer_frame(&trailers));
                self.send.send_now(frame, true)
            }
        };
        if let Err(err) = sent {
            tracing::debug!(%err, "could not send trailers");
        }
    }

    /// Ready once the client has reset the stream (or gone).
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.send.poll_reset(cx)
    }
}

/// Ends a successful response: `grpc-status: 0` plus the handler's trailer metadata.
pub(crate) fn ok_trailers(trailers: MetadataMap) -> HeaderMap {
    let mut headers = trailers.into_headers();
    headers.insert(crate::status::GRPC_STATUS, crate::Code::Ok.header_value());
    headers
}
