//! Codecs turn messages into bytes and back. [`ProstCodec`] is the default for generated
//! code; [`BytesCodec`] passes raw bytes through (for proxies and dynamic clients).

use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};

use crate::compression::Encoding;
use crate::Status;

/// Writes one message into a buffer.
pub trait Encoder: Send + 'static {
    /// The message type.
    type Item;
    /// Appends the encoded `item` to `dst`.
    fn encode(&mut self, item: &Self::Item, dst: &mut BytesMut) -> Result<(), Status>;
    /// A size hint for `item`, used to reserve the buffer once.
    fn encoded_len(&self, item: &Self::Item) -> usize;
    /// Whether `item` may be compressed when the call has an encoding (default: yes). An
    /// encoder can say no per message, as C++'s `WriteOptions::set_no_compression` does.
    fn compress(&self, item: &Self::Item) -> bool {
        let _ = item;
        true
    }
}

/// Reads one message from its bytes.
pub trait Decoder: Send + 'static {
    /// The message type.
    type Item;
    /// Decodes one whole message.
    fn decode(&mut self, src: Bytes) -> Result<Self::Item, Status>;
    /// Decodes one message, told whether it arrived compressed (already decompressed in
    /// `src`). The default ignores the flag.
    fn decode_frame(&mut self, src: Bytes, compressed: bool) -> Result<Self::Item, Status> {
        let _ = compressed;
        self.decode(src)
    }
}

/// The protobuf codec, built on `prost`.
pub struct ProstCodec<T>(PhantomData<fn() -> T>);

impl<T> std::fmt::Debug for ProstCodec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProstCodec")
    }
}

impl<T> Default for ProstCodec<T> {
    fn default() -> Self {
        ProstCodec(PhantomData)
    }
}

impl<T> Clone for ProstCodec<T> {
    fn clone(&self) -> Self {
        ProstCodec(PhantomData)
    }
}

impl<T: prost::Message + 'static> Encoder for ProstCodec<T> {
    type Item = T;

    fn encode(&mut self, item: &T, dst: &mut BytesMut) -> Result<(), Status> {
        item.encode_raw(dst);
        Ok(())
    }

    fn encoded_len(&self, item: &T) -> usize {
        item.encoded_len()
    }
}

impl<T: prost::Message + Default + 'static> Decoder for ProstCodec<T> {
    type Item = T;

    fn decode(&mut self, src: Bytes) -> Result<T, Status> {
        T::decode(src).map_err(|e| {
            tracing::debug!(error = %e, "failed to decode protobuf message");
            Status::internal(format!("failed to decode protobuf message: {e}"))
        })
    }
}

/// A codec for already-encoded messages.
#[derive(Debug, Default, Clone, Copy)]
pub struct BytesCodec;

impl Encoder for BytesCodec {
    type Item = Bytes;

    fn encode(&mut self, item: &Bytes, dst: &mut BytesMut) -> Result<(), Status> {
        dst.put_slice(item);
        Ok(())
    }

    fn encoded_len(&self, item: &Bytes) -> usize {
        item.len()
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;

    fn decode(&mut self, src: Bytes) -> Result<Bytes, Status> {
        Ok(src)
    }
}

/// Encodes `item` as one length-prefixed message at the end of `buf`, compressed with
/// `encoding` unless the encoder declines for this message. Messages over `max_len` (before
/// compression) are refused with `RESOURCE_EXHAUSTED`.
pub(crate) fn encode_frame<E: Encoder>(
    encoder: &mut E,
    item: &E::Item,
    buf: &mut BytesMut,
    max_len: usize,
    encoding: Option<Encoding>,
) -> Result<(), Status> {
    let len = encoder.encoded_len(item);
    if len > max_len || u32::try_from(len).is_err() {
        return Err(Status::resource_exhausted(format!(
            "message to send is larger than max ({len} vs. {max_len})"
        )));
    }
    let Some(encoding) = encoding.filter(|e| *e != Encoding::Identity && encoder.compress(item))
    else {
        buf.reserve(crate::frame::HEADER_LEN + len);
        let at = crate::frame::start_frame(buf);
        encoder.encode(item, buf)?;
        crate::frame::finish_frame(buf, at, false);
        return Ok(());
    };
    let mut plain = BytesMut::with_capacity(len);
    encoder.encode(item, &mut plain)?;
    let at = crate::frame::start_frame(buf);
    encoding
        .compress(&plain, buf)
        .map_err(|e| Status::internal(format!("{encoding} compression failed: {e}")))?;
    if buf.len() - at - crate::frame::HEADER_LEN > u32::MAX as usize {
        buf.truncate(at);
        return Err(Status::resource_exhausted("compressed message too large"));
    }
    crate::frame::finish_frame(buf, at, true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prost_round_trip_and_invalid_bytes() {
        let mut codec = ProstCodec::<prost_types_shim::Wrapper>::default();
        let msg = prost_types_shim::Wrapper {
            value: "hello".into(),
        };
        let mut buf = BytesMut::new();
        encode_frame(&mut codec, &msg, &mut buf, 1024, None).unwrap();
        assert_eq!(&buf[..5], b"\x00\x00\x00\x00\x07");
        let back = codec.decode(buf.freeze().slice(5..)).unwrap();
        assert_eq!(back, msg);
        let err = codec.decode(Bytes::from_static(b"\x0a\x05ab")).unwrap_err();
        assert_eq!(err.code(), crate::Code::Internal);
    }

    #[test]
    fn send_limit_is_enforced() {
        let mut buf = BytesMut::new();
        let err = encode_frame(
            &mut BytesCodec,
            &Bytes::from(vec![0; 11]),
            &mut buf,
            10,
            None,
        )
        .unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
        assert!(buf.is_empty());
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn compressed_frames_set_the_flag_unless_the_encoder_declines() {
        let payload = Bytes::from(vec![7u8; 1000]);
        let mut buf = BytesMut::new();
        encode_frame(
            &mut BytesCodec,
            &payload,
            &mut buf,
            2000,
            Some(Encoding::Gzip),
        )
        .unwrap();
        assert_eq!(buf[0], 1);
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        assert_eq!(len, buf.len() - 5);
        let back = Encoding::Gzip.decompress(&buf[5..], 2000).unwrap();
        assert_eq!(back, payload);

        struct Never;
        impl Encoder for Never {
            type Item = Bytes;
            fn encode(&mut self, item: &Bytes, dst: &mut BytesMut) -> Result<(), Status> {
                dst.put_slice(item);
                Ok(())
            }
            fn encoded_len(&self, item: &Bytes) -> usize {
                item.len()
            }
            fn compress(&self, _: &Bytes) -> bool {
                false
            }
        }
        let mut buf = BytesMut::new();
        encode_frame(&mut Never, &payload, &mut buf, 2000, Some(Encoding::Gzip)).unwrap();
        assert_eq!(buf[0], 0);
        assert_eq!(buf.len(), 1005);
    }

    mod prost_types_shim {
        #[derive(Clone, PartialEq, prost::Message)]
        pub(crate) struct Wrapper {
            #[prost(string, tag = "1")]
            pub(crate) value: String,
        }
    }
}
