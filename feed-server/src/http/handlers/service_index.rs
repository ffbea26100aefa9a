//! `GET {base}/index.json` (SI-1..5).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::service_index;
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::ApiResult;
use crate::http::response;
use crate::http::state::AppState;

pub async fn get(
    State(s): State<AppState>,
    Urls(urls): Urls,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // It depends only on the base URL: rendered once per base URL.
    let key = cache::key(&["index", urls.base()]);
    // The feed always serves a vulnerability page (empty without advisories), so VulnerabilityInfo
    // is always advertised (VUL-1).
    let token_service = !s.trust.is_empty();
    let render = async { Ok(Some(service_index::render(&urls, true, token_service))) };
    let options = s.doc_options(false).reusable();
    response::serve(&s, &headers, key, 0, options, render).await
}
