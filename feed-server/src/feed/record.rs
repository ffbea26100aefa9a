//! What the feed knows about each package: the state the views render from.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::event::{EmbeddedFiles, SymbolFile};
use crate::package::{NuGetVersion, Nuspec, PackageId};

/// One version of a package.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// The package's nuspec; `nuspec.id` keeps the casing of this push.
    pub nuspec: Nuspec,
    pub listed: bool,
    /// When it was pushed (registration `published`; nuget.org shows 1900 for unlisted).
    pub published: DateTime<Utc>,
    /// When it last changed (catalog commit time of its latest event).
    pub last_edited: DateTime<Utc>,
    /// Sequence number of the latest event about this version (its catalog leaf).
    pub last_seq: u64,
    pub size: u64,
    pub sha512: String,
    pub files: EmbeddedFiles,
    pub symbols: Vec<SymbolFile>,
    /// Cached `nuspec.is_semver2()` (N-4): hidden from SemVer1 views.
    pub semver2: bool,
}

impl VersionRecord {
    pub fn id(&self) -> &PackageId {
        &self.nuspec.id
    }

    pub fn version(&self) -> &NuGetVersion {
        &self.nuspec.version
    }

    pub fn is_prerelease(&self) -> bool {
        self.nuspec.version.is_prerelease()
    }
}

/// Every version of one package id, in ascending version order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageRecord {
    pub versions: BTreeMap<NuGetVersion, Arc<VersionRecord>>,
}

impl PackageRecord {
    /// The id as the latest version spells it (ids are case-insensitive, N-1).
    pub fn id(&self) -> Option<&PackageId> {
        self.versions.values().next_back().map(|v| v.id())
    }

    pub fn get(&self, version: &NuGetVersion) -> Option<&Arc<VersionRecord>> {
        self.versions.get(version)
    }

    /// The versions a client with these filters may see, ascending.
    pub fn visible(
        &self,
        filter: VersionFilter,
    ) -> impl DoubleEndedIterator<Item = &Arc<VersionRecord>> + '_ {
        self.versions.values().filter(move |v| filter.admits(v))
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

    pub fn admits(&self, v: &VersionRecord) -> bool {
        (self.semver2 || !v.semver2)
            && (self.prerelease || !v.is_prerelease())
            && (self.unlisted || v.listed)
    }
}
