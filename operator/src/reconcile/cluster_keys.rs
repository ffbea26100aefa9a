//! The cluster's ServiceAccount token issuer and its signing keys, read by the operator so the
//! feed server can verify projected ServiceAccount tokens without any access to the Kubernetes
//! API: the `issuer` of `/.well-known/openid-configuration` and the JWK Set at
//! `/openid/v1/jwks`, both served by the apiserver itself (the chart grants `get` on exactly
//! these two URLs). `dereference` asks for them only for a feed with a `kubernetes` trusted
//! publisher; `build` writes the keys into the feed's ConfigMap ([`CLUSTER_JWKS_FILE_KEY`]).
//!
//! Every feed shares one copy, read again when it is older than [`MAX_AGE`], so many feeds
//! cost two requests per refresh and a key rotation on the cluster reaches every feed within
//! `requeue::CLUSTER_KEYS_REFRESH`.
//!
//! [`CLUSTER_JWKS_FILE_KEY`]: crate::consts::CLUSTER_JWKS_FILE_KEY

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;
use serde_json::Value;

/// What the apiserver serves: its discovery document, then the keys.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// A copy younger than this is used as it is.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// What `render` (no cluster) writes: the issuer most clusters have (kubeadm's default) and no
/// keys; a live operator writes the cluster's own.
pub const OFFLINE_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const OFFLINE_JWKS: &str = r#"{"keys":[]}"#;

/// Why the cluster's issuer or keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The apiserver refused or failed the request (403: the operator lacks the chart's
    /// `nonResourceURLs` rule; 404: the apiserver runs without `--service-account-issuer`).
    #[error("cannot read the cluster's ServiceAccount issuer ({path}): {source}")]
    Read {
        path: &'static str,
        #[source]
        source: kube::Error,
    },
    /// The answer is not what the OIDC discovery and JWK Set formats say.
    #[error("the cluster's {path} is not usable: {reason}")]
    Malformed { path: &'static str, reason: String },
}

/// The cluster's issuer and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterKeys {
    /// The `iss` of this cluster's ServiceAccount tokens.
    pub issuer: String,
    /// The JWK Set, as compact JSON with sorted members, so an unchanged key set gives the
    /// same ConfigMap and no write.
    pub jwks: String,
}

impl ClusterKeys {
    /// What `render` writes without a cluster.
    pub fn offline() -> ClusterKeys {
        ClusterKeys {
            issuer: OFFLINE_ISSUER.to_owned(),
            jwks: OFFLINE_JWKS.to_owned(),
        }
    }

    /// Reads both documents from the apiserver.
    pub async fn fetch(client: &Client) -> Result<ClusterKeys, Error> {
        let discovery = get_json(client, DISCOVERY_PATH).await?;
        let issuer = discovery["issuer"]
            .as_str()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| Error::Malformed {
                path: DISCOVERY_PATH,
                reason: "it has no `issuer`".to_owned(),
            })?
            .to_owned();
        let jwks = get_json(client, JWKS_PATH).await?;
        if !jwks["keys"].is_array() {
            return Err(Error::Malformed {
                path: JWKS_PATH,
                reason: "it has no `keys` list".to_owned(),
            });
        }
        // serde_json's map is ordered by key: the same keys always serialize the same.
        Ok(ClusterKeys {
            issuer,
            jwks: jwks.to_string(),
        })
    }
}

async fn get_json(client: &Client, path: &'static str) -> Result<Value, Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| Error::Malformed {
            path,
            reason: e.to_string(),
        })?;
    let text = client
        .request_text(request)
        .await
        .map_err(|source| Error::Read { path, source })?;
    serde_json::from_str(&text).map_err(|e| Error::Malformed {
        path,
        reason: format!("not JSON: {e}"),
    })
}

/// The shared copy of [`ClusterKeys`].
#[derive(Default)]
pub struct Cache {
    last: Mutex<Option<(Instant, ClusterKeys)>>,
}

impl Cache {
    /// The cluster's keys, read again when the copy is older than [`MAX_AGE`].
    pub async fn get(&self, client: &Client) -> Result<ClusterKeys, Error> {
        if let Some(keys) = self.fresh() {
            return Ok(keys);
        }
        let keys = ClusterKeys::fetch(client).await?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), keys.clone()));
        }
        Ok(keys)
    }

    fn fresh(&self) -> Option<ClusterKeys> {
        let last = self.last.lock().ok()?;
        let (at, keys) = last.as_ref()?;
        (at.elapsed() < MAX_AGE).then(|| keys.clone())
    }
}
