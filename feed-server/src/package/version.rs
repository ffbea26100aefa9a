//! [`NuGetVersion`]: NuGet's version rules (NuGet.Versioning's `NuGetVersion`): parsing,
//! the normalized and full strings (N-3, N-6), SemVer 2.0.0 precedence with NuGet's
//! extensions (N-5), and SemVer2 detection (N-4).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Error, Result, shown};

/// Longest accepted version string (BaGetter's column width, N-9; nuget.org uses the same).
pub const MAX_LENGTH: usize = 64;

/// Largest numeric part: NuGet parses parts with `System.Version`, whose parts are `int`s.
const MAX_PART: u32 = i32::MAX as u32;

/// A NuGet version: `major[.minor[.patch[.revision]]][-label(.label)*][+metadata]`.
///
/// Missing numeric parts are 0, so `1`, `1.0`, `1.0.0` and `1.0.0.0` are one version (N-3).
/// Prerelease labels keep their casing for display but compare case-insensitively (N-5), and
/// build metadata is kept for [`NuGetVersion::to_full`] but ignored by `Eq`, `Ord` and `Hash`.
#[derive(Clone)]
pub struct NuGetVersion {
    major: u32,
    minor: u32,
    patch: u32,
    revision: u32,
    /// Dot-separated prerelease labels as written; empty for a stable version.
    release: Vec<String>,
    metadata: Option<String>,
}

impl NuGetVersion {
    /// Parses a version string.
    ///
    /// Stricter than NuGet's lenient `NuGetVersion.Parse` where leniency only hides typos: no
    /// surrounding or inner whitespace (NuGet trims), at most [`MAX_LENGTH`] characters. Like
    /// NuGet: 1 to 4 numeric parts with leading zeros allowed (`1.01` is `1.1`), each at most
    /// 2147483647; labels of `[0-9A-Za-z-]`, numeric labels without leading zeros; metadata
    /// parts of `[0-9A-Za-z-]`.
    pub fn parse(s: &str) -> Result<NuGetVersion> {
        let invalid = |reason: String| Error::InvalidVersion {
            version: shown(s),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if s.chars().count() > MAX_LENGTH {
            return Err(invalid(format!(
                "it is longer than {MAX_LENGTH} characters"
            )));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(invalid("it contains whitespace: remove it".into()));
        }

        // Sections as NuGet splits them: the numbers end at the first '-' or '+', the
        // prerelease part at the first '+' after that.
        let (rest, metadata) = match s.split_once('+') {
            Some((rest, metadata)) => (rest, Some(metadata)),
            None => (s, None),
        };
        let (numbers, release) = match rest.split_once('-') {
            Some((numbers, release)) => (numbers, Some(release)),
            None => (rest, None),
        };

        let mut parts = [0u32; 4];
        for (i, part) in numbers.split('.').enumerate() {
            let slot = parts.get_mut(i).ok_or_else(|| {
                invalid("it has more than 4 numeric parts: use major.minor.patch[.revision]".into())
            })?;
            *slot = parse_part(part).map_err(invalid)?;
        }

        let release = match release {
            None => Vec::new(),
            Some(release) => {
                let labels: Vec<String> = release.split('.').map(str::to_owned).collect();
                for label in &labels {
                    check_identifier(label, "prerelease label").map_err(invalid)?;
                    if label.len() > 1
                        && label.starts_with('0')
                        && label.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(invalid(format!(
                            "numeric prerelease label `{label}` has a leading zero"
                        )));
                    }
                }
                labels
            }
        };

        if let Some(metadata) = metadata {
            for part in metadata.split('.') {
                check_identifier(part, "build metadata part").map_err(invalid)?;
            }
        }

        let [major, minor, patch, revision] = parts;
        let version = NuGetVersion {
            major,
            minor,
            patch,
            revision,
            release,
            metadata: metadata.map(str::to_owned),
        };
        // The limit holds for the forms the feed writes too (URLs, object keys, documents):
        // `1-` plus 62 characters is 64, but normalized, `1.0.0-` plus 62 would not parse back,
        // and the version could be pushed but never downloaded (found by fuzzing).
        let full = version.to_full();
        if full.len() > MAX_LENGTH {
            return Err(invalid(format!(
                "written in full (`{}`) it is longer than {MAX_LENGTH} characters: shorten its \
                 prerelease label or metadata",
                shown(&full)
            )));
        }
        Ok(version)
    }

    /// The normalized string (N-3): no leading zeros, the 4th part only when non-zero,
    /// prerelease labels as written, no metadata. `1.01.0.0-Beta+sha` -> `1.1.0-Beta`.
    pub fn to_normalized(&self) -> String {
        let mut s = String::with_capacity(24);
        // Writing into a String cannot fail.
        let _ = self.write_normalized(&mut s, false);
        s
    }

    /// The normalized string plus `+metadata` when there is some: what registration and search
    /// return as `version` (N-6).
    pub fn to_full(&self) -> String {
        let mut s = self.to_normalized();
        if let Some(metadata) = &self.metadata {
            s.push('+');
            s.push_str(metadata);
        }
        s
    }

    /// The normalized string lower-cased: `LOWER_VERSION` in URLs and object keys (N-2, N-7).
    pub fn lower_normalized(&self) -> String {
        let mut s = String::with_capacity(24);
        let _ = self.write_normalized(&mut s, true);
        s
    }

    /// Writes the normalized string (lower-cased with `lower`) without allocating, for views
    /// that write many versions ([`NuGetVersion::to_normalized`] is this into a `String`).
    pub fn write_normalized(&self, out: &mut impl fmt::Write, lower: bool) -> fmt::Result {
        write_number(out, self.major)?;
        out.write_char('.')?;
        write_number(out, self.minor)?;
        out.write_char('.')?;
        write_number(out, self.patch)?;
        if self.revision != 0 {
            out.write_char('.')?;
            write_number(out, self.revision)?;
        }
        for (i, label) in self.release.iter().enumerate() {
            out.write_char(if i == 0 { '-' } else { '.' })?;
            if lower {
                for c in label.chars() {
                    out.write_char(c.to_ascii_lowercase())?;
                }
            } else {
                out.write_str(label)?;
            }
        }
        Ok(())
    }

    /// True when there is a prerelease part (`1.0.0-beta`).
    pub fn is_prerelease(&self) -> bool {
        !self.release.is_empty()
    }

    /// True for a SemVer 2.0.0-only version: a dotted prerelease part (`1.0.0-alpha.1`) or
    /// build metadata (`1.0.0+sha`) (N-4). Older clients cannot see these.
    pub fn is_semver2(&self) -> bool {
        self.release.len() > 1 || self.metadata.is_some()
    }

    /// Build metadata without the `+`, if any.
    pub fn metadata(&self) -> Option<&str> {
        self.metadata.as_deref()
    }

    /// The first numeric part.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The second numeric part (0 when absent).
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// The third numeric part (0 when absent).
    pub fn patch(&self) -> u32 {
        self.patch
    }

    /// The fourth numeric part (0 when absent).
    pub fn revision(&self) -> u32 {
        self.revision
    }

    /// The prerelease labels as written (`["beta", "1"]` for `1.0.0-beta.1`); empty when
    /// stable.
    pub fn release_labels(&self) -> &[String] {
        &self.release
    }
}

/// One numeric part of the version: digits only, leading zeros allowed, fits NuGet's `int`.
fn parse_part(part: &str) -> Result<u32, String> {
    if part.is_empty() {
        return Err("a numeric part is empty: write e.g. 1.0.0".into());
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not a number: versions look like 1.2.3, 1.2.3-beta.1 or 1.2.3+build",
            shown(part)
        ));
    }
    match part.parse::<u32>() {
        Ok(n) if n <= MAX_PART => Ok(n),
        _ => Err(format!("`{part}` is larger than {MAX_PART}")),
    }
}

/// A prerelease label or metadata part: non-empty, `[0-9A-Za-z-]` only.
fn check_identifier(ident: &str, what: &str) -> Result<(), String> {
    if ident.is_empty() {
        return Err(format!("a {what} is empty"));
    }
    if !ident
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "{what} `{}` may only contain letters, digits and '-'",
            shown(ident)
        ));
    }
    Ok(())
}

/// A label's numeric value when NuGet treats it as a number: all digits and fits an `int`
/// (NuGet's `int.TryParse`; longer digit strings compare as text).
fn numeric_label(label: &str) -> Option<u32> {
    if label.bytes().all(|b| b.is_ascii_digit()) {
        label.parse::<u32>().ok().filter(|&n| n <= MAX_PART)
    } else {
        None
    }
}

/// NuGet's `CompareRelease`: numbers numerically, numbers before text, text case-insensitively
/// (SemVer 2.0.1's case-insensitivity; for `[0-9A-Za-z-]` lower- and upper-casing order alike).
fn compare_labels(a: &str, b: &str) -> Ordering {
    match (numeric_label(a), numeric_label(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let numbers = |v: &Self| (v.major, v.minor, v.patch, v.revision);
        numbers(self).cmp(&numbers(other)).then_with(|| {
            match (self.release.is_empty(), other.release.is_empty()) {
                (true, true) => Ordering::Equal,
                // A stable version is above all its prereleases.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.release.iter().zip(&other.release) {
                        let ord = compare_labels(a, b);
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    // Equal so far: more labels is higher (1.0.0-a < 1.0.0-a.1).
                    self.release.len().cmp(&other.release.len())
                }
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGetVersion {}

impl Hash for NuGetVersion {
    /// Consistent with `Eq`: numbers and lower-cased labels, no metadata. Numeric labels have
    /// no leading zeros, so equal labels are equal strings up to case.
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.major, self.minor, self.patch, self.revision).hash(state);
        state.write_usize(self.release.len());
        for label in &self.release {
            for b in label.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
            state.write_u8(b'.');
        }
    }
}

/// Writes a number in decimal without the formatting machinery (versions are written by the
/// thousand in every view).
fn write_number(out: &mut impl fmt::Write, mut n: u32) -> fmt::Result {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits are valid UTF-8.
    out.write_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"))
}

impl fmt::Display for NuGetVersion {
    /// The full string ([`NuGetVersion::to_full`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_full())
    }
}

impl fmt::Debug for NuGetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NuGetVersion({})", self.to_full())
    }
}

impl FromStr for NuGetVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        NuGetVersion::parse(s)
    }
}

impl Serialize for NuGetVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_full())
    }
}

impl<'de> Deserialize<'de> for NuGetVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        NuGetVersion::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    /// Versions that differ only in build metadata: one version (N-3, N-8).
    const WITH_METADATA: &str = "1.0.0+build.5";
    /// Versions that differ only in prerelease casing: one version (N-5, BaGet#458).
    const PRERELEASE_UPPER: &str = "1.0.0-Beta";
    const PRERELEASE_LOWER: &str = "1.0.0-beta";

    fn v(s: &str) -> NuGetVersion {
        NuGetVersion::parse(s).unwrap()
    }

    #[test]
    fn the_length_limit_holds_for_the_normalized_and_full_forms() {
        // Regressions from `cargo fuzz run version` and the mutation loop: each fits in 64
        // characters as written but not normalized, so it could be pushed, stored under its
        // normalized version, and then never parsed back from a download URL.
        for input in [
            format!("0.0-a{}.b-c.0", "U".repeat(53)),
            "21474836-47.2147483647.47483647.214748362147483647.2147483647".to_owned(),
            format!("1-{}", "x".repeat(62)),
            format!("1+{}", "m".repeat(62)),
        ] {
            assert!(input.len() <= MAX_LENGTH, "{input}");
            let err = NuGetVersion::parse(&input).unwrap_err().to_string();
            assert!(err.contains("written in full"), "{input}: {err}");
        }
        let longest = format!("1.0.0-{}", "x".repeat(58));
        assert_eq!(v(&longest).to_full(), longest);
    }

    #[test]
    fn normalizes_like_nuget() {
        // (input, to_normalized, to_full)
        for (input, normalized, full) in [
            ("1", "1.0.0", "1.0.0"),
            ("1.0", "1.0.0", "1.0.0"),
            ("1.0.0.0", "1.0.0", "1.0.0"),
            ("1.2.3.4", "1.2.3.4", "1.2.3.4"),
            ("1.01.1", "1.1.1", "1.1.1"),
            ("01.002.0003.00004", "1.2.3.4", "1.2.3.4"),
            ("1.01.0.0-Beta+sha", "1.1.0-Beta", "1.1.0-Beta+sha"),
            ("1.0.0-alpha.1", "1.0.0-alpha.1", "1.0.0-alpha.1"),
            ("1.0.0-beta-2", "1.0.0-beta-2", "1.0.0-beta-2"),
            ("1.0.0--", "1.0.0--", "1.0.0--"),
            ("1.0+meta-data.01", "1.0.0", "1.0.0+meta-data.01"),
            (
                "1.0.0.0-rc.1+r12345.26a7053f",
                "1.0.0-rc.1",
                "1.0.0-rc.1+r12345.26a7053f",
            ),
            ("2147483647.0.0", "2147483647.0.0", "2147483647.0.0"),
        ] {
            let parsed = v(input);
            assert_eq!(parsed.to_normalized(), normalized, "{input}");
            assert_eq!(parsed.to_full(), full, "{input}");
            assert_eq!(parsed.to_string(), full, "{input}");
            assert_eq!(
                parsed.lower_normalized(),
                normalized.to_lowercase(),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_malformed_versions() {
        for input in [
            "",
            " 1.0.0",
            "1.0.0 ",
            "1.0 .0",
            "1.0.0\n",
            "v1.0.0",
            "1.0.0.0.0",
            "1..0",
            ".1",
            "1.",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-beta.",
            "1.0.0-.beta",
            "1.0.0-beta..1",
            "1.0.0+build..1",
            "1.0.0-beta+",
            "1.0.0-01",
            "1.0.0-beta.01",
            "1.0.0-beta_1",
            "1.0.0+build_1",
            "1.0.0+a+b",
            "1.0.0-bêta",
            "-1.0.0",
            "+1.0.0",
            "1.-1.0",
            "1.+1.0",
            "2147483648.0.0",
            "99999999999999999999999.0",
            "1.0.*",
            "1.0.0-*",
            "[1.0.0]",
            "1.0.0-a.1234567890123456789012345678901234567890123456789012345678",
        ] {
            assert!(
                matches!(
                    NuGetVersion::parse(input),
                    Err(Error::InvalidVersion { .. })
                ),
                "{input:?} should be rejected"
            );
        }
    }

    #[test]
    fn leading_zeros_are_fine_in_numbers_and_metadata_and_alphanumeric_labels() {
        assert_eq!(v("1.0.0-0a").to_normalized(), "1.0.0-0a");
        assert_eq!(
            v("2147483647.0.10.09-RC.1").lower_normalized(),
            "2147483647.0.10.9-rc.1"
        );
        assert_eq!(v("1.0.0-0").to_normalized(), "1.0.0-0");
        assert_eq!(v("1.0.0+001").metadata(), Some("001"));
    }

    #[test]
    fn error_message_names_the_version_and_the_problem() {
        let err = NuGetVersion::parse("1.0.0.0.0").unwrap_err().to_string();
        assert_eq!(
            err,
            "version `1.0.0.0.0` is invalid: it has more than 4 numeric parts: use \
             major.minor.patch[.revision]"
        );
        let err = NuGetVersion::parse(&"1".repeat(65))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("it is longer than 64 characters"), "{err}");
    }

    /// N-3: a repository must treat 1.0, 1.0.0 and 1.0.0.0 as the same version.
    #[test]
    fn missing_parts_are_zero() {
        let versions = [v("1"), v("1.0"), v("1.0.0"), v("1.0.0.0")];
        for a in &versions {
            for b in &versions {
                assert_eq!(a, b);
                assert_eq!(a.cmp(b), Ordering::Equal);
            }
        }
        let set: HashSet<_> = versions.into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    /// N-5: prerelease labels compare case-insensitively; deleting `1.0.0-Alpha0002` must find
    /// `1.0.0-alpha0002` (BaGet#458).
    #[test]
    fn prerelease_labels_compare_case_insensitively_but_keep_casing() {
        let upper = v(PRERELEASE_UPPER);
        let lower = v(PRERELEASE_LOWER);
        assert_eq!(upper, lower);
        assert_eq!(upper.to_normalized(), "1.0.0-Beta");
        assert_eq!(upper.lower_normalized(), "1.0.0-beta");
        let set: HashSet<_> = [upper, lower].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn metadata_is_ignored_by_eq_and_hash_but_kept() {
        let with = v(WITH_METADATA);
        let without = v("1.0.0");
        assert_eq!(with, without);
        assert_eq!(with.metadata(), Some("build.5"));
        assert_eq!(with.to_normalized(), "1.0.0");
        assert_eq!(with.to_full(), WITH_METADATA);
        let set: HashSet<_> = [with, without].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    /// SemVer 2.0.0 section 11's example chain, plus NuGet's 4th part and numeric labels.
    #[test]
    fn orders_by_semver_precedence() {
        let ascending = [
            "0.9",
            "1.0.0-0",
            "1.0.0-2",
            "1.0.0-10",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-BETA",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1-alpha",
            "1.0.0.1",
            "1.0.1",
            "1.2",
            "1.10",
            "2.0.0-alpha",
            "2147483647",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(v(pair[1]) > v(pair[0]), "{} > {}", pair[1], pair[0]);
        }
    }

    /// NuGet compares labels with `int.TryParse`: digit strings too large for an `int` compare
    /// as text, after every number.
    #[test]
    fn huge_numeric_labels_compare_as_text_like_nuget() {
        assert!(v("1.0.0-2147483647") < v("1.0.0-2147483648"));
        assert!(v("1.0.0-99999999999") < v("1.0.0-a"));
        assert!(v("1.0.0-10000000000") < v("1.0.0-9999999999"));
    }

    #[test]
    fn detects_semver2() {
        for (input, semver2) in [
            ("1.0.0", false),
            ("1.0.0-beta", false),
            ("1.0.0-beta-1", false),
            ("1.0.0-alpha.1", true),
            ("1.0.0+githash", true),
            ("1.0.0-beta+githash", true),
        ] {
            assert_eq!(v(input).is_semver2(), semver2, "{input}");
        }
        assert!(v("1.0.0-beta").is_prerelease());
        assert!(!v("1.0.0+meta").is_prerelease());
    }

    #[test]
    fn accessors_return_the_parts() {
        let version = v("1.2.3.4-Beta.5+meta");
        assert_eq!(
            (
                version.major(),
                version.minor(),
                version.patch(),
                version.revision()
            ),
            (1, 2, 3, 4)
        );
        assert_eq!(version.release_labels(), ["Beta", "5"]);
    }

    #[test]
    fn serde_uses_the_full_string() {
        let version = v("1.01-Beta.1+sha");
        let json = serde_json::to_string(&version).unwrap();
        assert_eq!(json, "\"1.1.0-Beta.1+sha\"");
        let back: NuGetVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_full(), "1.1.0-Beta.1+sha");
        assert!(serde_json::from_str::<NuGetVersion>("\"1.0.0.0.0\"").is_err());
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let number = prop_oneof![0u32..3, Just(MAX_PART), any::<u32>().prop_map(|n| n % 100)];
        let label = prop_oneof![
            "[1-9][0-9]{0,3}",
            Just("0".to_owned()),
            "[A-Za-z-][0-9A-Za-z-]{0,5}",
            "9999999999",
        ];
        (
            prop::collection::vec(number, 1..=4),
            prop::collection::vec(label, 0..3),
            prop::option::of("[0-9A-Za-z-]{1,4}(\\.[0-9A-Za-z-]{1,4}){0,2}"),
        )
            .prop_map(|(numbers, labels, metadata)| {
                let mut s = numbers
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(".");
                if !labels.is_empty() {
                    s.push('-');
                    s.push_str(&labels.join("."));
                }
                if let Some(metadata) = metadata {
                    s.push('+');
                    s.push_str(&metadata);
                }
                s
            })
            .prop_filter("fits the length limit", |s| s.len() <= MAX_LENGTH)
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = NuGetVersion::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_version_like_strings(s in "[0-9.+A-Za-z-]{0,70}") {
            let _ = NuGetVersion::parse(&s);
        }

        #[test]
        fn full_string_round_trips(s in version_strategy()) {
            let version = NuGetVersion::parse(&s).unwrap();
            let again = NuGetVersion::parse(&version.to_full()).unwrap();
            prop_assert_eq!(&again, &version);
            prop_assert_eq!(again.to_full(), version.to_full());
            prop_assert_eq!(again.metadata(), version.metadata());
            let normalized = NuGetVersion::parse(&version.to_normalized()).unwrap();
            prop_assert_eq!(&normalized, &version);
            prop_assert_eq!(
                NuGetVersion::parse(&version.lower_normalized()).unwrap(),
                version
            );
        }

        #[test]
        fn order_is_total_and_consistent_with_eq(
            a in version_strategy(),
            b in version_strategy(),
            c in version_strategy(),
        ) {
            let (a, b, c) = (
                NuGetVersion::parse(&a).unwrap(),
                NuGetVersion::parse(&b).unwrap(),
                NuGetVersion::parse(&c).unwrap(),
            );
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
            prop_assert_eq!(a == b, a.to_normalized().eq_ignore_ascii_case(&b.to_normalized()));
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
        }
    }
}
