//! Plain `#[test]`s of the pure steps (`validate`, `build`), golden manifests, the CRD's CEL
//! rules (run in process by kube's `cel` feature) and the `crds/` drift check.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;
use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::build::{self, Prepared, Resources};
use super::dereference::{Dereferenced, GeneratedSecret, Lookup, Route, SecretSummary};
use super::validate::{self, Error, ValidatedFeed};
use crate::crd::NuGetFeed;
use crate::settings::Settings;

const EXAMPLE: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: 7b0c5b1e-0000-4000-8000-000000000001, generation: 1}
spec:
  storage: {s3: {bucket: feeds, region: eu-west-1, credentialsSecret: feed-s3}}
  ingress: {host: nuget.example.com}
"#;

const VOLUME_TOKENS: &str = r#"
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

const AZURE_HA: &str = r#"
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

fn feed(yaml: &str) -> NuGetFeed {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn counter() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("generated-{n}")
    }
}

fn summary(name: &str, keys: &[&str]) -> Lookup {
    Lookup::Found(SecretSummary {
        name: name.to_owned(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        data_hash: "h1".to_owned(),
    })
}

/// What `dereference` finds for the fixtures: every credentials Secret present and complete.
fn deref_for(f: &NuGetFeed) -> Dereferenced {
    let credentials = if f.spec.storage.s3.is_some() {
        summary("feed-s3", &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    } else if f.spec.storage.azure.is_some() {
        summary("azure-key", &["AZURE_STORAGE_ACCOUNT_KEY"])
    } else {
        Lookup::NotReferenced
    };
    Dereferenced {
        credentials,
        ..Dereferenced::default()
    }
}

fn validated(yaml: &str) -> ValidatedFeed {
    let f = feed(yaml);
    validate::validate(&f, &deref_for(&f), &Settings::default(), &mut counter()).unwrap()
}

fn built(yaml: &str) -> Resources<Prepared> {
    build::build(&validated(yaml)).unwrap()
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn secret_text(s: &Secret, key: &str) -> String {
    String::from_utf8(s.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

// ---- golden manifests -------------------------------------------------------------------

/// The manifests `render` prints for representative specs. Review `.snap` diffs like code.
#[test]
fn golden_manifests() {
    for (name, yaml) in [
        ("s3_example", EXAMPLE),
        ("volume_tokens", VOLUME_TOKENS),
        ("azure_ha", AZURE_HA),
    ] {
        let out = built(yaml).to_yaml().unwrap();
        insta::assert_snapshot!(name, out);
    }
}

/// `crds/` is what `nuget-operator crd` prints; regenerate with
/// `cargo run -p nuget-operator -- crd > crds/nugetfeeds.nuget-operator.io.yaml`.
#[test]
fn committed_crd_matches_the_rust_types() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crds/nugetfeeds.nuget-operator.io.yaml"
    );
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        committed == crate::crd::crd_yaml().unwrap(),
        "crds/ is stale: run `cargo run -p nuget-operator -- crd > crds/nugetfeeds.nuget-operator.io.yaml`"
    );
}

// ---- builders ---------------------------------------------------------------------------

/// Restricted Pod Security: without these the pods are refused in namespaces enforcing
/// `restricted`.
#[test]
fn deployment_meets_restricted_pod_security() {
    let r = built(EXAMPLE);
    let pod = to_json(&r.deployment)["spec"]["template"]["spec"].clone();
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
    // A read-only root needs a writable temp folder, which the config points at.
    assert!(
        c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/tmp")
    );
    assert!(r.config_map.data.as_ref().unwrap()["config.yaml"].contains("temp_dir: /tmp\n"));
}

/// The feed server's health endpoints are at the root, not under the path base.
#[test]
fn probes_hit_the_root_health_endpoints() {
    let c =
        to_json(&built(EXAMPLE).deployment)["spec"]["template"]["spec"]["containers"][0].clone();
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], json!("/healthz"));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], json!("/readyz"));
    assert_eq!(c["ports"][0]["containerPort"], json!(5000));
}

/// The pod mounts only hashes: a plaintext key in the pod would leak through any file read.
#[test]
fn pod_mounts_hashed_keys_never_the_plaintext_secret() {
    let r = built(VOLUME_TOKENS);
    let pod = to_json(&r.deployment)["spec"]["template"]["spec"].clone();
    let secrets: Vec<&str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["secret"]["secretName"].as_str())
        .collect();
    assert_eq!(secrets, vec!["internal-auth"]);
    let keys_file = secret_text(&r.auth, "api-keys.yaml");
    let plain = secret_text(&r.api_keys, "ci");
    assert!(!keys_file.contains(&plain));
    assert!(keys_file.contains(&nuget_feed_config::KeyHash::of(&plain).to_hex()));
    let tokens_file = secret_text(&r.auth, "read-tokens.txt");
    let devs = secret_text(r.read_tokens.as_ref().unwrap(), "devs");
    let devs_hash = nuget_feed_config::KeyHash::of(&devs).to_hex();
    assert!(tokens_file.contains(&format!("sha256:{devs_hash}")));
}

/// Changing a key (rotation) or the config must change the pod template, or the pods keep
/// the old files.
#[test]
fn config_hash_changes_with_keys_and_config() {
    let f = feed(EXAMPLE);
    let hash = |r: &Resources<Prepared>| {
        to_json(&r.deployment)["spec"]["template"]["metadata"]["annotations"]["nuget-operator.io/config-hash"].clone()
    };
    let a = build::build(
        &validate::validate(&f, &deref_for(&f), &Settings::default(), &mut counter()).unwrap(),
    )
    .unwrap();
    let mut other_keys = || "another".to_owned();
    let b = build::build(
        &validate::validate(&f, &deref_for(&f), &Settings::default(), &mut other_keys).unwrap(),
    )
    .unwrap();
    assert_ne!(hash(&a), hash(&b));
    let mut g = f.clone();
    g.spec.max_package_size = Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
        "1Mi".into(),
    ));
    let c = build::build(
        &validate::validate(&g, &deref_for(&g), &Settings::default(), &mut counter()).unwrap(),
    )
    .unwrap();
    assert_ne!(hash(&a), hash(&c));
}

/// No rewrite: the feed server serves under its path base, so the Ingress forwards the
/// prefix unchanged (PreAuthenticate, NuGet/Home#12514).
#[test]
fn ingress_is_a_plain_prefix_path_without_rewrite() {
    let r = built(EXAMPLE);
    let i = to_json(r.ingress.as_ref().unwrap());
    let path = &i["spec"]["rules"][0]["http"]["paths"][0];
    assert_eq!(path["path"], json!("/team-a/main"));
    assert_eq!(path["pathType"], json!("Prefix"));
    assert_eq!(i["spec"]["rules"][0]["host"], json!("nuget.example.com"));
    let annotations = i["metadata"]["annotations"].as_object().unwrap();
    assert!(annotations.keys().all(|k| !k.contains("rewrite")));
    let config = &r.config_map.data.as_ref().unwrap()["config.yaml"];
    assert!(config.contains("public_base_url: http://nuget.example.com/team-a/main\n"));
    assert!(config.contains("path_base: /team-a/main\n"));
}

#[test]
fn tls_issuer_class_and_annotations_reach_the_ingress() {
    let r = built(AZURE_HA);
    let i = to_json(r.ingress.as_ref().unwrap());
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
    assert!(
        r.config_map.data.as_ref().unwrap()["config.yaml"]
            .contains("public_base_url: https://packages.example.org/nuget\n")
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
    let v = validate::validate(&f, &Dereferenced::default(), &settings, &mut counter()).unwrap();
    assert_eq!(v.url(), "https://nuget.corp.example/team-a/main/index.json");
    let i = to_json(build::build(&v).unwrap().ingress.as_ref().unwrap());
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
    assert!(build::build(&v).unwrap().ingress.is_none());
}

/// SSA merges Service ports by port and protocol; an apply without protocol is refused by
/// some apiservers.
#[test]
fn service_ports_name_their_protocol() {
    let s = to_json(&built(EXAMPLE).service);
    assert_eq!(s["spec"]["ports"][0]["protocol"], json!("TCP"));
    assert_eq!(s["spec"]["ports"][0]["targetPort"], json!("http"));
}

#[test]
fn service_account_mounts_no_token_and_carries_identity_annotations() {
    let sa = to_json(&built(AZURE_HA).service_account);
    assert_eq!(sa["automountServiceAccountToken"], json!(false));
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        json!("abc")
    );
}

/// A PDB with one replica would block node drains forever.
#[test]
fn pdb_only_with_more_than_one_replica() {
    assert!(built(EXAMPLE).pdb.is_none());
    let pdb = to_json(built(AZURE_HA).pdb.as_ref().unwrap());
    assert_eq!(pdb["spec"]["maxUnavailable"], json!(1));
    let f = feed(AZURE_HA);
    let settings = Settings {
        pdb_supported: false,
        ..Settings::default()
    };
    let v = validate::validate(&f, &deref_for(&f), &settings, &mut counter()).unwrap();
    assert!(build::build(&v).unwrap().pdb.is_none());
}

#[test]
fn network_policy_is_optional_and_admits_only_the_given_peers() {
    assert!(built(EXAMPLE).network_policy.is_none());
    let np = to_json(built(AZURE_HA).network_policy.as_ref().unwrap());
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], json!(5000));
    assert_eq!(
        np["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        json!("ingress-nginx")
    );
}

/// Every child is controlled by the feed (garbage collection, pruning) and labelled (watches).
#[test]
fn every_child_has_owner_and_labels() {
    let yaml = built(AZURE_HA).to_yaml().unwrap();
    for doc in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        let meta = &v["metadata"];
        assert_eq!(
            meta["ownerReferences"][0]["controller"],
            json!(true),
            "{}",
            meta["name"]
        );
        assert_eq!(meta["ownerReferences"][0]["kind"], json!("NuGetFeed"));
        assert_eq!(
            meta["labels"]["app.kubernetes.io/managed-by"],
            json!("nuget-operator")
        );
        assert_eq!(
            meta["labels"]["app.kubernetes.io/instance"],
            json!("public")
        );
        assert_eq!(meta["namespace"], json!("oss"));
    }
}

#[test]
fn storage_options_follow_object_store_names() {
    let v = validated(EXAMPLE);
    assert_eq!(v.storage.url, "s3://feeds/team-a/main");
    assert_eq!(v.storage.options["aws_region"], "eu-west-1");
    let f = feed(
        r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: u1}
spec: {storage: {s3: {bucket: feeds, prefix: shared/x, endpoint: "http://minio:9000", pathStyle: true}}}
"#,
    );
    let v = validate::validate(
        &f,
        &Dereferenced::default(),
        &Settings::default(),
        &mut counter(),
    )
    .unwrap();
    assert_eq!(v.storage.url, "s3://feeds/shared/x");
    assert_eq!(v.storage.options["aws_endpoint"], "http://minio:9000");
    assert_eq!(v.storage.options["aws_allow_http"], "true");
    assert_eq!(
        v.storage.options["aws_virtual_hosted_style_request"],
        "false"
    );
    let azure = validated(AZURE_HA);
    assert_eq!(azure.storage.url, "az://feeds/oss/public");
    assert_eq!(azure.storage.options["azure_storage_account_name"], "oss");
}

// ---- validate -----------------------------------------------------------------------------

fn invalid(f: &NuGetFeed, deref: &Dereferenced) -> Error {
    validate::validate(f, deref, &Settings::default(), &mut counter()).unwrap_err()
}

#[test]
fn missing_credentials_secret_is_a_missing_reference() {
    let f = feed(EXAMPLE);
    let deref = Dereferenced {
        credentials: Lookup::Missing("feed-s3".into()),
        ..Dereferenced::default()
    };
    let e = invalid(&f, &deref);
    assert_eq!(e, Error::MissingCredentialsSecret("feed-s3".into()));
    assert_eq!(e.category(), "MissingReference");
    assert!(e.recheck_later());
    let deref = Dereferenced {
        credentials: summary("feed-s3", &["AWS_ACCESS_KEY_ID"]),
        ..Dereferenced::default()
    };
    assert_eq!(
        invalid(&f, &deref).to_string(),
        "storage credentials Secret `feed-s3` has no key `AWS_SECRET_ACCESS_KEY`"
    );
}

/// The older feed keeps a contested prefix; the newer one is told which feed holds it.
#[test]
fn path_prefix_clash_on_the_same_host_is_refused() {
    let mut f = feed(EXAMPLE);
    f.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2025-01-02T00:00:00Z".parse().unwrap(),
    ));
    let mut deref = deref_for(&f);
    deref.routes = vec![Route {
        namespace: "team-x".into(),
        name: "squatter".into(),
        host: Some("nuget.example.com".into()),
        path_prefix: "/team-a".into(),
        created: Some("2025-01-01T00:00:00Z".into()),
    }];
    let e = invalid(&f, &deref);
    assert_eq!(e.category(), "PathPrefixClash");
    assert!(e.to_string().contains("team-x/squatter"), "{e}");
    // Another host, or a younger feed, does not block.
    deref.routes[0].host = Some("other.example.com".into());
    assert!(validate::validate(&f, &deref, &Settings::default(), &mut counter()).is_ok());
    deref.routes[0].host = Some("nuget.example.com".into());
    deref.routes[0].created = Some("2025-02-01T00:00:00Z".into());
    assert!(validate::validate(&f, &deref, &Settings::default(), &mut counter()).is_ok());
    // Siblings (/team-a/main vs /team-a/mainline) do not clash.
    deref.routes[0].created = Some("2025-01-01T00:00:00Z".into());
    deref.routes[0].path_prefix = "/team-a/mainline".into();
    assert!(validate::validate(&f, &deref, &Settings::default(), &mut counter()).is_ok());
}

#[test]
fn bad_values_are_refused_with_clear_messages() {
    let base = feed(EXAMPLE);
    let d = deref_for(&base);
    let mut f = base.clone();
    f.spec.replicas = 2;
    f.spec.storage = crate::crd::FeedStorage {
        volume: Some(crate::crd::VolumeStorage {
            claim_name: "data".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        invalid(&f, &Dereferenced::default()),
        Error::VolumeReplicas(2)
    );
    let mut f = base.clone();
    f.spec.storage.gcs = Some(crate::crd::GcsStorage {
        bucket: "x12".into(),
        ..Default::default()
    });
    assert_eq!(invalid(&f, &d), Error::StorageNotExactlyOne);
    let mut f = base.clone();
    f.spec.max_package_size = Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
        "lots".into(),
    ));
    assert!(matches!(invalid(&f, &d), Error::BadMaxPackageSize(_)));
    let mut f = base.clone();
    f.spec.ingress.as_mut().unwrap().path_prefix = Some("/a/../b".into());
    assert!(matches!(invalid(&f, &d), Error::BadIngress(_)));
    let mut f = base.clone();
    f.spec.api_keys.push(f.spec.api_keys[0].clone());
    assert!(invalid(&f, &d).to_string().contains("appears twice"));
    let mut f = base.clone();
    f.metadata.name = Some("x".repeat(60));
    assert!(matches!(invalid(&f, &d), Error::BadName(_)));
}

/// Package patterns are the feed server's globs: the operator accepts what the server accepts
/// (`*` anywhere) and refuses, with an InvalidSpec condition naming the pattern, what the server
/// would refuse at start-up. Before they shared a parser, `*.Json` passed here and crash-looped
/// the pods.
#[test]
fn api_key_patterns_are_the_feed_servers_globs() {
    let base = feed(EXAMPLE);
    let d = deref_for(&base);
    let mut f = base.clone();
    f.spec.api_keys[0].packages = vec!["*.Json".into(), "Contoso.*.Core".into()];
    let v = validate::validate(&f, &d, &Settings::default(), &mut counter()).unwrap();
    assert!(v.api_keys[0].packages[0].matches("Newtonsoft.Json"));
    assert!(v.api_keys[0].packages[1].matches("contoso.lib.core"));
    for bad in ["Contoso.?", "a b", ""] {
        let mut f = base.clone();
        f.spec.api_keys[0].packages = vec!["Contoso.*".into(), bad.into()];
        let err = invalid(&f, &d);
        assert_eq!(err.category(), crate::consts::REASON_INVALID_SPEC);
        let message = err.to_string();
        assert!(
            message.starts_with("spec.apiKeys[default].packages: package pattern")
                && message.contains(&format!("`{bad}`")),
            "{message}"
        );
    }
}

/// Generated keys are never rewritten: rewriting would lock out every client using them.
#[test]
fn existing_keys_are_kept_missing_ones_generated_stale_ones_removed() {
    let f = feed(VOLUME_TOKENS);
    let deref = Dereferenced {
        api_keys: Some(GeneratedSecret {
            entries: BTreeMap::from([("ci".into(), "old-ci".into()), ("gone".into(), "x".into())]),
            resource_version: Some("42".into()),
            controlled: true,
        }),
        ..Dereferenced::default()
    };
    let v = validate::validate(&f, &deref, &Settings::default(), &mut counter()).unwrap();
    assert_eq!(v.api_key_secret.entries["ci"], "old-ci");
    assert_eq!(v.api_key_secret.created, vec!["admin".to_owned()]);
    assert_eq!(v.api_key_secret.stale, vec!["gone".to_owned()]);
    assert!(v.api_key_secret.exists);
    assert_eq!(v.api_key_secret.resource_version.as_deref(), Some("42"));
    // Up to date: nothing to write.
    let deref = Dereferenced {
        api_keys: Some(GeneratedSecret {
            entries: v.api_key_secret.entries.clone(),
            resource_version: Some("43".into()),
            controlled: true,
        }),
        ..Dereferenced::default()
    };
    let v = validate::validate(&f, &deref, &Settings::default(), &mut counter()).unwrap();
    assert!(!v.api_key_secret.needs_write());
    // A tenant's own Secret of that name is never taken over.
    let deref = Dereferenced {
        api_keys: Some(GeneratedSecret {
            controlled: false,
            ..GeneratedSecret::default()
        }),
        ..Dereferenced::default()
    };
    assert_eq!(
        invalid(&f, &deref),
        Error::ForeignSecret("internal-api-keys".into())
    );
}

#[test]
fn quantities_parse_to_bytes() {
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    let q = |s: &str| validate::parse_quantity(&Quantity(s.into()));
    assert_eq!(q("250Mi"), Some(250 * 1024 * 1024));
    assert_eq!(q("1G"), Some(1_000_000_000));
    assert_eq!(q("1024"), Some(1024));
    assert_eq!(q("1e3"), Some(1000));
    assert_eq!(q("1.5Ki"), Some(1536));
    assert_eq!(q("ten"), None);
    assert_eq!(q("5Q"), None);
}

// ---- CEL rules, run in process -------------------------------------------------------------

fn cel(obj: &Value, old: Option<&Value>) -> Result<(), String> {
    let crd = NuGetFeed::crd();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    kube::core::cel::Validator::new()
        .validate(&schema, obj, old)
        .map_err(|e| format!("{e:?}"))
}

fn as_json(yaml: &str) -> Value {
    serde_yaml_ng::from_str(yaml).unwrap()
}

#[test]
fn cel_accepts_the_examples() {
    for yaml in [EXAMPLE, VOLUME_TOKENS, AZURE_HA] {
        let v = to_json(&feed(yaml));
        cel(&v, None).unwrap();
    }
}

#[test]
fn cel_requires_exactly_one_storage_backend() {
    let mut v = as_json(EXAMPLE);
    v["spec"]["storage"]["gcs"] = json!({"bucket": "other"});
    assert!(cel(&v, None).unwrap_err().contains("exactly one"));
    v["spec"]["storage"] = json!({});
    assert!(cel(&v, None).unwrap_err().contains("exactly one"));
}

#[test]
fn cel_limits_volume_storage_to_one_replica_and_no_purge() {
    let mut v = as_json(VOLUME_TOKENS);
    v["spec"]["replicas"] = json!(2);
    assert!(cel(&v, None).unwrap_err().contains("single replica"));
    let mut v = as_json(VOLUME_TOKENS);
    v["spec"]["deletionPolicy"] = json!("Purge");
    assert!(cel(&v, None).unwrap_err().contains("Purge"));
}

/// Every client's source URL contains the prefix: changing it would break them all.
#[test]
fn cel_keeps_the_path_prefix_immutable() {
    let old = as_json(AZURE_HA);
    let mut new = old.clone();
    new["spec"]["ingress"]["pathPrefix"] = json!("/moved");
    assert!(cel(&new, Some(&old)).unwrap_err().contains("immutable"));
    let mut same = old.clone();
    same["spec"]["replicas"] = json!(2);
    cel(&same, Some(&old)).unwrap();
}

#[test]
fn cel_rejects_two_issuers_and_token_mode_without_tokens() {
    let mut v = as_json(AZURE_HA);
    v["spec"]["ingress"]["tls"]["issuer"] = json!("local");
    assert!(cel(&v, None).unwrap_err().contains("at most one"));
    let mut v = as_json(EXAMPLE);
    v["spec"]["readAccess"] = json!({"mode": "Token", "tokens": []});
    assert!(cel(&v, None).unwrap_err().contains("at least one"));
}

#[test]
fn crd_has_printer_columns_short_name_and_descriptions() {
    let crd = serde_json::to_value(NuGetFeed::crd()).unwrap();
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["nf"]));
    let cols: BTreeSet<String> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        cols,
        BTreeSet::from(["Ready".into(), "URL".into(), "Age".into()])
    );
    // `kubectl explain` needs a description on every field of the spec.
    fn walk(path: &str, schema: &Value, missing: &mut Vec<String>) {
        if let Some(props) = schema["properties"].as_object() {
            for (k, v) in props {
                let p = format!("{path}.{k}");
                if v["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(p.clone());
                }
                walk(&p, v, missing);
                walk(&p, &v["items"], missing);
            }
        }
    }
    let mut missing = Vec::new();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    walk("spec", spec, &mut missing);
    assert!(
        missing.is_empty(),
        "fields without description: {missing:?}"
    );
}
