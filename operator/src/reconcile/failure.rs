//! Why a reconcile failed, and how a failure reaches the user: a `Degraded` condition with the
//! apiserver's (or the storage's) message and one Warning event.
//!
//! The rule, for every step (read, build, apply, status, finalizer, purge):
//! - a failure that will not pass by itself (RBAC, schema or webhook refusals, a purge error)
//!   is shown at once;
//! - a failure that often passes (a conflict with a concurrent writer, 429, 5xx, no answer) is
//!   retried once silently, so a single passing conflict does not flap the status; if the next
//!   attempt fails too, it is shown;
//! - the Warning event is published once per distinct failure, not on every retry; the
//!   condition is written only when it changed.
//!
//! An invalid spec is not a failure of the reconcile: [`invalid`] shows it and the feed waits
//! for a change (or, for causes in other objects, a slow re-check).

use kube::runtime::controller::Action;
use tracing::{info, warn};

use crate::consts::{
    REASON_APPLY_FAILED, REASON_BUILD_FAILED, REASON_FINALIZER_FAILED, REASON_PURGE_FAILED,
    REASON_READ_FAILED, REASON_STATUS_FAILED,
};
use crate::crd::NuGetFeed;
use crate::purge;
use crate::reconcile::announce::{self, Announcement};
use crate::reconcile::api_failure::ApiFailure;
use crate::reconcile::context::Context;
use crate::reconcile::requeue::RECHECK_INVALID;
use crate::reconcile::{apply, build, cluster_keys, dereference, update_status, validate};

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
    /// Listing the NuGetFeeds a purge must not reach failed.
    #[error("cannot list NuGetFeeds to check that no other feed uses the location: {0}")]
    Feeds(#[source] kube::Error),
    /// Deleting the stored data of a feed with `deletionPolicy: Purge` failed.
    #[error(transparent)]
    Purge(#[from] purge::Error),
}

impl Error {
    /// How the apiserver failed, when it was the apiserver.
    fn api_failure(&self) -> Option<ApiFailure> {
        match self {
            Error::Dereference(dereference::Error::ReadSecret { source, .. })
            | Error::Status(source)
            | Error::Finalizer(source)
            | Error::Feeds(source)
            | Error::Purge(purge::Error::Credentials { source, .. }) => {
                Some(ApiFailure::of(source))
            }
            Error::Dereference(dereference::Error::ClusterKeys(cluster_keys::Error::Read {
                source,
                ..
            })) => Some(ApiFailure::of(source)),
            Error::Apply(e) => Some(e.kind()),
            // The namespace's watch has not started yet: retried like a request with no answer.
            Error::Dereference(dereference::Error::Cache(_)) => Some(ApiFailure::Transport),
            Error::Build(_)
            | Error::Purge(_)
            | Error::Dereference(dereference::Error::ClusterKeys(_)) => None,
        }
    }

    /// Metric and log label.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Dereference(_) => "Dereference",
            Error::Build(_) => "Build",
            Error::Apply(e) if e.kind() == ApiFailure::Conflict => "Conflict",
            Error::Apply(_) => "Apply",
            Error::Status(_) => "Status",
            Error::Finalizer(_) => "Finalizer",
            Error::Feeds(_) | Error::Purge(_) => "Purge",
        }
    }

    /// The `Degraded` condition's reason and the Warning event's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Dereference(_) => REASON_READ_FAILED,
            Error::Build(_) => REASON_BUILD_FAILED,
            Error::Apply(_) => REASON_APPLY_FAILED,
            Error::Status(_) => REASON_STATUS_FAILED,
            Error::Finalizer(_) => REASON_FINALIZER_FAILED,
            Error::Feeds(_) | Error::Purge(_) => REASON_PURGE_FAILED,
        }
    }

    /// Whether one silent retry is worth it before the feed shows the failure.
    pub fn is_transient(&self) -> bool {
        self.api_failure().is_some_and(ApiFailure::is_transient)
    }

    fn action(&self) -> &'static str {
        match self {
            Error::Dereference(_) => "Read",
            Error::Build(_) => "Build",
            Error::Apply(_) => "Apply",
            Error::Status(_) => "UpdateStatus",
            Error::Finalizer(_) => "UpdateFinalizers",
            Error::Feeds(_) | Error::Purge(_) => "Purge",
        }
    }
}

/// Shows `error` on the feed when it is due (see the module doc); called once per failed
/// reconcile, before the backoff counts it.
pub async fn report(feed: &NuGetFeed, ctx: &Context, error: &Error) {
    if error.is_transient() && !ctx.failed_before(feed) {
        info!(error = %error, "transient failure; retrying once before showing it");
        return;
    }
    show(
        feed,
        ctx,
        error.reason(),
        error.action(),
        &error.to_string(),
    )
    .await;
}

/// A purge the operator refuses: shown like a failure, the finalizer stays, and the feed is
/// looked at again slowly (the other feed may go, the Secret may appear).
pub async fn refuse_purge(feed: &NuGetFeed, ctx: &Context, reason: &str, message: &str) -> Action {
    show(feed, ctx, reason, "Purge", message).await;
    Action::requeue(RECHECK_INVALID)
}

/// Writes `Degraded` with `message` (when it changed) and publishes one Warning event (when it
/// differs from the one announced last). Best effort: the status write may fail for the same
/// reason as the step did, and is then only logged.
async fn show(feed: &NuGetFeed, ctx: &Context, reason: &str, action: &'static str, message: &str) {
    let status = update_status::failed(feed, reason, message, &update_status::now());
    match update_status::write(&ctx.client, feed, &status).await {
        Ok(true) => {
            ctx.metrics.writes.inc();
        }
        Ok(false) => {}
        Err(e) => warn!(error = %e, "cannot record the failure in the status"),
    }
    if ctx.first_announcement(feed, &format!("{reason}: {message}")) {
        announce::publish(
            ctx,
            feed,
            Announcement::warning(reason, action, message.to_owned()),
        )
        .await;
    }
}

/// An invalid spec: condition and (when the condition is new) a Warning event; no error, so no
/// retry storm.
pub async fn invalid(
    feed: &NuGetFeed,
    ctx: &Context,
    invalid: &validate::Error,
) -> Result<Action, Error> {
    ctx.metrics.invalid(invalid.category());
    info!(reason = invalid.category(), message = %invalid, "invalid spec");
    let status = update_status::invalid(feed, invalid, &update_status::now());
    let wrote = update_status::write(&ctx.client, feed, &status)
        .await
        .map_err(Error::Status)?;
    if wrote {
        ctx.metrics.writes.inc();
        announce::publish(
            ctx,
            feed,
            Announcement::warning(invalid.category(), "Validate", invalid.to_string()),
        )
        .await;
    }
    Ok(if invalid.recheck_later() {
        Action::requeue(RECHECK_INVALID)
    } else {
        Action::await_change()
    })
}
