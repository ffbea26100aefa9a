//! Upstream sources end to end, against a server that is not our own: a static NuGet V3 feed
//! in nuget.org's shapes (gzip-encoded registration, separate page documents; files served by
//! nginx, `nuget_test_support::static_feed`). First the fixture proves itself: NuGet.exe 4.0
//! and 5.8 install from it directly. Then the real `nuget-feed-server` binary reads through to
//! it: NuGet.exe installs packages that exist only upstream, behind nginx with a path prefix
//! too; with the upstream killed the same install works from a fresh client; a `Contoso.Core
//! 99.0.0` published upstream never reaches a client of a feed that has `Contoso.Core`
//! locally or a `Contoso.*` local pattern; the cached bytes are the upstream's; and a
//! fault-injecting proxy between the feed and the upstream (slow, 500s, resets, down) never
//! makes the feed answer 500 for what it has cached.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::http::{HttpResponse, http_request};
use nuget_test_support::nuget_exe::{NuGetExe, assert_success};
use nuget_test_support::static_feed::{PAGE_SIZE, StaticFeed, StaticFeedBuilder};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

/// The package a test installs and, after it, its dependencies as NuGet.exe resolves them
/// (the lowest version in range: `Fabrikam.Core 1.0.65` is on the second page of an id whose
/// pages are separate documents).
const APP_CLOSURE: [(&str, &str); 3] = [
    ("Fabrikam.App", "1.0.0"),
    ("Fabrikam.Core", "1.0.65"),
    ("Fabrikam.Json", "2.0.0"),
];
/// Versions of `Fabrikam.Core` (`1.0.0` to `1.0.69`): more than a page.
const CORE_VERSIONS: usize = PAGE_SIZE + 6;

/// The upstream's packages: `Fabrikam.App` depends on `Fabrikam.Core` (70 versions, one
/// deprecated, one vulnerable, one unlisted, and a SemVer2 pre-release) and `Fabrikam.Json`;
/// `Contoso.Core 99.0.0` is the dependency-confusion bait.
fn upstream_packages() -> StaticFeedBuilder {
    let mut feed = StaticFeed::builder();
    for patch in 0..CORE_VERSIONS {
        feed = feed.package(PackageBuilder::new("Fabrikam.Core", &format!("1.0.{patch}")).build());
    }
    let app = ["netstandard2.0"].into_iter().map(Some).chain([None]).fold(
        PackageBuilder::new("Fabrikam.App", "1.0.0"),
        |p, tfm| {
            p.dependency(tfm, "Fabrikam.Core", "1.0.65").dependency(
                tfm,
                "Fabrikam.Json",
                "[2.0.0, 3.0.0)",
            )
        },
    );
    feed.package(PackageBuilder::new("Fabrikam.Core", "2.0.0-beta.1").build())
        .package(PackageBuilder::new("Fabrikam.Json", "1.0.0").build())
        .package(PackageBuilder::new("Fabrikam.Json", "2.0.0").build())
        .package(app.build())
        .package(PackageBuilder::new("Contoso.Core", "99.0.0").build())
        .deprecated(
            "Fabrikam.Core",
            "1.0.1",
            "Legacy",
            "Use Fabrikam.Core 1.0.69",
            Some("Fabrikam.Core"),
        )
        .vulnerable(
            "Fabrikam.Core",
            "1.0.2",
            "https://github.com/advisories/GHSA-fab1-0000-0002",
            2,
        )
        .unlisted("Fabrikam.Core", "1.0.3")
}

fn sha512(bytes: &[u8]) -> Vec<u8> {
    Sha512::digest(bytes).to_vec()
}

/// The sha512 of each package of [`APP_CLOSURE`] as the upstream serves it.
fn closure_hashes(upstream: &StaticFeed) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    APP_CLOSURE
        .iter()
        .map(|&(id, v)| (id, v, sha512(upstream.nupkg(id, v))))
        .collect()
}

/// Every package of the closure is installed in `out_dir`, byte-identical to the upstream's.
fn assert_installed(out_dir: &Path, expected: &[(&str, &str, Vec<u8>)]) {
    for (id, version, hash) in expected {
        let nupkg = out_dir
            .join(format!("{id}.{version}"))
            .join(format!("{id}.{version}.nupkg"));
        let bytes = std::fs::read(&nupkg).unwrap_or_else(|e| panic!("{}: {e}", nupkg.display()));
        assert!(
            sha512(&bytes) == *hash,
            "{} differs from the upstream's bytes",
            nupkg.display()
        );
    }
}

/// `GET url`, no redirects, no decompression.
fn get(url: &str) -> HttpResponse {
    http_request("GET", url, &[], b"", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The fixture itself, read without any client: what makes it nuget.org-shaped.
#[test]
fn static_feed_serves_gzip_registration_with_separate_pages() {
    let Some(upstream) = upstream_packages().serve_or_skip() else {
        return;
    };
    let index: Value = serde_json::from_slice(&get(&upstream.index_url()).body).unwrap();
    let hive = index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == "RegistrationsBaseUrl/3.6.0")
        .unwrap()["@id"]
        .as_str()
        .unwrap()
        .to_owned();

    // REG-1: gzip whatever the client accepts.
    let response = get(&format!("{hive}fabrikam.core/index.json"));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Encoding"), Some("gzip"));
    let registration = gunzip_json(&response.body);
    // REG-5: 71 versions, two pages, each a document of its own (no inlined items).
    assert_eq!(registration["count"], 2);
    let pages = registration["items"].as_array().unwrap();
    assert!(pages.iter().all(|p| p.get("items").is_none()), "{pages:?}");
    assert_eq!(pages[1]["lower"], "1.0.64");
    assert_eq!(pages[1]["upper"], "2.0.0-beta.1");
    let page = get(pages[0]["@id"].as_str().unwrap());
    assert_eq!(page.header("Content-Encoding"), Some("gzip"));
    let page = gunzip_json(&page.body);
    assert_eq!(page["count"], PAGE_SIZE);
    assert_eq!(page["parent"], registration["@id"]);
    let entry = |v: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|leaf| leaf["catalogEntry"]["version"] == v)
            .unwrap()["catalogEntry"]
            .clone()
    };
    assert_eq!(entry("1.0.1")["deprecation"]["reasons"], json!(["Legacy"]));
    assert_eq!(entry("1.0.2")["vulnerabilities"][0]["severity"], "2");
    assert_eq!(entry("1.0.3")["listed"], false);
    assert_eq!(entry("1.0.3")["published"], "1900-01-01T00:00:00+00:00");

    // A small id: its one page inlined, with dependency groups.
    let app = gunzip_json(&get(&format!("{hive}fabrikam.app/index.json")).body);
    let groups = &app["items"][0]["items"][0]["catalogEntry"]["dependencyGroups"];
    assert_eq!(groups[0]["targetFramework"], "netstandard2.0");
    assert_eq!(groups[0]["dependencies"][0]["range"], "[1.0.65, )");
    assert_eq!(groups[1].get("targetFramework"), None);

    // The SemVer1 hive leaves the SemVer2 pre-release out.
    let semver1 = index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == "RegistrationsBaseUrl/3.4.0")
        .unwrap()["@id"]
        .as_str()
        .unwrap();
    let old = gunzip_json(&get(&format!("{semver1}fabrikam.core/index.json")).body);
    assert_eq!(old["items"][1]["upper"], "1.0.69");

    // PBA-1: every version, unlisted included, ascending.
    let flat: Value = serde_json::from_slice(
        &get(&format!(
            "{}/v3-flatcontainer/fabrikam.core/index.json",
            upstream.base_url()
        ))
        .body,
    )
    .unwrap();
    assert_eq!(
        flat["versions"].as_array().unwrap().len(),
        CORE_VERSIONS + 1
    );
    assert_eq!(flat["versions"][3], "1.0.3");
    assert_eq!(flat["versions"][CORE_VERSIONS], "2.0.0-beta.1");
}

fn gunzip_json(bytes: &[u8]) -> Value {
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut text)
        .expect("a gzip body");
    serde_json::from_slice(&text).unwrap()
}

/// NuGet.exe installs `Fabrikam.App` and its dependencies straight from the static feed, and
/// walks a separate registration page to do it.
fn installs_directly_from_the_static_feed(nuget: Option<NuGetExe>) {
    let Some(nuget) = nuget else {
        return;
    };
    let Some(upstream) = upstream_packages().serve_or_skip() else {
        return;
    };
    let out_dir = nuget.root().join("installed");
    let out = nuget.install("Fabrikam.App", "1.0.0", &upstream.index_url(), &out_dir);
    assert_success(&out, "install Fabrikam.App from the static feed");
    assert_installed(&out_dir, &closure_hashes(&upstream));
    let log = upstream.access_log();
    assert!(
        log.iter()
            .any(|r| r.uri.contains("/fabrikam.core/page/") && r.status == 200),
        "the client read a separate registration page: {log:?}"
    );
}

#[test]
fn nuget_exe_4_installs_from_the_static_feed() {
    installs_directly_from_the_static_feed(NuGetExe::new_or_skip());
}

#[test]
fn nuget_exe_5_8_installs_from_the_static_feed() {
    installs_directly_from_the_static_feed(NuGetExe::v5_8_or_skip());
}
