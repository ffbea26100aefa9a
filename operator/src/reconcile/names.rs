//! Names, labels and routes derived from a feed, shared by every step so they cannot drift.

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::consts::{
    APP_NAME, COMPONENT_SERVER, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME,
    LABEL_PART_OF, MANAGED_BY,
};
use crate::crd::NuGetFeed;
use crate::settings::Settings;

/// ServiceAccount, Deployment, Service, Ingress, PodDisruptionBudget and NetworkPolicy share
/// the feed's name.
pub fn workload(feed: &NuGetFeed) -> String {
    feed.name_any()
}

pub fn config_map(feed: &NuGetFeed) -> String {
    format!("{}-config", feed.name_any())
}

/// Plaintext API keys for the tenant, one entry per key name.
pub fn api_keys_secret(feed: &NuGetFeed) -> String {
    format!("{}-api-keys", feed.name_any())
}

/// Plaintext read tokens for the tenant, one entry per token name.
pub fn read_tokens_secret(feed: &NuGetFeed) -> String {
    format!("{}-read-tokens", feed.name_any())
}

/// The hashed key and token files mounted into the feed server.
pub fn auth_secret(feed: &NuGetFeed) -> String {
    format!("{}-auth", feed.name_any())
}

/// The labels every child carries; the first three also select children for pruning.
pub fn labels(feed: &NuGetFeed, component: &str) -> BTreeMap<String, String> {
    let mut labels = children_labels(feed);
    labels.insert(LABEL_PART_OF.to_owned(), "nuget".to_owned());
    labels.insert(LABEL_COMPONENT.to_owned(), component.to_owned());
    labels
}

/// Labels of the feed server's pods (Deployment selector, Service selector, PDB, NetworkPolicy).
/// Immutable once a Deployment exists, so they never change.
pub fn selector_labels(feed: &NuGetFeed) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_owned(), APP_NAME.to_owned()),
        (LABEL_INSTANCE.to_owned(), feed.name_any()),
    ])
}

pub fn pod_labels(feed: &NuGetFeed) -> BTreeMap<String, String> {
    labels(feed, COMPONENT_SERVER)
}

/// The labels that pick out the children of `feed` (among every feed's, in the cache).
pub fn children_labels(feed: &NuGetFeed) -> BTreeMap<String, String> {
    let mut labels = selector_labels(feed);
    labels.insert(LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned());
    labels
}

/// Label selector for the label-filtered watches on children of every feed.
pub fn managed_selector() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// The feed's URL path prefix, `/{namespace}/{name}` unless the spec sets one.
pub fn path_prefix(feed: &NuGetFeed) -> String {
    feed.spec
        .ingress
        .as_ref()
        .and_then(|i| i.path_prefix.clone())
        .map(|p| p.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            format!(
                "/{}/{}",
                feed.namespace().unwrap_or_default(),
                feed.name_any()
            )
        })
}

/// The feed's public host, from the spec or the platform default.
pub fn host(feed: &NuGetFeed, settings: &Settings) -> Option<String> {
    feed.spec
        .ingress
        .as_ref()
        .and_then(|i| i.host.clone())
        .or_else(|| settings.default_host.clone())
        .map(|h| h.to_ascii_lowercase())
}

/// The default storage prefix inside a shared bucket: `{namespace}/{name}`.
pub fn default_storage_prefix(feed: &NuGetFeed) -> String {
    format!(
        "{}/{}",
        feed.namespace().unwrap_or_default(),
        feed.name_any()
    )
}
