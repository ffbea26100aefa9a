//! Trusted publishers: pushing with an OIDC token (a Kubernetes ServiceAccount's, a GitHub
//! Actions or GitLab CI job's, any OIDC issuer's) instead of a long-lived API key.
//!
//! [`Trust`] owns the policies of the config (`trusted_publishers`), their issuers' keys
//! ([`jwks`]), the temporary keys the token exchange hands out ([`temporary_keys`], stored in the
//! bucket through [`records`]) and the exchange's rate limit ([`limit`]). A token is read
//! ([`token`]), proven with its issuer's key, then matched against the issuer's policies
//! ([`policy`]). Tokens are never stored or logged: only hashes of them and of keys reach the
//! bucket, and no type here holds a token.

pub mod jwks;
mod limit;
pub mod policy;
pub mod records;
mod refusal;
pub mod temporary_keys;
pub mod token;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::config::{Config, TrustedPublisher};
use crate::storage::{self, Key, Storage};
use jwks::{KeyError, Keyring};
use limit::{Keyed, Rate};
use policy::Accepted;
use records::Exchanged;
pub use records::KeyRecord;
use temporary_keys::{KeyRefusal, TemporaryKeys};
use token::Unverified;

pub use records::collect_expired;
pub use refusal::Refusal;
pub use temporary_keys::is_temporary_key;
pub use token::looks_like_jwt;

/// Exchanges per subject: a burst, then ten a minute (nuget.org allows one per 30 s; CI jobs
/// that push several packages in parallel each exchange their own token).
const EXCHANGES: Rate = Rate {
    burst: 10.0,
    per_second: 10.0 / 60.0,
};
/// How long a request for an issuer's keys may take.
const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A temporary key, as handed to the client.
pub struct Issued {
    pub key: String,
    /// Unix seconds.
    pub expires: i64,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issued {{ key: .., expires: {} }}", self.expires)
    }
}

/// The feed's trusted publishers (see the module docs).
pub struct Trust {
    policies: Vec<Arc<TrustedPublisher>>,
    /// One per distinct issuer and key source; `ring_of[i]` is policy `i`'s.
    rings: Vec<Keyring>,
    ring_of: Vec<usize>,
    storage: Storage,
    key_lifetime: Duration,
    keys: TemporaryKeys,
    exchanges: Mutex<Keyed>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.policies.iter().map(|p| p.name.as_str()).collect();
        write!(f, "Trust({names:?})")
    }
}

impl Trust {
    /// The policies of `config`; file key sources are read now, so a missing file stops the
    /// server at start with its path.
    pub async fn new(config: &Config, storage: Storage) -> anyhow::Result<Trust> {
        let http = reqwest::Client::builder()
            .timeout(KEY_FETCH_TIMEOUT)
            .user_agent(concat!("nuget-feed-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut rings: Vec<Keyring> = Vec::new();
        let mut ring_of = Vec::new();
        for p in &config.trusted_publishers {
            let index = match rings.iter().position(|r| r.is(&p.issuer, &p.jwks)) {
                Some(i) => i,
                None => {
                    let ring = Keyring::new(&p.issuer, p.jwks.clone(), http.clone());
                    ring.preload().await.map_err(|e| match e {
                        KeyError::Unavailable(m) => {
                            anyhow::anyhow!("trusted publisher `{}`: {m}", p.name)
                        }
                        KeyError::Unknown(_) => anyhow::anyhow!("trusted publisher `{}`", p.name),
                    })?;
                    rings.push(ring);
                    rings.len() - 1
                }
            };
            ring_of.push(index);
        }
        Ok(Trust {
            policies: config
                .trusted_publishers
                .iter()
                .cloned()
                .map(Arc::new)
                .collect(),
            rings,
            ring_of,
            keys: TemporaryKeys::new(storage.clone()),
            storage,
            key_lifetime: Duration::from_secs(config.temporary_key_lifetime_seconds),
            exchanges: Mutex::new(Keyed::new(EXCHANGES)),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn policies(&self) -> impl Iterator<Item = &TrustedPublisher> {
        self.policies.iter().map(|p| p.as_ref())
    }

    /// The policy that accepts `token` for a feed whose default audience is `default_audience`.
    pub async fn verify(&self, token: &str, default_audience: &str) -> Result<Accepted, Refusal> {
        let head = Unverified::read(token)?;
        let candidates: Vec<usize> = (0..self.policies.len())
            .filter(|&i| self.policies[i].issuer == head.issuer)
            .collect();
        if candidates.is_empty() {
            return Err(Refusal::Invalid(format!(
                "no trusted publisher of this feed accepts tokens of issuer `{}`",
                token::shorten(&head.issuer)
            )));
        }
        let mut rings: Vec<usize> = candidates.iter().map(|&i| self.ring_of[i]).collect();
        rings.dedup();
        let mut refusal = None;
        for ring in rings {
            let key = match self.rings[ring].key(head.kid.as_deref(), head.alg).await {
                Ok(key) => key,
                Err(KeyError::Unknown(kid)) => {
                    refusal = Some(Refusal::Invalid(match kid {
                        Some(kid) => format!(
                            "the token's signing key `{}` is not among the keys of issuer `{}`",
                            token::shorten(&kid),
                            head.issuer
                        ),
                        None => format!(
                            "the token names no signing key (`kid`) and issuer `{}` has several",
                            head.issuer
                        ),
                    }));
                    continue;
                }
                Err(KeyError::Unavailable(_)) => {
                    refusal = Some(Refusal::Unavailable(format!(
                        "the keys of issuer `{}` cannot be read just now; retry later",
                        head.issuer
                    )));
                    continue;
                }
            };
            let claims = token::check_signature(token, head.alg, &key, &head.issuer)?;
            let policies: Vec<Arc<TrustedPublisher>> = candidates
                .iter()
                .filter(|&&i| self.ring_of[i] == ring)
                .map(|&i| self.policies[i].clone())
                .collect();
            // Policies of this issuer with other key sources may still accept it.
            match policy::choose(&policies, &claims, default_audience, Utc::now().timestamp()) {
                Ok(accepted) => return Ok(accepted),
                Err(refused) => refusal = Some(refused),
            }
        }
        Err(refusal.unwrap_or_else(|| Refusal::Invalid("the token is not trusted".into())))
    }

    /// Trades `token` for a temporary key: once per token (its `jti`, or the token's hash when
    /// it has none), rate-limited per subject.
    pub async fn exchange(
        &self,
        token: &str,
        default_audience: &str,
    ) -> Result<(Issued, KeyRecord), Refusal> {
        let accepted = self.verify(token, default_audience).await?;
        let subject_key = format!("{}\n{}", accepted.policy.issuer, accepted.subject);
        if let Ok(mut limit) = self.exchanges.lock()
            && let Err(wait) = limit.take(&subject_key, Instant::now())
        {
            return Err(Refusal::TooMany { retry_after: wait });
        }
        let once = match &accepted.jti {
            Some(jti) => digest(&[&accepted.policy.issuer, jti]),
            None => digest(&[token]),
        };
        let record = Exchanged {
            expires: accepted.usable_until,
        };
        match self
            .storage
            .create(Key::Exchanged(&once), records::encode(&record))
            .await
        {
            Ok(()) => {}
            Err(storage::Error::AlreadyExists { .. }) => {
                return Err(Refusal::Invalid(
                    "this token was exchanged already; each token is exchanged once: request a new one".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let lifetime = i64::try_from(self.key_lifetime.as_secs()).unwrap_or(3600);
        let expires = Utc::now().timestamp() + lifetime;
        let key = temporary_keys::generate(expires);
        let record = KeyRecord {
            policy: accepted.policy.name.clone(),
            subject: accepted.subject,
            scopes: accepted.policy.scopes.clone(),
            packages: accepted.policy.packages.clone(),
            expires,
        };
        self.keys.store(&key, record.clone()).await?;
        Ok((Issued { key, expires }, record))
    }

    /// Who the temporary key `presented` acts as. The policy must still be configured: removing
    /// a policy revokes its keys.
    pub async fn temporary_key(&self, presented: &str) -> Result<KeyRecord, Refusal> {
        let record = self
            .keys
            .find(presented, Utc::now().timestamp())
            .await
            .map_err(|refusal| match refusal {
                KeyRefusal::Expired(at) => Refusal::Invalid(format!(
                    "the temporary API key expired at {}; exchange a new token for a new key",
                    chrono::DateTime::from_timestamp(at, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                )),
                KeyRefusal::Unknown => Refusal::NotTrusted("the API key is invalid".into()),
                KeyRefusal::Busy => Refusal::Unavailable(
                    "too many unknown API keys are being presented; retry later".into(),
                ),
                KeyRefusal::Storage(e) => e.into(),
            })?;
        if !self.policies.iter().any(|p| p.name == record.policy) {
            return Err(Refusal::NotTrusted(format!(
                "the API key was issued for trusted publisher `{}`, which this feed no longer has",
                record.policy
            )));
        }
        Ok(record)
    }

    /// Who the token `presented` (sent as an API key) acts as.
    pub async fn token(
        &self,
        presented: &str,
        default_audience: &str,
    ) -> Result<KeyRecord, Refusal> {
        let accepted = self.verify(presented, default_audience).await?;
        Ok(KeyRecord {
            policy: accepted.policy.name.clone(),
            subject: accepted.subject,
            scopes: accepted.policy.scopes.clone(),
            packages: accepted.policy.packages.clone(),
            expires: accepted.expires,
        })
    }
}

/// Hex SHA-256 of `parts`, each ended by a newline (so no two lists hash alike).
fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_never_shows_in_debug_output() {
        let issued = Issued {
            key: temporary_keys::generate(1_800_000_000),
            expires: 1_800_000_000,
        };
        let shown = format!("{issued:?}");
        assert!(!shown.contains(&issued.key), "{shown}");
        assert!(shown.contains("1800000000"));
    }
}
