//! The names of the headers gRPC itself uses (PROTOCOL-HTTP2.md), and the values every call
//! sends, as constants: looking a header up by a `HeaderName` skips parsing the name on
//! every call.

use http::{HeaderName, HeaderValue};

/// The call's status code, in trailers (or a trailers-only response).
pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The status message, percent-encoded.
pub(crate) const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
/// A serialized `google.rpc.Status`, base64.
pub(crate) const GRPC_STATUS_DETAILS: HeaderName =
    HeaderName::from_static("grpc-status-details-bin");
/// The time left for the call.
pub(crate) const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
/// The compression of the messages that follow.
pub(crate) const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
/// The compressions the sender can read.
pub(crate) const GRPC_ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");

/// The `content-type` of native gRPC requests and responses.
pub(crate) const CONTENT_TYPE_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");
/// The `te` a gRPC request carries: the client reads trailers.
pub(crate) const TE_TRAILERS: HeaderValue = HeaderValue::from_static("trailers");
