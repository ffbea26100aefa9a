//! How a page goes out: HTML from the document cache (ETag, 304) with the security headers
//! every page carries ([`super::headers`]), or an error page.

use std::future::Future;
use std::hash::{Hash, Hasher};

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::headers::add_security_headers;
use super::layout::Layout;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;

/// The content type of every page.
const HTML: &str = "text/html; charset=utf-8";

/// The stamp of a page showing the feed as of event `seq` and its download counts: the page is
/// served from the cache while neither changed.
pub fn stamp(s: &AppState, seq: u64) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (seq, s.feed.downloads().epoch()).hash(&mut h);
    h.finish()
}

/// Renders a template to the bytes of a page.
pub fn render(template: &impl Template) -> ApiResult<Vec<u8>> {
    template
        .render()
        .map(String::into_bytes)
        .map_err(|e| ApiError::Internal(format!("cannot render a page: {e}")))
}

/// Serves the page `key` as of `stamp` from the cache, or renders and caches it; an error
/// page in `layout` when it cannot be rendered.
pub async fn serve(
    s: &AppState,
    request: &HeaderMap,
    layout: &Layout,
    key: String,
    stamp: u64,
    render: impl Future<Output = ApiResult<Vec<u8>>>,
) -> Response {
    let render = async { render.await.map(Some) };
    let opts = s.doc_options(false);
    match response::serve_bytes(s, request, key, stamp, opts, HTML, render).await {
        Ok(mut page) => {
            add_security_headers(page.headers_mut());
            page
        }
        Err(e) => {
            tracing::error!(error = ?e, "cannot render a page");
            error(
                layout.clone(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page could not be made just now; the feed server's log says why.",
            )
        }
    }
}

/// The data of `templates/error.html`.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    message: &'a str,
}

/// An error page (not cached): `status` with `message` saying what is wrong.
pub fn error(layout: Layout, status: StatusCode, message: &str) -> Response {
    let mut headers = HeaderMap::with_capacity(5);
    add_security_headers(&mut headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    let page = ErrorPage { layout, message };
    match page.render() {
        Ok(body) => (status, headers, body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render an error page");
            (status, headers, message.to_owned()).into_response()
        }
    }
}
