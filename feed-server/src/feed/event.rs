//! The feed's append-only event log: one object per change, numbered from 1 without gaps.
//!
//! The log is the feed's source of truth and its compare-and-swap: an event `n` is written
//! create-only, so of two replicas appending at once exactly one gets `n` and the other re-reads,
//! re-validates and tries `n + 1` (DESIGN invariants 1 and 2). Replicas converge by tailing it
//! (invariant 4), and the Catalog resource is a view of it (PUB-13).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deprecation::Deprecation;
use crate::package::{NuGetVersion, Nuspec, PackageId};

/// One change to one package version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub id: PackageId,
    pub version: NuGetVersion,
    #[serde(flatten)]
    pub change: Change,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A new version, with everything needed to serve it.
    Push(Box<Pushed>),
    /// Hidden from search and from restores by range; still downloadable.
    Unlist,
    /// Shown again.
    Relist,
    /// Removed for good (hard delete mode).
    Delete,
    /// Symbol files (portable PDBs from a .snupkg) for the version.
    Symbols { files: Vec<SymbolFile> },
    /// Marked deprecated (REG-10), replacing any earlier deprecation.
    Deprecate(Box<Deprecation>),
    /// No longer deprecated.
    Undeprecate,
}

/// The facts of a pushed package that the views need, taken at push time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pushed {
    pub nuspec: Nuspec,
    /// Size of the .nupkg in bytes.
    pub size: u64,
    /// Base64 SHA-512 of the .nupkg (catalog `packageHash`).
    pub sha512: String,
    /// Which embedded files were extracted and stored.
    pub files: EmbeddedFiles,
}

/// Push facts by the sequence number of their push event (what views read back through
/// `Feed::details`).
pub type Details = HashMap<u64, Arc<Pushed>>;

/// Embedded files extracted from the package and stored beside it (REG-15).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddedFiles {
    #[serde(default)]
    pub icon: bool,
    #[serde(default)]
    pub readme: bool,
    #[serde(default)]
    pub license: bool,
}

/// A portable PDB stored for the symbol server (SYM-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolFile {
    /// Lower-cased file name, e.g. `contoso.lib.pdb`.
    pub file: String,
    /// SSQP key: 32 hex digits of the PDB GUID followed by `ffffffff`.
    pub key: String,
}

/// The kind of a change, named as the log names it (`op`): all the catalog keeps of a change
/// besides its time, package and version ([`super::catalog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Push,
    Unlist,
    Relist,
    Delete,
    Symbols,
    Deprecate,
    Undeprecate,
}

impl Change {
    pub fn op(&self) -> Op {
        match self {
            Change::Push(_) => Op::Push,
            Change::Unlist => Op::Unlist,
            Change::Relist => Op::Relist,
            Change::Delete => Op::Delete,
            Change::Symbols { .. } => Op::Symbols,
            Change::Deprecate(_) => Op::Deprecate,
            Change::Undeprecate => Op::Undeprecate,
        }
    }
}

impl Op {
    /// The catalog's name for the change (CAT-2, PUB-13): a delete is a `PackageDelete`,
    /// every other change a `PackageDetails`.
    pub fn catalog_type(self) -> &'static str {
        match self {
            Op::Delete => "nuget:PackageDelete",
            _ => "nuget:PackageDetails",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_named_as_the_log_names_changes() {
        // Snapshots store an event's op by this name: it must stay the log's.
        let xml = b"<package><metadata><id>A</id><version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>";
        let pushed = Pushed {
            nuspec: crate::package::nuspec::parse(xml, 1 << 20).unwrap(),
            size: 1,
            sha512: String::new(),
            files: EmbeddedFiles::default(),
        };
        let legacy = Deprecation::from_json(br#"{"reasons": ["Legacy"]}"#).unwrap();
        let changes = [
            Change::Push(Box::new(pushed)),
            Change::Deprecate(Box::new(legacy)),
            Change::Unlist,
            Change::Relist,
            Change::Delete,
            Change::Symbols { files: Vec::new() },
            Change::Undeprecate,
        ];
        for change in changes {
            let event = Event {
                seq: 1,
                time: DateTime::UNIX_EPOCH,
                id: PackageId::parse("A").unwrap(),
                version: NuGetVersion::parse("1.0.0").unwrap(),
                change,
            };
            let logged = serde_json::to_value(&event).unwrap();
            let op = serde_json::to_value(event.change.op()).unwrap();
            assert_eq!(logged["op"], op);
        }
    }
}
