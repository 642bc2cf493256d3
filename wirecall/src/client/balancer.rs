//! Client-side load balancing: the subchannels of a name-resolving channel, kept in step
//! with its resolver, and the per-call pick among the READY ones (`pick_first`,
//! `round_robin`, and a weighted round robin by the resolver's address weights).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::connection::Connection;
use super::endpoint::Endpoint;
use super::outlier::{CallCounter, Changes, Detector};
use super::resolver::{Address, Resolver};
use super::retry::Throttle;
use super::subchannel::{Reconnect, Signals, Subchannel};
use super::ConnectivityState;
use crate::in_flight::InFlight;
use crate::service_config::{LoadBalancingPolicy, OutlierDetectionConfig, ServiceConfig};
use crate::task::AbortOnDrop;
use crate::Status;

/// The balancing half of a channel.
pub(crate) struct Balancer {
    endpoint: Arc<Endpoint>,
    resolver: Arc<dyn Resolver>,
    /// The service config in force and the policy it (or the endpoint) chose.
    applied: RwLock<Applied>,
    subchannels: RwLock<Arc<Vec<Arc<Subchannel>>>>,
    /// The round robin's next start.
    next: AtomicUsize,
    /// The smooth weighted round robin's running weights, by index in the READY list.
    weights: Mutex<Vec<i64>>,
    /// The READY list and the state version it was made at.
    picker: RwLock<(u64, Arc<Vec<Ready>>)>,
    pub(crate) signals: Arc<Signals>,
    /// Why the last resolution gave no addresses.
    resolve_error: Mutex<Option<String>>,
    /// Whether the first resolution has finished.
    resolved: AtomicBool,
    started: AtomicBool,
    /// The resolve loop. Lock order: `task`, then `applied`, then `subchannels`, then
    /// `outlier`, then `picker`; none is held across an await.
    task: Mutex<Option<AbortOnDrop>>,
    /// Bumped when the channel goes IDLE: a resolve loop of an older generation stops.
    generation: AtomicU64,
    /// Outlier detection, while the service config asks for it.
    outlier: Mutex<Option<Outlier>>,
}

impl Balancer {
    pub(crate) fn new(endpoint: Arc<Endpoint>, resolver: Arc<dyn Resolver>) -> Arc<Self> {
        let applied = Applied::of(&endpoint, endpoint.config.service_config.clone());
        Arc::new(Balancer {
            endpoint,
            resolver,
            applied: RwLock::new(applied),
            subchannels: RwLock::new(Arc::new(Vec::new())),
            next: AtomicUsize::new(0),
            weights: Mutex::new(Vec::new()),
            picker: RwLock::new((u64::MAX, Arc::new(Vec::new()))),
            signals: Signals::new(),
            resolve_error: Mutex::new(None),
            resolved: AtomicBool::new(false),
            started: AtomicBool::new(false),
            task: Mutex::new(None),
            generation: AtomicU64::new(0),
            outlier: Mutex::new(None),
        })
    }

    /// Leaves IDLE: starts resolving (and so connecting), once.
    pub(crate) fn start(self: &Arc<Self>) {
        if self.started.load(Ordering::Acquire) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut task = self.task.lock().expect("balancer lock");
        let generation = self.generation.load(Ordering::Acquire);
        let resolving = resolve_loop(Arc::downgrade(self), self.signals.clone(), generation);
        *task = Some(AbortOnDrop(tokio::spawn(resolving)));
        drop(task);
        self.signals.bump();
    }

    /// Goes IDLE: stops resolving, drops every subchannel (their connections close after
    /// their last call) and outlier detection's state; the next pick starts again.
    pub(crate) fn go_idle(&self) {
        // Under the task's lock, which a resolution holds while it applies its result: one
        // that finished meanwhile sees the new generation and drops its result.
        let mut task = self.task.lock().expect("balancer lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        task.take();
        self.outlier.lock().expect("balancer lock").take();
        *self.subchannels.write().expect("balancer lock") = Arc::new(Vec::new());
        // The picker holds connections too.
        *self.picker.write().expect("balancer lock") = (u64::MAX, Arc::new(Vec::new()));
        self.resolved.store(false, Ordering::Release);
        self.started.store(false, Ordering::Release);
        drop(task);
        self.signals.bump();
    }

    /// The channel's state, from its subchannels'.
    pub(crate) fn state(&self) -> ConnectivityState {
        if !self.started.load(Ordering::Acquire) {
            return ConnectivityState::Idle;
        }
        let subchannels = self.current();
        if subchannels.is_empty() && !self.resolved.load(Ordering::Acquire) {
            return ConnectivityState::Connecting;
        }
        ConnectivityState::aggregate(subchannels.iter().map(|s| s.effective_state()))
    }

    /// The service config calls follow now.
    pub(crate) fn service_config(&self) -> Option<Arc<ServiceConfig>> {
        self.applied.read().expect("balancer lock").config.clone()
    }

    /// The retry throttle of the service config in force.
    pub(crate) fn throttle(&self) -> Option<Arc<Throttle>> {
        self.applied.read().expect("balancer lock").throttle.clone()
    }

    /// The service whose health subchannels watch (`healthCheckConfig.serviceName`).
    fn health_service(&self) -> Option<Arc<str>> {
        let applied = self.applied.read().expect("balancer lock");
        applied
            .config
            .as_ref()?
            .health_check_service_name()
            .map(Arc::from)
    }

    fn policy(&self) -> LoadBalancingPolicy {
        self.applied.read().expect("balancer lock").policy
    }

    /// Takes the service config a resolution brought: the resolver's when it has one, the
    /// endpoint's when it has none, the last good one when it has a bad one.
    fn apply(self: &Arc<Self>, update: Option<Result<Arc<ServiceConfig>, String>>) {
        let config = match update {
            None => self.endpoint.config.service_config.clone(),
            Some(Ok(config)) => Some(config),
            Some(Err(why)) => {
                tracing::warn!(%why, "the resolver's service config is invalid; keeping the last one");
                return;
            }
        };
        let mut applied = Applied::of(&self.endpoint, config);
        let mut slot = self.applied.write().expect("balancer lock");
        // The same throttling settings keep their bucket's tokens.
        if let (Some(old), Some(new)) = (&slot.throttle, &applied.throttle) {
            if old.config() == new.config() {
                applied.throttle = Some(old.clone());
            }
        }
        let outlier = applied
            .config
            .as_ref()
            .and_then(|c| c.outlier_detection())
            .filter(|c| c.is_enabled())
            .cloned();
        if slot.policy != applied.policy {
            tracing::info!(from = ?slot.policy, to = ?applied.policy, "balancing policy changed");
        }
        *slot = applied;
        drop(slot);
        self.configure_outlier_detection(outlier);
    }

    /// Starts, reconfigures or stops outlier detection.
    fn configure_outlier_detection(self: &Arc<Self>, config: Option<OutlierDetectionConfig>) {
        let now = Instant::now();
        let subchannels = self.current();
        let mut slot = self.outlier.lock().expect("balancer lock");
        let changes = match (slot.as_mut(), config) {
            (Some(outlier), Some(config)) => {
                if *outlier.detector.config() == config {
                    return;
                }
                outlier.detector.set_config(config, now)
            }
            (None, Some(config)) => {
                let mut detector = Detector::new(config, now);
                detector.set_addresses(
                    subchannels
                        .iter()
                        .filter_map(|s| Some(s.addresses.first()?.addr)),
                );
                let sweeper = tokio::spawn(sweep_loop(Arc::downgrade(self)));
                *slot = Some(Outlier {
                    detector,
                    _sweeper: AbortOnDrop(sweeper),
                });
                return;
            }
            (Some(_), None) => {
                *slot = None;
                drop(slot);
                for subchannel in subchannels.iter() {
                    subchannel.ejected.store(false, Ordering::Release);
                }
                self.signals.bump();
                return;
            }
            (None, None) => return,
        };
        drop(slot);
        self.eject(&changes);
    }

    /// Runs one outlier detection sweep; how long until the next (`None`: detection is off).
    fn sweep(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut slot = self.outlier.lock().expect("balancer lock");
        let detector = &mut slot.as_mut()?.detector;
        let changes = detector.evaluate(now, &mut crate::random::random_u64);
        let next = detector.next_sweep_in(now);
        drop(slot);
        self.eject(&changes);
        next
    }

    /// Takes the subchannels of addresses just ejected out of the picks, and puts those of
    /// addresses let back in again.
    fn eject(&self, changes: &Changes<SocketAddr>) {
        if changes.is_empty() {
            return;
        }
        for subchannel in self.current().iter() {
            let Some(addr) = subchannel.addresses.first().map(|a| a.addr) else {
                continue;
            };
            if changes.ejected.contains(&addr) {
                tracing::info!(%addr, "outlier detection ejected a backend");
                subchannel.ejected.store(true, Ordering::Release);
            } else if changes.unejected.contains(&addr) {
                tracing::info!(%addr, "outlier detection let a backend back in");
                subchannel.ejected.store(false, Ordering::Release);
            }
        }
        self.signals.bump();
    }

    fn current(&self) -> Arc<Vec<Arc<Subchannel>>> {
        self.subchannels.read().expect("balancer lock").clone()
    }

    /// A sender for one call on a READY subchannel. Waits while subchannels connect; with
    /// nothing READY and everything failing, fails at once unless `wait_for_ready`.
    pub(crate) async fn pick(
        self: &Arc<Self>,
        wait_for_ready: bool,
    ) -> Result<(crate::wire::Opener, InFlight), Status> {
        self.start();
        // The common case: a READY backend.
        if let Some(chosen) = self.choose() {
            if let Ok(picked) = chosen.ready().await {
                return Ok(picked);
            }
        }
        let mut changes = self.signals.changed.subscribe();
        loop {
            changes.borrow_and_update();
            // Again each turn: the channel may have gone IDLE while this call waited.
            self.start();
            if let Some(chosen) = self.choose() {
                // A connection found dead here never carried the call: pick again.
                if let Ok(picked) = chosen.ready().await {
                    return Ok(picked);
                }
                continue;
            }
            let subchannels = self.current();
            for subchannel in subchannels.iter() {
                if subchannel.state() == ConnectivityState::Idle {
                    subchannel.request_connection();
                }
            }
            if !wait_for_ready && self.state() == ConnectivityState::TransientFailure {
                return Err(self.unavailable(&subchannels));
            }
            if changes.changed().await.is_err() {
                return Err(Status::unavailable("channel closed"));
            }
        }
    }

    fn unavailable(&self, subchannels: &[Arc<Subchannel>]) -> Status {
        if !subchannels.is_empty()
            && subchannels
                .iter()
                .all(|s| s.ejected.load(Ordering::Acquire))
        {
            return Status::unavailable(
                "no backend is reachable: outlier detection ejected every one",
            );
        }
        let why = subchannels
            .iter()
            .find_map(|s| s.last_error())
            .or_else(|| self.resolve_error.lock().expect("balancer lock").clone())
            .unwrap_or_else(|| "no addresses".to_owned());
        Status::unavailable(format!("no backend is reachable: {why}"))
    }

    /// The READY subchannels' connections with their weights, rebuilt when a state
    /// changed since the last time (the picker of gRPC's balancer API). Subchannels ejected
    /// by outlier detection are left out.
    fn ready(&self) -> Arc<Vec<Ready>> {
        let version = *self.signals.changed.borrow();
        {
            let picker = self.picker.read().expect("balancer lock");
            if picker.0 == version {
                return picker.1.clone();
            }
        }
        let subchannels = self.current();
        let outlier = self.outlier.lock().expect("balancer lock");
        let ready: Vec<Ready> = subchannels
            .iter()
            .filter(|s| !s.ejected.load(Ordering::Acquire))
            .filter_map(|s| {
                let weight = s.addresses.first().map_or(1, |a| a.weight.max(1));
                let outcomes = outlier
                    .as_ref()
                    .and_then(|o| o.detector.counter(&s.addresses.first()?.addr));
                s.connection().map(|connection| Ready {
                    connection,
                    weight,
                    outcomes,
                })
            })
            .collect();
        drop(outlier);
        let ready = Arc::new(ready);
        *self.picker.write().expect("balancer lock") = (version, ready.clone());
        ready
    }

    /// The READY subchannel the policy picks (skipping any whose connection was found
    /// closed since the list was made: their subchannels are about to say so).
    fn choose(&self) -> Option<Ready> {
        let ready = self.ready();
        let n = ready.len();
        let open = |r: &Ready| r.connection.is_open().then(|| r.clone());
        match self.policy() {
            LoadBalancingPolicy::PickFirst => ready.iter().find_map(open),
            LoadBalancingPolicy::RoundRobin => {
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                (0..n).find_map(|i| open(&ready[(start + i) % n]))
            }
            LoadBalancingPolicy::WeightedRoundRobin => {
                let mut running = self.weights.lock().expect("balancer lock");
                if running.len() != n {
                    *running = vec![0; n];
                }
                let weights = ready
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.connection.is_open())
                    .map(|(i, r)| (i, i64::from(r.weight)));
                let chosen = smooth_weighted(&mut running, weights)?;
                Some(ready[chosen].clone())
            }
        }
    }

    /// Replaces the subchannels with ones for `addresses`, keeping those whose addresses
    /// stay (their connections too).
    fn update(&self, addresses: Vec<Address>) {
        let policy = self.policy();
        let groups: Vec<Vec<Address>> = match policy {
            // One subchannel trying the addresses in order.
            LoadBalancingPolicy::PickFirst => vec![addresses],
            LoadBalancingPolicy::RoundRobin | LoadBalancingPolicy::WeightedRoundRobin => {
                addresses.into_iter().map(|a| vec![a]).collect()
            }
        };
        let reconnect = match policy {
            LoadBalancingPolicy::PickFirst => Reconnect::OnDemand,
            _ => Reconnect::Eagerly,
        };
        // pick_first never checks health (gRFC A17): it would stop at the first address.
        let health = match policy {
            LoadBalancingPolicy::PickFirst => None,
            _ => self.health_service(),
        };
        let same = |s: &Subchannel, group: &[Address]| s.addresses == group && s.health == health;
        let mut slot = self.subchannels.write().expect("balancer lock");
        if slot.len() == groups.len() && slot.iter().zip(&groups).all(|(s, g)| same(s, g)) {
            return;
        }
        let mut outlier = self.outlier.lock().expect("balancer lock");
        if let Some(outlier) = outlier.as_mut() {
            outlier
                .detector
                .set_addresses(groups.iter().filter_map(|g| Some(g.first()?.addr)));
        }
        let fresh: Vec<Arc<Subchannel>> = groups
            .into_iter()
            .map(|group| {
                slot.iter()
                    .find(|s| same(s, &group))
                    .cloned()
                    .unwrap_or_else(|| {
                        let subchannel = Subchannel::start(
                            group,
                            health.clone(),
                            self.endpoint.clone(),
                            self.signals.clone(),
                            reconnect,
                        );
                        let ejected = outlier.as_ref().zip(subchannel.addresses.first());
                        if ejected.is_some_and(|(o, a)| o.detector.is_ejected(&a.addr)) {
                            subchannel.ejected.store(true, Ordering::Release);
                        }
                        Arc::new(subchannel)
                    })
            })
            .collect();
        drop(outlier);
        tracing::debug!(backends = fresh.len(), ?policy, "addresses updated");
        *slot = Arc::new(fresh);
        drop(slot);
        self.signals.bump();
    }
}

/// The service config a balancer follows, and the policy and retry throttle that follow
/// from it.
struct Applied {
    config: Option<Arc<ServiceConfig>>,
    policy: LoadBalancingPolicy,
    throttle: Option<Arc<Throttle>>,
}

impl Applied {
    /// `config` in force: the endpoint's own policy wins, then the config's, then
    /// pick_first.
    fn of(endpoint: &Endpoint, config: Option<Arc<ServiceConfig>>) -> Self {
        let policy = endpoint
            .config
            .load_balancing
            .or_else(|| config.as_ref()?.load_balancing())
            .unwrap_or_default();
        let throttle = config
            .as_ref()
            .and_then(|c| c.retry_throttling())
            .map(|t| Arc::new(Throttle::new(t)));
        Applied {
            config,
            policy,
            throttle,
        }
    }
}

/// A READY subchannel's connection, its weight, and where its calls' outcomes count.
#[derive(Clone)]
struct Ready {
    connection: Connection,
    weight: u32,
    outcomes: Option<Arc<CallCounter>>,
}

impl Ready {
    /// A sender on its connection, the call counted for outlier detection if it is on.
    async fn ready(&self) -> Result<(crate::wire::Opener, InFlight), Status> {
        let (opener, mut in_flight) = self.connection.ready().await?;
        if let Some(outcomes) = &self.outcomes {
            in_flight.count_into(outcomes.clone());
        }
        Ok((opener, in_flight))
    }
}

/// Outlier detection (gRFC A50) while the service config asks for it: the detector and
/// the task that sweeps it every interval.
struct Outlier {
    detector: Detector<SocketAddr>,
    _sweeper: AbortOnDrop,
}

/// One step of the smooth weighted round robin: every ready index gains its weight, the
/// largest running weight is chosen and loses the total. Over any run of picks each index
/// gets its weight's share, interleaved rather than in bursts.
fn smooth_weighted(
    running: &mut [i64],
    ready: impl Iterator<Item = (usize, i64)>,
) -> Option<usize> {
    let mut total = 0;
    let mut best: Option<usize> = None;
    for (i, weight) in ready {
        running[i] += weight;
        total += weight;
        if best.is_none_or(|b| running[i] > running[b]) {
            best = Some(i);
        }
    }
    let best = best?;
    running[best] -= total;
    Some(best)
}

/// Sweeps outlier detection every interval, while it is on and the channel lives.
async fn sweep_loop(balancer: Weak<Balancer>) {
    let mut wait = balancer.upgrade().and_then(|b| {
        b.outlier
            .lock()
            .expect("balancer lock")
            .as_ref()?
            .detector
            .next_sweep_in(Instant::now())
    });
    while let Some(next) = wait {
        tokio::time::sleep(next).await;
        let Some(this) = balancer.upgrade() else {
            return;
        };
        wait = this.sweep();
    }
}

/// Resolves on the endpoint's interval, and again (no sooner than its minimum interval
/// after the last time) whenever a subchannel asks, until the channel is dropped.
async fn resolve_loop(balancer: Weak<Balancer>, signals: Arc<Signals>, generation: u64) {
    loop {
        let Some(this) = balancer.upgrade() else {
            return;
        };
        let started = Instant::now();
        let mut valid_for = None;
        let result = this.resolver.resolution().await;
        let task = this.task.lock().expect("balancer lock");
        if this.generation.load(Ordering::Acquire) != generation {
            return;
        }
        match result {
            Ok(resolution) if !resolution.addresses.is_empty() => {
                *this.resolve_error.lock().expect("balancer lock") = None;
                this.apply(resolution.service_config);
                this.update(resolution.addresses);
                valid_for = resolution.valid_for;
            }
            Ok(_) => this.resolution_failed("the resolver returned no addresses".to_owned()),
            Err(err) => this.resolution_failed(format!("name resolution failed: {err}")),
        }
        this.resolved.store(true, Ordering::Release);
        drop(task);
        signals.bump();
        let config = &this.endpoint.config;
        let min_interval = config.min_resolve_interval;
        // Again when the answer expires (never sooner than the minimum interval), else on
        // the channel's interval.
        let interval = valid_for.map_or(config.resolve_interval, |v| v.max(min_interval));
        drop(this);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = signals.reresolve.notified() => {
                tokio::time::sleep_until((started + min_interval).into()).await;
            }
        }
    }
}

impl Balancer {
    fn resolution_failed(&self, why: String) {
        tracing::warn!(%why, "keeping the previous addresses");
        *self.resolve_error.lock().expect("balancer lock") = Some(why);
    }
}

#[cfg(test)]
mod tests {
    use super::smooth_weighted;

    #[test]
    fn smooth_weighted_gives_each_its_share_interleaved() {
        let mut running = vec![0; 3];
        let weights = [5i64, 1, 1];
        let picks: Vec<usize> = (0..7)
            .map(|_| smooth_weighted(&mut running, weights.iter().copied().enumerate()).unwrap())
            .collect();
        assert_eq!(picks.iter().filter(|&&i| i == 0).count(), 5);
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 1);
        assert_eq!(picks.iter().filter(|&&i| i == 2).count(), 1);
        assert_ne!(picks[..3], [0, 0, 0], "interleaved, not a burst: {picks:?}");
        assert_eq!(smooth_weighted(&mut running, std::iter::empty()), None);
    }
}
