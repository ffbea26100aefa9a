//! API keys (push, unlist: managing existing versions) and read tokens, held only as SHA-256 hashes and compared in
//! constant time.
//!
//! The API key file is either YAML:
//! ```yaml
//! keys:
//!   - name: ci                  # listed as an owner of the ids it may push (SQ-10)
//!     sha256: "<hex of sha256(key)>"   # or `key: <plain text>`
//!     scopes: [push, unlist]    # default: both
//!     packages: ["Contoso.*"]   # id patterns, default: ["*"]
//! ```
//! or plain text with one key per line (`sha256:<hex>` for a hashed one; `#` starts a comment),
//! each allowed everything. The read token file is plain text of the same line form.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::package::PackageId;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Push packages and symbol packages.
    Push,
    /// Manage existing versions: unlist, relist, delete and deprecate.
    Unlist,
}

/// One API key, without its secret.
#[derive(Clone)]
pub struct ApiKey {
    pub name: String,
    hash: [u8; 32],
    scopes: Vec<Scope>,
    patterns: Vec<IdPattern>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// Whether this key may do `scope` to package `id`.
    pub fn allows(&self, scope: Scope, id: &PackageId) -> bool {
        self.scopes.contains(&scope) && self.patterns.iter().any(|p| p.matches(id))
    }
}

/// An id pattern: `*`, a prefix `Contoso.*`, or an exact id; case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IdPattern {
    Any,
    Prefix(String),
    Exact(String),
}

impl IdPattern {
    fn parse(raw: &str) -> Result<IdPattern, String> {
        let lower = raw.trim().to_ascii_lowercase();
        if lower == "*" {
            return Ok(IdPattern::Any);
        }
        let (body, prefix) = match lower.strip_suffix('*') {
            Some(body) => (body, true),
            None => (lower.as_str(), false),
        };
        let ok = !body.is_empty()
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err(format!(
                "package pattern `{raw}` is invalid: use `*`, an id, or an id prefix ending in `*` such as `Contoso.*`"
            ));
        }
        Ok(if prefix {
            IdPattern::Prefix(body.to_owned())
        } else {
            IdPattern::Exact(body.to_owned())
        })
    }

    fn matches(&self, id: &PackageId) -> bool {
        match self {
            IdPattern::Any => true,
            IdPattern::Prefix(p) => id.lower().starts_with(p.as_str()),
            IdPattern::Exact(e) => id.lower() == *e,
        }
    }
}

/// The feed's API keys.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<Scope>>,
    #[serde(default)]
    packages: Option<Vec<String>>,
}

impl ApiKeys {
    pub fn load(path: &Path) -> Result<ApiKeys, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read API key file {}: {e}", path.display()))?;
        ApiKeys::parse(&text).map_err(|e| format!("API key file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<ApiKeys, String> {
        let first_line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        if first_line.starts_with("keys:") || first_line.starts_with("---") {
            let file: KeyFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
            let keys = file
                .keys
                .into_iter()
                .map(|entry| {
                    let hash = match (&entry.key, &entry.sha256) {
                        (Some(k), None) => hash_secret(k)?,
                        (None, Some(h)) => parse_hash(h)?,
                        _ => {
                            return Err(format!(
                                "key `{}` needs exactly one of `key` or `sha256`",
                                entry.name
                            ));
                        }
                    };
                    let patterns = entry
                        .packages
                        .unwrap_or_else(|| vec!["*".to_owned()])
                        .iter()
                        .map(|p| IdPattern::parse(p))
                        .collect::<Result<_, _>>()?;
                    Ok(ApiKey {
                        name: entry.name,
                        hash,
                        scopes: entry
                            .scopes
                            .unwrap_or_else(|| vec![Scope::Push, Scope::Unlist]),
                        patterns,
                    })
                })
                .collect::<Result<_, String>>()?;
            return Ok(ApiKeys { keys });
        }
        let keys = parse_lines(text)?
            .into_iter()
            .enumerate()
            .map(|(i, hash)| ApiKey {
                name: format!("key{}", i + 1),
                hash,
                scopes: vec![Scope::Push, Scope::Unlist],
                patterns: vec![IdPattern::Any],
            })
            .collect();
        Ok(ApiKeys { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key whose secret is `presented`. Every key is compared, in constant time, so the
    /// time taken says nothing about which (or whether one) matched.
    pub fn authenticate(&self, presented: &str) -> Option<&ApiKey> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&hash)) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }

    /// Names of the keys allowed to push `id`: its owners in search and registration (SQ-10).
    pub fn owners(&self, id: &PackageId) -> Vec<String> {
        let mut names: Vec<String> = self
            .keys
            .iter()
            .filter(|k| k.allows(Scope::Push, id))
            .map(|k| k.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Tokens that grant read access through HTTP Basic authentication (password = token).
#[derive(Clone, Default)]
pub struct ReadTokens {
    hashes: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ReadTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadTokens({} tokens)", self.hashes.len())
    }
}

impl ReadTokens {
    pub fn load(path: &Path) -> Result<ReadTokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read read-token file {}: {e}", path.display()))?;
        let hashes =
            parse_lines(&text).map_err(|e| format!("read-token file {}: {e}", path.display()))?;
        if hashes.is_empty() {
            return Err(format!("read-token file {} holds no token", path.display()));
        }
        Ok(ReadTokens { hashes })
    }

    pub fn verify(&self, presented: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.hashes
            .iter()
            .fold(false, |ok, h| ok | bool::from(h.ct_eq(&hash)))
    }
}

/// Hex SHA-256 of a secret, the form key files store.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn hash_secret(secret: &str) -> Result<[u8; 32], String> {
    if secret.trim().len() < 8 {
        return Err("a key or token must be at least 8 characters".into());
    }
    Ok(Sha256::digest(secret.trim().as_bytes()).into())
}

fn parse_hash(hex_hash: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_hash.trim(), &mut out)
        .map_err(|_| "a sha256 hash must be 64 hex digits".to_owned())?;
    Ok(out)
}

fn parse_lines(text: &str) -> Result<Vec<[u8; 32]>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix("sha256:") {
            Some(h) => parse_hash(h),
            None => hash_secret(l),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PackageId {
        PackageId::parse(s).unwrap()
    }

    #[test]
    fn yaml_keys_have_scopes_patterns_and_hashes() {
        let hashed = sha256_hex("secret-two-22");
        let keys = ApiKeys::parse(&format!(
            "keys:\n  - name: ci\n    key: secret-one-11\n    packages: ['Contoso.*']\n  - name: cleaner\n    sha256: {hashed}\n    scopes: [unlist]\n"
        ))
        .unwrap();
        let ci = keys.authenticate("secret-one-11").unwrap();
        assert_eq!(ci.name, "ci");
        assert!(ci.allows(Scope::Push, &id("contoso.Lib")));
        assert!(!ci.allows(Scope::Push, &id("Other.Lib")));
        let cleaner = keys.authenticate("secret-two-22").unwrap();
        assert!(cleaner.allows(Scope::Unlist, &id("Any")));
        assert!(!cleaner.allows(Scope::Push, &id("Any")));
        assert!(keys.authenticate("wrong-key-000").is_none());
        assert_eq!(keys.owners(&id("Contoso.X")), vec!["ci".to_owned()]);
        assert!(keys.owners(&id("Other")).is_empty());
    }

    #[test]
    fn yaml_files_may_start_with_comments() {
        // The README's quick-start key file opens with a comment.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/local/api-keys.yaml"
        ))
        .unwrap();
        let keys = ApiKeys::parse(&text).unwrap();
        assert_eq!(
            keys.authenticate("local-dev-key-change-me").unwrap().name,
            "local-dev"
        );
    }

    #[test]
    fn plain_key_lines_allow_everything() {
        let keys = ApiKeys::parse(&format!(
            "# comment\nfirst-key-123\nsha256:{}\n",
            sha256_hex("second-key-456")
        ))
        .unwrap();
        assert!(keys.authenticate("first-key-123").is_some());
        assert!(keys.authenticate("second-key-456").is_some());
        assert!(keys.authenticate("first-key-12").is_none());
    }

    #[test]
    fn bad_key_files_are_refused_with_a_reason() {
        assert!(
            ApiKeys::parse("short")
                .unwrap_err()
                .contains("8 characters")
        );
        let both = "keys:\n  - name: x\n    key: abcdefghij\n    sha256: 00\n";
        assert!(ApiKeys::parse(both).unwrap_err().contains("exactly one"));
        let pattern = "keys:\n  - name: x\n    key: abcdefghij\n    packages: ['a b']\n";
        assert!(ApiKeys::parse(pattern).unwrap_err().contains("pattern"));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let keys = ApiKeys::parse("keys:\n  - name: ci\n    key: very-secret-key\n").unwrap();
        let shown = format!("{keys:?}");
        assert!(!shown.contains("very-secret-key"));
        assert!(!shown.contains(&sha256_hex("very-secret-key")));
    }
}
