//! The outcome of an RPC: a [`Code`], a message, optional binary details
//! (`grpc-status-details-bin`, a serialized `google.rpc.Status`) and trailing metadata.

mod code;
pub mod details;
mod http_mapping;
pub mod message_encoding;

pub use code::Code;
pub(crate) use http_mapping::{from_h2_error, from_http_status, from_reset};

use std::fmt;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};

use crate::metadata::MetadataMap;

pub(crate) use crate::headers::GRPC_STATUS;
use crate::headers::{GRPC_MESSAGE, GRPC_STATUS_DETAILS};

/// The status of a finished RPC. Boxed inside, so `Result<T, Status>` stays one word wide.
#[derive(Clone)]
pub struct Status(Box<Inner>);

#[derive(Clone)]
struct Inner {
    code: Code,
    message: String,
    details: Bytes,
    metadata: MetadataMap,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with a code and a message.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status(Box::new(Inner {
            code,
            message: message.into(),
            details: Bytes::new(),
            metadata: MetadataMap::new(),
        }))
    }

    /// A status with binary details (a serialized `google.rpc.Status`).
    pub fn from_details(code: Code, message: impl Into<String>, details: Bytes) -> Status {
        let mut status = Status::new(code, message);
        status.0.details = details;
        status
    }

    constructors! {
        /// `OK`: not an error.
        ok => Ok,
        /// `CANCELLED`: the caller cancelled.
        cancelled => Cancelled,
        /// `UNKNOWN`: an error from an unknown error space.
        unknown => Unknown,
        /// `INVALID_ARGUMENT`: the request is wrong whatever the system's state.
        invalid_argument => InvalidArgument,
        /// `DEADLINE_EXCEEDED`: the deadline passed first.
        deadline_exceeded => DeadlineExceeded,
        /// `NOT_FOUND`: the requested entity does not exist.
        not_found => NotFound,
        /// `ALREADY_EXISTS`: the entity to create exists.
        already_exists => AlreadyExists,
        /// `PERMISSION_DENIED`: the caller may not do this.
        permission_denied => PermissionDenied,
        /// `RESOURCE_EXHAUSTED`: a quota or limit was hit.
        resource_exhausted => ResourceExhausted,
        /// `FAILED_PRECONDITION`: the system is not in the required state.
        failed_precondition => FailedPrecondition,
        /// `ABORTED`: a concurrency conflict; retry at a higher level.
        aborted => Aborted,
        /// `OUT_OF_RANGE`: past the valid range.
        out_of_range => OutOfRange,
        /// `UNIMPLEMENTED`: not implemented or not supported.
        unimplemented => Unimplemented,
        /// `INTERNAL`: an internal invariant was broken.
        internal => Internal,
        /// `UNAVAILABLE`: transient; retrying may succeed.
        unavailable => Unavailable,
        /// `DATA_LOSS`: unrecoverable data loss.
        data_loss => DataLoss,
        /// `UNAUTHENTICATED`: no valid credentials.
        unauthenticated => Unauthenticated,
    }

    /// The status code.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The human-readable message (already percent-decoded).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The binary details; empty when none were sent.
    pub fn details(&self) -> &Bytes {
        &self.0.details
    }

    /// Trailing metadata sent along with the status.
    pub fn metadata(&self) -> &MetadataMap {
        &self.0.metadata
    }

    /// Trailing metadata to send along with the status.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.0.metadata
    }

    /// Replaces the trailing metadata.
    pub fn with_metadata(mut self, metadata: MetadataMap) -> Status {
        self.0.metadata = metadata;
        self
    }

    /// Whether the code is `OK`.
    pub fn is_ok(&self) -> bool {
        self.0.code == Code::Ok
    }

    /// Reads a status out of trailers (or of the headers of a trailers-only response).
    /// `None` when there is no `grpc-status`; a malformed one is `UNKNOWN`.
    pub fn from_header_map(headers: &HeaderMap) -> Option<Status> {
        let raw = headers.get(&GRPC_STATUS)?;
        let (code, mut message) = match Code::from_header_value(raw.as_bytes()) {
            Some(code) => (code, String::new()),
            None => (
                Code::Unknown,
                format!(
                    "malformed grpc-status {:?}",
                    String::from_utf8_lossy(raw.as_bytes())
                ),
            ),
        };
        if let Some(m) = headers.get(&GRPC_MESSAGE) {
            if message.is_empty() {
                message = message_encoding::decode(m.as_bytes());
            }
        }
        let details = headers
            .get(&GRPC_STATUS_DETAILS)
            .and_then(|v| crate::metadata::MetadataMap::decode_bin(v.as_bytes()).ok())
            .unwrap_or_default();
        let mut status = Status::from_details(code, message, details);
        status.0.metadata = MetadataMap::from_headers(headers.clone());
        Some(status)
    }

    /// Writes `grpc-status`, `grpc-message`, details and the metadata into `headers`.
    pub(crate) fn write_to(self, headers: &mut HeaderMap) {
        let Inner {
            code,
            message,
            details,
            metadata,
        } = *self.0;
        metadata.append_to(headers);
        headers.insert(GRPC_STATUS, code.header_value());
        if !message.is_empty() {
            let encoded = message_encoding::encode(&message);
            if let Ok(value) = HeaderValue::from_str(&encoded) {
                headers.insert(GRPC_MESSAGE, value);
            }
        }
        if !details.is_empty() {
            headers.insert(GRPC_STATUS_DETAILS, MetadataMap::encode_bin(&details));
        }
    }

    /// The trailers that end a response with this status.
    pub(crate) fn into_trailers(self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(2 + self.0.metadata.len());
        self.write_to(&mut headers);
        headers
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Status");
        d.field("code", &self.0.code)
            .field("message", &self.0.message);
        if !self.0.details.is_empty() {
            d.field("details", &self.0.details);
        }
        if !self.0.metadata.is_empty() {
            d.field("metadata", &self.0.metadata);
        }
        d.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.message.is_empty() {
            write!(f, "{}", self.0.code)
        } else {
            write!(f, "{}: {}", self.0.code, self.0.message)
        }
    }
}

impl std::error::Error for Status {}

/// An application's I/O error (a handler's `?` on a file or socket it uses) as the status
/// of the call it failed. The code follows the error's kind and never says `UNAVAILABLE`:
/// the call reached the server and ran, so nothing should invite the client to send it
/// again. Kinds without a closer code are `UNKNOWN`, as grpc-go answers for a handler's
/// error that is not a status. The message keeps the error's text.
///
/// Transport failures are not this conversion's business: the runtime builds their
/// `UNAVAILABLE` itself.
impl From<std::io::Error> for Status {
    fn from(err: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let code = match err.kind() {
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::InvalidInput => Code::InvalidArgument,
            ErrorKind::TimedOut => Code::DeadlineExceeded,
            ErrorKind::Unsupported => Code::Unimplemented,
            ErrorKind::OutOfMemory => Code::ResourceExhausted,
            _ => Code::Unknown,
        };
        Status::new(code, format!("io error: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_constructor() {
        let made = [
            Status::ok(""),
            Status::cancelled(""),
            Status::unknown(""),
            Status::invalid_argument(""),
            Status::deadline_exceeded(""),
            Status::not_found(""),
            Status::already_exists(""),
            Status::permission_denied(""),
            Status::resource_exhausted(""),
            Status::failed_precondition(""),
            Status::aborted(""),
            Status::out_of_range(""),
            Status::unimplemented(""),
            Status::internal(""),
            Status::unavailable(""),
            Status::data_loss(""),
            Status::unauthenticated(""),
        ];
        let codes: Vec<Code> = made.iter().map(Status::code).collect();
        assert_eq!(codes, Code::ALL);
    }

    #[test]
    fn trailers_round_trip() {
        let mut status = Status::from_details(
            Code::NotFound,
            "User not found: ☺ 100%",
            Bytes::from_static(b"\x08\x05"),
        );
        status.metadata_mut().insert("x-method", "GetUser").unwrap();
        let trailers = status.into_trailers();
        assert_eq!(trailers["grpc-status"], "5");
        assert_eq!(trailers["grpc-message"], "User not found: %E2%98%BA 100%25");
        assert_eq!(trailers["grpc-status-details-bin"], "CAU");
        let back = Status::from_header_map(&trailers).unwrap();
        assert_eq!(back.code(), Code::NotFound);
        assert_eq!(back.message(), "User not found: ☺ 100%");
        assert_eq!(back.details().as_ref(), b"\x08\x05");
        assert_eq!(back.metadata().get("x-method"), Some("GetUser"));
        assert_eq!(back.metadata().len(), 1);
    }

    #[test]
    fn missing_or_malformed_grpc_status() {
        assert!(Status::from_header_map(&HeaderMap::new()).is_none());
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from_static("abc"));
        let s = Status::from_header_map(&h).unwrap();
        assert_eq!(s.code(), Code::Unknown);
        assert!(s.message().contains("malformed"));
    }

    #[test]
    fn io_errors_map_by_kind_and_never_invite_a_retry() {
        use std::io::{Error, ErrorKind};
        for (kind, code) in [
            (ErrorKind::NotFound, Code::NotFound),
            (ErrorKind::PermissionDenied, Code::PermissionDenied),
            (ErrorKind::AlreadyExists, Code::AlreadyExists),
            (ErrorKind::InvalidInput, Code::InvalidArgument),
            (ErrorKind::TimedOut, Code::DeadlineExceeded),
            (ErrorKind::Unsupported, Code::Unimplemented),
            (ErrorKind::OutOfMemory, Code::ResourceExhausted),
            // Kinds that look like a broken transport are still the handler's own failure.
            (ErrorKind::ConnectionRefused, Code::Unknown),
            (ErrorKind::ConnectionReset, Code::Unknown),
            (ErrorKind::BrokenPipe, Code::Unknown),
            (ErrorKind::UnexpectedEof, Code::Unknown),
            (ErrorKind::Interrupted, Code::Unknown),
            (ErrorKind::Other, Code::Unknown),
        ] {
            let status = Status::from(Error::new(kind, "disk says no"));
            assert_eq!(status.code(), code, "{kind:?}");
            assert_ne!(status.code(), Code::Unavailable, "{kind:?}");
            assert_eq!(status.message(), "io error: disk says no", "{kind:?}");
        }
    }

    #[test]
    fn question_mark_on_an_io_error_gives_its_status() {
        fn handler() -> Result<(), Status> {
            std::fs::read("/nonexistent/wirecall/status-test")?;
            Ok(())
        }
        let status = handler().unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().starts_with("io error: "), "{status}");
    }

    #[test]
    fn status_stays_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Status>(), std::mem::size_of::<usize>());
    }
}
