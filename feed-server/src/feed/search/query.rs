//! What a search asks ([`SearchQuery`]) and what the index ranks for it ([`Ranking`]), apart
//! from the index so that the cache of rankings needs only these.

/// A search or autocomplete request, as parsed from the query string (SQ-1, AC-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// The head of a query's ranking: what pages of it are cut from (`SearchIndex::page`).
#[derive(Debug)]
pub(super) struct Ranking {
    /// How many package ids match.
    pub(super) total: usize,
    /// The best `depth` of them (or all, when fewer match), best first.
    pub(super) entries: Vec<u32>,
}
