//! The body of `application/grpc-web-text`: base64 (standard alphabet, padded) of the
//! binary body. A sender may encode each chunk on its own, so a body can be several padded
//! runs one after another, and a chunk boundary can fall anywhere, even inside a 4-character
//! group; the decoder takes both.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;

use super::WebError;

/// Encodes one chunk of a response body (padded, so chunks can be sent as they come).
pub fn encode_text(chunk: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(chunk))
}

/// Decodes a `grpc-web-text` body chunk by chunk.
#[derive(Debug, Default)]
pub struct TextDecoder {
    /// Characters of a group not yet complete (at most 3).
    partial: Vec<u8>,
}

impl TextDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        TextDecoder::default()
    }

    /// The bytes of every complete group so far in `chunk` (and what the last call left);
    /// line breaks and spaces are skipped.
    pub fn decode(&mut self, chunk: &[u8]) -> Result<Bytes, WebError> {
        let mut text = std::mem::take(&mut self.partial);
        text.extend(chunk.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let whole = text.len() / 4 * 4;
        let mut out = Vec::with_capacity(whole / 4 * 3);
        let mut start = 0;
        // A group with padding ends a run: decode run by run.
        for group in (0..whole).step_by(4) {
            if text[group..group + 4].contains(&b'=') {
                decode_run(&text[start..group + 4], &mut out)?;
                start = group + 4;
            }
        }
        decode_run(&text[start..whole], &mut out)?;
        self.partial = text[whole..].to_vec();
        Ok(Bytes::from(out))
    }

    /// Checks that the body did not end inside a group.
    pub fn finish(&self) -> Result<(), WebError> {
        if self.partial.is_empty() {
            Ok(())
        } else {
            Err(WebError::Base64(format!(
                "the body ends inside a group ({} characters left over)",
                self.partial.len()
            )))
        }
    }
}

fn decode_run(run: &[u8], out: &mut Vec<u8>) -> Result<(), WebError> {
    if run.is_empty() {
        return Ok(());
    }
    STANDARD
        .decode_vec(run, out)
        .map_err(|e| WebError::Base64(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Vec<u8> {
        (0u8..=250).cycle().take(1000).collect()
    }

    #[test]
    fn any_split_of_the_text_decodes_to_the_body() {
        let body = body();
        let text = encode_text(&body);
        for split in 0..text.len() {
            let mut decoder = TextDecoder::new();
            let mut got = decoder.decode(&text[..split]).unwrap().to_vec();
            got.extend_from_slice(&decoder.decode(&text[split..]).unwrap());
            decoder.finish().unwrap();
            assert_eq!(got, body, "split at {split}");
        }
    }

    #[test]
    fn separately_padded_chunks_decode_in_sequence() {
        let parts: [&[u8]; 4] = [b"a", b"bc", b"def", b"ghij"];
        let text: Vec<u8> = parts.iter().flat_map(|p| encode_text(p).to_vec()).collect();
        assert!(
            text.iter().filter(|b| **b == b'=').count() >= 3,
            "padding inside"
        );
        let mut decoder = TextDecoder::new();
        let mut got = Vec::new();
        for piece in text.chunks(3) {
            got.extend_from_slice(&decoder.decode(piece).unwrap());
        }
        decoder.finish().unwrap();
        assert_eq!(got, b"abcdefghij");
    }

    #[test]
    fn bad_text_and_truncated_bodies_are_errors() {
        let mut decoder = TextDecoder::new();
        assert!(matches!(decoder.decode(b"ab!d"), Err(WebError::Base64(_))));
        let mut decoder = TextDecoder::new();
        assert_eq!(decoder.decode(b"YWJj\r\nZA").unwrap().as_ref(), b"abc");
        assert!(matches!(decoder.finish(), Err(WebError::Base64(_))));
    }
}
