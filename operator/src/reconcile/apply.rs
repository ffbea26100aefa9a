//! Step 4: write the built children with server-side apply (one field manager, forced), but only
//! those that differ from what is live, so the steady state makes no writes; then delete the
//! children this feed controls that were not built this time (pruning).
//!
//! Live children are read from the controller's cache ([`Cache`]), which also yields the prune
//! candidates, and which answers with the operator's own last write of a child while its store
//! has not shown that write yet (a store lags by a watch event). A child counts as up to date when it is controlled by this feed and every field of
//! the built manifest (including its [`ANNOTATION_APPLIED_HASH`]) has the same value live;
//! fields the apiserver defaulted, and empty values it drops, are ignored. Quantities are built
//! in the apiserver's canonical form (`validate`), so they compare as written.
//!
//! The plaintext credential Secrets are never applied: they are created once and afterwards
//! only gain entries for new names or lose entries for removed ones, with an optimistic lock.
//!
//! [`ANNOTATION_APPLIED_HASH`]: crate::consts::ANNOTATION_APPLIED_HASH

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};

use crate::consts::FIELD_MANAGER;
use crate::reconcile::api_failure::ApiFailure;
use crate::reconcile::build::{Prepared, Resources};
use crate::reconcile::cache::{self, Cache, Child, Stores};
use crate::reconcile::names;
use crate::reconcile::validate::{CredentialSet, ValidatedFeed};

/// Why applying failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cache covers the feed's namespace.
    #[error(transparent)]
    Cache(#[from] cache::Error),
    /// The server-side apply of one child failed.
    #[error("cannot apply {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Deleting an unwanted child failed.
    #[error("cannot delete {kind} {name}: {source}")]
    Prune {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Creating or extending a generated credentials Secret failed (409 when someone else
    /// changed it first: the next reconcile reads it again).
    #[error("cannot write Secret {name}: {source}")]
    WriteCredentials {
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    fn source_error(&self) -> Option<&kube::Error> {
        match self {
            Error::Apply { source, .. }
            | Error::Prune { source, .. }
            | Error::WriteCredentials { source, .. } => Some(source),
            Error::Cache(cache::Error::NotWatched(_)) => None,
        }
    }

    /// How the apiserver refused or failed. A namespace without a cache (its watch not started
    /// yet) is retried like a request that got no answer.
    pub fn kind(&self) -> ApiFailure {
        self.source_error()
            .map_or(ApiFailure::Transport, ApiFailure::of)
    }
}

/// Typestate: applied, with what the apiserver returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    /// The live Deployment (for ready replicas).
    pub deployment: Option<Deployment>,
    /// `Kind/name` of every child written in this reconcile.
    pub changed: Vec<String>,
    /// `Kind/name` of every child deleted in this reconcile.
    pub pruned: Vec<String>,
    /// Names of API keys generated in this reconcile.
    pub created_api_keys: Vec<String>,
    /// Names of read tokens generated in this reconcile.
    pub created_read_tokens: Vec<String>,
}

/// Applies `resources` for `feed`.
pub async fn apply(
    client: &Client,
    cache: &Cache,
    feed: &ValidatedFeed,
    resources: Resources<Prepared>,
) -> Result<Resources<Applied>, Error> {
    let ns = &feed.namespace;
    let stores = cache.stores(ns).await?;
    let labels = names::children_labels(&feed.feed);
    // A feed read from the apiserver always has a uid; without one nothing counts as ours.
    let uid = feed.owner.as_ref().map(|o| o.uid.as_str()).unwrap_or("-");
    let mut out = Applied::default();

    // Credentials first, so the hashed files applied below match what the tenant can read.
    write_credentials(
        client,
        cache,
        &stores,
        ns,
        &feed.api_key_secret,
        &resources.api_keys,
        &mut out,
    )
    .await?;
    if let (Some(set), Some(secret)) = (&feed.read_tokens, &resources.read_tokens) {
        write_credentials(client, cache, &stores, ns, set, secret, &mut out).await?;
    }
    out.created_api_keys = feed.api_key_secret.created.clone();
    out.created_read_tokens = feed
        .read_tokens
        .as_ref()
        .map(|s| s.created.clone())
        .unwrap_or_default();

    let sync = Sync {
        client,
        cache,
        stores: &stores,
        ns,
        labels: &labels,
        uid,
    };
    sync.kind(vec![resources.service_account.clone()], &[], &mut out)
        .await?;
    let mut keep = vec![feed.api_key_secret.secret_name.clone()];
    if let Some(set) = &feed.read_tokens {
        keep.push(set.secret_name.clone());
    }
    sync.kind(vec![resources.auth.clone()], &keep, &mut out)
        .await?;
    sync.kind(vec![resources.config_map.clone()], &[], &mut out)
        .await?;
    sync.kind(vec![resources.service.clone()], &[], &mut out)
        .await?;
    let deployments = sync
        .kind(vec![resources.deployment.clone()], &[], &mut out)
        .await?;
    sync.kind(
        resources.ingress.iter().cloned().collect::<Vec<Ingress>>(),
        &[],
        &mut out,
    )
    .await?;
    if feed.pdb_supported {
        sync.kind(
            resources
                .pdb
                .iter()
                .cloned()
                .collect::<Vec<PodDisruptionBudget>>(),
            &[],
            &mut out,
        )
        .await?;
    }
    sync.kind(
        resources
            .network_policy
            .iter()
            .cloned()
            .collect::<Vec<NetworkPolicy>>(),
        &[],
        &mut out,
    )
    .await?;
    out.deployment = deployments.into_iter().next();

    Ok(Resources {
        service_account: resources.service_account,
        api_keys: resources.api_keys,
        read_tokens: resources.read_tokens,
        auth: resources.auth,
        config_map: resources.config_map,
        deployment: resources.deployment,
        service: resources.service,
        ingress: resources.ingress,
        pdb: resources.pdb,
        network_policy: resources.network_policy,
        state: out,
    })
}

/// Creates the plaintext Secret, or adds missing entries and removes stale ones with a merge
/// patch guarded by `resourceVersion`. Existing entries are never rewritten.
async fn write_credentials(
    client: &Client,
    cache: &Cache,
    stores: &Stores,
    ns: &str,
    set: &CredentialSet,
    secret: &Secret,
    out: &mut Applied,
) -> Result<(), Error> {
    if !set.needs_write() {
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let err = |source| Error::WriteCredentials {
        name: set.secret_name.clone(),
        source,
    };
    let written = if !set.exists {
        api.create(&PostParams::default(), secret)
            .await
            .map_err(err)?
    } else {
        let mut data = serde_json::Map::new();
        for name in &set.created {
            if let Some(value) = set.entries.get(name) {
                data.insert(name.clone(), Value::String(base64_encode(value.as_bytes())));
            }
        }
        for name in &set.stale {
            data.insert(name.clone(), Value::Null);
        }
        let patch = json!({
            "metadata": {"resourceVersion": set.resource_version},
            "data": data,
        });
        api.patch(
            &set.secret_name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(err)?
    };
    cache.wrote(stores, ns, &set.secret_name, Some(written));
    out.changed.push(format!("Secret/{}", set.secret_name));
    Ok(())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Sync<'a> {
    client: &'a Client,
    cache: &'a Cache,
    stores: &'a Stores,
    ns: &'a str,
    /// The labels every child of this feed carries.
    labels: &'a BTreeMap<String, String>,
    uid: &'a str,
}

impl Sync<'_> {
    /// Applies `desired` (all of one kind) where it differs from what is live, deletes live
    /// children of that kind controlled by this feed that are neither desired nor in `keep`,
    /// and returns the resulting objects.
    async fn kind<K: Child>(
        &self,
        desired: Vec<K>,
        keep: &[String],
        out: &mut Applied,
    ) -> Result<Vec<K>, Error> {
        let kind = K::KIND;
        let api: Api<K> = Api::namespaced(self.client.clone(), self.ns);
        let cached: BTreeSet<String> = cache::list::<K>(self.stores, self.ns, self.labels)
            .iter()
            .map(|o| o.name_any())
            .collect();
        let mut result = Vec::new();
        let wanted: BTreeSet<String> = desired.iter().map(|d| d.name_any()).collect();
        for d in desired {
            let name = d.name_any();
            if let Some(l) = self.cache.live::<K>(self.stores, self.ns, &name)
                && controlled_by(l.as_ref(), self.uid)
                && up_to_date(&d, l.as_ref())
            {
                result.push(K::clone(&l));
                continue;
            }
            let applied = api
                .patch(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&d),
                )
                .await
                .map_err(|source| Error::Apply {
                    kind,
                    name: name.clone(),
                    source,
                })?;
            self.cache
                .wrote(self.stores, self.ns, &name, Some(applied.clone()));
            out.changed.push(format!("{kind}/{name}"));
            result.push(applied);
        }
        for name in &cached {
            if wanted.contains(name) || keep.contains(name) {
                continue;
            }
            // Not live any more when the operator deleted it and the cache lags.
            match self.cache.live::<K>(self.stores, self.ns, name) {
                Some(l) if controlled_by(l.as_ref(), self.uid) => {}
                _ => continue,
            }
            match api.delete(name, &DeleteParams::background()).await {
                Ok(_) => out.pruned.push(format!("{kind}/{name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(source) => {
                    return Err(Error::Prune {
                        kind,
                        name: name.clone(),
                        source,
                    });
                }
            }
            self.cache.wrote::<K>(self.stores, self.ns, name, None);
        }
        Ok(result)
    }
}

fn controlled_by<K: Resource>(obj: &K, uid: &str) -> bool {
    obj.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// Whether every field of `desired` has the same value in `live`.
fn up_to_date<K: Serialize>(desired: &K, live: &K) -> bool {
    match (serde_json::to_value(desired), serde_json::to_value(live)) {
        (Ok(d), Ok(l)) => is_subset(&d, &l),
        _ => false,
    }
}

/// `desired ⊆ live`: objects by key (extra live keys allowed), arrays element-wise with equal
/// length, scalars by equality. A desired key may be missing live when its value is empty
/// (`null`, `""`, `false`, `[]`, `{}`): the apiserver drops such values (Go's `omitempty`), so
/// they would otherwise count as drift forever.
pub(crate) fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (d, l) => d == l,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields the apiserver defaults (clusterIP, terminationMessagePath, ...) must not count as
    /// drift, or every reconcile would write.
    #[test]
    fn defaulted_fields_are_not_drift() {
        let desired = json!({"spec": {"ports": [{"port": 80}], "type": "ClusterIP"}});
        let live = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}], "type": "ClusterIP", "clusterIP": "10.0.0.1"}});
        assert!(is_subset(&desired, &live));
    }

    /// Empty values the apiserver drops (`omitempty`) must not count as drift either: a
    /// toleration with `value: ""` would be applied on every reconcile.
    #[test]
    fn empty_values_the_apiserver_drops_are_not_drift() {
        let live = json!({"spec": {"replicas": 1}});
        for empty in [json!(null), json!(""), json!(false), json!([]), json!({})] {
            let desired = json!({"spec": {"replicas": 1, "x": empty}});
            assert!(is_subset(&desired, &live), "{desired}");
        }
        // Present live, an empty value must still match.
        assert!(!is_subset(&json!({"a": ""}), &json!({"a": "x"})));
        assert!(!is_subset(&json!({"a": false}), &json!({"a": true})));
        // Zero is a value (replicas: 0), never dropped.
        assert!(!is_subset(&json!({"replicas": 0}), &json!({})));
    }

    /// Quantities reach the diff in the apiserver's canonical form (`validate` writes them so),
    /// so a feed with `cpu: "0.5"` matches the live `500m`.
    #[test]
    fn canonical_quantities_match_what_the_apiserver_stores() {
        let canonical = |s: &str| crate::quantity::Quantity::parse(s).unwrap().canonical();
        let desired = json!({"resources": {"requests": {"cpu": canonical("0.5"), "memory": canonical("1024Mi")}, "limits": {"cpu": canonical("2000m")}}});
        let live = json!({"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2"}}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_or_missing_fields_are_drift() {
        let desired = json!({"spec": {"replicas": 2}});
        assert!(!is_subset(&desired, &json!({"spec": {"replicas": 1}})));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
        assert!(!is_subset(&json!({"a": [1, 2]}), &json!({"a": [1]})));
    }
}
