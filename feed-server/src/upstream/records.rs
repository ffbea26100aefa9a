//! An upstream id as the feed's own records: the catalog entries of its registration (every
//! page) become a [`PackageRecord`] and push facts ([`Details`]), so the V2 (OData) views render
//! an upstream id with the code that renders a local one (issue 13, "V2 where served").
//!
//! Registration carries what V2 shows but for a few values: release notes and copyright are
//! left empty, the size and hash are the upstream's `packageSize` / `packageHash` where it sends
//! them (nuget.org's registration does not: then 0 and empty), and a version without `listed`
//! is unlisted exactly when its `published` year is 1900 (nuget.org's mark, REG-8). The push
//! sequence numbers are local to the result (1, 2, ...): they only join a record to its facts.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use crate::feed::event::{Details, EmbeddedFiles, Pushed};
use crate::feed::record::{PackageRecord, VersionRecord, Versions};
use crate::package::nuspec::{Dependency, DependencyGroup, License, LicenseKind, Nuspec};
use crate::package::{NuGetVersion, PackageId, VersionRange};

/// An upstream id's versions, as records and push facts.
#[derive(Debug, Clone)]
pub struct Records {
    pub record: Arc<PackageRecord>,
    pub details: Details,
}

/// Builds the records of `id` from its registration's catalog entries (`catalogEntry` of every
/// leaf, any order). `Err` names the entry the upstream got wrong.
pub fn from_catalog_entries(id: &PackageId, entries: &[Value]) -> Result<Records, String> {
    let mut versions = Versions::default();
    let mut details = Details::new();
    for (seq, entry) in (1u64..).zip(entries) {
        let (pushed, published, listed) = pushed(entry).map_err(|e| {
            format!(
                "its registration of `{}` has an entry that {e}",
                id.as_str()
            )
        })?;
        let mut record = VersionRecord::pushed(
            Arc::new(pushed.nuspec.id.clone()),
            Arc::new(pushed.nuspec.version.clone()),
            &pushed,
            seq,
            published,
        );
        record.listed = listed;
        versions.insert(record);
        details.insert(seq, Arc::new(pushed));
    }
    Ok(Records {
        record: Arc::new(PackageRecord {
            versions,
            last_seq: 0,
        }),
        details,
    })
}

/// One catalog entry's push facts, `published` and listed state.
fn pushed(entry: &Value) -> Result<(Pushed, DateTime<Utc>, bool), String> {
    let text = |field: &str| {
        entry
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id = text("id").ok_or("has no `id`")?;
    let id = PackageId::parse(&id).map_err(|e| format!("has id `{id}`: {e}"))?;
    let version_text = text("version").ok_or("has no `version`")?;
    let version = NuGetVersion::parse(&version_text)
        .map_err(|e| format!("has version `{version_text}`: {e}"))?;
    let published = text("published")
        .and_then(|p| DateTime::parse_from_rfc3339(&p).ok())
        .map_or(DateTime::UNIX_EPOCH, |p| p.with_timezone(&Utc));
    let listed = entry
        .get("listed")
        .and_then(Value::as_bool)
        .unwrap_or(published.year() != 1900);
    let license = text("licenseExpression").map(|value| License {
        kind: LicenseKind::Expression,
        value,
        version: None,
    });
    let nuspec = Nuspec {
        id,
        version,
        version_text,
        title: text("title"),
        authors: words(entry.get("authors"), ','),
        description: text("description"),
        summary: text("summary"),
        release_notes: None,
        tags: words(entry.get("tags"), ' '),
        project_url: text("projectUrl"),
        icon_url: text("iconUrl"),
        icon: None,
        readme: None,
        license,
        license_url: text("licenseUrl"),
        require_license_acceptance: entry
            .get("requireLicenseAcceptance")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        language: text("language"),
        min_client_version: text("minClientVersion"),
        copyright: None,
        development_dependency: false,
        dependency_groups: dependency_groups(entry.get("dependencyGroups"))?,
        package_types: Vec::new(),
        repository: None,
    };
    let pushed = Pushed {
        nuspec,
        size: entry
            .get("packageSize")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        sha512: text("packageHash").unwrap_or_default(),
        files: EmbeddedFiles::default(),
    };
    Ok((pushed, published, listed))
}

/// A list the upstream sends as an array or as one string split on `separator`.
fn words(value: Option<&Value>, separator: char) -> Vec<String> {
    let split = |s: &str| -> Vec<String> {
        s.split(separator)
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match value {
        Some(Value::String(s)) => split(s),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(split)
            .collect(),
        _ => Vec::new(),
    }
}

/// REG-9: `dependencyGroups[]` with `targetFramework` and `dependencies[] {id, range}`; a
/// missing range accepts every version.
fn dependency_groups(value: Option<&Value>) -> Result<Vec<DependencyGroup>, String> {
    let Some(groups) = value.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    groups
        .iter()
        .map(|group| {
            let dependencies = group
                .get("dependencies")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    let id = d.get("id").and_then(Value::as_str).unwrap_or_default();
                    let id = PackageId::parse(id)
                        .map_err(|e| format!("has a dependency `{id}`: {e}"))?;
                    let range = match d.get("range").and_then(Value::as_str) {
                        Some(r) if !r.trim().is_empty() => VersionRange::parse(r)
                            .map_err(|e| format!("has a dependency range `{r}`: {e}"))?,
                        _ => VersionRange::all(),
                    };
                    Ok(Dependency { id, range })
                })
                .collect::<Result<_, String>>()?;
            Ok(DependencyGroup {
                target_framework: group
                    .get("targetFramework")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
                dependencies,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::odata::atom;

    #[test]
    fn nuget_orgs_catalog_entries_become_records_with_their_dates_listing_and_dependencies() {
        let id = PackageId::parse("Fabrikam.App").unwrap();
        let entries = [
            json!({
                "id": "Fabrikam.App", "version": "1.0.0", "authors": "Ann, Bob",
                "description": "d", "tags": ["a", "b"], "published": "2024-01-02T03:04:05+00:00",
                "listed": true, "licenseExpression": "MIT",
                "dependencyGroups": [
                    {"targetFramework": ".NETStandard2.0", "dependencies": [
                        {"id": "Fabrikam.Core", "range": "[1.0.65, )"},
                        {"id": "Fabrikam.Json"}
                    ]},
                    {"targetFramework": "net8.0"}
                ]
            }),
            // No `listed`: 1900 means unlisted (REG-8).
            json!({"id": "Fabrikam.App", "version": "0.9.0", "published": "1900-01-01T00:00:00+00:00",
                   "packageHash": "abc=", "packageSize": 12}),
        ];
        let r = from_catalog_entries(&id, &entries).unwrap();
        let versions: Vec<_> = r.record.versions.values().collect();
        assert_eq!(versions.len(), 2);
        let (old, new) = (versions[0], versions[1]);
        assert_eq!(old.version().to_normalized(), "0.9.0");
        assert!(!old.listed);
        assert!(new.listed);
        assert_eq!(new.published.to_rfc3339(), "2024-01-02T03:04:05+00:00");
        let pushed = &r.details[&new.push_seq];
        assert_eq!(pushed.nuspec.authors, ["Ann", "Bob"]);
        assert_eq!(pushed.nuspec.tags, ["a", "b"]);
        assert_eq!(
            atom::dependencies(&pushed.nuspec),
            "Fabrikam.Core:[1.0.65, ):.NETStandard2.0|Fabrikam.Json::.NETStandard2.0|::net8.0"
        );
        assert_eq!(r.details[&old.push_seq].sha512, "abc=");
        assert_eq!(r.details[&old.push_seq].size, 12);
    }

    #[test]
    fn a_malformed_entry_is_named() {
        let id = PackageId::parse("A").unwrap();
        let err = from_catalog_entries(&id, &[json!({"id": "A", "version": "not a version"})])
            .unwrap_err();
        assert!(err.contains("`not a version`"), "{err}");
        let err = from_catalog_entries(
            &id,
            &[json!({"id": "A", "version": "1.0.0", "dependencyGroups": [{"dependencies": [{"id": "B", "range": "[x"}]}]})],
        )
        .unwrap_err();
        assert!(err.contains("`[x`"), "{err}");
    }
}
