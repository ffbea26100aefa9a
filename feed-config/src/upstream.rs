//! Upstream sources (`upstreams:` in `config.yaml`): other NuGet V3 feeds whose packages this
//! feed serves, and caches, for ids it does not have itself.
//!
//! ```yaml
//! local_packages: ["Contoso.*"]   # never looked up upstream, even before the first push
//! upstreams:
//!   - name: nuget-org             # in logs, metrics and the cache's storage keys
//!     url: https://api.nuget.org/v3/index.json
//!     timeout_ms: 30000           # per upstream request
//!     metadata_ttl_seconds: 600   # how long fetched metadata is fresh
//!     max_concurrency: 16         # requests in flight to this upstream
//!     vulnerability_refresh_seconds: 3600  # how often its VulnerabilityInfo is mirrored
//!     allow: ["*"]                # ids looked up here (default all)
//!     deny: ["Contoso*"]          # ids never looked up here
//!     credentials:                # optional; the secret comes from a file or the environment
//!       scheme: basic             # basic, bearer or api_key (the X-NuGet-ApiKey header)
//!       username: ci
//!       secret_file: /var/run/secrets/upstream/password
//! ```
//!
//! Upstreams are asked in order; the first that knows an id serves all of it (versions are
//! never merged across sources, so one source cannot shadow another's versions).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id_pattern::IdPattern;

/// Fetched metadata (version lists, registration) is fresh for 10 minutes, then refreshed on
/// the next read; nuget.org itself caches registration for a few minutes.
pub const DEFAULT_UPSTREAM_METADATA_TTL_SECONDS: u64 = 600;
/// A request to an upstream that takes longer fails over to the cache.
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;
/// Requests in flight to one upstream, per replica.
pub const DEFAULT_UPSTREAM_MAX_CONCURRENCY: u32 = 16;
/// An upstream's VulnerabilityInfo is mirrored hourly: nuget.org rewrites its `update` page a
/// few times a day, and a client caches pages for as long itself.
pub const DEFAULT_UPSTREAM_VULNERABILITY_REFRESH_SECONDS: u64 = 3600;

/// One upstream source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct UpstreamConfig {
    /// Lower-case letters, digits and `-` (at most 63): it names the upstream in logs and
    /// metrics and keys its cache in storage.
    pub name: String,
    /// URL of the upstream's V3 service index (`.../index.json`), `http` or `https`.
    pub url: String,
    /// How to authenticate to the upstream; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<UpstreamCredentials>,
    /// Milliseconds one request to the upstream may take (connect to last byte of a
    /// metadata document; for a package download, until its first byte). Default 30000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Seconds fetched metadata is served without asking the upstream again. Default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_ttl_seconds: Option<u64>,
    /// Most requests in flight to this upstream at once. Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Seconds between two mirrorings of the upstream's VulnerabilityInfo pages (only pages
    /// whose `@updated` changed are fetched again). Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_refresh_seconds: Option<u64>,
    /// Only ids matching one of these are looked up here. Default: every id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<IdPattern>,
    /// Ids matching one of these are never looked up here, even if allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<IdPattern>,
}

/// How requests to an upstream authenticate. The secret is never in the config itself: it is
/// read from exactly one of `secret_file` or `secret_env` when the server starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct UpstreamCredentials {
    pub scheme: CredentialScheme,
    /// The user name of `basic` (Azure Artifacts and most feeds accept any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A file whose content (trimmed) is the password, token or API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// An environment variable whose value is the password, token or API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

/// Where the secret goes in each request to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CredentialScheme {
    /// `Authorization: Basic base64(username:secret)`.
    Basic,
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `X-NuGet-ApiKey: <secret>`.
    ApiKey,
}

impl UpstreamConfig {
    /// An upstream with every setting at its default.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> UpstreamConfig {
        UpstreamConfig {
            name: name.into(),
            url: url.into(),
            credentials: None,
            timeout_ms: None,
            metadata_ttl_seconds: None,
            max_concurrency: None,
            vulnerability_refresh_seconds: None,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// Whether the id `id` may be looked up at this upstream.
    pub fn admits(&self, id: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|p| p.matches(id)))
            && !self.deny.iter().any(|p| p.matches(id))
    }

    /// Checks what serde cannot: the name's form, the URL's scheme, the credentials' shape and
    /// the ranges. Messages name the upstream and the field.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Error::InvalidUpstream {
            name: self.name.escape_debug().to_string(),
            reason,
        };
        if !is_upstream_name(&self.name) {
            return Err(invalid(
                "the name must be 1 to 63 lower-case letters, digits and '-', starting with a letter or digit".into(),
            ));
        }
        let scheme_ok = self.url.starts_with("https://") || self.url.starts_with("http://");
        if !scheme_ok || self.url.contains(char::is_whitespace) {
            return Err(invalid(format!(
                "url `{}` is not an http or https URL of a V3 service index",
                self.url.escape_debug()
            )));
        }
        // Credentials in the URL would show wherever the URL does (logs, error messages).
        let authority = self.url.split("://").nth(1).unwrap_or("");
        if authority
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|a| a.contains('@'))
        {
            return Err(invalid(
                "the url has credentials in it: put them in `credentials` (from a file or an environment variable) instead".into(),
            ));
        }
        if self.timeout_ms == Some(0) {
            return Err(invalid("timeout_ms must be above 0".into()));
        }
        if self.max_concurrency == Some(0) {
            return Err(invalid("max_concurrency must be above 0".into()));
        }
        if self.vulnerability_refresh_seconds == Some(0) {
            return Err(invalid(
                "vulnerability_refresh_seconds must be above 0".into(),
            ));
        }
        if let Some(c) = &self.credentials {
            if c.secret_file.is_some() == c.secret_env.is_some() {
                return Err(invalid(
                    "credentials need exactly one of secret_file or secret_env".into(),
                ));
            }
            if (c.scheme == CredentialScheme::Basic) != c.username.is_some() {
                return Err(invalid(
                    "credentials take a username with scheme basic, and only then".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Checks a list of upstreams: each valid, names unique.
pub fn validate_upstreams(upstreams: &[UpstreamConfig]) -> Result<()> {
    for (i, upstream) in upstreams.iter().enumerate() {
        upstream.validate()?;
        if upstreams[..i].iter().any(|u| u.name == upstream.name) {
            return Err(Error::InvalidUpstream {
                name: upstream.name.clone(),
                reason: "another upstream has the same name".into(),
            });
        }
    }
    Ok(())
}

/// An upstream name: a DNS label, so it is safe in storage keys, metric labels and Kubernetes.
pub fn is_upstream_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> UpstreamConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn allow_and_deny_patterns_decide_which_ids_are_looked_up() {
        let u = parse(
            "name: n\nurl: https://x/index.json\nallow: ['Microsoft.*', 'System.*']\ndeny: ['System.Private.*']\n",
        );
        assert!(u.admits("microsoft.extensions.logging"));
        assert!(u.admits("System.Text.Json"));
        assert!(!u.admits("System.Private.CoreLib"));
        assert!(!u.admits("Newtonsoft.Json"));
        assert!(UpstreamConfig::new("n", "https://x/index.json").admits("Anything"));
    }

    #[test]
    fn bad_upstreams_are_refused_naming_the_field() {
        let cases = [
            (
                "name: Nuget.Org\nurl: https://x/index.json\n",
                "the name must be",
            ),
            (
                "name: n\nurl: ftp://x/index.json\n",
                "url `ftp://x/index.json`",
            ),
            (
                "name: n\nurl: https://x/index.json\ntimeout_ms: 0\n",
                "timeout_ms",
            ),
            (
                "name: n\nurl: https://x/index.json\nvulnerability_refresh_seconds: 0\n",
                "vulnerability_refresh_seconds",
            ),
            (
                "name: n\nurl: https://user:pass@x/index.json\n",
                "the url has credentials in it",
            ),
            (
                "name: n\nurl: https://x/index.json\ncredentials: {scheme: bearer}\n",
                "exactly one of secret_file or secret_env",
            ),
            (
                "name: n\nurl: https://x/index.json\ncredentials: {scheme: basic, secret_env: P}\n",
                "username",
            ),
        ];
        for (yaml, expected) in cases {
            let err = parse(yaml).validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{yaml}: {err}");
            assert!(err.starts_with("upstream `"), "{err}");
        }
        let twins = [
            UpstreamConfig::new("a", "https://x/index.json"),
            UpstreamConfig::new("a", "https://y/index.json"),
        ];
        let err = validate_upstreams(&twins).unwrap_err().to_string();
        assert!(err.contains("same name"), "{err}");
        let unknown = serde_yaml_ng::from_str::<UpstreamConfig>("name: n\nurl: u\npassword: x\n");
        assert!(unknown.is_err());
    }

    #[test]
    fn valid_upstreams_pass() {
        let u = parse(
            "name: nuget-org\nurl: https://api.nuget.org/v3/index.json\ncredentials: {scheme: basic, username: ci, secret_file: /s}\n",
        );
        u.validate().unwrap();
        validate_upstreams(&[u, UpstreamConfig::new("mirror-2", "http://m/index.json")]).unwrap();
    }
}
