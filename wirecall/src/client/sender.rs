//! The task that sends a client-streaming or bidirectional call's request messages, under
//! flow control, while the caller reads responses.

use std::pin::pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_core::Stream;

use crate::batch::{Batch, Batches};
use crate::codec::Encoder;
use crate::compression::Encoding;
use crate::interceptor::MessageHook;
use crate::streaming::RequestSender;
use crate::task::AbortOnDrop;
use crate::wire::SendBody;
use crate::Status;

/// Starts sending every message of `messages` on `send`, then END_STREAM; the handle
/// stops the task when dropped.
pub(crate) fn spawn<S, E>(
    send: SendBody,
    messages: S,
    encoder: E,
    max: usize,
    encoding: Option<Encoding>,
    hook: Option<MessageHook>,
) -> RequestSender
where
    S: Stream<Item = E::Item> + Send + 'static,
    E: Encoder,
    E::Item: Send,
{
    let error = Arc::new(Mutex::new(None));
    let task = tokio::spawn(send_all(
        send,
        messages,
        encoder,
        max,
        encoding,
        hook,
        error.clone(),
    ));
    RequestSender::from_task(AbortOnDrop(task), error)
}

async fn send_all<S, E>(
    mut send: SendBody,
    messages: S,
    mut encoder: E,
    max: usize,
    encoding: Option<Encoding>,
    hook: Option<MessageHook>,
    error: Arc<Mutex<Option<Status>>>,
) where
    S: Stream<Item = E::Item>,
    E: Encoder,
{
    let mut messages = pin!(messages);
    let mut batches = Batches::new(max, encoding, hook);
    loop {
        match batches.next(messages.as_mut(), &mut encoder, Ok).await {
            Batch::End => break,
            Batch::Failed { status, .. } => {
                fail(&error, status);
                send.reset();
                return;
            }
            Batch::Chunk { bytes, last } => {
                if let Err(err) = send.send_data(bytes).await {
                    tracing::debug!(%err, "request stream closed while sending");
                    return;
                }
                if last {
                    break;
                }
            }
        }
    }
    let _ = send.send_now(Bytes::new(), true);
}

/// Records why the sender gave up.
pub(crate) fn fail(error: &Mutex<Option<Status>>, status: Status) {
    tracing::debug!(%status, "cancelling call: a request message could not be sent");
    if let Ok(mut slot) = error.lock() {
        *slot = Some(status);
    }
}
