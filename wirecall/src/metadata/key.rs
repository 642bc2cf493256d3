//! Metadata key and value rules: which keys are reserved, which characters are allowed.

use std::fmt;

use http::header::{HeaderName, HeaderValue};

use super::binary;

/// Why a metadata entry was refused. More reasons may come (`non_exhaustive`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// The key is used by gRPC or HTTP/2 itself.
    Reserved(String),
    /// The key has characters outside `0-9 a-z _ - .` (upper case is lowered first).
    InvalidKey(String),
    /// An ASCII value has characters outside printable ASCII.
    InvalidValue(String),
    /// An ASCII value was given for a `-bin` key.
    BinaryKey(String),
    /// A binary value was given for a key that does not end in `-bin`.
    AsciiKey(String),
    /// A received `-bin` value is not base64.
    InvalidBase64(String),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Reserved(k) => write!(f, "metadata key {k:?} is reserved"),
            MetadataError::InvalidKey(k) => write!(f, "invalid metadata key {k:?}"),
            MetadataError::InvalidValue(k) => {
                write!(f, "metadata value for {k:?} is not printable ASCII")
            }
            MetadataError::BinaryKey(k) => {
                write!(f, "metadata key {k:?} ends in -bin: use insert_bin")
            }
            MetadataError::AsciiKey(k) => {
                write!(f, "metadata key {k:?} must end in -bin for a binary value")
            }
            MetadataError::InvalidBase64(e) => write!(f, "invalid base64 in -bin metadata: {e}"),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Whether a (lower-case) header name belongs to gRPC or HTTP rather than the application.
/// The two retry headers of gRFC A6 are the application's to see: a server may read
/// `grpc-previous-rpc-attempts` and answer with `grpc-retry-pushback-ms`.
pub fn is_reserved(key: &str) -> bool {
    (key.starts_with("grpc-")
        && !matches!(key, "grpc-previous-rpc-attempts" | "grpc-retry-pushback-ms"))
        || key.starts_with(':')
        || matches!(
            key,
            "content-type"
                | "te"
                | "connection"
                | "keep-alive"
                | "proxy-connection"
                | "transfer-encoding"
                | "upgrade"
                | "host"
        )
}

fn name(key: &str) -> Result<HeaderName, MetadataError> {
    let lowered = key.to_ascii_lowercase();
    if is_reserved(&lowered) {
        return Err(MetadataError::Reserved(lowered));
    }
    if lowered.is_empty()
        || !lowered
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'-' | b'.'))
    {
        return Err(MetadataError::InvalidKey(key.to_owned()));
    }
    HeaderName::from_bytes(lowered.as_bytes()).map_err(|_| MetadataError::InvalidKey(lowered))
}

pub(super) fn ascii_entry(
    key: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), MetadataError> {
    let name = name(key)?;
    if name.as_str().ends_with("-bin") {
        return Err(MetadataError::BinaryKey(name.as_str().to_owned()));
    }
    if !value.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(MetadataError::InvalidValue(name.as_str().to_owned()));
    }
    let value =
        HeaderValue::from_str(value).map_err(|_| MetadataError::InvalidValue(name.to_string()))?;
    Ok((name, value))
}

pub(super) fn binary_entry(
    key: &str,
    value: &[u8],
) -> Result<(HeaderName, HeaderValue), MetadataError> {
    let name = name(key)?;
    if !name.as_str().ends_with("-bin") {
        return Err(MetadataError::AsciiKey(name.as_str().to_owned()));
    }
    Ok((name, binary::encode(value)))
}
