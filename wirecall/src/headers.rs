//! The names of the headers gRPC itself uses (PROTOCOL-HTTP2.md), as constants: looking a
//! header up by a `HeaderName` skips parsing the name on every call.

use http::HeaderName;

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
