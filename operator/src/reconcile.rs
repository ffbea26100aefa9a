//! The reconcile driver. Each NuGetFeed goes through
//! `dereference -> validate -> build -> apply -> update_status`:
//!
//! - `dereference` reads what the spec refers to (client);
//! - `validate` judges the spec and resolves defaults (pure; generates missing keys with the
//!   generator passed in);
//! - `build` makes every child (pure; also backs `nuget-operator render`);
//! - `apply` writes the children that differ from what is live and prunes the rest (client);
//! - `update_status` computes the status from the applied children and writes it only when it
//!   changed (client).
//!
//! An invalid spec is not an error of the reconcile: it becomes a `Degraded` condition and a
//! Warning event, and the feed waits for a change (or, for a missing Secret, a slow re-check).
//! Errors (apiserver failures, conflicts) go to [`error_policy`], which backs off per object.

pub mod apply;
pub mod build;
pub mod cache;
pub mod dereference;
pub mod names;
pub mod update_status;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, instrument, warn};

use crate::consts::{
    EVENT_API_KEY_CREATED, EVENT_CHILD_PRUNED, EVENT_DATA_PURGED, EVENT_PROVISIONED,
    EVENT_READ_TOKEN_CREATED, FINALIZER_PURGE,
};
use crate::crd::{DeletionPolicy, NuGetFeed};
use crate::keys;
use crate::metrics::Metrics;
use crate::purge;
use crate::settings::Settings;

/// A successful reconcile looks again this often (reads only), to catch drift that no watch
/// reports (a tenant's credentials Secret, for example).
pub const RESYNC: Duration = Duration::from_secs(600);
/// An invalid spec caused by another object (a missing Secret, a path clash) is checked again
/// this often.
pub const RECHECK_INVALID: Duration = Duration::from_secs(120);
/// First and largest delay of the per-object error backoff.
pub const BACKOFF_MIN: Duration = Duration::from_secs(2);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Why a reconcile failed (the spec being invalid is not among them).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a referenced object failed.
    #[error(transparent)]
    Dereference(#[from] dereference::Error),
    /// Building the children failed.
    #[error(transparent)]
    Build(#[from] build::Error),
    /// Writing the children failed.
    #[error(transparent)]
    Apply(#[from] apply::Error),
    /// Writing the status failed.
    #[error("cannot write status: {0}")]
    Status(#[source] kube::Error),
    /// Adding or removing the purge finalizer failed.
    #[error("cannot update finalizers: {0}")]
    Finalizer(#[source] kube::Error),
    /// Deleting the stored data of a feed with `deletionPolicy: Purge` failed.
    #[error(transparent)]
    Purge(#[from] purge::Error),
}

impl Error {
    /// Metric and log label.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Dereference(_) => "Dereference",
            Error::Build(_) => "Build",
            Error::Apply(e) => match e.category() {
                "Conflict" => "Conflict",
                _ => "Apply",
            },
            Error::Status(_) => "Status",
            Error::Finalizer(_) => "Finalizer",
            Error::Purge(_) => "Purge",
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// The controllers' caches of NuGetFeeds, for the path clash check.
    pub feeds: Mutex<Vec<Store<NuGetFeed>>>,
    /// The controllers' caches of children, which `dereference` and `apply` read.
    pub children: cache::Cache,
    /// Consecutive failures per object, for the backoff; reset by a success.
    failures: Mutex<HashMap<String, u32>>,
    /// Makes new API keys and read tokens.
    generate: Box<dyn Fn() -> String + Send + Sync>,
}

impl Context {
    pub fn new(
        client: Client,
        settings: Settings,
        recorder: Recorder,
        metrics: Arc<Metrics>,
    ) -> Self {
        Context {
            client,
            settings,
            recorder,
            metrics,
            feeds: Mutex::new(Vec::new()),
            children: cache::Cache::default(),
            failures: Mutex::new(HashMap::new()),
            generate: Box::new(keys::random_secret),
        }
    }

    /// Replaces the key generator (tests use a deterministic one).
    pub fn with_generator(mut self, generate: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.generate = Box::new(generate);
        self
    }

    fn other_feeds(&self) -> Vec<Arc<NuGetFeed>> {
        self.feeds
            .lock()
            .map(|stores| stores.iter().flat_map(|s| s.state()).collect())
            .unwrap_or_default()
    }

    fn backoff(&self, key: String) -> Duration {
        let n = self
            .failures
            .lock()
            .map(|mut f| {
                let n = f.entry(key).or_insert(0);
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1);
        let exp = BACKOFF_MIN.saturating_mul(1u32 << (n - 1).min(16));
        exp.min(BACKOFF_MAX)
    }

    fn reset_backoff(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }

    async fn publish(
        &self,
        feed: &NuGetFeed,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let mut note = note;
        if note.len() > 1000 {
            let cut = (0..=1000)
                .rev()
                .find(|i| note.is_char_boundary(*i))
                .unwrap_or(0);
            note.truncate(cut);
        }
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        match self.recorder.publish(&event, &feed.object_ref(&())).await {
            Ok(()) => {
                self.metrics.writes.inc();
            }
            Err(e) => warn!(error = %e, reason, "cannot publish event"),
        }
    }
}

fn key(feed: &NuGetFeed) -> String {
    format!(
        "{}/{}",
        feed.namespace().unwrap_or_default(),
        feed.name_any()
    )
}

/// Reconciles one NuGetFeed.
#[instrument(skip_all, fields(namespace = %feed.namespace().unwrap_or_default(), feed = %feed.name_any()))]
pub async fn reconcile(feed: Arc<NuGetFeed>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _measure = ctx.metrics.start();
    let result = reconcile_feed(&feed, &ctx).await;
    if result.is_ok() {
        ctx.reset_backoff(&key(&feed));
    }
    result
}

/// Decides how long to wait after a failed reconcile: exponential per object (2 s doubling to
/// 5 min), so one broken feed neither storms the apiserver nor delays the others.
pub fn error_policy(feed: Arc<NuGetFeed>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(error.category());
    let delay = ctx.backoff(key(&feed));
    warn!(
        namespace = %feed.namespace().unwrap_or_default(),
        feed = %feed.name_any(),
        category = error.category(),
        error = %error,
        retry_in_s = delay.as_secs(),
        "reconcile failed"
    );
    Action::requeue(delay)
}

async fn reconcile_feed(feed: &NuGetFeed, ctx: &Context) -> Result<Action, Error> {
    let has_finalizer = feed.finalizers().iter().any(|f| f == FINALIZER_PURGE);
    if feed.meta().deletion_timestamp.is_some() {
        if has_finalizer {
            return finalize(feed, ctx).await;
        }
        return Ok(Action::await_change());
    }
    let wants_finalizer = feed.spec.deletion_policy == DeletionPolicy::Purge;
    if wants_finalizer != has_finalizer {
        set_finalizer(feed, ctx, wants_finalizer).await?;
    }

    let others = ctx.other_feeds();
    let deref =
        dereference::dereference(&ctx.client, &ctx.children, feed, &others, &ctx.settings).await?;
    let mut generate = || (ctx.generate)();
    let validated = match validate::validate(feed, &deref, &ctx.settings, &mut generate) {
        Ok(v) => v,
        Err(invalid) => return reject(feed, ctx, &invalid).await,
    };
    let resources = build::build(&validated)?;
    let applied = match apply::apply(&ctx.client, &ctx.children, &validated, resources).await {
        Ok(applied) => applied,
        // A refusal (RBAC too small, a webhook or the schema saying no) will not pass by
        // itself: show it on the feed. Conflicts and server errors are retried silently, so the
        // status does not flap with every passing failure.
        Err(e) if matches!(e.category(), "Forbidden" | "Rejected") => {
            // Best effort: the status patch may be refused for the same reason as the apply.
            let status = update_status::apply_failed(feed, &e.to_string(), &now());
            if let Err(status_error) = update_status::write(&ctx.client, feed, &status).await {
                warn!(error = %status_error, "cannot record the apply failure in the status");
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let writes = applied.state.changed.len() + applied.state.pruned.len();
    ctx.metrics.writes.inc_by(writes as u64);

    for name in &applied.state.created_api_keys {
        ctx.publish(
            feed,
            EventType::Normal,
            EVENT_API_KEY_CREATED,
            "GenerateApiKey",
            format!(
                "Generated API key `{name}`; read it from Secret {} entry `{name}`",
                validated.api_key_secret.secret_name
            ),
        )
        .await;
    }
    if let Some(tokens) = &validated.read_tokens {
        for name in &applied.state.created_read_tokens {
            ctx.publish(
                feed,
                EventType::Normal,
                EVENT_READ_TOKEN_CREATED,
                "GenerateReadToken",
                format!(
                    "Generated read token `{name}`; read it from Secret {} entry `{name}`",
                    tokens.secret_name
                ),
            )
            .await;
        }
    }
    if !applied.state.changed.is_empty() {
        info!(changed = ?applied.state.changed, "applied children");
        ctx.publish(
            feed,
            EventType::Normal,
            EVENT_PROVISIONED,
            "Apply",
            format!(
                "Applied {}; the feed's URL is {}",
                applied.state.changed.join(", "),
                validated.url()
            ),
        )
        .await;
    }
    if !applied.state.pruned.is_empty() {
        info!(pruned = ?applied.state.pruned, "pruned children");
        ctx.publish(
            feed,
            EventType::Normal,
            EVENT_CHILD_PRUNED,
            "Prune",
            format!(
                "Deleted {}, no longer wanted",
                applied.state.pruned.join(", ")
            ),
        )
        .await;
    }

    let status = update_status::applied(feed, &validated, &applied, &now());
    if update_status::write(&ctx.client, feed, &status)
        .await
        .map_err(Error::Status)?
    {
        ctx.metrics.writes.inc();
    }
    Ok(Action::requeue(RESYNC))
}

/// An invalid spec: condition and (when the condition is new) a Warning event; no error, so no
/// retry storm.
async fn reject(
    feed: &NuGetFeed,
    ctx: &Context,
    invalid: &validate::Error,
) -> Result<Action, Error> {
    ctx.metrics.invalid(invalid.category());
    info!(reason = invalid.category(), message = %invalid, "invalid spec");
    let status = update_status::invalid(feed, invalid, &now());
    let wrote = update_status::write(&ctx.client, feed, &status)
        .await
        .map_err(Error::Status)?;
    if wrote {
        ctx.metrics.writes.inc();
        ctx.publish(
            feed,
            EventType::Warning,
            invalid.category(),
            "Validate",
            invalid.to_string(),
        )
        .await;
    }
    Ok(if invalid.recheck_later() {
        Action::requeue(RECHECK_INVALID)
    } else {
        Action::await_change()
    })
}

/// Deletion with `deletionPolicy: Purge`: delete the stored data, then let the feed go.
async fn finalize(feed: &NuGetFeed, ctx: &Context) -> Result<Action, Error> {
    let deref =
        dereference::dereference(&ctx.client, &ctx.children, feed, &[], &ctx.settings).await?;
    let mut generate = || String::new();
    match validate::validate(feed, &deref, &ctx.settings, &mut generate) {
        Ok(validated) => {
            let removed = purge::purge(&ctx.client, &validated).await?;
            ctx.publish(
                feed,
                EventType::Normal,
                EVENT_DATA_PURGED,
                "Purge",
                format!(
                    "Deleted {removed} stored objects under {}",
                    validated.storage.url
                ),
            )
            .await;
            set_finalizer(feed, ctx, false).await?;
            Ok(Action::await_change())
        }
        Err(invalid) => {
            // Without valid storage settings the data cannot be found; the finalizer stays so
            // nothing is lost silently. Fix the spec, or remove the finalizer to keep the data.
            ctx.publish(
                feed,
                EventType::Warning,
                invalid.category(),
                "Purge",
                format!(
                    "Cannot purge the feed's data: {invalid}. Fix the spec, or remove the finalizer {FINALIZER_PURGE} to keep the data"
                ),
            )
            .await;
            Ok(Action::requeue(RECHECK_INVALID))
        }
    }
}

async fn set_finalizer(feed: &NuGetFeed, ctx: &Context, present: bool) -> Result<(), Error> {
    let mut finalizers: Vec<String> = feed
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER_PURGE)
        .cloned()
        .collect();
    if present {
        finalizers.push(FINALIZER_PURGE.to_owned());
    }
    let api: Api<NuGetFeed> =
        Api::namespaced(ctx.client.clone(), &feed.namespace().unwrap_or_default());
    // The resourceVersion makes this a compare-and-swap: finalizers other controllers add
    // meanwhile are not lost.
    let patch = json!({
        "metadata": {"finalizers": finalizers, "resourceVersion": feed.resource_version()}
    });
    api.patch(
        &feed.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error::Finalizer)?;
    ctx.metrics.writes.inc();
    Ok(())
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}
