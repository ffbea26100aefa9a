//! What every request handler shares.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::{DocCache, FileCache};
use super::metrics::Metrics;
use crate::api::vulnerabilities::Advisory;
use crate::auth::{ApiKeys, ReadTokens};
use crate::config::Config;
use crate::feed::Feed;
use crate::trust::Trust;
use crate::upstream::Upstreams;

#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub feed: Feed,
    pub config: Config,
    pub api_keys: ApiKeys,
    /// When set, reads need HTTP Basic with one of these tokens.
    pub read_tokens: Option<ReadTokens>,
    pub advisories: Vec<Advisory>,
    /// When the advisories were loaded (VulnerabilityInfo `@updated`).
    pub advisories_loaded: DateTime<Utc>,
    pub metrics: Metrics,
    /// Rendered documents ([`super::cache`]).
    pub cache: DocCache,
    /// Small package files ([`super::cache`]).
    pub files: FileCache,
    /// Upstream sources and local package patterns.
    pub upstreams: Upstreams,
    /// Trusted publishers: OIDC tokens and the temporary keys they were exchanged for.
    pub trust: Trust,
}

impl AppState {
    pub fn new(app: App) -> AppState {
        AppState(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
