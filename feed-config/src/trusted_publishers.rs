//! Trusted publishers (`trusted_publishers:` in `config.yaml`): who may push with an OIDC token
//! (a Kubernetes ServiceAccount token, a GitHub Actions or GitLab CI job token, any OIDC
//! issuer's) instead of a static API key.
//!
//! ```yaml
//! temporary_key_lifetime_seconds: 3600     # keys the TokenService hands out; default 1 hour
//! trusted_publishers:
//!   - name: release                        # the owner of the ids it may push; in the audit log
//!     issuer: https://token.actions.githubusercontent.com
//!     audience: https://nuget.example.com/team-a/main   # default: the feed's public URL
//!     claims:                              # every one must match; `*` matches any run
//!       repository: contoso/lib
//!       ref: refs/heads/main
//!     scopes: [push]                       # default push and unlist, as for API keys
//!     packages: ["Contoso.*"]              # default every id
//!     # jwks_url: https://…/jwks           # default: found by OIDC discovery from the issuer
//!     # jwks_file: /etc/nuget-feed/jwks.json
//!     # max_token_age_seconds: 86400       # now - iat at most this; default one day
//!   # Shorthands, expanded into issuer and claims when the file is read:
//!   - name: ci-pod
//!     kubernetes: {namespace: team-a, service_account: ci}   # sub: system:serviceaccount:team-a:ci
//!     issuer: https://kubernetes.default.svc.cluster.local   # required: the cluster's issuer
//!     jwks_file: /etc/nuget-feed/cluster-jwks.json
//!   - name: gh
//!     github: {repository: contoso/lib, workflow: release.yml, environment: release}
//!   - name: gl
//!     gitlab: {project_path: contoso/lib, ref: main}          # issuer default https://gitlab.com
//! ```
//!
//! A file always reads back as the explicit form (`issuer` and `claims`); the operator writes
//! that form.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::api_keys::{Scope, any_id, default_scopes};
use crate::error::{Error, Result};
use crate::id_pattern::IdPattern;

/// How long a key handed out by the TokenService works: one hour, as on nuget.org.
pub const DEFAULT_TEMPORARY_KEY_LIFETIME_SECONDS: u64 = 3600;
/// The longest lifetime a temporary key may be given.
pub const MAX_TEMPORARY_KEY_LIFETIME_SECONDS: u64 = 24 * 3600;
/// A token issued longer ago than this is refused, whatever its `exp` says: kubelet renews
/// projected ServiceAccount tokens well within a day, CI tokens live minutes.
pub const DEFAULT_MAX_TOKEN_AGE_SECONDS: u64 = 24 * 3600;
/// The issuer of GitHub Actions' OIDC tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of GitLab.com's CI ID tokens; self-managed GitLab names its own.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// One trust policy: tokens from `issuer` for `audience` whose claims all match may act as
/// `name` with `scopes` on the ids `packages` matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PublisherFields", into = "PublisherFields")]
pub struct TrustedPublisher {
    /// Letters, digits, `.`, `-`, `_` (at most 64): the owner of the ids it may push and the
    /// name in the audit log.
    pub name: String,
    /// The token's `iss`, exactly.
    pub issuer: String,
    /// The token's `aud` must hold this; `None`: the feed's public URL.
    pub audience: Option<String>,
    /// Claim name to the pattern its value must match; at least one.
    pub claims: BTreeMap<String, ClaimPattern>,
    pub scopes: Vec<Scope>,
    pub packages: Vec<IdPattern>,
    /// Where the issuer's keys are when not found by OIDC discovery.
    pub jwks: JwksSource,
    /// `now - iat` at most this many seconds.
    pub max_token_age_seconds: u64,
}

/// Where a policy's verification keys (a JWK Set) come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// `{issuer}/.well-known/openid-configuration`, then its `jwks_uri`.
    Discovery,
    Url(String),
    /// A file with the JWK Set (the operator writes the cluster's keys there), read again
    /// when it changes.
    File(PathBuf),
}

/// A claim's required value: exact, case-sensitive, where `*` matches any run of characters
/// (also `/` and `:`) and `?` any one character.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClaimPattern(String);

impl ClaimPattern {
    pub fn parse(text: &str) -> Result<ClaimPattern> {
        if text.is_empty() {
            return Err(Error::InvalidPublisher {
                name: String::new(),
                reason: "a claim pattern is empty; write the value the claim must have".into(),
            });
        }
        Ok(ClaimPattern(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, value: &str) -> bool {
        wildmatch::WildMatch::new(&self.0).matches(value)
    }
}

impl fmt::Debug for ClaimPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl TryFrom<String> for ClaimPattern {
    type Error = Error;
    fn try_from(text: String) -> Result<ClaimPattern> {
        ClaimPattern::parse(&text)
    }
}

impl From<ClaimPattern> for String {
    fn from(pattern: ClaimPattern) -> String {
        pattern.0
    }
}

impl TrustedPublisher {
    /// Whether this policy lets its tokens do `scope` to the package id `id`.
    pub fn allows(&self, scope: Scope, id: &str) -> bool {
        self.scopes.contains(&scope) && self.packages.iter().any(|p| p.matches(id))
    }

    /// The policy's own checks (the list's are in [`validate_trusted_publishers`]).
    pub fn validate(&self) -> Result<()> {
        let refuse = |reason: String| {
            Err(Error::InvalidPublisher {
                name: self.name.clone(),
                reason,
            })
        };
        if !is_publisher_name(&self.name) {
            return refuse(
                "the name must be 1-64 letters, digits, '.', '-' or '_' (it is shown as an owner)"
                    .into(),
            );
        }
        if self.issuer.is_empty() {
            return refuse("`issuer` is empty; give the `iss` its tokens carry".into());
        }
        if self.claims.is_empty() {
            return refuse(
                "`claims` is empty: any token of the issuer would do; require at least one claim, e.g. `sub`"
                    .into(),
            );
        }
        if let Some(reserved) = self
            .claims
            .keys()
            .find(|c| RESERVED_CLAIMS.contains(&c.as_str()))
        {
            return refuse(format!(
                "claim `{reserved}` is checked by the server itself; use `issuer`, `audience` or `max_token_age_seconds`"
            ));
        }
        if self.scopes.is_empty() || self.packages.is_empty() {
            return refuse("`scopes` and `packages` must not be empty".into());
        }
        if self.max_token_age_seconds == 0 {
            return refuse("`max_token_age_seconds` must be at least 1".into());
        }
        if let Some(audience) = &self.audience
            && audience.is_empty()
        {
            return refuse("`audience` is empty; leave it out for the feed's public URL".into());
        }
        let fetched = match &self.jwks {
            JwksSource::Discovery => Some(("issuer (for OIDC discovery)", self.issuer.as_str())),
            JwksSource::Url(url) => Some(("`jwks_url`", url.as_str())),
            JwksSource::File(_) => None,
        };
        if let Some((what, url)) = fetched
            && !is_safe_key_url(url)
        {
            return refuse(format!(
                "{what} `{url}` must be an https URL (http only on a loopback address): the keys that prove tokens cannot travel in clear text"
            ));
        }
        Ok(())
    }
}

/// Every policy valid, names unique.
pub fn validate_trusted_publishers(publishers: &[TrustedPublisher]) -> Result<()> {
    for (i, publisher) in publishers.iter().enumerate() {
        publisher.validate()?;
        if publishers[..i].iter().any(|p| p.name == publisher.name) {
            return Err(Error::InvalidPublisher {
                name: publisher.name.clone(),
                reason: "another trusted publisher has the same name".into(),
            });
        }
    }
    Ok(())
}

/// Claims the server checks on its own terms, never by a policy's pattern.
const RESERVED_CLAIMS: &[&str] = &["iss", "aud", "exp", "nbf", "iat"];

fn is_publisher_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// `https://…`, or `http://` to a loopback host (tests, a sidecar).
fn is_safe_key_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An entry as written: explicit, or with one shorthand that fills `issuer` and `claims`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublisherFields {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    claims: BTreeMap<String, ClaimPattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    packages: Option<Vec<IdPattern>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_token_age_seconds: Option<u64>,
    #[serde(default, skip_serializing)]
    kubernetes: Option<KubernetesShorthand>,
    #[serde(default, skip_serializing)]
    github: Option<GitHubShorthand>,
    #[serde(default, skip_serializing)]
    gitlab: Option<GitLabShorthand>,
}

/// This cluster's ServiceAccount `namespace/service_account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesShorthand {
    pub namespace: String,
    pub service_account: String,
}

/// A GitHub Actions workflow of `repository` (`owner/name`), optionally only one workflow
/// file (`release.yml`), one `ref` (`refs/heads/main`) and one deployment environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubShorthand {
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// A GitLab CI job of `project_path` (`group/project`), optionally only one `ref` (a branch
/// or tag name) and one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitLabShorthand {
    pub project_path: String,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl KubernetesShorthand {
    /// The claims of this ServiceAccount's tokens.
    pub fn claims(&self) -> Result<BTreeMap<String, ClaimPattern>> {
        claims([(
            "sub",
            Some(format!(
                "system:serviceaccount:{}:{}",
                self.namespace, self.service_account
            )),
        )])
    }
}

impl GitHubShorthand {
    /// The claims GitHub puts in a job's token: `job_workflow_ref` is
    /// `owner/name/.github/workflows/<file>@<ref>`.
    pub fn claims(&self) -> Result<BTreeMap<String, ClaimPattern>> {
        let workflow = self.workflow.as_ref().map(|file| {
            format!(
                "{}/.github/workflows/{file}@{}",
                self.repository,
                self.git_ref.as_deref().unwrap_or("*")
            )
        });
        claims([
            ("repository", Some(self.repository.clone())),
            ("job_workflow_ref", workflow),
            ("ref", self.git_ref.clone()),
            ("environment", self.environment.clone()),
        ])
    }
}

impl GitLabShorthand {
    /// The claims GitLab puts in a job's ID token.
    pub fn claims(&self) -> Result<BTreeMap<String, ClaimPattern>> {
        claims([
            ("project_path", Some(self.project_path.clone())),
            ("ref", self.git_ref.clone()),
            ("environment", self.environment.clone()),
        ])
    }
}

fn claims<const N: usize>(
    pairs: [(&str, Option<String>); N],
) -> Result<BTreeMap<String, ClaimPattern>> {
    pairs
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), ClaimPattern::parse(&value?))))
        .map(|(name, pattern)| Ok((name, pattern?)))
        .collect()
}

impl TryFrom<PublisherFields> for TrustedPublisher {
    type Error = Error;

    fn try_from(fields: PublisherFields) -> Result<TrustedPublisher> {
        let refuse = |reason: &str| Error::InvalidPublisher {
            name: fields.name.clone(),
            reason: reason.into(),
        };
        let (default_issuer, mut claims) =
            match (&fields.kubernetes, &fields.github, &fields.gitlab) {
                (None, None, None) => (None, BTreeMap::new()),
                (Some(k), None, None) => (None, k.claims()?),
                (None, Some(g), None) => (Some(GITHUB_ISSUER), g.claims()?),
                (None, None, Some(g)) => (Some(GITLAB_ISSUER), g.claims()?),
                _ => {
                    return Err(refuse(
                        "give at most one of `kubernetes`, `github`, `gitlab`",
                    ));
                }
            };
        // Explicit claims add to (and may narrow) a shorthand's.
        claims.extend(fields.claims.clone());
        let issuer = fields
            .issuer
            .clone()
            .or(default_issuer.map(str::to_owned))
            .ok_or_else(|| {
                refuse(if fields.kubernetes.is_some() {
                    "`kubernetes` needs `issuer`: the cluster's ServiceAccount issuer (`kubectl get --raw /.well-known/openid-configuration`)"
                } else {
                    "`issuer` is missing"
                })
            })?;
        let jwks = match (fields.jwks_url.clone(), fields.jwks_file.clone()) {
            (None, None) => JwksSource::Discovery,
            (Some(url), None) => JwksSource::Url(url),
            (None, Some(file)) => JwksSource::File(file),
            (Some(_), Some(_)) => {
                return Err(refuse("give at most one of `jwks_url`, `jwks_file`"));
            }
        };
        let publisher = TrustedPublisher {
            name: fields.name,
            issuer,
            audience: fields.audience,
            claims,
            scopes: fields.scopes.unwrap_or_else(default_scopes),
            packages: fields.packages.unwrap_or_else(|| vec![any_id()]),
            jwks,
            max_token_age_seconds: fields
                .max_token_age_seconds
                .unwrap_or(DEFAULT_MAX_TOKEN_AGE_SECONDS),
        };
        publisher.validate()?;
        Ok(publisher)
    }
}

impl From<TrustedPublisher> for PublisherFields {
    fn from(p: TrustedPublisher) -> PublisherFields {
        let (jwks_url, jwks_file) = match p.jwks {
            JwksSource::Discovery => (None, None),
            JwksSource::Url(url) => (Some(url), None),
            JwksSource::File(file) => (None, Some(file)),
        };
        PublisherFields {
            name: p.name,
            issuer: Some(p.issuer),
            audience: p.audience,
            claims: p.claims,
            scopes: Some(p.scopes),
            packages: Some(p.packages),
            jwks_url,
            jwks_file,
            max_token_age_seconds: (p.max_token_age_seconds != DEFAULT_MAX_TOKEN_AGE_SECONDS)
                .then_some(p.max_token_age_seconds),
            kubernetes: None,
            github: None,
            gitlab: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<TrustedPublisher> {
        Ok(serde_yaml_ng::from_str(yaml)?)
    }

    #[test]
    fn explicit_policies_read_with_defaults() {
        let p = parse(
            "name: release\nissuer: https://issuer.example\nclaims: {repository: 'contoso/*', ref: refs/heads/main}\n",
        )
        .unwrap();
        assert_eq!(p.issuer, "https://issuer.example");
        assert_eq!(p.audience, None);
        assert_eq!(p.jwks, JwksSource::Discovery);
        assert_eq!(p.max_token_age_seconds, DEFAULT_MAX_TOKEN_AGE_SECONDS);
        assert!(p.allows(Scope::Push, "Any.Id") && p.allows(Scope::Unlist, "Any.Id"));
        assert!(!p.allows(Scope::TakeOver, "Any.Id"));
        assert!(p.claims["repository"].matches("contoso/lib"));
        assert!(!p.claims["repository"].matches("evil/contoso/lib"));
        assert!(p.claims["ref"].matches("refs/heads/main"));
        assert!(!p.claims["ref"].matches("refs/heads/main2"));
        assert!(!p.claims["ref"].matches("REFS/HEADS/MAIN"));
    }

    #[test]
    fn shorthands_expand_to_issuer_and_claims() {
        let k = parse(
            "name: pod\nkubernetes: {namespace: team-a, service_account: ci}\nissuer: https://kubernetes.default.svc\njwks_file: /k/jwks.json\n",
        )
        .unwrap();
        assert!(k.claims["sub"].matches("system:serviceaccount:team-a:ci"));
        assert!(!k.claims["sub"].matches("system:serviceaccount:team-a:other"));
        assert_eq!(k.jwks, JwksSource::File("/k/jwks.json".into()));

        let g = parse(
            "name: gh\ngithub: {repository: contoso/lib, workflow: release.yml, environment: prod}\nscopes: [push]\n",
        )
        .unwrap();
        assert_eq!(g.issuer, GITHUB_ISSUER);
        assert!(
            g.claims["job_workflow_ref"]
                .matches("contoso/lib/.github/workflows/release.yml@refs/tags/v1")
        );
        assert!(g.claims["environment"].matches("prod"));
        assert!(!g.claims.contains_key("ref"));

        let l = parse("name: gl\ngitlab: {project_path: group/lib, ref: main}\n").unwrap();
        assert_eq!(l.issuer, GITLAB_ISSUER);
        assert!(l.claims["project_path"].matches("group/lib"));
        assert!(l.claims["ref"].matches("main"));
    }

    #[test]
    fn bad_policies_are_refused_naming_the_policy_and_the_fix() {
        let cases = [
            (
                "name: a b\nissuer: https://i\nclaims: {sub: x}\n",
                "name must be",
            ),
            ("name: p\nissuer: https://i\n", "`claims` is empty"),
            (
                "name: p\nissuer: https://i\nclaims: {aud: x}\n",
                "claim `aud`",
            ),
            (
                "name: p\nissuer: http://i.example\nclaims: {sub: x}\n",
                "https URL",
            ),
            (
                "name: p\nissuer: https://i\nclaims: {sub: x}\njwks_url: http://keys.example/j\n",
                "`jwks_url`",
            ),
            (
                "name: p\nkubernetes: {namespace: a, service_account: b}\n",
                "needs `issuer`",
            ),
            (
                "name: p\ngithub: {repository: a/b}\ngitlab: {project_path: a/b}\n",
                "at most one of",
            ),
            ("name: p\nissuer: https://i\nclaims: {sub: ''}\n", "empty"),
            (
                "name: p\nissuer: https://i\nclaim: {sub: x}\n",
                "unknown field",
            ),
        ];
        for (yaml, expected) in cases {
            let err = parse(yaml).unwrap_err().to_string();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
        let ok = parse("name: p\nissuer: http://127.0.0.1:9/\nclaims: {sub: x}\n");
        assert!(ok.is_ok(), "{ok:?}");
        let twice = [
            ok.unwrap(),
            parse("name: p\nissuer: https://i\nclaims: {sub: y}\n").unwrap(),
        ];
        let err = validate_trusted_publishers(&twice).unwrap_err().to_string();
        assert!(err.contains("same name"), "{err}");
    }

    /// The operator writes the explicit form; the feed server reads back the same policy.
    #[test]
    fn written_policies_read_back_the_same() {
        let p = parse(
            "name: pod\nkubernetes: {namespace: team-a, service_account: ci}\nissuer: https://kubernetes.default.svc\njwks_file: /k/jwks.json\naudience: https://feed/x\nmax_token_age_seconds: 600\n",
        )
        .unwrap();
        let text = serde_yaml_ng::to_string(&p).unwrap();
        assert_eq!(
            text,
            "name: pod\nissuer: https://kubernetes.default.svc\naudience: https://feed/x\nclaims:\n  sub: system:serviceaccount:team-a:ci\nscopes:\n- push\n- unlist\npackages:\n- '*'\njwks_file: /k/jwks.json\nmax_token_age_seconds: 600\n"
        );
        assert_eq!(parse(&text).unwrap(), p);
    }
}
