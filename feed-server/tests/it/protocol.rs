//! The NuGet V3 protocol over real HTTP on loopback, with real .nupkg files built in the test.
//! Requirement ids refer to shared/reference/nuget-protocol.md.
#![allow(clippy::unwrap_used)]

use std::io::Read;

use crate::common::server::{ADMIN_KEY, CONTOSO_KEY, Client, READ_TOKEN, TestServer, UNLIST_KEY};
use nuget_feed_server::testing::PackageBuilder;
use serde_json::Value;

fn gunzip(bytes: &[u8]) -> Value {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    serde_json::from_str(&out).unwrap()
}

async fn push_ok(c: &Client, s: &TestServer, pkg: &PackageBuilder) {
    let r = c.push(s, Some(ADMIN_KEY), &pkg.build()).await;
    let status = r.status();
    assert_eq!(status, 201, "{}", r.text().await.unwrap());
}

fn versions_of(doc: &Value) -> Vec<String> {
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn service_index_advertises_every_client_type_under_the_feed_directory() {
    // SI-1..SI-5, PUB-3
    let s = TestServer::start(|f, _| f.path_base = Some("/team-a/main".into())).await;
    let c = Client::new();
    let doc = c.json(&s.url("index.json")).await;
    assert!(doc["version"].as_str().unwrap().starts_with("3."));
    let resources = doc["resources"].as_array().unwrap();
    let types: Vec<&str> = resources
        .iter()
        .map(|r| r["@type"].as_str().unwrap())
        .collect();
    for t in [
        "SearchQueryService/Versioned",
        "SearchQueryService/3.4.0",
        "SearchQueryService/3.0.0-beta",
        "SearchQueryService",
        "SearchAutocompleteService/3.0.0-beta",
        "RegistrationsBaseUrl",
        "RegistrationsBaseUrl/3.4.0",
        "RegistrationsBaseUrl/3.6.0",
        "RegistrationsBaseUrl/Versioned",
        "PackageBaseAddress/3.0.0",
        "PackagePublish/2.0.0",
        "SymbolPackagePublish/4.9.0",
        "ReadmeUriTemplate/6.13.0",
        "Catalog/3.0.0",
        "VulnerabilityInfo/6.7.0",
    ] {
        assert!(types.contains(&t), "missing {t}");
    }
    let dir = s.url("");
    for r in resources {
        let id = r["@id"].as_str().unwrap();
        assert!(
            id.starts_with(&dir),
            "{id} is not under {dir} (PreAuthenticate)"
        );
    }
    // Outside the path base there is no feed.
    assert_eq!(c.get(&format!("{}/index.json", s.root)).await.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn urls_follow_public_base_url_or_forwarded_headers() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let r = c
        .http
        .get(s.url("index.json"))
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "nuget.example.com")
        .header("X-Forwarded-Prefix", "/proxy")
        .send()
        .await
        .unwrap();
    let doc: Value = r.json().await.unwrap();
    let publish = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == "PackagePublish/2.0.0")
        .unwrap();
    assert_eq!(publish["@id"], "https://nuget.example.com/proxy/package");
    s.stop().await;

    let s = TestServer::start(|f, _| {
        f.public_base_url = Some("https://feeds.example.org/t/f".into());
    })
    .await;
    // The public URL's path is the path base.
    let doc = c.json(&s.url("index.json")).await;
    assert!(s.base.ends_with("/t/f"));
    for r in doc["resources"].as_array().unwrap() {
        assert!(
            r["@id"]
                .as_str()
                .unwrap()
                .starts_with("https://feeds.example.org/t/f/")
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn push_then_restore_serves_the_package_byte_identical() {
    // PUB-1, PUB-2, PUB-4, PBA-1, PBA-3, PBA-4
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let pkg = PackageBuilder::new("Contoso.Lib", "1.2.3")
        .description("A library")
        .file("lib/net8.0/Contoso.Lib.dll", b"MZ fake");
    let nupkg = pkg.build();
    let r = c.push(&s, Some(ADMIN_KEY), &nupkg).await;
    assert_eq!(r.status(), 201);

    let index = c.json(&s.url("flatcontainer/contoso.lib/index.json")).await;
    assert_eq!(versions_of(&index), ["1.2.3"]);
    let got = c
        .get(&s.url("flatcontainer/contoso.lib/1.2.3/contoso.lib.1.2.3.nupkg"))
        .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), nupkg.as_slice());
    // Any casing of id and version (N-1, N-7).
    let got = c
        .get(&s.url("flatcontainer/Contoso.LIB/1.2.3/Contoso.Lib.1.2.3.nupkg"))
        .await;
    assert_eq!(got.status(), 200);
    let nuspec = c
        .get(&s.url("flatcontainer/contoso.lib/1.2.3/contoso.lib.nuspec"))
        .await;
    assert_eq!(nuspec.status(), 200);
    assert_eq!(nuspec.text().await.unwrap(), pkg.nuspec_xml());
    // HEAD is served (G-2).
    let head = c
        .http
        .head(s.url("flatcontainer/contoso.lib/index.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn equivalent_versions_and_casings_conflict_with_409() {
    // PUB-4, N-3, N-5
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Foo", "1.0")).await;
    for (id, v) in [
        ("Foo", "1.0.0"),
        ("foo", "1.0.0.0"),
        ("FOO", "1.0.0+build.7"),
    ] {
        let r = c
            .push(&s, Some(ADMIN_KEY), &PackageBuilder::new(id, v).build())
            .await;
        assert_eq!(r.status(), 409, "{id} {v}");
        // Both clients' switches are named: dotnet's and NuGet.exe's (5.1+).
        let message = r.text().await.unwrap();
        assert!(
            message.contains("--skip-duplicate") && message.contains("-SkipDuplicate"),
            "{message}"
        );
    }
    push_ok(&c, &s, &PackageBuilder::new("Foo", "1.0.0-Beta")).await;
    let r = c
        .push(
            &s,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Foo", "1.0.0-beta").build(),
        )
        .await;
    assert_eq!(r.status(), 409, "prerelease labels are case-insensitive");
    let index = c.json(&s.url("flatcontainer/foo/index.json")).await;
    assert_eq!(versions_of(&index), ["1.0.0-beta", "1.0.0"]);
    s.stop().await;
}

#[tokio::test]
async fn keys_are_required_checked_and_scoped() {
    // PUB-6: 401 without a key, 403 for a wrong or insufficient one.
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let pkg = PackageBuilder::new("Other.Lib", "1.0.0").build();
    assert_eq!(c.push(&s, None, &pkg).await.status(), 401);
    assert_eq!(
        c.push(&s, Some("wrong-key-000000"), &pkg).await.status(),
        403
    );
    assert_eq!(c.push(&s, Some(CONTOSO_KEY), &pkg).await.status(), 403);
    assert_eq!(c.push(&s, Some(UNLIST_KEY), &pkg).await.status(), 403);
    assert!(s.stored_files().is_empty(), "{:?}", s.stored_files());
    let contoso = PackageBuilder::new("Contoso.Tools", "1.0.0").build();
    assert_eq!(c.push(&s, Some(CONTOSO_KEY), &contoso).await.status(), 201);
    let url = s.url("package/Contoso.Tools/1.0.0");
    assert_eq!(
        c.delete(&url, CONTOSO_KEY).await.status(),
        403,
        "push-only key"
    );
    assert_eq!(c.delete(&url, UNLIST_KEY).await.status(), 204);
    // Owners are the names of the keys that may push the id (SQ-10), never nuspec <owners>.
    let search = c.json(&s.url("query?q=contoso.tools")).await;
    assert_eq!(search["totalHits"], 0, "unlisted");
    assert_eq!(c.post(&url, UNLIST_KEY).await.status(), 200);
    let search = c.json(&s.url("query?q=contoso.tools")).await;
    assert_eq!(
        search["data"][0]["owners"],
        serde_json::json!(["admin", "contoso-ci"])
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_packages_are_400_and_store_nothing() {
    // PUB-4, DESIGN invariant 5
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    use nuget_feed_server::testing as t;
    let missing_icon = PackageBuilder::new("A", "1.0.0")
        .icon("icon.png", b"png")
        .nuspec_xml();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("not a zip", b"hello, not a zip".to_vec()),
        ("truncated", t::truncated_zip()),
        ("no nuspec", t::zip_without_nuspec()),
        ("two nuspecs", t::zip_with_two_nuspecs()),
        ("path traversal", t::zip_with_path_traversal()),
        ("zip bomb", t::zip_bomb()),
        ("lying entry size", t::zip_with_lying_entry_size()),
        ("xxe", t::nupkg_with_raw_nuspec("a.nuspec", t::NUSPEC_XXE)),
        (
            "billion laughs",
            t::nupkg_with_raw_nuspec("a.nuspec", t::NUSPEC_BILLION_LAUGHS),
        ),
        (
            "symbols to package endpoint",
            PackageBuilder::new("A", "1.0.0").build_symbols(&[]),
        ),
        // The nuspec names an icon the package does not contain.
        (
            "missing icon",
            t::nupkg_with_raw_nuspec("a.nuspec", &missing_icon),
        ),
    ];
    for (what, body) in bad {
        let r = c.push(&s, Some(ADMIN_KEY), &body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains("message"), "{what}: {text}");
    }
    assert!(s.stored_files().is_empty(), "{:?}", s.stored_files());
    s.stop().await;
}

#[tokio::test]
async fn oversized_uploads_are_413_while_streaming() {
    // PUB-8: 413, not 5xx (clients retry 5xx with the whole body).
    let s = TestServer::start(|f, _| f.max_package_bytes = Some(10_000)).await;
    let c = Client::new();
    // Incompressible bytes, so the package itself is over the limit.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..50_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let big = PackageBuilder::new("Big", "1.0.0")
        .file("big.bin", &noise)
        .build();
    assert!(big.len() > 40_000);
    let r = c.push(&s, Some(ADMIN_KEY), &big).await;
    assert_eq!(r.status(), 413);
    let raw = c
        .http
        .put(s.url("package"))
        .header("X-NuGet-ApiKey", ADMIN_KEY)
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 413);
    assert!(s.stored_files().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn raw_body_push_and_both_publish_urls_work() {
    // PUB-2 (with and without trailing slash), PUB-7 (raw body)
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let r = c
        .http
        .put(s.url("package"))
        .header("X-NuGet-ApiKey", ADMIN_KEY)
        .body(PackageBuilder::new("Raw", "1.0.0").build())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .push_to(
            &s.url("package"),
            Some(ADMIN_KEY),
            &PackageBuilder::new("Raw", "2.0.0").build(),
        )
        .await;
    assert_eq!(r.status(), 201);
    let index = c.json(&s.url("flatcontainer/raw/index.json")).await;
    assert_eq!(versions_of(&index), ["1.0.0", "2.0.0"]);
    s.stop().await;
}

#[tokio::test]
async fn delete_unlists_by_default_and_relist_restores() {
    // PUB-9, PUB-10, PBA-1 (unlisted stays in the flat container), REG-14, SQ-7
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Gone", "1.0.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Gone", "2.0.0")).await;
    // The client sends the id and version as typed.
    let r = c.delete(&s.url("package/GONE/2.0"), ADMIN_KEY).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        c.delete(&s.url("package/Gone/9.9.9"), ADMIN_KEY)
            .await
            .status(),
        404
    );
    assert_eq!(
        c.delete(&s.url("package/Nope/1.0.0"), ADMIN_KEY)
            .await
            .status(),
        404
    );
    let index = c.json(&s.url("flatcontainer/gone/index.json")).await;
    assert_eq!(versions_of(&index), ["1.0.0", "2.0.0"]);
    let nupkg = c
        .get(&s.url("flatcontainer/gone/2.0.0/gone.2.0.0.nupkg"))
        .await;
    assert_eq!(nupkg.status(), 200, "unlisted stays downloadable");
    let reg = c.json(&s.url("registration/gone/index.json")).await;
    let leaves = reg["items"][0]["items"].as_array().unwrap();
    let listed: Vec<bool> = leaves
        .iter()
        .map(|l| l["catalogEntry"]["listed"].as_bool().unwrap_or(true))
        .collect();
    assert_eq!(listed, [true, false]);
    let search = c.json(&s.url("query?q=gone")).await;
    assert_eq!(search["data"][0]["version"], "1.0.0");
    assert_eq!(search["data"][0]["versions"].as_array().unwrap().len(), 1);
    assert_eq!(
        c.post(&s.url("package/gone/2.0.0"), ADMIN_KEY)
            .await
            .status(),
        200
    );
    assert_eq!(
        c.post(&s.url("package/gone/2.0.0"), ADMIN_KEY)
            .await
            .status(),
        200
    );
    let search = c.json(&s.url("query?q=gone")).await;
    assert_eq!(search["data"][0]["version"], "2.0.0");
    s.stop().await;
}

#[tokio::test]
async fn hard_delete_mode_removes_the_version_and_its_files() {
    let s = TestServer::start(|f, _| {
        f.delete_mode = Some(nuget_feed_server::config::DeleteMode::Delete);
    })
    .await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Temp", "1.0.0")).await;
    assert_eq!(
        c.delete(&s.url("package/temp/1.0.0"), ADMIN_KEY)
            .await
            .status(),
        204
    );
    assert_eq!(
        c.get(&s.url("flatcontainer/temp/index.json"))
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get(&s.url("flatcontainer/temp/1.0.0/temp.1.0.0.nupkg"))
            .await
            .status(),
        404
    );
    assert!(
        !s.stored_files().iter().any(|f| f.starts_with("packages/")),
        "{:?}",
        s.stored_files()
    );
    // Whether it can be pushed again is `deleted_versions`'s matter.
    s.stop().await;
}

#[tokio::test]
async fn flat_container_lists_normalized_lower_case_versions_without_metadata() {
    // PBA-1, PBA-2, N-2, N-6, N-8
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    for v in [
        "2.0.0",
        "1.0.0-RC.1+build.5",
        "1.0.01",
        "10.0.0",
        "1.0.0-alpha",
    ] {
        push_ok(&c, &s, &PackageBuilder::new("Versions", v)).await;
    }
    let index = c.json(&s.url("flatcontainer/versions/index.json")).await;
    assert_eq!(
        versions_of(&index),
        ["1.0.0-alpha", "1.0.0-rc.1", "1.0.1", "2.0.0", "10.0.0"]
    );
    for v in versions_of(&index) {
        let url = s.url(&format!("flatcontainer/versions/{v}/versions.{v}.nupkg"));
        assert_eq!(c.get(&url).await.status(), 200, "{url}");
    }
    assert_eq!(
        c.get(&s.url("flatcontainer/unknown/index.json"))
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get(&s.url("flatcontainer/bad id/index.json"))
            .await
            .status(),
        404
    );
    assert_eq!(
        c.get(&s.url("flatcontainer/versions/3.0.0/versions.3.0.0.nupkg"))
            .await
            .status(),
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn registration_hives_filter_semver2_and_gzip() {
    // REG-1, REG-2, REG-7, REG-8, N-4, N-6
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Hives", "1.0.0").dependency(Some("net8.0"), "Dep", "[1.0.0, )"),
    )
    .await;
    push_ok(&c, &s, &PackageBuilder::new("Hives", "2.0.0-beta.1")).await;
    push_ok(&c, &s, &PackageBuilder::new("Hives", "3.0.0+sha.abc")).await;

    let semver1 = c.json(&s.url("registration/hives/index.json")).await;
    let page = &semver1["items"][0];
    assert_eq!(page["count"], 1, "SemVer1 hive hides SemVer2 versions");
    let entry = &page["items"][0]["catalogEntry"];
    assert_eq!(entry["id"], "Hives");
    assert_eq!(entry["version"], "1.0.0");
    let group = &entry["dependencyGroups"][0];
    assert_eq!(group["targetFramework"], "net8.0");
    assert_eq!(group["dependencies"][0]["id"], "Dep");
    assert_eq!(group["dependencies"][0]["range"], "[1.0.0, )");

    let gz = c
        .get(&s.url("registration-gz-semver2/hives/index.json"))
        .await;
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let semver2 = gunzip(&gz.bytes().await.unwrap());
    let versions: Vec<&str> = semver2["items"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["catalogEntry"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0.0", "2.0.0-beta.1", "3.0.0+sha.abc"]);
    assert_eq!(semver2["items"][0]["lower"], "1.0.0");
    assert_eq!(semver2["items"][0]["upper"], "3.0.0");
    // Leaves live at {hive}/{id}/{version}.json (REG-13).
    let leaf_url = semver2["items"][0]["items"][2]["@id"].as_str().unwrap();
    assert!(
        leaf_url.ends_with("/registration-gz-semver2/hives/3.0.0.json"),
        "{leaf_url}"
    );
    let leaf = gunzip(&c.get(leaf_url).await.bytes().await.unwrap());
    assert!(
        leaf["packageContent"]
            .as_str()
            .unwrap()
            .ends_with("hives.3.0.0.nupkg")
    );
    assert_eq!(
        c.get(&s.url("registration/unknown/index.json"))
            .await
            .status(),
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn registration_pages_like_nuget_org_above_128_versions() {
    // REG-5, REG-6: >= 128 versions -> pages of 64, not inlined.
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    for i in 0..130 {
        push_ok(&c, &s, &PackageBuilder::new("Many", &format!("1.0.{i}"))).await;
    }
    let index = c.json(&s.url("registration/many/index.json")).await;
    assert_eq!(index["count"], 3);
    let pages = index["items"].as_array().unwrap();
    assert_eq!(
        pages
            .iter()
            .map(|p| p["count"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [64, 64, 2]
    );
    assert!(pages[0].get("items").is_none(), "pages are not inlined");
    let page = c.json(pages[1]["@id"].as_str().unwrap()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 64);
    assert_eq!(page["lower"], pages[1]["lower"]);
    assert!(
        page["parent"]
            .as_str()
            .unwrap()
            .ends_with("/registration/many/index.json")
    );
    s.stop().await;
}

#[tokio::test]
async fn search_ranks_filters_and_counts_ids() {
    // SQ-1..SQ-9, SQ-12
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Json", "1.0.0").description("Parses things"),
    )
    .await;
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Json.Extensions", "1.0.0").description("More"),
    )
    .await;
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Other", "1.0.0")
            .description("Writes JSON fast")
            .tags("json serializer"),
    )
    .await;
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("PreOnly", "1.0.0-beta").description("json preview"),
    )
    .await;
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Semver2Only", "1.0.0+meta").description("json v2"),
    )
    .await;
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Tool", "1.0.0")
            .package_type("DotnetTool")
            .description("a tool"),
    )
    .await;

    let r = c.json(&s.url("query?q=json")).await;
    let ids: Vec<&str> = r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "Json", "exact id first");
    assert_eq!(ids[1], "Json.Extensions", "then id prefix");
    assert!(ids.contains(&"Other"), "text match");
    assert!(!ids.contains(&"PreOnly"), "prerelease hidden by default");
    assert!(
        !ids.contains(&"Semver2Only"),
        "SemVer2 hidden without semVerLevel"
    );
    assert_eq!(r["totalHits"], 3);

    let r = c
        .json(&s.url("query?q=json&prerelease=true&semVerLevel=2.0.0&take=1&skip=1"))
        .await;
    assert_eq!(r["totalHits"], 5, "totalHits ignores skip/take");
    assert_eq!(r["data"].as_array().unwrap().len(), 1);

    let r = c.json(&s.url("query?packageType=dotnettool")).await;
    assert_eq!(r["totalHits"], 1);
    assert_eq!(r["data"][0]["id"], "Tool");
    assert_eq!(r["data"][0]["packageTypes"][0]["name"], "DotnetTool");

    let all = c
        .json(&s.url(
            "query?q=&prerelease=false&semVerLevel=2.0.0&skip=0&take=26&supportedFramework=net8.0",
        ))
        .await;
    assert_eq!(all["totalHits"], 5);
    let first = &all["data"][0];
    for field in [
        "id",
        "version",
        "versions",
        "registration",
        "totalDownloads",
        "packageTypes",
    ] {
        assert!(first.get(field).is_some(), "missing {field}");
    }
    let leaf = first["versions"][0]["@id"].as_str().unwrap();
    assert_eq!(c.get(leaf).await.status(), 200);

    for bad in [
        "query?skip=-1",
        "query?take=5000",
        "query?semVerLevel=x",
        "query?prerelease=maybe",
    ] {
        assert_eq!(c.get(&s.url(bad)).await.status(), 400, "{bad}");
    }
    s.stop().await;
}

#[tokio::test]
async fn autocomplete_ids_and_versions() {
    // AC-1, AC-2
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Contoso.Core", "1.0.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Contoso.Core", "2.0.0-rc")).await;
    push_ok(&c, &s, &PackageBuilder::new("Contoso.Core", "3.0.0+git")).await;
    push_ok(&c, &s, &PackageBuilder::new("Fabrikam", "1.0.0")).await;
    let r = c.json(&s.url("autocomplete?q=cont")).await;
    assert_eq!(r["data"], serde_json::json!(["Contoso.Core"]));
    assert_eq!(r["totalHits"], 1);
    let r = c.json(&s.url("autocomplete?q=core")).await;
    assert_eq!(
        r["data"],
        serde_json::json!(["Contoso.Core"]),
        "id tokens match"
    );
    let r = c.json(&s.url("autocomplete?id=contoso.core")).await;
    assert_eq!(r["data"], serde_json::json!(["1.0.0"]));
    let r = c
        .json(&s.url("autocomplete?id=contoso.core&prerelease=true&semVerLevel=2.0.0"))
        .await;
    assert_eq!(
        r["data"],
        serde_json::json!(["1.0.0", "2.0.0-rc", "3.0.0+git"])
    );
    let r = c.json(&s.url("autocomplete?id=nope")).await;
    assert_eq!(r["data"], serde_json::json!([]));
    s.stop().await;
}

#[tokio::test]
async fn embedded_icon_readme_and_license_are_hosted() {
    // REG-15, PBA-6, TPL-3
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let png = b"\x89PNG\r\n\x1a\nfake";
    let pkg = PackageBuilder::new("Pretty", "1.0.0")
        .icon("images/icon.png", png)
        .readme("docs/README.md", "# Pretty\nhello")
        .license_file("LICENSE.txt", b"MIT license text");
    push_ok(&c, &s, &pkg).await;
    let icon = c.get(&s.url("flatcontainer/pretty/1.0.0/icon")).await;
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/png");
    assert_eq!(icon.bytes().await.unwrap().as_ref(), png);
    let readme = c.get(&s.url("flatcontainer/pretty/1.0.0/readme")).await;
    assert_eq!(readme.text().await.unwrap(), "# Pretty\nhello");
    let license = c.get(&s.url("flatcontainer/pretty/1.0.0/license")).await;
    assert_eq!(license.text().await.unwrap(), "MIT license text");
    let reg = c.json(&s.url("registration/pretty/index.json")).await;
    let entry = &reg["items"][0]["items"][0]["catalogEntry"];
    assert_eq!(entry["iconUrl"], s.url("flatcontainer/pretty/1.0.0/icon"));
    assert_eq!(
        entry["licenseUrl"],
        s.url("flatcontainer/pretty/1.0.0/license")
    );
    assert_eq!(
        entry["readmeUrl"],
        s.url("flatcontainer/pretty/1.0.0/readme")
    );
    let search = c.json(&s.url("query?q=pretty")).await;
    assert_eq!(
        search["data"][0]["iconUrl"],
        s.url("flatcontainer/pretty/1.0.0/icon")
    );
    // No embedded readme: 404.
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Plain", "1.0.0").license_expression("MIT"),
    )
    .await;
    assert_eq!(
        c.get(&s.url("flatcontainer/plain/1.0.0/readme"))
            .await
            .status(),
        404
    );
    let reg = c.json(&s.url("registration/plain/index.json")).await;
    let entry = &reg["items"][0]["items"][0]["catalogEntry"];
    assert_eq!(entry["licenseExpression"], "MIT");
    assert_eq!(entry["licenseUrl"], "https://licenses.nuget.org/MIT");
    s.stop().await;
}

#[tokio::test]
async fn symbol_packages_push_and_serve_portable_pdbs() {
    // SYM-1..SYM-4
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let guid = [
        0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        0x00,
    ];
    let pdb = nuget_feed_server::testing::portable_pdb(guid, 7);
    let pkg = PackageBuilder::new("Sym", "1.0.0");
    let snupkg = pkg.build_symbols(&[("lib/net8.0/Sym.pdb", pdb.clone())]);
    let url = s.url("symbolpackage");
    let r = c.push_to(&url, Some(ADMIN_KEY), &snupkg).await;
    assert_eq!(r.status(), 404, "no such package yet");
    push_ok(&c, &s, &pkg).await;
    let r = c.push_to(&url, Some(ADMIN_KEY), &pkg.build()).await;
    assert_eq!(r.status(), 400, "not a symbols package");
    let r = c
        .push_to(&format!("{url}/"), Some(ADMIN_KEY), &snupkg)
        .await;
    assert_eq!(r.status(), 201);
    let key = nuget_feed_server::package::pdb::read_portable_pdb_id(&pdb)
        .unwrap()
        .symbol_key();
    let got = c
        .get(&s.url(&format!("symbols/sym.pdb/{key}/sym.pdb")))
        .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), pdb.as_slice());
    let upper = key.to_uppercase();
    let got = c
        .get(&s.url(&format!("symbols/Sym.pdb/{upper}/Sym.pdb")))
        .await;
    assert_eq!(got.status(), 200, "symbol paths are case-insensitive");
    assert_eq!(
        c.get(&s.url("symbols/sym.pdb/00000000000000000000000000000000ffffffff/sym.pdb"))
            .await
            .status(),
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn catalog_records_every_change() {
    // CAT-1..CAT-4, PUB-13
    let s = TestServer::start(|f, _| {
        f.delete_mode = Some(nuget_feed_server::config::DeleteMode::Delete);
    })
    .await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Cat", "1.0.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Cat", "2.0.0")).await;
    assert_eq!(
        c.delete(&s.url("package/cat/1.0.0"), ADMIN_KEY)
            .await
            .status(),
        204
    );
    let index = c.json(&s.url("catalog/index.json")).await;
    assert_eq!(index["count"], 1);
    let page_url = index["items"][0]["@id"].as_str().unwrap();
    let page = c.json(page_url).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let types: Vec<&str> = items.iter().map(|i| i["@type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "nuget:PackageDetails",
            "nuget:PackageDetails",
            "nuget:PackageDelete"
        ]
    );
    let leaf = c.json(items[1]["@id"].as_str().unwrap()).await;
    assert_eq!(leaf["id"], "Cat");
    assert_eq!(leaf["version"], "2.0.0");
    assert_eq!(leaf["packageHashAlgorithm"], "SHA512");
    assert!(leaf["packageSize"].as_u64().unwrap() > 0);
    s.stop().await;
}

#[tokio::test]
async fn vulnerability_info_serves_an_index_and_configured_advisories() {
    // VUL-1, VUL-2, REG-11
    let s = TestServer::start(|f, dir| {
        let path = dir.join("advisories.yaml");
        std::fs::write(
            &path,
            "- id: Vuln.Lib\n  url: https://example.com/advisory/1\n  severity: 2\n  versions: \"[1.0.0, 2.0.0)\"\n",
        )
        .unwrap();
        f.vulnerabilities_file = Some(path);
    })
    .await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Vuln.Lib", "1.5.0")).await;
    let index = c.json(&s.url("vulnerabilities/index.json")).await;
    let page_url = index[0]["@id"].as_str().unwrap();
    let page = c.json(page_url).await;
    assert_eq!(page["vuln.lib"][0]["severity"], 2);
    let reg = c.json(&s.url("registration/vuln.lib/index.json")).await;
    let v = &reg["items"][0]["items"][0]["catalogEntry"]["vulnerabilities"][0];
    assert_eq!(v["advisoryUrl"], "https://example.com/advisory/1");
    assert_eq!(v["severity"], "2");
    s.stop().await;
}

#[tokio::test]
async fn read_tokens_protect_every_read_with_basic_auth() {
    // G-7, SI-6, NC-AUTH: 401 + WWW-Authenticate: Basic
    let s = TestServer::start_read_protected().await;
    let c = Client::new();
    assert_eq!(
        c.push(
            &s,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Secret", "1.0.0").build()
        )
        .await
        .status(),
        201
    );
    for path in [
        "index.json",
        "flatcontainer/secret/index.json",
        "flatcontainer/secret/1.0.0/secret.1.0.0.nupkg",
        "registration/secret/index.json",
        "query?q=secret",
        "autocomplete?q=sec",
        "catalog/index.json",
        "vulnerabilities/index.json",
    ] {
        let r = c.get(&s.url(path)).await;
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let missing = r.text().await.unwrap();
        assert!(missing.contains("none were sent"), "{path}: {missing}");
        let wrong = c
            .http
            .get(s.url(path))
            .basic_auth("u", Some("nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
        assert!(
            wrong.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let invalid = wrong.text().await.unwrap();
        assert!(invalid.contains("not valid"), "{path}: {invalid}");
        // Any wrong token and a non-Basic scheme get the same text: it tells nothing about tokens.
        let near = c
            .http
            .get(s.url(path))
            .basic_auth("u", Some("reader-token-12345"))
            .send()
            .await
            .unwrap();
        assert_eq!(near.status(), 401, "{path}");
        assert_eq!(near.text().await.unwrap(), invalid, "{path}");
        let bearer = c
            .http
            .get(s.url(path))
            .bearer_auth(READ_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status(), 401, "{path}");
        assert_eq!(bearer.text().await.unwrap(), invalid, "{path}");
        let ok = c
            .http
            .get(s.url(path))
            .basic_auth("anyone", Some(READ_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{path}");
    }
    assert_eq!(
        c.get(&format!("{}/healthz", s.root)).await.status(),
        200,
        "probes stay open"
    );
    s.stop().await;
}

#[tokio::test]
async fn documents_have_etags_and_answer_304() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Etag", "1.0.0")).await;
    let url = s.url("flatcontainer/etag/index.json");
    let r = c.get(&url).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = c
        .http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    push_ok(&c, &s, &PackageBuilder::new("Etag", "2.0.0")).await;
    let r = c
        .http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a change gives a new ETag");
    let nupkg = c
        .get(&s.url("flatcontainer/etag/1.0.0/etag.1.0.0.nupkg"))
        .await;
    assert!(
        nupkg.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    s.stop().await;
}

#[tokio::test]
async fn downloads_are_counted_and_shown_in_search() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Popular", "1.0.0")).await;
    for _ in 0..3 {
        let r = c
            .get(&s.url("flatcontainer/popular/1.0.0/popular.1.0.0.nupkg"))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = c.json(&s.url("query?q=popular")).await;
    assert_eq!(r["data"][0]["totalDownloads"], 3);
    assert_eq!(r["data"][0]["versions"][0]["downloads"], 3);
    s.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let s = TestServer::start(|f, _| f.path_base = Some("/t/f".into())).await;
    let c = Client::new();
    assert_eq!(c.get(&format!("{}/healthz", s.root)).await.status(), 200);
    assert_eq!(c.get(&format!("{}/readyz", s.root)).await.status(), 200);
    c.json(&s.url("index.json")).await;
    let m = c
        .get(&format!("{}/metrics", s.root))
        .await
        .text()
        .await
        .unwrap();
    assert!(m.contains("nuget_feed_http_requests_total"), "{m}");
    assert!(m.contains("route=\"/t/f/index.json\""), "{m}");
    s.stop().await;
}

/// A document, gunzipped when it came gzip-encoded (the gzip registration hives always are).
async fn doc(c: &Client, url: &str) -> Value {
    c.doc(url).await
}

/// The catalog's items, oldest first: `(@type, leaf URL)`.
async fn catalog_items(c: &Client, s: &TestServer) -> Vec<(String, String)> {
    let page = c.json(&s.url("catalog/page0.json")).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap().to_owned();
            (text("@type"), text("@id"))
        })
        .collect()
}

/// A deprecation as a tenant sends it: reasons in any casing, a range to normalize.
const LEGACY: &str = r#"{"reasons": ["legacy", "CriticalBugs"], "message": "Use New.Lib 2.",
    "alternatePackage": {"id": "New.Lib", "range": "[2.0, )"}}"#;

/// [`LEGACY`] as registration and the catalog show it in the object with `@id` `leaf`.
fn legacy_shown(leaf: &str) -> Value {
    serde_json::json!({
        "@id": format!("{leaf}#deprecation"),
        "alternatePackage": {
            "@id": format!("{leaf}#deprecation/alternatePackage"),
            "id": "New.Lib",
            "range": "[2.0.0, )",
        },
        "message": "Use New.Lib 2.",
        "reasons": ["Legacy", "CriticalBugs"],
    })
}

#[tokio::test]
async fn deprecation_shows_in_registration_search_and_catalog_until_removed() {
    // REG-8, REG-10, REG-14, SQ-9, SQ-11, CAT-3, PUB-13
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Old.Lib", "1.0.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Old.Lib", "2.0.0")).await;
    let url = s.url("package/Old.Lib/1.0.0/deprecation");
    let r = c.put_body(&url, Some(ADMIN_KEY), LEGACY).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

    for hive in ["registration", "registration-gz", "registration-gz-semver2"] {
        let index = doc(&c, &s.url(&format!("{hive}/old.lib/index.json"))).await;
        let page = doc(&c, index["items"][0]["@id"].as_str().unwrap()).await;
        for items in [&index["items"][0]["items"], &page["items"]] {
            let entry = &items[0]["catalogEntry"];
            let leaf = entry["@id"].as_str().unwrap();
            assert_eq!(entry["deprecation"], legacy_shown(leaf), "{hive}");
            let newer = &items[1]["catalogEntry"];
            assert!(newer.get("deprecation").is_none(), "{hive}: {newer}");
        }
        // A registration leaf links the catalog leaf of the version's newest event: this one.
        let leaf = doc(&c, index["items"][0]["items"][0]["@id"].as_str().unwrap()).await;
        let catalog_url = leaf["catalogEntry"].as_str().unwrap();
        let catalog_leaf = c.json(catalog_url).await;
        assert_eq!(catalog_leaf["deprecation"], legacy_shown(catalog_url));
        assert_eq!(catalog_leaf["@type"][0], "PackageDetails");
    }

    // SQ-9: search shows the deprecation of the version it shows, the latest.
    let search = c.json(&s.url("query?q=old.lib")).await;
    assert_eq!(search["data"][0]["version"], "2.0.0");
    assert!(search["data"][0].get("deprecation").is_none());
    let moved = r#"{"reasons": ["Other"], "message": "Moved."}"#;
    let latest = s.url("package/old.lib/2.0.0/deprecation");
    assert_eq!(
        c.put_body(&latest, Some(ADMIN_KEY), moved).await.status(),
        204
    );
    let search = c.json(&s.url("query?q=old.lib")).await;
    assert_eq!(
        search["data"][0]["deprecation"],
        serde_json::json!({"message": "Moved.", "reasons": ["Other"]})
    );

    // PUB-13: every change is a PackageDetails item; an identical repeat appends nothing.
    let items = catalog_items(&c, &s).await;
    let types: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["nuget:PackageDetails"; 4]);
    let before = s.stored_files();
    let r = c.put_body(&url, Some(ADMIN_KEY), LEGACY).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.stored_files(),
        before,
        "an identical deprecation changes nothing"
    );

    // Removing it: gone from registration, one more catalog item without it; again: nothing.
    assert_eq!(c.delete(&url, ADMIN_KEY).await.status(), 204);
    let index = c.json(&s.url("registration/old.lib/index.json")).await;
    let entry = &index["items"][0]["items"][0]["catalogEntry"];
    assert!(entry.get("deprecation").is_none(), "{entry}");
    let items = catalog_items(&c, &s).await;
    assert_eq!(items.len(), 5);
    let leaf = c.json(&items[4].1).await;
    assert_eq!(
        (&leaf["version"], &leaf["listed"]),
        (&"1.0.0".into(), &true.into())
    );
    assert!(leaf.get("deprecation").is_none(), "{leaf}");
    assert_eq!(entry["@id"], items[4].1, "catalogEntry is the newest leaf");
    let before = s.stored_files();
    assert_eq!(c.delete(&url, ADMIN_KEY).await.status(), 204);
    assert_eq!(
        s.stored_files(),
        before,
        "not deprecated: nothing to remove"
    );

    // Versions the feed does not have: 404 for both.
    for missing in [
        "package/old.lib/9.0.0/deprecation",
        "package/nope/1.0.0/deprecation",
    ] {
        let missing = s.url(missing);
        let put = c.put_body(&missing, Some(ADMIN_KEY), LEGACY).await;
        assert_eq!(put.status(), 404, "{missing}");
        assert_eq!(c.delete(&missing, ADMIN_KEY).await.status(), 404);
    }
    s.stop().await;
}

#[tokio::test]
async fn bad_deprecations_are_refused_and_change_nothing() {
    // REG-10, PUB-6, DESIGN invariant 5: each refusal says why, and nothing is stored.
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Contoso.Old", "1.0.0")).await;
    let url = s.url("package/Contoso.Old/1.0.0/deprecation");
    let before = s.stored_files();
    let long = "x".repeat(4001);
    let huge = "y".repeat(70 * 1024);
    let cases: Vec<(String, u16, &str)> = vec![
        (r#"{"reasons": []}"#.into(), 400, "at least one reason"),
        (r#"{"message": "m"}"#.into(), 400, "missing field `reasons`"),
        (
            r#"{"reasons": ["Obsolete"]}"#.into(),
            400,
            "`Obsolete` is not a deprecation reason",
        ),
        (
            r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "a b"}}"#.into(),
            400,
            "alternatePackage.id",
        ),
        (
            r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "B", "range": "[2.0"}}"#.into(),
            400,
            "alternatePackage.range",
        ),
        (
            format!(r#"{{"reasons": ["Other"], "message": "{long}"}}"#),
            400,
            "4001 characters",
        ),
        ("{not json".into(), 400, "is not valid"),
        (String::new(), 400, "is not valid"),
        (
            format!(r#"{{"reasons": ["Other"], "message": "{huge}"}}"#),
            413,
            "limit of 64 KiB",
        ),
    ];
    for (body, status, says) in cases {
        let r = c.put_body(&url, Some(ADMIN_KEY), body).await;
        assert_eq!(r.status(), status, "{says}");
        let error: Value = r.json().await.unwrap();
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{says}: {message}");
    }
    let good = r#"{"reasons": ["Legacy"]}"#;
    let bad_version = s.url("package/Contoso.Old/one/deprecation");
    let r = c.put_body(&bad_version, Some(ADMIN_KEY), good).await;
    assert_eq!(r.status(), 400);
    // Keys as for unlist: none 401; wrong or without the unlist scope 403, before the body.
    assert_eq!(c.put_body(&url, None, good).await.status(), 401);
    let wrong = c.put_body(&url, Some("wrong-key-000000"), good).await;
    assert_eq!(wrong.status(), 403);
    let push_only = c.put_body(&url, Some(CONTOSO_KEY), "{not json").await;
    assert_eq!(push_only.status(), 403);
    let error: Value = push_only.json().await.unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("may not unlist, relist, delete or deprecate"),
        "{error}"
    );
    let anonymous = c.http.delete(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(c.delete(&url, CONTOSO_KEY).await.status(), 403);
    assert_eq!(s.stored_files(), before, "a refused request stores nothing");
    let index = c.json(&s.url("registration/contoso.old/index.json")).await;
    assert!(
        index["items"][0]["items"][0]["catalogEntry"]
            .get("deprecation")
            .is_none()
    );

    // A key with only the unlist scope may.
    assert_eq!(c.put_body(&url, Some(UNLIST_KEY), good).await.status(), 204);
    assert_eq!(c.delete(&url, UNLIST_KEY).await.status(), 204);
    s.stop().await;
}

#[tokio::test]
async fn deprecation_survives_restarts_from_the_log_and_from_a_snapshot() {
    let data = tempfile::tempdir().unwrap();
    let storage = data.path().to_string_lossy().into_owned();
    let start = || {
        let storage = storage.clone();
        TestServer::start(move |f, _| {
            f.storage = Some(nuget_feed_server::config::StorageConfig {
                url: Some(storage),
                options: Default::default(),
            });
            // The same URLs in documents whatever port each server gets.
            f.public_base_url = Some("http://feed.test".into());
        })
    };
    let c = Client::new();
    let s = start().await;
    push_ok(&c, &s, &PackageBuilder::new("Kept", "1.0.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Kept", "2.0.0")).await;
    let deprecate = |v: &str| s.url(&format!("package/kept/{v}/deprecation"));
    let r = c
        .put_body(&deprecate("1.0.0"), Some(ADMIN_KEY), LEGACY)
        .await;
    assert_eq!(r.status(), 204);
    s.state.feed.write_snapshot().await.unwrap();
    // After the snapshot: the latest deprecated too (search shows it).
    let moved = r#"{"reasons": ["Other"], "message": "Moved."}"#;
    let r = c
        .put_body(&deprecate("2.0.0"), Some(ADMIN_KEY), moved)
        .await;
    assert_eq!(r.status(), 204);
    let observe = |s: &TestServer| {
        let (c, index, search) = (
            &c,
            s.url("registration-gz-semver2/kept/index.json"),
            s.url("query?q=kept"),
        );
        async move { (doc(c, &index).await, c.json(&search).await) }
    };
    let before = observe(&s).await;
    let leaves = &before.0["items"][0]["items"];
    let leaf = leaves[0]["catalogEntry"]["@id"].as_str().unwrap();
    assert_eq!(leaves[0]["catalogEntry"]["deprecation"], legacy_shown(leaf));
    assert_eq!(before.1["data"][0]["deprecation"]["reasons"][0], "Other");
    s.stop().await;

    // The snapshot holds the first deprecation; the log after it the second.
    let bytes = std::fs::read(data.path().join("catalog/snapshot.json")).unwrap();
    let snapshot = nuget_feed_server::feed::snapshot::decode(&bytes).unwrap();
    let kept = snapshot.package("kept").unwrap();
    let versions: Vec<bool> = kept
        .versions
        .values()
        .map(|v| v.deprecation.is_some())
        .collect();
    assert_eq!(versions, [true, false]);
    let s = start().await;
    assert_eq!(observe(&s).await, before, "snapshot + log");
    s.stop().await;

    std::fs::remove_file(data.path().join("catalog/snapshot.json")).unwrap();
    let s = start().await;
    assert_eq!(observe(&s).await, before, "the log alone");
    s.stop().await;
}
