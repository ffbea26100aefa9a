//! Download counts without a write per download.
//!
//! Each replica counts in memory and periodically writes its cumulative counts to its own object
//! (`downloads/{replica}.json`, so no two writers share one); every replica sums all those
//! objects. A replica killed between two publications loses at most that interval's counts,
//! which for a statistic is the right trade against a write per download (BaGet#604).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::package::NuGetVersion;
use crate::storage::{self, Key, Storage, key::DOWNLOADS_PREFIX};

/// How often counts are published and others' read.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(10);

/// Counts keyed by lower id, then lower normalized version.
type Counts = HashMap<String, HashMap<String, u64>>;

pub struct Downloads {
    replica: String,
    own: Mutex<Counts>,
    dirty: AtomicBool,
    /// Sum of every other replica's published counts.
    others: Mutex<Counts>,
    /// Moves on whenever counts are published or others' read anew with a change: the web
    /// pages, which show counts, are cached only while it stays the same (counting each
    /// download would re-render a busy feed's pages for every restore).
    epoch: AtomicU64,
}

impl Default for Downloads {
    fn default() -> Self {
        Downloads::new()
    }
}

impl Downloads {
    pub fn new() -> Downloads {
        Downloads {
            replica: uuid::Uuid::new_v4().simple().to_string(),
            own: Mutex::default(),
            dirty: AtomicBool::new(false),
            others: Mutex::default(),
            epoch: AtomicU64::new(0),
        }
    }

    /// Changes when the counts shown may have changed (see the field).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Counts one download of a version.
    pub fn record(&self, lower_id: &str, lower_version: &str) {
        let mut own = lock(&self.own);
        *own.entry(lower_id.to_owned())
            .or_default()
            .entry(lower_version.to_owned())
            .or_default() += 1;
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Downloads of each of `versions` of an id, across all replicas.
    pub fn versions(&self, lower_id: &str, versions: &[&NuGetVersion]) -> Vec<u64> {
        let (own, others) = (lock(&self.own), lock(&self.others));
        let (own, others) = (own.get(lower_id), others.get(lower_id));
        if own.is_none() && others.is_none() {
            return vec![0; versions.len()];
        }
        let mut lower_version = String::new();
        versions
            .iter()
            .map(|v| {
                lower_version.clear();
                let _ = v.write_normalized(&mut lower_version, true);
                [own, others]
                    .into_iter()
                    .flatten()
                    .filter_map(|counts| counts.get(lower_version.as_str()))
                    .sum()
            })
            .collect()
    }

    /// Writes this replica's counts, if they changed.
    pub async fn publish(&self, storage: &Storage) -> storage::Result<()> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let json = serde_json::to_vec(&*lock(&self.own)).unwrap_or_default();
        let result = storage
            .put(Key::Downloads(&self.replica), Bytes::from(json))
            .await;
        match &result {
            Ok(()) => self.bump(),
            Err(_) => self.dirty.store(true, Ordering::Relaxed),
        }
        result
    }

    /// Re-reads every other replica's counts.
    pub async fn refresh(&self, storage: &Storage) -> storage::Result<()> {
        let own_path = Key::Downloads(&self.replica).path();
        let mut sum = Counts::new();
        for meta in storage.list(DOWNLOADS_PREFIX).await? {
            if meta.path == own_path {
                continue;
            }
            let bytes = match storage.get_path(&meta.path).await {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            // A malformed counter file is a statistic lost, not a reason to fail.
            let Ok(counts) = serde_json::from_slice::<Counts>(&bytes) else {
                tracing::warn!(storage.path = %meta.path, "ignoring unreadable download counts");
                continue;
            };
            for (id, versions) in counts {
                let entry = sum.entry(id).or_default();
                for (v, n) in versions {
                    *entry.entry(v).or_default() += n;
                }
            }
        }
        let mut others = lock(&self.others);
        if *others != sum {
            *others = sum;
            drop(others);
            self.bump();
        }
        Ok(())
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replicas_see_each_others_counts_after_publishing() {
        let storage = Storage::memory();
        let (a, b) = (Downloads::new(), Downloads::new());
        let (v1, v2) = (
            NuGetVersion::parse("1.0.0").unwrap(),
            NuGetVersion::parse("2.0.0-Beta").unwrap(),
        );
        let versions = [&v1, &v2];
        a.record("foo", "1.0.0");
        a.record("foo", "1.0.0");
        b.record("foo", "1.0.0");
        b.record("foo", "2.0.0-beta");
        assert_eq!(a.versions("foo", &versions), [2, 0]);
        a.publish(&storage).await.unwrap();
        b.publish(&storage).await.unwrap();
        a.refresh(&storage).await.unwrap();
        b.refresh(&storage).await.unwrap();
        assert_eq!(a.versions("foo", &versions), [3, 1]);
        assert_eq!(b.versions("foo", &versions), [3, 1]);
        assert_eq!(b.versions("bar", &versions), [0, 0]);
    }

    #[tokio::test]
    async fn the_epoch_moves_only_when_counts_shown_change() {
        let storage = Storage::memory();
        let (a, b) = (Downloads::new(), Downloads::new());
        a.publish(&storage).await.unwrap();
        a.refresh(&storage).await.unwrap();
        assert_eq!(a.epoch(), 0, "nothing counted, nothing read");
        a.record("foo", "1.0.0");
        a.publish(&storage).await.unwrap();
        assert_eq!(a.epoch(), 1, "published");
        b.refresh(&storage).await.unwrap();
        assert_eq!(b.epoch(), 1, "another replica's counts read");
        b.refresh(&storage).await.unwrap();
        assert_eq!(b.epoch(), 1, "read again, unchanged");
    }
}
