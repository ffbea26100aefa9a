//! The feed server's config file (`config.yaml`): [`FileConfig`], field by field. The operator
//! renders exactly this type into a ConfigMap; the feed server parses it and resolves its flags
//! and environment over it (`nuget_feed_server::config::Config::resolve`), which also checks
//! the values' ranges, since flags can set them too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::id_pattern::IdPattern;
use crate::trusted_publishers::TrustedPublisher;
use crate::upstream::UpstreamConfig;
#[cfg(doc)]
use crate::{ApiKeysFile, ReadTokensFile};

/// The configuration file, field by field. Unknown fields are an error so a typo is not ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    /// Address and port to listen on. Default `0.0.0.0:5000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Public URL of the feed, without `index.json` (e.g. `https://nuget.example.com/team-a/main`).
    /// Every URL the feed serves is built from it. When absent, URLs come from the request's
    /// Host / X-Forwarded-Proto / X-Forwarded-Host / X-Forwarded-Prefix headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
    /// Path under which the feed is served (e.g. `/team-a/main`); the service index is at
    /// `{path_base}/index.json`. Defaults to the path of `public_base_url`, else the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_base: Option<String>,
    /// Where the feed's state lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
    /// Largest accepted package upload in bytes; larger pushes get 413. Default 250 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_package_bytes: Option<u64>,
    /// File with the API keys allowed to push and unlist, in the format of [`ApiKeysFile`].
    /// Without it the feed accepts no pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys_file: Option<PathBuf>,
    /// File with read tokens, one per line (plain or `sha256:<hex>`, see [`ReadTokensFile`]).
    /// When set, every read needs HTTP Basic authentication with one of them as the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_tokens_file: Option<PathBuf>,
    /// What `DELETE {publish}/{id}/{version}` does: `unlist` (default, as nuget.org) or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_mode: Option<DeleteMode>,
    /// In `delete` mode: whether a version deleted for good may be pushed again, with any
    /// bytes. Default false: such a push gets 409, because clients that restored the version
    /// keep its old bytes in their global packages folder and would fail its hash check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_deleted_version_reuse: Option<bool>,
    /// How often, in milliseconds, the server picks up changes made by other replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_interval_ms: Option<u64>,
    /// Milliseconds a client has to send a request's headers; an idle keep-alive connection is
    /// closed after as long. Default 20000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_timeout_ms: Option<u64>,
    /// Longest pause, in milliseconds, while a package upload streams in; the upload is cut
    /// with 408 after it, and also when it averages under 1 KiB/s once twice this has passed.
    /// Default 30000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_idle_timeout_ms: Option<u64>,
    /// Optional file (YAML or JSON) of vulnerability advisories served by VulnerabilityInfo
    /// and shown in registration and search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities_file: Option<PathBuf>,
    /// Folder for uploads in progress. Defaults to the system temp folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_dir: Option<PathBuf>,
    /// Log format: `json` (default) or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// On S3, Azure Blob or GCS storage: answer package file downloads with a redirect (302)
    /// to a pre-signed URL of the stored object, so the bytes flow from the store and not
    /// through the server. Default false; refused at start-up for other storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_downloads: Option<bool>,
    /// Package ids (patterns as for API keys) that belong to this feed alone: never looked up
    /// upstream, even before their first push here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_packages: Vec<IdPattern>,
    /// Other V3 feeds whose packages this feed serves and caches, asked in order, for ids it
    /// does not have ([`UpstreamConfig`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<UpstreamConfig>,
    /// Days after which `gc` removes a package cached from an upstream that no one downloaded
    /// meanwhile (it is fetched again on its next download). Default: never, since cached
    /// packages are what restores rely on while an upstream is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_cache_max_idle_days: Option<u32>,
    /// Who may push with an OIDC token (a Kubernetes ServiceAccount's, a CI job's) instead of
    /// an API key ([`TrustedPublisher`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_publishers: Vec<TrustedPublisher>,
    /// Seconds a key handed out by the TokenService for a trusted publisher's token works.
    /// Default 3600, at most 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_key_lifetime_seconds: Option<u64>,
}

/// Object storage for the feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct StorageConfig {
    /// A local folder (`./data`, `/var/lib/nuget`, `file:///abs`), `memory://` (tests),
    /// `s3://bucket/prefix`, `az://container/prefix` or `gs://bucket/prefix`. Default `./data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Backend options as `object_store` names them (`aws_region`, `aws_endpoint`,
    /// `aws_allow_http`, `aws_virtual_hosted_style_request`, `azure_storage_account_name`, ...).
    /// Credentials are better left to the backend's usual environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// What `DELETE {publish}/{id}/{version}` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// Hide the version from search and restore-by-range; it stays downloadable (nuget.org).
    #[default]
    Unlist,
    /// Remove the version and its files for good.
    Delete,
}

/// How the feed server writes its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

impl FileConfig {
    /// Parses the file's text; an empty file is the default configuration.
    pub fn parse(yaml: &str) -> Result<FileConfig> {
        if yaml.trim().is_empty() {
            return Ok(FileConfig::default());
        }
        Ok(serde_yaml_ng::from_str(yaml)?)
    }

    /// The file's text; fields left `None` are not written.
    pub fn to_yaml(&self) -> Result<String> {
        Ok(serde_yaml_ng::to_string(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_refused() {
        let err = FileConfig::parse("lisen: 1.2.3.4:5\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `lisen`"), "{err}");
        let err = FileConfig::parse("storage: {uri: ./x}\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `uri`"), "{err}");
    }

    #[test]
    fn an_empty_file_is_the_default() {
        assert_eq!(FileConfig::parse("").unwrap(), FileConfig::default());
        assert_eq!(FileConfig::parse("\n  \n").unwrap(), FileConfig::default());
    }

    /// The operator writes what it sets and nothing else; the feed server reads it back.
    #[test]
    fn written_files_read_back_the_same() {
        let file = FileConfig {
            listen: Some(SocketAddr::from(([0, 0, 0, 0], 5000))),
            storage: Some(StorageConfig {
                url: Some("s3://feeds/team-a/main".into()),
                options: BTreeMap::from([("aws_region".into(), "eu-west-1".into())]),
            }),
            max_package_bytes: Some(10),
            delete_mode: Some(DeleteMode::Delete),
            log_format: Some(LogFormat::Json),
            ..FileConfig::default()
        };
        let text = file.to_yaml().unwrap();
        assert_eq!(
            text,
            "listen: 0.0.0.0:5000\nstorage:\n  url: s3://feeds/team-a/main\n  options:\n    aws_region: eu-west-1\nmax_package_bytes: 10\ndelete_mode: delete\nlog_format: json\n"
        );
        assert_eq!(FileConfig::parse(&text).unwrap(), file);
    }
}
