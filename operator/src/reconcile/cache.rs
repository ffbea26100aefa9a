//! What the operator knows of the feeds' children without asking the apiserver: one reflector
//! store per child kind, filled by the label-selected watches that also trigger reconciles
//! (`run.rs` wires them), and the resourceVersion that each of the operator's own writes
//! returned. `dereference` and `apply` read children here, so a reconcile whose children are up
//! to date makes no request at all.
//!
//! A store lags the apiserver by a watch event. The operator must not act on a view older than
//! its own last write (regenerate a key whose Secret the store has not seen yet, or apply a
//! child again that it has just applied), so it remembers what each write returned, with the
//! resourceVersions that write replaced ("expectations", as kube-controller-manager calls
//! them): while the store still shows one of those, [`Cache::live`] answers with the write's
//! result instead. Without extra reads, so the operator needs no `get` on its children. The
//! tenant's storage credentials Secret is not ours (no label to watch it by), so `dereference`
//! still GETs it.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::{Resource, ResourceExt};
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

/// How long the operator prefers its own write to a store that has not shown it. A watch event
/// is never that late; the bound keeps an expectation whose event was lost (a watch restart)
/// from hiding a later change.
const EXPECTATION_TTL: Duration = Duration::from_secs(30);

/// What the operator's last write of one child returned.
struct Expectation {
    /// The resourceVersions the write replaced (`None`: absent); while the store shows one of
    /// these, it has not seen the write.
    superseded: Vec<Option<String>>,
    /// The object the write returned (`None`: deleted).
    result: Option<Arc<dyn Any + Send + Sync>>,
    at: Instant,
}

impl Expectation {
    /// Whether a store showing `seen` has not caught up with this write.
    fn lagging(&self, seen: &Option<String>) -> bool {
        self.at.elapsed() < EXPECTATION_TTL && self.superseded.contains(seen)
    }
}

type Key = (&'static str, String, String);

/// Why the cache cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No watch covers the namespace (it is outside `watchNamespaces`), or its watches stopped.
    #[error("no cache of namespace {0}: it is not watched, or the operator is stopping")]
    NotWatched(String),
}

/// Every controller's stores and the operator's own recent writes.
#[derive(Default)]
pub struct Cache {
    stores: Mutex<Vec<Stores>>,
    expected: Mutex<HashMap<Key, Expectation>>,
    /// One reconcile at a time waits for the stores to fill: a store's readiness wakes only
    /// the last task that polled it (kube-runtime's `DelayedInit` keeps one waker), so
    /// reconciles waiting side by side at start-up would hang for good.
    ready_gate: tokio::sync::Mutex<()>,
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
        let _gate = self.ready_gate.lock().await;
        if !stores.ready().await {
            return Err(Error::NotWatched(namespace.to_owned()));
        }
        Ok(stores)
    }

    /// Child `name` as live as the operator knows it: the cached copy, or what the operator's
    /// own write returned while the store has not shown that write yet.
    pub fn live<K: Child>(&self, stores: &Stores, namespace: &str, name: &str) -> Option<Arc<K>> {
        let cached = K::store(stores)?.get(&ObjectRef::new(name).within(namespace));
        let seen = cached.as_ref().map(|c| c.resource_version());
        let seen = seen.flatten();
        let key = (K::KIND, namespace.to_owned(), name.to_owned());
        let Ok(mut expected) = self.expected.lock() else {
            return cached;
        };
        match expected.get(&key) {
            Some(e) if e.lagging(&seen) => e.result.clone().and_then(|r| r.downcast::<K>().ok()),
            Some(_) => {
                // The store caught up (or the expectation expired).
                expected.remove(&key);
                cached
            }
            None => cached,
        }
    }

    /// Called for every watch event of a child, after its store took it in: a store that shows
    /// something other than what a write replaced has seen that write (or a later change),
    /// so the expectation ends; a child deleted by someone right after the operator created
    /// it is then missing again, not hidden by the expectation.
    pub fn observed<K: Child>(&self, obj: &K) {
        let key = (K::KIND, obj.namespace().unwrap_or_default(), obj.name_any());
        let seen = obj.resource_version();
        if let Ok(mut expected) = self.expected.lock()
            && expected
                .get(&key)
                .is_some_and(|e| !e.superseded.contains(&seen))
        {
            expected.remove(&key);
        }
    }

    /// Records what a write of child `name` returned (`None`: it was deleted).
    pub fn wrote<K: Child>(&self, stores: &Stores, namespace: &str, name: &str, result: Option<K>) {
        let cached = K::store(stores).and_then(|s| s.get(&ObjectRef::new(name).within(namespace)));
        let seen = cached.and_then(|c| c.resource_version());
        let key = (K::KIND, namespace.to_owned(), name.to_owned());
        let Ok(mut expected) = self.expected.lock() else {
            return;
        };
        expected.retain(|_, e| e.at.elapsed() < EXPECTATION_TTL);
        let superseded = match expected.get(&key) {
            // Two writes before the store saw the first: it has seen neither while it shows
            // what preceded the first, or the first's result.
            Some(e) if e.lagging(&seen) => {
                let first = e
                    .result
                    .clone()
                    .and_then(|r| r.downcast::<K>().ok())
                    .and_then(|r| r.resource_version());
                let mut superseded = e.superseded.clone();
                superseded.push(first);
                superseded
            }
            _ => vec![seen],
        };
        expected.insert(
            key,
            Expectation {
                superseded,
                result: result.map(|r| Arc::new(r) as Arc<dyn Any + Send + Sync>),
                at: Instant::now(),
            },
        );
    }
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

#[cfg(test)]
mod tests {
    use kube::runtime::watcher::Event;

    use super::*;

    fn config_map(rv: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("main-config".into());
        cm.metadata.namespace = Some("team-a".into());
        cm.metadata.resource_version = Some(rv.into());
        cm
    }

    fn setup(initial: &[ConfigMap]) -> (Cache, Stores, Writers) {
        let (stores, mut writers) = stores(Some("team-a".into()), false);
        writers.config_maps.apply_watcher_event(&Event::Init);
        for cm in initial {
            writers
                .config_maps
                .apply_watcher_event(&Event::InitApply(cm.clone()));
        }
        writers.config_maps.apply_watcher_event(&Event::InitDone);
        (Cache::default(), stores, writers)
    }

    /// What a watch event does: the store takes it in, then the cache hears of it.
    fn event(cache: &Cache, writers: &mut Writers, e: Event<ConfigMap>) {
        writers.config_maps.apply_watcher_event(&e);
        if let Event::Apply(o) | Event::Delete(o) = &e {
            cache.observed(o);
        }
    }

    fn live_rv(cache: &Cache, stores: &Stores) -> Option<String> {
        cache
            .live::<ConfigMap>(stores, "team-a", "main-config")
            .and_then(|c| c.resource_version())
    }

    /// At start-up every feed's reconcile waits for the stores; each must go on once they are
    /// filled (without the gate only the last waiter woke, and the others hung for good).
    #[tokio::test]
    async fn reconciles_waiting_side_by_side_all_go_on() {
        let (stores, mut writers) = stores(Some("team-a".into()), false);
        let cache = Arc::new(Cache::default());
        cache.register(stores);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.stores("team-a").await.is_ok() })
            })
            .collect();
        tokio::task::yield_now().await;
        macro_rules! fill {
            ($($w:ident),*) => {$(
                writers.$w.apply_watcher_event(&Event::Init);
                writers.$w.apply_watcher_event(&Event::InitDone);
            )*};
        }
        fill!(
            service_accounts,
            secrets,
            config_maps,
            services,
            deployments,
            ingresses,
            network_policies
        );
        for waiter in waiters {
            let ready = tokio::time::timeout(Duration::from_secs(10), waiter)
                .await
                .expect("a reconcile hung waiting for the stores");
            assert!(ready.unwrap());
        }
    }

    /// Without this, the reconcile that runs before the watch event would apply the child
    /// again (or, for a key Secret, generate the key again).
    #[test]
    fn own_write_answers_until_the_store_shows_it() {
        let (cache, stores, mut writers) = setup(&[]);
        cache.wrote(&stores, "team-a", "main-config", Some(config_map("1")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("1"));
        event(&cache, &mut writers, Event::Apply(config_map("1")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("1"));
        // A later change by someone else is seen as it is.
        event(&cache, &mut writers, Event::Apply(config_map("2")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("2"));
    }

    /// A child deleted right after the operator created it must be created again, not hidden
    /// by the expectation of the create.
    #[test]
    fn a_deletion_after_our_create_is_seen() {
        let (cache, stores, mut writers) = setup(&[]);
        cache.wrote(&stores, "team-a", "main-config", Some(config_map("1")));
        event(&cache, &mut writers, Event::Apply(config_map("1")));
        event(&cache, &mut writers, Event::Delete(config_map("1")));
        assert_eq!(live_rv(&cache, &stores), None);
    }

    /// A pruned child that the store still holds is not pruned again.
    #[test]
    fn our_deletion_answers_until_the_store_shows_it() {
        let (cache, stores, mut writers) = setup(&[config_map("1")]);
        cache.wrote::<ConfigMap>(&stores, "team-a", "main-config", None);
        assert_eq!(live_rv(&cache, &stores), None);
        event(&cache, &mut writers, Event::Delete(config_map("1")));
        assert_eq!(live_rv(&cache, &stores), None);
    }

    /// Two writes before the store shows the first: the second wins until the store shows it.
    #[test]
    fn chained_writes_wait_for_the_last() {
        let (cache, stores, mut writers) = setup(&[config_map("1")]);
        cache.wrote(&stores, "team-a", "main-config", Some(config_map("2")));
        cache.wrote(&stores, "team-a", "main-config", Some(config_map("3")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("3"));
        event(&cache, &mut writers, Event::Apply(config_map("2")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("3"));
        event(&cache, &mut writers, Event::Apply(config_map("3")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("3"));
        event(&cache, &mut writers, Event::Apply(config_map("4")));
        assert_eq!(live_rv(&cache, &stores).as_deref(), Some("4"));
    }
}
