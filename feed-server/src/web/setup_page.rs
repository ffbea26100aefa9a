//! `GET {base}/setup`: how to use this feed (its source URL, nuget.config with and without
//! credentials, pushing, and where keys come from).

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::layout::Layout;
use super::page;
use super::snippets::{self, Snippet};
use crate::http::AppState;
use crate::http::base_url::Urls;
use crate::http::cache;

/// The data of `templates/setup.html`.
#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    /// The service index URL.
    source: String,
    /// Whether reads need a read token.
    read_protected: bool,
    snippets: Vec<Snippet>,
}

pub async fn get(State(s): State<AppState>, Urls(urls): Urls, headers: HeaderMap) -> Response {
    let layout = Layout::new(&urls, "How to use this feed");
    let source = urls.service_index();
    let view = SetupPage {
        snippets: snippets::setup(&source, &snippets::source_name(urls.path())),
        source,
        read_protected: s.read_tokens.is_some(),
        layout: layout.clone(),
    };
    // It depends on the base URL only.
    let key = cache::key(&["web-setup", urls.base()]);
    page::serve(&s, &headers, &layout, key, 0, async { page::render(&view) }).await
}
