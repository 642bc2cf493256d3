//! HPACK's Huffman code (RFC 7541, Appendix B) for string literals.
//!
//! The code is canonical: each symbol's code follows from the code lengths alone (symbols
//! ordered by length, then by value, take consecutive codes). So only the 257 lengths are
//! written down here; the codes, and the decoder's tables, are derived from them.

/// The code length in bits of each symbol: the bytes 0..=255, then EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// EOS: never sent inside a string; its code's leading bits pad the last byte.
const EOS: usize = 256;

/// The longest code, in bits.
const MAX_LEN: usize = 30;

/// The canonical code: per symbol its code, per length the first code and where its
/// symbols start in `sorted`.
struct Code {
    codes: [u32; 257],
    /// Symbols ordered by (length, value).
    sorted: [u16; 257],
    /// Per length: the first code of that length, and how many there are.
    first: [u32; MAX_LEN + 1],
    count: [u16; MAX_LEN + 1],
    /// Per length: the index in `sorted` of its first symbol.
    start: [u16; MAX_LEN + 1],
}

const fn build() -> Code {
    let mut count = [0u16; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut start = [0u16; MAX_LEN + 1];
    let (mut code, mut index) = (0u32, 0u16);
    let mut len = 1;
    while len <= MAX_LEN {
        code <<= 1;
        first[len] = code;
        start[len] = index;
        code += count[len] as u32;
        index += count[len];
        len += 1;
    }
    let mut sorted = [0u16; 257];
    let mut codes = [0u32; 257];
    let mut next = first;
    let mut filled = start;
    let mut len = 1;
    while len <= MAX_LEN {
        let mut s = 0;
        while s < 257 {
            if LENGTHS[s] as usize == len {
                codes[s] = next[len];
                next[len] += 1;
                sorted[filled[len] as usize] = s as u16;
                filled[len] += 1;
            }
            s += 1;
        }
        len += 1;
    }
    Code {
        codes,
        sorted,
        first,
        count,
        start,
    }
}

static CODE: Code = build();

/// The length in bytes of `text` Huffman-encoded.
pub(crate) fn encoded_len(text: &[u8]) -> usize {
    let bits: usize = text
        .iter()
        .map(|&b| usize::from(LENGTHS[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Appends `text` Huffman-encoded, padded with the leading bits of EOS (all ones).
pub(crate) fn encode(text: &[u8], out: &mut Vec<u8>) {
    let mut bits: u64 = 0;
    let mut pending = 0u32;
    for &byte in text {
        let len = u32::from(LENGTHS[usize::from(byte)]);
        bits = (bits << len) | u64::from(CODE.codes[usize::from(byte)]);
        pending += len;
        while pending >= 8 {
            pending -= 8;
            out.push((bits >> pending) as u8);
        }
        bits &= (1u64 << pending) - 1;
    }
    if pending > 0 {
        let pad = 8 - pending;
        out.push(((bits << pad) | ((1u64 << pad) - 1)) as u8);
    }
}

/// Why a Huffman string does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HuffmanError {
    /// The string holds EOS, which RFC 7541 (5.2) makes a decoding error.
    Eos,
    /// The padding is longer than 7 bits or is not the leading bits of EOS.
    Padding,
}

/// Appends the decoded `encoded`.
pub(crate) fn decode(encoded: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    // The bits of the code being read so far, and how many.
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in encoded {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            let offset = code.wrapping_sub(CODE.first[len]);
            if code >= CODE.first[len] && offset < u32::from(CODE.count[len]) {
                let symbol = CODE.sorted[usize::from(CODE.start[len]) + offset as usize];
                if usize::from(symbol) == EOS {
                    return Err(HuffmanError::Eos);
                }
                out.push(symbol as u8);
                (code, len) = (0, 0);
            } else if len == MAX_LEN {
                // Only EOS is 30 bits long with all ones; nothing else gets here.
                return Err(HuffmanError::Eos);
            }
        }
    }
    // Up to 7 bits may remain: they must be all ones (a prefix of EOS).
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HuffmanError::Padding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_the_rfcs() {
        // A few rows of RFC 7541's Appendix B: (symbol, code, length).
        for (symbol, code, len) in [
            (0usize, 0x1ff8, 13),
            (1, 0x7f_ffd8, 23),
            (10, 0x3fff_fffc, 30),
            (b' ' as usize, 0x14, 6),
            (b'0' as usize, 0x0, 5),
            (b'a' as usize, 0x3, 5),
            (b'e' as usize, 0x5, 5),
            (b'z' as usize, 0x7b, 7),
            (255, 0x3ff_ffee, 26),
            (EOS, 0x3fff_ffff, 30),
        ] {
            assert_eq!(
                (CODE.codes[symbol], LENGTHS[symbol]),
                (code, len),
                "{symbol}"
            );
        }
    }

    #[test]
    fn rfc_examples_and_round_trips() {
        // RFC 7541 C.4.1: "www.example.com" Huffman-encoded.
        let encoded = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        let mut out = Vec::new();
        decode(&encoded, &mut out).unwrap();
        assert_eq!(out, b"www.example.com");
        let mut again = Vec::new();
        encode(b"www.example.com", &mut again);
        assert_eq!(again, encoded);
        assert_eq!(encoded_len(b"www.example.com"), encoded.len());

        let every: Vec<u8> = (0..=255).collect();
        let mut encoded = Vec::new();
        encode(&every, &mut encoded);
        assert_eq!(encoded.len(), encoded_len(&every));
        let mut decoded = Vec::new();
        decode(&encoded, &mut decoded).unwrap();
        assert_eq!(decoded, every);
    }

    #[test]
    fn eos_and_bad_padding_are_errors() {
        let mut out = Vec::new();
        // 30 ones: EOS itself.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xfc], &mut out),
            Err(HuffmanError::Eos)
        );
        // 'a' (00011) then padding 000: not EOS's ones.
        assert_eq!(decode(&[0b0001_1000], &mut out), Err(HuffmanError::Padding));
        // 'a' then a whole byte of ones: padding longer than 7 bits.
        assert_eq!(
            decode(&[0b0001_1111, 0xff], &mut out),
            Err(HuffmanError::Padding)
        );
        out.clear();
        assert_eq!(decode(&[0b0001_1111], &mut out), Ok(()));
        assert_eq!(out, b"a");
    }
}
