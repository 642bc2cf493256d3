//! The one batching writer of both sides of a call: the next message, and every one
//! already waiting behind it, encoded into one chunk for one DATA write ([`Batches`]).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::codec::{encode_frame, Encoder};
use crate::compression::Encoding;
use crate::interceptor::{Direction, MessageHook};
use crate::Status;

/// How many encoded bytes a stream's sender gathers from messages that are ready at once
/// before it hands them to HTTP/2 as one chunk. Without it every small message costs a
/// wake-up of the connection task and a write of its own.
pub(crate) const BATCH_BYTES: usize = 32 * 1024;

/// What [`take_ready`] stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    /// The stream has no message ready now (its waker is registered).
    Pending,
    /// `take` asked to stop: the batch is full or the message ended the response.
    Stopped,
    /// The stream ended.
    Ended,
}

/// Hands every message `messages` has ready right now to `take`, without waiting, until
/// `take` returns `false`, the stream is pending or it ends.
async fn take_ready<S: Stream>(
    mut messages: Pin<&mut S>,
    mut take: impl FnMut(S::Item) -> bool,
) -> Ready {
    poll_fn(|cx| loop {
        match messages.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                if !take(item) {
                    return Poll::Ready(Ready::Stopped);
                }
            }
            Poll::Ready(None) => return Poll::Ready(Ready::Ended),
            Poll::Pending => return Poll::Ready(Ready::Pending),
        }
    })
    .await
}

/// The next piece of a message stream to send.
#[derive(Debug)]
pub(crate) enum Batch {
    /// Framed messages: the next one and every one already waiting behind it (up to
    /// [`BATCH_BYTES`]); `last` when the stream ended after them.
    Chunk { bytes: Bytes, last: bool },
    /// The stream ended.
    End,
    /// A message could not be encoded (e.g. over the send limit), or the stream yielded an
    /// error; `before` holds the messages encoded ahead of it.
    Failed { status: Status, before: Bytes },
}

/// Encodes a stream's messages into batches.
pub(crate) struct Batches {
    buf: BytesMut,
    max: usize,
    encoding: Option<Encoding>,
    /// Told each message's framed size as it is encoded.
    hook: Option<MessageHook>,
}

impl Batches {
    pub(crate) fn new(max: usize, encoding: Option<Encoding>, hook: Option<MessageHook>) -> Self {
        Batches {
            buf: BytesMut::new(),
            max,
            encoding,
            hook,
        }
    }

    /// Waits for the next item, then takes every one already waiting behind it. `message`
    /// turns an item into the message to send, or the error that ends the stream (a server's
    /// response stream may yield one; a client's request stream never does).
    pub(crate) async fn next<S, E>(
        &mut self,
        mut messages: Pin<&mut S>,
        encoder: &mut E,
        message: impl Fn(S::Item) -> Result<E::Item, Status>,
    ) -> Batch
    where
        S: Stream,
        E: Encoder,
    {
        let Some(first) = poll_fn(|cx| messages.as_mut().poll_next(cx)).await else {
            return Batch::End;
        };
        let mut failed = None;
        let (buf, max, encoding, hook) = (&mut self.buf, self.max, self.encoding, &self.hook);
        let mut take = |item: S::Item| {
            let before = buf.len();
            match message(item).and_then(|m| encode_frame(encoder, &m, buf, max, encoding)) {
                Ok(()) => {
                    if let Some(hook) = hook {
                        hook.report(Direction::Sent, buf.len() - before);
                    }
                    buf.len() < BATCH_BYTES
                }
                Err(status) => {
                    failed = Some(status);
                    false
                }
            }
        };
        let ready = if take(first) {
            take_ready(messages.as_mut(), take).await
        } else {
            Ready::Stopped
        };
        let bytes = self.buf.split().freeze();
        match failed {
            Some(status) => Batch::Failed {
                status,
                before: bytes,
            },
            None => Batch::Chunk {
                bytes,
                last: ready == Ready::Ended,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::pin::pin;
    use std::task::Context;

    /// A stream that yields its queued items, then is pending (or ends when `ended`).
    struct Script {
        items: VecDeque<u32>,
        ended: bool,
    }

    impl Stream for Script {
        type Item = u32;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
            match self.items.pop_front() {
                Some(item) => Poll::Ready(Some(item)),
                None if self.ended => Poll::Ready(None),
                None => Poll::Pending,
            }
        }
    }

    fn script(items: &[u32], ended: bool) -> Script {
        Script {
            items: items.iter().copied().collect(),
            ended,
        }
    }

    #[tokio::test]
    async fn takes_ready_messages_until_pending() {
        let mut taken = Vec::new();
        let mut messages = pin!(script(&[1, 2, 3], false));
        let ready = take_ready(messages.as_mut(), |m| {
            taken.push(m);
            true
        })
        .await;
        assert_eq!(ready, Ready::Pending);
        assert_eq!(taken, [1, 2, 3]);
    }

    #[tokio::test]
    async fn stops_when_take_says_so_and_keeps_the_rest() {
        let mut taken = Vec::new();
        let mut messages = pin!(script(&[1, 2, 3, 4], true));
        let ready = take_ready(messages.as_mut(), |m| {
            taken.push(m);
            m < 2
        })
        .await;
        assert_eq!(ready, Ready::Stopped);
        assert_eq!(taken, [1, 2]);
        let ready = take_ready(messages.as_mut(), |m| {
            taken.push(m);
            true
        })
        .await;
        assert_eq!(ready, Ready::Ended);
        assert_eq!(taken, [1, 2, 3, 4]);
    }
}
