//! The token service's objects in the bucket, shared by every replica: one per temporary key
//! ([`KeyRecord`], named by the hash of the key) and one per exchanged token ([`Exchanged`],
//! named by the hash of its issuer and `jti`), each written create-only and carrying the moment
//! after which it is useless, so [`collect_expired`] (`gc`) can remove it.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::token::SKEW_SECONDS;
use crate::auth::Scope;
use crate::config::IdPattern;
use crate::storage::key::TRUST_PREFIX;
use crate::storage::{self, Storage};

/// A temporary key: which policy it acts as, for which subject, until when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub policy: String,
    pub subject: String,
    pub scopes: Vec<Scope>,
    pub packages: Vec<IdPattern>,
    /// Unix seconds.
    pub expires: i64,
}

/// That a token was exchanged; kept until the token could no longer be accepted anyway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchanged {
    /// Unix seconds.
    pub expires: i64,
}

/// What every record has.
#[derive(Deserialize)]
struct Expiring {
    expires: i64,
}

pub fn encode<T: Serialize>(record: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(record).unwrap_or_default())
}

/// What [`collect_expired`] did: the paths removed (or, dry, that would be) and those that
/// could not be.
#[derive(Debug, Default)]
pub struct Collected {
    pub removed: Vec<String>,
    pub removed_bytes: u64,
    pub failed: Vec<String>,
}

/// Removes the records that expired more than the clock skew ago at `now` (unix seconds).
/// Records it cannot read are left alone.
pub async fn collect_expired(
    storage: &Storage,
    now: i64,
    dry_run: bool,
) -> storage::Result<Collected> {
    let mut collected = Collected::default();
    for meta in storage.list(TRUST_PREFIX).await? {
        let Ok(bytes) = storage.get_path(&meta.path).await else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<Expiring>(&bytes) else {
            continue;
        };
        if record.expires + SKEW_SECONDS as i64 >= now {
            continue;
        }
        if !dry_run && storage.delete_path(&meta.path).await.is_err() {
            collected.failed.push(meta.path.to_string());
            continue;
        }
        collected.removed_bytes += meta.size;
        collected.removed.push(meta.path.to_string());
    }
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Key;

    #[tokio::test]
    async fn only_expired_records_are_collected() {
        let storage = Storage::memory();
        let now = 1_800_000_000;
        let old = Exchanged { expires: now - 61 };
        let young = Exchanged { expires: now - 59 };
        storage
            .create(Key::Exchanged("old"), encode(&old))
            .await
            .unwrap();
        storage
            .create(Key::Exchanged("young"), encode(&young))
            .await
            .unwrap();
        let key = KeyRecord {
            policy: "p".into(),
            subject: "s".into(),
            scopes: vec![Scope::Push],
            packages: vec![],
            expires: now - 3600,
        };
        storage
            .create(Key::TemporaryKey("k"), encode(&key))
            .await
            .unwrap();
        let dry = collect_expired(&storage, now, true).await.unwrap();
        assert_eq!(dry.removed.len(), 2);
        let done = collect_expired(&storage, now, false).await.unwrap();
        let mut removed = done.removed.clone();
        removed.sort();
        assert_eq!(removed, ["trust/exchanged/old.json", "trust/keys/k.json"]);
        assert!(storage.get(Key::Exchanged("young")).await.is_ok());
    }
}
