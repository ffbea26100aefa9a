//! The in-memory search index behind SearchQueryService and SearchAutocompleteService
//! (SQ-1..SQ-12, AC-1, AC-3).
//!
//! One entry per package id, rebuilt by [`SearchIndex::update`] whenever the id changes. An
//! entry knows, for each of the four `prerelease` x `semVerLevel` filters, the [`Listing`] of
//! the latest *listed* version that filter admits (SQ-7: unlisted versions never count), so
//! what an id costs does not depend on how many versions it has.
//!
//! Matching is by words, through inverted indexes, so a query costs what its matches cost and
//! not a scan of the feed: a query term matches a field where one of the field's words, or a
//! part of a word, *begins* with the term, case-insensitively. Words are separated by
//! whitespace, and a word has parts after each punctuation character and camelCase boundary
//! (`Newtonsoft.Json` has the parts `json` and `.json`; `JsonSerializer` has `serializer`), so
//! `json`, `serial` and `.net` find what users expect while `son` does not find `Json`.
//! Ids are ranked by how they match (exact id, id prefix, id part, title or tags, description
//! or authors), ties in lower-case id order. Rendering the hits is `api::search`'s job.

mod marks;
mod query;
mod ranking_cache;
mod short_prefixes;
mod tier;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use marks::Marks;
use query::Ranking;
pub use query::SearchQuery;
use ranking_cache::{Kind, RankingCache};
use short_prefixes::ShortPrefixes;

use super::record::{Listing, PackageRecord, search_slot};
use crate::package::PackageId;

/// The package type of a package whose nuspec declares none: NuGet treats it as `Dependency`
/// (SQ-5 filters on it, SQ-9 shows at least one type).
pub const DEFAULT_PACKAGE_TYPE: &str = "Dependency";

/// When a page takes fewer than one in this many of its last score bucket's matches, they are
/// picked with a bounded heap rather than a selection ([`SearchIndex::rank`]).
const HEAP_FACTOR: usize = 8;

/// Longest indexed word, in bytes: longer words (URLs, hashes) are indexed by their start, and
/// longer query terms are matched by theirs.
const MAX_WORD: usize = 64;

/// The package type names search shows and filters on: the listing's, or
/// [`DEFAULT_PACKAGE_TYPE`].
pub fn package_type_names(listing: &Listing) -> Vec<&str> {
    if listing.package_types.is_empty() {
        return vec![DEFAULT_PACKAGE_TYPE];
    }
    listing
        .package_types
        .iter()
        .map(|t| t.name.as_str())
        .collect()
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    /// How many package ids match, regardless of `skip` and `take` (SQ-8, SQ-12).
    pub total: usize,
    /// Lower-cased ids of this page, best first.
    pub ids: Vec<String>,
}

/// The search index.
#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Entries by number; a removed id leaves a hole that the next new id fills.
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Lower-cased id -> entry; its order is the ranking's tie-break and the browse order.
    by_id: BTreeMap<Arc<str>, u32>,
    /// Parts of ids (not the whole id, which is `by_id`) -> entries, ascending.
    id_parts: BTreeMap<Box<str>, Vec<u32>>,
    /// What `by_id` and `id_parts` hold for the shortest terms, in one list a term.
    short_prefixes: ShortPrefixes,
    /// Words and word parts of titles, tags, descriptions and authors -> postings, ascending.
    text: BTreeMap<Box<str>, Vec<Posting>>,
    /// Entries with a listing for each filter slot (`totalHits` of an empty query).
    counts: [usize; 4],
    /// Per entry, a number that sorts like its lower-cased id ([`SearchIndex::place`]), and
    /// which filter slots it has a listing for (bit `slot`; 0 for a hole), kept apart from the
    /// entries: ranking looks at these for every match and never compares ids as strings
    /// (ids of one vendor share long prefixes), and 9 bytes an entry stay in the CPU's cache
    /// where whole entries would not.
    orders: Vec<u64>,
    slot_masks: Vec<u8>,
    /// Rankings of recent queries, valid until the index changes.
    rankings: RankingCache,
}

/// Distance between neighbouring [`SearchIndex::orders`] when they are numbered afresh: room for
/// 31 ids inserted one after another between two neighbours before the next renumbering,
/// for up to 2^32 ids.
const ORDER_GAP: u64 = 1 << 32;

/// One entry containing one text word: in which fields of which filter slots' listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Posting {
    entry: u32,
    /// Bit `slot * 4 + field` (see [`field`]).
    fields: u16,
}

/// Text fields, as bit positions within a slot's four bits.
mod field {
    pub const TITLE: u16 = 1;
    pub const TAGS: u16 = 2;
    pub const DESCRIPTION: u16 = 4;
    pub const AUTHORS: u16 = 8;
    pub const ALL: u16 = 15;
}

/// What the index knows about one id.
#[derive(Debug)]
struct Entry {
    lower_id: Arc<str>,
    /// The id with its casing (camelCase parts need it).
    display_id: PackageId,
    /// The distinct listings (at most four, usually one or two).
    docs: Vec<Doc>,
    /// Per filter slot, which of `docs` describes its latest admitted version.
    by_slot: [Option<u8>; 4],
}

#[derive(Debug)]
struct Doc {
    listing: Arc<Listing>,
    /// Lower-cased package type names (SQ-5).
    package_types: Box<[Box<str>]>,
}

/// Which field a query term is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A plain term: id, id parts, title, tags, description, authors.
    Any,
    /// `id:` — the id or a part of it.
    Id,
    /// `packageid:` — the whole id (nuget.org syntax).
    PackageId,
    Title,
    Tags,
    Description,
    Authors,
}

#[derive(Debug)]
struct Term {
    field: Field,
    /// Lower-cased, at most [`MAX_WORD`] bytes.
    text: String,
}

impl SearchIndex {
    /// Indexes every package at once (start-up): the same index as [`SearchIndex::update`]
    /// for each, built by hashing words and sorting them once instead of inserting into the
    /// word trees one posting at a time, several times faster for a big feed.
    pub fn build<'a>(records: impl IntoIterator<Item = (&'a str, &'a PackageRecord)>) -> Self {
        let mut index = SearchIndex::default();
        let mut id_parts: HashMap<String, Vec<u32>> = HashMap::new();
        let mut text: HashMap<String, Vec<Posting>> = HashMap::new();
        // Entries numbered in id order, so that every posting list comes out sorted.
        let mut sorted: Vec<(&str, &PackageRecord)> = records.into_iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (lower_id, record) in sorted {
            let Some(entry) = Entry::build(lower_id, record) else {
                continue;
            };
            let e = u32::try_from(index.entries.len()).unwrap_or(u32::MAX);
            for (slot, count) in index.counts.iter_mut().enumerate() {
                *count += usize::from(entry.by_slot[slot].is_some());
            }
            let parts = id_parts_of(entry.display_id.as_str());
            index
                .short_prefixes
                .push(e, lower_id, &parts, entry.slot_mask());
            for part in parts {
                id_parts.entry(part).or_default().push(e);
            }
            for (word, fields) in entry.words() {
                text.entry(word)
                    .or_default()
                    .push(Posting { entry: e, fields });
            }
            index.by_id.insert(entry.lower_id.clone(), e);
            index.orders.push((u64::from(e) + 1) * ORDER_GAP);
            index.slot_masks.push(entry.slot_mask());
            index.entries.push(Some(entry));
        }
        index.short_prefixes.finish_build();
        index.id_parts = id_parts
            .into_iter()
            .map(|(k, v)| (k.into_boxed_str(), v))
            .collect();
        index.text = text
            .into_iter()
            .map(|(k, v)| (k.into_boxed_str(), v))
            .collect();
        index
    }

    /// Re-indexes one id after any change to it; `None` (or a record without a listed version
    /// whose listing is known) removes it.
    pub fn update(&mut self, lower_id: &str, record: Option<&PackageRecord>) {
        self.rankings.invalidate();
        if let Some(&e) = self.by_id.get(lower_id) {
            self.remove_entry(e);
        }
        let Some(entry) = record.and_then(|r| Entry::build(lower_id, r)) else {
            return;
        };
        let e = match self.free.pop() {
            Some(e) => e,
            None => {
                self.entries.push(None);
                self.orders.push(u64::MAX);
                self.slot_masks.push(0);
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        for (slot, count) in self.counts.iter_mut().enumerate() {
            *count += usize::from(entry.by_slot[slot].is_some());
        }
        let parts = id_parts_of(entry.display_id.as_str());
        for part in &parts {
            let list = self.id_parts.entry(part.as_str().into()).or_default();
            if let Err(at) = list.binary_search(&e) {
                list.insert(at, e);
            }
        }
        for (word, fields) in entry.words() {
            let list = self.text.entry(word.into()).or_default();
            match list.binary_search_by_key(&e, |p| p.entry) {
                Ok(at) => list[at].fields |= fields,
                Err(at) => list.insert(at, Posting { entry: e, fields }),
            }
        }
        self.by_id.insert(entry.lower_id.clone(), e);
        let i = e as usize;
        if let Some(mask) = self.slot_masks.get_mut(i) {
            *mask = entry.slot_mask();
        }
        self.place(&entry.lower_id, e);
        // Ranked by order, so after `place`.
        let orders = &self.orders;
        self.short_prefixes
            .insert(e, &entry.lower_id, &parts, entry.slot_mask(), |n| {
                order_of(orders, n)
            });
        if let Some(slot) = self.entries.get_mut(i) {
            *slot = Some(entry);
        }
    }

    /// Gives entry `e`, just added to `by_id` as `lower_id`, an order between its neighbours';
    /// when they leave no room, every entry is numbered afresh in id order (rare: a gap takes
    /// 31 ids inserted at the same spot to use up).
    fn place(&mut self, lower_id: &str, e: u32) {
        let order_of = |x: Option<(&Arc<str>, &u32)>| {
            x.and_then(|(_, &n)| self.orders.get(n as usize).copied())
        };
        let below = order_of(
            self.by_id
                .range::<str, _>((
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Excluded(lower_id),
                ))
                .next_back(),
        )
        .unwrap_or(0);
        let above = order_of(
            self.by_id
                .range::<str, _>((
                    std::ops::Bound::Excluded(lower_id),
                    std::ops::Bound::Unbounded,
                ))
                .next(),
        );
        let order = match above {
            Some(above) if above - below >= 2 => Some(below + (above - below) / 2),
            Some(_) => None,
            None => below.checked_add(ORDER_GAP),
        };
        match order {
            Some(order) => {
                if let Some(slot) = self.orders.get_mut(e as usize) {
                    *slot = order;
                }
            }
            None => {
                for (rank, &n) in self.by_id.values().enumerate() {
                    if let Some(slot) = self.orders.get_mut(n as usize) {
                        *slot = (rank as u64 + 1) * ORDER_GAP;
                    }
                }
            }
        }
    }

    fn remove_entry(&mut self, e: u32) {
        let Some(entry) = self.entries.get_mut(e as usize).and_then(Option::take) else {
            return;
        };
        if let Some(mask) = self.slot_masks.get_mut(e as usize) {
            *mask = 0;
        }
        self.free.push(e);
        self.by_id.remove(&entry.lower_id);
        for (slot, count) in self.counts.iter_mut().enumerate() {
            *count -= usize::from(entry.by_slot[slot].is_some());
        }
        let parts = id_parts_of(entry.display_id.as_str());
        // The entry's order stays until the entry number is used again.
        let orders = &self.orders;
        self.short_prefixes
            .remove(e, &entry.lower_id, &parts, entry.slot_mask(), |n| {
                order_of(orders, n)
            });
        for part in parts {
            if let Some(list) = self.id_parts.get_mut(part.as_str()) {
                if let Ok(at) = list.binary_search(&e) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.id_parts.remove(part.as_str());
                }
            }
        }
        for (word, _) in entry.words() {
            if let Some(list) = self.text.get_mut(word.as_str()) {
                if let Ok(at) = list.binary_search_by_key(&e, |p| p.entry) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.text.remove(word.as_str());
                }
            }
        }
    }

    /// Number of ids with at least one listed version.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Search (SQ-2): every term must match (AND). Ranked by exact id, id prefix, id part,
    /// title or tags, description or authors; ties by id.
    pub fn search(&self, q: &SearchQuery) -> SearchHits {
        let ranking = self
            .rankings
            .get_or(Kind::Search, q, |depth| self.search_uncached(q, depth));
        self.page(&ranking, q)
    }

    fn search_uncached(&self, q: &SearchQuery, depth: usize) -> Ranking {
        let terms = parse_terms(&q.q);
        let filter = Filter::new(q);
        if terms.is_empty() {
            return self.browse(&filter, depth);
        }
        let matches = Marks::with(self.entries.len(), |marks| {
            let mut matches: Option<Vec<(u32, u32)>> = None;
            for term in &terms {
                self.mark(term, filter.slot, marks);
                let next: Vec<(u32, u32)> = match matches {
                    None => marks.matched().map(|(t, e)| (u32::from(t), e)).collect(),
                    Some(previous) => previous
                        .into_iter()
                        .filter_map(|(score, e)| {
                            let t = marks.tier(e);
                            (t != tier::NONE).then(|| (score + u32::from(t), e))
                        })
                        .collect(),
                };
                marks.clear();
                let done = next.is_empty();
                matches = Some(next);
                if done {
                    break;
                }
            }
            matches.unwrap_or_default()
        });
        self.rank(matches, &filter, depth)
    }

    /// Autocomplete, id mode (AC-1): ids that start with `q`, or with a part that does
    /// (`json` finds `Newtonsoft.Json`), case-insensitively; whole-id prefixes first.
    pub fn autocomplete_ids(&self, q: &SearchQuery) -> SearchHits {
        let ranking = self.rankings.get_or(Kind::Autocomplete, q, |depth| {
            self.autocomplete_uncached(q, depth)
        });
        self.page(&ranking, q)
    }

    fn autocomplete_uncached(&self, q: &SearchQuery, depth: usize) -> Ranking {
        let filter = Filter::new(q);
        let prefix = truncate(q.q.trim().to_lowercase());
        if prefix.is_empty() {
            return self.browse(&filter, depth);
        }
        if filter.package_type.is_none()
            && let Some(list) = self.short_prefixes.get(&prefix)
        {
            // The list is the ranking and counts its matches: the head is all it takes.
            let entries = list
                .matches()
                .iter()
                .map(|m| m.entry())
                .filter(|&e| self.admitted(e, &filter))
                .take(depth)
                .collect();
            return Ranking {
                total: list.count(filter.slot),
                entries,
            };
        }
        let matches = Marks::with(self.entries.len(), |marks| {
            self.mark_id(&prefix, false, marks);
            marks.matched().map(|(t, e)| (u32::from(t), e)).collect()
        });
        self.rank(matches, &filter, depth)
    }

    /// The page `q` asks for, cut from its ranking.
    fn page(&self, ranking: &Ranking, q: &SearchQuery) -> SearchHits {
        SearchHits {
            total: ranking.total,
            ids: ranking
                .entries
                .iter()
                .skip(q.skip)
                .take(q.take)
                .map(|&e| self.id_of(e).to_owned())
                .collect(),
        }
    }

    /// Marks the best tier at which `term` matches each entry.
    fn mark(&self, term: &Term, slot: usize, marks: &mut Marks) {
        let t = term.text.as_str();
        let text_fields = match term.field {
            Field::Any => field::ALL,
            Field::Title => field::TITLE,
            Field::Tags => field::TAGS,
            Field::Description => field::DESCRIPTION,
            Field::Authors => field::AUTHORS,
            Field::Id | Field::PackageId => 0,
        };
        match term.field {
            Field::Any | Field::Id => self.mark_id(t, false, marks),
            Field::PackageId => self.mark_id(t, true, marks),
            _ => {}
        }
        if text_fields == 0 {
            return;
        }
        let shift = slot * 4;
        let title_or_tags = (field::TITLE | field::TAGS) & text_fields;
        let description_or_authors = (field::DESCRIPTION | field::AUTHORS) & text_fields;
        for (_, postings) in prefixed(&self.text, t) {
            for p in postings {
                let fields = (p.fields >> shift) & field::ALL;
                let found = if fields & title_or_tags != 0 {
                    tier::TITLE_OR_TAGS
                } else if fields & description_or_authors != 0 {
                    tier::DESCRIPTION_OR_AUTHORS
                } else {
                    continue;
                };
                marks.note(p.entry, found);
            }
        }
    }

    /// [`SearchIndex::mark`] for the id: exact, prefix, then a part's prefix (`exact_only`:
    /// only the whole id).
    fn mark_id(&self, t: &str, exact_only: bool, marks: &mut Marks) {
        if exact_only {
            if let Some(&e) = self.by_id.get(t) {
                marks.note(e, tier::EXACT_ID);
            }
            return;
        }
        if let Some(list) = self.short_prefixes.get(t) {
            for m in list.matches() {
                marks.note(m.entry(), m.tier());
            }
            return;
        }
        for (id, &e) in prefixed(&self.by_id, t) {
            let found = if **id == *t {
                tier::EXACT_ID
            } else {
                tier::ID_PREFIX
            };
            marks.note(e, found);
        }
        for (_, entries) in prefixed(&self.id_parts, t) {
            for &e in entries {
                marks.note(e, tier::ID_PART);
            }
        }
    }

    /// Every id the filter admits, in id order (an empty query).
    fn browse(&self, filter: &Filter, depth: usize) -> Ranking {
        let mut entries = Vec::new();
        let mut total = 0;
        for &e in self.by_id.values() {
            if filter.package_type.is_none() && total >= depth {
                // Without a type filter the total is known: stop at the depth.
                total = self.counts[filter.slot];
                break;
            }
            if self.admitted(e, filter) {
                if total < depth {
                    entries.push(e);
                }
                total += 1;
            }
        }
        Ranking { total, entries }
    }

    fn admitted(&self, e: u32, filter: &Filter) -> bool {
        let has_slot = self
            .slot_masks
            .get(e as usize)
            .is_some_and(|m| m & (1 << filter.slot) != 0);
        if !has_slot || filter.package_type.is_none() {
            return has_slot;
        }
        let Some(Some(entry)) = self.entries.get(e as usize) else {
            return false;
        };
        let Some(doc) = entry.by_slot[filter.slot].and_then(|d| entry.docs.get(usize::from(d)))
        else {
            return false;
        };
        match &filter.package_type {
            Some(t) => doc.package_types.iter().any(|p| **p == **t),
            None => true,
        }
    }

    /// Applies the filters to scored matches and ranks the best `depth` of them.
    ///
    /// Only those need an order. Scores are small sums of tiers, so the
    /// matches are counted per score to find the score the page ends in: everything scored
    /// better is on the page, and of the matches with that score only the first few in id
    /// order are: a few of many are kept in a bounded heap, otherwise they are selected.
    fn rank(&self, mut matches: Vec<(u32, u32)>, filter: &Filter, depth: usize) -> Ranking {
        matches.retain(|&(_, e)| self.admitted(e, filter));
        let total = matches.len();
        let want = depth.min(total);
        if want == 0 {
            return Ranking {
                total,
                entries: Vec::new(),
            };
        }
        let max_score = matches.iter().map(|&(s, _)| s).max().unwrap_or(0) as usize;
        let mut per_score = vec![0usize; max_score + 1];
        for &(s, _) in &matches {
            per_score[s as usize] += 1;
        }
        let (mut last, mut before) = (0, 0);
        for (s, &n) in per_score.iter().enumerate() {
            last = s as u32;
            if before + n >= want {
                break;
            }
            before += n;
        }
        let from_last = want - before;
        let mut page: Vec<(u32, u32)> = Vec::with_capacity(want);
        page.extend(matches.iter().filter(|&&(s, _)| s < last));
        let bucket = per_score[last as usize];
        if from_last == bucket {
            page.extend(matches.iter().filter(|&&(s, _)| s == last));
        } else if from_last.saturating_mul(HEAP_FACTOR) < bucket {
            // Few of many: keep the first `from_last` by id in a bounded heap; most matches
            // cost one comparison of two numbers with its largest.
            let mut heap: std::collections::BinaryHeap<ById<'_>> =
                std::collections::BinaryHeap::with_capacity(from_last + 1);
            for &(s, e) in &matches {
                if s != last {
                    continue;
                }
                let candidate = ById { index: self, e };
                if heap.len() < from_last {
                    heap.push(candidate);
                } else if heap.peek().is_some_and(|top| candidate < *top) {
                    heap.pop();
                    heap.push(candidate);
                }
            }
            page.extend(heap.into_iter().map(|c| (last, c.e)));
        } else {
            let mut bucket: Vec<(u32, u32)> =
                matches.into_iter().filter(|&(s, _)| s == last).collect();
            bucket.select_nth_unstable_by(from_last - 1, |a, b| self.compare(a, b));
            page.extend_from_slice(&bucket[..from_last]);
        }
        page.sort_unstable_by(|a, b| self.compare(a, b));
        Ranking {
            total,
            entries: page.into_iter().map(|(_, e)| e).collect(),
        }
    }

    /// Ranking order: score, then lower-case id.
    fn compare(&self, a: &(u32, u32), b: &(u32, u32)) -> std::cmp::Ordering {
        a.0.cmp(&b.0).then_with(|| self.compare_ids(a.1, b.1))
    }

    /// Id order of two entries.
    fn compare_ids(&self, a: u32, b: u32) -> std::cmp::Ordering {
        order_of(&self.orders, a).cmp(&order_of(&self.orders, b))
    }

    fn id_of(&self, e: u32) -> &str {
        match self.entries.get(e as usize) {
            Some(Some(entry)) => &entry.lower_id,
            _ => "",
        }
    }
}

/// Where entry `e` sorts in id order ([`SearchIndex::orders`]).
fn order_of(orders: &[u64], e: u32) -> u64 {
    orders.get(e as usize).copied().unwrap_or(u64::MAX)
}

/// An entry ordered by id, for the ranking's heap.
struct ById<'a> {
    index: &'a SearchIndex,
    e: u32,
}

impl PartialEq for ById<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for ById<'_> {}

impl PartialOrd for ById<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ById<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index.compare_ids(self.e, other.e)
    }
}

/// The entries of a word map whose keys start with `prefix`.
fn prefixed<'a, K, V>(
    map: &'a BTreeMap<K, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a K, &'a V)> + 'a
where
    K: std::borrow::Borrow<str> + Ord,
{
    // Bounded at both ends, the range walks its keys without comparing each to the prefix.
    let end = prefix_end(prefix);
    let upper = match &end {
        Some(end) => std::ops::Bound::Excluded(end.as_str()),
        None => std::ops::Bound::Unbounded,
    };
    map.range::<str, _>((std::ops::Bound::Included(prefix), upper))
}

/// The least string above every string that starts with `prefix` (UTF-8 sorts like code
/// points): its last character that has a successor, incremented; `None` when there is none.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut end = prefix.to_owned();
    while let Some(last) = end.pop() {
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            end.push(next);
            return Some(end);
        }
    }
    None
}

/// The filters of a query: its slot and its package type.
struct Filter {
    slot: usize,
    /// Lower-cased; `None` for no filter.
    package_type: Option<String>,
}

impl Filter {
    fn new(q: &SearchQuery) -> Filter {
        Filter {
            slot: search_slot(q.prerelease, q.semver2),
            package_type: q
                .package_type
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase),
        }
    }
}

impl Entry {
    /// `None` when no filter has a listed version with a known listing.
    fn build(lower_id: &str, record: &PackageRecord) -> Option<Entry> {
        let versions = record.versions.as_slice();
        let mut docs: Vec<Doc> = Vec::new();
        let mut by_slot = [None; 4];
        for (slot, latest) in record.search_latest().into_iter().enumerate() {
            let Some(listing) = latest.and_then(|i| versions.get(i)?.listing.clone()) else {
                continue;
            };
            let at = match docs.iter().position(|d| Arc::ptr_eq(&d.listing, &listing)) {
                Some(at) => at,
                None => {
                    let package_types = package_type_names(&listing)
                        .into_iter()
                        .map(|t| t.to_lowercase().into())
                        .collect();
                    docs.push(Doc {
                        listing,
                        package_types,
                    });
                    docs.len() - 1
                }
            };
            by_slot[slot] = u8::try_from(at).ok();
        }
        if docs.is_empty() {
            return None;
        }
        let display_id = record
            .id()
            .cloned()
            .or_else(|| PackageId::parse(lower_id).ok())?;
        Some(Entry {
            lower_id: lower_id.into(),
            display_id,
            docs,
            by_slot,
        })
    }

    /// Bit `slot` for each filter slot with a listing.
    fn slot_mask(&self) -> u8 {
        self.by_slot
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_some())
            .fold(0, |m, (slot, _)| m | (1 << slot))
    }

    /// Every text word of the entry with the fields (bit `slot * 4 + field`) it occurs in.
    fn words(&self) -> HashMap<String, u16> {
        let mut words: HashMap<String, u16> = HashMap::new();
        for (slot, doc) in self.by_slot.iter().enumerate() {
            let Some(doc) = doc.and_then(|d| self.docs.get(usize::from(d))) else {
                continue;
            };
            let l = &doc.listing;
            let shift = slot * 4;
            let mut add = |text: &str, f: u16| {
                for w in text_words(text) {
                    *words.entry(w).or_default() |= f << shift;
                }
            };
            add(l.title.as_deref().unwrap_or(""), field::TITLE);
            for tag in &l.tags {
                add(tag, field::TAGS);
            }
            add(l.description.as_deref().unwrap_or(""), field::DESCRIPTION);
            for author in &l.authors {
                add(author, field::AUTHORS);
            }
        }
        words
    }
}

/// Splits a query into terms on whitespace; `field:value` terms name their field (nuget.org
/// syntax), unknown fields are plain text, surrounding quotes are dropped.
fn parse_terms(q: &str) -> Vec<Term> {
    q.split_whitespace()
        .filter_map(|raw| {
            let (field, text) = match raw.split_once(':') {
                Some((name, value)) => match name.to_ascii_lowercase().as_str() {
                    "id" => (Field::Id, value),
                    "packageid" => (Field::PackageId, value),
                    "title" => (Field::Title, value),
                    "tag" | "tags" => (Field::Tags, value),
                    "description" => (Field::Description, value),
                    "author" | "authors" => (Field::Authors, value),
                    _ => (Field::Any, raw),
                },
                None => (Field::Any, raw),
            };
            let text = text.trim_matches('"').to_lowercase();
            // A whole id is at most 100 characters; parts and words are cut at MAX_WORD.
            let text = if field == Field::PackageId {
                text
            } else {
                truncate(text)
            };
            (!text.is_empty()).then_some(Term { field, text })
        })
        .collect()
}

/// Cuts a lower-cased word or term to [`MAX_WORD`] bytes, at a character boundary.
fn truncate(mut s: String) -> String {
    if s.len() > MAX_WORD {
        let mut end = MAX_WORD;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The starts of the parts of a word: after the first character, every punctuation character,
/// the character after one, and camelCase word starts (`nuGet`, the `P` of `XMLParser`).
fn part_starts(word: &str) -> Vec<usize> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut starts = Vec::new();
    for i in 1..chars.len() {
        let (at, cur) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, c)| c.is_lowercase());
        let punctuation = !cur.is_alphanumeric();
        let after_punctuation = !prev.is_alphanumeric() && cur.is_alphanumeric();
        let camel = cur.is_uppercase()
            && (prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_lower));
        if punctuation || after_punctuation || camel {
            starts.push(at);
        }
    }
    starts
}

/// The words of a text and their parts, lower-cased and cut at [`MAX_WORD`].
fn text_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        out.push(truncate(word.to_lowercase()));
        for at in part_starts(word) {
            out.push(truncate(word[at..].to_lowercase()));
        }
    }
    out
}

/// The parts of an id (not the whole id), lower-cased (`NuGet.Versioning` -> `get.versioning`,
/// `.versioning`, `versioning`).
fn id_parts_of(id: &str) -> Vec<String> {
    let mut parts: Vec<String> = part_starts(id)
        .into_iter()
        .map(|at| truncate(id[at..].to_ascii_lowercase()))
        .collect();
    parts.sort();
    parts.dedup();
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{Fixture, record, unlist, version, version_with};

    fn query(q: &str) -> SearchQuery {
        SearchQuery {
            q: q.to_owned(),
            prerelease: true,
            semver2: true,
            ..SearchQuery::default()
        }
    }

    fn index(fixtures: &[Fixture]) -> SearchIndex {
        let mut index = SearchIndex::default();
        for f in fixtures {
            let r = &f.record;
            index.update(&r.id().unwrap().lower(), Some(r));
        }
        index
    }

    /// A small feed:
    /// - Newtonsoft.Json: stable, tags json
    /// - Contoso.Json.Extensions: stable, title mentions "serializer"
    /// - JsonPath.Next: only a SemVer2 prerelease (2.0.0-beta.1)
    /// - Contoso.Preview: only a SemVer1 prerelease (1.0.0-beta)
    /// - Contoso.Hidden: only an unlisted version
    /// - Contoso.Tool: a DotnetTool, description mentions json
    fn feed() -> SearchIndex {
        let mut hidden = record(&[version("Contoso.Hidden", "1.0.0")]);
        unlist(&mut hidden, "1.0.0");
        index(&[
            record(&[version_with(
                "Newtonsoft.Json",
                "13.0.1",
                "<tags>json serialization</tags><authors>James Newton-King</authors>",
            )]),
            record(&[version_with(
                "Contoso.Json.Extensions",
                "1.0.0",
                "<title>Fast serializer helpers</title>",
            )]),
            record(&[version("JsonPath.Next", "2.0.0-beta.1")]),
            record(&[version("Contoso.Preview", "1.0.0-beta")]),
            hidden,
            record(&[version_with(
                "Contoso.Tool",
                "1.0.0",
                r#"<description>Formats JSON files.</description><packageTypes><packageType name="DotnetTool"/></packageTypes>"#,
            )]),
        ])
    }

    #[test]
    fn ranks_exact_id_then_prefix_then_part_then_text() {
        let hits = feed().search(&query("json"));
        assert_eq!(
            hits.ids,
            [
                "jsonpath.next",           // id prefix
                "contoso.json.extensions", // id part
                "newtonsoft.json",         // id part
                "contoso.tool",            // description
            ]
        );
        assert_eq!(
            feed().search(&query("Newtonsoft.Json")).ids[0],
            "newtonsoft.json"
        );
        // Title and tags rank above description and authors.
        assert_eq!(
            feed().search(&query("serial")).ids,
            ["contoso.json.extensions", "newtonsoft.json"]
        );
    }

    #[test]
    fn terms_match_where_words_and_their_parts_begin() {
        let f = feed();
        assert_eq!(
            f.search(&query("json.ext")).ids,
            ["contoso.json.extensions"]
        );
        assert_eq!(f.search(&query(".json")).total, 2, "from the punctuation");
        assert_eq!(f.search(&query("king")).ids, ["newtonsoft.json"]);
        assert_eq!(f.search(&query("files.")).ids, ["contoso.tool"]);
        assert_eq!(f.search(&query("son")).total, 0, "not inside a word");
        assert_eq!(f.search(&query("soft")).total, 0);
    }

    #[test]
    fn all_terms_must_match() {
        assert_eq!(
            feed().search(&query("contoso json")).ids,
            ["contoso.json.extensions", "contoso.tool"]
        );
        assert_eq!(feed().search(&query("contoso nothing")).total, 0);
    }

    #[test]
    fn field_syntax() {
        let f = feed();
        assert_eq!(
            f.search(&query("packageid:newtonsoft.json")).ids,
            ["newtonsoft.json"]
        );
        assert_eq!(f.search(&query("packageid:newtonsoft")).total, 0);
        assert_eq!(f.search(&query("id:json")).total, 3);
        assert_eq!(f.search(&query("tags:json")).ids, ["newtonsoft.json"]);
        assert_eq!(
            f.search(&query("title:serializer")).ids,
            ["contoso.json.extensions"]
        );
        assert_eq!(
            f.search(&query("description:formats")).ids,
            ["contoso.tool"]
        );
        assert_eq!(
            f.search(&query("author:newton-king")).ids,
            ["newtonsoft.json"]
        );
        assert_eq!(
            f.search(&query("Authors:\"james\"")).ids,
            ["newtonsoft.json"]
        );
    }

    #[test]
    fn matching_ignores_case() {
        let f = feed();
        assert_eq!(f.search(&query("NEWTONSOFT")).ids, ["newtonsoft.json"]);
        assert_eq!(f.search(&query("FORMATS")).ids, ["contoso.tool"]);
        assert_eq!(f.autocomplete_ids(&query("NEWT")).ids, ["newtonsoft.json"]);
    }

    #[test]
    fn filters_prerelease_and_semver2() {
        // SQ-4: defaults hide prereleases and SemVer2.
        let f = feed();
        let ids = |prerelease, semver2| {
            f.search(&SearchQuery {
                prerelease,
                semver2,
                take: 100,
                ..SearchQuery::default()
            })
            .ids
        };
        let stable = ["contoso.json.extensions", "contoso.tool", "newtonsoft.json"];
        assert_eq!(ids(false, false), stable);
        assert_eq!(ids(false, true), stable);
        assert_eq!(
            ids(true, false),
            [
                "contoso.json.extensions",
                "contoso.preview",
                "contoso.tool",
                "newtonsoft.json"
            ]
        );
        assert_eq!(ids(true, true).len(), 5);
        let stable_json = f.search(&SearchQuery {
            q: "json".into(),
            ..SearchQuery::default()
        });
        assert_eq!(stable_json.total, 3, "text matches follow the filter too");
    }

    #[test]
    fn unlisted_versions_never_count() {
        // SQ-7, AC-1
        let f = feed();
        assert_eq!(f.search(&query("hidden")).total, 0);
        assert_eq!(f.autocomplete_ids(&query("contoso.h")).total, 0);
        // An id whose latest version is unlisted is found by its latest listed one.
        let mut r = record(&[
            version_with("A", "1.0.0", "<title>old title</title>"),
            version_with("A", "2.0.0", "<title>new title</title>"),
        ]);
        unlist(&mut r, "2.0.0");
        let f = index(&[r]);
        assert_eq!(f.search(&query("old")).ids, ["a"]);
        assert_eq!(f.search(&query("new")).total, 0);
    }

    #[test]
    fn package_type_filters_on_the_latest_admitted_version() {
        // SQ-5: case-insensitive; no declared type means Dependency; unknown type: nothing.
        let f = feed();
        let typed = |t: &str| {
            f.search(&SearchQuery {
                package_type: Some(t.to_owned()),
                ..query("")
            })
        };
        assert_eq!(typed("dotnettool").ids, ["contoso.tool"]);
        assert_eq!(typed("DotnetTool").ids, ["contoso.tool"]);
        assert_eq!(typed("dependency").total, 4);
        assert_eq!(typed("nosuchtype").total, 0);
        assert_eq!(typed("").total, 5, "an empty packageType is no filter");
        // The type is the latest admitted version's: a stable 1.0 tool whose 2.0-beta is not.
        let f = index(&[record(&[
            version_with(
                "T",
                "1.0.0",
                r#"<packageTypes><packageType name="DotnetTool"/></packageTypes>"#,
            ),
            version("T", "2.0.0-beta"),
        ])]);
        let with = |prerelease| {
            f.search(&SearchQuery {
                prerelease,
                package_type: Some("dotnettool".into()),
                ..SearchQuery::default()
            })
            .total
        };
        assert_eq!(with(false), 1);
        assert_eq!(with(true), 0);
    }

    #[test]
    fn total_ignores_skip_and_take() {
        // SQ-8, SQ-12: totalHits counts ids, not the page.
        let f = feed();
        let hits = f.search(&SearchQuery {
            skip: 1,
            take: 2,
            ..query("")
        });
        assert_eq!(hits.total, 5);
        assert_eq!(hits.ids, ["contoso.preview", "contoso.tool"]);
        let past_end = f.search(&SearchQuery {
            skip: 10,
            ..query("")
        });
        assert_eq!((past_end.total, past_end.ids.len()), (5, 0));
        let ranked = f.search(&SearchQuery {
            skip: 1,
            take: 2,
            ..query("json")
        });
        assert_eq!(ranked.total, 4);
        assert_eq!(ranked.ids, ["contoso.json.extensions", "newtonsoft.json"]);
    }

    #[test]
    fn autocomplete_matches_id_and_part_prefixes() {
        // AC-1
        let f = feed();
        assert_eq!(
            f.autocomplete_ids(&query("json")).ids,
            [
                "jsonpath.next",
                "contoso.json.extensions",
                "newtonsoft.json"
            ]
        );
        assert_eq!(
            f.autocomplete_ids(&query("ext")).ids,
            ["contoso.json.extensions"]
        );
        assert_eq!(
            f.autocomplete_ids(&query("son")).total,
            0,
            "no substring matches"
        );
        assert_eq!(f.autocomplete_ids(&query("")).total, 5);
        let stable = f.autocomplete_ids(&SearchQuery {
            q: "json".into(),
            ..SearchQuery::default()
        });
        assert_eq!(stable.ids, ["contoso.json.extensions", "newtonsoft.json"]);
    }

    #[test]
    fn update_replaces_and_removes() {
        let mut f = feed();
        f.update("newtonsoft.json", None);
        assert_eq!(f.search(&query("newtonsoft")).total, 0);
        assert_eq!(f.search(&query("king")).total, 0, "its words are gone");
        let mut r = record(&[version("Contoso.Tool", "1.0.0")]);
        f.update("contoso.tool", Some(&r.record));
        assert_eq!(f.search(&query("formats")).total, 0, "old text is gone");
        unlist(&mut r, "1.0.0");
        f.update("contoso.tool", Some(&r.record));
        assert_eq!(f.len(), 3);
        // A new id reuses the hole and is found.
        let r = record(&[version_with("Zeta", "1.0.0", "<title>omega</title>")]);
        f.update("zeta", Some(&r.record));
        assert_eq!(f.search(&query("omega")).ids, ["zeta"]);
        assert_eq!(f.entries.len(), 5, "no new slot");
    }

    #[test]
    fn building_at_once_indexes_like_updating_one_by_one() {
        let mut hidden = record(&[version("Contoso.Hidden", "1.0.0")]);
        unlist(&mut hidden, "1.0.0");
        let fixtures = [
            record(&[version_with(
                "Newtonsoft.Json",
                "13.0.1",
                "<tags>json</tags>",
            )]),
            record(&[version("JsonPath.Next", "2.0.0-beta.1")]),
            hidden,
            record(&[version_with(
                "Contoso.Tool",
                "1.0.0",
                "<title>Formats JSON</title>",
            )]),
        ];
        let one_by_one = index(&fixtures);
        let lower: Vec<String> = fixtures
            .iter()
            .map(|f| f.record.id().unwrap().lower())
            .collect();
        let built = SearchIndex::build(
            lower
                .iter()
                .zip(&fixtures)
                .map(|(id, f)| (id.as_str(), &f.record)),
        );
        assert_eq!(built.len(), one_by_one.len());
        assert_eq!(built.counts, one_by_one.counts);
        for q in [
            "json",
            "contoso",
            "formats",
            "",
            "id:next",
            "tags:json",
            "hidden",
        ] {
            assert_eq!(built.search(&query(q)), one_by_one.search(&query(q)), "{q}");
            assert_eq!(
                built.autocomplete_ids(&query(q)),
                one_by_one.autocomplete_ids(&query(q)),
                "{q}"
            );
        }
    }

    #[test]
    fn ties_rank_in_id_order_however_the_ids_arrived() {
        // Each id lands between the previous one and `b.end`, halving the gap there until the
        // index has to number every entry afresh; others arrive in falling order, in front.
        let mut f = index(&[record(&[version("B.End", "1.0.0")])]);
        let mut ids = vec!["b.end".to_owned()];
        for k in 1..=40 {
            let id = format!("A{}", "z".repeat(k));
            f.update(
                &id.to_lowercase(),
                Some(&record(&[version(&id, "1.0.0")]).record),
            );
            ids.push(id.to_lowercase());
        }
        for c in ('a'..='y').rev() {
            let id = format!("A{c}");
            f.update(
                &id.to_lowercase(),
                Some(&record(&[version(&id, "1.0.0")]).record),
            );
            ids.push(id.to_lowercase());
        }
        f.update("az", None);
        ids.retain(|id| id != "az");
        ids.sort();
        let all = SearchQuery {
            take: 1000,
            ..query("a")
        };
        let prefixed: Vec<_> = ids
            .iter()
            .filter(|id| id.starts_with('a'))
            .cloned()
            .collect();
        assert_eq!(f.autocomplete_ids(&all).ids, prefixed);
        for (skip, take) in [(0, 3), (10, 5), (60, 10)] {
            let page = f.autocomplete_ids(&SearchQuery {
                skip,
                take,
                ..all.clone()
            });
            let expected: Vec<_> = prefixed.iter().skip(skip).take(take).cloned().collect();
            assert_eq!(page.ids, expected, "skip {skip} take {take}");
        }
    }

    #[test]
    fn prefix_end_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_end("json").as_deref(), Some("jsoo"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
        let map: BTreeMap<Box<str>, ()> =
            ["jso", "json", "json.net", "json\u{10FFFF}", "jsoo", "jsp"]
                .into_iter()
                .map(|k| (k.into(), ()))
                .collect();
        let keys: Vec<_> = prefixed(&map, "json").map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["json", "json.net", "json\u{10FFFF}"]);
    }

    #[test]
    fn short_terms_match_like_long_ones() {
        // Terms of up to four characters come from their own lists, kept in ranking order:
        // they must find and rank what a walk of every id and part would, also after ids come
        // and go (coming back, they take freed entry numbers out of id order), for each
        // filter and page.
        let names = ["Json", "J", "Net", "NuGet", "Ab", "a", "Xml.Json", "JS"];
        let mut ids = Vec::new();
        for (i, a) in names.iter().enumerate() {
            for b in names.iter().skip(i % 3) {
                ids.push(format!("{a}.{b}"));
            }
            ids.push((*a).to_owned());
        }
        ids.sort_by_key(|id| id.to_lowercase());
        ids.dedup_by_key(|id| id.to_lowercase());
        // Every third id has only a prerelease version.
        let make = |i: usize, id: &str| {
            record(&[version(
                id,
                if i.is_multiple_of(3) {
                    "1.0.0-beta"
                } else {
                    "1.0.0"
                },
            )])
        };
        let mut f = index(
            &ids.iter()
                .enumerate()
                .map(|(i, id)| make(i, id))
                .collect::<Vec<_>>(),
        );
        for gone in ids.iter().step_by(5) {
            f.update(&gone.to_lowercase(), None);
        }
        for (i, back) in ids.iter().enumerate().step_by(10) {
            f.update(&back.to_lowercase(), Some(&make(i, back).record));
        }
        let present: Vec<(usize, &String)> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 5 != 0 || i % 10 == 0)
            .collect();
        for term in [
            "j", "js", "jso", "json", "json.", "n", "nu", "x", "a", "ab", ".", ".j", "q",
        ] {
            for prerelease in [true, false] {
                let mut expected: Vec<(u8, String)> = present
                    .iter()
                    .filter(|(i, _)| prerelease || !i.is_multiple_of(3))
                    .filter_map(|(_, id)| {
                        let lower = id.to_lowercase();
                        let tier = if lower == term {
                            tier::EXACT_ID
                        } else if lower.starts_with(term) {
                            tier::ID_PREFIX
                        } else if id_parts_of(id).iter().any(|p| p.starts_with(term)) {
                            tier::ID_PART
                        } else {
                            return None;
                        };
                        Some((tier, lower))
                    })
                    .collect();
                expected.sort();
                let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
                for (skip, take) in [(0, 1000), (0, 3), (2, 5), (7, 1000)] {
                    let hits = f.autocomplete_ids(&SearchQuery {
                        skip,
                        take,
                        prerelease,
                        ..query(term)
                    });
                    let page: Vec<String> =
                        expected.iter().skip(skip).take(take).cloned().collect();
                    assert_eq!(hits.ids, page, "{term} prerelease {prerelease} skip {skip}");
                    assert_eq!(hits.total, expected.len(), "{term} prerelease {prerelease}");
                }
            }
        }
    }

    #[test]
    fn remembered_hits_are_forgotten_when_the_index_changes() {
        let mut f = feed();
        assert_eq!(f.search(&query("omega")).total, 0);
        assert_eq!(f.autocomplete_ids(&query("ze")).total, 0);
        let r = record(&[version_with("Zeta", "1.0.0", "<title>omega</title>")]);
        f.update("zeta", Some(&r.record));
        assert_eq!(f.search(&query("omega")).ids, ["zeta"]);
        assert_eq!(f.autocomplete_ids(&query("ze")).ids, ["zeta"]);
    }

    #[test]
    fn pages_are_slices_of_the_full_ranking() {
        // The page selection (score buckets, id walk or selection) must give exactly what
        // sorting every match would, for any skip and take.
        let words = ["alpha", "beta", "gamma", "delta", "alphabet", "bet", "gam"];
        let mut fixtures = Vec::new();
        let mut seed: u64 = 7;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for i in 0..300 {
            let id = format!(
                "{}.{}{i}",
                words[next(words.len())],
                words[next(words.len())]
            );
            let title = format!("{} {}", words[next(words.len())], words[next(words.len())]);
            fixtures.push(record(&[version_with(
                &id,
                "1.0.0",
                &format!("<title>{title}</title>"),
            )]));
        }
        // Pages come from rankings remembered as deep as earlier pages needed: each page of
        // `shared` must equal the page of an index that ranks it afresh.
        let shared = index(&fixtures);
        for q in ["alpha", "bet", "gam", "alpha beta", "delta.", "a", ""] {
            let all = index(&fixtures).search(&SearchQuery {
                take: 1000,
                ..query(q)
            });
            assert!(all.total > 0, "{q}");
            for (skip, take) in [
                (0, 1),
                (3, 7),
                (0, 20),
                (120, 20),
                (200, 5),
                (0, 1000),
                (10, 50),
            ] {
                let page = shared.search(&SearchQuery {
                    skip,
                    take,
                    ..query(q)
                });
                assert_eq!(page.total, all.total, "{q}");
                let expected: Vec<_> = all.ids.iter().skip(skip).take(take).cloned().collect();
                assert_eq!(page.ids, expected, "{q} skip {skip} take {take}");
            }
        }
    }

    #[test]
    fn word_parts_split_punctuation_and_camel_case() {
        assert_eq!(
            id_parts_of("NuGet.Versioning"),
            [".versioning", "get.versioning", "versioning"]
        );
        assert_eq!(
            text_words("XMLParser v2-core"),
            ["xmlparser", "parser", "v2-core", "-core", "core"]
        );
        assert_eq!(text_words("lower"), ["lower"]);
        let long = "x".repeat(100);
        assert_eq!(text_words(&long)[0].len(), MAX_WORD);
    }

    #[test]
    fn many_versions_share_one_document() {
        // Memory per id stays small: one doc when every filter sees the same latest version.
        let versions: Vec<_> = (0..500)
            .map(|i| version("Big", &format!("1.0.{i}")))
            .collect();
        let r = record(&versions);
        let entry = Entry::build("big", &r.record).unwrap();
        assert_eq!(entry.docs.len(), 1);
        assert_eq!(entry.by_slot, [Some(0); 4]);
    }
}
