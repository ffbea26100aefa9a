//! VulnerabilityInfo (VUL-1, VUL-2): this feed's page, `base`, from the configured advisories,
//! and the pages mirrored from upstream sources (`crate::upstream::vulnerabilities`), all
//! listed by one index under this feed's URLs.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::vulnerabilities::{self, UpstreamPage};
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;

/// `GET {base}/vulnerabilities/index.json`
pub async fn index(
    State(s): State<AppState>,
    Urls(urls): Urls,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mirrors: Vec<_> = s
        .upstreams
        .sources()
        .iter()
        .filter_map(|source| Some((source.name(), source.vulnerabilities().current()?)))
        .collect();
    let upstream: Vec<UpstreamPage> = mirrors
        .iter()
        .flat_map(|(upstream, mirror)| {
            mirror.pages.iter().map(|p| UpstreamPage {
                upstream,
                name: &p.name,
                updated: &p.updated,
            })
        })
        .collect();
    // Our advisories are loaded once; the index changes only with the mirrored pages.
    let stamp = stamp(upstream.iter().map(|p| (p.upstream, p.name, p.updated)));
    let key = cache::key(&["vulnerabilities", urls.base()]);
    let render = async {
        for left_out in vulnerabilities::upstream_pages_left_out(&upstream) {
            tracing::warn!(
                upstream = left_out.upstream,
                page = left_out.name,
                "the vulnerability index lists at most {} pages: page `{}` of upstream `{}` is left out",
                vulnerabilities::MAX_PAGES,
                left_out.name,
                left_out.upstream
            );
        }
        Ok(Some(vulnerabilities::render_index(
            &urls,
            s.advisories_loaded,
            &upstream,
        )))
    };
    response::serve(&s, &headers, key, stamp, s.doc_options(false), render).await
}

/// `GET {base}/vulnerabilities/base.json`
pub async fn page(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if name != "base.json" {
        return Err(ApiError::not_found());
    }
    let key = cache::key(&["vulnerabilities-page"]);
    let render = async { Ok(Some(vulnerabilities::render_page(&s.advisories))) };
    response::serve(&s, &headers, key, 0, s.doc_options(false), render).await
}

/// `GET {base}/vulnerabilities/upstream/{upstream}/{page}.json`: a mirrored page as the
/// upstream sent it (it holds no URL of the upstream's: only advisory links).
pub async fn upstream_page(
    State(s): State<AppState>,
    Path((upstream, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let source = s
        .upstreams
        .source(&upstream)
        .ok_or_else(ApiError::not_found)?;
    let name = file.strip_suffix(".json").ok_or_else(ApiError::not_found)?;
    let updated = source
        .vulnerabilities()
        .current()
        .and_then(|m| {
            m.pages
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.updated.clone())
        })
        .ok_or_else(ApiError::not_found)?;
    let key = cache::key(&["upstream-vulnerabilities", source.name(), name]);
    let render = async {
        let page = source.vulnerabilities().page(name).await?;
        Ok(page.map(|bytes| bytes.to_vec()))
    };
    let stamp = stamp([(source.name(), name, updated.as_str())]);
    let opts = s.doc_options(false);
    response::serve_bytes(&s, &headers, key, stamp, opts, response::JSON, render).await
}

/// A rendering's stamp from the mirrored pages it shows: a page rewritten upstream is a new
/// `@updated`, so a new stamp.
fn stamp<'a>(pages: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> u64 {
    let mut hasher = DefaultHasher::new();
    for page in pages {
        page.hash(&mut hasher);
    }
    hasher.finish()
}
