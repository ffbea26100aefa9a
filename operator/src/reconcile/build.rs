//! Step 3 (pure, no client): a [`ValidatedFeed`] becomes every child object, so
//! `nuget-operator render` prints exactly what `apply` would write.
//!
//! One file per child under `build/`. Each child carries the feed's labels, a controller owner
//! reference, and the [`ANNOTATION_APPLIED_HASH`] of its own manifest.

mod config_map;
mod deployment;
mod error;
mod ingress;
mod metadata;
mod network_policy;
mod pdb;
mod secret;
mod service;
mod service_account;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::consts::{ANNOTATION_APPLIED_HASH, CLUSTER_JWKS_FILE_KEY};
use crate::reconcile::validate::ValidatedFeed;

pub use error::Error;
// `config_map` names these as `super::{Error, meta}`.

/// Typestate: built, not yet applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared;

/// Every child of one feed. `S` is [`Prepared`] after `build` and
/// `apply::Applied` (with what the apiserver returned) after `apply`, so status can only be
/// computed from applied resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources<S> {
    pub service_account: ServiceAccount,
    /// Plaintext API keys, written only when entries are missing (see `apply`).
    pub api_keys: Secret,
    /// Plaintext read tokens (read access mode Token).
    pub read_tokens: Option<Secret>,
    /// The hashed key and token files the feed server mounts.
    pub auth: Secret,
    pub config_map: ConfigMap,
    pub deployment: Deployment,
    pub service: Service,
    pub ingress: Option<Ingress>,
    pub pdb: Option<PodDisruptionBudget>,
    pub network_policy: Option<NetworkPolicy>,
    pub state: S,
}

/// Builds every child of `feed`.
pub fn build(feed: &ValidatedFeed) -> Result<Resources<Prepared>, Error> {
    let config_map = config_map::build(feed)?;
    let auth = secret::build_auth(feed)?;
    let config_hash = config_hash(feed, &config_map, &auth);
    Ok(Resources {
        service_account: stamp(service_account::build(feed))?,
        api_keys: secret::build_plaintext(
            feed,
            &feed.api_key_secret,
            crate::consts::COMPONENT_API_KEYS,
        ),
        read_tokens: feed
            .read_tokens
            .as_ref()
            .map(|set| secret::build_plaintext(feed, set, crate::consts::COMPONENT_READ_TOKENS)),
        auth: stamp(auth)?,
        config_map: stamp(config_map)?,
        deployment: stamp(deployment::build(feed, &config_hash))?,
        service: stamp(service::build(feed))?,
        ingress: ingress::build(feed).map(stamp).transpose()?,
        pdb: pdb::build(feed).map(stamp).transpose()?,
        network_policy: network_policy::build(feed).map(stamp).transpose()?,
        state: Prepared,
    })
}

impl<S> Resources<S> {
    /// Every manifest in apply order, as YAML documents (what `nuget-operator render` prints).
    pub fn to_yaml(&self) -> Result<String, Error> {
        let mut docs: Vec<String> = Vec::new();
        let mut push = |what: &'static str, v: Result<String, serde_yaml_ng::Error>| {
            v.map(|s| docs.push(s)).map_err(|e| Error::Serialize {
                what,
                message: e.to_string(),
            })
        };
        push("ServiceAccount", to_yaml(&self.service_account))?;
        push("Secret", to_yaml(&self.api_keys))?;
        if let Some(s) = &self.read_tokens {
            push("Secret", to_yaml(s))?;
        }
        push("Secret", to_yaml(&self.auth))?;
        push("ConfigMap", to_yaml(&self.config_map))?;
        push("Deployment", to_yaml(&self.deployment))?;
        push("Service", to_yaml(&self.service))?;
        if let Some(i) = &self.ingress {
            push("Ingress", to_yaml(i))?;
        }
        if let Some(p) = &self.pdb {
            push("PodDisruptionBudget", to_yaml(p))?;
        }
        if let Some(n) = &self.network_policy {
            push("NetworkPolicy", to_yaml(n))?;
        }
        Ok(docs
            .iter()
            .map(|d| format!("---\n{d}"))
            .collect::<Vec<_>>()
            .join(""))
    }
}

/// Serializes with `apiVersion` and `kind` first, as `kubectl` prints.
fn to_yaml<K>(obj: &K) -> Result<String, serde_yaml_ng::Error>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let mut value =
        serde_json::to_value(obj).map_err(<serde_yaml_ng::Error as serde::ser::Error>::custom)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), K::api_version(&()).into());
        map.insert("kind".into(), K::kind(&()).into());
    }
    serde_yaml_ng::to_string(&value)
}

/// Adds [`ANNOTATION_APPLIED_HASH`]: the SHA-256 of the manifest without it.
fn stamp<K>(mut obj: K) -> Result<K, Error>
where
    K: Resource + Serialize,
{
    let json = serde_json::to_vec(&obj).map_err(|e| Error::Serialize {
        what: "child",
        message: e.to_string(),
    })?;
    let hash = hex::encode(Sha256::digest(&json));
    obj.meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(ANNOTATION_APPLIED_HASH.to_owned(), hash[..16].to_owned());
    Ok(obj)
}

/// Hash of everything the pods read at start-up: the config file, the hashed key files and the
/// storage and upstream credentials. A change of any of them changes the pod template and rolls the pods.
/// The cluster's keys are left out: the feed server re-reads them when the kubelet updates
/// the mounted file, so a key rotation on the cluster restarts no pod.
fn config_hash(feed: &ValidatedFeed, config_map: &ConfigMap, auth: &Secret) -> String {
    let mut h = Sha256::new();
    let config = config_map.data.iter().flatten();
    for (k, v) in config.filter(|(k, _)| k.as_str() != CLUSTER_JWKS_FILE_KEY) {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    for (k, v) in auth.data.iter().flatten() {
        h.update(k.as_bytes());
        h.update(&v.0);
    }
    if let Some(c) = &feed.storage.credentials_hash {
        h.update(c.as_bytes());
    }
    for (secret, hash) in &feed.upstreams.secret_hashes {
        h.update(secret.as_bytes());
        h.update(hash.as_deref().unwrap_or_default().as_bytes());
    }
    hex::encode(h.finalize())[..16].to_owned()
}
