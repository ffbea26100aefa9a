//! The runtime key store: the API keys (push, unlist: managing existing versions) and read
//! tokens of the files named in the config, held only as SHA-256 hashes and compared in constant
//! time.
//!
//! The file formats, their parsing and the package id patterns are `nuget_feed_config`'s
//! ([`ApiKeysFile`], [`ReadTokensFile`]), shared with the operator that writes them; this module
//! reads the files and answers who a presented key or token is.

use std::path::Path;

use nuget_feed_config::{ApiKeysFile, IdPattern, KeyHash, ReadTokensFile, TrustedPublisher};
use subtle::ConstantTimeEq;

pub use nuget_feed_config::{ApiKeyEntry, Scope};

use crate::package::PackageId;

/// Who a write request acts as: an API key of the key file, or a trusted publisher's policy (by
/// its OIDC token or a temporary key the token was exchanged for). Holds names, never secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// The key's or the policy's name: the owner of what it pushes, named in the audit log.
    pub name: String,
    /// For a trusted publisher, the token's `sub` (for the audit log).
    pub subject: Option<String>,
    pub scopes: Vec<Scope>,
    pub packages: Vec<IdPattern>,
}

impl Publisher {
    /// Whether it may do `scope` to the package id `id`.
    pub fn allows(&self, scope: Scope, id: &str) -> bool {
        self.scopes.contains(&scope) && self.packages.iter().any(|p| p.matches(id))
    }

    /// As a message says it: "the API key `ci`", "the trusted publisher `release`".
    pub fn describe(&self) -> String {
        match self.subject {
            None => format!("the API key `{}`", self.name),
            Some(_) => format!("the trusted publisher `{}`", self.name),
        }
    }
}

impl From<&ApiKeyEntry> for Publisher {
    fn from(key: &ApiKeyEntry) -> Publisher {
        Publisher {
            name: key.name.clone(),
            subject: None,
            scopes: key.scopes.clone(),
            packages: key.packages.clone(),
        }
    }
}

/// The feed's API keys, and the trusted publishers' policies as owners.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKeyEntry>,
    /// Policy names with what they may push: owners like key names (SQ-10).
    publishers: Vec<Publisher>,
}

impl From<ApiKeysFile> for ApiKeys {
    fn from(file: ApiKeysFile) -> ApiKeys {
        ApiKeys {
            keys: file.keys,
            publishers: Vec::new(),
        }
    }
}

impl ApiKeys {
    pub fn load(path: &Path) -> Result<ApiKeys, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read API key file {}: {e}", path.display()))?;
        let file = ApiKeysFile::parse(&text)
            .map_err(|e| format!("API key file {}: {e}", path.display()))?;
        Ok(ApiKeys::from(file))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// These keys, with the trusted publishers' policies as owners too.
    pub fn with_publishers<'a>(
        mut self,
        policies: impl IntoIterator<Item = &'a TrustedPublisher>,
    ) -> ApiKeys {
        self.publishers = policies
            .into_iter()
            .map(|p| Publisher {
                name: p.name.clone(),
                subject: Some(String::new()),
                scopes: p.scopes.clone(),
                packages: p.packages.clone(),
            })
            .collect();
        self
    }

    /// The key whose secret is `presented`. Every key is compared, in constant time, so the
    /// time taken says nothing about which (or whether one) matched.
    pub fn authenticate(&self, presented: &str) -> Option<&ApiKeyEntry> {
        let hash = KeyHash::of(presented);
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&hash)) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }

    /// Names of the keys and trusted publishers allowed to push `id`: its owners in search and
    /// registration (SQ-10).
    pub fn owners(&self, id: &PackageId) -> Vec<String> {
        let keys = self
            .keys
            .iter()
            .filter(|k| k.allows(Scope::Push, id.as_str()))
            .map(|k| k.name.clone());
        let publishers = self
            .publishers
            .iter()
            .filter(|p| p.allows(Scope::Push, id.as_str()))
            .map(|p| p.name.clone());
        let mut names: Vec<String> = keys.chain(publishers).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Tokens that grant read access through HTTP Basic authentication (password = token).
#[derive(Clone, Default)]
pub struct ReadTokens {
    hashes: Vec<KeyHash>,
}

impl std::fmt::Debug for ReadTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadTokens({} tokens)", self.hashes.len())
    }
}

impl From<ReadTokensFile> for ReadTokens {
    fn from(file: ReadTokensFile) -> ReadTokens {
        ReadTokens {
            hashes: file.tokens.into_iter().map(|t| t.hash).collect(),
        }
    }
}

impl ReadTokens {
    pub fn load(path: &Path) -> Result<ReadTokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read read-token file {}: {e}", path.display()))?;
        let file = ReadTokensFile::parse(&text)
            .map_err(|e| format!("read-token file {}: {e}", path.display()))?;
        Ok(ReadTokens::from(file))
    }

    /// Whether `presented` is one of the tokens; every token is compared, in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        let hash = KeyHash::of(presented);
        self.hashes
            .iter()
            .fold(false, |ok, h| ok | bool::from(h.ct_eq(&hash)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PackageId {
        PackageId::parse(s).unwrap()
    }

    fn parse(text: &str) -> ApiKeys {
        ApiKeys::from(ApiKeysFile::parse(text).unwrap())
    }

    #[test]
    fn yaml_keys_have_scopes_patterns_and_hashes() {
        let hashed = KeyHash::of("secret-two-22").to_hex();
        let keys = parse(&format!(
            "keys:\n  - name: ci\n    key: secret-one-11\n    packages: ['Contoso.*']\n  - name: cleaner\n    sha256: {hashed}\n    scopes: [unlist]\n"
        ));
        let ci = keys.authenticate("secret-one-11").unwrap();
        assert_eq!(ci.name, "ci");
        assert!(ci.allows(Scope::Push, "contoso.Lib"));
        assert!(!ci.allows(Scope::Push, "Other.Lib"));
        let cleaner = keys.authenticate("secret-two-22").unwrap();
        assert!(cleaner.allows(Scope::Unlist, "Any"));
        assert!(!cleaner.allows(Scope::Push, "Any"));
        assert!(keys.authenticate("wrong-key-000").is_none());
        assert_eq!(keys.owners(&id("Contoso.X")), vec!["ci".to_owned()]);
        assert!(keys.owners(&id("Other")).is_empty());
    }

    /// Owners follow the glob patterns of `nuget_feed_config::IdPattern`, stars anywhere.
    #[test]
    fn owners_follow_glob_patterns() {
        let keys = parse(
            "keys:\n  - name: json\n    key: json-key-111\n    packages: ['*.Json']\n  - name: core\n    key: core-key-222\n    packages: ['Contoso.*.Core']\n",
        );
        assert_eq!(keys.owners(&id("Newtonsoft.Json")), vec!["json".to_owned()]);
        assert_eq!(
            keys.owners(&id("contoso.lib.core")),
            vec!["core".to_owned()]
        );
        assert!(keys.owners(&id("Contoso.Lib")).is_empty());
    }

    #[test]
    fn trusted_publishers_own_the_ids_they_may_push() {
        let policy: TrustedPublisher = serde_yaml_ng::from_str(
            "name: release\nissuer: https://i\nclaims: {sub: x}\npackages: ['Contoso.*']\n",
        )
        .unwrap();
        let keys =
            parse("keys:\n  - name: ci\n    key: secret-one-11\n").with_publishers([&policy]);
        assert_eq!(
            keys.owners(&id("Contoso.Lib")),
            vec!["ci".to_owned(), "release".to_owned()]
        );
        assert_eq!(keys.owners(&id("Other")), vec!["ci".to_owned()]);
        assert!(keys.authenticate("release").is_none(), "a policy is no key");
    }

    #[test]
    fn yaml_files_may_start_with_comments() {
        // The README's quick-start key file opens with a comment.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/local/api-keys.yaml"
        ))
        .unwrap();
        let keys = parse(&text);
        assert_eq!(
            keys.authenticate("local-dev-key-change-me").unwrap().name,
            "local-dev"
        );
    }

    #[test]
    fn plain_key_lines_allow_everything() {
        let keys = parse(&format!(
            "# comment\nfirst-key-123\nsha256:{}\n",
            KeyHash::of("second-key-456").to_hex()
        ));
        assert!(keys.authenticate("first-key-123").is_some());
        assert!(keys.authenticate("second-key-456").is_some());
        assert!(keys.authenticate("first-key-12").is_none());
    }

    #[test]
    fn read_tokens_verify_only_their_tokens() {
        let tokens = ReadTokens::from(ReadTokensFile::parse("first-token\n").unwrap());
        assert!(tokens.verify("first-token"));
        assert!(!tokens.verify("first-toke"));
        assert_eq!(format!("{tokens:?}"), "ReadTokens(1 tokens)");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let keys = parse("keys:\n  - name: ci\n    key: very-secret-key\n");
        let shown = format!("{keys:?}");
        assert!(!shown.contains("very-secret-key"));
        assert!(!shown.contains(&KeyHash::of("very-secret-key").to_hex()));
    }
}
