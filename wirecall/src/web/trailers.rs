//! The trailer frame: a gRPC frame whose flag byte has its most significant bit set, holding
//! the trailers as an HTTP/1 header block (`name: value\r\n` lines, names in lower case).

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::WebError;

/// The flag byte of a trailer frame (uncompressed).
pub const TRAILER_FLAG: u8 = 0x80;

/// The trailer frame for `trailers`.
pub fn trailer_frame(trailers: &HeaderMap) -> Bytes {
    let block_len: usize = trailers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    let mut frame = BytesMut::with_capacity(5 + block_len);
    frame.put_u8(TRAILER_FLAG);
    frame.put_u32(u32::try_from(block_len).unwrap_or(u32::MAX));
    for (name, value) in trailers {
        frame.put_slice(name.as_str().as_bytes());
        frame.put_slice(b": ");
        frame.put_slice(value.as_bytes());
        frame.put_slice(b"\r\n");
    }
    frame.freeze()
}

/// Parses the block of a trailer frame (without its 5-byte prefix). Names are taken in
/// lower case; blank lines are skipped.
pub fn parse_trailers(block: &[u8]) -> Result<HeaderMap, WebError> {
    let mut trailers = HeaderMap::new();
    for line in block.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let colon = line.iter().position(|b| *b == b':').ok_or_else(|| {
            WebError::Trailer(format!("no colon in {:?}", String::from_utf8_lossy(line)))
        })?;
        let name = HeaderName::from_bytes(&line[..colon].to_ascii_lowercase())
            .map_err(|e| WebError::Trailer(format!("name: {e}")))?;
        let value = line[colon + 1..].trim_ascii();
        let value =
            HeaderValue::from_bytes(value).map_err(|e| WebError::Trailer(format!("value: {e}")))?;
        trailers.append(name, value);
    }
    Ok(trailers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_flagged_length_prefixed_and_parses_back() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("5"));
        trailers.insert("grpc-message", HeaderValue::from_static("no such user"));
        trailers.append("x-trace", HeaderValue::from_static("a"));
        trailers.append("x-trace", HeaderValue::from_static("b"));
        let frame = trailer_frame(&trailers);
        assert_eq!(frame[0], 0x80);
        let len = u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 5);
        let block = std::str::from_utf8(&frame[5..]).unwrap();
        assert!(block.starts_with("grpc-status: 5\r\n"), "{block:?}");
        assert!(block.ends_with("\r\n"));
        assert_eq!(parse_trailers(&frame[5..]).unwrap(), trailers);
    }

    #[test]
    fn parsing_lowercases_names_trims_values_and_rejects_garbage() {
        let parsed = parse_trailers(b"Grpc-Status:0\r\n\r\nGRPC-MESSAGE:   ok  \n").unwrap();
        assert_eq!(parsed["grpc-status"], "0");
        assert_eq!(parsed["grpc-message"], "ok");
        assert!(matches!(
            parse_trailers(b"no colon here\r\n"),
            Err(WebError::Trailer(_))
        ));
        assert!(matches!(
            parse_trailers(b"bad name: x\r\n"),
            Err(WebError::Trailer(_))
        ));
        assert!(parse_trailers(b"").unwrap().is_empty());
        assert!(trailer_frame(&HeaderMap::new()).as_ref() == [0x80, 0, 0, 0, 0]);
    }
}
