//! The feed's web pages (issue 15) in a real browser: the real `nuget-feed-server` binary on a
//! folder, under a path base, with packages pushed over HTTP (one with a README and a
//! dependency, several versions, a SemVer2 prerelease); then `tests/browser/pages.mjs` drives
//! Debian's headless Chromium through playwright-core: open the feed, search, toggle
//! prereleases, open a package, read its README, switch versions, copy a snippet and read the
//! clipboard back, follow a dependency, open the setup page and a 404; axe-core on every page
//! (no serious or critical violation, light and dark), no console error (CSP refusals are
//! ones) and no failed request. Screenshots go to `target/<profile>/browser-e2e/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nuget_feed_config::{
    ApiKeyEntry, ApiKeysFile, FileConfig, IdPattern, KeyHash, LogFormat, Scope, StorageConfig,
};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::browser::BrowserTools;
use nuget_test_support::http::push_package;
use nuget_test_support::process::{Launch, Ready};
use nuget_test_support::tools::{repo_root, workspace_bin};

const API_KEY: &str = "browser-e2e-key-0123456789";
const PATH_BASE: &str = "/team-a/main";
const README: &str =
    "# Widgets for everyone\n\nSmall **widgets** that compose.\n\n- fast\n- safe\n";

/// The packages the script expects: `Contoso.Widgets` 1.0.0, 1.1.0, 2.0.0 (the latest stable)
/// and 2.1.0-beta.1, each with a README and a dependency on `Contoso.Core`.
fn packages() -> Vec<Vec<u8>> {
    let core = PackageBuilder::new("Contoso.Core", "1.0.0")
        .description("Core types shared by Contoso's packages.")
        .license_expression("MIT")
        .build();
    let widgets = ["1.0.0", "1.1.0", "2.0.0", "2.1.0-beta.1"].map(|version| {
        PackageBuilder::new("Contoso.Widgets", version)
            .description("Widgets for everyone.")
            .title("Contoso Widgets")
            .tags("widgets ui")
            .license_expression("MIT")
            .readme("docs/README.md", README)
            .dependency(Some("net8.0"), "Contoso.Core", "[1.0.0, )")
            .build()
    });
    std::iter::once(core).chain(widgets).collect()
}

#[test]
fn the_pages_work_in_a_real_browser() {
    let Some(tools) = BrowserTools::find_or_skip() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("browser-e2e-")
        .tempdir()
        .unwrap();
    let keys = dir.path().join("api-keys.yaml");
    let keys_file = ApiKeysFile {
        keys: vec![ApiKeyEntry {
            name: "ci".into(),
            hash: KeyHash::of(API_KEY),
            scopes: vec![Scope::Push],
            packages: vec![IdPattern::parse("*").unwrap()],
        }],
    };
    std::fs::write(&keys, keys_file.to_yaml().unwrap()).unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    let launch = Launch {
        name: "feed",
        dir: dir.path(),
        ready_path: "/healthz",
        ready: Ready::Success,
        timeout: Duration::from_secs(30),
    };
    let (_feed, port) = launch
        .start(None, |port| {
            let config = FileConfig {
                listen: Some(([127, 0, 0, 1], port).into()),
                public_base_url: Some(format!("http://127.0.0.1:{port}{PATH_BASE}")),
                api_keys_file: Some(keys.clone()),
                temp_dir: Some(dir.path().join("tmp")),
                log_format: Some(LogFormat::Text),
                storage: Some(StorageConfig {
                    url: Some(dir.path().join("storage").to_str().unwrap().to_owned()),
                    options: Default::default(),
                }),
                ..FileConfig::default()
            };
            let path = dir.path().join("config.yaml");
            std::fs::write(&path, config.to_yaml().unwrap()).unwrap();
            let mut cmd = Command::new(workspace_bin("nuget-feed-server"));
            cmd.arg("--config").arg(&path);
            cmd
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let base = format!("http://127.0.0.1:{port}{PATH_BASE}");
    for nupkg in packages() {
        let response = push_package(&format!("{base}/package/"), API_KEY, &nupkg).unwrap();
        assert_eq!(response.status, 201, "push: {}", response.text());
    }

    let screenshots = screenshot_dir();
    println!("browser-e2e: screenshots in {}", screenshots.display());
    let out = tools
        .run_script(
            &repo_root().join("tests/browser/pages.mjs"),
            &[
                ("FEED_BASE", base.as_str()),
                ("SCREENSHOTS", screenshots.to_str().unwrap()),
            ],
        )
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "tests/browser/pages.mjs failed ({}), screenshots in {}:\n{stdout}\n{stderr}",
        out.status,
        screenshots.display()
    );
    assert!(stdout.contains("browser: all pages passed"), "{stdout}");
}

/// `target/<profile>/browser-e2e/`, emptied: kept after the run for people to look at.
fn screenshot_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let dir = profile_dir.join("browser-e2e");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
