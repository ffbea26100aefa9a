//! The feed's upstream sources (`spec.localPackages`, `spec.upstreams`): judged by the feed
//! server's own rules ([`IdPattern::parse`], [`validate_upstreams`]) so the operator never
//! renders a config the server would refuse at start-up, and turned into the `local_packages`
//! and `upstreams` of its config file. A credential stays in the tenant's Secret: its one key
//! is mounted read-only as a file named after the upstream under
//! [`UPSTREAM_CREDENTIALS_DIR`], and the config names that file (`secret_file`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use nuget_feed_config::{IdPattern, UpstreamConfig, UpstreamCredentials, validate_upstreams};

use crate::consts::UPSTREAM_CREDENTIALS_DIR;
use crate::crd::{NuGetFeedSpec, UpstreamSpec};
use crate::reconcile::dereference::Lookup;

/// Why the upstreams cannot be rendered. `validate::Error` wraps it; its category is
/// `MissingReference` for the Secret cases and `InvalidSpec` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An upstream or a pattern the feed server would refuse, in the server's words, prefixed
    /// with the field (`spec.upstreams`, `spec.upstreams[<name>].allow`, `spec.localPackages`).
    #[error("{0}")]
    Invalid(String),
    /// The Secret an upstream's credentials name does not exist.
    #[error(
        "upstream `{upstream}`: credentials Secret `{secret}` not found in the feed's namespace"
    )]
    MissingSecret { upstream: String, secret: String },
    /// The Secret an upstream's credentials name lacks the key.
    #[error("upstream `{upstream}`: credentials Secret `{secret}` has no key `{key}`")]
    MissingSecretKey {
        upstream: String,
        secret: String,
        key: String,
    },
}

impl Error {
    /// Whether the cause is a tenant's Secret (fixed without an edit of the feed).
    pub fn is_missing_reference(&self) -> bool {
        matches!(
            self,
            Error::MissingSecret { .. } | Error::MissingSecretKey { .. }
        )
    }
}

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
    validate_upstreams(&upstreams).map_err(|e| Error::Invalid(format!("spec.upstreams: {e}")))?;

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
                return Err(Error::MissingSecretKey {
                    upstream: upstream.name.clone(),
                    secret: secret.name.clone(),
                    key: secret.key.clone(),
                });
            }
            Some(Lookup::Missing(_)) => {
                return Err(Error::MissingSecret {
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
        vulnerability_refresh_seconds: upstream.vulnerability_refresh_seconds,
        allow: parse_patterns(&upstream.allow, &field("allow"))?,
        deny: parse_patterns(&upstream.deny, &field("deny"))?,
    })
}

/// Where the pod finds the credential of the upstream `name`.
fn secret_file(name: &str) -> PathBuf {
    PathBuf::from(format!("{UPSTREAM_CREDENTIALS_DIR}/{name}"))
}

fn parse_patterns(patterns: &[String], field: &str) -> Result<Vec<IdPattern>, Error> {
    patterns
        .iter()
        .map(|p| IdPattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(format!("{field}: {e}")))
}
