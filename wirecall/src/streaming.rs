//! [`Streaming`]: the messages arriving on one RPC, decoded one at a time as the peer sends
//! them. The same type reads requests on the server and responses on the client; on the
//! client it also reads the trailers and turns a non-OK `grpc-status` into an error.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use h2::RecvStream;
use http::HeaderMap;
use tokio::time::Sleep;

use crate::codec::{Decoder, ProstCodec};
use crate::compression::{DecompressError, Encoding};
use crate::frame::{FrameDecoder, FrameError};
use crate::metadata::MetadataMap;
use crate::task::AbortOnDrop;
use crate::{Code, Status};

/// A stream of received messages. Yields `Err` once, at the end, if the call failed.
pub struct Streaming<T, D = ProstCodec<T>> {
    body: RecvStream,
    decoder: D,
    frames: FrameDecoder,
    chunk: Bytes,
    state: State,
    side: Side,
    encoding: Option<Encoding>,
    max_message_size: usize,
    trailers: Option<MetadataMap>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Client side: the task sending our request stream; stopped when the call ends.
    sender: Option<AbortOnDrop>,
    _message: std::marker::PhantomData<fn() -> T>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Messages,
    Trailers,
    Done,
}

/// Which side of the call reads the stream: a client expects trailers at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

impl<T, D: Decoder<Item = T>> Streaming<T, D> {
    pub(crate) fn new(body: RecvStream, decoder: D, max_message_size: usize, side: Side) -> Self {
        Streaming {
            body,
            decoder,
            frames: FrameDecoder::new(max_message_size),
            chunk: Bytes::new(),
            state: State::Messages,
            side,
            encoding: None,
            max_message_size,
            trailers: None,
            deadline: None,
            sender: None,
            _message: std::marker::PhantomData,
        }
    }

    /// A stream that is already over: a trailers-only response with status OK.
    pub(crate) fn finished(body: RecvStream, decoder: D, trailers: MetadataMap) -> Self {
        let mut s = Streaming::new(body, decoder, 0, Side::Client);
        s.state = State::Done;
        s.trailers = Some(trailers);
        s
    }

    /// The stream's `grpc-encoding`, used for messages flagged as compressed.
    pub(crate) fn set_encoding(&mut self, encoding: Option<Encoding>) {
        self.encoding = encoding;
    }

    pub(crate) fn set_deadline(&mut self, deadline: Option<Pin<Box<Sleep>>>) {
        self.deadline = deadline;
    }

    pub(crate) fn set_sender(&mut self, sender: AbortOnDrop) {
        self.sender = Some(sender);
    }

    /// The next message; `Ok(None)` once the peer has finished successfully.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| self.poll_message(cx)).await.transpose()
    }

    /// Client side: the trailing metadata, reading (and dropping) any messages not yet read.
    /// `Ok(None)` on the server side, where requests carry no trailers, and when the
    /// trailers were already taken.
    pub async fn trailers(&mut self) -> Result<Option<MetadataMap>, Status> {
        while self.message().await?.is_some() {}
        Ok(self.trailers.take())
    }

    /// Takes the trailers of a finished stream without waiting.
    pub(crate) fn take_trailers(&mut self) -> MetadataMap {
        self.trailers.take().unwrap_or_default()
    }

    fn finish(&mut self, result: Option<Result<T, Status>>) -> Poll<Option<Result<T, Status>>> {
        self.state = State::Done;
        self.deadline = None;
        self.sender = None;
        Poll::Ready(result)
    }

    fn fail(&mut self, status: Status) -> Poll<Option<Result<T, Status>>> {
        self.finish(Some(Err(status)))
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>> {
        if self.state != State::Done {
            if let Some(deadline) = &mut self.deadline {
                if deadline.as_mut().poll(cx).is_ready() {
                    return self.fail(Status::deadline_exceeded("deadline exceeded"));
                }
            }
        }
        loop {
            match self.state {
                State::Done => return Poll::Ready(None),
                State::Messages => {
                    match self.frames.decode(&mut self.chunk) {
                        Ok(Some(frame)) => {
                            let payload = if frame.compressed {
                                match self.decompress(&frame.payload) {
                                    Ok(payload) => payload,
                                    Err(status) => return self.fail(status),
                                }
                            } else {
                                frame.payload
                            };
                            return match self.decoder.decode_frame(payload, frame.compressed) {
                                Ok(message) => Poll::Ready(Some(Ok(message))),
                                Err(status) => self.fail(status),
                            };
                        }
                        Ok(None) => {}
                        Err(err) => return self.fail(frame_status(err)),
                    }
                    match ready!(self.body.poll_data(cx)) {
                        Some(Ok(data)) => {
                            let _ = self.body.flow_control().release_capacity(data.len());
                            self.chunk = data;
                        }
                        Some(Err(err)) => return self.fail(crate::status::from_h2_error(&err)),
                        None => {
                            if let Err(err) = self.frames.finish() {
                                return self.fail(frame_status(err));
                            }
                            if self.side == Side::Server {
                                return self.finish(None);
                            }
                            self.state = State::Trailers;
                        }
                    }
                }
                State::Trailers => match ready!(self.body.poll_trailers(cx)) {
                    Ok(Some(trailers)) => return self.end_with_trailers(trailers),
                    Ok(None) => {
                        return self.fail(Status::internal(
                            "server closed the stream without sending trailers",
                        ))
                    }
                    Err(err) => return self.fail(crate::status::from_h2_error(&err)),
                },
            }
        }
    }

    fn decompress(&self, payload: &[u8]) -> Result<Bytes, Status> {
        let encoding = match self.encoding {
            None | Some(Encoding::Identity) => {
                return Err(Status::internal(
                    "compressed flag set on a message but the stream has no grpc-encoding",
                ))
            }
            Some(encoding) => encoding,
        };
        encoding
            .decompress(payload, self.max_message_size)
            .map_err(|err| match err {
                DecompressError::TooLarge { max } => {
                    tracing::debug!(%encoding, max, "compressed message expands past the limit");
                    Status::resource_exhausted(format!(
                        "decompressed message larger than max ({max} bytes)"
                    ))
                }
                DecompressError::Invalid(e) => {
                    tracing::debug!(%encoding, %e, "invalid compressed message");
                    Status::internal(format!("invalid {encoding} message: {e}"))
                }
            })
    }

    fn end_with_trailers(&mut self, trailers: HeaderMap) -> Poll<Option<Result<T, Status>>> {
        // The common case, `grpc-status: 0`, builds no Status.
        if trailers
            .get(&crate::status::GRPC_STATUS)
            .is_some_and(|v| v.as_bytes() == b"0")
        {
            self.trailers = Some(MetadataMap::from_headers(trailers));
            return self.finish(None);
        }
        match Status::from_header_map(&trailers) {
            Some(status) if status.code() == Code::Ok => {
                self.trailers = Some(MetadataMap::from_headers(trailers));
                self.finish(None)
            }
            Some(status) => {
                self.trailers = Some(status.metadata().clone());
                self.fail(status)
            }
            None => self.fail(Status::internal("trailers without grpc-status")),
        }
    }
}

fn frame_status(err: FrameError) -> Status {
    tracing::debug!(%err, "rejecting received message");
    match err {
        FrameError::TooLarge { .. } => Status::resource_exhausted(err.to_string()),
        _ => Status::internal(err.to_string()),
    }
}

impl<T, D: Decoder<Item = T>> futures_core::Stream for Streaming<T, D> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx)
    }
}

impl<T, D: Decoder<Item = T>> Unpin for Streaming<T, D> {}

impl<T, D> std::fmt::Debug for Streaming<T, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
