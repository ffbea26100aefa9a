//! The purge finalizer (`deletionPolicy: Purge`): when a feed carries it, and what happens when
//! a feed carrying it is deleted.
//!
//! - It is added only to a valid feed, before anything of it is applied, so data can only be
//!   stored while the finalizer is in place. An invalid feed never gets it, so deleting one
//!   needs no hand edit; a feed that has it but never got past validation (nothing was stored:
//!   its status has no URL) loses it again.
//! - On deletion the feed's data is purged and the finalizer removed. A purge the operator
//!   refuses (another live feed uses the location, no credentials Secret, no prefix, an
//!   invalid spec) keeps the finalizer, shows why on the feed and in one Warning event, and is
//!   re-checked slowly; the message says how to keep the data instead (remove the finalizer).

use std::sync::Arc;

use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::consts::{FINALIZER_PURGE, REASON_PURGE_REFUSED};
use crate::crd::{DeletionPolicy, NuGetFeed};
use crate::purge;
use crate::reconcile::announce;
use crate::reconcile::context::Context;
use crate::reconcile::failure::{self, Error};
use crate::reconcile::location;
use crate::reconcile::{dereference, validate};

/// Whether the feed carries the purge finalizer.
pub fn has(feed: &NuGetFeed) -> bool {
    feed.finalizers().iter().any(|f| f == FINALIZER_PURGE)
}

/// Whether the feed was never applied, so its feed server never ran and stored nothing: only
/// an applied feed's status has a URL.
fn never_stored(feed: &NuGetFeed) -> bool {
    feed.status.as_ref().and_then(|s| s.url.as_ref()).is_none()
}

/// Adds or removes the finalizer after validation: a valid feed has it exactly when its
/// policy is Purge; an invalid one keeps it only when it asks for Purge and may have stored
/// data under an earlier, valid spec.
pub async fn follow_validation(feed: &NuGetFeed, ctx: &Context, valid: bool) -> Result<(), Error> {
    let purge = feed.spec.deletion_policy == DeletionPolicy::Purge;
    let want = if valid {
        purge
    } else {
        purge && has(feed) && !never_stored(feed)
    };
    if want != has(feed) {
        set(feed, ctx, want).await?;
    }
    Ok(())
}

/// Deletion of a feed that has the finalizer: purge its data, then let it go.
pub async fn finalize(feed: &NuGetFeed, ctx: &Context) -> Result<Action, Error> {
    // Other feeds are not passed to validation here: the purge checks them itself, against a
    // fresh list.
    let deref = dereference::dereference(&ctx.sources(), feed, &[]).await?;
    let mut no_keys = String::new;
    let validated = match validate::validate(feed, &deref, &ctx.settings, &mut no_keys) {
        Ok(v) => v,
        Err(_) if never_stored(feed) => {
            set(feed, ctx, false).await?;
            return Ok(Action::await_change());
        }
        Err(invalid) => {
            let message = format!(
                "Cannot purge the feed's data: {invalid}. Fix the spec, or remove the finalizer {FINALIZER_PURGE} to keep the data"
            );
            return Ok(failure::refuse_purge(feed, ctx, REASON_PURGE_REFUSED, &message).await);
        }
    };
    let others = live_feeds(ctx).await?;
    let holders = location::holders(feed, &others);
    match purge::purge(&ctx.client, &validated, &holders).await {
        Ok(removed) => {
            announce::publish(ctx, feed, announce::purged(removed, &validated.storage.url)).await;
            set(feed, ctx, false).await?;
            ctx.forget_announcement(feed);
            Ok(Action::await_change())
        }
        Err(e) if e.is_refusal() => {
            let message = format!("Cannot purge the feed's data: {e}");
            Ok(failure::refuse_purge(feed, ctx, REASON_PURGE_REFUSED, &message).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Every feed the operator knows: the controllers' caches plus a fresh LIST of every watched
/// namespace, since a cache may not have seen a feed created a moment ago.
async fn live_feeds(ctx: &Context) -> Result<Vec<Arc<NuGetFeed>>, Error> {
    let mut feeds = ctx.cached_feeds();
    let apis: Vec<Api<NuGetFeed>> = if ctx.watch_namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        ctx.watch_namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    };
    for api in apis {
        let listed = api
            .list(&ListParams::default())
            .await
            .map_err(Error::Feeds)?;
        feeds.extend(listed.items.into_iter().map(Arc::new));
    }
    Ok(feeds)
}

async fn set(feed: &NuGetFeed, ctx: &Context, present: bool) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::NuGetFeedStatus;
    use crate::reconcile::fixtures::{EXAMPLE, feed};

    /// Only an applied feed can have stored data.
    #[test]
    fn a_feed_without_a_published_url_stored_nothing() {
        let mut f = feed(EXAMPLE);
        assert!(never_stored(&f));
        f.status = Some(NuGetFeedStatus::default());
        assert!(never_stored(&f));
        f.status = Some(NuGetFeedStatus {
            url: Some("http://x/index.json".into()),
            ..NuGetFeedStatus::default()
        });
        assert!(!never_stored(&f));
        assert!(!has(&f));
        f.metadata.finalizers = Some(vec![FINALIZER_PURGE.into()]);
        assert!(has(&f));
    }
}
