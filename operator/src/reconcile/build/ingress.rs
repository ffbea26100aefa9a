//! The Ingress: one `pathType: Prefix` path for the feed's prefix, forwarded unchanged (the feed
//! server serves under its path base), so every URL the feed emits lies under the service
//! index's directory and NuGet's PreAuthenticate keeps working (NuGet/Home#12514).

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::meta;
use crate::consts::{COMPONENT_SERVER, SERVER_PORT_NAME};
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

pub(super) fn build(feed: &ValidatedFeed) -> Option<Ingress> {
    let plan = feed.ingress.as_ref()?;
    let mut metadata = meta(feed, names::workload(&feed.feed), COMPONENT_SERVER);
    if !plan.annotations.is_empty() {
        metadata.annotations = Some(plan.annotations.clone());
    }
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: plan.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(plan.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(feed.path_base.clone()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: names::workload(&feed.feed),
                                port: Some(ServiceBackendPort {
                                    name: Some(SERVER_PORT_NAME.to_owned()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            tls: plan.tls_secret.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![plan.host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            default_backend: None,
        }),
        ..Ingress::default()
    })
}
