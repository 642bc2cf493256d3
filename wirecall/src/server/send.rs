//! Writing a response: headers, messages under HTTP/2 flow control, trailers.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::HeaderMap;

use crate::compression::{Encoding, ACCEPT_ENCODING};
use crate::metadata::MetadataMap;

use crate::headers::{CONTENT_TYPE_GRPC, GRPC_ACCEPT_ENCODING, GRPC_ENCODING};
use crate::web::{Cors, Mode};
use crate::wire::{Respond, SendBody};
use crate::Status;
use std::sync::Arc;

fn head(metadata: MetadataMap, web: Option<&WebCall>) -> http::Response<()> {
    let mut response = http::Response::new(());
    let headers = response.headers_mut();
    metadata.append_to(headers);
    match web {
        None => {
            headers.insert(CONTENT_TYPE, CONTENT_TYPE_GRPC);
        }
        Some(web) => web.add_headers(headers),
    }
    headers.insert(GRPC_ACCEPT_ENCODING, ACCEPT_ENCODING);
    response
}

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
    pub(crate) fn wire(&self, bytes: Bytes) -> Bytes {
        match self.mode {
            Mode::Binary => bytes,
            Mode::Text => crate::web::encode_text(&bytes),
        }
    }

    /// Ends the response with `trailers` in a trailer frame (gRPC-Web has no HTTP trailers).
    pub(crate) fn send_trailers(&self, stream: &mut SendBody, trailers: &HeaderMap) {
        let frame = self.wire(crate::web::trailer_frame(trailers));
        if let Err(err) = stream.send_now(frame, true) {
            tracing::debug!(%err, "could not send the gRPC-Web trailer frame");
        }
    }
}

/// Sends the response headers, naming the messages' encoding if they are compressed; the
/// stream stays open for messages and trailers.
pub(crate) fn send_headers(
    respond: &mut Respond,
    metadata: MetadataMap,
    encoding: Option<Encoding>,
    web: Option<&WebCall>,
) -> Result<SendBody, Status> {
    let mut head = head(metadata, web);
    if let Some(encoding) = encoding {
        head.headers_mut()
            .insert(GRPC_ENCODING, encoding.header_value());
    }
    respond.send_headers(head, false)
}

/// Answers with a trailers-only response: one HEADERS frame holding the status (gRPC-Web
/// clients read it from the headers too).
pub(crate) fn send_trailers_only(respond: &mut Respond, status: Status, web: Option<&WebCall>) {
    let mut response = head(MetadataMap::new(), web);
    status.write_to(response.headers_mut());
    if let Err(err) = respond.send_headers(response, true) {
        tracing::debug!(%err, "could not send trailers-only response");
    }
}

/// Ends the response with `status` in the trailers.
pub(crate) fn send_trailers(stream: &mut SendBody, status: Status) {
    if let Err(err) = stream.send_trailers(status.into_trailers()) {
        tracing::debug!(%err, "could not send trailers");
    }
}

/// Ends a successful response: `grpc-status: 0` plus the handler's trailer metadata.
pub(crate) fn ok_trailers(trailers: MetadataMap) -> HeaderMap {
    let mut headers = trailers.into_headers();
    headers.insert(crate::status::GRPC_STATUS, crate::Code::Ok.header_value());
    headers
}
