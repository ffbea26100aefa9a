//! Search and autocomplete responses (SQ-8, SQ-9, AC-1, AC-2), rendered from the hits of
//! [`crate::feed::search::SearchIndex`] and the package records.
//!
//! Matching, ranking and `totalHits` are the index's; this module only turns each hit into a
//! result from its record: metadata of the latest listed version the filters admit, and the
//! list of those versions.

use std::sync::Arc;

use serde_json::{Value, json};

use super::json_writer::JsonWriter;
use super::metadata;
use super::urls::{FeedUrls, Hive};
use super::vulnerabilities::Vulnerability;
use crate::feed::record::{PackageRecord, VersionFilter, VersionRecord};
use crate::feed::search::{SearchHits, SearchQuery, package_type_names};
use crate::package::{NuGetVersion, PackageId};

/// The versions a search or autocomplete request may see: never unlisted ones (SQ-7).
fn filter(prerelease: bool, semver2: bool) -> VersionFilter {
    VersionFilter::search(prerelease, semver2)
}

/// The search response (SQ-8, SQ-9), as JSON text. `records[i]` is the record of
/// `hits.ids[i]`; a hit whose record no longer has an admitted version with a known listing
/// (it changed since the search) is left out.
///
/// Search is not cached, so results are written straight from the records with a
/// `JsonWriter`: members in name order, as a `serde_json::Value` would have them.
///
/// `owners` lists the accounts allowed to push an id (SQ-10: never the nuspec's `<owners>`;
/// omitted when empty). `downloads` counts the downloads of each of an id's versions, one
/// count per version given.
/// `vulnerabilities` gives a version's advisories (SQ-9: severity as an integer here).
pub fn render_search(
    hits: &SearchHits,
    records: &[Arc<PackageRecord>],
    query: &SearchQuery,
    urls: &FeedUrls,
    owners: &dyn Fn(&PackageId) -> Vec<String>,
    downloads: &dyn Fn(&str, &[&NuGetVersion]) -> Vec<u64>,
    vulnerabilities: &dyn Fn(&PackageId, &NuGetVersion) -> Vec<Vulnerability>,
) -> Vec<u8> {
    // Registration links must point at a hive that shows the versions listed (REG-1).
    let hive = Hive::for_listing(query.semver2);
    let filter = filter(query.prerelease, query.semver2);
    // A page of 20 results with their versions is 10-30 KB: sized so that it rarely grows.
    let mut w = JsonWriter::with_capacity(32 * 1024);
    let mut scratch = String::new();
    w.begin_object();
    w.key("data");
    w.begin_array();
    for (lower_id, record) in hits.ids.iter().zip(records) {
        let versions: Vec<&VersionRecord> = record.visible(filter).collect();
        let Some(latest) = versions.last() else {
            continue;
        };
        let Some(n) = latest.listing.as_deref() else {
            continue;
        };
        let (id, version, files) = (latest.id(), latest.version(), latest.files);
        let license = n.license.as_ref();
        let registration = urls.registration_index(hive, id);
        w.begin_object();
        w.key("@id");
        w.string(&registration);
        w.key("@type");
        w.string("Package");
        w.key("authors");
        w.strings(&n.authors);
        // Of the version shown (SQ-9: metadata comes from the latest version).
        if let Some(d) = latest.deprecation.as_deref() {
            w.key("deprecation");
            w.value(&metadata::deprecation(d, None));
        }
        optional(&mut w, "description", n.description.as_deref());
        let icon = metadata::icon_url(urls, id, version, n.icon_url.as_deref(), files);
        optional(&mut w, "iconUrl", icon.as_deref());
        w.key("id");
        w.string(id.as_str());
        optional(
            &mut w,
            "licenseExpression",
            metadata::license_expression(license),
        );
        let license_url =
            metadata::license_url(urls, id, version, license, n.license_url.as_deref(), files);
        optional(&mut w, "licenseUrl", license_url.as_deref());
        let owners = owners(id);
        if !owners.is_empty() {
            w.key("owners");
            w.strings(&owners);
        }
        w.key("packageTypes");
        w.begin_array();
        for name in package_type_names(n) {
            w.begin_object();
            w.key("name");
            w.string(name);
            w.end_object();
        }
        w.end_array();
        optional(&mut w, "projectUrl", n.project_url.as_deref());
        let readme = metadata::readme_url(urls, id, version, files);
        optional(&mut w, "readmeUrl", readme.as_deref());
        w.key("registration");
        w.string(&registration);
        optional(&mut w, "summary", n.summary.as_deref());
        w.key("tags");
        w.strings(&n.tags);
        optional(&mut w, "title", n.title.as_deref());
        let counts = downloads(
            lower_id,
            &versions.iter().map(|v| v.version()).collect::<Vec<_>>(),
        );
        w.key("totalDownloads");
        w.number(counts.iter().fold(0, |sum: u64, &c| sum.saturating_add(c)));
        // SQ-10: verified means an id-prefix reservation, which this feed does not have.
        w.key("verified");
        w.bool(false);
        w.key("version");
        full_version(&mut w, &mut scratch, version);
        // Every admitted version, with its registration leaf in the hive's folder of the id.
        let leaf_base = urls.registration_leaf_base(hive, id);
        w.key("versions");
        w.begin_array();
        for (v, count) in versions.iter().zip(&counts) {
            w.begin_object();
            w.key("@id");
            scratch.clear();
            scratch.push_str(&leaf_base);
            let _ = v.version().write_normalized(&mut scratch, true);
            scratch.push_str(".json");
            w.string(&scratch);
            w.key("downloads");
            w.number(*count);
            w.key("version");
            full_version(&mut w, &mut scratch, v.version());
            w.end_object();
        }
        w.end_array();
        w.key("vulnerabilities");
        w.begin_array();
        for v in vulnerabilities(id, version) {
            w.begin_object();
            w.key("advisoryUrl");
            w.string(&v.advisory_url);
            w.key("severity");
            w.number(u64::from(v.severity));
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.key("totalHits");
    w.number(hits.total as u64);
    w.end_object();
    w.into_bytes()
}

/// A member that is left out when it has no value.
fn optional(w: &mut JsonWriter, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        w.key(name);
        w.string(value);
    }
}

/// The full version string, with build metadata (N-6), written through `scratch`.
fn full_version(w: &mut JsonWriter, scratch: &mut String, version: &NuGetVersion) {
    scratch.clear();
    let _ = version.write_normalized(scratch, false);
    if let Some(m) = version.metadata() {
        scratch.push('+');
        scratch.push_str(m);
    }
    w.string(scratch);
}

/// The autocomplete response in id mode (AC-1): `{totalHits, data: [ids]}`, each id as its
/// latest version spells it. `records[i]` is the record of `hits.ids[i]`.
pub fn render_autocomplete_ids(hits: &SearchHits, records: &[Arc<PackageRecord>]) -> Value {
    let data: Vec<&str> = hits
        .ids
        .iter()
        .zip(records)
        .map(|(lower_id, record)| record.id().map_or(lower_id.as_str(), |id| id.as_str()))
        .collect();
    json!({ "totalHits": hits.total, "data": data })
}

/// The autocomplete response in version mode (AC-2): `{data: [versions]}` without
/// `totalHits`, listed versions only, ascending; with `semver2` (`semVerLevel=2.0.0`) full
/// strings including build metadata. An unknown id gives an empty list.
pub fn render_autocomplete_versions(
    record: Option<&PackageRecord>,
    prerelease: bool,
    semver2: bool,
) -> Value {
    let filter = filter(prerelease, semver2);
    let data: Vec<String> = record
        .into_iter()
        .flat_map(|r| r.visible(filter))
        .map(|v| {
            if semver2 {
                v.version().to_full()
            } else {
                v.version().to_normalized()
            }
        })
        .collect();
    json!({ "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{deprecate, edit, record, unlist, version, version_with};
    use crate::feed::event::EmbeddedFiles;
    use crate::feed::search::SearchIndex;

    const BASE: &str = "http://localhost:5000/team-a/main";

    /// Contoso.Lib: 1.0.0, 1.1.0 (unlisted), 1.2.0-beta, 2.0.0-rc.1+sha.abc (SemVer2).
    fn lib() -> Arc<PackageRecord> {
        let mut r = record(&[
            version_with(
                "Contoso.Lib",
                "1.0.0",
                r#"<title>Contoso Library</title><summary>Parses things.</summary>
                   <tags>json parser</tags><authors>Ann, Bob</authors>
                   <projectUrl>https://example.com/contoso</projectUrl>
                   <license type="expression">MIT</license>"#,
            ),
            version("Contoso.Lib", "1.1.0"),
            version("Contoso.Lib", "1.2.0-beta"),
            version_with(
                "CONTOSO.LIB",
                "2.0.0-rc.1+sha.abc",
                r#"<title>Contoso Library 2</title><icon>icon.png</icon>
                   <packageTypes><packageType name="DotnetTool"/></packageTypes>"#,
            ),
        ]);
        unlist(&mut r, "1.1.0");
        edit(&mut r, "2.0.0-rc.1", |v| {
            v.files = EmbeddedFiles {
                icon: true,
                readme: false,
                license: false,
            }
        });
        Arc::new(r.record)
    }

    fn render(query: &SearchQuery) -> Value {
        render_record(query, lib())
    }

    fn render_record(query: &SearchQuery, lib: Arc<PackageRecord>) -> Value {
        let mut index = SearchIndex::default();
        index.update(&lib.id().unwrap().lower(), Some(&lib));
        let hits = index.search(query);
        let records: Vec<_> = hits.ids.iter().map(|_| lib.clone()).collect();
        let owners = |_: &PackageId| vec!["team-a".to_owned()];
        let downloads = |_: &str, versions: &[&NuGetVersion]| {
            versions
                .iter()
                .map(|v| u64::from(v.minor()) * 10 + 1)
                .collect()
        };
        let vulns = |_: &PackageId, v: &NuGetVersion| {
            if v.major() == 1 {
                vec![Vulnerability {
                    advisory_url: "https://example.com/a/1".into(),
                    severity: 3,
                }]
            } else {
                Vec::new()
            }
        };
        serde_json::from_slice(&render_search(
            &hits,
            &records,
            query,
            &FeedUrls::new(BASE),
            &owners,
            &downloads,
            &vulns,
        ))
        .unwrap()
    }

    fn versions(result: &Value) -> Vec<&str> {
        result["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn default_query_shows_latest_stable_semver1_version() {
        // SQ-4, SQ-7: no prereleases, no SemVer2, no unlisted.
        let response = render(&SearchQuery::default());
        assert_eq!(response["totalHits"], 1);
        let result = &response["data"][0];
        assert_eq!(result["version"], "1.0.0");
        assert_eq!(versions(result), ["1.0.0"]);
        assert_eq!(
            result["registration"],
            format!("{BASE}/registration/contoso.lib/index.json")
        );
        // SQ-9: severity is an integer in search.
        assert_eq!(
            result["vulnerabilities"],
            json!([{"advisoryUrl": "https://example.com/a/1", "severity": 3}])
        );
        assert_eq!(result["packageTypes"], json!([{"name": "Dependency"}]));
        assert_eq!(result["licenseUrl"], "https://licenses.nuget.org/MIT");
    }

    #[test]
    fn semver2_query_links_the_semver2_hive_and_shows_metadata() {
        // N-6, REG-1
        let response = render(&SearchQuery {
            prerelease: true,
            semver2: true,
            ..SearchQuery::default()
        });
        let result = &response["data"][0];
        assert_eq!(result["id"], "CONTOSO.LIB", "casing of the latest version");
        assert_eq!(result["version"], "2.0.0-rc.1+sha.abc");
        assert_eq!(
            versions(result),
            ["1.0.0", "1.2.0-beta", "2.0.0-rc.1+sha.abc"]
        );
        assert_eq!(
            result["versions"][2]["@id"],
            format!("{BASE}/registration-gz-semver2/contoso.lib/2.0.0-rc.1.json")
        );
        assert_eq!(result["totalDownloads"], 1 + 21 + 1);
        assert_eq!(result["vulnerabilities"], json!([]));
        assert_eq!(
            result["iconUrl"],
            format!("{BASE}/flatcontainer/contoso.lib/2.0.0-rc.1/icon")
        );
    }

    #[test]
    fn deprecation_is_the_shown_version_s() {
        // SQ-9: metadata comes from the latest version the filters admit.
        let mut r = record(&[version("A", "1.0.0"), version("A", "2.0.0-beta")]);
        deprecate(
            &mut r,
            "1.0.0",
            r#"{"reasons": ["Legacy"], "message": "Old."}"#,
        );
        let r = Arc::new(r.record);
        let stable = render_record(&SearchQuery::default(), r.clone());
        assert_eq!(
            stable["data"][0]["deprecation"],
            json!({"message": "Old.", "reasons": ["Legacy"]})
        );
        let prerelease = SearchQuery {
            prerelease: true,
            ..SearchQuery::default()
        };
        let shown = render_record(&prerelease, r);
        assert_eq!(shown["data"][0]["version"], "2.0.0-beta");
        assert!(shown["data"][0].get("deprecation").is_none());
    }

    #[test]
    fn autocomplete_versions_lists_listed_versions_only() {
        // AC-2: no totalHits; metadata only with semVerLevel=2.0.0.
        let lib = lib();
        assert_eq!(
            render_autocomplete_versions(Some(&lib), false, false),
            json!({"data": ["1.0.0"]})
        );
        assert_eq!(
            render_autocomplete_versions(Some(&lib), true, true),
            json!({"data": ["1.0.0", "1.2.0-beta", "2.0.0-rc.1+sha.abc"]})
        );
        assert_eq!(
            render_autocomplete_versions(None, true, true),
            json!({"data": []})
        );
    }

    #[test]
    fn snapshot_search() {
        insta::assert_json_snapshot!(
            "search",
            render(&SearchQuery {
                prerelease: true,
                semver2: true,
                ..SearchQuery::default()
            })
        );
    }

    #[test]
    fn snapshot_autocomplete() {
        let lib = lib();
        let hits = SearchHits {
            total: 7,
            ids: vec!["contoso.lib".into()],
        };
        insta::assert_json_snapshot!(
            "autocomplete_ids",
            render_autocomplete_ids(&hits, std::slice::from_ref(&lib))
        );
        insta::assert_json_snapshot!(
            "autocomplete_versions",
            render_autocomplete_versions(Some(&lib), true, true)
        );
    }
}
