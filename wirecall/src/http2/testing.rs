//! What the connection tests of both sides read their output and events with.

use super::endpoint::{Endpoint, Side};
use super::frame::{self, write};
use super::hpack;

/// Every event waiting, in order.
pub(crate) fn events<S: Side>(connection: &mut Endpoint<S>) -> Vec<S::Event> {
    std::iter::from_fn(|| connection.next_event()).collect()
}

/// The frames in `bytes`, as (type, flags, stream).
pub(crate) fn frames(bytes: &[u8]) -> Vec<(u8, u8, u32)> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while let Some((head, _, used)) = frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap() {
        out.push((head.kind, head.flags, head.stream));
        rest = &rest[used..];
    }
    out
}

/// The RST_STREAM codes in `bytes`, by stream.
pub(crate) fn resets(bytes: &[u8]) -> Vec<(u32, u32)> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while let Some((head, payload, used)) = frame::split(rest, frame::MAX_MAX_FRAME_SIZE).unwrap() {
        if head.kind == frame::kind::RST_STREAM {
            out.push((head.stream, u32::from_be_bytes(payload.try_into().unwrap())));
        }
        rest = &rest[used..];
    }
    out
}

/// The other side of a test: its HPACK encoder, and the frames it writes.
pub(crate) struct Peer {
    encoder: hpack::Encoder,
    pub(crate) bytes: Vec<u8>,
}

impl Peer {
    /// A peer that has written nothing yet.
    pub(crate) fn new() -> Peer {
        Peer {
            encoder: hpack::Encoder::new(),
            bytes: Vec::new(),
        }
    }

    /// A header block of `fields` on `stream`, in frames of the default maximum size.
    pub(crate) fn headers<'a>(
        &mut self,
        stream: u32,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        end_stream: bool,
    ) -> &mut Peer {
        let mut block = Vec::new();
        self.encoder.encode(fields, &mut block);
        write::headers(
            stream,
            &block,
            end_stream,
            frame::DEFAULT_MAX_FRAME_SIZE,
            &mut self.bytes,
        );
        self
    }

    /// A DATA frame.
    pub(crate) fn data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> &mut Peer {
        write::data_head(stream, data.len() as u32, end_stream, &mut self.bytes);
        self.bytes.extend_from_slice(data);
        self
    }

    /// What was written so far (and forgets it).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}
