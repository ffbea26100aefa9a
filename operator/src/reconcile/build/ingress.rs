//! The Ingress: one `pathType: Prefix` path for the feed's prefix, forwarded unchanged (the feed
//! server serves under its path base), so every URL the feed emits lies under the service
//! index's directory and NuGet's PreAuthenticate keeps working (NuGet/Home#12514).

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::metadata::meta;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::dereference::Dereferenced;
    use crate::reconcile::fixtures::{AZURE_HA, EXAMPLE, counter, feed, to_json, validated};
    use crate::reconcile::validate;
    use crate::settings::Settings;

    /// No rewrite: the feed server serves under its path base, so the Ingress forwards the
    /// prefix unchanged (PreAuthenticate, NuGet/Home#12514).
    #[test]
    fn ingress_is_a_plain_prefix_path_without_rewrite() {
        let i = to_json(&build(&validated(EXAMPLE)).unwrap());
        let path = &i["spec"]["rules"][0]["http"]["paths"][0];
        assert_eq!(path["path"], json!("/team-a/main"));
        assert_eq!(path["pathType"], json!("Prefix"));
        assert_eq!(i["spec"]["rules"][0]["host"], json!("nuget.example.com"));
        // Unstamped, the Ingress has no annotations at all unless the spec adds some.
        let annotations = i["metadata"]["annotations"].as_object();
        assert!(
            annotations
                .into_iter()
                .flatten()
                .all(|(k, _)| !k.contains("rewrite"))
        );
    }

    #[test]
    fn tls_issuer_class_and_annotations_reach_the_ingress() {
        let i = to_json(&build(&validated(AZURE_HA)).unwrap());
        assert_eq!(i["spec"]["ingressClassName"], json!("nginx"));
        assert_eq!(i["spec"]["tls"][0]["secretName"], json!("public-tls"));
        assert_eq!(
            i["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            json!("letsencrypt")
        );
        assert_eq!(
            i["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"],
            json!("300m")
        );
    }

    /// Platform defaults from the operator's flags apply when the spec is silent.
    #[test]
    fn platform_defaults_fill_host_class_and_issuer() {
        let f = feed(
            r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: u1}
spec: {storage: {gcs: {bucket: feeds}}}
"#,
        );
        let settings = Settings {
            default_host: Some("nuget.corp.example".into()),
            default_ingress_class: Some("traefik".into()),
            default_tls_issuer: Some("corp-ca".into()),
            ..Settings::default()
        };
        let v =
            validate::validate(&f, &Dereferenced::default(), &settings, &mut counter()).unwrap();
        assert_eq!(v.url(), "https://nuget.corp.example/team-a/main/index.json");
        assert_eq!(v.web_url(), "https://nuget.corp.example/team-a/main/");
        let i = to_json(&build(&v).unwrap());
        assert_eq!(i["spec"]["ingressClassName"], json!("traefik"));
        assert_eq!(
            i["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            json!("corp-ca")
        );
        assert_eq!(v.storage.url, "gs://feeds/team-a/main");
    }

    #[test]
    fn without_a_host_there_is_no_ingress_and_the_url_is_in_cluster() {
        let f = feed(
            r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: u1}
spec: {storage: {volume: {claimName: data}}}
"#,
        );
        let v = validate::validate(
            &f,
            &Dereferenced::default(),
            &Settings::default(),
            &mut counter(),
        )
        .unwrap();
        assert_eq!(v.url(), "http://main.team-a.svc/team-a/main/index.json");
        assert!(build(&v).is_none());
    }
}
