//! The [`Feed`] handle and what every operation shares through it: the storage, the options,
//! the state and search index in memory, and the caches. Opening a feed and the operations
//! live in the files named after them ([`super::open`], [`super::push`], ...), each an
//! `impl Feed` of its own.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use super::details::DetailsCache;
use super::downloads::Downloads;
use super::search::SearchIndex;
use super::snapshot::SnapshotClock;
use super::state::FeedState;
use crate::config::DeleteMode;
use crate::package;
use crate::storage::Storage;

/// Settings of the feed's behaviour (the storage-independent part of the config).
#[derive(Debug, Clone)]
pub struct Options {
    pub delete_mode: DeleteMode,
    /// A version removed by a hard delete may be pushed again (with any bytes).
    pub allow_deleted_version_reuse: bool,
    pub limits: package::Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delete_mode: DeleteMode::Unlist,
            allow_deleted_version_reuse: false,
            limits: package::Limits::default(),
        }
    }
}

/// A feed: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Feed {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) storage: Storage,
    pub(super) options: Options,
    pub(super) state: RwLock<FeedState>,
    pub(super) search: RwLock<SearchIndex>,
    /// Serializes this process's appends (others' are detected by create-only writes).
    pub(super) append_lock: tokio::sync::Mutex<()>,
    /// Serializes reading and applying the log so an event is fetched and applied once.
    pub(super) catch_up_lock: tokio::sync::Mutex<()>,
    pub(super) downloads: Downloads,
    /// Full metadata of versions read back from their push events ([`super::details`]).
    pub(super) details: DetailsCache,
    /// Ids whose search listing could not be read yet; retried at every catch-up.
    pub(super) pending_listings: Mutex<HashSet<Arc<str>>>,
    /// Set once the feed is open: from then on applied pushes are remembered in `details`.
    pub(super) live: AtomicBool,
    /// The last snapshot this replica wrote or loaded ([`super::snapshot`]).
    pub(super) snapshot: Mutex<SnapshotClock>,
}

impl Feed {
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// A consistent view of the state; hold it briefly (it blocks appends).
    pub fn state(&self) -> RwLockReadGuard<'_, FeedState> {
        self.inner
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn search_index(&self) -> RwLockReadGuard<'_, SearchIndex> {
        self.inner
            .search
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn downloads(&self) -> &Downloads {
        &self.inner.downloads
    }
}
