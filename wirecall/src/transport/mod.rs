//! The only module that touches sockets: TCP listening and connecting, with `TCP_NODELAY`
//! set, since gRPC's small messages must not wait for Nagle's algorithm.

mod coalesce;

pub(crate) use coalesce::coalesce;

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

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

/// Runs the client side of a TLS handshake and checks that the server chose `h2`.
#[cfg(feature = "tls")]
pub(crate) async fn tls_connect(
    tls: &crate::client::endpoint::TlsSettings,
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
pub(crate) async fn tls_accept(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: TcpStream,
) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    acceptor.accept(io).await
}
