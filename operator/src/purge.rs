//! `deletionPolicy: Purge`: delete every object under the feed's storage prefix when the feed
//! is deleted. Runs from the finalizer, with the same credentials the feed server uses.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::consts::{
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AZURE_STORAGE_ACCOUNT_KEY,
    GCS_CREDENTIALS_KEY,
};
use crate::reconcile::validate::ValidatedFeed;

/// Why the data could not be purged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage is a volume (validation refuses Purge for it; kept for completeness).
    #[error("storage {0} cannot be purged by the operator")]
    NotObjectStorage(String),
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

/// Deletes everything under the feed's prefix; returns how many objects went.
pub async fn purge(client: &Client, feed: &ValidatedFeed) -> Result<usize, Error> {
    let url = &feed.storage.url;
    if feed.storage.claim.is_some() {
        return Err(Error::NotObjectStorage(url.clone()));
    }
    let mut options = feed.storage.options.clone();
    if let Some(secret) = credentials_secret(feed) {
        let api: Api<Secret> = Api::namespaced(client.clone(), &feed.namespace);
        let s = api
            .get(&secret)
            .await
            .map_err(|source| Error::Credentials {
                name: secret.clone(),
                source,
            })?;
        let get = |k: &str| {
            s.data
                .as_ref()
                .and_then(|d| d.get(k))
                .and_then(|v| String::from_utf8(v.0.clone()).ok())
        };
        for (key, option) in [
            (AWS_ACCESS_KEY_ID, "aws_access_key_id"),
            (AWS_SECRET_ACCESS_KEY, "aws_secret_access_key"),
            (AWS_SESSION_TOKEN, "aws_session_token"),
            (AZURE_STORAGE_ACCOUNT_KEY, "azure_storage_account_key"),
            (GCS_CREDENTIALS_KEY, "google_service_account_key"),
        ] {
            if let Some(v) = get(key) {
                options.insert(option.to_owned(), v);
            }
        }
    }
    let parsed = url::Url::parse(url).map_err(|e| Error::Open {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let (store, prefix) =
        object_store::parse_url_opts(&parsed, options).map_err(|e| Error::Open {
            url: url.clone(),
            message: e.to_string(),
        })?;
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
