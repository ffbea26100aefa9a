//! Temporary API keys: made by the token exchange, stored hashed in the bucket (so every
//! replica knows them), cached in memory, refused once expired.
//!
//! A key reads `nftk_{expires}_{secret}`: the expiry in it lets a replica refuse an expired key
//! without a lookup, and what is not of this shape is never looked up. Keys this replica has not
//! seen cost one bucket read each; those found missing are remembered for a while, and the reads
//! share a budget, so a flood of made-up keys cannot turn into a flood of bucket reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nuget_feed_config::KeyHash;
use rand::Rng;

use super::limit::{Rate, Shared};
use super::records::{self, KeyRecord};
use crate::storage::{self, Key, Storage};

const PREFIX: &str = "nftk_";
/// Keys remembered (found or missing) before the oldest are dropped.
const MAX_CACHED: usize = 10_000;
/// Bucket reads for keys not in memory: a burst, then a rate.
const LOOKUPS: Rate = Rate {
    burst: 50.0,
    per_second: 20.0,
};

/// Why a presented temporary key does not work.
#[derive(Debug)]
pub enum KeyRefusal {
    /// It expired at this moment (unix seconds).
    Expired(i64),
    /// No such key.
    Unknown,
    /// Too many unknown keys are being looked up just now.
    Busy,
    Storage(storage::Error),
}

/// Whether `presented` has the shape of a temporary key.
pub fn is_temporary_key(presented: &str) -> bool {
    presented.starts_with(PREFIX)
}

/// A new key that expires at `expires` (unix seconds).
pub fn generate(expires: i64) -> String {
    let secret: [u8; 32] = rand::rng().random();
    format!("{PREFIX}{expires}_{}", URL_SAFE_NO_PAD.encode(secret))
}

/// The hex SHA-256 by which a key's record is named.
pub fn hash(key: &str) -> String {
    KeyHash::of(key).to_hex()
}

/// The keys this replica knows, by hash (`None`: looked up and missing).
pub struct TemporaryKeys {
    storage: Storage,
    known: Mutex<HashMap<String, Option<KeyRecord>>>,
    lookups: Mutex<Shared>,
}

impl std::fmt::Debug for TemporaryKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemporaryKeys(..)")
    }
}

impl TemporaryKeys {
    pub fn new(storage: Storage) -> TemporaryKeys {
        TemporaryKeys {
            storage,
            known: Mutex::new(HashMap::new()),
            lookups: Mutex::new(Shared::new(LOOKUPS, Instant::now())),
        }
    }

    /// Stores a new key's record (create-only) and remembers it.
    pub async fn store(&self, key: &str, record: KeyRecord) -> storage::Result<()> {
        let hash = hash(key);
        self.storage
            .create(Key::TemporaryKey(&hash), records::encode(&record))
            .await?;
        self.remember(hash, Some(record));
        Ok(())
    }

    /// The record of `presented` (a key of [`is_temporary_key`]'s shape) at `now`.
    pub async fn find(&self, presented: &str, now: i64) -> Result<KeyRecord, KeyRefusal> {
        let stated = presented
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(expires, _)| expires.parse::<i64>().ok())
            .ok_or(KeyRefusal::Unknown)?;
        if stated < now {
            return Err(KeyRefusal::Expired(stated));
        }
        let hash = hash(presented);
        let cached = self.known.lock().ok().and_then(|k| k.get(&hash).cloned());
        let record = match cached {
            Some(Some(record)) => record,
            Some(None) => return Err(KeyRefusal::Unknown),
            None => {
                let allowed = self
                    .lookups
                    .lock()
                    .is_ok_and(|mut l| l.take(Instant::now()).is_ok());
                if !allowed {
                    return Err(KeyRefusal::Busy);
                }
                match self.storage.get(Key::TemporaryKey(&hash)).await {
                    Ok(bytes) => {
                        let record: KeyRecord =
                            serde_json::from_slice(&bytes).map_err(|_| KeyRefusal::Unknown)?;
                        self.remember(hash, Some(record.clone()));
                        record
                    }
                    Err(e) if e.is_not_found() => {
                        self.remember(hash, None);
                        return Err(KeyRefusal::Unknown);
                    }
                    Err(e) => return Err(KeyRefusal::Storage(e)),
                }
            }
        };
        if record.expires < now {
            return Err(KeyRefusal::Expired(record.expires));
        }
        Ok(record)
    }

    fn remember(&self, hash: String, record: Option<KeyRecord>) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= MAX_CACHED {
                // Missing keys first, then every one: a found key is read again when asked.
                known.retain(|_, r| r.is_some());
                if known.len() >= MAX_CACHED {
                    known.clear();
                }
            }
            known.insert(hash, record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    fn record(expires: i64) -> KeyRecord {
        KeyRecord {
            policy: "p".into(),
            subject: "s".into(),
            scopes: vec![Scope::Push],
            packages: vec![],
            expires,
        }
    }

    #[tokio::test]
    async fn keys_are_found_by_any_replica_until_they_expire() {
        let storage = Storage::memory();
        let now = 1_800_000_000;
        let one = TemporaryKeys::new(storage.clone());
        let key = generate(now + 60);
        assert!(is_temporary_key(&key));
        one.store(&key, record(now + 60)).await.unwrap();
        let other = TemporaryKeys::new(storage.clone());
        assert_eq!(other.find(&key, now).await.unwrap().policy, "p");
        assert!(matches!(
            other.find(&key, now + 61).await,
            Err(KeyRefusal::Expired(_))
        ));
        let forged = generate(now + 60);
        assert!(matches!(
            other.find(&forged, now).await,
            Err(KeyRefusal::Unknown)
        ));
        // The stored record, not the key's text, decides: a key whose stated expiry was
        // edited is another key.
        let stretched = key.replacen(&format!("{}", now + 60), &format!("{}", now + 9999), 1);
        assert!(matches!(
            other.find(&stretched, now).await,
            Err(KeyRefusal::Unknown)
        ));
        let stored = storage.list("trust/keys").await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].path.to_string().contains(&key));
    }

    #[tokio::test]
    async fn unknown_keys_share_a_budget_of_bucket_reads() {
        let keys = TemporaryKeys::new(Storage::memory());
        let now = 1_800_000_000;
        let mut busy = 0;
        for _ in 0..200 {
            if let Err(KeyRefusal::Busy) = keys.find(&generate(now + 60), now).await {
                busy += 1;
            }
        }
        assert!(busy > 0, "200 made-up keys at once exceed the budget");
    }
}
