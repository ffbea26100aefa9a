//! The ConfigMap with the feed server's config file (`config.yaml`), in exactly the schema of
//! `nuget_feed_server::config::FileConfig` (snake_case, unknown fields refused); the cross-crate
//! test in `tests/` loads it with the feed server's own loader.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde::Serialize;

use super::{Error, meta};
use crate::consts::{
    API_KEYS_FILE_KEY, AUTH_DIR, COMPONENT_SERVER, CONFIG_FILE_KEY, READ_TOKENS_FILE_KEY,
    SERVER_PORT, TMP_DIR,
};
use crate::crd::DeleteMode;
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

/// The subset of the feed server's `FileConfig` the operator sets.
#[derive(Serialize)]
struct FileConfig<'a> {
    listen: String,
    public_base_url: &'a str,
    path_base: &'a str,
    storage: StorageConfig<'a>,
    max_package_bytes: u64,
    api_keys_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_tokens_file: Option<String>,
    delete_mode: &'static str,
    temp_dir: &'static str,
    log_format: &'static str,
}

#[derive(Serialize)]
struct StorageConfig<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    options: &'a BTreeMap<String, String>,
}

/// The feed server's config file for `feed`.
pub fn config_file(feed: &ValidatedFeed) -> Result<String, serde_yaml_ng::Error> {
    let file = FileConfig {
        listen: format!("0.0.0.0:{SERVER_PORT}"),
        public_base_url: &feed.public_base_url,
        path_base: &feed.path_base,
        storage: StorageConfig {
            url: &feed.storage.url,
            options: &feed.storage.options,
        },
        max_package_bytes: feed.max_package_bytes,
        api_keys_file: format!("{AUTH_DIR}/{API_KEYS_FILE_KEY}"),
        read_tokens_file: feed
            .read_tokens
            .as_ref()
            .map(|_| format!("{AUTH_DIR}/{READ_TOKENS_FILE_KEY}")),
        delete_mode: match feed.delete_mode {
            DeleteMode::Unlist => "unlist",
            DeleteMode::Delete => "delete",
        },
        // The root filesystem is read-only; /tmp is an emptyDir.
        temp_dir: TMP_DIR,
        log_format: "json",
    };
    serde_yaml_ng::to_string(&file)
}

pub(super) fn build(feed: &ValidatedFeed) -> Result<ConfigMap, Error> {
    let file = config_file(feed).map_err(|e| Error::Serialize {
        what: "config.yaml",
        message: e.to_string(),
    })?;
    Ok(ConfigMap {
        metadata: meta(feed, names::config_map(&feed.feed), COMPONENT_SERVER),
        data: Some(BTreeMap::from([(CONFIG_FILE_KEY.to_owned(), file)])),
        ..ConfigMap::default()
    })
}
