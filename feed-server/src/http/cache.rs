//! Rendered documents kept as bytes, so that a restore's thousands of requests for the same
//! few documents cost a hash lookup and a copy of a pointer, as close to a static file as the
//! HTTP stack allows.
//!
//! A document is cached under a key naming it completely (the kind of document, the feed's
//! base URL, since URLs inside documents come from config or request headers, and its
//! lower-cased path arguments) together with a *stamp*: the sequence number of the newest
//! event it depends on. A lookup passes the stamp the feed's state has now, so a document is
//! served only while nothing it shows has changed, and invalidation is exact without any
//! bookkeeping on writes: registration and flat-container documents carry the last event of
//! their package id, the catalog index and newest page the last event of the feed, and
//! documents that never change (the service index, full catalog pages, catalog leaves) zero.
//!
//! Each entry keeps the gzip body (what NuGet clients always ask for) and the strong ETags of
//! both representations, and the identity body too once a client without gzip asked for it:
//! decompressing it for every such request cost more than the rest of the request (the
//! single-URL bench, `bench/src/single.rs`). Memory is bounded by a byte budget: past it, the
//! least recently used entries go.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::http::HeaderValue;
use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Default budget of the document cache.
pub const DEFAULT_BUDGET_BYTES: usize = 128 * 1024 * 1024;

/// Default budget of the package file cache.
pub const DEFAULT_FILE_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// Largest package file kept in the file cache: restores download many small packages again
/// and again; a big one is streamed from storage every time.
pub const MAX_CACHED_FILE_BYTES: u64 = 256 * 1024;

/// Shards of a cache's map, so concurrent requests rarely wait on one another's lock.
const SHARDS: usize = 16;

/// Bookkeeping per entry besides its bytes (key, map slot, counters).
const ENTRY_OVERHEAD: usize = 160;

/// What an entry costs in a cache's budget.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// One rendered document.
#[derive(Debug)]
pub struct CachedDoc {
    /// The stamp it was rendered at (see the module docs).
    pub stamp: u64,
    pub gzip: Bytes,
    /// `"{hash}-gz"`: the gzip representation's strong validator.
    pub etag_gzip: HeaderValue,
    /// `"{hash}"`: the identity representation's.
    pub etag: HeaderValue,
    /// The uncompressed body, only in a document just rendered (not in the cache).
    identity: Option<Bytes>,
}

impl CachedDoc {
    /// Compresses and hashes a rendered document.
    pub fn new(stamp: u64, identity: Vec<u8>) -> CachedDoc {
        let hash = hex::encode(&Sha256::digest(&identity)[..16]);
        let etag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{hash}{suffix}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        };
        CachedDoc {
            stamp,
            gzip: Bytes::from(gzip(&identity, Compression::default())),
            etag_gzip: etag("-gz"),
            etag: etag(""),
            identity: Some(Bytes::from(identity)),
        }
    }

    /// Whether the uncompressed body is at hand (not made back from gzip).
    pub fn has_identity(&self) -> bool {
        self.identity.is_some()
    }

    /// The uncompressed body.
    pub fn identity(&self) -> Bytes {
        if let Some(body) = &self.identity {
            return body.clone();
        }
        let mut out = Vec::with_capacity(self.gzip.len() * 4);
        // Our own gzip of bytes we had: it cannot fail to decompress.
        let _ = GzDecoder::new(&self.gzip[..]).read_to_end(&mut out);
        Bytes::from(out)
    }

    /// The same document without its identity body.
    fn compressed_only(&self) -> CachedDoc {
        CachedDoc {
            stamp: self.stamp,
            gzip: self.gzip.clone(),
            etag_gzip: self.etag_gzip.clone(),
            etag: self.etag.clone(),
            identity: None,
        }
    }

    /// The same document with its identity body (decompressed if need be).
    pub fn with_identity(&self) -> CachedDoc {
        CachedDoc {
            identity: Some(self.identity()),
            ..self.compressed_only()
        }
    }
}

impl Weigh for CachedDoc {
    fn weight(&self) -> usize {
        self.gzip.len() + self.identity.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD
    }
}

impl Weigh for Bytes {
    fn weight(&self) -> usize {
        self.len() + ENTRY_OVERHEAD
    }
}

/// Gzips a body.
pub fn gzip(body: &[u8], level: Compression) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), level);
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

/// An entry and when it was last used.
#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    last_used: AtomicU64,
}

/// One shard of a cache's map.
type Shard<V> = RwLock<HashMap<String, Entry<V>>>;

/// A byte-budgeted map, least recently used entries evicted first.
#[derive(Debug)]
struct Lru<V> {
    shards: Box<[Shard<V>]>,
    budget: usize,
    used: AtomicUsize,
    /// A logical clock for recency.
    clock: AtomicU64,
}

impl<V: Weigh> Lru<V> {
    fn new(budget: usize) -> Lru<V> {
        Lru {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            budget,
            used: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &str) -> &Shard<V> {
        // FNV-1a: cheap, and only needs to spread keys over a few shards.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        &self.shards[(h % SHARDS as u64) as usize]
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn get(&self, key: &str) -> Option<Arc<V>> {
        let shard = read(self.shard(key));
        let entry = shard.get(key)?;
        // The clock moves on inserts only, and an entry used since the last one is not
        // written again: on the hottest documents, that every core requests, a hit then
        // writes no shared memory but the reference counts.
        let now = self.clock.load(Ordering::Relaxed);
        if entry.last_used.load(Ordering::Relaxed) != now {
            entry.last_used.store(now, Ordering::Relaxed);
        }
        Some(entry.value.clone())
    }

    /// Keeps `value` under `key` (unless the budget is zero) and returns it shared.
    fn insert(&self, key: String, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if self.budget == 0 {
            return value;
        }
        let weight = value.weight();
        let entry = Entry {
            value: value.clone(),
            last_used: AtomicU64::new(self.tick()),
        };
        let old = write(self.shard(&key)).insert(key, entry);
        self.used.fetch_add(weight, Ordering::Relaxed);
        if let Some(old) = old {
            self.used.fetch_sub(old.value.weight(), Ordering::Relaxed);
        }
        if self.used.load(Ordering::Relaxed) > self.budget {
            self.evict();
        }
        value
    }

    /// Removes the least recently used entries until 90% of the budget is used.
    fn evict(&self) {
        let mut all: Vec<(u64, usize, String)> = Vec::new();
        for (i, shard) in self.shards.iter().enumerate() {
            for (key, entry) in read(shard).iter() {
                all.push((entry.last_used.load(Ordering::Relaxed), i, key.clone()));
            }
        }
        all.sort_unstable_by_key(|(used, _, _)| *used);
        let target = self.budget / 10 * 9;
        for (_, shard, key) in all {
            if self.used.load(Ordering::Relaxed) <= target {
                break;
            }
            if let Some(entry) = write(&self.shards[shard]).remove(&key) {
                self.used.fetch_sub(entry.value.weight(), Ordering::Relaxed);
            }
        }
    }

    fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).len()).sum()
    }
}

/// Rendered documents.
#[derive(Debug)]
pub struct DocCache {
    lru: Lru<CachedDoc>,
}

impl Default for DocCache {
    fn default() -> Self {
        DocCache::new(DEFAULT_BUDGET_BYTES)
    }
}

impl DocCache {
    /// A cache holding about `budget` bytes of documents (0: cache nothing).
    pub fn new(budget: usize) -> DocCache {
        DocCache {
            lru: Lru::new(budget),
        }
    }

    /// The document under `key` if it was rendered at `stamp`.
    pub fn get(&self, key: &str, stamp: u64) -> Option<Arc<CachedDoc>> {
        self.lru.get(key).filter(|doc| doc.stamp == stamp)
    }

    /// Caches a document (replacing an older one under the same key) and returns it as
    /// cached: with its identity body only if `identity` (a client asked for it), since gzip
    /// is what NuGet clients take and the identity body is several times larger.
    pub fn insert(&self, key: String, doc: CachedDoc, identity: bool) -> Arc<CachedDoc> {
        let doc = if identity {
            doc.with_identity()
        } else {
            doc.compressed_only()
        };
        self.lru.insert(key, doc)
    }

    /// Bytes of documents held.
    pub fn used_bytes(&self) -> usize {
        self.lru.used_bytes()
    }

    /// Number of documents held.
    pub fn len(&self) -> usize {
        self.lru.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Small package files (`.nupkg`, `.nuspec`, icon, readme, license), keyed by the push event
/// of their version and the file: a version's files never change, and a version pushed again
/// after a hard delete has another push event, so entries never go stale.
#[derive(Debug)]
pub struct FileCache {
    lru: Lru<Bytes>,
}

impl Default for FileCache {
    fn default() -> Self {
        FileCache::new(DEFAULT_FILE_BUDGET_BYTES)
    }
}

impl FileCache {
    pub fn new(budget: usize) -> FileCache {
        FileCache {
            lru: Lru::new(budget),
        }
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.lru.get(key).map(|b| Bytes::clone(&b))
    }

    pub fn insert(&self, key: String, bytes: Bytes) {
        self.lru.insert(key, bytes);
    }
}

/// A cache key: the document kind and its arguments, separated by a byte no URL contains.
pub fn key(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_served_only_at_their_stamp() {
        let cache = DocCache::default();
        cache.insert("k".into(), CachedDoc::new(7, b"{\"a\":1}".to_vec()), false);
        assert!(cache.get("k", 8).is_none(), "the package changed since");
        let doc = cache.get("k", 7).unwrap();
        assert!(!doc.has_identity(), "kept compressed only");
        assert_eq!(&doc.identity()[..], b"{\"a\":1}", "made back from gzip");
        assert!(cache.get("other", 7).is_none());
        cache.insert("k".into(), CachedDoc::new(8, b"{\"a\":2}".to_vec()), true);
        let doc = cache.get("k", 8).unwrap();
        assert!(doc.has_identity(), "kept as asked");
        assert_eq!(&doc.identity()[..], b"{\"a\":2}");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn etags_differ_per_representation_and_follow_content() {
        let a = CachedDoc::new(1, b"same".to_vec());
        let b = CachedDoc::new(2, b"same".to_vec());
        let c = CachedDoc::new(2, b"other".to_vec());
        assert_eq!(a.etag, b.etag, "same bytes, same validator");
        assert_ne!(a.etag, c.etag);
        assert_ne!(a.etag, a.etag_gzip);
        assert!(a.etag_gzip.to_str().unwrap().ends_with("-gz\""));
    }

    #[test]
    fn the_budget_evicts_least_recently_used() {
        let doc = |n: u8| CachedDoc::new(0, vec![n; 1000]);
        let one = doc(0).compressed_only().weight();
        let cache = DocCache::new(one * 10);
        for n in 0..10u8 {
            cache.insert(format!("k{n}"), doc(n), false);
        }
        assert!(
            cache.get("k0", 0).is_some(),
            "touch k0: now the most recent"
        );
        cache.insert("k10".into(), doc(10), false);
        assert!(cache.used_bytes() <= one * 10);
        assert!(cache.get("k0", 0).is_some());
        assert!(cache.get("k1", 0).is_none(), "the least recently used went");
        assert!(cache.get("k10", 0).is_some());
        let none = DocCache::new(0);
        none.insert("k".into(), doc(1), false);
        assert!(none.is_empty());
    }

    #[test]
    fn files_are_kept_within_their_budget() {
        let files = FileCache::new(3 * (1000 + ENTRY_OVERHEAD));
        for n in 0..5u8 {
            files.insert(format!("{n}/nupkg"), Bytes::from(vec![n; 1000]));
        }
        assert!(files.get("0/nupkg").is_none());
        assert_eq!(files.get("4/nupkg").unwrap()[0], 4);
        assert!(files.lru.used_bytes() <= 3 * (1000 + ENTRY_OVERHEAD));
    }
}
