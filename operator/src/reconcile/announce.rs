//! The Kubernetes Events the operator publishes about a feed: what it created, applied, pruned
//! and purged (Normal), and what it refused or could not do (Warning).
//!
//! kube's `Recorder` merges events that share type, reason, action, reporter and regarding
//! object into one series that keeps the first event's note: three new keys would read as the
//! first key three times, and an edit as the first apply's objects. So every event is
//! published through a fresh `Recorder` and stands alone with a note that is true for what
//! happened; the callers keep the count down instead (an event only when something was written,
//! and a failure only when it differs from the one announced last).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use tracing::warn;

use crate::consts::{
    EVENT_API_KEY_CREATED, EVENT_CHILD_PRUNED, EVENT_DATA_PURGED, EVENT_PROVISIONED,
    EVENT_READ_TOKEN_CREATED,
};
use crate::crd::NuGetFeed;
use crate::reconcile::apply::Applied;
use crate::reconcile::context::Context;
use crate::reconcile::validate::ValidatedFeed;

/// The apiserver refuses notes longer than this.
const MAX_NOTE: usize = 1000;

/// One event, before it is published.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub type_: EventType,
    pub reason: String,
    pub action: &'static str,
    pub note: String,
    /// A second object the event is about (the Secret holding a new key, a pruned child).
    pub related: Option<ObjectReference>,
}

impl Announcement {
    pub fn warning(reason: &str, action: &'static str, note: String) -> Self {
        Announcement {
            type_: EventType::Warning,
            reason: reason.to_owned(),
            action,
            note,
            related: None,
        }
    }

    fn normal(reason: &str, action: &'static str, note: String) -> Self {
        Announcement {
            type_: EventType::Normal,
            ..Announcement::warning(reason, action, note)
        }
    }
}

/// The events of one successful apply: one per generated key and token, one for the children
/// written (when any) and one per child deleted.
pub fn applied(feed: &ValidatedFeed, state: &Applied) -> Vec<Announcement> {
    let mut out = Vec::new();
    for name in &state.created_api_keys {
        out.push(Announcement {
            related: Some(secret_ref(feed, &feed.api_key_secret.secret_name)),
            ..Announcement::normal(
                EVENT_API_KEY_CREATED,
                "GenerateApiKey",
                format!(
                    "Generated API key `{name}`; read it from Secret {} entry `{name}`",
                    feed.api_key_secret.secret_name
                ),
            )
        });
    }
    if let Some(tokens) = &feed.read_tokens {
        for name in &state.created_read_tokens {
            out.push(Announcement {
                related: Some(secret_ref(feed, &tokens.secret_name)),
                ..Announcement::normal(
                    EVENT_READ_TOKEN_CREATED,
                    "GenerateReadToken",
                    format!(
                        "Generated read token `{name}`; read it from Secret {} entry `{name}`",
                        tokens.secret_name
                    ),
                )
            });
        }
    }
    if !state.changed.is_empty() {
        out.push(Announcement::normal(
            EVENT_PROVISIONED,
            "Apply",
            format!(
                "Applied {}; the feed's URL is {}",
                state.changed.join(", "),
                feed.url()
            ),
        ));
    }
    for child in &state.pruned {
        out.push(Announcement::normal(
            EVENT_CHILD_PRUNED,
            "Prune",
            format!("Deleted {child}, no longer wanted"),
        ));
    }
    out
}

/// The feed's stored data was deleted.
pub fn purged(removed: usize, location: &str) -> Announcement {
    Announcement::normal(
        EVENT_DATA_PURGED,
        "Purge",
        format!("Deleted {removed} stored objects under {location}"),
    )
}

/// Publishes `announcement` about `feed`. A failure to publish is logged, never fatal: the
/// condition on the feed carries the same news.
pub async fn publish(ctx: &Context, feed: &NuGetFeed, announcement: Announcement) {
    let mut note = announcement.note;
    if note.len() > MAX_NOTE {
        let cut = (0..=MAX_NOTE)
            .rev()
            .find(|i| note.is_char_boundary(*i))
            .unwrap_or(0);
        note.truncate(cut);
    }
    let event = Event {
        type_: announcement.type_,
        reason: announcement.reason,
        note: Some(note),
        action: announcement.action.to_owned(),
        secondary: announcement.related,
    };
    let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
    match recorder.publish(&event, &feed.object_ref(&())).await {
        Ok(()) => {
            ctx.metrics.writes.inc();
        }
        Err(e) => warn!(error = %e, reason = %event.reason, "cannot publish event"),
    }
}

fn secret_ref(feed: &ValidatedFeed, name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Secret".to_owned()),
        name: Some(name.to_owned()),
        namespace: Some(feed.namespace.clone()),
        ..ObjectReference::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixtures::{VOLUME_TOKENS, validated};

    /// Three new keys are three events, each naming its own key.
    #[test]
    fn every_new_key_and_pruned_child_has_its_own_true_note() {
        let feed = validated(VOLUME_TOKENS);
        let state = Applied {
            created_api_keys: vec!["ci".into(), "admin".into(), "ops".into()],
            created_read_tokens: vec!["devs".into()],
            pruned: vec!["NetworkPolicy/internal".into(), "Ingress/internal".into()],
            ..Applied::default()
        };
        let notes: Vec<(String, String)> = applied(&feed, &state)
            .into_iter()
            .map(|a| (a.reason, a.note))
            .collect();
        assert_eq!(
            notes,
            [
                ("ApiKeyCreated", "Generated API key `ci`; read it from Secret internal-api-keys entry `ci`"),
                ("ApiKeyCreated", "Generated API key `admin`; read it from Secret internal-api-keys entry `admin`"),
                ("ApiKeyCreated", "Generated API key `ops`; read it from Secret internal-api-keys entry `ops`"),
                ("ReadTokenCreated", "Generated read token `devs`; read it from Secret internal-read-tokens entry `devs`"),
                ("ChildPruned", "Deleted NetworkPolicy/internal, no longer wanted"),
                ("ChildPruned", "Deleted Ingress/internal, no longer wanted"),
            ]
            .map(|(r, n)| (r.to_owned(), n.to_owned()))
        );
    }
}
