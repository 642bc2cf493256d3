//! Small task utilities used by calls.

use tokio::task::JoinHandle;

/// Aborts a spawned task when dropped: ties a helper task's life to the call that owns it.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `step` once with the awaiting task's context: how a call takes its first step on
/// the task that starts it (a connection's, a gateway request's), which then goes on.
pub(crate) async fn with_context(step: impl FnOnce(&mut std::task::Context<'_>)) {
    let mut step = Some(step);
    std::future::poll_fn(|cx| {
        if let Some(step) = step.take() {
            step(cx);
        }
        std::task::Poll::Ready(())
    })
    .await
}
