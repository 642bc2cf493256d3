//! An in-memory HTTP stream: frames through a channel, under a byte window as flow control.
//! What a call gets when no HTTP/2 connection carries it: an HTTP/1.1 request read by hyper,
//! a Connect or REST request the gateway translates, a test's script.
//!
//! One direction is a [`Sender`] and a [`Receiver`] ([`channel`]). The receiver hands
//! credit back as it takes data; the sender waits while a window's worth is unread. Ending is
//! explicit (`End` or `Trailers`): a sender dropped before either is a reset, and a receiver
//! dropped is a reset the sender sees ([`Sender::poll_closed`]). A server's response head
//! travels on a [`Responder`] ([`respond`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::oneshot;

use crate::Status;

/// What travels on an in-memory stream.
#[derive(Debug)]
pub(crate) enum Frame {
    /// Body bytes.
    Data(Bytes),
    /// The end, with trailers.
    Trailers(HeaderMap),
    /// The end, without trailers.
    End,
    /// An abrupt end, with why.
    Reset(Status),
}

/// What both ends of one direction share: the frames in flight, the flow-control count and
/// each end's waker. One lock, one allocation per direction.
#[derive(Default)]
struct Window {
    /// Frames sent and not yet taken.
    frames: VecDeque<Frame>,
    /// Bytes sent and not yet taken by the receiver.
    unread: usize,
    /// The sender, waiting for credit or for the receiver to go.
    sender: Option<Waker>,
    /// The receiver, waiting for a frame.
    receiver: Option<Waker>,
    /// The receiver was dropped: nothing more will be read.
    receiver_gone: bool,
    /// The sender was dropped: nothing more will come.
    sender_gone: bool,
}

type Shared = Arc<Mutex<Window>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Window> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One direction of an in-memory stream, with `window` bytes of flow-control credit.
pub(crate) fn channel(window: usize) -> (Sender, Receiver) {
    let shared = Shared::default();
    let sender = Sender {
        shared: shared.clone(),
        window: window.max(1),
    };
    let receiver = Receiver {
        shared,
        read: Read::Data,
        trailers: None,
    };
    (sender, receiver)
}

/// The writing end of [`channel`].
pub(crate) struct Sender {
    shared: Shared,
    window: usize,
}

impl Sender {
    /// Ready when the window has room for more data; an error once the receiver is gone.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        let mut window = lock(&self.shared);
        if window.receiver_gone {
            return Poll::Ready(Err(gone()));
        }
        if window.unread < self.window {
            return Poll::Ready(Ok(()));
        }
        window.sender = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Sends `frame` at once, whatever the window (data counts against it).
    pub(crate) fn send(&mut self, frame: Frame) -> Result<(), Status> {
        let mut window = lock(&self.shared);
        if window.receiver_gone {
            return Err(gone());
        }
        if let Frame::Data(data) = &frame {
            window.unread += data.len();
        }
        window.frames.push_back(frame);
        if let Some(receiver) = window.receiver.take() {
            receiver.wake();
        }
        Ok(())
    }

    /// Ready once the receiver is gone (the peer reset the stream).
    pub(crate) fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut window = lock(&self.shared);
        if window.receiver_gone {
            return Poll::Ready(());
        }
        window.sender = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut window = lock(&self.shared);
        window.sender_gone = true;
        if let Some(receiver) = window.receiver.take() {
            receiver.wake();
        }
    }
}

fn gone() -> Status {
    Status::cancelled("the peer reset the stream")
}

/// Where a [`Receiver`] is in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Data may still come.
    Data,
    /// The data has ended (trailers, if any, are kept).
    Ended,
}

/// The reading end of [`channel`].
pub(crate) struct Receiver {
    shared: Shared,
    read: Read,
    /// Boxed: most streams end without, and a receiver stays small.
    trailers: Option<Box<HeaderMap>>,
}

impl Receiver {
    /// The next chunk of data, its credit handed back; `None` at the end of the data. A
    /// reset (or a sender dropped before the end) is an error, once.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        if self.read == Read::Ended {
            return Poll::Ready(None);
        }
        let frame = std::task::ready!(self.poll_frame(cx));
        let result = match frame {
            Some(Frame::Data(data)) => return Poll::Ready(Some(Ok(data))),
            Some(Frame::Trailers(trailers)) => {
                self.trailers = Some(Box::new(trailers));
                None
            }
            Some(Frame::End) => None,
            Some(Frame::Reset(status)) => Some(Err(status)),
            None => Some(Err(gone())),
        };
        self.read = Read::Ended;
        Poll::Ready(result)
    }

    /// The trailers, once the data has ended (data still unread is dropped).
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        while self.read == Read::Data {
            if let Some(Err(status)) = std::task::ready!(self.poll_data(cx)) {
                return Poll::Ready(Err(status));
            }
        }
        Poll::Ready(Ok(self.trailers.take().map(|t| *t)))
    }

    /// Whether nothing more will come.
    #[cfg(any(feature = "web", test))]
    pub(crate) fn is_end_stream(&self) -> bool {
        self.read == Read::Ended && self.trailers.is_none()
    }

    /// The next frame (its data's credit handed back to the sender); `None` once the
    /// sender is gone and every frame it sent is taken.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        let mut window = lock(&self.shared);
        let Some(frame) = window.frames.pop_front() else {
            if window.sender_gone {
                return Poll::Ready(None);
            }
            window.receiver = Some(cx.waker().clone());
            return Poll::Pending;
        };
        if let Frame::Data(data) = &frame {
            window.unread = window.unread.saturating_sub(data.len());
            if let Some(sender) = window.sender.take() {
                sender.wake();
            }
        }
        Poll::Ready(Some(frame))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let unread = {
            let mut window = lock(&self.shared);
            window.receiver_gone = true;
            if let Some(sender) = window.sender.take() {
                sender.wake();
            }
            std::mem::take(&mut window.frames)
        };
        drop(unread); // outside the lock
    }
}

/// A response head on its way: the head and the body's [`Receiver`].
pub(crate) type ResponseHead = oneshot::Receiver<http::Response<Receiver>>;

/// A server call's response on an in-memory stream: the [`Responder`] the call answers
/// through, and where its head arrives, with a body of `window` bytes of credit.
pub(crate) fn respond(window: usize) -> (Responder, ResponseHead) {
    let (head, arrives) = oneshot::channel();
    let responder = Responder {
        head: Some(head),
        window,
    };
    (responder, arrives)
}

/// The answering end of [`respond`].
pub(crate) struct Responder {
    head: Option<oneshot::Sender<http::Response<Receiver>>>,
    window: usize,
}

impl Responder {
    /// Sends the head; with `end_stream` the body is empty, else it follows on the sender.
    pub(crate) fn send(
        &mut self,
        head: http::Response<()>,
        end_stream: bool,
    ) -> Result<Sender, Status> {
        let arrives = self
            .head
            .take()
            .ok_or_else(|| Status::internal("a response head sent twice"))?;
        let (mut sender, receiver) = channel(self.window);
        if end_stream {
            sender.send(Frame::End)?;
        }
        arrives.send(head.map(|()| receiver)).map_err(|_| gone())?;
        Ok(sender)
    }

    /// Ready once the peer has gone before the head was sent.
    pub(crate) fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.head {
            Some(head) => head.poll_closed(cx),
            None => Poll::Pending,
        }
    }
}

#[cfg(feature = "web")]
impl hyper::body::Body for Receiver {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Status>>> {
        match std::task::ready!(self.poll_data(cx)) {
            Some(Ok(data)) => Poll::Ready(Some(Ok(hyper::body::Frame::data(data)))),
            Some(Err(status)) => Poll::Ready(Some(Err(status))),
            None => Poll::Ready(
                self.trailers
                    .take()
                    .map(|t| Ok(hyper::body::Frame::trailers(*t))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        Receiver::is_end_stream(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test]
    async fn data_then_trailers_arrive_in_order() {
        let (mut tx, mut rx) = channel(1024);
        tx.send(Frame::Data(Bytes::from_static(b"ab"))).unwrap();
        tx.send(Frame::Data(Bytes::from_static(b"cd"))).unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        tx.send(Frame::Trailers(trailers.clone())).unwrap();
        let mut data = Vec::new();
        while let Some(chunk) = poll_fn(|cx| rx.poll_data(cx)).await {
            data.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(data, b"abcd");
        let got = poll_fn(|cx| rx.poll_trailers(cx)).await.unwrap();
        assert_eq!(got, Some(trailers));
        assert!(rx.is_end_stream());
    }

    #[tokio::test]
    async fn a_sender_dropped_before_the_end_is_a_reset() {
        let (mut tx, mut rx) = channel(1024);
        tx.send(Frame::Data(Bytes::from_static(b"x"))).unwrap();
        drop(tx);
        assert!(poll_fn(|cx| rx.poll_data(cx)).await.unwrap().is_ok());
        let err = poll_fn(|cx| rx.poll_data(cx)).await.unwrap().unwrap_err();
        assert_eq!(err.code(), crate::Code::Cancelled);
        assert!(poll_fn(|cx| rx.poll_data(cx)).await.is_none());
    }

    #[tokio::test]
    async fn the_sender_waits_for_credit_and_is_woken_by_reading() {
        let (mut tx, mut rx) = channel(4);
        tx.send(Frame::Data(Bytes::from_static(b"12345"))).unwrap();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(
            tx.poll_ready(&mut cx).is_pending(),
            "a full window holds the sender"
        );
        let chunk = poll_fn(|cx| rx.poll_data(cx)).await.unwrap().unwrap();
        assert_eq!(chunk.len(), 5);
        assert!(matches!(tx.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_frame_and_by_the_sender_going() {
        let (mut tx, mut rx) = channel(1024);
        let reader = tokio::spawn(async move {
            let first = poll_fn(|cx| rx.poll_data(cx)).await;
            let second = poll_fn(|cx| rx.poll_data(cx)).await;
            (first, second)
        });
        tokio::task::yield_now().await; // the reader waits on an empty queue
        tx.send(Frame::Data(Bytes::from_static(b"late"))).unwrap();
        drop(tx); // before the end: a reset
        let (first, second) = reader.await.unwrap();
        assert_eq!(first.unwrap().unwrap(), Bytes::from_static(b"late"));
        assert_eq!(second.unwrap().unwrap_err().code(), crate::Code::Cancelled);
    }

    #[tokio::test]
    async fn a_dropped_receiver_is_seen_as_a_reset() {
        let (mut tx, rx) = channel(4);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(tx.poll_closed(&mut cx).is_pending());
        drop(rx);
        assert!(tx.poll_closed(&mut cx).is_ready());
        assert!(matches!(tx.poll_ready(&mut cx), Poll::Ready(Err(_))));
        assert!(tx.send(Frame::End).is_err());
    }

    #[tokio::test]
    async fn a_responder_sends_its_head_once_and_sees_the_peer_go() {
        let (mut responder, head) = respond(16);
        let mut sender = responder.send(http::Response::new(()), false).unwrap();
        let response = head.await.unwrap();
        sender.send(Frame::End).unwrap();
        let mut body = response.into_body();
        assert!(poll_fn(|cx| body.poll_data(cx)).await.is_none());
        assert!(responder.send(http::Response::new(()), true).is_err());

        let (mut responder, head) = respond(16);
        drop(head);
        let waker = std::task::Waker::noop();
        assert!(responder
            .poll_closed(&mut Context::from_waker(waker))
            .is_ready());
    }
}
