//! Statuses for responses that carry no `grpc-status` (http-grpc-status-mapping.md) and for
//! HTTP/2 stream errors (PROTOCOL-HTTP2.md, "Errors").

use http::StatusCode;

use super::{Code, Status};

/// The status for a non-gRPC HTTP response, used only when no `grpc-status` was sent.
pub(crate) fn from_http_status(status: StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        100..=199 => Code::Internal,
        _ => Code::Unknown,
    };
    Status::new(code, format!("HTTP status {status} without a grpc-status"))
}

/// The status for an HTTP/2 error on a stream or its connection.
pub(crate) fn from_h2_error(err: &h2::Error) -> Status {
    if let Some(reason) = err.reason() {
        let code = match code_of_reset(reason.into()) {
            Some(code) => code,
            None if err.is_go_away() => Code::Unavailable,
            None => Code::Internal,
        };
        let origin = if err.is_remote() {
            "peer sent"
        } else {
            "local"
        };
        let kind = if err.is_go_away() {
            "GOAWAY"
        } else {
            "RST_STREAM"
        };
        return Status::new(code, format!("{origin} HTTP/2 {kind} {reason:?}"));
    }
    if err.is_io() {
        return Status::unavailable(format!("connection error: {err}"));
    }
    Status::internal(format!("HTTP/2 error: {err}"))
}

/// The status of a call whose stream was reset with HTTP/2 error code `reason` (sent by
/// the peer when `remote`), as gRPC maps them.
pub(crate) fn from_reset(reason: u32, remote: bool) -> Status {
    let code = code_of_reset(reason).unwrap_or(Code::Internal);
    let origin = if remote { "peer sent" } else { "local" };
    Status::new(code, format!("{origin} HTTP/2 RST_STREAM code {reason:#x}"))
}

/// The gRPC code of an HTTP/2 error code that has one of its own (PROTOCOL-HTTP2.md,
/// "Errors"); the rest are INTERNAL, or UNAVAILABLE in a GOAWAY.
fn code_of_reset(reason: u32) -> Option<Code> {
    match reason {
        0x7 => Some(Code::Unavailable),       // REFUSED_STREAM
        0x8 => Some(Code::Cancelled),         // CANCEL
        0xb => Some(Code::ResourceExhausted), // ENHANCE_YOUR_CALM
        0xc => Some(Code::PermissionDenied),  // INADEQUATE_SECURITY
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_as_the_spec_says() {
        let cases = [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (415, Code::Unknown),
            (500, Code::Unknown),
        ];
        for (http, code) in cases {
            assert_eq!(
                from_http_status(StatusCode::from_u16(http).unwrap()).code(),
                code,
                "{http}"
            );
        }
    }

    #[test]
    fn stream_resets_map_to_codes() {
        assert_eq!(
            from_h2_error(&h2::Error::from(h2::Reason::CANCEL)).code(),
            Code::Cancelled
        );
        assert_eq!(
            from_h2_error(&h2::Error::from(h2::Reason::REFUSED_STREAM)).code(),
            Code::Unavailable
        );
        assert_eq!(
            from_h2_error(&h2::Error::from(h2::Reason::ENHANCE_YOUR_CALM)).code(),
            Code::ResourceExhausted
        );
        assert_eq!(
            from_h2_error(&h2::Error::from(h2::Reason::PROTOCOL_ERROR)).code(),
            Code::Internal
        );
    }
}
