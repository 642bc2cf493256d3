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
//! - [`request`], [`response`]: [`Request`] and [`Response`], and the [`request::Parts`] and
//!   [`response::Parts`] they split into and are built from.
//! - [`frame`], [`deadline`]: pure protocol code: message framing and `grpc-timeout`.
//! - [`codec`]: message encoding (protobuf by default).
//! - [`server`]: [`Server`] and what generated servers implement.
//! - [`client`]: [`Channel`] and [`Endpoint`]; name resolution ([`client::resolver`]),
//!   load balancing, connectivity state, retries and hedging.
//! - [`web`]: pure gRPC-Web pieces (content types, the trailer frame, base64 text bodies).
//! - [`service_config`]: the gRPC service config (JSON): per-method timeouts, retry and
//!   hedging policies, the balancing policy.
//! - [`compression`]: the message encodings this build supports.
//! - `health`, `reflection`, `metrics`: the built-in services and call metrics, each behind
//!   its feature (below).
//!
//! ## Feature flags
//!
//! | Feature | Default | Adds | Pulls in |
//! | --- | --- | --- | --- |
//! | `gzip` | yes | the `gzip` and `deflate` message encodings (`Encoding::Gzip`, `Encoding::Deflate`) | flate2, with its default backend miniz_oxide (pure Rust) |
//! | `zstd` | no | the `zstd` message encoding (`Encoding::Zstd`) | zstd; zstd-sys compiles the C library, which needs a C compiler and is most of a clean build's time |
//! | `health` | yes | the `health` module: `grpc.health.v1.Health` and `ServerBuilder::add_health` | nothing |
//! | `reflection` | yes | the `reflection` module: server reflection (`v1` and `v1alpha`), `ServerBuilder::add_reflection`, and the reflection messages for clients | nothing |
//! | `metrics` | no | the `metrics` module: the gRFC A66 call metrics' server and client interceptors (per attempt on the client); alone they record nowhere, the two features below add where to | nothing |
//! | `opentelemetry-metrics` | no | `Metrics::opentelemetry`: the A66 instruments through the OpenTelemetry metrics API, to the exporter of the `MeterProvider` you pass (OTLP, ...); implies `metrics` | opentelemetry (the API only, its `metrics` feature) |
//! | `prometheus` | no | `Metrics::prometheus`: the A66 series in a prometheus-client `Registry` you pass (your scrape endpoint serves them), and `metrics::serve`, a scrape endpoint over HTTP/1.1 for one; implies `metrics` | prometheus-client, hyper, hyper-util, http-body-util |
//! | `tls` | no | TLS and mTLS with rustls (ring): the `tls` module, `ServerBuilder::tls`, `Endpoint::tls`, `https://` targets | rustls, tokio-rustls, rustls-native-certs |
//! | `web` | no | gRPC-Web over HTTP/1.1 (over HTTP/2 it needs no feature) and the `gateway`: the Connect protocol (`accept_connect`) and HTTP/JSON transcoding (`accept_rest`) | hyper, hyper-util, prost-reflect |
//! | `tower` | no | `server::tower`: tower layers around a service | tower-service |
//! | `opentelemetry` | no | OpenTelemetry export of the `grpc.server` spans of `interceptor::TraceContext` | opentelemetry, tracing-opentelemetry |
//! | `fuzzing` | no | entry points for the fuzz targets in `fuzz/`; not a public API; implies `web`, `gzip`, `zstd`, `health`, `reflection` | what those pull in |
//!
//! The default set, `gzip`, `health` and `reflection`, is what a typical service wants and
//! compiles no C; `default-features = false` leaves the core: HTTP/2 clients and servers,
//! gRPC-Web over HTTP/2, interceptors, deadlines, retries, rich errors, `identity` messages.
//! A message encoding whose feature is off is neither offered (`grpc-accept-encoding`) nor
//! accepted: a peer that sends it gets `UNIMPLEMENTED`, with a message naming the feature.
//! The crate has no build script: the descriptors of its own `.proto` files are checked in.

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
#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "health")]
mod health_messages;
pub mod in_process;
pub mod interceptor;
pub mod message_stream;
pub mod metadata;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "reflection")]
pub mod reflection;
pub mod request;
pub mod response;
pub mod server;
pub mod service_config;
pub mod status;
pub mod trace;
pub mod web;

mod batch;
mod clock;
mod descriptors;
mod error;
mod headers;
mod http2;
mod in_flight;
mod keepalive;
mod limits;
mod random;
mod streaming;
mod task;
mod transport;
mod wire;

#[cfg(feature = "tls")]
pub mod tls;

pub use client::{Channel, Endpoint};
pub use error::Error;
pub use futures_core::Stream;
pub use http2::Http2Engine;
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
