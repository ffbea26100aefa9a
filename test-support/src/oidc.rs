//! An OIDC issuer on loopback for the trusted-publisher tests: its discovery document
//! (`/.well-known/openid-configuration`) and JWK Set (`/jwks`) served over real HTTP, tokens
//! minted with its own RSA keys in the claim shapes of GitHub Actions and GitLab CI, and key
//! rotation (the set then holds only the new key, as after a cluster's rotation).
//!
//! The keys are pre-generated test files (`test-support/keys/`: generating RSA keys in a debug
//! build is slow); they sign nothing but test tokens. A tiny HTTP/1.1 responder on a thread
//! serves the two documents: one request per connection, `Connection: close`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer's keys: private PEM, public PEM, public JWK.
const KEYS: [(&str, &str, &str); 2] = [
    (
        include_str!("../keys/oidc-1.pem"),
        include_str!("../keys/oidc-1.pub.pem"),
        include_str!("../keys/oidc-1.jwk.json"),
    ),
    (
        include_str!("../keys/oidc-2.pem"),
        include_str!("../keys/oidc-2.pub.pem"),
        include_str!("../keys/oidc-2.jwk.json"),
    ),
];

/// Seconds a minted token lives unless its claims say otherwise.
pub const TOKEN_LIFETIME: i64 = 300;

/// A running issuer (stops serving when dropped with the process; the thread only accepts).
pub struct Issuer {
    url: String,
    /// Index into [`KEYS`] of the signing key.
    current: Arc<AtomicUsize>,
    next_jti: AtomicU64,
    requests: Arc<AtomicU64>,
}

impl Issuer {
    /// Serves on `127.0.0.1:{free port}`; the issuer URL is `http://127.0.0.1:{port}`.
    pub fn start() -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OIDC issuer");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the issuer's address")
        );
        let current = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (served_url, served_key, counted) = (url.clone(), current.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = match path {
                    "/.well-known/openid-configuration" => (
                        "200 OK",
                        json!({"issuer": served_url, "jwks_uri": format!("{served_url}/jwks"),
                               "id_token_signing_alg_values_supported": ["RS256"]})
                        .to_string(),
                    ),
                    "/jwks" => ("200 OK", jwks(served_key.load(Ordering::SeqCst))),
                    _ => ("404 Not Found", "{}".to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Issuer {
            url,
            current,
            next_jti: AtomicU64::new(1),
            requests,
        }
    }

    /// The issuer URL (`iss` of its tokens).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// HTTP requests served so far (discovery and key fetches).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// The JWK Set as served now (for a policy's `jwks_file`).
    pub fn jwks(&self) -> String {
        jwks(self.current.load(Ordering::SeqCst))
    }

    /// From now on tokens are signed with the other key, and the set holds only that one.
    pub fn rotate(&self) {
        self.current.fetch_xor(1, Ordering::SeqCst);
    }

    /// An RS256 token with `claims`, plus `iss`, `iat`, `nbf`, `exp` (in [`TOKEN_LIFETIME`]) and
    /// a fresh `jti` unless `claims` has them (`null` leaves a claim out).
    pub fn mint(&self, claims: Value) -> String {
        let index = self.current.load(Ordering::SeqCst);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid(index));
        let key = EncodingKey::from_rsa_pem(KEYS[index].0.as_bytes()).expect("the test key");
        jsonwebtoken::encode(&header, &self.claims(claims), &key).expect("sign a token")
    }

    /// A token "signed" with HS256 using the issuer's public key as the secret: the classic
    /// algorithm-confusion attack.
    pub fn mint_hs256_with_public_key(&self, claims: Value) -> String {
        let index = self.current.load(Ordering::SeqCst);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid(index));
        let key = EncodingKey::from_secret(KEYS[index].1.as_bytes());
        jsonwebtoken::encode(&header, &self.claims(claims), &key).expect("sign a token")
    }

    /// An unsigned token: `alg: none`, an empty signature.
    pub fn mint_unsigned(&self, claims: Value) -> String {
        let header =
            json!({"alg": "none", "typ": "JWT", "kid": kid(self.current.load(Ordering::SeqCst))});
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(self.claims(claims).to_string())
        )
    }

    /// `token` with its payload replaced by `claims` (the signature kept): a tampered token.
    pub fn tamper(token: &str, claims: &Value) -> String {
        let mut parts = token.split('.');
        let (header, _, signature) = (parts.next(), parts.next(), parts.next());
        format!(
            "{}.{}.{}",
            header.unwrap_or_default(),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature.unwrap_or_default()
        )
    }

    /// The claims a token would carry: `claims` with the defaults filled in.
    pub fn claims(&self, claims: Value) -> Value {
        let now = chrono::Utc::now().timestamp();
        let jti = format!(
            "test-{}-{}",
            std::process::id(),
            self.next_jti.fetch_add(1, Ordering::SeqCst)
        );
        let mut out = json!({"iss": self.url, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "jti": jti});
        if let (Some(out), Value::Object(given)) = (out.as_object_mut(), claims) {
            for (name, value) in given {
                if value.is_null() {
                    out.remove(&name);
                } else {
                    out.insert(name, value);
                }
            }
        }
        out
    }
}

/// The claims of a GitHub Actions job of `repository` (`owner/name`) on `git_ref` running
/// `workflow` (a file name), for `audience`.
pub fn github_claims(audience: &str, repository: &str, git_ref: &str, workflow: &str) -> Value {
    let owner = repository.split('/').next().unwrap_or_default();
    json!({
        "aud": audience,
        "sub": format!("repo:{repository}:ref:{git_ref}"),
        "ref": git_ref,
        "ref_type": "branch",
        "repository": repository,
        "repository_id": "123456789",
        "repository_owner": owner,
        "repository_owner_id": "4242",
        "run_id": "1000001",
        "run_attempt": "1",
        "actor": "octocat",
        "event_name": "push",
        "workflow": "release",
        "job_workflow_ref": format!("{repository}/.github/workflows/{workflow}@{git_ref}"),
        "runner_environment": "github-hosted",
    })
}

/// The claims of a GitLab CI job of `project_path` (`group/project`) on branch `git_ref`, for
/// `audience`.
pub fn gitlab_claims(audience: &str, project_path: &str, git_ref: &str) -> Value {
    let namespace = project_path.rsplit_once('/').map_or("", |(n, _)| n);
    json!({
        "aud": audience,
        "sub": format!("project_path:{project_path}:ref_type:branch:ref:{git_ref}"),
        "namespace_id": "72",
        "namespace_path": namespace,
        "project_id": "20",
        "project_path": project_path,
        "user_login": "ci-bot",
        "pipeline_id": "574",
        "pipeline_source": "push",
        "job_id": "302",
        "ref": git_ref,
        "ref_type": "branch",
        "ref_protected": true,
    })
}

fn kid(index: usize) -> String {
    format!("test-key-{}", index + 1)
}

fn jwks(index: usize) -> String {
    let key: Value = serde_json::from_str(KEYS[index].2).expect("the test JWK");
    json!({"keys": [key]}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_with_the_served_key_until_rotation() {
        let issuer = Issuer::start();
        let token = issuer.mint(json!({"sub": "s", "aud": "a"}));
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&issuer.jwks()).expect("a JWK Set");
        let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).expect("a key");
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["a"]);
        assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_ok());
        issuer.rotate();
        assert!(!issuer.jwks().contains("test-key-1"));
        let rotated = issuer.mint(json!({"sub": "s", "aud": "a"}));
        assert!(jsonwebtoken::decode::<Value>(&rotated, &key, &validation).is_err());
        let served = reqwest::blocking::get(format!("{}/jwks", issuer.url()))
            .and_then(|r| r.text())
            .expect("the served set");
        assert!(served.contains("test-key-2"));
    }
}
