//! The audit trail, read from the real binary's log as an operator reads it (text format,
//! written to a file, `RUST_LOG=info`): one INFO line per change naming the package, version,
//! operation and key name, never the key; one line per refused write with its status, reason
//! and key name; a flood of refusals rate-limited with the drops counted; no colour codes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::process::{FeedConfig, FeedProcess};
use crate::common::server::{ADMIN_KEY, Client};
use nuget_feed_config::DeleteMode;
use nuget_feed_server::testing::{PackageBuilder, portable_pdb};

const WRONG_KEY: &str = "wrong-key-9876543210";

fn start(dir: &Path, name: &str, edit: impl FnOnce(&mut FeedConfig)) -> FeedProcess {
    let storage = dir.join(format!("{name}-data"));
    let mut config = FeedConfig::new(storage.to_str().unwrap());
    config.log_filter = Some("info".into());
    edit(&mut config);
    FeedProcess::start(dir, name, config)
}

/// The audit trail's lines of `log` at `level` (`INFO`, `WARN`).
fn audit_lines(log: &str, level: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains(&format!(" {level} ")) && l.contains("nuget_feed_server::http::audit")
        })
        .map(str::to_owned)
        .collect()
}

/// Waits until the server has logged `n` audit lines at `level` (a line is written before its
/// response is sent, but a refused upload's client may see the connection close first).
async fn wait_for_lines(server: &FeedProcess, level: &str, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines = audit_lines(&server.log(), level);
        if lines.len() >= n || start.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The one line among `lines` that contains every one of `parts`.
fn one_line_with<'a>(lines: &'a [String], parts: &[&str]) -> &'a str {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one line with {parts:?} in:\n{}",
        lines.join("\n")
    );
    found[0]
}

#[tokio::test]
async fn every_change_logs_one_info_line_naming_package_operation_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new();
    let unlisting = start(dir.path(), "unlist", |_| {});
    let deleting = start(dir.path(), "delete", |c| c.delete_mode = DeleteMode::Delete);

    let pkg = PackageBuilder::new("Audit.Lib", "1.2.3");
    let pdb = portable_pdb([7; 16], 3);
    let snupkg = pkg.build_symbols(&[("lib/net8.0/Audit.Lib.pdb", pdb)]);
    let version_url = unlisting.url("package/Audit.Lib/1.2.3");
    let deprecation_url = format!("{version_url}/deprecation");
    let deprecation = r#"{"reasons":["Legacy"],"message":"use 2.0"}"#;
    assert_eq!(
        c.push_to(&unlisting.url("package/"), Some(ADMIN_KEY), &pkg.build())
            .await
            .status(),
        201
    );
    assert_eq!(
        c.push_to(&unlisting.url("symbolpackage/"), Some(ADMIN_KEY), &snupkg)
            .await
            .status(),
        201
    );
    assert_eq!(c.delete(&version_url, ADMIN_KEY).await.status(), 204);
    assert_eq!(c.post(&version_url, ADMIN_KEY).await.status(), 200);
    assert_eq!(
        c.put_body(&deprecation_url, Some(ADMIN_KEY), deprecation)
            .await
            .status(),
        204
    );
    assert_eq!(c.delete(&deprecation_url, ADMIN_KEY).await.status(), 204);
    assert_eq!(
        c.push_to(&deleting.url("package/"), Some(ADMIN_KEY), &pkg.build())
            .await
            .status(),
        201
    );
    assert_eq!(
        c.delete(&deleting.url("package/Audit.Lib/1.2.3"), ADMIN_KEY)
            .await
            .status(),
        204
    );

    let log = unlisting.log();
    let lines = audit_lines(&log, "INFO");
    for operation in [
        "push",
        "symbol push",
        "unlist",
        "relist",
        "deprecate",
        "undeprecate",
    ] {
        one_line_with(
            &lines,
            &[
                &format!("operation=\"{operation}\""),
                "package.id=Audit.Lib",
                "package.version=1.2.3",
                "key.name=\"admin\"",
            ],
        );
    }
    assert_eq!(lines.len(), 6, "one line per change, nothing else:\n{log}");
    let deleted = audit_lines(&deleting.log(), "INFO");
    assert_eq!(deleted.len(), 2, "{}", deleted.join("\n"));
    one_line_with(
        &deleted,
        &[
            "operation=\"delete\"",
            "package.id=Audit.Lib",
            "package.version=1.2.3",
            "key.name=\"admin\"",
        ],
    );

    for log in [log, deleting.log()] {
        assert!(!log.contains(ADMIN_KEY), "the key reached the log:\n{log}");
        assert!(
            !log.contains('\u{1b}'),
            "colour codes in a log file:\n{log:?}"
        );
    }
}

#[tokio::test]
async fn refused_pushes_log_status_reason_and_key_name() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new();
    let server = start(dir.path(), "refusals", |c| {
        c.max_package_bytes = Some(100_000)
    });
    let push_url = server.url("package/");
    let pkg = PackageBuilder::new("Refused.Lib", "1.0.0").build();

    assert_eq!(
        c.push_to(&push_url, Some(WRONG_KEY), &pkg).await.status(),
        403
    );
    assert_eq!(c.push_to(&push_url, None, &pkg).await.status(), 401);
    assert_eq!(
        c.push_to(&push_url, Some(ADMIN_KEY), &pkg).await.status(),
        201
    );
    assert_eq!(
        c.push_to(&push_url, Some(ADMIN_KEY), &pkg).await.status(),
        409
    );
    // Whether the client sees the 413 or a closed connection is another part of the issue;
    // the server's log line is what this test is about.
    let oversized: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = c
        .http
        .put(&push_url)
        .header("X-NuGet-ApiKey", ADMIN_KEY)
        .body(oversized)
        .send()
        .await;

    let lines = wait_for_lines(&server, "WARN", 4).await;
    one_line_with(
        &lines,
        &[
            "status=403",
            "key.name=\"unknown key\"",
            "the API key is invalid",
        ],
    );
    one_line_with(
        &lines,
        &[
            "status=401",
            "key.name=\"no key\"",
            "an API key is required",
        ],
    );
    one_line_with(&lines, &["status=409", "key.name=\"admin\"", "Refused.Lib"]);
    one_line_with(&lines, &["status=413", "key.name=\"admin\""]);
    assert_eq!(
        lines.len(),
        4,
        "one line per refusal:\n{}",
        lines.join("\n")
    );
    let log = server.log();
    assert!(
        !log.contains(WRONG_KEY) && !log.contains(ADMIN_KEY),
        "a key reached the log:\n{log}"
    );
}

/// `refusals.dropped=N` of a refusal line.
fn dropped(line: &str) -> u64 {
    let (_, rest) = line.split_once("refusals.dropped=").unwrap();
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_flood_of_refusals_is_rate_limited_and_the_drops_counted() {
    const FLOOD: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new();
    let server = start(dir.path(), "flood", |_| {});
    let url = server.url("package/Flood.Lib/1.0.0");
    for _ in 0..FLOOD {
        assert_eq!(c.delete(&url, WRONG_KEY).await.status(), 403);
    }
    // Once the budget has earned a line again, the next refusal reports what was dropped.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(c.delete(&url, WRONG_KEY).await.status(), 403);

    let lines = audit_lines(&server.log(), "WARN");
    assert!(
        lines.len() < FLOOD / 3,
        "{} lines for {} refusals: not rate-limited",
        lines.len(),
        FLOOD + 1
    );
    let last = lines.last().unwrap();
    assert!(
        dropped(last) > 0,
        "the last line does not count the drops: {last}"
    );
    assert!(last.contains("more refusals not logged"), "{last}");
    let reported: u64 = lines.iter().map(|l| dropped(l)).sum();
    assert_eq!(
        lines.len() as u64 + reported,
        FLOOD as u64 + 1,
        "every refusal is either logged or counted"
    );
}

/// Writes that no route takes (an unknown path: 404; a method the path does not take: 405) are
/// refusals too, logged like the others; reads that no route takes are not writes and log
/// nothing.
#[tokio::test]
async fn writes_refused_before_routing_log_status_reason_and_key_name() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new();
    let server = start(dir.path(), "unrouted", |_| {});
    let pkg = PackageBuilder::new("Unrouted.Lib", "1.0.0").build();

    // A push to the service index's folder instead of its PackagePublish URL.
    let wrong_push = c
        .push_to(&server.url("v3/package/"), Some(ADMIN_KEY), &pkg)
        .await;
    assert_eq!(wrong_push.status(), 404);
    assert!(
        wrong_push
            .text()
            .await
            .unwrap()
            .contains("PUT /v3/package/: no such endpoint"),
        "the 404 names the request"
    );
    let post_index = c
        .http
        .post(server.url("index.json"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post_index.status(), 405);
    assert!(
        post_index.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    let put_version = c
        .put_body(
            &server.url("package/Unrouted.Lib/1.0.0"),
            Some(WRONG_KEY),
            "{}",
        )
        .await;
    assert_eq!(put_version.status(), 405);
    // Reads: refused the same way, and not part of the audit trail.
    assert_eq!(c.get(&server.url("no/such/path")).await.status(), 404);
    assert_eq!(
        c.get(&server.url("package/Unrouted.Lib/1.0.0"))
            .await
            .status(),
        405
    );
    assert_eq!(
        c.http
            .head(server.url("no/such/path"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let lines = wait_for_lines(&server, "WARN", 3).await;
    one_line_with(
        &lines,
        &[
            "status=404",
            "key.name=\"admin\"",
            "PUT /v3/package/: no such endpoint",
        ],
    );
    one_line_with(
        &lines,
        &[
            "status=405",
            "key.name=\"no key\"",
            "POST is not allowed on /index.json",
        ],
    );
    one_line_with(
        &lines,
        &[
            "status=405",
            "key.name=\"unknown key\"",
            "PUT is not allowed on /package/Unrouted.Lib/1.0.0",
        ],
    );
    // A line is written before its response is sent: the reads' lines, had there been any,
    // would be in the log by now.
    let lines = audit_lines(&server.log(), "WARN");
    assert_eq!(
        lines.len(),
        3,
        "one line per refused write, none for reads:\n{}",
        lines.join("\n")
    );
    let log = server.log();
    assert!(
        !log.contains(WRONG_KEY) && !log.contains(ADMIN_KEY),
        "a key reached the log:\n{log}"
    );
}
