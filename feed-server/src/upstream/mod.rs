//! Upstream sources: other V3 feeds whose packages this feed serves, and caches in its own
//! bucket, for ids it does not have (a read-through cache; DESIGN "Upstream sources").
//!
//! [`Upstreams::origin`] is the one place that decides who serves an id: this feed, if the id
//! has ever had a version here or matches a `local_packages` pattern (local always wins, never
//! merged with upstream); else the first upstream, in order, whose allow/deny admits it and
//! that knows it (versions are never merged across upstreams). Each [`Source`] has its
//! [`client::Client`], its metadata cache ([`metadata`]) and package file cache ([`packages`]),
//! all under `upstream/{name}/` in the bucket, apart from the feed's event log.

pub mod client;
mod error;
mod flight;
pub mod metadata;
pub mod metrics;
pub mod packages;
pub mod rewrite;
pub mod search;
pub mod service_index;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::config::upstreams::Upstream;
use crate::config::{Config, IdPattern};
use crate::feed::Feed;
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{PackageFile, Storage};
use client::{Body, Client};
pub use error::Unreachable;
use flight::lock;
use metadata::{Answer, DocCache};
use metrics::{SourceMetrics, UpstreamMetrics};
use packages::{FileCache, FileError, Served};
use service_index::Endpoints;

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
}

/// One upstream source.
#[derive(Debug)]
pub struct Source {
    config: Upstream,
    client: Client,
    docs: DocCache,
    files: FileCache,
    /// The parsed service index and when it was fetched.
    endpoints: Mutex<Option<(DateTime<Utc>, Arc<Endpoints>)>>,
}

impl Source {
    fn new(config: &Upstream, storage: &Storage, metrics: SourceMetrics) -> Result<Source, String> {
        Ok(Source {
            client: Client::new(config, metrics.clone())?,
            docs: DocCache::new(config.name(), storage.clone(), config.metadata_ttl)
                .with_metrics(metrics.clone()),
            files: FileCache::new(config.name(), storage.clone(), metrics),
            config: config.clone(),
            endpoints: Mutex::default(),
        })
    }

    pub fn name(&self) -> &str {
        self.config.name()
    }

    fn admits(&self, id: &PackageId) -> bool {
        self.config.admits(id.as_str())
    }

    /// The document at `url` of this upstream, through the metadata cache.
    pub async fn document(&self, url: &str) -> Result<Answer, Unreachable> {
        self.docs
            .get(url, || self.client.get(url, Body::Document))
            .await
    }

    /// The upstream's endpoints, from its service index (cached like metadata); `bool`: stale.
    pub async fn endpoints(&self) -> Result<(Arc<Endpoints>, bool), Unreachable> {
        let answer = self.document(self.config.url()).await?;
        let parsed = self.parse_endpoints(&answer.entry)?;
        Ok((parsed, answer.stale))
    }

    fn parse_endpoints(&self, entry: &metadata::Entry) -> Result<Arc<Endpoints>, Unreachable> {
        let mut slot = lock(&self.endpoints);
        if let Some((fetched, parsed)) = slot.as_ref()
            && *fetched == entry.fetched
        {
            return Ok(parsed.clone());
        }
        let unusable = |reason: String| Unreachable {
            upstream: self.name().to_owned(),
            reason,
        };
        let body = entry.body.as_ref().ok_or_else(|| {
            unusable(format!(
                "its service index {} is not found",
                self.config.url()
            ))
        })?;
        let parsed = Arc::new(Endpoints::parse(body).map_err(unusable)?);
        *slot = Some((entry.fetched, parsed.clone()));
        Ok(parsed)
    }

    fn versions_url(endpoints: &Endpoints, id: &PackageId) -> String {
        format!("{}{}/index.json", endpoints.package_base, id.lower())
    }

    /// Its flat-container version list of `id` (body `None`: it does not know the id).
    pub async fn versions(&self, id: &PackageId) -> Result<Answer, Unreachable> {
        let (endpoints, stale) = self.endpoints().await?;
        let mut answer = self.document(&Self::versions_url(&endpoints, id)).await?;
        answer.stale |= stale;
        Ok(answer)
    }

    /// Whether cached metadata says this upstream knows `id` (without asking it).
    async fn cached_versions(&self, id: &PackageId) -> bool {
        let Some(index) = self.docs.cached(self.config.url()).await else {
            return false;
        };
        let Ok(endpoints) = self.parse_endpoints(&index) else {
            return false;
        };
        self.docs
            .cached(&Self::versions_url(&endpoints, id))
            .await
            .is_some_and(|e| e.body.is_some())
    }

    /// A pre-signed URL of `file` of `id` `version` cached in the bucket (`None`: not cached
    /// yet, or a store that cannot sign).
    pub async fn signed_file_url(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
        expires_in: std::time::Duration,
    ) -> Result<Option<url::Url>, FileError> {
        self.files.signed_url(id, version, file, expires_in).await
    }

    /// `file` (`.nupkg` or `.nuspec`) of `id` `version`: from the bucket, else from the
    /// upstream's flat container (then stored). `Ok(None)`: it does not have it.
    pub async fn file(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<Served>, FileError> {
        let (endpoints, _) = self.endpoints().await?;
        let (lower, v) = (id.lower(), version.lower_normalized());
        let name = match file {
            PackageFile::Nupkg => format!("{lower}.{v}.nupkg"),
            PackageFile::Nuspec => format!("{lower}.nuspec"),
            // Icons, readmes and licenses of upstream packages are not mirrored.
            _ => return Ok(None),
        };
        let url = format!("{}{lower}/{v}/{name}", endpoints.package_base);
        self.files.get(&self.client, &url, id, version, file).await
    }
}
