//! Reading and appending the event log (see [`super::event`]).

use bytes::Bytes;
use chrono::Utc;

use super::event::{Change, Event};
use super::state::FeedState;
use super::{Error, Feed, Result};
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{self, Key};

impl Feed {
    /// Applies every event appended since the last call (by any replica). Returns how many.
    pub async fn catch_up(&self) -> Result<usize> {
        let _reading = self.inner.catch_up_lock.lock().await;
        let mut applied = 0;
        loop {
            let next = self.state().seq() + 1;
            let bytes = match self.inner.storage.get(Key::Event(next)).await {
                Ok(bytes) => bytes,
                Err(storage::Error::NotFound { .. }) => return Ok(applied),
                Err(e) => return Err(e.into()),
            };
            let event: Event = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptLog {
                seq: next,
                message: e.to_string(),
            })?;
            if event.seq != next {
                return Err(Error::CorruptLog {
                    seq: next,
                    message: format!("it says it is event {}", event.seq),
                });
            }
            self.apply(&event);
            applied += 1;
        }
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
                    self.apply(&event);
                    return Ok(Some(event));
                }
                Err(storage::Error::AlreadyExists { .. }) => {
                    tracing::debug!(event.seq = seq, "another replica appended first; retrying");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn apply(&self, event: &Event) {
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.apply(event) {
            let lower = event.id.lower();
            let mut search = self
                .inner
                .search
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            search.update(&lower, state.package(&lower).map(|p| p.as_ref()));
        }
    }
}
