//! The only module that touches sockets: TCP listening and connecting, with `TCP_NODELAY`
//! set, since gRPC's small messages must not wait for Nagle's algorithm; Unix domain
//! sockets; TLS; the write coalescing under h2, and the socket under our own HTTP/2 engine.

mod coalesce;
mod pipe;
#[cfg(feature = "web")]
mod sniff;
mod socket;

pub(crate) use coalesce::{coalesce, coalesce_observed, Observe};
pub(crate) use pipe::Connector;
#[cfg(feature = "web")]
pub(crate) use sniff::is_http2;
pub(crate) use socket::Socket;

use std::io;
use std::net::SocketAddr;

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// Where a server accepts connections: TCP, a Unix socket, in-process pipes.
pub(crate) trait Accept: Send {
    /// One accepted connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection and, over TCP, the peer's address.
    fn accept(&mut self)
        -> impl Future<Output = io::Result<(Self::Io, Option<SocketAddr>)>> + Send;
}

impl Accept for TcpListener {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, Option<SocketAddr>)> {
        let (stream, peer) = accept(self).await?;
        Ok((stream, Some(peer)))
    }
}

#[cfg(unix)]
impl Accept for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;

    async fn accept(&mut self) -> io::Result<(tokio::net::UnixStream, Option<SocketAddr>)> {
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        Ok((stream, None))
    }
}

/// Binds a TCP listener.
pub(crate) async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Accepts one connection, with `TCP_NODELAY` on.
pub(crate) async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let (stream, peer) = listener.accept().await?;
    stream.set_nodelay(true)?;
    Ok((stream, peer))
}

/// Connects to `host:port`, with `TCP_NODELAY` on.
pub(crate) async fn connect(authority: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects to the Unix domain socket at `path`.
#[cfg(unix)]
pub(crate) async fn connect_unix(path: &std::path::Path) -> io::Result<tokio::net::UnixStream> {
    tokio::net::UnixStream::connect(path).await
}

/// How a client connection does TLS: an endpoint's rustls config and the name it checks.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct TlsSettings {
    pub(crate) config: std::sync::Arc<rustls::ClientConfig>,
    pub(crate) server_name: rustls::pki_types::ServerName<'static>,
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Runs the client side of a TLS handshake and checks that the server chose `h2`.
#[cfg(feature = "tls")]
pub(crate) async fn tls_connect(
    tls: &TlsSettings,
    io: TcpStream,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let stream = connector.connect(tls.server_name.clone(), io).await?;
    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
        return Err(io::Error::other("the server did not negotiate ALPN h2"));
    }
    Ok(stream)
}

/// Runs the server side of a TLS handshake.
#[cfg(feature = "tls")]
pub(crate) async fn tls_accept<IO: AsyncRead + AsyncWrite + Unpin>(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: IO,
) -> io::Result<tokio_rustls::server::TlsStream<IO>> {
    acceptor.accept(io).await
}
