//! The messages of `grpc.health.v1.Health` (health.proto), shared by the health service
//! ([`crate::health`], which re-exports them) and the client's health checking (gRFC A17,
//! in its subchannels). Pure data.

/// The request of Check and Watch: which service (`""` for the whole server).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    /// The fully qualified service name, or `""`.
    #[prost(string, tag = "1")]
    pub service: String,
}

/// The answer of Check, and each message of Watch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    /// A [`ServingStatus`].
    #[prost(enumeration = "ServingStatus", tag = "1")]
    pub status: i32,
}

/// Whether a service takes calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ServingStatus {
    /// Not known.
    Unknown = 0,
    /// Takes calls.
    Serving = 1,
    /// Does not take calls.
    NotServing = 2,
    /// Watch only: no service of that name (yet).
    ServiceUnknown = 3,
}
