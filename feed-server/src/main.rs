//! `nuget-feed-server`: parse flags, resolve the config, then serve the feed (the default),
//! check it (`fsck`) or remove its orphaned objects (`gc`).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use nuget_feed_server::config::{Args, Config, LogFormat};
use nuget_feed_server::feed::fsck::{self, FsckOptions};
use nuget_feed_server::feed::gc::{self, GcOptions};
use nuget_feed_server::storage::{CLAIM_GRACE, Storage};

/// A NuGet V3 feed server on object storage. Every option can also be set in the config file
/// (`--config`) or by its NUGET_FEED_* environment variable; flags win over both.
///
/// Logging: the level comes from the RUST_LOG environment variable (default `info` when
/// serving, `warn` for fsck and gc), e.g. `RUST_LOG=debug` or
/// `RUST_LOG=info,nuget_feed_server=debug`. At `info` every change to the feed (push, symbol
/// push, unlist, relist, delete, (un)deprecate) is logged with the package, the operation and
/// the name of the API key or trusted publisher (and the token's subject), and refused writes
/// at `warn` (at most a few a second).
///
/// Trusted publishers (`trusted_publishers:` in the config file) push with an OIDC token: sent
/// as the API key, or exchanged at `{base}/token` (TokenService/1.0.0 in the service index)
/// for a temporary key that lasts --temporary-key-lifetime-seconds. Text logs
/// have colour only when written to a terminal.
#[derive(Debug, Parser)]
#[command(
    name = "nuget-feed-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    args: Args,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the feed (what runs without a subcommand).
    Serve {
        #[command(flatten)]
        args: Args,
    },
    /// Check that the stored feed is consistent.
    ///
    /// Every event must be readable and every visible version's files present with the size
    /// recorded at push. Orphaned objects are listed (they are harmless; `gc` removes them).
    /// Exit status: 0 consistent, 1 problems found, 2 the check could not run.
    Fsck {
        #[command(flatten)]
        args: Args,
        /// Also read every .nupkg and compare its SHA-512 with the one recorded at push.
        #[arg(long)]
        verify_hashes: bool,
        /// Count orphaned objects as problems too (e.g. right after `gc` on a quiet feed).
        #[arg(long)]
        strict: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove orphaned objects older than a grace period; safe on a live feed.
    ///
    /// Orphans are the files of pushes that died before publishing, of hard deletes that could
    /// not finish, dead version locks and symbol files no version references. The token
    /// service's records of expired temporary keys and exchanged tokens go too. With
    /// --upstream-cache-max-idle-days, cached upstream packages no one downloaded for that
    /// long are removed too.
    /// Exit status: 0 done, 1 some objects could not be removed, 2 gc could not run.
    Gc {
        #[command(flatten)]
        args: Args,
        /// Only objects older than this many seconds are removed. Less than the default (the
        /// claim grace, 600) is safe only on a feed nobody pushes to meanwhile.
        #[arg(long, default_value_t = CLAIM_GRACE.as_secs())]
        grace_seconds: u64,
        /// Report what would be removed without removing anything.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.args),
        Some(Command::Serve { args }) => serve(args),
        Some(Command::Fsck {
            args,
            verify_hashes,
            strict,
            json,
        }) => maintenance(args, |storage, _| async move {
            let report = fsck::fsck(&storage, &FsckOptions { verify_hashes }).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_fsck(&report);
            }
            let ok = report.is_consistent() && (!strict || report.orphans.is_empty());
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
        Some(Command::Gc {
            args,
            grace_seconds,
            dry_run,
            json,
        }) => maintenance(args, |storage, config| async move {
            let grace = Duration::from_secs(grace_seconds);
            if grace < CLAIM_GRACE {
                tracing::warn!(
                    grace_seconds,
                    "a grace below the claim grace can remove the files of a slow push in progress"
                );
            }
            let options = GcOptions {
                grace,
                dry_run,
                upstream_max_idle: config.upstream_cache_max_idle,
            };
            let mut report = gc::gc(&storage, &options).await?;
            // The token service's expired records (temporary keys, exchanged tokens).
            let now = chrono::Utc::now().timestamp();
            let expired = nuget_feed_server::trust::collect_expired(&storage, now, dry_run).await?;
            report.removed.extend(expired.removed);
            report.removed_bytes += expired.removed_bytes;
            report.failed.extend(expired.failed);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let verb = if dry_run { "would remove" } else { "removed" };
                for path in &report.removed {
                    println!("{verb} {path}");
                }
                println!(
                    "{verb} {} objects ({} bytes); kept {} orphans younger than {grace_seconds} s",
                    report.removed.len(),
                    report.removed_bytes,
                    report.young
                );
                for folder in &report.busy {
                    println!(
                        "skipped {folder}: in use (a push, delete or other gc); a later run retries"
                    );
                }
                for path in &report.failed {
                    println!("could not remove {path}; a later run retries");
                }
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
    }
}

fn serve(args: Args) -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let config = Config::load(args)?;
        init_logging(config.log_format, Writer::Stdout);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(nuget_feed_server::server::run(config))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs a maintenance command on the configured storage; its own errors exit with 2.
fn maintenance<F, Fut>(args: Args, command: F) -> ExitCode
where
    F: FnOnce(Storage, Config) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let run = || -> anyhow::Result<ExitCode> {
        let config = Config::load(args)?;
        // The report goes to stdout; logs (warnings only, by default) to stderr.
        init_logging(config.log_format, Writer::Stderr);
        let storage = Storage::open(&config.storage_url, &config.storage_options)
            .context("cannot open storage")?;
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(command(storage, config))
    };
    run().unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

fn print_fsck(report: &fsck::FsckReport) {
    for problem in &report.problems {
        println!("PROBLEM: {problem}");
    }
    for orphan in &report.orphans {
        println!("orphan: {orphan}");
    }
    println!(
        "checked {} events, {} visible versions, {} stored objects: {} problems, {} orphans",
        report.events,
        report.versions,
        report.objects,
        report.problems.len(),
        report.orphans.len()
    );
    let cache = &report.upstream_cache;
    if cache.versions > 0 {
        println!(
            "upstream cache: {} packages ({} bytes), the least recently used idle {} days",
            cache.versions, cache.bytes, cache.max_idle_days
        );
    }
    if report.is_consistent() {
        println!("the feed is consistent");
    }
}

#[derive(Clone, Copy)]
enum Writer {
    Stdout,
    Stderr,
}

fn init_logging(format: LogFormat, writer: Writer) {
    let default = match writer {
        Writer::Stdout => "info",
        Writer::Stderr => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only for a person at a terminal: log collectors and files get plain text.
    let ansi = match writer {
        Writer::Stdout => std::io::stdout().is_terminal(),
        Writer::Stderr => std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match (format, writer) {
        (LogFormat::Json, Writer::Stdout) => builder.json().flatten_event(true).init(),
        (LogFormat::Text, Writer::Stdout) => builder.init(),
        (LogFormat::Json, Writer::Stderr) => builder
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .init(),
        (LogFormat::Text, Writer::Stderr) => builder.with_writer(std::io::stderr).init(),
    }
}
