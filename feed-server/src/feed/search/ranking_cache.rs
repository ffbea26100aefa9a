//! The rankings of recent queries, valid until the index changes.
//!
//! A query's ranking is remembered without its `skip` and `take`, as deep as its pages have
//! needed (rounded up): the next page of a query, or the next dozen, is cut from what the
//! first one ranked, and only a page deeper than any before ranks again. Those are the
//! queries that come again and again: the first letters typed into autocomplete, the words
//! everyone searches for, Visual Studio loading the next page as its list scrolls.
//!
//! A fixed number of slots, and each query may only sit in the slot its hash picks: keeping
//! one more query costs one slot's worth every time. A map emptied when full made one query
//! in thousands free every remembered page at once while holding the lock, a pause of
//! milliseconds for every query behind it.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use super::query::{Ranking, SearchQuery};

/// Number of slots. A ranking is 4 bytes an id deep, so even every slot ranked as deep as a
/// query can page (`skip` 3000 + `take` 1000) stays under 64 MiB.
const SLOTS: usize = 4096;

/// Least depth ranked: the first pages of 20 (nuget.org's default) or 25 (Visual Studio) come
/// from one ranking.
const MIN_DEPTH: usize = 128;

/// Which service a query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Search,
    Autocomplete,
}

#[derive(Debug, Default)]
pub struct RankingCache {
    slots: Mutex<Vec<Option<Slot>>>,
    hasher: RandomState,
    /// Bumped by every change to the index: slots filled before hold stale rankings.
    generation: u64,
}

#[derive(Debug)]
struct Slot {
    generation: u64,
    kind: Kind,
    /// The query, without `skip` and `take`.
    query: SearchQuery,
    ranking: Arc<Ranking>,
}

/// What a ranking depends on: the query without its paging.
fn ranked_by(q: &SearchQuery) -> (&str, bool, bool, Option<&str>) {
    (&q.q, q.prerelease, q.semver2, q.package_type.as_deref())
}

impl RankingCache {
    /// A ranking of `query` deep enough for its page: remembered, or `compute`d to the depth
    /// it is given and remembered.
    pub fn get_or(
        &self,
        kind: Kind,
        query: &SearchQuery,
        compute: impl FnOnce(usize) -> Ranking,
    ) -> Arc<Ranking> {
        let want = query.skip.saturating_add(query.take);
        let at = (self.hasher.hash_one((kind, ranked_by(query))) % SLOTS as u64) as usize;
        {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(Some(slot)) = slots.get(at)
                && slot.generation == self.generation
                && slot.kind == kind
                && ranked_by(&slot.query) == ranked_by(query)
                && (slot.ranking.entries.len() >= want
                    || slot.ranking.entries.len() == slot.ranking.total)
            {
                return slot.ranking.clone();
            }
        }
        let ranking = Arc::new(compute(want.max(MIN_DEPTH).next_power_of_two()));
        let new = Slot {
            generation: self.generation,
            kind,
            query: SearchQuery {
                skip: 0,
                take: 0,
                ..query.clone()
            },
            ranking: ranking.clone(),
        };
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.is_empty() {
            slots.resize_with(SLOTS, || None);
        }
        let old = slots.get_mut(at).and_then(|s| s.replace(new));
        drop(slots);
        // Freed outside the lock.
        drop(old);
        ranking
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
    fn remembers_rankings_deep_enough_per_kind_and_query_until_invalidated() {
        let mut cache = RankingCache::default();
        let q = SearchQuery {
            q: "json".into(),
            ..SearchQuery::default()
        };
        // A ranking of `total` matches, as deep as asked; `seen` tells which depths were asked.
        let seen = std::cell::RefCell::new(Vec::new());
        let ranking = |total: usize| {
            let seen = &seen;
            move |depth: usize| {
                seen.borrow_mut().push(depth);
                Ranking {
                    total,
                    entries: (0..total.min(depth) as u32).collect(),
                }
            }
        };
        let first = cache.get_or(Kind::Search, &q, ranking(1000));
        assert_eq!((first.total, first.entries.len()), (1000, MIN_DEPTH));
        let next_page = SearchQuery {
            skip: 20,
            ..q.clone()
        };
        let again = cache.get_or(Kind::Search, &next_page, ranking(1));
        assert_eq!(
            again.total, 1000,
            "the next page comes from the same ranking"
        );
        let deep = SearchQuery {
            skip: 200,
            ..q.clone()
        };
        let deeper = cache.get_or(Kind::Search, &deep, ranking(1000));
        assert_eq!(deeper.entries.len(), 256);
        assert_eq!(
            *seen.borrow(),
            [MIN_DEPTH, 256],
            "ranked again only for the deeper page"
        );
        let other = cache.get_or(Kind::Autocomplete, &q, ranking(3));
        assert_eq!(other.total, 3, "autocomplete ranks apart");
        let filtered = SearchQuery {
            prerelease: true,
            ..q.clone()
        };
        assert_eq!(cache.get_or(Kind::Search, &filtered, ranking(4)).total, 4);
        cache.invalidate();
        assert_eq!(cache.get_or(Kind::Search, &q, ranking(5)).total, 5);
    }

    #[test]
    fn a_ranking_of_every_match_serves_any_page() {
        let cache = RankingCache::default();
        let q = SearchQuery {
            q: "rare".into(),
            ..SearchQuery::default()
        };
        let few = |_| Ranking {
            total: 3,
            entries: vec![7, 8, 9],
        };
        cache.get_or(Kind::Search, &q, few);
        let far = SearchQuery { skip: 2000, ..q };
        let ranking = cache.get_or(Kind::Search, &far, |_| panic!("ranked again"));
        assert_eq!(ranking.entries, [7, 8, 9]);
    }
}
