//! The bounded cache of push facts behind [`super`]: a version just pushed is remembered on
//! the way (the one most likely rendered next), the oldest insertion goes first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::feed::event::Pushed;

/// How many versions' metadata the cache keeps (a few KiB each).
const CAPACITY: usize = 8192;

/// Push facts by push event, oldest insertion evicted first.
#[derive(Default)]
pub(crate) struct DetailsCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<u64, Arc<Pushed>>,
    order: VecDeque<u64>,
}

impl DetailsCache {
    pub(super) fn get(&self, seq: u64) -> Option<Arc<Pushed>> {
        self.lock().map.get(&seq).cloned()
    }

    pub(crate) fn remember(&self, seq: u64, pushed: Arc<Pushed>) {
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
