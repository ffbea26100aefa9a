//! Id matches of the shortest query terms, listed ahead of time.
//!
//! A term of up to three characters (what autocomplete sees first while someone types) begins
//! thousands of ids and id parts. Found through the word trees, each of those costs a walk to
//! another tree node and another posting list, nearly all cache misses; here each such prefix
//! has one list, sorted by entry, that says how every entry it begins matches.

use std::collections::HashMap;

/// Longest prefix, in characters, that has a list.
pub const MAX_CHARS: usize = 3;

/// An entry and whether the prefix begins its whole id or only a part of it, in one `u32`
/// (the entry shifted left by one; the low bit set for a part) to keep the lists small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMatch(u32);

impl IdMatch {
    fn new(entry: u32, part_only: bool) -> IdMatch {
        IdMatch((entry << 1) | u32::from(part_only))
    }

    pub fn entry(self) -> u32 {
        self.0 >> 1
    }

    /// Only a part of the id begins with the prefix, not the id.
    pub fn part_only(self) -> bool {
        self.0 & 1 == 1
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
        for (prefix, part_only) in prefixes(lower_id, parts) {
            self.lists
                .entry(prefix.into())
                .or_default()
                .push(IdMatch::new(entry, part_only));
        }
    }

    /// Adds an entry anywhere.
    pub fn insert(&mut self, entry: u32, lower_id: &str, parts: &[String]) {
        for (prefix, part_only) in prefixes(lower_id, parts) {
            let list = self.lists.entry(prefix.into()).or_default();
            let at = list.partition_point(|m| m.entry() < entry);
            list.insert(at, IdMatch::new(entry, part_only));
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

/// The short prefixes of an id and its parts, each once: whole-id matches win over parts.
fn prefixes(lower_id: &str, parts: &[String]) -> HashMap<String, bool> {
    let mut out = HashMap::new();
    for (word, part_only) in
        std::iter::once((lower_id, false)).chain(parts.iter().map(|p| (p.as_str(), true)))
    {
        for (at, c) in word.char_indices().take(MAX_CHARS) {
            let prefix = &word[..at + c.len_utf8()];
            let found = out.entry(prefix.to_owned()).or_insert(part_only);
            *found &= part_only;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(p: &ShortPrefixes, term: &str) -> Option<Vec<(u32, bool)>> {
        p.get(term)
            .map(|l| l.iter().map(|m| (m.entry(), m.part_only())).collect())
    }

    #[test]
    fn lists_whole_id_and_part_matches_once_each() {
        let mut p = ShortPrefixes::default();
        let parts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        p.push(0, "newtonsoft.json", &parts(&["json", ".json"]));
        p.push(1, "nunit", &parts(&[]));
        p.push(2, "jsonpath.next", &parts(&["path.next", "next", ".next"]));
        assert_eq!(
            listed(&p, "n"),
            Some(vec![(0, false), (1, false), (2, true)])
        );
        assert_eq!(listed(&p, "j"), Some(vec![(0, true), (2, false)]));
        assert_eq!(listed(&p, "ne"), Some(vec![(0, false), (2, true)]));
        assert_eq!(listed(&p, ".j"), Some(vec![(0, true)]));
        assert_eq!(listed(&p, "zz"), Some(vec![]), "short: an empty list");
        assert_eq!(listed(&p, "new"), Some(vec![(0, false)]));
        assert_eq!(listed(&p, "newt"), None, "too long for a list");
        assert_eq!(listed(&p, ""), None);

        p.remove(1, "nunit", &parts(&[]));
        assert_eq!(listed(&p, "nu"), Some(vec![]));
        assert_eq!(listed(&p, "n"), Some(vec![(0, false), (2, true)]));
        p.insert(1, "jq", &parts(&[]));
        assert_eq!(
            listed(&p, "j"),
            Some(vec![(0, true), (1, false), (2, false)])
        );
    }
}
