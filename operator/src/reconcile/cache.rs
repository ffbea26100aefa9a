//! What the operator knows of the feeds' children without asking the apiserver: one reflector
//! store per child kind, filled by the label-selected watches that also trigger reconciles
//! (`run.rs` wires them), and the resourceVersion that each of the operator's own writes
//! returned. `dereference` and `apply` read children here, so a reconcile whose children are up
//! to date makes no request at all.
//!
//! A store lags the apiserver by a watch event. The operator must not act on a view older than
//! its own last write (regenerate a key whose Secret the store has not seen yet, or apply a
//! child again that it has just applied), so [`Cache::fresh`] reads a child from the apiserver
//! when the cached copy is not the one its last write returned. The tenant's storage
//! credentials Secret is not ours (no label to watch it by), so `dereference` still GETs it.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind of child the operator watches and caches.
pub trait Child:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind's name, for messages and the write log.
    const KIND: &'static str;
    /// This kind's store in `stores` (`None`: not watched, e.g. PodDisruptionBudgets on an
    /// apiserver without policy/v1).
    fn store(stores: &Stores) -> Option<&Store<Self>>;
}

/// The stores of one controller (one watched namespace, or all of them).
#[derive(Clone)]
pub struct Stores {
    /// The namespace the stores cover; `None` for all.
    pub namespace: Option<String>,
    pub service_accounts: Store<ServiceAccount>,
    pub secrets: Store<Secret>,
    pub config_maps: Store<ConfigMap>,
    pub services: Store<Service>,
    pub deployments: Store<Deployment>,
    pub ingresses: Store<Ingress>,
    pub network_policies: Store<NetworkPolicy>,
    /// Only when the apiserver serves policy/v1.
    pub pdbs: Option<Store<PodDisruptionBudget>>,
}

/// The writing halves of [`Stores`], for the reflectors in `run.rs` (tests fill them by hand).
pub struct Writers {
    pub service_accounts: Writer<ServiceAccount>,
    pub secrets: Writer<Secret>,
    pub config_maps: Writer<ConfigMap>,
    pub services: Writer<Service>,
    pub deployments: Writer<Deployment>,
    pub ingresses: Writer<Ingress>,
    pub network_policies: Writer<NetworkPolicy>,
    pub pdbs: Option<Writer<PodDisruptionBudget>>,
}

/// Empty stores for `namespace` (`None`: all), and their writers. PodDisruptionBudgets are
/// cached only when `pdb` (the apiserver serves policy/v1).
pub fn stores(namespace: Option<String>, pdb: bool) -> (Stores, Writers) {
    let (service_accounts, service_accounts_w) = reflector::store();
    let (secrets, secrets_w) = reflector::store();
    let (config_maps, config_maps_w) = reflector::store();
    let (services, services_w) = reflector::store();
    let (deployments, deployments_w) = reflector::store();
    let (ingresses, ingresses_w) = reflector::store();
    let (network_policies, network_policies_w) = reflector::store();
    let (pdbs, pdbs_w) = pdb.then(reflector::store).unzip();
    (
        Stores {
            namespace,
            service_accounts,
            secrets,
            config_maps,
            services,
            deployments,
            ingresses,
            network_policies,
            pdbs,
        },
        Writers {
            service_accounts: service_accounts_w,
            secrets: secrets_w,
            config_maps: config_maps_w,
            services: services_w,
            deployments: deployments_w,
            ingresses: ingresses_w,
            network_policies: network_policies_w,
            pdbs: pdbs_w,
        },
    )
}

impl Stores {
    /// Waits until every store holds the result of its first LIST; false when a watch ended
    /// before that.
    async fn ready(&self) -> bool {
        let pdbs = async {
            match &self.pdbs {
                Some(s) => s.wait_until_ready().await.is_ok(),
                None => true,
            }
        };
        let (a, b, c, d, e, f, g, h) = futures::join!(
            self.service_accounts.wait_until_ready(),
            self.secrets.wait_until_ready(),
            self.config_maps.wait_until_ready(),
            self.services.wait_until_ready(),
            self.deployments.wait_until_ready(),
            self.ingresses.wait_until_ready(),
            self.network_policies.wait_until_ready(),
            pdbs,
        );
        a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok() && e.is_ok() && f.is_ok() && g.is_ok() && h
    }
}

macro_rules! child {
    ($kind:ident, $field:ident) => {
        impl Child for $kind {
            const KIND: &'static str = stringify!($kind);
            fn store(stores: &Stores) -> Option<&Store<Self>> {
                Some(&stores.$field)
            }
        }
    };
}
child!(ServiceAccount, service_accounts);
child!(Secret, secrets);
child!(ConfigMap, config_maps);
child!(Service, services);
child!(Deployment, deployments);
child!(Ingress, ingresses);
child!(NetworkPolicy, network_policies);

impl Child for PodDisruptionBudget {
    const KIND: &'static str = "PodDisruptionBudget";
    fn store(stores: &Stores) -> Option<&Store<Self>> {
        stores.pdbs.as_ref()
    }
}

/// The outcome of the operator's last write of one child.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    /// Created, applied or patched: the resourceVersion the apiserver returned.
    Version(Option<String>),
    /// Deleted (pruned).
    Deleted,
}

type Key = (&'static str, String, String);

/// Why the cache cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No watch covers the namespace (it is outside `watchNamespaces`), or its watches stopped.
    #[error("no cache of namespace {0}: it is not watched, or the operator is stopping")]
    NotWatched(String),
    /// Reading a child from the apiserver (because the cache lagged) failed.
    #[error("cannot read {kind} {name}: {source}")]
    Read {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Every controller's stores and the operator's own writes.
#[derive(Default)]
pub struct Cache {
    stores: Mutex<Vec<Stores>>,
    written: Mutex<HashMap<Key, Written>>,
}

impl Cache {
    /// Adds the stores of one controller.
    pub fn register(&self, stores: Stores) {
        if let Ok(mut all) = self.stores.lock() {
            all.push(stores);
        }
    }

    /// The stores covering `namespace`, once they are filled.
    pub async fn stores(&self, namespace: &str) -> Result<Stores, Error> {
        let stores = self
            .stores
            .lock()
            .ok()
            .and_then(|all| {
                all.iter()
                    .find(|s| s.namespace.as_deref().is_none_or(|n| n == namespace))
                    .cloned()
            })
            .ok_or_else(|| Error::NotWatched(namespace.to_owned()))?;
        if !stores.ready().await {
            return Err(Error::NotWatched(namespace.to_owned()));
        }
        Ok(stores)
    }

    /// The live copy of child `name`: the cached one, unless the operator wrote the child
    /// since the store last heard of it; then the apiserver's.
    pub async fn fresh<K: Child>(
        &self,
        api: &Api<K>,
        namespace: &str,
        name: &str,
        cached: Option<Arc<K>>,
    ) -> Result<Option<K>, Error> {
        let key = (K::KIND, namespace.to_owned(), name.to_owned());
        let seen = match &cached {
            Some(c) => Written::Version(c.resource_version()),
            None => Written::Deleted,
        };
        let last = self.written.lock().ok().and_then(|w| w.get(&key).cloned());
        if last.is_none_or(|last| last == seen) {
            return Ok(cached.map(|c| K::clone(&c)));
        }
        let live = api.get_opt(name).await.map_err(|source| Error::Read {
            kind: K::KIND,
            name: name.to_owned(),
            source,
        })?;
        // What the apiserver said is the newest the operator knows: the store matches it once
        // it catches up.
        self.remember::<K>(
            namespace,
            name,
            match &live {
                Some(l) => Written::Version(l.resource_version()),
                None => Written::Deleted,
            },
        );
        Ok(live)
    }

    /// Records the object a write returned.
    pub fn wrote<K: Child>(&self, obj: &K) {
        self.remember::<K>(
            &obj.namespace().unwrap_or_default(),
            &obj.name_any(),
            Written::Version(obj.resource_version()),
        );
    }

    /// Records that the operator deleted child `name`.
    pub fn deleted<K: Child>(&self, namespace: &str, name: &str) {
        self.remember::<K>(namespace, name, Written::Deleted);
    }

    /// Whether the operator deleted child `name` since it last wrote it (a store still holding
    /// it lags).
    pub fn was_deleted<K: Child>(&self, namespace: &str, name: &str) -> bool {
        let key = (K::KIND, namespace.to_owned(), name.to_owned());
        self.written
            .lock()
            .is_ok_and(|w| w.get(&key) == Some(&Written::Deleted))
    }

    fn remember<K: Child>(&self, namespace: &str, name: &str, written: Written) {
        if let Ok(mut w) = self.written.lock() {
            w.insert((K::KIND, namespace.to_owned(), name.to_owned()), written);
        }
    }
}

/// The cached child `name` in `namespace`.
pub fn get<K: Child>(stores: &Stores, namespace: &str, name: &str) -> Option<Arc<K>> {
    K::store(stores)?.get(&ObjectRef::new(name).within(namespace))
}

/// Every cached child in `namespace` whose labels include `labels`.
pub fn list<K: Child>(
    stores: &Stores,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<Arc<K>> {
    K::store(stores)
        .map(|store| {
            store.state_filter(|o| {
                o.namespace().as_deref() == Some(namespace)
                    && labels.iter().all(|(k, v)| o.labels().get(k) == Some(v))
            })
        })
        .unwrap_or_default()
}
