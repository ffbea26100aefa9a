//! The whole benchmark: start-up and memory per feed size, then read and push load on the
//! largest feed, with nginx serving the same bytes as the baseline. Prints Markdown tables.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::generate::{self, FeedModel, FeedSpec};
use crate::nginx;
use crate::server::{self, Memory, ServerProcess};
use crate::single::{self, SingleResult};
use crate::upstream::{self, UpstreamResult};
use crate::wrk::{self, Load, Scripts, WrkResult};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Generated feeds, scratch files and results go here.
    pub work_dir: PathBuf,
    /// The `nuget-feed-server` binary (a release build).
    pub server_bin: PathBuf,
    /// Feed sizes (versions) whose start-up time and memory are measured.
    pub sizes: Vec<usize>,
    /// The feed size the load runs on (one of `sizes`).
    pub load_size: usize,
    /// Length of each wrk run.
    pub duration: Duration,
    /// How many times each ours/nginx pair alternates.
    pub rounds: u32,
    /// wrk threads.
    pub threads: u32,
    /// Start-up is also measured without the snapshot (replaying the log) up to this size.
    pub replay_max: usize,
}

impl Options {
    /// The single-URL measurement's options: runs of at most 4 s (the issue's method), as
    /// many rounds as the rotating reads.
    fn single(&self) -> single::Options {
        single::Options {
            duration: self.duration.min(Duration::from_secs(4)),
            rounds: self.rounds,
            threads: self.threads,
        }
    }
}

/// Connections for cached documents and downloads (the issue's figure is at 64).
const DOC_CONNECTIONS: u32 = 64;
/// Connections for search and autocomplete.
const SEARCH_CONNECTIONS: u32 = 32;
/// Connections pushing at once.
const PUSH_CONNECTIONS: u32 = 16;
/// Documents each read run spreads over.
const SAMPLE: usize = 2000;
/// Packages prepared for the push run (more than it can push).
const PUSH_BODIES: usize = 60_000;

/// Start-up and memory of one feed size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SizeResult {
    pub versions: usize,
    pub ids: usize,
    pub snapshot_bytes: u64,
    pub startup_snapshot: Duration,
    pub memory_after_start: Memory,
    pub startup_replay: Option<Duration>,
}

/// One line of the read table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadResult {
    pub name: String,
    pub connections: u32,
    pub ours: WrkResult,
    pub nginx: Option<WrkResult>,
    /// Throughput of every round: ours, nginx.
    pub rounds: Vec<(f64, f64)>,
    /// Median over the rounds of ours / nginx (each pair ran back to back).
    pub ratio: Option<f64>,
    /// Mean `totalHits` of a sample of the requests (search and autocomplete).
    pub mean_total_hits: Option<f64>,
}

/// Everything measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub machine: Vec<(String, String)>,
    pub command: String,
    pub sizes: Vec<SizeResult>,
    pub reads: Vec<ReadResult>,
    /// Single-URL reads ([`single`]).
    pub single: Vec<SingleResult>,
    pub push: Option<WrkResult>,
    pub peak_after_load: Memory,
    pub load_versions: usize,
    pub load_ids: usize,
    pub upstream: UpstreamResult,
}

/// Runs everything and returns the report.
pub async fn run(opts: &Options, command: String) -> anyhow::Result<Report> {
    anyhow::ensure!(
        opts.server_bin.exists(),
        "{} not found: build it first with `cargo build --release -p nuget-feed-server`",
        opts.server_bin.display()
    );
    anyhow::ensure!(
        opts.sizes.contains(&opts.load_size),
        "the load size must be one of the sizes"
    );
    std::fs::create_dir_all(&opts.work_dir)?;
    let scratch = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&opts.work_dir)?;
    let scripts = Scripts::write(scratch.path())?;
    let machine = machine_notes();

    let mut sizes = Vec::new();
    for &versions in &opts.sizes {
        let spec = FeedSpec::with_versions(versions);
        let feed = generate::ensure(&opts.work_dir, spec).await?;
        sizes.push(measure_startup(opts, spec, &feed, scratch.path(), versions).await?);
    }

    let spec = FeedSpec::with_versions(opts.load_size);
    let feed = generate::feed_dir(&opts.work_dir, spec);
    let model = generate::model(spec);
    eprintln!("load on {} versions ({} ids)", spec.versions(), spec.ids);
    let server =
        ServerProcess::start(&opts.server_bin, &generate::data_dir(&feed), scratch.path())?;
    let reads = reads(opts, &model, &feed, &server, &scripts, scratch.path()).await?;
    let single = single::measure(opts.single(), &model, &server, &scripts, scratch.path()).await?;
    let peak_after_load = server.memory()?;
    server.stop();

    let push = push(opts, &scripts, scratch.path()).await?;
    let upstream = upstream::run(&opts.server_bin, scratch.path()).await?;
    Ok(Report {
        machine,
        command,
        sizes,
        reads,
        single,
        push: Some(push),
        peak_after_load,
        load_versions: spec.versions(),
        load_ids: spec.ids,
        upstream,
    })
}

async fn measure_startup(
    opts: &Options,
    spec: FeedSpec,
    feed: &Path,
    scratch: &Path,
    versions: usize,
) -> anyhow::Result<SizeResult> {
    let data = generate::data_dir(feed);
    let server = ServerProcess::start(&opts.server_bin, &data, scratch)?;
    let startup_snapshot = server.startup;
    // Let the allocator settle: what stays resident once the server is up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let memory_after_start = server.memory()?;
    server.stop();
    let startup_replay = if versions <= opts.replay_max {
        let snapshot = data.join("catalog/snapshot.json");
        let aside = feed.join("snapshot.json.aside");
        std::fs::rename(&snapshot, &aside)?;
        let started = ServerProcess::start(&opts.server_bin, &data, scratch);
        // Whatever happened, put the generated snapshot back (the server may have written
        // one of its own, which is equivalent).
        std::fs::rename(&aside, &snapshot)?;
        let server = started?;
        let t = server.startup;
        server.stop();
        Some(t)
    } else {
        None
    };
    eprintln!(
        "{versions} versions: ready in {:.2} s from the snapshot{}; RSS {} MiB",
        startup_snapshot.as_secs_f64(),
        startup_replay
            .map(|t| format!(", {:.2} s from the log", t.as_secs_f64()))
            .unwrap_or_default(),
        memory_after_start.rss_kib / 1024
    );
    Ok(SizeResult {
        versions,
        ids: spec.ids,
        snapshot_bytes: generate::snapshot_bytes(feed).unwrap_or(0),
        startup_snapshot,
        memory_after_start,
        startup_replay,
    })
}

/// A list of request paths, written for wrk.
struct PathList {
    name: &'static str,
    file: PathBuf,
    paths: Vec<String>,
    /// Also served by nginx (documents captured from our server, or package files).
    static_baseline: bool,
    connections: u32,
}

fn sample<'a>(model: &'a FeedModel, rng: &mut StdRng) -> Vec<&'a generate::PackageModel> {
    (0..SAMPLE.min(model.packages.len()))
        .map(|_| &model.packages[rng.random_range(0..model.packages.len())])
        .collect()
}

fn encode(q: &str) -> String {
    let mut out = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Words used (as whole words) by 0.5% to 5% of the packages.
fn topic_words(model: &FeedModel) -> Vec<String> {
    let mut df: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for p in &model.packages {
        let mut words: Vec<&str> = p
            .description
            .split_whitespace()
            .chain(p.tags.iter().map(String::as_str))
            .collect();
        words.sort_unstable();
        words.dedup();
        for w in words {
            *df.entry(w).or_default() += 1;
        }
    }
    let n = model.packages.len().max(1) as f64;
    let mut topics: Vec<String> = df
        .into_iter()
        .filter(|&(_, d)| (0.005..=0.05).contains(&(d as f64 / n)))
        .map(|(w, _)| w.to_owned())
        .collect();
    topics.sort();
    topics
}

/// Up to `count` distinct pairs of a query and a filter, in random order.
fn each_once<'f>(
    queries: impl Iterator<Item = String>,
    filters: &[&'f str],
    count: usize,
    rng: &mut StdRng,
) -> Vec<(String, &'f str)> {
    let queries: std::collections::BTreeSet<String> = queries.collect();
    let mut pairs: Vec<(String, &str)> = queries
        .iter()
        .flat_map(|q| filters.iter().map(move |f| (q.clone(), *f)))
        .collect();
    pairs.shuffle(rng);
    pairs.truncate(count);
    pairs
}

fn path_lists(model: &FeedModel, dir: &Path) -> anyhow::Result<Vec<PathList>> {
    let mut rng = StdRng::seed_from_u64(42);
    let packages = sample(model, &mut rng);
    let lower = |id: &str| id.to_ascii_lowercase();
    let mut lists: Vec<(&'static str, Vec<String>, bool, u32)> = vec![
        (
            "service index",
            vec!["/index.json".into()],
            true,
            DOC_CONNECTIONS,
        ),
        (
            "flat-container index",
            packages
                .iter()
                .map(|p| format!("/flatcontainer/{}/index.json", lower(&p.id)))
                .collect(),
            true,
            DOC_CONNECTIONS,
        ),
        (
            "registration index (gz-semver2)",
            packages
                .iter()
                .map(|p| format!("/registration-gz-semver2/{}/index.json", lower(&p.id)))
                .collect(),
            true,
            DOC_CONNECTIONS,
        ),
        // V2 (issue 16): what NuGet 2.x and Chocolatey ask for an id's versions, beside the
        // registration index above. No static baseline: the URL has a query string.
        (
            "V2 FindPackagesById()",
            packages
                .iter()
                .map(|p| {
                    format!(
                        "/api/v2/FindPackagesById()?id='{}'&semVerLevel=2.0.0",
                        encode(&p.id)
                    )
                })
                .collect(),
            false,
            DOC_CONNECTIONS,
        ),
        (
            ".nupkg download",
            packages
                .iter()
                .map(|p| {
                    let v = &p.versions[rng.random_range(0..p.versions.len())];
                    let (id, v) = (lower(&p.id), v.to_ascii_lowercase());
                    format!("/flatcontainer/{id}/{v}/{id}.{v}.nupkg")
                })
                .collect(),
            true,
            DOC_CONNECTIONS,
        ),
    ];
    // Words by how many packages use them: a "topic" word is in 0.5-5% of the packages (what
    // people search for: json, http, logging), a "very common" one is among the ten most
    // frequent (a stress case: it matches most of the feed, and totalHits counts them all).
    let topics = topic_words(model);
    anyhow::ensure!(!topics.is_empty(), "the generated feed has no topic words");
    let topic = |rng: &mut StdRng| topics[rng.random_range(0..topics.len())].clone();
    let frequent = |rng: &mut StdRng| model.words[rng.random_range(0..10)].clone();
    let search = |q: String, rest: &str| format!("/query?q={}&{rest}", encode(&q));
    let vs = "skip=0&take=20&prerelease=true&semVerLevel=2.0.0";
    let n = 500;
    lists.push((
        "search: topic word (0.5-5% of ids)",
        (0..n).map(|_| search(topic(&mut rng), vs)).collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    // V2 (issue 16): `nuget list`/`choco search` with a term, the same index as V3 search.
    lists.push((
        "V2 Search(): topic word",
        (0..n)
            .map(|_| {
                format!(
                    "/api/v2/Search()?searchTerm='{}'&targetFramework=''&includePrerelease=true&$filter=IsAbsoluteLatestVersion&$skip=0&$top=30&semVerLevel=2.0.0",
                    encode(&topic(&mut rng))
                )
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "search: two topic words",
        (0..n)
            .map(|_| search(format!("{} {}", topic(&mut rng), topic(&mut rng)), vs))
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    // The index remembers the ranking of its last few thousand queries (whatever page was
    // asked) until the feed changes. Each uncached list has up to 20k rankings, each once, so
    // a ranking comes again only after far more others than the index remembers: nearly
    // every request matches and ranks anew.
    let distinct = 20_000;
    let filters = [
        "prerelease=true&semVerLevel=2.0.0",
        "prerelease=false&semVerLevel=2.0.0",
        "prerelease=true",
        "prerelease=false",
    ];
    // Topic words as typed into a search box (a prefix of four letters or more), under each
    // of the four version filters.
    let typed = topics.iter().flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        (chars.len().min(4)..=chars.len()).map(move |len| chars[..len].iter().collect::<String>())
    });
    lists.push((
        "search: topic word as typed, uncached",
        each_once(typed, &filters, distinct, &mut rng)
            .into_iter()
            .map(|(q, filter)| {
                format!(
                    "/query?q={}&skip={}&take=20&{filter}",
                    encode(&q),
                    rng.random_range(0..100)
                )
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "search: very common word, pages 0-2000 (stress)",
        (0..distinct)
            .map(|_| {
                format!(
                    "/query?q={}&skip={}&take=20&prerelease=true&semVerLevel=2.0.0",
                    encode(&frequent(&mut rng)),
                    rng.random_range(0..2000)
                )
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "search: exact id",
        packages
            .iter()
            .take(n)
            .map(|p| search(p.id.clone(), vs))
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "search: id prefix",
        packages
            .iter()
            .take(n)
            .map(|p| {
                let cut = (p.id.find('.').unwrap_or(0) + 4).min(p.id.len());
                search(p.id[..cut].to_owned(), vs)
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "search: empty query, VS browse pages",
        (0..n)
            .map(|_| {
                let skip = 26 * rng.random_range(0..40);
                format!("/query?q=&skip={skip}&take=26&prerelease=false&semVerLevel=2.0.0")
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "search: tools (packageType + topic word)",
        (0..n)
            .map(|_| {
                format!(
                    "/query?q={}&packageType=DotnetTool&prerelease=true&semVerLevel=2.0.0",
                    encode(&topic(&mut rng))
                )
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    // Prefixes of up to four characters are ranked ahead of time: longer ones are the
    // autocomplete queries that match and rank anew.
    let prefixes = model
        .packages
        .iter()
        .flat_map(|p| (5..=8.min(p.id.len())).map(|len| p.id[..len].to_ascii_lowercase()));
    lists.push((
        "autocomplete: id prefixes of 5-8 characters, uncached",
        each_once(prefixes, &filters, distinct, &mut rng)
            .into_iter()
            .map(|(q, filter)| {
                format!(
                    "/autocomplete?q={}&skip={}&{filter}",
                    encode(&q),
                    rng.random_range(0..100)
                )
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "autocomplete: id prefixes",
        packages
            .iter()
            .take(n)
            .map(|p| {
                let len = rng.random_range(1..=4).min(p.id.len());
                format!(
                    "/autocomplete?q={}&prerelease=true&semVerLevel=2.0.0",
                    encode(&p.id[..len].to_ascii_lowercase())
                )
            })
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    // The web pages (issue 15): the feed's page, its search results for a topic word and
    // a package's page (latest version), as a browser asks for them.
    lists.push(("page: feed", vec!["/".into()], false, SEARCH_CONNECTIONS));
    lists.push((
        "page: search, topic word",
        (0..n)
            .map(|_| format!("/?q={}", encode(&topic(&mut rng))))
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    lists.push((
        "page: package",
        packages
            .iter()
            .map(|p| format!("/packages/{}", encode(&p.id)))
            .collect(),
        false,
        SEARCH_CONNECTIONS,
    ));
    let mut out = Vec::new();
    for (i, (name, paths, static_baseline, connections)) in lists.into_iter().enumerate() {
        let file = dir.join(format!("paths-{i}.txt"));
        wrk::write_paths(&file, &paths)?;
        out.push(PathList {
            name,
            file,
            paths,
            static_baseline,
            connections,
        });
    }
    Ok(out)
}

/// Puts the bytes our server sends for `paths` where nginx serves the same path: gzip bodies
/// as `{path}.gz` (served by `gzip_static` to clients that accept gzip) next to the identity
/// body, package files as they are stored.
pub(crate) async fn capture(
    server: &ServerProcess,
    paths: &[String],
    root: &Path,
    data: &Path,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for path in paths {
        let target = root.join(path.trim_start_matches('/'));
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if path.ends_with(".nupkg") {
            // flatcontainer/{id}/{v}/{file} is stored at packages/{id}/{v}/{file}.
            let stored = data
                .join("packages")
                .join(path.trim_start_matches("/flatcontainer/"));
            std::fs::copy(&stored, &target)
                .with_context(|| format!("copying {}", stored.display()))?;
            continue;
        }
        let url = format!("{}{path}", server.url());
        let gz = client
            .get(&url)
            .header("Accept-Encoding", "gzip")
            .send()
            .await?;
        anyhow::ensure!(gz.status().is_success(), "GET {url}: {}", gz.status());
        let encoded = gz.headers().get("content-encoding").is_some();
        let body = gz.bytes().await?;
        if encoded {
            std::fs::write(target.with_extension("json.gz"), &body)?;
            let identity = client.get(&url).send().await?.bytes().await?;
            std::fs::write(&target, &identity)?;
        } else {
            std::fs::write(&target, &body)?;
        }
    }
    Ok(())
}

async fn reads(
    opts: &Options,
    model: &FeedModel,
    feed: &Path,
    server: &ServerProcess,
    scripts: &Scripts,
    scratch: &Path,
) -> anyhow::Result<Vec<ReadResult>> {
    let lists = path_lists(model, scratch)?;
    let root = scratch.join("nginx-root");
    let data = generate::data_dir(feed);
    for list in lists.iter().filter(|l| l.static_baseline) {
        capture(server, &list.paths, &root, &data).await?;
    }
    let nginx = nginx::start(&scratch.join("nginx"), &root, opts.threads as usize)?;
    let ours_url = server.url();
    let nginx_url = nginx.url();
    let threads = opts.threads.to_string();
    let load = |list: &PathList, url: &str, duration: Duration| {
        wrk::run(&Load {
            base_url: url,
            script: &scripts.paths,
            script_args: vec![list.file.display().to_string(), threads.clone()],
            threads: opts.threads,
            connections: list.connections,
            duration,
            headers: vec![("Accept-Encoding", "gzip")],
        })
    };
    let warmup = Duration::from_secs(2);
    let mut results = Vec::new();
    for list in &lists {
        eprintln!("load: {}", list.name);
        // Warm-up: fills the document cache (and nginx's open file cache).
        load(list, &ours_url, warmup)?;
        if list.static_baseline {
            load(list, &nginx_url, warmup)?;
        }
        let mut ours_runs = Vec::new();
        let mut nginx_runs = Vec::new();
        for _ in 0..opts.rounds {
            ours_runs.push(load(list, &ours_url, opts.duration)?);
            if list.static_baseline {
                nginx_runs.push(load(list, &nginx_url, opts.duration)?);
            }
        }
        let rounds: Vec<(f64, f64)> = ours_runs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let n = nginx_runs.get(i).map_or(0.0, WrkResult::ok_per_second);
                (o.ok_per_second(), n)
            })
            .collect();
        let mut ratios: Vec<f64> = rounds
            .iter()
            .filter(|(_, n)| *n > 0.0)
            .map(|(o, n)| o / n)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let mean_total_hits = if list.static_baseline {
            None
        } else {
            mean_total_hits(&ours_url, &list.paths).await
        };
        results.push(ReadResult {
            name: list.name.to_owned(),
            connections: list.connections,
            ours: median(&ours_runs),
            nginx: (!nginx_runs.is_empty()).then(|| median(&nginx_runs)),
            rounds,
            ratio: ratios.get(ratios.len() / 2).copied(),
            mean_total_hits,
        });
    }
    drop(nginx);
    Ok(results)
}

/// The mean `totalHits` of the first requests of a list.
async fn mean_total_hits(base: &str, paths: &[String]) -> Option<f64> {
    let client = reqwest::Client::new();
    let mut sum = 0.0;
    let mut n = 0.0;
    for path in paths.iter().take(50) {
        let doc: serde_json::Value = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        sum += doc["totalHits"].as_f64()?;
        n += 1.0;
    }
    (n > 0.0).then(|| sum / n)
}

/// The run with the median throughput.
fn median(runs: &[WrkResult]) -> WrkResult {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.ok_per_second().total_cmp(&b.ok_per_second()));
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Pushes distinct small packages over HTTP into a fresh feed in a local folder.
async fn push(opts: &Options, scripts: &Scripts, scratch: &Path) -> anyhow::Result<WrkResult> {
    let bodies = scratch.join("push-bodies.bin");
    let index = scratch.join("push-index.txt");
    let boundary = "bench-0a1b2c3d4e5f";
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    {
        let mut data = Vec::new();
        let mut lines = String::new();
        for n in 0..PUSH_BODIES {
            let nupkg = nuget_feed_server::testing::PackageBuilder::new(
                &format!("Bench.Pushed{n}"),
                "1.0.0",
            )
            .description("a small package pushed by the benchmark")
            .build();
            let start = data.len();
            data.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\r\n").as_bytes());
            data.extend_from_slice(&nupkg);
            data.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let _ = writeln!(lines, "{start} {}", data.len() - start);
        }
        std::fs::write(&bodies, data)?;
        std::fs::write(&index, lines)?;
    }
    let feed = scratch.join("push-feed");
    std::fs::create_dir_all(&feed)?;
    let server = ServerProcess::start(&opts.server_bin, &feed, scratch)?;
    eprintln!("load: push");
    let result = wrk::run(&Load {
        base_url: &server.url(),
        script: &scripts.pushes,
        script_args: vec![
            bodies.display().to_string(),
            index.display().to_string(),
            opts.threads.to_string(),
            content_type,
            server::PUSH_KEY.to_owned(),
        ],
        threads: opts.threads,
        connections: PUSH_CONNECTIONS,
        duration: opts.duration * 2,
        headers: Vec::new(),
    })?;
    server.stop();
    Ok(result)
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

/// What the numbers depend on.
fn machine_notes() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or("?".into(), |k| format!("{:.1} GiB", k as f64 / 1048576.0));
    let os = std::fs::read_to_string("/etc/debian_version")
        .map(|v| format!("Debian {}", v.trim()))
        .unwrap_or_else(|_| "?".into());
    vec![
        ("cpu".into(), format!("{cpu}, {cores} cores")),
        ("memory".into(), mem),
        ("os".into(), os),
        ("kernel".into(), command_line("uname", &["-r"])),
        ("wrk".into(), command_line("wrk", &["-v"])),
        ("nginx".into(), nuget_test_support::nginx::version()),
        ("rustc".into(), command_line("rustc", &["--version"])),
    ]
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// The report as Markdown.
pub fn markdown(r: &Report, opts: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{}`\n", r.command);
    let _ = writeln!(out, "Machine:");
    for (k, v) in &r.machine {
        let _ = writeln!(out, "- {k}: {v}");
    }
    let _ = writeln!(
        out,
        "\nLoad on a feed of {} versions ({} ids); wrk {} threads, keep-alive, `Accept-Encoding: gzip`, {} s per run, median of {} runs (ours and nginx alternating; the ratio is the median of the ratios of runs made back to back), after a 2 s warm-up. The server, nginx and wrk share the machine's cores.\n",
        r.load_versions,
        r.load_ids,
        opts.threads,
        opts.duration.as_secs(),
        opts.rounds
    );
    let _ = writeln!(
        out,
        "| request | connections | ours req/s | p50 ms | p99 ms | nginx req/s | nginx p99 ms | ours / nginx |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for read in &r.reads {
        let o = &read.ours;
        let (n_rps, n_p99) = match &read.nginx {
            Some(n) => (format!("{:.0}", n.ok_per_second()), ms(n.p99)),
            None => ("—".into(), "—".into()),
        };
        let ratio = read.ratio.map_or("—".into(), |r| format!("{r:.2}"));
        let name = match read.mean_total_hits {
            Some(h) => format!("{} (mean totalHits {h:.0})", read.name),
            None => read.name.clone(),
        };
        let errors = if o.errors() > 0 {
            format!(" ({} errors)", o.errors())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0}{errors} | {} | {} | {n_rps} | {n_p99} | {ratio} |",
            name,
            read.connections,
            o.ok_per_second(),
            ms(o.p50),
            ms(o.p99)
        );
    }
    if let Some(p) = &r.push {
        let _ = writeln!(
            out,
            "| push (distinct small packages, new feed in a local folder) | {PUSH_CONNECTIONS} | {:.0} pushes/s{} | {} | {} | — | — | — |",
            p.ok_per_second(),
            if p.errors() > 0 {
                format!(" ({} errors)", p.errors())
            } else {
                String::new()
            },
            ms(p.p50),
            ms(p.p99)
        );
    }
    if !r.single.is_empty() {
        let _ = writeln!(out, "\n{}", single::markdown(&r.single, opts.single()));
    }
    let _ = writeln!(
        out,
        "\nPeak RSS of the server after all read load on the {}-version feed: {} MiB.\n",
        r.load_versions,
        mib(r.peak_after_load.peak_kib)
    );
    out.push_str(&upstream::markdown(&r.upstream));
    let _ = writeln!(
        out,
        "| versions | ids | snapshot | ready from snapshot | RSS when ready | peak RSS while starting | ready from the log alone |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    for s in &r.sizes {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} MiB | {:.2} s | {} MiB | {} MiB | {} |",
            s.versions,
            s.ids,
            s.snapshot_bytes as f64 / 1048576.0,
            s.startup_snapshot.as_secs_f64(),
            mib(s.memory_after_start.rss_kib),
            mib(s.memory_after_start.peak_kib),
            s.startup_replay
                .map_or("—".into(), |t| format!("{:.2} s", t.as_secs_f64()))
        );
    }
    out
}

/// Runs and prints; also writes `results.md` and `results.json` into the work dir.
pub async fn main(opts: Options, command: String) -> anyhow::Result<()> {
    let started = Instant::now();
    let report = run(&opts, command).await?;
    let md = markdown(&report, &opts);
    std::fs::write(opts.work_dir.join("results.md"), &md)?;
    std::fs::write(
        opts.work_dir.join("results.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    println!("{md}");
    eprintln!("bench finished in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
