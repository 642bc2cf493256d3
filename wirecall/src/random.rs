//! Random numbers for what needs no cryptography: trace and span ids, the jitter of
//! reconnection backoff and of connection ages. One source, seeded per thread by the
//! standard library's `RandomState`, so wirecall needs no random-number crate.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// A non-zero number, unpredictable across processes and unique within one.
pub(crate) fn random_u64() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static SEED: RandomState = RandomState::new();
    }
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    SEED.with(|seed| seed.hash_one(n)).max(1)
}

/// A number in `0.0..1.0`, evenly spread (53 random bits).
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_non_zero_distinct_and_units_in_range() {
        let numbers: std::collections::HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(numbers.len(), 1000);
        assert!(!numbers.contains(&0));
        let units: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(units.iter().any(|u| *u < 0.5) && units.iter().any(|u| *u >= 0.5));
    }
}
