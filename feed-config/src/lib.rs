//! The files the operator writes and the feed server reads, one Rust type per file format:
//! [`FileConfig`] (`config.yaml`), [`ApiKeysFile`] (the `api_keys_file`) and [`ReadTokensFile`]
//! (the `read_tokens_file`), with what they are made of ([`IdPattern`], [`KeyHash`], [`Scope`],
//! [`DeleteMode`], [`UpstreamConfig`], [`TrustedPublisher`]) and the defaults both sides share.
//!
//! Serde types and pure validation only: no IO. Callers read a file and hand its text to
//! `parse`, so both sides accept and refuse exactly the same files. The feed server resolves its
//! flags and environment over [`FileConfig`] and keeps the runtime key store; the operator builds
//! these types from a NuGetFeed and serializes them.

mod api_keys;
mod config_file;
mod defaults;
mod error;
mod id_pattern;
mod key_hash;
mod read_tokens;
mod trusted_publishers;
mod upstream;

pub use api_keys::{ApiKeyEntry, ApiKeysFile, Scope};
pub use config_file::{DeleteMode, FileConfig, LogFormat, StorageConfig};
pub use defaults::{
    DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_MAX_PACKAGE_BYTES, DEFAULT_SYNC_INTERVAL_MS,
    DEFAULT_UPLOAD_IDLE_TIMEOUT_MS,
};
pub use error::{Error, Result};
pub use id_pattern::IdPattern;
pub use key_hash::{KeyHash, MIN_SECRET_CHARS};
pub use read_tokens::{ReadToken, ReadTokensFile};
pub use trusted_publishers::{
    ClaimPattern, DEFAULT_MAX_TOKEN_AGE_SECONDS, DEFAULT_TEMPORARY_KEY_LIFETIME_SECONDS,
    GITHUB_ISSUER, GITLAB_ISSUER, GitHubShorthand, GitLabShorthand, JwksSource,
    KubernetesShorthand, MAX_TEMPORARY_KEY_LIFETIME_SECONDS, TrustedPublisher,
    validate_trusted_publishers,
};
pub use upstream::{
    CredentialScheme, DEFAULT_UPSTREAM_MAX_CONCURRENCY, DEFAULT_UPSTREAM_METADATA_TTL_SECONDS,
    DEFAULT_UPSTREAM_TIMEOUT_MS, DEFAULT_UPSTREAM_VULNERABILITY_REFRESH_SECONDS, UpstreamConfig,
    UpstreamCredentials, is_upstream_name, validate_upstreams,
};
