//! The verification keys of one issuer (a JWK Set): read from a file, fetched from a URL or found
//! by OIDC discovery, cached, and fetched again when a token names a key the set does not have,
//! at most once per [`REFRESH_INTERVAL`], so tokens with made-up `kid`s cannot make the feed
//! hammer the issuer. A file is read again when its modification time changes (the operator
//! rewrites it when the cluster rotates its keys).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;
use tokio::sync::Mutex;

use nuget_feed_config::JwksSource;

/// The shortest time between two fetches of one issuer's keys for an unknown `kid`.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Keys fetched longer ago than this are fetched again before use, so a key the issuer
/// withdrew stops working without a restart.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Why no key was found for a token.
#[derive(Debug)]
pub enum KeyError {
    /// The set has no key with the token's `kid` (`None`: the token names none and the set has
    /// more than one).
    Unknown(Option<String>),
    /// The keys cannot be read or fetched; the message says where and why.
    Unavailable(String),
}

/// One issuer's keys, from one source.
pub struct Keyring {
    issuer: String,
    source: JwksSource,
    http: reqwest::Client,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: Option<JwkSet>,
    fetched: Option<Instant>,
    /// The file's modification time when it was read (file sources).
    modified: Option<SystemTime>,
    /// Why the last read failed, until one succeeds: a key not found meanwhile is then
    /// "cannot be read just now" (503), not "not among the issuer's keys" (401).
    failed: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Keyring {
    pub fn new(issuer: &str, source: JwksSource, http: reqwest::Client) -> Keyring {
        Keyring {
            issuer: issuer.to_owned(),
            source,
            http,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether this ring reads `source` for `issuer`.
    pub fn is(&self, issuer: &str, source: &JwksSource) -> bool {
        self.issuer == issuer && &self.source == source
    }

    /// Reads a file source now, so a missing or bad file stops the server at start.
    pub async fn preload(&self) -> Result<(), KeyError> {
        if matches!(self.source, JwksSource::File(_)) {
            let mut state = self.state.lock().await;
            self.reload(&mut state).await?;
        }
        Ok(())
    }

    /// The key with id `kid` (or the only key, for a token without `kid`) for `alg`.
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, KeyError> {
        // One fetch at a time per issuer: concurrent requests for an unknown kid wait for the
        // first one's fetch instead of each starting their own.
        let mut state = self.state.lock().await;
        let stale = match (&self.source, state.fetched) {
            (_, None) => true,
            (JwksSource::File(path), Some(_)) => modified(path) != state.modified,
            (_, Some(at)) => at.elapsed() > MAX_KEY_AGE,
        };
        if stale {
            self.reload(&mut state).await?;
        }
        if let Some(key) = find(state.keys.as_ref(), kid, alg) {
            return Ok(key);
        }
        let recently = state
            .fetched
            .is_some_and(|at| at.elapsed() < REFRESH_INTERVAL);
        if !stale && !recently {
            self.reload(&mut state).await?;
            if let Some(key) = find(state.keys.as_ref(), kid, alg) {
                return Ok(key);
            }
        }
        match &state.failed {
            Some(why) => Err(KeyError::Unavailable(why.clone())),
            None => Err(KeyError::Unknown(kid.map(str::to_owned))),
        }
    }

    async fn reload(&self, state: &mut State) -> Result<(), KeyError> {
        // Counted as a fetch even when it fails: a failing issuer is asked again only after
        // the interval too, and so logged at most once per interval.
        state.fetched = Some(Instant::now());
        match self.read(state).await {
            Ok(keys) => {
                state.keys = Some(keys);
                state.failed = None;
                Ok(())
            }
            Err(e) => {
                if let KeyError::Unavailable(why) = &e {
                    tracing::warn!(issuer = %self.issuer, error = %why, "cannot get an issuer's keys");
                    state.failed = Some(why.clone());
                }
                Err(e)
            }
        }
    }

    async fn read(&self, state: &mut State) -> Result<JwkSet, KeyError> {
        Ok(match &self.source {
            JwksSource::File(path) => {
                state.modified = modified(path);
                read_file(path).await?
            }
            JwksSource::Url(url) => self.fetch(url).await?,
            JwksSource::Discovery => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let discovery: Discovery = self.fetch(&url).await?;
                if discovery.issuer != self.issuer {
                    return Err(KeyError::Unavailable(format!(
                        "the OIDC discovery document at {url} names issuer `{}`, not `{}`",
                        discovery.issuer, self.issuer
                    )));
                }
                if !same_trust(&self.issuer, &discovery.jwks_uri) {
                    return Err(KeyError::Unavailable(format!(
                        "the OIDC discovery document at {url} points at keys on `{}`: keys must come over https",
                        discovery.jwks_uri
                    )));
                }
                self.fetch(&discovery.jwks_uri).await?
            }
        })
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, KeyError> {
        let unavailable = |why: String| KeyError::Unavailable(format!("cannot fetch {url}: {why}"));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| unavailable(e.to_string()))?;
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(unavailable(format!(
                    "larger than {MAX_DOCUMENT_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| unavailable(format!("not the JSON expected: {e}")))
    }
}

/// `https://` keys always; `http://` ones only from the (loopback) issuer's own origin, as
/// the config allows an `http` issuer only on a loopback address.
fn same_trust(issuer: &str, jwks_uri: &str) -> bool {
    if jwks_uri.starts_with("https://") {
        return true;
    }
    match (url::Url::parse(issuer), url::Url::parse(jwks_uri)) {
        (Ok(i), Ok(j)) => i.scheme() == "http" && i.origin() == j.origin(),
        _ => false,
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

async fn read_file(path: &PathBuf) -> Result<JwkSet, KeyError> {
    let text = tokio::fs::read(path).await.map_err(|e| {
        KeyError::Unavailable(format!("cannot read the key file {}: {e}", path.display()))
    })?;
    serde_json::from_slice(&text).map_err(|e| {
        KeyError::Unavailable(format!(
            "the key file {} is not a JWK Set: {e}",
            path.display()
        ))
    })
}

/// The key for a token with `kid` and `alg`: by id, or the only key when the token names none.
/// A key that states its own algorithm is used only for that one (no RS256 key for PS256).
fn find(keys: Option<&JwkSet>, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let keys = keys?;
    let key = match kid {
        Some(kid) => keys.find(kid)?,
        None => match keys.keys.as_slice() {
            [only] => only,
            _ => return None,
        },
    };
    let alg_ok = key
        .common
        .key_algorithm
        .is_none_or(|k| k.to_string() == format!("{alg:?}"));
    alg_ok.then(|| key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_https_or_from_a_loopback_issuers_own_origin() {
        assert!(same_trust("https://i.example", "https://keys.example/j"));
        assert!(same_trust("http://127.0.0.1:9", "http://127.0.0.1:9/jwks"));
        assert!(!same_trust(
            "http://127.0.0.1:9",
            "http://127.0.0.1:10/jwks"
        ));
        assert!(!same_trust("https://i.example", "http://i.example/jwks"));
    }

    #[test]
    fn a_key_that_names_its_algorithm_serves_only_that_one() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "a", "alg": "EdDSA"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "b"}
        ]}))
        .unwrap();
        assert!(find(Some(&set), Some("a"), Algorithm::EdDSA).is_some());
        assert!(find(Some(&set), Some("a"), Algorithm::ES256).is_none());
        assert!(find(Some(&set), Some("b"), Algorithm::ES256).is_some());
        assert!(find(Some(&set), Some("c"), Algorithm::EdDSA).is_none());
        assert!(
            find(Some(&set), None, Algorithm::EdDSA).is_none(),
            "two keys, no kid"
        );
    }
}
