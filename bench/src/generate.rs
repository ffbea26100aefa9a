//! Feeds of a given size, written straight to storage the way the server writes them: for each
//! version its `.nupkg` (a real package), its `.nuspec` and its push event, then a snapshot of
//! the resulting state. Pushing a million versions over HTTP would take hours; this takes
//! minutes, and push itself is measured separately over HTTP.
//!
//! Everything is derived from a seed, so the same [`FeedSpec`] gives the same feed, and the
//! bench can rebuild the list of ids, versions and words to query without reading the feed.
//! The metadata looks like a real feed's: ids of two or three camel-cased words under a
//! company prefix, descriptions of 12 to 40 words drawn from a vocabulary with a skewed
//! (Zipf-like) frequency, tags, authors, a few tools and prereleases.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use nuget_feed_server::feed::event::{Change, EmbeddedFiles, Event, Pushed};
use nuget_feed_server::feed::snapshot;
use nuget_feed_server::feed::state::FeedState;
use nuget_feed_server::feed::{Feed, Options};
use nuget_feed_server::package::nuspec;
use nuget_feed_server::storage::{Key, PackageFile, Storage};
use nuget_feed_server::testing::PackageBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha512};

/// Bumped whenever the generated content changes, so cached feeds are not reused.
pub const GENERATOR_VERSION: u32 = 1;

/// How big a feed to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedSpec {
    pub ids: usize,
    pub versions_per_id: usize,
    pub seed: u64,
}

impl FeedSpec {
    /// A feed of `versions` versions, ten per id.
    pub fn with_versions(versions: usize) -> FeedSpec {
        FeedSpec {
            ids: versions.div_ceil(10).max(1),
            versions_per_id: 10,
            seed: 6,
        }
    }

    pub fn versions(&self) -> usize {
        self.ids * self.versions_per_id
    }

    /// A folder name for this feed.
    pub fn name(&self) -> String {
        format!(
            "feed-{}x{}-s{}-g{}",
            self.ids, self.versions_per_id, self.seed, GENERATOR_VERSION
        )
    }
}

/// One package of a generated feed.
#[derive(Debug, Clone)]
pub struct PackageModel {
    pub id: String,
    /// Ascending.
    pub versions: Vec<String>,
    pub title: Option<String>,
    pub description: String,
    pub tags: Vec<String>,
    pub authors: String,
    pub tool: bool,
}

/// The whole generated feed's content (no bytes), and the words it was made of.
#[derive(Debug, Clone)]
pub struct FeedModel {
    pub spec: FeedSpec,
    pub packages: Vec<PackageModel>,
    /// The vocabulary, most frequent first.
    pub words: Vec<String>,
    pub companies: Vec<String>,
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ta", "ri", "so", "vu", "de", "an", "el", "or", "ux", "ber", "con",
    "dat", "fin", "gra", "hex", "jet", "lin", "mon", "net", "pix", "qua", "ser", "tor", "val",
    "web", "xml", "zen", "cor", "lib", "api", "sql", "log", "map", "sync", "task", "json", "http",
    "test", "core", "io", "ui", "auth", "cache", "queue",
];

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A word index skewed towards the start: word `i` is drawn about `1/(i+1)` as often as the
/// first, roughly as words are in real text.
fn zipf(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((n as f64).powf(u) - 1.0) as usize % n
}

/// Builds the model of a feed (deterministic in `spec`).
pub fn model(spec: FeedSpec) -> FeedModel {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut words: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while words.len() < 4000 {
        let n = rng.random_range(2..=3);
        let w: String = (0..n)
            .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    let companies: Vec<String> = words[500..700].iter().map(|w| capitalize(w)).collect();
    let authors: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "{} {}",
                capitalize(&words[i * 3]),
                capitalize(&words[i * 3 + 1])
            )
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut packages = Vec::with_capacity(spec.ids);
    for i in 0..spec.ids {
        let company = &companies[zipf(&mut rng, companies.len())];
        let parts = rng.random_range(1..=2);
        let mut id = company.clone();
        for p in 0..parts {
            id.push('.');
            id.push_str(&capitalize(&words[zipf(&mut rng, 2000)]));
            if p == 0 && rng.random_bool(0.5) {
                id.push_str(&capitalize(&words[zipf(&mut rng, 2000)]));
            }
        }
        if !ids.insert(id.to_ascii_lowercase()) {
            id.push_str(&i.to_string());
            ids.insert(id.to_ascii_lowercase());
        }
        let description = (0..rng.random_range(12..=40))
            .map(|_| words[zipf(&mut rng, words.len())].as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let title = rng
            .random_bool(0.3)
            .then(|| format!("{} {}", capitalize(&words[zipf(&mut rng, 1000)]), id));
        let tags = (0..rng.random_range(2..=5))
            .map(|_| words[zipf(&mut rng, 1000)].clone())
            .collect();
        let authors = authors[zipf(&mut rng, authors.len())].clone();
        // Most ids are stable; every fourth ends with a SemVer2 prerelease.
        let prerelease = i % 4 == 3;
        let versions = (0..spec.versions_per_id)
            .map(|j| {
                if prerelease && j + 1 == spec.versions_per_id {
                    format!("{}.0.0-preview.{}", 2 + j / 5, j)
                } else {
                    format!("{}.{}.0", 1 + j / 5, j % 5)
                }
            })
            .collect();
        packages.push(PackageModel {
            id,
            versions,
            title,
            description,
            tags,
            authors,
            tool: i % 50 == 7,
        });
    }
    FeedModel {
        spec,
        packages,
        words,
        companies,
    }
}

impl PackageModel {
    fn builder(&self, version: &str) -> PackageBuilder {
        let mut b = PackageBuilder::new(&self.id, version)
            .description(&self.description)
            .authors(&self.authors)
            .tags(&self.tags.join(" "))
            .license_expression("MIT")
            .file(
                &format!("lib/net8.0/{}.dll", self.id),
                b"MZ not really a dll",
            );
        if let Some(t) = &self.title {
            b = b.title(t);
        }
        if self.tool {
            b = b.package_type("DotnetTool");
        }
        b
    }
}

/// What one version puts in storage.
struct Artifacts {
    event: Event,
    event_json: Bytes,
    nupkg: Bytes,
    nuspec: Bytes,
}

/// The time of event `seq` in generated feeds (with sub-second digits, as real ones have).
fn event_time(seq: u64) -> DateTime<Utc> {
    let base = DateTime::from_timestamp(1_704_067_200, 0).unwrap_or(DateTime::UNIX_EPOCH);
    base + Duration::seconds(seq as i64 * 37)
        + Duration::nanoseconds((seq as i64 * 7919) % 1_000_000_000)
}

fn artifacts(p: &PackageModel, version: &str, seq: u64) -> anyhow::Result<Artifacts> {
    let builder = p.builder(version);
    let nupkg = builder.build();
    let xml = builder.nuspec_xml();
    let parsed = nuspec::parse(xml.as_bytes(), 1 << 20)?;
    let sha512 = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&nupkg));
    let event = Event {
        seq,
        time: event_time(seq),
        id: parsed.id.clone(),
        version: parsed.version.clone(),
        change: Change::Push(Box::new(Pushed {
            nuspec: parsed,
            size: nupkg.len() as u64,
            sha512,
            files: EmbeddedFiles::default(),
        })),
    };
    let event_json = Bytes::from(serde_json::to_vec(&event)?);
    Ok(Artifacts {
        event,
        event_json,
        nupkg: Bytes::from(nupkg),
        nuspec: Bytes::from(xml.into_bytes()),
    })
}

/// Where a generated feed lives under `work`, and whether it is complete.
pub fn feed_dir(work: &Path, spec: FeedSpec) -> PathBuf {
    work.join("feeds").join(spec.name())
}

/// The storage folder of a generated feed.
pub fn data_dir(feed: &Path) -> PathBuf {
    feed.join("data")
}

/// Generates the feed of `spec` under `work` unless a complete one is there. Returns its
/// folder. Progress goes to stderr.
pub async fn ensure(work: &Path, spec: FeedSpec) -> anyhow::Result<PathBuf> {
    let dir = feed_dir(work, spec);
    let marker = dir.join("complete.json");
    if marker.exists() {
        refresh_snapshot(&dir, &marker).await?;
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let started = Instant::now();
    eprintln!(
        "generating a feed of {} ids x {} versions in {}",
        spec.ids,
        spec.versions_per_id,
        dir.display()
    );
    let model = Arc::new(model(spec));
    let storage = Storage::local(&data_dir(&dir))?;
    let mut state = FeedState::default();
    let chunk = 256usize;
    let chunks = model.packages.len().div_ceil(chunk);
    let built = futures::stream::iter(0..chunks)
        .map(|c| {
            let model = model.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Artifacts>> {
                let per = model.spec.versions_per_id;
                let mut out = Vec::new();
                let end = ((c + 1) * chunk).min(model.packages.len());
                for i in c * chunk..end {
                    let p = &model.packages[i];
                    for (j, v) in p.versions.iter().enumerate() {
                        let seq = (i * per + j + 1) as u64;
                        out.push(artifacts(p, v, seq)?);
                    }
                }
                Ok(out)
            })
        })
        .buffered(2);
    futures::pin_mut!(built);
    let mut done = 0usize;
    while let Some(batch) = built.next().await {
        let batch = batch??;
        for a in &batch {
            anyhow::ensure!(state.apply(&a.event), "event {} out of order", a.event.seq);
        }
        futures::stream::iter(batch.iter().flat_map(|a| {
            let (id, version) = (&a.event.id, &a.event.version);
            [
                (
                    Key::Package {
                        id,
                        version,
                        file: PackageFile::Nupkg,
                    },
                    a.nupkg.clone(),
                ),
                (
                    Key::Package {
                        id,
                        version,
                        file: PackageFile::Nuspec,
                    },
                    a.nuspec.clone(),
                ),
                (Key::Event(a.event.seq), a.event_json.clone()),
            ]
        }))
        .map(|(key, bytes)| storage.put(key, bytes))
        .buffer_unordered(64)
        .try_collect::<Vec<()>>()
        .await?;
        done += batch.len();
        if done % 100_000 < batch.len() {
            eprintln!(
                "  {done} versions written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let encoded = tokio::task::spawn_blocking(move || snapshot::encode(&state)).await??;
    let snapshot_bytes = encoded.len();
    storage.put(Key::Snapshot, encoded).await?;
    std::fs::write(
        &marker,
        serde_json::to_vec_pretty(&serde_json::json!({
            "spec": spec,
            "snapshot_bytes": snapshot_bytes,
            "seconds": started.elapsed().as_secs_f64(),
        }))?,
    )?;
    eprintln!(
        "  done: {} versions, snapshot {:.1} MiB, {:.0} s",
        spec.versions(),
        snapshot_bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    Ok(dir)
}

/// Rewrites the snapshot of a feed generated by an older build whose snapshot format this
/// server no longer reads, by replaying the feed's log once (the log's format is stable):
/// otherwise every start-up measured would be a replay.
async fn refresh_snapshot(dir: &Path, marker: &Path) -> anyhow::Result<()> {
    let storage = Storage::local(&data_dir(dir))?;
    let current = storage.get(Key::Snapshot).await?;
    if tokio::task::spawn_blocking(move || snapshot::decode(&current).is_ok()).await? {
        return Ok(());
    }
    let started = Instant::now();
    eprintln!(
        "{}: snapshot of an older format, rebuilding it from the log",
        dir.display()
    );
    let feed = Feed::open(storage, Options::default()).await?;
    feed.write_snapshot().await?;
    let size = feed.storage().get(Key::Snapshot).await?.len();
    let mut info: serde_json::Value = serde_json::from_slice(&std::fs::read(marker)?)?;
    info["snapshot_bytes"] = size.into();
    std::fs::write(marker, serde_json::to_vec_pretty(&info)?)?;
    eprintln!("  done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Size of a generated feed's snapshot, from its marker.
pub fn snapshot_bytes(feed: &Path) -> Option<u64> {
    let text = std::fs::read(feed.join("complete.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v["snapshot_bytes"].as_u64()
}
