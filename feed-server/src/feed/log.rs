//! Reading and appending the event log (see [`super::event`]).
//!
//! Catching up reads the events after the state's sequence number in growing windows of
//! concurrent GETs (1, 2, 4, ... up to [`MAX_WINDOW`]) until one is missing: an idle tail costs
//! one GET, and a replica far behind (or starting after its snapshot) reads at the store's
//! parallel speed instead of one round trip per event, on every backend.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;

use super::event::{Change, Event};
use super::record::Listing;
use super::state::FeedState;
use super::{Error, Feed, Result};
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{self, Key};

/// Most events read at once while catching up.
const MAX_WINDOW: u64 = 64;

impl Feed {
    /// Applies every event appended since the last call (by any replica). Returns how many.
    pub async fn catch_up(&self) -> Result<usize> {
        let _applying = self.inner.catch_up_lock.lock().await;
        let mut applied = 0;
        let mut window = 1;
        loop {
            let next = self.state().seq() + 1;
            let events = self.read_events(next, window).await?;
            applied += self.apply_locked(&events).await;
            if (events.len() as u64) < window {
                // Retry listings a failed read left missing (a no-op almost always).
                self.refresh_ids(Vec::new()).await;
                return Ok(applied);
            }
            window = (window * 2).min(MAX_WINDOW);
        }
    }

    /// The events `from`, `from + 1`, ... that exist, up to `count` of them, read concurrently.
    async fn read_events(&self, from: u64, count: u64) -> Result<Vec<Event>> {
        let storage = &self.inner.storage;
        let mut reads = futures::stream::iter(from..from + count)
            .map(|seq| async move {
                match storage.get(Key::Event(seq)).await {
                    Ok(bytes) => Ok(Some((seq, bytes))),
                    Err(storage::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(Error::from(e)),
                }
            })
            .buffered(count as usize);
        let mut events = Vec::new();
        while let Some(read) = reads.next().await {
            let Some((seq, bytes)) = read? else { break };
            events.push(parse(seq, &bytes)?);
        }
        Ok(events)
    }

    /// Event `seq`, which the state has applied (so it exists).
    pub(super) async fn read_event(&self, seq: u64) -> Result<Event> {
        let bytes = self.inner.storage.get(Key::Event(seq)).await?;
        parse(seq, &bytes)
    }

    /// Appends the change that `decide` makes of the current state, if any, and applies it.
    ///
    /// `decide` sees the state including every event other replicas appended before ours; it may
    /// refuse (an error), decide there is nothing to do (`None`) or return the change. When
    /// another replica takes the sequence number first, the state is caught up and `decide` asked
    /// again, so a change is always validated against the state it is appended to.
    pub(super) async fn append(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        decide: impl Fn(&FeedState) -> Result<Option<Change>>,
    ) -> Result<Option<Event>> {
        let _appending = self.inner.append_lock.lock().await;
        loop {
            self.catch_up().await?;
            let (seq, change) = {
                let state = self.state();
                (state.seq() + 1, decide(&state)?)
            };
            let Some(change) = change else {
                return Ok(None);
            };
            let event = Event {
                seq,
                time: Utc::now(),
                id: id.clone(),
                version: version.clone(),
                change,
            };
            let bytes = serde_json::to_vec(&event).map_err(|e| Error::CorruptLog {
                seq,
                message: e.to_string(),
            })?;
            match self
                .inner
                .storage
                .create(Key::Event(seq), Bytes::from(bytes))
                .await
            {
                Ok(()) => {
                    let _applying = self.inner.catch_up_lock.lock().await;
                    self.apply_locked(std::slice::from_ref(&event)).await;
                    return Ok(Some(event));
                }
                Err(storage::Error::AlreadyExists { .. }) => {
                    tracing::debug!(event.seq = seq, "another replica appended first; retrying");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Applies events in order (the caller holds `catch_up_lock`), then brings search up to
    /// date for the ids they touched. Returns how many changed the state.
    async fn apply_locked(&self, events: &[Event]) -> usize {
        if events.is_empty() {
            return 0;
        }
        let live = self.inner.live.load(std::sync::atomic::Ordering::Relaxed);
        let mut touched: Vec<Arc<str>> = Vec::new();
        let mut applied = 0;
        {
            let mut state = self.write_state();
            for event in events {
                if !state.apply(event) {
                    continue;
                }
                applied += 1;
                let lower = event.id.lower();
                if let Some(k) = state.lower_id(&lower) {
                    touched.push(k.clone());
                } else {
                    touched.push(lower.into());
                }
                // A version just pushed is the one most likely rendered next.
                if live && let Change::Push(pushed) = &event.change {
                    let pushed = Arc::new(pushed.as_ref().clone());
                    self.inner.details.remember(event.seq, pushed);
                }
            }
        }
        self.refresh_ids(touched).await;
        applied
    }

    /// Reads the listings search needs for these ids (and for ids a failed read left behind),
    /// then re-indexes them.
    pub(super) async fn refresh_ids(&self, mut ids: Vec<Arc<str>>) {
        {
            let mut pending = lock(&self.inner.pending_listings);
            ids.extend(pending.drain());
        }
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        ids.dedup();
        let missing: Vec<_> = {
            let state = self.state();
            ids.iter()
                .flat_map(|id| state.missing_listings(id))
                .collect()
        };
        let mut failed: HashSet<Arc<str>> = HashSet::new();
        if !missing.is_empty() {
            let reads = futures::stream::iter(missing)
                .map(|m| async move {
                    let read = self.pushed(m.push_seq).await;
                    (m, read)
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await;
            let mut state = self.write_state();
            for (m, read) in reads {
                match read {
                    Ok(pushed) => {
                        let listing = Arc::new(Listing::from_nuspec(&pushed.nuspec));
                        state.set_listing(&m, listing);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, package.id = %m.lower_id, "cannot read a version's metadata for search; will retry");
                        failed.insert(m.lower_id.clone());
                    }
                }
            }
        }
        let records: Vec<_> = {
            let state = self.state();
            ids.iter()
                .map(|id| (id.clone(), state.package(id).cloned()))
                .collect()
        };
        {
            let mut search = self
                .inner
                .search
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (id, record) in &records {
                search.update(id, record.as_deref());
            }
        }
        lock(&self.inner.pending_listings).extend(failed);
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, FeedState> {
        self.inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Event `seq` from its stored bytes.
fn parse(seq: u64, bytes: &[u8]) -> Result<Event> {
    let corrupt = |message: String| Error::CorruptLog { seq, message };
    let event: Event = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if event.seq != seq {
        return Err(corrupt(format!("it says it is event {}", event.seq)));
    }
    Ok(event)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
