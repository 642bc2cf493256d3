//! SANS-IO pieces of gRPC-Web (PROTOCOL-WEB.md): its content types, the trailer frame that
//! carries the status in the body (browsers cannot read HTTP trailers), and the base64 body
//! of `application/grpc-web-text`, and CORS. No sockets here: the server serves gRPC-Web
//! with these when [`ServerBuilder::accept_grpc_web`](crate::server::ServerBuilder::accept_grpc_web)
//! is on.

mod cors;
mod text;
mod trailers;

pub use cors::Cors;
pub use text::{encode_text, TextDecoder};
pub use trailers::{parse_trailers, trailer_frame, TRAILER_FLAG};

use std::fmt;

/// The two gRPC-Web body encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `application/grpc-web` or `application/grpc-web+proto`: gRPC frames as they are.
    Binary,
    /// `application/grpc-web-text` (`+proto`): the same bytes, base64-encoded.
    Text,
}

impl Mode {
    /// The mode a request's `content-type` asks for; `None` when it is not gRPC-Web
    /// protobuf (parameters such as `; charset=utf-8` are ignored).
    pub fn from_content_type(content_type: &str) -> Option<Mode> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let is = |name: &str| media.eq_ignore_ascii_case(name);
        if is("application/grpc-web") || is("application/grpc-web+proto") {
            Some(Mode::Binary)
        } else if is("application/grpc-web-text") || is("application/grpc-web-text+proto") {
            Some(Mode::Text)
        } else {
            None
        }
    }

    /// The response `content-type` for this mode.
    pub fn content_type(self) -> &'static str {
        match self {
            Mode::Binary => "application/grpc-web+proto",
            Mode::Text => "application/grpc-web-text+proto",
        }
    }
}

/// A malformed gRPC-Web body. More reasons may come (`non_exhaustive`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebError {
    /// Not valid base64 (in a `grpc-web-text` body), or a body that stopped mid-group.
    Base64(String),
    /// A trailer line that is not `name: value`, or a name or value HTTP does not allow.
    Trailer(String),
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::Base64(why) => write!(f, "invalid grpc-web-text body: {why}"),
            WebError::Trailer(why) => write!(f, "invalid grpc-web trailer frame: {why}"),
        }
    }
}

impl std::error::Error for WebError {}

impl From<WebError> for crate::Status {
    fn from(err: WebError) -> Self {
        crate::Status::internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn content_types_name_the_mode() {
        for (content_type, mode) in [
            ("application/grpc-web", Some(Mode::Binary)),
            ("application/grpc-web+proto", Some(Mode::Binary)),
            (
                "Application/GRPC-Web+proto; charset=utf-8",
                Some(Mode::Binary),
            ),
            ("application/grpc-web-text", Some(Mode::Text)),
            ("application/grpc-web-text+proto", Some(Mode::Text)),
            ("application/grpc", None),
            ("application/grpc-web+json", None),
            ("text/plain", None),
        ] {
            assert_eq!(
                Mode::from_content_type(content_type),
                mode,
                "{content_type}"
            );
        }
        assert_eq!(Mode::Text.content_type(), "application/grpc-web-text+proto");
    }
}
