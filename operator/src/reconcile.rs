//! The reconcile driver. Each NuGetFeed goes through
//! `dereference -> validate -> build -> apply -> update_status`:
//!
//! - `dereference` reads what the spec refers to, and where the other feeds are served and
//!   store their data (client);
//! - `validate` judges the spec and resolves defaults (pure; generates missing keys with the
//!   generator passed in);
//! - `build` makes every child (pure; also backs `nuget-operator render`);
//! - `apply` writes the children that differ from what is live and prunes the rest (client);
//! - `update_status` computes the status from the applied children and writes it only when it
//!   changed (client).
//!
//! Around the pipeline: the purge [`finalizer`] (added after validation, run on deletion),
//! the [`announce`]ments (Kubernetes Events) of what was done, and [`failure`] reporting. An
//! invalid spec is not an error of the reconcile: it becomes a `Degraded` condition and a
//! Warning event, and the feed waits for a change (or, for a cause in another object, a slow
//! re-check). Errors become a `Degraded` condition and one Warning event too (see
//! [`failure`] for when), and go to [`error_policy`], which backs off per object.

pub mod announce;
pub mod api_failure;
pub mod apply;
pub mod build;
pub mod cache;
pub mod cluster_keys;
pub mod context;
pub mod dereference;
pub mod failure;
pub mod finalizer;
pub mod location;
pub mod names;
pub mod requeue;
pub mod update_status;
pub mod validate;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::{info, instrument, warn};

use crate::crd::NuGetFeed;

pub use context::Context;
pub use failure::Error;
pub use requeue::{BACKOFF_MAX, BACKOFF_MIN, CLUSTER_KEYS_REFRESH, RECHECK_INVALID, RESYNC};

/// Reconciles one NuGetFeed.
#[instrument(skip_all, fields(namespace = %feed.namespace().unwrap_or_default(), feed = %feed.name_any()))]
pub async fn reconcile(feed: Arc<NuGetFeed>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _measure = ctx.metrics.start();
    let result = reconcile_feed(&feed, &ctx).await;
    match &result {
        Ok(_) => ctx.reset_backoff(&feed),
        Err(e) => failure::report(&feed, &ctx, e).await,
    }
    result
}

/// Decides how long to wait after a failed reconcile: exponential per object (2 s doubling to
/// 5 min), so one broken feed neither storms the apiserver nor delays the others.
pub fn error_policy(feed: Arc<NuGetFeed>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(error.category());
    let delay = ctx.backoff(&feed);
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
    if feed.meta().deletion_timestamp.is_some() {
        if finalizer::has(feed) {
            return finalizer::finalize(feed, ctx).await;
        }
        return Ok(Action::await_change());
    }

    let others = ctx.cached_feeds();
    let deref = dereference::dereference(&ctx.sources(), feed, &others).await?;
    let mut generate = || ctx.generate();
    let validated = match validate::validate(feed, &deref, &ctx.settings, &mut generate) {
        Ok(v) => v,
        Err(invalid) => {
            finalizer::follow_validation(feed, ctx, false).await?;
            return failure::invalid(feed, ctx, &invalid).await;
        }
    };
    // Before anything is applied: data is stored only while the finalizer is in place.
    finalizer::follow_validation(feed, ctx, true).await?;
    let resources = build::build(&validated)?;
    let applied = apply::apply(&ctx.client, &ctx.children, &validated, resources).await?;
    let state = &applied.state;
    ctx.metrics
        .writes
        .inc_by((state.changed.len() + state.pruned.len()) as u64);
    if !state.changed.is_empty() {
        info!(changed = ?state.changed, "applied children");
    }
    if !state.pruned.is_empty() {
        info!(pruned = ?state.pruned, "pruned children");
    }
    for announcement in announce::applied(&validated, state) {
        announce::publish(ctx, feed, announcement).await;
    }

    let status = update_status::applied(feed, &validated, &applied, &update_status::now());
    if update_status::write(&ctx.client, feed, &status)
        .await
        .map_err(Error::Status)?
    {
        ctx.metrics.writes.inc();
    }
    ctx.forget_announcement(feed);
    // The cluster's keys rotate without any event the controller sees: a feed that trusts
    // them looks again sooner.
    Ok(Action::requeue(
        if validated.trusted_publishers.cluster_keys.is_some() {
            CLUSTER_KEYS_REFRESH
        } else {
            RESYNC
        },
    ))
}
