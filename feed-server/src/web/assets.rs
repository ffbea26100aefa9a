//! The pages' two static files (`site.css`, `copy.js`), compiled into the binary: served with a
//! strong ETag and cached for a year, since pages link them with their hash in the query
//! (`?v=`), so a new build's files have new URLs.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::headers::add_security_headers;
use crate::http::{AppState, response};

/// One static file.
pub struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    /// The first 16 hex digits of its SHA-256.
    hash: LazyLock<String>,
}

impl Asset {
    /// Its URL under the path base `base`, with its hash to bust caches.
    pub fn href(&self, base: &str) -> String {
        format!("{base}/static/{}?v={}", self.name, *self.hash)
    }

    fn etag(&self) -> String {
        format!("\"{}\"", *self.hash)
    }
}

fn hash_of(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..8])
}

pub static SITE_CSS: Asset = Asset {
    name: "site.css",
    content_type: "text/css; charset=utf-8",
    body: include_str!("static/site.css"),
    hash: LazyLock::new(|| hash_of(include_str!("static/site.css"))),
};

pub static COPY_JS: Asset = Asset {
    name: "copy.js",
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("static/copy.js"),
    hash: LazyLock::new(|| hash_of(include_str!("static/copy.js"))),
};

/// `GET {base}/static/{file}`
pub async fn get(
    State(s): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = [&SITE_CSS, &COPY_JS].into_iter().find(|a| a.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = asset.etag();
    let cache = if s.read_tokens.is_some() {
        "private, max-age=31536000, immutable"
    } else {
        "public, max-age=31536000, immutable"
    };
    let mut out = HeaderMap::with_capacity(5);
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    add_security_headers(&mut out);
    if response::if_none_match(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    (StatusCode::OK, out, asset.body).into_response()
}
