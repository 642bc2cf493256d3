//! Percent-encoding of `grpc-message` (PROTOCOL-HTTP2.md, "Responses"): bytes outside
//! printable ASCII (0x20..=0x7E) and `%` itself are sent as `%XX` of their UTF-8 bytes.

use std::borrow::Cow;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn needs_escape(b: u8) -> bool {
    !(0x20..=0x7E).contains(&b) || b == b'%'
}

/// Encodes a status message for the `grpc-message` header.
pub fn encode(message: &str) -> Cow<'_, str> {
    if !message.bytes().any(needs_escape) {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len() + 16);
    for b in message.bytes() {
        if needs_escape(b) {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0F)] as char);
        } else {
            out.push(b as char);
        }
    }
    Cow::Owned(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a `grpc-message` value. Malformed `%` sequences are kept as they are and invalid
/// UTF-8 is replaced, so a peer's bad encoding never loses the rest of the message.
pub fn decode(value: &[u8]) -> String {
    if !value.contains(&b'%') {
        return String::from_utf8_lossy(value).into_owned();
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' && i + 2 < value.len() {
            if let (Some(h), Some(l)) = (hex_value(value[i + 1]), hex_value(value[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_passes_through() {
        assert!(matches!(encode("User not found"), Cow::Borrowed(_)));
        assert_eq!(decode(b"User not found"), "User not found");
    }

    #[test]
    fn escapes_percent_control_and_unicode() {
        let msg = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n 100%";
        let enc = encode(msg);
        assert!(enc.bytes().all(|b| (0x20..=0x7E).contains(&b)));
        assert!(enc.starts_with("%09%0Atest"));
        assert!(enc.ends_with(" 100%25"));
        assert!(enc.contains("%E2%98%BA"));
        assert_eq!(decode(enc.as_bytes()), msg);
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(decode(b"50%"), "50%");
        assert_eq!(decode(b"%zz%4"), "%zz%4");
        assert_eq!(decode(b"%41%4a"), "AJ");
        assert_eq!(decode(b"%FF"), "\u{FFFD}");
    }
}
