//! The metadata every child shares: name, namespace, labels and the controller owner reference.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

/// Metadata of a child: name, namespace, labels, controller owner reference.
pub fn meta(feed: &ValidatedFeed, name: String, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(feed.namespace.clone()),
        labels: Some(names::labels(&feed.feed, component)),
        owner_references: feed.owner.clone().map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}
