//! The Secrets: plaintext generated credentials for the tenant (`{feed}-api-keys`,
//! `{feed}-read-tokens`; one entry per name, created once, entries never rewritten) and the
//! hashed files for the feed server (`{feed}-auth`, the only one mounted into the pod).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use super::error::Error;
use super::metadata::meta;
use crate::consts::{API_KEYS_FILE_KEY, COMPONENT_SERVER, READ_TOKENS_FILE_KEY};
use crate::keys;
use crate::reconcile::names;
use crate::reconcile::validate::{CredentialSet, ValidatedFeed};

/// The tenant's Secret of plaintext keys (or tokens), one entry per name.
pub(super) fn build_plaintext(
    feed: &ValidatedFeed,
    set: &CredentialSet,
    component: &str,
) -> Secret {
    Secret {
        metadata: meta(feed, set.secret_name.clone(), component),
        type_: Some("Opaque".to_owned()),
        data: Some(
            set.entries
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// The feed server's `api-keys.yaml` (and `read-tokens.txt`): hashes only.
pub(super) fn build_auth(feed: &ValidatedFeed) -> Result<Secret, Error> {
    let api_keys = keys::api_keys_file(&feed.api_keys, &feed.api_key_secret.entries)
        .to_yaml()
        .map_err(|e| Error::Serialize {
            what: "api-keys.yaml",
            message: e.to_string(),
        })?;
    let mut data = BTreeMap::from([(
        API_KEYS_FILE_KEY.to_owned(),
        ByteString(api_keys.into_bytes()),
    )]);
    if let Some(tokens) = &feed.read_tokens {
        data.insert(
            READ_TOKENS_FILE_KEY.to_owned(),
            ByteString(keys::read_tokens_file(&tokens.entries).into_bytes()),
        );
    }
    Ok(Secret {
        metadata: meta(feed, names::auth_secret(&feed.feed), COMPONENT_SERVER),
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    })
}

#[cfg(test)]
mod tests {
    use nuget_feed_config::KeyHash;

    use super::*;
    use crate::consts::{COMPONENT_API_KEYS, COMPONENT_READ_TOKENS};
    use crate::reconcile::fixtures::{VOLUME_TOKENS, secret_text, validated};

    /// The mounted files hold hashes of the plaintext keys and tokens, never the plaintext.
    #[test]
    fn auth_files_hold_hashes_never_the_plaintext() {
        let feed = validated(VOLUME_TOKENS);
        let auth = build_auth(&feed).unwrap();
        let api_keys = build_plaintext(&feed, &feed.api_key_secret, COMPONENT_API_KEYS);
        let tokens = build_plaintext(
            &feed,
            feed.read_tokens.as_ref().unwrap(),
            COMPONENT_READ_TOKENS,
        );
        let keys_file = secret_text(&auth, "api-keys.yaml");
        let plain = secret_text(&api_keys, "ci");
        assert!(!keys_file.contains(&plain));
        assert!(keys_file.contains(&KeyHash::of(&plain).to_hex()));
        let tokens_file = secret_text(&auth, "read-tokens.txt");
        let devs_hash = KeyHash::of(&secret_text(&tokens, "devs")).to_hex();
        assert!(tokens_file.contains(&format!("sha256:{devs_hash}")));
    }
}
