//! Step 1: read what the spec refers to (the storage and upstream credentials Secrets), what the operator
//! generated earlier (the plaintext API-key and read-token Secrets), the routes and storage
//! locations of the other feeds (for the clash checks), and, for a feed with a `kubernetes`
//! trusted publisher, the cluster's ServiceAccount issuer and keys ([`cluster_keys`]). Nothing
//! is judged here; `validate` does that.
//!
//! The generated Secrets come from the controller's cache ([`Cache`]); only the tenant's
//! credentials Secrets, which the operator does not own and cannot watch by label, are read
//! from the apiserver. A public feed has no read-token Secret, so none is looked up.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, Resource, ResourceExt};
use sha2::{Digest, Sha256};

use crate::crd::{NuGetFeed, ReadMode};
use crate::reconcile::cache::{self, Cache};
use crate::reconcile::cluster_keys::{self, ClusterKeys};
use crate::reconcile::location::{self, Holder};
use crate::reconcile::names;
use crate::settings::Settings;

/// Why the referenced objects could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cache covers the feed's namespace.
    #[error(transparent)]
    Cache(#[from] cache::Error),
    /// The apiserver refused or failed a read of a Secret.
    #[error("cannot read Secret {name}: {source}")]
    ReadSecret {
        name: String,
        #[source]
        source: kube::Error,
    },
    /// The cluster's issuer or keys, which a `kubernetes` trusted publisher needs.
    #[error(transparent)]
    ClusterKeys(#[from] cluster_keys::Error),
}

/// A Secret the spec refers to, by the keys it has. Its values are hashed, never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    pub name: String,
    pub keys: BTreeSet<String>,
    /// SHA-256 over the Secret's data; part of the pod-template hash, so rotated storage
    /// credentials roll the pods.
    pub data_hash: String,
}

/// The outcome of looking up a referenced object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Lookup {
    /// The spec refers to nothing.
    #[default]
    NotReferenced,
    /// The object exists.
    Found(SecretSummary),
    /// The object does not exist (yet).
    Missing(String),
    /// No cluster to ask (`nuget-operator render`).
    Unchecked(String),
}

/// A Secret of generated credentials as it is in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeneratedSecret {
    /// Entry name to plaintext value.
    pub entries: BTreeMap<String, String>,
    /// For the optimistic-concurrency precondition of the patch that adds entries.
    pub resource_version: Option<String>,
    /// Whether this feed controls the Secret (a tenant's own Secret of the same name is never
    /// touched).
    pub controlled: bool,
}

/// Where another feed is served, for the clash check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub namespace: String,
    pub name: String,
    pub host: Option<String>,
    pub path_prefix: String,
    /// `metadata.creationTimestamp` in RFC 3339; the older feed keeps a contested prefix.
    pub created: Option<String>,
}

/// Everything `validate` needs besides the feed itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dereferenced {
    pub credentials: Lookup,
    /// The Secrets named by `spec.upstreams[].credentials.secretRef`, by name (each read once).
    pub upstream_secrets: BTreeMap<String, Lookup>,
    pub api_keys: Option<GeneratedSecret>,
    pub read_tokens: Option<GeneratedSecret>,
    pub routes: Vec<Route>,
    /// Where the other feeds store their data, for the storage clash check.
    pub locations: Vec<Holder>,
    /// The cluster's issuer and keys; read only when a trusted publisher is `kubernetes`.
    pub cluster_keys: Option<ClusterKeys>,
}

/// Where `dereference` reads from: the client, the controller's caches and the platform
/// settings.
pub struct Sources<'a> {
    pub client: &'a Client,
    pub cache: &'a Cache,
    pub cluster_keys: &'a cluster_keys::Cache,
    pub settings: &'a Settings,
}

/// Reads the referenced Secrets of `feed`; `others` are the feeds in the controller's cache.
pub async fn dereference(
    sources: &Sources<'_>,
    feed: &NuGetFeed,
    others: &[Arc<NuGetFeed>],
) -> Result<Dereferenced, Error> {
    let &Sources {
        client,
        cache,
        cluster_keys,
        settings,
    } = sources;
    let namespace = feed.namespace().unwrap_or_default();
    let stores = cache.stores(&namespace).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let credentials = match credentials_secret_name(feed) {
        None => Lookup::NotReferenced,
        Some(name) => lookup(&secrets, name).await?,
    };
    let mut upstream_secrets = BTreeMap::new();
    for name in upstream_secret_names(feed) {
        upstream_secrets.insert(name.clone(), lookup(&secrets, name).await?);
    }
    // Cached; what the operator wrote last while the cache has not shown it yet, so a key
    // just generated is never generated again.
    let generated_secret = |name: String| {
        cache
            .live::<Secret>(&stores, &namespace, &name)
            .map(|s| generated(feed, &s))
    };
    let api_keys = generated_secret(names::api_keys_secret(feed));
    let read_tokens = match feed.spec.read_access.mode {
        ReadMode::Public => None,
        ReadMode::Token => generated_secret(names::read_tokens_secret(feed)),
    };
    Ok(Dereferenced {
        credentials,
        upstream_secrets,
        api_keys,
        read_tokens,
        routes: routes(feed, others, settings),
        locations: location::holders(feed, others),
        cluster_keys: match needs_cluster_keys(feed) {
            true => Some(cluster_keys.get(client).await?),
            false => None,
        },
    })
}

/// Whether a trusted publisher of `feed` is one of this cluster's ServiceAccounts.
pub fn needs_cluster_keys(feed: &NuGetFeed) -> bool {
    feed.spec
        .trusted_publishers
        .iter()
        .any(|p| p.kubernetes.is_some())
}

/// What `render` knows without a cluster: references cannot be checked and nothing was
/// generated before.
pub fn offline(feed: &NuGetFeed) -> Dereferenced {
    Dereferenced {
        credentials: match credentials_secret_name(feed) {
            Some(name) => Lookup::Unchecked(name),
            None => Lookup::NotReferenced,
        },
        upstream_secrets: upstream_secret_names(feed)
            .into_iter()
            .map(|name| (name.clone(), Lookup::Unchecked(name)))
            .collect(),
        cluster_keys: needs_cluster_keys(feed).then(ClusterKeys::offline),
        ..Dereferenced::default()
    }
}

/// The routes of every feed in `others` except `feed` itself.
pub fn routes(feed: &NuGetFeed, others: &[Arc<NuGetFeed>], settings: &Settings) -> Vec<Route> {
    others
        .iter()
        .filter(|o| o.meta().uid != feed.meta().uid || o.meta().uid.is_none())
        .filter(|o| !(o.namespace() == feed.namespace() && o.name_any() == feed.name_any()))
        .filter(|o| o.meta().deletion_timestamp.is_none())
        .map(|o| Route {
            namespace: o.namespace().unwrap_or_default(),
            name: o.name_any(),
            host: names::host(o, settings),
            path_prefix: names::path_prefix(o),
            created: o
                .meta()
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string()),
        })
        .collect()
}

fn credentials_secret_name(feed: &NuGetFeed) -> Option<String> {
    let s = &feed.spec.storage;
    s.s3.as_ref()
        .and_then(|b| b.credentials_secret.clone())
        .or_else(|| s.azure.as_ref().and_then(|b| b.credentials_secret.clone()))
        .or_else(|| s.gcs.as_ref().and_then(|b| b.credentials_secret.clone()))
}

/// Reads the tenant's Secret `name`, keeping only its key names and a hash of its data.
async fn lookup(secrets: &Api<Secret>, name: String) -> Result<Lookup, Error> {
    match secrets.get_opt(&name).await {
        Ok(Some(secret)) => Ok(Lookup::Found(summarize(&secret))),
        Ok(None) => Ok(Lookup::Missing(name)),
        Err(source) => Err(Error::ReadSecret { name, source }),
    }
}

/// The distinct Secrets the upstreams' credentials name.
fn upstream_secret_names(feed: &NuGetFeed) -> BTreeSet<String> {
    feed.spec
        .upstreams
        .iter()
        .filter_map(|u| u.credentials.as_ref())
        .map(|c| c.secret_ref.name.clone())
        .collect()
}

fn summarize(secret: &Secret) -> SecretSummary {
    let mut hasher = Sha256::new();
    let mut keys = BTreeSet::new();
    for (k, v) in secret.data.iter().flatten() {
        keys.insert(k.clone());
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(&v.0);
        hasher.update([0]);
    }
    for (k, v) in secret.string_data.iter().flatten() {
        keys.insert(k.clone());
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(v.as_bytes());
        hasher.update([0]);
    }
    SecretSummary {
        name: secret.name_any(),
        keys,
        data_hash: hex::encode(hasher.finalize()),
    }
}

fn generated(feed: &NuGetFeed, secret: &Secret) -> GeneratedSecret {
    let entries = secret
        .data
        .iter()
        .flatten()
        .filter_map(|(k, v)| {
            String::from_utf8(v.0.clone())
                .ok()
                .map(|s| (k.clone(), s.trim().to_owned()))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let controlled = secret
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == feed.meta().uid.as_ref());
    GeneratedSecret {
        entries,
        resource_version: secret.resource_version(),
        controlled,
    }
}
