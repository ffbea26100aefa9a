//! The feed server's Deployment: restricted Pod Security (non-root, read-only root filesystem,
//! no capabilities, RuntimeDefault seccomp, no service-account token), probes on the server's
//! root health endpoints, and a pod-template hash of config and key material so changes roll.
//! Tenant credentials reach the pod only as environment references or read-only files mounted
//! from their Secrets; the operator never copies a value.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    HTTPGetAction, KeyToPath, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ProjectedVolumeSource, SeccompProfile, SecretProjection,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::metadata::meta;
use crate::consts::{
    ANNOTATION_CONFIG_HASH, AUTH_DIR, COMPONENT_SERVER, CONFIG_DIR, CONFIG_FILE_KEY, DATA_DIR,
    ENV_CONFIG, GCS_CREDENTIALS_DIR, LIVENESS_PATH, READINESS_PATH, RUN_AS_USER, SERVER_PORT,
    SERVER_PORT_NAME, TMP_DIR, UPSTREAM_CREDENTIALS_DIR,
};
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

const CONTAINER: &str = "feed-server";

pub(super) fn build(feed: &ValidatedFeed, config_hash: &str) -> Deployment {
    let mut env = vec![EnvVar {
        name: ENV_CONFIG.to_owned(),
        value: Some(format!("{CONFIG_DIR}/{CONFIG_FILE_KEY}")),
        ..EnvVar::default()
    }];
    env.extend(feed.storage.env.iter().cloned());

    let mut volumes = vec![
        Volume {
            name: "config".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: names::config_map(&feed.feed),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "auth".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(names::auth_secret(&feed.feed)),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        mount("config", CONFIG_DIR, true),
        mount("auth", AUTH_DIR, true),
        mount("tmp", TMP_DIR, false),
    ];
    if let Some(claim) = &feed.storage.claim {
        volumes.push(Volume {
            name: "data".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }),
            ..Volume::default()
        });
        mounts.push(mount("data", DATA_DIR, false));
    }
    if let Some(secret) = &feed.storage.gcs_secret {
        volumes.push(Volume {
            name: "gcs-credentials".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount("gcs-credentials", GCS_CREDENTIALS_DIR, true));
    }
    if let Some(volume) = upstream_credentials(feed) {
        volumes.push(volume);
        mounts.push(mount(
            UPSTREAM_CREDENTIALS_VOLUME,
            UPSTREAM_CREDENTIALS_DIR,
            true,
        ));
    }

    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(SERVER_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(5),
        ..Probe::default()
    };

    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(feed.image.clone()),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some(SERVER_PORT_NAME.to_owned()),
            container_port: SERVER_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe(LIVENESS_PATH, 10, 6)),
        readiness_probe: Some(probe(READINESS_PATH, 5, 3)),
        // Loading the index from object storage can take a while on a big feed.
        startup_probe: Some(probe(LIVENESS_PATH, 5, 60)),
        resources: Some(feed.resources.clone()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    let scheduling = &feed.scheduling;
    let pod = PodSpec {
        service_account_name: Some(names::workload(&feed.feed)),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            fs_group: Some(RUN_AS_USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        containers: vec![container],
        volumes: Some(volumes),
        node_selector: (!scheduling.node_selector.is_empty())
            .then(|| scheduling.node_selector.clone()),
        tolerations: (!scheduling.tolerations.is_empty()).then(|| scheduling.tolerations.clone()),
        affinity: scheduling.affinity.clone(),
        ..PodSpec::default()
    };

    Deployment {
        metadata: meta(feed, names::workload(&feed.feed), COMPONENT_SERVER),
        spec: Some(DeploymentSpec {
            replicas: Some(feed.replicas),
            selector: LabelSelector {
                match_labels: Some(names::selector_labels(&feed.feed)),
                match_expressions: None,
            },
            // A ReadWriteOnce volume cannot be attached to the old and the new pod at once.
            strategy: feed.storage.claim.as_ref().map(|_| DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names::pod_labels(&feed.feed)),
                    annotations: Some(BTreeMap::from([(
                        ANNOTATION_CONFIG_HASH.to_owned(),
                        config_hash.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

const UPSTREAM_CREDENTIALS_VOLUME: &str = "upstream-credentials";

/// One projected volume with exactly the Secret keys the upstreams name, each as a file named
/// after its upstream (the `secret_file` of the config), so the pod sees no other key of the
/// tenant's Secrets. None when no upstream has credentials.
fn upstream_credentials(feed: &ValidatedFeed) -> Option<Volume> {
    let sources: Vec<VolumeProjection> = feed
        .upstreams
        .secret_files
        .iter()
        .map(|(secret, files)| VolumeProjection {
            secret: Some(SecretProjection {
                name: secret.clone(),
                items: Some(
                    files
                        .iter()
                        .map(|f| KeyToPath {
                            key: f.key.clone(),
                            path: f.path.clone(),
                            mode: None,
                        })
                        .collect(),
                ),
                optional: None,
            }),
            ..VolumeProjection::default()
        })
        .collect();
    (!sources.is_empty()).then(|| Volume {
        name: UPSTREAM_CREDENTIALS_VOLUME.to_owned(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            default_mode: None,
        }),
        ..Volume::default()
    })
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::fixtures::{EXAMPLE, UPSTREAMS, VOLUME_TOKENS, to_json, validated};

    fn pod(yaml: &str) -> serde_json::Value {
        to_json(&build(&validated(yaml), "h"))["spec"]["template"]["spec"].clone()
    }

    /// Restricted Pod Security: without these the pods are refused in namespaces enforcing
    /// `restricted`.
    #[test]
    fn deployment_meets_restricted_pod_security() {
        let pod = pod(EXAMPLE);
        assert_eq!(pod["automountServiceAccountToken"], json!(false));
        assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            json!("RuntimeDefault")
        );
        let c = &pod["containers"][0];
        assert_eq!(
            c["securityContext"]["allowPrivilegeEscalation"],
            json!(false)
        );
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], json!(true));
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        // A read-only root needs a writable temp folder (the config points at it: see the
        // cross-child tests in `reconcile/tests.rs`).
        assert!(
            c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["mountPath"] == "/tmp")
        );
    }

    /// The feed server's health endpoints are at the root, not under the path base.
    #[test]
    fn probes_hit_the_root_health_endpoints() {
        let c = pod(EXAMPLE)["containers"][0].clone();
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], json!("/healthz"));
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], json!("/readyz"));
        assert_eq!(c["ports"][0]["containerPort"], json!(5000));
    }

    /// The pod mounts only hashes: a plaintext key in the pod would leak through any file
    /// read.
    #[test]
    fn pod_mounts_the_hashed_keys_never_the_plaintext_secret() {
        let pod = pod(VOLUME_TOKENS);
        let secrets: Vec<&str> = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["secret"]["secretName"].as_str())
            .collect();
        assert_eq!(secrets, vec!["internal-auth"]);
    }

    /// Upstream credentials are the named Secret keys mounted read-only as the files the
    /// config names; never an environment variable with the value, never the whole Secret.
    #[test]
    fn upstream_credentials_are_projected_read_only_files() {
        let pod = pod(UPSTREAMS);
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "upstream-credentials")
            .unwrap();
        assert_eq!(
            volume["projected"]["sources"],
            json!([{"secret": {"name": "upstream-creds", "items": [{"key": "password", "path": "private"}]}}])
        );
        let c = &pod["containers"][0];
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "upstream-credentials")
            .unwrap();
        assert_eq!(
            mount,
            &json!({"name": "upstream-credentials", "mountPath": "/var/run/secrets/nuget-feed/upstreams", "readOnly": true})
        );
        assert!(
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["valueFrom"]["secretKeyRef"]["name"] != "upstream-creds")
        );
        // No credentials, no volume.
        assert!(
            super::tests::pod(EXAMPLE)["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["name"] != "upstream-credentials")
        );
    }
}
