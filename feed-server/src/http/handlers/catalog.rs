//! Catalog (CAT-1..4): a view of the feed's event log.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::catalog;
use crate::feed::event::{Change, Event};
use crate::http::base_url::Urls;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;
use crate::storage::Key;

/// `GET {base}/catalog/index.json`
pub async fn index(State(s): State<AppState>, Urls(urls): Urls, headers: HeaderMap) -> Response {
    let doc = catalog::render_index(s.feed.state().events(), &urls);
    response::json(&headers, &doc, s.doc_options(false))
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
    let doc =
        catalog::render_page(s.feed.state().events(), n, &urls).ok_or_else(ApiError::not_found)?;
    Ok(response::json(&headers, &doc, s.doc_options(false)))
}

/// `GET {base}/catalog/data/{seq}/{id}.{version}.json`
pub async fn leaf(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path((seq, _name)): Path<(u64, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if seq == 0 || seq > s.feed.state().seq() {
        return Err(ApiError::not_found());
    }
    let bytes = s.feed.storage().get(Key::Event(seq)).await?;
    let event: Event = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Internal(format!("event {seq} is unreadable: {e}")))?;
    let record = s.feed.state().version(&event.id, &event.version).cloned();
    // Leaves of events other than pushes describe the version from its push event.
    let after = match (&event.change, record) {
        (Change::Push(_), _) | (_, None) => None,
        (_, Some(record)) => {
            let pushed = s.feed.pushed(record.push_seq).await?;
            Some((record, pushed))
        }
    };
    let after = after.as_ref().map(|(r, p)| (r, p.as_ref()));
    let doc = catalog::render_leaf(&event, after, &urls);
    Ok(response::json(&headers, &doc, s.doc_options(false)))
}
