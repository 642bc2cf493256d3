//! Received metadata: `-bin` values (base64, padded or not), the percent-encoded
//! `grpc-message`, and a status read back from trailers with arbitrary `grpc-status`,
//! `grpc-message` and `grpc-status-details-bin`.
//!
//! Input: lines (`\n`, which no header value can hold). Line 0 is the `grpc-status` value,
//! line 1 `grpc-message`, line 2 `grpc-status-details-bin`; every further line is a
//! `name:value` header (names that HTTP refuses are skipped). An empty line 0 leaves
//! `grpc-status` out.
#![no_main]

use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use wirecall::metadata::{MetadataMap, MetadataValue};
use wirecall::status::message_encoding;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let mut headers = HeaderMap::new();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        let Some(line) = lines.next() else { break };
        if name == "grpc-status" && line.is_empty() {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(name, value);
        }
    }
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        headers.append(name, value);
    }

    // The percent-encoding of grpc-message, both ways.
    for value in headers.get_all("grpc-message") {
        let message = message_encoding::decode(value.as_bytes());
        let encoded = message_encoding::encode(&message);
        assert!(
            encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)),
            "{encoded:?}"
        );
        assert_eq!(message_encoding::decode(encoded.as_bytes()), message);
        if !value.as_bytes().contains(&b'%') && value.to_str().is_ok() {
            assert_eq!(message, value.to_str().unwrap());
        }
    }

    // Custom metadata, as a handler reads it.
    let metadata = MetadataMap::from_headers(headers.clone());
    let len = metadata.len();
    assert!(len <= headers.len());
    assert_eq!(metadata.is_empty(), len == 0);
    for (key, value) in metadata.iter() {
        match value {
            MetadataValue::Binary(bytes) => {
                assert!(key.ends_with("-bin"));
                // Re-encoded (unpadded) and decoded again: the same bytes.
                // (Keys HTTP allows but metadata does not, e.g. `a!-bin`, are refused.)
                let mut copy = MetadataMap::new();
                if copy.insert_bin(key, &bytes).is_ok() {
                    assert_eq!(copy.get_bin(key).unwrap().unwrap(), bytes);
                }
            }
            MetadataValue::Ascii(text) => {
                assert!(!key.ends_with("-bin"));
                assert!(metadata.get_all(key).any(|v| v == text));
            }
        }
    }
    for key in headers.keys() {
        let key = key.as_str();
        if key.ends_with("-bin") {
            let first = metadata.get_bin(key);
            assert_eq!(first.is_some(), metadata.contains_key(key));
            let all: Vec<_> = metadata.get_all_bin(key).collect();
            if let Some(first) = first {
                assert_eq!(all[0], first);
            }
        } else {
            let _ = metadata.get(key);
            let _ = metadata.get_all(key).count();
        }
    }
    // Sent on: the same values under each key (the order of the keys may change).
    let sent = metadata.clone().into_headers();
    assert_eq!(sent.len(), len);
    let resent = MetadataMap::from_headers(sent.clone());
    for key in sent.keys() {
        let key = key.as_str();
        assert!(resent.get_all(key).eq(metadata.get_all(key)));
        assert!(resent.get_all_bin(key).eq(metadata.get_all_bin(key)));
    }
    let _ = format!("{metadata:?}");

    // The status these trailers carry, and the trailers it writes back.
    wirecall::fuzzing::status_trailers(&headers);
});
