//! Catalog (CAT-1..4): a view of the feed's event log. The index and the newest page change
//! with every event; full pages and leaves of pushes never do.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::catalog;
use crate::feed::event::{Change, Event};
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;
use crate::storage::Key;

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
    cache::serve(&s, &headers, key, seq, s.doc_options(false), render).await
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
    cache::serve(&s, &headers, key, stamp, s.doc_options(false), render).await
}

/// `GET {base}/catalog/data/{seq}/{id}.{version}.json`
pub async fn leaf(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path((seq, _name)): Path<(u64, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // A push's leaf is the push; any other event's shows its version as it is now, so it
    // changes with the version's latest event.
    let stamp = {
        let state = s.feed.state();
        let summary = state.events().get(seq).ok_or_else(ApiError::not_found)?;
        state
            .version(&summary.id, &summary.version)
            .map_or(0, |v| v.last_seq)
    };
    let key = cache::key(&["catalog-leaf", urls.base(), &seq.to_string()]);
    let render = async {
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
        Ok(Some(catalog::render_leaf(&event, after, &urls)))
    };
    cache::serve(&s, &headers, key, stamp, s.doc_options(false), render).await
}
