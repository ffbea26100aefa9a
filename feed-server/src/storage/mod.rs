//! The feed's objects on `object_store`: the only module that imports it.
//!
//! [`Storage::open`] turns a storage URL (a local folder, `memory://`, `s3://`, `az://`, `gs://`)
//! into a store scoped to the feed's prefix; [`key::Key`] names every object. Writes are whole-object
//! and atomic on every backend; [`Storage::create`] is the create-only write that the event log
//! and package claims use as their compare-and-swap (DESIGN invariants 1 and 2).

#[cfg(feature = "testing")]
pub mod fault;
pub mod key;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{
    ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutMode, PutOptions, PutPayload, WriteMultipart,
};

pub use key::{Key, PackageFile};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist.
    #[error("object {path} not found")]
    NotFound { path: String },
    /// A create-only write found the object already there.
    #[error("object {path} already exists")]
    AlreadyExists { path: String },
    /// The storage URL or its options are unusable.
    #[error("invalid storage configuration: {0}")]
    Config(String),
    /// The backend failed or timed out.
    #[error("storage backend error on {path}: {source}")]
    Backend {
        path: String,
        #[source]
        source: object_store::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn from_store(path: &Path, source: object_store::Error) -> Error {
        let path = path.to_string();
        match source {
            object_store::Error::NotFound { .. } => Error::NotFound { path },
            object_store::Error::AlreadyExists { .. } => Error::AlreadyExists { path },
            source => Error::Backend { path, source },
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// An object being read: its size and its bytes as they arrive.
pub struct Blob {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// How long ago `modified` (an object's time, by the store's clock) was, by our clock. Clock
/// skew between the two counts as age or youth; the margins of claims and locks allow for it.
pub fn age(modified: DateTime<Utc>) -> Duration {
    Utc::now()
        .signed_duration_since(modified)
        .to_std()
        .unwrap_or_default()
}

/// A file an interrupted write left in a local folder (see [`Storage::local_leftovers`]).
#[derive(Debug, Clone)]
pub struct Leftover {
    /// Relative to the folder, e.g. `packages/a/1.0.0/a.1.0.0.nupkg#1`.
    pub path: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// Size and age of a stored object.
#[derive(Debug, Clone)]
pub struct Meta {
    pub path: Path,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    /// The backend's version tag: it changes whenever the object is written again.
    pub e_tag: Option<String>,
}

impl From<object_store::ObjectMeta> for Meta {
    fn from(m: object_store::ObjectMeta) -> Meta {
        Meta {
            path: m.location,
            size: m.size,
            last_modified: m.last_modified,
            e_tag: m.e_tag,
        }
    }
}

/// Retries of a failed store request: few and short, so that an outage reaches clients as a
/// quick 503 with Retry-After (which NuGet clients honour) instead of a request that hangs for
/// object_store's default three minutes.
fn retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

/// Builds a cloud store from its builder: the URL, our retry policy, then the user's options
/// (object_store's own option names, so every backend setting is reachable from config).
macro_rules! cloud_store {
    ($builder:expr, $url:expr, $options:expr) => {{
        let config = |e: object_store::Error| Error::Config(e.to_string());
        let mut builder = $builder.with_url($url).with_retry(retry_config());
        for (key, value) in $options {
            builder = builder.with_config(key.parse().map_err(config)?, value);
        }
        builder.build().map_err(config)?
    }};
}

/// A cloud store scoped to `prefix`, as a store and as the signer of download URLs.
fn scoped<T: ObjectStore + Signer>(
    store: T,
    prefix: &Path,
) -> (Arc<dyn ObjectStore>, Option<Arc<dyn Signer>>) {
    if prefix.as_ref().is_empty() {
        let store = Arc::new(store);
        (store.clone(), Some(store))
    } else {
        let store = Arc::new(PrefixStore::new(store, prefix.clone()));
        (store.clone(), Some(store))
    }
}

/// A feed's object store, already scoped to the feed's prefix.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    description: String,
    /// The folder of a local-folder store: downloads read it directly ([`Storage::get_stream`]).
    local_root: Option<std::path::PathBuf>,
    /// Signs download URLs on S3, Azure and GCS ([`Storage::signed_get_url`]).
    signer: Option<Arc<dyn Signer>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl Storage {
    /// Opens the store named by `url`. Cloud credentials are read from the backend's usual
    /// environment variables (`AWS_*`, `AZURE_*`, `GOOGLE_*`); `options` override them.
    pub fn open(url: &str, options: &BTreeMap<String, String>) -> Result<Storage> {
        let parsed = match url::Url::parse(url) {
            Ok(u) if u.scheme().len() > 1 => u,
            // A bare path (or a Windows drive letter parsed as a scheme) is a local folder.
            _ => return Storage::local(std::path::Path::new(url)),
        };
        let (scheme, prefix) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| Error::Config(e.to_string()))?;
        let prefix = Path::parse(prefix.as_ref()).map_err(|e| Error::Config(e.to_string()))?;
        let (store, signer) = match scheme {
            ObjectStoreScheme::Local => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| Error::Config(format!("`{url}` is not a local path")))?;
                return Storage::local(&path);
            }
            ObjectStoreScheme::Memory => {
                let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
                    Arc::new(InMemory::new())
                } else {
                    Arc::new(PrefixStore::new(InMemory::new(), prefix.clone()))
                };
                (store, None)
            }
            ObjectStoreScheme::AmazonS3 => scoped(
                cloud_store!(object_store::aws::AmazonS3Builder::from_env(), url, options),
                &prefix,
            ),
            ObjectStoreScheme::MicrosoftAzure => scoped(
                cloud_store!(
                    object_store::azure::MicrosoftAzureBuilder::from_env(),
                    url,
                    options
                ),
                &prefix,
            ),
            ObjectStoreScheme::GoogleCloudStorage => scoped(
                cloud_store!(
                    object_store::gcp::GoogleCloudStorageBuilder::from_env(),
                    url,
                    options
                ),
                &prefix,
            ),
            other => {
                return Err(Error::Config(format!(
                    "`{url}`: storage scheme {other:?} is not supported; use a folder, memory://, s3://, az:// or gs://"
                )));
            }
        };
        Ok(Storage {
            store,
            description: redact_url(url),
            local_root: None,
            signer,
        })
    }

    /// A feed in a local folder, created when missing.
    pub fn local(dir: &std::path::Path) -> Result<Storage> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Config(format!(
                "cannot create storage folder {}: {e}",
                dir.display()
            ))
        })?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| Error::Config(e.to_string()))?
            // Empty folders left by deletes are removed, so a listing shows only live packages.
            .with_automatic_cleanup(true)
            // A power cut must not leave an event on disk whose package files are not: the
            // event is written after the files, but without fsync the disk may keep only it.
            .with_fsync(true);
        Ok(Storage {
            store: Arc::new(store),
            description: format!("folder {}", dir.display()),
            local_root: std::fs::canonicalize(dir).ok(),
            signer: None,
        })
    }

    /// An empty in-memory feed (tests).
    pub fn memory() -> Storage {
        Storage {
            store: Arc::new(InMemory::new()),
            description: "memory://".to_owned(),
            local_root: None,
            signer: None,
        }
    }

    /// This storage with [`fault::Faults`] injected into every operation (tests).
    #[cfg(feature = "testing")]
    pub fn with_faults(&self, faults: Arc<fault::Faults>) -> Storage {
        Storage {
            store: Arc::new(fault::FaultyStore::new(Arc::clone(&self.store), faults)),
            description: format!("{} (with injected faults)", self.description),
            // Every read goes through the faults.
            local_root: None,
            signer: self.signer.clone(),
        }
    }

    /// Writes `bytes` at `key`, replacing what was there.
    pub async fn put(&self, key: Key<'_>, bytes: Bytes) -> Result<()> {
        self.put_tagged(key, bytes).await.map(|_| ())
    }

    /// [`Storage::put`] by path (a key's path kept beyond its parts' lifetime).
    pub async fn put_path(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| Error::from_store(path, e))
    }

    /// [`Storage::put`], returning the written object's version tag (see [`Meta::e_tag`]).
    pub async fn put_tagged(&self, key: Key<'_>, bytes: Bytes) -> Result<Option<String>> {
        let path = key.path();
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map(|r| r.e_tag)
            .map_err(|e| Error::from_store(&path, e))
    }

    /// Writes `bytes` at `key` only if nothing is there ([`Error::AlreadyExists`] otherwise).
    pub async fn create(&self, key: Key<'_>, bytes: Bytes) -> Result<()> {
        self.create_tagged(key, bytes).await.map(|_| ())
    }

    /// [`Storage::create`], returning the written object's version tag (see [`Meta::e_tag`]).
    pub async fn create_tagged(&self, key: Key<'_>, bytes: Bytes) -> Result<Option<String>> {
        let path = key.path();
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        self.store
            .put_opts(&path, PutPayload::from(bytes), opts)
            .await
            .map(|r| r.e_tag)
            .map_err(|e| Error::from_store(&path, e))
    }

    /// Starts writing `key` in parts, for a body that arrives as a stream and must not be
    /// held whole in memory. Nothing is visible at `key` until [`Upload::finish`]; an upload
    /// dropped or aborted before that leaves nothing behind (on a local folder, a process
    /// killed mid-way leaves a staged file that `gc` removes, see [`Storage::local_leftovers`]).
    pub async fn upload(&self, key: Key<'_>) -> Result<Upload> {
        let path = key.path();
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| Error::from_store(&path, e))?;
        Ok(Upload {
            writer: WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES),
            path,
        })
    }

    /// Reads a whole object.
    pub async fn get(&self, key: Key<'_>) -> Result<Bytes> {
        self.get_path(&key.path()).await
    }

    /// Reads a whole object by path (fsck, gc).
    pub async fn get_path(&self, path: &Path) -> Result<Bytes> {
        let result = self
            .store
            .get(path)
            .await
            .map_err(|e| Error::from_store(path, e))?;
        result.bytes().await.map_err(|e| Error::from_store(path, e))
    }

    /// A URL anyone may GET `key` from for `expires_in`, signed with the backend's credentials
    /// (S3, Azure, GCS), or `None` for backends that cannot sign (a folder, memory). Signing
    /// is local computation: nothing is sent to the store.
    pub async fn signed_get_url(
        &self,
        key: Key<'_>,
        expires_in: Duration,
    ) -> Result<Option<url::Url>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let path = key.path();
        signer
            .signed_url(http::Method::GET, &path, expires_in)
            .await
            .map(Some)
            .map_err(|e| Error::from_store(&path, e))
    }

    /// Whether [`Storage::signed_get_url`] gives URLs.
    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    /// Reads an object as a stream of chunks, for downloads that must not be buffered whole.
    pub async fn get_stream(&self, key: Key<'_>) -> Result<Blob> {
        let path = key.path();
        if let Some(root) = &self.local_root {
            return open_local(root, &path);
        }
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| Error::from_store(&path, e))?;
        let size = result.meta.size;
        let stream = result
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed();
        Ok(Blob { size, stream })
    }

    pub async fn head(&self, key: Key<'_>) -> Result<Meta> {
        self.head_path(&key.path()).await
    }

    /// Files that interrupted writes left in a local folder: object_store writes `{path}#{n}`
    /// first and then renames or links it, so a process killed in between leaves it behind,
    /// invisible to [`Storage::list`]. Paths are relative to the folder; none for other stores.
    pub async fn local_leftovers(&self) -> Result<Vec<Leftover>> {
        let Some(root) = self.local_root.clone() else {
            return Ok(Vec::new());
        };
        let walk = move || {
            let mut found = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let Ok(meta) = entry.metadata() else { continue };
                    if meta.is_dir() {
                        stack.push(entry.path());
                        continue;
                    }
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    let staged = name.rsplit_once('#').is_some_and(|(_, n)| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                    });
                    let relative = entry.path();
                    let Ok(relative) = relative.strip_prefix(&root) else {
                        continue;
                    };
                    if staged && let Some(relative) = relative.to_str() {
                        found.push(Leftover {
                            path: relative.to_owned(),
                            size: meta.len(),
                            last_modified: meta
                                .modified()
                                .map(DateTime::<Utc>::from)
                                .unwrap_or_else(|_| Utc::now()),
                        });
                    }
                }
            }
            found
        };
        tokio::task::spawn_blocking(walk)
            .await
            .map_err(|e| Error::Config(format!("cannot walk the storage folder: {e}")))
    }

    /// Removes a file found by [`Storage::local_leftovers`].
    pub async fn remove_local_leftover(&self, leftover: &Leftover) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let file = root.join(&leftover.path);
        match tokio::fs::remove_file(&file).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Config(format!(
                "cannot remove {}: {e}",
                file.display()
            ))),
        }
    }

    /// Size, age and version tag of an object by path (fsck, gc).
    pub async fn head_path(&self, path: &Path) -> Result<Meta> {
        self.store
            .head(path)
            .await
            .map(Meta::from)
            .map_err(|e| Error::from_store(path, e))
    }

    /// Deletes an object; deleting a missing object is not an error.
    pub async fn delete(&self, key: Key<'_>) -> Result<()> {
        self.delete_path(&key.path()).await
    }

    pub async fn delete_path(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::from_store(path, e)),
        }
    }

    /// Every object under `prefix` (a folder of [`key`]), in no particular order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Meta>> {
        let prefix = Path::from(prefix);
        self.store
            .list(Some(&prefix))
            .map_ok(Meta::from)
            .try_collect()
            .await
            .map_err(|e| Error::from_store(&prefix, e))
    }

    /// Every object under `prefix` whose path sorts after `offset`.
    pub async fn list_after(&self, prefix: &str, offset: &Path) -> Result<Vec<Meta>> {
        let prefix = Path::from(prefix);
        self.store
            .list_with_offset(Some(&prefix), offset)
            .map_ok(Meta::from)
            .try_collect()
            .await
            .map_err(|e| Error::from_store(&prefix, e))
    }
}

/// Parts of an [`Upload`]: S3's smallest part size (every part but the last must be at least
/// this big), so an upload holds at most this much (times [`UPLOAD_PARTS_IN_FLIGHT`] + 1).
const UPLOAD_PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts of an [`Upload`] sent at once; writing more waits for one of them.
const UPLOAD_PARTS_IN_FLIGHT: usize = 2;

/// An object being written in parts (see [`Storage::upload`]).
pub struct Upload {
    path: Path,
    writer: WriteMultipart,
}

impl Upload {
    /// Appends `bytes`, first waiting while too many parts are in flight (backpressure).
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        self.writer
            .wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT)
            .await
            .map_err(|e| Error::from_store(&self.path, e))?;
        self.writer.put(bytes);
        Ok(())
    }

    /// Makes the object visible with everything written, replacing what was there.
    pub async fn finish(self) -> Result<()> {
        self.writer
            .finish()
            .await
            .map(|_| ())
            .map_err(|e| Error::from_store(&self.path, e))
    }

    /// Drops what was written; nothing becomes visible.
    pub async fn abort(self) -> Result<()> {
        self.writer
            .abort()
            .await
            .map_err(|e| Error::from_store(&self.path, e))
    }
}

/// Files up to this size are read in one go when served from a local folder.
const INLINE_READ_BYTES: u64 = 256 * 1024;
/// Chunks of larger local files as they are streamed.
const LOCAL_CHUNK_BYTES: usize = 256 * 1024;

/// Opens a stored file of a local folder for a download, without the blocking-pool round trips
/// `object_store` makes for every open and every 8 KiB chunk: the open and, for a small file
/// (most packages), the read happen right here, as a static file server's do. They are page
/// cache hits for hot files and the event loop is never blocked for longer than one disk read.
/// Larger files stream in chunks read on the blocking pool.
fn open_local(root: &std::path::Path, path: &Path) -> Result<Blob> {
    use std::io::Read;
    let file_path = root.join(path.as_ref());
    let fail = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                path: path.to_string(),
            }
        } else {
            Error::Backend {
                path: path.to_string(),
                source: object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                },
            }
        }
    };
    let file = std::fs::File::open(&file_path).map_err(fail)?;
    let size = file.metadata().map_err(fail)?.len();
    if size <= INLINE_READ_BYTES {
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(INLINE_READ_BYTES)
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        let size = bytes.len() as u64;
        let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::from(bytes));
        return Ok(Blob {
            size,
            stream: futures::stream::once(async move { chunk }).boxed(),
        });
    }
    let file = tokio::fs::File::from_std(file);
    Ok(Blob {
        size,
        stream: tokio_util::io::ReaderStream::with_capacity(file, LOCAL_CHUNK_BYTES).boxed(),
    })
}

/// Storage URLs can carry credentials (`s3://key:secret@bucket`): never log them.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// How long a package claim (see [`crate::feed`]) may stay without its event before a new push
/// may take it over: far longer than a push needs between claiming and committing.
pub const CLAIM_GRACE: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_downloads_stream_small_and_large_files_whole() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path()).unwrap();
        for size in [
            0,
            1000,
            INLINE_READ_BYTES as usize + 1,
            3 * LOCAL_CHUNK_BYTES + 5,
        ] {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            storage
                .put(Key::Downloads("blob"), Bytes::from(bytes.clone()))
                .await
                .unwrap();
            let blob = storage.get_stream(Key::Downloads("blob")).await.unwrap();
            assert_eq!(blob.size, size as u64);
            let read: Vec<Bytes> = blob.stream.try_collect().await.unwrap();
            assert_eq!(read.concat(), bytes, "{size} bytes");
        }
        let missing = storage.get_stream(Key::Downloads("nope")).await;
        assert!(matches!(missing, Err(Error::NotFound { .. })));
    }

    #[tokio::test]
    async fn create_is_create_only_on_memory_and_local() {
        let dir = tempfile::tempdir().unwrap();
        for storage in [Storage::memory(), Storage::local(dir.path()).unwrap()] {
            storage
                .create(Key::Event(1), Bytes::from_static(b"a"))
                .await
                .unwrap();
            let err = storage
                .create(Key::Event(1), Bytes::from_static(b"b"))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
            assert_eq!(
                storage.get(Key::Event(1)).await.unwrap(),
                Bytes::from_static(b"a")
            );
        }
    }

    /// A streamed write is invisible until finished and leaves nothing when aborted, on
    /// memory and in a folder (no staged file either): the upstream cache stores first
    /// downloads this way, and a half-written package must never be served.
    #[tokio::test]
    async fn uploads_appear_whole_on_finish_and_not_at_all_on_abort() {
        let dir = tempfile::tempdir().unwrap();
        let part = vec![7u8; UPLOAD_PART_BYTES / 2 + 1];
        for storage in [Storage::memory(), Storage::local(dir.path()).unwrap()] {
            let mut upload = storage.upload(Key::Downloads("aborted")).await.unwrap();
            for _ in 0..3 {
                upload.write(Bytes::from(part.clone())).await.unwrap();
            }
            assert!(storage.head(Key::Downloads("aborted")).await.is_err());
            upload.abort().await.unwrap();
            assert!(
                storage
                    .get(Key::Downloads("aborted"))
                    .await
                    .unwrap_err()
                    .is_not_found()
            );
            assert!(storage.local_leftovers().await.unwrap().is_empty());

            let mut upload = storage.upload(Key::Downloads("whole")).await.unwrap();
            for _ in 0..3 {
                upload.write(Bytes::from(part.clone())).await.unwrap();
            }
            assert!(storage.head(Key::Downloads("whole")).await.is_err());
            upload.finish().await.unwrap();
            let stored = storage.get(Key::Downloads("whole")).await.unwrap();
            assert_eq!(stored, part.repeat(3));
        }
    }

    #[tokio::test]
    async fn open_understands_folders_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("feed");
        let s = Storage::open(folder.to_str().unwrap(), &BTreeMap::new()).unwrap();
        s.put(Key::Snapshot, Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert!(folder.join("catalog/snapshot.json").exists());
        let m = Storage::open("memory://", &BTreeMap::new()).unwrap();
        assert!(m.get(Key::Snapshot).await.unwrap_err().is_not_found());
        assert!(Storage::open("ftp://x/y", &BTreeMap::new()).is_err());
    }
}
