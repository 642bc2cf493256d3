//! Simple message streams for requests and responses without pulling in a stream library:
//! [`channel`] (a bounded sender and its stream) and [`iter`] (a stream over an iterator);
//! and adapters that transform received messages into answers without a task
//! ([`MessageStreamExt`]: `map`, `and_then`, `filter_map`, `then`), or give two branches one
//! stream type ([`Either`], [`boxed`]).
//!
//! ```
//! use wirecall::message_stream::{self, MessageStreamExt};
//! use wirecall::Status;
//!
//! # async fn demo() {
//! // A bidirectional handler's answer: one reply per request, errors passed on.
//! let incoming = message_stream::iter(vec![Ok::<_, Status>("hi".to_string())]);
//! let replies = incoming.map(|text| format!("echo: {text}"));
//! # let _ = replies;
//! # }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

mod adapters;

pub use adapters::{boxed, AndThen, BoxStream, Either, FilterMap, Map, MessageStreamExt, Then};

/// Creates a bounded channel whose receiving half is a `Stream`: hand the stream to a
/// client-streaming call or return it from a streaming handler, and send from anywhere.
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel(buffer.max(1));
    (Sender(tx), Receiver(rx))
}

/// The sending half of [`channel`].
#[derive(Debug)]
pub struct Sender<T>(mpsc::Sender<T>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Sender<T> {
    /// Sends one message, waiting while the buffer is full. Fails (giving the message back)
    /// when the stream was dropped, e.g. because the call ended.
    pub async fn send(&self, message: T) -> Result<(), T> {
        self.0.send(message).await.map_err(|e| e.0)
    }

    /// Whether the receiving stream is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Waits until the receiving stream is gone.
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

/// The receiving half of [`channel`]; ends when every sender is dropped.
#[derive(Debug)]
pub struct Receiver<T>(mpsc::Receiver<T>);

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

/// A stream that yields the items of an iterator.
pub fn iter<I: IntoIterator>(items: I) -> Iter<I::IntoIter> {
    Iter(items.into_iter())
}

/// The stream made by [`iter`].
#[derive(Debug, Clone)]
pub struct Iter<I>(I);

// The iterator is never pinned in place, so `Iter` can move freely whatever it holds.
impl<I> Unpin for Iter<I> {}

impl<I: Iterator> futures_core::Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.0.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}
