//! Upstream sources (issue 13): a real upstream (another feed server, reached through the
//! fault proxy) with an id of 205 versions (registration pages are separate documents), a
//! deprecated, a vulnerable, a SemVer2 and an unlisted version; read through a downstream feed.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use nuget_feed_server::feed::{fsck, gc};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::proxy::{FaultProxy, Mode};
use serde_json::Value;

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use crate::odata::{blocking, feed};

const BIG: &str = "Big.Lib";
const BIG_VERSIONS: usize = 205;
/// A key that may push anything and take ids over from upstreams.
const TAKER_KEY: &str = "taker-key-0123456789";

/// The upstream feed and the proxy in front of it.
struct Upstream {
    server: TestServer,
    proxy: FaultProxy,
}

impl Upstream {
    async fn start() -> Upstream {
        let server = TestServer::start(|f, dir| {
            let path = dir.join("advisories.yaml");
            std::fs::write(
                &path,
                "- id: Dep.Lib\n  url: https://example.com/advisory/1\n  severity: 2\n  versions: \"[1.0.0, 1.0.1)\"\n",
            )
            .unwrap();
            f.vulnerabilities_file = Some(path);
        })
        .await;
        let c = Client::new();
        let mut pkgs: Vec<PackageBuilder> = (0..BIG_VERSIONS)
            .map(|n| PackageBuilder::new(BIG, &format!("1.0.{n}")))
            .collect();
        for (id, v) in [
            ("Dep.Lib", "1.0.0"),
            ("Dep.Lib", "2.0.0"),
            ("Dep.Lib", "3.0.0-beta.1"),
            ("Dep.Lib", "4.0.0"),
            ("Contoso.Core", "99.0.0"),
            ("Internal.Secret", "2.0.0"),
        ] {
            pkgs.push(PackageBuilder::new(id, v).description("from upstream"));
        }
        for p in pkgs {
            let r = c.push(&server, Some(ADMIN_KEY), &p.build()).await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        let r = c
            .put_body(
                &server.url("package/Dep.Lib/1.0.0/deprecation"),
                Some(ADMIN_KEY),
                r#"{"reasons": ["Legacy"], "message": "Use 2.0."}"#,
            )
            .await;
        assert_eq!(r.status(), 204);
        let r = c
            .delete(&server.url("package/Dep.Lib/4.0.0"), ADMIN_KEY)
            .await;
        assert_eq!(r.status(), 204, "unlisted");
        let proxy = FaultProxy::start(server.root.trim_start_matches("http://").to_owned()).await;
        Upstream { server, proxy }
    }

    fn index_url(&self) -> String {
        format!("{}/index.json", self.proxy.endpoint())
    }

    /// Requests the upstream answered on `route` (its own metrics).
    async fn requests(&self, route: &str) -> u64 {
        let text = Client::new()
            .get(&format!("{}/metrics", self.server.root))
            .await
            .text()
            .await
            .unwrap();
        let label = format!("route=\"{route}\"");
        text.lines()
            .filter(|l| l.starts_with("nuget_feed_http_requests_total") && l.contains(&label))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }

    async fn stop(self) {
        drop(self.proxy);
        self.server.stop().await;
    }
}

const FILE_ROUTE: &str = "/flatcontainer/{id}/{version}/{file}";
const VERSIONS_ROUTE: &str = "/flatcontainer/{id}/index.json";

/// A downstream feed with `up` as its one upstream (`ttl` seconds fresh), `Internal.*` local,
/// and a key that may take ids over.
async fn downstream(up: &Upstream, ttl: u64) -> TestServer {
    let index = up.index_url();
    TestServer::start(move |f, dir| {
        let mut upstream = nuget_feed_config::UpstreamConfig::new("up", index);
        upstream.metadata_ttl_seconds = Some(ttl);
        upstream.timeout_ms = Some(5000);
        f.upstreams = vec![upstream];
        f.local_packages = vec![nuget_feed_config::IdPattern::parse("Internal.*").unwrap()];
        let keys = dir.join("upstream-keys.yaml");
        std::fs::write(
            &keys,
            format!(
                "keys:\n  - name: admin\n    key: {ADMIN_KEY}\n  - name: taker\n    key: {TAKER_KEY}\n    scopes: [push, take_over]\n"
            ),
        )
        .unwrap();
        f.api_keys_file = Some(keys);
    })
    .await
}

async fn bytes(c: &Client, url: &str) -> Vec<u8> {
    let r = c.get(url).await;
    assert_eq!(r.status(), 200, "GET {url}");
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_id_reads_through_every_view_with_this_feeds_urls() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();

    let theirs = c
        .json(&up.server.url("flatcontainer/big.lib/index.json"))
        .await;
    let ours = c.json(&down.url("flatcontainer/Big.Lib/index.json")).await;
    assert_eq!(ours, theirs);
    assert_eq!(ours["versions"].as_array().unwrap().len(), BIG_VERSIONS);

    // REG-5: more than 128 versions: the index links pages that are documents of their own.
    for hive in ["registration", "registration-gz", "registration-gz-semver2"] {
        let index = c
            .doc(&down.url(&format!("{hive}/big.lib/index.json")))
            .await;
        assert_eq!(
            index["@id"],
            down.url(&format!("{hive}/big.lib/index.json"))
        );
        let pages = index["items"].as_array().unwrap();
        assert!(pages.len() > 1, "{hive}");
        let page_url = pages[1]["@id"].as_str().unwrap();
        assert!(pages[1].get("items").is_none(), "{hive}: not inlined");
        assert!(page_url.starts_with(&down.url(hive)), "{page_url}");
        let page = c.doc(page_url).await;
        let leaf = &page["items"][0];
        let version = leaf["catalogEntry"]["version"].as_str().unwrap();
        assert_eq!(
            leaf["packageContent"],
            down.url(&format!(
                "flatcontainer/big.lib/{version}/big.lib.{version}.nupkg"
            ))
        );
        assert!(leaf["@id"].as_str().unwrap().starts_with(&down.url(hive)));
        let leaf_doc = c.doc(leaf["@id"].as_str().unwrap()).await;
        assert_eq!(leaf_doc["packageContent"], leaf["packageContent"]);
        assert!(
            leaf_doc["registration"]
                .as_str()
                .unwrap()
                .starts_with(&down.url(hive))
        );
    }

    // Deprecation, vulnerabilities, `published` and listing as the upstream sent them; the
    // SemVer1 hives do not show the SemVer2 version.
    let theirs = c
        .doc(&up.server.url("registration-gz-semver2/dep.lib/index.json"))
        .await;
    let ours = c
        .doc(&down.url("registration-gz-semver2/dep.lib/index.json"))
        .await;
    let entries = |doc: &Value| -> Vec<Value> {
        doc["items"][0]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["catalogEntry"].clone())
            .collect()
    };
    let (theirs, ours) = (entries(&theirs), entries(&ours));
    assert_eq!(ours.len(), 4);
    for (t, o) in theirs.iter().zip(&ours) {
        for field in ["version", "published", "listed", "vulnerabilities"] {
            assert_eq!(t[field], o[field], "{field}");
        }
        assert_eq!(t["deprecation"]["reasons"], o["deprecation"]["reasons"]);
    }
    assert_eq!(ours[0]["deprecation"]["reasons"][0], "Legacy");
    assert_eq!(ours[0]["vulnerabilities"][0]["severity"], "2");
    assert_eq!(ours[3]["listed"], false, "4.0.0 is unlisted upstream");
    let semver1 = c.json(&down.url("registration/dep.lib/index.json")).await;
    assert_eq!(semver1["items"][0]["items"].as_array().unwrap().len(), 3);

    // Package files: byte-identical, and stored in this feed's bucket.
    let theirs = bytes(
        &c,
        &up.server
            .url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg"),
    )
    .await;
    let ours = bytes(
        &c,
        &down.url("flatcontainer/Dep.Lib/2.0.0/dep.lib.2.0.0.nupkg"),
    )
    .await;
    assert_eq!(ours, theirs);
    let fetched = up.requests(FILE_ROUTE).await;
    let again = bytes(
        &c,
        &down.url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg"),
    )
    .await;
    assert_eq!(again, theirs, "served from the bucket");
    let stored = down
        .data_dir()
        .join("upstream/up/packages/dep.lib/2.0.0/dep.lib.2.0.0.nupkg");
    assert_eq!(std::fs::read(stored).unwrap(), theirs);
    let nuspec = bytes(&c, &down.url("flatcontainer/dep.lib/2.0.0/dep.lib.nuspec")).await;
    assert_eq!(
        nuspec,
        bytes(
            &c,
            &up.server.url("flatcontainer/dep.lib/2.0.0/dep.lib.nuspec")
        )
        .await
    );
    let missing = c
        .get(&down.url("flatcontainer/dep.lib/9.0.0/dep.lib.9.0.0.nupkg"))
        .await;
    assert_eq!(missing.status(), 404);
    let unknown = c
        .get(&down.url("flatcontainer/no.such.lib/index.json"))
        .await;
    assert_eq!(unknown.status(), 404);

    // fsck and gc leave the cache alone: no orphans, nothing removed.
    let storage = down.state.feed.storage().clone();
    let report = fsck::fsck(&storage, &fsck::FsckOptions::default())
        .await
        .unwrap();
    assert!(
        report.problems.is_empty() && report.orphans.is_empty(),
        "{report:?}"
    );
    let options = gc::GcOptions {
        grace: Duration::ZERO,
        dry_run: false,
        upstream_max_idle: None,
    };
    gc::gc(&storage, &options).await.unwrap();
    let after = bytes(
        &c,
        &down.url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg"),
    )
    .await;
    assert_eq!(after, theirs);
    assert!(
        down.stored_files()
            .iter()
            .any(|f| f.starts_with("upstream/up/docs/"))
    );
    // The nuspec and the missing version asked the upstream; the nupkg's later reads did not.
    assert_eq!(up.requests(FILE_ROUTE).await, fetched + 3);

    // Metrics per upstream.
    let metrics = c
        .get(&format!("{}/metrics", down.root))
        .await
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> u64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("no {series} in {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("nuget_feed_upstream_requests_total{upstream=\"up\"}") >= 5);
    assert!(value("nuget_feed_upstream_received_bytes_total{upstream=\"up\"}") > 0);
    assert!(value("nuget_feed_upstream_cache_total{upstream=\"up\",result=\"hit\"}") > 0);
    assert!(value("nuget_feed_upstream_cache_total{upstream=\"up\",result=\"miss\"}") > 0);
    assert_eq!(
        value("nuget_feed_upstream_errors_total{upstream=\"up\"}"),
        0
    );

    down.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_ids_and_local_patterns_hide_the_upstream_entirely() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();
    // Local wins, even over a higher upstream version.
    let r = c
        .push(
            &down,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Contoso.Core", "1.0.0").build(),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let versions = c
        .json(&down.url("flatcontainer/contoso.core/index.json"))
        .await;
    assert_eq!(versions["versions"], serde_json::json!(["1.0.0"]));
    for hive in ["registration", "registration-gz-semver2"] {
        let index = c
            .doc(&down.url(&format!("{hive}/contoso.core/index.json")))
            .await;
        assert_eq!(index["count"], 1);
        assert_eq!(index["items"][0]["upper"], "1.0.0");
    }
    let r = c
        .get(&down.url("flatcontainer/contoso.core/99.0.0/contoso.core.99.0.0.nupkg"))
        .await;
    assert_eq!(r.status(), 404);
    let r = c
        .get(&down.url("registration-gz-semver2/contoso.core/99.0.0.json"))
        .await;
    assert_eq!(r.status(), 404);

    // A local pattern: never asked upstream, not even once.
    let before = up.requests(VERSIONS_ROUTE).await;
    for url in [
        "flatcontainer/internal.secret/index.json",
        "registration-gz-semver2/internal.secret/index.json",
        "flatcontainer/internal.secret/2.0.0/internal.secret.2.0.0.nupkg",
    ] {
        assert_eq!(c.get(&down.url(url)).await.status(), 404, "{url}");
    }
    assert_eq!(
        up.requests(VERSIONS_ROUTE).await,
        before,
        "no request for Internal.Secret"
    );
    // The same reads of an upstream id do ask (so the count above could have moved).
    c.json(&down.url("flatcontainer/dep.lib/index.json")).await;
    assert_eq!(up.requests(VERSIONS_ROUTE).await, before + 1);
    down.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_serves_the_cache_with_a_warning_and_never_a_500() {
    let up = Upstream::start().await;
    // Metadata is stale at once, so every read asks the upstream first.
    let down = downstream(&up, 0).await;
    let c = Client::new();
    let versions = c.json(&down.url("flatcontainer/big.lib/index.json")).await;
    let index_url = down.url("registration-gz-semver2/big.lib/index.json");
    let index = c.doc(&index_url).await;
    let nupkg_url = down.url("flatcontainer/big.lib/1.0.7/big.lib.1.0.7.nupkg");
    let nupkg = bytes(&c, &nupkg_url).await;

    up.proxy.set(Mode::Refuse);
    for (url, expected) in [
        (down.url("flatcontainer/big.lib/index.json"), versions),
        (index_url.clone(), index),
    ] {
        let r = c.get(&url).await;
        assert_eq!(r.status(), 200, "{url}");
        let warning = r.headers()["x-nuget-warning"].to_str().unwrap().to_owned();
        assert!(warning.contains("'up' is unreachable"), "{warning}");
        assert_eq!(c.doc(&url).await, expected);
    }
    let r = c.get(&nupkg_url).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-nuget-warning"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), nupkg);

    // Nothing cached: a 502 that says why, never a 500.
    for url in [
        "flatcontainer/big.lib/1.0.8/big.lib.1.0.8.nupkg",
        "flatcontainer/dep.lib/index.json",
        "registration-gz-semver2/big.lib/page/1.0.0/1.0.63.json",
        "registration/dep.lib/index.json",
    ] {
        let r = c.get(&down.url(url)).await;
        assert_eq!(r.status(), 502, "{url}");
        let body: Value = r.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("upstream source `up` is unreachable"),
            "{message}"
        );
    }
    // A hanging upstream times out the same way.
    up.proxy.set(Mode::Blackhole);
    let r = c
        .get(&down.url("flatcontainer/never.seen/index.json"))
        .await;
    assert_eq!(r.status(), 502);

    // Back up: fresh again, without the warning.
    up.proxy.set(Mode::Pass);
    let r = c.get(&down.url("flatcontainer/big.lib/index.json")).await;
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("x-nuget-warning"));
    down.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_downloads_fetch_from_the_upstream_once() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let url = down.url("flatcontainer/big.lib/1.0.42/big.lib.1.0.42.nupkg");
    let downloads = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { bytes(&Client::new(), &url).await })
    });
    let got: Vec<Vec<u8>> = futures::future::join_all(downloads)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        up.requests(FILE_ROUTE).await,
        1,
        "one upstream download for eight"
    );
    let theirs = bytes(
        &Client::new(),
        &up.server
            .url("flatcontainer/big.lib/1.0.42/big.lib.1.0.42.nupkg"),
    )
    .await;
    assert!(got.iter().all(|b| *b == theirs));
    down.stop().await;
    up.stop().await;
}

/// Bytes no compressor shrinks (xorshift), so a package of them is as large as they are.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The first download of an upstream package streams while it is stored: an upstream that
/// dies mid-body gives the client a broken download (never a short "complete" one) and leaves
/// nothing stored, not even a staged part; the next download of the large (multi-part)
/// package arrives whole, byte-identical, and is stored whole (issue 13).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_download_cut_off_upstream_stores_nothing_and_the_next_stores_it_whole() {
    let up = Upstream::start().await;
    let c = Client::new();
    let large = PackageBuilder::new("Large.Lib", "1.0.0")
        .file("content/blob.bin", &noise(7 << 20))
        .build();
    assert!(large.len() > 7 << 20);
    let r = c.push(&up.server, Some(ADMIN_KEY), &large).await;
    assert_eq!(r.status(), 201);
    let down = downstream(&up, 600).await;
    // The metadata first (small answers), then the upstream dies 1 MiB into each answer.
    let r = c.get(&down.url("flatcontainer/large.lib/index.json")).await;
    assert_eq!(r.status(), 200);
    up.proxy.set_cut_after(1 << 20);
    let url = down.url("flatcontainer/large.lib/1.0.0/large.lib.1.0.0.nupkg");
    // The switch closed the pooled connection to the upstream; a request that meets it before
    // the client noticed fails without reaching the upstream (502), so ask again.
    let mut r = c.get(&url).await;
    for _ in 0..3 {
        if r.status() != 502 {
            break;
        }
        r = c.get(&url).await;
    }
    assert_eq!(r.status(), 200, "the download started before the cut");
    assert_eq!(r.content_length(), Some(large.len() as u64));
    assert!(
        r.bytes().await.is_err(),
        "a body cut off upstream must reach the client broken"
    );
    let cached: Vec<String> = down
        .stored_files()
        .into_iter()
        .filter(|f| f.starts_with("upstream/up/packages/"))
        .collect();
    assert!(cached.is_empty(), "nothing stored: {cached:?}");
    assert_eq!(up.requests(FILE_ROUTE).await, 1);

    up.proxy.set(Mode::Pass);
    assert_eq!(bytes(&c, &url).await, large, "the next download is whole");
    let stored = down
        .data_dir()
        .join("upstream/up/packages/large.lib/1.0.0/large.lib.1.0.0.nupkg");
    assert_eq!(std::fs::read(stored).unwrap(), large, "stored whole");
    assert_eq!(bytes(&c, &url).await, large, "then from the bucket");
    assert_eq!(up.requests(FILE_ROUTE).await, 2);
    down.stop().await;
    up.stop().await;
}

/// Icons, readmes and license files of upstream packages are served from the cached
/// `.nupkg` (fetched first when it is not cached), as for local packages; a package whose
/// nuspec names none is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icons_readmes_and_licenses_of_upstream_packages_come_from_the_cached_nupkg() {
    let up = Upstream::start().await;
    let c = Client::new();
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    let docs = PackageBuilder::new("Docs.Lib", "1.0.0")
        .icon("images/icon.jpg", &jpeg)
        .readme("docs/README.md", "# Docs.Lib\n")
        .license_file("LICENSE.txt", b"MIT, really")
        .build();
    let r = c.push(&up.server, Some(ADMIN_KEY), &docs).await;
    assert_eq!(r.status(), 201);
    let down = downstream(&up, 600).await;

    let leaf = c.doc(&down.url("registration/docs.lib/index.json")).await;
    let entry = &leaf["items"][0]["items"][0]["catalogEntry"];
    let icon_url = entry["iconUrl"].as_str().unwrap();
    assert_eq!(icon_url, down.url("flatcontainer/docs.lib/1.0.0/icon"));
    let r = c.get(icon_url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().to_vec(), jpeg);
    assert_eq!(
        bytes(&c, &down.url("flatcontainer/docs.lib/1.0.0/readme")).await,
        b"# Docs.Lib\n"
    );
    assert_eq!(
        bytes(&c, &down.url("flatcontainer/Docs.Lib/1.0.0/license")).await,
        b"MIT, really"
    );
    let stored = down.data_dir().join("upstream/up/packages/docs.lib/1.0.0");
    assert_eq!(
        std::fs::read(stored.join("docs.lib.1.0.0.nupkg")).unwrap(),
        docs
    );
    assert_eq!(std::fs::read(stored.join("icon")).unwrap(), jpeg);
    assert_eq!(
        up.requests(FILE_ROUTE).await,
        1,
        "one nupkg download for all three"
    );

    let none = c.get(&down.url("flatcontainer/dep.lib/2.0.0/icon")).await;
    assert_eq!(none.status(), 404, "Dep.Lib has no icon");
    down.stop().await;
    up.stop().await;
}

/// Downloads served from the cache count as local ones do, and search shows them added to
/// the upstream's own counts (issue 13).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_of_cached_upstream_packages_count_in_search() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();
    let search = format!("{}?q=Dep.Lib&prerelease=true", down.url("query"));
    let theirs = c.json(&search).await;
    let dep = |doc: &Value| -> Value {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == "Dep.Lib")
            .cloned()
            .unwrap()
    };
    let v2_downloads = |entry: &Value| -> u64 {
        entry["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["version"] == "2.0.0")
            .unwrap()["downloads"]
            .as_u64()
            .unwrap()
    };
    let before = dep(&theirs);
    for _ in 0..3 {
        bytes(
            &c,
            &down.url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg"),
        )
        .await;
    }
    // The upstream's answer is cached for the TTL: the difference is this feed's three.
    let after = dep(&c.json(&search).await);
    assert_eq!(v2_downloads(&after), v2_downloads(&before) + 3);
    assert_eq!(
        after["totalDownloads"].as_u64().unwrap(),
        before["totalDownloads"].as_u64().unwrap() + 3
    );
    down.stop().await;
    up.stop().await;
}

/// Makes every file under `folder` look written `days` ago.
fn age_files(folder: &std::path::Path, days: u64) {
    let then = std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
    for entry in std::fs::read_dir(folder).unwrap() {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(then).unwrap();
    }
}

/// `gc` with `upstream_cache_max_idle_days` removes cached upstream packages no one
/// downloaded for that long (a download from the cache writes the day's use marker, which
/// keeps a package), `fsck` reports the cache, and a removed package is fetched again on its
/// next download (issue 13).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_expires_cached_upstream_packages_idle_past_the_max_and_keeps_used_ones() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();
    let url = |v: &str| down.url(&format!("flatcontainer/dep.lib/{v}/dep.lib.{v}.nupkg"));
    let idle = bytes(&c, &url("1.0.0")).await;
    bytes(&c, &url("2.0.0")).await;
    let folder = |v: &str| {
        down.data_dir()
            .join(format!("upstream/up/packages/dep.lib/{v}"))
    };
    age_files(&folder("1.0.0"), 40);
    age_files(&folder("2.0.0"), 40);
    // 2.0.0 is used today: its marker is written in the background.
    bytes(&c, &url("2.0.0")).await;
    let marker = folder("2.0.0").join(".used");
    for _ in 0..100 {
        if marker.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(marker.exists(), "a download from the cache records its day");

    let storage = down.state.feed.storage().clone();
    let report = fsck::fsck(&storage, &fsck::FsckOptions::default())
        .await
        .unwrap();
    assert!(
        report.problems.is_empty() && report.orphans.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.upstream_cache.versions, 2);
    assert!(report.upstream_cache.max_idle_days >= 40, "{report:?}");

    let mut options = gc::GcOptions {
        grace: Duration::ZERO,
        dry_run: true,
        upstream_max_idle: Some(Duration::from_secs(30 * 86_400)),
    };
    let report = gc::gc(&storage, &options).await.unwrap();
    assert!(
        report
            .removed
            .iter()
            .all(|p| p.starts_with("upstream/up/packages/dep.lib/1.0.0/")),
        "{report:?}"
    );
    assert!(
        report.removed.iter().any(|p| p.ends_with(".nupkg")),
        "{report:?}"
    );
    assert!(
        folder("1.0.0").join("dep.lib.1.0.0.nupkg").exists(),
        "a dry run removes nothing"
    );
    options.dry_run = false;
    gc::gc(&storage, &options).await.unwrap();
    assert!(
        !folder("1.0.0").join("dep.lib.1.0.0.nupkg").exists(),
        "idle: removed"
    );
    assert!(
        folder("2.0.0").join("dep.lib.2.0.0.nupkg").exists(),
        "used: kept"
    );
    assert!(
        down.stored_files()
            .iter()
            .any(|f| f.starts_with("upstream/up/docs/")),
        "metadata is left to its TTL"
    );

    let fetched = up.requests(FILE_ROUTE).await;
    assert_eq!(bytes(&c, &url("1.0.0")).await, idle, "fetched again");
    assert_eq!(up.requests(FILE_ROUTE).await, fetched + 1);
    down.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_an_upstream_id_needs_the_take_over_scope() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();
    c.json(&down.url("flatcontainer/dep.lib/index.json")).await;
    let pkg = PackageBuilder::new("Dep.Lib", "9.0.0").build();
    let r = c.push(&down, Some(ADMIN_KEY), &pkg).await;
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("take_over") && text.contains("`up`"),
        "{text}"
    );
    let versions = c.json(&down.url("flatcontainer/dep.lib/index.json")).await;
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        4,
        "still the upstream's"
    );

    let r = c.push(&down, Some(TAKER_KEY), &pkg).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let versions = c.json(&down.url("flatcontainer/dep.lib/index.json")).await;
    assert_eq!(
        versions["versions"],
        serde_json::json!(["9.0.0"]),
        "local from now on"
    );
    // An id never seen upstream needs no take_over.
    let r = c
        .push(
            &down,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Fresh.Lib", "1.0.0").build(),
        )
        .await;
    assert_eq!(r.status(), 201);
    down.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_autocomplete_list_upstream_hits_after_local_ones() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();
    for id in ["Contoso.Core", "Local.Only"] {
        let r = c
            .push(
                &down,
                Some(ADMIN_KEY),
                &PackageBuilder::new(id, "1.0.0").build(),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let ids = |doc: &Value, field: Option<&str>| -> Vec<String> {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| match field {
                Some(f) => e[f].as_str().unwrap().to_ascii_lowercase(),
                None => e.as_str().unwrap().to_ascii_lowercase(),
            })
            .collect()
    };
    let page = c
        .doc(&down.url("query?q=&prerelease=true&semVerLevel=2.0.0"))
        .await;
    let got = ids(&page, Some("id"));
    assert_eq!(got.len(), 4, "{got:?}");
    let mut local: Vec<_> = got[..2].to_vec();
    local.sort();
    assert_eq!(local, ["contoso.core", "local.only"], "local hits first");
    let mut upstream: Vec<_> = got[2..].to_vec();
    upstream.sort();
    assert_eq!(
        upstream,
        ["big.lib", "dep.lib"],
        "neither the local Contoso.Core nor the local pattern's Internal.Secret from upstream"
    );
    assert_eq!(page["totalHits"], 2 + 4, "local + upstream hits");
    for entry in &page["data"].as_array().unwrap()[2..] {
        let registration = entry["registration"].as_str().unwrap();
        assert!(
            registration.starts_with(&down.url("registration-gz-semver2/")),
            "{registration}"
        );
    }
    // Paging runs across the two parts.
    let second = c
        .doc(&down.url("query?q=&prerelease=true&skip=2&take=1"))
        .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(upstream.contains(&ids(&second, Some("id"))[0]));

    let ac = c.doc(&down.url("autocomplete?q=&prerelease=true")).await;
    let got = ids(&ac, None);
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(!got.contains(&"internal.secret".to_owned()));
    assert_eq!(ac["totalHits"], 6);

    // Version mode: the upstream's listed versions of an upstream id, local ones of a local id.
    let versions = c
        .doc(&down.url("autocomplete?id=Dep.Lib&prerelease=true&semVerLevel=2.0.0"))
        .await;
    assert_eq!(
        versions["data"],
        serde_json::json!(["1.0.0", "2.0.0", "3.0.0-beta.1"])
    );
    let local = c.doc(&down.url("autocomplete?id=Contoso.Core")).await;
    assert_eq!(local["data"], serde_json::json!(["1.0.0"]));

    // An unreachable upstream: the local hits, with a warning.
    up.proxy.set(Mode::Refuse);
    let r = c.get(&down.url("query?q=local&take=5")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-nuget-warning"));
    down.stop().await;
    up.stop().await;
}

/// With redirect_downloads on S3 (moto), a cached upstream package is a redirect to its
/// pre-signed URL in the cache, as a local one is; the first download is served directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_upstream_packages_redirect_to_presigned_urls_on_s3() {
    let Some(moto) = nuget_test_support::moto::Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("feeds");
    let options = moto.storage_options();
    let up = Upstream::start().await;
    let index = up.index_url();
    let down = TestServer::start(move |f, _| {
        f.storage = Some(nuget_feed_server::config::StorageConfig {
            url: Some("s3://feeds/mirror".into()),
            options,
        });
        f.redirect_downloads = Some(true);
        f.upstreams = vec![nuget_feed_config::UpstreamConfig::new("up", index)];
    })
    .await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = down.url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg");
    let theirs = bytes(
        &Client::new(),
        &up.server
            .url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg"),
    )
    .await;
    let first = no_follow.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200, "the first download fetches and stores");
    assert_eq!(first.bytes().await.unwrap().to_vec(), theirs);
    let r = no_follow.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("mirror/upstream/up/packages/dep.lib/2.0.0/"),
        "{location}"
    );
    let stored = no_follow.get(&location).send().await.unwrap();
    assert_eq!(stored.bytes().await.unwrap().to_vec(), theirs);
    down.stop().await;
    up.stop().await;
}

/// What a NuGet 6.7+ client audits with (NuGetAudit): the pages of the service index's
/// `VulnerabilityInfo/6.7.0` index, unioned (VUL-2), as `id -> advisory URLs`; also every URL
/// it was sent to.
async fn audit_data(
    c: &Client,
    service_index: &str,
) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let index = c.json(service_index).await;
    let info = index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == "VulnerabilityInfo/6.7.0")
        .unwrap_or_else(|| panic!("no VulnerabilityInfo/6.7.0: {index}"))["@id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut urls = vec![info.clone()];
    let mut advisories: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for page in c.json(&info).await.as_array().unwrap() {
        let url = page["@id"].as_str().unwrap();
        urls.push(url.to_owned());
        for (id, list) in c.json(url).await.as_object().unwrap() {
            for a in list.as_array().unwrap() {
                advisories
                    .entry(id.clone())
                    .or_default()
                    .push(a["url"].as_str().unwrap().to_owned());
            }
        }
    }
    (advisories, urls)
}

/// A feed with `up` as its upstream (mirrored every second), its own advisory for
/// `Local.Lib`, over the storage folder `storage` when given (another replica).
async fn auditing_downstream(up: &Upstream, storage: Option<std::path::PathBuf>) -> TestServer {
    let index = up.index_url();
    TestServer::start(move |f, dir| {
        let mut upstream = nuget_feed_config::UpstreamConfig::new("up", index);
        upstream.vulnerability_refresh_seconds = Some(1);
        upstream.timeout_ms = Some(5000);
        f.upstreams = vec![upstream];
        let path = dir.join("advisories.yaml");
        std::fs::write(
            &path,
            "- id: Local.Lib\n  url: https://example.com/advisory/local\n  severity: 1\n  versions: \"(, 2.0.0)\"\n",
        )
        .unwrap();
        f.vulnerabilities_file = Some(path);
        if let Some(storage) = storage {
            f.storage.as_mut().unwrap().url = Some(storage.to_string_lossy().into_owned());
        }
    })
    .await
}

/// Waits until the feed's vulnerability index lists `pages` pages (the mirror runs beside
/// the server; bounded, so a mirror that never comes fails the test).
async fn wait_for_pages(c: &Client, feed: &TestServer, pages: usize) -> Value {
    for _ in 0..200 {
        let index = c.json(&feed.url("vulnerabilities/index.json")).await;
        if index.as_array().unwrap().len() == pages {
            return index;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the vulnerability index never listed {pages} pages");
}

/// The mirrored index as stored: when the upstream's index was last read.
fn mirror_checked(feed: &TestServer) -> String {
    let path = feed
        .data_dir()
        .join("upstream/up/vulnerabilities/index.json");
    let stored: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    stored["checked"].as_str().unwrap().to_owned()
}

// Issue 13: `dotnet restore` audits with this one source: our advisories and the upstream's,
// every URL this feed's, kept through an outage and shared by replicas through the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulnerability_info_serves_the_upstreams_advisories_mirrored_beside_ours() {
    let up = Upstream::start().await;
    let down = auditing_downstream(&up, None).await;
    let c = Client::new();
    let index = wait_for_pages(&c, &down, 2).await;
    assert_eq!(index[0]["@name"], "base");
    assert_eq!(index[1]["@name"], "up_base");
    let theirs = c.json(&up.server.url("vulnerabilities/index.json")).await;
    assert_eq!(index[1]["@updated"], theirs[0]["@updated"]);

    let (advisories, urls) = audit_data(&c, &down.url("index.json")).await;
    assert_eq!(
        advisories,
        BTreeMap::from([
            (
                "dep.lib".to_owned(),
                vec!["https://example.com/advisory/1".to_owned()]
            ),
            (
                "local.lib".to_owned(),
                vec!["https://example.com/advisory/local".to_owned()]
            ),
        ])
    );
    let upstream_host = up.proxy.endpoint();
    for url in &urls {
        assert!(url.starts_with(&down.base), "{url} is not this feed's");
        assert!(!url.contains(&upstream_host), "{url}");
    }
    // The mirrored page is the upstream's, byte for byte.
    assert_eq!(
        bytes(&c, &urls[2]).await,
        bytes(&c, &up.server.url("vulnerabilities/base.json")).await
    );

    // Refreshes read the upstream's index again, but its page only when `@updated` changed.
    let checked = mirror_checked(&down);
    let (index_reads, page_reads) = (
        up.requests("/vulnerabilities/index.json").await,
        up.requests("/vulnerabilities/{page}").await,
    );
    for _ in 0..200 {
        if mirror_checked(&down) != checked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(mirror_checked(&down), checked, "the mirror was refreshed");
    assert!(up.requests("/vulnerabilities/index.json").await > index_reads);
    assert_eq!(up.requests("/vulnerabilities/{page}").await, page_reads);

    // Upstream down: this replica, and a new one over the same bucket, serve the last copy.
    up.proxy.set(Mode::Refuse);
    let replica = auditing_downstream(&up, Some(down.data_dir())).await;
    for feed in [&down, &replica] {
        wait_for_pages(&c, feed, 2).await;
        let (kept, _) = audit_data(&c, &feed.url("index.json")).await;
        assert_eq!(kept, advisories);
    }
    // Names that the mirror does not list are 404, never a read of something else.
    for path in [
        "vulnerabilities/upstream/up/other.json",
        "vulnerabilities/upstream/nobody/base.json",
        "vulnerabilities/upstream/up/base",
    ] {
        assert_eq!(c.get(&down.url(path)).await.status(), 404, "{path}");
    }
    replica.stop().await;
    down.stop().await;
    up.stop().await;
}

// Issue 13 "V2 where served": an id only an upstream has reads through the V2 views by the one
// origin rule (local ids and `local_packages` are never looked up), built from its registration
// (every page), with what the upstream's own V2 feed says; Debian's NuGet 2.8 installs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_reads_of_an_upstream_id_come_from_its_registration() {
    let up = Upstream::start().await;
    let down = downstream(&up, 600).await;
    let c = Client::new();
    let (ours, theirs) = (down.url("api/v2"), up.server.url("api/v2"));

    let query = "FindPackagesById()?id='Dep.Lib'&semVerLevel=2.0.0";
    let found = feed(&c, &format!("{ours}/{query}")).await;
    let upstream_v2 = feed(&c, &format!("{theirs}/{query}")).await;
    assert_eq!(
        found.versions(),
        [
            "Dep.Lib 1.0.0",
            "Dep.Lib 2.0.0",
            "Dep.Lib 3.0.0-beta.1",
            "Dep.Lib 4.0.0"
        ]
    );
    for (o, t) in found.entries.iter().zip(&upstream_v2.entries) {
        for field in [
            "Id",
            "Version",
            "Published",
            "Listed",
            "IsLatestVersion",
            "IsAbsoluteLatestVersion",
            "IsPrerelease",
            "Description",
            "Authors",
            "Dependencies",
        ] {
            assert_eq!(o[field], t[field], "{} {field}", o["Version"]);
        }
    }
    assert_eq!(found.entries[3]["Listed"], "false", "4.0.0 is unlisted");
    // A SemVer1 client does not see the SemVer2 version.
    let semver1 = feed(&c, &format!("{ours}/FindPackagesById()?id='dep.lib'")).await;
    assert_eq!(semver1.entries.len(), 3);
    let count = c
        .get(&format!("{ours}/FindPackagesById()/$count?id='Dep.Lib'"))
        .await;
    assert_eq!(count.text().await.unwrap(), "3");
    let filtered = feed(
        &c,
        &format!("{ours}/Packages()?$filter=tolower(Id) eq 'dep.lib'&semVerLevel=2.0.0"),
    )
    .await;
    assert_eq!(filtered.versions(), found.versions());

    // One version on the fourth page of a 205-version id (a page document of its own), and its
    // download at the V2 content URL: the upstream's bytes.
    let entry = feed(
        &c,
        &format!("{ours}/Packages(Id='Big.Lib',Version='1.0.200')"),
    )
    .await;
    let src = entry.entries[0]["content@src"].clone();
    assert_eq!(src, format!("{ours}/package/Big.Lib/1.0.200"));
    assert_eq!(
        bytes(&c, &src).await,
        bytes(
            &c,
            &up.server
                .url("flatcontainer/big.lib/1.0.200/big.lib.1.0.200.nupkg")
        )
        .await
    );

    // Local always wins: a local pattern is never looked up, and neither is a missing version.
    for path in [
        "Packages(Id='Internal.Secret',Version='2.0.0')",
        "Packages(Id='Dep.Lib',Version='9.9.9')",
    ] {
        assert_eq!(
            c.get(&format!("{ours}/{path}")).await.status(),
            404,
            "{path}"
        );
    }
    let hidden = feed(
        &c,
        &format!("{ours}/FindPackagesById()?id='Internal.Secret'"),
    )
    .await;
    assert!(hidden.entries.is_empty());

    // Debian's NuGet 2.8 (V2 only) installs the upstream-only package through this feed.
    if let Some(nuget) = nuget_test_support::nuget_v2::NuGetV2::new_or_skip() {
        let dir = tempfile::tempdir().unwrap();
        let (src, out_dir) = (ours.clone(), dir.path().to_owned());
        let out = blocking(move || nuget.install("Dep.Lib", "2.0.0", &src, &out_dir)).await;
        let text = nuget_test_support::process::output_text(&out);
        assert!(out.status.success(), "{text}");
        let installed = dir.path().join("Dep.Lib.2.0.0").join("Dep.Lib.2.0.0.nupkg");
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            bytes(
                &c,
                &up.server
                    .url("flatcontainer/dep.lib/2.0.0/dep.lib.2.0.0.nupkg")
            )
            .await,
            "{text}"
        );
    }

    // Upstream down, metadata past its TTL: the cached copy, with the warning.
    let stale = downstream(&up, 0).await;
    let url = stale.url("api/v2/FindPackagesById()?id='Dep.Lib'");
    let before = feed(&c, &url).await;
    up.proxy.set(Mode::Refuse);
    let r = c.get(&url).await;
    assert_eq!(r.status(), 200);
    let warning = r.headers()["x-nuget-warning"].to_str().unwrap().to_owned();
    assert!(warning.contains("'up' is unreachable"), "{warning}");
    assert_eq!(feed(&c, &url).await.versions(), before.versions());
    stale.stop().await;
    down.stop().await;
    up.stop().await;
}
