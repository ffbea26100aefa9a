//! The full metadata of package versions, read from storage when a view needs it.
//!
//! Records in memory are compact ([`super::record`]); everything a push knew about a version
//! (its whole nuspec, size, hash and embedded files) is in its push event, which is immutable.
//! Registration catalog entries, catalog leaves and search listings that must be read back load
//! it here, through a bounded cache: a rendered document is cached by the http layer, so this
//! cache only serves re-renders after a change (most often of the newest versions, which is why
//! a version just pushed is remembered on the way).

mod cache;

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};

use super::event::{Change, Details, Pushed};
use super::{Error, Feed, Result};

pub(super) use cache::DetailsCache;

/// How many push events are read at once when a view needs many.
const READ_CONCURRENCY: usize = 16;

impl Feed {
    /// What the push event `push_seq` says about the version it pushed.
    pub async fn pushed(&self, push_seq: u64) -> Result<Arc<Pushed>> {
        if let Some(p) = self.inner.details.get(push_seq) {
            return Ok(p);
        }
        let Change::Push(pushed) = self.read_event(push_seq).await?.change else {
            return Err(Error::CorruptLog {
                seq: push_seq,
                message: "a version's push event is not a push".into(),
            });
        };
        let pushed: Arc<Pushed> = Arc::from(pushed);
        self.inner.details.remember(push_seq, pushed.clone());
        Ok(pushed)
    }

    /// The push facts of several versions, by push event, read concurrently.
    pub async fn details(&self, push_seqs: impl IntoIterator<Item = u64>) -> Result<Details> {
        let mut seqs: Vec<u64> = push_seqs.into_iter().collect();
        seqs.sort_unstable();
        seqs.dedup();
        futures::stream::iter(seqs)
            .map(|seq| async move { Ok::<_, Error>((seq, self.pushed(seq).await?)) })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await
    }
}
