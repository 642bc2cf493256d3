//! The gRPC message frame (PROTOCOL-HTTP2.md, "Length-Prefixed-Message"): a 1-byte
//! compressed flag, a 4-byte big-endian length, then the message. Pure code, no I/O: the
//! [`FrameDecoder`] is fed the DATA frames of a stream and yields whole messages.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The size of the prefix before every message.
pub const HEADER_LEN: usize = 5;

/// The default largest message a receiver accepts: 4 MiB, as in every official gRPC.
pub const DEFAULT_MAX_RECEIVE_SIZE: usize = 4 * 1024 * 1024;

/// One received message, still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Whether the message is compressed with the stream's `grpc-encoding`.
    pub compressed: bool,
    /// The message bytes.
    pub payload: Bytes,
}

/// Why a byte stream is not a valid sequence of messages. More reasons may come
/// (`non_exhaustive`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The prefix announces a message larger than the receive limit.
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The compressed-flag byte is neither 0 nor 1.
    InvalidFlag(u8),
    /// The stream ended in the middle of a message.
    Truncated {
        /// Bytes received of the unfinished message, prefix included.
        have: usize,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "received message larger than max ({len} vs. {max})")
            }
            FrameError::InvalidFlag(b) => {
                write!(f, "invalid compressed flag {b} in message prefix")
            }
            FrameError::Truncated { have } => {
                write!(
                    f,
                    "stream ended inside a message ({have} bytes of it received)"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Writes the prefix for a message of `len` bytes.
pub fn put_header(dst: &mut impl BufMut, compressed: bool, len: u32) {
    dst.put_u8(u8::from(compressed));
    dst.put_u32(len);
}

/// Reserves a prefix at the end of `buf`, to be filled by [`finish_frame`] once the message
/// after it is written. Returns the prefix's offset.
pub fn start_frame(buf: &mut BytesMut) -> usize {
    let at = buf.len();
    buf.put_bytes(0, HEADER_LEN);
    at
}

/// Fills the prefix reserved at `at` with the length of what follows it.
pub fn finish_frame(buf: &mut BytesMut, at: usize, compressed: bool) {
    let len = buf.len() - at - HEADER_LEN;
    let len = u32::try_from(len).expect("message length checked against the send limit");
    let mut header = &mut buf[at..at + HEADER_LEN];
    put_header(&mut header, compressed, len);
}

/// Splits a stream of DATA frames into messages, enforcing the receive limit before any
/// message body is buffered.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_len: usize,
}

impl FrameDecoder {
    /// A decoder that refuses messages over `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            max_len,
        }
    }

    /// Decodes the next message from `chunk` plus what was buffered before. Whole messages
    /// that arrive in one chunk are returned without copying; the rest is buffered.
    pub fn decode(&mut self, chunk: &mut Bytes) -> Result<Option<Frame>, FrameError> {
        if self.buf.is_empty() {
            if let Some((compressed, len)) = self.peek_header(chunk)? {
                if chunk.len() >= HEADER_LEN + len {
                    chunk.advance(HEADER_LEN);
                    let payload = chunk.split_to(len);
                    return Ok(Some(Frame {
                        compressed,
                        payload,
                    }));
                }
            }
        }
        self.buf.extend_from_slice(chunk);
        chunk.clear();
        self.decode_buffered()
    }

    /// Decodes the next whole message already buffered, if any.
    pub fn decode_buffered(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some((compressed, len)) = self.peek_header(&self.buf)? else {
            return Ok(None);
        };
        if self.buf.len() < HEADER_LEN + len {
            self.buf.reserve(HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame {
            compressed,
            payload,
        }))
    }

    /// Called at the end of the stream: an unfinished message is an error.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated {
                have: self.buf.len(),
            })
        }
    }

    fn peek_header(&self, data: &[u8]) -> Result<Option<(bool, usize)>, FrameError> {
        if data.len() < HEADER_LEN {
            return Ok(None);
        }
        let compressed = match data[0] {
            0 => false,
            1 => true,
            other => return Err(FrameError::InvalidFlag(other)),
        };
        let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        if len > self.max_len {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        Ok(Some((compressed, len)))
    }
}

impl FrameError {
    /// The status a call fails with on this error: RESOURCE_EXHAUSTED for a message over
    /// the limit, INTERNAL otherwise.
    pub(crate) fn into_status(self) -> crate::Status {
        tracing::debug!(err = %self, "rejecting received message");
        match self {
            FrameError::TooLarge { .. } => crate::Status::resource_exhausted(self.to_string()),
            _ => crate::Status::internal(self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Bytes {
        let mut buf = BytesMut::new();
        for p in payloads {
            let at = start_frame(&mut buf);
            buf.extend_from_slice(p);
            finish_frame(&mut buf, at, false);
        }
        buf.freeze()
    }

    fn drain(dec: &mut FrameDecoder, mut chunk: Bytes) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(f) = dec.decode(&mut chunk).unwrap() {
            out.push(f.payload);
        }
        assert!(chunk.is_empty());
        out
    }

    #[test]
    fn encodes_the_prefix() {
        let b = framed(&[b"abc"]);
        assert_eq!(&b[..], b"\x00\x00\x00\x00\x03abc");
    }

    #[test]
    fn several_messages_in_one_chunk_and_empty_messages() {
        let mut dec = FrameDecoder::new(100);
        let got = drain(&mut dec, framed(&[b"one", b"", b"three"]));
        assert_eq!(got, [&b"one"[..], b"", b"three"]);
        dec.finish().unwrap();
    }

    #[test]
    fn a_message_split_at_every_byte() {
        let whole = framed(&[b"hello world", b"x"]);
        for cut in 0..whole.len() {
            let mut dec = FrameDecoder::new(100);
            let mut got = drain(&mut dec, whole.slice(..cut));
            got.extend(drain(&mut dec, whole.slice(cut..)));
            assert_eq!(got, [&b"hello world"[..], b"x"], "cut at {cut}");
            dec.finish().unwrap();
        }
    }

    #[test]
    fn limit_is_checked_from_the_prefix_alone() {
        let mut dec = FrameDecoder::new(4);
        let mut chunk = Bytes::from_static(b"\x00\x00\x00\x00\x05");
        assert_eq!(
            dec.decode(&mut chunk),
            Err(FrameError::TooLarge { len: 5, max: 4 })
        );
        let mut dec = FrameDecoder::new(usize::MAX);
        let mut chunk = Bytes::from_static(b"\x00\xff\xff\xff\xff");
        assert_eq!(dec.decode(&mut chunk), Ok(None));
    }

    #[test]
    fn bad_flag_and_truncation() {
        let mut dec = FrameDecoder::new(100);
        let mut chunk = Bytes::from_static(b"\x02\x00\x00\x00\x01a");
        assert_eq!(dec.decode(&mut chunk), Err(FrameError::InvalidFlag(2)));

        let mut dec = FrameDecoder::new(100);
        let mut chunk = Bytes::from_static(b"\x00\x00\x00\x00\x04ab");
        assert_eq!(dec.decode(&mut chunk), Ok(None));
        assert_eq!(dec.finish(), Err(FrameError::Truncated { have: 7 }));
    }

    #[test]
    fn compressed_flag_is_reported() {
        let mut dec = FrameDecoder::new(100);
        let mut chunk = Bytes::from_static(b"\x01\x00\x00\x00\x01z");
        let f = dec.decode(&mut chunk).unwrap().unwrap();
        assert!(f.compressed);
        assert_eq!(&f.payload[..], b"z");
    }
}
