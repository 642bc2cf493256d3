//! A response: the message (or message stream) plus header and trailer metadata.

use http::Extensions;

use crate::compression::Encoding;
use crate::metadata::MetadataMap;

/// An RPC response: one message (or a stream of them) with metadata.
#[derive(Debug)]
pub struct Response<T> {
    metadata: MetadataMap,
    trailers: MetadataMap,
    message: T,
    extensions: Extensions,
    compression: Option<Encoding>,
}

impl<T> Response<T> {
    /// A response with no metadata.
    pub fn new(message: T) -> Self {
        Response {
            metadata: MetadataMap::new(),
            trailers: MetadataMap::new(),
            message,
            extensions: Extensions::new(),
            compression: None,
        }
    }

    /// Server side: compress this response's messages with `encoding` instead of the
    /// server's default (`Encoding::Identity` turns compression off). Ignored when the client
    /// did not list the encoding in `grpc-accept-encoding`.
    pub fn set_compression(&mut self, encoding: Encoding) {
        self.compression = Some(encoding);
    }

    /// The encoding set with [`Response::set_compression`].
    pub fn compression(&self) -> Option<Encoding> {
        self.compression
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

    /// Header metadata (sent before the first message).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// Header metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// Trailer metadata (sent with the final status). On the client it is filled for unary
    /// and client-streaming calls; streaming responses give theirs through
    /// [`Streaming::trailers`](crate::Streaming::trailers).
    pub fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// Trailer metadata, mutably.
    pub fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.trailers
    }

    /// Typed values attached by the runtime or interceptors.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Typed values, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Replaces the message, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            metadata: self.metadata,
            trailers: self.trailers,
            message: f(self.message),
            extensions: self.extensions,
            compression: self.compression,
        }
    }

    /// Splits into header metadata, trailer metadata and message.
    pub fn into_parts(self) -> (MetadataMap, MetadataMap, T) {
        (self.metadata, self.trailers, self.message)
    }

    /// Builds a response from header metadata, trailer metadata and message.
    pub fn from_parts(metadata: MetadataMap, trailers: MetadataMap, message: T) -> Self {
        Response {
            metadata,
            trailers,
            message,
            extensions: Extensions::new(),
            compression: None,
        }
    }
}
