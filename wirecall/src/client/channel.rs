//! [`Channel`]: the handle every call and generated client shares. A plain target is one
//! HTTP/2 connection to one server, connected on first use and reconnected after it is
//! lost; a name-resolving target (`dns:`, `ipv4:`, `ipv6:`, or a custom
//! [`Resolver`](super::Resolver)) balances calls over a subchannel per backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::backoff::Backoff;
use super::balancer::Balancer;
use super::connection::{self, Connection};
use super::endpoint::{Endpoint, Transport};
use super::idle::{Activity, Check};
use super::retry::Throttle;
use super::subchannel::Signals;
use super::ConnectivityState;
use crate::in_flight::InFlight;
use crate::service_config::ServiceConfig;
use crate::task::AbortOnDrop;
use crate::{Error, Status};

/// A cheap-to-clone handle to a server or a set of backends. Every clone shares the
/// connections.
#[derive(Clone)]
pub struct Channel {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) endpoint: Arc<Endpoint>,
    /// The target as interceptors are told it (`Endpoint::target`).
    pub(crate) target: Arc<str>,
    route: Route,
    /// The endpoint's service config's `retryThrottling`, shared by every call (a
    /// balanced channel's resolver may bring another: `Inner::throttle`).
    throttle: Option<Arc<Throttle>>,
    /// Request bytes kept for retries by calls in flight (A6 `retryBufferSize`).
    pub(crate) retry_buffered: std::sync::atomic::AtomicUsize,
    /// Its calls, for idle mode (`None`: never idle).
    activity: Option<Activity>,
    /// The idle timer's task while it runs; it ends with the channel.
    idle_timer: Mutex<Option<AbortOnDrop>>,
}

enum Route {
    Direct(Direct),
    Balanced(Arc<Balancer>),
}

/// One connection to one address.
struct Direct {
    conn: Mutex<Option<Connection>>,
    /// Held while connecting, so concurrent first calls share one connection attempt.
    connecting: tokio::sync::Mutex<()>,
    /// Whether the last connection attempt failed.
    failed: AtomicBool,
    /// Whether to connect again once the connection is gone (not for a subchannel's).
    reconnect: bool,
    signals: Arc<Signals>,
}

impl Inner {
    /// The retry throttle calls follow now: the service config in force's.
    pub(crate) fn throttle(&self) -> Option<Arc<Throttle>> {
        match &self.route {
            Route::Direct(_) => self.throttle.clone(),
            Route::Balanced(balancer) => balancer.throttle(),
        }
    }

    /// The service config calls follow now: the resolver's, else the endpoint's.
    pub(crate) fn service_config(&self) -> Option<Arc<ServiceConfig>> {
        match &self.route {
            Route::Direct(_) => self.endpoint.config.service_config.clone(),
            Route::Balanced(balancer) => balancer.service_config(),
        }
    }
}

impl Channel {
    /// A channel to `endpoint` that connects on its first call, as
    /// [`Endpoint::connect_lazy`] makes.
    pub fn new(endpoint: Endpoint) -> Channel {
        let endpoint = Arc::new(endpoint);
        let route = match &endpoint.transport {
            Transport::Resolved(resolver) => {
                Route::Balanced(Balancer::new(endpoint.clone(), resolver.0.clone()))
            }
            _ => Route::Direct(Direct {
                conn: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                failed: AtomicBool::new(false),
                reconnect: true,
                signals: Signals::new(),
            }),
        };
        let throttle = endpoint
            .config
            .service_config
            .as_ref()
            .and_then(|c| c.retry_throttling())
            .map(|t| Arc::new(Throttle::new(t)));
        Channel {
            inner: Arc::new(Inner {
                target: endpoint.target().into(),
                activity: activity(&endpoint),
                endpoint,
                route,
                throttle,
                retry_buffered: Default::default(),
                idle_timer: Mutex::new(None),
            }),
        }
    }

    /// A channel making every call on `connection`, with `endpoint`'s settings but no
    /// service config and no default timeout (a subchannel's health watch runs on it).
    #[cfg(feature = "health")]
    pub(crate) fn on_connection(endpoint: &Endpoint, connection: Connection) -> Channel {
        let mut endpoint = endpoint.clone();
        endpoint.config.service_config = None;
        endpoint.config.timeout = None;
        Channel {
            inner: Arc::new(Inner {
                target: endpoint.target().into(),
                endpoint: Arc::new(endpoint),
                route: Route::Direct(Direct {
                    conn: Mutex::new(Some(connection)),
                    connecting: tokio::sync::Mutex::new(()),
                    failed: AtomicBool::new(false),
                    reconnect: false,
                    signals: Signals::new(),
                }),
                throttle: None,
                retry_buffered: Default::default(),
                // Its connection is its subchannel's, which idles with its channel.
                activity: None,
                idle_timer: Mutex::new(None),
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

    /// The channel's connectivity state now. A balanced channel is READY when any backend
    /// is, CONNECTING while one is being reached, TRANSIENT_FAILURE when all failed.
    pub fn state(&self) -> ConnectivityState {
        match &self.inner.route {
            Route::Direct(direct) => direct.state(),
            Route::Balanced(balancer) => balancer.state(),
        }
    }

    /// Waits until the state is no longer `from`, and returns the new one.
    pub async fn state_changed(&self, from: ConnectivityState) -> ConnectivityState {
        let signals = match &self.inner.route {
            Route::Direct(direct) => &direct.signals,
            Route::Balanced(balancer) => &balancer.signals,
        };
        let mut changes = signals.changed.subscribe();
        loop {
            changes.borrow_and_update();
            let state = self.state();
            if state != from {
                return state;
            }
            if changes.changed().await.is_err() {
                return state;
            }
        }
    }

    /// Connects now: a plain channel opens its connection; a balanced one resolves and
    /// waits until a backend is READY, failing when every one failed.
    pub(crate) async fn connect_now(&self) -> Result<(), Error> {
        match &self.inner.route {
            Route::Direct(_) => self.direct_connection().await.map(drop),
            Route::Balanced(balancer) => {
                balancer.start();
                let mut state = self.state();
                loop {
                    match state {
                        ConnectivityState::Ready => return Ok(()),
                        // A pick says why (or succeeds, if a backend just came up).
                        ConnectivityState::TransientFailure => {
                            return match balancer.pick(false).await {
                                Ok(_) => Ok(()),
                                Err(status) => Err(Error::connect(
                                    self.inner.endpoint.address.clone(),
                                    status.message().to_owned(),
                                )),
                            };
                        }
                        _ => state = self.state_changed(state).await,
                    }
                }
            }
        }
    }

    /// A sender ready for one more call, and that call's place in its connection's count.
    /// Nothing has been sent yet, so replacing a connection found closed is always safe.
    /// Without `wait_for_ready`, fails with `UNAVAILABLE` when no server can be reached;
    /// with it, keeps trying (the call's deadline bounds the wait).
    pub(crate) async fn ready_sender(
        &self,
        wait_for_ready: bool,
    ) -> Result<(crate::wire::Opener, InFlight), Status> {
        let Some(activity) = &self.inner.activity else {
            return self.pick(wait_for_ready).await;
        };
        let (call, start_timer) = activity.call_started(crate::clock::now());
        if start_timer {
            let timer = tokio::spawn(idle_timer(Arc::downgrade(&self.inner)));
            *self.inner.idle_timer.lock().expect("channel lock") = Some(AbortOnDrop(timer));
        }
        let (opener, mut in_flight) = self.pick(wait_for_ready).await?;
        in_flight.hold(call);
        Ok((opener, in_flight))
    }

    /// A sender from the route: the balancer's pick, or the one connection.
    async fn pick(&self, wait_for_ready: bool) -> Result<(crate::wire::Opener, InFlight), Status> {
        if let Route::Balanced(balancer) = &self.inner.route {
            return balancer.pick(wait_for_ready).await;
        }
        let mut backoff = None;
        let mut lost = 0;
        loop {
            match self.direct_connection().await {
                Ok(conn) => match conn.ready().await {
                    Ok(picked) => return Ok(picked),
                    Err(err) if lost > 0 => {
                        return Err(Status::unavailable(format!(
                            "connection lost: {}",
                            err.message()
                        )))
                    }
                    Err(_) => lost += 1,
                },
                Err(err) if !wait_for_ready => return Err(err.into()),
                Err(err) => {
                    tracing::debug!(%err, "waiting for the server (wait_for_ready)");
                    let backoff = backoff
                        .get_or_insert_with(|| Backoff::new(self.inner.endpoint.config.backoff));
                    // Boxed, as it is rare: inline, it would size every call's future.
                    Box::pin(tokio::time::sleep(backoff.next_wait())).await;
                }
            }
        }
    }

    async fn direct_connection(&self) -> Result<Connection, Error> {
        let Route::Direct(direct) = &self.inner.route else {
            unreachable!("only plain channels have one connection");
        };
        if let Some(conn) = direct.current() {
            return Ok(conn);
        }
        if !direct.reconnect {
            return Err(Error::connect(
                self.inner.endpoint.address.clone(),
                "the subchannel's connection is closed".to_owned(),
            ));
        }
        let _guard = direct.connecting.lock().await;
        if let Some(conn) = direct.current() {
            return Ok(conn);
        }
        direct.signals.bump();
        let endpoint = &self.inner.endpoint;
        // Boxed: connecting (TCP, TLS, HTTP/2 handshakes) is rare and its future is large;
        // inline, it would size the future of every call made on the channel.
        let result = Box::pin(connection::connect(
            endpoint,
            &endpoint.address,
            endpoint.config.connect_timeout,
        ))
        .await;
        direct.failed.store(result.is_err(), Ordering::Release);
        if let Ok(conn) = &result {
            *direct.conn.lock().expect("channel lock") = Some(conn.clone());
            // Watch for the connection closing, if it ever can (a direct one to a server's
            // core in this process cannot: a watcher would wait forever).
            if conn.can_close() {
                let closed = conn.closed.clone();
                let signals = direct.signals.clone();
                tokio::spawn(async move {
                    closed.wait().await;
                    signals.bump();
                });
            }
        }
        direct.signals.bump();
        result
    }
}

/// A channel's idle timer: once no call has been in flight or started for the idle
/// timeout, the channel goes IDLE (connections closed, resolution stopped) and the timer
/// stops, to start again with the next call.
async fn idle_timer(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(this) = inner.upgrade() else {
            return;
        };
        let activity = this.activity.as_ref().expect("an idle timer has activity");
        match activity.check(crate::clock::now()) {
            Check::Until(then) => {
                drop(this);
                tokio::time::sleep_until(then.into()).await;
            }
            Check::Stop => return,
            Check::Idle => {
                tracing::debug!(target = %this.target, timeout = ?activity.timeout, "channel idle");
                match &this.route {
                    Route::Direct(direct) => {
                        direct.conn.lock().expect("channel lock").take();
                        direct.signals.bump();
                    }
                    Route::Balanced(balancer) => balancer.go_idle(),
                }
                return;
            }
        }
    }
}

/// The idle mode of a channel to `endpoint`, unless its timeout is zero or it has no
/// connection to close (a server's call core in this process, the gateway's way in).
fn activity(endpoint: &Endpoint) -> Option<Activity> {
    let timeout = endpoint.config.idle_timeout;
    let closable = !matches!(endpoint.transport, Transport::Direct(_));
    (closable && !timeout.is_zero()).then(|| Activity::new(timeout, crate::clock::now()))
}

impl Direct {
    fn current(&self) -> Option<Connection> {
        let conn = self.conn.lock().expect("channel lock");
        conn.as_ref().filter(|c| c.is_open()).cloned()
    }

    fn state(&self) -> ConnectivityState {
        if self.current().is_some() {
            ConnectivityState::Ready
        } else if self.connecting.try_lock().is_err() {
            ConnectivityState::Connecting
        } else if self.failed.load(Ordering::Acquire) {
            ConnectivityState::TransientFailure
        } else {
            ConnectivityState::Idle
        }
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("authority", &self.inner.endpoint.authority)
            .finish_non_exhaustive()
    }
}
