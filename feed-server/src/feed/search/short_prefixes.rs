//! Id matches of the shortest query terms, listed ahead of time.
//!
//! A term of up to four characters (what autocomplete sees first while someone types) begins
//! thousands of ids and id parts. Found through the word trees, each of those costs a walk to
//! another tree node and another posting list, nearly all cache misses; here each such prefix
//! has one list, sorted by entry, that says how every entry it begins matches.

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

/// Prefix -> the entries it begins the id or an id part of, ascending by entry.
#[derive(Debug, Default)]
pub struct ShortPrefixes {
    lists: HashMap<Box<str>, Vec<IdMatch>>,
}

impl ShortPrefixes {
    /// The list for `term`, or `None` when the term is too long to have one (an empty list
    /// when nothing matches).
    pub fn get(&self, term: &str) -> Option<&[IdMatch]> {
        if term.is_empty() || term.chars().count() > MAX_CHARS {
            return None;
        }
        Some(self.lists.get(term).map_or(&[], Vec::as_slice))
    }

    /// Adds an entry numbered above every entry listed so far (building in entry order).
    pub fn push(&mut self, entry: u32, lower_id: &str, parts: &[String]) {
        for (prefix, tier) in prefixes(lower_id, parts) {
            self.lists
                .entry(prefix.into())
                .or_default()
                .push(IdMatch::new(entry, tier));
        }
    }

    /// Adds an entry anywhere.
    pub fn insert(&mut self, entry: u32, lower_id: &str, parts: &[String]) {
        for (prefix, tier) in prefixes(lower_id, parts) {
            let list = self.lists.entry(prefix.into()).or_default();
            let at = list.partition_point(|m| m.entry() < entry);
            list.insert(at, IdMatch::new(entry, tier));
        }
    }

    /// Removes an entry added with the same id and parts.
    pub fn remove(&mut self, entry: u32, lower_id: &str, parts: &[String]) {
        for (prefix, _) in prefixes(lower_id, parts) {
            let Some(list) = self.lists.get_mut(prefix.as_str()) else {
                continue;
            };
            if let Ok(at) = list.binary_search_by_key(&entry, |m| m.entry()) {
                list.remove(at);
            }
            if list.is_empty() {
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
            .map(|l| l.iter().map(|m| (m.entry(), m.tier())).collect())
    }

    #[test]
    fn lists_each_entry_once_at_its_best_tier() {
        let mut p = ShortPrefixes::default();
        let parts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        p.push(0, "newtonsoft.json", &parts(&["json", ".json"]));
        p.push(1, "nu", &parts(&[]));
        p.push(2, "jsonpath.next", &parts(&["path.next", "next", ".next"]));
        assert_eq!(
            listed(&p, "n"),
            Some(vec![(0, PREFIX), (1, PREFIX), (2, PART)])
        );
        assert_eq!(listed(&p, "nu"), Some(vec![(1, EXACT)]));
        assert_eq!(listed(&p, "j"), Some(vec![(0, PART), (2, PREFIX)]));
        assert_eq!(listed(&p, "ne"), Some(vec![(0, PREFIX), (2, PART)]));
        assert_eq!(listed(&p, ".j"), Some(vec![(0, PART)]));
        assert_eq!(listed(&p, "zz"), Some(vec![]), "short: an empty list");
        assert_eq!(listed(&p, "newt"), Some(vec![(0, PREFIX)]));
        assert_eq!(listed(&p, "newto"), None, "too long for a list");
        assert_eq!(listed(&p, ""), None);

        p.remove(1, "nu", &parts(&[]));
        assert_eq!(listed(&p, "nu"), Some(vec![]));
        assert_eq!(listed(&p, "n"), Some(vec![(0, PREFIX), (2, PART)]));
        p.insert(1, "jq", &parts(&[]));
        assert_eq!(
            listed(&p, "j"),
            Some(vec![(0, PART), (1, PREFIX), (2, PREFIX)])
        );
        assert_eq!(listed(&p, "jq"), Some(vec![(1, EXACT)]));
    }
}
