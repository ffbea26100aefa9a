//! An optional NetworkPolicy: only the given peers (default: pods of the feed's namespace) may
//! reach the feed server's port. Egress stays open for object storage and upstream sources.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::metadata::meta;
use crate::consts::{COMPONENT_SERVER, SERVER_PORT};
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

pub(super) fn build(feed: &ValidatedFeed) -> Option<NetworkPolicy> {
    let spec = feed.network_policy.as_ref()?;
    let from = if spec.ingress_from.is_empty() {
        vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        }]
    } else {
        spec.ingress_from.clone()
    };
    Some(NetworkPolicy {
        metadata: meta(feed, names::workload(&feed.feed), COMPONENT_SERVER),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(names::selector_labels(&feed.feed)),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(SERVER_PORT)),
                    protocol: Some("TCP".to_owned()),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::fixtures::{AZURE_HA, EXAMPLE, to_json, validated};

    #[test]
    fn network_policy_is_optional_and_admits_only_the_given_peers() {
        assert!(build(&validated(EXAMPLE)).is_none());
        let np = to_json(&build(&validated(AZURE_HA)).unwrap());
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], json!(5000));
        assert_eq!(
            np["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            json!("ingress-nginx")
        );
    }
}
