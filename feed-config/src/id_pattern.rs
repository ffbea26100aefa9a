//! Package id patterns of API keys (`Contoso.*`, `*.Json`, `Contoso.*.Core`, `*`): the one
//! parser and matcher for the ids a key may push or manage. The feed server refuses a key file
//! with a bad pattern at start-up, and the operator refuses the same pattern in a NuGetFeed with
//! an InvalidSpec condition, so it never renders a file the server would refuse.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wildmatch::WildMatch;

use crate::error::{Error, Result};

/// A glob over package ids. `*` matches any run of characters (none, or any number, dots
/// included) and may appear anywhere and any number of times; every other character is a
/// package-id character (ASCII letters, digits, `.`, `-`, `_`), compared ignoring case as NuGet
/// compares ids. `*` alone matches every id.
///
/// Serialized as the text it was parsed from, so a file written from it reads back the same.
#[derive(Clone)]
pub struct IdPattern {
    text: String,
    matcher: WildMatch,
}

impl IdPattern {
    /// Longest accepted pattern: NuGet's longest package id, so a longer pattern could never
    /// match and is a typo.
    pub const MAX_LENGTH: usize = 100;

    /// Validates `text` as a pattern. No trimming: surrounding whitespace is an error.
    pub fn parse(text: &str) -> Result<IdPattern> {
        if text.is_empty() {
            return Err(Error::invalid_pattern(text, "it is empty"));
        }
        if text.chars().count() > Self::MAX_LENGTH {
            return Err(Error::invalid_pattern(
                text,
                "it is longer than 100 characters",
            ));
        }
        // Only `*` may be special: `wildmatch` would also read `?` as a wildcard, which the
        // pattern language does not have.
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'))
        {
            return Err(Error::invalid_pattern(
                text,
                "it has a character that is not allowed",
            ));
        }
        Ok(IdPattern {
            text: text.to_owned(),
            matcher: WildMatch::new_case_insensitive(text),
        })
    }

    /// Whether the package id `id` matches, ignoring case.
    pub fn matches(&self, id: &str) -> bool {
        self.matcher.matches(id)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for IdPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdPattern").field(&self.text).finish()
    }
}

/// Two patterns are equal when they are written the same; the matcher follows from the text.
impl PartialEq for IdPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for IdPattern {}

impl Serialize for IdPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for IdPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IdPattern, D::Error> {
        let text = String::deserialize(deserializer)?;
        IdPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, id: &str) -> bool {
        IdPattern::parse(pattern).unwrap().matches(id)
    }

    #[test]
    fn a_star_alone_matches_every_id() {
        for id in ["a", "Newtonsoft.Json", "Contoso.Lib.Core", "x_y-z"] {
            assert!(matches("*", id), "{id}");
        }
    }

    #[test]
    fn a_trailing_star_is_a_prefix() {
        assert!(matches("Contoso.*", "Contoso.Lib"));
        assert!(matches("Contoso.*", "Contoso.Lib.Core"));
        // The star matches the empty run too.
        assert!(matches("Contoso.*", "Contoso."));
        assert!(!matches("Contoso.*", "Contoso"));
        assert!(!matches("Contoso.*", "Other.Contoso.Lib"));
    }

    #[test]
    fn a_leading_star_is_a_suffix() {
        assert!(matches("*.Json", "Newtonsoft.Json"));
        assert!(matches("*.Json", "System.Text.Json"));
        assert!(!matches("*.Json", "Newtonsoft.Json.Bson"));
        assert!(!matches("*.Json", "Json"));
    }

    #[test]
    fn a_middle_star_spans_dots() {
        assert!(matches("Contoso.*.Core", "Contoso.Lib.Core"));
        assert!(matches("Contoso.*.Core", "Contoso.A.B.Core"));
        assert!(!matches("Contoso.*.Core", "Contoso.Core"));
        assert!(!matches("Contoso.*.Core", "Contoso.Lib.Core.Extra"));
    }

    #[test]
    fn several_stars_match_in_order() {
        assert!(matches("*Contoso*Core*", "My.Contoso.Lib.Core.Tests"));
        assert!(matches("C*o*o", "Contoso.Foo"));
        assert!(!matches("*Core*Contoso*", "Contoso.Core"));
        assert!(matches("**", "Anything"));
    }

    /// NuGet ids compare ignoring case (N-1): a key for `Contoso.*` must cover `contoso.lib`.
    #[test]
    fn matching_ignores_case() {
        assert!(matches("Contoso.*", "contoso.lib"));
        assert!(matches("contoso.*.core", "CONTOSO.LIB.CORE"));
        assert!(matches("Newtonsoft.Json", "newtonsoft.json"));
    }

    #[test]
    fn an_exact_id_matches_only_itself() {
        assert!(matches("Newtonsoft.Json", "Newtonsoft.Json"));
        assert!(!matches("Newtonsoft.Json", "Newtonsoft.Json.Bson"));
        assert!(!matches("Newtonsoft.Json", "Newtonsoft"));
    }

    #[test]
    fn bad_patterns_are_refused_naming_the_pattern_and_the_rule() {
        for bad in ["", "a b", "Contoso.?", " Contoso.*", "Contoso/*", "Ünïcode"] {
            let message = IdPattern::parse(bad).unwrap_err().to_string();
            assert!(message.contains(&format!("`{bad}`")), "{message}");
            assert!(
                message.contains("`*` for any run of characters"),
                "{message}"
            );
        }
        let long = "a".repeat(101);
        assert!(
            IdPattern::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("longer than 100")
        );
        assert!(IdPattern::parse(&"a".repeat(100)).is_ok());
        // Control characters are shown escaped, so a message is one readable line.
        let message = IdPattern::parse("a\nb").unwrap_err().to_string();
        assert!(message.contains("`a\\nb`"), "{message}");
    }

    #[test]
    fn patterns_serialize_as_written() {
        let p = IdPattern::parse("Contoso.*.Core").unwrap();
        assert_eq!(serde_yaml_ng::to_string(&p).unwrap(), "Contoso.*.Core\n");
        let back: IdPattern = serde_yaml_ng::from_str("Contoso.*.Core").unwrap();
        assert_eq!(back, p);
        let err = serde_yaml_ng::from_str::<IdPattern>("'a b'").unwrap_err();
        assert!(err.to_string().contains("package pattern `a b`"), "{err}");
    }
}
