//! `nuget-operator run`: leader election on a Lease, one controller per watched namespace (or
//! one for the whole cluster), the health and metrics endpoints, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::{StreamExt, TryStreamExt};
use kube::api::ListParams;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::{Predicate, PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource};
use kube_lease_manager::LeaseManagerBuilder;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::consts::FIELD_MANAGER;
use crate::crd::NuGetFeed;
use crate::http::{self, Health};
use crate::metrics::Metrics;
use crate::reconcile::cache::{self, Child, Stores};
use crate::reconcile::{self, Context, names};
use crate::settings::Settings;

/// Options of `nuget-operator run` (resolved from flags and env by `main.rs`).
#[derive(Debug, Clone)]
pub struct Options {
    pub settings: Settings,
    /// Namespaces to watch; empty means all.
    pub watch_namespaces: Vec<String>,
    /// Address of `/livez`, `/readyz` and `/metrics`.
    pub http_addr: SocketAddr,
    /// Take part in leader election (off for a single replica run by hand or in tests).
    pub leader_election: bool,
    pub lease_name: String,
    pub lease_namespace: String,
    pub lease_duration_secs: u64,
    /// Identity in the Lease and in events (the pod name).
    pub identity: String,
    /// Reconciles running at once.
    pub concurrency: u16,
}

/// Why the operator stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The NuGetFeed CRD is not installed (or not readable).
    #[error(
        "cannot list NuGetFeeds ({0}); is the CRD installed? `nuget-operator crd | kubectl apply --validate=false -f -`"
    )]
    CrdMissing(#[source] kube::Error),
    /// The health endpoint could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Leader election failed.
    #[error("leader election: {0}")]
    Lease(String),
    /// This replica lost the Lease while leading; it stops so that exactly one leader acts
    /// (the pod restarts and stands by).
    #[error("lost the leader Lease")]
    LostLease,
}

/// Runs the operator until `shutdown` resolves.
pub async fn run(
    client: Client,
    mut options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let probe: Api<NuGetFeed> = match options.watch_namespaces.first() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    probe
        .list(&ListParams::default().limit(1))
        .await
        .map_err(Error::CrdMissing)?;
    // PodDisruptionBudgets need policy/v1 (Kubernetes >= 1.21).
    options.settings.pdb_supported = client.list_api_group_resources("policy/v1").await.is_ok();
    if !options.settings.pdb_supported {
        warn!("the apiserver does not serve policy/v1; no PodDisruptionBudgets will be created");
    }

    let metrics = Arc::new(Metrics::default());
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let health = Health::new(registry);
    let listener = tokio::net::TcpListener::bind(options.http_addr)
        .await
        .map_err(|source| Error::Listen {
            addr: options.http_addr,
            source,
        })?;
    info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "serving /livez, /readyz, /metrics");
    let (stop_tx, stop_rx) = watch::channel(false);
    let http_stop = stop_rx.clone();
    let router = http::router(health.clone());
    let http_task = tokio::spawn(async move {
        let stop = wait(http_stop);
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            error!(error = %e, "health server failed");
        }
    });
    tokio::spawn(async move {
        shutdown.await;
        info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let result = if options.leader_election {
        lead(client, &options, metrics, health.clone(), stop_rx).await
    } else {
        health.set_ready(true);
        controllers(client, &options, metrics, stop_rx).await;
        Ok(())
    };
    health.set_ready(false);
    let _ = tokio::time::timeout(Duration::from_secs(5), http_task).await;
    result
}

async fn wait(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Waits for the Lease, runs the controllers while holding it, releases it on shutdown.
async fn lead(
    client: Client,
    options: &Options,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let manager = LeaseManagerBuilder::new(client.clone(), &options.lease_name)
        .with_namespace(&options.lease_namespace)
        .with_identity(&options.identity)
        .with_duration(options.lease_duration_secs)
        .with_grace(options.lease_duration_secs.div_ceil(3).max(1))
        .with_field_manager(FIELD_MANAGER)
        .build()
        .await
        .map_err(|e| Error::Lease(e.to_string()))?;
    let (mut leading, lease_task) = manager.watch().await;
    info!(lease = %options.lease_name, identity = %options.identity, "waiting for the leader Lease");
    let mut stop_wait = stop.clone();
    let acquired = tokio::select! {
        r = leading.wait_for(|l| *l) => Some(r.is_ok()),
        _ = stop_wait.wait_for(|s| *s) => None,
    };
    match acquired {
        Some(true) => {}
        Some(false) => return Err(Error::Lease("the lease manager stopped".to_owned())),
        None => {
            drop(leading);
            let _ = lease_task.await;
            return Ok(());
        }
    }
    info!("leading");
    health.set_ready(true);
    let lost = {
        let mut leading = leading.clone();
        async move {
            let _ = leading.wait_for(|l| !*l).await;
        }
    };
    let result = tokio::select! {
        () = controllers(client, options, metrics, stop) => Ok(()),
        () = lost => Err(Error::LostLease),
    };
    // Dropping the receiver makes the lease manager release the Lease, so a standby takes
    // over at once instead of after the lease duration.
    drop(leading);
    match tokio::time::timeout(Duration::from_secs(5), lease_task).await {
        Ok(Ok(Ok(_))) => info!("released the leader Lease"),
        Ok(Ok(Err(e))) => warn!(error = %e, "releasing the leader Lease failed"),
        _ => warn!("releasing the leader Lease timed out"),
    }
    result
}

/// One controller per watched namespace (or one for all), until `stop`.
async fn controllers(
    client: Client,
    options: &Options,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    let reporter = Reporter {
        controller: FIELD_MANAGER.to_owned(),
        instance: Some(options.identity.clone()),
    };
    let ctx = Arc::new(
        Context::new(client.clone(), options.settings.clone(), reporter, metrics)
            .with_watch_namespaces(options.watch_namespaces.clone()),
    );
    let namespaces: Vec<Option<String>> = if options.watch_namespaces.is_empty() {
        vec![None]
    } else {
        options.watch_namespaces.iter().cloned().map(Some).collect()
    };
    let mut runs = Vec::new();
    for ns in namespaces {
        let (controller, children) = controller(&client, ns.as_deref(), options, &ctx);
        if let Ok(mut stores) = ctx.feeds.lock() {
            stores.push(controller.store());
        }
        ctx.children.register(children);
        let ctx = ctx.clone();
        let stop = stop.clone();
        runs.push(async move {
            controller
                .graceful_shutdown_on(wait(stop))
                .run(reconcile::reconcile, reconcile::error_policy, ctx)
                .for_each(|result| async move {
                    if let Err(e) = result {
                        // Reconcile errors are logged by error_policy; these are the
                        // controller's own (watch failures, missing objects).
                        tracing::debug!(error = %e, "controller event");
                    }
                })
                .await;
        });
    }
    join_all(runs).await;
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// One controller: the NuGetFeeds of `ns` (or all) and, label-selected, their children, whose
/// watches fill the stores that `dereference` and `apply` read.
fn controller(
    client: &Client,
    ns: Option<&str>,
    options: &Options,
    ctx: &Arc<Context>,
) -> (Controller<NuGetFeed>, Stores) {
    // Children are watched through the managed-by label only, so the caches hold our objects,
    // not every Secret and Deployment of the namespace.
    let children = watcher::Config::default().labels(&names::managed_selector());
    fn owns<K: Child>(
        c: Controller<NuGetFeed>,
        client: &Client,
        ns: Option<&str>,
        wc: &watcher::Config,
        writer: Writer<K>,
        ctx: &Arc<Context>,
    ) -> Controller<NuGetFeed> {
        let ctx = ctx.clone();
        // Deletions trigger too, so a deleted child comes back.
        c.owns_stream(
            watcher(api::<K>(client, ns), wc.clone())
                .default_backoff()
                .reflect(writer)
                .touched_objects()
                .inspect_ok(move |obj| ctx.children.observed(obj)),
        )
    }
    let (feeds, feeds_writer) = reflector::store();
    let trigger = watcher(api::<NuGetFeed>(client, ns), watcher::Config::default())
        .default_backoff()
        .reflect(feeds_writer)
        .applied_objects()
        // The status is not part of the trigger: the operator's own status writes would start
        // a second reconcile of every change.
        .predicate_filter(
            predicates::generation
                .combine(predicates::labels)
                .combine(predicates::annotations)
                .combine(predicates::finalizers)
                .combine(being_deleted),
            PredicateConfig::default(),
        );
    let (stores, writers) = cache::stores(ns.map(str::to_owned), options.settings.pdb_supported);
    let mut c = Controller::for_stream(trigger, feeds)
        .with_config(controller::Config::default().concurrency(options.concurrency));
    c = owns(c, client, ns, &children, writers.deployments, ctx);
    c = owns(c, client, ns, &children, writers.services, ctx);
    c = owns(c, client, ns, &children, writers.config_maps, ctx);
    c = owns(c, client, ns, &children, writers.secrets, ctx);
    c = owns(c, client, ns, &children, writers.service_accounts, ctx);
    c = owns(c, client, ns, &children, writers.ingresses, ctx);
    c = owns(c, client, ns, &children, writers.network_policies, ctx);
    if let Some(pdbs) = writers.pdbs {
        c = owns(c, client, ns, &children, pdbs, ctx);
    }
    (c, stores)
}

/// Changes when deletion starts. A deletion bumps the generation of objects with finalizers,
/// but a trigger should not rest on that detail.
fn being_deleted(feed: &NuGetFeed) -> Option<u64> {
    Some(u64::from(feed.meta().deletion_timestamp.is_some()))
}
