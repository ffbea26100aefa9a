//! Search and autocomplete responses (SQ-8, SQ-9, AC-1, AC-2), rendered from the hits of
//! [`crate::feed::search::SearchIndex`] and the package records.
//!
//! Matching, ranking and `totalHits` are the index's; this module only turns each hit into a
//! result from its record: metadata of the latest listed version the filters admit, and the
//! list of those versions.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::metadata;
use super::urls::{FeedUrls, Hive};
use super::vulnerabilities::Vulnerability;
use crate::feed::record::{PackageRecord, VersionFilter};
use crate::feed::search::{SearchHits, SearchQuery, package_type_names};
use crate::package::{NuGetVersion, PackageId};

/// The versions a search or autocomplete request may see: never unlisted ones (SQ-7).
fn filter(prerelease: bool, semver2: bool) -> VersionFilter {
    VersionFilter::search(prerelease, semver2)
}

/// The search response (SQ-8, SQ-9), serialized straight from the records: search is not
/// cached, so its renderer avoids building a `serde_json::Value` tree. Field names are declared
/// in alphabetical order, the order a `Value` would have written them in.
#[derive(Debug, Serialize)]
pub struct SearchResponse<'a> {
    data: Vec<SearchResult<'a>>,
    #[serde(rename = "totalHits")]
    total_hits: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchResult<'a> {
    #[serde(rename = "@id")]
    at_id: String,
    #[serde(rename = "@type")]
    at_type: &'static str,
    authors: &'a [String],
    /// Of the version shown (SQ-9: metadata comes from the latest version).
    #[serde(skip_serializing_if = "Option::is_none")]
    deprecation: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon_url: Option<String>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    owners: Vec<String>,
    package_types: Vec<TypeName<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readme_url: Option<String>,
    registration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    total_downloads: u64,
    verified: bool,
    version: String,
    versions: VersionList<'a>,
    vulnerabilities: Vec<SearchVulnerability>,
}

#[derive(Debug, Serialize)]
struct TypeName<'a> {
    name: &'a str,
}

/// `versions` of a result: `[{"@id", "downloads", "version"}]`, written straight from the
/// records (a result lists every admitted version, so this is most of a response).
#[derive(Debug)]
struct VersionList<'a> {
    /// What each version's registration leaf URL starts with.
    leaf_base: String,
    versions: Vec<(&'a NuGetVersion, u64)>,
}

impl Serialize for VersionList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        let mut seq = s.serialize_seq(Some(self.versions.len()))?;
        for &(version, downloads) in &self.versions {
            seq.serialize_element(&ResultVersion {
                leaf_base: &self.leaf_base,
                version,
                downloads,
            })?;
        }
        return seq.end();

        struct ResultVersion<'a> {
            leaf_base: &'a str,
            version: &'a NuGetVersion,
            downloads: u64,
        }

        impl Serialize for ResultVersion<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut v = s.serialize_struct("Version", 3)?;
                v.serialize_field("@id", &Text(LeafUrl(self.leaf_base, self.version)))?;
                v.serialize_field("downloads", &self.downloads)?;
                // N-6: the full version, with build metadata.
                v.serialize_field("version", &Text(FullVersion(self.version)))?;
                v.end()
            }
        }
    }
}

/// A string written from its `Display`, without building it first.
struct Text<T>(T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// `{leaf_base}{lower_version}.json`: a registration leaf URL.
struct LeafUrl<'a>(&'a str, &'a NuGetVersion);

impl std::fmt::Display for LeafUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        self.1.write_normalized(f, true)?;
        f.write_str(".json")
    }
}

/// The full version string (N-6).
struct FullVersion<'a>(&'a NuGetVersion);

impl std::fmt::Display for FullVersion<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.write_normalized(f, false)?;
        match self.0.metadata() {
            Some(m) => write!(f, "+{m}"),
            None => Ok(()),
        }
    }
}

/// SQ-9: severity is an integer in search (a string in registration, REG-11).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchVulnerability {
    advisory_url: String,
    severity: u8,
}

/// The search response (SQ-8, SQ-9). `records[i]` is the record of `hits.ids[i]`; a hit whose
/// record no longer has an admitted version with a known listing (it changed since the search)
/// is left out.
///
/// `owners` lists the accounts allowed to push an id (SQ-10: never the nuspec's `<owners>`;
/// omitted when empty). `downloads` counts downloads of one version. `vulnerabilities` gives
/// a version's advisories (SQ-9: severity as an integer here).
pub fn render_search<'a>(
    hits: &SearchHits,
    records: &'a [Arc<PackageRecord>],
    query: &SearchQuery,
    urls: &FeedUrls,
    owners: &dyn Fn(&PackageId) -> Vec<String>,
    downloads: &dyn Fn(&str, &NuGetVersion) -> u64,
    vulnerabilities: &dyn Fn(&PackageId, &NuGetVersion) -> Vec<Vulnerability>,
) -> SearchResponse<'a> {
    // Registration links must point at a hive that shows the versions listed (REG-1).
    let hive = if query.semver2 {
        Hive::SemVer2Gz
    } else {
        Hive::SemVer1
    };
    let filter = filter(query.prerelease, query.semver2);
    let data = hits
        .ids
        .iter()
        .zip(records)
        .filter_map(|(lower_id, record)| {
            let versions: Vec<_> = record.visible(filter).collect();
            let latest = versions.last()?;
            let (id, n) = (latest.id(), latest.listing.as_deref()?);
            let version = latest.version();
            let mut total_downloads: u64 = 0;
            let versions = VersionList {
                // Every version's leaf URL shares the hive's folder of the id.
                leaf_base: urls.registration_leaf_base(hive, id),
                versions: versions
                    .iter()
                    .map(|v| {
                        let count = downloads(lower_id, v.version());
                        total_downloads = total_downloads.saturating_add(count);
                        (v.version(), count)
                    })
                    .collect(),
            };
            let files = latest.files;
            let license = n.license.as_ref();
            let registration = urls.registration_index(hive, id);
            Some(SearchResult {
                at_id: registration.clone(),
                at_type: "Package",
                authors: &n.authors,
                deprecation: latest
                    .deprecation
                    .as_deref()
                    .map(|d| metadata::deprecation(d, None)),
                description: n.description.as_deref(),
                icon_url: metadata::icon_url(urls, id, version, n.icon_url.as_deref(), files),
                id: id.as_str(),
                license_expression: metadata::license_expression(license),
                license_url: metadata::license_url(
                    urls,
                    id,
                    version,
                    license,
                    n.license_url.as_deref(),
                    files,
                ),
                owners: owners(id),
                package_types: package_type_names(n)
                    .into_iter()
                    .map(|name| TypeName { name })
                    .collect(),
                project_url: n.project_url.as_deref(),
                readme_url: metadata::readme_url(urls, id, version, files),
                registration,
                summary: n.summary.as_deref(),
                tags: &n.tags,
                title: n.title.as_deref(),
                total_downloads,
                // SQ-10: verified means an id-prefix reservation, which this feed does not have.
                verified: false,
                version: version.to_full(),
                versions,
                vulnerabilities: vulnerabilities(id, version)
                    .into_iter()
                    .map(|v| SearchVulnerability {
                        advisory_url: v.advisory_url,
                        severity: v.severity,
                    })
                    .collect(),
            })
        })
        .collect();
    SearchResponse {
        data,
        total_hits: hits.total,
    }
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
        let downloads = |_: &str, v: &NuGetVersion| u64::from(v.minor()) * 10 + 1;
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
        serde_json::to_value(render_search(
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
