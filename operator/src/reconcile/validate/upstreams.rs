//! The feed's upstream sources (`spec.localPackages`, `spec.upstreams`): judged by the feed
//! server's own rules ([`IdPattern::parse`], [`validate_upstreams`]) so the operator never
//! renders a config the server would refuse at start-up, and turned into the `local_packages`
//! and `upstreams` of its config file. A credential stays in the tenant's Secret: its one key
//! is mounted read-only as a file named after the upstream under
//! [`UPSTREAM_CREDENTIALS_DIR`], and the config names that file (`secret_file`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use nuget_feed_config::{IdPattern, UpstreamConfig, UpstreamCredentials, validate_upstreams};

use super::Error;
use crate::consts::UPSTREAM_CREDENTIALS_DIR;
use crate::crd::{NuGetFeedSpec, UpstreamSpec};
use crate::reconcile::dereference::Lookup;

/// What the feed server is told about upstreams, and which Secret keys its pods mount.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamPlan {
    /// `local_packages` of the config file.
    pub local_packages: Vec<IdPattern>,
    /// `upstreams` of the config file, in the spec's order.
    pub upstreams: Vec<UpstreamConfig>,
    /// Secret name to the keys mounted from it, each as a file under
    /// [`UPSTREAM_CREDENTIALS_DIR`].
    pub secret_files: BTreeMap<String, Vec<SecretFile>>,
    /// Secret name to the hash of its data (`None` offline); part of the pod-template hash,
    /// so a rotated upstream credential rolls the pods as a rotated storage credential does.
    pub secret_hashes: BTreeMap<String, Option<String>>,
}

/// One Secret key mounted as a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    pub key: String,
    /// The file's name in [`UPSTREAM_CREDENTIALS_DIR`]: the upstream's name, unique and a DNS
    /// label once validated.
    pub path: String,
}

/// Checks the spec's upstreams and local patterns against what `dereference` found.
pub fn plan(
    spec: &NuGetFeedSpec,
    secrets: &BTreeMap<String, Lookup>,
) -> Result<UpstreamPlan, Error> {
    let local_packages = parse_patterns(&spec.local_packages, "spec.localPackages")?;
    let upstreams = spec
        .upstreams
        .iter()
        .map(config)
        .collect::<Result<Vec<_>, _>>()?;
    validate_upstreams(&upstreams)
        .map_err(|e| Error::BadUpstream(format!("spec.upstreams: {e}")))?;

    let mut plan = UpstreamPlan {
        local_packages,
        upstreams,
        ..UpstreamPlan::default()
    };
    for upstream in &spec.upstreams {
        let Some(credentials) = &upstream.credentials else {
            continue;
        };
        let secret = &credentials.secret_ref;
        let hash = match secrets.get(&secret.name) {
            Some(Lookup::Found(summary)) if summary.keys.contains(&secret.key) => {
                Some(summary.data_hash.clone())
            }
            Some(Lookup::Found(_)) => {
                return Err(Error::MissingUpstreamSecretKey {
                    upstream: upstream.name.clone(),
                    secret: secret.name.clone(),
                    key: secret.key.clone(),
                });
            }
            Some(Lookup::Missing(_)) => {
                return Err(Error::MissingUpstreamSecret {
                    upstream: upstream.name.clone(),
                    secret: secret.name.clone(),
                });
            }
            // Offline (`render`): nothing to check, nothing to hash.
            Some(Lookup::Unchecked(_) | Lookup::NotReferenced) | None => None,
        };
        plan.secret_hashes.insert(secret.name.clone(), hash);
        plan.secret_files
            .entry(secret.name.clone())
            .or_default()
            .push(SecretFile {
                key: secret.key.clone(),
                path: upstream.name.clone(),
            });
    }
    Ok(plan)
}

/// The config file's form of one upstream; its own checks are `validate_upstreams`'.
fn config(upstream: &UpstreamSpec) -> Result<UpstreamConfig, Error> {
    let field = |list: &str| format!("spec.upstreams[{}].{list}", upstream.name);
    Ok(UpstreamConfig {
        name: upstream.name.clone(),
        url: upstream.url.clone(),
        credentials: upstream.credentials.as_ref().map(|c| UpstreamCredentials {
            scheme: c.scheme.into(),
            username: c.username.clone(),
            secret_file: Some(secret_file(&upstream.name)),
            secret_env: None,
        }),
        timeout_ms: upstream.timeout_seconds.map(|s| u64::from(s) * 1000),
        metadata_ttl_seconds: upstream.metadata_ttl_seconds,
        max_concurrency: upstream.max_concurrency,
        allow: parse_patterns(&upstream.allow, &field("allow"))?,
        deny: parse_patterns(&upstream.deny, &field("deny"))?,
    })
}

/// Where the pod finds the credential of the upstream `name`.
pub fn secret_file(name: &str) -> PathBuf {
    PathBuf::from(format!("{UPSTREAM_CREDENTIALS_DIR}/{name}"))
}

fn parse_patterns(patterns: &[String], field: &str) -> Result<Vec<IdPattern>, Error> {
    patterns
        .iter()
        .map(|p| IdPattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::BadUpstream(format!("{field}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixtures::{UPSTREAMS, feed, summary};

    fn secrets(lookup: Lookup) -> BTreeMap<String, Lookup> {
        BTreeMap::from([("upstream-creds".to_owned(), lookup)])
    }

    fn found() -> BTreeMap<String, Lookup> {
        secrets(summary("upstream-creds", &["password", "token"]))
    }

    /// The spec becomes the config file's upstreams, with the secret as a mounted file and
    /// the timeout in the file's milliseconds.
    #[test]
    fn upstreams_become_config_with_secret_files() {
        let plan = plan(&feed(UPSTREAMS).spec, &found()).unwrap();
        assert_eq!(plan.local_packages[0].as_str(), "Contoso.*");
        let names: Vec<&str> = plan.upstreams.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["nuget-org", "private"]);
        let public = &plan.upstreams[0];
        assert_eq!(public.timeout_ms, Some(30_000));
        assert_eq!(public.metadata_ttl_seconds, Some(600));
        assert!(public.credentials.is_none());
        assert!(!public.admits("Contoso.Core"));
        let private = plan.upstreams[1].credentials.as_ref().unwrap();
        assert_eq!(private.scheme, nuget_feed_config::CredentialScheme::Basic);
        assert_eq!(private.username.as_deref(), Some("ci"));
        assert_eq!(
            private.secret_file,
            Some(PathBuf::from(
                "/var/run/secrets/nuget-feed/upstreams/private"
            ))
        );
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
    /// condition naming the upstream, the Secret and the key instead.
    #[test]
    fn missing_secret_or_key_is_a_missing_reference() {
        let spec = feed(UPSTREAMS).spec;
        let e = plan(&spec, &secrets(Lookup::Missing("upstream-creds".into()))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "upstream `private`: credentials Secret `upstream-creds` not found in the feed's namespace"
        );
        assert_eq!(e.category(), crate::consts::REASON_MISSING_REFERENCE);
        assert!(e.recheck_later());
        let e = plan(&spec, &secrets(summary("upstream-creds", &["token"]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "upstream `private`: credentials Secret `upstream-creds` has no key `password`"
        );
        assert!(e.recheck_later());
        // Offline nothing can be checked, and nothing is refused.
        plan(&spec, &secrets(Lookup::Unchecked("upstream-creds".into()))).unwrap();
    }

    /// What the feed server would refuse at start-up is an InvalidSpec naming the field,
    /// in the server's own words.
    #[test]
    fn what_the_feed_server_refuses_is_an_invalid_spec() {
        let base = feed(UPSTREAMS).spec;
        let refused = |edit: &dyn Fn(&mut NuGetFeedSpec)| {
            let mut spec = base.clone();
            edit(&mut spec);
            let e = plan(&spec, &found()).unwrap_err();
            assert_eq!(e.category(), crate::consts::REASON_INVALID_SPEC);
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
            s.upstreams[1].credentials.as_mut().unwrap().scheme =
                crate::crd::UpstreamCredentialScheme::Bearer;
        });
        assert!(m.contains("username with scheme basic"), "{m}");
        let m = refused(&|s| s.upstreams[0].max_concurrency = Some(0));
        assert!(m.contains("max_concurrency must be above 0"), "{m}");
    }

    #[test]
    fn a_feed_without_upstreams_plans_nothing() {
        let mut spec = feed(UPSTREAMS).spec;
        spec.upstreams.clear();
        spec.local_packages.clear();
        assert_eq!(
            plan(&spec, &BTreeMap::new()).unwrap(),
            UpstreamPlan::default()
        );
    }
}
