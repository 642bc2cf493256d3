//! A request body whose gRPC messages are converted one by one as they are read: a codec
//! translated at the wire (JSON on the wire, protobuf to the call), so the call core reads
//! protobuf whatever the client sent.

use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use super::RecvBody;
use crate::compression::Encoding;
use crate::frame::FrameDecoder;
use crate::Status;

/// Turns one message's bytes as sent into the bytes the call reads.
pub(crate) type Convert = Box<dyn Fn(Bytes) -> Result<Bytes, Status> + Send + Sync>;

/// A body read message by message, each converted and framed again (uncompressed).
pub(crate) struct Reframed {
    inner: RecvBody,
    frames: FrameDecoder,
    chunk: Bytes,
    /// The messages' `grpc-encoding`, for those flagged as compressed.
    encoding: Option<Encoding>,
    max: usize,
    convert: Convert,
}

impl Reframed {
    pub(crate) fn new(
        inner: RecvBody,
        encoding: Option<Encoding>,
        max: usize,
        convert: Convert,
    ) -> Reframed {
        Reframed {
            inner,
            frames: FrameDecoder::new(max),
            chunk: Bytes::new(),
            encoding,
            max,
            convert,
        }
    }

    /// The next converted message, framed; `None` at the end of the body.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        loop {
            match self.frames.decode(&mut self.chunk) {
                Ok(Some(frame)) => return Poll::Ready(Some(self.converted(frame))),
                Ok(None) => {}
                Err(err) => return Poll::Ready(Some(Err(err.into_status()))),
            }
            match ready!(self.inner.poll_data(cx)) {
                Some(Ok(data)) => self.chunk = data,
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => {
                    return Poll::Ready(match self.frames.finish() {
                        Ok(()) => None,
                        Err(err) => Some(Err(err.into_status())),
                    })
                }
            }
        }
    }

    fn converted(&self, frame: crate::frame::Frame) -> Result<Bytes, Status> {
        let payload = if frame.compressed {
            crate::compression::decompress_message(self.encoding, &frame.payload, self.max)?
        } else {
            frame.payload
        };
        let message = (self.convert)(payload)?;
        let mut framed = BytesMut::with_capacity(crate::frame::HEADER_LEN + message.len());
        let len = u32::try_from(message.len())
            .map_err(|_| Status::resource_exhausted("converted message too large"))?;
        crate::frame::put_header(&mut framed, false, len);
        framed.extend_from_slice(&message);
        Ok(framed.freeze())
    }

    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        self.inner.poll_trailers(cx)
    }
}
