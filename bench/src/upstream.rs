//! The upstream row: a cold restore of [`PACKAGES`] packages through the server reading
//! through to a local upstream (test-support's static feed in nuget.org's shapes, served by
//! nginx), with the number of requests the upstream saw, against the same restore straight
//! from the static feed; then the same restore again through the server, from its cache.
//!
//! Then reads of cached upstream documents and packages against the same reads of local ones,
//! in the same server: the same number of packages of the same size pushed to it, and
//! [`ROUNDS`] restores of each, alternating, their medians compared.
//!
//! A restore is what `dotnet restore` does for PackageReference (PBA-7): the service index,
//! then per package its flat-container version list and its `.nupkg`, [`PARALLEL`] at a time.
//! Every restore uses a new HTTP client, so none reuses another's connections.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::static_feed::StaticFeed;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::Value;

use crate::server::ServerProcess;

/// Packages restored.
pub const PACKAGES: usize = 50;
/// Requests in flight during a restore: the same for both sides.
pub const PARALLEL: usize = 16;
/// Size of each package's one file (random, so it does not compress).
pub const PAYLOAD_BYTES: usize = 100 << 10;
/// Restores of the cached upstream packages and of the local ones, alternating.
pub const ROUNDS: usize = 5;

/// What the row reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpstreamResult {
    pub packages: usize,
    /// Straight from the static feed.
    pub direct: Duration,
    /// Requests the static feed answered during it.
    pub direct_requests: usize,
    /// Through the server, its cache empty.
    pub cold: Duration,
    /// Requests the static feed answered during the cold restore.
    pub cold_upstream_requests: usize,
    /// Through the server again, everything cached (and fresh).
    pub warm: Duration,
    /// Requests the static feed answered during the warm restore.
    pub warm_upstream_requests: usize,
    /// Median of [`ROUNDS`] restores of the cached upstream packages.
    pub cached_median: Duration,
    /// Median of [`ROUNDS`] restores of as many local packages of the same size, in between.
    pub local_median: Duration,
    /// Requests the static feed answered during those rounds.
    pub rounds_upstream_requests: usize,
}

/// `count` packages `{prefix}{n}` 1.0.0, each with one file of random bytes.
fn packages(prefix: &str, count: usize, rng: &mut StdRng) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let id = format!("{prefix}{i:02}");
            let mut payload = vec![0u8; PAYLOAD_BYTES];
            rng.fill_bytes(&mut payload);
            let nupkg = PackageBuilder::new(&id, "1.0.0")
                .file(&format!("lib/net8.0/{id}.dll"), &payload)
                .build();
            (id, nupkg)
        })
        .collect()
}

/// Pushes `nupkg` to the server at `base` (PUB-1: a multipart body, the key in a header).
async fn push(client: &reqwest::Client, base: &str, nupkg: &[u8]) -> anyhow::Result<()> {
    let boundary = "bench-upstream-5e6f";
    let mut body = format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\r\n").into_bytes();
    body.extend_from_slice(nupkg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    client
        .put(format!("{base}/package"))
        .header("X-NuGet-ApiKey", crate::server::PUSH_KEY)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary=\"{boundary}\""),
        )
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs the row with the server binary `bin`, its storage and logs in `scratch`.
pub async fn run(bin: &Path, scratch: &Path) -> anyhow::Result<UpstreamResult> {
    let mut rng = StdRng::seed_from_u64(13);
    let upstream_packages = packages("Bench.Upstream.P", PACKAGES, &mut rng);
    let local_packages = packages("Bench.Local.P", PACKAGES, &mut rng);
    let ids: Vec<String> = upstream_packages.iter().map(|(id, _)| id.clone()).collect();
    let local_ids: Vec<String> = local_packages.iter().map(|(id, _)| id.clone()).collect();
    let mut feed = StaticFeed::builder();
    for (_, nupkg) in upstream_packages {
        feed = feed.package(nupkg);
    }
    let upstream = feed
        .serve_or_skip()
        .context("nginx is needed for the static upstream (NUGET_SKIP_EXTERNAL is set)")?;
    let before = upstream.access_log().len();
    let direct = restore(&upstream.index_url(), &ids).await?;
    let direct_requests = upstream.access_log().len() - before;

    let data = scratch.join("upstream-cache");
    std::fs::create_dir_all(&data)?;
    let server =
        ServerProcess::start_with(bin, &data, scratch, &["--upstream", &upstream.index_url()])?;
    let index = format!("{}/index.json", server.url());
    let before = upstream.access_log().len();
    let cold = restore(&index, &ids).await?;
    let after_cold = upstream.access_log().len();
    let warm = restore(&index, &ids).await?;
    let after_warm = upstream.access_log().len();
    let client = reqwest::Client::new();
    for (_, nupkg) in &local_packages {
        push(&client, &server.url(), nupkg).await?;
    }
    let (mut cached, mut local) = (Vec::new(), Vec::new());
    let before_rounds = upstream.access_log().len();
    for _ in 0..ROUNDS {
        cached.push(restore(&index, &ids).await?);
        local.push(restore(&index, &local_ids).await?);
    }
    let rounds_upstream_requests = upstream.access_log().len() - before_rounds;
    server.stop();
    let result = UpstreamResult {
        packages: PACKAGES,
        direct,
        direct_requests,
        cold,
        cold_upstream_requests: after_cold - before,
        warm,
        warm_upstream_requests: after_warm - after_cold,
        cached_median: median(cached),
        local_median: median(local),
        rounds_upstream_requests,
    };
    eprintln!("upstream: {result:?}");
    Ok(result)
}

/// One restore of the latest version of every id from the V3 source `index_url`.
async fn restore(index_url: &str, ids: &[String]) -> anyhow::Result<Duration> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let started = Instant::now();
    let index: Value = client
        .get(index_url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let base = index["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["@type"] == "PackageBaseAddress/3.0.0"))
        .and_then(|r| r["@id"].as_str())
        .with_context(|| format!("{index_url} has no PackageBaseAddress/3.0.0"))?
        .trim_end_matches('/')
        .to_owned();
    futures::stream::iter(ids)
        .map(|id| {
            let (client, base) = (&client, &base);
            async move {
                let lower = id.to_lowercase();
                let versions: Value = client
                    .get(format!("{base}/{lower}/index.json"))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let v = versions["versions"]
                    .as_array()
                    .and_then(|v| v.last())
                    .and_then(Value::as_str)
                    .with_context(|| format!("no versions of {id}"))?;
                let bytes = client
                    .get(format!("{base}/{lower}/{v}/{lower}.{v}.nupkg"))
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                anyhow::ensure!(bytes.len() > PAYLOAD_BYTES, "{id} {v}: a short download");
                Ok(())
            }
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(started.elapsed())
}

/// The row as Markdown: a sentence and a table.
pub fn markdown(u: &UpstreamResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A restore of {} packages (the service index, then the flat-container version list and `.nupkg` of each, {} KiB apiece, {} requests in flight) from a static upstream in nuget.org's shapes served by nginx on this machine:\n",
        u.packages,
        PAYLOAD_BYTES >> 10,
        PARALLEL
    );
    let _ = writeln!(out, "| restore | time | requests to the upstream |");
    let _ = writeln!(out, "|---|---:|---:|");
    let _ = writeln!(
        out,
        "| straight from the static feed | {:.3} s | {} |",
        u.direct.as_secs_f64(),
        u.direct_requests
    );
    let _ = writeln!(
        out,
        "| through ours, cold cache | {:.3} s | {} |",
        u.cold.as_secs_f64(),
        u.cold_upstream_requests
    );
    let _ = writeln!(
        out,
        "| through ours again, cached | {:.3} s | {} |",
        u.warm.as_secs_f64(),
        u.warm_upstream_requests
    );
    let _ = writeln!(
        out,
        "| through ours, cached upstream packages (median of {ROUNDS}) | {:.3} s | {} |",
        u.cached_median.as_secs_f64(),
        u.rounds_upstream_requests
    );
    let _ = writeln!(
        out,
        "| through ours, as many local packages (median of {ROUNDS}, alternating) | {:.3} s | |\n",
        u.local_median.as_secs_f64(),
    );
    out
}
