//! What a V2 request asks: the resource named by the URL's last segment ([`Resource`]) and
//! the query options and function parameters of its query string ([`Query`]), validated once
//! so that selection and rendering never see raw text.
//!
//! Function parameters are OData literals (`id='Contoso.Lib'`, `includePrerelease=true`);
//! clients also send some unquoted (`semVerLevel=2.0.0`), so quotes are optional. Parameter
//! names match case-insensitively, system options (`$filter`, ...) exactly, as OData says.

use super::Error;
use super::filter::Filter;
use super::rows::OrderBy;
use crate::package::framework::Framework;
use crate::package::{NuGetVersion, PackageId, VersionRange};

/// The most entries one response holds; a larger `$top` is served in pages of this size
/// linked by `next` (server-driven paging, as the gallery did).
pub const PAGE_SIZE: usize = 100;
/// The largest `$top` accepted at all: beyond it a client is asking for the whole feed.
pub const MAX_TOP: usize = 1000;
/// The largest `$skip`: far beyond any feed's rows, small enough to stay an index.
pub const MAX_SKIP: usize = 10_000_000;
/// Most ids one `GetUpdates()` call may ask about.
pub const MAX_UPDATE_IDS: usize = 1000;

/// The collection or entity a V2 URL names.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// `Packages` / `Packages()`: every version, filtered by `$filter`.
    Packages,
    /// `Packages(Id='..',Version='..')`: one version, as an entry document.
    Package(PackageId, NuGetVersion),
    /// `FindPackagesById()?id='..'`: every version of one id.
    FindPackagesById,
    /// `Search()?searchTerm=..`: the search index's matches.
    Search,
    /// `GetUpdates()?packageIds=..&versions=..`: newer versions of installed packages.
    GetUpdates,
}

impl Resource {
    /// The resource of a URL segment, or `None` when the segment names none (404). A key
    /// that cannot be a package id or version cannot exist either: `None`.
    pub fn parse(segment: &str) -> Option<Resource> {
        let (name, args) = match segment.find('(') {
            Some(at) => (&segment[..at], Some(segment[at + 1..].strip_suffix(')')?)),
            None => (segment, None),
        };
        let empty = args.is_none_or(|a| a.trim().is_empty());
        match name {
            "Packages" if empty => Some(Resource::Packages),
            "Packages" => {
                let (id, version) = package_key(args?)?;
                Some(Resource::Package(id, version))
            }
            "FindPackagesById" if empty => Some(Resource::FindPackagesById),
            "Search" if empty => Some(Resource::Search),
            "GetUpdates" if empty => Some(Resource::GetUpdates),
            _ => None,
        }
    }

    /// The name used in the feed's `<title>`, `<id>` and `next` links.
    pub fn name(&self) -> &'static str {
        match self {
            Resource::Packages | Resource::Package(..) => "Packages",
            Resource::FindPackagesById => "FindPackagesById",
            Resource::Search => "Search",
            Resource::GetUpdates => "GetUpdates",
        }
    }
}

/// `Id='..',Version='..'` in either order.
fn package_key(args: &str) -> Option<(PackageId, NuGetVersion)> {
    let (mut id, mut version) = (None, None);
    for part in args.split(',') {
        let (key, value) = part.split_once('=')?;
        let value = unquote(value.trim());
        match key.trim() {
            "Id" => id = Some(PackageId::parse(&value).ok()?),
            "Version" => version = Some(NuGetVersion::parse(&value).ok()?),
            _ => return None,
        }
    }
    Some((id?, version?))
}

/// An OData string literal's value: surrounding quotes dropped, `''` read as `'`.
fn unquote(raw: &str) -> String {
    match raw.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => raw.to_owned(),
    }
}

/// The parameters of one `GetUpdates()` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Updates {
    /// Each installed package: id, version, and the range its update must stay in.
    pub packages: Vec<(PackageId, NuGetVersion, Option<VersionRange>)>,
    /// Every newer version, not only the highest.
    pub all_versions: bool,
    /// `targetFrameworks='net45|netstandard2.0'`: the project's frameworks; only versions
    /// that run on one of them are offered (none: every version).
    pub target_frameworks: Vec<Framework>,
}

/// A request's query string, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Option<Filter>,
    pub order_by: OrderBy,
    pub skip: usize,
    /// `$top` as asked (at most [`MAX_TOP`]); `None`: every row, a page at a time.
    pub top: Option<usize>,
    /// `$select`: the properties to write, as the entry names them; `None`: all.
    pub select: Option<Vec<String>>,
    /// `$inlinecount=allpages`: write the count of all rows in the feed.
    pub inline_count: bool,
    /// `semVerLevel=2.0.0` or above: SemVer2 versions are shown (SQ-4).
    pub semver2: bool,
    /// `includePrerelease=true` (Search, GetUpdates).
    pub include_prerelease: bool,
    /// `searchTerm` (Search).
    pub search_term: String,
    /// `id` (FindPackagesById).
    pub id: Option<String>,
    /// `packageIds`, `versions`, ... (GetUpdates); `None` for other resources.
    pub updates: Option<Updates>,
}

impl Query {
    /// Reads the query string of a request for `resource`. Unknown function parameters are
    /// ignored (clients send `targetFramework`, which this feed does not filter by); unknown
    /// system options are refused, since ignoring one would return rows the client excluded.
    pub fn parse(resource: &Resource, params: &[(String, String)]) -> Result<Query, Error> {
        let option = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
        };
        let param = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| unquote(v.trim()))
        };
        for (key, value) in params {
            let known = matches!(
                key.as_str(),
                "$filter" | "$orderby" | "$skip" | "$top" | "$select" | "$inlinecount"
            ) || (key == "$format" && value.trim().eq_ignore_ascii_case("atom"));
            if key.starts_with('$') && !known {
                return Err(Error::new(format!(
                    "the query option `{key}={value}` is not supported: use $filter, $orderby, \
                     $skip, $top, $select or $inlinecount"
                )));
            }
        }
        let number = |name: &str, max: usize| -> Result<Option<usize>, Error> {
            match option(name) {
                None | Some("") => Ok(None),
                Some(raw) => match raw.parse::<usize>() {
                    Ok(n) if n <= max => Ok(Some(n)),
                    _ => Err(Error::new(format!(
                        "`{name}={raw}` is invalid: use a whole number from 0 to {max}"
                    ))),
                },
            }
        };
        let flag = |name: &str| -> Result<bool, Error> {
            match param(name).as_deref() {
                None | Some("") => Ok(false),
                Some(raw) if raw.eq_ignore_ascii_case("true") => Ok(true),
                Some(raw) if raw.eq_ignore_ascii_case("false") => Ok(false),
                Some(raw) => Err(Error::new(format!(
                    "`{name}={raw}` is invalid: use true or false"
                ))),
            }
        };
        let filter = match option("$filter") {
            None | Some("") => None,
            Some(text) => Some(Filter::parse(text)?),
        };
        let order_by = match option("$orderby") {
            None | Some("") => OrderBy::default(),
            Some(text) => OrderBy::parse(text)?,
        };
        let select = match option("$select") {
            None | Some("") | Some("*") => None,
            Some(text) => Some(super::atom::select(text)?),
        };
        let inline_count = match option("$inlinecount") {
            None | Some("") | Some("none") => false,
            Some("allpages") => true,
            Some(other) => {
                return Err(Error::new(format!(
                    "`$inlinecount={other}` is invalid: use allpages or none"
                )));
            }
        };
        // SQ-4: absent means SemVer 1.0.0; 2.0.0 or above includes SemVer2 packages.
        let semver2 = match param("semVerLevel").as_deref() {
            None | Some("") => false,
            Some(raw) => {
                let level = NuGetVersion::parse(raw).map_err(|_| {
                    Error::new(format!(
                        "`semVerLevel={raw}` is invalid: use 1.0.0 or 2.0.0"
                    ))
                })?;
                level.major() >= 2
            }
        };
        let updates = match resource {
            Resource::GetUpdates => Some(updates(&param)?),
            _ => None,
        };
        let id = param("id").filter(|id| !id.is_empty());
        if *resource == Resource::FindPackagesById && id.is_none() {
            return Err(Error::new(
                "FindPackagesById() needs an id: add `?id='Contoso.Lib'`",
            ));
        }
        Ok(Query {
            filter,
            order_by,
            skip: number("$skip", MAX_SKIP)?.unwrap_or(0),
            top: number("$top", MAX_TOP)?,
            select,
            inline_count,
            semver2,
            include_prerelease: flag("includePrerelease")?,
            search_term: param("searchTerm").unwrap_or_default(),
            id,
            updates,
        })
    }
}

/// `packageIds='A|B'&versions='1.0|2.0'&versionConstraints='[1,2)|'&includeAllVersions=..`.
fn updates(param: &dyn Fn(&str) -> Option<String>) -> Result<Updates, Error> {
    let list = |name: &str| -> Vec<String> {
        param(name)
            .filter(|s| !s.is_empty())
            .map(|s| s.split('|').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let (ids, versions, constraints) = (
        list("packageIds"),
        list("versions"),
        list("versionConstraints"),
    );
    if ids.len() != versions.len() {
        return Err(Error::new(format!(
            "GetUpdates() has {} packageIds and {} versions: give one version per id, \
             separated by `|`",
            ids.len(),
            versions.len()
        )));
    }
    if ids.len() > MAX_UPDATE_IDS {
        return Err(Error::new(format!(
            "GetUpdates() asks about {} packages; the limit is {MAX_UPDATE_IDS}: split the call",
            ids.len()
        )));
    }
    if !constraints.is_empty() && constraints.len() != ids.len() {
        return Err(Error::new(
            "GetUpdates() needs one versionConstraints entry per id (empty for none)",
        ));
    }
    let mut packages = Vec::with_capacity(ids.len());
    for (i, (id, version)) in ids.iter().zip(&versions).enumerate() {
        let id = PackageId::parse(id)
            .map_err(|e| Error::new(format!("GetUpdates() packageIds: {e}")))?;
        let version = NuGetVersion::parse(version)
            .map_err(|e| Error::new(format!("GetUpdates() versions: {e}")))?;
        let constraint = match constraints.get(i).map(String::as_str) {
            None | Some("") => None,
            Some(text) => Some(
                VersionRange::parse(text)
                    .map_err(|e| Error::new(format!("GetUpdates() versionConstraints: {e}")))?,
            ),
        };
        packages.push((id, version, constraint));
    }
    let all_versions = match param("includeAllVersions").as_deref() {
        None | Some("") => false,
        Some(raw) if raw.eq_ignore_ascii_case("true") => true,
        Some(raw) if raw.eq_ignore_ascii_case("false") => false,
        Some(raw) => {
            return Err(Error::new(format!(
                "`includeAllVersions={raw}` is invalid: use true or false"
            )));
        }
    };
    Ok(Updates {
        packages,
        all_versions,
        target_frameworks: list("targetFrameworks")
            .iter()
            .filter(|f| !f.is_empty())
            .map(|f| Framework::parse(f))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resources_from_url_segments() {
        assert_eq!(Resource::parse("Packages"), Some(Resource::Packages));
        assert_eq!(Resource::parse("Packages()"), Some(Resource::Packages));
        assert_eq!(Resource::parse("Search()"), Some(Resource::Search));
        let Some(Resource::Package(id, v)) =
            Resource::parse("Packages(Version='1.0',Id='Contoso.Lib')")
        else {
            panic!("a package key");
        };
        assert_eq!(
            (id.as_str(), v.to_normalized().as_str()),
            ("Contoso.Lib", "1.0.0")
        );
        for none in [
            "Packages(Id='a')",
            "Packages(Id='a b',Version='1.0')",
            "Packages(Id='a',Version='1.0',Extra='x')",
            "Search(x)",
            "Nope()",
            "Packages(",
        ] {
            assert_eq!(Resource::parse(none), None, "{none}");
        }
    }

    #[test]
    fn nuget_client_search_parameters() {
        let q = Query::parse(
            &Resource::Search,
            &params(&[
                ("$filter", "IsLatestVersion"),
                ("searchTerm", "'it''s json'"),
                ("targetFramework", "''"),
                ("includePrerelease", "true"),
                ("$skip", "30"),
                ("$top", "30"),
                ("semVerLevel", "2.0.0"),
            ]),
        )
        .unwrap();
        assert_eq!(q.search_term, "it's json");
        assert!(q.include_prerelease && q.semver2 && q.filter.is_some());
        assert_eq!((q.skip, q.top), (30, Some(30)));
    }

    #[test]
    fn get_updates_pairs_ids_with_versions() {
        let q = Query::parse(
            &Resource::GetUpdates,
            &params(&[
                ("packageIds", "'A|B'"),
                ("versions", "'1.0|2.0-beta'"),
                ("versionConstraints", "'[1.0,2.0)|'"),
                ("includeAllVersions", "true"),
                ("targetFrameworks", "'net45|netstandard2.0'"),
            ]),
        )
        .unwrap();
        let u = q.updates.unwrap();
        assert!(u.all_versions);
        assert_eq!(
            u.target_frameworks,
            [
                Framework::parse("net45"),
                Framework::parse(".NETStandard2.0")
            ]
        );
        assert_eq!(u.packages.len(), 2);
        assert!(u.packages[0].2.is_some() && u.packages[1].2.is_none());
    }

    #[test]
    fn bad_options_are_refused_with_a_message() {
        for (resource, bad, says) in [
            (Resource::Packages, ("$top", "1001"), "from 0 to 1000"),
            (Resource::Packages, ("$top", "-1"), "whole number"),
            (Resource::Packages, ("$skip", "99999999999"), "whole number"),
            (Resource::Packages, ("$expand", "x"), "not supported"),
            (Resource::Packages, ("$select", "Id,Nope"), "`Nope`"),
            (Resource::Packages, ("$inlinecount", "some"), "allpages"),
            (
                Resource::Search,
                ("includePrerelease", "maybe"),
                "true or false",
            ),
            (Resource::Search, ("semVerLevel", "two"), "1.0.0 or 2.0.0"),
            (Resource::FindPackagesById, ("x", "y"), "needs an id"),
            (
                Resource::GetUpdates,
                ("packageIds", "'A|B'"),
                "one version per id",
            ),
        ] {
            let err = Query::parse(&resource, &params(&[bad]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
