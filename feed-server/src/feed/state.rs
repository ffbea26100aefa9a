//! The feed state in memory: the fold of the event log. One place decides what is visible.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::event::{Change, Event};
use super::record::{PackageRecord, VersionRecord};
use crate::package::{NuGetVersion, PackageId};

/// A line of the catalog: enough to list an event without reading it (CAT-2).
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub id: PackageId,
    pub version: NuGetVersion,
    pub catalog_type: &'static str,
}

/// Every package of the feed as of event `seq`.
#[derive(Debug, Default)]
pub struct FeedState {
    seq: u64,
    /// Keyed by lower-cased id.
    packages: HashMap<String, Arc<PackageRecord>>,
    /// `events[i]` is event `i + 1`.
    events: Vec<EventSummary>,
    /// Symbol-server keys `(file, key)` of every stored PDB (SYM-4).
    symbols: HashSet<(String, String)>,
}

impl FeedState {
    /// The last event applied (0 for an empty feed).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn package(&self, lower_id: &str) -> Option<&Arc<PackageRecord>> {
        self.packages.get(lower_id)
    }

    pub fn version(&self, id: &PackageId, version: &NuGetVersion) -> Option<&Arc<VersionRecord>> {
        self.packages.get(&id.lower())?.get(version)
    }

    pub fn packages(&self) -> impl Iterator<Item = (&String, &Arc<PackageRecord>)> {
        self.packages.iter()
    }

    pub fn package_count(&self) -> usize {
        self.packages.len()
    }

    pub fn events(&self) -> &[EventSummary] {
        &self.events
    }

    /// Whether a PDB with this lower-cased file name and key is stored.
    pub fn has_symbol(&self, file: &str, key: &str) -> bool {
        self.symbols.contains(&(file.to_owned(), key.to_owned()))
    }

    /// Applies the next event. Events must come in order; an event already applied (a replica
    /// reading what it wrote itself) is ignored. Returns whether the state changed.
    pub fn apply(&mut self, event: &Event) -> bool {
        if event.seq != self.seq + 1 {
            return false;
        }
        self.seq = event.seq;
        self.events.push(EventSummary {
            seq: event.seq,
            time: event.time,
            id: event.id.clone(),
            version: event.version.clone(),
            catalog_type: event.catalog_type(),
        });
        let lower = event.id.lower();
        let record = self.packages.entry(lower.clone()).or_default();
        let record = Arc::make_mut(record);
        match &event.change {
            Change::Push(pushed) => {
                // A push of an existing version cannot be appended (push validates first);
                // if a log holds one anyway, the first push wins, as it did when it happened.
                if !record.versions.contains_key(&event.version) {
                    record.versions.insert(
                        event.version.clone(),
                        Arc::new(VersionRecord {
                            semver2: pushed.nuspec.is_semver2(),
                            nuspec: pushed.nuspec.clone(),
                            listed: true,
                            published: event.time,
                            last_edited: event.time,
                            last_seq: event.seq,
                            size: pushed.size,
                            sha512: pushed.sha512.clone(),
                            files: pushed.files,
                            symbols: Vec::new(),
                        }),
                    );
                }
            }
            Change::Unlist | Change::Relist | Change::Symbols { .. } => {
                if let Some(v) = record.versions.get_mut(&event.version) {
                    let v = Arc::make_mut(v);
                    match &event.change {
                        Change::Unlist => v.listed = false,
                        Change::Relist => v.listed = true,
                        Change::Symbols { files } => {
                            for f in files {
                                self.symbols.insert((f.file.clone(), f.key.clone()));
                                if !v.symbols.contains(f) {
                                    v.symbols.push(f.clone());
                                }
                            }
                        }
                        Change::Push(_) | Change::Delete => {}
                    }
                    v.last_edited = event.time;
                    v.last_seq = event.seq;
                }
            }
            Change::Delete => {
                if let Some(v) = record.versions.remove(&event.version) {
                    for f in &v.symbols {
                        self.symbols.remove(&(f.file.clone(), f.key.clone()));
                    }
                }
            }
        }
        if record.versions.is_empty() {
            self.packages.remove(&lower);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::event::{EmbeddedFiles, Pushed};
    use crate::package::nuspec;

    fn push(seq: u64, id: &str, version: &str) -> Event {
        let xml = format!(
            r#"<package><metadata><id>{id}</id><version>{version}</version><authors>a</authors><description>d</description></metadata></package>"#
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

    fn simple(seq: u64, id: &str, version: &str, change: Change) -> Event {
        Event {
            change,
            ..push(seq, id, version)
        }
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
        let v1 = rec.get(&NuGetVersion::parse("1.0.0.0").unwrap()).unwrap();
        assert!(!v1.listed);
        assert_eq!(v1.last_seq, 3);
        assert_eq!(s.events().len(), 3);
        assert!(s.apply(&simple(4, "Foo", "1.0.0", Change::Delete)));
        assert!(s.apply(&simple(5, "Foo", "2.0.0-beta", Change::Delete)));
        assert!(
            s.package("foo").is_none(),
            "a package without versions is gone"
        );
        assert_eq!(s.events()[4].catalog_type, "nuget:PackageDelete");
    }
}
