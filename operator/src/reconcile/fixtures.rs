//! Fixtures shared by the unit tests of the pipeline's steps: representative specs, and what
//! `dereference` would find for them.

use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

use crate::crd::NuGetFeed;
use crate::reconcile::dereference::{Dereferenced, Lookup, SecretSummary};
use crate::reconcile::validate::{self, ValidatedFeed};
use crate::settings::Settings;

pub const EXAMPLE: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: 7b0c5b1e-0000-4000-8000-000000000001, generation: 1}
spec:
  storage: {s3: {bucket: feeds, region: eu-west-1, credentialsSecret: feed-s3}}
  ingress: {host: nuget.example.com}
"#;

pub const VOLUME_TOKENS: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: internal, namespace: team-b, uid: 7b0c5b1e-0000-4000-8000-000000000002, generation: 3}
spec:
  image: registry.local/feed:dev
  storage: {volume: {claimName: internal-data}}
  apiKeys:
    - {name: ci, scopes: [push], packages: ["Contoso.*"]}
    - {name: admin}
  readAccess: {mode: Token, tokens: [devs, build]}
  maxPackageSize: 1Gi
  deleteMode: Delete
  scheduling:
    nodeSelector: {disk: ssd}
    tolerations: [{key: dedicated, operator: Equal, value: nuget, effect: NoSchedule}]
"#;

pub const AZURE_HA: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: public, namespace: oss, uid: 7b0c5b1e-0000-4000-8000-000000000003, generation: 2}
spec:
  replicas: 3
  storage: {azure: {account: oss, container: feeds, credentialsSecret: azure-key, endpoint: "http://azurite:10000/oss"}}
  ingress:
    host: packages.example.org
    pathPrefix: /nuget
    className: nginx
    tls: {clusterIssuer: letsencrypt}
    annotations: {nginx.ingress.kubernetes.io/proxy-body-size: 300m}
  serviceAccount: {annotations: {azure.workload.identity/client-id: abc}}
  networkPolicy:
    enabled: true
    ingressFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
  resources: {requests: {cpu: 200m, memory: 256Mi}}
"#;

/// Issue 13: nuget.org for public packages, a private upstream with Basic credentials from a
/// Secret, and the company's own prefix kept local.
pub const UPSTREAMS: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: proxy, namespace: team-c, uid: 7b0c5b1e-0000-4000-8000-000000000004, generation: 1}
spec:
  storage: {volume: {claimName: proxy-data}}
  localPackages: ["Contoso.*"]
  apiKeys:
    - {name: ci, scopes: [push, take_over], packages: ["Contoso.*"]}
  upstreams:
    - name: nuget-org
      url: https://api.nuget.org/v3/index.json
      timeoutSeconds: 30
      metadataTtlSeconds: 600
      maxConcurrency: 16
      vulnerabilityRefreshSeconds: 7200
      deny: ["Contoso.*"]
    - name: private
      url: https://pkgs.example.com/nuget/v3/index.json
      allow: ["Partner.*"]
      credentials:
        scheme: Basic
        username: ci
        secretRef: {name: upstream-creds, key: password}
"#;

pub fn feed(yaml: &str) -> NuGetFeed {
    serde_yaml_ng::from_str(yaml).unwrap()
}

pub fn counter() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("generated-{n}")
    }
}

pub fn summary(name: &str, keys: &[&str]) -> Lookup {
    Lookup::Found(SecretSummary {
        name: name.to_owned(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        data_hash: "h1".to_owned(),
    })
}

/// What `dereference` finds for the fixtures: every credentials Secret (storage and
/// upstreams) present and complete.
pub fn deref_for(f: &NuGetFeed) -> Dereferenced {
    let credentials = if f.spec.storage.s3.is_some() {
        summary("feed-s3", &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    } else if f.spec.storage.azure.is_some() {
        summary("azure-key", &["AZURE_STORAGE_ACCOUNT_KEY"])
    } else {
        Lookup::NotReferenced
    };
    let upstream_secrets = f
        .spec
        .upstreams
        .iter()
        .filter_map(|u| u.credentials.as_ref())
        .map(|c| {
            let name = &c.secret_ref.name;
            (name.clone(), summary(name, &[c.secret_ref.key.as_str()]))
        })
        .collect();
    Dereferenced {
        credentials,
        upstream_secrets,
        ..Dereferenced::default()
    }
}

pub fn validated(yaml: &str) -> ValidatedFeed {
    let f = feed(yaml);
    validate::validate(&f, &deref_for(&f), &Settings::default(), &mut counter()).unwrap()
}

pub fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

pub fn secret_text(s: &Secret, key: &str) -> String {
    String::from_utf8(s.data.as_ref().unwrap()[key].0.clone()).unwrap()
}
