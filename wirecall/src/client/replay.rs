//! The request sender of a streaming call with a retry policy: it keeps what it sent until
//! the call commits, so that a retry attempt gets every message again (gRFC A6), then
//! carries on with the rest of the stream. Past the buffer limits it stops keeping
//! messages, which commits the call to its current attempt.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

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

/// The attempt loop's side of a replaying sender.
pub(crate) struct Replay {
    attempts: mpsc::UnboundedSender<SendBody>,
    state: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Set by the attempt loop when the call commits: keep nothing more.
    committed: AtomicBool,
    /// Set by the sender when the buffers overflowed: the call can no longer be retried.
    overflowed: AtomicBool,
}

impl Replay {
    /// Hands a new attempt's stream to the sender, which resends everything to it.
    pub(crate) fn next_attempt(&self, stream: SendBody) {
        let _ = self.attempts.send(stream);
    }

    /// Whether a retry can still replay every message sent so far.
    pub(crate) fn can_retry(&self) -> bool {
        !self.state.overflowed.load(Ordering::Acquire)
    }

    /// The call committed: the sender drops what it kept.
    pub(crate) fn commit(&self) {
        self.state.committed.store(true, Ordering::Release);
    }
}

/// What the sender keeps of a call's request stream, counted against the channel's retry
/// buffer until dropped.
struct Kept {
    chunks: Vec<Bytes>,
    bytes: usize,
    channel: Channel,
}

impl Kept {
    /// Keeps `chunk`, or returns `false` (keeping nothing more) past the per-call limit or
    /// the channel's total.
    fn keep(&mut self, chunk: &Bytes) -> bool {
        let config = &self.channel.inner.endpoint.config;
        let total = &self.channel.inner.retry_buffered;
        let before = total.fetch_add(chunk.len(), Ordering::AcqRel);
        self.bytes += chunk.len();
        if self.bytes > config.per_rpc_buffer_limit
            || before + chunk.len() > config.retry_buffer_size
        {
            self.release();
            return false;
        }
        self.chunks.push(chunk.clone());
        true
    }

    fn release(&mut self) {
        self.channel
            .inner
            .retry_buffered
            .fetch_sub(self.bytes, Ordering::AcqRel);
        self.bytes = 0;
        self.chunks = Vec::new();
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.release();
    }
}

/// Starts sending `messages` on `first`, keeping them for later attempts.
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
    let (attempts_tx, attempts) = mpsc::unbounded_channel();
    let state = Arc::new(Shared::default());
    let error = Arc::new(Mutex::new(None));
    let kept = Kept {
        chunks: Vec::new(),
        bytes: 0,
        channel,
    };
    let task = tokio::spawn(send_and_keep(
        first,
        attempts,
        messages,
        encoder,
        Batches::new(max, encoding, hook),
        kept,
        state.clone(),
        error.clone(),
    ));
    let replay = Replay {
        attempts: attempts_tx,
        state,
    };
    (RequestSender::from_task(AbortOnDrop(task), error), replay)
}

#[allow(clippy::too_many_arguments)]
async fn send_and_keep<S, E>(
    first: SendBody,
    mut attempts: mpsc::UnboundedReceiver<SendBody>,
    messages: S,
    mut encoder: E,
    mut batches: Batches,
    mut kept: Kept,
    state: Arc<Shared>,
    error: Arc<Mutex<Option<Status>>>,
) where
    S: Stream<Item = E::Item>,
    E: Encoder,
{
    let mut messages = pin!(messages);
    let mut current = Some(first);
    let mut keeping = true;
    let mut ended = false;
    // Until the attempt loop is gone (the call committed or ended).
    let mut retrying = true;
    while retrying || !ended {
        tokio::select! {
            biased;
            attempt = attempts.recv(), if retrying => {
                let Some(mut stream) = attempt else {
                    retrying = false;
                    keeping = false;
                    kept.release();
                    continue;
                };
                let mut resent = true;
                for chunk in &kept.chunks {
                    if stream.send_data(chunk.clone()).await.is_err() {
                        resent = false;
                        break;
                    }
                }
                if resent && ended {
                    let _ = stream.send_now(Bytes::new(), true);
                }
                current = resent.then_some(stream);
            }
            batch = batches.next(messages.as_mut(), &mut encoder, Ok), if !ended => {
                let (bytes, last) = match batch {
                    Batch::End => (Bytes::new(), true),
                    Batch::Chunk { bytes, last } => (bytes, last),
                    Batch::Failed { status, .. } => {
                        fail(&error, status);
                        if let Some(stream) = current.as_mut() {
                            stream.reset();
                        }
                        return;
                    }
                };
                if keeping && state.committed.load(Ordering::Acquire) {
                    keeping = false;
                    kept.release();
                }
                if keeping && !bytes.is_empty() && !kept.keep(&bytes) {
                    keeping = false;
                    state.overflowed.store(true, Ordering::Release);
                }
                ended = last;
                if let Some(stream) = current.as_mut() {
                    let sent = bytes.is_empty() || stream.send_data(bytes).await.is_ok();
                    if !sent {
                        current = None;
                    } else if ended {
                        let _ = stream.send_now(Bytes::new(), true);
                    }
                }
            }
        }
    }
}
