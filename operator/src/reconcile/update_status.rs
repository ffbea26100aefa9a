//! Step 5: the feed's status from what `apply` returned (or from why validation failed), and
//! the decision whether to write it: only when it differs from the current status, so the
//! steady state makes no writes. `lastTransitionTime` changes only when a condition's status
//! does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::consts::{
    CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY, FIELD_MANAGER, REASON_AS_EXPECTED,
    REASON_AVAILABLE, REASON_DEPLOYMENT_NOT_READY, REASON_RECONCILED, REASON_ROLLING_OUT,
};
use crate::crd::{NuGetFeed, NuGetFeedStatus};
use crate::reconcile::apply::Applied;
use crate::reconcile::build::Resources;
use crate::reconcile::validate::{self, ValidatedFeed};

/// The status of a feed whose children were applied.
pub fn applied(
    feed: &NuGetFeed,
    validated: &ValidatedFeed,
    resources: &Resources<Applied>,
    now: &Time,
) -> NuGetFeedStatus {
    let generation = feed.meta().generation;
    let want = validated.replicas;
    let dep = resources.state.deployment.as_ref();
    let dep_status = dep.and_then(|d| d.status.as_ref());
    let ready = dep_status.and_then(|s| s.ready_replicas).unwrap_or(0);
    let updated = dep_status.and_then(|s| s.updated_replicas).unwrap_or(0);
    let available = dep_status.and_then(|s| s.available_replicas).unwrap_or(0);
    let total = dep_status.and_then(|s| s.replicas).unwrap_or(0);
    let current = dep.is_some_and(|d| {
        d.status.as_ref().and_then(|s| s.observed_generation) >= d.metadata.generation
            && d.metadata.generation.is_some()
    });
    let rolled_out = current && updated >= want && total == want;
    let is_ready = want > 0 && rolled_out && ready >= want && available >= want;

    let (ready_cond, progressing) = if want == 0 {
        (
            cond(
                CONDITION_READY,
                false,
                "ScaledToZero",
                "spec.replicas is 0",
                generation,
                now,
            ),
            cond(
                CONDITION_PROGRESSING,
                false,
                REASON_RECONCILED,
                "scaled to zero",
                generation,
                now,
            ),
        )
    } else if is_ready {
        (
            cond(
                CONDITION_READY,
                true,
                REASON_AVAILABLE,
                &format!("{ready}/{want} replicas ready; serving {}", validated.url()),
                generation,
                now,
            ),
            cond(
                CONDITION_PROGRESSING,
                false,
                REASON_RECONCILED,
                "the feed is up to date",
                generation,
                now,
            ),
        )
    } else {
        (
            cond(
                CONDITION_READY,
                false,
                REASON_DEPLOYMENT_NOT_READY,
                &format!("{ready}/{want} replicas ready"),
                generation,
                now,
            ),
            cond(
                CONDITION_PROGRESSING,
                true,
                REASON_ROLLING_OUT,
                &format!("{updated}/{want} replicas updated, {ready} ready"),
                generation,
                now,
            ),
        )
    };
    let degraded = cond(
        CONDITION_DEGRADED,
        false,
        REASON_AS_EXPECTED,
        "the spec was applied",
        generation,
        now,
    );
    let old = feed.status.clone().unwrap_or_default();
    NuGetFeedStatus {
        observed_generation: generation,
        conditions: merge(&old.conditions, vec![ready_cond, progressing, degraded]),
        url: Some(validated.url()),
        api_key_secret: Some(validated.api_key_secret.secret_name.clone()),
        read_token_secret: validated
            .read_tokens
            .as_ref()
            .map(|t| t.secret_name.clone()),
        ready_replicas: Some(ready),
    }
}

/// The status of a feed whose spec is invalid: Degraded with the reason; what was published
/// before (URL, Secret names) stays, since the children from the last valid spec still exist.
pub fn invalid(feed: &NuGetFeed, error: &validate::Error, now: &Time) -> NuGetFeedStatus {
    degraded(
        feed,
        error.category(),
        &error.to_string(),
        "waiting for a valid spec",
        now,
    )
}

/// The status of a feed the operator could not bring in line (an apply the apiserver refused
/// or failed, a purge it refused, ...): Degraded with the cause, so `kubectl get nf` shows it.
pub fn failed(feed: &NuGetFeed, reason: &str, message: &str, now: &Time) -> NuGetFeedStatus {
    degraded(feed, reason, message, "retrying", now)
}

fn degraded(
    feed: &NuGetFeed,
    reason: &str,
    message: &str,
    progressing: &str,
    now: &Time,
) -> NuGetFeedStatus {
    let generation = feed.meta().generation;
    let old = feed.status.clone().unwrap_or_default();
    NuGetFeedStatus {
        observed_generation: generation,
        conditions: merge(
            &old.conditions,
            vec![
                cond(CONDITION_READY, false, reason, message, generation, now),
                cond(
                    CONDITION_PROGRESSING,
                    false,
                    reason,
                    progressing,
                    generation,
                    now,
                ),
                cond(CONDITION_DEGRADED, true, reason, message, generation, now),
            ],
        ),
        ..old
    }
}

/// Keeps each condition's `lastTransitionTime` when its status did not change.
fn merge(old: &[Condition], mut new: Vec<Condition>) -> Vec<Condition> {
    for c in &mut new {
        if let Some(o) = old.iter().find(|o| o.type_ == c.type_)
            && o.status == c.status
        {
            c.last_transition_time = o.last_transition_time.clone();
        }
    }
    new
}

fn cond(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Writes `status` with a server-side apply of the status subresource, unless it equals the
/// current one. Returns whether it wrote.
pub async fn write(
    client: &Client,
    feed: &NuGetFeed,
    status: &NuGetFeedStatus,
) -> Result<bool, kube::Error> {
    if feed.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let api: Api<NuGetFeed> =
        Api::namespaced(client.clone(), &feed.namespace().unwrap_or_default());
    let body = json!({
        "apiVersion": NuGetFeed::api_version(&()),
        "kind": NuGetFeed::kind(&()),
        "status": status,
    });
    api.patch_status(
        &feed.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(true)
}

/// The time conditions are stamped with.
pub fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}
