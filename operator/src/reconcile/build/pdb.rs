//! A PodDisruptionBudget keeping all but one pod up during voluntary disruptions, only when
//! there is more than one replica (with one, it would block node drains) and the apiserver
//! serves `policy/v1`.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::metadata::meta;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::fixtures::{
        AZURE_HA, EXAMPLE, counter, deref_for, feed, to_json, validated,
    };
    use crate::reconcile::validate;
    use crate::settings::Settings;

    /// A PDB with one replica would block node drains forever.
    #[test]
    fn pdb_only_with_more_than_one_replica() {
        assert!(build(&validated(EXAMPLE)).is_none());
        let pdb = to_json(&build(&validated(AZURE_HA)).unwrap());
        assert_eq!(pdb["spec"]["maxUnavailable"], json!(1));
        let f = feed(AZURE_HA);
        let settings = Settings {
            pdb_supported: false,
            ..Settings::default()
        };
        let v = validate::validate(&f, &deref_for(&f), &settings, &mut counter()).unwrap();
        assert!(build(&v).is_none());
    }
}
