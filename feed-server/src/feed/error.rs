//! What can go wrong in the feed: [`Error`] for every operation, [`SnapshotError`] for a
//! snapshot's encoding, and the constructors of the errors several operations share. Nothing
//! here knows about HTTP (`http::error` maps these to statuses).

use crate::package::{self, NuGetVersion, PackageId};
use crate::storage;

/// Why a feed operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The package (or its nuspec) is malformed.
    #[error(transparent)]
    Invalid(#[from] package::Error),
    /// The package is well-formed but cannot be accepted as it is.
    #[error("{0}")]
    Rejected(String),
    /// This id and version is already in the feed (PUB-4), or being pushed right now.
    #[error("package {id} {version} already exists")]
    AlreadyExists { id: String, version: String },
    /// This id and version was deleted for good: clients may have cached its bytes, so it is
    /// never pushed again unless the feed allows reuse (`allow_deleted_version_reuse`).
    #[error("package {id} {version} was deleted and its version cannot be reused")]
    Deleted { id: String, version: String },
    /// A deprecation document is malformed or names invalid values (REG-10); the message says
    /// what is wrong.
    #[error("{0}")]
    InvalidDeprecation(String),
    /// No such package version.
    #[error("package {id} {version} not found")]
    NotFound { id: String, version: String },
    /// The object store failed; nothing visible changed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// The version is being changed by someone else (a hard delete removing its files, a
    /// cleanup), or storing took too long to publish safely; nothing changed: retry shortly.
    #[error("{0}")]
    Busy(String),
    /// An event in the log cannot be read back.
    #[error("event log entry {seq} is corrupt: {message}")]
    CorruptLog { seq: u64, message: String },
    /// A snapshot of the state could not be written (reading one never fails: a bad one is
    /// ignored and the log replayed).
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot is not valid gzip JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("snapshot cannot be written: {0}")]
    Io(#[from] std::io::Error),
    /// The blocking task that encodes or decodes it died.
    #[error("snapshot task failed: {0}")]
    Task(String),
}

/// The version is being changed by someone else: retry shortly (503).
pub(super) fn busy(id: &PackageId, version: &NuGetVersion) -> Error {
    Error::Busy(format!(
        "package {id} {} is being changed by another request (a delete, a push or a cleanup): try again shortly",
        version.to_full()
    ))
}

/// The version is already in the feed (PUB-4: 409).
pub(super) fn already_exists(id: &PackageId, version: &NuGetVersion) -> Error {
    Error::AlreadyExists {
        id: id.to_string(),
        version: version.to_full(),
    }
}

/// The version was hard-deleted and the feed does not allow its reuse (409).
pub(super) fn deleted(id: &PackageId, version: &NuGetVersion) -> Error {
    Error::Deleted {
        id: id.to_string(),
        version: version.to_full(),
    }
}

/// The feed has no such version (404).
pub(super) fn not_found(id: &PackageId, version: &NuGetVersion) -> Error {
    Error::NotFound {
        id: id.to_string(),
        version: version.to_full(),
    }
}
