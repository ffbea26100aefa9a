//! Which versions a V2 query returns, in which order: [`Row`]s cut from the package records
//! with the flags V2 computes per version (`IsLatestVersion`, `IsAbsoluteLatestVersion`) and
//! the download counts, then ordered by `$orderby`.
//!
//! Visibility is the feed's [`VersionFilter`], the one V3 uses: this module only adds the
//! per-version flags, which V2 defines over the listed versions a client's SemVer level
//! admits (an unlisted version is never the latest, SQ-7).

use std::cmp::Ordering;

use super::Error;
use crate::feed::record::{PackageRecord, VersionFilter, VersionRecord};
use crate::package::framework::Framework;
use crate::package::nuspec::Nuspec;
use crate::package::{NuGetVersion, VersionRange};

/// One version as a V2 entry shows it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub version: &'a VersionRecord,
    /// The latest listed stable version the SemVer level admits.
    pub latest: bool,
    /// The latest listed version, prerelease or not, the SemVer level admits.
    pub absolute_latest: bool,
    /// Downloads of every version of the id (`DownloadCount`).
    pub downloads: u64,
    /// Downloads of this version (`VersionDownloadCount`).
    pub version_downloads: u64,
}

impl<'a> Row<'a> {
    /// The versions of `record` that `filter` admits, ascending, with `counts[i]` the
    /// downloads of the record's `i`-th version (all versions, ascending; missing counts are 0).
    pub fn counted(
        record: &'a PackageRecord,
        filter: VersionFilter,
        counts: Vec<u64>,
    ) -> impl DoubleEndedIterator<Item = Row<'a>> + use<'a> {
        let listed = VersionFilter {
            semver2: filter.semver2,
            prerelease: true,
            unlisted: false,
        };
        let stable = VersionFilter {
            prerelease: false,
            ..listed
        };
        let absolute = record.visible(listed).next_back().map(|v| v.version());
        let latest = record.visible(stable).next_back().map(|v| v.version());
        let total = counts.iter().fold(0u64, |sum, c| sum.saturating_add(*c));
        record
            .versions
            .values()
            .enumerate()
            .filter(move |(_, v)| filter.admits(v))
            .map(move |(i, v)| Row {
                version: v,
                latest: Some(v.version()) == latest,
                absolute_latest: Some(v.version()) == absolute,
                downloads: total,
                version_downloads: counts.get(i).copied().unwrap_or(0),
            })
    }
}

/// The newer versions `GetUpdates()` offers for one installed version: listed ones the
/// filter admits, above `current`, inside `constraint` and that `runs` says run on the
/// project's frameworks; only the highest of those unless `all`.
pub fn updates<'a>(
    rows: impl DoubleEndedIterator<Item = Row<'a>>,
    current: &NuGetVersion,
    constraint: Option<&VersionRange>,
    all: bool,
    runs: &dyn Fn(&VersionRecord) -> bool,
) -> Vec<Row<'a>> {
    let mut newer: Vec<Row<'a>> = rows
        .filter(|r| r.version.listed && r.version.version() > current)
        .filter(|r| constraint.is_none_or(|c| c.satisfies(r.version.version())))
        .filter(|r| runs(r.version))
        .collect();
    if !all {
        newer.drain(..newer.len().saturating_sub(1));
    }
    newer
}

/// Whether a version whose manifest is `nuspec` runs on one of `targets` (none: on any):
/// its frameworks are those its dependency groups name, as the manifest says what it was
/// built for; a version that names none runs anywhere (as the gallery treats a package
/// without supported frameworks).
pub fn runs_on(nuspec: &Nuspec, targets: &[Framework]) -> bool {
    let mut built_for = nuspec
        .dependency_groups
        .iter()
        .filter_map(|g| g.target_framework.as_deref())
        .map(Framework::parse)
        .peekable();
    targets.is_empty()
        || built_for.peek().is_none()
        || built_for.any(|f| targets.iter().any(|t| f.runs_on(t)))
}

/// What `$orderby` can sort by: the values every row has in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Version,
    Published,
    LastUpdated,
    DownloadCount,
    VersionDownloadCount,
}

const KEYS: [(&str, Key); 8] = [
    ("Id", Key::Id),
    ("Version", Key::Version),
    ("NormalizedVersion", Key::Version),
    ("Published", Key::Published),
    ("Created", Key::Published),
    ("LastUpdated", Key::LastUpdated),
    ("DownloadCount", Key::DownloadCount),
    ("VersionDownloadCount", Key::VersionDownloadCount),
];

/// A parsed `$orderby`: keys with their direction, most significant first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderBy(Vec<(Key, bool)>);

impl OrderBy {
    /// Parses `Key [asc|desc], ...`.
    pub fn parse(text: &str) -> Result<OrderBy, Error> {
        let mut keys = Vec::new();
        for part in text.split(',') {
            let mut words = part.split_whitespace();
            let Some(name) = words.next() else {
                return Err(Error::new(format!(
                    "`$orderby={text}` has an empty key: write `Id` or `DownloadCount desc, Id`"
                )));
            };
            let Some(&(_, key)) = KEYS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
                let known: Vec<&str> = KEYS.iter().map(|(n, _)| *n).collect();
                return Err(Error::new(format!(
                    "`$orderby` cannot sort by `{name}`: use one of {}",
                    known.join(", ")
                )));
            };
            let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(Error::new(format!(
                        "`$orderby` direction `{other}` is invalid: use asc or desc"
                    )));
                }
            };
            if let Some(extra) = words.next() {
                return Err(Error::new(format!(
                    "`$orderby` has `{extra}` after `{name}`: separate keys with commas"
                )));
            }
            keys.push((key, desc));
        }
        Ok(OrderBy(keys))
    }

    /// Sorts `rows` by the keys; stable, so rows equal on every key keep their order.
    pub fn sort(&self, rows: &mut [Row<'_>]) {
        if self.0.is_empty() {
            return;
        }
        rows.sort_by(|a, b| {
            self.0
                .iter()
                .map(|&(key, desc)| {
                    let o = compare(key, a, b);
                    if desc { o.reverse() } else { o }
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }
}

fn compare(key: Key, a: &Row<'_>, b: &Row<'_>) -> Ordering {
    let (va, vb) = (a.version, b.version);
    match key {
        Key::Id => va.id().lower().cmp(&vb.id().lower()),
        Key::Version => va.version().cmp(vb.version()),
        Key::Published => va.published.cmp(&vb.published),
        Key::LastUpdated => va.last_edited.cmp(&vb.last_edited),
        Key::DownloadCount => a.downloads.cmp(&b.downloads),
        Key::VersionDownloadCount => a.version_downloads.cmp(&b.version_downloads),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{record, unlist, version};

    fn versions(rows: &[Row<'_>]) -> Vec<String> {
        rows.iter()
            .map(|r| format!("{} {}", r.version.id(), r.version.version().to_normalized()))
            .collect()
    }

    #[test]
    fn latest_flags_skip_unlisted_and_follow_the_semver_level() {
        let mut r = record(&[
            version("A", "1.0.0"),
            version("A", "1.1.0"),
            version("A", "2.0.0-beta"),
            version("A", "3.0.0-rc.1"),
        ]);
        unlist(&mut r, "1.1.0");
        let flags = |filter| {
            Row::counted(&r.record, filter, Vec::new())
                .map(|row| (row.latest, row.absolute_latest))
                .collect::<Vec<_>>()
        };
        // SemVer1: 3.0.0-rc.1 (SemVer2) is not there, 2.0.0-beta is the absolute latest.
        let semver1 = VersionFilter {
            semver2: false,
            ..VersionFilter::ALL
        };
        assert_eq!(
            flags(semver1),
            [(true, false), (false, false), (false, true)]
        );
        assert_eq!(
            flags(VersionFilter::ALL),
            [(true, false), (false, false), (false, false), (false, true)]
        );
    }

    #[test]
    fn get_updates_offers_newer_listed_versions_inside_the_constraint() {
        let mut r = record(&[
            version("A", "1.0.0"),
            version("A", "1.5.0"),
            version("A", "1.6.0"),
            version("A", "2.0.0"),
        ]);
        unlist(&mut r, "1.6.0");
        let v = |s: &str| NuGetVersion::parse(s).unwrap();
        let range = VersionRange::parse("[1.0.0, 2.0.0)").unwrap();
        let all = updates(
            Row::counted(&r.record, VersionFilter::ALL, Vec::new()),
            &v("1.0.0"),
            None,
            true,
            &|_| true,
        );
        assert_eq!(versions(&all), ["A 1.5.0", "A 2.0.0"]);
        // The highest version that runs on the project, not the highest one.
        let runnable = updates(
            Row::counted(&r.record, VersionFilter::ALL, Vec::new()),
            &v("1.0.0"),
            None,
            false,
            &|r| r.version() != &v("2.0.0"),
        );
        assert_eq!(versions(&runnable), ["A 1.5.0"]);
        let constrained = updates(
            Row::counted(&r.record, VersionFilter::ALL, Vec::new()),
            &v("1.0.0"),
            Some(&range),
            false,
            &|_| true,
        );
        assert_eq!(versions(&constrained), ["A 1.5.0"]);
        assert!(
            updates(
                Row::counted(&r.record, VersionFilter::ALL, Vec::new()),
                &v("2.0.0"),
                None,
                false,
                &|_| true,
            )
            .is_empty()
        );
    }

    #[test]
    fn orderby_sorts_by_each_key_in_turn() {
        let a = record(&[version("B", "1.0.0"), version("B", "2.0.0")]);
        let b = record(&[version("a", "1.0.0")]);
        let mut rows: Vec<Row<'_>> = Row::counted(&a.record, VersionFilter::ALL, vec![5, 1])
            .chain(Row::counted(&b.record, VersionFilter::ALL, vec![3]))
            .collect();
        OrderBy::parse("Id").unwrap().sort(&mut rows);
        assert_eq!(versions(&rows), ["a 1.0.0", "B 1.0.0", "B 2.0.0"]);
        OrderBy::parse("VersionDownloadCount desc, Id")
            .unwrap()
            .sort(&mut rows);
        assert_eq!(versions(&rows), ["B 1.0.0", "a 1.0.0", "B 2.0.0"]);
        OrderBy::parse("downloadcount DESC,Version desc")
            .unwrap()
            .sort(&mut rows);
        assert_eq!(versions(&rows), ["B 2.0.0", "B 1.0.0", "a 1.0.0"]);
    }

    #[test]
    fn bad_orderby_is_refused_with_a_message() {
        for (bad, says) in [
            ("Title", "cannot sort by `Title`"),
            ("Id sideways", "direction `sideways`"),
            ("Id desc Version", "separate keys with commas"),
            ("Id,", "empty key"),
        ] {
            let err = OrderBy::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
