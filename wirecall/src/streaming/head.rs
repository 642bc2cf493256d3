//! Reading the response headers of a call (PROTOCOL-HTTP2.md, "Responses"): a
//! trailers-only response carries the status at once; otherwise the HTTP status and
//! content-type must say gRPC, and `grpc-encoding` names the messages' compression.

use http::header::CONTENT_TYPE;
use http::HeaderMap;

use crate::compression::Encoding;
use crate::headers::GRPC_ENCODING;
use crate::metadata::MetadataMap;
use crate::status::from_http_status;
use crate::Status;

/// What the response headers say.
#[derive(Debug)]
pub(crate) enum Head {
    /// Messages follow, in `encoding`.
    Messages {
        metadata: MetadataMap,
        encoding: Option<Encoding>,
    },
    /// A trailers-only response with status OK: no messages follow.
    TrailersOnly { trailers: MetadataMap },
}

/// Interprets the response headers; a non-OK outcome is the call's status.
pub(crate) fn parse(status: http::StatusCode, headers: HeaderMap) -> Result<Head, Status> {
    if let Some(status) = failure(status, &headers) {
        return Err(status);
    }
    if headers.contains_key(&crate::headers::GRPC_STATUS) {
        return Ok(Head::TrailersOnly {
            trailers: MetadataMap::from_headers(headers),
        });
    }
    let encoding = match headers.get(&GRPC_ENCODING) {
        None => None,
        Some(name) => Some(Encoding::from_name(name.as_bytes()).ok_or_else(|| {
            Status::internal(format!(
                "the server's grpc-encoding {}",
                crate::compression::unsupported(name.as_bytes())
            ))
        })?),
    };
    Ok(Head::Messages {
        metadata: MetadataMap::from_headers(headers),
        encoding,
    })
}

/// The status the response headers end the call with, if they end it with an error: a
/// trailers-only non-OK `grpc-status`, an HTTP status other than 200, or a content-type
/// that is not gRPC.
fn failure(status: http::StatusCode, headers: &HeaderMap) -> Option<Status> {
    if let Some(status) = Status::from_header_map(headers) {
        return (!status.is_ok()).then_some(status);
    }
    if status != http::StatusCode::OK {
        return Some(from_http_status(status));
    }
    let content_type = headers.get(CONTENT_TYPE);
    if !content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/grpc")) {
        return Some(Status::unknown(format!(
            "response content-type {content_type:?} is not application/grpc"
        )));
    }
    None
}
