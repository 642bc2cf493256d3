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
