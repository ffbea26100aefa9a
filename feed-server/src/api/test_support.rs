//! Test fixtures for the views: package records built from real nuspec XML, with fixed
//! timestamps so snapshots are stable.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::feed::event::EmbeddedFiles;
use crate::feed::record::{PackageRecord, VersionRecord};
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

/// A listed version with default metadata.
pub(crate) fn version(id: &str, v: &str) -> Arc<VersionRecord> {
    version_with(id, v, "")
}

/// A listed version whose nuspec has `extra` metadata elements.
pub(crate) fn version_with(id: &str, v: &str, extra: &str) -> Arc<VersionRecord> {
    let nuspec = nuspec(id, v, extra);
    Arc::new(VersionRecord {
        semver2: nuspec.is_semver2(),
        nuspec,
        listed: true,
        published: t0(),
        last_edited: t0(),
        last_seq: 1,
        size: 1234,
        sha512: "c2hhNTEy".to_owned(),
        files: EmbeddedFiles::default(),
        symbols: Vec::new(),
    })
}

/// A record of these versions; the n-th (from 0) was pushed by event n + 1 at `t0() + n h`.
pub(crate) fn record(versions: &[Arc<VersionRecord>]) -> PackageRecord {
    let mut record = PackageRecord::default();
    for (n, v) in versions.iter().enumerate() {
        let mut v = VersionRecord::clone(v);
        v.last_seq = n as u64 + 1;
        v.published = t0() + Duration::hours(n as i64);
        v.last_edited = v.published;
        record
            .versions
            .insert(v.nuspec.version.clone(), Arc::new(v));
    }
    record
}

/// Changes one version of `record` in place.
pub(crate) fn edit(record: &mut PackageRecord, v: &str, f: impl FnOnce(&mut VersionRecord)) {
    let v = NuGetVersion::parse(v).unwrap();
    f(Arc::make_mut(record.versions.get_mut(&v).unwrap()));
}

/// Unlists one version of `record`.
pub(crate) fn unlist(record: &mut PackageRecord, v: &str) {
    edit(record, v, |v| v.listed = false);
}
