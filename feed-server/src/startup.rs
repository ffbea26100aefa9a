//! Start-up: from a validated [`Config`] to the application state (storage opened, the feed
//! replayed, keys, trust policies and advisories loaded). Apart from the server's wiring so
//! that tests of the connection layer can build a state without importing it.

use anyhow::Context;
use chrono::Utc;

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
