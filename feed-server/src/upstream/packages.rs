//! Package files of upstream ids (`.nupkg`, `.nuspec`): fetched from the upstream's flat
//! container on first download, stored byte-identical in the bucket, and served from there
//! ever after (by every replica, upstream up or down).
//!
//! The first download streams to its client while it is being stored: a task copies each
//! chunk of the upstream's body to a multipart upload and to the client, so memory holds a few
//! chunks and at most one upload part, never the whole package. The upload is committed only
//! when the body arrived whole (and as long as its Content-Length said); an upstream that
//! breaks off mid-body leaves nothing stored and the client a broken response (the last chunk
//! is held back until the commit, so a client never sees a short body as complete, and a
//! client that has the whole file finds it stored). Concurrent first downloads on one replica
//! wait for that task's turn and then read the stored file; replicas racing for one file
//! store the same bytes (a replica that finds the file stored by then drops its upload).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

use super::client::{Client, Download};
use super::error::Unreachable;
use super::flight::{Flights, Turn, lock};
use super::metrics::SourceMetrics;
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{self, Blob, Key, PackageFile, Storage, Upload};

/// Chunks a first download may run ahead of its client (backpressure on the upstream).
const CHUNKS_AHEAD: usize = 8;

/// A cached or just fetched package file.
pub enum Served {
    /// From the bucket, streamed.
    Stored(Blob),
    /// From the upstream as it arrives, while it is being stored; `size` when it said.
    Fetching {
        size: Option<u64>,
        stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
    },
}

/// The package file cache of one upstream.
#[derive(Debug)]
pub struct FileCache {
    upstream: String,
    storage: Storage,
    /// First downloads in progress, by file.
    flights: Flights,
    metrics: SourceMetrics,
    /// The day each cached version's use was last recorded by this replica (see
    /// [`Key::UpstreamUse`]), by its marker's path.
    used: Mutex<HashMap<String, NaiveDate>>,
}

impl FileCache {
    pub fn new(upstream: &str, storage: Storage, metrics: SourceMetrics) -> FileCache {
        FileCache {
            upstream: upstream.to_owned(),
            storage,
            flights: Flights::default(),
            metrics,
            used: Mutex::default(),
        }
    }

    /// Records that `id` `version` was downloaded from the cache: its use marker is rewritten
    /// on the first download each day (in the background: the download does not wait), so
    /// `gc` can tell idle versions with a write a day, not one per download.
    pub fn record_use(&self, id: &PackageId, version: &NuGetVersion) {
        let key = Key::UpstreamUse {
            upstream: &self.upstream,
            id,
            version,
        };
        let path = key.path();
        let today = Utc::now().date_naive();
        if lock(&self.used).insert(path.to_string(), today) == Some(today) {
            return;
        }
        let (storage, upstream) = (self.storage.clone(), self.upstream.clone());
        tokio::spawn(async move {
            if let Err(e) = storage.put_path(&path, Bytes::new()).await {
                tracing::warn!(upstream = %upstream, storage.path = %path, error = %e, "cannot record the use of a cached upstream package");
            }
        });
    }

    fn key<'a>(
        &'a self,
        id: &'a PackageId,
        version: &'a NuGetVersion,
        file: PackageFile,
    ) -> Key<'a> {
        Key::UpstreamFile {
            upstream: &self.upstream,
            id,
            version,
            file,
        }
    }

    /// `file` of `id` `version`: from the bucket, else fetched from `url` at the upstream
    /// (stored as it streams). `Ok(None)`: the upstream does not have it.
    pub async fn get(
        &self,
        client: &Client,
        url: &str,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<Served>, FileError> {
        let key = self.key(id, version, file);
        if let Some(blob) = self.stored(key).await? {
            return Ok(Some(self.hit(id, version, file, blob)));
        }
        let turn = self.flights.turn(key.path().as_ref()).await;
        // The download this one waited for stored it.
        if let Some(blob) = self.stored(key).await? {
            return Ok(Some(self.hit(id, version, file, blob)));
        }
        self.metrics.misses.inc();
        let Some(download) = client.download(url).await? else {
            return Ok(None);
        };
        let upload = match self.storage.upload(key).await {
            Ok(upload) => Some(upload),
            // The client still gets the file; the next download fetches it again.
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "cannot store a package file fetched from upstream");
                None
            }
        };
        let size = download.size;
        let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        let fill = Fill {
            storage: self.storage.clone(),
            upstream: self.upstream.clone(),
            id: id.clone(),
            version: version.clone(),
            file,
        };
        tokio::spawn(fill.run(download, upload, tx, turn));
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        Ok(Some(Served::Fetching {
            size,
            stream: stream.boxed(),
        }))
    }

    fn hit(&self, id: &PackageId, version: &NuGetVersion, file: PackageFile, blob: Blob) -> Served {
        self.metrics.hits.inc();
        if file == PackageFile::Nupkg {
            self.record_use(id, version);
        }
        Served::Stored(blob)
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
        let key = self.key(id, version, file);
        if !self.storage.can_sign() {
            return Ok(None);
        }
        match self.storage.head(key).await {
            Ok(_) => {
                if file == PackageFile::Nupkg {
                    self.record_use(id, version);
                }
                Ok(self.storage.signed_get_url(key, expires_in).await?)
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(FileError::Storage(e)),
        }
    }

    /// `file` of `id` `version` if it is stored.
    pub(super) async fn stored_file(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<Blob>, FileError> {
        self.stored(self.key(id, version, file)).await
    }

    /// Stores `bytes` as `file` of `id` `version` (derived from a stored file: a failure only
    /// means the next read derives it again).
    pub(super) async fn keep(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
        bytes: Bytes,
    ) {
        match self
            .storage
            .create(self.key(id, version, file), bytes)
            .await
        {
            Ok(()) | Err(storage::Error::AlreadyExists { .. }) => {}
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "cannot store a file extracted from an upstream package");
            }
        }
    }

    async fn stored(&self, key: Key<'_>) -> Result<Option<Blob>, FileError> {
        match self.storage.get_stream(key).await {
            Ok(blob) => Ok(Some(blob)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(FileError::Storage(e)),
        }
    }
}

/// A first download being copied to the bucket and to its client.
struct Fill {
    storage: Storage,
    upstream: String,
    id: PackageId,
    version: NuGetVersion,
    file: PackageFile,
}

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

impl Fill {
    fn key(&self) -> Key<'_> {
        Key::UpstreamFile {
            upstream: &self.upstream,
            id: &self.id,
            version: &self.version,
            file: self.file,
        }
    }

    /// Copies `download` to `upload` and `client` (a client that went away does not stop the
    /// copy: the file is stored for the next one), holding `_turn` until the file is stored or
    /// given up, so the next download of it reads the bucket.
    async fn run(
        self,
        mut download: Download,
        mut upload: Option<Upload>,
        client: Sender,
        _turn: Turn,
    ) {
        let mut received: u64 = 0;
        // Sent only once the upload is committed (or given up).
        let mut held: Option<Bytes> = None;
        loop {
            let chunk = match download.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return self.fail(upload, &client, e.to_string()).await,
            };
            received += chunk.len() as u64;
            if let Some(u) = upload.as_mut()
                && let Err(e) = u.write(chunk.clone()).await
            {
                tracing::warn!(upstream = %self.upstream, error = %e, "cannot store a package file fetched from upstream");
                self.abort(upload.take()).await;
            }
            if let Some(previous) = held.replace(chunk) {
                // An error: the client went away.
                let _ = client.send(Ok(previous)).await;
            }
        }
        if let Some(size) = download.size.filter(|&s| s != received) {
            let reason = format!("its body had {received} of {size} bytes");
            return self.fail(upload, &client, reason).await;
        }
        if let Some(upload) = upload {
            self.commit(upload).await;
        }
        if let Some(last) = held {
            let _ = client.send(Ok(last)).await;
        }
    }

    /// Stores the upload, unless another replica stored the file meanwhile (the same bytes).
    async fn commit(&self, upload: Upload) {
        let key = self.key();
        if self.storage.head(key).await.is_ok() {
            return self.abort(Some(upload)).await;
        }
        if let Err(e) = upload.finish().await {
            tracing::warn!(upstream = %self.upstream, storage.path = %key.path(), error = %e, "cannot store a package file fetched from upstream");
        }
    }

    /// The upstream broke off: nothing is stored, and the client's body ends in an error (the
    /// connection is closed before the response is complete).
    async fn fail(&self, upload: Option<Upload>, client: &Sender, reason: String) {
        tracing::warn!(upstream = %self.upstream, storage.path = %self.key().path(), error = %reason, "a package file's download from upstream broke off: nothing is stored");
        self.abort(upload).await;
        let _ = client.send(Err(std::io::Error::other(reason))).await;
    }

    async fn abort(&self, upload: Option<Upload>) {
        if let Some(upload) = upload
            && let Err(e) = upload.abort().await
        {
            tracing::debug!(upstream = %self.upstream, error = %e, "cannot abort an upload");
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
