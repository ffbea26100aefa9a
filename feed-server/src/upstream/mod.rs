//! Upstream sources: other V3 feeds whose packages this feed serves, and caches in its own
//! bucket, for ids it does not have (a read-through cache; DESIGN "Upstream sources").
//!
//! [`Upstreams::origin`] is the one place that decides who serves an id: this feed, if the id
//! has ever had a version here or matches a `local_packages` pattern (local always wins, never
//! merged with upstream); else the first upstream, in order, whose allow/deny admits it and
//! that knows it (versions are never merged across upstreams). Each [`Source`] (in `source`)
//! has its [`client::Client`], its metadata cache ([`metadata`]) and package file cache
//! ([`packages`]), all under `upstream/{name}/` in the bucket, apart from the feed's event log,
//! and the mirror of its VulnerabilityInfo ([`vulnerabilities`]).

pub mod client;
mod embedded;
mod error;
mod flight;
pub mod metadata;
pub mod metrics;
pub mod packages;
mod read_limits;
pub mod records;
pub mod rewrite;
pub mod search;
pub mod service_index;
mod source;
pub mod vulnerabilities;

use crate::config::{Config, IdPattern};
use crate::feed::Feed;
use crate::package::PackageId;
use crate::storage::Storage;
pub use error::Unreachable;
use metadata::Answer;
use metrics::UpstreamMetrics;
pub use read_limits::ReadLimits;
pub use source::Source;

/// The feed's upstream sources and local patterns.
#[derive(Debug)]
pub struct Upstreams {
    local: Vec<IdPattern>,
    sources: Vec<Source>,
}

/// Who serves an id.
pub enum Origin<'a> {
    /// This feed, exactly as without upstreams.
    Local,
    /// This upstream; `versions` is its flat-container version list of the id.
    Upstream {
        source: &'a Source,
        versions: Answer,
    },
    /// No one: 404.
    Nowhere,
}

impl Upstreams {
    /// The upstreams of `config`, caching under `upstream/` in `storage`.
    pub fn new(
        config: &Config,
        storage: &Storage,
        metrics: &UpstreamMetrics,
    ) -> Result<Upstreams, String> {
        let sources = config
            .upstreams
            .iter()
            .map(|u| Source::new(u, storage, metrics.source(u.name())))
            .collect::<Result<_, _>>()?;
        Ok(Upstreams {
            local: config.local_packages.clone(),
            sources,
        })
    }

    /// Whether any upstream is configured.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether `id` belongs to this feed alone: it has (or had) a version here, or matches a
    /// `local_packages` pattern.
    fn is_local(&self, feed: &Feed, id: &PackageId) -> bool {
        feed.state().knows_id(&id.lower()) || self.local.iter().any(|p| p.matches(id.as_str()))
    }

    /// Who serves `id` (see the module docs). An upstream that cannot be asked and has
    /// nothing cached stops the search with `Err`: a later upstream must not answer for an id
    /// an earlier one may have.
    pub async fn origin(&self, feed: &Feed, id: &PackageId) -> Result<Origin<'_>, Unreachable> {
        if self.is_local(feed, id) {
            return Ok(Origin::Local);
        }
        for source in self.sources.iter().filter(|s| s.admits(id)) {
            let versions = source.versions(id).await?;
            if versions.entry.body.is_some() {
                return Ok(Origin::Upstream { source, versions });
            }
        }
        Ok(Origin::Nowhere)
    }

    /// The upstream a push of `id` would take the id over from: the first admitting upstream
    /// whose cached metadata (no request is made) knows the id, unless the id is local.
    pub async fn known_upstream(&self, feed: &Feed, id: &PackageId) -> Option<&Source> {
        if self.is_local(feed, id) {
            return None;
        }
        for source in self.sources.iter().filter(|s| s.admits(id)) {
            if source.cached_versions(id).await {
                return Some(source);
            }
        }
        None
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name() == name)
    }

    /// Mirrors every source's VulnerabilityInfo, each on its own interval, until dropped.
    pub async fn mirror_vulnerabilities(&self) {
        futures::future::join_all(self.sources.iter().map(Source::mirror_vulnerabilities)).await;
    }
}
