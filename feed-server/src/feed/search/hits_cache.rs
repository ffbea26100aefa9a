//! The hits of recent queries, valid until the index changes.
//!
//! A fixed number of slots, and each query may only sit in the slot its hash picks: keeping
//! one more query costs one slot's worth every time. A map emptied when full made one query
//! in thousands free every remembered page at once while holding the lock, a pause of
//! milliseconds for every query behind it.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use super::{SearchHits, SearchQuery};

/// Number of slots: the queries that come again and again (first letters typed into
/// autocomplete, the empty query of Visual Studio's Browse tab) stay, whatever else comes.
const SLOTS: usize = 4096;

/// Which service a query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Search,
    Autocomplete,
}

#[derive(Debug, Default)]
pub struct HitsCache {
    slots: Mutex<Vec<Option<Slot>>>,
    hasher: RandomState,
    /// Bumped by every change to the index: slots filled before hold stale hits.
    generation: u64,
}

#[derive(Debug)]
struct Slot {
    generation: u64,
    kind: Kind,
    query: SearchQuery,
    hits: Arc<SearchHits>,
}

impl HitsCache {
    /// The remembered hits of `query`, or `compute`'s, remembered.
    pub fn get_or(
        &self,
        kind: Kind,
        query: &SearchQuery,
        compute: impl FnOnce() -> SearchHits,
    ) -> Arc<SearchHits> {
        let at = (self.hasher.hash_one((kind, query)) % SLOTS as u64) as usize;
        {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(Some(slot)) = slots.get(at)
                && slot.generation == self.generation
                && slot.kind == kind
                && slot.query == *query
            {
                return slot.hits.clone();
            }
        }
        let hits = Arc::new(compute());
        let new = Slot {
            generation: self.generation,
            kind,
            query: query.clone(),
            hits: hits.clone(),
        };
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.is_empty() {
            slots.resize_with(SLOTS, || None);
        }
        let old = slots.get_mut(at).and_then(|s| s.replace(new));
        drop(slots);
        // Freed outside the lock.
        drop(old);
        hits
    }

    /// Forgets every query (the index changed).
    pub fn invalidate(&mut self) {
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_kind_and_query_until_invalidated() {
        let mut cache = HitsCache::default();
        let q = SearchQuery {
            q: "json".into(),
            ..SearchQuery::default()
        };
        let hits = |total| SearchHits {
            total,
            ids: Vec::new(),
        };
        assert_eq!(cache.get_or(Kind::Search, &q, || hits(1)).total, 1);
        assert_eq!(cache.get_or(Kind::Search, &q, || hits(2)).total, 1);
        assert_eq!(cache.get_or(Kind::Autocomplete, &q, || hits(3)).total, 3);
        let next_page = SearchQuery {
            skip: 20,
            ..q.clone()
        };
        assert_eq!(cache.get_or(Kind::Search, &next_page, || hits(4)).total, 4);
        cache.invalidate();
        assert_eq!(cache.get_or(Kind::Search, &q, || hits(5)).total, 5);
    }
}
