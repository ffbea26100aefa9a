//! The in-memory search index behind SearchQueryService and SearchAutocompleteService
//! (SQ-1..SQ-12, AC-1, AC-3).
//!
//! One entry per package id, rebuilt by [`SearchIndex::update`] whenever the id changes. An
//! entry keeps, for each of the four `prerelease` x `semVerLevel` filters, the searchable text
//! of the latest *listed* version that filter admits (SQ-7: unlisted versions never count), so
//! a query costs one look at each id however many versions it has. Ids are kept in lower-case
//! order, which is also the tie-break of the ranking. Rendering the hits (metadata of the
//! latest version, the version list) is `api::search`'s job, from the package records.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::record::{PackageRecord, VersionFilter, VersionRecord};
use crate::package::Nuspec;

/// The package type of a package whose nuspec declares none: NuGet treats it as `Dependency`
/// (SQ-5 filters on it, SQ-9 shows at least one type).
pub const DEFAULT_PACKAGE_TYPE: &str = "Dependency";

/// The package type names search shows and filters on: the nuspec's, or
/// [`DEFAULT_PACKAGE_TYPE`].
pub fn package_type_names(nuspec: &Nuspec) -> Vec<&str> {
    if nuspec.package_types.is_empty() {
        return vec![DEFAULT_PACKAGE_TYPE];
    }
    nuspec
        .package_types
        .iter()
        .map(|t| t.name.as_str())
        .collect()
}

/// A search or autocomplete request, as parsed from the query string (SQ-1, AC-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Search terms; empty matches every package (SQ-2).
    pub q: String,
    pub skip: usize,
    pub take: usize,
    /// Include prerelease versions (SQ-4: absent means false).
    pub prerelease: bool,
    /// `semVerLevel=2.0.0`: include SemVer2 versions (SQ-4: absent means false).
    pub semver2: bool,
    /// Only packages whose latest admitted version has this type, case-insensitively (SQ-5);
    /// `None` or empty: no filter.
    pub package_type: Option<String>,
}

impl Default for SearchQuery {
    /// Everything, first page of 20, SemVer1 stable versions only (SQ-4 defaults).
    fn default() -> Self {
        SearchQuery {
            q: String::new(),
            skip: 0,
            take: 20,
            prerelease: false,
            semver2: false,
            package_type: None,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    /// How many package ids match, regardless of `skip` and `take` (SQ-8, SQ-12).
    pub total: usize,
    /// Lower-cased ids of this page, best first.
    pub ids: Vec<String>,
}

/// The search index: searchable text per package id.
#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Keyed by lower-cased id; iteration order is the ranking's tie-break.
    entries: BTreeMap<String, Entry>,
}

/// What the index knows about one id.
#[derive(Debug)]
struct Entry {
    /// Lower-cased id tokens (split on `.`, `-`, `_` and camelCase; AC-1).
    tokens: Box<[Box<str>]>,
    /// The distinct latest versions' documents (at most four, usually one or two).
    docs: Vec<Doc>,
    /// Per filter ([`filter_slot`]), which of `docs` describes its latest admitted version.
    by_filter: [Option<u8>; 4],
}

/// The searchable text of one version, lower-cased.
#[derive(Debug)]
struct Doc {
    title: Box<str>,
    tags: Box<[Box<str>]>,
    description: Box<str>,
    authors: Box<str>,
    package_types: Box<[Box<str>]>,
}

/// Which field a query term is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// A plain term: id, id tokens, title, tags, description, authors.
    Any,
    /// `id:` — anywhere in the id.
    Id,
    /// `packageid:` — the whole id (nuget.org syntax).
    PackageId,
    Title,
    Tags,
    Description,
    Authors,
}

#[derive(Debug)]
struct Term {
    field: Field,
    /// Lower-cased.
    text: String,
}

/// Ranking tiers, best first; a query's score is the sum over its terms.
mod tier {
    pub const EXACT_ID: u32 = 0;
    pub const ID_PREFIX: u32 = 1;
    pub const ID_TOKEN: u32 = 2;
    pub const ID_SUBSTRING: u32 = 3;
    pub const TITLE_OR_TAGS: u32 = 4;
    pub const DESCRIPTION_OR_AUTHORS: u32 = 5;
}

/// Index of a `prerelease` x `semver2` filter in [`Entry::by_filter`].
fn filter_slot(prerelease: bool, semver2: bool) -> usize {
    usize::from(prerelease) * 2 + usize::from(semver2)
}

impl SearchIndex {
    /// Re-indexes one id after any change to it; `None` (or a record without listed
    /// versions) removes it.
    pub fn update(&mut self, lower_id: &str, record: Option<&PackageRecord>) {
        match record.and_then(|r| Entry::build(lower_id, r)) {
            Some(entry) => {
                self.entries.insert(lower_id.to_owned(), entry);
            }
            None => {
                self.entries.remove(lower_id);
            }
        }
    }

    /// Number of ids with at least one listed version.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Search (SQ-2): every term must match (AND). Ranked by exact id, id prefix, id token,
    /// id substring, title or tags, description or authors; ties by id.
    pub fn search(&self, q: &SearchQuery) -> SearchHits {
        let terms = parse_terms(&q.q);
        self.ranked(q, |id, entry, doc| {
            terms
                .iter()
                .try_fold(0, |sum, term| Some(sum + term_tier(term, id, entry, doc)?))
        })
    }

    /// Autocomplete, id mode (AC-1): ids that start with `q`, or with an id token that does
    /// (`json` finds `Newtonsoft.Json`), case-insensitively; whole-id prefixes first.
    pub fn autocomplete_ids(&self, q: &SearchQuery) -> SearchHits {
        let prefix = q.q.trim().to_lowercase();
        self.ranked(q, |id, entry, _| {
            if id.starts_with(&prefix) {
                Some(tier::ID_PREFIX)
            } else if entry.tokens.iter().any(|t| t.starts_with(&prefix)) {
                Some(tier::ID_TOKEN)
            } else {
                None
            }
        })
    }

    /// Applies the version filters (SQ-4, SQ-7) and the package type (SQ-5), scores every
    /// remaining id with `score` (`None`: no match), and pages the ranking.
    fn ranked(
        &self,
        q: &SearchQuery,
        score: impl Fn(&str, &Entry, &Doc) -> Option<u32>,
    ) -> SearchHits {
        let slot = filter_slot(q.prerelease, q.semver2);
        let package_type = q
            .package_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase);
        let mut matches: Vec<(u32, &str)> = self
            .entries
            .iter()
            .filter_map(|(id, entry)| {
                let doc = entry.docs.get(usize::from(entry.by_filter[slot]?))?;
                let wanted = |t: &String| doc.package_types.iter().any(|p| **p == **t);
                if package_type.as_ref().is_some_and(|t| !wanted(t)) {
                    return None;
                }
                Some((score(id, entry, doc)?, id.as_str()))
            })
            .collect();
        // Stable: equal scores keep the map's id order.
        matches.sort_by_key(|(score, _)| *score);
        SearchHits {
            total: matches.len(),
            ids: matches
                .into_iter()
                .skip(q.skip)
                .take(q.take)
                .map(|(_, id)| id.to_owned())
                .collect(),
        }
    }
}

impl Entry {
    /// `None` when no filter admits a listed version.
    fn build(lower_id: &str, record: &PackageRecord) -> Option<Entry> {
        let mut docs: Vec<(&Arc<VersionRecord>, Doc)> = Vec::new();
        let mut by_filter = [None; 4];
        for prerelease in [false, true] {
            for semver2 in [false, true] {
                let filter = VersionFilter {
                    semver2,
                    prerelease,
                    unlisted: false,
                };
                let Some(latest) = record.visible(filter).next_back() else {
                    continue;
                };
                let at = match docs.iter().position(|(v, _)| Arc::ptr_eq(v, latest)) {
                    Some(at) => at,
                    None => {
                        docs.push((latest, Doc::build(latest)));
                        docs.len() - 1
                    }
                };
                by_filter[filter_slot(prerelease, semver2)] = u8::try_from(at).ok();
            }
        }
        if docs.is_empty() {
            return None;
        }
        Some(Entry {
            tokens: id_tokens(display_id(record, lower_id)),
            docs: docs.into_iter().map(|(_, doc)| doc).collect(),
            by_filter,
        })
    }
}

/// The id with its casing (camelCase tokens need it), falling back to the lower-cased key.
fn display_id<'a>(record: &'a PackageRecord, lower_id: &'a str) -> &'a str {
    record.id().map_or(lower_id, |id| id.as_str())
}

impl Doc {
    fn build(v: &VersionRecord) -> Doc {
        let n = &v.nuspec;
        let lower = |s: &Option<String>| s.as_deref().unwrap_or_default().to_lowercase().into();
        Doc {
            title: lower(&n.title),
            tags: n.tags.iter().map(|t| t.to_lowercase().into()).collect(),
            description: lower(&n.description),
            authors: n.authors.join(", ").to_lowercase().into(),
            package_types: package_type_names(n)
                .into_iter()
                .map(|t| t.to_lowercase().into())
                .collect(),
        }
    }
}

/// Splits a query into terms on whitespace; `field:value` terms name their field (nuget.org
/// syntax), unknown fields are plain text, surrounding quotes are dropped.
fn parse_terms(q: &str) -> Vec<Term> {
    q.split_whitespace()
        .filter_map(|raw| {
            let (field, text) = match raw.split_once(':') {
                Some((name, value)) => match name.to_ascii_lowercase().as_str() {
                    "id" => (Field::Id, value),
                    "packageid" => (Field::PackageId, value),
                    "title" => (Field::Title, value),
                    "tag" | "tags" => (Field::Tags, value),
                    "description" => (Field::Description, value),
                    "author" | "authors" => (Field::Authors, value),
                    _ => (Field::Any, raw),
                },
                None => (Field::Any, raw),
            };
            let text = text.trim_matches('"').to_lowercase();
            (!text.is_empty()).then_some(Term { field, text })
        })
        .collect()
}

/// The best tier at which `term` matches, or `None`.
fn term_tier(term: &Term, id: &str, entry: &Entry, doc: &Doc) -> Option<u32> {
    let t = term.text.as_str();
    let in_id = || {
        if id == t {
            Some(tier::EXACT_ID)
        } else if id.starts_with(t) {
            Some(tier::ID_PREFIX)
        } else if entry.tokens.iter().any(|tok| tok.starts_with(t)) {
            Some(tier::ID_TOKEN)
        } else if id.contains(t) {
            Some(tier::ID_SUBSTRING)
        } else {
            None
        }
    };
    let in_title = || doc.title.contains(t).then_some(tier::TITLE_OR_TAGS);
    let in_tags = || {
        doc.tags
            .iter()
            .any(|tag| tag.contains(t))
            .then_some(tier::TITLE_OR_TAGS)
    };
    let in_description = || {
        doc.description
            .contains(t)
            .then_some(tier::DESCRIPTION_OR_AUTHORS)
    };
    let in_authors = || {
        doc.authors
            .contains(t)
            .then_some(tier::DESCRIPTION_OR_AUTHORS)
    };
    match term.field {
        Field::Any => in_id()
            .or_else(in_title)
            .or_else(in_tags)
            .or_else(in_description)
            .or_else(in_authors),
        Field::Id => in_id(),
        Field::PackageId => (id == t).then_some(tier::EXACT_ID),
        Field::Title => in_title(),
        Field::Tags => in_tags(),
        Field::Description => in_description(),
        Field::Authors => in_authors(),
    }
}

/// Lower-cased id tokens: the parts between `.`, `-` and `_`, and within each part its
/// camelCase words (`NuGet.XMLParser` -> `nuget`, `nu`, `get`, `xmlparser`, `xml`, `parser`).
fn id_tokens(id: &str) -> Box<[Box<str>]> {
    let mut tokens: Vec<Box<str>> = Vec::new();
    let mut push = |s: &str| {
        let s = s.to_ascii_lowercase();
        if !s.is_empty() && !tokens.iter().any(|t| **t == *s) {
            tokens.push(s.into());
        }
    };
    for part in id.split(['.', '-', '_']) {
        push(part);
        let chars: Vec<char> = part.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, cur) = (chars[i - 1], chars[i]);
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            // A word starts at an upper-case letter after a lower-case one (`nuGet`), or at the
            // last capital of an acronym followed by lower case (`XMLParser`).
            let boundary = cur.is_uppercase()
                && (prev.is_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_uppercase() && next_lower));
            if boundary {
                push(&part[byte_offset(&chars, start)..byte_offset(&chars, i)]);
                start = i;
            }
        }
        if start > 0 {
            push(&part[byte_offset(&chars, start)..]);
        }
    }
    tokens.into_boxed_slice()
}

/// Byte offset of the `i`-th char (ids are ASCII, but this keeps slicing safe regardless).
fn byte_offset(chars: &[char], i: usize) -> usize {
    chars[..i].iter().map(|c| c.len_utf8()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{record, unlist, version, version_with};

    fn query(q: &str) -> SearchQuery {
        SearchQuery {
            q: q.to_owned(),
            prerelease: true,
            semver2: true,
            ..SearchQuery::default()
        }
    }

    fn index(records: &[PackageRecord]) -> SearchIndex {
        let mut index = SearchIndex::default();
        for r in records {
            index.update(&r.id().unwrap().lower(), Some(r));
        }
        index
    }

    /// A small feed:
    /// - Newtonsoft.Json: stable, tags json
    /// - Contoso.Json.Extensions: stable, title mentions "serializer"
    /// - JsonPath.Next: only a SemVer2 prerelease (2.0.0-beta.1)
    /// - Contoso.Preview: only a SemVer1 prerelease (1.0.0-beta)
    /// - Contoso.Hidden: only an unlisted version
    /// - Contoso.Tool: a DotnetTool, description mentions json
    fn feed() -> SearchIndex {
        let mut hidden = record(&[version("Contoso.Hidden", "1.0.0")]);
        unlist(&mut hidden, "1.0.0");
        index(&[
            record(&[version_with(
                "Newtonsoft.Json",
                "13.0.1",
                "<tags>json serialization</tags><authors>James Newton-King</authors>",
            )]),
            record(&[version_with(
                "Contoso.Json.Extensions",
                "1.0.0",
                "<title>Fast serializer helpers</title>",
            )]),
            record(&[version("JsonPath.Next", "2.0.0-beta.1")]),
            record(&[version("Contoso.Preview", "1.0.0-beta")]),
            hidden,
            record(&[version_with(
                "Contoso.Tool",
                "1.0.0",
                r#"<description>Formats JSON files.</description><packageTypes><packageType name="DotnetTool"/></packageTypes>"#,
            )]),
        ])
    }

    #[test]
    fn ranks_exact_id_then_prefix_then_token_then_text() {
        let hits = feed().search(&query("json"));
        assert_eq!(
            hits.ids,
            [
                "jsonpath.next",           // id prefix
                "contoso.json.extensions", // id token
                "newtonsoft.json",         // id token
                "contoso.tool",            // description
            ]
        );
        assert_eq!(
            feed().search(&query("Newtonsoft.Json")).ids[0],
            "newtonsoft.json"
        );
        // Title and tags rank above description and authors.
        assert_eq!(
            feed().search(&query("serial")).ids,
            ["contoso.json.extensions", "newtonsoft.json"]
        );
    }

    #[test]
    fn all_terms_must_match() {
        assert_eq!(
            feed().search(&query("contoso json")).ids,
            ["contoso.json.extensions", "contoso.tool"]
        );
        assert_eq!(feed().search(&query("contoso nothing")).total, 0);
    }

    #[test]
    fn field_syntax() {
        let f = feed();
        assert_eq!(
            f.search(&query("packageid:newtonsoft.json")).ids,
            ["newtonsoft.json"]
        );
        assert_eq!(f.search(&query("packageid:newtonsoft")).total, 0);
        assert_eq!(f.search(&query("id:json")).total, 3);
        assert_eq!(f.search(&query("tags:json")).ids, ["newtonsoft.json"]);
        assert_eq!(
            f.search(&query("title:serializer")).ids,
            ["contoso.json.extensions"]
        );
        assert_eq!(
            f.search(&query("description:formats")).ids,
            ["contoso.tool"]
        );
        assert_eq!(
            f.search(&query("author:newton-king")).ids,
            ["newtonsoft.json"]
        );
        assert_eq!(
            f.search(&query("Authors:\"james\"")).ids,
            ["newtonsoft.json"]
        );
    }

    #[test]
    fn matching_ignores_case() {
        let f = feed();
        assert_eq!(f.search(&query("NEWTONSOFT")).ids, ["newtonsoft.json"]);
        assert_eq!(f.search(&query("FORMATS")).ids, ["contoso.tool"]);
        assert_eq!(f.autocomplete_ids(&query("NEWT")).ids, ["newtonsoft.json"]);
    }

    #[test]
    fn filters_prerelease_and_semver2() {
        // SQ-4: defaults hide prereleases and SemVer2.
        let f = feed();
        let ids = |prerelease, semver2| {
            f.search(&SearchQuery {
                prerelease,
                semver2,
                take: 100,
                ..SearchQuery::default()
            })
            .ids
        };
        let stable = ["contoso.json.extensions", "contoso.tool", "newtonsoft.json"];
        assert_eq!(ids(false, false), stable);
        assert_eq!(ids(false, true), stable);
        assert_eq!(
            ids(true, false),
            [
                "contoso.json.extensions",
                "contoso.preview",
                "contoso.tool",
                "newtonsoft.json"
            ]
        );
        assert_eq!(ids(true, true).len(), 5);
    }

    #[test]
    fn unlisted_versions_never_count() {
        // SQ-7, AC-1
        let f = feed();
        assert_eq!(f.search(&query("hidden")).total, 0);
        assert_eq!(f.autocomplete_ids(&query("contoso.h")).total, 0);
        // An id whose latest version is unlisted is found by its latest listed one.
        let mut r = record(&[
            version_with("A", "1.0.0", "<title>old title</title>"),
            version_with("A", "2.0.0", "<title>new title</title>"),
        ]);
        unlist(&mut r, "2.0.0");
        let f = index(&[r]);
        assert_eq!(f.search(&query("old")).ids, ["a"]);
        assert_eq!(f.search(&query("new")).total, 0);
    }

    #[test]
    fn package_type_filters_on_the_latest_admitted_version() {
        // SQ-5: case-insensitive; no declared type means Dependency; unknown type: nothing.
        let f = feed();
        let typed = |t: &str| {
            f.search(&SearchQuery {
                package_type: Some(t.to_owned()),
                ..query("")
            })
        };
        assert_eq!(typed("dotnettool").ids, ["contoso.tool"]);
        assert_eq!(typed("DotnetTool").ids, ["contoso.tool"]);
        assert_eq!(typed("dependency").total, 4);
        assert_eq!(typed("nosuchtype").total, 0);
        assert_eq!(typed("").total, 5, "an empty packageType is no filter");
        // The type is the latest admitted version's: a stable 1.0 tool whose 2.0-beta is not.
        let f = index(&[record(&[
            version_with(
                "T",
                "1.0.0",
                r#"<packageTypes><packageType name="DotnetTool"/></packageTypes>"#,
            ),
            version("T", "2.0.0-beta"),
        ])]);
        let with = |prerelease| {
            f.search(&SearchQuery {
                prerelease,
                package_type: Some("dotnettool".into()),
                ..SearchQuery::default()
            })
            .total
        };
        assert_eq!(with(false), 1);
        assert_eq!(with(true), 0);
    }

    #[test]
    fn total_ignores_skip_and_take() {
        // SQ-8, SQ-12: totalHits counts ids, not the page.
        let f = feed();
        let hits = f.search(&SearchQuery {
            skip: 1,
            take: 2,
            ..query("")
        });
        assert_eq!(hits.total, 5);
        assert_eq!(hits.ids, ["contoso.preview", "contoso.tool"]);
        let past_end = f.search(&SearchQuery {
            skip: 10,
            ..query("")
        });
        assert_eq!((past_end.total, past_end.ids.len()), (5, 0));
    }

    #[test]
    fn autocomplete_matches_id_and_token_prefixes() {
        // AC-1
        let f = feed();
        assert_eq!(
            f.autocomplete_ids(&query("json")).ids,
            [
                "jsonpath.next",
                "contoso.json.extensions",
                "newtonsoft.json"
            ]
        );
        assert_eq!(
            f.autocomplete_ids(&query("ext")).ids,
            ["contoso.json.extensions"]
        );
        assert_eq!(
            f.autocomplete_ids(&query("son")).total,
            0,
            "no substring matches"
        );
        assert_eq!(f.autocomplete_ids(&query("")).total, 5);
        let stable = f.autocomplete_ids(&SearchQuery {
            q: "json".into(),
            ..SearchQuery::default()
        });
        assert_eq!(stable.ids, ["contoso.json.extensions", "newtonsoft.json"]);
    }

    #[test]
    fn update_replaces_and_removes() {
        let mut f = feed();
        f.update("newtonsoft.json", None);
        assert_eq!(f.search(&query("newtonsoft")).total, 0);
        let mut r = record(&[version("Contoso.Tool", "1.0.0")]);
        f.update("contoso.tool", Some(&r));
        assert_eq!(f.search(&query("formats")).total, 0, "old text is gone");
        unlist(&mut r, "1.0.0");
        f.update("contoso.tool", Some(&r));
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn id_tokens_split_separators_and_camel_case() {
        let t = |id: &str| {
            id_tokens(id)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(t("NuGet.Versioning"), ["nuget", "nu", "get", "versioning"]);
        assert_eq!(
            t("XMLParser_v2-core"),
            ["xmlparser", "xml", "parser", "v2", "core"]
        );
        assert_eq!(t("lower"), ["lower"]);
    }

    #[test]
    fn many_versions_share_one_document() {
        // Memory per id stays small: one doc when every filter sees the same latest version.
        let versions: Vec<_> = (0..500)
            .map(|i| version("Big", &format!("1.0.{i}")))
            .collect();
        let r = record(&versions);
        let entry = Entry::build("big", &r).unwrap();
        assert_eq!(entry.docs.len(), 1);
        assert_eq!(entry.by_filter, [Some(0); 4]);
    }
}
