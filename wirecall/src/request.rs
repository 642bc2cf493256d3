//! A request: the message (or message stream) plus its metadata and call properties.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Extensions;

use crate::compression::Encoding;
use crate::metadata::MetadataMap;

/// An RPC request: one message (or a stream of them) with metadata.
#[derive(Debug)]
pub struct Request<T> {
    metadata: MetadataMap,
    message: T,
    extensions: Extensions,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    remote_addr: Option<SocketAddr>,
    compression: Option<Encoding>,
    wait_for_ready: Option<bool>,
}

impl<T> Request<T> {
    /// A request with no metadata.
    pub fn new(message: T) -> Self {
        Request {
            metadata: MetadataMap::new(),
            message,
            extensions: Extensions::new(),
            timeout: None,
            deadline: None,
            remote_addr: None,
            compression: None,
            wait_for_ready: None,
        }
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Takes the message out.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The request metadata (custom headers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The request metadata, to add entries before sending.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// Typed values attached by the runtime or by interceptors.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Typed values, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Client side: the time the call may take, sent as `grpc-timeout`; overrides the
    /// channel's default.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    /// The timeout set with [`Request::set_timeout`].
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Client side: compress this call's messages with `encoding`, overriding the channel's
    /// choice (`Encoding::Identity` turns compression off for the call).
    pub fn set_compression(&mut self, encoding: Encoding) {
        self.compression = Some(encoding);
    }

    /// The encoding set with [`Request::set_compression`].
    pub fn compression(&self) -> Option<Encoding> {
        self.compression
    }

    /// Client side: whether the call waits for a server to become reachable (bounded by its
    /// deadline) instead of failing at once with `UNAVAILABLE` while none is; overrides the
    /// service config's `waitForReady`. Default: fail fast.
    pub fn set_wait_for_ready(&mut self, wait: bool) {
        self.wait_for_ready = Some(wait);
    }

    /// The choice made with [`Request::set_wait_for_ready`].
    pub fn wait_for_ready(&self) -> Option<bool> {
        self.wait_for_ready
    }

    /// Server side: when the client's deadline expires, from its `grpc-timeout`.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Server side: the address of the peer that sent the request.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// Replaces the message, keeping metadata and properties.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            metadata: self.metadata,
            message: f(self.message),
            extensions: self.extensions,
            timeout: self.timeout,
            deadline: self.deadline,
            remote_addr: self.remote_addr,
            compression: self.compression,
            wait_for_ready: self.wait_for_ready,
        }
    }

    /// Splits into metadata, extensions and message.
    pub fn into_parts(self) -> (MetadataMap, Extensions, T) {
        (self.metadata, self.extensions, self.message)
    }

    /// Builds a request from its parts.
    pub fn from_parts(metadata: MetadataMap, extensions: Extensions, message: T) -> Self {
        let mut r = Request::new(message);
        r.metadata = metadata;
        r.extensions = extensions;
        r
    }

    pub(crate) fn from_server(
        metadata: MetadataMap,
        message: T,
        deadline: Option<Instant>,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        let mut r = Request::new(message);
        r.metadata = metadata;
        r.deadline = deadline;
        r.remote_addr = remote_addr;
        r
    }
}

/// Anything that can be sent as a unary or server-streaming request: a message or a
/// [`Request`].
pub trait IntoRequest<T>: Sized {
    /// Wraps the value in a request.
    fn into_request(self) -> Request<T>;
}

impl<T> IntoRequest<T> for T {
    fn into_request(self) -> Request<T> {
        Request::new(self)
    }
}

impl<T> IntoRequest<T> for Request<T> {
    fn into_request(self) -> Request<T> {
        self
    }
}

/// Anything that can be sent as a client-streaming or bidirectional request: a stream of
/// messages, or a [`Request`] holding one.
pub trait IntoStreamingRequest {
    /// The stream of messages.
    type Stream: futures_core::Stream<Item = Self::Message> + Send + 'static;
    /// The message type.
    type Message;
    /// Wraps the stream in a request.
    fn into_streaming_request(self) -> Request<Self::Stream>;
}

impl<S, M> IntoStreamingRequest for S
where
    S: futures_core::Stream<Item = M> + Send + 'static,
{
    type Stream = S;
    type Message = M;
    fn into_streaming_request(self) -> Request<S> {
        Request::new(self)
    }
}

impl<S, M> IntoStreamingRequest for Request<S>
where
    S: futures_core::Stream<Item = M> + Send + 'static,
{
    type Stream = S;
    type Message = M;
    fn into_streaming_request(self) -> Request<S> {
        self
    }
}
