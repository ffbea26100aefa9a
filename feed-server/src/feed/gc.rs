//! `nuget-feed-server gc`: removes orphaned objects (see [`super::fsck`]) that are older than a
//! grace period, safely on a live feed.
//!
//! Never removed: an object that a visible version references, an object younger than the
//! grace (a push in progress writes only young objects, and gives up before its claim is
//! [`COMMIT_DEADLINE`](super::COMMIT_DEADLINE) old), and anything in a version folder whose
//! claim is younger than the grace. A version folder is cleaned only under the version's
//! [`lock`], which every other process that removes or rewrites files of an
//! invisible version also holds, and which a push that just claimed the version waits for
//! before writing its other files; under the lock every object is looked at again and the log
//! caught up on before it is removed. The folder's other files go first and its claim last, so
//! the version cannot be claimed again while its old files are still being removed.
//!
//! With `upstream_cache_max_idle_days`, cached upstream packages that no one downloaded for
//! that long are removed too ([`super::upstream_cache`]).
//!
//! A local folder's temporary files of interrupted writes (`{path}#{n}`, invisible to listings)
//! older than the grace are removed too.
//!
//! Symbol PDBs (`symbols/`) are shared by content and not under a version's lock: one is removed
//! when no visible version references it, it is older than the grace, and it is unchanged since
//! it was listed; a symbols push that rewrites one just then puts it back after its event.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use super::Result;
use super::fsck::{LogView, list_blobs};
use super::{lock, upstream_cache};
use crate::package::{NuGetVersion, PackageId};
use crate::storage::key::{self, Stored};
use crate::storage::{self, Key, Meta, PackageFile, Storage};

/// How [`gc`] runs.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Only objects older than this are removed. Below [`storage::CLAIM_GRACE`] a push that is
    /// slow (but within its deadline) could lose its files: use less only on a quiet feed.
    pub grace: Duration,
    /// Report what would be removed, remove nothing (takes no locks either).
    pub dry_run: bool,
    /// Cached upstream packages not downloaded for longer than this are removed too
    /// (`upstream_cache_max_idle_days`, see [`super::upstream_cache`]); `None`: kept.
    pub upstream_max_idle: Option<Duration>,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: storage::CLAIM_GRACE,
            dry_run: false,
            upstream_max_idle: None,
        }
    }
}

/// What [`gc`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Objects removed (or, in a dry run, that would be).
    pub removed: Vec<String>,
    /// Their total size in bytes.
    pub removed_bytes: u64,
    /// Orphans left because they are younger than the grace.
    pub young: usize,
    /// Version folders left because someone else held their lock or a push is claiming them.
    pub busy: Vec<String>,
    /// Objects that could not be removed (the store failed); a later run retries.
    pub failed: Vec<String>,
}

/// One version folder's objects, as listed.
#[derive(Debug, Default)]
struct Folder {
    files: Vec<(PackageFile, Meta)>,
    locks: Vec<Meta>,
}

/// Removes old orphans from the feed in `storage` (see the module docs).
pub async fn gc(storage: &Storage, options: &GcOptions) -> Result<GcReport> {
    // Listing before reading the log: a version visible by the time we look is never removed.
    let objects = list_blobs(storage).await?;
    let mut view = LogView::read(storage).await?;
    if let Some(problem) = &view.broken {
        // Versions after the break are invisible but not orphans: removing their files would
        // make a repair of the log impossible.
        return Err(super::Error::Rejected(format!(
            "the event log is broken, so nothing is removed: {problem}"
        )));
    }
    let mut report = GcReport::default();
    let mut folders: BTreeMap<(String, String), (PackageId, NuGetVersion, Folder)> =
        BTreeMap::new();
    let mut symbols = Vec::new();
    for meta in objects.into_values() {
        match key::classify(&meta.path) {
            Stored::Package { id, version, file } => {
                folder_of(&mut folders, id, version)
                    .files
                    .push((file, meta));
            }
            Stored::Lock { id, version, .. } => {
                folder_of(&mut folders, id, version).locks.push(meta);
            }
            Stored::Symbol { file, key } => symbols.push((file, key, meta)),
            // Not ours to judge.
            Stored::Unknown => {}
        }
    }
    for (_, (id, version, folder)) in folders {
        collect_folder(
            storage,
            options,
            &mut view,
            &id,
            &version,
            folder,
            &mut report,
        )
        .await?;
    }
    collect_symbols(storage, options, &mut view, symbols, &mut report).await?;
    collect_leftovers(storage, options, &mut report).await?;
    if let Some(max_idle) = options.upstream_max_idle {
        let expired = upstream_cache::expire(storage, max_idle, options.dry_run).await?;
        report.removed.extend(expired.removed);
        report.removed_bytes += expired.removed_bytes;
        report.failed.extend(expired.failed);
    }
    Ok(report)
}

/// A local folder's temporary files of interrupted writes: no object, no reader; one older than
/// the grace belongs to no write in progress (those keep writing to it).
async fn collect_leftovers(
    storage: &Storage,
    options: &GcOptions,
    report: &mut GcReport,
) -> Result<()> {
    for leftover in storage.local_leftovers().await? {
        if storage::age(leftover.last_modified) < options.grace {
            report.young += 1;
            continue;
        }
        if !options.dry_run
            && let Err(e) = storage.remove_local_leftover(&leftover).await
        {
            tracing::warn!(error = %e, "gc cannot remove an interrupted write's file");
            report.failed.push(leftover.path);
            continue;
        }
        report.removed_bytes += leftover.size;
        report.removed.push(leftover.path);
    }
    Ok(())
}

fn folder_of(
    folders: &mut BTreeMap<(String, String), (PackageId, NuGetVersion, Folder)>,
    id: PackageId,
    version: NuGetVersion,
) -> &mut Folder {
    let k = (id.lower(), version.lower_normalized());
    &mut folders
        .entry(k)
        .or_insert_with(|| (id, version, Folder::default()))
        .2
}

/// Whether `file` of this folder is unreferenced in `view`.
fn unreferenced(view: &LogView, id: &PackageId, version: &NuGetVersion, file: PackageFile) -> bool {
    view.version(id, version)
        .is_none_or(|v| !v.references(file))
}

async fn collect_folder(
    storage: &Storage,
    options: &GcOptions,
    view: &mut LogView,
    id: &PackageId,
    version: &NuGetVersion,
    folder: Folder,
    report: &mut GcReport,
) -> Result<()> {
    let mut candidates: Vec<(PackageFile, Meta)> = Vec::new();
    for (file, meta) in folder.files {
        if !unreferenced(view, id, version, file) {
            continue;
        }
        if storage::age(meta.last_modified) < options.grace {
            report.young += 1;
        } else {
            candidates.push((file, meta));
        }
    }
    let stale_locks = folder
        .locks
        .iter()
        .any(|m| storage::age(m.last_modified) >= lock::STALE);
    if candidates.is_empty() && !stale_locks {
        return Ok(());
    }
    // The claim last: while it exists nobody can claim the version afresh.
    candidates.sort_by_key(|(file, _)| *file == PackageFile::Nupkg);
    if options.dry_run {
        for (_, meta) in candidates {
            report.removed_bytes += meta.size;
            report.removed.push(meta.path.to_string());
        }
        return Ok(());
    }
    let folder_name = key::version_folder(id, version);
    let Some(held) = lock::try_lock(storage, id, version).await? else {
        report.busy.push(folder_name);
        return Ok(());
    };
    let claim_key = Key::Package {
        id,
        version,
        file: PackageFile::Nupkg,
    };
    let claim = match storage.head(claim_key).await {
        Ok(meta) => Some(meta),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            report.failed.push(folder_name);
            tracing::warn!(error = %e, "gc cannot look at a claim; leaving the lock to go stale");
            return Ok(());
        }
    };
    // After looking at the claim: a push that committed before it was old enough to collect
    // is in the log by now.
    view.catch_up(storage).await?;
    if view.version(id, version).is_none()
        && claim
            .as_ref()
            .is_some_and(|c| storage::age(c.last_modified) < options.grace)
    {
        // A push is claiming the version: its files are (or will be) its own.
        report.busy.push(folder_name);
        lock::unlock(storage, held).await;
        return Ok(());
    }
    for (file, listed) in candidates {
        if !held.may_write() {
            break;
        }
        if !unreferenced(view, id, version, file) {
            continue;
        }
        let path = listed.path.to_string();
        match storage.head_path(&listed.path).await {
            Ok(now)
                if unchanged(&listed, &now) && storage::age(now.last_modified) >= options.grace => {
            }
            // Rewritten or removed since the listing: not ours to remove.
            Ok(_) => continue,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                tracing::warn!(error = %e, storage.path = %path, "gc cannot look at an orphan");
                report.failed.push(path);
                return Ok(());
            }
        }
        if let Err(e) = storage.delete_path(&listed.path).await {
            // The lock is left to go stale: the delete may still be carried out.
            tracing::warn!(error = %e, storage.path = %path, "gc cannot remove an orphan");
            report.failed.push(path);
            return Ok(());
        }
        tracing::info!(storage.path = %path, size_bytes = listed.size, "gc removed an orphan");
        report.removed_bytes += listed.size;
        report.removed.push(path);
    }
    // Releasing also removes the dead generations of the lock that were left behind.
    lock::unlock(storage, held).await;
    Ok(())
}

async fn collect_symbols(
    storage: &Storage,
    options: &GcOptions,
    view: &mut LogView,
    symbols: Vec<(String, String, Meta)>,
    report: &mut GcReport,
) -> Result<()> {
    let mut referenced: HashSet<(String, String)> = view.symbols();
    for (file, key, listed) in symbols {
        if referenced.contains(&(file.clone(), key.clone())) {
            continue;
        }
        if storage::age(listed.last_modified) < options.grace {
            report.young += 1;
            continue;
        }
        let path = listed.path.to_string();
        if options.dry_run {
            report.removed_bytes += listed.size;
            report.removed.push(path);
            continue;
        }
        match storage.head_path(&listed.path).await {
            Ok(now)
                if unchanged(&listed, &now) && storage::age(now.last_modified) >= options.grace => {
            }
            Ok(_) => continue,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                tracing::warn!(error = %e, storage.path = %path, "gc cannot look at an orphan");
                report.failed.push(path);
                continue;
            }
        }
        view.catch_up(storage).await?;
        referenced = view.symbols();
        if referenced.contains(&(file, key)) {
            continue;
        }
        if let Err(e) = storage.delete_path(&listed.path).await {
            tracing::warn!(error = %e, storage.path = %path, "gc cannot remove an orphan");
            report.failed.push(path);
            continue;
        }
        tracing::info!(storage.path = %path, size_bytes = listed.size, "gc removed an orphan");
        report.removed_bytes += listed.size;
        report.removed.push(path);
    }
    Ok(())
}

/// Whether an object is the one that was listed (same version tag, or same size and time).
fn unchanged(listed: &Meta, now: &Meta) -> bool {
    match (&listed.e_tag, &now.e_tag) {
        (Some(a), Some(b)) => a == b,
        _ => listed.size == now.size && listed.last_modified == now.last_modified,
    }
}
