//! The upstream sources the server runs with: the file's `upstreams:` (or the `--upstream`
//! flags) validated, with each one's secret read once at start-up from its file or environment
//! variable. The secret is held in [`Secret`], which never shows itself in Debug output.

use std::time::Duration;

use nuget_feed_config::{
    CredentialScheme, DEFAULT_UPSTREAM_MAX_CONCURRENCY, DEFAULT_UPSTREAM_METADATA_TTL_SECONDS,
    DEFAULT_UPSTREAM_TIMEOUT_MS, DEFAULT_UPSTREAM_VULNERABILITY_REFRESH_SECONDS, UpstreamConfig,
    UpstreamCredentials, validate_upstreams,
};

use super::error::{ConfigError, invalid};

/// A password, token or API key for an upstream. Debug shows only that there is one.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How requests to an upstream authenticate, with the secret already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub scheme: CredentialScheme,
    /// The user name of `basic`.
    pub username: Option<String>,
    pub secret: Secret,
}

/// One upstream source, validated, with its defaults applied and its secret read.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// As configured: name, service index URL, allow and deny patterns.
    pub config: UpstreamConfig,
    pub credentials: Option<Credentials>,
    /// Longest time one request may take (a download: until its first byte).
    pub timeout: Duration,
    /// How long fetched metadata is fresh.
    pub metadata_ttl: Duration,
    /// Requests in flight to it at once.
    pub max_concurrency: u32,
    /// How often its VulnerabilityInfo is mirrored.
    pub vulnerability_refresh: Duration,
}

impl Upstream {
    /// A DNS label: names the upstream in logs, metrics and its cache's storage keys.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// URL of its V3 service index.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// Whether the id `id` may be looked up here (its allow and deny patterns).
    pub fn admits(&self, id: &str) -> bool {
        self.config.admits(id)
    }

    /// Resolves one upstream's settings, reading its secret.
    fn resolve(config: UpstreamConfig) -> Result<Upstream, ConfigError> {
        let credentials = config
            .credentials
            .as_ref()
            .map(|c| read_credentials(&config.name, c))
            .transpose()?;
        Ok(Upstream {
            credentials,
            timeout: Duration::from_millis(
                config.timeout_ms.unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_MS),
            ),
            metadata_ttl: Duration::from_secs(
                config
                    .metadata_ttl_seconds
                    .unwrap_or(DEFAULT_UPSTREAM_METADATA_TTL_SECONDS),
            ),
            max_concurrency: config
                .max_concurrency
                .unwrap_or(DEFAULT_UPSTREAM_MAX_CONCURRENCY),
            vulnerability_refresh: Duration::from_secs(
                config
                    .vulnerability_refresh_seconds
                    .unwrap_or(DEFAULT_UPSTREAM_VULNERABILITY_REFRESH_SECONDS),
            ),
            config,
        })
    }
}

/// The upstreams to run with: the flags' URLs (named `upstream-1`, `upstream-2`, ... in order,
/// with `ttl_seconds` when given) replace the file's list; all are validated and their secrets
/// read.
pub fn resolve(
    file: Vec<UpstreamConfig>,
    flag_urls: Vec<String>,
    ttl_seconds: Option<u64>,
) -> Result<Vec<Upstream>, ConfigError> {
    let configs = if flag_urls.is_empty() {
        file
    } else {
        flag_urls
            .into_iter()
            .enumerate()
            .map(|(i, url)| UpstreamConfig {
                metadata_ttl_seconds: ttl_seconds,
                ..UpstreamConfig::new(format!("upstream-{}", i + 1), url.trim())
            })
            .collect()
    };
    validate_upstreams(&configs).map_err(|e| invalid("upstreams", e.to_string()))?;
    configs.into_iter().map(Upstream::resolve).collect()
}

/// Reads the secret of `upstream`'s credentials from its file or environment variable. Errors
/// name the upstream and where the secret was looked for, never the secret.
fn read_credentials(upstream: &str, c: &UpstreamCredentials) -> Result<Credentials, ConfigError> {
    let fail = |message: String| invalid("upstreams", format!("upstream `{upstream}`: {message}"));
    let raw = match (&c.secret_file, &c.secret_env) {
        (Some(path), _) => std::fs::read_to_string(path).map_err(|e| {
            fail(format!(
                "cannot read the credentials' secret_file {}: {e}",
                path.display()
            ))
        })?,
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            fail(format!(
                "the credentials' secret_env variable `{var}` is not set (or not UTF-8)"
            ))
        })?,
        // `validate_upstreams` refused credentials with neither.
        (None, None) => return Err(fail("credentials need secret_file or secret_env".into())),
    };
    let secret = raw.trim();
    if secret.is_empty() {
        let source = match (&c.secret_file, &c.secret_env) {
            (Some(path), _) => format!("secret_file {}", path.display()),
            (None, var) => format!("secret_env variable `{}`", var.as_deref().unwrap_or("")),
        };
        return Err(fail(format!("the credentials' {source} is empty")));
    }
    Ok(Credentials {
        scheme: c.scheme,
        username: c.username.clone(),
        secret: Secret(secret.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use nuget_feed_config::IdPattern;

    use super::*;

    fn with_file_secret(path: PathBuf) -> UpstreamConfig {
        UpstreamConfig {
            credentials: Some(UpstreamCredentials {
                scheme: CredentialScheme::Bearer,
                username: None,
                secret_file: Some(path),
                secret_env: None,
            }),
            ..UpstreamConfig::new("private", "https://feed.example/v3/index.json")
        }
    }

    #[test]
    fn flags_replace_the_files_list_and_are_named_in_order() {
        let file = vec![UpstreamConfig::new("from-file", "https://a/index.json")];
        let got = resolve(
            file.clone(),
            vec![
                "https://b/index.json".into(),
                " https://c/index.json".into(),
            ],
            Some(60),
        )
        .unwrap();
        let names: Vec<_> = got.iter().map(|u| (u.name(), u.url())).collect();
        assert_eq!(
            names,
            [
                ("upstream-1", "https://b/index.json"),
                ("upstream-2", "https://c/index.json")
            ]
        );
        assert_eq!(got[0].metadata_ttl, Duration::from_secs(60));
        let kept = resolve(file, Vec::new(), Some(60)).unwrap();
        assert_eq!(kept[0].name(), "from-file");
        assert_eq!(
            kept[0].metadata_ttl,
            Duration::from_secs(DEFAULT_UPSTREAM_METADATA_TTL_SECONDS),
            "the flag's TTL is for flag-defined upstreams"
        );
        let bad = resolve(Vec::new(), vec!["ftp://x".into()], None).unwrap_err();
        assert!(bad.to_string().contains("upstream `upstream-1`"), "{bad}");
    }

    #[test]
    fn secrets_are_read_at_start_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t-t0ken\n").unwrap();
        let got = resolve(vec![with_file_secret(path.clone())], Vec::new(), None).unwrap();
        let c = got[0].credentials.as_ref().unwrap();
        assert_eq!(c.secret.expose(), "s3cr3t-t0ken");
        assert!(!format!("{got:?}").contains("s3cr3t"), "{got:?}");

        std::fs::write(&path, "  \n").unwrap();
        let empty = resolve(vec![with_file_secret(path)], Vec::new(), None).unwrap_err();
        assert!(empty.to_string().contains("upstream `private`"), "{empty}");
        assert!(empty.to_string().contains("is empty"), "{empty}");

        let missing = dir.path().join("missing");
        let err = resolve(vec![with_file_secret(missing.clone())], Vec::new(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream `private`"), "{err}");
        assert!(err.contains(&missing.display().to_string()), "{err}");

        let mut env = with_file_secret(PathBuf::new());
        if let Some(c) = env.credentials.as_mut() {
            c.secret_file = None;
            c.secret_env = Some("NUGET_FEED_TEST_UNSET_UPSTREAM_SECRET".into());
        }
        let err = resolve(vec![env], Vec::new(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`NUGET_FEED_TEST_UNSET_UPSTREAM_SECRET` is not set"),
            "{err}"
        );
    }

    #[test]
    fn allow_and_deny_carry_over() {
        let config = UpstreamConfig {
            deny: vec![IdPattern::parse("Contoso.*").unwrap()],
            ..UpstreamConfig::new("n", "https://a/index.json")
        };
        let got = resolve(vec![config], Vec::new(), None).unwrap();
        assert!(!got[0].admits("contoso.core"));
        assert!(got[0].admits("Newtonsoft.Json"));
    }
}
