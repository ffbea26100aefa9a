//! Crashes at every point of every write operation leave a consistent feed (DESIGN invariant 3),
//! and the feed recovers: the operation, tried again, completes.
//!
//! Deterministic part: a fault-injecting store ([`Faults`]) counts the writes of a successful
//! run of an operation, then for each write `n` and both ways of dying (before the write reaches
//! the store, or after it did but before the answer came back) a fresh feed runs the operation
//! with write `n` crashing and every later store call failing, as in a dead process. A new
//! feed, as a restarted process, then opens the same folder and `fsck` must find it consistent,
//! every visible version must download, and the operation tried again must succeed.
//!
//! Real-process part: `kill -9` of the real server binary in a loop while clients push (see
//! `kill_9_during_pushes_leaves_a_consistent_feed`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::TryStreamExt;
use nuget_feed_server::feed::fsck::{self, FsckOptions};
use nuget_feed_server::feed::gc::{self, GcOptions};
use nuget_feed_server::feed::{self, Feed, Prepared, PreparedSymbols};
use nuget_feed_server::package::{NuGetVersion, PackageId};
use nuget_feed_server::storage::fault::{Crash, Faults};
use nuget_feed_server::storage::{PackageFile, Storage};
use nuget_feed_server::testing::{PackageBuilder, portable_pdb};

fn options(delete_mode: nuget_feed_server::config::DeleteMode) -> feed::Options {
    feed::Options {
        delete_mode,
        ..feed::Options::default()
    }
}

async fn prepare(feed: &Feed, bytes: &[u8]) -> Prepared {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    feed.prepare(file.path().to_path_buf()).await.unwrap()
}

async fn prepare_symbols(feed: &Feed, bytes: &[u8]) -> PreparedSymbols {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    feed.prepare_symbols(file.path().to_path_buf())
        .await
        .unwrap()
}

/// Makes every lock generation and every package object in `dir` look `by` older, as if that
/// much time had passed since the crash (locks of crashed holders go stale, orphans age).
fn age_everything(dir: &Path, by: Duration) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let modified = p.metadata().unwrap().modified().unwrap();
                let f = std::fs::File::options().write(true).open(&p).unwrap();
                f.set_modified(modified.checked_sub(by).unwrap_or(SystemTime::UNIX_EPOCH))
                    .unwrap();
            }
        }
    }
}

/// What a restarted process finds: `fsck` (with hashes) is clean and every visible version
/// downloads byte for byte as its push recorded.
async fn assert_consistent(storage: &Storage, context: &str) -> Feed {
    let report = fsck::fsck(
        storage,
        &FsckOptions {
            verify_hashes: true,
        },
    )
    .await
    .unwrap();
    assert!(
        report.is_consistent(),
        "{context}: fsck found {:?}",
        report.problems
    );
    let feed = Feed::open(storage.clone(), feed::Options::default())
        .await
        .unwrap();
    let versions: Vec<(PackageId, NuGetVersion)> = fsck::LogView::read(storage)
        .await
        .unwrap()
        .versions()
        .map(|v| (v.id.clone(), v.version.clone()))
        .collect();
    assert_eq!(versions.len(), report.versions);
    for (id, version) in versions {
        let blob = feed
            .open_file(&id, &version, PackageFile::Nupkg)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{context}: {id} {version} is listed but has no .nupkg"));
        let bytes: Vec<bytes::Bytes> = blob.stream.try_collect().await.unwrap();
        assert_eq!(
            bytes.iter().map(|b| b.len() as u64).sum::<u64>(),
            blob.size,
            "{context}: {id} {version}"
        );
    }
    feed
}

/// After the recovery: collecting every orphan on the (quiet) feed leaves nothing that fsck
/// calls an orphan, and the feed is still consistent.
async fn assert_collectable(storage: &Storage, context: &str) {
    let report = gc::gc(
        storage,
        &GcOptions {
            grace: Duration::ZERO,
            dry_run: false,
            upstream_max_idle: None,
        },
    )
    .await
    .unwrap();
    assert!(
        report.failed.is_empty() && report.busy.is_empty(),
        "{context}: {report:?}"
    );
    let after = fsck::fsck(storage, &FsckOptions::default()).await.unwrap();
    assert!(after.is_consistent(), "{context}: {:?}", after.problems);
    assert!(
        after.orphans.is_empty(),
        "{context}: gc left {:?}",
        after.orphans
    );
}

/// Runs `op` on a fresh feed in a temp folder (after `setup`) and counts its writes.
struct Scenario<'a> {
    name: &'a str,
    delete_mode: nuget_feed_server::config::DeleteMode,
    setup: &'a (dyn Fn(Feed) -> futures::future::BoxFuture<'static, ()> + Sync),
    op: &'a (dyn Fn(Feed) -> futures::future::BoxFuture<'static, feed::Result<()>> + Sync),
    /// Whether the op, retried after a crash that happened after its commit, may find its
    /// change already made (409 for a push, 404 for a delete).
    committed: &'a (dyn Fn(&feed::Error) -> bool + Sync),
    /// Whether the op reports success when only its clean-up after the commit failed (a hard
    /// delete leaves the rest of the files to `gc`).
    ok_after_commit: bool,
}

impl Scenario<'_> {
    async fn fresh(&self) -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path()).unwrap();
        let feed = Feed::open(storage.clone(), options(self.delete_mode))
            .await
            .unwrap();
        (self.setup)(feed).await;
        (dir, storage)
    }

    /// Crashes the op at every write, both ways; returns how many crashes were survived.
    async fn run(&self) -> u64 {
        let (_dir, storage) = self.fresh().await;
        let faults = Faults::new();
        let feed = Feed::open(
            storage.with_faults(Arc::clone(&faults)),
            options(self.delete_mode),
        )
        .await
        .unwrap();
        faults.reset();
        (self.op)(feed).await.unwrap();
        let writes = faults.writes();
        let log = faults.write_log();
        assert!(writes > 0, "{}: no writes", self.name);
        let mut survived = 0;
        for how in [Crash::Before, Crash::After] {
            for n in 1..=writes {
                let context = format!(
                    "{}: crash {how:?} write {n} ({})",
                    self.name,
                    log[n as usize - 1]
                );
                let (dir, storage) = self.fresh().await;
                let faults = Faults::new();
                let feed = Feed::open(
                    storage.with_faults(Arc::clone(&faults)),
                    options(self.delete_mode),
                )
                .await
                .unwrap();
                faults.crash_at(n, how);
                let result = (self.op)(feed).await;
                assert!(faults.crashed(), "{context}: the crash did not happen");
                assert!(
                    result.is_err() || self.ok_after_commit,
                    "{context}: succeeded despite the crash"
                );
                // The restarted process.
                assert_consistent(&storage, &context).await;
                // Time passes: a crashed holder's lock goes stale, orphans age.
                age_everything(dir.path(), Duration::from_secs(3600));
                let feed = Feed::open(storage.clone(), options(self.delete_mode))
                    .await
                    .unwrap();
                match (self.op)(feed).await {
                    Ok(()) => {}
                    Err(e) if (self.committed)(&e) => {}
                    Err(e) => panic!("{context}: the retry failed: {e}"),
                }
                assert_consistent(&storage, &format!("{context}, retried")).await;
                assert_collectable(&storage, &context).await;
                survived += 1;
            }
        }
        survived
    }
}

fn full_package(version: &str) -> Vec<u8> {
    PackageBuilder::new("Crash.Test", version)
        .icon("icon.png", b"\x89PNG not really")
        .readme("README.md", "# read me")
        .license_file("LICENSE.txt", b"MIT")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_of_a_push_can_crash() {
    let setup = |feed: Feed| -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            let p = prepare(&feed, &full_package("0.9.0")).await;
            feed.push(&p).await.unwrap();
        })
    };
    let op = |feed: Feed| -> futures::future::BoxFuture<'static, feed::Result<()>> {
        Box::pin(async move {
            let p = prepare(&feed, &full_package("1.0.0")).await;
            feed.push(&p).await
        })
    };
    let survived = Scenario {
        name: "push",
        delete_mode: Default::default(),
        setup: &setup,
        op: &op,
        committed: &|e| matches!(e, feed::Error::AlreadyExists { .. }),
        ok_after_commit: false,
    }
    .run()
    .await;
    eprintln!("push: survived {survived} crashes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_of_a_hard_delete_can_crash() {
    let setup = |feed: Feed| -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            for v in ["1.0.0", "2.0.0"] {
                let p = prepare(&feed, &full_package(v)).await;
                feed.push(&p).await.unwrap();
            }
            let pdb = portable_pdb([7; 16], 1);
            let snupkg = PackageBuilder::new("Crash.Test", "1.0.0")
                .build_symbols(&[("lib/net8.0/Crash.Test.pdb", pdb)]);
            let s = prepare_symbols(&feed, &snupkg).await;
            feed.push_symbols(&s).await.unwrap();
        })
    };
    let op = |feed: Feed| -> futures::future::BoxFuture<'static, feed::Result<()>> {
        Box::pin(async move {
            feed.delete(
                &PackageId::parse("Crash.Test").unwrap(),
                &NuGetVersion::parse("1.0.0").unwrap(),
            )
            .await
        })
    };
    let survived = Scenario {
        name: "hard delete",
        delete_mode: nuget_feed_server::config::DeleteMode::Delete,
        setup: &setup,
        op: &op,
        committed: &|e| matches!(e, feed::Error::NotFound { .. }),
        ok_after_commit: true,
    }
    .run()
    .await;
    eprintln!("hard delete: survived {survived} crashes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_of_a_symbols_push_can_crash() {
    let setup = |feed: Feed| -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            let p = prepare(&feed, &full_package("1.0.0")).await;
            feed.push(&p).await.unwrap();
        })
    };
    let op = |feed: Feed| -> futures::future::BoxFuture<'static, feed::Result<()>> {
        Box::pin(async move {
            let snupkg = PackageBuilder::new("Crash.Test", "1.0.0").build_symbols(&[
                ("lib/net8.0/A.pdb", portable_pdb([1; 16], 1)),
                ("lib/net8.0/B.pdb", portable_pdb([2; 16], 2)),
            ]);
            let s = prepare_symbols(&feed, &snupkg).await;
            feed.push_symbols(&s).await
        })
    };
    let survived = Scenario {
        name: "symbols push",
        delete_mode: Default::default(),
        setup: &setup,
        op: &op,
        // A symbols push may be repeated: it appends another event either way.
        committed: &|_| false,
        ok_after_commit: true,
    }
    .run()
    .await;
    eprintln!("symbols push: survived {survived} crashes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_then_a_push_of_other_bytes_waits_for_the_claim_grace() {
    // The orphan of a push that died may still be committed by that push (were it alive), so a
    // push of other bytes gets 409 until the claim grace has passed, then takes it over.
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(dir.path()).unwrap();
    let faults = Faults::new();
    let feed = Feed::open(
        storage.with_faults(Arc::clone(&faults)),
        feed::Options::default(),
    )
    .await
    .unwrap();
    let first = prepare(&feed, &full_package("1.0.0")).await;
    faults.crash_at(3, Crash::Before); // after the claim and the nuspec
    feed.push(&first).await.unwrap_err();
    let feed = Feed::open(storage.clone(), feed::Options::default())
        .await
        .unwrap();
    let other = prepare(
        &feed,
        &PackageBuilder::new("Crash.Test", "1.0.0")
            .description("other bytes")
            .build(),
    )
    .await;
    let err = feed.push(&other).await.unwrap_err();
    assert!(matches!(err, feed::Error::AlreadyExists { .. }), "{err}");
    age_everything(dir.path(), nuget_feed_server::storage::CLAIM_GRACE);
    feed.push(&other).await.unwrap();
    let feed = assert_consistent(&storage, "takeover").await;
    // The winner's bytes, and none of the first push's embedded files are served.
    let v = NuGetVersion::parse("1.0.0").unwrap();
    let id = PackageId::parse("Crash.Test").unwrap();
    assert!(
        feed.open_file(&id, &v, PackageFile::Icon)
            .await
            .unwrap()
            .is_none()
    );
    let report = fsck::fsck(
        &storage,
        &FsckOptions {
            verify_hashes: true,
        },
    )
    .await
    .unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
    // The first push's icon, readme and license are orphans now.
    assert_eq!(
        report.orphans.iter().filter(|o| o.kind == "file").count(),
        0,
        "the crash came before they were written: {:?}",
        report.orphans
    );
}

// ------------------------------------------------------------------------------------------------
// kill -9 of the real binary

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use crate::common::process::{FeedConfig, FeedProcess, run_command};
use crate::common::server::ADMIN_KEY;

/// What became of one push while the server was being killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 201: the server promised the version is stored.
    Acknowledged,
    /// No answer (the server died) or 5xx: the version may or may not be there.
    Unknown,
}

/// A deterministic sequence of kill delays (xorshift), seeded by `NUGET_CRASH_SEED` or the clock.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, min: u64, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        min + self.0 % (max - min)
    }
}

fn kill_package(version: &str) -> Vec<u8> {
    PackageBuilder::new("Kill.Test", version)
        .icon("icon.png", &[version.len() as u8; 3000])
        .readme("README.md", &format!("# {version}"))
        .build()
}

/// Kills the server `kills` times at random moments while three clients push, then checks the
/// feed with `fsck` (the binary) and over HTTP, pushes again what had no answer, and collects
/// the orphans with `gc`.
async fn kill_loop(name: &str, config: FeedConfig, kills: usize) {
    let seed = std::env::var("NUGET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let dir = tempfile::tempdir().unwrap();
    let mut server = FeedProcess::start(dir.path(), "server", config.clone());
    let port = Arc::new(AtomicU16::new(server.port));
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<BTreeMap<String, Outcome>>> = Arc::default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let pushers: Vec<_> = (0..3)
        .map(|p| {
            let (port, stop, outcomes, http) =
                (port.clone(), stop.clone(), outcomes.clone(), http.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let version = format!("{p}.{}.0", n + 1);
                    let bytes = kill_package(&version);
                    let url = format!("http://127.0.0.1:{}/package", port.load(Ordering::Relaxed));
                    let result = http
                        .put(&url)
                        .header("X-NuGet-ApiKey", ADMIN_KEY)
                        .body(bytes)
                        .send()
                        .await;
                    let outcome = match result.map(|r| r.status().as_u16()) {
                        Ok(201) => Outcome::Acknowledged,
                        Ok(status) if status >= 500 => Outcome::Unknown,
                        Ok(status) => panic!("push {version}: unexpected {status}"),
                        Err(e) if e.is_connect() => {
                            // The server is down and nothing was sent: the same push again.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                        Err(_) => Outcome::Unknown,
                    };
                    outcomes.lock().unwrap().insert(version, outcome);
                    n += 1;
                }
            })
        })
        .collect();
    let mut delays = Delays(seed);
    let mut restarts = Duration::ZERO;
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(delays.next_ms(30, 200))).await;
        server.kill9();
        let restarted = Instant::now();
        server.restart();
        restarts += restarted.elapsed();
        port.store(server.port, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    for p in pushers {
        p.await.unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();

    // 1. fsck, as an operator would run it, finds the feed consistent.
    let (status, out, err) = run_command(&["fsck", "--verify-hashes"], &config);
    assert!(
        status.success(),
        "{name}: fsck failed (seed {seed}):\n{out}\n{err}"
    );
    let orphans_after_kills = out.lines().filter(|l| l.starts_with("orphan:")).count();
    let interrupted_writes = out.lines().filter(|l| l.contains("(staging,")).count();

    // 2. Over HTTP: every acknowledged push is there, byte for byte; an unanswered one is there
    //    completely or not at all, and pushing it again completes it.
    let c = crate::common::server::Client::new();
    let (mut acknowledged, mut unknown, mut unknown_present) = (0, 0, 0);
    for (version, outcome) in &outcomes {
        let url = server.url(&format!(
            "flatcontainer/kill.test/{version}/kill.test.{version}.nupkg"
        ));
        let r = c.get(&url).await;
        let present = r.status() == 200;
        if present {
            assert_eq!(
                r.bytes().await.unwrap().as_ref(),
                kill_package(version).as_slice(),
                "{name}: {version} has other bytes (seed {seed})"
            );
        }
        match outcome {
            Outcome::Acknowledged => {
                acknowledged += 1;
                assert!(
                    present,
                    "{name}: acknowledged push {version} was lost (seed {seed})"
                );
            }
            Outcome::Unknown => {
                unknown += 1;
                unknown_present += usize::from(present);
                let again = c
                    .push_to(
                        &server.url("package"),
                        Some(ADMIN_KEY),
                        &kill_package(version),
                    )
                    .await
                    .status()
                    .as_u16();
                let expected = if present { 409 } else { 201 };
                assert_eq!(
                    again, expected,
                    "{name}: pushing {version} again (seed {seed})"
                );
            }
        }
    }

    // 3. gc removes every orphan of the killed pushes (nothing else runs now), and fsck agrees.
    let (status, out, err) = run_command(&["gc", "--grace-seconds", "0"], &config);
    assert!(status.success(), "{name}: gc failed:\n{out}\n{err}");
    let (status, out, err) = run_command(&["fsck", "--verify-hashes", "--strict"], &config);
    assert!(status.success(), "{name}: fsck after gc:\n{out}\n{err}");
    eprintln!(
        "{name}: {kills} kills survived (seed {seed}); {} pushes: {acknowledged} acknowledged (0 lost), \
         {unknown} unanswered ({unknown_present} had landed, the rest pushed again); \
         {orphans_after_kills} orphaned objects left by killed pushes ({interrupted_writes} \
         half-written files), collected by gc; \
         restart to healthy took {:?} on average",
        outcomes.len(),
        restarts / kills as u32
    );
}

fn kills() -> usize {
    if std::env::var("NUGET_SOAK").is_ok_and(|v| v == "1") {
        300
    } else {
        20
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_pushes_leaves_a_consistent_feed() {
    let data = tempfile::tempdir().unwrap();
    let config = FeedConfig::new(data.path().join("feed").to_string_lossy().into_owned());
    kill_loop("local folder", config, kills()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_pushes_to_s3_leaves_a_consistent_feed() {
    let Some(moto) = nuget_test_support::moto::Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("kills");
    let mut config = FeedConfig::new("s3://kills/feed");
    config.storage_options = moto.storage_options();
    kill_loop("s3 (moto)", config, kills() / 2).await;
}
