//! A subchannel: the connection to one backend (or, for `pick_first`, to the first of a
//! list of addresses that answers), kept up by a task that reconnects with the gRPC
//! connection backoff and reports its [`ConnectivityState`].

use std::sync::atomic::{AtomicU8, Ordering};
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
    /// Starts a subchannel for `addresses`, connecting at once.
    pub(crate) fn start(
        addresses: Vec<Address>,
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
            shared.clone(),
            endpoint,
            signals,
            reconnect,
        ));
        Subchannel {
            addresses,
            shared,
            _task: AbortOnDrop(task),
        }
    }

    pub(crate) fn state(&self) -> ConnectivityState {
        ConnectivityState::from_u8(self.shared.state.load(Ordering::Acquire))
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
                *shared.connection.lock().expect("subchannel lock") = Some(connection);
                shared.set(ConnectivityState::Ready, &signals);
                closed.wait().await;
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
