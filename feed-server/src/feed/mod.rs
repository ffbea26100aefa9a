//! The feed: its state in memory and the operations that change it (push, unlist, relist,
//! delete, deprecate).
//!
//! State is the fold of the event log in storage ([`event`]); every change appends one event
//! create-only, so replicas sharing a bucket agree on one order, and each replica tails the log
//! to converge ([`Feed::spawn_sync`]). A version becomes visible only through its event,
//! which is appended after all its blobs are stored (DESIGN invariant 3).

pub mod catalog;
pub mod deprecation;
pub mod details;
pub mod downloads;
pub mod event;
pub mod fsck;
pub mod gc;
pub mod lock;
mod log;
mod push;
pub mod record;
pub mod search;
pub mod snapshot;
pub mod state;

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use crate::config::DeleteMode;
use crate::package::{self, NuGetVersion, PackageId};
use crate::storage::{self, Key, PackageFile, Storage};

use details::DetailsCache;
use downloads::Downloads;
pub use push::{COMMIT_DEADLINE, Prepared, PreparedSymbols};
use search::SearchIndex;
use state::FeedState;

/// Why a feed operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The package (or its nuspec) is malformed.
    #[error(transparent)]
    Invalid(#[from] package::Error),
    /// The package is well-formed but cannot be accepted as it is.
    #[error("{0}")]
    Rejected(String),
    /// This id and version is already in the feed (PUB-4), or being pushed right now.
    #[error("package {id} {version} already exists")]
    AlreadyExists { id: String, version: String },
    /// A deprecation document is malformed or names invalid values (REG-10); the message says
    /// what is wrong.
    #[error("{0}")]
    InvalidDeprecation(String),
    /// No such package version.
    #[error("package {id} {version} not found")]
    NotFound { id: String, version: String },
    /// The object store failed; nothing visible changed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// The version is being changed by someone else (a hard delete removing its files, a
    /// cleanup), or storing took too long to publish safely; nothing changed: retry shortly.
    #[error("{0}")]
    Busy(String),
    /// An event in the log cannot be read back.
    #[error("event log entry {seq} is corrupt: {message}")]
    CorruptLog { seq: u64, message: String },
    /// A snapshot of the state could not be written (reading one never fails: a bad one is
    /// ignored and the log replayed).
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings of the feed's behaviour (the storage-independent part of the config).
#[derive(Debug, Clone)]
pub struct Options {
    pub delete_mode: DeleteMode,
    pub limits: package::Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delete_mode: DeleteMode::Unlist,
            limits: package::Limits::default(),
        }
    }
}

/// A feed: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Storage,
    options: Options,
    state: RwLock<FeedState>,
    search: RwLock<SearchIndex>,
    /// Serializes this process's appends (others' are detected by create-only writes).
    append_lock: tokio::sync::Mutex<()>,
    /// Serializes reading and applying the log so an event is fetched and applied once.
    catch_up_lock: tokio::sync::Mutex<()>,
    downloads: Downloads,
    /// Full metadata of versions read back from their push events ([`details`]).
    details: DetailsCache,
    /// Ids whose search listing could not be read yet; retried at every catch-up.
    pending_listings: Mutex<HashSet<Arc<str>>>,
    /// Set once the feed is open: from then on applied pushes are remembered in `details`.
    live: AtomicBool,
    /// The last snapshot this replica wrote or loaded ([`snapshot`]).
    snapshot: Mutex<snapshot::SnapshotClock>,
}

impl Feed {
    /// Opens the feed in `storage`: loads its latest snapshot, if any, and replays the event
    /// log after it.
    pub async fn open(storage: Storage, options: Options) -> Result<Feed> {
        let feed = Feed {
            inner: Arc::new(Inner {
                storage,
                options,
                state: RwLock::new(FeedState::default()),
                search: RwLock::new(SearchIndex::default()),
                append_lock: tokio::sync::Mutex::new(()),
                catch_up_lock: tokio::sync::Mutex::new(()),
                downloads: Downloads::new(),
                details: DetailsCache::default(),
                pending_listings: Mutex::default(),
                live: AtomicBool::new(false),
                snapshot: Mutex::default(),
            }),
        };
        let started = std::time::Instant::now();
        let from_snapshot = feed.load_snapshot().await?;
        let replayed = feed.catch_up().await?;
        feed.inner
            .live
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            event.seq = feed.state().seq(),
            snapshot.seq = from_snapshot,
            events_replayed = replayed,
            duration_ms = started.elapsed().as_millis() as u64,
            "feed loaded"
        );
        feed.inner.downloads.refresh(&feed.inner.storage).await?;
        Ok(feed)
    }

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

    /// Picks up other replicas' changes and publishes download counts, every `interval`.
    pub fn spawn_sync(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let feed = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_downloads = tokio::time::Instant::now();
            loop {
                ticker.tick().await;
                if let Err(e) = feed.catch_up().await {
                    tracing::warn!(error = %e, "cannot read the feed's event log; will retry");
                }
                if let Err(e) = feed.snapshot_if_due().await {
                    tracing::warn!(error = %e, "cannot write a feed snapshot; will retry");
                }
                if last_downloads.elapsed() >= downloads::PUBLISH_INTERVAL {
                    last_downloads = tokio::time::Instant::now();
                    if let Err(e) = feed.sync_downloads().await {
                        tracing::warn!(error = %e, "cannot publish download counts; will retry");
                    }
                }
            }
        })
    }

    /// Writes this replica's download counts and reads everyone else's.
    pub async fn sync_downloads(&self) -> Result<()> {
        self.inner.downloads.publish(&self.inner.storage).await?;
        self.inner.downloads.refresh(&self.inner.storage).await?;
        Ok(())
    }

    /// Streams a stored file of a version the feed holds (listed or not). Blobs of versions
    /// without an event (an interrupted push) are never served.
    pub async fn open_file(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<storage::Blob>> {
        let canonical = {
            let state = self.state();
            let Some(v) = state.version(id, version) else {
                return Ok(None);
            };
            let present = match file {
                PackageFile::Nupkg | PackageFile::Nuspec => true,
                PackageFile::Snupkg => !v.symbols.is_empty(),
                PackageFile::Icon => v.files.icon,
                PackageFile::Readme => v.files.readme,
                PackageFile::License => v.files.license,
            };
            if !present {
                return Ok(None);
            }
            (v.id().clone(), v.version().clone())
        };
        let key = Key::Package {
            id: &canonical.0,
            version: &canonical.1,
            file,
        };
        match self.inner.storage.get_stream(key).await {
            Ok(blob) => Ok(Some(blob)),
            // Deleted between the state check and the read (hard delete).
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams a stored portable PDB by its symbol-server key (SYM-4).
    pub async fn open_symbol(&self, file: &str, key: &str) -> Result<Option<storage::Blob>> {
        let file = file.to_ascii_lowercase();
        let key = key.to_ascii_lowercase();
        if !self.state().has_symbol(&file, &key) {
            return Ok(None);
        }
        match self
            .inner
            .storage
            .get_stream(Key::Symbol {
                file: &file,
                key: &key,
            })
            .await
        {
            Ok(blob) => Ok(Some(blob)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
