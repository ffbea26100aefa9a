//! The ConfigMap with the feed server's config file (`config.yaml`): `nuget_feed_config`'s
//! [`FileConfig`], the type the feed server parses, with the fields the operator sets; the
//! cross-crate test in `tests/` resolves it with the feed server's own `Config::resolve`.
//! Beside it, for `kubernetes` trusted publishers, the cluster's keys
//! ([`CLUSTER_JWKS_FILE_KEY`]), which the feed server re-reads when they change.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use k8s_openapi::api::core::v1::ConfigMap;
use nuget_feed_config::{FileConfig, LogFormat, StorageConfig};

use super::error::Error;
use super::metadata::meta;
use crate::consts::{
    API_KEYS_FILE_KEY, AUTH_DIR, CLUSTER_JWKS_FILE_KEY, COMPONENT_SERVER, CONFIG_FILE_KEY,
    READ_TOKENS_FILE_KEY, SERVER_PORT, TMP_DIR,
};
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

/// The feed server's config file for `feed`.
pub fn config_file(feed: &ValidatedFeed) -> Result<String, nuget_feed_config::Error> {
    let port = u16::try_from(SERVER_PORT).expect("SERVER_PORT is a port number");
    let file = FileConfig {
        listen: Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        public_base_url: Some(feed.public_base_url.clone()),
        path_base: Some(feed.path_base.clone()),
        storage: Some(StorageConfig {
            url: Some(feed.storage.url.clone()),
            options: feed.storage.options.clone(),
        }),
        max_package_bytes: Some(feed.max_package_bytes),
        api_keys_file: Some(PathBuf::from(format!("{AUTH_DIR}/{API_KEYS_FILE_KEY}"))),
        read_tokens_file: feed
            .read_tokens
            .as_ref()
            .map(|_| PathBuf::from(format!("{AUTH_DIR}/{READ_TOKENS_FILE_KEY}"))),
        delete_mode: Some(feed.delete_mode.into()),
        // The root filesystem is read-only; /tmp is an emptyDir.
        temp_dir: Some(PathBuf::from(TMP_DIR)),
        log_format: Some(LogFormat::Json),
        local_packages: feed.upstreams.local_packages.clone(),
        upstreams: feed.upstreams.upstreams.clone(),
        trusted_publishers: feed.trusted_publishers.publishers.clone(),
        temporary_key_lifetime_seconds: feed.trusted_publishers.temporary_key_lifetime_seconds,
        ..FileConfig::default()
    };
    file.to_yaml()
}

pub(super) fn build(feed: &ValidatedFeed) -> Result<ConfigMap, Error> {
    let file = config_file(feed).map_err(|e| Error::Serialize {
        what: "config.yaml",
        message: e.to_string(),
    })?;
    let mut data = BTreeMap::from([(CONFIG_FILE_KEY.to_owned(), file)]);
    if let Some(keys) = &feed.trusted_publishers.cluster_keys {
        data.insert(CLUSTER_JWKS_FILE_KEY.to_owned(), keys.jwks.clone());
    }
    Ok(ConfigMap {
        metadata: meta(feed, names::config_map(&feed.feed), COMPONENT_SERVER),
        data: Some(data),
        ..ConfigMap::default()
    })
}
