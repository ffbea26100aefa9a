//! The feed server's configuration: one YAML file, every field overridable by a `NUGET_FEED_*`
//! environment variable or a command-line flag, resolved into one validated [`Config`].
//!
//! [`FileConfig`] is what the file says (its type lives in `nuget_feed_config`, because the
//! operator renders exactly this into a ConfigMap), `Args` is what was typed, and
//! [`Config::resolve`] merges them (flag > env > file > default) and validates once, so nothing
//! after it checks again. [`upstreams`] resolves the upstream sources and reads their secrets.

mod error;
pub mod upstreams;

pub use error::ConfigError;
use error::invalid;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nuget_feed_config::{
    DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_MAX_PACKAGE_BYTES, DEFAULT_SYNC_INTERVAL_MS,
    DEFAULT_TEMPORARY_KEY_LIFETIME_SECONDS, DEFAULT_UPLOAD_IDLE_TIMEOUT_MS,
    MAX_TEMPORARY_KEY_LIFETIME_SECONDS, validate_trusted_publishers,
};
// The file's types are part of this module's API (`Config::resolve` takes a `FileConfig`, and
// `Config` holds the enums), so callers find them next to it.
pub use nuget_feed_config::{
    DeleteMode, FileConfig, IdPattern, JwksSource, LogFormat, StorageConfig, TrustedPublisher,
};

/// Command-line flags and their environment variables; each overrides the file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Configuration file (YAML).
    #[arg(long, short = 'c', env = "NUGET_FEED_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 0.0.0.0:5000].
    #[arg(long, env = "NUGET_FEED_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public URL of the feed, without index.json.
    #[arg(long, env = "NUGET_FEED_PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Path under which the feed is served (e.g. /team-a/main).
    #[arg(long, env = "NUGET_FEED_PATH_BASE")]
    pub path_base: Option<String>,
    /// Storage URL: a folder, memory://, s3://, az:// or gs:// [default: ./data].
    #[arg(long, env = "NUGET_FEED_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// Largest accepted package in bytes [default: 262144000].
    #[arg(long, env = "NUGET_FEED_MAX_PACKAGE_BYTES")]
    pub max_package_bytes: Option<u64>,
    /// File with the API keys allowed to push and unlist.
    #[arg(long, env = "NUGET_FEED_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// File with read tokens; when set, reads need HTTP Basic auth.
    #[arg(long, env = "NUGET_FEED_READ_TOKENS_FILE")]
    pub read_tokens_file: Option<PathBuf>,
    /// What DELETE does [default: unlist].
    #[arg(long, env = "NUGET_FEED_DELETE_MODE")]
    pub delete_mode: Option<DeleteMode>,
    /// Let a hard-deleted version be pushed again [default: false].
    #[arg(long, env = "NUGET_FEED_ALLOW_DELETED_VERSION_REUSE")]
    pub allow_deleted_version_reuse: Option<bool>,
    /// How often (ms) to pick up other replicas' changes [default: 1000].
    #[arg(long, env = "NUGET_FEED_SYNC_INTERVAL_MS")]
    pub sync_interval_ms: Option<u64>,
    /// Time (ms) a client has to send its request headers [default: 20000].
    #[arg(long, env = "NUGET_FEED_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Longest pause (ms) in a package upload before it is cut with 408 [default: 30000].
    #[arg(long, env = "NUGET_FEED_UPLOAD_IDLE_TIMEOUT_MS")]
    pub upload_idle_timeout_ms: Option<u64>,
    /// File of vulnerability advisories (YAML or JSON).
    #[arg(long, env = "NUGET_FEED_VULNERABILITIES_FILE")]
    pub vulnerabilities_file: Option<PathBuf>,
    /// Folder for uploads in progress [default: the system temp folder].
    #[arg(long, env = "NUGET_FEED_TEMP_DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Log format [default: json].
    #[arg(long, env = "NUGET_FEED_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Redirect package downloads to pre-signed URLs (S3, Azure, GCS) [default: false].
    #[arg(long, env = "NUGET_FEED_REDIRECT_DOWNLOADS")]
    pub redirect_downloads: Option<bool>,
    /// Upstream V3 service index URL, asked in order for ids this feed does not have; repeat
    /// it for more (named upstream-1, upstream-2, ...). Replaces the config file's upstreams.
    #[arg(
        long = "upstream",
        value_name = "SERVICE_INDEX_URL",
        env = "NUGET_FEED_UPSTREAMS",
        value_delimiter = ','
    )]
    pub upstreams: Vec<String>,
    /// Package id pattern (e.g. Contoso.*) that belongs to this feed alone and is never looked
    /// up upstream; repeat it for more. Replaces the config file's local_packages.
    #[arg(
        long = "local-package",
        value_name = "PATTERN",
        env = "NUGET_FEED_LOCAL_PACKAGES",
        value_delimiter = ',',
        value_parser = parse_pattern
    )]
    pub local_packages: Vec<IdPattern>,
    /// Seconds metadata fetched from the --upstream sources stays fresh [default: 600].
    #[arg(long, env = "NUGET_FEED_UPSTREAM_METADATA_TTL_SECONDS")]
    pub upstream_metadata_ttl_seconds: Option<u64>,
    /// Seconds an API key handed out by the token service (for a trusted publisher's OIDC
    /// token, `trusted_publishers` in the config file) works [default: 3600, at most 86400].
    #[arg(long, env = "NUGET_FEED_TEMPORARY_KEY_LIFETIME_SECONDS")]
    pub temporary_key_lifetime_seconds: Option<u64>,
    /// Days after which `gc` removes a package cached from an upstream that no one downloaded
    /// meanwhile (fetched again on its next download) [default: never].
    #[arg(long, env = "NUGET_FEED_UPSTREAM_CACHE_MAX_IDLE_DAYS")]
    pub upstream_cache_max_idle_days: Option<u32>,
}

fn parse_pattern(text: &str) -> Result<IdPattern, String> {
    IdPattern::parse(text).map_err(|e| e.to_string())
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// Absolute public URL without trailing slash, when configured.
    pub public_base_url: Option<String>,
    /// `""` for the root, else `/a/b` (leading slash, no trailing slash).
    pub path_base: String,
    pub storage_url: String,
    pub storage_options: BTreeMap<String, String>,
    pub max_package_bytes: u64,
    pub api_keys_file: Option<PathBuf>,
    pub read_tokens_file: Option<PathBuf>,
    pub delete_mode: DeleteMode,
    /// A hard-deleted version may be pushed again.
    pub allow_deleted_version_reuse: bool,
    pub sync_interval_ms: u64,
    pub header_timeout_ms: u64,
    pub upload_idle_timeout_ms: u64,
    pub vulnerabilities_file: Option<PathBuf>,
    pub temp_dir: PathBuf,
    pub log_format: LogFormat,
    /// Package downloads redirect to pre-signed URLs of the store.
    pub redirect_downloads: bool,
    /// Ids that are never looked up upstream.
    pub local_packages: Vec<IdPattern>,
    /// Upstream sources, in the order they are asked.
    pub upstreams: Vec<upstreams::Upstream>,
    /// Who may push with an OIDC token instead of an API key (validated, names unique).
    pub trusted_publishers: Vec<TrustedPublisher>,
    /// Seconds a key handed out by the token service works.
    pub temporary_key_lifetime_seconds: u64,
    /// How long a cached upstream package may go without a download before `gc` removes it
    /// (whole days); `None`: kept for ever.
    pub upstream_cache_max_idle: Option<std::time::Duration>,
}

impl Default for Config {
    /// The README quick start: a feed from `./data` on port 5000.
    fn default() -> Self {
        Config::resolve(FileConfig::default(), Args::default())
            .expect("the default configuration is valid")
    }
}

impl Config {
    /// Reads the file named by `args.config` (if any) and merges it with the flags.
    pub fn load(args: Args) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Config::resolve(file, args)
    }

    /// Merges flags over the file over defaults and validates the result.
    pub fn resolve(file: FileConfig, args: Args) -> Result<Config, ConfigError> {
        let storage = file.storage.unwrap_or_default();
        let public_base_url = args
            .public_base_url
            .or(file.public_base_url)
            .map(|u| validate_public_base_url(&u))
            .transpose()?;
        let path_base = match args.path_base.or(file.path_base) {
            Some(p) => normalize_path_base(&p)?,
            None => match &public_base_url {
                Some(u) => url_path(u),
                None => String::new(),
            },
        };
        let max_package_bytes = args
            .max_package_bytes
            .or(file.max_package_bytes)
            .unwrap_or(DEFAULT_MAX_PACKAGE_BYTES);
        if max_package_bytes == 0 {
            return Err(invalid("max_package_bytes", "must be greater than 0"));
        }
        let sync_interval_ms = args
            .sync_interval_ms
            .or(file.sync_interval_ms)
            .unwrap_or(DEFAULT_SYNC_INTERVAL_MS);
        if !(10..=60_000).contains(&sync_interval_ms) {
            return Err(invalid(
                "sync_interval_ms",
                format!("{sync_interval_ms} is outside 10..=60000"),
            ));
        }
        let header_timeout_ms = args
            .header_timeout_ms
            .or(file.header_timeout_ms)
            .unwrap_or(DEFAULT_HEADER_TIMEOUT_MS);
        if !(100..=600_000).contains(&header_timeout_ms) {
            return Err(invalid(
                "header_timeout_ms",
                format!("{header_timeout_ms} is outside 100..=600000"),
            ));
        }
        let upload_idle_timeout_ms = args
            .upload_idle_timeout_ms
            .or(file.upload_idle_timeout_ms)
            .unwrap_or(DEFAULT_UPLOAD_IDLE_TIMEOUT_MS);
        if !(100..=3_600_000).contains(&upload_idle_timeout_ms) {
            return Err(invalid(
                "upload_idle_timeout_ms",
                format!("{upload_idle_timeout_ms} is outside 100..=3600000"),
            ));
        }
        let storage_url = args
            .storage_url
            .or(storage.url)
            .unwrap_or_else(|| "./data".to_owned());
        if storage_url.trim().is_empty() {
            return Err(invalid("storage.url", "must not be empty"));
        }
        let local_packages = if args.local_packages.is_empty() {
            file.local_packages
        } else {
            args.local_packages
        };
        validate_trusted_publishers(&file.trusted_publishers)
            .map_err(|e| invalid("trusted_publishers", e.to_string()))?;
        let temporary_key_lifetime_seconds = args
            .temporary_key_lifetime_seconds
            .or(file.temporary_key_lifetime_seconds)
            .unwrap_or(DEFAULT_TEMPORARY_KEY_LIFETIME_SECONDS);
        if !(1..=MAX_TEMPORARY_KEY_LIFETIME_SECONDS).contains(&temporary_key_lifetime_seconds) {
            return Err(invalid(
                "temporary_key_lifetime_seconds",
                format!(
                    "{temporary_key_lifetime_seconds} is outside 1..={MAX_TEMPORARY_KEY_LIFETIME_SECONDS}"
                ),
            ));
        }
        let upstreams = upstreams::resolve(
            file.upstreams,
            args.upstreams,
            args.upstream_metadata_ttl_seconds,
        )?;
        let upstream_cache_max_idle = match args
            .upstream_cache_max_idle_days
            .or(file.upstream_cache_max_idle_days)
        {
            Some(0) => {
                return Err(invalid(
                    "upstream_cache_max_idle_days",
                    "must be at least 1 (leave it out to keep cached packages for ever)",
                ));
            }
            days => days.map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400)),
        };
        Ok(Config {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 5000))),
            public_base_url,
            path_base,
            storage_url,
            storage_options: storage.options,
            max_package_bytes,
            api_keys_file: args.api_keys_file.or(file.api_keys_file),
            read_tokens_file: args.read_tokens_file.or(file.read_tokens_file),
            delete_mode: args.delete_mode.or(file.delete_mode).unwrap_or_default(),
            allow_deleted_version_reuse: args
                .allow_deleted_version_reuse
                .or(file.allow_deleted_version_reuse)
                .unwrap_or(false),
            sync_interval_ms,
            header_timeout_ms,
            upload_idle_timeout_ms,
            vulnerabilities_file: args.vulnerabilities_file.or(file.vulnerabilities_file),
            temp_dir: args
                .temp_dir
                .or(file.temp_dir)
                .unwrap_or_else(std::env::temp_dir),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            redirect_downloads: args
                .redirect_downloads
                .or(file.redirect_downloads)
                .unwrap_or(false),
            local_packages,
            upstreams,
            trusted_publishers: file.trusted_publishers,
            temporary_key_lifetime_seconds,
            upstream_cache_max_idle,
        })
    }
}

/// Reads and parses the config file at `path`.
fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    FileConfig::parse(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn validate_public_base_url(raw: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(raw).map_err(|e| {
        invalid(
            "public_base_url",
            format!("`{raw}` is not an absolute URL ({e})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            "public_base_url",
            format!("`{raw}` must be an http or https URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "public_base_url",
            format!("`{raw}` must not have a query or fragment"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn url_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

fn normalize_path_base(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for segment in trimmed.split('/') {
        let ok = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
        if !ok {
            return Err(invalid(
                "path_base",
                format!(
                    "`{raw}` must be slash-separated segments of letters, digits, '-', '.', '_' or '~'"
                ),
            ));
        }
    }
    Ok(format!("/{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_the_quick_start() {
        let c = Config::default();
        assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 5000)));
        assert_eq!(c.storage_url, "./data");
        assert_eq!(c.path_base, "");
        assert_eq!(c.max_package_bytes, DEFAULT_MAX_PACKAGE_BYTES);
        assert_eq!(c.delete_mode, DeleteMode::Unlist);
        assert!(
            !c.allow_deleted_version_reuse,
            "a deleted version is refused"
        );
    }

    #[test]
    fn path_base_defaults_to_public_url_path() {
        let file = FileConfig {
            public_base_url: Some("https://nuget.example.com/team-a/main/".into()),
            ..Default::default()
        };
        let c = Config::resolve(file, Args::default()).unwrap();
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://nuget.example.com/team-a/main")
        );
        assert_eq!(c.path_base, "/team-a/main");
    }

    #[test]
    fn flags_override_file() {
        let file = FileConfig::parse(
            "listen: 127.0.0.1:7000\nmax_package_bytes: 10\nallow_deleted_version_reuse: true\n",
        )
        .unwrap();
        let c = Config::resolve(file.clone(), Args::default()).unwrap();
        assert!(c.allow_deleted_version_reuse);
        let args = Args {
            max_package_bytes: Some(20),
            allow_deleted_version_reuse: Some(false),
            ..Default::default()
        };
        let c = Config::resolve(file, args).unwrap();
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 7000)));
        assert_eq!(c.max_package_bytes, 20);
        assert!(!c.allow_deleted_version_reuse);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(FileConfig::parse("lisen: 1.2.3.4:5\n").is_err());
        let bad_path = Args {
            path_base: Some("/a/../b".into()),
            ..Default::default()
        };
        assert!(Config::resolve(FileConfig::default(), bad_path).is_err());
        let bad_url = Args {
            public_base_url: Some("ftp://x/".into()),
            ..Default::default()
        };
        assert!(Config::resolve(FileConfig::default(), bad_url).is_err());
    }

    #[test]
    fn trusted_publishers_and_key_lifetime_are_validated() {
        let c = Config::default();
        assert_eq!(
            c.temporary_key_lifetime_seconds,
            DEFAULT_TEMPORARY_KEY_LIFETIME_SECONDS
        );
        let file = FileConfig::parse(
            "temporary_key_lifetime_seconds: 600\ntrusted_publishers:\n  - {name: ci, issuer: 'https://i.example', claims: {sub: a}}\n",
        )
        .unwrap();
        let c = Config::resolve(file.clone(), Args::default()).unwrap();
        assert_eq!(c.temporary_key_lifetime_seconds, 600);
        assert_eq!(c.trusted_publishers[0].name, "ci");
        let args = Args {
            temporary_key_lifetime_seconds: Some(86_401),
            ..Default::default()
        };
        let err = Config::resolve(file.clone(), args).unwrap_err().to_string();
        assert!(err.contains("temporary_key_lifetime_seconds"), "{err}");
        // Two policies of one name parse one by one; the list is checked when resolved.
        let mut twice = file;
        twice
            .trusted_publishers
            .push(twice.trusted_publishers[0].clone());
        let err = Config::resolve(twice, Args::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("trusted_publishers") && err.contains("`ci`"),
            "{err}"
        );
    }

    /// Cached upstream packages are kept for ever unless a max idle time is set (file, flag or
    /// env), in whole days; 0 is refused with the fix in the message.
    #[test]
    fn upstream_cache_max_idle_days_is_off_by_default_and_at_least_one() {
        assert_eq!(Config::default().upstream_cache_max_idle, None);
        let file = FileConfig::parse("upstream_cache_max_idle_days: 30\n").unwrap();
        let c = Config::resolve(file.clone(), Args::default()).unwrap();
        assert_eq!(
            c.upstream_cache_max_idle,
            Some(std::time::Duration::from_secs(30 * 86_400))
        );
        let flag = Args {
            upstream_cache_max_idle_days: Some(2),
            ..Default::default()
        };
        let c = Config::resolve(file, flag).unwrap();
        assert_eq!(
            c.upstream_cache_max_idle,
            Some(std::time::Duration::from_secs(2 * 86_400))
        );
        let zero = Args {
            upstream_cache_max_idle_days: Some(0),
            ..Default::default()
        };
        let err = Config::resolve(FileConfig::default(), zero).unwrap_err();
        assert!(
            err.to_string().contains("upstream_cache_max_idle_days"),
            "{err}"
        );
    }
}
