//! `deletionPolicy: Purge`: delete every object under the feed's own storage prefix when the
//! feed is deleted, with the feed's own credentials.
//!
//! Three rules keep a purge from deleting what is not the feed's:
//! - it lists only under the feed's prefix, never a bucket's root (an empty prefix is refused);
//! - it refuses while another live feed's location equals, holds or lies inside this one (the
//!   caller passes every other feed it knows, from the cache and from a fresh LIST);
//! - it runs only with the credentials Secret the spec names, never with the operator's own
//!   identity: object_store is given explicit options only, and a feed without a Secret
//!   (workload identity) is refused, since the operator's pod identity must not reach a
//!   tenant's bucket.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::consts::{
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AZURE_STORAGE_ACCOUNT_KEY,
    FINALIZER_PURGE, GCS_CREDENTIALS_KEY,
};
use crate::reconcile::location::{self, Holder, Location, Store};
use crate::reconcile::validate::ValidatedFeed;

/// Why the data was not purged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage is a volume (validation refuses Purge for it).
    #[error(
        "{0} is a volume: its data goes with the PersistentVolumeClaim; remove the finalizer {FINALIZER_PURGE}"
    )]
    NotObjectStorage(String),
    /// The location has no prefix, so a purge would empty the whole bucket.
    #[error(
        "{0} has no prefix, and the operator never empties a whole bucket; delete the data by hand and remove the finalizer {FINALIZER_PURGE}"
    )]
    NoPrefix(String),
    /// Another live feed stores its data at, above or below this location.
    #[error(
        "NuGetFeed {other} stores its data at {other_location}, which overlaps {location}; a purge would delete it. Delete or move that feed first, or remove the finalizer {FINALIZER_PURGE} to keep the data"
    )]
    InUse {
        location: String,
        other: String,
        other_location: String,
    },
    /// The spec names no credentials Secret (workload identity).
    #[error(
        "the spec names no storage credentials Secret, and the operator never uses its own identity for a tenant's storage. Add spec.storage.*.credentialsSecret, or remove the finalizer {FINALIZER_PURGE} to keep the data (delete it by hand if it must go)"
    )]
    NoCredentials,
    /// The credentials Secret lacks a key the backend needs.
    #[error(
        "storage credentials Secret `{secret}` has no key `{key}`; add it so the purge can run"
    )]
    MissingCredential { secret: String, key: String },
    /// The credentials Secret could not be read.
    #[error("cannot read credentials Secret {name}: {source}")]
    Credentials {
        name: String,
        #[source]
        source: kube::Error,
    },
    /// The storage URL or options were refused by object_store.
    #[error("cannot open storage {url}: {message}")]
    Open { url: String, message: String },
    /// Listing or deleting objects failed.
    #[error("cannot delete objects under {url}: {source}")]
    Delete {
        url: String,
        #[source]
        source: object_store::Error,
    },
}

impl Error {
    /// Whether the operator refuses to purge (a condition and a Warning, re-checked slowly)
    /// rather than failing to (an error, retried with backoff).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::NotObjectStorage(_)
                | Error::NoPrefix(_)
                | Error::InUse { .. }
                | Error::NoCredentials
                | Error::MissingCredential { .. }
        )
    }
}

/// The credentials a backend needs from the Secret, as (Secret key, object_store option,
/// required).
fn credential_options(store: &Store) -> &'static [(&'static str, &'static str, bool)] {
    match store {
        Store::S3 { .. } => &[
            (AWS_ACCESS_KEY_ID, "aws_access_key_id", true),
            (AWS_SECRET_ACCESS_KEY, "aws_secret_access_key", true),
            (AWS_SESSION_TOKEN, "aws_session_token", false),
        ],
        Store::Azure { .. } => &[(AZURE_STORAGE_ACCOUNT_KEY, "azure_storage_account_key", true)],
        Store::Gcs { .. } => &[(GCS_CREDENTIALS_KEY, "google_service_account_key", true)],
        Store::Volume { .. } => &[],
    }
}

/// Deletes everything under the feed's prefix, unless one of `others` (every other feed the
/// operator knows) still uses part of it; returns how many objects went.
pub async fn purge(
    client: &Client,
    feed: &ValidatedFeed,
    others: &[Holder],
) -> Result<usize, Error> {
    let url = &feed.storage.url;
    let Some(mine) = Location::of(&feed.feed) else {
        return Err(Error::Open {
            url: url.clone(),
            message: "the spec names no single storage backend".to_owned(),
        });
    };
    if matches!(mine.store, Store::Volume { .. }) {
        return Err(Error::NotObjectStorage(mine.to_string()));
    }
    if mine.prefix.is_empty() {
        return Err(Error::NoPrefix(mine.to_string()));
    }
    if let Some(other) = location::live_overlap(&mine, others) {
        return Err(Error::InUse {
            location: mine.to_string(),
            other: other.seniority.feed(),
            other_location: other.location.to_string(),
        });
    }
    let secret = credentials_secret(feed).ok_or(Error::NoCredentials)?;
    let api: Api<Secret> = Api::namespaced(client.clone(), &feed.namespace);
    let s = api
        .get(&secret)
        .await
        .map_err(|source| Error::Credentials {
            name: secret.clone(),
            source,
        })?;
    let mut options = feed.storage.options.clone();
    for (key, option, required) in credential_options(&mine.store) {
        let value = s
            .data
            .as_ref()
            .and_then(|d| d.get(*key))
            .and_then(|v| String::from_utf8(v.0.clone()).ok());
        match value {
            Some(v) => {
                options.insert((*option).to_owned(), v);
            }
            None if *required => {
                return Err(Error::MissingCredential {
                    secret,
                    key: (*key).to_owned(),
                });
            }
            None => {}
        }
    }
    let parsed = url::Url::parse(url).map_err(|e| Error::Open {
        url: url.clone(),
        message: e.to_string(),
    })?;
    // parse_url_opts starts from an empty builder (never `from_env`), so with the explicit
    // credentials above no environment variable or instance metadata of the operator's pod
    // is consulted.
    let (store, prefix) =
        object_store::parse_url_opts(&parsed, options).map_err(|e| Error::Open {
            url: url.clone(),
            message: e.to_string(),
        })?;
    if prefix.as_ref().is_empty() {
        return Err(Error::NoPrefix(mine.to_string()));
    }
    let locations = store.list(Some(&prefix)).map_ok(|m| m.location).boxed();
    let deleted: Vec<_> = store
        .delete_stream(locations)
        .try_collect()
        .await
        .map_err(|source| Error::Delete {
            url: url.clone(),
            source,
        })?;
    Ok(deleted.len())
}

fn credentials_secret(feed: &ValidatedFeed) -> Option<String> {
    let s = &feed.feed.spec.storage;
    s.s3.as_ref()
        .and_then(|b| b.credentials_secret.clone())
        .or_else(|| s.azure.as_ref().and_then(|b| b.credentials_secret.clone()))
        .or_else(|| s.gcs.as_ref().and_then(|b| b.credentials_secret.clone()))
}
