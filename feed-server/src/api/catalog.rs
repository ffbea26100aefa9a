//! The Catalog resource (CAT-1..CAT-4): the feed's event log as nuget.org's catalog shows it,
//! for mirrors and tools (the official client never reads it).
//!
//! One event is one commit: its sequence number gives the commit id ([`commit_id`], also used
//! by registration) and its time the commit timestamp. Page `n` holds events
//! `n * 550 + 1 ..= (n + 1) * 550` (CAT-2: nuget.org's page size), so only the newest page ever
//! changes. Which events exist, and the version a leaf shows, come from the feed; a leaf
//! never changes, because it shows its version as its own event left it.

use serde_json::{Map, Value, json};

use super::metadata::{self, put};
use super::urls::FeedUrls;
use super::{UNLISTED_PUBLISHED, timestamp};
use crate::feed::catalog::{CATALOG_PAGE_SIZE, Catalog, EventSummary, VersionAt};
use crate::feed::event::Op;

/// Events per catalog page (CAT-2: nuget.org's maximum).
pub const PAGE_SIZE: usize = CATALOG_PAGE_SIZE;

/// The commit id of event `seq`: a UUID-shaped string, as the catalog's `commitId` is on
/// nuget.org, derived from `seq` alone so that every replica renders the same one. The layout
/// is a valid RFC 9562 version-8 UUID with `seq` in its first and last groups.
pub fn commit_id(seq: u64) -> String {
    format!(
        "{:08x}-0000-8000-8000-{:012x}",
        seq >> 48,
        seq & 0xffff_ffff_ffff
    )
}

/// The catalog index (CAT-1): one item per page, each with its newest commit.
pub fn render_index(events: &Catalog, urls: &FeedUrls) -> Value {
    let items: Vec<Value> = events
        .pages()
        .enumerate()
        .map(|(n, page)| {
            json!({
                "@id": urls.catalog_page(n),
                "@type": "CatalogPage",
                "commitId": commit_id(newest_seq(n, page)),
                "commitTimeStamp": newest_commit_time(page.last()),
                "count": page.len(),
            })
        })
        .collect();
    json!({
        "@id": urls.catalog_index(),
        "@type": ["CatalogRoot", "AppendOnlyCatalog", "Permalink"],
        // The newest event's, or "event 0"'s for an empty log.
        "commitId": commit_id(events.len() as u64),
        "commitTimeStamp": newest_commit_time(events.last()),
        "count": items.len(),
        "items": items,
    })
}

/// Catalog page `n` (CAT-2), or `None` when there is no such page.
pub fn render_page(events: &Catalog, n: usize, urls: &FeedUrls) -> Option<Value> {
    let page: &[EventSummary] = events.page(n)?;
    let first = Catalog::first_seq(n);
    let items: Vec<Value> = page
        .iter()
        .zip(first..)
        .map(|(e, seq)| {
            json!({
                "@id": urls.catalog_leaf(seq, &e.id, &e.version),
                "@type": e.op.catalog_type(),
                "commitId": commit_id(seq),
                "commitTimeStamp": timestamp(&e.time),
                "nuget:id": e.id.as_str(),
                "nuget:version": e.version.to_full(),
            })
        })
        .collect();
    Some(json!({
        "@id": urls.catalog_page(n),
        "@type": "CatalogPage",
        "commitId": commit_id(newest_seq(n, page)),
        "commitTimeStamp": newest_commit_time(page.last()),
        "count": items.len(),
        "items": items,
        "parent": urls.catalog_index(),
    }))
}

/// The leaf of event `seq` (CAT-3), from its line in the catalog and its version as it was
/// right after it ([`Feed::version_at`](crate::feed::Feed::version_at)), so that it never
/// changes.
///
/// A delete gives a `PackageDelete` leaf whose `published` is the time of the delete. Any
/// other event gives a `PackageDetails` snapshot of the version (PUB-13), `published` 1900
/// while it is unlisted, as on nuget.org. An event without a version (one that changed
/// nothing) has only the fields every leaf has.
pub fn render_leaf(
    seq: u64,
    event: &EventSummary,
    version: Option<&VersionAt>,
    urls: &FeedUrls,
) -> Value {
    let at = urls.catalog_leaf(seq, &event.id, &event.version);
    let mut leaf = Map::new();
    leaf.insert("@id".into(), at.clone().into());
    let kind = match event.op {
        Op::Delete => "PackageDelete",
        _ => "PackageDetails",
    };
    leaf.insert("@type".into(), json!([kind, "catalog:Permalink"]));
    leaf.insert("catalog:commitId".into(), commit_id(seq).into());
    leaf.insert(
        "catalog:commitTimeStamp".into(),
        timestamp(&event.time).into(),
    );
    leaf.insert("id".into(), event.id.as_str().into());
    leaf.insert("version".into(), event.version.to_full().into());
    let Some(v) = version.filter(|_| event.op != Op::Delete) else {
        leaf.insert("published".into(), timestamp(&event.time).into());
        return Value::Object(leaf);
    };
    let published = if v.listed {
        timestamp(&v.published)
    } else {
        UNLISTED_PUBLISHED.to_owned()
    };
    leaf.insert("published".into(), published.into());
    leaf.insert("listed".into(), v.listed.into());
    leaf.insert("isPrerelease".into(), event.version.is_prerelease().into());
    put(
        &mut leaf,
        "deprecation",
        v.deprecation
            .as_ref()
            .map(|d| metadata::deprecation(d, Some(&at))),
    );
    details(&mut leaf, v, urls);
    Value::Object(leaf)
}

/// The `PackageDetails` fields beyond those of every leaf (CAT-3).
fn details(leaf: &mut Map<String, Value>, v: &VersionAt, urls: &FeedUrls) {
    let (p, n) = (&v.pushed, &v.pushed.nuspec);
    leaf.insert("packageHash".into(), p.sha512.clone().into());
    leaf.insert("packageHashAlgorithm".into(), "SHA512".into());
    leaf.insert("packageSize".into(), p.size.into());
    leaf.insert("created".into(), timestamp(&v.published).into());
    leaf.insert("verbatimVersion".into(), n.version_text.clone().into());
    put(leaf, "authors", metadata::authors_joined(&n.authors));
    put(leaf, "description", n.description.clone());
    // Catalog dependencies carry no registration link: the catalog belongs to no hive.
    put(
        leaf,
        "dependencyGroups",
        metadata::dependency_groups(n, None),
    );
    let (id, version, license) = (&n.id, &n.version, n.license.as_ref());
    let icon = metadata::icon_url(urls, id, version, n.icon_url.as_deref(), p.files);
    put(leaf, "iconUrl", icon);
    put(leaf, "language", n.language.clone());
    put(
        leaf,
        "licenseExpression",
        metadata::license_expression(license),
    );
    let license_url = metadata::license_url(
        urls,
        id,
        version,
        license,
        n.license_url.as_deref(),
        p.files,
    );
    put(leaf, "licenseUrl", license_url);
    put(leaf, "minClientVersion", n.min_client_version.clone());
    put(
        leaf,
        "packageTypes",
        metadata::package_types(&n.package_types),
    );
    put(leaf, "projectUrl", n.project_url.clone());
    put(
        leaf,
        "readmeUrl",
        metadata::readme_url(urls, id, version, p.files),
    );
    put(leaf, "releaseNotes", n.release_notes.clone());
    leaf.insert(
        "requireLicenseAcceptance".into(),
        n.require_license_acceptance.into(),
    );
    put(leaf, "summary", n.summary.clone());
    leaf.insert("tags".into(), n.tags.clone().into());
    put(leaf, "title", n.title.clone());
}

/// The sequence number of the newest event of page `n` (pages are never empty).
fn newest_seq(n: usize, page: &[EventSummary]) -> u64 {
    Catalog::first_seq(n) + page.len() as u64 - 1
}

/// The time of the newest event, or the Unix epoch for an empty log (older than any cursor a
/// client could hold, CAT-4).
fn newest_commit_time(newest: Option<&EventSummary>) -> String {
    timestamp(&newest.map_or(chrono::DateTime::UNIX_EPOCH, |e| e.time))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use std::sync::Arc;

    use super::*;
    use crate::api::test_support::{deprecation, nuspec, t0, version_with};
    use crate::feed::event::{EmbeddedFiles, Pushed};
    use crate::package::{NuGetVersion, PackageId};

    const BASE: &str = "http://localhost:5000/team-a/main";

    /// The line of event `seq`, at `t0()` plus `seq` seconds.
    fn summary(seq: u64, id: &str, v: &str, op: Op) -> EventSummary {
        EventSummary {
            time: t0() + Duration::seconds(seq as i64),
            id: Arc::new(PackageId::parse(id).unwrap()),
            version: Arc::new(NuGetVersion::parse(v).unwrap()),
            op,
            prev: 0,
        }
    }

    fn catalog(summaries: Vec<EventSummary>) -> Catalog {
        let mut c = Catalog::default();
        for s in summaries {
            c.push(s);
        }
        c
    }

    fn events(n: u64) -> Catalog {
        catalog(
            (1..=n)
                .map(|seq| summary(seq, "Contoso.Lib", &format!("1.0.{seq}"), Op::Push))
                .collect(),
        )
    }

    /// Contoso.Lib 1.0.0 as pushed by event 1, listed and not deprecated.
    fn pushed_version() -> VersionAt {
        VersionAt {
            pushed: Arc::new(version_with("Contoso.Lib", "1.0.0", "").pushed()),
            published: t0() + Duration::seconds(1),
            listed: true,
            deprecation: None,
        }
    }

    #[test]
    fn commit_ids_are_uuid_shaped_unique_and_stable() {
        assert_eq!(commit_id(42), "00000000-0000-8000-8000-00000000002a");
        assert_eq!(commit_id(u64::MAX), "0000ffff-0000-8000-8000-ffffffffffff");
        assert_ne!(commit_id(1 << 48), commit_id(0));
        let parts: Vec<usize> = commit_id(7).split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }

    #[test]
    fn pages_hold_550_events_and_only_the_last_one_grows() {
        // CAT-2
        let urls = FeedUrls::new(BASE);
        let events = events(1101);
        let index = render_index(&events, &urls);
        assert_eq!(index["count"], 3);
        let counts: Vec<u64> = index["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["count"].as_u64().unwrap())
            .collect();
        assert_eq!(counts, [550, 550, 1]);
        assert_eq!(index["commitId"], commit_id(1101));
        assert_eq!(index["items"][0]["commitId"], commit_id(550));
        assert_eq!(index["items"][2]["commitId"], commit_id(1101));
        let page1 = render_page(&events, 1, &urls).unwrap();
        assert_eq!(page1["items"][0]["nuget:version"], "1.0.551");
        assert_eq!(page1["items"][0]["commitId"], commit_id(551));
        assert_eq!(page1["commitId"], commit_id(1100));
        assert_eq!(page1["parent"], urls.catalog_index());
        assert!(render_page(&events, 3, &urls).is_none());
    }

    #[test]
    fn empty_catalog_has_no_pages() {
        let urls = FeedUrls::new(BASE);
        let empty = Catalog::default();
        let index = render_index(&empty, &urls);
        assert_eq!(index["count"], 0);
        assert_eq!(index["commitId"], commit_id(0));
        assert_eq!(index["items"], json!([]));
        assert!(render_page(&empty, 0, &urls).is_none());
    }

    #[test]
    fn an_unlisted_version_is_a_details_snapshot_with_1900_published() {
        // CAT-3, PUB-13: an unlist is a PackageDetails item; nuget.org shows 1900 while unlisted.
        let urls = FeedUrls::new(BASE);
        let unlisted = VersionAt {
            listed: false,
            ..pushed_version()
        };
        let event = summary(2, "Contoso.Lib", "1.0.0", Op::Unlist);
        let leaf = render_leaf(2, &event, Some(&unlisted), &urls);
        assert_eq!(
            leaf["@type"],
            json!(["PackageDetails", "catalog:Permalink"])
        );
        assert_eq!(leaf["listed"], false);
        assert_eq!(leaf["published"], UNLISTED_PUBLISHED);
        assert_eq!(leaf["created"], timestamp(&(t0() + Duration::seconds(1))));
        assert_eq!(leaf["packageSize"], 1234);
        // An event that changed nothing: still a valid leaf, with what the event knows.
        let orphan = render_leaf(2, &event, None, &urls);
        assert_eq!(orphan["published"], timestamp(&event.time));
        assert!(orphan.get("listed").is_none());
        assert!(orphan.get("packageHash").is_none());
    }

    #[test]
    fn a_deprecated_version_shows_its_deprecation_at_the_leaf() {
        // PUB-13, CAT-3: (un)deprecating is a PackageDetails item.
        let urls = FeedUrls::new(BASE);
        let legacy =
            deprecation(r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "Contoso.Core"}}"#);
        let deprecated = VersionAt {
            deprecation: Some(legacy),
            ..pushed_version()
        };
        let event = summary(2, "Contoso.Lib", "1.0.0", Op::Deprecate);
        let leaf = render_leaf(2, &event, Some(&deprecated), &urls);
        assert_eq!(
            leaf["@type"],
            json!(["PackageDetails", "catalog:Permalink"])
        );
        assert_eq!(leaf["listed"], true);
        assert_eq!(leaf["published"], timestamp(&(t0() + Duration::seconds(1))));
        let at = leaf["@id"].as_str().unwrap();
        assert_eq!(
            leaf["deprecation"],
            json!({
                "@id": format!("{at}#deprecation"),
                "alternatePackage": {
                    "@id": format!("{at}#deprecation/alternatePackage"),
                    "id": "Contoso.Core",
                    "range": "*",
                },
                "reasons": ["Legacy"],
            })
        );
        let undeprecated = summary(3, "Contoso.Lib", "1.0.0", Op::Undeprecate);
        let leaf = render_leaf(3, &undeprecated, Some(&pushed_version()), &urls);
        assert!(leaf.get("deprecation").is_none());
    }

    #[test]
    fn snapshots() {
        let urls = FeedUrls::new(BASE);
        let events = catalog(vec![
            summary(1, "Contoso.Lib", "1.0.0", Op::Push),
            summary(2, "Contoso.Lib", "2.0.0-beta.1+sha.abc", Op::Push),
            summary(3, "Contoso.Lib", "1.0.0", Op::Delete),
        ]);
        insta::assert_json_snapshot!("catalog_index", render_index(&events, &urls));
        insta::assert_json_snapshot!("catalog_page", render_page(&events, 0, &urls).unwrap());
        let (id, v) = ("Contoso.Lib", "2.0.0-beta.1+sha.abc");
        let beta = VersionAt {
            pushed: Arc::new(Pushed {
                nuspec: nuspec(
                    id,
                    v,
                    r#"<title>Contoso Library</title><summary>Short.</summary><tags>json, parser</tags>
               <projectUrl>https://example.com/contoso</projectUrl>
               <license type="expression">MIT</license><icon>icon.png</icon>
               <packageTypes><packageType name="Dependency"/></packageTypes>
               <dependencies><group targetFramework="net8.0"><dependency id="Contoso.Core" version="1.0"/></group></dependencies>"#,
                ),
                size: 4096,
                sha512: "q83vEjRWeJA=".into(),
                files: EmbeddedFiles {
                    icon: true,
                    readme: false,
                    license: false,
                },
            }),
            published: t0() + Duration::seconds(2),
            listed: true,
            deprecation: None,
        };
        let push = events.get(2).unwrap();
        insta::assert_json_snapshot!(
            "catalog_leaf_details",
            render_leaf(2, push, Some(&beta), &urls)
        );
        let delete = events.get(3).unwrap();
        insta::assert_json_snapshot!("catalog_leaf_delete", render_leaf(3, delete, None, &urls));
        let given = render_leaf(3, delete, Some(&pushed_version()), &urls);
        assert_eq!(
            given,
            render_leaf(3, delete, None, &urls),
            "a delete needs no version"
        );
    }
}
