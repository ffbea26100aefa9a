//! Storage faults: while the object store is down (refusing connections) or hanging (timeouts),
//! clients get 503 with Retry-After, nothing partial becomes visible, and once the store is back
//! the server works again by itself, without a restart.
//!
//! With the real binary and a real S3 server (moto) behind a proxy that cuts it off, and in
//! process with a fault-injecting store for the feed operations one by one.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::process::{FeedConfig, FeedProcess};
use crate::common::server::{ADMIN_KEY, Client};
use nuget_feed_server::feed::fsck::{self, FsckOptions};
use nuget_feed_server::feed::{self, Feed};
use nuget_feed_server::package::{NuGetVersion, PackageId};
use nuget_feed_server::storage::Storage;
use nuget_feed_server::storage::fault::Faults;
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::moto::Moto;
use nuget_test_support::proxy::{FaultProxy, Mode};

fn s3_options(endpoint: String) -> std::collections::BTreeMap<String, String> {
    let mut options = Moto::storage_options_via(&endpoint);
    // Short client timeouts, so that a hanging store becomes a 503 quickly in the test.
    options.insert("timeout".into(), "2s".into());
    options.insert("connect_timeout".into(), "1s".into());
    options
}

async fn objects(storage: &Storage) -> Vec<String> {
    let mut all: Vec<String> = ["packages", "catalog/events"]
        .into_iter()
        .map(|prefix| storage.list(prefix))
        .collect::<futures::future::JoinAll<_>>()
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .map(|m| m.path.to_string())
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_recovers_by_itself_when_the_store_comes_back() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("outage");
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", moto.port())).await;
    let mut config = FeedConfig::new("s3://outage/feed");
    config.storage_options = s3_options(proxy.endpoint());
    let dir = tempfile::tempdir().unwrap();
    let server = FeedProcess::start(dir.path(), "a", config.clone());
    // A second replica that sees the store only directly, to check the first converges on it.
    let mut direct = config.clone();
    direct.storage_options = s3_options(moto.endpoint());
    let other = FeedProcess::start(dir.path(), "b", direct.clone());
    let storage = Storage::open(&direct.storage_url, &direct.storage_options).unwrap();
    let c = Client::new();

    let first = PackageBuilder::new("Before.Outage", "1.0.0").build();
    assert_eq!(
        c.push_to(&server.url("package"), Some(ADMIN_KEY), &first)
            .await
            .status(),
        201
    );
    let during = PackageBuilder::new("During.Outage", "1.0.0").build();
    for mode in [Mode::Refuse, Mode::Blackhole] {
        let before = objects(&storage).await;
        proxy.set(mode);
        let started = Instant::now();
        let r = c
            .push_to(&server.url("package"), Some(ADMIN_KEY), &during)
            .await;
        let took = started.elapsed();
        assert_eq!(r.status(), 503, "{mode:?}");
        assert_eq!(r.headers()["retry-after"], "5", "{mode:?}");
        if mode == Mode::Refuse {
            // (A hanging store makes readiness wait for the client's retries: ~8 s here.)
            assert_eq!(
                c.get(&format!("{}/readyz", server.base())).await.status(),
                503
            );
        }
        // What was loaded is still served from memory.
        assert_eq!(
            c.get(&server.url("flatcontainer/before.outage/index.json"))
                .await
                .status(),
            200
        );
        // Nothing was written: no claim, no event.
        assert_eq!(objects(&storage).await, before, "{mode:?}");
        // The other replica pushes meanwhile.
        let meanwhile = PackageBuilder::new("Meanwhile", &format!("{}.0.0", mode as u8)).build();
        assert_eq!(
            c.push_to(&other.url("package"), Some(ADMIN_KEY), &meanwhile)
                .await
                .status(),
            201
        );
        proxy.set(Mode::Pass);
        let back = Instant::now();
        while c.get(&format!("{}/readyz", server.base())).await.status() != 200 {
            assert!(
                back.elapsed() < Duration::from_secs(30),
                "never ready again"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!(
            "{mode:?}: 503 after {took:?}; ready again {:?} after the store came back",
            back.elapsed()
        );
        // It caught up with the other replica's push by itself.
        let url = server.url(&format!(
            "flatcontainer/meanwhile/{}.0.0/meanwhile.{}.0.0.nupkg",
            mode as u8, mode as u8
        ));
        let caught_up = Instant::now();
        while c.get(&url).await.status() != 200 {
            assert!(
                caught_up.elapsed() < Duration::from_secs(30),
                "never caught up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // And pushes work again, without a restart.
    assert_eq!(
        c.push_to(&server.url("package"), Some(ADMIN_KEY), &during)
            .await
            .status(),
        201
    );
    let r = c
        .get(&server.url("flatcontainer/during.outage/1.0.0/during.outage.1.0.0.nupkg"))
        .await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), during.as_slice());
    let report = fsck::fsck(
        &storage,
        &FsckOptions {
            verify_hashes: true,
        },
    )
    .await
    .unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
    assert!(report.orphans.is_empty(), "{:?}", report.orphans);
}

/// Every feed operation fails cleanly while the store is down and works once it is back, in the
/// same process: nothing is retried behind the client's back and nothing half-done is visible.
#[tokio::test]
async fn every_operation_fails_cleanly_during_an_outage_and_works_after() {
    let dir = tempfile::tempdir().unwrap();
    let base = Storage::local(dir.path()).unwrap();
    let faults = Faults::new();
    let options = feed::Options {
        delete_mode: nuget_feed_server::config::DeleteMode::Delete,
        ..feed::Options::default()
    };
    let feed = Feed::open(base.with_faults(Arc::clone(&faults)), options)
        .await
        .unwrap();
    let prepare = |bytes: Vec<u8>| {
        let feed = feed.clone();
        async move {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), bytes).unwrap();
            feed.prepare(file.path().to_path_buf()).await.unwrap()
        }
    };
    let kept = prepare(PackageBuilder::new("Out", "1.0.0").build()).await;
    feed.push(&kept).await.unwrap();
    let id = PackageId::parse("Out").unwrap();
    let v1 = NuGetVersion::parse("1.0.0").unwrap();
    let new = prepare(PackageBuilder::new("Out", "2.0.0").build()).await;

    faults.set_down(true);
    let before = objects(&base).await;
    let is_storage = |r: feed::Result<()>| matches!(r, Err(feed::Error::Storage(_)));
    assert!(is_storage(feed.push(&new).await), "push");
    assert!(is_storage(feed.set_listed(&id, &v1, false).await), "unlist");
    assert!(is_storage(feed.delete(&id, &v1).await), "delete");
    assert!(feed.catch_up().await.is_err(), "catch up");
    assert_eq!(objects(&base).await, before, "the outage changed the store");
    faults.set_down(false);

    feed.push(&new).await.unwrap();
    feed.set_listed(&id, &v1, false).await.unwrap();
    feed.delete(&id, &v1).await.unwrap();
    let report = fsck::fsck(
        &base,
        &FsckOptions {
            verify_hashes: true,
        },
    )
    .await
    .unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
    assert!(report.orphans.is_empty(), "{:?}", report.orphans);
    assert_eq!(report.versions, 1);
}
