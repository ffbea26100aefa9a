//! Wiring: from a validated [`Config`] to a listening server.

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{self, AppState};

pub use crate::startup::build_state;

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
