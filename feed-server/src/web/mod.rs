//! The feed's web pages (issue 15): the feed with its search, a page per package version, how
//! to use the feed, and their two static files, all under the feed's path base and behind its
//! read protection.
//!
//! Each page is a handler that builds the page's view data from the feed (search, records,
//! push events) and an askama template that renders it (`feed-server/templates/`), escaped by
//! default. Rendered pages are cached like the protocol's documents ([`page::serve`]). Pages
//! show this feed's own packages only: ids served from upstream sources are not looked up, so a
//! page view never waits on another feed.

mod assets;
mod feed_page;
mod headers;
mod layout;
mod package_page;
mod page;
mod readme;
mod setup_page;
mod snippets;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use crate::http::AppState;
use crate::http::base_url::Urls;

/// The feed page (`{base}/`). At the root it is one of [`routes`]; under a path base it is
/// routed apart, since a router nested at `{base}` sees `{base}/` as no path of its own.
pub fn feed_page() -> MethodRouter<AppState> {
    get(feed_page::get)
}

/// `GET {base}` (a path base without its slash): a permanent redirect to the feed page, so
/// that the page's relative references and the browser's address agree.
pub async fn to_feed_page(Urls(urls): Urls) -> Response {
    match HeaderValue::from_str(&format!("{}/", urls.path())) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The pages' routes but the feed page's ([`feed_page`]), relative to the feed's path base.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/packages/{id}", get(package_page::latest))
        .route("/packages/{id}/", get(package_page::latest))
        .route("/packages/{id}/{version}", get(package_page::version))
        .route("/setup", get(setup_page::get))
        .route("/static/{file}", get(assets::get))
}
