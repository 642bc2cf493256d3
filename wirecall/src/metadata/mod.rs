//! Custom metadata: the application's own headers and trailers (PROTOCOL-HTTP2.md,
//! "Custom-Metadata"). Keys are lower-case; keys ending in `-bin` carry binary values sent
//! as base64, every other value is printable ASCII. Headers that gRPC itself uses
//! (`grpc-*`, `content-type`, `te`, and HTTP/2 pseudo-headers) are reserved.

mod binary;
mod key;

pub use key::{is_reserved, MetadataError};

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// One metadata value, as stored on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataValue<'a> {
    /// A printable ASCII value.
    Ascii(&'a str),
    /// A binary value (its key ends in `-bin`), already decoded from base64.
    Binary(Bytes),
}

/// A multimap of custom metadata, sent as HTTP/2 headers or trailers.
///
/// A map made from received headers keeps them as they came, and hides the reserved ones
/// from every accessor instead of removing them: that costs nothing per call.
#[derive(Clone, Default)]
pub struct MetadataMap {
    headers: HeaderMap,
}

fn custom(name: &HeaderName) -> bool {
    !is_reserved(name.as_str())
}

/// `key` as the map stores it: header names are case-insensitive and kept in lower case, so
/// every accessor decides on the lower-cased key whether it is reserved (`GRPC-STATUS` is
/// as reserved as `grpc-status`) and whether it is binary (`X-DATA-BIN` is a `-bin` key).
fn lowered(key: &str) -> Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(key.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

impl MetadataMap {
    /// An empty map.
    pub fn new() -> Self {
        MetadataMap::default()
    }

    /// The custom metadata of received headers; the reserved ones are hidden.
    pub fn from_headers(headers: HeaderMap) -> Self {
        MetadataMap { headers }
    }

    fn has_reserved(&self) -> bool {
        self.headers.keys().any(|k| !custom(k))
    }

    /// The custom entries as a plain `HeaderMap`, ready to be sent.
    pub fn into_headers(self) -> HeaderMap {
        if !self.has_reserved() {
            return self.headers;
        }
        // A new map of the custom entries: cheaper than removing the reserved ones (each
        // removal rehashes), and free when there are none, as in most responses' heads.
        let customs = self.headers.keys().filter(|k| custom(k)).count();
        let mut kept = HeaderMap::with_capacity(customs);
        if customs > 0 {
            self.append_to(&mut kept);
        }
        kept
    }

    /// The headers this map was made from, reserved ones included as received.
    pub fn as_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Appends every custom entry to `dst` (used when building a request or response).
    pub(crate) fn append_to(self, dst: &mut HeaderMap) {
        if dst.is_empty() && !self.has_reserved() {
            *dst = self.headers;
            return;
        }
        let mut last: Option<HeaderName> = None;
        for (name, value) in self.headers {
            if let Some(name) = name {
                last = Some(name);
            }
            if let Some(name) = last.as_ref().filter(|n| custom(n)) {
                dst.append(name.clone(), value);
            }
        }
    }

    /// Sets an ASCII value, replacing earlier values of the key.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let (name, value) = key::ascii_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds an ASCII value, keeping earlier values of the key.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let (name, value) = key::ascii_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Sets a binary value (the key must end in `-bin`), replacing earlier values.
    pub fn insert_bin(&mut self, key: &str, value: impl AsRef<[u8]>) -> Result<(), MetadataError> {
        let (name, value) = key::binary_entry(key, value.as_ref())?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds a binary value (the key must end in `-bin`), keeping earlier values.
    pub fn append_bin(&mut self, key: &str, value: impl AsRef<[u8]>) -> Result<(), MetadataError> {
        let (name, value) = key::binary_entry(key, value.as_ref())?;
        self.headers.append(name, value);
        Ok(())
    }

    /// The first ASCII value of `key`; `None` if absent, binary, reserved, or not valid
    /// ASCII.
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = lowered(key);
        if key.ends_with("-bin") || is_reserved(&key) {
            return None;
        }
        self.headers.get(key.as_ref()).and_then(|v| v.to_str().ok())
    }

    /// Every ASCII value of `key`, in the order received; none for a binary or reserved key.
    pub fn get_all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        let key = lowered(key);
        let values = if key.ends_with("-bin") || is_reserved(&key) {
            None
        } else {
            Some(self.headers.get_all(key.as_ref()).iter())
        };
        values.into_iter().flatten().filter_map(|v| v.to_str().ok())
    }

    /// The first binary value of `key`, decoded from base64 (padded or not); `None` if
    /// absent, not a `-bin` key, or reserved (`grpc-status-details-bin`).
    pub fn get_bin(&self, key: &str) -> Option<Result<Bytes, MetadataError>> {
        let key = lowered(key);
        if !key.ends_with("-bin") || is_reserved(&key) {
            return None;
        }
        self.headers
            .get(key.as_ref())
            .map(|v| binary::decode(v.as_bytes()))
    }

    /// Every binary value of `key`, decoded; none for an ASCII or reserved key.
    pub fn get_all_bin<'a>(
        &'a self,
        key: &str,
    ) -> impl Iterator<Item = Result<Bytes, MetadataError>> + 'a {
        let key = lowered(key);
        let values = if key.ends_with("-bin") && !is_reserved(&key) {
            Some(self.headers.get_all(key.as_ref()).iter())
        } else {
            None
        };
        values
            .into_iter()
            .flatten()
            .map(|v| binary::decode(v.as_bytes()))
    }

    /// Whether the map has a value for `key` (ASCII or `-bin`); `false` for a reserved key.
    pub fn contains_key(&self, key: &str) -> bool {
        let key = lowered(key);
        !is_reserved(&key) && self.headers.contains_key(key.as_ref())
    }

    /// Removes every value of `key` (ASCII or `-bin`); returns whether there was one. A
    /// reserved key is refused as every other accessor refuses it: the map keeps its
    /// values (they are never sent from it anyway) and the answer is `false`.
    pub fn remove(&mut self, key: &str) -> bool {
        let key = lowered(key);
        !is_reserved(&key) && self.headers.remove(key.as_ref()).is_some()
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.headers.iter().filter(|(k, _)| custom(k)).count()
    }

    /// Whether the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.headers.keys().all(|k| !custom(k))
    }

    /// Every entry in order: binary values are decoded (an invalid one is skipped with a log).
    pub fn iter(&self) -> impl Iterator<Item = (&str, MetadataValue<'_>)> {
        self.headers
            .iter()
            .filter(|(k, _)| custom(k))
            .filter_map(|(name, value)| {
                let key = name.as_str();
                if key.ends_with("-bin") {
                    match binary::decode(value.as_bytes()) {
                        Ok(bytes) => Some((key, MetadataValue::Binary(bytes))),
                        Err(err) => {
                            tracing::debug!(key, %err, "skipping invalid binary metadata");
                            None
                        }
                    }
                } else {
                    value.to_str().ok().map(|v| (key, MetadataValue::Ascii(v)))
                }
            })
    }

    /// Copies every entry whose key starts with `prefix` from `other` into `self`.
    pub fn extend_with_prefix(&mut self, other: &MetadataMap, prefix: &str) {
        for (name, value) in other.headers.iter() {
            if custom(name) && name.as_str().starts_with(prefix) {
                self.headers.append(name.clone(), value.clone());
            }
        }
    }

    /// Base64-encodes a binary value for a `-bin` header.
    pub(crate) fn encode_bin(value: &[u8]) -> HeaderValue {
        binary::encode(value)
    }

    /// Decodes a `-bin` header value.
    pub(crate) fn decode_bin(value: &[u8]) -> Result<Bytes, MetadataError> {
        binary::decode(value)
    }

    /// The first `-bin` entry whose value is not valid base64, if any: received metadata
    /// that a server refuses (grpc-go answers such a call INTERNAL too).
    pub(crate) fn malformed_bin(headers: &HeaderMap) -> Option<&HeaderName> {
        headers
            .iter()
            .find(|(name, value)| {
                name.as_str().ends_with("-bin") && binary::decode(value.as_bytes()).is_err()
            })
            .map(|(name, _)| name)
    }
}

impl PartialEq for MetadataMap {
    fn eq(&self, other: &Self) -> bool {
        let entries = |m: &'_ MetadataMap| {
            m.headers
                .iter()
                .filter(|(k, _)| custom(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        entries(self) == entries(other)
    }
}

impl std::fmt::Debug for MetadataMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.headers.iter().filter(|(k, _)| custom(k)))
            .finish()
    }
}

impl From<HeaderMap> for MetadataMap {
    fn from(headers: HeaderMap) -> Self {
        MetadataMap::from_headers(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_binary_round_trip() {
        let mut md = MetadataMap::new();
        md.insert("x-token", "abc 123").unwrap();
        md.append("x-token", "second").unwrap();
        md.insert_bin("x-data-bin", [0u8, 1, 0xfe, 0xff]).unwrap();
        assert_eq!(md.get("x-token"), Some("abc 123"));
        assert_eq!(
            md.get_all("x-token").collect::<Vec<_>>(),
            ["abc 123", "second"]
        );
        assert_eq!(
            md.get_bin("x-data-bin").unwrap().unwrap(),
            &[0u8, 1, 0xfe, 0xff][..]
        );
        // Binary keys are not readable as ASCII and the other way round.
        assert_eq!(md.get("x-data-bin"), None);
        assert!(md.get_bin("x-token").is_none());
        // Sent unpadded.
        assert_eq!(md.as_headers()["x-data-bin"], "AAH+/w");
        assert_eq!(md.len(), 3);
    }

    #[test]
    fn upper_case_keys_are_lowered() {
        let mut md = MetadataMap::new();
        md.insert("X-Request-Id", "1").unwrap();
        assert_eq!(md.get("x-request-id"), Some("1"));
    }

    #[test]
    fn reserved_and_invalid_entries_are_rejected() {
        let mut md = MetadataMap::new();
        for key in [
            "grpc-status",
            "grpc-foo",
            "content-type",
            "te",
            ":path",
            "connection",
        ] {
            assert!(
                matches!(md.insert(key, "v"), Err(MetadataError::Reserved(_))),
                "{key}"
            );
        }
        assert!(matches!(
            md.insert("bad key", "v"),
            Err(MetadataError::InvalidKey(_))
        ));
        assert!(matches!(
            md.insert("", "v"),
            Err(MetadataError::InvalidKey(_))
        ));
        assert!(matches!(
            md.insert("x-a", "line\nbreak"),
            Err(MetadataError::InvalidValue(_))
        ));
        assert!(matches!(
            md.insert("x-a", "é"),
            Err(MetadataError::InvalidValue(_))
        ));
        assert!(matches!(
            md.insert("x-a-bin", "v"),
            Err(MetadataError::BinaryKey(_))
        ));
        assert!(matches!(
            md.insert_bin("x-a", b"v"),
            Err(MetadataError::AsciiKey(_))
        ));
        assert!(md.is_empty());
    }

    #[test]
    fn received_headers_lose_reserved_entries() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-timeout", HeaderValue::from_static("1S"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("x-keep", HeaderValue::from_static("yes"));
        headers.insert("x-pad-bin", HeaderValue::from_static("AAH+/w=="));
        let md = MetadataMap::from_headers(headers);
        assert_eq!(md.len(), 2);
        assert_eq!(md.get("x-keep"), Some("yes"));
        assert_eq!(
            md.get_bin("x-pad-bin").unwrap().unwrap(),
            &[0u8, 1, 0xfe, 0xff][..]
        );
    }

    #[test]
    fn invalid_base64_is_an_error_not_a_panic() {
        let mut headers = HeaderMap::new();
        headers.insert("x-bad-bin", HeaderValue::from_static("!!!"));
        let md = MetadataMap::from_headers(headers);
        assert!(matches!(
            md.get_bin("x-bad-bin"),
            Some(Err(MetadataError::InvalidBase64(_)))
        ));
        assert_eq!(md.iter().count(), 0);
    }

    #[test]
    fn remove_refuses_reserved_keys_like_get() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("0"));
        headers.insert("grpc-status-details-bin", HeaderValue::from_static("CAU"));
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("x-keep", HeaderValue::from_static("yes"));
        headers.insert("x-data-bin", HeaderValue::from_static("AAH+/w"));
        let mut md = MetadataMap::from_headers(headers);
        for key in [
            "grpc-status",
            "GRPC-STATUS",
            "grpc-status-details-bin",
            "content-type",
            ":path",
        ] {
            assert!(!md.remove(key), "{key}");
            assert!(!md.contains_key(key), "{key}");
        }
        // The reserved entries are still where they were, and still hidden.
        assert_eq!(md.as_headers()["grpc-status"], "0");
        assert_eq!(md.as_headers()["grpc-status-details-bin"], "CAU");
        assert_eq!(md.as_headers()["content-type"], "application/grpc");
        assert_eq!(md.len(), 2);

        // Custom keys go, ASCII and binary alike, whatever their case.
        assert!(md.remove("X-Keep"));
        assert!(!md.contains_key("x-keep"));
        assert!(!md.remove("x-keep"));
        assert!(md.remove("x-data-bin"));
        assert!(md.get_bin("x-data-bin").is_none());
        assert!(md.is_empty());
        assert!(!md.remove("x-never-there"));
        assert!(!md.remove("not a key"));
    }

    #[test]
    fn every_accessor_lowers_the_key_before_its_checks() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-message", HeaderValue::from_static("secret"));
        headers.insert("x-data-bin", HeaderValue::from_static("AAH+/w"));
        headers.insert("x-token", HeaderValue::from_static("abc"));
        let md = MetadataMap::from_headers(headers);
        // Upper case does not get past the reserved rule...
        assert_eq!(md.get("GRPC-MESSAGE"), None);
        assert_eq!(md.get_all("Grpc-Message").count(), 0);
        assert!(!md.contains_key("GRPC-MESSAGE"));
        // ...nor past the binary one: a -bin key in capitals is still binary.
        assert_eq!(md.get("X-DATA-BIN"), None);
        assert_eq!(md.get_all("X-Data-Bin").count(), 0);
        assert_eq!(
            md.get_bin("X-DATA-BIN").unwrap().unwrap(),
            &[0u8, 1, 0xfe, 0xff][..]
        );
        assert_eq!(md.get_all_bin("X-Data-BIN").count(), 1);
        assert_eq!(md.get("X-Token"), Some("abc"));
        assert!(md.get_bin("X-TOKEN").is_none());
    }

    #[test]
    fn insert_and_append_refuse_reserved_keys_in_any_case() {
        let mut md = MetadataMap::new();
        assert!(matches!(
            md.insert("GRPC-Status", "0"),
            Err(MetadataError::Reserved(_))
        ));
        assert!(matches!(
            md.append("Content-Type", "text/plain"),
            Err(MetadataError::Reserved(_))
        ));
        assert!(matches!(
            md.insert_bin("grpc-status-details-bin", b"x"),
            Err(MetadataError::Reserved(_))
        ));
        assert!(matches!(
            md.append_bin("GRPC-TRACE-BIN", b"x"),
            Err(MetadataError::Reserved(_))
        ));
        assert!(md.as_headers().is_empty());
    }

    #[test]
    fn prefix_copy_keeps_binary_values() {
        let mut from = MetadataMap::new();
        from.insert("x-echo-a", "1").unwrap();
        from.insert_bin("x-echo-b-bin", b"\x00").unwrap();
        from.insert("other", "2").unwrap();
        let mut to = MetadataMap::new();
        to.extend_with_prefix(&from, "x-echo-");
        assert_eq!(to.len(), 2);
        assert_eq!(to.get_bin("x-echo-b-bin").unwrap().unwrap(), &b"\x00"[..]);
    }
}
