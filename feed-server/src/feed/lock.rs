//! A version's maintenance lock: who may remove or rewrite the files of a version that the
//! feed does not show.
//!
//! Object stores have create-only writes but no conditional delete, so two processes that both
//! decide to clean up or take over the same version folder could undo each other's work (a
//! hard delete removing the files of a push that just claimed the same version; `gc` removing a
//! claim that a push is taking over). Everyone who deletes or overwrites files of a version that
//! is not in the feed state holds the version's lock: the hard deleter (from before its Delete
//! event until its last file is gone), a push taking over an expired claim or refreshing an old
//! one of the same bytes, a symbols push, and `gc`. A push that made a fresh claim (create-only
//! on an empty path) needs no lock, but waits until nobody holds it before it writes anything
//! else ([`wait_unlocked`]), so that a holder never removes what it writes.
//!
//! The lock is a series of generations `packages/{id}/{version}/.lock/{n}`, each written
//! create-only: of two processes creating generation `n + 1` only one succeeds. A holder starts
//! no write later than [`HOLD`] after acquiring, and a generation older than [`STALE`] is dead
//! (its holder crashed), so the next generation may be taken; releasing deletes it. The margin
//! between the two covers a request the holder started in time but that is still in flight, and
//! clock skew between replicas and the store.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Result;
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{self, Key, Storage, key};

/// Longest a holder keeps writing: it starts no write after this.
pub const HOLD: Duration = Duration::from_secs(60);
/// Age after which a lock generation is dead and the next one may be taken.
pub const STALE: Duration = Duration::from_secs(300);
/// How long an operation waits for someone else's lock before giving up with 503.
pub const WAIT: Duration = Duration::from_secs(5);

/// A held lock: release it with [`unlock`] (a crashed holder's lock goes stale).
#[derive(Debug)]
pub struct VersionLock {
    id: PackageId,
    version: NuGetVersion,
    generation: u64,
    acquired: Instant,
}

impl VersionLock {
    /// Whether the holder may still start a write.
    pub fn may_write(&self) -> bool {
        self.acquired.elapsed() < HOLD
    }
}

/// What the lock folder says.
enum LockState {
    /// Nobody holds it; the next generation to take.
    Free { next: u64 },
    /// A generation younger than [`STALE`] exists.
    Held,
}

async fn lock_state(
    storage: &Storage,
    id: &PackageId,
    version: &NuGetVersion,
) -> Result<LockState> {
    let generations = storage.list(&key::lock_folder(id, version)).await?;
    let latest = generations
        .iter()
        .filter_map(|m| match key::classify(&m.path) {
            key::Stored::Lock { generation, .. } => Some((generation, m.last_modified)),
            _ => None,
        })
        .max_by_key(|(generation, _)| *generation);
    Ok(match latest {
        None => LockState::Free { next: 1 },
        Some((generation, modified)) => {
            if storage::age(modified) < STALE {
                LockState::Held
            } else {
                LockState::Free {
                    next: generation + 1,
                }
            }
        }
    })
}

/// Takes the version's lock, or `None` when someone else holds it.
pub async fn try_lock(
    storage: &Storage,
    id: &PackageId,
    version: &NuGetVersion,
) -> Result<Option<VersionLock>> {
    let LockState::Free { next } = lock_state(storage, id, version).await? else {
        return Ok(None);
    };
    let acquired = Instant::now();
    let key = Key::Lock {
        id,
        version,
        generation: next,
    };
    match storage.create(key, Bytes::new()).await {
        Ok(()) => Ok(Some(VersionLock {
            id: id.clone(),
            version: version.clone(),
            generation: next,
            acquired,
        })),
        Err(storage::Error::AlreadyExists { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Takes the version's lock, waiting up to [`WAIT`] for its holder; `None` if still held.
pub async fn lock(
    storage: &Storage,
    id: &PackageId,
    version: &NuGetVersion,
) -> Result<Option<VersionLock>> {
    let start = Instant::now();
    loop {
        if let Some(lock) = try_lock(storage, id, version).await? {
            return Ok(Some(lock));
        }
        if start.elapsed() >= WAIT {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Releases a lock: deletes its generation and any older (dead) ones. A failure leaves a
/// generation that goes stale by itself.
pub async fn unlock(storage: &Storage, lock: VersionLock) {
    let generations = match storage
        .list(&key::lock_folder(&lock.id, &lock.version))
        .await
    {
        Ok(generations) => generations,
        Err(e) => {
            tracing::warn!(error = %e, "cannot release a version lock; it will go stale");
            return;
        }
    };
    for m in generations {
        if let key::Stored::Lock { generation, .. } = key::classify(&m.path)
            && generation <= lock.generation
            && let Err(e) = storage.delete_path(&m.path).await
        {
            tracing::warn!(error = %e, "cannot release a version lock; it will go stale");
        }
    }
}

/// Waits up to [`WAIT`] until nobody holds the version's lock; `false` if someone still does.
pub async fn wait_unlocked(
    storage: &Storage,
    id: &PackageId,
    version: &NuGetVersion,
) -> Result<bool> {
    let start = Instant::now();
    loop {
        if let LockState::Free { .. } = lock_state(storage, id, version).await? {
            return Ok(true);
        }
        if start.elapsed() >= WAIT {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
