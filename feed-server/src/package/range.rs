//! [`VersionRange`]: NuGet's version range syntax (NuGet.Versioning's `VersionRange`) for
//! dependency versions in a nuspec and `range` in registration `dependencyGroups` (REG-9).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Error, NuGetVersion, Result, shown};

/// Longest accepted range string: two versions of [`super::version::MAX_LENGTH`] plus
/// brackets, comma and some spaces.
const MAX_LENGTH: usize = 160;

/// A set of versions between an optional lower and an optional upper bound, each inclusive
/// or exclusive. Floating ranges (`1.*`) are not supported: a package's dependencies are
/// fixed when it is packed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VersionRange {
    min: Option<(NuGetVersion, bool)>,
    max: Option<(NuGetVersion, bool)>,
}

impl VersionRange {
    /// Parses NuGet range syntax, following `VersionRange.Parse`:
    ///
    /// | text           | meaning            |
    /// |----------------|--------------------|
    /// | `1.0`          | 1.0 ≤ x            |
    /// | `[1.0]`        | x == 1.0           |
    /// | `(1.0,)`       | 1.0 < x            |
    /// | `[1.0,2.0)`    | 1.0 ≤ x < 2.0      |
    /// | `(,1.0]`       | x ≤ 1.0            |
    /// | `(, )`, `""`   | all versions       |
    ///
    /// Whitespace around the whole and around each version is ignored. Like NuGet: `(,)`
    /// (nothing at all between the brackets), `(1.0)`, a lower bound above the upper one and
    /// `[1.0, 1.0)` are errors. Unlike NuGet, the empty string is all versions (REG-9: an
    /// empty or absent range is `(, )`), and `*` is an error (no floating ranges).
    pub fn parse(s: &str) -> Result<VersionRange> {
        let invalid = |reason: &str| Error::InvalidRange {
            range: shown(s),
            reason: reason.to_owned(),
        };
        if s.chars().count() > MAX_LENGTH {
            return Err(invalid("it is too long"));
        }
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Ok(VersionRange::all());
        }
        if trimmed.contains('*') {
            return Err(invalid(
                "floating versions ('*') are not allowed in a package: use a fixed version \
                 such as [1.0.0, 2.0.0)",
            ));
        }
        let version = |part: &str| -> Result<Option<NuGetVersion>> {
            let part = part.trim();
            if part.is_empty() {
                return Ok(None);
            }
            NuGetVersion::parse(part)
                .map(Some)
                .map_err(|err| match err {
                    Error::InvalidVersion { version, reason } => Error::InvalidRange {
                        range: shown(s),
                        reason: format!("version `{version}` in it is invalid: {reason}"),
                    },
                    other => other,
                })
        };

        let first = trimmed.as_bytes()[0];
        if first != b'[' && first != b'(' {
            // A bare version is a minimum, inclusive.
            let min = version(trimmed)?;
            return Ok(VersionRange {
                min: min.map(|v| (v, true)),
                max: None,
            });
        }

        let min_inclusive = first == b'[';
        let max_inclusive = match trimmed.as_bytes()[trimmed.len() - 1] {
            b']' => true,
            b')' => false,
            _ => {
                return Err(invalid(
                    "it starts with a bracket but does not end with ']' or ')'",
                ));
            }
        };
        // Both ends are ASCII brackets, so slicing between them stays on char boundaries.
        let inner = trimmed
            .get(1..trimmed.len() - 1)
            .ok_or_else(|| invalid("it is a lone bracket"))?;
        let parts: Vec<&str> = inner.split(',').collect();
        let (min, max) = match parts.as_slice() {
            [""] | ["", ""] => {
                return Err(invalid(
                    "it has neither a lower nor an upper bound: use (, )",
                ));
            }
            [exact] => {
                if !(min_inclusive && max_inclusive) {
                    return Err(invalid("a single version needs square brackets: [1.0.0]"));
                }
                let exact = version(exact)?
                    .ok_or_else(|| invalid("there is no version between the brackets"))?;
                (Some(exact.clone()), Some(exact))
            }
            [min, max] => (version(min)?, version(max)?),
            _ => return Err(invalid("it has more than one ','")),
        };
        if let (Some(min), Some(max)) = (&min, &max) {
            match min.cmp(max) {
                Ordering::Greater => {
                    return Err(invalid("its lower bound is above its upper bound"));
                }
                Ordering::Equal if min_inclusive != max_inclusive => {
                    return Err(invalid(
                        "its bounds are equal but only one is inclusive: use [1.0.0] for an \
                         exact version",
                    ));
                }
                _ => {}
            }
        }
        Ok(VersionRange {
            min: min.map(|v| (v, min_inclusive)),
            max: max.map(|v| (v, max_inclusive)),
        })
    }

    /// Every version: `(, )`.
    pub fn all() -> VersionRange {
        VersionRange {
            min: None,
            max: None,
        }
    }

    /// NuGet.Versioning's `ToNormalizedString`: always both ends and ", ", bounds as normalized
    /// versions (no metadata): `[1.0.0, )`, `[1.0.0, 2.0.0)`, `(, 1.0.0]`, `(, )`. An exact
    /// version is `[1.0.0, 1.0.0]` (NuGet's normalized form has no short hand; see
    /// [`VersionRange::to_short`] for `[1.0.0]`).
    pub fn to_normalized(&self) -> String {
        let bound = |b: &Option<(NuGetVersion, bool)>| {
            b.as_ref()
                .map(|(v, _)| v.to_normalized())
                .unwrap_or_default()
        };
        format!(
            "{}{}, {}{}",
            if matches!(self.min, Some((_, true))) {
                '['
            } else {
                '('
            },
            bound(&self.min),
            bound(&self.max),
            if matches!(self.max, Some((_, true))) {
                ']'
            } else {
                ')'
            },
        )
    }

    /// NuGet.Versioning's `ToString("S")` short hand: `1.0.0` for a bare minimum, `[1.0.0]` for
    /// an exact version, otherwise [`VersionRange::to_normalized`].
    pub fn to_short(&self) -> String {
        match (&self.min, &self.max) {
            (Some((min, true)), None) => min.to_normalized(),
            (Some((min, true)), Some((max, true))) if min == max => {
                format!("[{}]", min.to_normalized())
            }
            _ => self.to_normalized(),
        }
    }

    /// True when `v` is inside the range. Metadata is ignored (as in NuGet); prerelease
    /// versions are not treated specially.
    pub fn satisfies(&self, v: &NuGetVersion) -> bool {
        let above_min = match &self.min {
            None => true,
            Some((min, true)) => v >= min,
            Some((min, false)) => v > min,
        };
        let below_max = match &self.max {
            None => true,
            Some((max, true)) => v <= max,
            Some((max, false)) => v < max,
        };
        above_min && below_max
    }

    /// True when a bound is a SemVer2 version, which makes the depending package SemVer2
    /// (N-4).
    pub fn is_semver2(&self) -> bool {
        [&self.min, &self.max]
            .into_iter()
            .flatten()
            .any(|(v, _)| v.is_semver2())
    }

    /// The lower bound and whether it is inclusive; `None` when unbounded below.
    pub fn min(&self) -> Option<(&NuGetVersion, bool)> {
        self.min.as_ref().map(|(v, inclusive)| (v, *inclusive))
    }

    /// The upper bound and whether it is inclusive; `None` when unbounded above.
    pub fn max(&self) -> Option<(&NuGetVersion, bool)> {
        self.max.as_ref().map(|(v, inclusive)| (v, *inclusive))
    }
}

impl fmt::Display for VersionRange {
    /// The normalized string ([`VersionRange::to_normalized`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_normalized())
    }
}

impl fmt::Debug for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionRange({})", self.to_normalized())
    }
}

impl FromStr for VersionRange {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        VersionRange::parse(s)
    }
}

impl Serialize for VersionRange {
    /// As the normalized string; bounds lose their metadata, which no comparison uses.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_normalized())
    }
}

impl<'de> Deserialize<'de> for VersionRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        VersionRange::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn r(s: &str) -> VersionRange {
        VersionRange::parse(s).unwrap()
    }

    fn v(s: &str) -> NuGetVersion {
        NuGetVersion::parse(s).unwrap()
    }

    #[test]
    fn normalizes_like_nuget() {
        // (input, to_normalized, to_short)
        for (input, normalized, short) in [
            ("1.0", "[1.0.0, )", "1.0.0"),
            ("  1.0  ", "[1.0.0, )", "1.0.0"),
            ("[1.0]", "[1.0.0, 1.0.0]", "[1.0.0]"),
            ("[ 1.0 ]", "[1.0.0, 1.0.0]", "[1.0.0]"),
            ("(1.0,)", "(1.0.0, )", "(1.0.0, )"),
            ("[1.0,)", "[1.0.0, )", "1.0.0"),
            ("[1.0,2.0)", "[1.0.0, 2.0.0)", "[1.0.0, 2.0.0)"),
            ("[1.0, 2.0]", "[1.0.0, 2.0.0]", "[1.0.0, 2.0.0]"),
            ("(1.0, 2.0)", "(1.0.0, 2.0.0)", "(1.0.0, 2.0.0)"),
            ("(,1.0]", "(, 1.0.0]", "(, 1.0.0]"),
            ("(,1.0)", "(, 1.0.0)", "(, 1.0.0)"),
            ("[,1.0]", "(, 1.0.0]", "(, 1.0.0]"),
            ("(, )", "(, )", "(, )"),
            ("[, ]", "(, )", "(, )"),
            ("", "(, )", "(, )"),
            ("   ", "(, )", "(, )"),
            ("1.0.0-Beta.1+sha", "[1.0.0-Beta.1, )", "1.0.0-Beta.1"),
            (
                "[1.01.0.0, 2.0.0.1)",
                "[1.1.0, 2.0.0.1)",
                "[1.1.0, 2.0.0.1)",
            ),
            ("(1.0, 1.0)", "(1.0.0, 1.0.0)", "(1.0.0, 1.0.0)"),
        ] {
            let range = r(input);
            assert_eq!(range.to_normalized(), normalized, "{input:?}");
            assert_eq!(range.to_short(), short, "{input:?}");
            assert_eq!(range.to_string(), normalized, "{input:?}");
            assert_eq!(r(&range.to_normalized()), range, "{input:?} round trip");
        }
    }

    #[test]
    fn rejects_what_nuget_rejects_and_floating_ranges() {
        for input in [
            "*",
            "1.*",
            "1.0.0-*",
            "[1.0, 2.*)",
            "(,)",
            "[,]",
            "()",
            "[]",
            "[ ]",
            "(1.0)",
            "[1.0)",
            "(1.0]",
            "[1.0,2.0,3.0]",
            "[2.0,1.0]",
            "[1.0,1.0)",
            "(1.0,1.0]",
            "[1.0",
            "1.0]",
            "[",
            "(",
            "{1.0}",
            "[a,b]",
            "1.0.0.0.0",
            ">= 1.0",
            "[1.0 2.0]",
        ] {
            assert!(
                matches!(VersionRange::parse(input), Err(Error::InvalidRange { .. })),
                "{input:?} should be rejected"
            );
        }
    }

    #[test]
    fn error_messages_name_the_range() {
        let err = VersionRange::parse("[1.0, x)").unwrap_err().to_string();
        assert!(
            err.starts_with("version range `[1.0, x)` is invalid: version `x` in it is invalid"),
            "{err}"
        );
        let err = VersionRange::parse("1.*").unwrap_err().to_string();
        assert!(err.contains("floating versions"), "{err}");
    }

    #[test]
    fn satisfies_respects_inclusive_and_exclusive_bounds() {
        let cases = [
            ("1.0", "0.9", false),
            ("1.0", "1.0", true),
            ("1.0", "1.0.0.0+meta", true),
            ("1.0", "99.0", true),
            ("1.0", "1.0.0-beta", false),
            ("(1.0,)", "1.0", false),
            ("(1.0,)", "1.0.0.1", true),
            ("[1.0,2.0)", "2.0", false),
            ("[1.0,2.0)", "2.0.0-beta", true),
            ("[1.0,2.0]", "2.0", true),
            ("[1.0]", "1.0.0", true),
            ("[1.0]", "1.0.1", false),
            ("(,1.0]", "0.0.0-a", true),
            ("(,1.0)", "1.0", false),
            ("(, )", "0.0.0-0", true),
            ("(1.0, 1.0)", "1.0", false),
            ("[1.0.0-Beta]", "1.0.0-beta", true),
        ];
        for (range, version, expected) in cases {
            assert_eq!(
                r(range).satisfies(&v(version)),
                expected,
                "{version} in {range}"
            );
        }
    }

    /// N-4: a dependency on a SemVer2 version makes the package SemVer2 on nuget.org.
    #[test]
    fn detects_semver2_bounds() {
        assert!(!r("[1.0.0, 2.0.0)").is_semver2());
        assert!(!r("1.0.0-beta").is_semver2());
        assert!(r("[1.0.0-alpha.1, )").is_semver2());
        assert!(r("(, 2.0.0+sha]").is_semver2());
        assert!(!VersionRange::all().is_semver2());
    }

    #[test]
    fn exposes_bounds() {
        let range = r("(1.0, 2.0]");
        assert_eq!(range.min(), Some((&v("1.0"), false)));
        assert_eq!(range.max(), Some((&v("2.0"), true)));
        assert_eq!(VersionRange::all().min(), None);
        assert_eq!(VersionRange::all().max(), None);
        assert_eq!(r("1.0").max(), None);
    }

    #[test]
    fn serde_uses_the_normalized_string() {
        let json = serde_json::to_string(&r("[1.0,2.0)")).unwrap();
        assert_eq!(json, "\"[1.0.0, 2.0.0)\"");
        let back: VersionRange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r("[1.0,2.0)"));
        assert!(serde_json::from_str::<VersionRange>("\"1.*\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = VersionRange::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_range_like_strings(s in "[\\[\\](), 0-9.a-z*+-]{0,40}") {
            let _ = VersionRange::parse(&s);
        }

        #[test]
        fn normalized_form_round_trips(
            a in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[a-z]{1,3}(\\.[1-9][0-9]?)?)?",
            b in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
            shape in 0usize..5,
        ) {
            let (lo, hi) = match v(&a).cmp(&v(&b)) {
                Ordering::Greater => (b, a),
                _ => (a, b),
            };
            let text = match shape {
                0 => lo.clone(),
                1 => format!("[{lo}]"),
                2 => format!("[{lo}, {hi}]"),
                3 => format!("(, {hi})"),
                _ => format!("({lo},)"),
            };
            let range = r(&text);
            prop_assert_eq!(r(&range.to_normalized()), range.clone());
            prop_assert_eq!(r(&range.to_short()), range);
        }
    }
}
