//! The feed on real object stores: an S3-compatible server (moto, which enforces conditional
//! writes) and Azure Blob (Azurite), each shared by two server replicas.
//!
//! Needs `.ci/install-deps.sh` (fails with that hint otherwise, unless NUGET_SKIP_EXTERNAL=1).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use nuget_feed_server::config::{FileConfig, StorageConfig};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::azurite::Azurite;
use nuget_test_support::moto::Moto;

fn use_storage(file: &mut FileConfig, url: &str, options: &BTreeMap<String, String>) {
    file.storage = Some(StorageConfig {
        url: Some(url.to_owned()),
        options: options.clone(),
    });
}

/// Waits until `url` answers 200 (replicas converge within their sync interval).
async fn eventually_ok(c: &Client, url: &str) -> Duration {
    let start = Instant::now();
    loop {
        if c.get(url).await.status() == 200 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{url} never appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two replicas on one store: pushes through either land, a version is pushed once, and each
/// replica sees the other's changes.
async fn two_replicas_share_one_store(url: &str, options: BTreeMap<String, String>) {
    let a = TestServer::start(|f, _| use_storage(f, url, &options)).await;
    let b = TestServer::start(|f, _| use_storage(f, url, &options)).await;
    let c = Client::new();

    let pkg = PackageBuilder::new("Shared.Lib", "1.0.0").description("on a bucket");
    let nupkg = pkg.build();
    assert_eq!(c.push(&a, Some(ADMIN_KEY), &nupkg).await.status(), 201);
    let from_b = b.url("flatcontainer/shared.lib/1.0.0/shared.lib.1.0.0.nupkg");
    eventually_ok(&c, &from_b).await;
    assert_eq!(
        c.get(&from_b).await.bytes().await.unwrap().as_ref(),
        nupkg.as_slice()
    );
    assert_eq!(
        c.push(&b, Some(ADMIN_KEY), &nupkg).await.status(),
        409,
        "the other replica knows the version"
    );

    // Concurrent pushes of distinct versions through both replicas all land (invariant 1),
    // and of one version through both give exactly one 201 (invariant 2).
    let packages: Vec<Vec<u8>> = (0..6)
        .map(|i| PackageBuilder::new("Shared.Lib", &format!("2.0.{i}")).build())
        .collect();
    let pushes = packages.iter().enumerate().map(|(i, bytes)| {
        let server = if i % 2 == 0 { &a } else { &b };
        c.push(server, Some(ADMIN_KEY), bytes)
    });
    let same_a = PackageBuilder::new("Shared.Lib", "3.0.0")
        .description("from a")
        .build();
    let same_b = PackageBuilder::new("Shared.Lib", "3.0.0")
        .description("from b")
        .build();
    let (statuses, race_a, race_b) = tokio::join!(
        futures::future::join_all(pushes),
        c.push(&a, Some(ADMIN_KEY), &same_a),
        c.push(&b, Some(ADMIN_KEY), &same_b),
    );
    for r in statuses {
        assert_eq!(r.status(), 201);
    }
    let mut race = [race_a.status().as_u16(), race_b.status().as_u16()];
    race.sort();
    assert_eq!(race, [201, 409]);
    let winner = if race_a.status() == 201 {
        &same_a
    } else {
        &same_b
    };

    for server in [&a, &b] {
        let url = server.url("flatcontainer/shared.lib/2.0.5/shared.lib.2.0.5.nupkg");
        eventually_ok(&c, &url).await;
        server.state.feed.catch_up().await.unwrap();
        let index = c
            .json(&server.url("flatcontainer/shared.lib/index.json"))
            .await;
        assert_eq!(index["versions"].as_array().unwrap().len(), 8, "{index}");
        let stored = c
            .get(&server.url("flatcontainer/shared.lib/3.0.0/shared.lib.3.0.0.nupkg"))
            .await;
        assert_eq!(
            stored.bytes().await.unwrap().as_ref(),
            winner.as_slice(),
            "the winner's bytes"
        );
    }

    // Unlist on one, seen on the other.
    let r = c
        .delete(&b.url("package/shared.lib/1.0.0"), ADMIN_KEY)
        .await;
    assert_eq!(r.status(), 204);
    let start = Instant::now();
    loop {
        let search = c.json(&a.url("query?q=shared.lib")).await;
        let versions = search["data"][0]["versions"].as_array().unwrap().len();
        if versions == 7 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "unlist never reached replica a"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_feed_with_two_replicas() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("feeds");
    two_replicas_share_one_store("s3://feeds/team-a/main", moto.storage_options()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_feed_with_two_replicas() {
    let Some(azurite) = Azurite::start_or_skip() else {
        return;
    };
    azurite.create_container("feeds");
    two_replicas_share_one_store("az://feeds/team-a/main", azurite.storage_options()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_store_gives_503_with_retry_after() {
    // Storage faults: 503 + Retry-After (G-3, G-9), not a hang and not a 500.
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("flaky");
    let options = moto.storage_options();
    let s = TestServer::start(|f, _| use_storage(f, "s3://flaky/feed", &options)).await;
    let c = Client::new();
    assert_eq!(
        c.push(
            &s,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Before", "1.0.0").build()
        )
        .await
        .status(),
        201
    );
    drop(moto);
    let r = c
        .push(
            &s,
            Some(ADMIN_KEY),
            &PackageBuilder::new("During", "1.0.0").build(),
        )
        .await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(c.get(&format!("{}/readyz", s.root)).await.status(), 503);
    // What was loaded stays readable from memory; the file itself needs the store.
    assert_eq!(
        c.get(&s.url("flatcontainer/before/index.json"))
            .await
            .status(),
        200
    );
    s.stop_unchecked().await;
}
