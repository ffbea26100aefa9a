//! `nuget-feed-bench`: parse flags, run the benchmark (or only generate a feed).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use nuget_feed_bench::generate::{self, FeedSpec};
use nuget_feed_bench::run::{self, Options};
use nuget_feed_bench::single;
use nuget_feed_bench::upstream;

/// Benchmarks nuget-feed-server against nginx on generated feeds (see the README).
#[derive(Debug, Parser)]
#[command(name = "nuget-feed-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measures start-up and memory per feed size, then read and push load (needs wrk and nginx).
    Run(RunArgs),
    /// Only the single-URL reads against nginx (see `run`), on a feed of `--versions`.
    Single(SingleArgs),
    /// Only generates a feed (reused by later runs).
    Generate {
        /// Number of versions (ten per id).
        #[arg(long)]
        versions: usize,
        #[arg(long, default_value = "target/bench")]
        work_dir: PathBuf,
    },
    /// Only the upstream row: a cold restore through the server from a static upstream
    /// (needs nginx).
    Upstream {
        #[arg(long, default_value = "target/bench")]
        work_dir: PathBuf,
        /// The server binary [default: nuget-feed-server next to this binary].
        #[arg(long)]
        server_bin: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Generated feeds, scratch files and results (results.md, results.json).
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// The server binary [default: nuget-feed-server next to this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Feed sizes in versions (ten per id) whose start-up and memory are measured.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// The feed size the load runs on [default: the largest size].
    #[arg(long)]
    load_size: Option<usize>,
    /// Seconds per wrk run (pushes run twice as long).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Runs per request kind (ours and nginx alternate); the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// wrk threads (and nginx workers).
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Also measure start-up from the log alone (no snapshot) up to this many versions.
    #[arg(long, default_value_t = 100_000)]
    replay_max: usize,
    /// A quick try: sizes 1000,10000, 3 s runs, one round.
    #[arg(long)]
    quick: bool,
}

#[derive(Debug, clap::Args)]
struct SingleArgs {
    /// Generated feeds, scratch files and results (single.md, single.json).
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// The server binary [default: nuget-feed-server next to this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Versions of the feed served (ten per id).
    #[arg(long, default_value_t = 10_000)]
    versions: usize,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 4)]
    duration: u64,
    /// Ours/nginx pairs per document and encoding; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// wrk threads (and nginx workers).
    #[arg(long, default_value_t = 2)]
    threads: u32,
}

/// The server binary given, or the one next to this binary.
fn server_bin(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => Ok(std::env::current_exe()?.with_file_name("nuget-feed-server")),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Generate { versions, work_dir } => {
            let dir = runtime.block_on(generate::ensure(
                &work_dir,
                FeedSpec::with_versions(versions),
            ))?;
            println!("{}", dir.display());
            Ok(())
        }
        Command::Upstream {
            work_dir,
            server_bin: given,
        } => {
            std::fs::create_dir_all(&work_dir)?;
            let scratch = tempfile::Builder::new()
                .prefix("upstream-")
                .tempdir_in(&work_dir)?;
            let result = runtime.block_on(upstream::run(&server_bin(given)?, scratch.path()))?;
            println!("{}", upstream::markdown(&result));
            Ok(())
        }
        Command::Run(a) => {
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let server_bin = server_bin(a.server_bin)?;
            let (sizes, duration, rounds) = if a.quick {
                (vec![1000, 10_000], 3, 1)
            } else {
                (a.sizes, a.duration, a.rounds)
            };
            let load_size = match a.load_size {
                Some(s) if !a.quick => s,
                _ => sizes.iter().copied().max().unwrap_or(1000),
            };
            let opts = Options {
                work_dir: a.work_dir,
                server_bin,
                sizes,
                load_size,
                duration: Duration::from_secs(duration),
                rounds,
                threads: a.threads,
                replay_max: a.replay_max,
            };
            runtime.block_on(run::main(opts, command))
        }
        Command::Single(a) => {
            let opts = single::Options {
                duration: Duration::from_secs(a.duration),
                rounds: a.rounds,
                threads: a.threads,
            };
            let bin = server_bin(a.server_bin)?;
            runtime.block_on(single::main(&bin, &a.work_dir, a.versions, opts))
        }
    }
}
