//! `redirect_downloads`: on an object store that signs URLs (S3 here, through moto), package
//! downloads are a 302 to a pre-signed URL of the stored object, counted like any download;
//! on a local folder the option is refused at start-up.
//!
//! Needs `.ci/install-deps.sh` (fails with that hint otherwise, unless NUGET_SKIP_EXTERNAL=1).
#![allow(clippy::unwrap_used)]

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use nuget_feed_server::config::{Args, Config, FileConfig, StorageConfig};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_redirect_to_presigned_urls_on_s3() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("feeds");
    let options = moto.storage_options();
    let s = TestServer::start(move |f, _| {
        f.storage = Some(StorageConfig {
            url: Some("s3://feeds/redirects".into()),
            options,
        });
        f.redirect_downloads = Some(true);
    })
    .await;
    let c = Client::new();
    let pkg = PackageBuilder::new("Far.Away", "1.0.0");
    let r = c.push(&s, Some(ADMIN_KEY), &pkg.build()).await;
    assert_eq!(r.status(), 201);

    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = s.url("flatcontainer/far.away/1.0.0/far.away.1.0.0.nupkg");
    let r = no_follow.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&moto.endpoint()), "{location}");
    assert!(location.contains("X-Amz-Signature"), "{location}");
    assert!(
        location.contains("redirects/packages/far.away/1.0.0/"),
        "{location}"
    );
    let stored = no_follow.get(&location).send().await.unwrap();
    assert_eq!(stored.status(), 200);
    assert_eq!(
        stored.bytes().await.unwrap().as_ref(),
        pkg.build().as_slice()
    );
    // A client that follows redirects just gets the package, and the download counts.
    let followed = c.get(&url).await;
    assert_eq!(
        followed.bytes().await.unwrap().as_ref(),
        pkg.build().as_slice()
    );
    let search = c.json(&s.url("query?q=far.away")).await;
    assert_eq!(search["data"][0]["totalDownloads"], 2);
    // Documents and other files are still served by the feed.
    let nuspec = c
        .get(&s.url("flatcontainer/far.away/1.0.0/far.away.nuspec"))
        .await;
    assert_eq!(nuspec.status(), 200);
    assert_eq!(
        no_follow
            .get(s.url("flatcontainer/nope/1.0.0/nope.1.0.0.nupkg"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "only versions the feed has are redirected"
    );
    s.stop().await;
}

#[tokio::test]
async fn redirects_need_a_store_that_signs() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileConfig {
        storage: Some(StorageConfig {
            url: Some(dir.path().to_string_lossy().into_owned()),
            options: Default::default(),
        }),
        redirect_downloads: Some(true),
        ..FileConfig::default()
    };
    let config = Config::resolve(file, Args::default()).unwrap();
    let err = nuget_feed_server::server::build_state(config)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("redirect_downloads"), "{err}");
}
