//! In-process pipes: what an in-process endpoint connects with ([`Connector`]), a duplex
//! pipe per connection whose server end goes to whatever serves it.

use std::io;

use tokio::io::DuplexStream;

/// Bytes each direction of an in-process connection buffers.
const PIPE_BUFFER: usize = 256 * 1024;

/// Hands the server's end of a new pipe to whatever serves it.
type Accepting = dyn Fn(DuplexStream) -> io::Result<()> + Send + Sync;

/// What an in-process endpoint connects with: it gives the server's end of a new pipe to
/// the listener (see `crate::in_process`).
#[derive(Clone)]
pub(crate) struct Connector(std::sync::Arc<Accepting>);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

impl Connector {
    /// A connector whose server ends go to `accept`.
    pub(crate) fn new(
        accept: impl Fn(DuplexStream) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Connector(std::sync::Arc::new(accept))
    }

    /// A new connection: the client's end of a pipe whose other end the server accepts.
    pub(crate) fn connect(&self) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER);
        (self.0)(server)?;
        Ok(client)
    }
}
