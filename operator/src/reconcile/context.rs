//! What every reconcile shares: the client, the platform settings, the event reporter, the
//! metrics, the controllers' caches of NuGetFeeds, and per-feed memory of failures (for the
//! backoff and so that each failure is announced once, not on every retry).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::events::Reporter;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};

use crate::crd::NuGetFeed;
use crate::keys;
use crate::metrics::Metrics;
use crate::reconcile::{cache, cluster_keys, dereference, requeue};
use crate::settings::Settings;

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    /// Who publishes the events.
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    /// The controllers' caches of NuGetFeeds, for the path and storage clash checks.
    pub feeds: Mutex<Vec<Store<NuGetFeed>>>,
    /// The controllers' caches of children, which `dereference` and `apply` read.
    pub children: cache::Cache,
    /// The cluster's ServiceAccount issuer and keys, shared by every feed that needs them.
    pub cluster_keys: cluster_keys::Cache,
    /// The namespaces the operator watches (empty: all), for the fresh LIST of feeds a purge
    /// makes before it deletes anything.
    pub watch_namespaces: Vec<String>,
    /// Consecutive failures per feed, for the backoff; reset by a success.
    failures: Mutex<HashMap<String, u32>>,
    /// The failure last announced per feed, so a repeating failure is announced once.
    announced: Mutex<HashMap<String, String>>,
    /// Makes new API keys and read tokens.
    generate: Box<dyn Fn() -> String + Send + Sync>,
}

impl Context {
    pub fn new(
        client: Client,
        settings: Settings,
        reporter: Reporter,
        metrics: Arc<Metrics>,
    ) -> Self {
        Context {
            client,
            settings,
            reporter,
            metrics,
            feeds: Mutex::new(Vec::new()),
            children: cache::Cache::default(),
            cluster_keys: cluster_keys::Cache::default(),
            watch_namespaces: Vec::new(),
            failures: Mutex::new(HashMap::new()),
            announced: Mutex::new(HashMap::new()),
            generate: Box::new(keys::random_secret),
        }
    }

    /// Replaces the key generator (tests use a deterministic one).
    pub fn with_generator(mut self, generate: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.generate = Box::new(generate);
        self
    }

    /// Sets the watched namespaces (empty: all).
    pub fn with_watch_namespaces(mut self, namespaces: Vec<String>) -> Self {
        self.watch_namespaces = namespaces;
        self
    }

    /// Where `dereference` reads from.
    pub fn sources(&self) -> dereference::Sources<'_> {
        dereference::Sources {
            client: &self.client,
            cache: &self.children,
            cluster_keys: &self.cluster_keys,
            settings: &self.settings,
        }
    }

    /// A new API key or read token.
    pub fn generate(&self) -> String {
        (self.generate)()
    }

    /// Every feed in the controllers' caches.
    pub fn cached_feeds(&self) -> Vec<Arc<NuGetFeed>> {
        self.feeds
            .lock()
            .map(|stores| stores.iter().flat_map(|s| s.state()).collect())
            .unwrap_or_default()
    }

    /// Counts a failure of `feed` and returns how long to wait before the next attempt.
    pub fn backoff(&self, feed: &NuGetFeed) -> Duration {
        let n = self
            .failures
            .lock()
            .map(|mut f| {
                let n = f.entry(key(feed)).or_insert(0);
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1);
        requeue::backoff(n)
    }

    /// Whether the attempt before this one failed too.
    pub fn failed_before(&self, feed: &NuGetFeed) -> bool {
        self.failures
            .lock()
            .map(|f| f.get(&key(feed)).is_some_and(|n| *n > 0))
            .unwrap_or(false)
    }

    pub fn reset_backoff(&self, feed: &NuGetFeed) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(&key(feed));
        }
    }

    /// Records `message` as the failure announced for `feed`; false when it was the last one
    /// announced already (a retry that failed the same way).
    pub fn first_announcement(&self, feed: &NuGetFeed, message: &str) -> bool {
        self.announced
            .lock()
            .map(|mut a| a.insert(key(feed), message.to_owned()).as_deref() != Some(message))
            .unwrap_or(true)
    }

    /// The feed recovered: its next failure is announced again.
    pub fn forget_announcement(&self, feed: &NuGetFeed) {
        if let Ok(mut a) = self.announced.lock() {
            a.remove(&key(feed));
        }
    }
}

/// `namespace/name`.
fn key(feed: &NuGetFeed) -> String {
    format!(
        "{}/{}",
        feed.namespace().unwrap_or_default(),
        feed.name_any()
    )
}
