//! Adapters over streams of `Result<T, Status>`, the shape of every gRPC message stream: a
//! handler transforms what it receives into what it answers without a task or a channel, and
//! returns one stream type from several branches.
//!
//! Each adapter gives its closure the messages and passes an error through as the stream's
//! last item, so a failed call ends the transformed stream with the same status.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;

use crate::Status;

/// A stream of messages behind a box, `Send` and `'static`: what a handler returns when the
/// stream's type is unnamable or differs between branches and [`Either`] does not fit.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Boxes `stream` as a [`BoxStream`].
pub fn boxed<T, S>(stream: S) -> BoxStream<T>
where
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    Box::pin(stream)
}

/// One of two streams of the same item type: a handler's two branches return `Either::Left`
/// and `Either::Right`, and the handler has one return type without a box.
#[derive(Debug, Clone)]
pub enum Either<L, R> {
    /// The first kind of stream.
    Left(L),
    /// The second kind of stream.
    Right(R),
}

impl<L, R> Stream for Either<L, R>
where
    L: Stream + Unpin,
    R: Stream<Item = L::Item> + Unpin,
{
    type Item = L::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<L::Item>> {
        match self.get_mut() {
            Either::Left(s) => Pin::new(s).poll_next(cx),
            Either::Right(s) => Pin::new(s).poll_next(cx),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Either::Left(s) => s.size_hint(),
            Either::Right(s) => s.size_hint(),
        }
    }
}

/// The methods that transform a stream of messages, for any unpinned stream of
/// `Result<T, Status>`: a [`crate::Streaming`], a client's response stream,
/// [`iter`](super::iter).
/// Their closures see messages, not results (futures' `StreamExt` has methods of the same
/// names over the results: import one trait or the other in a module).
pub trait MessageStreamExt<T>: Stream<Item = Result<T, Status>> + Sized + Unpin {
    /// Each message through `f`: `incoming.map(|m| Reply { text: m.text })`.
    fn map<U, F: FnMut(T) -> U>(self, f: F) -> Map<Self, F> {
        Map {
            stream: Some(self),
            f,
        }
    }

    /// Each message through `f`, which may refuse the call: an `Err` is the stream's last
    /// item, as the handler's status.
    fn and_then<U, F: FnMut(T) -> Result<U, Status>>(self, f: F) -> AndThen<Self, F> {
        AndThen {
            stream: Some(self),
            f,
        }
    }

    /// The messages for which `f` gives `Some`, transformed: skips what needs no answer.
    fn filter_map<U, F: FnMut(T) -> Option<U>>(self, f: F) -> FilterMap<Self, F> {
        FilterMap {
            stream: Some(self),
            f,
        }
    }

    /// Each message through the async `f` (a store lookup, a call to another service), one
    /// at a time and in order; an `Err` from `f` ends the stream with that status.
    fn then<U, Fut, F>(self, f: F) -> Then<Self, F, Fut>
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = Result<U, Status>>,
    {
        Then {
            stream: Some(self),
            f,
            pending: None,
        }
    }
}

impl<T, S: Stream<Item = Result<T, Status>> + Unpin> MessageStreamExt<T> for S {}

/// Polls the inner stream of an adapter: the next message, or the end (an error is passed on
/// and ends the adapter, which drops the inner stream).
fn next_message<S, T>(slot: &mut Option<S>, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
{
    let Some(stream) = slot.as_mut() else {
        return Poll::Ready(None);
    };
    let next = ready!(Pin::new(stream).poll_next(cx));
    if !matches!(next, Some(Ok(_))) {
        *slot = None;
    }
    Poll::Ready(next)
}

/// The stream made by [`MessageStreamExt::map`].
#[derive(Debug)]
pub struct Map<S, F> {
    stream: Option<S>,
    f: F,
}

impl<T, U, S, F> Stream for Map<S, F>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
    F: FnMut(T) -> U + Unpin,
{
    type Item = Result<U, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = ready!(next_message(&mut this.stream, cx));
        Poll::Ready(next.map(|item| item.map(&mut this.f)))
    }
}

/// The stream made by [`MessageStreamExt::and_then`].
#[derive(Debug)]
pub struct AndThen<S, F> {
    stream: Option<S>,
    f: F,
}

impl<T, U, S, F> Stream for AndThen<S, F>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
    F: FnMut(T) -> Result<U, Status> + Unpin,
{
    type Item = Result<U, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next =
            ready!(next_message(&mut this.stream, cx)).map(|item| item.and_then(&mut this.f));
        if matches!(next, Some(Err(_))) {
            this.stream = None;
        }
        Poll::Ready(next)
    }
}

/// The stream made by [`MessageStreamExt::filter_map`].
#[derive(Debug)]
pub struct FilterMap<S, F> {
    stream: Option<S>,
    f: F,
}

impl<T, U, S, F> Stream for FilterMap<S, F>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
    F: FnMut(T) -> Option<U> + Unpin,
{
    type Item = Result<U, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match ready!(next_message(&mut this.stream, cx)) {
                Some(Ok(message)) => {
                    if let Some(kept) = (this.f)(message) {
                        return Poll::Ready(Some(Ok(kept)));
                    }
                }
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => return Poll::Ready(None),
            }
        }
    }
}

/// The stream made by [`MessageStreamExt::then`]. Each pending future is boxed (one
/// allocation per message), which keeps the adapter free of unsafe pinning.
pub struct Then<S, F, Fut> {
    stream: Option<S>,
    f: F,
    pending: Option<Pin<Box<Fut>>>,
}

impl<S, F, Fut> std::fmt::Debug for Then<S, F, Fut> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Then")
            .field("ended", &self.stream.is_none())
            .field("pending", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}

impl<T, U, S, F, Fut> Stream for Then<S, F, Fut>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
    F: FnMut(T) -> Fut + Unpin,
    Fut: Future<Output = Result<U, Status>>,
{
    type Item = Result<U, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(pending) = this.pending.as_mut() {
                let out = ready!(pending.as_mut().poll(cx));
                this.pending = None;
                if out.is_err() {
                    this.stream = None;
                }
                return Poll::Ready(Some(out));
            }
            match ready!(next_message(&mut this.stream, cx)) {
                Some(Ok(message)) => this.pending = Some(Box::pin((this.f)(message))),
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;
    use crate::message_stream::iter;

    async fn collect<S: Stream + Unpin>(mut s: S) -> Vec<S::Item> {
        let mut out = Vec::new();
        while let Some(item) = poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await {
            out.push(item);
        }
        out
    }

    fn input() -> impl Stream<Item = Result<i32, Status>> + Unpin {
        iter(vec![
            Ok(1),
            Ok(2),
            Ok(3),
            Err(Status::aborted("cut")),
            Ok(4),
        ])
    }

    fn codes<T: std::fmt::Debug>(items: Vec<Result<T, Status>>) -> Vec<String> {
        items
            .into_iter()
            .map(|i| match i {
                Ok(v) => format!("{v:?}"),
                Err(s) => format!("{:?}", s.code()),
            })
            .collect()
    }

    #[tokio::test]
    async fn map_transforms_messages_and_stops_after_an_error() {
        let out = collect(input().map(|n| n * 10)).await;
        assert_eq!(codes(out), ["10", "20", "30", "Aborted"]);
    }

    #[tokio::test]
    async fn and_then_ends_with_the_closures_refusal() {
        let out = collect(input().and_then(|n| {
            if n < 2 {
                Ok(n)
            } else {
                Err(Status::invalid_argument("too big"))
            }
        }))
        .await;
        assert_eq!(codes(out), ["1", "InvalidArgument"]);
    }

    #[tokio::test]
    async fn filter_map_skips_what_needs_no_answer() {
        let out = collect(input().filter_map(|n| (n % 2 == 1).then_some(n))).await;
        assert_eq!(codes(out), ["1", "3", "Aborted"]);
    }

    #[tokio::test]
    async fn then_awaits_each_message_in_order() {
        let out = collect(input().then(|n| async move {
            tokio::task::yield_now().await;
            Ok::<_, Status>(n + 100)
        }))
        .await;
        assert_eq!(codes(out), ["101", "102", "103", "Aborted"]);
        let refused = collect(input().then(|n| async move {
            if n == 2 {
                Err(Status::not_found("two"))
            } else {
                Ok(n)
            }
        }))
        .await;
        assert_eq!(codes(refused), ["1", "NotFound"]);
    }

    #[tokio::test]
    async fn either_and_boxed_give_one_type_to_two_branches() {
        let pick = |left: bool| {
            if left {
                Either::Left(iter(vec![Ok::<_, Status>(1)]))
            } else {
                Either::Right(input().map(|n| n + 1))
            }
        };
        assert_eq!(codes(collect(pick(true)).await), ["1"]);
        assert_eq!(
            codes(collect(pick(false)).await),
            ["2", "3", "4", "Aborted"]
        );
        let boxed: BoxStream<i32> = if pick(true).size_hint().0 == 1 {
            boxed(input())
        } else {
            boxed(iter(Vec::new()))
        };
        // Boxing changes nothing of the stream it holds.
        assert_eq!(codes(collect(boxed).await), ["1", "2", "3", "Aborted", "4"]);
    }
}
