//! Metadata documents fetched from one upstream, cached in memory and in the bucket (so every
//! replica shares them and they outlive restarts), fresh for the upstream's TTL.
//!
//! A read of a document past its TTL asks the upstream again, once: concurrent readers of the
//! same document wait for that one request (single flight) and then share its answer. A 404 is
//! remembered like a document (a negative entry), so an id no upstream has costs one request per
//! TTL. When the upstream fails, the stale copy is served and marked so ([`Answer::stale`]);
//! without any copy the failure is the caller's to report.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::error::Unreachable;
use super::flight::{Flights, lock};
use super::metrics::SourceMetrics;
use crate::storage::{Key, Storage};

/// Documents kept in memory per upstream; past it the memory is cleared and documents are read
/// from the bucket again (a cheap read), which bounds memory without bookkeeping per read.
const MAX_MEMORY_ENTRIES: usize = 20_000;

/// One cached answer of the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When the upstream gave it.
    pub fetched: DateTime<Utc>,
    /// The document, or `None` when the upstream answered 404.
    pub body: Option<Bytes>,
}

/// What a read gets.
#[derive(Debug, Clone)]
pub struct Answer {
    pub entry: Arc<Entry>,
    /// Past its TTL: the upstream failed to give a fresh one.
    pub stale: bool,
}

/// The document cache of one upstream.
#[derive(Debug)]
pub struct DocCache {
    upstream: String,
    storage: Storage,
    ttl: Duration,
    memory: Mutex<HashMap<String, Arc<Entry>>>,
    /// Refreshes in progress, by document.
    flights: Flights,
    metrics: SourceMetrics,
}

impl DocCache {
    pub fn new(upstream: &str, storage: Storage, ttl: Duration) -> DocCache {
        DocCache {
            upstream: upstream.to_owned(),
            storage,
            ttl,
            memory: Mutex::default(),
            flights: Flights::default(),
            metrics: SourceMetrics::default(),
        }
    }

    /// Counts hits, misses and stale answers in `metrics`.
    pub fn with_metrics(self, metrics: SourceMetrics) -> DocCache {
        DocCache { metrics, ..self }
    }

    /// The document at `url`: fresh from the cache, else from `fetch` (which asks the upstream),
    /// else stale from the cache; `Err` only when the upstream failed and nothing is cached.
    pub async fn get<F, Fut>(&self, url: &str, fetch: F) -> Result<Answer, Unreachable>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, Unreachable>>,
    {
        let hash = hex::encode(Sha256::digest(url.as_bytes()));
        if let Some(entry) = self.remembered(&hash).filter(|e| self.fresh(e)) {
            return Ok(Answer {
                entry,
                stale: false,
            });
        }
        self.flights
            .run(&hash, || self.get_in_flight(&hash, fetch))
            .await
    }

    /// [`DocCache::get`] holding the document's flight lock.
    async fn get_in_flight<F, Fut>(&self, hash: &str, fetch: F) -> Result<Answer, Unreachable>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, Unreachable>>,
    {
        // Another reader may have refreshed it while this one waited, or another replica.
        let cached = match self.remembered(hash) {
            Some(entry) if self.fresh(&entry) => {
                return Ok(Answer {
                    entry,
                    stale: false,
                });
            }
            Some(entry) => Some(entry),
            None => self.load(hash).await,
        };
        if let Some(entry) = cached.as_ref().filter(|e| self.fresh(e)) {
            self.metrics.hits.inc();
            self.remember(hash, entry.clone());
            return Ok(Answer {
                entry: entry.clone(),
                stale: false,
            });
        }
        self.metrics.misses.inc();
        match fetch().await {
            Ok(body) => {
                let entry = Arc::new(Entry {
                    fetched: Utc::now(),
                    body,
                });
                self.store(hash, &entry).await;
                self.remember(hash, entry.clone());
                Ok(Answer {
                    entry,
                    stale: false,
                })
            }
            Err(e) => match cached {
                Some(entry) => {
                    self.metrics.stale.inc();
                    self.remember(hash, entry.clone());
                    Ok(Answer { entry, stale: true })
                }
                None => Err(e),
            },
        }
    }

    /// The document at `url` if cached (fresh or not), without asking the upstream.
    pub async fn cached(&self, url: &str) -> Option<Arc<Entry>> {
        let hash = hex::encode(Sha256::digest(url.as_bytes()));
        match self.remembered(&hash) {
            Some(entry) => Some(entry),
            None => self.load(&hash).await,
        }
    }

    fn fresh(&self, entry: &Entry) -> bool {
        crate::storage::age(entry.fetched) < self.ttl
    }

    fn remembered(&self, hash: &str) -> Option<Arc<Entry>> {
        lock(&self.memory).get(hash).cloned()
    }

    fn remember(&self, hash: &str, entry: Arc<Entry>) {
        let mut memory = lock(&self.memory);
        if memory.len() >= MAX_MEMORY_ENTRIES {
            memory.clear();
        }
        memory.insert(hash.to_owned(), entry);
    }

    /// The bucket's copy, if any (a failing bucket counts as none: the upstream is asked).
    async fn load(&self, hash: &str) -> Option<Arc<Entry>> {
        let key = Key::UpstreamDoc {
            upstream: &self.upstream,
            hash,
        };
        match self.storage.get(key).await {
            Ok(bytes) => decode(&bytes).map(Arc::new),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "cannot read a cached upstream document");
                None
            }
        }
    }

    /// Writes an answer to the bucket; a failure only costs another upstream request later.
    async fn store(&self, hash: &str, entry: &Entry) {
        let key = Key::UpstreamDoc {
            upstream: &self.upstream,
            hash,
        };
        if let Err(e) = self.storage.put(key, encode(entry)).await {
            tracing::warn!(upstream = %self.upstream, error = %e, "cannot store a cached upstream document");
        }
    }
}

/// The stored form: a first line `{fetched millis} {200|404}`, then the document as the
/// upstream sent it (decoded), so a stored document is readable with any tool.
fn encode(entry: &Entry) -> Bytes {
    let status = if entry.body.is_some() { 200 } else { 404 };
    let mut out = format!("{} {status}\n", entry.fetched.timestamp_millis()).into_bytes();
    if let Some(body) = &entry.body {
        out.extend_from_slice(body);
    }
    Bytes::from(out)
}

fn decode(stored: &Bytes) -> Option<Entry> {
    let newline = stored.iter().position(|&b| b == b'\n')?;
    let head = std::str::from_utf8(&stored[..newline]).ok()?;
    let (millis, status) = head.split_once(' ')?;
    let fetched = Utc.timestamp_millis_opt(millis.parse().ok()?).single()?;
    let body = match status {
        "200" => Some(stored.slice(newline + 1..)),
        "404" => None,
        _ => return None,
    };
    Some(Entry { fetched, body })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn down() -> Unreachable {
        Unreachable {
            upstream: "up".into(),
            reason: "cannot connect".into(),
        }
    }

    #[tokio::test]
    async fn concurrent_reads_of_a_missing_document_fetch_once() {
        let cache = Arc::new(DocCache::new("up", Storage::memory(), HOUR));
        let calls = Arc::new(AtomicUsize::new(0));
        let reads = (0..8).map(|_| {
            let (cache, calls) = (cache.clone(), calls.clone());
            tokio::spawn(async move {
                cache
                    .get("https://up/a.json", || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Some(Bytes::from_static(b"{}")))
                    })
                    .await
            })
        });
        for read in futures::future::join_all(reads).await {
            let answer = read.unwrap().unwrap();
            assert_eq!(answer.entry.body.as_deref(), Some(&b"{}"[..]));
            assert!(!answer.stale);
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one flight for eight readers"
        );
        assert!(cache.flights.is_idle(), "flight locks are forgotten");
    }

    #[tokio::test]
    async fn fresh_documents_and_404s_are_not_fetched_again_until_the_ttl() {
        let storage = Storage::memory();
        let cache = DocCache::new("up", storage.clone(), HOUR);
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        };
        assert!(cache.get("u", fetch).await.unwrap().entry.body.is_none());
        assert!(cache.get("u", fetch).await.unwrap().entry.body.is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the 404 is remembered");
        // Another replica (a fresh memory) finds it in the bucket.
        let other = DocCache::new("up", storage, HOUR);
        assert!(other.get("u", fetch).await.unwrap().entry.body.is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "shared through the bucket");
        // Past the TTL (zero here) every read asks again.
        let expired = DocCache::new("up", Storage::memory(), Duration::ZERO);
        expired.get("u", fetch).await.unwrap();
        expired.get("u", fetch).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failing_upstream_serves_the_stale_copy_or_fails_without_one() {
        let cache = DocCache::new("up", Storage::memory(), Duration::ZERO);
        let first = cache
            .get("u", || async { Ok(Some(Bytes::from_static(b"[1]"))) })
            .await
            .unwrap();
        assert!(!first.stale);
        let stale = cache.get("u", || async { Err(down()) }).await.unwrap();
        assert!(stale.stale);
        assert_eq!(stale.entry, first.entry);
        let err = cache
            .get("other", || async { Err(down()) })
            .await
            .unwrap_err();
        assert_eq!(err.reason, "cannot connect");
        let fresh = cache
            .get("u", || async { Ok(Some(Bytes::from_static(b"[2]"))) })
            .await
            .unwrap();
        assert!(!fresh.stale);
        assert_eq!(fresh.entry.body.as_deref(), Some(&b"[2]"[..]));
    }

    #[test]
    fn stored_entries_read_back() {
        let now = Utc
            .timestamp_millis_opt(Utc::now().timestamp_millis())
            .unwrap();
        for body in [Some(Bytes::from_static(b"{\"a\":\n1}")), None] {
            let entry = Entry { fetched: now, body };
            assert_eq!(decode(&encode(&entry)), Some(entry));
        }
        assert_eq!(decode(&Bytes::from_static(b"garbage")), None);
    }
}
