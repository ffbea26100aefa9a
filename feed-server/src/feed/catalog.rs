//! The catalog in memory: one line per event of the log, which is what the Catalog resource
//! lists (CAT-2), and each package version as it was right after any of its events, which is
//! what that event's leaf shows (CAT-3).
//!
//! A leaf is an immutable document (CAT-4, PUB-13): mirrors read it once, caches keep it with
//! a strong ETag, and every replica must render it byte for byte alike, whenever asked. So it
//! cannot come from the version's record, which moves on with later events. Instead each line
//! links the previous event of its version ([`EventSummary::prev`]), and walking back from an
//! event to its version's push says, from memory, when the version was pushed, whether it was
//! listed and which event's deprecation was in force; only the push facts (cached) and that
//! deprecation are read from the log, whose events never change. The link costs no memory:
//! a line's own sequence number is its position in the catalog, so the link takes its place.
//!
//! A hard delete ends a version's chain, and the same version pushed again starts a new one,
//! so the leaves of a deleted version's events keep describing the version they were about:
//! its push is still in the log even though its files are gone (or now belong to the version
//! pushed again, whose files the leaves' icon, readme and license URLs then name). A delete's
//! own leaf (`PackageDelete`) needs nothing but its event.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::deprecation::Deprecation;
use super::event::{Op, Pushed};
use crate::package::{NuGetVersion, PackageId};

/// Events per catalog page (CAT-2: nuget.org's maximum), which is also how the catalog is
/// stored here: a full page never changes again.
pub const CATALOG_PAGE_SIZE: usize = 550;

/// A line of the catalog: enough to list an event without reading it (CAT-2), and to find the
/// version's state after it. The id and version are shared with the version's record when
/// they are spelled the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub time: DateTime<Utc>,
    pub id: Arc<PackageId>,
    pub version: Arc<NuGetVersion>,
    pub op: Op,
    /// The version's event before this one since it was pushed; 0 for a push, and for an
    /// event about a version the feed did not have (which changed nothing).
    pub prev: u64,
}

/// Every event's summary, in pages of [`CATALOG_PAGE_SIZE`]: event `seq` is line `seq - 1`.
/// Full pages are shared, so cloning the catalog copies at most one page.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    sealed: Vec<Arc<[EventSummary]>>,
    tail: Vec<EventSummary>,
}

impl Catalog {
    /// Adds the next event's line.
    pub fn push(&mut self, summary: EventSummary) {
        self.tail.push(summary);
        if self.tail.len() == CATALOG_PAGE_SIZE {
            let page: Arc<[EventSummary]> = std::mem::take(&mut self.tail).into();
            self.sealed.push(page);
        }
    }

    /// Number of events, which is also the sequence number of the last one.
    pub fn len(&self) -> usize {
        self.sealed.len() * CATALOG_PAGE_SIZE + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sequence number of the first event of page `n`.
    pub fn first_seq(n: usize) -> u64 {
        (n * CATALOG_PAGE_SIZE) as u64 + 1
    }

    /// Page `n` (events from [`Catalog::first_seq`]), if it has any event.
    pub fn page(&self, n: usize) -> Option<&[EventSummary]> {
        match self.sealed.get(n) {
            Some(page) => Some(page),
            None if n == self.sealed.len() && !self.tail.is_empty() => Some(&self.tail),
            None => None,
        }
    }

    /// Whether page `n` is full: it will never change.
    pub fn is_sealed(&self, n: usize) -> bool {
        n < self.sealed.len()
    }

    /// Every page, oldest first.
    pub fn pages(&self) -> impl Iterator<Item = &[EventSummary]> + '_ {
        self.sealed
            .iter()
            .map(|p| &p[..])
            .chain((!self.tail.is_empty()).then_some(&self.tail[..]))
    }

    /// Every event, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &EventSummary> + '_ {
        self.pages().flatten()
    }

    /// The summary of event `seq` (from 1).
    pub fn get(&self, seq: u64) -> Option<&EventSummary> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.page(i / CATALOG_PAGE_SIZE)?.get(i % CATALOG_PAGE_SIZE)
    }

    pub fn last(&self) -> Option<&EventSummary> {
        self.tail.last().or_else(|| self.sealed.last()?.last())
    }

    /// Walks back from event `seq` to its version's push: the latest unlist or relist on the
    /// way decides `listed`, the latest deprecation or undeprecation the deprecation. `None`
    /// for a delete and for an event that changed nothing.
    pub(super) fn walk(&self, seq: u64) -> Option<Walk> {
        let mut listed = None;
        let mut deprecated_by = None;
        let mut at = seq;
        loop {
            let e = self.get(at)?;
            match e.op {
                Op::Push => {
                    return Some(Walk {
                        push_seq: at,
                        pushed_at: e.time,
                        listed: listed.unwrap_or(true),
                        deprecated_by: deprecated_by.flatten(),
                    });
                }
                Op::Delete => return None,
                Op::Unlist | Op::Relist => {
                    listed.get_or_insert(e.op == Op::Relist);
                }
                Op::Deprecate => {
                    deprecated_by.get_or_insert(Some(at));
                }
                Op::Undeprecate => {
                    deprecated_by.get_or_insert(None);
                }
                Op::Symbols => {}
            }
            // Links point back (the state makes them so and a snapshot is checked), so a
            // walk ends; one that does not is of a broken catalog.
            if !(1..at).contains(&e.prev) {
                return None;
            }
            at = e.prev;
        }
    }
}

/// What the catalog alone knows of a version right after one of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Walk {
    pub(super) push_seq: u64,
    pub(super) pushed_at: DateTime<Utc>,
    pub(super) listed: bool,
    /// The event whose deprecation was in force, if any.
    pub(super) deprecated_by: Option<u64>,
}

/// A package version as it was right after one of its events: what that event's leaf shows.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionAt {
    /// What its push knew (nuspec, size, hash, embedded files).
    pub pushed: Arc<Pushed>,
    /// When it was pushed.
    pub published: DateTime<Utc>,
    pub listed: bool,
    pub deprecation: Option<Deprecation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog of these events of one version, each linking the one before it; a push
    /// links nothing, so a push after a delete starts anew.
    fn catalog(ops: &[Op]) -> Catalog {
        let mut c = Catalog::default();
        let mut prev = 0;
        for (i, &op) in ops.iter().enumerate() {
            let seq = i as u64 + 1;
            c.push(EventSummary {
                time: DateTime::from_timestamp_nanos(seq as i64),
                id: Arc::new(PackageId::parse("A").unwrap()),
                version: Arc::new(NuGetVersion::parse("1.0.0").unwrap()),
                op,
                prev: if op == Op::Push { 0 } else { prev },
            });
            prev = seq;
        }
        c
    }

    fn at(push_seq: u64, listed: bool, deprecated_by: Option<u64>) -> Option<Walk> {
        Some(Walk {
            push_seq,
            pushed_at: DateTime::from_timestamp_nanos(push_seq as i64),
            listed,
            deprecated_by,
        })
    }

    #[test]
    fn a_walk_gives_the_version_as_each_event_left_it() {
        // CAT-3, PUB-13: each leaf shows its own event's outcome, not the latest one's.
        use Op::*;
        let c = catalog(&[
            Push,
            Unlist,
            Deprecate,
            Symbols,
            Relist,
            Deprecate,
            Undeprecate,
            Delete,
            Push,
            Unlist,
        ]);
        let walks: Vec<_> = (1..=10).map(|seq| c.walk(seq)).collect();
        assert_eq!(
            walks,
            [
                at(1, true, None),
                at(1, false, None),
                at(1, false, Some(3)),
                at(1, false, Some(3)),
                at(1, true, Some(3)),
                at(1, true, Some(6)),
                at(1, true, None),
                None,
                at(9, true, None),
                at(9, false, None),
            ]
        );
        assert_eq!(c.walk(11), None);
        assert_eq!(c.walk(0), None);
    }

    #[test]
    fn an_event_of_a_version_never_pushed_has_no_state() {
        let c = catalog(&[Op::Unlist]);
        assert_eq!(c.get(1).unwrap().prev, 0);
        assert_eq!(c.walk(1), None);
    }

    #[test]
    fn a_link_that_does_not_point_back_ends_the_walk() {
        let mut c = catalog(&[Op::Push, Op::Unlist]);
        c.tail[1].prev = 2;
        assert_eq!(c.walk(2), None, "no endless loop over a broken catalog");
    }

    #[test]
    fn event_summaries_stay_small() {
        // One per event, so about one per version: the link to the previous event took the
        // place of the line's own sequence number (its position), and memory did not grow.
        assert!(
            std::mem::size_of::<EventSummary>() <= 40,
            "{}",
            std::mem::size_of::<EventSummary>()
        );
    }

    #[test]
    fn pages_hold_550_events_and_seal_when_full() {
        let c = catalog(&vec![Op::Push; 1101]);
        assert_eq!(c.len(), 1101);
        assert!(c.is_sealed(1) && !c.is_sealed(2));
        assert_eq!(c.page(2).unwrap().len(), 1);
        assert_eq!(Catalog::first_seq(1), 551);
        let first_of_page_1 = c.page(1).unwrap()[0].time;
        assert_eq!(first_of_page_1, DateTime::from_timestamp_nanos(551));
        assert_eq!(c.get(551).unwrap().time, first_of_page_1);
        assert_eq!(c.get(1101), c.last());
        assert!(c.get(0).is_none() && c.get(1102).is_none());
        assert!(c.page(3).is_none());
        assert_eq!(c.pages().count(), 3);
    }
}
