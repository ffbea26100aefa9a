//! Token buckets: the token exchange's per-subject limit and the budget of bucket lookups for
//! temporary keys this replica has not seen. In memory, per replica (a client that spreads its
//! requests over replicas gets a multiple of the limit, which is still a limit). A crate such as
//! `governor` would bring its clock and map types for what is a map of two floats here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most subjects tracked at once; past it, subjects whose bucket has refilled are forgotten
/// (they would start full anyway).
const MAX_TRACKED: usize = 10_000;

/// One bucket: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// `Ok` and one token taken, or how long until there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / rate.per_second,
            ))
        }
    }
}

/// A bucket per key (a token's issuer and subject).
#[derive(Debug)]
pub struct Keyed {
    rate: Rate,
    buckets: HashMap<String, Bucket>,
}

impl Keyed {
    pub fn new(rate: Rate) -> Keyed {
        Keyed {
            rate,
            buckets: HashMap::new(),
        }
    }

    /// `Ok` if `key` may go on at `now`, else how long it must wait.
    pub fn take(&mut self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() >= MAX_TRACKED && !self.buckets.contains_key(key) {
            let refill = Duration::from_secs_f64(self.rate.burst / self.rate.per_second);
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < refill);
        }
        let rate = self.rate;
        self.buckets
            .entry(key.to_owned())
            .or_insert(Bucket {
                tokens: rate.burst,
                last: now,
            })
            .take(rate, now)
    }
}

/// One bucket for everyone.
#[derive(Debug)]
pub struct Shared {
    rate: Rate,
    bucket: Bucket,
}

impl Shared {
    pub fn new(rate: Rate, now: Instant) -> Shared {
        Shared {
            rate,
            bucket: Bucket {
                tokens: rate.burst,
                last: now,
            },
        }
    }

    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.bucket.take(self.rate, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subject_has_its_burst_then_waits() {
        let start = Instant::now();
        let mut limit = Keyed::new(Rate {
            burst: 2.0,
            per_second: 0.5,
        });
        assert!(limit.take("a", start).is_ok());
        assert!(limit.take("a", start).is_ok());
        let wait = limit.take("a", start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        assert!(
            limit.take("b", start).is_ok(),
            "another subject is not held up"
        );
        assert!(limit.take("a", start + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn a_shared_budget_refills() {
        let start = Instant::now();
        let mut budget = Shared::new(
            Rate {
                burst: 1.0,
                per_second: 10.0,
            },
            start,
        );
        assert!(budget.take(start).is_ok());
        assert!(budget.take(start).is_err());
        assert!(budget.take(start + Duration::from_millis(100)).is_ok());
    }
}
