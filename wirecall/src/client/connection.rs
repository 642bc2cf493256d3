//! One HTTP/2 connection to one server address: the handshake over TCP, TLS, a Unix socket
//! or an in-process pipe, the task that drives it, and the signal that it closed.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use super::endpoint::{Endpoint, Transport};
use crate::in_flight::InFlight;
use crate::wire::Opener;
use crate::Error;

/// A live connection; clones share it.
#[derive(Clone)]
pub(crate) struct Connection {
    pub(crate) opener: Opener,
    pub(crate) closed: Arc<Closed>,
    /// Calls in flight on it (keepalive pings only while there are some, by default).
    pub(crate) calls: Arc<AtomicUsize>,
}

/// Set once when a connection is gone, by its task or by a caller that found it dead.
#[derive(Debug, Default)]
pub(crate) struct Closed {
    flag: AtomicBool,
    notify: Notify,
}

impl Closed {
    pub(crate) fn close(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Waits until the connection is closed.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl Connection {
    /// A sender ready for one more stream and the call's place in the count; an error (and
    /// the connection marked closed) when the connection can take no more.
    pub(crate) async fn ready(&self) -> Result<(Opener, InFlight), crate::Status> {
        match self.opener.clone().ready().await {
            Ok(sender) => Ok((sender, InFlight::new(&self.calls))),
            Err(err) => {
                tracing::debug!(err = %err.message(), "connection lost");
                self.closed.close();
                Err(err)
            }
        }
    }

    /// Whether the connection may close (an HTTP/2 one); a direct one to a server's core in
    /// this process never does.
    pub(crate) fn can_close(&self) -> bool {
        !matches!(self.opener, Opener::Direct(_))
    }

    /// Whether the connection is still usable.
    pub(crate) fn is_open(&self) -> bool {
        !self.closed.is_closed()
    }
}

/// Connects to `address` (a `host:port` for TCP; ignored for Unix and in-process
/// endpoints) with `endpoint`'s transport, TLS and HTTP/2 settings, within `timeout`.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    address: &str,
    timeout: Duration,
) -> Result<Connection, Error> {
    let connect = async {
        match &endpoint.transport {
            Transport::Tcp | Transport::Resolved(_) => {}
            #[cfg(unix)]
            Transport::Unix(path) => {
                let io = crate::transport::connect_unix(path)
                    .await
                    .map_err(|e| Error::connect(address, e))?;
                return start(endpoint, address, io).await;
            }
            Transport::Direct(direct) => {
                return Ok(Connection {
                    opener: Opener::Direct(direct.clone()),
                    closed: Arc::default(),
                    calls: Arc::default(),
                })
            }
            Transport::InProcess(connector) => {
                let io = connector
                    .connect()
                    .map_err(|e| Error::connect(address, e))?;
                return start(endpoint, address, io).await;
            }
        }
        let io = crate::transport::connect(address)
            .await
            .map_err(|e| Error::connect(address, e))?;
        if endpoint.scheme == http::uri::Scheme::HTTPS {
            #[cfg(feature = "tls")]
            if let Some(tls) = &endpoint.tls {
                let io = crate::transport::tls_connect(tls, io)
                    .await
                    .map_err(|e| Error::connect(address, e))?;
                return start(endpoint, address, io).await;
            }
            return Err(Error::connect(
                address,
                "https targets need TLS settings (Endpoint::tls, feature `tls`)",
            ));
        }
        start(endpoint, address, io).await
    };
    tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| Error::connect(address, "connect timeout"))?
}

/// Runs the HTTP/2 handshake over `io` and spawns the task that drives the connection, on
/// the endpoint's HTTP/2 engine.
async fn start<IO>(endpoint: &Endpoint, address: &str, io: IO) -> Result<Connection, Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = &endpoint.config;
    if config.http2_engine == crate::Http2Engine::Wirecall {
        return Ok(super::own_http2::start(config, address, io));
    }
    let target = address.to_owned();
    // One socket write per turn of the connection task (see transport::coalesce).
    let (io, flusher) = crate::transport::coalesce(io);
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(config.limits.initial_stream_window_size)
        .initial_connection_window_size(config.limits.initial_connection_window_size)
        .max_header_list_size(config.limits.max_header_list_size)
        // h2 closes a connection whose peer sends more small DATA frames than this allows
        // to wait unread; its default follows the 64 KiB initial window, not ours, and a
        // peer that splits a large message finely (grpc's negative no_df_padding test
        // sends 5-byte frames) tripped it whenever the reader lagged ~130 frames.
        .data_frame_budget(config.limits.initial_connection_window_size as usize)
        .enable_push(false);
    let mut handshake = pin!(builder.handshake::<_, Bytes>(io));
    let (sender, mut connection) = poll_fn(|cx| flusher.turn(cx, |cx| handshake.as_mut().poll(cx)))
        .await
        .map_err(|e| Error::connect(&target, e))?;
    let closed = Arc::new(Closed::default());
    let signal = closed.clone();
    let keepalive = config.keepalive.zip(connection.ping_pong());
    let calls = Arc::new(AtomicUsize::new(0));
    let busy = calls.clone();
    tokio::spawn(async move {
        let driven = poll_fn(|cx| flusher.turn(cx, |cx| Pin::new(&mut connection).poll(cx)));
        let result = match keepalive {
            None => driven.await,
            Some((keepalive, pings)) => tokio::select! {
                result = driven => result,
                ended = crate::keepalive::watch(pings, keepalive, Some(&busy)) => {
                    if ended == crate::keepalive::Ended::PeerSilent {
                        tracing::warn!(%target, timeout = ?keepalive.timeout, "no keepalive pong: closing the connection");
                    }
                    Ok(())
                }
            },
        };
        if let Err(err) = result {
            tracing::debug!(%target, %err, "connection closed with an error");
        }
        signal.close();
    });
    Ok(Connection {
        opener: Opener::H2(sender),
        closed,
        calls,
    })
}
