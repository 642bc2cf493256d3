//! SANS-IO: outlier detection (gRFC A50), the passive health check that stops sending calls
//! to backends whose calls fail more than their peers'.
//!
//! Three parts:
//! * [`OutlierDetectionConfig`], what the service config's `outlier_detection_experimental`
//!   policy sets (parsed in [`crate::service_config`]).
//! * [`CallCounter`], one per address, which every finished call on that address bumps; it
//!   is shared by reference and only does atomic adds, so calls on many threads count at once.
//! * [`Detector`], the state per address (its counter, when it was ejected, its ejection-time
//!   multiplier) and the sweep run every `interval`: it takes each counter's counts, runs the
//!   success-rate and failure-percentage algorithms, and ejects or un-ejects addresses.
//!
//! The detector reads no clock and draws no random numbers of its own: the caller passes
//! `now` and a random source in, so tests are exact. Ejecting an address (reporting its
//! subchannels as TRANSIENT_FAILURE to the balancing policy) is the caller's job; the
//! detector only says which addresses changed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::service_config::{
    FailurePercentageEjection, OutlierDetectionConfig, SuccessRateEjection,
};

/// The shortest wait between two sweeps. A50 allows an `interval` of 0; sweeping back to
/// back would spin, so the timer waits at least this long.
const MIN_SWEEP_INTERVAL: Duration = Duration::from_millis(1);

/// The calls one address finished in an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// Calls that ended with status OK.
    pub(crate) successes: u64,
    /// Calls that ended with any other status.
    pub(crate) failures: u64,
}

impl Bucket {
    fn total(self) -> u64 {
        self.successes.saturating_add(self.failures)
    }
}

/// The call counter of one address, bumped on the hot path by every call that finishes there.
///
/// A50's counter has two buckets: the active one counts, and each sweep zeroes the inactive
/// one and swaps them, so the inactive bucket holds the interval just ended. Here the active
/// bucket is this counter's two atomics, and a sweep [takes](CallCounter::take) them (reads
/// and zeroes each in one atomic swap) into the inactive bucket, which lives in the
/// detector. A call finishing during the sweep lands in one interval or the next, never in
/// neither, and recording costs one relaxed atomic add.
#[derive(Debug, Default)]
pub(crate) struct CallCounter {
    successes: AtomicU64,
    failures: AtomicU64,
}

impl CallCounter {
    /// Counts one finished call: `ok` when its status is OK, anything else is a failure.
    pub(crate) fn record(&self, ok: bool) {
        let counter = if ok { &self.successes } else { &self.failures };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The calls counted since the last take, which starts a new count.
    fn take(&self) -> Bucket {
        Bucket {
            successes: self.successes.swap(0, Ordering::Relaxed),
            failures: self.failures.swap(0, Ordering::Relaxed),
        }
    }
}

impl crate::in_flight::Outcomes for CallCounter {
    fn record(&self, ok: bool) {
        CallCounter::record(self, ok);
    }
}

/// What one address's state changed to in a sweep or a config change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changes<K> {
    /// Addresses ejected now: report their subchannels as TRANSIENT_FAILURE and pick none.
    pub(crate) ejected: Vec<K>,
    /// Addresses back in service: report their subchannels' real state again.
    pub(crate) unejected: Vec<K>,
}

impl<K> Default for Changes<K> {
    fn default() -> Self {
        Changes {
            ejected: Vec::new(),
            unejected: Vec::new(),
        }
    }
}

impl<K> Changes<K> {
    /// Whether nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        self.ejected.is_empty() && self.unejected.is_empty()
    }
}

/// What the detector knows of one address.
#[derive(Debug)]
struct Entry {
    /// The active bucket, shared with the calls.
    counter: Arc<CallCounter>,
    /// The inactive bucket: the calls of the last interval.
    last_interval: Bucket,
    /// When the address was ejected; `None` while it is in service.
    ejected_at: Option<Instant>,
    /// How many base ejection times the next ejection lasts, less one: up by one per
    /// ejection, down by one per sweep the address spends in service.
    multiplier: u32,
}

impl Entry {
    fn new() -> Self {
        Entry {
            counter: Arc::default(),
            last_interval: Bucket::default(),
            ejected_at: None,
            multiplier: 0,
        }
    }
}

/// Outlier detection's state and algorithm (gRFC A50) for a set of addresses, keyed by `K`
/// (a socket address, or whatever identifies an endpoint).
///
/// Use:
/// 1. [`Detector::new`], then [`Detector::set_addresses`] with the resolver's addresses, and
///    again on every resolver update (new addresses start fresh; kept ones keep their
///    state; missing ones are forgotten).
/// 2. Hand each address's [`Detector::counter`] to its subchannel; when a call picked there
///    finishes, [`CallCounter::record`] its result (only while
///    [`OutlierDetectionConfig::is_enabled`]).
/// 3. Arm a timer for [`Detector::next_sweep_in`]; when it fires, call
///    [`Detector::evaluate`] and apply the [`Changes`], then re-arm it the same way.
/// 4. On a new config, [`Detector::set_config`], apply the changes, and re-arm the timer
///    (or stop it when `next_sweep_in` is `None`).
///
/// A subchannel created for an address that [`Detector::is_ejected`] starts ejected.
#[derive(Debug)]
pub(crate) struct Detector<K> {
    config: OutlierDetectionConfig,
    /// The addresses in the order the resolver gave them; the sweep judges them in it.
    order: Vec<K>,
    entries: HashMap<K, Entry>,
    /// When the sweep timer last started: set when a config turns detection on and at each
    /// sweep, `None` while detection is off.
    timer_started: Option<Instant>,
}

impl<K: Eq + Hash + Clone> Detector<K> {
    /// A detector with no addresses yet.
    pub(crate) fn new(config: OutlierDetectionConfig, now: Instant) -> Self {
        let mut detector = Detector {
            config: OutlierDetectionConfig::default(),
            order: Vec::new(),
            entries: HashMap::new(),
            timer_started: None,
        };
        detector.set_config(config, now);
        detector
    }

    /// The config in force.
    pub(crate) fn config(&self) -> &OutlierDetectionConfig {
        &self.config
    }

    /// Switches to a new config (A50 "config changes"). Turning detection off un-ejects
    /// every address and forgets the multipliers; turning it on starts counting afresh.
    /// Re-arm the sweep timer with [`Detector::next_sweep_in`] afterwards.
    pub(crate) fn set_config(
        &mut self,
        config: OutlierDetectionConfig,
        now: Instant,
    ) -> Changes<K> {
        self.config = config;
        let mut changes = Changes::default();
        if !self.config.is_enabled() {
            self.timer_started = None;
            for key in &self.order {
                let entry = self
                    .entries
                    .get_mut(key)
                    .expect("every ordered key has an entry");
                if entry.ejected_at.take().is_some() {
                    changes.unejected.push(key.clone());
                }
                entry.multiplier = 0;
            }
        } else if self.timer_started.is_none() {
            self.timer_started = Some(now);
            for entry in self.entries.values_mut() {
                entry.counter.take();
                entry.last_interval = Bucket::default();
            }
        }
        changes
    }

    /// Sets the addresses to track, in order; repeats count once. Addresses already tracked
    /// keep their counter, ejection and multiplier; new ones start in service; the rest are
    /// forgotten (their counters, if still held, count for nothing).
    pub(crate) fn set_addresses(&mut self, addresses: impl IntoIterator<Item = K>) {
        let mut old = std::mem::take(&mut self.entries);
        self.order.clear();
        for key in addresses {
            if self.entries.contains_key(&key) {
                continue;
            }
            let entry = old.remove(&key).unwrap_or_else(Entry::new);
            self.entries.insert(key.clone(), entry);
            self.order.push(key);
        }
    }

    /// The call counter of a tracked address, for its subchannels to record into.
    pub(crate) fn counter(&self, address: &K) -> Option<Arc<CallCounter>> {
        self.entries.get(address).map(|entry| entry.counter.clone())
    }

    /// Whether the address is ejected now.
    pub(crate) fn is_ejected(&self, address: &K) -> bool {
        self.entries
            .get(address)
            .is_some_and(|entry| entry.ejected_at.is_some())
    }

    /// How long until the next sweep is due, from `now`: the interval less the time since the
    /// timer last started, so a config change does not delay a sweep that was due. `None`
    /// while detection is off (stop the timer).
    pub(crate) fn next_sweep_in(&self, now: Instant) -> Option<Duration> {
        let started = self.timer_started?;
        let interval = self.config.interval.max(MIN_SWEEP_INTERVAL);
        let elapsed = now.saturating_duration_since(started);
        Some(interval.saturating_sub(elapsed).max(MIN_SWEEP_INTERVAL))
    }

    /// Runs one sweep at `now`, the end of an interval: takes every counter's calls, runs the
    /// success-rate algorithm then the failure-percentage one (each only if configured),
    /// then un-ejects the addresses whose ejection time has passed and lowers the
    /// multipliers of those in service. `random` gives the numbers the enforcement
    /// percentages are drawn with (e.g. [`crate::random::random_u64`]).
    ///
    /// An address is un-ejected once `now ≥ ejected_at + ejection time`; an address ejected
    /// and un-ejected in the same sweep (a zero `base_ejection_time`) is in neither list.
    pub(crate) fn evaluate(
        &mut self,
        now: Instant,
        random: &mut impl FnMut() -> u64,
    ) -> Changes<K> {
        if self.config.is_enabled() {
            self.timer_started = Some(now);
        }
        for entry in self.entries.values_mut() {
            entry.last_interval = entry.counter.take();
        }
        let mut ejections = Ejections {
            now,
            ejected: self.ejected_count(),
            total: self.order.len(),
            max_percent: self.config.max_ejection_percent,
            random,
            newly_ejected: Vec::new(),
        };
        if let Some(algorithm) = self.config.success_rate_ejection {
            self.success_rate(&algorithm, &mut ejections);
        }
        if let Some(algorithm) = self.config.failure_percentage_ejection {
            self.failure_percentage(&algorithm, &mut ejections);
        }
        let mut changes = Changes {
            ejected: ejections.newly_ejected,
            unejected: Vec::new(),
        };
        for key in &self.order {
            let entry = self
                .entries
                .get_mut(key)
                .expect("every ordered key has an entry");
            match entry.ejected_at {
                None => entry.multiplier = entry.multiplier.saturating_sub(1),
                Some(at) => {
                    let ends = at.checked_add(self.config.ejection_time(entry.multiplier));
                    if ends.is_some_and(|ends| now >= ends) {
                        entry.ejected_at = None;
                        match changes.ejected.iter().position(|k| k == key) {
                            Some(i) => {
                                changes.ejected.remove(i);
                            }
                            None => changes.unejected.push(key.clone()),
                        }
                    }
                }
            }
        }
        changes
    }

    fn ejected_count(&self) -> usize {
        self.entries
            .values()
            .filter(|entry| entry.ejected_at.is_some())
            .count()
    }

    /// The tracked addresses with at least `request_volume` calls (and at least one) in the
    /// last interval, with those calls, in order.
    fn with_volume(&self, request_volume: u32) -> Vec<(K, Bucket)> {
        let volume = u64::from(request_volume.max(1));
        self.order
            .iter()
            .map(|key| (key, self.entries[key].last_interval))
            .filter(|(_, calls)| calls.total() >= volume)
            .map(|(key, calls)| (key.clone(), calls))
            .collect()
    }

    /// A50's success-rate algorithm: with at least `minimum_hosts` addresses that have the
    /// volume, eject those whose success rate is below `mean − stdev × factor`.
    fn success_rate(&mut self, algorithm: &SuccessRateEjection, ejections: &mut Ejections<'_, K>) {
        let candidates = self.with_volume(algorithm.request_volume);
        if candidates.len() < algorithm.minimum_hosts as usize {
            return;
        }
        let rates: Vec<f64> = candidates
            .iter()
            .map(|(_, calls)| calls.successes as f64 / calls.total() as f64)
            .collect();
        let n = rates.len() as f64;
        let mean = rates.iter().sum::<f64>() / n;
        let variance = rates.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
        let threshold = mean - variance.sqrt() * (f64::from(algorithm.stdev_factor) / 1000.0);
        for ((key, _), rate) in candidates.into_iter().zip(rates) {
            if !ejections.allowed() {
                return;
            }
            if rate < threshold {
                self.maybe_eject(key, algorithm.enforcement_percentage, ejections);
            }
        }
    }

    /// A50's failure-percentage algorithm: with at least `minimum_hosts` addresses that have
    /// the volume (as grpc-go and C-core count them; A50's text counts every address), eject
    /// those whose failure percentage is above the threshold.
    fn failure_percentage(
        &mut self,
        algorithm: &FailurePercentageEjection,
        ejections: &mut Ejections<'_, K>,
    ) {
        let candidates = self.with_volume(algorithm.request_volume);
        if candidates.len() < algorithm.minimum_hosts as usize {
            return;
        }
        for (key, calls) in candidates {
            if !ejections.allowed() {
                return;
            }
            // 100 × failures / total > threshold, in integers.
            let failing = u128::from(calls.failures) * 100
                > u128::from(algorithm.threshold) * u128::from(calls.total());
            if failing {
                self.maybe_eject(key, algorithm.enforcement_percentage, ejections);
            }
        }
    }

    /// Ejects an outlier that is not ejected yet, with a chance of `enforcement` percent.
    fn maybe_eject(&mut self, key: K, enforcement: u32, ejections: &mut Ejections<'_, K>) {
        let entry = self.entries.get_mut(&key).expect("candidates are tracked");
        if entry.ejected_at.is_some() || (ejections.random)() % 100 >= u64::from(enforcement) {
            return;
        }
        entry.ejected_at = Some(ejections.now);
        entry.multiplier = entry.multiplier.saturating_add(1);
        ejections.ejected += 1;
        ejections.newly_ejected.push(key);
    }
}

/// The running tally of one sweep's ejections.
struct Ejections<'r, K> {
    now: Instant,
    /// Addresses ejected now, from earlier sweeps and this one.
    ejected: usize,
    /// Addresses tracked.
    total: usize,
    max_percent: u32,
    random: &'r mut dyn FnMut() -> u64,
    newly_ejected: Vec<K>,
}

impl<K> Ejections<'_, K> {
    /// Whether one more address may be ejected: while none is, or while the ejected share
    /// is below `max_ejection_percent` (so one ejection is always allowed, as A50's proto
    /// comment and C-core have it).
    fn allowed(&self) -> bool {
        self.ejected == 0
            || (self.ejected as u128) * 100 < u128::from(self.max_percent) * self.total as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// A detector over addresses `0..n` with `config`.
    fn detector(n: u32, config: OutlierDetectionConfig, now: Instant) -> Detector<u32> {
        let mut detector = Detector::new(config, now);
        detector.set_addresses(0..n);
        detector
    }

    /// Records `ok` successes and `failed` failures on `address`.
    fn calls(detector: &Detector<u32>, address: u32, ok: u64, failed: u64) {
        let counter = detector.counter(&address).unwrap();
        (0..ok).for_each(|_| counter.record(true));
        (0..failed).for_each(|_| counter.record(false));
    }

    /// Gives every address in `0..n` 100 calls, all OK except `failures[address]`.
    fn interval(detector: &Detector<u32>, n: u32, failures: &[(u32, u64)]) {
        for address in 0..n {
            let failed = failures
                .iter()
                .find(|(a, _)| *a == address)
                .map_or(0, |(_, f)| *f);
            calls(detector, address, 100 - failed, failed);
        }
    }

    /// A random source that always gives `n`.
    fn always(n: u64) -> impl FnMut() -> u64 {
        move || n
    }

    fn failure_percentage(threshold: u32) -> OutlierDetectionConfig {
        OutlierDetectionConfig {
            failure_percentage_ejection: Some(FailurePercentageEjection {
                threshold,
                ..FailurePercentageEjection::default()
            }),
            ..OutlierDetectionConfig::default()
        }
    }

    fn success_rate(stdev_factor: u32) -> OutlierDetectionConfig {
        OutlierDetectionConfig {
            success_rate_ejection: Some(SuccessRateEjection {
                stdev_factor,
                ..SuccessRateEjection::default()
            }),
            ..OutlierDetectionConfig::default()
        }
    }

    #[test]
    fn defaults_are_a50s() {
        let config = OutlierDetectionConfig::default();
        assert_eq!(config.interval, 10 * SECOND);
        assert_eq!(config.base_ejection_time, 30 * SECOND);
        assert_eq!(config.max_ejection_time, 300 * SECOND);
        assert_eq!(config.max_ejection_percent, 10);
        assert!(!config.is_enabled());
        let success = SuccessRateEjection::default();
        assert_eq!(
            (
                success.stdev_factor,
                success.enforcement_percentage,
                success.minimum_hosts,
                success.request_volume
            ),
            (1900, 100, 5, 100)
        );
        let failure = FailurePercentageEjection::default();
        assert_eq!(
            (
                failure.threshold,
                failure.enforcement_percentage,
                failure.minimum_hosts,
                failure.request_volume
            ),
            (85, 100, 5, 50)
        );
    }

    #[test]
    fn counter_take_returns_the_interval_and_starts_over() {
        let counter = CallCounter::default();
        counter.record(true);
        counter.record(true);
        counter.record(false);
        assert_eq!(
            counter.take(),
            Bucket {
                successes: 2,
                failures: 1
            }
        );
        assert_eq!(counter.take(), Bucket::default());
    }

    #[test]
    fn counter_counts_from_many_threads() {
        let counter = Arc::new(CallCounter::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let counter = counter.clone();
                std::thread::spawn(move || (0..1000).for_each(|i| counter.record((i + t) % 4 != 0)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(
            counter.take(),
            Bucket {
                successes: 3000,
                failures: 1000
            }
        );
    }

    #[test]
    fn failure_percentage_ejects_above_the_threshold_only() {
        let now = Instant::now();
        // Address 5 fails half its calls; 0 to 4 fail none.
        let mut low = detector(6, failure_percentage(40), now);
        interval(&low, 6, &[(5, 50)]);
        let changes = low.evaluate(now + 10 * SECOND, &mut always(0));
        assert_eq!(changes.ejected, vec![5]);
        assert!(changes.unejected.is_empty());
        assert!(low.is_ejected(&5) && !low.is_ejected(&0));

        let mut default = detector(6, failure_percentage(85), now);
        interval(&default, 6, &[(5, 50)]);
        assert!(default
            .evaluate(now + 10 * SECOND, &mut always(0))
            .is_empty());

        // Exactly at the threshold is not above it.
        let mut exact = detector(6, failure_percentage(50), now);
        interval(&exact, 6, &[(5, 50)]);
        assert!(exact.evaluate(now + 10 * SECOND, &mut always(0)).is_empty());
    }

    #[test]
    fn failure_percentage_needs_volume_and_hosts() {
        let now = Instant::now();
        // Below the request volume (50): 40 calls, all failed, are not judged.
        let mut low_volume = detector(6, failure_percentage(40), now);
        interval(&low_volume, 5, &[]);
        calls(&low_volume, 5, 0, 40);
        assert!(low_volume
            .evaluate(now + 10 * SECOND, &mut always(0))
            .is_empty());

        // Only 4 addresses have the volume, fewer than minimumHosts (5).
        let mut few = detector(6, failure_percentage(40), now);
        interval(&few, 4, &[(3, 100)]);
        assert!(few.evaluate(now + 10 * SECOND, &mut always(0)).is_empty());
    }

    #[test]
    fn success_rate_ejects_outliers_by_standard_deviation() {
        let now = Instant::now();
        // Rates 1, 1, 1, 1, 1, 0.5: mean 0.917, stdev 0.186, so the threshold is 0.563 with
        // the default factor 1.9, and 0.358 with 3.0.
        let mut strict = detector(6, success_rate(1900), now);
        interval(&strict, 6, &[(2, 50)]);
        assert_eq!(
            strict.evaluate(now + 10 * SECOND, &mut always(0)).ejected,
            vec![2]
        );

        let mut lenient = detector(6, success_rate(3000), now);
        interval(&lenient, 6, &[(2, 50)]);
        assert!(lenient
            .evaluate(now + 10 * SECOND, &mut always(0))
            .is_empty());

        // Everyone equally bad: no outlier (stdev 0, nobody below the mean).
        let mut even = detector(6, success_rate(0), now);
        interval(
            &even,
            6,
            &[(0, 50), (1, 50), (2, 50), (3, 50), (4, 50), (5, 50)],
        );
        assert!(even.evaluate(now + 10 * SECOND, &mut always(0)).is_empty());
    }

    #[test]
    fn success_rate_needs_minimum_hosts_with_volume() {
        let now = Instant::now();
        let mut detector = detector(6, success_rate(1900), now);
        // Four addresses with 100 calls, two with 99: only four have the volume.
        interval(&detector, 4, &[(2, 100)]);
        calls(&detector, 4, 99, 0);
        calls(&detector, 5, 99, 0);
        assert!(detector
            .evaluate(now + 10 * SECOND, &mut always(0))
            .is_empty());
        // Next interval all six have it.
        interval(&detector, 6, &[(2, 100)]);
        assert_eq!(
            detector.evaluate(now + 20 * SECOND, &mut always(0)).ejected,
            vec![2]
        );
    }

    #[test]
    fn max_ejection_percent_caps_ejections() {
        let now = Instant::now();
        let config = OutlierDetectionConfig {
            max_ejection_percent: 20,
            ..failure_percentage(40)
        };
        let mut detector = detector(10, config, now);
        interval(&detector, 10, &[(1, 100), (4, 100), (7, 100)]);
        // 20 % of 10 is 2: addresses 1 and 4 go, 7 stays.
        let changes = detector.evaluate(now + 10 * SECOND, &mut always(0));
        assert_eq!(changes.ejected, vec![1, 4]);
        // Earlier ejections count toward the cap: 7 still cannot go.
        interval(&detector, 10, &[(7, 100)]);
        assert!(detector
            .evaluate(now + 20 * SECOND, &mut always(0))
            .is_empty());
        assert!(!detector.is_ejected(&7));
    }

    #[test]
    fn one_ejection_is_always_allowed() {
        let now = Instant::now();
        let config = OutlierDetectionConfig {
            max_ejection_percent: 0,
            ..failure_percentage(40)
        };
        let mut detector = detector(6, config, now);
        interval(&detector, 6, &[(0, 100), (3, 100)]);
        assert_eq!(
            detector.evaluate(now + 10 * SECOND, &mut always(0)).ejected,
            vec![0]
        );
    }

    #[test]
    fn enforcement_percentage_is_the_chance_of_ejection() {
        let now = Instant::now();
        let with_enforcement = |enforcement_percentage| OutlierDetectionConfig {
            failure_percentage_ejection: Some(FailurePercentageEjection {
                threshold: 40,
                enforcement_percentage,
                ..FailurePercentageEjection::default()
            }),
            success_rate_ejection: Some(SuccessRateEjection {
                enforcement_percentage,
                ..SuccessRateEjection::default()
            }),
            ..OutlierDetectionConfig::default()
        };
        // 0 never ejects, whatever the draw.
        let mut never = detector(6, with_enforcement(0), now);
        for sweep in 1..=5u32 {
            interval(&never, 6, &[(5, 100)]);
            assert!(never
                .evaluate(now + sweep * 10 * SECOND, &mut always(0))
                .is_empty());
        }
        // 30 ejects when the draw (mod 100) is below 30.
        let mut sometimes = detector(6, with_enforcement(30), now);
        interval(&sometimes, 6, &[(5, 100)]);
        assert!(sometimes
            .evaluate(now + 10 * SECOND, &mut always(130))
            .is_empty());
        interval(&sometimes, 6, &[(5, 100)]);
        assert_eq!(
            sometimes
                .evaluate(now + 20 * SECOND, &mut always(229))
                .ejected,
            vec![5]
        );
    }

    #[test]
    fn ejection_lasts_base_time_times_multiplier() {
        let t0 = Instant::now();
        let mut detector = detector(6, failure_percentage(40), t0);
        let sweep = |detector: &mut Detector<u32>, secs: u32, failing: bool| {
            let failures: &[(u32, u64)] = if failing { &[(5, 100)] } else { &[] };
            interval(detector, 6, failures);
            detector.evaluate(t0 + secs * SECOND, &mut always(0))
        };
        // First ejection at 10 s, multiplier 1: out for 30 s.
        assert_eq!(sweep(&mut detector, 10, true).ejected, vec![5]);
        assert!(sweep(&mut detector, 20, false).is_empty());
        assert!(sweep(&mut detector, 39, false).is_empty());
        assert_eq!(sweep(&mut detector, 40, false).unejected, vec![5]);
        // Ejected again right away, multiplier 2: out for 60 s.
        assert_eq!(sweep(&mut detector, 50, true).ejected, vec![5]);
        assert!(sweep(&mut detector, 109, false).is_empty());
        assert_eq!(sweep(&mut detector, 110, false).unejected, vec![5]);
        // Two sweeps in service bring the multiplier from 2 to 0, so the next ejection is
        // a first one again: 30 s.
        assert!(sweep(&mut detector, 120, false).is_empty());
        assert!(sweep(&mut detector, 130, false).is_empty());
        assert_eq!(sweep(&mut detector, 140, true).ejected, vec![5]);
        assert_eq!(sweep(&mut detector, 170, false).unejected, vec![5]);
    }

    #[test]
    fn multiplier_decays_one_per_sweep_in_service() {
        let t0 = Instant::now();
        let mut detector = detector(6, failure_percentage(40), t0);
        let mut at: u32 = 0;
        let mut sweep = |detector: &mut Detector<u32>, failing: bool| {
            at += 10;
            let failures: &[(u32, u64)] = if failing { &[(5, 100)] } else { &[] };
            interval(detector, 6, failures);
            detector.evaluate(t0 + at * SECOND, &mut always(0))
        };
        // Three ejections in a row, each as soon as the last one ends: multiplier 3.
        for ejection_time in [3, 6, 9] {
            assert_eq!(sweep(&mut detector, true).ejected, vec![5]);
            for _ in 1..ejection_time {
                assert!(sweep(&mut detector, false).is_empty());
            }
            assert_eq!(sweep(&mut detector, false).unejected, vec![5]);
        }
        assert_eq!(detector.entries[&5].multiplier, 3);
        // One sweep in service: 2, so the next ejection (multiplier 3) lasts 90 s.
        assert!(sweep(&mut detector, false).is_empty());
        assert_eq!(detector.entries[&5].multiplier, 2);
        assert_eq!(sweep(&mut detector, true).ejected, vec![5]);
        for _ in 1..9 {
            assert!(sweep(&mut detector, false).is_empty());
        }
        assert_eq!(sweep(&mut detector, false).unejected, vec![5]);
    }

    #[test]
    fn ejection_time_is_capped_by_max_ejection_time() {
        let config = OutlierDetectionConfig {
            base_ejection_time: 30 * SECOND,
            max_ejection_time: 100 * SECOND,
            ..OutlierDetectionConfig::default()
        };
        assert_eq!(config.ejection_time(1), 30 * SECOND);
        assert_eq!(config.ejection_time(3), 90 * SECOND);
        assert_eq!(config.ejection_time(4), 100 * SECOND);
        assert_eq!(config.ejection_time(u32::MAX), 100 * SECOND);
        // A max below the base time: the base time is the cap.
        let config = OutlierDetectionConfig {
            max_ejection_time: 10 * SECOND,
            ..config
        };
        assert_eq!(config.ejection_time(2), 30 * SECOND);
    }

    #[test]
    fn zero_base_ejection_time_ejects_nothing_for_long() {
        let now = Instant::now();
        let config = OutlierDetectionConfig {
            base_ejection_time: Duration::ZERO,
            max_ejection_time: Duration::ZERO,
            ..failure_percentage(40)
        };
        let mut detector = detector(6, config, now);
        interval(&detector, 6, &[(5, 100)]);
        assert!(detector
            .evaluate(now + 10 * SECOND, &mut always(0))
            .is_empty());
        assert!(!detector.is_ejected(&5));
    }

    #[test]
    fn both_algorithms_run_and_an_address_is_ejected_once() {
        let now = Instant::now();
        let config = OutlierDetectionConfig {
            max_ejection_percent: 100,
            success_rate_ejection: Some(SuccessRateEjection::default()),
            ..failure_percentage(40)
        };
        let mut both = detector(7, config, now);
        // Rates 1 (five times), 0 and 0.55: the success-rate threshold is about 0.2, so that
        // algorithm ejects 5 alone; failure percentage (above 40 %) then ejects 6, and skips
        // 5, which is already out.
        interval(&both, 7, &[(5, 100), (6, 45)]);
        let changes = both.evaluate(now + 10 * SECOND, &mut always(0));
        assert_eq!(changes.ejected, vec![5, 6]);
        assert_eq!(both.entries[&5].multiplier, 1);

        // Either algorithm alone: success rate spares 6, failure percentage ejects both.
        let alone = OutlierDetectionConfig {
            failure_percentage_ejection: None,
            ..both.config().clone()
        };
        let mut success_only = detector(7, alone, now);
        interval(&success_only, 7, &[(5, 100), (6, 45)]);
        let changes = success_only.evaluate(now + 10 * SECOND, &mut always(0));
        assert_eq!(changes.ejected, vec![5]);
    }

    #[test]
    fn address_changes_keep_state_of_kept_addresses() {
        let now = Instant::now();
        let mut detector = detector(6, failure_percentage(40), now);
        interval(&detector, 6, &[(5, 100)]);
        detector.evaluate(now + 10 * SECOND, &mut always(0));
        let counter_of_0 = detector.counter(&0).unwrap();

        detector.set_addresses([5, 0, 7, 7]);
        assert_eq!(detector.order, vec![5, 0, 7]);
        assert!(detector.is_ejected(&5));
        assert!(Arc::ptr_eq(&counter_of_0, &detector.counter(&0).unwrap()));
        assert!(detector.counter(&1).is_none());
        assert!(!detector.is_ejected(&7));
        assert!(!detector.is_ejected(&1));

        // A dropped address comes back fresh.
        detector.set_addresses([0, 1]);
        detector.set_addresses([0, 1, 5]);
        assert!(!detector.is_ejected(&5));
        assert_eq!(detector.entries[&5].multiplier, 0);
    }

    #[test]
    fn turning_detection_off_unejects_and_forgets_multipliers() {
        let now = Instant::now();
        let mut detector = detector(6, failure_percentage(40), now);
        interval(&detector, 6, &[(5, 100)]);
        detector.evaluate(now + 10 * SECOND, &mut always(0));
        assert!(detector.is_ejected(&5));

        let later = now + 12 * SECOND;
        let changes = detector.set_config(OutlierDetectionConfig::default(), later);
        assert_eq!(changes.unejected, vec![5]);
        assert_eq!(detector.entries[&5].multiplier, 0);
        assert_eq!(detector.next_sweep_in(later), None);

        // On again: counting starts afresh and the timer runs a full interval.
        calls(&detector, 5, 0, 100);
        detector.set_config(failure_percentage(40), later);
        assert_eq!(detector.next_sweep_in(later), Some(10 * SECOND));
        interval(&detector, 6, &[]);
        assert!(detector
            .evaluate(later + 10 * SECOND, &mut always(0))
            .is_empty());
    }

    #[test]
    fn next_sweep_counts_from_the_last_timer_start() {
        let now = Instant::now();
        let mut detector: Detector<u32> = Detector::new(failure_percentage(40), now);
        assert_eq!(detector.next_sweep_in(now), Some(10 * SECOND));
        assert_eq!(detector.next_sweep_in(now + 4 * SECOND), Some(6 * SECOND));
        // A new config keeps the running timer's start: the sweep stays due at 10 s.
        let config = OutlierDetectionConfig {
            interval: 20 * SECOND,
            ..failure_percentage(40)
        };
        detector.set_config(config, now + 4 * SECOND);
        assert_eq!(detector.next_sweep_in(now + 4 * SECOND), Some(16 * SECOND));
        detector.evaluate(now + 20 * SECOND, &mut always(0));
        assert_eq!(detector.next_sweep_in(now + 20 * SECOND), Some(20 * SECOND));
        // Overdue, or a zero interval: the shortest wait, never zero.
        assert_eq!(
            detector.next_sweep_in(now + 60 * SECOND),
            Some(MIN_SWEEP_INTERVAL)
        );
    }
}
