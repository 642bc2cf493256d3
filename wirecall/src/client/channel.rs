//! [`Channel`]: one HTTP/2 connection to one server, multiplexing every call, connected on
//! first use and reconnected after it is lost.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use h2::client::SendRequest;

use super::endpoint::{Endpoint, Transport};
use crate::{Error, Status};

/// A cheap-to-clone handle to a server. Every clone shares the one connection.
#[derive(Clone)]
pub struct Channel {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) endpoint: Endpoint,
    conn: Mutex<Option<Connection>>,
    /// Held while connecting, so concurrent first calls share one connection attempt.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Connection {
    sender: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
    /// Calls in flight on it (keepalive pings only while there are some, by default).
    calls: Arc<AtomicUsize>,
}

/// One call in flight on a connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(calls: &Arc<AtomicUsize>) -> Self {
        calls.fetch_add(1, Ordering::AcqRel);
        InFlight(calls.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Channel {
    /// A channel that connects on its first call.
    pub fn lazy(endpoint: Endpoint) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                endpoint,
                conn: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Connects to `target` (e.g. `http://127.0.0.1:50051`) with default settings.
    pub async fn connect(target: impl AsRef<str>) -> Result<Channel, Error> {
        Endpoint::new(target)?.connect().await
    }

    /// A lazily connecting channel for a literal target; panics on a malformed one.
    pub fn from_static(target: &'static str) -> Channel {
        Endpoint::from_static(target).connect_lazy()
    }

    /// The endpoint this channel connects to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    pub(crate) async fn connect_now(&self) -> Result<(), Error> {
        self.connection().await.map(drop)
    }

    /// A sender ready for one more stream. A connection found closed is replaced once; the
    /// request has not left yet, so this retry is always safe.
    /// A sender ready for one more call, and that call's place in its connection's count.
    pub(crate) async fn ready_sender(&self) -> Result<(SendRequest<Bytes>, InFlight), Status> {
        let mut last_err = None;
        for _ in 0..2 {
            let conn = self.connection().await?;
            match conn.sender.clone().ready().await {
                Ok(sender) => return Ok((sender, InFlight::new(&conn.calls))),
                Err(err) => {
                    tracing::debug!(%err, "connection lost; reconnecting");
                    conn.closed.store(true, Ordering::Release);
                    last_err = Some(err);
                }
            }
        }
        let err = last_err.expect("loop ran");
        Err(Status::unavailable(format!("connection lost: {err}")))
    }

    async fn connection(&self) -> Result<Connection, Error> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let _guard = self.inner.connecting.lock().await;
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        // Boxed: connecting (TCP, TLS, HTTP/2 handshakes) is rare and its future is large;
        // inline, it would size the future of every call made on the channel.
        let conn = Box::pin(self.handshake()).await?;
        *self.inner.conn.lock().expect("channel lock") = Some(conn.clone());
        Ok(conn)
    }

    fn current(&self) -> Option<Connection> {
        let conn = self.inner.conn.lock().expect("channel lock");
        conn.as_ref()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .cloned()
    }

    async fn handshake(&self) -> Result<Connection, Error> {
        let endpoint = &self.inner.endpoint;
        let target = endpoint.address.as_str();
        let connect = async {
            match &endpoint.transport {
                Transport::Tcp => {}
                #[cfg(unix)]
                Transport::Unix(path) => {
                    let io = crate::transport::connect_unix(path)
                        .await
                        .map_err(|e| Error::connect(target, e))?;
                    return start_connection(endpoint, io).await;
                }
                Transport::InProcess(connector) => {
                    let io = connector.connect().map_err(|e| Error::connect(target, e))?;
                    return start_connection(endpoint, io).await;
                }
            }
            let io = crate::transport::connect(target)
                .await
                .map_err(|e| Error::connect(target, e))?;
            if endpoint.scheme == http::uri::Scheme::HTTPS {
                #[cfg(feature = "tls")]
                if let Some(tls) = &endpoint.tls {
                    let io = crate::transport::tls_connect(tls, io)
                        .await
                        .map_err(|e| Error::connect(target, e))?;
                    return start_connection(endpoint, io).await;
                }
                return Err(Error::connect(
                    target,
                    "https targets need TLS settings (Endpoint::tls, feature `tls`)",
                ));
            }
            start_connection(endpoint, io).await
        };
        tokio::time::timeout(endpoint.config.connect_timeout, connect)
            .await
            .map_err(|_| Error::connect(target, "connect timeout"))?
    }
}

/// Runs the HTTP/2 handshake over `io` and spawns the task that drives the connection.
async fn start_connection<IO>(endpoint: &Endpoint, io: IO) -> Result<Connection, Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = &endpoint.config;
    let target = endpoint.address.clone();
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
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
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
        flag.store(true, Ordering::Release);
    });
    Ok(Connection {
        sender,
        closed,
        calls,
    })
}

impl Channel {}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("authority", &self.inner.endpoint.authority)
            .finish_non_exhaustive()
    }
}
