//! A response: the message (or message stream) plus header and trailer metadata.

use http::Extensions;

use crate::compression::Encoding;
use crate::metadata::MetadataMap;

/// An RPC response: one message (or a stream of them) with metadata.
#[derive(Debug)]
pub struct Response<T> {
    parts: Parts,
    message: T,
}

/// Everything a [`Response`] carries besides its message: what
/// [`Response::into_parts`] gives and [`Response::from_parts`] takes, so that taking a
/// response apart and putting it back together loses nothing.
///
/// The default is what [`Response::new`] starts from: no metadata, no extensions, the
/// server's default compression. More fields may come (`non_exhaustive`): build one with
/// `Parts::default()` and assign the fields you need.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Parts {
    /// Header metadata (sent before the first message).
    pub metadata: MetadataMap,
    /// Trailer metadata (sent with the final status).
    pub trailers: MetadataMap,
    /// Typed values attached by the runtime or by interceptors.
    pub extensions: Extensions,
    /// Server side: the encoding of the response's messages ([`Response::set_compression`]).
    pub compression: Option<Encoding>,
}

impl<T> Response<T> {
    /// A response with no metadata.
    pub fn new(message: T) -> Self {
        Response {
            parts: Parts::default(),
            message,
        }
    }

    /// Server side: compress this response's messages with `encoding` instead of the
    /// server's default (`Encoding::Identity` turns compression off). Ignored when the client
    /// did not list the encoding in `grpc-accept-encoding`.
    pub fn set_compression(&mut self, encoding: Encoding) {
        self.parts.compression = Some(encoding);
    }

    /// The encoding set with [`Response::set_compression`].
    pub fn compression(&self) -> Option<Encoding> {
        self.parts.compression
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
        &self.parts.metadata
    }

    /// Header metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.parts.metadata
    }

    /// Trailer metadata (sent with the final status). On the client it is filled for unary
    /// and client-streaming calls; streaming responses give theirs through
    /// [`Streaming::trailers`](crate::Streaming::trailers).
    pub fn trailers(&self) -> &MetadataMap {
        &self.parts.trailers
    }

    /// Trailer metadata, mutably.
    pub fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.parts.trailers
    }

    /// Typed values attached by the runtime or interceptors.
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }

    /// Typed values, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.parts.extensions
    }

    /// Replaces the message, keeping the metadata and settings.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            parts: self.parts,
            message: f(self.message),
        }
    }

    /// Splits into the message and everything else: header and trailer metadata,
    /// extensions, and the compression choice.
    pub fn into_parts(self) -> (Parts, T) {
        (self.parts, self.message)
    }

    /// Builds a response from what [`Response::into_parts`] gave (or a [`Parts`] of your
    /// own) and a message.
    pub fn from_parts(parts: Parts, message: T) -> Self {
        Response { parts, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn into_parts_and_from_parts_keep_everything() {
        let mut response = Response::new("reply");
        response.metadata_mut().insert("x-header", "h").unwrap();
        response.trailers_mut().insert("x-trailer", "t").unwrap();
        response.extensions_mut().insert(42u32);
        response.set_compression(Encoding::Identity);

        let (parts, message) = response.into_parts();
        assert_eq!(parts.compression, Some(Encoding::Identity));
        let back = Response::from_parts(parts, message.len());
        assert_eq!(*back.get_ref(), 5);
        assert_eq!(back.metadata().get("x-header"), Some("h"));
        assert_eq!(back.trailers().get("x-trailer"), Some("t"));
        assert_eq!(back.extensions().get::<u32>(), Some(&42));
        assert_eq!(back.compression(), Some(Encoding::Identity));
    }
}
