//! Wiring: from a validated [`Config`] to a listening server.

use std::future::Future;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;

use crate::api::vulnerabilities;
use crate::auth::{ApiKeys, ReadTokens};
use crate::config::Config;
use crate::feed::{self, Feed};
use crate::http::cache::{DocCache, FileCache};
use crate::http::{self, App, AppState, metrics::Metrics};
use crate::storage::Storage;
use crate::trust::Trust;
use crate::upstream::Upstreams;

/// Builds the application state: opens storage, replays the feed, loads keys and advisories.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let storage = Storage::open(&config.storage_url, &config.storage_options)
        .context("cannot open storage")?;
    if config.redirect_downloads && !storage.can_sign() {
        anyhow::bail!(
            "redirect_downloads needs S3, Azure Blob or GCS storage: {storage:?} cannot sign download URLs"
        );
    }
    std::fs::create_dir_all(&config.temp_dir)
        .with_context(|| format!("cannot create temp dir {}", config.temp_dir.display()))?;
    // Uploads of a process that was killed are never cleaned up by it.
    http::upload::remove_stale_uploads(&config.temp_dir);
    let options = feed::Options {
        delete_mode: config.delete_mode,
        allow_deleted_version_reuse: config.allow_deleted_version_reuse,
        ..feed::Options::default()
    };
    let metrics = Metrics::new();
    let upstreams =
        Upstreams::new(&config, &storage, &metrics.upstream).map_err(anyhow::Error::msg)?;
    let feed = Feed::open(storage, options)
        .await
        .context("cannot load the feed")?;
    let trust = Trust::new(&config, feed.storage().clone()).await?;
    let api_keys = match &config.api_keys_file {
        Some(path) => ApiKeys::load(path).map_err(anyhow::Error::msg)?,
        None => ApiKeys::default(),
    }
    .with_publishers(trust.policies());
    if api_keys.is_empty() && trust.is_empty() {
        tracing::warn!("no API keys are configured: the feed is read-only");
    }
    let read_tokens = config
        .read_tokens_file
        .as_deref()
        .map(ReadTokens::load)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let advisories = match &config.vulnerabilities_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            vulnerabilities::parse_advisories(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => Vec::new(),
    };
    Ok(AppState::new(App {
        feed,
        config,
        api_keys,
        read_tokens,
        advisories,
        advisories_loaded: Utc::now(),
        metrics,
        cache: DocCache::default(),
        files: FileCache::default(),
        upstreams,
        trust,
    }))
}

/// Serves `state` on `listener` until `shutdown` completes, syncing with other replicas.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let interval = std::time::Duration::from_millis(state.config.sync_interval_ms);
    let sync = state.feed.spawn_sync(interval);
    let mirror = {
        let state = state.clone();
        tokio::spawn(async move { state.upstreams.mirror_vulnerabilities().await })
    };
    let feed = state.feed.clone();
    let limits = http::conn::Limits {
        header_read_timeout: std::time::Duration::from_millis(state.config.header_timeout_ms),
        drain: http::drain::Budget::for_limits(
            state.config.max_package_bytes,
            std::time::Duration::from_millis(state.config.upload_idle_timeout_ms),
        ),
    };
    let fast = http::fast_path::FastPath::new(state.clone());
    let app = http::router(state);
    http::conn::serve(listener, app, fast, limits, shutdown).await;
    sync.abort();
    mirror.abort();
    // Counts since the last publication would otherwise be lost.
    if let Err(e) = feed.sync_downloads().await {
        tracing::warn!(error = %e, "cannot publish download counts at shutdown");
    }
    Ok(())
}

/// Runs the server for `config` until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = build_state(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(listen = %listener.local_addr()?, storage = ?state.feed.storage(), path_base = %state.config.path_base, "feed server started");
    serve(state, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
