//! Message compression (grpc's compression.md): `identity`, and with their Cargo features
//! `gzip` and `deflate` (zlib format; feature `gzip`) and `zstd` (feature `zstd`). A stream
//! names its encoding in `grpc-encoding`; each message says in its prefix whether it is
//! compressed. Decompression stops at the receive limit, so a small compressed message
//! cannot expand into an unbounded one.
//!
//! An encoding whose feature is off does not exist in this build: [`Encoding`] has no
//! variant for it, `grpc-accept-encoding` does not offer it, and a peer that sends it gets
//! `UNIMPLEMENTED` (as the spec says for an unsupported `grpc-encoding`), with a message
//! that names the feature adding it.

#[cfg(any(feature = "gzip", feature = "zstd"))]
use std::io::{Read, Write};

#[cfg(any(feature = "gzip", feature = "zstd"))]
use bytes::BufMut;
use bytes::{Bytes, BytesMut};
use http::HeaderValue;

/// A message encoding. Its variants are the encodings this build supports, so the enum
/// grows with the codec features (and is `non_exhaustive` for that reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip (RFC 1952). Feature `gzip`.
    #[cfg(feature = "gzip")]
    Gzip,
    /// zlib-wrapped deflate (RFC 1950), as HTTP's `deflate`. Feature `gzip`.
    #[cfg(feature = "gzip")]
    Deflate,
    /// Zstandard (RFC 8878). Feature `zstd`.
    #[cfg(feature = "zstd")]
    Zstd,
}

/// Every encoding this build can decompress, as `grpc-accept-encoding` lists them.
const ACCEPTED: &str = match (cfg!(feature = "gzip"), cfg!(feature = "zstd")) {
    (true, true) => "identity,deflate,gzip,zstd",
    (true, false) => "identity,deflate,gzip",
    (false, true) => "identity,zstd",
    (false, false) => "identity",
};

/// The `grpc-accept-encoding` value wirecall sends: every encoding it can decompress.
pub(crate) const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static(ACCEPTED);

/// Why a compressed message could not be expanded.
#[derive(Debug)]
pub(crate) enum DecompressError {
    /// It expands past the receive limit.
    TooLarge { max: usize },
    /// The bytes are not valid for the encoding.
    #[cfg_attr(not(any(feature = "gzip", feature = "zstd")), allow(dead_code))]
    Invalid(std::io::Error),
}

/// What is wrong with an encoding named `name` that [`Encoding::from_name`] does not know,
/// to follow its name in a status message: the encodings this build accepts and, for one it
/// was built without, the feature that adds it.
pub(crate) fn unsupported(name: &[u8]) -> String {
    let feature = if !cfg!(feature = "gzip") && (name == b"gzip" || name == b"deflate") {
        Some("gzip")
    } else if !cfg!(feature = "zstd") && name == b"zstd" {
        Some("zstd")
    } else {
        None
    };
    let name = String::from_utf8_lossy(name);
    match feature {
        Some(feature) => format!(
            "{name:?} is not supported (accepted: {ACCEPTED}; wirecall's `{feature}` feature adds it)"
        ),
        None => format!("{name:?} is not supported (accepted: {ACCEPTED})"),
    }
}

impl Encoding {
    /// Every encoding this build supports: `identity` and those of the codec features on.
    pub const ALL: &'static [Encoding] = &[
        Encoding::Identity,
        #[cfg(feature = "gzip")]
        Encoding::Gzip,
        #[cfg(feature = "gzip")]
        Encoding::Deflate,
        #[cfg(feature = "zstd")]
        Encoding::Zstd,
    ];

    /// The encoding for a `grpc-encoding` name (case-sensitive, as the spec's names are);
    /// `None` for an unknown name and for one whose feature is off.
    pub fn from_name(name: &[u8]) -> Option<Encoding> {
        match name {
            b"identity" => Some(Encoding::Identity),
            #[cfg(feature = "gzip")]
            b"gzip" => Some(Encoding::Gzip),
            #[cfg(feature = "gzip")]
            b"deflate" => Some(Encoding::Deflate),
            #[cfg(feature = "zstd")]
            b"zstd" => Some(Encoding::Zstd),
            _ => None,
        }
    }

    /// The name sent in `grpc-encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            #[cfg(feature = "gzip")]
            Encoding::Gzip => "gzip",
            #[cfg(feature = "gzip")]
            Encoding::Deflate => "deflate",
            #[cfg(feature = "zstd")]
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
        match self {
            Encoding::Identity => {
                out.extend_from_slice(input);
                Ok(())
            }
            #[cfg(feature = "gzip")]
            Encoding::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(out.writer(), flate2::Compression::fast());
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
            #[cfg(feature = "gzip")]
            Encoding::Deflate => {
                let mut enc =
                    flate2::write::ZlibEncoder::new(out.writer(), flate2::Compression::fast());
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
            #[cfg(feature = "zstd")]
            Encoding::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(out.writer(), 1)?;
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
        }
    }

    /// Expands `input`, refusing to produce more than `max` bytes.
    pub(crate) fn decompress(self, input: &[u8], max: usize) -> Result<Bytes, DecompressError> {
        match self {
            Encoding::Identity => bounded(input, max),
            #[cfg(feature = "gzip")]
            Encoding::Gzip => expand(flate2::read::GzDecoder::new(input), input.len(), max),
            #[cfg(feature = "gzip")]
            Encoding::Deflate => expand(flate2::read::ZlibDecoder::new(input), input.len(), max),
            #[cfg(feature = "zstd")]
            Encoding::Zstd => expand(
                zstd::stream::read::Decoder::with_buffer(input)
                    .map_err(DecompressError::Invalid)?,
                input.len(),
                max,
            ),
        }
    }
}

fn bounded(input: &[u8], max: usize) -> Result<Bytes, DecompressError> {
    if input.len() > max {
        return Err(DecompressError::TooLarge { max });
    }
    Ok(Bytes::copy_from_slice(input))
}

/// Everything `reader` expands `compressed_len` bytes into, refused past `max` bytes.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn expand(reader: impl Read, compressed_len: usize, max: usize) -> Result<Bytes, DecompressError> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(compressed_len.saturating_mul(2).min(max));
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(DecompressError::Invalid)?;
    if out.len() > max {
        return Err(DecompressError::TooLarge { max });
    }
    Ok(Bytes::from(out))
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A message flagged as compressed, decompressed with the stream's `encoding`, refused past
/// `max` bytes.
pub(crate) fn decompress_message(
    encoding: Option<Encoding>,
    payload: &[u8],
    max: usize,
) -> Result<Bytes, crate::Status> {
    let encoding = encoding
        .filter(|e| *e != Encoding::Identity)
        .ok_or_else(|| {
            crate::Status::internal(
                "compressed flag set on a message but the stream has no grpc-encoding",
            )
        })?;
    encoding.decompress(payload, max).map_err(|err| match err {
        DecompressError::TooLarge { max } => {
            tracing::debug!(%encoding, max, "compressed message expands past the limit");
            crate::Status::resource_exhausted(format!(
                "decompressed message larger than max ({max} bytes)"
            ))
        }
        DecompressError::Invalid(e) => {
            tracing::debug!(%encoding, %e, "invalid compressed message");
            crate::Status::internal(format!("invalid {encoding} message: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encodings that compress.
    fn codecs() -> impl Iterator<Item = Encoding> {
        Encoding::ALL
            .iter()
            .copied()
            .filter(|e| *e != Encoding::Identity)
    }

    #[test]
    fn every_encoding_round_trips() {
        let input: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
        for &enc in Encoding::ALL {
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
        for enc in codecs() {
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
        for enc in codecs() {
            assert!(matches!(
                enc.decompress(b"definitely not compressed", 1024),
                Err(DecompressError::Invalid(_))
            ));
        }
    }

    #[test]
    fn names_and_accept_lists() {
        for &enc in Encoding::ALL {
            assert_eq!(Encoding::from_name(enc.name().as_bytes()), Some(enc));
        }
        assert_eq!(Encoding::from_name(b"snappy"), None);
        assert_eq!(Encoding::from_name(b"GZIP"), None);
        assert!(Encoding::Identity.accepted_by(None));
        #[cfg(feature = "gzip")]
        {
            let list = HeaderValue::from_static("identity, deflate,gzip");
            assert!(Encoding::Gzip.accepted_by(Some(&list)));
            assert!(Encoding::Deflate.accepted_by(Some(&list)));
            assert!(!Encoding::Gzip.accepted_by(None));
            #[cfg(feature = "zstd")]
            assert!(!Encoding::Zstd.accepted_by(Some(&list)));
        }
    }

    #[test]
    fn the_accept_list_is_every_encoding_of_the_build() {
        let mut offered: Vec<&str> = ACCEPTED.split(',').collect();
        let mut supported: Vec<&str> = Encoding::ALL.iter().map(|e| e.name()).collect();
        offered.sort_unstable();
        supported.sort_unstable();
        assert_eq!(offered, supported);
    }

    #[test]
    fn an_encoding_left_out_of_the_build_is_refused_naming_its_feature() {
        for (name, feature) in [("gzip", "gzip"), ("deflate", "gzip"), ("zstd", "zstd")] {
            let message = unsupported(name.as_bytes());
            assert!(message.contains(ACCEPTED), "{message}");
            let built_in = Encoding::from_name(name.as_bytes()).is_some();
            let hint = format!("`{feature}` feature");
            assert_eq!(message.contains(&hint), !built_in, "{message}");
            assert!(!built_in || ACCEPTED.contains(name), "{name}");
            assert!(
                built_in || !ACCEPTED.split(',').any(|n| n == name),
                "{name}"
            );
        }
        assert_eq!(
            unsupported(b"snappy"),
            format!("\"snappy\" is not supported (accepted: {ACCEPTED})")
        );
    }
}
