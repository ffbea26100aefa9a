//! Package files of upstream ids (`.nupkg`, `.nuspec`): fetched from the upstream's flat
//! container on first download, stored byte-identical in the bucket with a create-only write,
//! and served from there ever after (by every replica, upstream up or down).
//!
//! The first download is fetched whole, stored, then served: concurrent first downloads on one
//! replica wait for that one fetch, and replicas racing for one file store the same bytes once
//! (create-only). Streaming the first download to the client while it is being stored would
//! save the client the wait for the whole file; that needs a body that fans one upstream
//! stream out to the bucket and to the waiting clients, which this module does not have yet.

use std::time::Duration;

use bytes::Bytes;

use super::client::{Body, Client};
use super::error::Unreachable;
use super::flight::Flights;
use super::metrics::SourceMetrics;
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{self, Blob, Key, PackageFile, Storage};

/// A cached or just fetched package file.
pub enum Served {
    /// From the bucket, streamed.
    Stored(Blob),
    /// Just fetched from the upstream (and stored).
    Fetched(Bytes),
}

/// The package file cache of one upstream.
#[derive(Debug)]
pub struct FileCache {
    upstream: String,
    storage: Storage,
    /// First downloads in progress, by file.
    flights: Flights,
    metrics: SourceMetrics,
}

impl FileCache {
    pub fn new(upstream: &str, storage: Storage, metrics: SourceMetrics) -> FileCache {
        FileCache {
            upstream: upstream.to_owned(),
            storage,
            flights: Flights::default(),
            metrics,
        }
    }

    /// `file` of `id` `version`: from the bucket, else fetched from `url` at the upstream and
    /// stored. `Ok(None)`: the upstream does not have it.
    pub async fn get(
        &self,
        client: &Client,
        url: &str,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<Served>, FileError> {
        let key = Key::UpstreamFile {
            upstream: &self.upstream,
            id,
            version,
            file,
        };
        if let Some(blob) = self.stored(key).await? {
            self.metrics.hits.inc();
            return Ok(Some(Served::Stored(blob)));
        }
        let name = key.path().to_string();
        self.flights
            .run(&name, || self.fetch_in_flight(client, url, key))
            .await
    }

    /// A pre-signed URL of `file` of `id` `version` in the bucket, valid for `expires_in`;
    /// `None` when it is not stored yet or the store cannot sign.
    pub async fn signed_url(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
        expires_in: Duration,
    ) -> Result<Option<url::Url>, FileError> {
        let key = Key::UpstreamFile {
            upstream: &self.upstream,
            id,
            version,
            file,
        };
        if !self.storage.can_sign() {
            return Ok(None);
        }
        match self.storage.head(key).await {
            Ok(_) => Ok(self.storage.signed_get_url(key, expires_in).await?),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(FileError::Storage(e)),
        }
    }

    async fn fetch_in_flight(
        &self,
        client: &Client,
        url: &str,
        key: Key<'_>,
    ) -> Result<Option<Served>, FileError> {
        // The download this one waited for stored it.
        if let Some(blob) = self.stored(key).await? {
            self.metrics.hits.inc();
            return Ok(Some(Served::Stored(blob)));
        }
        self.metrics.misses.inc();
        let Some(bytes) = client.get(url, Body::File).await? else {
            return Ok(None);
        };
        match self.storage.create(key, bytes.clone()).await {
            // Another replica stored it first: the same file, so these bytes serve as well.
            Ok(()) | Err(storage::Error::AlreadyExists { .. }) => {}
            // The client still gets the file; the next download fetches it again.
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "cannot store a package file fetched from upstream");
            }
        }
        Ok(Some(Served::Fetched(bytes)))
    }

    async fn stored(&self, key: Key<'_>) -> Result<Option<Blob>, FileError> {
        match self.storage.get_stream(key).await {
            Ok(blob) => Ok(Some(blob)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(FileError::Storage(e)),
        }
    }
}

/// Why a package file could not be served.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error(transparent)]
    Storage(#[from] storage::Error),
}
