//! Opening a feed (its latest snapshot, then the log after it) and keeping it current: the
//! sync task that tails the log, writes snapshots and publishes download counts.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::Result;
use super::details::DetailsCache;
use super::downloads::{self, Downloads};
use super::handle::{Feed, Inner, Options};
use super::search::SearchIndex;
use super::state::FeedState;
use crate::storage::Storage;

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
}
