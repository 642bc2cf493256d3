//! The batching of messages that are ready at once into one DATA write, shared by both
//! sides of a call.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use futures_core::Stream;

/// How many encoded bytes a stream's sender gathers from messages that are ready at once
/// before it hands them to HTTP/2 as one chunk. Without it every small message costs a
/// wake-up of the connection task and a write of its own.
pub(crate) const BATCH_BYTES: usize = 32 * 1024;

/// What [`take_ready`] stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The stream has no message ready now (its waker is registered).
    Pending,
    /// `take` asked to stop: the batch is full or the message ended the response.
    Stopped,
    /// The stream ended.
    Ended,
}

/// Hands every message `messages` has ready right now to `take`, without waiting, until
/// `take` returns `false`, the stream is pending or it ends.
pub(crate) async fn take_ready<S: Stream>(
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
