//! One upstream source and what it is asked: its service index's endpoints, metadata
//! documents (through the cache), an id's version list, package files, and its
//! VulnerabilityInfo (mirrored).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::client::Client;
use super::error::Unreachable;
use super::flight::lock;
use super::metadata::{self, Answer, DocCache};
use super::metrics::SourceMetrics;
use super::packages::{FileCache, FileError, Served};
use super::read_limits::ReadLimits;
use super::service_index::Endpoints;
use super::vulnerabilities::VulnerabilityMirror;
use crate::config::upstreams::Upstream;
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{PackageFile, Storage};

/// One upstream source.
#[derive(Debug)]
pub struct Source {
    config: Upstream,
    client: Client,
    docs: DocCache,
    pub(super) files: FileCache,
    vulnerabilities: VulnerabilityMirror,
    /// The parsed service index and when it was fetched.
    endpoints: Mutex<Option<(DateTime<Utc>, Arc<Endpoints>)>>,
}

impl Source {
    pub(super) fn new(
        config: &Upstream,
        storage: &Storage,
        metrics: SourceMetrics,
    ) -> Result<Source, String> {
        Ok(Source {
            client: Client::new(config, metrics.clone())?,
            docs: DocCache::new(config.name(), storage.clone(), config.metadata_ttl)
                .with_metrics(metrics.clone()),
            files: FileCache::new(config.name(), storage.clone(), metrics),
            vulnerabilities: VulnerabilityMirror::new(
                config.name(),
                storage.clone(),
                config.vulnerability_refresh,
            ),
            config: config.clone(),
            endpoints: Mutex::default(),
        })
    }

    pub fn name(&self) -> &str {
        self.config.name()
    }

    pub(super) fn admits(&self, id: &PackageId) -> bool {
        self.config.admits(id.as_str())
    }

    /// The document at `url` of this upstream, through the metadata cache.
    pub async fn document(&self, url: &str) -> Result<Answer, Unreachable> {
        self.docs.get(url, || self.client.get(url)).await
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
    pub(super) async fn cached_versions(&self, id: &PackageId) -> bool {
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

    /// `file` of `id` `version`: `.nupkg` and `.nuspec` from the bucket, else from the
    /// upstream's flat container (then stored); icon, readme and license extracted from the
    /// `.nupkg` (see [`super::embedded`]). `Ok(None)`: it does not have it.
    pub async fn file(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
        limits: ReadLimits<'_>,
    ) -> Result<Option<Served>, FileError> {
        match file {
            PackageFile::Nupkg | PackageFile::Nuspec => self.package_file(id, version, file).await,
            PackageFile::Icon | PackageFile::Readme | PackageFile::License => {
                self.embedded(id, version, file, limits).await
            }
            // Symbol packages of upstream ids are not served.
            PackageFile::Snupkg => Ok(None),
        }
    }

    /// The `.nupkg` or `.nuspec` of `id` `version` (see [`Source::file`]).
    pub(super) async fn package_file(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<Served>, FileError> {
        let (endpoints, _) = self.endpoints().await?;
        let (lower, v) = (id.lower(), version.lower_normalized());
        let name = match file {
            PackageFile::Nupkg => format!("{lower}.{v}.nupkg"),
            _ => format!("{lower}.nuspec"),
        };
        let url = format!("{}{lower}/{v}/{name}", endpoints.package_base);
        self.files.get(&self.client, &url, id, version, file).await
    }

    /// Its mirrored VulnerabilityInfo.
    pub fn vulnerabilities(&self) -> &VulnerabilityMirror {
        &self.vulnerabilities
    }

    /// Mirrors its VulnerabilityInfo now and then, forever (see [`VulnerabilityMirror`]).
    pub(super) async fn mirror_vulnerabilities(&self) {
        loop {
            let index_url = async {
                let (endpoints, _) = self.endpoints().await?;
                Ok(endpoints.vulnerability_info.clone())
            };
            let due = self.vulnerabilities.refresh(&self.client, index_url).await;
            tokio::time::sleep(due).await;
        }
    }
}
