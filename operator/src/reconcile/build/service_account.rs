//! The feed's ServiceAccount: an identity for cloud workload identity annotations, with no API
//! token mounted (the feed server never calls the Kubernetes API).

use k8s_openapi::api::core::v1::ServiceAccount;

use super::metadata::meta;
use crate::consts::COMPONENT_SERVER;
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

pub(super) fn build(feed: &ValidatedFeed) -> ServiceAccount {
    let mut metadata = meta(feed, names::workload(&feed.feed), COMPONENT_SERVER);
    if !feed.service_account_annotations.is_empty() {
        metadata.annotations = Some(feed.service_account_annotations.clone());
    }
    ServiceAccount {
        metadata,
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::fixtures::{AZURE_HA, to_json, validated};

    #[test]
    fn service_account_mounts_no_token_and_carries_identity_annotations() {
        let sa = to_json(&build(&validated(AZURE_HA)));
        assert_eq!(sa["automountServiceAccountToken"], json!(false));
        assert_eq!(
            sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
            json!("abc")
        );
    }
}
