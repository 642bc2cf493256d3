//! Writing a response: headers, messages under HTTP/2 flow control, trailers.

use bytes::Bytes;
use h2::server::SendResponse;
use h2::SendStream;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::HeaderMap;

use crate::compression::{Encoding, ACCEPT_ENCODING};
use crate::metadata::MetadataMap;

use crate::headers::{GRPC_ACCEPT_ENCODING, GRPC_ENCODING};
use crate::Status;

pub(crate) const GRPC_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/grpc");

fn head(metadata: MetadataMap) -> http::Response<()> {
    let mut response = http::Response::new(());
    let headers = response.headers_mut();
    metadata.append_to(headers);
    headers.insert(CONTENT_TYPE, GRPC_CONTENT_TYPE);
    headers.insert(GRPC_ACCEPT_ENCODING, ACCEPT_ENCODING);
    response
}

/// Sends the response headers, naming the messages' encoding if they are compressed; the
/// stream stays open for messages and trailers.
pub(crate) fn send_headers(
    respond: &mut SendResponse<Bytes>,
    metadata: MetadataMap,
    encoding: Option<Encoding>,
) -> Result<SendStream<Bytes>, h2::Error> {
    let mut head = head(metadata);
    if let Some(encoding) = encoding {
        head.headers_mut()
            .insert(GRPC_ENCODING, encoding.header_value());
    }
    respond.send_response(head, false)
}

/// Answers with a trailers-only response: one HEADERS frame holding the status.
pub(crate) fn send_trailers_only(respond: &mut SendResponse<Bytes>, status: Status) {
    let mut response = head(MetadataMap::new());
    status.write_to(response.headers_mut());
    if let Err(err) = respond.send_response(response, true) {
        tracing::debug!(%err, "could not send trailers-only response");
    }
}

/// Ends the response with `status` in the trailers.
pub(crate) fn send_trailers(stream: &mut SendStream<Bytes>, status: Status) {
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
