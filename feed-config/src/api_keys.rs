//! The API key file (`api_keys_file`): who may push and manage which package ids. It is YAML:
//! ```yaml
//! keys:
//!   - name: ci                  # listed as an owner of the ids it may push (SQ-10)
//!     sha256: "<hex of sha256(key)>"   # or `key: <plain text>`
//!     scopes: [push, unlist]    # default: both; `take_over` is never a default
//!     packages: ["Contoso.*"]   # id patterns (see `IdPattern`), default: ["*"]
//! ```
//! or plain text with one key per line in the line format of [`crate::ReadTokensFile`], each
//! key allowed to push and unlist any id. Either way it parses into one [`ApiKeysFile`] of hashed entries; the
//! operator writes the YAML form with hashes only.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id_pattern::IdPattern;
use crate::key_hash::KeyHash;
use crate::read_tokens::parse_lines;

/// A permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Push new packages and versions, and their symbol packages.
    Push,
    /// Manage existing versions: unlist (or delete, with delete mode `delete`), relist,
    /// deprecate and undeprecate them.
    Unlist,
    /// With `push`: push an id that this feed has so far served only from an upstream source.
    /// The id becomes local, and its upstream versions are no longer served. Never a default.
    TakeOver,
}

/// The feed server's API keys, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysFile {
    pub keys: Vec<ApiKeyEntry>,
}

/// One API key: its name, the hash of its secret, and what it may do to which ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryFields", into = "EntryFields")]
pub struct ApiKeyEntry {
    /// Shown as the owner of the ids the key may push (SQ-10) and named in the audit log.
    pub name: String,
    pub hash: KeyHash,
    pub scopes: Vec<Scope>,
    /// The key may act on an id that matches any of these.
    pub packages: Vec<IdPattern>,
}

impl ApiKeyEntry {
    /// Whether this key may do `scope` to the package id `id`.
    pub fn allows(&self, scope: Scope, id: &str) -> bool {
        self.scopes.contains(&scope) && self.packages.iter().any(|p| p.matches(id))
    }
}

impl ApiKeysFile {
    /// Parses the file's text, in either form. The YAML form is recognised by its first line
    /// that is neither blank nor a comment: `keys:` or `---`.
    pub fn parse(text: &str) -> Result<ApiKeysFile> {
        let first_line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        if first_line.starts_with("keys:") || first_line.starts_with("---") {
            return Ok(serde_yaml_ng::from_str(text)?);
        }
        let keys = parse_lines(text)?
            .into_iter()
            .enumerate()
            .map(|(i, hash)| ApiKeyEntry {
                name: format!("key{}", i + 1),
                hash,
                scopes: default_scopes(),
                packages: vec![any_id()],
            })
            .collect();
        Ok(ApiKeysFile { keys })
    }

    /// The YAML form, with hashes only.
    pub fn to_yaml(&self) -> Result<String> {
        Ok(serde_yaml_ng::to_string(self)?)
    }
}

/// An entry as written: the secret in plain text (`key`) or hashed (`sha256`), and optional
/// scopes and patterns. Fields are written in this order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFields {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    packages: Option<Vec<IdPattern>>,
}

impl TryFrom<EntryFields> for ApiKeyEntry {
    type Error = Error;

    fn try_from(fields: EntryFields) -> Result<ApiKeyEntry> {
        let hash = match (&fields.key, &fields.sha256) {
            (Some(key), None) => KeyHash::of_written(key)?,
            (None, Some(hex_digits)) => KeyHash::from_hex(hex_digits)?,
            _ => return Err(Error::KeySecret { name: fields.name }),
        };
        Ok(ApiKeyEntry {
            name: fields.name,
            hash,
            scopes: fields.scopes.unwrap_or_else(default_scopes),
            packages: fields.packages.unwrap_or_else(|| vec![any_id()]),
        })
    }
}

impl From<ApiKeyEntry> for EntryFields {
    fn from(entry: ApiKeyEntry) -> EntryFields {
        EntryFields {
            name: entry.name,
            key: None,
            sha256: Some(entry.hash.to_hex()),
            scopes: Some(entry.scopes),
            packages: Some(entry.packages),
        }
    }
}

/// The scopes of a key that names none: `take_over` must be asked for.
pub(crate) fn default_scopes() -> Vec<Scope> {
    vec![Scope::Push, Scope::Unlist]
}

pub(crate) fn any_id() -> IdPattern {
    IdPattern::parse("*").expect("`*` is a valid pattern")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ApiKeysFile {
        ApiKeysFile::parse(text).unwrap()
    }

    #[test]
    fn yaml_keys_have_scopes_patterns_and_hashes() {
        let hashed = KeyHash::of("secret-two-22").to_hex();
        let file = parse(&format!(
            "keys:\n  - name: ci\n    key: secret-one-11\n    packages: ['Contoso.*', '*.Json']\n  - name: cleaner\n    sha256: {hashed}\n    scopes: [unlist]\n"
        ));
        let [ci, cleaner] = &file.keys[..] else {
            panic!("two keys: {file:?}")
        };
        assert_eq!(ci.name, "ci");
        assert_eq!(ci.hash, KeyHash::of("secret-one-11"));
        assert_eq!(ci.scopes, vec![Scope::Push, Scope::Unlist]);
        assert!(ci.allows(Scope::Push, "contoso.Lib"));
        assert!(ci.allows(Scope::Unlist, "Newtonsoft.Json"));
        assert!(!ci.allows(Scope::Push, "Other.Lib"));
        assert_eq!(cleaner.hash, KeyHash::of("secret-two-22"));
        assert!(cleaner.allows(Scope::Unlist, "Any"));
        assert!(!cleaner.allows(Scope::Push, "Any"));
    }

    #[test]
    fn yaml_files_may_start_with_comments() {
        // The README's quick-start key file opens with a comment.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/local/api-keys.yaml"
        ))
        .unwrap();
        let file = parse(&text);
        assert_eq!(file.keys[0].name, "local-dev");
        assert_eq!(file.keys[0].hash, KeyHash::of("local-dev-key-change-me"));
    }

    #[test]
    fn plain_key_lines_allow_everything() {
        let file = parse(&format!(
            "# comment\nfirst-key-123\nsha256:{}\n",
            KeyHash::of("second-key-456").to_hex()
        ));
        let names: Vec<&str> = file.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["key1", "key2"]);
        assert_eq!(file.keys[0].hash, KeyHash::of("first-key-123"));
        assert_eq!(file.keys[1].hash, KeyHash::of("second-key-456"));
        for key in &file.keys {
            assert!(key.allows(Scope::Push, "Any.Id"));
            assert!(key.allows(Scope::Unlist, "Any.Id"));
        }
    }

    #[test]
    fn bad_key_files_are_refused_with_a_reason() {
        let short = ApiKeysFile::parse("short").unwrap_err().to_string();
        assert!(short.contains("8 characters"), "{short}");
        let both = "keys:\n  - name: x\n    key: abcdefghij\n    sha256: 00\n";
        let both = ApiKeysFile::parse(both).unwrap_err().to_string();
        assert!(both.contains("exactly one"), "{both}");
        for pattern in ["a b", "Contoso.?", ""] {
            let text =
                format!("keys:\n  - name: x\n    key: abcdefghij\n    packages: ['{pattern}']\n");
            let err = ApiKeysFile::parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("package pattern `{pattern}`")),
                "{err}"
            );
        }
        let unknown = "keys:\n  - name: x\n    key: abcdefghij\n    scope: [push]\n";
        assert!(ApiKeysFile::parse(unknown).is_err());
    }

    /// The operator writes this form; the feed server reads it back to the same keys.
    #[test]
    fn written_files_hold_hashes_only_and_read_back_the_same() {
        let file = ApiKeysFile {
            keys: vec![ApiKeyEntry {
                name: "ci".into(),
                hash: KeyHash::of("secret"),
                scopes: vec![Scope::Push],
                packages: vec![IdPattern::parse("Contoso.*").unwrap()],
            }],
        };
        let text = file.to_yaml().unwrap();
        assert_eq!(
            text,
            "keys:\n- name: ci\n  sha256: 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n  scopes:\n  - push\n  packages:\n  - Contoso.*\n"
        );
        assert_eq!(ApiKeysFile::parse(&text).unwrap(), file);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let file = parse("keys:\n  - name: ci\n    key: very-secret-key\n");
        let shown = format!("{file:?}");
        assert!(shown.contains("ci"));
        assert!(!shown.contains("very-secret-key"));
        assert!(!shown.contains(&KeyHash::of("very-secret-key").to_hex()));
    }
}
