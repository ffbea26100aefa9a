//! `nuget-feed-server fsck` and `gc`, run as an operator runs them (the real binary on a feed
//! folder): fsck names every kind of damage and exits non-zero, gc removes old orphans and
//! nothing that is referenced or young, and gc racing with pushes that reuse old orphans (a
//! takeover, a retry of the same bytes) loses nothing.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::process::{FeedConfig, FeedProcess, run_command};
use crate::common::server::{ADMIN_KEY, Client};
use nuget_feed_server::feed::{self, Feed};
use nuget_feed_server::package::{NuGetVersion, PackageId};
use nuget_feed_server::storage::Storage;
use nuget_feed_server::storage::fault::{Crash, Faults};
use nuget_feed_server::testing::{PackageBuilder, portable_pdb};
use serde_json::Value;

async fn push(feed: &Feed, bytes: &[u8]) -> feed::Result<()> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let p = feed.prepare(file.path().to_path_buf()).await.unwrap();
    feed.push(&p).await
}

async fn push_symbols(feed: &Feed, bytes: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let p = feed
        .prepare_symbols(file.path().to_path_buf())
        .await
        .unwrap();
    feed.push_symbols(&p).await.unwrap();
}

/// A push that dies after `writes` writes: an orphan claim and some of its files.
async fn dead_push(storage: &Storage, bytes: &[u8], writes: u64) {
    let faults = Faults::new();
    let feed = Feed::open(
        storage.with_faults(Arc::clone(&faults)),
        feed::Options::default(),
    )
    .await
    .unwrap();
    faults.crash_at(writes + 1, Crash::Before);
    push(&feed, bytes).await.unwrap_err();
}

/// Sets a file's modification time `by` into the past (the local folder's object age).
fn age(path: &Path, by: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

fn age_all(dir: &Path, by: Duration) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            age_all(&e.path(), by);
        } else {
            age(&e.path(), by);
        }
    }
}

fn fsck_json(config: &FeedConfig, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["fsck", "--json"];
    args.extend_from_slice(extra);
    let (status, out, err) = run_command(&args, config);
    let json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (status.code().unwrap(), json)
}

fn kinds(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_owned())
        .collect()
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_names_every_kind_of_damage_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("feed");
    let storage = Storage::local(&root).unwrap();
    let feed = Feed::open(storage.clone(), feed::Options::default())
        .await
        .unwrap();
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        let bytes = PackageBuilder::new("Checked", v)
            .icon("icon.png", b"icon")
            .build();
        push(&feed, &bytes).await.unwrap();
    }
    push_symbols(
        &feed,
        &PackageBuilder::new("Checked", "1.0.0")
            .build_symbols(&[("lib/net8.0/Checked.pdb", portable_pdb([3; 16], 3))]),
    )
    .await;
    let config = FeedConfig::new(root.to_string_lossy().into_owned());
    let (code, report) = fsck_json(&config, &["--verify-hashes"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["versions"], 3);
    let (status, out, _) = run_command(&["fsck"], &config);
    assert!(
        status.success() && out.contains("the feed is consistent"),
        "{out}"
    );

    // An orphan (a push that died) is reported but is no inconsistency, unless --strict.
    dead_push(
        &storage,
        &PackageBuilder::new("Checked", "4.0.0").build(),
        2,
    )
    .await;
    let (code, report) = fsck_json(&config, &[]);
    assert_eq!(code, 0);
    let orphans: Vec<&str> = report["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(orphans, ["claim", "file"], "{report}");
    assert_eq!(fsck_json(&config, &["--strict"]).0, 1);

    let v = |n: &str| root.join(format!("packages/checked/{n}"));
    // Same size, other bytes: only the hash check sees it.
    let nupkg = v("1.0.0/checked.1.0.0.nupkg");
    let mut bytes = std::fs::read(&nupkg).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&nupkg, &bytes).unwrap();
    assert_eq!(fsck_json(&config, &[]).0, 0);
    let (code, report) = fsck_json(&config, &["--verify-hashes"]);
    assert_eq!((code, kinds(&report)), (1, vec!["wrong_hash".to_owned()]));
    // Other size.
    std::fs::write(&nupkg, b"short").unwrap();
    let (code, report) = fsck_json(&config, &[]);
    assert_eq!((code, kinds(&report)), (1, vec!["wrong_size".to_owned()]));
    // A missing file, a missing symbol file.
    std::fs::remove_file(v("2.0.0/icon")).unwrap();
    let pdbs: Vec<_> = std::fs::read_dir(root.join("symbols/checked.pdb"))
        .unwrap()
        .flatten()
        .collect();
    std::fs::remove_dir_all(pdbs[0].path()).unwrap();
    let (code, report) = fsck_json(&config, &[]);
    let mut found = kinds(&report);
    found.sort();
    assert_eq!(code, 1);
    assert_eq!(found, ["missing_file", "missing_symbol", "wrong_size"]);
    let (status, out, _) = run_command(&["fsck"], &config);
    assert_eq!(status.code(), Some(1));
    assert!(
        out.contains("Checked 2.0.0 is in the feed but packages/checked/2.0.0/icon is missing"),
        "{out}"
    );
    // A gap in the log, then an unreadable event.
    let events = root.join("catalog/events");
    std::fs::rename(
        events.join("0000000000000002.json"),
        dir.path().join("2.json"),
    )
    .unwrap();
    let (code, report) = fsck_json(&config, &[]);
    assert_eq!(code, 1);
    assert!(kinds(&report).contains(&"log_gap".to_owned()), "{report}");
    std::fs::rename(
        dir.path().join("2.json"),
        events.join("0000000000000002.json"),
    )
    .unwrap();
    std::fs::write(events.join("0000000000000003.json"), b"{\"seq\": 3, trunc").unwrap();
    let (code, report) = fsck_json(&config, &[]);
    assert_eq!(code, 1);
    assert!(
        kinds(&report).contains(&"corrupt_event".to_owned()),
        "{report}"
    );
    // A store that cannot be read: exit 2.
    let mut broken = config.clone();
    broken.storage_url = "s3://nowhere/feed".into();
    broken.storage_options = [
        ("aws_endpoint", "http://127.0.0.1:9"),
        ("aws_allow_http", "true"),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "x"),
        ("aws_secret_access_key", "x"),
        ("connect_timeout", "1s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (status, _, err) = run_command(&["fsck"], &broken);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("error:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_old_orphans_and_nothing_referenced_or_young() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("feed");
    let storage = Storage::local(&root).unwrap();
    let options = feed::Options {
        delete_mode: nuget_feed_server::config::DeleteMode::Delete,
        ..feed::Options::default()
    };
    let feed = Feed::open(storage.clone(), options.clone()).await.unwrap();
    let live = PackageBuilder::new("Kept", "1.0.0")
        .readme("README.md", "kept")
        .build();
    push(&feed, &live).await.unwrap();
    push_symbols(
        &feed,
        &PackageBuilder::new("Kept", "1.0.0")
            .build_symbols(&[("lib/net8.0/Kept.pdb", portable_pdb([4; 16], 4))]),
    )
    .await;
    // Old orphans: two dead pushes, a hard delete that died after its event, an unreferenced
    // PDB (its version was deleted).
    dead_push(&storage, &PackageBuilder::new("Dead", "1.0.0").build(), 2).await;
    dead_push(
        &storage,
        &PackageBuilder::new("Dead", "2.0.0")
            .icon("i.png", b"i")
            .build(),
        3,
    )
    .await;
    push(&feed, &PackageBuilder::new("Gone", "1.0.0").build())
        .await
        .unwrap();
    push_symbols(
        &feed,
        &PackageBuilder::new("Gone", "1.0.0")
            .build_symbols(&[("lib/net8.0/Gone.pdb", portable_pdb([5; 16], 5))]),
    )
    .await;
    let faults = Faults::new();
    let dying = Feed::open(storage.with_faults(Arc::clone(&faults)), options.clone())
        .await
        .unwrap();
    faults.crash_at(3, Crash::Before); // lock, event, then dies
    dying
        .delete(
            &PackageId::parse("Gone").unwrap(),
            &NuGetVersion::parse("1.0.0").unwrap(),
        )
        .await
        .unwrap();
    // A local folder's half-written file (a process killed inside a write).
    std::fs::write(
        root.join("packages/dead/1.0.0/dead.1.0.0.nupkg#1"),
        b"PK half",
    )
    .unwrap();
    age_all(&root, HOUR);
    // A young orphan: a push in progress, as far as anyone can tell; and a write in progress.
    dead_push(&storage, &PackageBuilder::new("Young", "1.0.0").build(), 1).await;
    std::fs::write(root.join("packages/young/1.0.0/young.nuspec#2"), b"<pack").unwrap();

    let config = FeedConfig::new(root.to_string_lossy().into_owned());
    let before = fsck_json(&config, &[]).1["orphans"]
        .as_array()
        .unwrap()
        .len();
    let (status, out, err) = run_command(&["gc", "--dry-run", "--json"], &config);
    assert!(status.success(), "{err}");
    let dry: Value = serde_json::from_str(&out).unwrap();
    let (_, after_dry) = fsck_json(&config, &[]);
    assert_eq!(
        after_dry["orphans"].as_array().unwrap().len(),
        before,
        "a dry run removed something"
    );
    let (status, out, err) = run_command(&["gc", "--json"], &config);
    assert!(status.success(), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let paths = |report: &Value| -> Vec<String> {
        let mut paths: Vec<String> = report["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        paths.sort();
        paths
    };
    assert_eq!(paths(&report), paths(&dry), "{report}");
    // In each folder the claim goes last (while it exists nobody can claim the version anew).
    let in_order: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for (i, path) in in_order.iter().enumerate() {
        if path.ends_with(".nupkg") {
            let folder = &path[..path.rfind('/').unwrap()];
            assert!(
                !in_order[i + 1..]
                    .iter()
                    .any(|p| p.starts_with(folder) && !p.contains('#')),
                "{in_order:?}"
            );
        }
    }
    let removed = paths(&report);
    let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
    for expected in [
        "packages/dead/1.0.0/dead.1.0.0.nupkg",
        "packages/dead/1.0.0/dead.1.0.0.nupkg#1",
        "packages/dead/1.0.0/dead.nuspec",
        "packages/dead/2.0.0/dead.2.0.0.nupkg",
        "packages/dead/2.0.0/icon",
        "packages/gone/1.0.0/gone.1.0.0.nupkg",
        "packages/gone/1.0.0/gone.1.0.0.snupkg",
    ] {
        assert!(removed.contains(&expected), "{expected} not in {removed:?}");
    }
    assert!(
        removed.iter().any(|p| p.starts_with("symbols/gone.pdb/")),
        "{removed:?}"
    );
    assert!(
        !removed
            .iter()
            .any(|p| p.contains("/kept") || p.contains("young")),
        "{removed:?}"
    );
    // The dead hard delete's lock is stale (an hour old): gc took the next generation and
    // released it, so no lock is left.
    assert!(!root.join("packages/gone/1.0.0/.lock").exists());
    let (code, after) = fsck_json(&config, &["--verify-hashes"]);
    assert_eq!(code, 0, "{after}");
    let left: Vec<&str> = after["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        left,
        [
            "packages/young/1.0.0/young.1.0.0.nupkg",
            "packages/young/1.0.0/young.nuspec#2"
        ]
    );
    // The live version is untouched and still served.
    let feed = Feed::open(storage.clone(), options).await.unwrap();
    assert!(
        feed.open_file(
            &PackageId::parse("Kept").unwrap(),
            &NuGetVersion::parse("1.0.0").unwrap(),
            nuget_feed_server::storage::PackageFile::Readme
        )
        .await
        .unwrap()
        .is_some()
    );
}

/// gc runs again and again while two processes push versions whose old orphans they must take
/// over (other bytes) or rewrite (same bytes) under the version lock that gc takes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_racing_with_pushes_that_reuse_old_orphans_loses_nothing() {
    let rounds = if std::env::var("NUGET_SOAK").is_ok_and(|v| v == "1") {
        5
    } else {
        1
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("feed");
    let storage = Storage::local(&root).unwrap();
    let config = FeedConfig::new(root.to_string_lossy().into_owned());
    let a = FeedProcess::start(dir.path(), "a", config.clone());
    let b = FeedProcess::start(dir.path(), "b", config.clone());
    let c = Client::new();
    let (mut pushed, mut gc_runs, mut gc_removed) = (0, 0, 0);
    for round in 0..rounds {
        let k = 12;
        let originals: Vec<Vec<u8>> = (0..k)
            .map(|i| {
                PackageBuilder::new("Reused", &format!("{round}.{i}.0"))
                    .icon("icon.png", b"first")
                    .build()
            })
            .collect();
        for bytes in &originals {
            dead_push(&storage, bytes, 2).await;
        }
        age_all(&root.join("packages/reused"), HOUR);
        // Even versions are pushed again with the same bytes, odd ones with other bytes.
        let finals: Vec<Vec<u8>> = (0..k)
            .map(|i| {
                if i % 2 == 0 {
                    originals[i].clone()
                } else {
                    PackageBuilder::new("Reused", &format!("{round}.{i}.0"))
                        .readme("README.md", "second")
                        .build()
                }
            })
            .collect();
        let gc = tokio::task::spawn_blocking({
            let config = config.clone();
            move || {
                let mut removed = 0;
                for _ in 0..4 {
                    let (status, out, err) = run_command(&["gc", "--json"], &config);
                    assert!(status.success(), "{out}\n{err}");
                    let report: Value = serde_json::from_str(&out).unwrap();
                    removed += report["removed"].as_array().unwrap().len();
                }
                removed
            }
        });
        let pushes = futures::future::join_all(finals.iter().enumerate().map(|(i, bytes)| {
            let server = if i % 2 == 0 { &a } else { &b };
            let c = &c;
            async move {
                for _ in 0..200 {
                    let status = c
                        .push_to(&server.url("package"), Some(ADMIN_KEY), bytes)
                        .await
                        .status()
                        .as_u16();
                    match status {
                        201 => return,
                        // Busy: gc holds the version's lock.
                        503 => tokio::time::sleep(Duration::from_millis(20)).await,
                        other => panic!("push {i}: {other}"),
                    }
                }
                panic!("push {i} never got through");
            }
        }));
        let (removed, ()) = tokio::join!(gc, async {
            pushes.await;
        });
        gc_removed += removed.unwrap();
        gc_runs += 4;
        pushed += k;
        for (i, bytes) in finals.iter().enumerate() {
            let v = format!("{round}.{i}.0");
            for server in [&a, &b] {
                let url = server.url(&format!("flatcontainer/reused/{v}/reused.{v}.nupkg"));
                let mut r = c.get(&url).await;
                for _ in 0..100 {
                    if r.status() == 200 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    r = c.get(&url).await;
                }
                assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice(), "{v}");
            }
        }
    }
    let (code, report) = fsck_json(&config, &["--verify-hashes"]);
    assert_eq!(code, 0, "{report}");
    eprintln!(
        "{pushed} pushes over old orphans raced {gc_runs} gc runs ({gc_removed} objects removed): nothing lost"
    );
}
