//! The context of the call a handler is serving: its deadline and its cancellation.
//!
//! The server runs every call inside its [`CallContext`] (a tokio task-local), so a client
//! call made while handling it inherits both without user code: the outgoing `grpc-timeout`
//! is at most what is left of the incoming deadline, and the outgoing call ends with
//! `CANCELLED` as soon as the incoming one is cancelled (the client went away, its deadline
//! passed, or the handler finished). [`detached`] opts a piece of work out;
//! [`CallContext::scope`] carries the context into a task of its own.
//!
//! ```no_run
//! # async fn example(client: wirecall::Channel) {
//! use wirecall::context::{self, CallContext};
//!
//! // Inside a handler:
//! if let Some(call) = CallContext::current() {
//!     println!("deadline: {:?}", call.deadline());
//! }
//! // A spawned task keeps the link to the call that started it:
//! let call = CallContext::current();
//! tokio::spawn(async move {
//!     let work = async { /* client calls here inherit the deadline */ };
//!     match call {
//!         Some(call) => call.scope(work).await,
//!         None => work.await,
//!     }
//! });
//! // Work that must outlive the call, or not share its deadline:
//! context::detached(async { /* client calls here start afresh */ }).await;
//! # }
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Instant;

use tokio::sync::Notify;

use crate::trace::TraceParent;
use crate::Status;

tokio::task_local! {
    static CURRENT: Option<CallContext>;
}

/// The deadline and cancellation of one incoming call. Cheap to clone; clones share the
/// cancellation.
#[derive(Clone, Debug)]
pub struct CallContext {
    deadline: Option<Instant>,
    cancel: Arc<Cancel>,
}

#[derive(Debug, Default)]
struct Cancel {
    cancelled: AtomicBool,
    notify: Notify,
    /// The call's span in its trace, once an interceptor has set it.
    trace: OnceLock<TraceParent>,
}

impl CallContext {
    /// A context with `deadline`, not cancelled.
    pub fn new(deadline: Option<Instant>) -> CallContext {
        CallContext {
            deadline,
            cancel: Arc::default(),
        }
    }

    /// The context of the call being served by the current task, if any.
    pub fn current() -> Option<CallContext> {
        CURRENT.try_with(Clone::clone).ok().flatten()
    }

    /// When the call must be finished (from the client's `grpc-timeout`).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The call's span in its distributed trace, if
    /// [`TraceContext`](crate::interceptor::TraceContext) runs on the server.
    pub fn trace(&self) -> Option<TraceParent> {
        self.cancel.trace.get().copied()
    }

    /// Sets the call's trace span (once; later calls are ignored).
    pub(crate) fn set_trace(&self, trace: TraceParent) {
        let _ = self.cancel.trace.set(trace);
    }

    /// Whether the call has been cancelled (or has finished).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.cancelled.load(Ordering::Acquire)
    }

    /// Completes when the call is cancelled (or has finished).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.cancel.notify.notified();
            let mut notified = pin!(notified);
            // Register before checking, so a cancel between the two is not missed.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Cancels the call: every [`cancelled`](Self::cancelled) completes and client calls
    /// made in its context end with `CANCELLED`.
    pub fn cancel(&self) {
        if !self.cancel.cancelled.swap(true, Ordering::AcqRel) {
            self.cancel.notify.notify_waiters();
        }
    }

    /// Runs `fut` with this as the current call context (e.g. in a spawned task).
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CURRENT.scope(Some(self), fut).await
    }

    /// A guard that cancels this context when dropped.
    pub(crate) fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Runs `fut` outside any call context: client calls made in it neither inherit the
/// deadline of the call being served nor end when it is cancelled.
pub async fn detached<F: Future>(fut: F) -> F::Output {
    CURRENT.scope(None, fut).await
}

/// Cancels its context when dropped: the server holds one for every call it runs.
#[derive(Debug)]
pub(crate) struct CancelOnDrop(CallContext);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Runs an outgoing call under the current call context: it ends with `CANCELLED` when the
/// call being served is cancelled first.
pub(crate) async fn under_parent<T, F>(parent: Option<CallContext>, call: F) -> Result<T, Status>
where
    F: Future<Output = Result<T, Status>>,
{
    let Some(parent) = parent else {
        return call.await;
    };
    let mut call = pin!(call);
    let mut cancelled = pin!(parent.cancelled());
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = call.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Status::cancelled(
                "the call this one was made for was cancelled",
            )));
        }
        Poll::Pending
    })
    .await
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn current_is_set_inside_scope_only() {
        assert!(CallContext::current().is_none());
        let deadline = Instant::now() + Duration::from_secs(5);
        let seen = CallContext::new(Some(deadline))
            .scope(async { CallContext::current().and_then(|c| c.deadline()) })
            .await;
        assert_eq!(seen, Some(deadline));
        let inner = CallContext::new(Some(deadline))
            .scope(detached(async { CallContext::current().is_none() }))
            .await;
        assert!(inner, "detached hides the context");
    }

    #[tokio::test]
    async fn cancel_wakes_waiters_and_ends_child_calls() {
        let context = CallContext::new(None);
        let waiter = tokio::spawn({
            let context = context.clone();
            async move { context.cancelled().await }
        });
        let child = tokio::spawn(under_parent(
            Some(context.clone()),
            std::future::pending::<Result<(), Status>>(),
        ));
        tokio::task::yield_now().await;
        assert!(!context.is_cancelled());
        drop(context.cancel_on_drop());
        assert!(context.is_cancelled());
        waiter.await.expect("waiter completes");
        let status = child.await.expect("child completes").unwrap_err();
        assert_eq!(status.code(), crate::Code::Cancelled);
        // Already cancelled: completes at once.
        context.cancelled().await;
    }

    #[test]
    fn earliest_deadline() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest(Some(now), Some(later)), Some(now));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(now), None), Some(now));
        assert_eq!(earliest(None, None), None);
    }
}
