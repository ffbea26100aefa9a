//! VulnerabilityInfo (VUL-1, VUL-2): one page, `base`, from the configured advisories.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::api::vulnerabilities;
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
    // The advisories are loaded once: both documents never change.
    let key = cache::key(&["vulnerabilities", urls.base()]);
    let render = async {
        Ok(Some(vulnerabilities::render_index(
            &urls,
            s.advisories_loaded,
        )))
    };
    response::serve(&s, &headers, key, 0, s.doc_options(false), render).await
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
