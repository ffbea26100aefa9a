//! The upstream package cache as `fsck` and `gc` see it: the folders
//! `upstream/{upstream}/packages/{id}/{version}/` that `crate::upstream::packages` fills, each
//! a cached version with its size and its last use, and their expiry after
//! `upstream_cache_max_idle_days` without a download.
//!
//! A version's last use is the newest time of the objects in its folder: its files are
//! written on the first download, and its use marker ([`Key::UpstreamUse`]) on the first
//! download of each day on each replica, so the time is right to within a day without a write
//! per download. Removing a version is always safe: the cache is no part of the feed's log,
//! and the next download fetches the version again. Metadata documents
//! (`upstream/{upstream}/docs/`) expire by their TTL and are left alone.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::path::Path;
use serde::Serialize;

use crate::storage::key::{PACKAGES_PREFIX, UPSTREAM_PREFIX, UPSTREAM_USE_MARKER};
use crate::storage::{self, Meta, Storage};

/// One cached version's folder.
#[derive(Debug, Clone)]
pub struct CachedVersion {
    /// `upstream/{upstream}/packages/{id}/{version}`.
    pub folder: String,
    pub bytes: u64,
    pub last_use: DateTime<Utc>,
    objects: Vec<Path>,
}

/// What `fsck` reports about the cache.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CacheSummary {
    /// Cached versions, of every upstream.
    pub versions: usize,
    /// Their size in bytes.
    pub bytes: u64,
    /// Days since the least recently used one was downloaded.
    pub max_idle_days: u64,
}

/// Every cached version, from a listing of `upstream/`.
pub async fn list(storage: &Storage) -> storage::Result<Vec<CachedVersion>> {
    Ok(group(storage.list(UPSTREAM_PREFIX).await?))
}

/// Groups a listing of `upstream/` into cached versions (objects elsewhere are left out).
fn group(objects: Vec<Meta>) -> Vec<CachedVersion> {
    let mut folders: BTreeMap<String, CachedVersion> = BTreeMap::new();
    for meta in objects {
        let parts: Vec<&str> = meta.path.as_ref().split('/').collect();
        let [UPSTREAM_PREFIX, _, PACKAGES_PREFIX, _, _, _] = parts.as_slice() else {
            continue;
        };
        let folder = parts[..5].join("/");
        let entry = folders
            .entry(folder.clone())
            .or_insert_with(|| CachedVersion {
                folder,
                bytes: 0,
                last_use: meta.last_modified,
                objects: Vec::new(),
            });
        entry.bytes += meta.size;
        entry.last_use = entry.last_use.max(meta.last_modified);
        entry.objects.push(meta.path);
    }
    folders.into_values().collect()
}

/// The cache's size and age (`fsck`).
pub fn summarize(versions: &[CachedVersion]) -> CacheSummary {
    CacheSummary {
        versions: versions.len(),
        bytes: versions.iter().map(|v| v.bytes).sum(),
        max_idle_days: versions
            .iter()
            .map(|v| storage::age(v.last_use).as_secs() / 86_400)
            .max()
            .unwrap_or(0),
    }
}

/// What [`expire`] did.
#[derive(Debug, Default)]
pub struct Expired {
    /// Objects removed (or, in a dry run, that would be).
    pub removed: Vec<String>,
    pub removed_bytes: u64,
    /// Objects that could not be removed; a later run retries.
    pub failed: Vec<String>,
}

/// Removes the cached versions not used for longer than `max_idle` (`gc`). A version is
/// looked at again just before its removal: a download since the listing keeps it.
pub async fn expire(
    storage: &Storage,
    max_idle: Duration,
    dry_run: bool,
) -> storage::Result<Expired> {
    let mut expired = Expired::default();
    for version in list(storage).await? {
        if storage::age(version.last_use) <= max_idle
            || used_since_listed(storage, &version).await?
        {
            continue;
        }
        tracing::info!(storage.path = %version.folder, idle_days = storage::age(version.last_use).as_secs() / 86_400, "gc removes an idle cached upstream package");
        expired.removed_bytes += version.bytes;
        // The package last: a folder without it is refetched whole on its next download.
        let mut objects = version.objects;
        objects.sort_by_key(|p| p.as_ref().ends_with(".nupkg"));
        for path in objects {
            if !dry_run && let Err(e) = storage.delete_path(&path).await {
                tracing::warn!(storage.path = %path, error = %e, "gc cannot remove a cached upstream file");
                expired.failed.push(path.to_string());
                continue;
            }
            expired.removed.push(path.to_string());
        }
    }
    Ok(expired)
}

/// Whether `version`'s use marker was written after the listing saw the folder.
async fn used_since_listed(storage: &Storage, version: &CachedVersion) -> storage::Result<bool> {
    let marker = Path::from(format!("{}/{UPSTREAM_USE_MARKER}", version.folder));
    match storage.head_path(&marker).await {
        Ok(meta) => Ok(meta.last_modified > version.last_use),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(path: &str, size: u64, days_ago: i64) -> Meta {
        Meta {
            path: Path::from(path),
            size,
            last_modified: Utc::now() - chrono::Duration::days(days_ago),
            e_tag: None,
        }
    }

    /// A version's last use is its newest object (the use marker once it was downloaded from
    /// the cache); metadata documents are no cached version.
    #[test]
    fn cached_versions_are_folders_used_when_their_newest_object_was_written() {
        let versions = group(vec![
            meta("upstream/up/packages/a/1.0.0/a.1.0.0.nupkg", 100, 40),
            meta("upstream/up/packages/a/1.0.0/a.nuspec", 10, 40),
            meta("upstream/up/packages/a/1.0.0/.used", 0, 3),
            meta("upstream/up/packages/b/2.0.0/b.2.0.0.nupkg", 50, 20),
            meta("upstream/up/docs/ab12", 5, 1),
        ]);
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].folder, "upstream/up/packages/a/1.0.0");
        assert_eq!(versions[0].bytes, 110);
        assert_eq!(storage::age(versions[0].last_use).as_secs() / 86_400, 3);
        let summary = summarize(&versions);
        assert_eq!((summary.versions, summary.bytes), (2, 160));
        assert_eq!(summary.max_idle_days, 20);
    }
}
