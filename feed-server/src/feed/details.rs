//! The full metadata of package versions, read from storage when a view needs it.
//!
//! Records in memory are compact ([`super::record`]); everything a push knew about a version
//! (its whole nuspec, size, hash and embedded files) is in its push event, which is immutable.
//! Registration catalog entries, catalog leaves and search listings that must be read back load
//! it here, through a bounded cache: a rendered document is cached by the http layer, so this
//! cache only serves re-renders after a change (most often of the newest versions, which is why
//! a version just pushed is remembered on the way).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};

use super::event::{Change, Pushed};
use super::{Error, Feed, Result};

/// Push facts by the sequence number of their push event.
pub type Details = HashMap<u64, Arc<Pushed>>;

/// How many versions' metadata the cache keeps (a few KiB each).
const CAPACITY: usize = 8192;

/// How many push events are read at once when a view needs many.
const READ_CONCURRENCY: usize = 16;

/// Push facts by push event, oldest insertion evicted first.
#[derive(Default)]
pub(super) struct DetailsCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<u64, Arc<Pushed>>,
    order: VecDeque<u64>,
}

impl DetailsCache {
    fn get(&self, seq: u64) -> Option<Arc<Pushed>> {
        self.lock().map.get(&seq).cloned()
    }

    pub(super) fn remember(&self, seq: u64, pushed: Arc<Pushed>) {
        let mut inner = self.lock();
        if inner.map.insert(seq, pushed).is_none() {
            inner.order.push_back(seq);
        }
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::event::EmbeddedFiles;
    use crate::package::nuspec;

    fn pushed(n: u64) -> Arc<Pushed> {
        let xml = format!(
            "<package><metadata><id>A</id><version>1.0.{n}</version><authors>a</authors><description>d</description></metadata></package>"
        );
        Arc::new(Pushed {
            nuspec: nuspec::parse(xml.as_bytes(), 1 << 20).unwrap(),
            size: n,
            sha512: String::new(),
            files: EmbeddedFiles::default(),
        })
    }

    #[test]
    fn cache_is_bounded_and_evicts_the_oldest() {
        let cache = DetailsCache::default();
        for n in 0..(CAPACITY as u64 + 10) {
            cache.remember(n, pushed(n));
        }
        assert!(cache.get(0).is_none());
        assert!(cache.get(9).is_none());
        assert_eq!(cache.get(10).unwrap().size, 10);
        assert_eq!(cache.lock().map.len(), CAPACITY);
    }
}
