//! SHA-256 hashes of API keys and read tokens: the form in which files hold them and the feed
//! server keeps them. Comparing two hashes takes the same time whatever they hold.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::error::{Error, Result};

/// Shortest key or token accepted in plain text in a file, in bytes (keys are ASCII in practice).
pub const MIN_SECRET_CHARS: usize = 8;

/// The SHA-256 of a key or token. `Debug` hides it: a hash of a short secret can be reversed by
/// brute force, so it stays out of logs too. Serialized as lowercase hex.
#[derive(Clone, Copy)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of a secret exactly as presented (a request header, a generated key).
    pub fn of(secret: &str) -> KeyHash {
        KeyHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// The hash of a secret written in plain text in a file: surrounding whitespace is not
    /// part of it, and it must be at least [`MIN_SECRET_CHARS`] long.
    pub fn of_written(secret: &str) -> Result<KeyHash> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_CHARS {
            return Err(Error::ShortSecret);
        }
        Ok(KeyHash::of(secret))
    }

    /// Parses 64 hex digits (either case; surrounding whitespace ignored).
    pub fn from_hex(hex_digits: &str) -> Result<KeyHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digits.trim(), &mut out).map_err(|_| Error::BadHash)?;
        Ok(KeyHash(out))
    }

    /// Lowercase hex, the form key files store.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl ConstantTimeEq for KeyHash {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

/// Constant time, so `==` is as safe as [`ConstantTimeEq::ct_eq`].
impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for KeyHash {}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

impl Serialize for KeyHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        KeyHash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feed server compares `sha256(presented key)` with the file's hex; a different
    /// encoding (uppercase, base64) written by the operator would lock every client out.
    #[test]
    fn hex_is_lowercase_sha256() {
        assert_eq!(
            KeyHash::of("secret").to_hex(),
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
        let upper = "2BB80D537B1DA3E38BD30361AA855686BDE0EACD7162FEF6A25FE97BF527A25B";
        assert_eq!(KeyHash::from_hex(upper).unwrap(), KeyHash::of("secret"));
    }

    #[test]
    fn written_secrets_are_trimmed_and_at_least_8_characters() {
        assert_eq!(
            KeyHash::of_written("  long-enough \n").unwrap(),
            KeyHash::of("long-enough")
        );
        assert!(matches!(
            KeyHash::of_written(" short  "),
            Err(Error::ShortSecret)
        ));
    }

    #[test]
    fn bad_hex_is_refused() {
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(66)] {
            assert!(
                matches!(KeyHash::from_hex(bad), Err(Error::BadHash)),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_the_hash() {
        let hash = KeyHash::of("secret");
        assert_eq!(format!("{hash:?}"), "KeyHash(..)");
    }
}
