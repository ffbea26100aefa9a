//! The snapshot format: the feed state as gzip-compressed JSON (format [`FORMAT`]).
//!
//! The JSON is written and read as a stream, a package at a time, so neither needs a second
//! copy of the state in memory. Versions and events are arrays rather than objects to keep a
//! million of them small; a version's optional trailing elements are written only up to the
//! last one it has, so a reader takes a missing one as absent (that is how deprecations were
//! added within format 1).
//!
//! The hard-deleted versions a push must refuse are not written apart: every Delete event is
//! among the snapshot's events, and reading finds them there, so snapshots of earlier builds
//! remember them too.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufReader, BufWriter};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess};
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::feed::SnapshotError;
use crate::feed::catalog::{Catalog, EventSummary};
use crate::feed::deprecation::Deprecation;
use crate::feed::event::{EmbeddedFiles, Op, SymbolFile};
use crate::feed::record::{Listing, PackageRecord, VersionRecord, Versions};
use crate::feed::search::SearchIndex;
use crate::feed::state::{FeedState, Tombstones, remember_deleted, same_spelling};
use crate::package::{NuGetVersion, PackageId};

/// The snapshot layout; a snapshot of another format is ignored. Format 2 gave each event
/// its op and the link to its version's previous event ([`crate::feed::catalog`]), which format 1
/// lacks: a feed whose snapshot is of format 1 replays its log once.
const FORMAT: u32 = 2;

/// Bits of a version's flags.
mod flag {
    pub const LISTED: u8 = 1;
    pub const SEMVER2: u8 = 2;
    pub const ICON: u8 = 4;
    pub const README: u8 = 8;
    pub const LICENSE: u8 = 16;
    pub const ICON_JPEG: u8 = 32;
}

/// The snapshot of `state`: gzip-compressed JSON.
pub fn encode(state: &FeedState) -> Result<Bytes, SnapshotError> {
    let gz = GzEncoder::new(Vec::new(), Compression::fast());
    let mut out = BufWriter::with_capacity(1 << 16, gz);
    serde_json::to_writer(&mut out, &StateOut(state))?;
    let gz = out.into_inner().map_err(|e| e.into_error())?;
    Ok(Bytes::from(gz.finish()?))
}

/// The state a snapshot holds.
pub fn decode(bytes: &[u8]) -> Result<FeedState, SnapshotError> {
    decode_indexed(bytes).map(|(state, _)| state)
}

/// [`decode`], and the search index of the state: built on another thread from the packages
/// while the catalog, which comes after them, is still being read (start-up takes the longer
/// of the two instead of their sum).
pub fn decode_indexed(bytes: &[u8]) -> Result<(FeedState, SearchIndex), SnapshotError> {
    let reader = BufReader::with_capacity(1 << 16, GzDecoder::new(bytes));
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut builder = Builder::default();
    let decoded = (&mut builder)
        .deserialize(&mut de)
        .map_err(SnapshotError::from)
        .and_then(|()| de.end().map_err(SnapshotError::from));
    let indexing = builder.indexing.take();
    decoded?;
    let index = match indexing {
        Some(thread) => thread
            .join()
            .map_err(|_| SnapshotError::Task("search indexing panicked".into()))?,
        None => build_index(builder.packages.iter().map(|(k, v)| (k.clone(), v.clone()))),
    };
    Ok((builder.finish(), index))
}

fn build_index(packages: impl Iterator<Item = (Arc<str>, Arc<PackageRecord>)>) -> SearchIndex {
    let packages: Vec<_> = packages.collect();
    SearchIndex::build(packages.iter().map(|(id, r)| (&**id, &**r)))
}

fn nanos(t: &DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------- writing

struct StateOut<'a>(&'a FeedState);

impl Serialize for StateOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let state = self.0;
        let mut out = s.serialize_struct("Snapshot", 5)?;
        out.serialize_field("format", &FORMAT)?;
        out.serialize_field("seq", &state.seq())?;
        out.serialize_field("packages", &PackagesOut(state))?;
        out.serialize_field("events", &EventsOut(state.events()))?;
        let symbols: Vec<&(String, String)> = state.symbols().collect();
        out.serialize_field("symbols", &symbols)?;
        out.end()
    }
}

struct PackagesOut<'a>(&'a FeedState);

impl Serialize for PackagesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.package_count()))?;
        for (_, record) in self.0.packages() {
            seq.serialize_element(&PackageOut(record))?;
        }
        seq.end()
    }
}

/// `{"ids": [spellings], "seq": last_seq, "versions": [VersionOut]}`
struct PackageOut<'a>(&'a PackageRecord);

/// `[version, id index, flags, published ns, last edited ns, push seq, last seq, listing?,
/// symbols?, deprecation?]`: the optional ones up to the last present (`null` or `[]` before
/// it).
struct VersionOut<'a> {
    v: &'a VersionRecord,
    id: usize,
}

impl Serialize for PackageOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut ids: Vec<&str> = Vec::new();
        let versions: Vec<VersionOut<'_>> = self
            .0
            .versions
            .values()
            .map(|v| {
                let id = match ids.iter().position(|i| *i == v.id().as_str()) {
                    Some(at) => at,
                    None => {
                        ids.push(v.id().as_str());
                        ids.len() - 1
                    }
                };
                VersionOut { v, id }
            })
            .collect();
        let mut out = s.serialize_struct("Package", 3)?;
        out.serialize_field("ids", &ids)?;
        out.serialize_field("seq", &self.0.last_seq)?;
        out.serialize_field("versions", &versions)?;
        out.end()
    }
}

impl Serialize for VersionOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.v;
        let mut flags = 0;
        for (on, bit) in [
            (v.listed, flag::LISTED),
            (v.semver2, flag::SEMVER2),
            (v.files.icon, flag::ICON),
            (v.files.readme, flag::README),
            (v.files.license, flag::LICENSE),
            (v.icon_jpeg, flag::ICON_JPEG),
        ] {
            if on {
                flags |= bit;
            }
        }
        let optional = if v.deprecation.is_some() {
            3
        } else if !v.symbols.is_empty() {
            2
        } else {
            usize::from(v.listing.is_some())
        };
        let mut out = s.serialize_seq(Some(7 + optional))?;
        out.serialize_element(&v.version().to_full())?;
        out.serialize_element(&self.id)?;
        out.serialize_element(&flags)?;
        out.serialize_element(&nanos(&v.published))?;
        out.serialize_element(&nanos(&v.last_edited))?;
        out.serialize_element(&v.push_seq)?;
        out.serialize_element(&v.last_seq)?;
        if optional >= 1 {
            out.serialize_element(&v.listing.as_deref())?;
        }
        if optional >= 2 {
            out.serialize_element(&v.symbols[..])?;
        }
        if optional >= 3 {
            out.serialize_element(&v.deprecation.as_deref())?;
        }
        out.end()
    }
}

/// `[[time ns, id, version, op, prev], ...]`, event 1 first.
struct EventsOut<'a>(&'a Catalog);

impl Serialize for EventsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0.iter() {
            let version = e.version.to_full();
            seq.serialize_element(&(nanos(&e.time), e.id.as_str(), version, e.op, e.prev))?;
        }
        seq.end()
    }
}

// ---------------------------------------------------------------------------------- reading

/// Builds the state as the snapshot streams in.
#[derive(Default)]
struct Builder {
    format: Option<u32>,
    seq: u64,
    packages: HashMap<Arc<str>, Arc<PackageRecord>>,
    catalog: Catalog,
    symbols: HashSet<(String, String)>,
    /// Tombstones, found among the events (a snapshot keeps every Delete event).
    deleted: Tombstones,
    /// The search index being built from `packages` once they are all read.
    indexing: Option<std::thread::JoinHandle<SearchIndex>>,
}

impl Builder {
    fn finish(self) -> FeedState {
        FeedState::from_parts(
            self.seq,
            self.packages,
            self.catalog,
            self.symbols,
            self.deleted,
        )
    }
}

impl<'de> DeserializeSeed<'de> for &mut Builder {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &mut Builder {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a feed snapshot")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let format: u32 = map.next_value()?;
                    if format != FORMAT {
                        return Err(A::Error::custom(format!(
                            "snapshot format {format}, this server reads {FORMAT}"
                        )));
                    }
                    self.format = Some(format);
                }
                "seq" => self.seq = map.next_value()?,
                "packages" => map.next_value_seed(Packages(&mut *self))?,
                "events" => {
                    if self.indexing.is_none() {
                        let packages: Vec<_> = self
                            .packages
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        let spawned = std::thread::Builder::new()
                            .name("search-index".into())
                            .spawn(move || build_index(packages.into_iter()));
                        // Without a thread the index is built after decoding.
                        self.indexing = spawned.ok();
                    }
                    map.next_value_seed(Events(&mut *self))?
                }
                "symbols" => {
                    let symbols: Vec<(String, String)> = map.next_value()?;
                    self.symbols = symbols.into_iter().collect();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if self.format.is_none() {
            return Err(A::Error::custom("snapshot has no format"));
        }
        if self.catalog.len() as u64 != self.seq {
            return Err(A::Error::custom(format!(
                "snapshot of event {} lists {} events",
                self.seq,
                self.catalog.len()
            )));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct PackageIn {
    ids: Vec<String>,
    seq: u64,
    versions: Vec<VersionIn>,
}

#[derive(Deserialize)]
struct VersionIn(
    String,
    usize,
    u8,
    i64,
    i64,
    u64,
    u64,
    #[serde(default)] Option<Listing>,
    #[serde(default)] Vec<SymbolFile>,
    #[serde(default)] Option<Deprecation>,
);

struct Packages<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Packages<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Packages<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the snapshot's packages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(p) = seq.next_element::<PackageIn>()? {
            let (lower, record) = package(p).map_err(A::Error::custom)?;
            self.0.packages.insert(lower, Arc::new(record));
        }
        Ok(())
    }
}

/// A package's record from its snapshot form.
fn package(p: PackageIn) -> std::result::Result<(Arc<str>, PackageRecord), String> {
    let ids: Vec<Arc<PackageId>> = p
        .ids
        .iter()
        .map(|id| PackageId::parse(id).map(Arc::new))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let lower: Arc<str> = ids
        .first()
        .ok_or("a snapshot package has no id")?
        .lower()
        .into();
    let mut versions = Vec::with_capacity(p.versions.len());
    for VersionIn(
        version,
        id,
        flags,
        published,
        edited,
        push_seq,
        last_seq,
        listing,
        symbols,
        deprecation,
    ) in p.versions
    {
        let id = ids.get(id).ok_or("a snapshot version has no id")?.clone();
        let version = NuGetVersion::parse(&version).map_err(|e| e.to_string())?;
        let on = |bit: u8| flags & bit != 0;
        let mut record = VersionRecord::bare(id, Arc::new(version));
        record.listed = on(flag::LISTED);
        record.semver2 = on(flag::SEMVER2);
        record.files = EmbeddedFiles {
            icon: on(flag::ICON),
            readme: on(flag::README),
            license: on(flag::LICENSE),
        };
        record.icon_jpeg = on(flag::ICON_JPEG);
        record.published = DateTime::from_timestamp_nanos(published);
        record.last_edited = DateTime::from_timestamp_nanos(edited);
        record.push_seq = push_seq;
        record.last_seq = last_seq;
        record.symbols = symbols.into_boxed_slice();
        record.deprecation = deprecation.map(Arc::new);
        record.listing = listing.map(Arc::new);
        versions.push(record);
    }
    let versions = Versions::from_sorted(versions).ok_or("snapshot versions are out of order")?;
    Ok((
        lower,
        PackageRecord {
            versions,
            last_seq: p.seq,
        },
    ))
}

struct Events<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Events<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the snapshot's events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let builder = self.0;
        // Events of one id tend to come together: remember the last record looked up.
        let mut last: Option<(String, Option<Arc<PackageRecord>>)> = None;
        while let Some((time, id, version, op, prev)) =
            seq.next_element::<(i64, String, String, Op, u64)>()?
        {
            let seq = builder.catalog.len() as u64 + 1;
            // Links point back (a catalog walk relies on it): this snapshot is broken.
            if prev >= seq {
                return Err(A::Error::custom(format!(
                    "snapshot event {seq} links event {prev}"
                )));
            }
            let parsed_id = PackageId::parse(&id).map_err(A::Error::custom)?;
            let parsed_version = NuGetVersion::parse(&version).map_err(A::Error::custom)?;
            if last
                .as_ref()
                .is_none_or(|(l, _)| !l.eq_ignore_ascii_case(&id))
            {
                let lower = parsed_id.lower();
                let record = builder.packages.get(lower.as_str()).cloned();
                last = Some((lower, record));
            }
            let known = last
                .as_ref()
                .and_then(|(_, r)| r.as_ref())
                .and_then(|r| r.get(&parsed_version));
            let id = match known {
                Some(v) if v.id().as_str() == id => v.id_arc().clone(),
                _ => Arc::new(parsed_id),
            };
            let version = match known {
                Some(v) if same_spelling(v.version(), &parsed_version) => v.version_arc().clone(),
                _ => Arc::new(parsed_version),
            };
            if op == Op::Delete
                && let Some((lower, _)) = &last
            {
                remember_deleted(&mut builder.deleted, &Arc::from(lower.as_str()), &version);
            }
            builder.catalog.push(EventSummary {
                time: DateTime::from_timestamp_nanos(time),
                id,
                version,
                op,
                prev,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::feed::event::{Change, Event, Pushed};
    use crate::package::nuspec;

    fn push(seq: u64, id: &str, version: &str, extra: &str) -> Event {
        let xml = format!(
            r#"<package><metadata><id>{id}</id><version>{version}</version><authors>a</authors><description>d {seq}</description>{extra}</metadata></package>"#
        );
        Event {
            seq,
            // Sub-second digits too: they must survive the round trip.
            time: DateTime::from_timestamp_nanos(1_700_000_000_123_456_789 + seq as i64),
            id: PackageId::parse(id).unwrap(),
            version: NuGetVersion::parse(version).unwrap(),
            change: Change::Push(Box::new(Pushed {
                nuspec: nuspec::parse(xml.as_bytes(), 1 << 20).unwrap(),
                size: 10,
                sha512: String::new(),
                files: EmbeddedFiles {
                    icon: seq.is_multiple_of(2),
                    ..EmbeddedFiles::default()
                },
            })),
        }
    }

    fn simple(seq: u64, id: &str, version: &str, change: Change) -> Event {
        Event {
            change,
            ..push(seq, id, version, "")
        }
    }

    fn deprecate(seq: u64, id: &str, version: &str, json: &str) -> Event {
        let d = Deprecation::from_json(json.as_bytes()).unwrap();
        simple(seq, id, version, Change::Deprecate(Box::new(d)))
    }

    /// A state with every kind of event: casings, prereleases, unlist, delete, symbols,
    /// deprecation (of a version with a listing and of one without).
    fn state() -> FeedState {
        let mut s = FeedState::default();
        let events = [
            push(1, "Contoso.Lib", "1.0.0", "<tags>a b</tags>"),
            push(2, "contoso.lib", "2.0.0-beta.1+sha", "<icon>i.jpg</icon>"),
            push(3, "Other", "1.0", ""),
            simple(4, "CONTOSO.LIB", "1.0.0", Change::Unlist),
            simple(
                5,
                "Other",
                "1.0.0",
                Change::Symbols {
                    files: vec![SymbolFile {
                        file: "other.pdb".into(),
                        key: "abc".into(),
                    }],
                },
            ),
            push(6, "Gone", "1.0.0", ""),
            simple(7, "Gone", "1.0.0", Change::Delete),
            deprecate(
                8,
                "contoso.lib",
                "2.0.0-beta.1",
                r#"{"reasons": ["CriticalBugs"], "message": "Broken.",
                    "alternatePackage": {"id": "Contoso.Lib", "range": "[3.0.0, )"}}"#,
            ),
            deprecate(9, "Contoso.Lib", "1.0.0", r#"{"reasons": ["Legacy"]}"#),
        ];
        for e in &events {
            assert!(s.apply(e));
        }
        s
    }

    /// [`state`]'s one hard delete is remembered, under any casing, and nothing else is.
    fn assert_tombstones(s: &FeedState) {
        let deleted = |id: &str, version: &str| {
            let version = NuGetVersion::parse(version).unwrap();
            s.was_deleted(&PackageId::parse(id).unwrap(), &version)
        };
        assert!(deleted("GONE", "1.0"));
        assert!(!deleted("Gone", "2.0.0"));
        assert!(!deleted("Contoso.Lib", "1.0.0"), "an unlist is no delete");
    }

    #[test]
    fn a_snapshot_restores_the_state_it_was_taken_of() {
        let s = state();
        let bytes = encode(&s).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.seq(), 9);
        assert_eq!(back.package_count(), s.package_count());
        for (id, record) in s.packages() {
            assert_eq!(**back.package(id).unwrap(), **record, "{id}");
        }
        let before: Vec<_> = s.events().iter().cloned().collect();
        let after: Vec<_> = back.events().iter().cloned().collect();
        assert_eq!(before, after);
        assert!(back.has_symbol("other.pdb", "abc"));
        assert_tombstones(&back);
        let lib = back.package("contoso.lib").unwrap();
        let beta = lib.get(&NuGetVersion::parse("2.0.0-beta.1").unwrap());
        let deprecation = beta.unwrap().deprecation.as_deref().unwrap();
        assert_eq!(deprecation.message.as_deref(), Some("Broken."));
        // Shared spellings stay shared.
        let lib = back.package("contoso.lib").unwrap();
        let first = back.events().iter().next().unwrap();
        assert!(Arc::ptr_eq(
            &first.id,
            lib.get(&NuGetVersion::parse("1.0.0").unwrap())
                .unwrap()
                .id_arc()
        ));
    }

    /// A snapshot an earlier build wrote (format 2, of [`state`]; before the format moved
    /// into this file) loads into the same state: a format change is a new [`FORMAT`], never
    /// an accident of moving code. Its packages and symbols are in that process's hash order.
    #[test]
    fn a_snapshot_written_by_an_earlier_build_still_loads() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(include_bytes!("testdata/format-2.json"))
            .unwrap();
        let old = decode(&gz.finish().unwrap()).unwrap();
        let now = state();
        assert_eq!(old.seq(), now.seq());
        assert_eq!(old.package_count(), now.package_count());
        for (id, record) in now.packages() {
            assert_eq!(**old.package(id).unwrap(), **record, "{id}");
        }
        let old_events: Vec<_> = old.events().iter().cloned().collect();
        let now_events: Vec<_> = now.events().iter().cloned().collect();
        assert_eq!(old_events, now_events);
        assert!(old.has_symbol("other.pdb", "abc"));
        assert_tombstones(&old);
        for (id, _) in now.packages() {
            assert_eq!(old.missing_listings(id), now.missing_listings(id), "{id}");
        }
    }

    #[test]
    fn a_snapshot_continues_like_the_log() {
        // Applying the next events to a restored state gives what applying them all gives.
        let mut replayed = state();
        let mut restored = decode(&encode(&state()).unwrap()).unwrap();
        let next = [
            push(10, "Contoso.Lib", "3.0.0", ""),
            simple(11, "contoso.lib", "3.0.0", Change::Unlist),
            simple(12, "contoso.lib", "1.0.0", Change::Undeprecate),
        ];
        for e in &next {
            assert!(replayed.apply(e));
            assert!(restored.apply(e));
        }
        let a = replayed.package("contoso.lib").unwrap();
        let b = restored.package("contoso.lib").unwrap();
        assert_eq!(**a, **b);
        assert_eq!(
            restored.missing_listings("contoso.lib"),
            replayed.missing_listings("contoso.lib")
        );
    }

    #[test]
    fn broken_or_foreign_snapshots_are_refused() {
        assert!(decode(b"not gzip").is_err());
        let gz = |json: &str| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(json.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        assert!(decode(&gz(r#"{"format":99,"seq":0,"packages":[],"events":[]}"#)).is_err());
        assert!(decode(&gz(r#"{"seq":0,"packages":[],"events":[]}"#)).is_err());
        assert!(
            decode(&gz(r#"{"format":1,"seq":0,"packages":[],"events":[]}"#)).is_err(),
            "format 1 has no links between events"
        );
        assert!(
            decode(&gz(r#"{"format":2,"seq":3,"packages":[],"events":[]}"#)).is_err(),
            "events missing"
        );
        let forward = r#"{"format":2,"seq":2,"packages":[],
            "events":[[0,"A","1.0.0","push",0],[0,"A","1.0.0","unlist",2]]}"#;
        assert!(
            decode(&gz(forward)).is_err(),
            "a link that does not point back"
        );
        let empty = decode(&gz(
            r#"{"format":2,"seq":0,"packages":[],"events":[],"symbols":[]}"#,
        ))
        .unwrap();
        assert_eq!(empty.seq(), 0);
    }

    #[test]
    fn a_version_without_its_trailing_elements_loads() {
        // No tenth element (no deprecation); a version with symbols but no listing.
        let json = r#"{"format":2,"seq":2,"packages":[{"ids":["A"],"seq":2,"versions":[
            ["1.0.0",0,1,0,0,1,2,null,[{"file":"a.pdb","key":"k"}]]]}],
            "events":[[0,"A","1.0.0","push",0],[0,"A","1.0.0","symbols",1]],
            "symbols":[["a.pdb","k"]]}"#;
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(json.as_bytes()).unwrap();
        let state = decode(&e.finish().unwrap()).unwrap();
        let v = state.version(
            &PackageId::parse("a").unwrap(),
            &NuGetVersion::parse("1.0").unwrap(),
        );
        let v = v.unwrap();
        assert_eq!((v.deprecation.is_none(), v.symbols.len()), (true, 1));
    }
}
