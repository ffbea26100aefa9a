//! The feed's trust policies (`spec.trustedPublishers`, `spec.temporaryKeyLifetimeSeconds`):
//! each entry becomes the explicit form of the feed server's `trusted_publishers:` entry
//! ([`TrustedPublisher`]), its claims made by the config crate's own shorthands, and the list
//! is judged by the server's own rules ([`validate_trusted_publishers`]), so the operator
//! never renders a config the server would refuse at start-up.
//!
//! Every policy names its audience explicitly (default: the feed's public URL as the operator
//! computes it), so the server never guesses it from a request. A `kubernetes` policy gets the
//! cluster's issuer as `dereference` read it and the cluster's keys as a file
//! ([`CLUSTER_JWKS_FILE_KEY`] of the feed's ConfigMap): the feed server needs no API access.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nuget_feed_config::{
    ClaimPattern, DEFAULT_MAX_TOKEN_AGE_SECONDS, GITHUB_ISSUER, GITLAB_ISSUER, GitHubShorthand,
    GitLabShorthand, IdPattern, JwksSource, KubernetesShorthand,
    MAX_TEMPORARY_KEY_LIFETIME_SECONDS, TrustedPublisher, validate_trusted_publishers,
};

use crate::consts::{CLUSTER_JWKS_FILE_KEY, CONFIG_DIR};
use crate::crd::{NuGetFeedSpec, TrustedPublisherSpec};
use crate::reconcile::cluster_keys::ClusterKeys;

/// Shortest lifetime of a temporary key: a push of a large package must fit in it.
pub const MIN_TEMPORARY_KEY_LIFETIME_SECONDS: u64 = 60;

/// Why the trust policies cannot be rendered; `validate::Error` wraps it (`InvalidSpec`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A policy the feed server would refuse, in its words, naming the policy.
    #[error("spec.trustedPublishers[{name}]: {reason}")]
    Invalid { name: String, reason: String },
    /// `spec.temporaryKeyLifetimeSeconds` out of range.
    #[error(
        "spec.temporaryKeyLifetimeSeconds {0} must be between {MIN_TEMPORARY_KEY_LIFETIME_SECONDS} and {MAX_TEMPORARY_KEY_LIFETIME_SECONDS}"
    )]
    KeyLifetime(u64),
}

/// What the feed server is told about trusted publishers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublisherPlan {
    /// `trusted_publishers` of the config file, in the spec's order.
    pub publishers: Vec<TrustedPublisher>,
    /// `temporary_key_lifetime_seconds` of the config file.
    pub temporary_key_lifetime_seconds: Option<u64>,
    /// The cluster's keys, written into the ConfigMap when a policy is `kubernetes`.
    pub cluster_keys: Option<ClusterKeys>,
}

/// Where the feed server reads the cluster's keys: the ConfigMap's entry in its mounted
/// folder (the kubelet updates it in place when the keys change).
pub fn cluster_jwks_file() -> PathBuf {
    PathBuf::from(format!("{CONFIG_DIR}/{CLUSTER_JWKS_FILE_KEY}"))
}

/// Checks the spec's trust policies; `namespace` is the feed's, `public_base_url` its URL
/// (the default audience), `cluster_keys` what `dereference` read.
pub fn plan(
    spec: &NuGetFeedSpec,
    namespace: &str,
    public_base_url: &str,
    cluster_keys: Option<&ClusterKeys>,
) -> Result<PublisherPlan, Error> {
    if let Some(seconds) = spec.temporary_key_lifetime_seconds
        && !(MIN_TEMPORARY_KEY_LIFETIME_SECONDS..=MAX_TEMPORARY_KEY_LIFETIME_SECONDS)
            .contains(&seconds)
    {
        return Err(Error::KeyLifetime(seconds));
    }
    let publishers = spec
        .trusted_publishers
        .iter()
        .map(|p| publisher(p, namespace, public_base_url, cluster_keys))
        .collect::<Result<Vec<_>, _>>()?;
    validate_trusted_publishers(&publishers).map_err(|e| refused("", e))?;
    let needs_keys = spec
        .trusted_publishers
        .iter()
        .any(|p| p.kubernetes.is_some());
    Ok(PublisherPlan {
        publishers,
        temporary_key_lifetime_seconds: spec.temporary_key_lifetime_seconds,
        cluster_keys: cluster_keys.filter(|_| needs_keys).cloned(),
    })
}

/// The explicit form of one policy.
fn publisher(
    spec: &TrustedPublisherSpec,
    namespace: &str,
    public_base_url: &str,
    cluster_keys: Option<&ClusterKeys>,
) -> Result<TrustedPublisher, Error> {
    let invalid = |reason: String| Error::Invalid {
        name: spec.name.clone(),
        reason,
    };
    let config_error = |e| refused(&spec.name, e);
    let (issuer, claims, jwks) = match (&spec.kubernetes, &spec.github, &spec.gitlab, &spec.oidc) {
        (Some(k), None, None, None) => {
            let keys = cluster_keys.ok_or_else(|| {
                invalid("the cluster's ServiceAccount issuer is not known".to_owned())
            })?;
            let shorthand = KubernetesShorthand {
                namespace: k.namespace.clone().unwrap_or_else(|| namespace.to_owned()),
                service_account: k.service_account.clone(),
            };
            (
                keys.issuer.clone(),
                shorthand.claims().map_err(config_error)?,
                JwksSource::File(cluster_jwks_file()),
            )
        }
        (None, Some(g), None, None) => {
            let shorthand = GitHubShorthand {
                repository: g.repository.clone(),
                workflow: g.workflow.clone(),
                git_ref: g.git_ref.clone(),
                environment: g.environment.clone(),
            };
            (
                GITHUB_ISSUER.to_owned(),
                shorthand.claims().map_err(config_error)?,
                JwksSource::Discovery,
            )
        }
        (None, None, Some(g), None) => {
            let shorthand = GitLabShorthand {
                project_path: g.project_path.clone(),
                git_ref: g.git_ref.clone(),
                environment: g.environment.clone(),
            };
            (
                g.issuer.clone().unwrap_or_else(|| GITLAB_ISSUER.to_owned()),
                shorthand.claims().map_err(config_error)?,
                JwksSource::Discovery,
            )
        }
        (None, None, None, Some(o)) => {
            let claims = o
                .claims
                .iter()
                .map(|(name, value)| Ok((name.clone(), ClaimPattern::parse(value)?)))
                .collect::<Result<BTreeMap<_, _>, nuget_feed_config::Error>>()
                .map_err(config_error)?;
            let jwks = match &o.jwks_url {
                Some(url) => JwksSource::Url(url.clone()),
                None => JwksSource::Discovery,
            };
            (o.issuer.clone(), claims, jwks)
        }
        _ => {
            return Err(invalid(
                "set exactly one of kubernetes, github, gitlab or oidc".to_owned(),
            ));
        }
    };
    let packages = spec
        .packages
        .iter()
        .map(|p| IdPattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("packages: {e}")))?;
    Ok(TrustedPublisher {
        name: spec.name.clone(),
        issuer,
        audience: Some(
            spec.audience
                .clone()
                .unwrap_or_else(|| public_base_url.to_owned()),
        ),
        claims,
        scopes: spec.scopes.clone(),
        packages,
        jwks,
        max_token_age_seconds: spec
            .max_token_age_seconds
            .unwrap_or(DEFAULT_MAX_TOKEN_AGE_SECONDS),
    })
}

/// The config crate's refusal of the policy `name` (the crate names it itself when it can).
fn refused(name: &str, e: nuget_feed_config::Error) -> Error {
    match e {
        nuget_feed_config::Error::InvalidPublisher { name, reason } if !name.is_empty() => {
            Error::Invalid { name, reason }
        }
        nuget_feed_config::Error::InvalidPublisher { reason, .. } => Error::Invalid {
            name: name.to_owned(),
            reason,
        },
        other => Error::Invalid {
            name: name.to_owned(),
            reason: other.to_string(),
        },
    }
}
