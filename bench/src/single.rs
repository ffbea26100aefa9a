//! Single-URL reads, the side-by-side measurement: wrk hammers ONE document (the
//! service index, a flat-container index, a registration index) on our server and on nginx
//! serving the same bytes from files, plain and with `Accept-Encoding: gzip` (nginx's
//! `gzip_static` then sends the `.gz` file). With one URL, wrk runs no Lua per request, so
//! nothing in the load generator narrows the gap the way the rotating list's script does.
//!
//! Each (document, encoding) pair runs `rounds` times, ours then nginx back to back; the ratio
//! reported is the median of the per-round ratios (never a ratio across rounds). CPU per
//! request is the process's user + system time over the run (from `/proc/{pid}/stat`; nginx's
//! master and workers summed) divided by the requests wrk completed.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::generate::{self, FeedModel, FeedSpec};
use crate::nginx;
use crate::run::capture;
use crate::server::{self, ServerProcess};
use crate::wrk::{self, Load, Scripts};

/// Connections per run (the issue's `wrk -c64`).
pub const CONNECTIONS: u32 = 64;

/// How to run the measurement.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Length of each wrk run (the 4 s).
    pub duration: Duration,
    /// Ours/nginx pairs per document and encoding (the five).
    pub rounds: u32,
    /// wrk threads and nginx workers.
    pub threads: u32,
}

/// What a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    /// No `Accept-Encoding`: the identity body.
    Plain,
    /// `Accept-Encoding: gzip`.
    Gzip,
}

impl Encoding {
    fn headers(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Encoding::Plain => Vec::new(),
            Encoding::Gzip => vec![("Accept-Encoding", "gzip")],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Plain => "plain",
            Encoding::Gzip => "gzip",
        }
    }
}

/// One round: ours, then nginx.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Round {
    pub ours_rps: f64,
    pub nginx_rps: f64,
    /// CPU time (user + system) per request, in microseconds.
    pub ours_cpu_us: f64,
    pub nginx_cpu_us: f64,
}

/// One line of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SingleResult {
    pub name: &'static str,
    pub path: String,
    pub encoding: Encoding,
    pub rounds: Vec<Round>,
}

impl SingleResult {
    /// Median over the rounds of ours / nginx.
    pub fn ratio(&self) -> f64 {
        median(
            self.rounds
                .iter()
                .map(|r| r.ours_rps / r.nginx_rps.max(1.0)),
        )
    }

    fn median_of(&self, f: impl Fn(&Round) -> f64) -> f64 {
        median(self.rounds.iter().map(f))
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The documents measured: the service index, and the flat-container and registration indexes
/// of the feed's first id. The registration index is the SemVer1 hive's, the one whose
/// encoding follows `Accept-Encoding` (the `-gz` hives always send gzip, which nginx would
/// not do for a plain client).
fn documents(model: &FeedModel) -> anyhow::Result<Vec<(&'static str, String)>> {
    let id = model
        .packages
        .first()
        .map(|p| p.id.to_ascii_lowercase())
        .ok_or_else(|| anyhow::anyhow!("the generated feed has no packages"))?;
    Ok(vec![
        ("service index", "/index.json".to_owned()),
        (
            "flat-container index",
            format!("/flatcontainer/{id}/index.json"),
        ),
        (
            "registration index",
            format!("/registration/{id}/index.json"),
        ),
    ])
}

/// Measures every document plain and gzip on `server` and on an nginx it starts on the same
/// bytes (captured from `server` into `scratch`).
pub async fn measure(
    opts: Options,
    model: &FeedModel,
    server: &ServerProcess,
    scripts: &Scripts,
    scratch: &Path,
) -> anyhow::Result<Vec<SingleResult>> {
    let docs = documents(model)?;
    let root = scratch.join("single-root");
    let paths: Vec<String> = docs.iter().map(|(_, p)| p.clone()).collect();
    // Documents only: no package files to copy from the feed's folder.
    capture(server, &paths, &root, Path::new("")).await?;
    let prefix = scratch.join("single-nginx");
    let nginx = nginx::start(&prefix, &root, opts.threads as usize)?;
    let nginx_pids = nginx::pids(&prefix)?;
    let (ours_url, nginx_url) = (server.url(), nginx.url());
    let mut results = Vec::new();
    for (name, path) in docs {
        for encoding in [Encoding::Plain, Encoding::Gzip] {
            eprintln!("single URL: {name}, {}", encoding.name());
            let run = |base: &str, pids: &[u32], duration: Duration| {
                let load = Load {
                    base_url: &format!("{base}{path}"),
                    script: &scripts.single,
                    script_args: Vec::new(),
                    threads: opts.threads,
                    connections: CONNECTIONS,
                    duration,
                    headers: encoding.headers(),
                };
                let before = cpu(pids)?;
                let result = wrk::run(&load)?;
                let used = cpu(pids)?.saturating_sub(before);
                anyhow::ensure!(
                    result.errors() == 0,
                    "{} errors from {base}{path}",
                    result.errors()
                );
                let per_request = used.as_secs_f64() * 1e6 / result.requests.max(1) as f64;
                Ok((result.ok_per_second(), per_request))
            };
            let ours_pid = [server.pid()];
            // Warm-up: connections, caches and CPU frequency settle.
            run(&ours_url, &ours_pid, Duration::from_secs(2))?;
            run(&nginx_url, &nginx_pids, Duration::from_secs(2))?;
            let mut rounds = Vec::new();
            for _ in 0..opts.rounds {
                let (ours_rps, ours_cpu_us) = run(&ours_url, &ours_pid, opts.duration)?;
                let (nginx_rps, nginx_cpu_us) = run(&nginx_url, &nginx_pids, opts.duration)?;
                rounds.push(Round {
                    ours_rps,
                    nginx_rps,
                    ours_cpu_us,
                    nginx_cpu_us,
                });
            }
            results.push(SingleResult {
                name,
                path: path.clone(),
                encoding,
                rounds,
            });
        }
    }
    drop(nginx);
    Ok(results)
}

/// CPU time used so far by all of `pids`.
fn cpu(pids: &[u32]) -> anyhow::Result<Duration> {
    pids.iter().map(|&p| server::cpu_time(p)).sum()
}

/// The table, with what it was measured under.
pub fn markdown(results: &[SingleResult], opts: Options) -> String {
    let mut out = String::new();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(
        out,
        "Single-URL reads: wrk -t{t} -c{CONNECTIONS}, one URL per run, {d} s runs, {r} rounds of ours then nginx ({t} workers, same bytes from files, `gzip_static`); ratio = median of the per-round ratios; CPU = user + system time of the process(es) per request, median over the rounds. Load average when done: {}.\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        t = opts.threads,
        d = opts.duration.as_secs(),
        r = opts.rounds,
    );
    let _ = writeln!(
        out,
        "| document | encoding | ours req/s | nginx req/s | ours / nginx | ours CPU µs/req | nginx CPU µs/req | rounds (ours/nginx) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---|");
    for r in results {
        let rounds: Vec<String> = r
            .rounds
            .iter()
            .map(|x| format!("{:.2}", x.ours_rps / x.nginx_rps.max(1.0)))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {} |",
            r.name,
            r.encoding.name(),
            r.median_of(|x| x.ours_rps),
            r.median_of(|x| x.nginx_rps),
            r.ratio(),
            r.median_of(|x| x.ours_cpu_us),
            r.median_of(|x| x.nginx_cpu_us),
            rounds.join(" ")
        );
    }
    out
}

/// Runs only this measurement on a generated feed of `versions` (generated first if needed),
/// prints the table and writes `single.md` and `single.json` into `work_dir`.
pub async fn main(
    server_bin: &Path,
    work_dir: &Path,
    versions: usize,
    opts: Options,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        server_bin.exists(),
        "{} not found: build it first with `cargo build --release -p nuget-feed-server`",
        server_bin.display()
    );
    std::fs::create_dir_all(work_dir)?;
    let spec = FeedSpec::with_versions(versions);
    let feed = generate::ensure(work_dir, spec).await?;
    let scratch = tempfile::Builder::new()
        .prefix("single-")
        .tempdir_in(work_dir)?;
    let scripts = Scripts::write(scratch.path())?;
    let server = ServerProcess::start(server_bin, &generate::data_dir(&feed), scratch.path())?;
    let results = measure(
        opts,
        &generate::model(spec),
        &server,
        &scripts,
        scratch.path(),
    )
    .await;
    server.stop();
    let results = results?;
    let md = markdown(&results, opts);
    std::fs::write(work_dir.join("single.md"), &md)?;
    std::fs::write(
        work_dir.join("single.json"),
        serde_json::to_vec_pretty(&results)?,
    )?;
    println!("{md}");
    Ok(())
}
