//! What makes reads cheap and start-up fast, observed over real HTTP: cached documents change
//! exactly when their package does, search reads back what it no longer holds in memory, and
//! a restart from a snapshot (or from a broken one) serves what the log says. Speed itself is
//! measured by the bench harness (`bench/`), never here.
#![allow(clippy::unwrap_used)]

use std::io::Read;

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use nuget_feed_server::config::StorageConfig;
use nuget_feed_server::testing::PackageBuilder;
use serde_json::Value;

async fn push_ok(c: &Client, s: &TestServer, pkg: &PackageBuilder) {
    let r = c.push(s, Some(ADMIN_KEY), &pkg.build()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn etag(c: &Client, url: &str) -> String {
    let r = c.get(url).await;
    assert_eq!(r.status(), 200, "{url}");
    r.headers()["etag"].to_str().unwrap().to_owned()
}

async fn status_with_etag(c: &Client, url: &str, etag: &str) -> u16 {
    let r = c
        .http
        .get(url)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn cached_documents_change_exactly_when_their_package_changes() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Alpha", "1.0.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Beta", "1.0.0")).await;
    let alpha = s.url("registration/alpha/index.json");
    let beta = s.url("registration/beta/index.json");
    let alpha_flat = s.url("flatcontainer/alpha/index.json");
    let (a1, b1, f1) = (
        etag(&c, &alpha).await,
        etag(&c, &beta).await,
        etag(&c, &alpha_flat).await,
    );
    assert_eq!(status_with_etag(&c, &alpha, &a1).await, 304);

    push_ok(&c, &s, &PackageBuilder::new("Alpha", "2.0.0")).await;
    assert_eq!(
        status_with_etag(&c, &alpha, &a1).await,
        200,
        "Alpha changed"
    );
    assert_eq!(status_with_etag(&c, &alpha_flat, &f1).await, 200);
    assert_eq!(status_with_etag(&c, &beta, &b1).await, 304, "Beta did not");
    let flat = c.json(&alpha_flat).await;
    assert_eq!(flat["versions"], serde_json::json!(["1.0.0", "2.0.0"]));

    // Unlisting changes registration (listed: false) but not the flat container's bytes: the
    // document is rendered again and keeps its ETag.
    let f2 = etag(&c, &alpha_flat).await;
    let r = c.delete(&s.url("package/alpha/1.0.0"), ADMIN_KEY).await;
    assert_eq!(r.status(), 204);
    assert_eq!(status_with_etag(&c, &alpha_flat, &f2).await, 304);
    let reg = c.json(&alpha).await;
    assert_eq!(reg["items"][0]["items"][0]["catalogEntry"]["listed"], false);

    // URLs inside documents follow the request's base URL, cached or not.
    for host in ["one.example", "two.example"] {
        let r = c
            .http
            .get(&alpha)
            .header("X-Forwarded-Host", host)
            .send()
            .await
            .unwrap();
        let doc: Value = r.json().await.unwrap();
        let id = doc["@id"].as_str().unwrap();
        assert!(id.starts_with(&format!("http://{host}/")), "{id}");
    }

    // A client without gzip gets the same document, uncompressed; one with gzip, compressed.
    let identity = c.get(&alpha).await;
    assert!(identity.headers().get("content-encoding").is_none());
    let identity: Value = identity.json().await.unwrap();
    let gz = c
        .http
        .get(&alpha)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), identity);
    s.stop().await;
}

#[tokio::test]
async fn a_deprecation_shows_in_cached_documents_at_once() {
    // REG-10: a deprecation is an event of its package, which stamps its cached documents.
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Zeta", "1.0.0")).await;
    let index = s.url("registration/zeta/index.json");
    let e1 = etag(&c, &index).await;
    assert_eq!(status_with_etag(&c, &index, &e1).await, 304, "cached");
    let leaf = c.json(&s.url("registration/zeta/1.0.0.json")).await;
    let push_leaf = leaf["catalogEntry"].as_str().unwrap().to_owned();
    c.json(&push_leaf).await;

    let deprecation = s.url("package/zeta/1.0.0/deprecation");
    let r = c
        .put_body(&deprecation, Some(ADMIN_KEY), r#"{"reasons": ["Legacy"]}"#)
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(status_with_etag(&c, &index, &e1).await, 200);
    let reg = c.json(&index).await;
    let entry = &reg["items"][0]["items"][0]["catalogEntry"];
    assert_eq!(
        entry["deprecation"]["reasons"],
        serde_json::json!(["Legacy"])
    );
    // The push's catalog leaf is the push, cached for good: it never shows a deprecation.
    let push_leaf = c.json(&push_leaf).await;
    assert!(push_leaf.get("deprecation").is_none());
    let leaf = c.json(&s.url("registration/zeta/1.0.0.json")).await;
    assert_eq!(
        leaf["catalogEntry"], entry["@id"],
        "the leaf links the newest event"
    );

    assert_eq!(c.delete(&deprecation, ADMIN_KEY).await.status(), 204);
    let reg = c.json(&index).await;
    let entry = &reg["items"][0]["items"][0]["catalogEntry"];
    assert!(entry.get("deprecation").is_none(), "{entry}");
    s.stop().await;
}

#[tokio::test]
async fn search_reads_back_the_listing_of_an_older_version() {
    // SQ-7, SQ-9: after the latest version is unlisted, search shows the one before it, whose
    // metadata the server no longer keeps in memory.
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let old = PackageBuilder::new("Gamma", "1.0.0")
        .title("Gamma classic")
        .tags("vintage");
    push_ok(&c, &s, &old).await;
    let new = PackageBuilder::new("Gamma", "2.0.0")
        .title("Gamma modern")
        .tags("shiny");
    push_ok(&c, &s, &new).await;
    let r = c.json(&s.url("query?q=vintage")).await;
    assert_eq!(r["totalHits"], 0, "only the latest version is searched");

    let r = c.delete(&s.url("package/gamma/2.0.0"), ADMIN_KEY).await;
    assert_eq!(r.status(), 204);
    let r = c.json(&s.url("query?q=vintage")).await;
    assert_eq!(r["totalHits"], 1);
    assert_eq!(r["data"][0]["title"], "Gamma classic");
    assert_eq!(r["data"][0]["version"], "1.0.0");
    assert_eq!(c.json(&s.url("query?q=shiny")).await["totalHits"], 0);

    let r = c.post(&s.url("package/gamma/2.0.0"), ADMIN_KEY).await;
    assert_eq!(r.status(), 200);
    let r = c.json(&s.url("query?q=shiny")).await;
    assert_eq!(r["data"][0]["title"], "Gamma modern");
    s.stop().await;
}

/// What a client sees of a feed: flat container, registration, search, autocomplete, catalog.
async fn observe(c: &Client, s: &TestServer) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "flatcontainer/delta/index.json",
        "flatcontainer/epsilon/index.json",
        "registration-gz-semver2/delta/index.json",
        "registration/epsilon/index.json",
        "query?q=&prerelease=true&semVerLevel=2.0.0",
        "query?q=old",
        "autocomplete?q=e",
        "catalog/index.json",
        "catalog/page0.json",
    ] {
        let r = c
            .http
            .get(s.url(path))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let gzip = r.headers().get("content-encoding").is_some();
        let bytes = r.bytes().await.unwrap();
        let doc: Value = if gzip {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            serde_json::from_str(&text).unwrap()
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        seen.push(serde_json::json!({ "path": path, "status": status, "doc": doc }));
    }
    seen
}

#[tokio::test]
async fn restart_from_a_snapshot_serves_what_the_log_says() {
    let data = tempfile::tempdir().unwrap();
    let url = data.path().to_string_lossy().into_owned();
    let start = || {
        let url = url.clone();
        TestServer::start(move |f, _| {
            f.storage = Some(StorageConfig {
                url: Some(url),
                options: Default::default(),
            });
            // The same URLs in documents whatever port each server gets.
            f.public_base_url = Some("http://feed.test".into());
        })
    };
    let c = Client::new();
    let s = start().await;
    push_ok(&c, &s, &PackageBuilder::new("Delta", "1.0.0").title("old")).await;
    push_ok(&c, &s, &PackageBuilder::new("Delta", "2.0.0-beta.1")).await;
    let seq = s.state.feed.write_snapshot().await.unwrap();
    assert_eq!(seq, 2);
    // After the snapshot: more pushes, an unlist of the latest stable, a symbols-free relist.
    push_ok(&c, &s, &PackageBuilder::new("Delta", "3.0.0").title("new")).await;
    push_ok(&c, &s, &PackageBuilder::new("Epsilon", "1.0.0")).await;
    assert_eq!(
        c.delete(&s.url("package/delta/3.0.0"), ADMIN_KEY)
            .await
            .status(),
        204
    );
    let before = observe(&c, &s).await;
    s.stop().await;

    let s = start().await;
    assert_eq!(s.state.feed.state().seq(), 5);
    let after = observe(&c, &s).await;
    assert_eq!(before, after, "snapshot + log = log");
    s.stop().await;

    // A broken snapshot is ignored: the log alone gives the same feed.
    std::fs::write(data.path().join("catalog/snapshot.json"), b"garbage").unwrap();
    let s = start().await;
    assert_eq!(observe(&c, &s).await, before, "replayed from the log");
    s.stop().await;

    // So is a snapshot of events the log does not have (a replaced log).
    let s = start().await;
    s.state.feed.write_snapshot().await.unwrap();
    s.stop().await;
    std::fs::remove_file(data.path().join("catalog/events/0000000000000005.json")).unwrap();
    let s = start().await;
    assert_eq!(
        s.state.feed.state().seq(),
        4,
        "the log's head, not the snapshot's"
    );
    s.stop().await;
}

#[tokio::test]
async fn package_files_come_from_memory_but_never_stale() {
    let s = TestServer::start(|f, _| {
        f.delete_mode = Some(nuget_feed_server::config::DeleteMode::Delete);
        // Other bytes under a deleted version are what can make a cache stale.
        f.allow_deleted_version_reuse = Some(true);
    })
    .await;
    let c = Client::new();
    let first = PackageBuilder::new("Zeta", "1.0.0").description("first bytes");
    push_ok(&c, &s, &first).await;
    let url = s.url("flatcontainer/zeta/1.0.0/zeta.1.0.0.nupkg");
    for _ in 0..2 {
        let r = c.get(&url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), first.build().as_slice());
    }
    let r = c.json(&s.url("query?q=zeta")).await;
    assert_eq!(
        r["data"][0]["totalDownloads"], 2,
        "cached downloads count too"
    );

    // A hard delete, then the same version pushed again with other bytes.
    let r = c.delete(&s.url("package/zeta/1.0.0"), ADMIN_KEY).await;
    assert_eq!(r.status(), 204);
    assert_eq!(c.get(&url).await.status(), 404);
    let second = PackageBuilder::new("Zeta", "1.0.0").description("second bytes");
    push_ok(&c, &s, &second).await;
    let r = c.get(&url).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), second.build().as_slice());
    s.stop().await;
}

/// The public base URL of the feeds that restart (so documents are alike whatever the port).
const PUBLIC_BASE: &str = "http://feed.test";

/// A catalog leaf as a client sees it: URL, strong ETag, body.
type Leaf = (String, String, String);

/// Every catalog leaf of the feed, oldest first.
async fn catalog_leaves(c: &Client, s: &TestServer) -> Vec<Leaf> {
    let page = c.json(&s.url("catalog/page0.json")).await;
    let mut leaves = Vec::new();
    for item in page["items"].as_array().unwrap() {
        let url = item["@id"].as_str().unwrap().to_owned();
        // Documents name the configured public base URL; the server listens elsewhere.
        let path = url.strip_prefix(PUBLIC_BASE).unwrap();
        let r = c.get(&s.url(path)).await;
        assert_eq!(r.status(), 200, "{url}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        leaves.push((url, etag, r.text().await.unwrap()));
    }
    leaves
}

#[tokio::test]
async fn catalog_leaves_show_their_own_event_forever() {
    // CAT-3, CAT-4, PUB-13: a leaf is an immutable document, the version as its event left
    // it: the same bytes and strong ETag after later events, after restarts from the log or
    // from a snapshot, and on every replica (each restart renders every leaf anew).
    use nuget_feed_server::config::DeleteMode;
    let data = tempfile::tempdir().unwrap();
    let url = data.path().to_string_lossy().into_owned();
    let start = |mode: DeleteMode| {
        let url = url.clone();
        TestServer::start(move |f, _| {
            f.storage = Some(StorageConfig {
                url: Some(url),
                options: Default::default(),
            });
            f.public_base_url = Some(PUBLIC_BASE.into());
            f.delete_mode = Some(mode);
            // A leaf of a version pushed again after a hard delete is what this test follows.
            f.allow_deleted_version_reuse = Some(true);
        })
    };
    let c = Client::new();
    let legacy = r#"{"reasons": ["Legacy"], "message": "Use Lib 2."}"#;
    let s = start(DeleteMode::Unlist).await;
    let package = s.url("package/lib/1.0.0");
    let deprecation = s.url("package/lib/1.0.0/deprecation");
    push_ok(&c, &s, &PackageBuilder::new("Lib", "1.0.0")).await;
    let mut seen = catalog_leaves(&c, &s).await;
    // Each change, then the leaves: the new one added, the old ones as they were.
    for step in 2..=5 {
        let status = match step {
            2 => c.delete(&package, ADMIN_KEY).await.status(),
            3 => c
                .put_body(&deprecation, Some(ADMIN_KEY), legacy)
                .await
                .status(),
            4 => c.post(&package, ADMIN_KEY).await.status(),
            _ => c.delete(&deprecation, ADMIN_KEY).await.status(),
        };
        assert!(status.is_success(), "step {step}: {status}");
        let leaves = catalog_leaves(&c, &s).await;
        assert_eq!(leaves.len(), step);
        assert_eq!(leaves[..step - 1], seen[..], "after event {step}");
        seen = leaves;
    }
    assert_eq!(s.state.feed.write_snapshot().await.unwrap(), 5);
    s.stop().await;

    // From the snapshot, then on: a hard delete, the version pushed again, deprecated.
    let s = start(DeleteMode::Delete).await;
    assert_eq!(catalog_leaves(&c, &s).await, seen, "from a snapshot");
    let (package, deprecation) = (
        s.url("package/lib/1.0.0"),
        s.url("package/lib/1.0.0/deprecation"),
    );
    assert_eq!(c.delete(&package, ADMIN_KEY).await.status(), 204);
    let again = PackageBuilder::new("Lib", "1.0.0").description("pushed again");
    push_ok(&c, &s, &again).await;
    let other = r#"{"reasons": ["Other"]}"#;
    let r = c.put_body(&deprecation, Some(ADMIN_KEY), other).await;
    assert_eq!(r.status(), 204);
    let leaves = catalog_leaves(&c, &s).await;
    assert_eq!(leaves[..5], seen[..], "after a delete and a push again");
    seen = leaves;
    s.stop().await;

    std::fs::remove_file(data.path().join("catalog/snapshot.json")).unwrap();
    let s = start(DeleteMode::Delete).await;
    assert_eq!(catalog_leaves(&c, &s).await, seen, "from the log alone");
    s.state.feed.write_snapshot().await.unwrap();
    s.stop().await;
    let s = start(DeleteMode::Delete).await;
    assert_eq!(
        catalog_leaves(&c, &s).await,
        seen,
        "from a snapshot of every event"
    );
    s.stop().await;

    // What each leaf shows: its own event's outcome.
    let docs: Vec<Value> = seen
        .iter()
        .map(|(_, _, body)| serde_json::from_str(body).unwrap())
        .collect();
    let field =
        |f: fn(&Value) -> &Value| Value::from(docs.iter().map(f).cloned().collect::<Vec<_>>());
    assert_eq!(
        field(|d| &d["listed"]),
        serde_json::json!([true, false, false, true, true, null, true, true])
    );
    assert_eq!(
        field(|d| &d["deprecation"]["reasons"]),
        serde_json::json!([
            null,
            null,
            ["Legacy"],
            ["Legacy"],
            null,
            null,
            null,
            ["Other"]
        ])
    );
    let published = |n: usize| docs[n]["published"].as_str().unwrap();
    assert_eq!(published(1), "1900-01-01T00:00:00+00:00", "unlisted");
    assert_eq!(published(2), "1900-01-01T00:00:00+00:00", "unlisted");
    assert_eq!(
        published(3),
        published(0),
        "listed again: when it was pushed"
    );
    assert_eq!(docs[5]["@type"][0], "PackageDelete");
    assert_eq!(docs[4]["packageHash"], docs[0]["packageHash"]);
    assert_ne!(
        docs[6]["packageHash"], docs[0]["packageHash"],
        "the version pushed again is another package"
    );
    assert_eq!(docs[7]["description"], "pushed again");
    assert_ne!(published(6), published(0));
}
