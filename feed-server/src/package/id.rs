//! [`PackageId`]: a validated package id that keeps the casing it was pushed with and compares
//! case-insensitively, as every NuGet server and client does (N-1).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Error, Result, shown};

/// Longest accepted id: NuGet's `PackageIdValidator.MaxPackageIdLength`.
pub const MAX_LENGTH: usize = 100;

/// A package id: 1 to 100 ASCII characters matching `\A\w+(?:[.-]\w+)*\z` (Gitea's rule, N-9;
/// also NuGet's `PackageIdValidator`), so it is always safe in a URL path segment and an object
/// key.
///
/// Equality, ordering and hashing ignore ASCII case (`Newtonsoft.Json` == `newtonsoft.json`);
/// [`PackageId::as_str`] and `Display` keep the original casing.
#[derive(Clone)]
pub struct PackageId(String);

impl PackageId {
    /// Validates `s` as a package id. No trimming: surrounding whitespace is an error.
    pub fn parse(s: &str) -> Result<PackageId> {
        let invalid = |reason| Error::InvalidId {
            id: shown(s),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("it is empty"));
        }
        if s.chars().count() > MAX_LENGTH {
            return Err(invalid("it is longer than 100 characters"));
        }
        let bytes = s.as_bytes();
        if !bytes.iter().all(|&b| is_word(b) || is_separator(b)) {
            return Err(invalid("use letters, digits, '.', '-' or '_'"));
        }
        let separator_misplaced = is_separator(bytes[0])
            || is_separator(bytes[bytes.len() - 1])
            || bytes
                .windows(2)
                .any(|w| is_separator(w[0]) && is_separator(w[1]));
        if separator_misplaced {
            return Err(invalid(
                "'.' and '-' may only appear between letters, digits or '_'",
            ));
        }
        Ok(PackageId(s.to_owned()))
    }

    /// The id as pushed, original casing.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id lower-cased: `LOWER_ID` in URLs and object keys (N-1). Ids are ASCII, so this is
    /// exactly .NET's `ToLowerInvariant`.
    pub fn lower(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// `\w` restricted to ASCII.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_separator(b: u8) -> bool {
    b == b'.' || b == b'-'
}

impl PartialEq for PackageId {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for PackageId {}

impl Ord for PackageId {
    fn cmp(&self, other: &Self) -> Ordering {
        // Byte order of the lower-cased ids, so sorted output matches sorted `LOWER_ID`s.
        self.0
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(other.0.bytes().map(|b| b.to_ascii_lowercase()))
    }
}

impl PartialOrd for PackageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for PackageId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for PackageId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        PackageId::parse(s)
    }
}

impl AsRef<str> for PackageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PackageId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PackageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PackageId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    /// Two ids that differ only in case: the same package (N-1).
    const ID_MIXED_CASE: &str = "Newtonsoft.Json";
    const ID_LOWER_CASE: &str = "newtonsoft.json";

    #[test]
    fn accepts_common_ids() {
        for id in [
            "A",
            "_",
            "Newtonsoft.Json",
            "Microsoft.Extensions.DependencyInjection.Abstractions",
            "my-package_1.2",
            "1.2.3",
            "x".repeat(MAX_LENGTH).as_str(),
        ] {
            let parsed = PackageId::parse(id).unwrap();
            assert_eq!(parsed.as_str(), id);
        }
    }

    /// Ids end up in URL paths and object keys: anything that could traverse or escape must be
    /// rejected before it gets there (N-9).
    #[test]
    fn rejects_hostile_and_malformed_ids() {
        for id in [
            "",
            " Foo",
            "Foo ",
            "Foo Bar",
            "..",
            "../evil",
            "a/b",
            "a\\b",
            ".Foo",
            "Foo.",
            "-Foo",
            "Foo-",
            "Foo..Bar",
            "Foo.-Bar",
            "Föö",
            "Foo\0",
            "Foo%2e",
            &"x".repeat(MAX_LENGTH + 1),
        ] {
            assert!(
                matches!(PackageId::parse(id), Err(Error::InvalidId { .. })),
                "{id:?} should be rejected"
            );
        }
    }

    #[test]
    fn error_message_says_what_is_wrong() {
        let too_long = PackageId::parse(&"x".repeat(101)).unwrap_err().to_string();
        assert!(
            too_long.ends_with("is longer than 100 characters"),
            "{too_long}"
        );
        let dots = PackageId::parse("Foo..Bar").unwrap_err().to_string();
        assert_eq!(
            dots,
            "package id `Foo..Bar` is invalid: '.' and '-' may only appear between letters, \
             digits or '_'"
        );
    }

    #[test]
    fn compares_case_insensitively_and_keeps_casing() {
        let a = PackageId::parse(ID_MIXED_CASE).unwrap();
        let b = PackageId::parse(ID_LOWER_CASE).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(a.as_str(), ID_MIXED_CASE);
        assert_eq!(a.to_string(), ID_MIXED_CASE);
        assert_eq!(a.lower(), ID_LOWER_CASE);
        let set: HashSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn orders_like_lowercase_strings() {
        let mut ids: Vec<_> = ["b", "A.B", "a", "a.b.c", "C"]
            .iter()
            .map(|s| PackageId::parse(s).unwrap())
            .collect();
        ids.sort();
        let sorted: Vec<_> = ids.iter().map(PackageId::as_str).collect();
        assert_eq!(sorted, ["a", "A.B", "a.b.c", "b", "C"]);
    }

    #[test]
    fn serde_round_trips_and_deserialize_validates() {
        let id = PackageId::parse("Foo.Bar").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"Foo.Bar\"");
        let back: PackageId = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), "Foo.Bar");
        assert!(serde_json::from_str::<PackageId>("\"../evil\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = PackageId::parse(&s);
        }

        #[test]
        fn valid_ids_round_trip(s in "[A-Za-z0-9_]{1,10}([.-][A-Za-z0-9_]{1,10}){0,5}") {
            let id = PackageId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            prop_assert_eq!(PackageId::parse(&id.lower()).unwrap(), id);
        }

        #[test]
        fn order_is_consistent_with_eq(a in "[A-Za-z]{1,4}", b in "[A-Za-z]{1,4}") {
            let (a, b) = (PackageId::parse(&a).unwrap(), PackageId::parse(&b).unwrap());
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        }
    }

    #[test]
    fn error_messages_name_the_value_and_the_fix() {
        let err = PackageId::parse("Foo Bar").unwrap_err();
        assert_eq!(
            err.to_string(),
            "package id `Foo Bar` is invalid: use letters, digits, '.', '-' or '_'"
        );
    }
}
