//! A subchannel: the connection to one backend (or, for `pick_first`, to the first of a
//! list of addresses that answers), kept up by a task that reconnects with the gRPC
//! connection backoff and reports its [`ConnectivityState`].

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use super::backoff::Backoff;
use super::connection::{self, Connection};
use super::endpoint::Endpoint;
use super::resolver::Address;
use super::ConnectivityState;
use crate::task::AbortOnDrop;

/// What subchannels tell their channel: that some state changed (the value counts the
/// changes), and that the names should be resolved again.
#[derive(Debug)]
pub(crate) struct Signals {
    pub(crate) changed: watch::Sender<u64>,
    pub(crate) reresolve: Notify,
}

impl Signals {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Signals {
            changed: watch::Sender::new(0),
            reresolve: Notify::new(),
        })
    }

    pub(crate) fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// When a subchannel connects again after losing a connection it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reconnect {
    /// At once (round robin keeps every backend connected).
    Eagerly,
    /// When a call asks for it (pick_first goes IDLE).
    OnDemand,
}

/// A subchannel; dropping it stops its task and, with its last call, its connection.
pub(crate) struct Subchannel {
    pub(crate) addresses: Vec<Address>,
    /// The service its backend's health is watched for (gRFC A17), if any.
    pub(crate) health: Option<Arc<str>>,
    /// Ejected by outlier detection (gRFC A50): no calls until let back in.
    pub(crate) ejected: AtomicBool,
    shared: Arc<Shared>,
    _task: AbortOnDrop,
}

struct Shared {
    state: AtomicU8,
    connection: Mutex<Option<Connection>>,
    last_error: Mutex<Option<String>>,
    wake: Notify,
}

impl Subchannel {
    /// Starts a subchannel for `addresses`, connecting at once, and in service only while
    /// the backend says `health` is SERVING when that is set.
    pub(crate) fn start(
        addresses: Vec<Address>,
        health: Option<Arc<str>>,
        endpoint: Arc<Endpoint>,
        signals: Arc<Signals>,
        reconnect: Reconnect,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(ConnectivityState::Connecting.as_u8()),
            connection: Mutex::new(None),
            last_error: Mutex::new(None),
            wake: Notify::new(),
        });
        let task = tokio::spawn(keep_connected(
            addresses.clone(),
            health.clone(),
            shared.clone(),
            endpoint,
            signals,
            reconnect,
        ));
        Subchannel {
            addresses,
            health,
            ejected: AtomicBool::new(false),
            shared,
            _task: AbortOnDrop(task),
        }
    }

    pub(crate) fn state(&self) -> ConnectivityState {
        ConnectivityState::from_u8(self.shared.state.load(Ordering::Acquire))
    }

    /// Its state as the balancer sees it: TRANSIENT_FAILURE while ejected.
    pub(crate) fn effective_state(&self) -> ConnectivityState {
        if self.ejected.load(Ordering::Acquire) {
            return ConnectivityState::TransientFailure;
        }
        self.state()
    }

    /// Its connection, when READY and not found closed since.
    pub(crate) fn connection(&self) -> Option<Connection> {
        let connection = self.shared.connection.lock().expect("subchannel lock");
        connection.as_ref().filter(|c| c.is_open()).cloned()
    }

    /// Why its last connection attempt failed.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.shared
            .last_error
            .lock()
            .expect("subchannel lock")
            .clone()
    }

    /// Asks an IDLE subchannel to connect.
    pub(crate) fn request_connection(&self) {
        self.shared.wake.notify_one();
    }
}

impl Shared {
    /// Puts `connection` in service: READY.
    fn serve(&self, connection: Connection, signals: &Signals) {
        *self.connection.lock().expect("subchannel lock") = Some(connection);
        self.set(ConnectivityState::Ready, signals);
    }

    /// Takes the connection out of service (it stays open): `state` says why.
    #[cfg(feature = "health")]
    fn withdraw(&self, state: ConnectivityState, why: String, signals: &Signals) {
        self.connection.lock().expect("subchannel lock").take();
        *self.last_error.lock().expect("subchannel lock") = Some(why);
        self.set(state, signals);
    }

    fn set(&self, state: ConnectivityState, signals: &Signals) {
        let old = self.state.swap(state.as_u8(), Ordering::AcqRel);
        if old != state.as_u8() {
            signals.bump();
        }
    }
}

/// Connects, waits for the connection to close, and connects again, for as long as the
/// subchannel lives. A failed attempt is followed by TRANSIENT_FAILURE until the backoff
/// deadline, then the next attempt (connection-backoff.md: each attempt may take up to
/// the later of that deadline and the minimum connect timeout).
async fn keep_connected(
    addresses: Vec<Address>,
    health: Option<Arc<str>>,
    shared: Arc<Shared>,
    endpoint: Arc<Endpoint>,
    signals: Arc<Signals>,
    reconnect: Reconnect,
) {
    let config = &endpoint.config;
    let mut backoff = Backoff::new(config.backoff);
    loop {
        shared.set(ConnectivityState::Connecting, &signals);
        let deadline = Instant::now() + backoff.next_wait();
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .max(config.connect_timeout);
        let mut failure = None;
        let mut connected = None;
        for address in &addresses {
            let target = address.addr.to_string();
            match connection::connect(&endpoint, &target, timeout).await {
                Ok(connection) => {
                    connected = Some(connection);
                    break;
                }
                Err(err) => failure = Some(err.to_string()),
            }
        }
        match connected {
            Some(connection) => {
                backoff.reset();
                let closed = connection.closed.clone();
                match &health {
                    None => {
                        shared.serve(connection, &signals);
                        closed.wait().await;
                    }
                    Some(service) => {
                        tokio::select! {
                            () = closed.wait() => {}
                            () = watch_health(service, connection, &endpoint, &shared, &signals) => {}
                        }
                    }
                }
                tracing::debug!(addresses = ?addresses, "subchannel lost its connection");
                shared.connection.lock().expect("subchannel lock").take();
                shared.set(ConnectivityState::Idle, &signals);
                signals.reresolve.notify_one();
                if reconnect == Reconnect::OnDemand {
                    shared.wake.notified().await;
                }
            }
            None => {
                let failure = failure.unwrap_or_else(|| "no address".to_owned());
                tracing::debug!(%failure, "subchannel failed to connect");
                *shared.last_error.lock().expect("subchannel lock") = Some(failure);
                shared.set(ConnectivityState::TransientFailure, &signals);
                signals.reresolve.notify_one();
                tokio::time::sleep_until(deadline.into()).await;
            }
        }
    }
}

/// Client-side health checking (gRFC A17): watches `grpc.health.v1.Health/Watch` for
/// `service` on the subchannel's connection, in service only while it says SERVING.
/// CONNECTING until the first answer; a backend without the health service (UNIMPLEMENTED)
/// counts as healthy; a watch that fails otherwise is TRANSIENT_FAILURE and starts again
/// after a backoff. Returns only when the connection can carry no more calls.
#[cfg(feature = "health")]
async fn watch_health(
    service: &str,
    connection: Connection,
    endpoint: &Endpoint,
    shared: &Shared,
    signals: &Signals,
) {
    use crate::health_messages::{HealthCheckRequest, HealthCheckResponse, ServingStatus};
    use crate::Code;

    let channel = super::Channel::on_connection(endpoint, connection.clone());
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Watch");
    let mut backoff = Backoff::new(endpoint.config.backoff);
    loop {
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        let watched = channel
            .server_streaming::<_, HealthCheckResponse>(request, path.clone())
            .await;
        let mut answered = false;
        let ended = match watched {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(answer)) => {
                            answered = true;
                            backoff.reset();
                            if answer.status == ServingStatus::Serving as i32 {
                                shared.serve(connection.clone(), signals);
                            } else {
                                let status = ServingStatus::try_from(answer.status).map_or_else(
                                    |_| answer.status.to_string(),
                                    |s| format!("{s:?}"),
                                );
                                tracing::debug!(%service, %status, "backend not serving");
                                shared.withdraw(
                                    ConnectivityState::TransientFailure,
                                    format!("health check of {service:?}: {status}"),
                                    signals,
                                );
                            }
                        }
                        Ok(None) => break crate::Status::unavailable("the health watch ended"),
                        Err(status) => break status,
                    }
                }
            }
            Err(status) => status,
        };
        if connection.closed.is_closed() {
            return;
        }
        if ended.code() == Code::Unimplemented {
            tracing::warn!(
                %service,
                "the backend has no health service: taken as healthy (gRFC A17)"
            );
            shared.serve(connection, signals);
            return std::future::pending().await;
        }
        tracing::debug!(%service, status = %ended.message(), "health watch failed");
        shared.withdraw(
            ConnectivityState::TransientFailure,
            format!("health check of {service:?} failed: {}", ended.message()),
            signals,
        );
        // A watch that had answered starts again at once; one that never did, after a
        // backoff (gRFC A17).
        if !answered {
            tokio::time::sleep(backoff.next_wait()).await;
        }
    }
}

/// Without the `health` feature there is no health client: the backend counts as healthy.
#[cfg(not(feature = "health"))]
async fn watch_health(
    service: &str,
    connection: Connection,
    _endpoint: &Endpoint,
    shared: &Shared,
    signals: &Signals,
) {
    tracing::warn!(%service, "healthCheckConfig needs wirecall's `health` feature: ignored");
    shared.serve(connection, signals);
    std::future::pending().await
}
