//! `GET {base}/index.json` (SI-1..5).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::service_index;
use crate::http::base_url::Urls;
use crate::http::response;
use crate::http::state::AppState;

pub async fn get(State(s): State<AppState>, Urls(urls): Urls, headers: HeaderMap) -> Response {
    // The feed always serves a vulnerability page (empty without advisories), so VulnerabilityInfo
    // is always advertised (VUL-1).
    let doc = service_index::render(&urls, true);
    response::json(&headers, &doc, s.doc_options(false))
}
