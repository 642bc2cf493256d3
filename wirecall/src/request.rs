//! A request: the message (or message stream) plus its metadata and call properties.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Extensions;

use crate::compression::Encoding;
use crate::metadata::MetadataMap;

/// An RPC request: one message (or a stream of them) with metadata.
#[derive(Debug)]
pub struct Request<T> {
    parts: Parts,
    message: T,
}

/// Everything a [`Request`] carries besides its message: what
/// [`Request::into_parts`] gives and [`Request::from_parts`] takes, so that taking a request
/// apart and putting it back together loses nothing.
///
/// The default is what [`Request::new`] starts from: no metadata, no extensions, every
/// setting unset. More fields may come (`non_exhaustive`): build one with
/// `Parts::default()` and assign the fields you need.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Parts {
    /// The request metadata (custom headers).
    pub metadata: MetadataMap,
    /// Typed values attached by the runtime or by interceptors.
    pub extensions: Extensions,
    /// Client side: the time the call may take ([`Request::set_timeout`]).
    pub timeout: Option<Duration>,
    /// Client side: the encoding of the call's messages ([`Request::set_compression`]).
    pub compression: Option<Encoding>,
    /// Client side: whether the call waits for a server ([`Request::set_wait_for_ready`]).
    pub wait_for_ready: Option<bool>,
    /// Server side: when the client's deadline expires ([`Request::deadline`]).
    pub deadline: Option<Instant>,
    /// Server side: the address of the peer that sent the request
    /// ([`Request::remote_addr`]).
    pub remote_addr: Option<SocketAddr>,
}

impl<T> Request<T> {
    /// A request with no metadata.
    pub fn new(message: T) -> Self {
        Request {
            parts: Parts::default(),
            message,
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
        &self.parts.metadata
    }

    /// The request metadata, to add entries before sending.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.parts.metadata
    }

    /// Typed values attached by the runtime or by interceptors.
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }

    /// Typed values, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.parts.extensions
    }

    /// Client side: the time the call may take, sent as `grpc-timeout`; overrides the
    /// channel's default.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.parts.timeout = Some(timeout);
    }

    /// The timeout set with [`Request::set_timeout`].
    pub fn timeout(&self) -> Option<Duration> {
        self.parts.timeout
    }

    /// Client side: compress this call's messages with `encoding`, overriding the channel's
    /// choice (`Encoding::Identity` turns compression off for the call).
    pub fn set_compression(&mut self, encoding: Encoding) {
        self.parts.compression = Some(encoding);
    }

    /// The encoding set with [`Request::set_compression`].
    pub fn compression(&self) -> Option<Encoding> {
        self.parts.compression
    }

    /// Client side: whether the call waits for a server to become reachable (bounded by its
    /// deadline) instead of failing at once with `UNAVAILABLE` while none is; overrides the
    /// service config's `waitForReady`. Default: fail fast.
    pub fn set_wait_for_ready(&mut self, wait: bool) {
        self.parts.wait_for_ready = Some(wait);
    }

    /// The choice made with [`Request::set_wait_for_ready`].
    pub fn wait_for_ready(&self) -> Option<bool> {
        self.parts.wait_for_ready
    }

    /// Server side: when the client's deadline expires, from its `grpc-timeout`.
    pub fn deadline(&self) -> Option<Instant> {
        self.parts.deadline
    }

    /// Server side: the address of the peer that sent the request.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.parts.remote_addr
    }

    /// Replaces the message, keeping metadata and properties.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            parts: self.parts,
            message: f(self.message),
        }
    }

    /// Splits into the message and everything else: metadata, extensions and every
    /// setting (timeout, compression, wait-for-ready, deadline, peer address).
    pub fn into_parts(self) -> (Parts, T) {
        (self.parts, self.message)
    }

    /// Builds a request from what [`Request::into_parts`] gave (or a [`Parts`] of your
    /// own) and a message.
    pub fn from_parts(parts: Parts, message: T) -> Self {
        Request { parts, message }
    }

    pub(crate) fn from_server(
        metadata: MetadataMap,
        message: T,
        deadline: Option<Instant>,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        let mut r = Request::new(message);
        r.parts.metadata = metadata;
        r.parts.deadline = deadline;
        r.parts.remote_addr = remote_addr;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Marker(&'static str);

    #[test]
    fn into_parts_and_from_parts_keep_every_setting() {
        let mut request = Request::new("message");
        request.metadata_mut().insert("x-user", "ada").unwrap();
        request.extensions_mut().insert(Marker("kept"));
        request.set_timeout(Duration::from_millis(1500));
        request.set_compression(Encoding::Identity);
        request.set_wait_for_ready(true);
        let deadline = Instant::now() + Duration::from_secs(3);
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();

        let (mut parts, message) = request.into_parts();
        assert_eq!(message, "message");
        assert_eq!(parts.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(parts.compression, Some(Encoding::Identity));
        assert_eq!(parts.wait_for_ready, Some(true));
        parts.deadline = Some(deadline);
        parts.remote_addr = Some(peer);

        let back = Request::from_parts(parts, message.len());
        assert_eq!(*back.get_ref(), 7);
        assert_eq!(back.metadata().get("x-user"), Some("ada"));
        assert_eq!(back.extensions().get::<Marker>(), Some(&Marker("kept")));
        assert_eq!(back.timeout(), Some(Duration::from_millis(1500)));
        assert_eq!(back.compression(), Some(Encoding::Identity));
        assert_eq!(back.wait_for_ready(), Some(true));
        assert_eq!(back.deadline(), Some(deadline));
        assert_eq!(back.remote_addr(), Some(peer));
    }

    #[test]
    fn default_parts_make_the_request_new_makes() {
        let (parts, ()) = Request::new(()).into_parts();
        assert!(parts.metadata.is_empty());
        assert!(parts.extensions.is_empty());
        assert_eq!(parts.timeout, None);
        assert_eq!(parts.compression, None);
        assert_eq!(parts.wait_for_ready, None);
        assert_eq!(parts.deadline, None);
        assert_eq!(parts.remote_addr, None);
        let (rebuilt, ()) = Request::from_parts(Parts::default(), ()).into_parts();
        assert_eq!(format!("{rebuilt:?}"), format!("{parts:?}"));
    }

    #[test]
    fn map_keeps_the_parts() {
        let mut request = Request::new(1u8);
        request.set_timeout(Duration::from_secs(2));
        request.set_wait_for_ready(false);
        let mapped = request.map(|n| n.to_string());
        assert_eq!(mapped.get_ref(), "1");
        assert_eq!(mapped.timeout(), Some(Duration::from_secs(2)));
        assert_eq!(mapped.wait_for_ready(), Some(false));
    }
}
