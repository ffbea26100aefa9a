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
        web_url: Some(validated.web_url()),
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::reconcile::build;
    use crate::reconcile::fixtures::{EXAMPLE, validated};

    fn at(t: &str) -> Time {
        Time(t.parse().unwrap())
    }

    /// The status `applied` computes for EXAMPLE when the live Deployment reports `status`.
    fn applied_with(
        feed: &NuGetFeed,
        status: Option<DeploymentStatus>,
        now: &Time,
    ) -> NuGetFeedStatus {
        let v = validated(EXAMPLE);
        let b = build::build(&v).unwrap();
        let deployment = Deployment {
            metadata: ObjectMeta {
                generation: Some(2),
                ..ObjectMeta::default()
            },
            status,
            ..Deployment::default()
        };
        let resources = Resources {
            service_account: b.service_account,
            api_keys: b.api_keys,
            read_tokens: b.read_tokens,
            auth: b.auth,
            config_map: b.config_map,
            deployment: b.deployment,
            service: b.service,
            ingress: b.ingress,
            pdb: b.pdb,
            network_policy: b.network_policy,
            state: Applied {
                deployment: Some(deployment),
                ..Applied::default()
            },
        };
        applied(feed, &v, &resources, now)
    }

    fn conditions(s: &NuGetFeedStatus) -> Vec<(String, String, String)> {
        s.conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
            .collect()
    }

    fn triples(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn a_rolled_out_deployment_makes_the_feed_ready() {
        let feed = validated(EXAMPLE).feed;
        let rolling = applied_with(&feed, None, &at("2025-01-01T00:00:00Z"));
        assert_eq!(
            conditions(&rolling),
            triples(&[
                ("Ready", "False", "DeploymentNotReady"),
                ("Progressing", "True", "RollingOut"),
                ("Degraded", "False", "AsExpected"),
            ])
        );
        assert_eq!(
            rolling.url.as_deref(),
            Some("http://nuget.example.com/team-a/main/index.json")
        );
        assert_eq!(
            rolling.web_url.as_deref(),
            Some("http://nuget.example.com/team-a/main/")
        );
        assert_eq!(rolling.observed_generation, Some(1));
        let done = DeploymentStatus {
            observed_generation: Some(2),
            replicas: Some(1),
            updated_replicas: Some(1),
            ready_replicas: Some(1),
            available_replicas: Some(1),
            ..DeploymentStatus::default()
        };
        let ready = applied_with(&feed, Some(done.clone()), &at("2025-01-01T00:00:00Z"));
        assert_eq!(
            conditions(&ready),
            triples(&[
                ("Ready", "True", "Available"),
                ("Progressing", "False", "Reconciled"),
                ("Degraded", "False", "AsExpected"),
            ])
        );
        assert_eq!(ready.ready_replicas, Some(1));
        // A Deployment that has not seen its latest generation is still rolling out.
        let stale = DeploymentStatus {
            observed_generation: Some(1),
            ..done
        };
        assert_eq!(
            applied_with(&feed, Some(stale), &at("2025-01-01T00:00:00Z")).conditions[0].status,
            "False"
        );
    }

    /// `lastTransitionTime` moves only when a condition's status does, so an unchanged feed
    /// computes the same status (and `write` skips it).
    #[test]
    fn transition_times_move_only_with_the_status() {
        let mut feed = validated(EXAMPLE).feed;
        let first = applied_with(&feed, None, &at("2025-01-01T00:00:00Z"));
        feed.status = Some(first.clone());
        let again = applied_with(&feed, None, &at("2025-06-01T00:00:00Z"));
        assert_eq!(again, first);
        let failed = failed(
            &feed,
            "ApplyFailed",
            "webhook down",
            &at("2025-06-01T00:00:00Z"),
        );
        let times: Vec<(String, String)> = failed
            .conditions
            .iter()
            .map(|c| (c.type_.clone(), c.last_transition_time.0.to_string()))
            .collect();
        assert_eq!(
            times,
            [
                ("Ready", "2025-01-01T00:00:00Z"),
                ("Progressing", "2025-06-01T00:00:00Z"),
                ("Degraded", "2025-06-01T00:00:00Z"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    /// A failure keeps what was published (URL, Secret names): the children of the last good
    /// spec still exist.
    #[test]
    fn failures_and_invalid_specs_keep_the_published_url() {
        let mut feed = validated(EXAMPLE).feed;
        feed.status = Some(applied_with(&feed, None, &at("2025-01-01T00:00:00Z")));
        let s = failed(
            &feed,
            "ApplyFailed",
            "Internal error: webhook down",
            &at("2025-01-02T00:00:00Z"),
        );
        assert_eq!(
            conditions(&s),
            triples(&[
                ("Ready", "False", "ApplyFailed"),
                ("Progressing", "False", "ApplyFailed"),
                ("Degraded", "True", "ApplyFailed"),
            ])
        );
        assert_eq!(s.conditions[2].message, "Internal error: webhook down");
        assert_eq!(s.url, feed.status.as_ref().unwrap().url);
        assert_eq!(s.web_url, feed.status.as_ref().unwrap().web_url);
        let e = validate::Error::BadImage(" ".into());
        let s = invalid(&feed, &e, &at("2025-01-02T00:00:00Z"));
        assert_eq!(s.conditions[2].reason, "InvalidSpec");
        assert_eq!(s.conditions[2].message, e.to_string());
        assert_eq!(s.api_key_secret.as_deref(), Some("main-api-keys"));
    }
}
