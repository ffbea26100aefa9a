//! Upstream sources end to end, against a server that is not our own: a static NuGet V3 feed
//! in nuget.org's shapes (gzip-encoded registration, separate page documents; files served by
//! nginx, `nuget_test_support::static_feed`). First the fixture proves itself: NuGet.exe 4.0
//! and 5.8 install from it directly. Then the real `nuget-feed-server` binary reads through to
//! it: NuGet.exe installs packages that exist only upstream, behind nginx with a path prefix
//! too; with the upstream killed the same install works from a fresh client; a `Contoso.Core
//! 99.0.0` published upstream never reaches a client of a feed that has `Contoso.Core`
//! locally or a `Contoso.*` local pattern; the cached bytes are the upstream's; and a
//! fault-injecting proxy between the feed and the upstream (slow, 500s, resets, down) never
//! makes the feed answer 500 for what it has cached. The upstream's VulnerabilityInfo is
//! mirrored: a client auditing with the feed alone sees its advisories beside the feed's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nuget_feed_config::{
    ApiKeyEntry, ApiKeysFile, FileConfig, IdPattern, KeyHash, LogFormat, Scope, StorageConfig,
    UpstreamConfig,
};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::http::{HttpResponse, http_request, push_package};
use nuget_test_support::nginx::Nginx;
use nuget_test_support::nuget_exe::{NuGetExe, assert_success};
use nuget_test_support::ports::free_port;
use nuget_test_support::process::{Launch, Process, Ready};
use nuget_test_support::proxy::{FaultProxy, Mode};
use nuget_test_support::static_feed::{PAGE_SIZE, StaticFeed, StaticFeedBuilder};
use nuget_test_support::tools::workspace_bin;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use tempfile::TempDir;

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
const API_KEY: &str = "upstream-e2e-key-0123456789";
const HOST: &str = "nuget.example.com";

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

/// The real feed server, from a config file, on a folder: killed on drop.
struct Feed {
    _process: Process,
    port: u16,
    /// `""` or the path base, e.g. `/team/feed`.
    path_base: String,
    storage: PathBuf,
    _dir: TempDir,
}

/// What differs between the tests' feeds.
#[derive(Default)]
struct FeedSetup {
    upstream: Option<String>,
    local_packages: Vec<&'static str>,
    public_base_url: Option<String>,
    /// Upstream metadata is fresh this long (default: the server's).
    metadata_ttl_seconds: Option<u64>,
    timeout_ms: Option<u64>,
    /// The feed's own advisories file (YAML), if any.
    advisories: Option<&'static str>,
}

impl Feed {
    fn start(setup: FeedSetup) -> Feed {
        let dir = tempfile::Builder::new()
            .prefix("upstream-e2e-")
            .tempdir()
            .unwrap();
        let storage = dir.path().join("storage");
        let keys = dir.path().join("api-keys.yaml");
        std::fs::write(
            &keys,
            ApiKeysFile {
                keys: vec![ApiKeyEntry {
                    name: "ci".into(),
                    hash: KeyHash::of(API_KEY),
                    scopes: vec![Scope::Push],
                    packages: vec![IdPattern::parse("*").unwrap()],
                }],
            }
            .to_yaml()
            .unwrap(),
        )
        .unwrap();
        let upstreams: Vec<UpstreamConfig> = setup
            .upstream
            .iter()
            .map(|url| UpstreamConfig {
                metadata_ttl_seconds: setup.metadata_ttl_seconds,
                timeout_ms: setup.timeout_ms,
                ..UpstreamConfig::new("static", url)
            })
            .collect();
        let local_packages: Vec<IdPattern> = setup
            .local_packages
            .iter()
            .map(|p| IdPattern::parse(p).unwrap())
            .collect();
        let config = |port: u16| FileConfig {
            listen: Some(([127, 0, 0, 1], port).into()),
            public_base_url: setup.public_base_url.clone(),
            api_keys_file: Some(keys.clone()),
            temp_dir: Some(dir.path().join("tmp")),
            log_format: Some(LogFormat::Text),
            storage: Some(StorageConfig {
                url: Some(storage.to_str().unwrap().to_owned()),
                options: Default::default(),
            }),
            local_packages: local_packages.clone(),
            upstreams: upstreams.clone(),
            ..FileConfig::default()
        };
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let vulnerabilities_file = setup.advisories.map(|yaml| {
            let path = dir.path().join("advisories.yaml");
            std::fs::write(&path, yaml).unwrap();
            path
        });
        let config = |port: u16| FileConfig {
            vulnerabilities_file: vulnerabilities_file.clone(),
            ..config(port)
        };
        let launch = Launch {
            name: "feed",
            dir: dir.path(),
            ready_path: "/healthz",
            ready: Ready::Success,
            timeout: Duration::from_secs(30),
        };
        let (process, port) = launch
            .start(None, |port| {
                let path = dir.path().join("config.yaml");
                std::fs::write(&path, config(port).to_yaml().unwrap()).unwrap();
                let mut cmd = Command::new(workspace_bin("nuget-feed-server"));
                cmd.arg("--config").arg(&path).env(
                    "RUST_LOG",
                    std::env::var("NUGET_TEST_SERVER_LOG").unwrap_or_else(|_| "info".into()),
                );
                cmd
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let path_base = setup
            .public_base_url
            .as_deref()
            .and_then(|u| u.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .unwrap_or_default();
        Feed {
            _process: process,
            port,
            path_base,
            storage,
            _dir: dir,
        }
    }

    /// A URL of the feed on its loopback port.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}{path}", self.port, self.path_base)
    }

    fn index_url(&self) -> String {
        self.url("/index.json")
    }

    /// Pushes a package as `nuget push` does (multipart PUT); asserts 201.
    fn push(&self, nupkg: &[u8]) {
        let response = push_package(&self.url("/package/"), API_KEY, nupkg).unwrap();
        assert_eq!(response.status, 201, "push: {}", response.text());
    }

    /// The feed's registration hive (`RegistrationsBaseUrl/3.6.0`), with a trailing `/`.
    fn registration_base(&self) -> String {
        let index: Value = serde_json::from_slice(&get(&self.index_url()).body).unwrap();
        let id = index["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["@type"] == "RegistrationsBaseUrl/3.6.0")
            .unwrap_or_else(|| panic!("no RegistrationsBaseUrl/3.6.0: {index}"))["@id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Our feed may advertise its public host: read it on the loopback port.
        let path = id.split_once("://").unwrap().1;
        format!(
            "http://127.0.0.1:{}{}",
            self.port,
            &path[path.find('/').unwrap()..]
        )
    }

    /// Every `.nupkg` in the feed's storage named `{lower id}.{version}.nupkg`, wherever the
    /// feed keeps its upstream cache.
    fn stored_nupkgs(&self, id: &str, version: &str) -> Vec<PathBuf> {
        let name = format!("{}.{version}.nupkg", id.to_lowercase());
        let mut found = Vec::new();
        let mut dirs = vec![self.storage.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.file_name().is_some_and(|n| n == name.as_str()) {
                    found.push(path);
                }
            }
        }
        found
    }
}

/// A packages folder for `nuget install` output in `nuget`'s root.
fn out_dir(nuget: &NuGetExe, name: &str) -> PathBuf {
    nuget.root().join(name)
}

/// NuGet.exe installs a package and its dependencies that exist only upstream through our
/// feed; the feed stored them byte-identical to the upstream's; with the upstream killed, a
/// fresh client (empty caches: another NuGet.exe root) installs the same from the feed's
/// cache. The fresh client is NuGet.exe 5.8, which reads the SemVer2 hive that NuGet.exe 4.0
/// never read while the upstream was up: the feed answers it from the SemVer1 hive's copy.
#[test]
fn upstream_only_packages_install_through_the_feed_and_again_with_the_upstream_down() {
    let (Some(nuget), Some(fresh)) = (NuGetExe::new_or_skip(), NuGetExe::v5_8_or_skip()) else {
        return;
    };
    let Some(upstream) = upstream_packages().serve_or_skip() else {
        return;
    };
    let expected = closure_hashes(&upstream);
    let feed = Feed::start(FeedSetup {
        upstream: Some(upstream.index_url()),
        ..FeedSetup::default()
    });

    let out = out_dir(&nuget, "first");
    assert_success(
        &nuget.install("Fabrikam.App", "1.0.0", &feed.index_url(), &out),
        "install Fabrikam.App through the feed",
    );
    assert_installed(&out, &expected);
    // The cache in the feed's storage holds the upstream's bytes.
    for (id, version, hash) in &expected {
        let stored = feed.stored_nupkgs(id, version);
        assert!(
            !stored.is_empty(),
            "{id} {version} is cached in the feed's storage"
        );
        for path in stored {
            assert!(
                sha512(&std::fs::read(&path).unwrap()) == *hash,
                "{} differs from the upstream's bytes",
                path.display()
            );
        }
    }

    drop(upstream);
    let out = out_dir(&fresh, "upstream-down");
    assert_success(
        &fresh.install("Fabrikam.App", "1.0.0", &feed.index_url(), &out),
        "install Fabrikam.App through the feed with the upstream down",
    );
    assert_installed(&out, &expected);
}

/// The same through nginx playing the Ingress: the feed under a path prefix on its public
/// host, the upstream reached by the feed directly. NuGet.exe 5.8 reads the SemVer2 hive
/// (`RegistrationsBaseUrl/Versioned`), so the upstream's gzip SemVer2 pages pass through too.
#[test]
fn upstream_only_packages_install_through_the_feed_behind_nginx_with_a_path_prefix() {
    let Some(mut nuget) = NuGetExe::v5_8_or_skip() else {
        return;
    };
    let Some(upstream) = upstream_packages().serve_or_skip() else {
        return;
    };
    let feed = Feed::start(FeedSetup {
        upstream: Some(upstream.index_url()),
        public_base_url: Some(format!("http://{HOST}/team-a/mirror")),
        ..FeedSetup::default()
    });
    let ingress = json!({ "spec": { "rules": [{ "host": HOST, "http": { "paths": [
        { "path": "/team-a/mirror", "pathType": "Prefix" }
    ] } }] } });
    let Some(nginx) = Nginx::for_ingress_or_skip(&ingress, &[feed.port]) else {
        return;
    };
    nuget.set_http_proxy(Some(nginx.ports[0]));
    let out = out_dir(&nuget, "installed");
    assert_success(
        &nuget.install(
            "Fabrikam.App",
            "1.0.0",
            &format!("http://{HOST}/team-a/mirror/index.json"),
            &out,
        ),
        "install Fabrikam.App through nginx",
    );
    assert_installed(&out, &closure_hashes(&upstream));
    let log = nginx.access_log();
    assert!(
        log.iter().any(|r| r.uri
            == "/team-a/mirror/flatcontainer/fabrikam.core/1.0.65/fabrikam.core.1.0.65.nupkg"
            && r.status == 200),
        "the client downloaded the dependency under the prefix: {log:?}"
    );
}

/// What a client of `feed` gets for `Contoso.Core`: never the upstream's 99.0.0, and the
/// upstream is never even asked; `Fabrikam.Json` from the same upstream installs (so the
/// upstream is wired up and the refusal is the feed's choice).
fn assert_contoso_core_stays_local(feed: &Feed, upstream: &StaticFeed, local: &[&str]) {
    let Some(nuget) = NuGetExe::new_or_skip() else {
        return;
    };
    let refused = nuget.install(
        "Contoso.Core",
        "99.0.0",
        &feed.index_url(),
        &out_dir(&nuget, "bait"),
    );
    assert!(
        !refused.status.success(),
        "Contoso.Core 99.0.0 was installed from the upstream"
    );
    let flat = get(&feed.url("/flatcontainer/contoso.core/index.json"));
    if local.is_empty() {
        assert_eq!(flat.status, 404, "{}", flat.text());
    } else {
        let versions: Value = serde_json::from_slice(&flat.body).unwrap();
        assert_eq!(versions["versions"], json!(local));
    }
    let nupkg = get(&feed.url("/flatcontainer/contoso.core/99.0.0/contoso.core.99.0.0.nupkg"));
    assert_eq!(nupkg.status, 404);
    let registration = get(&format!(
        "{}contoso.core/index.json",
        feed.registration_base()
    ));
    assert!(
        !String::from_utf8_lossy(&registration.body).contains("99.0.0"),
        "registration lists the upstream's version"
    );

    let out = out_dir(&nuget, "control");
    assert_success(
        &nuget.install("Fabrikam.Json", "2.0.0", &feed.index_url(), &out),
        "install Fabrikam.Json from the upstream through the same feed",
    );
    let log = upstream.access_log();
    assert!(
        log.iter().all(|r| !r.uri.contains("contoso")),
        "the upstream was asked for a local id: {log:?}"
    );
    assert!(
        log.iter().any(|r| r.uri.contains("fabrikam.json")),
        "the control went to the upstream: {log:?}"
    );
}

#[test]
fn an_upstream_contoso_core_99_never_reaches_a_feed_with_contoso_core_1_0_0() {
    let Some(upstream) = upstream_packages().serve_or_skip() else {
        return;
    };
    let feed = Feed::start(FeedSetup {
        upstream: Some(upstream.index_url()),
        ..FeedSetup::default()
    });
    feed.push(&PackageBuilder::new("Contoso.Core", "1.0.0").build());
    assert_contoso_core_stays_local(&feed, &upstream, &["1.0.0"]);
}

#[test]
fn an_upstream_contoso_core_99_never_reaches_a_feed_with_a_contoso_local_pattern() {
    let Some(upstream) = upstream_packages().serve_or_skip() else {
        return;
    };
    let feed = Feed::start(FeedSetup {
        upstream: Some(upstream.index_url()),
        local_packages: vec!["Contoso.*"],
        ..FeedSetup::default()
    });
    assert_contoso_core_stays_local(&feed, &upstream, &[]);
}

/// The fault-injecting proxy between the feed and the upstream (every URL the upstream
/// publishes goes through it): whether the upstream is slower than the feed's timeout,
/// answers 500, resets connections, hangs or is down, the feed never answers 500; what it has
/// cached it serves, past its TTL with `X-NuGet-Warning`, and a fresh client installs from it.
#[test]
fn upstream_faults_never_make_the_feed_answer_500_and_it_serves_what_it_cached() {
    let (Some(nuget), Some(fresh)) = (NuGetExe::new_or_skip(), NuGetExe::new_or_skip()) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let nginx_port = free_port();
    let proxy = runtime.block_on(FaultProxy::start(format!("127.0.0.1:{nginx_port}")));
    let Some(upstream) = upstream_packages()
        .listen_port(nginx_port)
        .public_base_url(&proxy.endpoint())
        .serve_or_skip()
    else {
        return;
    };
    let expected = closure_hashes(&upstream);
    let feed = Feed::start(FeedSetup {
        upstream: Some(upstream.index_url()),
        metadata_ttl_seconds: Some(1),
        timeout_ms: Some(1000),
        ..FeedSetup::default()
    });
    assert_eq!(
        upstream.index_url(),
        format!("{}/v3/index.json", proxy.endpoint())
    );

    // Warm the cache: an install, and the documents checked below.
    let out = out_dir(&nuget, "warm");
    assert_success(
        &nuget.install("Fabrikam.App", "1.0.0", &feed.index_url(), &out),
        "install Fabrikam.App through the feed",
    );
    let registration = feed.registration_base();
    let documents = [
        feed.url("/flatcontainer/fabrikam.app/index.json"),
        feed.url("/flatcontainer/fabrikam.core/index.json"),
        format!("{registration}fabrikam.app/index.json"),
        format!("{registration}fabrikam.core/index.json"),
    ];
    let files = [
        feed.url("/flatcontainer/fabrikam.app/1.0.0/fabrikam.app.1.0.0.nupkg"),
        feed.url("/flatcontainer/fabrikam.core/1.0.65/fabrikam.core.1.0.65.nupkg"),
    ];
    for url in documents.iter().chain(&files) {
        let response = get(url);
        assert_eq!(response.status, 200, "{url}: {}", response.text());
        assert_eq!(response.header("X-NuGet-Warning"), None, "{url}");
    }
    // Contoso.Core is upstream but was never asked for: nothing cached.
    let uncached = feed.url("/flatcontainer/contoso.core/index.json");

    let faults: [(&str, &dyn Fn()); 5] = [
        ("slower than the timeout", &|| {
            proxy.set_slow(Duration::from_secs(3))
        }),
        ("500s", &|| proxy.set(Mode::ServerError)),
        ("resets", &|| proxy.set(Mode::Reset)),
        ("hangs", &|| proxy.set(Mode::Blackhole)),
        ("down", &|| proxy.set(Mode::Refuse)),
    ];
    for (fault, inject) in faults {
        inject();
        // Past the TTL: every read asks the upstream again, and fails.
        std::thread::sleep(Duration::from_millis(1500));
        for url in &documents {
            let response = get(url);
            assert_eq!(
                response.status,
                200,
                "upstream {fault}: {url}: {}",
                response.text()
            );
            assert!(
                response.header("X-NuGet-Warning").is_some(),
                "upstream {fault}: {url} is stale without a warning: {:?}",
                response.headers
            );
        }
        for url in &files {
            assert_eq!(get(url).status, 200, "upstream {fault}: {url}");
        }
        // Nothing to serve: a gateway error the client may retry, neither a 500 nor a 404
        // that would tell it the id does not exist.
        let response = get(&uncached);
        assert!(
            matches!(response.status, 502..=504),
            "upstream {fault}: {uncached}: {} {}",
            response.status,
            response.text()
        );
    }

    // Down: a fresh client (empty caches) installs from what the feed cached.
    let out = out_dir(&fresh, "upstream-down");
    assert_success(
        &fresh.install("Fabrikam.App", "1.0.0", &feed.index_url(), &out),
        "install Fabrikam.App through the feed with the upstream down",
    );
    assert_installed(&out, &expected);
}

/// What a NuGet 6.7+ client audits with (NuGetAudit; NuGet.exe 5.8 and 4.0 have no audit, so
/// this reads as `dotnet restore` does): the service index's `VulnerabilityInfo/6.7.0` index,
/// then every page it lists, unioned (VUL-2). Returns `lower id -> advisory URLs` and every URL
/// read.
fn audit_data(
    service_index: &str,
) -> (std::collections::BTreeMap<String, Vec<String>>, Vec<String>) {
    let json = |url: &str| -> Value {
        let response = get(url);
        assert_eq!(response.status, 200, "{url}: {}", response.text());
        serde_json::from_slice(&response.body).unwrap()
    };
    let index = json(service_index);
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
    let mut advisories = std::collections::BTreeMap::<String, Vec<String>>::new();
    for page in json(&info).as_array().unwrap() {
        let url = page["@id"].as_str().unwrap().to_owned();
        for (id, list) in json(&url).as_object().unwrap() {
            let found = list.as_array().unwrap().iter();
            advisories
                .entry(id.clone())
                .or_default()
                .extend(found.map(|a| a["url"].as_str().unwrap().to_owned()));
        }
        urls.push(url);
    }
    (advisories, urls)
}

/// Issue 13: the feed's VulnerabilityInfo lists nuget.org-shaped upstream pages (`base`,
/// `update`) mirrored under its own URLs beside its own page; a client auditing with the feed
/// sees both sets of advisories, never reads the upstream's host, and still does with the
/// upstream gone.
#[test]
fn the_upstreams_vulnerability_pages_are_mirrored_beside_the_feeds_own() {
    let Some(upstream) = upstream_packages()
        .advisory(
            "Fabrikam.Core",
            "[1.0.2, 1.0.3)",
            "https://github.com/advisories/GHSA-fab1-0000-0002",
            2,
        )
        .serve_or_skip()
    else {
        return;
    };
    let feed = Feed::start(FeedSetup {
        upstream: Some(upstream.index_url()),
        advisories: Some(
            "- id: Contoso.Core\n  url: https://example.com/advisories/contoso\n  severity: high\n  versions: \"[1.0.0, 2.0.0)\"\n",
        ),
        ..FeedSetup::default()
    });
    let expected = std::collections::BTreeMap::from([
        (
            "contoso.core".to_owned(),
            vec!["https://example.com/advisories/contoso".to_owned()],
        ),
        (
            "fabrikam.core".to_owned(),
            vec!["https://github.com/advisories/GHSA-fab1-0000-0002".to_owned()],
        ),
    ]);
    // The mirror runs beside the server: wait (bounded) for its first copy.
    let mut audit = audit_data(&feed.index_url());
    for _ in 0..100 {
        if audit.1.len() == 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        audit = audit_data(&feed.index_url());
    }
    let (advisories, urls) = audit;
    assert_eq!(
        urls.len(),
        4,
        "our index, our page, the upstream's two: {urls:?}"
    );
    assert_eq!(advisories, expected);
    for url in &urls {
        assert!(url.starts_with(&feed.url("/vulnerabilities/")), "{url}");
    }
    // The feed read each upstream page once (the client read ours).
    let pages: Vec<String> = upstream
        .access_log()
        .into_iter()
        .filter(|r| r.uri.ends_with(".json") && r.uri.contains("/vulnerability."))
        .map(|r| r.uri)
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    let index: Value = serde_json::from_slice(&get(&urls[0]).body).unwrap();
    let names: Vec<&str> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["@name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base", "static_base", "static_update"]);

    drop(upstream);
    let (kept, _) = audit_data(&feed.index_url());
    assert_eq!(kept, expected, "the mirrored copy outlives the upstream");
}
