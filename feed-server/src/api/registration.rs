//! RegistrationsBaseUrl (REG-1..REG-15): the registration index, pages and leaves of one
//! package id in one hive.
//!
//! Paging is nuget.org's (REG-5): fewer than 128 visible versions are inlined in the index
//! (in pages of 64, so 65-127 versions give two inlined pages); 128 or more are split into
//! pages of 64 that are not inlined and must be fetched by their `@id`. Every page has a real
//! URL, `{hive}/{id}/page/{lower}/{upper}.json`, inlined or not, so any `@id` we emit can be
//! fetched. Which versions exist is the feed's business; which of them a hive shows is
//! [`Hive::filter`].

use serde_json::{Map, Value, json};

use super::catalog::commit_id;
use super::metadata::{self, put};
use super::urls::{FeedUrls, Hive};
use super::vulnerabilities::Vulnerability;
use super::{UNLISTED_PUBLISHED, timestamp};
use crate::feed::event::Details;
use crate::feed::record::{PackageRecord, VersionRecord};
use crate::package::{NuGetVersion, PackageId};

/// Leaves per page (REG-5).
pub const PAGE_SIZE: usize = 64;

/// From this many visible versions on, pages are not inlined (REG-5).
pub const INLINE_LIMIT: usize = 128;

/// What registration shows besides the package record.
pub struct RegistrationContext<'a> {
    /// Accounts allowed to push the id (never the nuspec's `<owners>`, SQ-10); shown as
    /// `owners` when not empty.
    pub owners: &'a [String],
    /// Known vulnerabilities of a version (REG-11), e.g. [`super::vulnerabilities::for_version`].
    pub vulnerabilities: &'a dyn Fn(&PackageId, &NuGetVersion) -> Vec<Vulnerability>,
    /// The push facts of the versions whose leaves are inlined ([`versions_needing_details`]),
    /// by push event. A version missing here gets a catalog entry without its metadata.
    pub details: &'a Details,
}

/// The versions whose metadata the index of `record` in `hive` inlines (fewer than
/// [`INLINE_LIMIT`] visible versions: all of them; else none): load their details first.
pub fn versions_needing_details(record: &PackageRecord, hive: Hive) -> Vec<&VersionRecord> {
    let visible = visible(record, hive);
    if visible.len() < INLINE_LIMIT {
        visible
    } else {
        Vec::new()
    }
}

/// The versions of the page of `record` in `hive` with these bounds (see [`render_page`]).
pub fn page_versions<'a>(
    record: &'a PackageRecord,
    hive: Hive,
    lower: &str,
    upper: &str,
) -> Vec<&'a VersionRecord> {
    let visible = visible(record, hive);
    visible
        .chunks(PAGE_SIZE)
        .find(|page| {
            let (first, last) = bounds(page);
            first.eq_ignore_ascii_case(lower) && last.eq_ignore_ascii_case(upper)
        })
        .map(<[_]>::to_vec)
        .unwrap_or_default()
}

/// The registration index of `record` in `hive`, or `None` when the hive shows no version of
/// it (REG-2: answer 404).
pub fn render_index(
    record: &PackageRecord,
    hive: Hive,
    urls: &FeedUrls,
    ctx: &RegistrationContext<'_>,
) -> Option<Value> {
    let visible = visible(record, hive);
    let id = visible.last()?.id();
    let inline = visible.len() < INLINE_LIMIT;
    let pages: Vec<Value> = visible
        .chunks(PAGE_SIZE)
        .map(|page| render_page_object(page, hive, urls, ctx, inline))
        .collect();
    Some(json!({
        "@id": urls.registration_index(hive, id),
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "commitId": newest_commit_id(&visible),
        "commitTimeStamp": newest_commit_time(&visible),
        "count": pages.len(),
        "items": pages,
    }))
}

/// A standalone registration page (REG-6): the page of the current paging whose bounds are
/// `lower` and `upper` (normalized versions as in the page URL, any casing), or `None` when
/// there is no such page (a stale URL after the bounds moved, REG-5's race: answer 404).
pub fn render_page(
    record: &PackageRecord,
    hive: Hive,
    urls: &FeedUrls,
    ctx: &RegistrationContext<'_>,
    lower: &str,
    upper: &str,
) -> Option<Value> {
    let visible = visible(record, hive);
    let page = visible.chunks(PAGE_SIZE).find(|page| {
        let (first, last) = bounds(page);
        first.eq_ignore_ascii_case(lower) && last.eq_ignore_ascii_case(upper)
    })?;
    // REG-6: a standalone page always has its items and its parent.
    Some(render_page_object(page, hive, urls, ctx, true))
}

/// The registration leaf of one version (REG-12), or `None` when the hive does not show it.
/// `catalogEntry` is the URL of the version's newest catalog leaf here, not an object.
pub fn render_leaf(
    record: &PackageRecord,
    version: &NuGetVersion,
    hive: Hive,
    urls: &FeedUrls,
) -> Option<Value> {
    let v = record.get(version).filter(|v| hive.filter().admits(v))?;
    Some(json!({
        "@id": urls.registration_leaf(hive, v.id(), v.version()),
        "@type": ["Package", "http://schema.nuget.org/catalog#Permalink"],
        "catalogEntry": urls.catalog_leaf(v.last_seq, v.id(), v.version()),
        "listed": v.listed,
        "packageContent": urls.nupkg(v.id(), v.version()),
        "published": published(v),
        "registration": urls.registration_index(hive, v.id()),
    }))
}

/// The versions `hive` shows, ascending.
fn visible(record: &PackageRecord, hive: Hive) -> Vec<&VersionRecord> {
    record.visible(hive.filter()).collect()
}

/// `lower` and `upper` of a non-empty page: normalized, no metadata (REG-3, N-6).
fn bounds(page: &[&VersionRecord]) -> (String, String) {
    let first = page.first().map(|v| v.version().to_normalized());
    let last = page.last().map(|v| v.version().to_normalized());
    (first.unwrap_or_default(), last.unwrap_or_default())
}

/// A page object: with `items` and `parent` when `inline` (REG-3), only its summary
/// otherwise (the client then fetches its `@id`, REG-4).
fn render_page_object(
    page: &[&VersionRecord],
    hive: Hive,
    urls: &FeedUrls,
    ctx: &RegistrationContext<'_>,
    inline: bool,
) -> Value {
    let (lower, upper) = bounds(page);
    let mut object = Map::new();
    // `page` is never empty: it comes from `chunks`.
    let id = page.last().map(|v| v.id());
    if let Some(id) = id {
        object.insert(
            "@id".into(),
            urls.registration_page(hive, id, &lower, &upper).into(),
        );
    }
    object.insert("@type".into(), "catalog:CatalogPage".into());
    object.insert("commitId".into(), newest_commit_id(page).into());
    object.insert("commitTimeStamp".into(), newest_commit_time(page).into());
    object.insert("count".into(), page.len().into());
    if inline {
        let items: Vec<Value> = page
            .iter()
            .map(|v| leaf_object(v, hive, urls, ctx))
            .collect();
        object.insert("items".into(), items.into());
        if let Some(id) = id {
            object.insert("parent".into(), urls.registration_index(hive, id).into());
        }
    }
    object.insert("lower".into(), lower.into());
    object.insert("upper".into(), upper.into());
    Value::Object(object)
}

/// A leaf object inside a page (REG-7).
fn leaf_object(
    v: &VersionRecord,
    hive: Hive,
    urls: &FeedUrls,
    ctx: &RegistrationContext<'_>,
) -> Value {
    json!({
        "@id": urls.registration_leaf(hive, v.id(), v.version()),
        "@type": "Package",
        "commitId": commit_id(v.last_seq),
        "commitTimeStamp": timestamp(&v.last_edited),
        "catalogEntry": catalog_entry(v, hive, urls, ctx),
        "packageContent": urls.nupkg(v.id(), v.version()),
        "registration": urls.registration_index(hive, v.id()),
    })
}

/// The `catalogEntry` object (REG-8): the version's metadata.
fn catalog_entry(
    v: &VersionRecord,
    hive: Hive,
    urls: &FeedUrls,
    ctx: &RegistrationContext<'_>,
) -> Value {
    let (id, version) = (v.id(), v.version());
    let n = ctx.details.get(&v.push_seq).map(|p| &p.nuspec);
    let leaf = urls.catalog_leaf(v.last_seq, id, version);
    let mut e = Map::new();
    // REG-10, REG-14: the PM UI and `dotnet list package --deprecated` read it from here.
    put(
        &mut e,
        "deprecation",
        v.deprecation
            .as_deref()
            .map(|d| metadata::deprecation(d, Some(&leaf))),
    );
    e.insert("@id".into(), leaf.into());
    e.insert("@type".into(), "PackageDetails".into());
    if let Some(n) = n {
        put(&mut e, "authors", metadata::authors_joined(&n.authors));
        put(
            &mut e,
            "dependencyGroups",
            metadata::dependency_groups(n, Some((urls, hive))),
        );
        put(&mut e, "description", n.description.clone());
        let icon = metadata::icon_url(urls, id, version, n.icon_url.as_deref(), v.files);
        put(&mut e, "iconUrl", icon);
    }
    e.insert("id".into(), id.as_str().into());
    if let Some(n) = n {
        let license = n.license.as_ref();
        put(&mut e, "language", n.language.clone());
        put(
            &mut e,
            "licenseExpression",
            metadata::license_expression(license),
        );
        put(
            &mut e,
            "licenseExpressionVersion",
            metadata::license_expression_version(license),
        );
        let license_url = metadata::license_url(
            urls,
            id,
            version,
            license,
            n.license_url.as_deref(),
            v.files,
        );
        put(&mut e, "licenseUrl", license_url);
    }
    e.insert("listed".into(), v.listed.into());
    if let Some(n) = n {
        put(&mut e, "minClientVersion", n.min_client_version.clone());
    }
    if !ctx.owners.is_empty() {
        e.insert("owners".into(), ctx.owners.into());
    }
    e.insert("packageContent".into(), urls.nupkg(id, version).into());
    if let Some(n) = n {
        put(
            &mut e,
            "packageTypes",
            metadata::package_types(&n.package_types),
        );
        put(&mut e, "projectUrl", n.project_url.clone());
    }
    e.insert("published".into(), published(v).into());
    put(
        &mut e,
        "readmeUrl",
        metadata::readme_url(urls, id, version, v.files),
    );
    if let Some(n) = n {
        e.insert(
            "requireLicenseAcceptance".into(),
            n.require_license_acceptance.into(),
        );
        put(&mut e, "summary", n.summary.clone());
        e.insert("tags".into(), n.tags.clone().into());
        put(&mut e, "title", n.title.clone());
    }
    // N-6: the full version, with build metadata.
    e.insert("version".into(), version.to_full().into());
    let vulnerabilities = (ctx.vulnerabilities)(id, version);
    e.insert(
        "vulnerabilities".into(),
        metadata::vulnerabilities(&vulnerabilities, true),
    );
    Value::Object(e)
}

/// `published`: the push time, or year 1900 while unlisted as nuget.org shows it (REG-8).
fn published(v: &VersionRecord) -> String {
    if v.listed {
        timestamp(&v.published)
    } else {
        UNLISTED_PUBLISHED.to_owned()
    }
}

/// The commit of the newest change among `versions`. A deleted version leaves no trace here,
/// so a delete alone does not move it.
fn newest_commit_id(versions: &[&VersionRecord]) -> String {
    commit_id(versions.iter().map(|v| v.last_seq).max().unwrap_or(0))
}

fn newest_commit_time(versions: &[&VersionRecord]) -> String {
    versions
        .iter()
        .map(|v| v.last_edited)
        .max()
        .map(|t| timestamp(&t))
        .unwrap_or_else(|| UNLISTED_PUBLISHED.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{
        Fixture, deprecate, edit, record, unlist, version, version_with,
    };
    use crate::feed::event::EmbeddedFiles;

    const BASE: &str = "http://localhost:5000/team-a/main";

    fn no_vulnerabilities(_: &PackageId, _: &NuGetVersion) -> Vec<Vulnerability> {
        Vec::new()
    }

    fn ctx(details: &Details) -> RegistrationContext<'_> {
        RegistrationContext {
            owners: &[],
            vulnerabilities: &no_vulnerabilities,
            details,
        }
    }

    fn many(n: usize) -> Fixture {
        let versions: Vec<_> = (0..n)
            .map(|i| version("Contoso.Many", &format!("1.0.{i}")))
            .collect();
        record(&versions)
    }

    fn v(s: &str) -> NuGetVersion {
        NuGetVersion::parse(s).unwrap()
    }

    /// Three versions: 1.0.0 (listed), 1.1.0 (unlisted) and 2.0.0-beta.1 (SemVer2-only).
    fn three() -> Fixture {
        let mut r = record(&[
            version_with(
                "Contoso.Lib",
                "1.0.0",
                r#"<title>Contoso Library</title><tags>json parser</tags>
                   <license type="expression">MIT</license>
                   <dependencies><group targetFramework="net8.0"><dependency id="Contoso.Core" version="1.0"/></group></dependencies>"#,
            ),
            version("Contoso.Lib", "1.1.0"),
            version_with(
                "Contoso.Lib",
                "2.0.0-beta.1+sha.abc",
                "<icon>icon.png</icon><readme>README.md</readme>",
            ),
        ]);
        unlist(&mut r, "1.1.0");
        edit(&mut r, "2.0.0-beta.1", |v| {
            v.files = EmbeddedFiles {
                icon: true,
                readme: true,
                license: false,
            }
        });
        r
    }

    fn leaf_versions(index: &Value) -> Vec<String> {
        index["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["items"].as_array().unwrap())
            .map(|l| l["catalogEntry"]["version"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn semver1_hives_hide_semver2_versions_and_show_unlisted() {
        // REG-1, REG-14, N-4
        let urls = FeedUrls::new(BASE);
        let r = three();
        for hive in [Hive::SemVer1, Hive::SemVer1Gz] {
            let index = render_index(&r.record, hive, &urls, &ctx(&r.details)).unwrap();
            assert_eq!(leaf_versions(&index), ["1.0.0", "1.1.0"]);
        }
        let index = render_index(&r.record, Hive::SemVer2Gz, &urls, &ctx(&r.details)).unwrap();
        // N-6: the full version, with metadata, in catalogEntry.version.
        assert_eq!(
            leaf_versions(&index),
            ["1.0.0", "1.1.0", "2.0.0-beta.1+sha.abc"]
        );
        assert_eq!(
            index["items"][0]["upper"], "2.0.0-beta.1",
            "bounds have no metadata"
        );
        let unlisted = &index["items"][0]["items"][1]["catalogEntry"];
        assert_eq!(unlisted["listed"], false);
        assert_eq!(unlisted["published"], UNLISTED_PUBLISHED);
    }

    #[test]
    fn hive_without_visible_versions_is_not_found() {
        // REG-2
        let urls = FeedUrls::new(BASE);
        let r = record(&[version("Contoso.Next", "1.0.0-alpha.1")]);
        assert!(render_index(&r.record, Hive::SemVer1, &urls, &ctx(&r.details)).is_none());
        assert!(render_index(&r.record, Hive::SemVer2Gz, &urls, &ctx(&r.details)).is_some());
        assert!(render_leaf(&r.record, &v("1.0.0-alpha.1"), Hive::SemVer1, &urls).is_none());
        let empty = PackageRecord::default();
        assert!(render_index(&empty, Hive::SemVer2Gz, &urls, &ctx(&r.details)).is_none());
    }

    #[test]
    fn paging_follows_nuget_org() {
        // REG-5: <128 inline (pages of 64), >=128 pages of 64 not inlined.
        let urls = FeedUrls::new(BASE);
        let shape = |n: usize| {
            let r = many(n);
            let index = render_index(&r.record, Hive::SemVer2Gz, &urls, &ctx(&r.details)).unwrap();
            index["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["count"].as_u64().unwrap(), p.get("items").is_some()))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(1), [(1, true)]);
        assert_eq!(shape(64), [(64, true)]);
        assert_eq!(shape(65), [(64, true), (1, true)]);
        assert_eq!(shape(127), [(64, true), (63, true)]);
        assert_eq!(shape(128), [(64, false), (64, false)]);
        assert_eq!(shape(130), [(64, false), (64, false), (2, false)]);
    }

    #[test]
    fn every_page_id_can_be_fetched() {
        // REG-4, REG-6: the client fetches a page by its @id; inlined pages too.
        let urls = FeedUrls::new(BASE);
        for n in [3, 130] {
            let r = many(n);
            let index = render_index(&r.record, Hive::SemVer2Gz, &urls, &ctx(&r.details)).unwrap();
            for p in index["items"].as_array().unwrap() {
                let (lower, upper) = (p["lower"].as_str().unwrap(), p["upper"].as_str().unwrap());
                let page = render_page(
                    &r.record,
                    Hive::SemVer2Gz,
                    &urls,
                    &ctx(&r.details),
                    lower,
                    upper,
                )
                .unwrap();
                assert_eq!(page["@id"], p["@id"]);
                assert_eq!(page["count"], p["count"]);
                assert_eq!(
                    page["items"].as_array().unwrap().len() as u64,
                    p["count"].as_u64().unwrap()
                );
                assert_eq!(page["parent"], index["@id"]);
            }
        }
        let r = many(130);
        assert!(
            render_page(
                &r.record,
                Hive::SemVer2Gz,
                &urls,
                &ctx(&r.details),
                "1.0.0",
                "1.0.62"
            )
            .is_none()
        );
    }

    #[test]
    fn page_bounds_match_case_insensitively() {
        // N-5: versions are case-insensitive; URLs carry them lower-cased.
        let urls = FeedUrls::new(BASE);
        let r = record(&[version("A", "1.0.0-Beta"), version("A", "1.0.0-RC")]);
        assert!(
            render_page(
                &r.record,
                Hive::SemVer1,
                &urls,
                &ctx(&r.details),
                "1.0.0-beta",
                "1.0.0-rc"
            )
            .is_some()
        );
    }

    #[test]
    fn vulnerabilities_and_owners_are_shown() {
        // REG-11: severity is a string here; SQ-10: owners are accounts, not nuspec <owners>.
        let urls = FeedUrls::new(BASE);
        let vulns = |_: &PackageId, v: &NuGetVersion| {
            if v.to_normalized() == "1.0.0" {
                vec![Vulnerability {
                    advisory_url: "https://example.com/a/1".into(),
                    severity: 2,
                }]
            } else {
                Vec::new()
            }
        };
        let owners = ["team-a".to_owned()];
        let r = three();
        let ctx = RegistrationContext {
            owners: &owners,
            vulnerabilities: &vulns,
            details: &r.details,
        };
        let index = render_index(&r.record, Hive::SemVer1, &urls, &ctx).unwrap();
        let entry = &index["items"][0]["items"][0]["catalogEntry"];
        assert_eq!(
            entry["vulnerabilities"],
            json!([{"advisoryUrl": "https://example.com/a/1", "severity": "2"}])
        );
        assert_eq!(entry["owners"], json!(["team-a"]));
        assert_eq!(
            index["items"][0]["items"][1]["catalogEntry"]["vulnerabilities"],
            json!([])
        );
    }

    #[test]
    fn deprecation_is_in_the_catalog_entry_of_every_hive_and_page() {
        // REG-8, REG-10, REG-14: the unlisted 1.1.0 is deprecated, its latest event is 9.
        let urls = FeedUrls::new(BASE);
        let mut r = three();
        deprecate(
            &mut r,
            "1.1.0",
            r#"{"reasons": ["CriticalBugs"], "message": "Loses data.",
                "alternatePackage": {"id": "Contoso.Lib", "range": "[2.0.0-beta.1, )"}}"#,
        );
        edit(&mut r, "1.1.0", |v| v.last_seq = 9);
        for hive in Hive::ALL {
            let index = render_index(&r.record, hive, &urls, &ctx(&r.details)).unwrap();
            let (lower, upper) = (&index["items"][0]["lower"], &index["items"][0]["upper"]);
            let page = render_page(
                &r.record,
                hive,
                &urls,
                &ctx(&r.details),
                lower.as_str().unwrap(),
                upper.as_str().unwrap(),
            )
            .unwrap();
            for doc in [&index["items"][0], &page] {
                let entries: Vec<&Value> = doc["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| &l["catalogEntry"])
                    .collect();
                assert!(entries[0].get("deprecation").is_none(), "{hive:?}");
                let entry = entries[1];
                assert_eq!(
                    entry["@id"],
                    urls.catalog_leaf(9, &PackageId::parse("Contoso.Lib").unwrap(), &v("1.1.0"))
                );
                let leaf = entry["@id"].as_str().unwrap();
                assert_eq!(
                    entry["deprecation"],
                    json!({
                        "@id": format!("{leaf}#deprecation"),
                        "alternatePackage": {
                            "@id": format!("{leaf}#deprecation/alternatePackage"),
                            "id": "Contoso.Lib",
                            "range": "[2.0.0-beta.1, )",
                        },
                        "message": "Loses data.",
                        "reasons": ["CriticalBugs"],
                    }),
                    "{hive:?}"
                );
            }
        }
    }

    #[test]
    fn snapshot_index_inline_semver1_and_semver2() {
        let urls = FeedUrls::new(BASE);
        let r = three();
        insta::assert_json_snapshot!(
            "registration_index_semver1",
            render_index(&r.record, Hive::SemVer1, &urls, &ctx(&r.details)).unwrap()
        );
        insta::assert_json_snapshot!(
            "registration_index_semver2",
            render_index(&r.record, Hive::SemVer2Gz, &urls, &ctx(&r.details)).unwrap()
        );
    }

    #[test]
    fn snapshot_paged_index_and_page() {
        let urls = FeedUrls::new(BASE);
        let r = many(130);
        insta::assert_json_snapshot!(
            "registration_index_paged",
            render_index(&r.record, Hive::SemVer2Gz, &urls, &ctx(&r.details)).unwrap()
        );
        insta::assert_json_snapshot!(
            "registration_page",
            render_page(
                &r.record,
                Hive::SemVer2Gz,
                &urls,
                &ctx(&r.details),
                "1.0.128",
                "1.0.129"
            )
            .unwrap()
        );
    }

    #[test]
    fn snapshot_leaf() {
        let urls = FeedUrls::new(BASE);
        let r = three();
        insta::assert_json_snapshot!(
            "registration_leaf",
            render_leaf(&r.record, &v("2.0.0-beta.1"), Hive::SemVer2Gz, &urls).unwrap()
        );
        insta::assert_json_snapshot!(
            "registration_leaf_unlisted",
            render_leaf(&r.record, &v("1.1.0"), Hive::SemVer1, &urls).unwrap()
        );
    }
}
