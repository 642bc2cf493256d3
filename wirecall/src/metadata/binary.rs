//! Base64 for `-bin` metadata: standard alphabet, sent without padding, accepted either way.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use bytes::Bytes;
use http::HeaderValue;

use super::MetadataError;

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes binary metadata for the wire.
pub(crate) fn encode(value: &[u8]) -> HeaderValue {
    let text = ENGINE.encode(value);
    HeaderValue::from_str(&text).expect("base64 output is a valid header value")
}

/// Decodes a received `-bin` value.
pub(crate) fn decode(value: &[u8]) -> Result<Bytes, MetadataError> {
    ENGINE
        .decode(value)
        .map(Bytes::from)
        .map_err(|e| MetadataError::InvalidBase64(e.to_string()))
}
