//! The gRPC interop suite (interop-test-descriptions.md) for wirecall: a
//! `grpc.testing.TestService` server and a client running the test cases, both speaking to
//! the official peers of Go, C++, Python, Ruby and Node.

pub mod client;
pub mod codecs;
pub mod flags;
pub mod server;

/// The generated `grpc.testing` messages and clients.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    wirecall::include_proto!("grpc.testing");
}

/// The metadata keys the custom_metadata case echoes.
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// The binary trailer key the custom_metadata case echoes.
pub const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";
