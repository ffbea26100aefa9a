//! When a feed is looked at again: after success, after an invalid spec or a refused purge,
//! and the bounds of the per-object error backoff.

use std::time::Duration;

/// A successful reconcile looks again this often (reads only), to catch drift that no watch
/// reports (a tenant's credentials Secret, for example).
pub const RESYNC: Duration = Duration::from_secs(600);
/// A feed with a `kubernetes` trusted publisher looks again this often (reads only; the
/// ConfigMap is written only when the cluster's keys changed), so a key the cluster starts
/// signing with reaches the feed's JWK Set within about a minute, plus the kubelet's delay in
/// updating the mounted ConfigMap.
pub const CLUSTER_KEYS_REFRESH: Duration = Duration::from_secs(60);
/// An invalid spec caused by another object (a missing Secret, a path or storage clash), or a
/// purge the operator refuses, is checked again this often.
pub const RECHECK_INVALID: Duration = Duration::from_secs(120);
/// First and largest delay of the per-object error backoff.
pub const BACKOFF_MIN: Duration = Duration::from_secs(2);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The delay after the `n`th consecutive failure (1-based): 2 s doubling up to 5 min.
pub fn backoff(n: u32) -> Duration {
    BACKOFF_MIN
        .saturating_mul(1u32 << n.saturating_sub(1).min(16))
        .min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let secs: Vec<u64> = [1, 2, 3, 8, 9, 40]
            .iter()
            .map(|n| backoff(*n).as_secs())
            .collect();
        assert_eq!(secs, [2, 4, 8, 256, 300, 300]);
    }
}
