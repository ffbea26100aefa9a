//! `GET {base}/`: the feed page, a search box over the feed's own search index and a page of
//! results (the protocol's search, never a second index).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::layout::Layout;
use super::package_page;
use super::page;
use crate::api::metadata;
use crate::api::urls::FeedUrls;
use crate::api::vulnerabilities;
use crate::feed::record::{PackageRecord, VersionFilter};
use crate::feed::search::SearchQuery;
use crate::http::AppState;
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::handlers::search::MAX_SKIP;

/// Results per page.
const PAGE_SIZE: usize = 20;
/// The last page: search skips at most [`MAX_SKIP`] results (SQ-3).
const MAX_PAGE: usize = MAX_SKIP / PAGE_SIZE + 1;

/// What the page was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FeedQuery {
    q: String,
    prerelease: bool,
    /// 1-based.
    page: usize,
}

impl FeedQuery {
    fn parse(params: &HashMap<String, String>) -> Result<FeedQuery, String> {
        let q = params
            .get("q")
            .map(|q| q.trim().to_owned())
            .unwrap_or_default();
        let prerelease = match params.get("prerelease").map(String::as_str) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "`prerelease={other}` is not valid: use true or leave it out"
                ));
            }
        };
        let page = match params.get("page").map(String::as_str) {
            None | Some("") => 1,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "`page={raw}` is not valid: use a page number from 1 to {MAX_PAGE}"
                    ));
                }
            },
        };
        Ok(FeedQuery {
            q,
            prerelease,
            page,
        })
    }

    /// The page's URL with page number `page`.
    fn href(&self, base: &str, page: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if self.prerelease {
            query.append_pair("prerelease", "true");
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            format!("{base}/")
        } else {
            format!("{base}/?{query}")
        }
    }
}

/// One search result.
#[derive(Debug)]
pub struct ResultView {
    pub id: String,
    pub version: String,
    pub href: String,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub icon: Option<String>,
    pub downloads: u64,
    pub tags: Vec<String>,
    pub owners: Vec<String>,
    pub deprecated: bool,
    pub vulnerable: bool,
}

/// The data of `templates/feed.html`.
#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    layout: Layout,
    q: String,
    prerelease: bool,
    total: usize,
    results: Vec<ResultView>,
    prev: Option<String>,
    next: Option<String>,
    page: usize,
}

pub async fn get(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let query = match FeedQuery::parse(&params) {
        Ok(query) => query,
        Err(message) => {
            let layout = Layout::new(&urls, "Bad request");
            return page::error(layout, StatusCode::BAD_REQUEST, &message);
        }
    };
    let title = if query.q.is_empty() {
        "Packages".to_owned()
    } else {
        format!("Packages matching {}", query.q)
    };
    let layout = Layout::new(&urls, title);
    let stamp = page::stamp(&s, s.feed.state().seq());
    let key = cache::key(&[
        "web-feed",
        urls.base(),
        &query.q,
        if query.prerelease { "pre" } else { "" },
        &query.page.to_string(),
    ]);
    let render = async { page::render(&view(&s, &urls, &layout, &query)) };
    page::serve(&s, &headers, &layout, key, stamp, render).await
}

/// The page's data: a page of the search's hits, each shown by its latest version the
/// prerelease choice admits (SemVer 2.0.0 versions always: a browser understands them).
fn view(s: &AppState, urls: &FeedUrls, layout: &Layout, query: &FeedQuery) -> FeedPage {
    let search = SearchQuery {
        q: query.q.clone(),
        skip: (query.page - 1) * PAGE_SIZE,
        take: PAGE_SIZE,
        prerelease: query.prerelease,
        semver2: true,
        package_type: None,
    };
    let hits = s.feed.search_index().search(&search);
    let records: Vec<Arc<PackageRecord>> = {
        let state = s.feed.state();
        hits.ids
            .iter()
            .filter_map(|id| state.package(id).cloned())
            .collect()
    };
    let filter = VersionFilter::search(query.prerelease, true);
    let results = records
        .iter()
        .filter_map(|record| {
            let versions: Vec<_> = record.visible(filter).collect();
            let latest = *versions.last()?;
            let listing = latest.listing.as_deref()?;
            let (id, version) = (latest.id(), latest.version());
            let counts = s.feed.downloads().versions(
                &id.lower(),
                &versions.iter().map(|v| v.version()).collect::<Vec<_>>(),
            );
            let icon =
                metadata::icon_url(urls, id, version, listing.icon_url.as_deref(), latest.files);
            let version_text = version.to_full();
            Some(ResultView {
                href: layout.package_href(id.as_str(), Some(&version_text)),
                id: id.as_str().to_owned(),
                version: version_text,
                title: listing.title.clone().filter(|t| !t.trim().is_empty()),
                summary: listing
                    .summary
                    .clone()
                    .or_else(|| listing.description.clone())
                    .map(|text| package_page::shorten(&text)),
                icon: icon.filter(|u| package_page::shown_image(u, urls)),
                downloads: counts.iter().fold(0, |sum: u64, &c| sum.saturating_add(c)),
                tags: listing.tags.clone(),
                owners: s.api_keys.owners(id),
                deprecated: latest.deprecation.is_some(),
                vulnerable: !vulnerabilities::for_version(&s.advisories, id, version).is_empty(),
            })
        })
        .collect();
    let base = &layout.base;
    let last_page = hits.total.div_ceil(PAGE_SIZE).clamp(1, MAX_PAGE);
    FeedPage {
        layout: layout.clone(),
        q: query.q.clone(),
        prerelease: query.prerelease,
        total: hits.total,
        results,
        prev: (query.page > 1).then(|| query.href(base, query.page - 1)),
        next: (query.page < last_page).then(|| query.href(base, query.page + 1)),
        page: query.page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn queries_parse_and_link_back() {
        let q = FeedQuery::parse(&params(&[
            ("q", " json "),
            ("prerelease", "true"),
            ("page", "2"),
        ]))
        .unwrap();
        assert_eq!(
            q,
            FeedQuery {
                q: "json".into(),
                prerelease: true,
                page: 2
            }
        );
        assert_eq!(q.href("/f", 3), "/f/?q=json&prerelease=true&page=3");
        assert_eq!(FeedQuery::parse(&params(&[])).unwrap().href("", 1), "/");
        for bad in [
            ("page", "0"),
            ("page", "x"),
            ("page", "999"),
            ("prerelease", "yes"),
        ] {
            let err = FeedQuery::parse(&params(&[bad])).unwrap_err();
            assert!(err.contains(bad.1), "{err}");
        }
    }
}
