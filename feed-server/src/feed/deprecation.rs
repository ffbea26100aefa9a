//! Package deprecation (REG-10): a version marked as legacy, critically buggy or otherwise not
//! to be used, with an optional message and a package to use instead.
//!
//! A tenant sends it as a small JSON document ([`Deprecation::from_json`] checks it all before
//! anything is stored, DESIGN invariant 5). It is appended as an event exactly like an unlist
//! (`Feed::set_deprecation`, in `deprecate.rs`), so every replica and the catalog see it in log
//! order, and it stays on the version's record until it is replaced, removed, or the version
//! deleted.
//! Rendering it is the views' job (`api::metadata::deprecation`).

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use crate::package::{PackageId, VersionRange, shown};

/// Longest accepted message, in characters: a paragraph or two, as nuget.org shows it.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// Why a version is deprecated (REG-10), declared in the order the views list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    /// No longer maintained.
    Legacy,
    /// Has bugs that make it unsuitable for use.
    CriticalBugs,
    /// Anything else; the message says what.
    Other,
}

impl Reason {
    pub const ALL: [Reason; 3] = [Reason::Legacy, Reason::CriticalBugs, Reason::Other];

    /// The protocol's name of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Legacy => "Legacy",
            Reason::CriticalBugs => "CriticalBugs",
            Reason::Other => "Other",
        }
    }

    /// A reason by its name, in any casing (REG-10: reasons are case-insensitive).
    fn parse(name: &str) -> Option<Reason> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// A version's deprecation, validated: what the event log, the snapshot and the views hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deprecation {
    /// At least one, each once, in [`Reason`] order.
    pub reasons: Vec<Reason>,
    /// Not empty when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate: Option<AlternatePackage>,
}

/// The package to use instead of a deprecated version. It need not be in this feed (it may be
/// on nuget.org), so it is not looked up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlternatePackage {
    pub id: PackageId,
    /// The versions to use; `None` for any version (`*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<VersionRange>,
}

impl AlternatePackage {
    /// `range` as the protocol writes it: `*` for any version, else the normalized range.
    pub fn range_text(&self) -> String {
        self.range
            .as_ref()
            .map_or_else(|| "*".to_owned(), VersionRange::to_normalized)
    }
}

impl PartialEq for AlternatePackage {
    /// As written, not merely equivalent: a tenant correcting an id's casing changes it.
    fn eq(&self, other: &Self) -> bool {
        self.id.as_str() == other.id.as_str() && self.range_text() == other.range_text()
    }
}

/// The document a tenant sends, as sent (camelCase like the protocol's own `deprecation`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Request {
    reasons: Vec<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    alternate_package: Option<AlternateRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlternateRequest {
    id: String,
    #[serde(default)]
    range: Option<String>,
}

/// The shape of a valid document, for error messages.
const EXPECTED: &str = r#"send {"reasons": ["Legacy" | "CriticalBugs" | "Other", ...], "message": "...", "alternatePackage": {"id": "...", "range": "*"}} (message and alternatePackage optional)"#;

impl Deprecation {
    /// Reads and checks a tenant's deprecation document: reasons known (any casing, repeats
    /// collapse), a message of at most [`MAX_MESSAGE_CHARS`] without control characters other
    /// than line breaks and tabs (blank counts as none), an alternate package with a valid id
    /// and either `*`, no range, or a fixed NuGet range.
    pub fn from_json(body: &[u8]) -> Result<Deprecation> {
        let request: Request = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("the deprecation is not valid: {e}; {EXPECTED}")))?;
        let mut reasons = Vec::with_capacity(request.reasons.len());
        for name in &request.reasons {
            let reason = Reason::parse(name).ok_or_else(|| {
                invalid(format!(
                    "`{}` is not a deprecation reason: use Legacy, CriticalBugs or Other",
                    shown(name)
                ))
            })?;
            reasons.push(reason);
        }
        reasons.sort_unstable();
        reasons.dedup();
        if reasons.is_empty() {
            return Err(invalid(
                "a deprecation needs at least one reason: Legacy, CriticalBugs or Other".into(),
            ));
        }
        let message = match request.message {
            Some(m) if !m.trim().is_empty() => Some(check_message(m)?),
            _ => None,
        };
        let alternate = request
            .alternate_package
            .map(|a| {
                let id = PackageId::parse(&a.id)
                    .map_err(|e| invalid(format!("alternatePackage.id: {e}")))?;
                Ok::<_, Error>(AlternatePackage {
                    id,
                    range: alternate_range(a.range.as_deref())?,
                })
            })
            .transpose()?;
        Ok(Deprecation {
            reasons,
            message,
            alternate,
        })
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidDeprecation(message)
}

fn check_message(message: String) -> Result<String> {
    let chars = message.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(invalid(format!(
            "the deprecation message is {chars} characters long: the limit is {MAX_MESSAGE_CHARS}"
        )));
    }
    if let Some(c) = message
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(format!(
            "the deprecation message contains the control character U+{:04X}: use plain text",
            u32::from(c)
        )));
    }
    Ok(message)
}

/// `None` for any version: no range, `*`, or a range that bounds nothing.
fn alternate_range(range: Option<&str>) -> Result<Option<VersionRange>> {
    let Some(text) = range.map(str::trim).filter(|r| *r != "*") else {
        return Ok(None);
    };
    let range = VersionRange::parse(text).map_err(|e| {
        invalid(format!(
            "alternatePackage.range: {e} (or use * for any version)"
        ))
    })?;
    Ok((range != VersionRange::all()).then_some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Deprecation> {
        Deprecation::from_json(json.as_bytes())
    }

    fn rejected(json: &str) -> String {
        match parse(json) {
            Err(Error::InvalidDeprecation(m)) => m,
            other => panic!("{json} was not rejected as invalid: {other:?}"),
        }
    }

    #[test]
    fn a_full_document_is_read_and_normalized() {
        let d = parse(
            r#"{"reasons": ["other", "LEGACY", "Legacy"], "message": "Use Contoso.Json.",
                "alternatePackage": {"id": "Contoso.Json", "range": "[2.0, )"}}"#,
        )
        .unwrap();
        // REG-10: case-insensitive; listed once each, in the protocol's order.
        assert_eq!(d.reasons, [Reason::Legacy, Reason::Other]);
        assert_eq!(d.message.as_deref(), Some("Use Contoso.Json."));
        let alternate = d.alternate.unwrap();
        assert_eq!(alternate.id.as_str(), "Contoso.Json");
        assert_eq!(alternate.range_text(), "[2.0.0, )");
    }

    #[test]
    fn message_and_alternate_are_optional_and_any_version_is_star() {
        let d = parse(r#"{"reasons": ["CriticalBugs"]}"#).unwrap();
        assert_eq!((d.message, d.alternate), (None, None));
        let blank = parse(r#"{"reasons": ["Other"], "message": "  \n "}"#).unwrap();
        assert_eq!(blank.message, None, "a blank message is none");
        for range in [r#""*""#, "null", r#""(, )""#, r#"" ""#] {
            let json = format!(
                r#"{{"reasons": ["Legacy"], "alternatePackage": {{"id": "B", "range": {range}}}}}"#
            );
            let d = parse(&json).unwrap();
            let alternate = d.alternate.unwrap();
            assert_eq!(alternate.range, None, "{range}");
            assert_eq!(alternate.range_text(), "*");
        }
        let d = parse(r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "B"}}"#).unwrap();
        assert_eq!(d.alternate.unwrap().range_text(), "*");
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let cases = [
            (r#"{"reasons": []}"#, "at least one reason"),
            (r#"{"message": "m"}"#, "missing field `reasons`"),
            (
                r#"{"reasons": ["Obsolete"]}"#,
                "`Obsolete` is not a deprecation reason",
            ),
            (r#"{"reasons": "Legacy"}"#, "invalid type"),
            (
                r#"{"reasons": ["Legacy"], "mesage": "typo"}"#,
                "unknown field `mesage`",
            ),
            (r#"{"reasons": ["Legacy""#, "not valid"),
            ("", "not valid"),
            (
                r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "Bad Id"}}"#,
                "alternatePackage.id: package id `Bad Id` is invalid",
            ),
            (
                r#"{"reasons": ["Legacy"], "alternatePackage": {"range": "*"}}"#,
                "missing field `id`",
            ),
            (
                r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "B", "range": "[2.0"}}"#,
                "alternatePackage.range: version range `[2.0` is invalid",
            ),
            (
                r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "B", "range": "1.*"}}"#,
                "alternatePackage.range",
            ),
            (
                r#"{"reasons": ["Legacy"], "message": "a\u0000b"}"#,
                "control character U+0000",
            ),
        ];
        for (json, says) in cases {
            let message = rejected(json);
            assert!(message.contains(says), "{json}: {message}");
        }
    }

    #[test]
    fn messages_are_limited_in_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_MESSAGE_CHARS);
        let json = format!(r#"{{"reasons": ["Other"], "message": "{at_limit}"}}"#);
        assert_eq!(parse(&json).unwrap().message.unwrap(), at_limit);
        let over = format!(r#"{{"reasons": ["Other"], "message": "{at_limit}x"}}"#);
        assert!(rejected(&over).contains("4001 characters long: the limit is 4000"));
        let lines = parse(r#"{"reasons": ["Other"], "message": "one\r\n\ttwo"}"#).unwrap();
        assert_eq!(lines.message.as_deref(), Some("one\r\n\ttwo"));
    }

    #[test]
    fn equality_is_by_spelling_so_a_casing_fix_is_a_change() {
        let a = parse(r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "b"}}"#).unwrap();
        let b = parse(r#"{"reasons": ["Legacy"], "alternatePackage": {"id": "B"}}"#).unwrap();
        let same =
            parse(r#"{"reasons": ["legacy"], "alternatePackage": {"id": "B", "range": "*"}}"#)
                .unwrap();
        assert_ne!(a, b);
        assert_eq!(b, same);
    }

    #[test]
    fn the_stored_form_round_trips() {
        let d = parse(
            r#"{"reasons": ["CriticalBugs", "Other"], "message": "m",
                "alternatePackage": {"id": "B", "range": "[1.0.0, 2.0.0)"}}"#,
        )
        .unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"reasons":["CriticalBugs","Other"],"message":"m","alternate":{"id":"B","range":"[1.0.0, 2.0.0)"}}"#
        );
        assert_eq!(serde_json::from_str::<Deprecation>(&json).unwrap(), d);
    }
}
