//! `spec.trustedPublishers` through `validate` and `build` (issue 14): the explicit policies
//! the feed server reads, the cluster's keys beside the config, and what is refused.

use std::path::PathBuf;

use nuget_feed_config::{FileConfig, GITHUB_ISSUER, GITLAB_ISSUER, JwksSource, Scope};
use serde_json::json;

use crate::consts::REASON_INVALID_SPEC;
use crate::reconcile::build;
use crate::reconcile::cluster_keys::ClusterKeys;
use crate::reconcile::dereference;
use crate::reconcile::fixtures::{counter, deref_for, feed, to_json};
use crate::reconcile::validate::{self, Error, ValidatedFeed};
use crate::settings::Settings;

/// One policy of each kind on the example feed (`team-a/main` on nuget.example.com).
const PUBLISHERS: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: 6f1c1e1e-0000-4000-8000-000000000001}
spec:
  storage: {s3: {bucket: feeds, credentialsSecret: feed-s3}}
  ingress: {host: nuget.example.com}
  temporaryKeyLifetimeSeconds: 900
  trustedPublishers:
    - name: ci-pod
      kubernetes: {serviceAccount: ci}
      packages: ["Contoso.*"]
    - name: other-ns
      kubernetes: {serviceAccount: builder, namespace: tekton}
      scopes: [push]
      maxTokenAgeSeconds: 600
    - name: gh
      github: {repository: contoso/lib, workflow: release.yml, ref: refs/heads/main, environment: release}
    - name: gl
      gitlab: {projectPath: contoso/lib, ref: main, issuer: "https://gitlab.contoso.com"}
      audience: nuget-feed
    - name: idp
      oidc:
        issuer: https://idp.example.com
        claims: {sub: "repo:contoso/*"}
        jwksUrl: https://idp.example.com/keys
"#;

fn cluster_keys(kid: &str) -> ClusterKeys {
    ClusterKeys {
        issuer: "https://kubernetes.default.svc".to_owned(),
        jwks: json!({"keys": [{"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"}]}).to_string(),
    }
}

/// A change to the fixture's JSON.
type Edit = dyn Fn(&mut serde_json::Value);

fn validate_with(edit: &Edit, keys: Option<ClusterKeys>) -> Result<ValidatedFeed, Error> {
    let mut v = to_json(&feed(PUBLISHERS));
    edit(&mut v);
    let f = serde_json::from_value(v).unwrap();
    let mut deref = deref_for(&f);
    deref.cluster_keys = keys;
    validate::validate(&f, &deref, &Settings::default(), &mut counter())
}

fn config(v: &ValidatedFeed) -> FileConfig {
    let cm = build::build(v).unwrap().config_map;
    FileConfig::parse(&cm.data.unwrap()["config.yaml"]).unwrap()
}

/// Every kind becomes the explicit form, read back by the feed server's own parser: the
/// cluster's issuer and key file for `kubernetes` (namespace defaulting to the feed's), the
/// shorthands' claims and issuers, and the feed's public URL as the audience unless one is given.
#[test]
fn every_kind_becomes_an_explicit_policy() {
    let file = config(&validate_with(&|_| {}, Some(cluster_keys("k1"))).unwrap());
    assert_eq!(file.temporary_key_lifetime_seconds, Some(900));
    let p = &file.trusted_publishers;
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ci-pod", "other-ns", "gh", "gl", "idp"]);
    let feed_url = "http://nuget.example.com/team-a/main";

    let pod = &p[0];
    assert_eq!(pod.issuer, "https://kubernetes.default.svc");
    assert_eq!(pod.audience.as_deref(), Some(feed_url));
    assert_eq!(
        pod.jwks,
        JwksSource::File(PathBuf::from("/etc/nuget-feed/config/cluster-jwks.json"))
    );
    assert!(pod.claims["sub"].matches("system:serviceaccount:team-a:ci"));
    assert!(!pod.claims["sub"].matches("system:serviceaccount:team-b:ci"));
    assert!(pod.allows(Scope::Push, "Contoso.Lib") && !pod.allows(Scope::Push, "Other"));
    assert_eq!(pod.max_token_age_seconds, 86_400);

    let other = &p[1];
    assert!(other.claims["sub"].matches("system:serviceaccount:tekton:builder"));
    assert_eq!(other.scopes, [Scope::Push]);
    assert_eq!(other.max_token_age_seconds, 600);

    let gh = &p[2];
    assert_eq!(gh.issuer, GITHUB_ISSUER);
    assert_eq!(gh.jwks, JwksSource::Discovery);
    assert!(
        gh.claims["job_workflow_ref"]
            .matches("contoso/lib/.github/workflows/release.yml@refs/heads/main")
    );
    assert_eq!(gh.claims["environment"].as_str(), "release");
    assert_eq!(gh.audience.as_deref(), Some(feed_url));

    let gl = &p[3];
    assert_eq!(gl.issuer, "https://gitlab.contoso.com");
    assert_ne!(gl.issuer, GITLAB_ISSUER);
    assert_eq!(gl.audience.as_deref(), Some("nuget-feed"));
    assert_eq!(gl.claims["project_path"].as_str(), "contoso/lib");

    let idp = &p[4];
    assert_eq!(idp.issuer, "https://idp.example.com");
    assert_eq!(
        idp.jwks,
        JwksSource::Url("https://idp.example.com/keys".into())
    );
    assert!(idp.claims["sub"].matches("repo:contoso/lib"));
}

/// The cluster's keys sit beside the config in the ConfigMap; a rotation changes the
/// ConfigMap (so it is written) but not the pod template (the feed server re-reads the file,
/// no pod restarts). Without a `kubernetes` policy there is no key file at all.
#[test]
fn cluster_keys_go_into_the_config_map_without_rolling_the_pods() {
    let built = |kid: &str| {
        build::build(&validate_with(&|_| {}, Some(cluster_keys(kid))).unwrap()).unwrap()
    };
    let (a, b) = (built("k1"), built("k2"));
    let data = a.config_map.data.clone().unwrap();
    assert_eq!(data["cluster-jwks.json"], cluster_keys("k1").jwks);
    assert_ne!(a.config_map, b.config_map);
    let hash = |r: &build::Resources<build::Prepared>| {
        to_json(&r.deployment)["spec"]["template"]["metadata"]["annotations"]
            ["nuget-operator.io/config-hash"]
            .clone()
    };
    assert_eq!(hash(&a), hash(&b));

    let without = validate_with(
        &|v| {
            v["spec"]["trustedPublishers"] =
                json!([{"name": "gh", "github": {"repository": "contoso/lib"}}])
        },
        Some(cluster_keys("k1")),
    )
    .unwrap();
    assert_eq!(without.trusted_publishers.cluster_keys, None);
    let cm = build::build(&without).unwrap().config_map;
    assert!(!cm.data.unwrap().contains_key("cluster-jwks.json"));
}

/// `nuget-operator render` has no cluster: it asks for the keys only when a policy is
/// `kubernetes`, and writes the usual issuer with an empty key set.
#[test]
fn render_writes_a_placeholder_issuer_and_no_keys() {
    let f = feed(PUBLISHERS);
    let offline = dereference::offline(&f);
    assert_eq!(offline.cluster_keys, Some(ClusterKeys::offline()));
    let v = validate::validate(&f, &offline, &Settings::default(), &mut counter()).unwrap();
    let file = config(&v);
    assert_eq!(
        file.trusted_publishers[0].issuer,
        "https://kubernetes.default.svc.cluster.local"
    );
    let mut plain = f.clone();
    plain
        .spec
        .trusted_publishers
        .retain(|p| p.kubernetes.is_none());
    assert_eq!(dereference::offline(&plain).cluster_keys, None);
}

/// A policy the feed server would refuse is a condition naming the policy and the fix, never
/// a config that keeps the pods from starting.
#[test]
fn bad_policies_are_refused_naming_the_policy() {
    let cases: [(&Edit, &str); 9] = [
        (
            &|v| v["spec"]["trustedPublishers"][2]["kubernetes"] = json!({"serviceAccount": "x"}),
            "spec.trustedPublishers[gh]: set exactly one of kubernetes, github, gitlab or oidc",
        ),
        (
            &|v| {
                v["spec"]["trustedPublishers"][4]
                    .as_object_mut()
                    .unwrap()
                    .remove("oidc");
            },
            "spec.trustedPublishers[idp]: set exactly one",
        ),
        (
            &|v| v["spec"]["trustedPublishers"][4]["oidc"]["claims"] = json!({}),
            "spec.trustedPublishers[idp]: `claims` is empty",
        ),
        (
            &|v| v["spec"]["trustedPublishers"][4]["oidc"]["claims"] = json!({"aud": "x"}),
            "spec.trustedPublishers[idp]: claim `aud` is checked by the server itself",
        ),
        (
            &|v| {
                v["spec"]["trustedPublishers"][4]["oidc"]["jwksUrl"] =
                    json!("http://idp.example.com/keys")
            },
            "spec.trustedPublishers[idp]: `jwks_url` `http://idp.example.com/keys` must be an https URL",
        ),
        (
            &|v| v["spec"]["trustedPublishers"][0]["packages"] = json!(["Contoso Lib"]),
            "spec.trustedPublishers[ci-pod]: packages:",
        ),
        (
            &|v| v["spec"]["trustedPublishers"][1]["name"] = json!("ci-pod"),
            "spec.trustedPublishers[ci-pod]: another trusted publisher has the same name",
        ),
        (
            &|v| v["spec"]["trustedPublishers"][0]["name"] = json!("ci pod"),
            "spec.trustedPublishers[ci pod]: the name must be",
        ),
        (
            &|v| v["spec"]["temporaryKeyLifetimeSeconds"] = json!(10),
            "spec.temporaryKeyLifetimeSeconds 10 must be between 60 and 86400",
        ),
    ];
    for (edit, expected) in cases {
        let e = validate_with(edit, Some(cluster_keys("k1"))).unwrap_err();
        assert!(
            e.to_string().starts_with(expected),
            "{e}\nexpected {expected}"
        );
        assert_eq!(e.category(), REASON_INVALID_SPEC);
        assert!(!e.recheck_later(), "{e}");
    }
}
