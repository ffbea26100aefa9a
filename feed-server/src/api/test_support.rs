//! Test fixtures for the views: package records built from real nuspec XML, with fixed
//! timestamps so snapshots are stable, and the push facts the records leave in storage.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::feed::deprecation::Deprecation;
use crate::feed::event::{Details, EmbeddedFiles, Pushed};
use crate::feed::record::{Listing, PackageRecord, VersionRecord};
use crate::package::{NuGetVersion, Nuspec, nuspec as nuspec_parser};

/// The time of the first fixture event; later ones are an hour apart.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

/// A nuspec with `extra` metadata elements; `<authors>` and `<description>` get defaults
/// unless `extra` has them (the parser keeps the first of repeated elements).
pub(crate) fn nuspec(id: &str, version: &str, extra: &str) -> Nuspec {
    let xml = format!(
        "<package><metadata><id>{id}</id><version>{version}</version>{extra}\
         <authors>Test Author</authors><description>Description of {id}.</description>\
         </metadata></package>"
    );
    nuspec_parser::parse(xml.as_bytes(), 1 << 20).unwrap()
}

/// A version before it is put in a [`Fixture`]: its nuspec and embedded files.
#[derive(Debug, Clone)]
pub(crate) struct TestVersion {
    pub nuspec: Nuspec,
    pub files: EmbeddedFiles,
}

/// A listed version with default metadata.
pub(crate) fn version(id: &str, v: &str) -> TestVersion {
    version_with(id, v, "")
}

/// A listed version whose nuspec has `extra` metadata elements.
pub(crate) fn version_with(id: &str, v: &str, extra: &str) -> TestVersion {
    TestVersion {
        nuspec: nuspec(id, v, extra),
        files: EmbeddedFiles::default(),
    }
}

/// A package record and what its versions' push events hold.
#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    pub record: PackageRecord,
    pub details: Details,
}

impl TestVersion {
    /// The push facts of this version.
    pub(crate) fn pushed(&self) -> Pushed {
        Pushed {
            nuspec: self.nuspec.clone(),
            size: 1234,
            sha512: "c2hhNTEy".to_owned(),
            files: self.files,
        }
    }

    /// Its record as pushed by event `seq` at `time`. Every fixture version keeps its listing
    /// (the state keeps only the latest ones'; search reads only those).
    pub(crate) fn record(&self, seq: u64, time: DateTime<Utc>) -> VersionRecord {
        let mut r = VersionRecord::pushed(
            Arc::new(self.nuspec.id.clone()),
            Arc::new(self.nuspec.version.clone()),
            &self.pushed(),
            seq,
            time,
        );
        r.listing = Some(Arc::new(Listing::from_nuspec(&self.nuspec)));
        r
    }
}

/// A record of these versions; the n-th (from 0) was pushed by event n + 1 at `t0() + n h`.
pub(crate) fn record(versions: &[TestVersion]) -> Fixture {
    let mut record = PackageRecord::default();
    let mut details = Details::new();
    for (n, v) in versions.iter().enumerate() {
        let seq = n as u64 + 1;
        record
            .versions
            .insert(v.record(seq, t0() + Duration::hours(n as i64)));
        details.insert(seq, Arc::new(v.pushed()));
        record.last_seq = seq;
    }
    Fixture { record, details }
}

/// Changes one version of a fixture in place (its record and its push facts alike).
pub(crate) fn edit(fixture: &mut Fixture, v: &str, f: impl FnOnce(&mut VersionRecord)) {
    let v = NuGetVersion::parse(v).unwrap();
    let record = fixture.record.versions.get_mut(&v).unwrap();
    f(record);
    let files = record.files;
    let pushed = fixture.details.get_mut(&record.push_seq).unwrap();
    Arc::make_mut(pushed).files = files;
}

/// Unlists one version of a fixture.
pub(crate) fn unlist(fixture: &mut Fixture, v: &str) {
    edit(fixture, v, |v| v.listed = false);
}

/// A deprecation from a tenant's JSON document.
pub(crate) fn deprecation(json: &str) -> Deprecation {
    Deprecation::from_json(json.as_bytes()).unwrap()
}

/// Deprecates one version of a fixture with a tenant's JSON document.
pub(crate) fn deprecate(fixture: &mut Fixture, v: &str, json: &str) {
    let d = Arc::new(deprecation(json));
    edit(fixture, v, |v| v.deprecation = Some(d));
}
