//! # wirecall
//!
//! A gRPC framework for Rust: `.proto` files in, typed async servers and clients out, over
//! HTTP/2 with the official gRPC wire protocol.
//!
//! Code generation lives in `wirecall-build` (a build-dependency, no `protoc` needed); this
//! crate is the runtime the generated code calls. A generated service `Foo` gives:
//! - a trait `Foo` whose methods are plain `async fn`s, one per RPC;
//! - `FooServer<T: Foo>`, added to a [`Server`];
//! - `FooClient`, a cheap-to-clone client over a [`Channel`].
//!
//! ## Quick start
//!
//! ```ignore
//! // build.rs: wirecall-build parses the .proto files itself (no protoc).
//! fn main() -> std::io::Result<()> {
//!     wirecall_build::compile_protos(&["proto/greeter.proto"], &["proto"])
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs
//! mod pb { wirecall::include_proto!("greeter"); }
//! use pb::{Greeter, GreeterClient, GreeterServer, HelloReply, HelloRequest};
//! use wirecall::{Request, Response, Server, Status};
//!
//! struct MyGreeter;
//!
//! impl Greeter for MyGreeter {
//!     async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
//!         Ok(Response::new(HelloReply { message: format!("Hello {}", req.get_ref().name) }))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let addr = "127.0.0.1:50051".parse()?;
//!     tokio::spawn(Server::builder().add_service(GreeterServer::new(MyGreeter)).serve(addr));
//!
//!     let client = GreeterClient::connect("http://127.0.0.1:50051").await?;
//!     let reply = client.say_hello(HelloRequest { name: "you".into() }).await?;
//!     println!("{}", reply.get_ref().message);
//!     Ok(())
//! }
//! ```
//!
//! The example needs the code a build script generates, which this crate's own doctests
//! cannot have; it runs as a doctest of the `wirecall-tests` crate instead (on a free port).
//!
//! ## Layout
//! - [`status`]: [`Code`] and [`Status`], the outcome of every call.
//! - [`metadata`]: [`MetadataMap`], custom headers and trailers (ASCII and `-bin`).
//! - [`frame`], [`deadline`]: pure protocol code: message framing and `grpc-timeout`.
//! - [`codec`]: message encoding (protobuf by default).
//! - [`server`]: [`Server`] and what generated servers implement.
//! - [`client`]: [`Channel`] and [`Endpoint`]; name resolution ([`client::resolver`]),
//!   load balancing, connectivity state, retries and hedging.
//! - [`web`]: pure gRPC-Web pieces (content types, the trailer frame, base64 text bodies).
//! - [`service_config`]: the gRPC service config (JSON): per-method timeouts, retry and
//!   hedging policies, the balancing policy.

pub mod client;
pub mod codec;
pub mod compression;
pub mod context;
pub mod deadline;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "web")]
pub mod gateway;
pub mod health;
pub mod in_process;
pub mod interceptor;
pub mod message_stream;
pub mod metadata;
pub mod metrics;
pub mod reflection;
pub mod server;
pub mod service_config;
pub mod status;
pub mod trace;
pub mod web;

mod error;
mod flow_control;
mod headers;
mod keepalive;
mod limits;
mod request;
mod response;
mod streaming;
mod task;
mod transport;

#[cfg(feature = "tls")]
pub mod tls;

pub use client::{Channel, Endpoint};
pub use error::Error;
pub use futures_core::Stream;
pub use metadata::MetadataMap;
pub use request::{IntoRequest, IntoStreamingRequest, Request};
pub use response::Response;
pub use server::Server;
pub use status::{Code, Status};
pub use streaming::Streaming;

/// What generated code needs, re-exported so user crates depend on `wirecall` alone.
#[doc(hidden)]
pub mod codegen {
    pub use futures_core::Stream;
    pub use http::uri::PathAndQuery;
    pub use prost;
}

/// Includes the code `wirecall-build` generated for a protobuf package, e.g.
/// `wirecall::include_proto!("user");` for `package user;`.
#[macro_export]
macro_rules! include_proto {
    ($package:tt) => {
        include!(concat!(env!("OUT_DIR"), concat!("/", $package, ".rs")));
    };
}

/// The path of the serialized `FileDescriptorSet` that `wirecall-build` writes for the
/// crate's protos, for reflection and dynamic messages:
/// `wirecall::include_file_descriptor_set!()` gives it as `&'static [u8]`.
#[macro_export]
macro_rules! include_file_descriptor_set {
    () => {
        include_bytes!(concat!(env!("OUT_DIR"), "/wirecall_descriptor_set.bin"))
    };
}
