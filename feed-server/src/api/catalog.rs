//! The Catalog resource (CAT-1..CAT-4): the feed's event log as nuget.org's catalog shows it,
//! for mirrors and tools (the official client never reads it).
//!
//! One event is one commit: its sequence number gives the commit id ([`commit_id`], also used
//! by registration) and its time the commit timestamp. Page `n` holds events
//! `n * 550 + 1 ..= (n + 1) * 550` (CAT-2: nuget.org's page size), so only the newest page ever
//! changes. Which events exist, and the record a leaf is rendered from, come from the feed.

use serde_json::{Map, Value, json};

use super::metadata::{self, put};
use super::urls::FeedUrls;
use super::{UNLISTED_PUBLISHED, timestamp};
use crate::feed::event::{Change, EmbeddedFiles, Event, Pushed};
use crate::feed::record::VersionRecord;
use crate::feed::state::{CATALOG_PAGE_SIZE, Catalog, EventSummary};
use crate::package::Nuspec;

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
                "commitId": newest_commit_id(page.last()),
                "commitTimeStamp": newest_commit_time(page.last()),
                "count": page.len(),
            })
        })
        .collect();
    json!({
        "@id": urls.catalog_index(),
        "@type": ["CatalogRoot", "AppendOnlyCatalog", "Permalink"],
        "commitId": newest_commit_id(events.last()),
        "commitTimeStamp": newest_commit_time(events.last()),
        "count": items.len(),
        "items": items,
    })
}

/// Catalog page `n` (CAT-2), or `None` when there is no such page.
pub fn render_page(events: &Catalog, n: usize, urls: &FeedUrls) -> Option<Value> {
    let page: &[EventSummary] = events.page(n)?;
    let items: Vec<Value> = page
        .iter()
        .map(|e| {
            json!({
                "@id": urls.catalog_leaf(e.seq, &e.id, &e.version),
                "@type": e.catalog_type(),
                "commitId": commit_id(e.seq),
                "commitTimeStamp": timestamp(&e.time),
                "nuget:id": e.id.as_str(),
                "nuget:version": e.version.to_full(),
            })
        })
        .collect();
    Some(json!({
        "@id": urls.catalog_page(n),
        "@type": "CatalogPage",
        "commitId": newest_commit_id(page.last()),
        "commitTimeStamp": newest_commit_time(page.last()),
        "count": items.len(),
        "items": items,
        "parent": urls.catalog_index(),
    }))
}

/// The leaf of one event (CAT-3).
///
/// A delete gives a `PackageDelete` leaf whose `published` is the time of the delete. Any
/// other event gives a `PackageDetails` snapshot (PUB-13): a push from the nuspec it carries,
/// other events from `record_after` (the version's record as the feed now knows it, with its
/// push facts). `listed`, `published` and `deprecation` follow from the event itself where it
/// decides them (a push or relist lists, an unlist unlists: CAT-3, `published` is 1900 while
/// unlisted as on nuget.org; a deprecation event carries its own, an undeprecation and a push
/// none). If an unlist, relist, symbols or deprecation event's version no longer exists, the
/// leaf has only the fields the event knows.
pub fn render_leaf(
    event: &Event,
    record_after: Option<(&VersionRecord, &Pushed)>,
    urls: &FeedUrls,
) -> Value {
    let at = urls.catalog_leaf(event.seq, &event.id, &event.version);
    let mut leaf = Map::new();
    leaf.insert("@id".into(), at.clone().into());
    let kind = match event.change {
        Change::Delete => "PackageDelete",
        _ => "PackageDetails",
    };
    leaf.insert("@type".into(), json!([kind, "catalog:Permalink"]));
    leaf.insert("catalog:commitId".into(), commit_id(event.seq).into());
    leaf.insert(
        "catalog:commitTimeStamp".into(),
        timestamp(&event.time).into(),
    );
    leaf.insert("id".into(), event.id.as_str().into());
    leaf.insert("version".into(), event.version.to_full().into());

    let listed = match &event.change {
        Change::Delete => {
            leaf.insert("published".into(), timestamp(&event.time).into());
            return Value::Object(leaf);
        }
        Change::Push(_) | Change::Relist => true,
        Change::Unlist => false,
        Change::Symbols { .. } | Change::Deprecate(_) | Change::Undeprecate => {
            record_after.is_none_or(|(r, _)| r.listed)
        }
    };
    let published = match (&event.change, record_after) {
        _ if !listed => UNLISTED_PUBLISHED.to_owned(),
        (Change::Push(_), _) => timestamp(&event.time),
        (_, Some((r, _))) => timestamp(&r.published),
        (_, None) => timestamp(&event.time),
    };
    leaf.insert("published".into(), published.into());
    leaf.insert("listed".into(), listed.into());
    leaf.insert("isPrerelease".into(), event.version.is_prerelease().into());
    let deprecation = match (&event.change, record_after) {
        (Change::Deprecate(d), _) => Some(&**d),
        (Change::Push(_) | Change::Undeprecate, _) | (_, None) => None,
        (_, Some((r, _))) => r.deprecation.as_deref(),
    };
    put(
        &mut leaf,
        "deprecation",
        deprecation.map(|d| metadata::deprecation(d, Some(&at))),
    );

    let facts = match (&event.change, record_after) {
        (Change::Push(p), _) => Some(Facts {
            nuspec: &p.nuspec,
            files: p.files,
            size: p.size,
            sha512: &p.sha512,
            created: timestamp(&event.time),
        }),
        (_, Some((r, p))) => Some(Facts {
            nuspec: &p.nuspec,
            files: p.files,
            size: p.size,
            sha512: &p.sha512,
            created: timestamp(&r.published),
        }),
        (_, None) => None,
    };
    if let Some(facts) = facts {
        details(&mut leaf, &facts, urls);
    }
    Value::Object(leaf)
}

/// What a details leaf describes, whether it comes from a push event or a record.
struct Facts<'a> {
    nuspec: &'a Nuspec,
    files: EmbeddedFiles,
    size: u64,
    sha512: &'a str,
    created: String,
}

/// The `PackageDetails` fields beyond those of every leaf (CAT-3).
fn details(leaf: &mut Map<String, Value>, f: &Facts<'_>, urls: &FeedUrls) {
    let n = f.nuspec;
    leaf.insert("packageHash".into(), f.sha512.into());
    leaf.insert("packageHashAlgorithm".into(), "SHA512".into());
    leaf.insert("packageSize".into(), f.size.into());
    leaf.insert("created".into(), f.created.clone().into());
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
    let icon = metadata::icon_url(urls, id, version, n.icon_url.as_deref(), f.files);
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
        f.files,
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
        metadata::readme_url(urls, id, version, f.files),
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

/// The commit id of the newest event, or of "event 0" for an empty log.
fn newest_commit_id(newest: Option<&EventSummary>) -> String {
    commit_id(newest.map_or(0, |e| e.seq))
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
    use crate::package::{NuGetVersion, PackageId};

    const BASE: &str = "http://localhost:5000/team-a/main";

    fn summary(seq: u64, id: &str, v: &str, catalog_type: &'static str) -> EventSummary {
        EventSummary {
            seq,
            time: t0() + Duration::seconds(seq as i64),
            id: Arc::new(PackageId::parse(id).unwrap()),
            version: Arc::new(NuGetVersion::parse(v).unwrap()),
            deleted: catalog_type == "nuget:PackageDelete",
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
                .map(|seq| {
                    summary(
                        seq,
                        "Contoso.Lib",
                        &format!("1.0.{seq}"),
                        "nuget:PackageDetails",
                    )
                })
                .collect(),
        )
    }

    fn event(seq: u64, id: &str, v: &str, change: Change) -> Event {
        Event {
            seq,
            time: t0() + Duration::seconds(seq as i64),
            id: PackageId::parse(id).unwrap(),
            version: NuGetVersion::parse(v).unwrap(),
            change,
        }
    }

    fn push(seq: u64, id: &str, v: &str, extra: &str) -> Event {
        event(
            seq,
            id,
            v,
            Change::Push(Box::new(Pushed {
                nuspec: nuspec(id, v, extra),
                size: 4096,
                sha512: "q83vEjRWeJA=".into(),
                files: EmbeddedFiles {
                    icon: true,
                    readme: false,
                    license: false,
                },
            })),
        )
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
        let page1 = render_page(&events, 1, &urls).unwrap();
        assert_eq!(page1["items"][0]["nuget:version"], "1.0.551");
        assert_eq!(page1["parent"], urls.catalog_index());
        assert!(render_page(&events, 3, &urls).is_none());
    }

    #[test]
    fn empty_catalog_has_no_pages() {
        let urls = FeedUrls::new(BASE);
        let empty = Catalog::default();
        let index = render_index(&empty, &urls);
        assert_eq!(index["count"], 0);
        assert_eq!(index["items"], json!([]));
        assert!(render_page(&empty, 0, &urls).is_none());
    }

    #[test]
    fn unlist_leaf_is_a_details_snapshot_with_1900_published() {
        // CAT-3, PUB-13: an unlist is a PackageDetails item; nuget.org shows 1900 while unlisted.
        let urls = FeedUrls::new(BASE);
        let version = version_with("Contoso.Lib", "1.0.0", "");
        let record = version.record(1, t0());
        let leaf = render_leaf(
            &event(2, "Contoso.Lib", "1.0.0", Change::Unlist),
            Some((&record, &version.pushed())),
            &urls,
        );
        assert_eq!(
            leaf["@type"],
            json!(["PackageDetails", "catalog:Permalink"])
        );
        assert_eq!(leaf["listed"], false);
        assert_eq!(leaf["published"], UNLISTED_PUBLISHED);
        assert_eq!(leaf["packageSize"], 1234);
        // The version was deleted later: still a valid leaf, with what the event knows.
        let orphan = render_leaf(
            &event(2, "Contoso.Lib", "1.0.0", Change::Relist),
            None,
            &urls,
        );
        assert_eq!(orphan["listed"], true);
        assert!(orphan.get("packageHash").is_none());
    }

    #[test]
    fn deprecation_leaves_carry_their_own_deprecation() {
        // PUB-13, CAT-3: (un)deprecating is a PackageDetails item.
        let urls = FeedUrls::new(BASE);
        let version = version_with("Contoso.Lib", "1.0.0", "");
        let pushed = version.pushed();
        let mut record = version.record(1, t0());
        let legacy =
            deprecation(r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "Contoso.Core"}}"#);
        let change = Change::Deprecate(Box::new(legacy.clone()));
        // Rendered when the record is no longer deprecated: the leaf is still its event's.
        let leaf = render_leaf(
            &event(2, "Contoso.Lib", "1.0.0", change),
            Some((&record, &pushed)),
            &urls,
        );
        assert_eq!(
            leaf["@type"],
            json!(["PackageDetails", "catalog:Permalink"])
        );
        assert_eq!(leaf["listed"], true);
        assert_eq!(leaf["packageSize"], 1234);
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
        // Other events show the version as it is now; an undeprecation never has one.
        record.deprecation = Some(Arc::new(legacy));
        let unlist = render_leaf(
            &event(3, "Contoso.Lib", "1.0.0", Change::Unlist),
            Some((&record, &pushed)),
            &urls,
        );
        assert_eq!(unlist["deprecation"]["reasons"], json!(["Legacy"]));
        let undeprecate = render_leaf(
            &event(4, "Contoso.Lib", "1.0.0", Change::Undeprecate),
            Some((&record, &pushed)),
            &urls,
        );
        assert_eq!(undeprecate["@type"][0], "PackageDetails");
        assert!(undeprecate.get("deprecation").is_none());
    }

    #[test]
    fn snapshots() {
        let urls = FeedUrls::new(BASE);
        let events = catalog(vec![
            summary(1, "Contoso.Lib", "1.0.0", "nuget:PackageDetails"),
            summary(
                2,
                "Contoso.Lib",
                "2.0.0-beta.1+sha.abc",
                "nuget:PackageDetails",
            ),
            summary(3, "Contoso.Lib", "1.0.0", "nuget:PackageDelete"),
        ]);
        insta::assert_json_snapshot!("catalog_index", render_index(&events, &urls));
        insta::assert_json_snapshot!("catalog_page", render_page(&events, 0, &urls).unwrap());
        let push = push(
            2,
            "Contoso.Lib",
            "2.0.0-beta.1+sha.abc",
            r#"<title>Contoso Library</title><summary>Short.</summary><tags>json, parser</tags>
               <projectUrl>https://example.com/contoso</projectUrl>
               <license type="expression">MIT</license><icon>icon.png</icon>
               <packageTypes><packageType name="Dependency"/></packageTypes>
               <dependencies><group targetFramework="net8.0"><dependency id="Contoso.Core" version="1.0"/></group></dependencies>"#,
        );
        insta::assert_json_snapshot!("catalog_leaf_details", render_leaf(&push, None, &urls));
        let delete = event(3, "Contoso.Lib", "1.0.0", Change::Delete);
        insta::assert_json_snapshot!("catalog_leaf_delete", render_leaf(&delete, None, &urls));
    }
}
