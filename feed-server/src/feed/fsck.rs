//! `nuget-feed-server fsck`: checks that a stored feed is consistent.
//!
//! The event log is the source of truth (see [`super::event`]); fsck reads it from storage, folds
//! it into the versions it makes visible ([`LogView`], a second implementation of the fold,
//! independent of the serving state on purpose), lists every stored package and symbol object,
//! and compares:
//! - [`Problem`]s break the feed: an event that cannot be read or a gap in the log (replicas stop
//!   there, so every later change is invisible), a visible version with a missing file, or a
//!   .nupkg whose size (or, with `verify_hashes`, SHA-512) differs from what its push recorded.
//! - [`Orphan`]s are harmless (DESIGN invariant 3): objects no event references, left by a push
//!   that died before its event, by a hard delete that could not finish, or belonging to a push
//!   in progress right now (those are young). `gc` removes the old ones.
//!
//! It also sums up the upstream package cache ([`super::upstream_cache`]): its size and how
//! long its least recently used package has been idle.
//!
//! fsck only reads, so it is safe on a live feed: a change made while it runs is caught up on
//! before anything is reported missing.

use std::collections::{HashMap, HashSet};
use std::fmt;

use base64::Engine;
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha512};

use super::event::{Change, EmbeddedFiles, Event, SymbolFile};
use super::upstream_cache::{self, CacheSummary};
use super::{Error, Result};
use crate::package::{NuGetVersion, PackageId};
use crate::storage::key::{self, EVENTS_PREFIX, PACKAGES_PREFIX, Stored};
use crate::storage::{self, Key, Meta, PackageFile, Storage};

/// Folder of the symbol server's PDBs, for listing.
const SYMBOLS_PREFIX: &str = "symbols";

/// A version the log makes visible, with what its files must be.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveVersion {
    pub id: PackageId,
    pub version: NuGetVersion,
    /// Size of the .nupkg, as pushed.
    pub size: u64,
    /// Base64 SHA-512 of the .nupkg, as pushed.
    pub sha512: String,
    pub files: EmbeddedFiles,
    /// Portable PDBs stored for it; a .snupkg is stored when there are any.
    pub symbols: Vec<SymbolFile>,
}

impl LiveVersion {
    /// Whether the version's views serve `file` (so it must exist and may not be collected).
    pub fn references(&self, file: PackageFile) -> bool {
        match file {
            PackageFile::Nupkg | PackageFile::Nuspec => true,
            PackageFile::Snupkg => !self.symbols.is_empty(),
            PackageFile::Icon => self.files.icon,
            PackageFile::Readme => self.files.readme,
            PackageFile::License => self.files.license,
        }
    }
}

/// The versions the event log makes visible, read straight from storage.
#[derive(Debug, Default)]
pub struct LogView {
    /// The last event applied.
    pub seq: u64,
    /// Keyed by lower-cased id and lower-cased normalized version (the storage folder names).
    versions: HashMap<(String, String), LiveVersion>,
    /// Set when the log cannot be read past `seq`: replicas stop there too.
    pub broken: Option<Problem>,
}

impl LogView {
    /// Reads the whole log: events 1, 2, ... until the first that is missing or unreadable.
    pub async fn read(storage: &Storage) -> Result<LogView> {
        let listed = storage.list(EVENTS_PREFIX).await?;
        let mut seqs: Vec<u64> = listed
            .iter()
            .filter_map(|m| key::event_seq(&m.path))
            .collect();
        seqs.sort_unstable();
        // Events 1..=n exist without a gap; anything after the first gap is unreachable.
        let contiguous = seqs
            .iter()
            .zip(1u64..)
            .take_while(|(seq, expected)| *seq == expected)
            .count() as u64;
        let mut view = LogView::default();
        let mut events = futures::stream::iter(1..=contiguous)
            .map(|seq| async move { (seq, storage.get(Key::Event(seq)).await) })
            .buffered(16);
        while let Some((seq, bytes)) = events.next().await {
            let bytes = match bytes {
                Ok(bytes) => bytes,
                // Deleted since the listing: stop, as a replica would.
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e.into()),
            };
            if !view.apply_bytes(seq, &bytes) {
                return Ok(view);
            }
        }
        drop(events);
        view.catch_up(storage).await?;
        if view.broken.is_none()
            && let Some(&last) = seqs.last()
            && last > view.seq
        {
            view.broken = Some(Problem::LogGap {
                seq: view.seq + 1,
                last,
            });
        }
        Ok(view)
    }

    /// Applies the events appended since the last read (by any replica).
    pub async fn catch_up(&mut self, storage: &Storage) -> Result<()> {
        while self.broken.is_none() {
            let seq = self.seq + 1;
            match storage.get(Key::Event(seq)).await {
                Ok(bytes) => {
                    self.apply_bytes(seq, &bytes);
                }
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Applies event `seq` from its stored bytes; `false` (and [`LogView::broken`] set) when
    /// they are not that event.
    fn apply_bytes(&mut self, seq: u64, bytes: &[u8]) -> bool {
        let event: Event = match serde_json::from_slice(bytes) {
            Ok(event) => event,
            Err(e) => {
                self.broken = Some(Problem::CorruptEvent {
                    seq,
                    message: e.to_string(),
                });
                return false;
            }
        };
        if event.seq != seq {
            self.broken = Some(Problem::CorruptEvent {
                seq,
                message: format!("it says it is event {}", event.seq),
            });
            return false;
        }
        self.apply(&event);
        true
    }

    /// The fold, as `state` does it: the first push of a version wins, a delete removes it,
    /// symbols accumulate.
    fn apply(&mut self, event: &Event) {
        self.seq = event.seq;
        let folder = (event.id.lower(), event.version.lower_normalized());
        match &event.change {
            Change::Push(pushed) => {
                self.versions.entry(folder).or_insert_with(|| LiveVersion {
                    id: event.id.clone(),
                    version: event.version.clone(),
                    size: pushed.size,
                    sha512: pushed.sha512.clone(),
                    files: pushed.files,
                    symbols: Vec::new(),
                });
            }
            Change::Symbols { files } => {
                if let Some(v) = self.versions.get_mut(&folder) {
                    for f in files {
                        if !v.symbols.contains(f) {
                            v.symbols.push(f.clone());
                        }
                    }
                }
            }
            Change::Delete => {
                self.versions.remove(&folder);
            }
            Change::Unlist | Change::Relist | Change::Deprecate(_) | Change::Undeprecate => {}
        }
    }

    /// The visible version stored in this folder, if any.
    pub fn version(&self, id: &PackageId, version: &NuGetVersion) -> Option<&LiveVersion> {
        self.versions.get(&(id.lower(), version.lower_normalized()))
    }

    pub fn versions(&self) -> impl Iterator<Item = &LiveVersion> {
        self.versions.values()
    }

    /// Symbol-server keys `(file, key)` of every PDB a visible version references.
    pub fn symbols(&self) -> HashSet<(String, String)> {
        self.versions
            .values()
            .flat_map(|v| v.symbols.iter())
            .map(|f| (f.file.clone(), f.key.clone()))
            .collect()
    }
}

/// Something that makes the feed serve less than its log promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Event `seq` is not a readable event: replicas stop there, later changes are invisible.
    CorruptEvent { seq: u64, message: String },
    /// Event `seq` is missing but events up to `last` exist: those are invisible.
    LogGap { seq: u64, last: u64 },
    /// A visible version lacks one of its files.
    MissingFile {
        id: String,
        version: String,
        path: String,
    },
    /// A .nupkg's size differs from the size its push recorded.
    WrongSize {
        id: String,
        version: String,
        path: String,
        expected: u64,
        actual: u64,
    },
    /// A .nupkg's SHA-512 differs from the hash its push recorded.
    WrongHash {
        id: String,
        version: String,
        path: String,
    },
    /// A portable PDB that a visible version references is missing.
    MissingSymbol { path: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::CorruptEvent { seq, message } => write!(
                f,
                "event {seq} is unreadable ({message}): replicas stop there, so every later change is invisible"
            ),
            Problem::LogGap { seq, last } => write!(
                f,
                "event {seq} is missing but events up to {last} exist: they are invisible"
            ),
            Problem::MissingFile { id, version, path } => {
                write!(f, "{id} {version} is in the feed but {path} is missing")
            }
            Problem::WrongSize {
                id,
                version,
                path,
                expected,
                actual,
            } => write!(
                f,
                "{id} {version}: {path} has {actual} bytes, its push recorded {expected}"
            ),
            Problem::WrongHash { id, version, path } => write!(
                f,
                "{id} {version}: {path} does not have the SHA-512 its push recorded"
            ),
            Problem::MissingSymbol { path } => {
                write!(f, "symbol file {path} is referenced but missing")
            }
        }
    }
}

/// A stored object that no visible version references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub path: String,
    pub size: u64,
    pub age_seconds: u64,
    /// `claim` (a .nupkg without event: a push that died, or one in progress if young),
    /// `file` (another file of a version that is not visible, or that it does not use),
    /// `lock` (a version lock generation), `symbol` (a PDB), `staging` (a local folder's
    /// temporary file of a write that was interrupted) or `unknown`.
    pub kind: &'static str,
}

impl fmt::Display for Orphan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {} bytes, {} s old)",
            self.path, self.kind, self.size, self.age_seconds
        )
    }
}

/// What [`fsck`] checks beyond the listing.
#[derive(Debug, Clone, Default)]
pub struct FsckOptions {
    /// Read every .nupkg and compare its SHA-512 with the one recorded at push.
    pub verify_hashes: bool,
}

/// What [`fsck`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FsckReport {
    /// Events read.
    pub events: u64,
    /// Visible versions.
    pub versions: usize,
    /// Objects under `packages/` and `symbols/`.
    pub objects: usize,
    pub problems: Vec<Problem>,
    pub orphans: Vec<Orphan>,
    /// The upstream package cache (never problems or orphans: `gc` expires it by idle time).
    pub upstream_cache: CacheSummary,
}

impl FsckReport {
    /// Whether the feed serves everything its log promises (orphans are allowed).
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every object under `packages/` and `symbols/`, by path.
pub(super) async fn list_blobs(storage: &Storage) -> Result<HashMap<String, Meta>> {
    let mut objects = HashMap::new();
    for prefix in [PACKAGES_PREFIX, SYMBOLS_PREFIX] {
        for meta in storage.list(prefix).await? {
            objects.insert(meta.path.to_string(), meta);
        }
    }
    Ok(objects)
}

/// Checks the feed in `storage` (see the module docs).
pub async fn fsck(storage: &Storage, options: &FsckOptions) -> Result<FsckReport> {
    let mut view = LogView::read(storage).await?;
    let objects = list_blobs(storage).await?;
    // Pushes that committed while we listed have all their files stored: include them.
    view.catch_up(storage).await?;
    let mut report = FsckReport {
        events: view.seq,
        objects: objects.len(),
        ..FsckReport::default()
    };
    report.problems.extend(view.broken.clone());

    let mut referenced: HashSet<String> = HashSet::new();
    let live: Vec<LiveVersion> = view.versions().cloned().collect();
    report.versions = live.len();
    for v in &live {
        for file in PackageFile::ALL {
            if !v.references(file) {
                continue;
            }
            let path = Key::Package {
                id: &v.id,
                version: &v.version,
                file,
            }
            .path()
            .to_string();
            referenced.insert(path.clone());
            let meta = match objects.get(&path) {
                Some(meta) => Some(meta.clone()),
                None => head(storage, &path).await?,
            };
            let Some(meta) = meta else {
                // Deleted by a hard delete since we read the log? Then it is not missing.
                view.catch_up(storage).await?;
                if view.version(&v.id, &v.version) == Some(v) {
                    report.problems.push(Problem::MissingFile {
                        id: v.id.to_string(),
                        version: v.version.to_full(),
                        path,
                    });
                }
                continue;
            };
            if file != PackageFile::Nupkg {
                continue;
            }
            if meta.size != v.size {
                report.problems.push(Problem::WrongSize {
                    id: v.id.to_string(),
                    version: v.version.to_full(),
                    path,
                    expected: v.size,
                    actual: meta.size,
                });
            } else if options.verify_hashes {
                let bytes = match storage.get_path(&meta.path).await {
                    Ok(bytes) => bytes,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e.into()),
                };
                let sha512 =
                    base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes));
                if sha512 != v.sha512 {
                    report.problems.push(Problem::WrongHash {
                        id: v.id.to_string(),
                        version: v.version.to_full(),
                        path,
                    });
                }
            }
        }
    }
    for (file, key) in view.symbols() {
        let path = Key::Symbol {
            file: &file,
            key: &key,
        }
        .path()
        .to_string();
        referenced.insert(path.clone());
        if !objects.contains_key(&path) && head(storage, &path).await?.is_none() {
            view.catch_up(storage).await?;
            if view.symbols().contains(&(file, key)) {
                report.problems.push(Problem::MissingSymbol { path });
            }
        }
    }

    let mut orphans: Vec<Orphan> = objects
        .iter()
        .filter(|(path, _)| !referenced.contains(*path))
        .map(|(path, meta)| Orphan {
            path: path.clone(),
            size: meta.size,
            age_seconds: storage::age(meta.last_modified).as_secs(),
            kind: match key::classify(&meta.path) {
                Stored::Package {
                    file: PackageFile::Nupkg,
                    ..
                } => "claim",
                Stored::Package { .. } => "file",
                Stored::Lock { .. } => "lock",
                Stored::Symbol { .. } => "symbol",
                Stored::Unknown => "unknown",
            },
        })
        .collect();
    for leftover in storage.local_leftovers().await? {
        orphans.push(Orphan {
            age_seconds: storage::age(leftover.last_modified).as_secs(),
            path: leftover.path,
            size: leftover.size,
            kind: "staging",
        });
    }
    orphans.sort_by(|a, b| a.path.cmp(&b.path));
    report.orphans = orphans;
    report.upstream_cache = upstream_cache::summarize(&upstream_cache::list(storage).await?);
    Ok(report)
}

/// The object at `path`, or `None` when there is none.
async fn head(storage: &Storage, path: &str) -> Result<Option<Meta>> {
    match storage.head_path(&path.into()).await {
        Ok(meta) => Ok(Some(meta)),
        Err(storage::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::Storage(e)),
    }
}
