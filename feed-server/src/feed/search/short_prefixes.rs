//! Id matches of the shortest query terms, listed ahead of time.
//!
//! A term of up to four characters (what autocomplete sees first while someone types) begins
//! thousands of ids and id parts. Found through the word trees, each of those costs a walk to
//! another tree node and another posting list, nearly all cache misses; here each such prefix
//! has one list, in ranking order, that says how every entry it begins matches.

use std::collections::HashMap;

use super::tier;

/// Longest prefix, in characters, that has a list.
pub const MAX_CHARS: usize = 4;

/// An entry and how the prefix matches it (`tier::EXACT_ID`, `ID_PREFIX` or `ID_PART`), in
/// one `u32` (the entry shifted left by two, the tier in the low bits) to keep the lists small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMatch(u32);

impl IdMatch {
    fn new(entry: u32, tier: u8) -> IdMatch {
        IdMatch((entry << 2) | u32::from(tier & 3))
    }

    pub fn entry(self) -> u32 {
        self.0 >> 2
    }

    pub fn tier(self) -> u8 {
        (self.0 & 3) as u8
    }
}

/// Prefix -> the entries it begins the id or an id part of.
#[derive(Debug, Default)]
pub struct ShortPrefixes {
    lists: HashMap<Box<str>, PrefixList>,
}

/// The entries a prefix begins the id or an id part of, in ranking order: by tier, then in id
/// order. Autocomplete with a short prefix is then the head of a list, and its `totalHits` a
/// count kept here, instead of ranking tens of thousands of matches.
#[derive(Debug, Default)]
pub struct PrefixList {
    matches: Vec<IdMatch>,
    /// Per filter slot, how many of the entries have a listing for it.
    counts: [u32; 4],
}

static EMPTY: PrefixList = PrefixList {
    matches: Vec::new(),
    counts: [0; 4],
};

impl PrefixList {
    /// Best match first.
    pub fn matches(&self) -> &[IdMatch] {
        &self.matches
    }

    /// How many entries have a listing for filter slot `slot`.
    pub fn count(&self, slot: usize) -> usize {
        self.counts.get(slot).map_or(0, |&n| n as usize)
    }

    /// Counts an entry with the filter slots of `slot_mask` in (`added`) or out.
    fn tally(&mut self, slot_mask: u8, added: bool) {
        for (slot, count) in self.counts.iter_mut().enumerate() {
            if slot_mask & (1 << slot) != 0 {
                *count = if added {
                    count.saturating_add(1)
                } else {
                    count.saturating_sub(1)
                };
            }
        }
    }

    /// Where a match of entry `e` at `tier` goes, given each entry's place in id order.
    fn position(&self, e: u32, tier: u8, order: &impl Fn(u32) -> u64) -> usize {
        let key = (tier, order(e));
        self.matches
            .partition_point(|m| (m.tier(), order(m.entry())) < key)
    }
}

impl ShortPrefixes {
    /// The list for `term`, or `None` when the term is too long to have one (an empty list
    /// when nothing matches).
    pub fn get(&self, term: &str) -> Option<&PrefixList> {
        if term.is_empty() || term.chars().count() > MAX_CHARS {
            return None;
        }
        Some(self.lists.get(term).unwrap_or(&EMPTY))
    }

    /// Adds an entry while building, entries numbered in id order; the lists are in ranking
    /// order once [`ShortPrefixes::finish_build`] has run.
    pub fn push(&mut self, entry: u32, lower_id: &str, parts: &[String], slot_mask: u8) {
        for (prefix, tier) in prefixes(lower_id, parts) {
            let list = self.lists.entry(prefix.into()).or_default();
            list.matches.push(IdMatch::new(entry, tier));
            list.tally(slot_mask, true);
        }
    }

    /// Puts the lists filled by [`ShortPrefixes::push`] in ranking order.
    pub fn finish_build(&mut self) {
        for list in self.lists.values_mut() {
            list.matches.sort_unstable_by_key(|m| (m.tier(), m.entry()));
        }
    }

    /// Adds an entry anywhere; `order` gives each entry's place in id order, the new one's
    /// included.
    pub fn insert(
        &mut self,
        entry: u32,
        lower_id: &str,
        parts: &[String],
        slot_mask: u8,
        order: impl Fn(u32) -> u64,
    ) {
        for (prefix, tier) in prefixes(lower_id, parts) {
            let list = self.lists.entry(prefix.into()).or_default();
            let at = list.position(entry, tier, &order);
            list.matches.insert(at, IdMatch::new(entry, tier));
            list.tally(slot_mask, true);
        }
    }

    /// Removes an entry added with the same id, parts and slots, while `order` still places
    /// it where it was added.
    pub fn remove(
        &mut self,
        entry: u32,
        lower_id: &str,
        parts: &[String],
        slot_mask: u8,
        order: impl Fn(u32) -> u64,
    ) {
        for (prefix, tier) in prefixes(lower_id, parts) {
            let Some(list) = self.lists.get_mut(prefix.as_str()) else {
                continue;
            };
            let at = list.position(entry, tier, &order);
            if list.matches.get(at).is_some_and(|m| m.entry() == entry) {
                list.matches.remove(at);
                list.tally(slot_mask, false);
            }
            if list.matches.is_empty() {
                self.lists.remove(prefix.as_str());
            }
        }
    }
}

/// The short prefixes of an id and its parts, each once, with the best tier it matches at.
fn prefixes(lower_id: &str, parts: &[String]) -> HashMap<String, u8> {
    let mut out: HashMap<String, u8> = HashMap::new();
    let words = std::iter::once((lower_id, tier::ID_PREFIX))
        .chain(parts.iter().map(|p| (p.as_str(), tier::ID_PART)));
    for (word, tier) in words {
        for (at, c) in word.char_indices().take(MAX_CHARS) {
            let end = at + c.len_utf8();
            let found = if end == word.len() && tier == tier::ID_PREFIX {
                tier::EXACT_ID
            } else {
                tier
            };
            let best = out.entry(word[..end].to_owned()).or_insert(found);
            *best = (*best).min(found);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tier::{EXACT_ID as EXACT, ID_PART as PART, ID_PREFIX as PREFIX};

    fn listed(p: &ShortPrefixes, term: &str) -> Option<Vec<(u32, u8)>> {
        p.get(term)
            .map(|l| l.matches().iter().map(|m| (m.entry(), m.tier())).collect())
    }

    #[test]
    fn lists_each_entry_once_at_its_best_tier_in_ranking_order() {
        // Entries are numbered in id order here, so an entry's number is its order.
        let order = |e: u32| u64::from(e);
        let mut p = ShortPrefixes::default();
        let parts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        p.push(0, "newtonsoft.json", &parts(&["json", ".json"]), 0b0001);
        p.push(1, "nu", &parts(&[]), 0b1111);
        p.push(
            2,
            "jsonpath.next",
            &parts(&["path.next", "next", ".next"]),
            0b1100,
        );
        p.finish_build();
        assert_eq!(
            listed(&p, "n"),
            Some(vec![(0, PREFIX), (1, PREFIX), (2, PART)])
        );
        let n = p.get("n").unwrap();
        assert_eq!((0..4).map(|s| n.count(s)).collect::<Vec<_>>(), [2, 1, 2, 2]);
        assert_eq!(listed(&p, "nu"), Some(vec![(1, EXACT)]));
        assert_eq!(listed(&p, "j"), Some(vec![(2, PREFIX), (0, PART)]));
        assert_eq!(listed(&p, "ne"), Some(vec![(0, PREFIX), (2, PART)]));
        assert_eq!(listed(&p, ".j"), Some(vec![(0, PART)]));
        assert_eq!(listed(&p, "zz"), Some(vec![]), "short: an empty list");
        assert_eq!(listed(&p, "newt"), Some(vec![(0, PREFIX)]));
        assert_eq!(listed(&p, "newto"), None, "too long for a list");
        assert_eq!(listed(&p, ""), None);

        p.remove(1, "nu", &parts(&[]), 0b1111, order);
        assert_eq!(listed(&p, "nu"), Some(vec![]));
        assert_eq!(listed(&p, "n"), Some(vec![(0, PREFIX), (2, PART)]));
        let n = p.get("n").unwrap();
        assert_eq!((0..4).map(|s| n.count(s)).collect::<Vec<_>>(), [1, 0, 1, 1]);
        p.insert(1, "jq", &parts(&[]), 0b0010, order);
        assert_eq!(
            listed(&p, "j"),
            Some(vec![(1, PREFIX), (2, PREFIX), (0, PART)])
        );
        assert_eq!(p.get("j").unwrap().count(1), 1);
        assert_eq!(listed(&p, "jq"), Some(vec![(1, EXACT)]));
    }
}
