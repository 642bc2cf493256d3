//! Codecs that expose the per-message compressed flag, which the compression cases check:
//! [`Flagged`] tells whether a received message was compressed, [`Compressible`] decides
//! per message whether to compress a sent one.

use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};
use wirecall::codec::{Decoder, Encoder, ProstCodec};
use wirecall::Status;

/// Decodes a protobuf message together with its compressed flag.
#[derive(Debug)]
pub struct Flagged<T>(PhantomData<fn() -> T>);

impl<T> Default for Flagged<T> {
    fn default() -> Self {
        Flagged(PhantomData)
    }
}

impl<T: prost::Message + Default + 'static> Decoder for Flagged<T> {
    type Item = (T, bool);

    fn decode(&mut self, src: Bytes) -> Result<(T, bool), Status> {
        self.decode_frame(src, false)
    }

    fn decode_frame(&mut self, src: Bytes, compressed: bool) -> Result<(T, bool), Status> {
        Ok((ProstCodec::<T>::default().decode(src)?, compressed))
    }
}

/// Encodes a protobuf message, compressing it only when its flag says so.
#[derive(Debug)]
pub struct Compressible<T>(PhantomData<fn() -> T>);

impl<T> Default for Compressible<T> {
    fn default() -> Self {
        Compressible(PhantomData)
    }
}

impl<T: prost::Message + 'static> Encoder for Compressible<T> {
    type Item = (T, bool);

    fn encode(&mut self, item: &(T, bool), dst: &mut BytesMut) -> Result<(), Status> {
        ProstCodec::<T>::default().encode(&item.0, dst)
    }

    fn encoded_len(&self, item: &(T, bool)) -> usize {
        item.0.encoded_len()
    }

    fn compress(&self, item: &(T, bool)) -> bool {
        item.1
    }
}
