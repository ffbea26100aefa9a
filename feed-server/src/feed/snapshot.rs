//! Snapshots of the feed state, so that start-up reads one object and the log since it instead
//! of every event.
//!
//! A snapshot is the state as of some event `seq` ([`FeedState`](super::state::FeedState):
//! records, listings, deprecations, catalog summaries, symbol keys), stored as gzip-compressed
//! JSON at `catalog/snapshot.json`. Any replica writes one every 10 000 events or 10 minutes
//! (whichever comes first, and at most once a minute: `schedule.rs`), replacing the previous
//! one. It is only a shortcut: the log stays
//! the source of truth, a replica opening the feed catches up from `seq + 1`, and a snapshot
//! that is missing, unreadable, of another format, or ahead of the log is ignored (the state
//! is then replayed from the log). Two replicas writing at once, or an older snapshot replacing
//! a newer one, cost only replay time.
//!
//! This file writes and loads them; the format is `codec.rs`'s, the schedule `schedule.rs`'s.

mod codec;
mod schedule;

use std::sync::Arc;
use std::time::Instant;

use super::{Feed, Result, SnapshotError};
use crate::storage::{self, Key};

pub use codec::{decode, encode};
pub(super) use schedule::SnapshotClock;

impl Feed {
    /// Writes a snapshot of the current state (whatever the schedule says). Returns its `seq`.
    pub async fn write_snapshot(&self) -> Result<u64> {
        // A clone shares the records: the lock is held for a copy of the map only.
        let state = self.state().clone();
        let seq = state.seq();
        let bytes = tokio::task::spawn_blocking(move || encode(&state))
            .await
            .map_err(|e| SnapshotError::Task(e.to_string()))??;
        let size = bytes.len();
        self.inner.storage.put(Key::Snapshot, bytes).await?;
        *lock(&self.inner.snapshot) = SnapshotClock {
            seq,
            at: Instant::now(),
        };
        tracing::info!(event.seq = seq, size_bytes = size, "feed snapshot written");
        Ok(seq)
    }

    /// Writes a snapshot when the schedule says one is due.
    pub(super) async fn snapshot_if_due(&self) -> Result<()> {
        let seq = self.state().seq();
        if lock(&self.inner.snapshot).due(seq) {
            self.write_snapshot().await?;
        }
        Ok(())
    }

    /// Replaces the (empty) state with the stored snapshot, if there is a usable one, and
    /// re-indexes search. Returns the snapshot's `seq`.
    pub(super) async fn load_snapshot(&self) -> Result<Option<u64>> {
        let bytes = match self.inner.storage.get(Key::Snapshot).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let decoded = tokio::task::spawn_blocking(move || codec::decode_indexed(&bytes))
            .await
            .map_err(|e| SnapshotError::Task(e.to_string()))?;
        let (state, index) = match decoded {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an unusable feed snapshot; replaying the log");
                return Ok(None);
            }
        };
        let seq = state.seq();
        // A snapshot ahead of the log (a wiped or replaced log) would hide its real history.
        if seq > 0 {
            match self.inner.storage.head(Key::Event(seq)).await {
                Ok(_) => {}
                Err(storage::Error::NotFound { .. }) => {
                    tracing::warn!(
                        event.seq = seq,
                        "ignoring a feed snapshot of events the log does not have"
                    );
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Read back the few listings the snapshot lacked (pending when it was taken).
        let incomplete: Vec<Arc<str>> = state
            .packages()
            .filter(|(id, _)| !state.missing_listings(id).is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        *self
            .inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = state;
        *self
            .inner
            .search
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = index;
        *lock(&self.inner.snapshot) = SnapshotClock {
            seq,
            at: Instant::now(),
        };
        self.refresh_ids(incomplete).await;
        Ok(Some(seq))
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
