//! HPACK (RFC 7541): header blocks compressed against the static table and a dynamic table
//! per direction. [`Decoder`] reads the peer's blocks with the limits a server needs (the
//! table size it advertised, the header list size); [`Encoder`] writes ours, indexing what
//! repeats so that the headers a server sends on every call cost a byte or two after the
//! first.

mod huffman;
mod integer;
mod table;

use bytes::Bytes;

use table::{entry_size, find_static, Dynamic, STATIC};

pub(crate) use huffman::HuffmanError;

/// Why a header block does not decode: each is a connection error of type
/// `COMPRESSION_ERROR` (RFC 9113, 4.3), as the tables can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The block ends inside a representation.
    Truncated,
    /// An integer past [`integer::MAX`].
    IntegerOverflow,
    /// An index that is in neither table (0, or past the dynamic table).
    InvalidIndex(usize),
    /// A bad Huffman string.
    Huffman(HuffmanError),
    /// A table size update above the size we allowed.
    TableSizeTooLarge(usize),
    /// A table size update after the first field of a block (section 4.2).
    LateSizeUpdate,
}

/// A decoded header block.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Block {
    /// The fields, in order (none once the list is too large).
    pub(crate) fields: Vec<(Bytes, Bytes)>,
    /// The fields' size (RFC 9113, 6.5.2: name + value + 32 each) passed the limit: the
    /// block was still read to keep the table in step, but its fields were dropped.
    pub(crate) too_large: bool,
}

/// Reads header blocks from one peer.
#[derive(Debug)]
pub(crate) struct Decoder {
    table: Dynamic,
    /// The most the peer may set the table to: our SETTINGS_HEADER_TABLE_SIZE.
    allowed: usize,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the largest header list taken.
    max_list: usize,
}

impl Decoder {
    /// A decoder whose table may grow to `table_size` octets, taking header lists of at
    /// most `max_list` octets.
    pub(crate) fn new(table_size: usize, max_list: usize) -> Decoder {
        Decoder {
            table: Dynamic::new(table_size),
            allowed: table_size,
            max_list,
        }
    }

    #[cfg(any(test, feature = "fuzzing"))]
    /// The octets the dynamic table holds.
    pub(crate) fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Decodes one whole block (HEADERS and its CONTINUATIONs, joined).
    pub(crate) fn decode(&mut self, mut block: &[u8]) -> Result<Block, DecodeError> {
        let mut out = Block::default();
        let mut list_size = 0usize;
        let mut fields_seen = false;
        while let Some(&first) = block.first() {
            let (name, value) = if first & 0x80 != 0 {
                // Indexed field (6.1).
                let index = int(&mut block, 7)?;
                self.entry(index)?
            } else if first & 0x40 != 0 {
                // Literal with incremental indexing (6.2.1).
                let (name, value) = self.literal(&mut block, 6)?;
                self.table.insert(name.clone(), value.clone());
                (name, value)
            } else if first & 0x20 != 0 {
                // Dynamic table size update (6.3): only before the first field.
                if fields_seen {
                    return Err(DecodeError::LateSizeUpdate);
                }
                let size = int(&mut block, 5)?;
                if size > self.allowed {
                    return Err(DecodeError::TableSizeTooLarge(size));
                }
                self.table.resize(size);
                continue;
            } else {
                // Literal without indexing (6.2.2) or never indexed (6.2.3).
                self.literal(&mut block, 4)?
            };
            fields_seen = true;
            list_size = list_size.saturating_add(entry_size(&name, &value));
            if list_size > self.max_list {
                out.too_large = true;
                out.fields.clear();
            }
            if !out.too_large {
                out.fields.push((name, value));
            }
        }
        Ok(out)
    }

    /// The entry at `index` of the combined index space (static 1..=61, then dynamic).
    fn entry(&self, index: usize) -> Result<(Bytes, Bytes), DecodeError> {
        match index {
            0 => Err(DecodeError::InvalidIndex(0)),
            1..=61 => {
                let (name, value) = STATIC[index - 1];
                Ok((
                    Bytes::from_static(name.as_bytes()),
                    Bytes::from_static(value.as_bytes()),
                ))
            }
            _ => self
                .table
                .get(index - 62)
                .cloned()
                .ok_or(DecodeError::InvalidIndex(index)),
        }
    }

    /// A literal field whose name index has an `n`-bit prefix (0: a literal name follows).
    fn literal(&self, block: &mut &[u8], n: u32) -> Result<(Bytes, Bytes), DecodeError> {
        let index = int(block, n)?;
        let name = if index == 0 {
            string(block)?
        } else {
            self.entry(index)?.0
        };
        Ok((name, string(block)?))
    }
}

fn int(block: &mut &[u8], n: u32) -> Result<usize, DecodeError> {
    if block.is_empty() {
        return Err(DecodeError::Truncated);
    }
    integer::decode(block, n).ok_or(DecodeError::IntegerOverflow)
}

/// A string literal (5.2): its length, then the octets, Huffman-coded if the H bit is set.
fn string(block: &mut &[u8]) -> Result<Bytes, DecodeError> {
    let huffman = block.first().ok_or(DecodeError::Truncated)? & 0x80 != 0;
    let len = int(block, 7)?;
    if block.len() < len {
        return Err(DecodeError::Truncated);
    }
    let (raw, rest) = block.split_at(len);
    *block = rest;
    if !huffman {
        return Ok(Bytes::copy_from_slice(raw));
    }
    let mut out = Vec::with_capacity(len * 8 / 5 + 1);
    huffman::decode(raw, &mut out).map_err(DecodeError::Huffman)?;
    Ok(Bytes::from(out))
}

/// Writes header blocks for one peer.
#[derive(Debug)]
pub(crate) struct Encoder {
    table: Dynamic,
    /// A size update owed at the start of the next block: the smallest size the table went
    /// through since the last block, then the size it is now (section 4.2).
    pending: Option<(usize, usize)>,
    /// Counts the changes of the table (inserts, resizes).
    generation: u64,
    /// Blocks encoded lately that left the table as it was (indexes only): the same fields
    /// with the table unchanged since are the same bytes. A server's response head and
    /// trailers repeat on every call, so they are encoded once and then copied.
    memo: Vec<Memo>,
}

/// A block remembered by [`Encoder`].
#[derive(Debug)]
struct Memo {
    fields: Vec<(Bytes, Bytes)>,
    encoded: Vec<u8>,
    generation: u64,
}

/// How many blocks the encoder remembers, and of how many fields at most.
const MEMO_BLOCKS: usize = 4;
const MEMO_FIELDS: usize = 8;

/// Names whose values are never put in the dynamic table: secrets, and values that change
/// on every request and would only evict what repeats.
const NEVER_INDEXED: [&str; 5] = [
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
    "grpc-timeout",
];

impl Encoder {
    /// An encoder for a peer whose decoder starts with the default 4,096-octet table.
    pub(crate) fn new() -> Encoder {
        Encoder {
            table: Dynamic::new(4096),
            pending: None,
            generation: 0,
            memo: Vec::new(),
        }
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE: our table shrinks (or may grow) to it, and
    /// the next block says so.
    pub(crate) fn set_max_table_size(&mut self, size: usize) {
        let smallest = self.pending.map_or(size, |(low, _)| low.min(size));
        self.pending = Some((smallest, size));
        self.generation += 1;
        self.table.resize(size);
    }

    /// Appends the block for `fields`.
    pub(crate) fn encode<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        out: &mut Vec<u8>,
    ) {
        let mut list: [(&[u8], &[u8]); MEMO_FIELDS] = [(&[], &[]); MEMO_FIELDS];
        let mut count = 0;
        let mut fields = fields.into_iter();
        for field in fields.by_ref() {
            if count == MEMO_FIELDS {
                // Too many to remember: encoded as they come.
                self.encode_fields(list.into_iter().chain([field]).chain(fields), out);
                return;
            }
            list[count] = field;
            count += 1;
        }
        let list = &list[..count];
        if self.pending.is_none() {
            let same = |memo: &&Memo| {
                memo.generation == self.generation
                    && memo.fields.len() == list.len()
                    && memo
                        .fields
                        .iter()
                        .zip(list)
                        .all(|((n, v), (name, value))| n == name && v == value)
            };
            if let Some(memo) = self.memo.iter().find(same) {
                out.extend_from_slice(&memo.encoded);
                return;
            }
        }
        let (start, before) = (out.len(), self.generation);
        let resized = self.pending.is_some();
        self.encode_fields(list.iter().copied(), out);
        if !resized && self.generation == before {
            if self.memo.len() == MEMO_BLOCKS {
                self.memo.remove(0);
            }
            self.memo.push(Memo {
                fields: list
                    .iter()
                    .map(|(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
                    .collect(),
                encoded: out[start..].to_vec(),
                generation: self.generation,
            });
        }
    }

    /// Encodes `fields` one by one, after the size update owed.
    fn encode_fields<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        out: &mut Vec<u8>,
    ) {
        if let Some((smallest, now)) = self.pending.take() {
            if smallest < now {
                integer::encode(smallest, 5, 0x20, out);
            }
            integer::encode(now, 5, 0x20, out);
        }
        for (name, value) in fields {
            self.field(name, value, out);
        }
    }

    fn field(&mut self, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let found_static = find_static(name, value);
        if let Some((index, true)) = found_static {
            return integer::encode(index, 7, 0x80, out);
        }
        let found_dynamic = self.table.find(name, value);
        if let Some((index, true)) = found_dynamic {
            return integer::encode(index + 62, 7, 0x80, out);
        }
        let name_index = found_static
            .map(|(index, _)| index)
            .or(found_dynamic.map(|(index, _)| index + 62));
        let never = NEVER_INDEXED.iter().any(|n| n.as_bytes() == name);
        let (n, flags) = if never { (4, 0x10) } else { (6, 0x40) };
        match name_index {
            Some(index) => integer::encode(index, n, flags, out),
            None => {
                integer::encode(0, n, flags, out);
                write_string(name, out);
            }
        }
        write_string(value, out);
        if !never {
            self.table
                .insert(Bytes::copy_from_slice(name), Bytes::copy_from_slice(value));
            self.generation += 1;
        }
    }
}

/// A string literal, Huffman-coded when that is shorter.
fn write_string(text: &[u8], out: &mut Vec<u8>) {
    let huffman_len = huffman::encoded_len(text);
    if huffman_len < text.len() {
        integer::encode(huffman_len, 7, 0x80, out);
        huffman::encode(text, out);
    } else {
        integer::encode(text.len(), 7, 0, out);
        out.extend_from_slice(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn fields(block: &Block) -> Vec<(String, String)> {
        let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
        block
            .fields
            .iter()
            .map(|(n, v)| (text(n), text(v)))
            .collect()
    }

    #[test]
    fn a_repeated_block_is_copied_and_the_same_as_encoded() {
        let head: [(&[u8], &[u8]); 2] =
            [(b":status", b"200"), (b"content-type", b"application/grpc")];
        let trailers: [(&[u8], &[u8]); 2] = [(b"grpc-status", b"0"), (b"x-id", b"7")];
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096, 1 << 16);
        let mut blocks = Vec::new();
        for round in 0..4 {
            for fields in [&head[..], &trailers[..]] {
                let mut out = Vec::new();
                encoder.encode(fields.iter().copied(), &mut out);
                let decoded = decoder.decode(&out).unwrap().fields;
                let expected: Vec<_> = fields
                    .iter()
                    .map(|(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
                    .collect();
                assert_eq!(decoded, expected, "round {round}");
                blocks.push(out);
            }
            if round == 2 {
                // A new field changes the table: what was remembered no longer holds.
                let mut out = Vec::new();
                encoder.encode([(&b"x-new"[..], &b"1"[..])], &mut out);
                decoder.decode(&out).unwrap();
            }
        }
        // From the second round on, each block is indexes only: one octet a field.
        assert_eq!(blocks[2].len(), 2);
        assert_eq!(blocks[3].len(), 2);
        assert_eq!(
            encoder.memo.len(),
            2 + 2,
            "remembered before and after the change"
        );
    }

    /// RFC 7541 C.3 (plain) and C.4 (Huffman): three requests on one connection, with the
    /// dynamic table's size after each.
    #[test]
    fn rfc_request_examples() {
        let first = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        let mut second = first.to_vec();
        second.push(("cache-control", "no-cache"));
        let third = [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ];
        let expected: [&[(&str, &str)]; 3] = [&first, &second, &third];
        for blocks in [
            [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
            [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ],
        ] {
            let mut decoder = Decoder::new(4096, 16 << 10);
            for ((block, expected), size) in blocks.iter().zip(expected).zip([57, 110, 164]) {
                let block = decoder.decode(&hex(block)).unwrap();
                let want: Vec<_> = expected
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                assert_eq!(fields(&block), want);
                assert_eq!(decoder.table_size(), size);
            }
        }
    }

    #[test]
    fn what_the_encoder_writes_the_decoder_reads_and_repeats_cost_a_byte_each() {
        let response: [(&[u8], &[u8]); 3] = [
            (b":status", b"200"),
            (b"content-type", b"application/grpc"),
            (b"grpc-accept-encoding", b"identity,deflate,gzip"),
        ];
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096, 16 << 10);
        let mut first = Vec::new();
        encoder.encode(response, &mut first);
        let mut again = Vec::new();
        encoder.encode(response, &mut again);
        assert_eq!(again.len(), 3, "all three indexed: {again:x?}");
        for block in [&first, &again] {
            let decoded = decoder.decode(block).unwrap();
            let want: Vec<_> = response
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            let got: Vec<_> = decoded
                .fields
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(got, want);
        }
        // A secret is sent never-indexed, and so never enters the table.
        let mut secret = Vec::new();
        encoder.encode([(&b"authorization"[..], &b"Bearer x"[..])], &mut secret);
        assert_eq!(secret[0] & 0xf0, 0x10);
        assert_eq!(decoder.decode(&secret).unwrap().fields.len(), 1);
    }

    #[test]
    fn table_size_changes_are_announced_and_bounded() {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096, 16 << 10);
        let mut block = Vec::new();
        encoder.encode([(&b"x-a"[..], &b"1"[..])], &mut block);
        decoder.decode(&block).unwrap();
        encoder.set_max_table_size(0);
        encoder.set_max_table_size(100);
        let mut block = Vec::new();
        encoder.encode([(&b"x-a"[..], &b"1"[..])], &mut block);
        assert_eq!(&block[..2], &[0x20, 0x3f], "0, then 100 (0x3f 0x45)");
        assert_eq!(
            fields(&decoder.decode(&block).unwrap()),
            [("x-a".into(), "1".into())]
        );
        assert_eq!(decoder.table_size(), 36);

        let mut decoder = Decoder::new(100, 16 << 10);
        assert_eq!(
            decoder.decode(&hex("3f46")),
            Err(DecodeError::TableSizeTooLarge(101))
        );
        assert_eq!(
            decoder.decode(&hex("82 20")),
            Err(DecodeError::LateSizeUpdate)
        );
    }

    #[test]
    fn bad_blocks_are_compression_errors_and_big_lists_are_dropped_whole() {
        let mut decoder = Decoder::new(4096, 100);
        for (block, error) in [
            ("80", DecodeError::InvalidIndex(0)),
            ("be", DecodeError::InvalidIndex(62)),
            ("41", DecodeError::Truncated),
            ("4103 61", DecodeError::Truncated),
            ("ff ff ff ff ff 0f", DecodeError::IntegerOverflow),
            ("0081 ff", DecodeError::Huffman(HuffmanError::Padding)),
        ] {
            assert_eq!(decoder.decode(&hex(block)), Err(error), "{block}");
        }
        // Three 40-octet fields (8 + 0 + 32) pass 100: none is kept, but each literal with
        // indexing still entered the table.
        let mut encoder = Encoder::new();
        let mut block = Vec::new();
        encoder.encode(
            [
                (&b"x-aaaaaa"[..], &b""[..]),
                (b"x-bbbbbb", b""),
                (b"x-cccccc", b""),
            ],
            &mut block,
        );
        let decoded = decoder.decode(&block).unwrap();
        assert!(decoded.too_large);
        assert!(decoded.fields.is_empty());
        assert_eq!(decoder.table_size(), 120);
    }
}
