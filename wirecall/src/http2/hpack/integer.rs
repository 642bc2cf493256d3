//! HPACK's prefix integers (RFC 7541, section 5.1).

/// The largest value decoded: far above any length or index HPACK needs, and small enough
/// that the continuation bytes cannot overflow.
pub(crate) const MAX: usize = (1 << 28) - 1;

/// Appends `value` with an `n`-bit prefix, `flags` holding the bits above it.
pub(crate) fn encode(value: usize, n: u32, flags: u8, out: &mut Vec<u8>) {
    let limit = (1usize << n) - 1;
    if value < limit {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | limit as u8);
    let mut rest = value - limit;
    while rest >= 0x80 {
        out.push((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Reads an integer with an `n`-bit prefix from the front of `buf`; `None` if it is cut
/// short or larger than [`MAX`].
pub(crate) fn decode(buf: &mut &[u8], n: u32) -> Option<usize> {
    let (&first, rest) = buf.split_first()?;
    *buf = rest;
    let limit = (1usize << n) - 1;
    let mut value = usize::from(first) & limit;
    if value < limit {
        return Some(value);
    }
    let mut shift = 0;
    loop {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value += usize::from(byte & 0x7f) << shift;
        if value > MAX {
            return None;
        }
        if byte & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42, 8 bits.
        for (value, n, bytes) in [
            (10, 5, &[0x0a][..]),
            (1337, 5, &[0x1f, 0x9a, 0x0a]),
            (42, 8, &[0x2a]),
        ] {
            let mut out = Vec::new();
            encode(value, n, 0, &mut out);
            assert_eq!(out, bytes);
            let mut read = bytes;
            assert_eq!(decode(&mut read, n), Some(value));
            assert!(read.is_empty());
        }
    }

    #[test]
    fn cut_short_or_too_large_is_none() {
        assert_eq!(decode(&mut &[0x1f, 0x9a][..], 5), None);
        assert_eq!(
            decode(&mut &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f][..], 5),
            None
        );
        assert_eq!(decode(&mut &[][..], 5), None);
    }
}
