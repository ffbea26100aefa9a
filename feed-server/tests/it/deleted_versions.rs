//! A version deleted for good never comes back with other bytes (issue 12): clients that
//! restored it keep its bytes in their global packages folder, so a push of it is refused with
//! 409 and a reason naming the way out, unless the feed allows reuse; the feed remembers after
//! a restart, from a snapshot or from the log alone. The unlist mode is unchanged.
#![allow(clippy::unwrap_used)]

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use nuget_feed_server::config::{DeleteMode, FileConfig, StorageConfig};
use nuget_feed_server::testing::PackageBuilder;

/// Pushes `pkg` and returns the status and the body.
async fn push(c: &Client, s: &TestServer, pkg: &PackageBuilder) -> (u16, String) {
    let r = c.push(s, Some(ADMIN_KEY), &pkg.build()).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn delete(c: &Client, s: &TestServer, path: &str) {
    let r = c.delete(&s.url(path), ADMIN_KEY).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

/// Asserts the refusal of a deleted version: 409 with a reason that says why and how to allow it.
fn assert_refused_as_deleted((status, body): (u16, String)) {
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("was deleted"), "{body}");
    assert!(body.contains("cannot be reused"), "{body}");
    assert!(body.contains("allow_deleted_version_reuse"), "{body}");
}

fn hard_delete(f: &mut FileConfig) {
    f.delete_mode = Some(DeleteMode::Delete);
}

#[tokio::test]
async fn a_hard_deleted_version_is_refused_with_any_bytes() {
    let s = TestServer::start(|f, _| hard_delete(f)).await;
    let c = Client::new();
    let first = PackageBuilder::new("Tomb", "1.0.0-Beta").description("first bytes");
    assert_eq!(push(&c, &s, &first).await.0, 201);
    assert_eq!(
        push(&c, &s, &PackageBuilder::new("Tomb", "2.0.0")).await.0,
        201
    );
    delete(&c, &s, "package/tomb/1.0.0-beta").await;

    assert_refused_as_deleted(push(&c, &s, &first).await);
    let other = PackageBuilder::new("TOMB", "1.0.0.0-beta").description("other bytes");
    assert_refused_as_deleted(push(&c, &s, &other).await);
    let flat = c.json(&s.url("flatcontainer/tomb/index.json")).await;
    assert_eq!(
        flat["versions"],
        serde_json::json!(["2.0.0"]),
        "nothing came back"
    );
    // Other versions are free, and a version in the feed is still "already exists".
    assert_eq!(
        push(&c, &s, &PackageBuilder::new("Tomb", "1.0.0")).await.0,
        201
    );
    let (status, body) = push(&c, &s, &PackageBuilder::new("Tomb", "2.0.0")).await;
    assert_eq!(status, 409);
    assert!(body.contains("already exists"), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn a_feed_that_allows_reuse_takes_a_deleted_version_again() {
    let s = TestServer::start(|f, _| {
        hard_delete(f);
        f.allow_deleted_version_reuse = Some(true);
    })
    .await;
    let c = Client::new();
    let url = s.url("flatcontainer/reuse/1.0.0/reuse.1.0.0.nupkg");
    assert_eq!(
        push(&c, &s, &PackageBuilder::new("Reuse", "1.0.0")).await.0,
        201
    );
    delete(&c, &s, "package/reuse/1.0.0").await;
    let second = PackageBuilder::new("Reuse", "1.0.0").description("second bytes");
    assert_eq!(push(&c, &s, &second).await.0, 201);
    let r = c.get(&url).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), second.build().as_slice());
    // And again: a delete after a reuse is no different.
    delete(&c, &s, "package/reuse/1.0.0").await;
    assert_eq!(push(&c, &s, &second).await.0, 201);
    s.stop().await;
}

#[tokio::test]
async fn a_restart_remembers_deleted_versions_from_the_snapshot_and_from_the_log() {
    let data = tempfile::tempdir().unwrap();
    let url = data.path().to_string_lossy().into_owned();
    let start = || {
        let url = url.clone();
        TestServer::start(move |f, _| {
            hard_delete(f);
            f.storage = Some(StorageConfig {
                url: Some(url),
                options: Default::default(),
            });
        })
    };
    let c = Client::new();
    let s = start().await;
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        assert_eq!(push(&c, &s, &PackageBuilder::new("Kept", v)).await.0, 201);
    }
    delete(&c, &s, "package/kept/1.0.0").await;
    assert_eq!(s.state.feed.write_snapshot().await.unwrap(), 4);
    // After the snapshot, only in the log.
    delete(&c, &s, "package/kept/2.0.0").await;
    s.stop().await;

    let s = start().await;
    assert_eq!(s.state.feed.state().seq(), 5, "snapshot 4 and event 5");
    for v in ["1.0.0", "2.0.0"] {
        let again = PackageBuilder::new("Kept", v).description("again");
        assert_refused_as_deleted(push(&c, &s, &again).await);
    }
    s.stop().await;

    // Without the snapshot the log alone says the same.
    std::fs::remove_file(data.path().join("catalog/snapshot.json")).unwrap();
    let s = start().await;
    for v in ["1.0.0", "2.0.0"] {
        let again = PackageBuilder::new("Kept", v).description("again");
        assert_refused_as_deleted(push(&c, &s, &again).await);
    }
    assert_eq!(s.state.feed.state().seq(), 5, "nothing was appended");
    s.stop().await;
}

#[tokio::test]
async fn the_unlist_mode_is_unchanged() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let pkg = PackageBuilder::new("Hidden", "1.0.0");
    assert_eq!(push(&c, &s, &pkg).await.0, 201);
    delete(&c, &s, "package/hidden/1.0.0").await;
    let (status, body) = push(&c, &s, &pkg.clone().description("other")).await;
    assert_eq!(status, 409);
    assert!(body.contains("already exists"), "{body}");
    assert!(
        !body.contains("was deleted"),
        "an unlisted version is not deleted: {body}"
    );
    let r = c
        .get(&s.url("flatcontainer/hidden/1.0.0/hidden.1.0.0.nupkg"))
        .await;
    assert_eq!(r.status(), 200, "still downloadable");
    s.stop().await;
}
