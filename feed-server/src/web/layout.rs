//! What every page's frame shows: the links it needs (the feed's path base, the static files)
//! and the page's title.

use super::assets;
use crate::api::urls::FeedUrls;

/// The data of `templates/base.html`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The path base of every link (`/team-a/main`; empty at the root).
    pub base: String,
    /// The page's `<title>`.
    pub title: String,
    pub css: String,
    pub js: String,
}

impl Layout {
    pub fn new(urls: &FeedUrls, title: impl Into<String>) -> Layout {
        let base = urls.path().to_owned();
        Layout {
            css: assets::SITE_CSS.href(&base),
            js: assets::COPY_JS.href(&base),
            base,
            title: title.into(),
        }
    }

    /// The page of a package's version (the latest when `version` is `None`).
    pub fn package_href(&self, id: &str, version: Option<&str>) -> String {
        match version {
            Some(v) => format!("{}/packages/{id}/{v}", self.base),
            None => format!("{}/packages/{id}", self.base),
        }
    }
}
