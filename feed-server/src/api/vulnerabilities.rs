//! VulnerabilityInfo (VUL-1, VUL-2): the feed's advisories file, the vulnerability index and
//! page, and the per-version lookup that registration (REG-11) and search (SQ-9) embed.
//!
//! The index also lists the pages mirrored from upstream sources (`crate::upstream`), under
//! this feed's URLs: clients union every page of the index (VUL-2), so listing them is the
//! merge, and a client audits with this feed alone.
//!
//! Advisories come from a file the operator maintains, a YAML (or JSON) list:
//!
//! ```yaml
//! - id: Contoso.Lib                                # package id, any casing
//!   url: https://github.com/advisories/GHSA-xxxx   # absolute http(s) URL
//!   severity: high                                 # 0..=3 or low|moderate|high|critical
//!   versions: "[1.0.0, 1.2.3)"                     # NuGet version range
//! ```
//!
//! Reading the file and deciding when it changed is left to the feed; everything here is pure.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::urls::FeedUrls;
use crate::package::{NuGetVersion, PackageId, VersionRange};

/// The one page the feed serves (VUL-1: `@name` is 1-32 characters of `[A-Za-z0-9_-]`).
pub const PAGE_NAME: &str = "base";

/// Most pages an index may list (VUL-1).
pub const MAX_PAGES: usize = 16;

/// Highest severity: 0 low, 1 moderate, 2 high, 3 critical (VUL-2).
pub const MAX_SEVERITY: u8 = 3;

/// One advisory: versions `versions` of package `id` are vulnerable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawAdvisory")]
pub struct Advisory {
    /// The package id as written in the file (matched case-insensitively).
    pub id: String,
    /// Where users read about it.
    pub url: String,
    /// 0 low, 1 moderate, 2 high, 3 critical.
    pub severity: u8,
    /// The vulnerable versions.
    pub versions: VersionRange,
}

/// A vulnerability of one package version, as registration and search show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vulnerability {
    pub advisory_url: String,
    /// 0 low, 1 moderate, 2 high, 3 critical.
    pub severity: u8,
}

/// An advisory as written in the file, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdvisory {
    id: String,
    url: String,
    severity: RawSeverity,
    versions: String,
}

/// A severity as a number or as GitHub's name for it.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSeverity {
    Number(i64),
    Name(String),
}

impl TryFrom<RawAdvisory> for Advisory {
    type Error = String;

    fn try_from(raw: RawAdvisory) -> Result<Self, Self::Error> {
        PackageId::parse(&raw.id).map_err(|e| format!("advisory for `{}`: {e}", raw.id))?;
        let what = |msg: String| format!("advisory for `{}`: {msg}", raw.id);
        let severity = match raw.severity {
            RawSeverity::Number(n) => u8::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_SEVERITY)
                .ok_or_else(|| what(format!("severity {n} is invalid: use 0 to 3")))?,
            RawSeverity::Name(name) => match name.to_ascii_lowercase().as_str() {
                "low" => 0,
                "moderate" | "medium" => 1,
                "high" => 2,
                "critical" => 3,
                _ => {
                    return Err(what(format!(
                        "severity `{name}` is invalid: use 0 to 3 or low, moderate, high, critical"
                    )));
                }
            },
        };
        let absolute = url::Url::parse(&raw.url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if !absolute {
            return Err(what(format!(
                "url `{}` is invalid: use an absolute http or https URL",
                raw.url
            )));
        }
        let versions = VersionRange::parse(&raw.versions).map_err(|e| what(e.to_string()))?;
        Ok(Advisory {
            id: raw.id,
            url: raw.url,
            severity,
            versions,
        })
    }
}

/// Parses and validates an advisories file (YAML or JSON; an empty file has no advisories).
/// The error names the advisory and, where the parser knows it, the line.
pub fn parse_advisories(text: &str) -> Result<Vec<Advisory>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_yaml_ng::from_str(text).map_err(|e| format!("invalid advisories file: {e}"))
}

/// A page mirrored from an upstream source's VulnerabilityInfo.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamPage<'a> {
    /// The upstream source's name.
    pub upstream: &'a str,
    /// The page's name in the upstream's index (VUL-1 characters).
    pub name: &'a str,
    /// The upstream's `@updated` of the page, as it wrote it.
    pub updated: &'a str,
}

/// The vulnerability index (VUL-1): a JSON array with this feed's page [`PAGE_NAME`] and then
/// the `upstream` pages, at most [`MAX_PAGES`] in all (VUL-1 allows no more: the rest are left
/// out, see [`upstream_pages_left_out`]). `updated` is when the advisories last changed (clients
/// cache pages by `@name` and `@updated`).
pub fn render_index(urls: &FeedUrls, updated: DateTime<Utc>, upstream: &[UpstreamPage]) -> Value {
    let mut pages = vec![json!({
        "@name": PAGE_NAME,
        "@id": urls.vulnerability_page(PAGE_NAME),
        "@updated": super::timestamp(&updated),
        "comment": "Every known vulnerability of packages in this feed",
    })];
    for page in upstream.iter().take(MAX_PAGES - 1) {
        pages.push(json!({
            "@name": upstream_page_name(page.upstream, page.name),
            "@id": urls.upstream_vulnerability_page(page.upstream, page.name),
            "@updated": page.updated,
            "comment": format!("Vulnerabilities known to upstream source `{}` (mirrored)", page.upstream),
        }));
    }
    Value::Array(pages)
}

/// The upstream pages [`render_index`] leaves out: those past [`MAX_PAGES`].
pub fn upstream_pages_left_out<'a>(upstream: &'a [UpstreamPage<'a>]) -> &'a [UpstreamPage<'a>] {
    upstream.get(MAX_PAGES - 1..).unwrap_or_default()
}

/// The `@name` of an upstream page in this feed's index: unique, because clients cache pages
/// by name (an upstream's `base` must not be taken for ours). `{upstream}_{page}` when it fits
/// VUL-1's 32 characters (upstream names have no `_`, so it cannot collide with another
/// upstream's page, nor with [`PAGE_NAME`]), else `u` and 16 hex digits of a hash of both (no
/// `_`, so no clash with the readable form either).
fn upstream_page_name(upstream: &str, page: &str) -> String {
    let readable = format!("{upstream}_{page}");
    if readable.len() <= 32 {
        return readable;
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{upstream}/{page}").as_bytes());
    format!("u{}", &hex::encode(digest)[..16])
}

/// The vulnerability page (VUL-2): an object keyed by lower-cased id, each value the id's
/// advisories `{severity, url, versions}` sorted by upper bound descending, then lower bound
/// descending (unbounded first), then URL.
///
/// A feed without advisories gets `{}`, not the `[]` the implementation guide suggests: the
/// client reads every page as a dictionary (NuGet.Client `VulnerabilityFileDataConverter`
/// throws on anything but an object), so `[]` would make every restore warn (NU1900).
pub fn render_page(advisories: &[Advisory]) -> Value {
    let mut by_id: BTreeMap<String, Vec<&Advisory>> = BTreeMap::new();
    for a in advisories {
        by_id.entry(a.id.to_ascii_lowercase()).or_default().push(a);
    }
    let page: serde_json::Map<String, Value> = by_id
        .into_iter()
        .map(|(id, mut list)| {
            list.sort_by(|a, b| page_order(a, b));
            let entries = list
                .iter()
                .map(|a| {
                    json!({
                        "severity": a.severity,
                        "url": a.url,
                        "versions": a.versions.to_normalized(),
                    })
                })
                .collect();
            (id, Value::Array(entries))
        })
        .collect();
    Value::Object(page)
}

/// VUL-2 order: upper bound descending, lower bound descending, URL ascending; an unbounded
/// end sorts first.
fn page_order(a: &Advisory, b: &Advisory) -> Ordering {
    let bound_desc =
        |x: Option<(&NuGetVersion, bool)>, y: Option<(&NuGetVersion, bool)>| match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some((x, _)), Some((y, _))) => y.cmp(x),
        };
    bound_desc(a.versions.max(), b.versions.max())
        .then_with(|| bound_desc(a.versions.min(), b.versions.min()))
        .then_with(|| a.url.cmp(&b.url))
}

/// The advisories that cover `version` of `id`, most severe first, for registration
/// (REG-11) and search (SQ-9).
pub fn for_version(
    advisories: &[Advisory],
    id: &PackageId,
    version: &NuGetVersion,
) -> Vec<Vulnerability> {
    let mut found: Vec<Vulnerability> = advisories
        .iter()
        .filter(|a| a.id.eq_ignore_ascii_case(id.as_str()) && a.versions.satisfies(version))
        .map(|a| Vulnerability {
            advisory_url: a.url.clone(),
            severity: a.severity,
        })
        .collect();
    found.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.advisory_url.cmp(&b.advisory_url))
    });
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const FILE: &str = r#"
- id: Contoso.Lib
  url: https://example.com/advisories/2
  severity: 2
  versions: "(1.0.0, 2.0.0)"
- id: contoso.lib
  url: https://example.com/advisories/1
  severity: moderate
  versions: "(, 2.0.0)"
- id: Contoso.Lib
  url: https://example.com/advisories/3
  severity: critical
  versions: "[3.0.0, )"
- id: Contoso.Utilities
  url: https://example.com/advisories/4
  severity: 0
  versions: "[1.0.0]"
"#;

    fn version(v: &str) -> NuGetVersion {
        NuGetVersion::parse(v).unwrap()
    }

    #[test]
    fn parses_yaml_and_json() {
        let advisories = parse_advisories(FILE).unwrap();
        assert_eq!(advisories.len(), 4);
        assert_eq!(advisories[1].severity, 1);
        assert_eq!(advisories[2].severity, 3);
        let json = r#"[{"id":"A","url":"https://e.com/1","severity":3,"versions":"[1.0, 2.0)"}]"#;
        let parsed = parse_advisories(json).unwrap();
        assert_eq!(parsed[0].versions.to_normalized(), "[1.0.0, 2.0.0)");
        assert_eq!(parse_advisories("  \n").unwrap(), vec![]);
    }

    #[test]
    fn rejects_bad_severity_range_url_and_id() {
        for (bad, needle) in [
            (
                r#"[{"id":"A","url":"https://e.com","severity":4,"versions":"1.0"}]"#,
                "severity 4",
            ),
            (
                r#"[{"id":"A","url":"https://e.com","severity":-1,"versions":"1.0"}]"#,
                "severity -1",
            ),
            (
                r#"[{"id":"A","url":"https://e.com","severity":"urgent","versions":"1.0"}]"#,
                "urgent",
            ),
            (
                r#"[{"id":"A","url":"https://e.com","severity":1,"versions":"1.*"}]"#,
                "range",
            ),
            (
                r#"[{"id":"A","url":"/relative","severity":1,"versions":"1.0"}]"#,
                "url",
            ),
            (
                r#"[{"id":"A B","url":"https://e.com","severity":1,"versions":"1.0"}]"#,
                "A B",
            ),
            (
                r#"[{"id":"A","url":"https://e.com","severity":1}]"#,
                "versions",
            ),
        ] {
            let err = parse_advisories(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn page_is_keyed_by_lower_id_and_sorted() {
        // VUL-2: lower-cased keys; upper bound desc, lower bound desc, unbounded first.
        let page = render_page(&parse_advisories(FILE).unwrap());
        let urls: Vec<&str> = page["contoso.lib"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["url"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                "https://example.com/advisories/3",
                "https://example.com/advisories/1",
                "https://example.com/advisories/2",
            ]
        );
        assert_eq!(page["contoso.utilities"][0]["severity"], 0);
    }

    #[test]
    fn empty_page_is_an_empty_object() {
        // The client deserializes a page as a dictionary; `[]` would fail (see render_page).
        assert_eq!(render_page(&[]), json!({}));
    }

    #[test]
    fn for_version_matches_id_case_insensitively_and_range() {
        let advisories = parse_advisories(FILE).unwrap();
        let id = PackageId::parse("CONTOSO.LIB").unwrap();
        let found = for_version(&advisories, &id, &version("1.5.0"));
        assert_eq!(
            found,
            vec![
                Vulnerability {
                    advisory_url: "https://example.com/advisories/2".into(),
                    severity: 2
                },
                Vulnerability {
                    advisory_url: "https://example.com/advisories/1".into(),
                    severity: 1
                },
            ]
        );
        assert!(for_version(&advisories, &id, &version("2.5.0")).is_empty());
        assert_eq!(
            for_version(&advisories, &id, &version("3.0.0"))[0].severity,
            3
        );
    }

    #[test]
    fn upstream_pages_follow_ours_under_this_feeds_urls_with_names_of_their_own() {
        let urls = FeedUrls::new("http://me/feed");
        let long = "an-upstream-with-a-rather-long-name";
        let upstream = [
            UpstreamPage {
                upstream: "nuget-org",
                name: "base",
                updated: "2025-01-01T00:00:00Z",
            },
            UpstreamPage {
                upstream: long,
                name: "base",
                updated: "2025-01-02T00:00:00Z",
            },
        ];
        let index = render_index(&urls, Utc::now(), &upstream);
        let names: Vec<&str> = index
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["@name"].as_str().unwrap())
            .collect();
        assert_eq!(names[..2], ["base", "nuget-org_base"]);
        assert!(
            names[2].starts_with('u') && names[2].len() == 17,
            "{}",
            names[2]
        );
        assert_eq!(
            index[1]["@id"],
            "http://me/feed/vulnerabilities/upstream/nuget-org/base.json"
        );
        assert_eq!(index[1]["@updated"], "2025-01-01T00:00:00Z");
        assert_eq!(
            index[2]["@id"],
            format!("http://me/feed/vulnerabilities/upstream/{long}/base.json")
        );
        // VUL-1: at most 16 pages, ours always first.
        let many = vec![upstream[0]; 40];
        let index = render_index(&urls, Utc::now(), &many);
        assert_eq!(index.as_array().unwrap().len(), MAX_PAGES);
        assert_eq!(index[0]["@name"], PAGE_NAME);
        assert_eq!(upstream_pages_left_out(&many).len(), 40 - 15);
        assert!(upstream_pages_left_out(&upstream).is_empty());
    }

    #[test]
    fn snapshots() {
        let urls = FeedUrls::new("http://localhost:5000/team-a/main");
        let updated = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        insta::assert_json_snapshot!("vulnerability_index", render_index(&urls, updated, &[]));
        insta::assert_json_snapshot!(
            "vulnerability_page",
            render_page(&parse_advisories(FILE).unwrap())
        );
    }
}
