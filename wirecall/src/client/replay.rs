//! The request sender of a streaming call with a retry or hedging policy: it keeps what it
//! sent until the call commits, so that every later attempt gets every message again (gRFC
//! A6), and feeds each attempt still running at its own pace (a retried call has one at a
//! time, a hedged call several). Once the call commits it carries on with the rest of the
//! stream, unkept, to the attempt that won.
//!
//! Past the buffer limits it stops keeping messages, which commits the call: it keeps the
//! attempt that was sent the most, cancels the others, takes no new attempt, and tells the
//! attempt loop which one it kept ([`Replay::overflowed`]).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::{mpsc, Notify};

use super::sender::fail;
use super::Channel;
use crate::batch::{Batch, Batches};
use crate::codec::Encoder;
use crate::compression::Encoding;
use crate::interceptor::MessageHook;
use crate::streaming::RequestSender;
use crate::task::AbortOnDrop;
use crate::wire::SendBody;
use crate::Status;

/// The attempt loop's side of a replaying sender. Attempts are named by their number (the
/// attempts before them: 0 for the first).
pub(crate) struct Replay {
    control: mpsc::UnboundedSender<Control>,
    state: Arc<Shared>,
}

/// What the attempt loop tells the sender.
enum Control {
    /// A new attempt's stream (or a transparent resend of attempt `n`'s, replacing it): it
    /// gets everything sent so far, then the rest.
    Add(u32, SendBody),
    /// The attempt failed or was abandoned: stop feeding it (RST_STREAM CANCEL).
    Cancel(u32),
    /// The call committed to this attempt: cancel the others and keep nothing more.
    Commit(u32),
}

#[derive(Default)]
struct Shared {
    /// Set once, when the buffers overflowed: the attempt the sender kept (`None` when it
    /// had none to keep).
    overflow: OnceLock<Option<u32>>,
    /// Wakes the attempt loop when `overflow` is set.
    overflowed: Notify,
}

impl Replay {
    /// Hands attempt `n`'s stream to the sender, which resends everything to it.
    pub(crate) fn add(&self, n: u32, stream: SendBody) {
        let _ = self.control.send(Control::Add(n, stream));
    }

    /// Attempt `n` failed or is abandoned: the sender stops feeding it and resets its stream.
    pub(crate) fn cancel(&self, n: u32) {
        let _ = self.control.send(Control::Cancel(n));
    }

    /// The call committed to attempt `n`: the sender cancels the others and drops what it
    /// kept.
    pub(crate) fn commit(&self, n: u32) {
        let _ = self.control.send(Control::Commit(n));
    }

    /// Whether a new attempt can still be replayed every message sent so far.
    pub(crate) fn can_retry(&self) -> bool {
        self.state.overflow.get().is_none()
    }

    /// Waits until the buffers overflow; gives the attempt the sender kept (`None` if it had
    /// none), the call's only one from then on.
    pub(crate) async fn overflowed(&self) -> Option<u32> {
        loop {
            if let Some(kept) = self.state.overflow.get() {
                return *kept;
            }
            // One waiter, woken by `notify_one`, whose permit outlives a wake-up that comes
            // between the check and the wait.
            self.state.overflowed.notified().await;
        }
    }
}

/// The request stream as the sender has it: every chunk while the call may still take a new
/// attempt (counted against the channel's retry buffer), then only those some attempt still
/// needs.
struct Log {
    chunks: VecDeque<Bytes>,
    /// The number of the chunk at the front of `chunks`.
    first: usize,
    /// Whether the stream has ended (after the last chunk).
    ended: bool,
    /// Whether the chunks are kept for attempts to come (until the call commits).
    keeping: bool,
    /// Bytes counted against the channel's retry buffer.
    bytes: usize,
    channel: Channel,
}

impl Log {
    /// The number of the next chunk to come.
    fn end(&self) -> usize {
        self.first + self.chunks.len()
    }

    /// Chunk number `n`, if the log still has it.
    fn get(&self, n: usize) -> Option<&Bytes> {
        self.chunks.get(n.checked_sub(self.first)?)
    }

    /// Adds `chunk`; `false` when keeping it passed the per-call limit or the channel's
    /// total, which stops the keeping.
    fn push(&mut self, chunk: Bytes) -> bool {
        let mut fits = true;
        if self.keeping {
            let config = &self.channel.inner.endpoint.config;
            let total = &self.channel.inner.retry_buffered;
            let before = total.fetch_add(chunk.len(), Ordering::AcqRel);
            self.bytes += chunk.len();
            fits = self.bytes <= config.per_rpc_buffer_limit
                && before + chunk.len() <= config.retry_buffer_size;
            if !fits {
                self.stop_keeping();
            }
        }
        self.chunks.push_back(chunk);
        fits
    }

    /// Keeps nothing for attempts to come; the buffered bytes are no longer counted.
    fn stop_keeping(&mut self) {
        self.keeping = false;
        self.channel
            .inner
            .retry_buffered
            .fetch_sub(self.bytes, Ordering::AcqRel);
        self.bytes = 0;
    }

    /// Once not keeping: drops the chunks before `needed`, which every attempt has sent.
    fn trim(&mut self, needed: usize) {
        if self.keeping {
            return;
        }
        while self.first < needed && self.chunks.pop_front().is_some() {
            self.first += 1;
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if self.keeping {
            self.stop_keeping();
        }
    }
}

/// A chunk being sent to one attempt under its flow control; gives the stream back once sent,
/// nothing if the stream failed.
type Sending = Pin<Box<dyn Future<Output = Option<SendBody>> + Send>>;

/// One attempt's request stream, as the sender feeds it.
struct Target {
    n: u32,
    /// The number of the next chunk it gets.
    next: usize,
    feed: Feed,
}

enum Feed {
    /// Waiting for the next chunk (or sent END_STREAM, when `ended`).
    Idle {
        stream: SendBody,
        ended: bool,
    },
    Sending(Sending),
    /// Taken out while changing state.
    Gone,
}

impl Target {
    /// Starts sending the next chunk, or END_STREAM after the last, if idle and there is one.
    fn feed(&mut self, log: &Log) {
        let Feed::Idle { stream, ended } = &mut self.feed else {
            return;
        };
        if *ended {
            return;
        }
        if let Some(chunk) = log.get(self.next) {
            let Feed::Idle { mut stream, .. } = std::mem::replace(&mut self.feed, Feed::Gone)
            else {
                unreachable!("matched above");
            };
            let chunk = chunk.clone();
            self.feed = Feed::Sending(Box::pin(async move {
                stream.send_data(chunk).await.ok().map(|()| stream)
            }));
        } else if log.ended && self.next == log.end() {
            let _ = stream.send_now(Bytes::new(), true);
            *ended = true;
        }
    }

    /// Whether it has every chunk so far and waits for more.
    fn caught_up(&self, log: &Log) -> bool {
        matches!(self.feed, Feed::Idle { ended: false, .. }) && self.next == log.end()
    }

    fn done(&self) -> bool {
        matches!(self.feed, Feed::Idle { ended: true, .. })
    }

    /// Ends its stream with RST_STREAM CANCEL (a send in progress is dropped, which does the
    /// same once the attempt's response is dropped too).
    fn cancel(mut self) {
        if let Feed::Idle { stream, .. } = &mut self.feed {
            stream.reset();
        }
    }
}

/// What woke the sender.
enum Event {
    Control(Option<Control>),
    /// Target `index` finished sending a chunk (`None`: its stream failed).
    Sent(usize, Option<SendBody>),
    Batch(Batch),
}

/// Starts sending `messages` on `first` (attempt 0), keeping them for later attempts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn<S, E>(
    channel: Channel,
    first: SendBody,
    messages: S,
    encoder: E,
    max: usize,
    encoding: Option<Encoding>,
    hook: Option<MessageHook>,
) -> (RequestSender, Replay)
where
    S: Stream<Item = E::Item> + Send + 'static,
    E: Encoder,
    E::Item: Send,
{
    let (control_tx, control) = mpsc::unbounded_channel();
    let state = Arc::new(Shared::default());
    let error = Arc::new(Mutex::new(None));
    let log = Log {
        chunks: VecDeque::new(),
        first: 0,
        ended: false,
        keeping: true,
        bytes: 0,
        channel,
    };
    let sender = Sender {
        targets: vec![Target {
            n: 0,
            next: 0,
            feed: Feed::Idle {
                stream: first,
                ended: false,
            },
        }],
        log,
        state: state.clone(),
    };
    let task = tokio::spawn(sender.run(
        control,
        messages,
        encoder,
        Batches::new(max, encoding, hook),
        error.clone(),
    ));
    let replay = Replay {
        control: control_tx,
        state,
    };
    (RequestSender::from_task(AbortOnDrop(task), error), replay)
}

/// The sending task's state.
struct Sender {
    targets: Vec<Target>,
    log: Log,
    state: Arc<Shared>,
}

impl Sender {
    async fn run<S, E>(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        messages: S,
        mut encoder: E,
        mut batches: Batches,
        error: Arc<Mutex<Option<Status>>>,
    ) where
        S: Stream<Item = E::Item>,
        E: Encoder,
    {
        let mut messages = pin!(messages);
        // Until the attempt loop is gone (the call committed or ended).
        let mut looping = true;
        loop {
            for target in &mut self.targets {
                target.feed(&self.log);
            }
            let finished = self.log.ended && self.targets.iter().all(Target::done);
            if !looping && (self.targets.is_empty() || finished) {
                return;
            }
            // Read on while some attempt has everything so far (the others catch up at
            // their pace), or into the buffer while there is no attempt yet.
            let read = !self.log.ended
                && (self.targets.iter().any(|t| t.caught_up(&self.log))
                    || (self.targets.is_empty() && self.log.keeping));
            let sending = self
                .targets
                .iter()
                .any(|t| matches!(t.feed, Feed::Sending(_)));
            let targets = &mut self.targets;
            let event = tokio::select! {
                biased;
                control = control.recv(), if looping => Event::Control(control),
                (index, stream) = sent(targets), if sending => Event::Sent(index, stream),
                batch = batches.next(messages.as_mut(), &mut encoder, Ok), if read => {
                    Event::Batch(batch)
                }
                else => return,
            };
            match event {
                Event::Control(None) => {
                    looping = false;
                    if self.log.keeping {
                        self.log.stop_keeping();
                    }
                }
                Event::Control(Some(control)) => self.control(control),
                Event::Sent(index, Some(stream)) => {
                    let target = &mut self.targets[index];
                    target.next += 1;
                    target.feed = Feed::Idle {
                        stream,
                        ended: false,
                    };
                }
                Event::Sent(index, None) => {
                    self.targets.swap_remove(index);
                }
                Event::Batch(Batch::Failed { status, .. }) => {
                    fail(&error, status);
                    for target in self.targets.drain(..) {
                        target.cancel();
                    }
                    return;
                }
                Event::Batch(Batch::End) => self.log.ended = true,
                Event::Batch(Batch::Chunk { bytes, last }) => {
                    if !bytes.is_empty() && !self.log.push(bytes) {
                        self.overflow();
                    }
                    self.log.ended = last;
                }
            }
            let needed = self.targets.iter().map(|t| t.next).min();
            self.log.trim(needed.unwrap_or(self.log.end()));
        }
    }

    fn control(&mut self, control: Control) {
        match control {
            Control::Add(n, stream) => {
                self.remove(n);
                let mut target = Target {
                    n,
                    next: 0,
                    feed: Feed::Idle {
                        stream,
                        ended: false,
                    },
                };
                if self.log.keeping {
                    self.targets.push(target);
                } else {
                    // The call committed or overflowed: no new attempt can be replayed all
                    // that was sent.
                    if let Feed::Idle { stream, .. } = &mut target.feed {
                        stream.reset();
                    }
                }
            }
            Control::Cancel(n) => self.remove(n),
            Control::Commit(n) => {
                if self.log.keeping {
                    self.log.stop_keeping();
                }
                for target in extract(&mut self.targets, |t| t.n != n) {
                    target.cancel();
                }
            }
        }
    }

    /// Stops feeding attempt `n` and resets its stream.
    fn remove(&mut self, n: u32) {
        for target in extract(&mut self.targets, |t| t.n == n) {
            target.cancel();
        }
    }

    /// The buffers overflowed: keeps the attempt that was sent the most (the earliest of
    /// those level), cancels the others, and tells the attempt loop.
    fn overflow(&mut self) {
        let most = self.targets.iter().map(|t| t.next).max();
        let kept = self
            .targets
            .iter()
            .filter(|t| Some(t.next) == most)
            .map(|t| t.n)
            .min();
        for target in extract(&mut self.targets, |t| Some(t.n) != kept) {
            target.cancel();
        }
        tracing::debug!(
            ?kept,
            "request stream past the retry buffer: committed to one attempt"
        );
        let _ = self.state.overflow.set(kept);
        self.state.overflowed.notify_one();
    }
}

/// Takes out the targets for which `which` holds.
fn extract(targets: &mut Vec<Target>, which: impl Fn(&Target) -> bool) -> Vec<Target> {
    let (out, kept) = std::mem::take(targets).into_iter().partition(which);
    *targets = kept;
    out
}

/// Waits for one of the targets' sends to finish: its index and the stream it gives back.
async fn sent(targets: &mut [Target]) -> (usize, Option<SendBody>) {
    poll_fn(|cx| {
        for (index, target) in targets.iter_mut().enumerate() {
            if let Feed::Sending(sending) = &mut target.feed {
                if let Poll::Ready(stream) = sending.as_mut().poll(cx) {
                    target.feed = Feed::Gone;
                    return Poll::Ready((index, stream));
                }
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::BytesCodec;
    use crate::wire::queue;
    use crate::Endpoint;

    /// A message as it goes on the wire: the gRPC frame header, then `payload`.
    fn framed(payload: &[u8]) -> Bytes {
        let mut frame = vec![0];
        frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(payload);
        Bytes::from(frame)
    }

    /// What an attempt's stream carries next: data, `None` at its end, `Err` if reset.
    async fn next(stream: &mut queue::Receiver) -> Option<Result<Bytes, Status>> {
        poll_fn(|cx| stream.poll_data(cx)).await
    }

    fn start(
        channel: &Channel,
        first: queue::Sender,
    ) -> (RequestSender, Replay, crate::message_stream::Sender<Bytes>) {
        let (messages, stream) = crate::message_stream::channel(4);
        let (sender, replay) = spawn(
            channel.clone(),
            SendBody::Queue(first),
            stream,
            BytesCodec,
            usize::MAX,
            None,
            None,
        );
        (sender, replay, messages)
    }

    fn buffered(channel: &Channel) -> usize {
        channel.inner.retry_buffered.load(Ordering::Acquire)
    }

    #[tokio::test]
    async fn a_late_attempt_gets_everything_and_the_winner_alone_the_rest() {
        let channel = Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let (first, mut first_rx) = queue::channel(1 << 20);
        let (_sender, replay, messages) = start(&channel, first);
        messages.send(Bytes::from_static(b"a")).await.unwrap();
        assert_eq!(next(&mut first_rx).await.unwrap().unwrap(), framed(b"a"));
        assert_eq!(buffered(&channel), framed(b"a").len());

        let (second, mut second_rx) = queue::channel(1 << 20);
        replay.add(1, SendBody::Queue(second));
        assert_eq!(next(&mut second_rx).await.unwrap().unwrap(), framed(b"a"));
        messages.send(Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(next(&mut first_rx).await.unwrap().unwrap(), framed(b"b"));
        assert_eq!(next(&mut second_rx).await.unwrap().unwrap(), framed(b"b"));

        replay.commit(1);
        messages.send(Bytes::from_static(b"c")).await.unwrap();
        assert!(next(&mut first_rx).await.unwrap().is_err(), "reset");
        assert_eq!(next(&mut second_rx).await.unwrap().unwrap(), framed(b"c"));
        assert_eq!(buffered(&channel), 0, "nothing kept once committed");
        drop(messages);
        assert!(next(&mut second_rx).await.is_none(), "END_STREAM");
        assert!(replay.can_retry(), "committed, not overflowed");
    }

    #[tokio::test]
    async fn past_the_buffer_the_attempt_sent_the_most_is_kept() {
        let channel = Endpoint::from_static("http://127.0.0.1:1")
            .per_rpc_buffer_limit(16)
            .connect_lazy();
        // The first attempt's window takes one message until it is read (it never is).
        let (first, mut first_rx) = queue::channel(1);
        let (_sender, replay, messages) = start(&channel, first);
        let (second, mut second_rx) = queue::channel(1 << 20);
        replay.add(1, SendBody::Queue(second));
        // One at a time, lest they go as one chunk.
        messages.send(Bytes::from_static(b"a")).await.unwrap();
        assert_eq!(next(&mut second_rx).await.unwrap().unwrap(), framed(b"a"));
        messages.send(Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(next(&mut second_rx).await.unwrap().unwrap(), framed(b"b"));
        assert!(replay.can_retry(), "12 bytes kept of 16");

        messages
            .send(Bytes::from_static(b"past the limit"))
            .await
            .unwrap();
        assert_eq!(replay.overflowed().await, Some(1), "sent two, against one");
        assert!(!replay.can_retry());
        assert_eq!(buffered(&channel), 0);
        assert_eq!(
            next(&mut second_rx).await.unwrap().unwrap(),
            framed(b"past the limit")
        );
        // The first got "a" only, then its stream was dropped unfinished.
        assert_eq!(next(&mut first_rx).await.unwrap().unwrap(), framed(b"a"));
        assert!(next(&mut first_rx).await.unwrap().is_err());

        // No new attempt once committed: its stream is reset at once.
        let (third, mut third_rx) = queue::channel(1 << 20);
        replay.add(2, SendBody::Queue(third));
        assert!(next(&mut third_rx).await.unwrap().is_err());
        drop(messages);
        assert!(next(&mut second_rx).await.is_none(), "END_STREAM");
    }
}
