//! When a replica writes a snapshot: every [`EVERY_EVENTS`] events or [`EVERY`], whichever
//! comes first, and at most once per [`MIN_GAP`].

use std::time::{Duration, Instant};

/// A snapshot is written once this many events have been applied since the last one.
const EVERY_EVENTS: u64 = 10_000;
/// ... or this long after the last one when anything changed.
const EVERY: Duration = Duration::from_secs(600);
/// ... but never more often than this (a snapshot of a big feed costs seconds of CPU).
const MIN_GAP: Duration = Duration::from_secs(60);

/// When this replica last wrote or loaded a snapshot.
#[derive(Debug)]
pub(crate) struct SnapshotClock {
    pub(super) seq: u64,
    pub(super) at: Instant,
}

impl Default for SnapshotClock {
    fn default() -> Self {
        SnapshotClock {
            seq: 0,
            at: Instant::now(),
        }
    }
}

impl SnapshotClock {
    /// Whether a state at `seq` is due for a snapshot.
    pub(super) fn due(&self, seq: u64) -> bool {
        let since = seq.saturating_sub(self.seq);
        let age = self.at.elapsed();
        since > 0 && age >= MIN_GAP && (since >= EVERY_EVENTS || age >= EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_waits_for_enough_events_or_time() {
        let fresh = SnapshotClock::default();
        assert!(!fresh.due(EVERY_EVENTS * 2), "not within the minimum gap");
        let old = SnapshotClock {
            seq: 100,
            at: Instant::now() - MIN_GAP,
        };
        assert!(old.due(100 + EVERY_EVENTS));
        assert!(!old.due(101));
        assert!(!old.due(100));
        let older = SnapshotClock {
            seq: 100,
            at: Instant::now() - EVERY,
        };
        assert!(older.due(101));
    }
}
