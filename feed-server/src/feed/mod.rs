//! The feed: its state in memory and the operations that change it (push, unlist, relist,
//! delete, deprecate).
//!
//! State is the fold of the event log in storage ([`event`]); every change appends one event
//! create-only, so replicas sharing a bucket agree on one order, and each replica tails the log
//! to converge ([`Feed::spawn_sync`]). A version becomes visible only through its event,
//! which is appended after all its blobs are stored (DESIGN invariant 3).
//!
//! Data apart from operations, so that no two files import each other:
//! - Data files hold values and their encoding, never `impl Feed`: [`event`], [`record`],
//!   [`deprecation`], [`catalog`] (its lines), [`state`] (the fold of events), [`search`] (the
//!   index), [`downloads`], the snapshot's format (`snapshot/codec.rs`) and the errors
//!   (`error.rs`).
//! - [`Feed`] itself and what its operations share is `handle.rs`; it imports data files only.
//! - Each operation is an `impl Feed` in the file named after it: `open.rs` (open and keep in
//!   sync), `log.rs` (read and append events), `push.rs` (push, symbols, unlist, relist,
//!   delete), `deprecate.rs`, `leaf.rs` (a version as of one of its events), [`details`] (push
//!   facts read back), `files.rs` (stored files for the views), [`snapshot`] (writing and
//!   loading snapshots). [`fsck`], [`gc`] and [`lock`] work on the storage directly.

pub mod catalog;
mod deprecate;
pub mod deprecation;
pub mod details;
pub mod downloads;
mod error;
pub mod event;
mod files;
pub mod fsck;
pub mod gc;
mod handle;
mod leaf;
pub mod lock;
mod log;
mod open;
mod push;
pub mod record;
pub mod search;
pub mod snapshot;
pub mod state;
pub mod upstream_cache;

pub use error::{Error, Result, SnapshotError};
pub use handle::{Feed, Options};
pub use push::{COMMIT_DEADLINE, Prepared, PreparedSymbols};
