//! Plain `#[test]`s of the pure steps (`validate`, `build`), golden manifests, the CRD's CEL
//! rules (run in process by kube's `cel` feature) and the `crds/` drift check.

use std::collections::{BTreeMap, BTreeSet};

use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::build::{self, Prepared, Resources};
use super::dereference::{Dereferenced, GeneratedSecret, Lookup, Route};
use super::fixtures::{
    AZURE_HA, EXAMPLE, UPSTREAMS, VOLUME_TOKENS, counter, deref_for, feed, summary, to_json,
    validated,
};
use super::validate::{self, Error};
use crate::crd::NuGetFeed;
use crate::settings::Settings;

mod trusted_publishers;
mod upstreams;

fn built(yaml: &str) -> Resources<Prepared> {
    build::build(&validated(yaml)).unwrap()
}

// ---- golden manifests -------------------------------------------------------------------

/// The manifests `render` prints for representative specs. Review `.snap` diffs like code.
#[test]
fn golden_manifests() {
    for (name, yaml) in [
        ("s3_example", EXAMPLE),
        ("volume_tokens", VOLUME_TOKENS),
        ("azure_ha", AZURE_HA),
        ("upstreams", UPSTREAMS),
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

// ---- builders (across children; each child's own tests are beside it in `build/`) ---------

/// The config file agrees with the children around it: the temp folder the read-only root
/// mounts, and the public URL and path base the Ingress serves.
#[test]
fn config_file_agrees_with_the_deployment_and_ingress() {
    let config = |yaml: &str| built(yaml).config_map.data.unwrap()["config.yaml"].clone();
    let example = config(EXAMPLE);
    assert!(example.contains("temp_dir: /tmp\n"));
    assert!(example.contains("public_base_url: http://nuget.example.com/team-a/main\n"));
    assert!(example.contains("path_base: /team-a/main\n"));
    assert!(config(AZURE_HA).contains("public_base_url: https://packages.example.org/nuget\n"));
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

/// Issue 17: feeds on one bucket and prefix, or with one prefix holding the other's, are
/// refused across namespaces; the senior feed keeps the location and is never flipped.
#[test]
fn storage_location_clash_is_refused_for_the_younger_feed() {
    let older = |ns: &str, name: &str, storage: &str| {
        let mut f = feed(&format!(
            "apiVersion: nuget-operator.io/v1alpha1\nkind: NuGetFeed\nmetadata: {{name: {name}, namespace: {ns}, uid: {ns}-{name}}}\nspec: {{storage: {storage}}}\n"
        ));
        f.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2025-01-01T00:00:00Z".parse().unwrap(),
        ));
        std::sync::Arc::new(f)
    };
    let mut wide = feed(EXAMPLE);
    wide.spec.storage.s3.as_mut().unwrap().prefix = Some("team-p".into());
    wide.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2025-02-01T00:00:00Z".parse().unwrap(),
    ));
    let victim = older(
        "team-p",
        "victim",
        "{s3: {bucket: feeds, credentialsSecret: feed-s3}}",
    );
    let mut deref = deref_for(&wide);
    deref.locations = super::location::holders(&wide, std::slice::from_ref(&victim));
    let e = invalid(&wide, &deref);
    assert_eq!(e.category(), "StorageLocationClash");
    assert!(e.recheck_later());
    assert_eq!(
        e.to_string(),
        "storage location s3://feeds/team-p overlaps NuGetFeed team-p/victim, which stores its data at s3://feeds/team-p/victim; choose another spec.storage prefix, bucket or claim (nothing of this feed was applied)"
    );
    // The older feed is not flipped by the newcomer.
    let wide = std::sync::Arc::new(wide);
    let deref = Dereferenced {
        locations: super::location::holders(&victim, std::slice::from_ref(&wide)),
        ..deref_for(&victim)
    };
    assert!(validate::validate(&victim, &deref, &Settings::default(), &mut counter()).is_ok());
    // Disjoint: a sibling prefix, or another bucket.
    let sibling = older("x", "y", "{s3: {bucket: feeds, prefix: team-p2}}");
    let other_bucket = older("x", "z", "{s3: {bucket: other, prefix: team-p}}");
    let deref = Dereferenced {
        locations: super::location::holders(&wide, &[sibling, other_bucket]),
        ..deref_for(&wide)
    };
    assert!(validate::validate(&wide, &deref, &Settings::default(), &mut counter()).is_ok());
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
    let q = |s: &str| validate::size_in_bytes(&Quantity(s.into()));
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
    for yaml in [EXAMPLE, VOLUME_TOKENS, AZURE_HA, UPSTREAMS] {
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

/// A username belongs to Basic credentials only; the apiserver says so at admission.
#[test]
fn cel_ties_the_upstream_username_to_scheme_basic() {
    let mut v = as_json(UPSTREAMS);
    v["spec"]["upstreams"][1]["credentials"]["scheme"] = json!("Bearer");
    assert!(cel(&v, None).unwrap_err().contains("username"));
    v["spec"]["upstreams"][1]["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("username");
    cel(&v, None).unwrap();
    v["spec"]["upstreams"][1]["credentials"]["scheme"] = json!("Basic");
    assert!(cel(&v, None).unwrap_err().contains("username"));
}

/// One kind per trusted publisher, said at admission (1.20 drops the rule; `validate` repeats it).
#[test]
fn cel_requires_exactly_one_kind_per_trusted_publisher() {
    let mut v = as_json(EXAMPLE);
    v["spec"]["trustedPublishers"] = json!([{"name": "p", "kubernetes": {"serviceAccount": "ci"}}]);
    cel(&v, None).unwrap();
    v["spec"]["trustedPublishers"][0]["github"] = json!({"repository": "a/b"});
    assert!(
        cel(&v, None)
            .unwrap_err()
            .contains("exactly one of kubernetes")
    );
    v["spec"]["trustedPublishers"] = json!([{"name": "p"}]);
    assert!(
        cel(&v, None)
            .unwrap_err()
            .contains("exactly one of kubernetes")
    );
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
        BTreeSet::from(["Ready".into(), "URL".into(), "Web".into(), "Age".into()])
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
