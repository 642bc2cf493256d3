//! Message compression (grpc's compression.md): `identity`, `gzip`, `deflate` (zlib format)
//! and `zstd`. A stream names its encoding in `grpc-encoding`; each message says in its
//! prefix whether it is compressed. Decompression stops at the receive limit, so a small
//! compressed message cannot expand into an unbounded one.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;

/// A message encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// zlib-wrapped deflate (RFC 1950), as HTTP's `deflate`.
    Deflate,
    /// Zstandard (RFC 8878).
    Zstd,
}

/// The `grpc-accept-encoding` value wirecall sends: every encoding it can decompress.
pub(crate) const ACCEPT_ENCODING: HeaderValue =
    HeaderValue::from_static("identity,deflate,gzip,zstd");

/// Why a compressed message could not be expanded.
#[derive(Debug)]
pub(crate) enum DecompressError {
    /// It expands past the receive limit.
    TooLarge { max: usize },
    /// The bytes are not valid for the encoding.
    Invalid(std::io::Error),
}

impl Encoding {
    /// Every encoding wirecall supports.
    pub const ALL: [Encoding; 4] = [
        Encoding::Identity,
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Zstd,
    ];

    /// The encoding for a `grpc-encoding` name (case-sensitive, as the spec's names are).
    pub fn from_name(name: &[u8]) -> Option<Encoding> {
        match name {
            b"identity" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            b"deflate" => Some(Encoding::Deflate),
            b"zstd" => Some(Encoding::Zstd),
            _ => None,
        }
    }

    /// The name sent in `grpc-encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Zstd => "zstd",
        }
    }

    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.name())
    }

    /// Whether a `grpc-accept-encoding` list (`gzip, deflate`) names this encoding.
    /// Identity is always accepted.
    pub(crate) fn accepted_by(self, accept: Option<&HeaderValue>) -> bool {
        self == Encoding::Identity
            || accept.is_some_and(|list| {
                list.as_bytes()
                    .split(|&b| b == b',')
                    .any(|name| name.trim_ascii() == self.name().as_bytes())
            })
    }

    /// Appends `input`, compressed, to `out`.
    pub(crate) fn compress(self, input: &[u8], out: &mut BytesMut) -> std::io::Result<()> {
        let writer = out.writer();
        match self {
            Encoding::Identity => {
                let mut writer = writer;
                writer.write_all(input)
            }
            Encoding::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
            Encoding::Deflate => {
                let mut enc = flate2::write::ZlibEncoder::new(writer, flate2::Compression::fast());
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
            Encoding::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(writer, 1)?;
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
        }
    }

    /// Expands `input`, refusing to produce more than `max` bytes.
    pub(crate) fn decompress(self, input: &[u8], max: usize) -> Result<Bytes, DecompressError> {
        let reader: Box<dyn Read + '_> = match self {
            Encoding::Identity => return bounded(input, max),
            Encoding::Gzip => Box::new(flate2::read::GzDecoder::new(input)),
            Encoding::Deflate => Box::new(flate2::read::ZlibDecoder::new(input)),
            Encoding::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(input)
                    .map_err(DecompressError::Invalid)?,
            ),
        };
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(max));
        reader
            .take(limit)
            .read_to_end(&mut out)
            .map_err(DecompressError::Invalid)?;
        if out.len() > max {
            return Err(DecompressError::TooLarge { max });
        }
        Ok(Bytes::from(out))
    }
}

fn bounded(input: &[u8], max: usize) -> Result<Bytes, DecompressError> {
    if input.len() > max {
        return Err(DecompressError::TooLarge { max });
    }
    Ok(Bytes::copy_from_slice(input))
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_round_trips() {
        let input: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
        for enc in Encoding::ALL {
            let mut out = BytesMut::new();
            enc.compress(&input, &mut out).unwrap();
            if enc != Encoding::Identity {
                assert!(out.len() < input.len() / 4, "{enc} did not compress");
            }
            let back = enc.decompress(&out, input.len()).unwrap();
            assert_eq!(&back[..], &input[..], "{enc}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 8 * 1024 * 1024];
        for enc in [Encoding::Gzip, Encoding::Deflate, Encoding::Zstd] {
            let mut out = BytesMut::new();
            enc.compress(&zeros, &mut out).unwrap();
            assert!(out.len() < 64 * 1024, "{enc}: {}", out.len());
            assert!(matches!(
                enc.decompress(&out, 1024 * 1024),
                Err(DecompressError::TooLarge { max: 1_048_576 })
            ));
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for enc in [Encoding::Gzip, Encoding::Deflate, Encoding::Zstd] {
            assert!(matches!(
                enc.decompress(b"definitely not compressed", 1024),
                Err(DecompressError::Invalid(_))
            ));
        }
    }

    #[test]
    fn names_and_accept_lists() {
        for enc in Encoding::ALL {
            assert_eq!(Encoding::from_name(enc.name().as_bytes()), Some(enc));
        }
        assert_eq!(Encoding::from_name(b"snappy"), None);
        assert_eq!(Encoding::from_name(b"GZIP"), None);
        let list = HeaderValue::from_static("identity, deflate,gzip");
        assert!(Encoding::Gzip.accepted_by(Some(&list)));
        assert!(Encoding::Deflate.accepted_by(Some(&list)));
        assert!(!Encoding::Zstd.accepted_by(Some(&list)));
        assert!(Encoding::Identity.accepted_by(None));
        assert!(!Encoding::Gzip.accepted_by(None));
    }
}
