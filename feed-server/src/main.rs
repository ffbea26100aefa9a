//! `nuget-feed-server`: parse flags, resolve the config, run.

use clap::Parser;
use nuget_feed_server::config::{Args, Config, LogFormat};

/// A NuGet V3 feed server on object storage. Every option can also be set in the config file
/// (`--config`) or by its NUGET_FEED_* environment variable; flags win over both.
#[derive(Debug, Parser)]
#[command(name = "nuget-feed-server", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.args)?;
    init_logging(config.log_format);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(nuget_feed_server::server::run(config))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}
