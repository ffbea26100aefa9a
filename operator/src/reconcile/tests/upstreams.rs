//! `spec.upstreams` and `spec.localPackages` through `validate` and `build` (issue 13): the
//! config the feed server gets, the Secret checks, and what the server would refuse.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use nuget_feed_config::CredentialScheme;

use crate::consts::{REASON_INVALID_SPEC, REASON_MISSING_REFERENCE};
use crate::crd::{NuGetFeedSpec, UpstreamCredentialScheme};
use crate::reconcile::build;
use crate::reconcile::dereference::{Dereferenced, Lookup, SecretSummary};
use crate::reconcile::fixtures::{
    UPSTREAMS, counter, deref_for, feed, summary, to_json, validated,
};
use crate::reconcile::validate::{self, Error, ValidatedFeed, upstreams::SecretFile};
use crate::settings::Settings;

fn validate_with(
    edit: &dyn Fn(&mut NuGetFeedSpec),
    secret: Option<Lookup>,
) -> Result<ValidatedFeed, Error> {
    let mut f = feed(UPSTREAMS);
    edit(&mut f.spec);
    let mut deref = deref_for(&f);
    if let Some(lookup) = secret {
        deref.upstream_secrets = BTreeMap::from([("upstream-creds".to_owned(), lookup)]);
    }
    validate::validate(&f, &deref, &Settings::default(), &mut counter())
}

/// The spec becomes the config file's upstreams, with the secret as a mounted file and the
/// timeout in the file's milliseconds.
#[test]
fn upstreams_become_config_with_secret_files() {
    let plan = validate_with(&|_| {}, None).unwrap().upstreams;
    assert_eq!(plan.local_packages[0].as_str(), "Contoso.*");
    let names: Vec<&str> = plan.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["nuget-org", "private"]);
    let public = &plan.upstreams[0];
    assert_eq!(public.timeout_ms, Some(30_000));
    assert_eq!(public.metadata_ttl_seconds, Some(600));
    assert_eq!(public.max_concurrency, Some(16));
    assert_eq!(public.vulnerability_refresh_seconds, Some(7200));
    assert!(plan.upstreams[1].vulnerability_refresh_seconds.is_none());
    assert!(public.credentials.is_none());
    assert!(!public.admits("Contoso.Core") && public.admits("Newtonsoft.Json"));
    assert!(plan.upstreams[1].admits("Partner.Lib") && !plan.upstreams[1].admits("Other"));
    let private = plan.upstreams[1].credentials.as_ref().unwrap();
    assert_eq!(private.scheme, CredentialScheme::Basic);
    assert_eq!(private.username.as_deref(), Some("ci"));
    assert_eq!(
        private.secret_file,
        Some(PathBuf::from(
            "/var/run/secrets/nuget-feed/upstreams/private"
        ))
    );
    assert!(private.secret_env.is_none());
    assert_eq!(
        plan.secret_files["upstream-creds"],
        [SecretFile {
            key: "password".into(),
            path: "private".into()
        }]
    );
    assert_eq!(plan.secret_hashes["upstream-creds"].as_deref(), Some("h1"));
}

/// A Secret or key the pod could not mount would keep the pods from starting: it is a
/// condition naming the upstream, the Secret and the key instead, re-checked later.
#[test]
fn missing_secret_or_key_is_a_missing_reference() {
    let e = validate_with(&|_| {}, Some(Lookup::Missing("upstream-creds".into()))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "upstream `private`: credentials Secret `upstream-creds` not found in the feed's namespace"
    );
    assert_eq!(e.category(), REASON_MISSING_REFERENCE);
    assert!(e.recheck_later());
    let e = validate_with(&|_| {}, Some(summary("upstream-creds", &["token"]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "upstream `private`: credentials Secret `upstream-creds` has no key `password`"
    );
    assert_eq!(e.category(), REASON_MISSING_REFERENCE);
    assert!(e.recheck_later());
    // Offline (`render`) nothing can be checked, and nothing is refused or hashed.
    let v = validate_with(&|_| {}, Some(Lookup::Unchecked("upstream-creds".into()))).unwrap();
    assert_eq!(v.upstreams.secret_hashes["upstream-creds"], None);
}

/// What the feed server would refuse at start-up is an InvalidSpec naming the field, in the
/// server's own words, and waits for an edit.
#[test]
fn what_the_feed_server_refuses_is_an_invalid_spec() {
    let refused = |edit: &dyn Fn(&mut NuGetFeedSpec)| {
        let e = validate_with(edit, None).unwrap_err();
        assert_eq!(e.category(), REASON_INVALID_SPEC);
        assert!(!e.recheck_later());
        e.to_string()
    };
    let m = refused(&|s| s.local_packages.push("Contoso.?".into()));
    assert!(
        m.starts_with("spec.localPackages: package pattern `Contoso.?`"),
        "{m}"
    );
    let m = refused(&|s| s.upstreams[0].deny.push("a b".into()));
    assert!(
        m.starts_with("spec.upstreams[nuget-org].deny: package pattern `a b`"),
        "{m}"
    );
    let m = refused(&|s| s.upstreams[1].allow = vec![String::new()]);
    assert!(
        m.starts_with("spec.upstreams[private].allow: package pattern ``"),
        "{m}"
    );
    let m = refused(&|s| s.upstreams[1].name = "nuget-org".into());
    assert_eq!(
        m,
        "spec.upstreams: upstream `nuget-org`: another upstream has the same name"
    );
    let m = refused(&|s| s.upstreams[0].name = "NuGet.org".into());
    assert!(
        m.starts_with("spec.upstreams: upstream `NuGet.org`: the name must be"),
        "{m}"
    );
    let m = refused(&|s| s.upstreams[0].url = "ftp://mirror/index.json".into());
    assert!(m.contains("url `ftp://mirror/index.json`"), "{m}");
    let m = refused(&|s| {
        s.upstreams[1].credentials.as_mut().unwrap().scheme = UpstreamCredentialScheme::Bearer;
    });
    assert!(m.contains("username with scheme basic"), "{m}");
    let m = refused(&|s| s.upstreams[0].max_concurrency = Some(0));
    assert!(m.contains("max_concurrency must be above 0"), "{m}");
    let m = refused(&|s| s.upstreams[0].vulnerability_refresh_seconds = Some(0));
    assert!(
        m.contains("vulnerability_refresh_seconds must be above 0"),
        "{m}"
    );
}

#[test]
fn a_feed_without_upstreams_plans_nothing() {
    let v = validate_with(
        &|s| {
            s.upstreams.clear();
            s.local_packages.clear();
        },
        None,
    )
    .unwrap();
    assert_eq!(v.upstreams, validate::upstreams::UpstreamPlan::default());
}

/// Issue 13: the config's upstream credentials are the files the Deployment mounts, the
/// config parses back as the feed server's `FileConfig`, and a rotated upstream credential
/// (new Secret data) rolls the pods as a rotated storage credential does.
#[test]
fn upstream_config_names_the_mounted_files_and_rotation_rolls_the_pods() {
    let r = build::build(&validated(UPSTREAMS)).unwrap();
    let text = r.config_map.data.as_ref().unwrap()["config.yaml"].clone();
    let file = nuget_feed_config::FileConfig::parse(&text).unwrap();
    nuget_feed_config::validate_upstreams(&file.upstreams).unwrap();
    assert_eq!(file.local_packages[0].as_str(), "Contoso.*");
    let secret_file = file.upstreams[1]
        .credentials
        .as_ref()
        .unwrap()
        .secret_file
        .clone()
        .unwrap();
    let d = to_json(&r.deployment);
    let mount = d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "upstream-credentials")
        .unwrap()["mountPath"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(secret_file, std::path::Path::new(&mount).join("private"));
    assert!(
        !text.contains("upstream-creds"),
        "the config names no Secret"
    );

    let f = feed(UPSTREAMS);
    let hash = |d: &Dereferenced| {
        let r =
            build::build(&validate::validate(&f, d, &Settings::default(), &mut counter()).unwrap())
                .unwrap();
        to_json(&r.deployment)["spec"]["template"]["metadata"]["annotations"]["nuget-operator.io/config-hash"].clone()
    };
    let before = deref_for(&f);
    let mut rotated = before.clone();
    rotated.upstream_secrets.insert(
        "upstream-creds".into(),
        Lookup::Found(SecretSummary {
            name: "upstream-creds".into(),
            keys: BTreeSet::from(["password".into()]),
            data_hash: "h2".into(),
        }),
    );
    assert_ne!(hash(&before), hash(&rotated));
}
