//! Codecs turn messages into bytes and back. [`ProstCodec`] is the default for generated
//! code; [`BytesCodec`] passes raw bytes through (for proxies and dynamic clients).

use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};

use crate::Status;

/// Writes one message into a buffer.
pub trait Encoder: Send + 'static {
    /// The message type.
    type Item;
    /// Appends the encoded `item` to `dst`.
    fn encode(&mut self, item: &Self::Item, dst: &mut BytesMut) -> Result<(), Status>;
    /// A size hint for `item`, used to reserve the buffer once.
    fn encoded_len(&self, item: &Self::Item) -> usize;
}

/// Reads one message from its bytes.
pub trait Decoder: Send + 'static {
    /// The message type.
    type Item;
    /// Decodes one whole message.
    fn decode(&mut self, src: Bytes) -> Result<Self::Item, Status>;
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

/// Encodes `item` as one length-prefixed message at the end of `buf`, refusing messages over
/// `max_len` with `RESOURCE_EXHAUSTED`.
pub(crate) fn encode_frame<E: Encoder>(
    encoder: &mut E,
    item: &E::Item,
    buf: &mut BytesMut,
    max_len: usize,
) -> Result<(), Status> {
    let len = encoder.encoded_len(item);
    if len > max_len || u32::try_from(len).is_err() {
        return Err(Status::resource_exhausted(format!(
            "message to send is larger than max ({len} vs. {max_len})"
        )));
    }
    buf.reserve(crate::frame::HEADER_LEN + len);
    let at = crate::frame::start_frame(buf);
    encoder.encode(item, buf)?;
    crate::frame::finish_frame(buf, at, false);
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
        encode_frame(&mut codec, &msg, &mut buf, 1024).unwrap();
        assert_eq!(&buf[..5], b"\x00\x00\x00\x00\x07");
        let back = codec.decode(buf.freeze().slice(5..)).unwrap();
        assert_eq!(back, msg);
        let err = codec.decode(Bytes::from_static(b"\x0a\x05ab")).unwrap_err();
        assert_eq!(err.code(), crate::Code::Internal);
    }

    #[test]
    fn send_limit_is_enforced() {
        let mut buf = BytesMut::new();
        let err =
            encode_frame(&mut BytesCodec, &Bytes::from(vec![0; 11]), &mut buf, 10).unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
        assert!(buf.is_empty());
    }

    mod prost_types_shim {
        #[derive(Clone, PartialEq, prost::Message)]
        pub(crate) struct Wrapper {
            #[prost(string, tag = "1")]
            pub(crate) value: String,
        }
    }
}
