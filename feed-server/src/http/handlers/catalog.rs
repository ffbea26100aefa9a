//! Catalog (CAT-1..4): a view of the feed's event log. The index and the newest page change
//! with every event; full pages and leaves never do.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::catalog;
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;

/// `GET {base}/catalog/index.json`
pub async fn index(
    State(s): State<AppState>,
    Urls(urls): Urls,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let seq = s.feed.state().seq();
    let key = cache::key(&["catalog", urls.base()]);
    let render = async {
        let state = s.feed.state();
        // Rendered from the state it is stamped with, or a newer one (then re-rendered).
        Ok(Some(catalog::render_index(state.events(), &urls)))
    };
    response::serve(&s, &headers, key, seq, s.doc_options(false), render).await
}

/// `GET {base}/catalog/page{n}.json`
pub async fn page(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let n: usize = name
        .strip_prefix("page")
        .and_then(|r| r.strip_suffix(".json"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(ApiError::not_found)?;
    let stamp = {
        let state = s.feed.state();
        if state.events().is_sealed(n) {
            0
        } else {
            state.seq()
        }
    };
    let key = cache::key(&["catalog-page", urls.base(), &n.to_string()]);
    let render = async {
        let state = s.feed.state();
        Ok(catalog::render_page(state.events(), n, &urls))
    };
    response::serve(&s, &headers, key, stamp, s.doc_options(false), render).await
}

/// `GET {base}/catalog/data/{seq}/{id}.{version}.json`
pub async fn leaf(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path((seq, _name)): Path<(u64, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let key = cache::key(&["catalog-leaf", urls.base(), &seq.to_string()]);
    let render = async {
        let Some(event) = s.feed.state().events().get(seq).cloned() else {
            return Ok(None);
        };
        let version = s.feed.version_at(seq).await?;
        Ok(Some(catalog::render_leaf(
            seq,
            &event,
            version.as_ref(),
            &urls,
        )))
    };
    // A leaf shows its version as its event left it (CAT-3), so it never changes: stamp 0.
    response::serve(&s, &headers, key, 0, s.doc_options(false), render).await
}
