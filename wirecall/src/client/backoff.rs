//! SANS-IO: the gRPC connection-backoff algorithm (connection-backoff.md) and the jittered
//! exponential backoff of retries (gRFC A6).

use std::time::Duration;

use crate::random::random_unit;

/// How a subchannel spaces its connection attempts after failures (connection-backoff.md).
/// The defaults are the spec's: 1 s initial, multiplier 1.6, jitter 0.2, at most 120 s.
/// The minimum connect timeout (20 s) is [`Endpoint::connect_timeout`](crate::Endpoint::connect_timeout).
///
/// More settings may come (`non_exhaustive`): start from [`BackoffConfig::default`] and
/// change what you need with the `with_*` methods, e.g.
/// `BackoffConfig::default().with_initial(Duration::from_millis(100)).with_max(Duration::from_secs(5))`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The wait after the first failure.
    pub initial: Duration,
    /// How much each later wait grows.
    pub multiplier: f64,
    /// The random spread of each wait, as a fraction of it (0.2 = ±20 %).
    pub jitter: f64,
    /// The longest wait.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
        }
    }
}

impl BackoffConfig {
    /// The same config with `initial` as the wait after the first failure.
    pub fn with_initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// The same config with each later wait `multiplier` times the one before.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The same config with waits spread by `jitter` (a fraction of each: 0.2 = ±20 %).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The same config with `max` as the longest wait.
    pub fn with_max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }
}

/// The state of one backoff sequence.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    /// The un-jittered wait of the next failure.
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            current: config.initial,
        }
    }

    /// The wait before the next attempt (jittered), growing the one after it.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let base = self.current;
        let grown = base.as_secs_f64() * self.config.multiplier.max(1.0);
        self.current = Duration::from_secs_f64(grown.min(self.config.max.as_secs_f64()));
        let jitter = self.config.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * random_unit() - 1.0);
        Duration::from_secs_f64((base.as_secs_f64() * factor).max(0.0))
    }

    /// Starts over after a success.
    pub(crate) fn reset(&mut self) {
        self.current = self.config.initial;
    }
}

/// The wait before retry attempt `retry` (1 for the first retry) of gRFC A6: uniformly
/// random in `[0, min(initial * multiplier^(retry-1), max)]`.
pub(crate) fn retry_wait(
    initial: Duration,
    multiplier: f64,
    max: Duration,
    retry: u32,
) -> Duration {
    let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
    let ceiling = (initial.as_secs_f64() * multiplier.powi(exponent)).min(max.as_secs_f64());
    Duration::from_secs_f64(ceiling.max(0.0) * random_unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_multiplier_within_the_jitter_and_stop_at_the_max() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut base = 1.0f64;
        for _ in 0..20 {
            let wait = backoff.next_wait().as_secs_f64();
            assert!(
                wait >= base * 0.8 - 1e-9 && wait <= base * 1.2 + 1e-9,
                "{wait} vs {base}"
            );
            base = (base * 1.6).min(120.0);
        }
        assert_eq!(base, 120.0);
        backoff.reset();
        let wait = backoff.next_wait().as_secs_f64();
        assert!((0.8..=1.2).contains(&wait), "{wait}");
    }

    #[test]
    fn no_jitter_gives_the_exact_sequence() {
        let mut backoff = Backoff::new(BackoffConfig::default().with_jitter(0.0));
        let waits: Vec<u128> = (0..4).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [1000, 1600, 2560, 4096]);
    }

    #[test]
    fn builder_methods_set_their_field_and_keep_the_rest() {
        let config = BackoffConfig::default()
            .with_initial(Duration::from_millis(10))
            .with_multiplier(2.0)
            .with_jitter(0.5)
            .with_max(Duration::from_millis(80));
        assert_eq!(config.initial, Duration::from_millis(10));
        assert_eq!(config.multiplier, 2.0);
        assert_eq!(config.jitter, 0.5);
        assert_eq!(config.max, Duration::from_millis(80));
        let only_max = BackoffConfig::default().with_max(Duration::from_secs(5));
        assert_eq!(
            only_max,
            BackoffConfig {
                max: Duration::from_secs(5),
                ..BackoffConfig::default()
            }
        );
    }

    #[test]
    fn retry_waits_stay_under_their_ceiling_and_spread() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_millis(300);
        let waits: Vec<Duration> = (0..200)
            .map(|i| retry_wait(initial, 2.0, max, 1 + i % 4))
            .collect();
        for (i, wait) in waits.iter().enumerate() {
            let ceiling = [100, 200, 300, 300][i % 4];
            assert!(wait.as_millis() <= ceiling, "{wait:?} over {ceiling} ms");
        }
        let first: Vec<_> = waits.iter().step_by(4).collect();
        assert!(
            first.iter().any(|w| w.as_millis() < 50) && first.iter().any(|w| w.as_millis() >= 50)
        );
    }
}
