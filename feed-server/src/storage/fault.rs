//! A fault-injecting object store for tests (feature `testing`): it wraps a real store and can
//! fail the Nth write, or every operation while "down".
//!
//! A crash of the server at any point of an operation is, as far as the store can tell, a
//! sequence of writes that stops: [`Faults::crash_at`] makes write `n` fail (before it reaches
//! the store, or after it did, as when the process dies before reading the response) and every
//! operation after it fail too, like a dead process. Counting the writes of one successful run
//! and crashing at each of them in turn covers every point of the operation deterministically.
//! [`Faults::set_down`] is an outage: every operation fails until it is cleared.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Whether the crashing write reaches the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// The write is not performed (the process died before sending it).
    Before,
    /// The write is performed but reported as failed (the process died before the response).
    After,
}

/// What to break, shared between a test and the stores it wraps.
#[derive(Debug, Default)]
pub struct Faults {
    /// Writes (puts and deletes) seen so far, numbered from 1.
    writes: AtomicU64,
    /// `(n, how)`: write `n` crashes, and everything after it fails.
    crash: Mutex<Option<(u64, Crash)>>,
    dead: AtomicBool,
    down: AtomicBool,
    /// Every write seen, in order (`put path`, `create path`, `delete path`).
    log: Mutex<Vec<String>>,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Write number `n` (from 1, counting from now) crashes as `how` says; every operation
    /// after it fails until [`Faults::reset`].
    pub fn crash_at(&self, n: u64, how: Crash) {
        self.reset();
        *lock(&self.crash) = Some((n, how));
    }

    /// Every operation fails while `down` (an outage), and works again once cleared.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Forgets crashes and counts, and revives the store.
    pub fn reset(&self) {
        self.writes.store(0, Ordering::SeqCst);
        *lock(&self.crash) = None;
        self.dead.store(false, Ordering::SeqCst);
        lock(&self.log).clear();
    }

    /// Writes seen since the last reset.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Whether a crash happened (the store now refuses everything).
    pub fn crashed(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// The writes seen since the last reset, e.g. `create packages/a/1.0.0/a.1.0.0.nupkg`.
    pub fn write_log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    fn check_alive(&self) -> object_store::Result<()> {
        if self.down.load(Ordering::SeqCst) || self.dead.load(Ordering::SeqCst) {
            return Err(injected("the store is unreachable (injected)"));
        }
        Ok(())
    }

    /// Counts a write; `Some(how)` when this write is the one that crashes.
    fn begin_write(&self, what: String) -> object_store::Result<Option<Crash>> {
        self.check_alive()?;
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.log).push(what);
        match *lock(&self.crash) {
            Some((at, how)) if at == n => {
                self.dead.store(true, Ordering::SeqCst);
                match how {
                    Crash::Before => Err(injected("crash before write (injected)")),
                    Crash::After => Ok(Some(Crash::After)),
                }
            }
            _ => Ok(None),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn injected(message: &'static str) -> object_store::Error {
    object_store::Error::Generic {
        store: "faults",
        source: message.into(),
    }
}

/// `inner` with [`Faults`] applied to every operation.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, faults: Arc<Faults>) -> FaultyStore {
        FaultyStore { inner, faults }
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let verb = match opts.mode {
            object_store::PutMode::Create => "create",
            _ => "put",
        };
        let crash = self.faults.begin_write(format!("{verb} {location}"))?;
        let result = self.inner.put_opts(location, payload, opts).await?;
        match crash {
            Some(Crash::After) => Err(injected("crash after write (injected)")),
            _ => Ok(result),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.faults.check_alive()?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.faults.check_alive()?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.faults.check_alive()?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let faults = Arc::clone(&self.faults);
        locations
            .and_then(move |location| {
                let inner = Arc::clone(&inner);
                let faults = Arc::clone(&faults);
                async move {
                    let crash = faults.begin_write(format!("delete {location}"))?;
                    match inner.delete(&location).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                    match crash {
                        Some(Crash::After) => Err(injected("crash after delete (injected)")),
                        _ => Ok(location),
                    }
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if let Err(e) = self.faults.check_alive() {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if let Err(e) = self.faults.check_alive() {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.faults.check_alive()?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let crash = self.faults.begin_write(format!("copy {from} {to}"))?;
        self.inner.copy_opts(from, to, options).await?;
        match crash {
            Some(Crash::After) => Err(injected("crash after copy (injected)")),
            _ => Ok(()),
        }
    }
}
