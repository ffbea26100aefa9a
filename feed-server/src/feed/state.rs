//! The feed state in memory: the fold of the event log. One place decides what is visible.
//!
//! Besides the package records ([`super::record`]) the state keeps a summary of every event
//! for the catalog ([`super::catalog`]) and the symbol keys. It is cheap to clone (records and
//! sealed catalog pages are shared), which is how a snapshot ([`super::snapshot`]) is taken
//! without holding the lock while it is written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::catalog::{Catalog, EventSummary};
use super::event::{Change, Event};
use super::record::{Listing, PackageRecord, VersionRecord};
use crate::package::{NuGetVersion, Nuspec, PackageId};

/// A version whose [`Listing`] search needs but the state does not have: it must be read
/// from the version's push event ([`FeedState::set_listing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingListing {
    pub lower_id: Arc<str>,
    pub version: Arc<NuGetVersion>,
    pub push_seq: u64,
}

/// Hard-deleted versions by lower-cased id.
pub(super) type Tombstones = HashMap<Arc<str>, HashSet<Arc<NuGetVersion>>>;

/// Every package of the feed as of event `seq`.
#[derive(Debug, Default, Clone)]
pub struct FeedState {
    seq: u64,
    /// Keyed by lower-cased id.
    packages: HashMap<Arc<str>, Arc<PackageRecord>>,
    catalog: Catalog,
    /// Symbol-server keys `(file, key)` of every stored PDB (SYM-4).
    symbols: HashSet<(String, String)>,
    /// Every version a hard delete removed: the log's Delete events are the tombstones, this
    /// is their index, so that a push can refuse to give a deleted version
    /// other bytes ([`FeedState::was_deleted`]).
    deleted: Tombstones,
}

impl FeedState {
    /// The last event applied (0 for an empty feed).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the id has ever had a version here that is still remembered: any version in
    /// any state, or a hard-deleted one's tombstone. Such an id belongs to this feed alone
    /// and is never looked up upstream.
    pub fn knows_id(&self, lower_id: &str) -> bool {
        self.packages.contains_key(lower_id) || self.deleted.contains_key(lower_id)
    }

    pub fn package(&self, lower_id: &str) -> Option<&Arc<PackageRecord>> {
        self.packages.get(lower_id)
    }

    /// The lower-cased id as the state shares it, for indexes keyed by it.
    pub fn lower_id(&self, lower_id: &str) -> Option<&Arc<str>> {
        self.packages.get_key_value(lower_id).map(|(k, _)| k)
    }

    pub fn version(&self, id: &PackageId, version: &NuGetVersion) -> Option<&VersionRecord> {
        self.packages.get(id.lower().as_str())?.get(version)
    }

    pub fn packages(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<PackageRecord>)> {
        self.packages.iter()
    }

    pub fn package_count(&self) -> usize {
        self.packages.len()
    }

    /// Number of versions in the feed.
    pub fn version_count(&self) -> usize {
        self.packages.values().map(|p| p.versions.len()).sum()
    }

    pub fn events(&self) -> &Catalog {
        &self.catalog
    }

    /// Whether a PDB with this lower-cased file name and key is stored.
    pub fn has_symbol(&self, file: &str, key: &str) -> bool {
        self.symbols.contains(&(file.to_owned(), key.to_owned()))
    }

    /// Whether a hard delete ever removed this version (it may have been pushed again since,
    /// where the feed allows reuse).
    pub fn was_deleted(&self, id: &PackageId, version: &NuGetVersion) -> bool {
        self.deleted
            .get(id.lower().as_str())
            .is_some_and(|versions| versions.contains(version))
    }

    /// Every stored PDB's `(file, key)`.
    pub fn symbols(&self) -> impl Iterator<Item = &(String, String)> {
        self.symbols.iter()
    }

    /// Applies the next event. Events must come in order; an event already applied (a replica
    /// reading what it wrote itself) is ignored. Returns whether the state changed.
    ///
    /// Search needs the [`Listing`] of each id's latest listed versions: a push brings its
    /// own, but an unlist, relist or delete can make an older version the latest, whose
    /// listing is not in memory; [`FeedState::missing_listings`] names those.
    pub fn apply(&mut self, event: &Event) -> bool {
        if event.seq != self.seq + 1 {
            return false;
        }
        self.seq = event.seq;
        let lower: Arc<str> = match self.packages.get_key_value(event.id.lower().as_str()) {
            Some((k, _)) => k.clone(),
            None => event.id.lower().into(),
        };
        let record = self.packages.entry(lower.clone()).or_default();
        let record = Arc::make_mut(record);
        record.last_seq = event.seq;
        // Share the id and version with the record when the event spells them the same way.
        let known = record.get(&event.version);
        // A push starts its version's chain of events; any other event continues it.
        let prev = match (&event.change, known) {
            (Change::Push(_), _) | (_, None) => 0,
            (_, Some(v)) => v.last_seq,
        };
        let mut id = shared_id(record, &event.id);
        let mut version = match known {
            Some(v) if same_spelling(v.version(), &event.version) => v.version_arc().clone(),
            _ => Arc::new(event.version.clone()),
        };
        let mut pushed_nuspec: Option<&Nuspec> = None;
        match &event.change {
            Change::Push(pushed) => {
                // A push of an existing version cannot be appended (push validates first);
                // if a log holds one anyway, the first push wins, as it did when it happened.
                if !record.versions.contains_key(&event.version) {
                    let v = VersionRecord::pushed(
                        id.clone(),
                        version.clone(),
                        pushed,
                        event.seq,
                        event.time,
                    );
                    record.versions.insert(v);
                    pushed_nuspec = Some(&pushed.nuspec);
                }
            }
            Change::Unlist
            | Change::Relist
            | Change::Symbols { .. }
            | Change::Deprecate(_)
            | Change::Undeprecate => {
                if let Some(v) = record.versions.get_mut(&event.version) {
                    match &event.change {
                        Change::Unlist => v.listed = false,
                        Change::Relist => v.listed = true,
                        Change::Deprecate(d) => v.deprecation = Some(Arc::new((**d).clone())),
                        Change::Undeprecate => v.deprecation = None,
                        Change::Symbols { files } => {
                            let mut all = v.symbols.to_vec();
                            for f in files {
                                self.symbols.insert((f.file.clone(), f.key.clone()));
                                if !all.contains(f) {
                                    all.push(f.clone());
                                }
                            }
                            v.symbols = all.into_boxed_slice();
                        }
                        Change::Push(_) | Change::Delete => {}
                    }
                    v.last_edited = event.time;
                    v.last_seq = event.seq;
                }
            }
            Change::Delete => {
                if let Some(v) = record.versions.remove(&event.version) {
                    for f in v.symbols.iter() {
                        self.symbols.remove(&(f.file.clone(), f.key.clone()));
                    }
                    // The catalog keeps the deleted version's spelling alive.
                    if same_spelling(v.version(), &event.version) {
                        version = v.version_arc().clone();
                    }
                    if v.id().as_str() == event.id.as_str() {
                        id = v.id_arc().clone();
                    }
                }
                remember_deleted(&mut self.deleted, &lower, &version);
            }
        }
        update_listings(record, pushed_nuspec.map(|n| (&event.version, n)));
        if record.versions.is_empty() {
            self.packages.remove(&lower);
        }
        self.catalog.push(EventSummary {
            time: event.time,
            id,
            version,
            op: event.change.op(),
            prev,
        });
        true
    }

    /// The listings search needs for `lower_id` that are not in memory.
    pub fn missing_listings(&self, lower_id: &str) -> Vec<MissingListing> {
        let Some((key, record)) = self.packages.get_key_value(lower_id) else {
            return Vec::new();
        };
        let slice = record.versions.as_slice();
        let mut missing: Vec<MissingListing> = Vec::new();
        for i in record.search_latest().into_iter().flatten() {
            let v = &slice[i];
            if v.listing.is_none() && !missing.iter().any(|m| m.push_seq == v.push_seq) {
                missing.push(MissingListing {
                    lower_id: key.clone(),
                    version: v.version_arc().clone(),
                    push_seq: v.push_seq,
                });
            }
        }
        missing
    }

    /// Gives a version the listing read from its push event `push_seq`, if the version is
    /// still the one that event pushed and search still needs it.
    pub fn set_listing(&mut self, missing: &MissingListing, listing: Arc<Listing>) {
        let Some(record) = self.packages.get_mut(&missing.lower_id) else {
            return;
        };
        let latest = record.search_latest();
        let Some(at) = record
            .versions
            .as_slice()
            .iter()
            .position(|v| v.push_seq == missing.push_seq)
        else {
            return;
        };
        if latest.contains(&Some(at)) {
            let record = Arc::make_mut(record);
            if let Some(v) = record.versions.values_mut().nth(at) {
                v.listing = Some(listing);
            }
        }
    }

    /// Rebuilds a state from a snapshot's parts ([`super::snapshot`]).
    pub(super) fn from_parts(
        seq: u64,
        packages: HashMap<Arc<str>, Arc<PackageRecord>>,
        catalog: Catalog,
        symbols: HashSet<(String, String)>,
        deleted: Tombstones,
    ) -> FeedState {
        FeedState {
            seq,
            packages,
            catalog,
            symbols,
            deleted,
        }
    }
}

/// Adds a hard-deleted version to the tombstones (the fold's and a snapshot's, which finds
/// them among its events).
pub(super) fn remember_deleted(
    deleted: &mut Tombstones,
    lower_id: &Arc<str>,
    version: &Arc<NuGetVersion>,
) {
    match deleted.get_mut(lower_id) {
        Some(versions) => {
            versions.insert(version.clone());
        }
        None => {
            deleted.insert(lower_id.clone(), HashSet::from([version.clone()]));
        }
    }
}

/// The record's id if some version spells it exactly like `id`, else a new one.
fn shared_id(record: &PackageRecord, id: &PackageId) -> Arc<PackageId> {
    record
        .versions
        .values()
        .rev()
        .find(|v| v.id().as_str() == id.as_str())
        .map_or_else(|| Arc::new(id.clone()), |v| v.id_arc().clone())
}

/// Whether two equal versions are also written the same way (labels' casing, metadata), so
/// that the catalog shows each event's version as the event wrote it.
pub(super) fn same_spelling(a: &NuGetVersion, b: &NuGetVersion) -> bool {
    // Equal versions have equal numbers and labels but for their case: compare the rest.
    a == b && a.metadata() == b.metadata() && a.release_labels() == b.release_labels()
}

/// Keeps a listing on exactly the versions search can show: gives the version just pushed
/// its own when search shows it, and drops the others' (their metadata stays in storage).
fn update_listings(record: &mut PackageRecord, pushed: Option<(&NuGetVersion, &Nuspec)>) {
    let latest = record.search_latest();
    for (i, v) in record.versions.values_mut().enumerate() {
        if !latest.contains(&Some(i)) {
            v.listing = None;
        } else if v.listing.is_none()
            && let Some((version, nuspec)) = pushed
            && v.version() == version
        {
            v.listing = Some(Arc::new(Listing::from_nuspec(nuspec)));
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::feed::deprecation::{Deprecation, Reason};
    use crate::feed::event::{EmbeddedFiles, Op, Pushed};
    use crate::package::nuspec;

    fn push_with(seq: u64, id: &str, version: &str, title: &str) -> Event {
        let xml = format!(
            r#"<package><metadata><id>{id}</id><version>{version}</version><title>{title}</title><authors>a</authors><description>d</description></metadata></package>"#
        );
        let nuspec = nuspec::parse(xml.as_bytes(), 1 << 20).unwrap();
        Event {
            seq,
            time: Utc::now(),
            id: PackageId::parse(id).unwrap(),
            version: NuGetVersion::parse(version).unwrap(),
            change: Change::Push(Box::new(Pushed {
                nuspec,
                size: 1,
                sha512: String::new(),
                files: EmbeddedFiles::default(),
            })),
        }
    }

    fn push(seq: u64, id: &str, version: &str) -> Event {
        push_with(seq, id, version, "t")
    }

    fn simple(seq: u64, id: &str, version: &str, change: Change) -> Event {
        Event {
            change,
            ..push(seq, id, version)
        }
    }

    fn v(s: &str) -> NuGetVersion {
        NuGetVersion::parse(s).unwrap()
    }

    #[test]
    fn events_fold_into_records_in_order_only() {
        let mut s = FeedState::default();
        assert!(s.apply(&push(1, "Foo", "1.0.0")));
        assert!(
            !s.apply(&push(1, "Foo", "1.0.0")),
            "replayed event is ignored"
        );
        assert!(!s.apply(&push(3, "Foo", "3.0.0")), "a gap is not applied");
        assert!(s.apply(&push(2, "foo", "2.0.0-beta")));
        assert!(s.apply(&simple(3, "FOO", "1.0", Change::Unlist)));
        let rec = s.package("foo").unwrap();
        assert_eq!(rec.versions.len(), 2);
        assert_eq!(rec.last_seq, 3);
        let v1 = rec.get(&v("1.0.0.0")).unwrap();
        assert!(!v1.listed);
        assert_eq!((v1.push_seq, v1.last_seq), (1, 3));
        assert_eq!(s.events().len(), 3);
        assert!(s.apply(&simple(4, "Foo", "1.0.0", Change::Delete)));
        assert!(s.apply(&simple(5, "Foo", "2.0.0-beta", Change::Delete)));
        assert!(
            s.package("foo").is_none(),
            "a package without versions is gone"
        );
        assert_eq!(s.events().last().unwrap().op, Op::Delete);
    }

    #[test]
    fn hard_deleted_versions_are_remembered_after_a_push_again() {
        let deleted = |s: &FeedState, id: &str, version: &str| {
            s.was_deleted(&PackageId::parse(id).unwrap(), &v(version))
        };
        let mut s = FeedState::default();
        s.apply(&push(1, "Foo", "1.0.0-Beta"));
        s.apply(&simple(2, "Foo", "1.0.0-beta", Change::Unlist));
        assert!(!deleted(&s, "foo", "1.0.0-beta"), "an unlist is no delete");
        s.apply(&simple(3, "Foo", "1.0.0-beta", Change::Delete));
        assert!(s.package("foo").is_none());
        assert!(deleted(&s, "FOO", "1.0.0.0-BETA"), "as NuGet compares them");
        assert!(!deleted(&s, "foo", "1.0.0"));
        assert!(!deleted(&s, "bar", "1.0.0-beta"));
        // A feed that allows reuse can push it again: the tombstone stays.
        s.apply(&push(4, "Foo", "1.0.0-beta"));
        assert!(deleted(&s, "foo", "1.0.0-beta"));
    }

    #[test]
    fn catalog_summaries_share_ids_and_versions_spelled_alike() {
        let mut s = FeedState::default();
        s.apply(&push(1, "Foo", "1.0.0"));
        s.apply(&simple(2, "foo", "1.0.0", Change::Unlist));
        s.apply(&simple(3, "Foo", "1.0.0", Change::Relist));
        let events: Vec<_> = s.events().iter().collect();
        let record = s.package("foo").unwrap();
        let v1 = record.get(&v("1.0.0")).unwrap();
        assert!(Arc::ptr_eq(&events[0].id, v1.id_arc()));
        assert!(Arc::ptr_eq(&events[0].version, v1.version_arc()));
        assert_eq!(events[1].id.as_str(), "foo", "as the unlist spelled it");
        assert!(Arc::ptr_eq(&events[2].id, v1.id_arc()));
    }

    #[test]
    fn deprecation_is_replaced_removed_and_dropped_with_its_version() {
        // REG-10; a hard delete forgets it, so a version pushed again starts clean.
        let deprecate = |seq, json: &str| {
            let d = Deprecation::from_json(json.as_bytes()).unwrap();
            simple(seq, "Foo", "1.0.0", Change::Deprecate(Box::new(d)))
        };
        let reasons = |s: &FeedState| {
            let v = s.version(&PackageId::parse("foo").unwrap(), &v("1.0.0"));
            v.and_then(|v| v.deprecation.as_ref().map(|d| d.reasons.clone()))
        };
        let mut s = FeedState::default();
        s.apply(&push(1, "Foo", "1.0.0"));
        assert_eq!(reasons(&s), None);
        s.apply(&deprecate(2, r#"{"reasons": ["Legacy"]}"#));
        assert_eq!(reasons(&s), Some(vec![Reason::Legacy]));
        s.apply(&deprecate(3, r#"{"reasons": ["Other"]}"#));
        assert_eq!(reasons(&s), Some(vec![Reason::Other]));
        let record = s.package("foo").unwrap();
        assert_eq!(
            (record.last_seq, record.get(&v("1.0.0")).unwrap().last_seq),
            (3, 3)
        );
        s.apply(&simple(4, "Foo", "1.0.0", Change::Undeprecate));
        assert_eq!(reasons(&s), None);
        s.apply(&deprecate(5, r#"{"reasons": ["CriticalBugs"]}"#));
        s.apply(&simple(6, "Foo", "1.0.0", Change::Delete));
        s.apply(&push(7, "Foo", "1.0.0"));
        assert_eq!(reasons(&s), None);
        assert_eq!(s.events().get(5).unwrap().op, Op::Deprecate);
    }

    #[test]
    fn each_event_links_the_previous_one_of_its_version_since_its_push() {
        // What the catalog walks to show a version as of any event (CAT-3).
        let mut s = FeedState::default();
        s.apply(&push(1, "Foo", "1.0.0"));
        s.apply(&push(2, "Foo", "2.0.0"));
        s.apply(&simple(3, "foo", "1.0.0", Change::Unlist));
        s.apply(&simple(
            4,
            "Foo",
            "2.0.0",
            Change::Symbols { files: Vec::new() },
        ));
        s.apply(&simple(5, "FOO", "1.0.0", Change::Relist));
        s.apply(&simple(6, "Foo", "1.0.0", Change::Delete));
        s.apply(&push(7, "Foo", "1.0.0"));
        s.apply(&simple(8, "Foo", "1.0.0", Change::Undeprecate));
        s.apply(&simple(9, "Bar", "1.0.0", Change::Unlist));
        let links: Vec<(Op, u64)> = s.events().iter().map(|e| (e.op, e.prev)).collect();
        assert_eq!(
            links,
            [
                (Op::Push, 0),
                (Op::Push, 0),
                (Op::Unlist, 1),
                (Op::Symbols, 2),
                (Op::Relist, 3),
                (Op::Delete, 5),
                (Op::Push, 0),
                (Op::Undeprecate, 7),
                (Op::Unlist, 0),
            ],
            "a push after a delete starts anew; an event of an unknown version links nothing"
        );
    }

    #[test]
    fn only_the_versions_search_shows_keep_a_listing() {
        let mut s = FeedState::default();
        s.apply(&push_with(1, "A", "1.0.0", "one"));
        s.apply(&push_with(2, "A", "2.0.0", "two"));
        s.apply(&push_with(3, "A", "3.0.0-beta", "three"));
        let listing = |s: &FeedState, ver: &str| {
            s.package("a")
                .unwrap()
                .get(&v(ver))
                .unwrap()
                .listing
                .clone()
        };
        assert!(
            listing(&s, "1.0.0").is_none(),
            "an older version is dropped"
        );
        assert_eq!(listing(&s, "2.0.0").unwrap().title.as_deref(), Some("two"));
        assert!(listing(&s, "3.0.0-beta").is_some(), "latest prerelease");
        assert!(s.missing_listings("a").is_empty());

        // Unlisting 2.0.0 makes 1.0.0 the latest stable: its listing must be read back.
        s.apply(&simple(4, "A", "2.0.0", Change::Unlist));
        assert!(listing(&s, "2.0.0").is_none());
        let missing = s.missing_listings("a");
        assert_eq!(missing.len(), 1);
        assert_eq!((missing[0].push_seq, &*missing[0].lower_id), (1, "a"));
        let one = Arc::new(Listing {
            title: Some("one".into()),
            ..Listing::default()
        });
        s.set_listing(&missing[0], one);
        assert_eq!(listing(&s, "1.0.0").unwrap().title.as_deref(), Some("one"));
        assert!(s.missing_listings("a").is_empty());
    }
}
