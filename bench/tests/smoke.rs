//! The harness's cheap parts, so they keep working without a benchmark run: a generated feed
//! opens in the server library with every version, from its snapshot, and the generated
//! scripts and nginx configuration look right. (The benchmark itself needs wrk and nginx and
//! minutes; it is never part of the test suite.)
#![allow(clippy::unwrap_used)]

use nuget_feed_bench::generate::{self, FeedSpec};
use nuget_feed_bench::{nginx, wrk};
use nuget_feed_server::feed::search::SearchQuery;
use nuget_feed_server::feed::{Feed, Options};
use nuget_feed_server::storage::Storage;

#[tokio::test]
async fn a_generated_feed_opens_with_every_version() {
    let work = tempfile::tempdir().unwrap();
    let spec = FeedSpec {
        ids: 12,
        versions_per_id: 3,
        seed: 1,
    };
    let dir = generate::ensure(work.path(), spec).await.unwrap();
    assert_eq!(
        generate::ensure(work.path(), spec).await.unwrap(),
        dir,
        "reused"
    );
    let data = generate::data_dir(&dir);
    assert!(data.join("catalog/snapshot.json").exists());
    let feed = Feed::open(Storage::local(&data).unwrap(), Options::default())
        .await
        .unwrap();
    assert_eq!(feed.state().seq(), 36);
    assert_eq!(feed.state().version_count(), 36);
    let model = generate::model(spec);
    let first = &model.packages[0];
    let hits = feed.search_index().search(&SearchQuery {
        q: first.id.clone(),
        prerelease: true,
        semver2: true,
        ..SearchQuery::default()
    });
    assert_eq!(hits.ids[0], first.id.to_ascii_lowercase());
}

#[test]
fn scripts_and_nginx_config_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = wrk::Scripts::write(dir.path()).unwrap();
    let lua = std::fs::read_to_string(&scripts.paths).unwrap();
    assert!(lua.contains("function request()") && lua.contains("function done("));
    let single = std::fs::read_to_string(&scripts.single).unwrap();
    assert!(
        single.contains("function done(") && !single.contains("function request()"),
        "a single URL runs no Lua per request: {single}"
    );
    let conf = nginx::config(dir.path(), dir.path(), 8080, 2, false);
    assert!(conf.contains("listen 127.0.0.1:8080;"));
    assert!(conf.contains("gzip_static on;"));
    assert!(!conf.contains("user root"));
}
