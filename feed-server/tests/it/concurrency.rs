//! Two real server processes sharing one store race pushes, unlists, relists and hard deletes
//! (DESIGN invariants 1, 2 and 4), on a local folder (create-only writes are hard links, so
//! they hold across processes), on S3 (moto) and on Azure Blob (Azurite).
//!
//! Every race is checked against the event log in storage, not only against the answers: no
//! accepted push is missing, each version was pushed once and holds the winner's bytes, each
//! unlist or relist was decided on the latest state, and `fsck` finds the feed consistent.
//! Convergence (a change through one process visible through the other) is measured for the
//! flat container, registration, search and catalog with the default sync interval.
//!
//! `NUGET_SOAK=1` multiplies the rounds by 10. Needs `.ci/install-deps.sh` for moto and Azurite
//! (those two tests skip with `NUGET_SKIP_EXTERNAL=1`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::process::{FeedConfig, FeedProcess};
use crate::common::server::{ADMIN_KEY, Client};
use futures::StreamExt;
use nuget_feed_server::feed::fsck::{self, FsckOptions};
use nuget_feed_server::storage::Storage;
use nuget_feed_server::storage::key::{EVENTS_PREFIX, event_seq};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::azurite::Azurite;
use nuget_test_support::moto::Moto;
use serde_json::Value;

fn soak() -> usize {
    if std::env::var("NUGET_SOAK").is_ok_and(|v| v == "1") {
        10
    } else {
        1
    }
}

/// What a scenario did, for the closing numbers.
#[derive(Debug, Default)]
struct Numbers {
    pushes: usize,
    same_version_races: usize,
    listing_ops: usize,
    delete_races: usize,
    convergence_max: Duration,
}

/// Every event in the log, in order.
async fn events(storage: &Storage) -> Vec<Value> {
    let mut listed: Vec<u64> = storage
        .list(EVENTS_PREFIX)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| event_seq(&m.path))
        .collect();
    listed.sort_unstable();
    let mut out = Vec::new();
    for seq in listed {
        let bytes = storage
            .get(nuget_feed_server::storage::Key::Event(seq))
            .await
            .unwrap();
        out.push(serde_json::from_slice(&bytes).unwrap());
    }
    out
}

async fn status_of_push(c: &Client, server: &FeedProcess, bytes: &[u8]) -> u16 {
    c.push_to(&server.url("package/"), Some(ADMIN_KEY), bytes)
        .await
        .status()
        .as_u16()
}

/// Polls `check` until it holds; returns how long that took (panics after 20 s).
async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: never happened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn versions_in_flat_container(c: &Client, server: &FeedProcess, id: &str) -> Vec<String> {
    let r = c
        .get(&server.url(&format!("flatcontainer/{id}/index.json")))
        .await;
    if r.status() != 200 {
        return Vec::new();
    }
    let doc: Value = r.json().await.unwrap();
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Listed flag of every version in the registration index.
async fn listed_in_registration(
    c: &Client,
    server: &FeedProcess,
    id: &str,
) -> BTreeMap<String, bool> {
    let doc = c
        .json(&server.url(&format!("registration/{id}/index.json")))
        .await;
    let mut out = BTreeMap::new();
    for page in doc["items"].as_array().unwrap() {
        // Above 128 versions pages are not inlined (REG-3): fetch them.
        let page = match page.get("items") {
            Some(_) => page.clone(),
            None => c.json(page["@id"].as_str().unwrap()).await,
        };
        for leaf in page["items"].as_array().unwrap() {
            let entry = &leaf["catalogEntry"];
            out.insert(
                entry["version"].as_str().unwrap().to_owned(),
                entry["listed"].as_bool().unwrap_or(true),
            );
        }
    }
    out
}

/// Events the catalog lists (the sum of its pages' counts).
async fn catalog_events(c: &Client, server: &FeedProcess) -> u64 {
    let doc = c.json(&server.url("catalog/index.json")).await;
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_u64().unwrap())
        .sum()
}

/// How long until a push through `a` shows in `b`'s flat container, registration, search and
/// catalog (DESIGN invariant 4).
async fn convergence(c: &Client, a: &FeedProcess, b: &FeedProcess, version: &str) -> Duration {
    let bytes = PackageBuilder::new("Converge.Probe", version).build();
    let pushed = Instant::now();
    assert_eq!(status_of_push(c, a, &bytes).await, 201);
    let events = catalog_events(c, a).await;
    eventually("flat container", || async {
        versions_in_flat_container(c, b, "converge.probe")
            .await
            .contains(&version.to_owned())
    })
    .await;
    eventually("registration", || async {
        listed_in_registration(c, b, "converge.probe")
            .await
            .contains_key(version)
    })
    .await;
    eventually("search", || async {
        let doc = c
            .json(&b.url("query?q=converge.probe&prerelease=true"))
            .await;
        doc["data"][0]["versions"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v["version"] == version))
    })
    .await;
    eventually("catalog", || async { catalog_events(c, b).await >= events }).await;
    pushed.elapsed()
}

/// Pushes, same-version races and unlist/relist races through two processes on one store.
async fn race_pushes_and_listing(
    name: &str,
    config: FeedConfig,
    storage: Storage,
    numbers: &mut Numbers,
) {
    let dir = tempfile::tempdir().unwrap();
    let a = FeedProcess::start(dir.path(), "a", config.clone());
    let b = FeedProcess::start(dir.path(), "b", config.clone());
    let servers = [&a, &b];
    let c = Client::new();

    // Invariant 1: distinct versions of one id, in parallel through both, all land.
    let n = 24 * soak();
    let packages: Vec<Vec<u8>> = (0..n)
        .map(|i| PackageBuilder::new("Race.Lib", &format!("1.0.{i}")).build())
        .collect();
    let statuses: Vec<u16> = futures::stream::iter(packages.iter().enumerate())
        .map(|(i, bytes)| status_of_push(&c, servers[i % 2], bytes))
        .buffer_unordered(12)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 201), "{name}: {statuses:?}");
    numbers.pushes += n;
    for server in servers {
        eventually("every version on every replica", || async {
            versions_in_flat_container(&c, server, "race.lib")
                .await
                .len()
                == n
        })
        .await;
    }

    // Invariant 2: of pushes of one version (other bytes each), one 201 and 409 for the rest;
    // the stored package is the winner's on both replicas.
    for round in 0..6 * soak() {
        let version = format!("{}.0.0", round + 2);
        let racers: Vec<Vec<u8>> = (0..4)
            .map(|k| {
                PackageBuilder::new("Race.Same", &version)
                    .description(&format!("racer {k}"))
                    .build()
            })
            .collect();
        let statuses = futures::future::join_all(
            racers
                .iter()
                .enumerate()
                .map(|(k, bytes)| status_of_push(&c, servers[k % 2], bytes)),
        )
        .await;
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [201, 409, 409, 409], "{name} round {round}");
        let winner = &racers[statuses.iter().position(|s| *s == 201).unwrap()];
        for server in servers {
            let url = server.url(&format!(
                "flatcontainer/race.same/{version}/race.same.{version}.nupkg"
            ));
            eventually("the winner on every replica", || async {
                c.get(&url).await.status() == 200
            })
            .await;
            let stored = c.get(&url).await.bytes().await.unwrap();
            assert_eq!(stored.as_ref(), winner.as_slice(), "{name} round {round}");
        }
        numbers.same_version_races += 1;
    }

    // Unlist and relist racing through both, while new versions of the same id are pushed
    // through both: each change is decided on the latest state, so the log alternates (an
    // unlist of an unlisted version appends nothing), both replicas end on the state of the
    // last event, and every push lands.
    let ops = 16 * soak();
    let more: Vec<Vec<u8>> = (0..8)
        .map(|i| PackageBuilder::new("Race.Lib", &format!("3.0.{i}")).build())
        .collect();
    let (results, pushed) = tokio::join!(
        futures::future::join_all((0..ops).map(|i| {
            let server = servers[(i / 2) % 2];
            let url = server.url("package/race.lib/1.0.0");
            let c = &c;
            async move {
                if i % 2 == 0 {
                    c.delete(&url, ADMIN_KEY).await.status().as_u16()
                } else {
                    c.post(&url, ADMIN_KEY).await.status().as_u16()
                }
            }
        })),
        futures::future::join_all(more.iter().enumerate().map(|(i, bytes)| status_of_push(
            &c,
            servers[i % 2],
            bytes
        )),),
    );
    assert!(
        results.iter().all(|s| *s == 204 || *s == 200),
        "{name}: {results:?}"
    );
    assert!(pushed.iter().all(|s| *s == 201), "{name}: {pushed:?}");
    numbers.listing_ops += ops;
    numbers.pushes += more.len();
    // An unlist racing with the push of the very version: 404 until the push is in the log
    // (through either replica), then 204; it is never lost and never applied to nothing.
    let fresh = PackageBuilder::new("Race.Lib", "4.0.0").build();
    let unlist_url = b.url("package/race.lib/4.0.0");
    let (push_status, unlist_status) = tokio::join!(status_of_push(&c, &a, &fresh), async {
        loop {
            let status = c.delete(&unlist_url, ADMIN_KEY).await.status().as_u16();
            if status != 404 {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert_eq!((push_status, unlist_status), (201, 204), "{name}");
    numbers.pushes += 1;
    numbers.listing_ops += 1;
    let log = events(&storage).await;
    let changes: Vec<&str> = log
        .iter()
        // Events carry the id as the request spelled it.
        .filter(|e| {
            e["id"].as_str().unwrap().eq_ignore_ascii_case("race.lib") && e["version"] == "1.0.0"
        })
        .map(|e| e["op"].as_str().unwrap())
        .filter(|op| *op != "push")
        .collect();
    assert!(
        changes.windows(2).all(|w| w[0] != w[1]),
        "{name}: a change decided on a stale state: {changes:?}"
    );
    let listed = changes.last().is_none_or(|op| *op == "relist");
    for server in servers {
        eventually("listing converges", || async {
            listed_in_registration(&c, server, "race.lib")
                .await
                .get("1.0.0")
                == Some(&listed)
        })
        .await;
    }

    // Every accepted push is in the log exactly once.
    let pushes: Vec<String> = log
        .iter()
        .filter(|e| e["op"] == "push")
        .map(|e| format!("{} {}", e["id"], e["version"]))
        .collect();
    let unique: std::collections::BTreeSet<&String> = pushes.iter().collect();
    assert_eq!(unique.len(), pushes.len(), "{name}: a version pushed twice");
    assert_eq!(
        pushes.len(),
        n + 6 * soak() + 9,
        "{name}: a push is missing"
    );
    let fresh_ops: Vec<&str> = log
        .iter()
        .filter(|e| {
            e["id"].as_str().unwrap().eq_ignore_ascii_case("race.lib") && e["version"] == "4.0.0"
        })
        .map(|e| e["op"].as_str().unwrap())
        .collect();
    assert_eq!(fresh_ops, ["push", "unlist"], "{name}");

    // Invariant 4, measured with the replicas' configured sync interval.
    for probe in 0..3 {
        let took = convergence(
            &c,
            servers[probe % 2],
            servers[(probe + 1) % 2],
            &format!("1.0.{probe}"),
        )
        .await;
        numbers.convergence_max = numbers.convergence_max.max(took);
    }

    let report = fsck::fsck(
        &storage,
        &FsckOptions {
            verify_hashes: true,
        },
    )
    .await
    .unwrap();
    assert!(report.is_consistent(), "{name}: {:?}", report.problems);
    assert!(report.orphans.is_empty(), "{name}: {:?}", report.orphans);
    eprintln!("{name}: {numbers:?}");
}

/// Hard deletes racing with pushes of the same version (same bytes and other bytes), through
/// two processes. Where the feed allows reuse of deleted versions, one push wins: a version
/// that is visible downloads with the bytes its push recorded, and the deleter never removes a
/// file of a push that claimed the version anew. Where it does not, no push ever wins.
async fn race_hard_deletes(
    name: &str,
    mut config: FeedConfig,
    storage: Storage,
    numbers: &mut Numbers,
) {
    config.delete_mode = nuget_feed_config::DeleteMode::Delete;
    let dir = tempfile::tempdir().unwrap();
    let a = FeedProcess::start(dir.path(), "a", config.clone());
    let b = FeedProcess::start(dir.path(), "b", config.clone());
    let c = Client::new();
    let rounds = 10 * soak();
    let mut recreated = 0;
    for round in 0..rounds {
        let version = format!("{}.0.0", round + 1);
        let first = PackageBuilder::new("Del.Race", &version)
            .icon("icon.png", b"first icon")
            .build();
        let other = PackageBuilder::new("Del.Race", &version)
            .readme("README.md", "other bytes")
            .build();
        assert_eq!(status_of_push(&c, &a, &first).await, 201);
        let delete_url = b.url(&format!("package/del.race/{version}"));
        // The pushes keep trying while the version exists, so that they land right after the
        // delete commits, while the deleter is removing the old files.
        let deleted_at = std::sync::OnceLock::new();
        let repush = |server: &'static str, bytes: &Vec<u8>| {
            let server = if server == "a" { &a } else { &b };
            let (c, deleted_at, bytes) = (&c, &deleted_at, bytes.clone());
            async move {
                loop {
                    let status = status_of_push(c, server, &bytes).await;
                    let done = deleted_at
                        .get()
                        .is_some_and(|t: &Instant| t.elapsed() > Duration::from_millis(300));
                    if status == 201 || done || status != 409 && status != 503 {
                        return status;
                    }
                }
            }
        };
        let (deleted, same, different) = tokio::join!(
            async {
                let status = c.delete(&delete_url, ADMIN_KEY).await.status().as_u16();
                let _ = deleted_at.set(Instant::now());
                status
            },
            repush("a", &first),
            repush("b", &other),
        );
        assert_eq!(deleted, 204, "{name} round {round}");
        for status in [same, different] {
            assert!(
                status == 201 || status == 409 || status == 503,
                "{name} round {round}: {same} {different}"
            );
        }
        if ![201, 409, 503].contains(&different) || ![201, 409, 503].contains(&same) {
            panic!(
                "{name} round {round}: {same} {different}\n--- a:\n{}\n--- b:\n{}",
                a.log(),
                b.log()
            );
        }
        let winners = [same, different].iter().filter(|s| **s == 201).count();
        let expected_winners = usize::from(config.allow_deleted_version_reuse);
        assert_eq!(
            winners, expected_winners,
            "{name} round {round}: {same} {different}"
        );
        recreated += winners;
        // Both replicas agree, and what they list they serve, with the winner's bytes.
        let expected: Option<&Vec<u8>> = match (same, different) {
            (201, _) => Some(&first),
            (_, 201) => Some(&other),
            _ => None,
        };
        for server in [&a, &b] {
            let url = server.url(&format!(
                "flatcontainer/del.race/{version}/del.race.{version}.nupkg"
            ));
            eventually("the outcome on every replica", || async {
                let listed = versions_in_flat_container(&c, server, "del.race")
                    .await
                    .contains(&version);
                listed == expected.is_some()
            })
            .await;
            if let Some(bytes) = expected {
                let r = c.get(&url).await;
                assert_eq!(
                    r.status(),
                    200,
                    "{name} round {round}: listed but not served"
                );
                assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
            }
        }
        numbers.delete_races += 1;
    }
    let report = fsck::fsck(
        &storage,
        &FsckOptions {
            verify_hashes: true,
        },
    )
    .await
    .unwrap();
    assert!(report.is_consistent(), "{name}: {:?}", report.problems);
    eprintln!("{name}: {rounds} delete races, {recreated} versions pushed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_local_folder() {
    let data = tempfile::tempdir().unwrap();
    let url = data.path().join("feed").to_string_lossy().into_owned();
    let mut config = FeedConfig::new(&url);
    // The default sync interval, so that convergence is measured as deployed.
    config.sync_interval_ms = 1000;
    let storage = Storage::local(std::path::Path::new(&url)).unwrap();
    let mut numbers = Numbers::default();
    race_pushes_and_listing("local folder", config.clone(), storage, &mut numbers).await;
    let deletes = data.path().join("deletes").to_string_lossy().into_owned();
    config.storage_url = deletes.clone();
    config.sync_interval_ms = 100;
    config.allow_deleted_version_reuse = true;
    let storage = Storage::local(std::path::Path::new(&deletes)).unwrap();
    race_hard_deletes("local folder", config.clone(), storage, &mut numbers).await;
    // The default: a deleted version stays deleted, whichever event lands first.
    let refused = data.path().join("refused").to_string_lossy().into_owned();
    config.storage_url = refused.clone();
    config.allow_deleted_version_reuse = false;
    let storage = Storage::local(std::path::Path::new(&refused)).unwrap();
    race_hard_deletes("local folder, no reuse", config, storage, &mut numbers).await;
    eprintln!("local folder: {numbers:?}");
}

async fn on_bucket(name: &str, scheme_bucket: &str, options: BTreeMap<String, String>) {
    let mut numbers = Numbers::default();
    let mut config = FeedConfig::new(format!("{scheme_bucket}/races"));
    config.storage_options = options.clone();
    config.sync_interval_ms = 100;
    let storage = Storage::open(&config.storage_url, &options).unwrap();
    race_pushes_and_listing(name, config.clone(), storage, &mut numbers).await;
    config.storage_url = format!("{scheme_bucket}/deletes");
    config.allow_deleted_version_reuse = true;
    let storage = Storage::open(&config.storage_url, &options).unwrap();
    race_hard_deletes(name, config, storage, &mut numbers).await;
    eprintln!("{name}: {numbers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_s3_bucket() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("feeds");
    on_bucket("s3 (moto)", "s3://feeds", moto.storage_options()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_azure_container() {
    let Some(azurite) = Azurite::start_or_skip() else {
        return;
    };
    azurite.create_container("feeds");
    on_bucket("azure (azurite)", "az://feeds", azurite.storage_options()).await;
}
