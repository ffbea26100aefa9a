//! A PodDisruptionBudget keeping all but one pod up during voluntary disruptions, only when
//! there is more than one replica (with one, it would block node drains) and the apiserver
//! serves `policy/v1`.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta;
use crate::consts::COMPONENT_SERVER;
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

pub(super) fn build(feed: &ValidatedFeed) -> Option<PodDisruptionBudget> {
    if feed.replicas <= 1 || !feed.pdb_supported {
        return None;
    }
    Some(PodDisruptionBudget {
        metadata: meta(feed, names::workload(&feed.feed), COMPONENT_SERVER),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(names::selector_labels(&feed.feed)),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
