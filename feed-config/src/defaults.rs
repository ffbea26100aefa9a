//! Defaults of the config file's limits: what the feed server uses when a field is absent, and
//! what the operator renders when the NuGetFeed leaves it open.

/// 250 MiB, nuget.org's limit (PUB-8).
pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 250 * 1024 * 1024;
/// Replicas look for each other's changes this often (DESIGN invariant 4: converge within 2 s).
pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 1000;
/// Time a client has to send its request headers (slow-loris protection).
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 20_000;
/// Longest pause in a package upload before it is cut with 408.
pub const DEFAULT_UPLOAD_IDLE_TIMEOUT_MS: u64 = 30_000;
