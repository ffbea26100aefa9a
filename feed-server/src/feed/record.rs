//! What the feed keeps in memory for each package: small enough for a million versions.
//!
//! A [`VersionRecord`] holds what decides visibility and what every view needs without the
//! package's metadata (version, listed, SemVer2, times, sequence numbers, embedded-file flags,
//! symbols, deprecation): about 100 bytes, with the id and version shared by reference counting
//! and the rare deprecation behind a pointer. The full metadata of a version (its nuspec:
//! descriptions, dependency groups, release notes, ...) is not kept: it is in the version's
//! push event in storage, and views that need it load it on demand ([`super::details`]). The
//! exception is the [`Listing`] (the fields search matches and shows) of the versions search
//! can show, the latest listed version for each search filter, so search never waits for
//! storage. The feed state ([`super::state`]) keeps that invariant.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deprecation::Deprecation;
use super::event::{EmbeddedFiles, Pushed, SymbolFile};
use crate::package::{License, NuGetVersion, Nuspec, PackageId, PackageType};

/// One version of a package.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// The id as this version was pushed (ids are case-insensitive, N-1); shared by the
    /// versions pushed with the same casing.
    id: Arc<PackageId>,
    /// Shared with the catalog's summary of the version's events.
    version: Arc<NuGetVersion>,
    pub listed: bool,
    /// SemVer2-only (N-4, from the version and the dependency ranges): hidden from SemVer1 views.
    pub semver2: bool,
    pub files: EmbeddedFiles,
    /// The embedded icon is a JPEG (the nuspec's `<icon>` ends in `.jpg`/`.jpeg`), else a PNG.
    pub icon_jpeg: bool,
    /// When it was pushed (registration `published`; nuget.org shows 1900 for unlisted).
    pub published: DateTime<Utc>,
    /// When it last changed (catalog commit time of its latest event).
    pub last_edited: DateTime<Utc>,
    /// Sequence number of the event that pushed it: where its full metadata is.
    pub push_seq: u64,
    /// Sequence number of the latest event about this version (its catalog leaf).
    pub last_seq: u64,
    /// Portable PDBs stored for it (SYM-4); usually none.
    pub symbols: Box<[SymbolFile]>,
    /// Its deprecation (REG-10); most versions never have one, so it costs a pointer.
    pub deprecation: Option<Arc<Deprecation>>,
    /// What search matches and shows, kept only while search can show this version (see the
    /// module docs); `None` otherwise.
    pub listing: Option<Arc<Listing>>,
}

impl VersionRecord {
    /// The record of a version just pushed by event `seq` at `time`. `id` and `version` are
    /// passed in so that they can be shared with other records and the catalog.
    pub fn pushed(
        id: Arc<PackageId>,
        version: Arc<NuGetVersion>,
        pushed: &Pushed,
        seq: u64,
        time: DateTime<Utc>,
    ) -> VersionRecord {
        let icon = pushed.nuspec.icon.as_deref().unwrap_or("");
        let icon = icon.to_ascii_lowercase();
        VersionRecord {
            id,
            version,
            listed: true,
            semver2: pushed.nuspec.is_semver2(),
            files: pushed.files,
            icon_jpeg: icon.ends_with(".jpg") || icon.ends_with(".jpeg"),
            published: time,
            last_edited: time,
            push_seq: seq,
            last_seq: seq,
            symbols: Box::default(),
            deprecation: None,
            listing: None,
        }
    }

    /// A listed record with no flags, times at the epoch and no sequence numbers, for callers
    /// that set every field themselves (a snapshot).
    pub(super) fn bare(id: Arc<PackageId>, version: Arc<NuGetVersion>) -> VersionRecord {
        VersionRecord {
            id,
            version,
            listed: true,
            semver2: false,
            files: EmbeddedFiles::default(),
            icon_jpeg: false,
            published: DateTime::UNIX_EPOCH,
            last_edited: DateTime::UNIX_EPOCH,
            push_seq: 0,
            last_seq: 0,
            symbols: Box::default(),
            deprecation: None,
            listing: None,
        }
    }

    pub fn id(&self) -> &PackageId {
        &self.id
    }

    /// The shared id, for records and summaries that spell it the same way.
    pub fn id_arc(&self) -> &Arc<PackageId> {
        &self.id
    }

    pub fn version(&self) -> &NuGetVersion {
        &self.version
    }

    /// The shared version, for the catalog's summaries.
    pub fn version_arc(&self) -> &Arc<NuGetVersion> {
        &self.version
    }

    pub fn is_prerelease(&self) -> bool {
        self.version.is_prerelease()
    }
}

/// The metadata search matches and shows for a package, from its latest version (SQ-9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_url: Option<String>,
    /// The nuspec's deprecated `<iconUrl>` (an embedded icon wins over it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package_types: Vec<PackageType>,
}

impl Listing {
    pub fn from_nuspec(n: &Nuspec) -> Listing {
        Listing {
            title: n.title.clone(),
            description: n.description.clone(),
            summary: n.summary.clone(),
            tags: n.tags.clone(),
            authors: n.authors.clone(),
            project_url: n.project_url.clone(),
            icon_url: n.icon_url.clone(),
            license: n.license.clone(),
            license_url: n.license_url.clone(),
            package_types: n.package_types.clone(),
        }
    }
}

/// The versions of one package id, ascending, in one sorted vector: a tenth of the memory of
/// a map, and ids rarely have more than a few hundred versions to shift on insert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versions(Vec<VersionRecord>);

impl Versions {
    fn position(&self, version: &NuGetVersion) -> Result<usize, usize> {
        self.0.binary_search_by(|r| r.version().cmp(version))
    }

    pub fn get(&self, version: &NuGetVersion) -> Option<&VersionRecord> {
        self.position(version).ok().map(|i| &self.0[i])
    }

    pub fn get_mut(&mut self, version: &NuGetVersion) -> Option<&mut VersionRecord> {
        self.position(version).ok().map(|i| &mut self.0[i])
    }

    pub fn contains_key(&self, version: &NuGetVersion) -> bool {
        self.position(version).is_ok()
    }

    /// Adds a version in order; `false` (and no change) when it is there already.
    pub fn insert(&mut self, record: VersionRecord) -> bool {
        match self.position(record.version()) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, record);
                true
            }
        }
    }

    pub fn remove(&mut self, version: &NuGetVersion) -> Option<VersionRecord> {
        self.position(version).ok().map(|i| self.0.remove(i))
    }

    /// Every version, ascending.
    pub fn values(&self) -> std::slice::Iter<'_, VersionRecord> {
        self.0.iter()
    }

    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, VersionRecord> {
        self.0.iter_mut()
    }

    pub fn as_slice(&self) -> &[VersionRecord] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Builds from records already in ascending order (a snapshot); `None` if they are not.
    pub fn from_sorted(records: Vec<VersionRecord>) -> Option<Versions> {
        let sorted = records.windows(2).all(|w| w[0].version() < w[1].version());
        sorted.then_some(Versions(records))
    }
}

/// Every version of one package id, in ascending version order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageRecord {
    pub versions: Versions,
    /// Sequence number of the latest event that changed this id: documents rendered from this
    /// record are current exactly as long as it stays the same.
    pub last_seq: u64,
}

impl PackageRecord {
    /// The id as the latest version spells it (ids are case-insensitive, N-1).
    pub fn id(&self) -> Option<&PackageId> {
        self.versions.values().next_back().map(|v| v.id())
    }

    pub fn get(&self, version: &NuGetVersion) -> Option<&VersionRecord> {
        self.versions.get(version)
    }

    /// The versions a client with these filters may see, ascending.
    pub fn visible(
        &self,
        filter: VersionFilter,
    ) -> impl DoubleEndedIterator<Item = &VersionRecord> + '_ {
        self.versions.values().filter(move |v| filter.admits(v))
    }

    /// For each search filter (indexed by [`search_slot`]), the position in `versions` of the
    /// latest listed version it admits: the versions whose [`Listing`] search needs.
    pub fn search_latest(&self) -> [Option<usize>; 4] {
        let mut latest = [None; 4];
        let mut found = 0;
        for (i, v) in self.versions.as_slice().iter().enumerate().rev() {
            for (slot, filter) in SEARCH_FILTERS.iter().enumerate() {
                if latest[slot].is_none() && filter.admits(v) {
                    latest[slot] = Some(i);
                    found += 1;
                }
            }
            if found == SEARCH_FILTERS.len() {
                break;
            }
        }
        latest
    }
}

/// Which versions a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionFilter {
    /// Include versions that are SemVer2-only (N-4, REG-1, SQ-4).
    pub semver2: bool,
    /// Include prerelease versions (SQ-4).
    pub prerelease: bool,
    /// Include unlisted versions (registration and flat container do; search never, SQ-7).
    pub unlisted: bool,
}

impl VersionFilter {
    /// Everything (flat container, the SemVer2 registration hive).
    pub const ALL: VersionFilter = VersionFilter {
        semver2: true,
        prerelease: true,
        unlisted: true,
    };

    /// What search and autocomplete may show for a `prerelease` and `semVerLevel` (SQ-4, SQ-7).
    pub const fn search(prerelease: bool, semver2: bool) -> VersionFilter {
        VersionFilter {
            semver2,
            prerelease,
            unlisted: false,
        }
    }

    pub fn admits(&self, v: &VersionRecord) -> bool {
        (self.semver2 || !v.semver2)
            && (self.prerelease || !v.is_prerelease())
            && (self.unlisted || v.listed)
    }
}

/// The four search filters (`prerelease` x `semVerLevel`), in [`search_slot`] order.
pub const SEARCH_FILTERS: [VersionFilter; 4] = [
    VersionFilter::search(false, false),
    VersionFilter::search(false, true),
    VersionFilter::search(true, false),
    VersionFilter::search(true, true),
];

/// The index of a search filter in [`SEARCH_FILTERS`].
pub fn search_slot(prerelease: bool, semver2: bool) -> usize {
    usize::from(prerelease) * 2 + usize::from(semver2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_records_stay_small() {
        // A million versions must fit in well under 1 GiB with everything else (issue 6).
        assert!(
            std::mem::size_of::<VersionRecord>() <= 104,
            "{}",
            std::mem::size_of::<VersionRecord>()
        );
    }

    #[test]
    fn search_slots_match_their_filters() {
        for prerelease in [false, true] {
            for semver2 in [false, true] {
                assert_eq!(
                    SEARCH_FILTERS[search_slot(prerelease, semver2)],
                    VersionFilter::search(prerelease, semver2)
                );
            }
        }
    }
}
