//! The in-process transport: a server and its clients in one process, no socket, the same
//! HTTP/2 and gRPC semantics as over TCP (metadata, deadlines, cancellation, limits,
//! interceptors). For tests above all: stand a service up with canned handlers and call it
//! through its real generated client.
//!
//! ```
//! # async fn demo<S: wirecall::server::Service>(service: S) {
//! let listener = wirecall::in_process::Listener::new();
//! let channel = listener.channel(); // or listener.endpoint().timeout(..).connect_lazy()
//! tokio::spawn(
//!     wirecall::Server::builder()
//!         .add_service(service)
//!         .serve_in_process(listener, std::future::pending()),
//! );
//! // FooClient::new(channel) calls the service as if over the network.
//! # drop(channel);
//! # }
//! ```

use std::io;
use std::net::SocketAddr;

use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use crate::transport::Connector;
use crate::{Channel, Endpoint};

/// Where an in-process server accepts connections; hand it to
/// [`ServerBuilder::serve_in_process`](crate::server::ServerBuilder::serve_in_process).
#[derive(Debug)]
pub struct Listener {
    connector: Connector,
    incoming: mpsc::UnboundedReceiver<DuplexStream>,
}

impl Default for Listener {
    fn default() -> Self {
        Listener::new()
    }
}

impl Listener {
    /// A listener with no server yet; calls wait for one the way they would for a TCP
    /// server that is starting.
    pub fn new() -> Self {
        let (tx, incoming) = mpsc::unbounded_channel();
        Listener {
            connector: Connector::new(move |server| {
                tx.send(server).map_err(|_| {
                    io::Error::new(io::ErrorKind::ConnectionRefused, "in-process server gone")
                })
            }),
            incoming,
        }
    }

    /// An endpoint whose connections go to this listener's server (`:authority`
    /// `in-process`), to configure like any other.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::in_process(self.connector.clone())
    }

    /// A lazily connecting channel to this listener's server, with default settings.
    pub fn channel(&self) -> Channel {
        self.endpoint().connect_lazy()
    }
}

impl crate::transport::Accept for Listener {
    type Io = DuplexStream;

    async fn accept(&mut self) -> io::Result<(DuplexStream, Option<SocketAddr>)> {
        match self.incoming.recv().await {
            Some(pipe) => Ok((pipe, None)),
            // Unreachable while the listener holds a sender itself; kept for clarity.
            None => std::future::pending().await,
        }
    }
}
