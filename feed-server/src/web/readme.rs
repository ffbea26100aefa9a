//! A package's embedded README as safe HTML: Markdown rendered by pulldown-cmark, then cleaned
//! by ammonia, since a README is whatever the package's author wrote, raw HTML included.
//!
//! What survives: ammonia's allow-list of tags and attributes (no `script`, no `style`, no
//! event handlers, no `id` or `class`, so a README cannot restyle the page or take over the
//! page's element ids); links to http, https and mailto only, with `rel="noopener noreferrer
//! nofollow"`; images only from https or from this feed. Relative URLs are dropped: a package's
//! other files are not served, so a relative image or link could only be broken (or point at
//! some other page of the feed).

use std::collections::HashSet;

use pulldown_cmark::{Options, Parser};

/// The most of a README rendered: documents past it are cut there (a README is a page, not a
/// book; past this size rendering and the page would be slow for nothing).
pub const MAX_README_BYTES: usize = 256 * 1024;

/// The README's HTML, safe to put in a page as it is. `feed_base` is the feed's absolute
/// base URL: images under it are the feed's own. The second value says whether the document
/// was cut at [`MAX_README_BYTES`].
pub fn render(markdown: &str, feed_base: &str) -> (String, bool) {
    let cut = markdown.len() > MAX_README_BYTES;
    let text = if cut {
        truncate(markdown, MAX_README_BYTES)
    } else {
        markdown
    };
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(text, options));
    (sanitize(&html, feed_base), cut)
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn sanitize(html: &str, feed_base: &str) -> String {
    let feed_prefix = format!("{}/", feed_base.trim_end_matches('/'));
    ammonia::Builder::default()
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            let image = element == "img" && attribute == "src";
            if image && !(value.starts_with("https://") || value.starts_with(&feed_prefix)) {
                return None;
            }
            Some(value.into())
        })
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://feed.test/team";

    #[test]
    fn markdown_is_rendered() {
        let (html, cut) = render("# Title\n\n*em* and `code`\n\n| a |\n|---|\n| b |", BASE);
        assert!(!cut);
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>em</em>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn hostile_html_is_removed() {
        let (html, _) = render(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) \
             <a href=\"JaVaScRiPt:alert(1)\">y</a> <div id=main style=\"color:red\">z</div>",
            BASE,
        );
        let lower = html.to_ascii_lowercase();
        for bad in ["<script", "onerror", "javascript:", "id=\"main\"", "style="] {
            assert!(!lower.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn images_only_from_https_or_the_feed() {
        let (html, _) = render(
            "![a](https://img.test/a.png) ![b](http://img.test/b.png) ![c](logo.png) \
             ![d](http://feed.test/team/flatcontainer/x/1.0.0/icon) ![e](data:image/png;base64,AAAA)",
            BASE,
        );
        assert!(html.contains("src=\"https://img.test/a.png\""), "{html}");
        assert!(html.contains("src=\"http://feed.test/team/flatcontainer/x/1.0.0/icon\""));
        for gone in ["http://img.test/b.png", "logo.png", "data:"] {
            assert!(!html.contains(gone), "{gone} in {html}");
        }
    }

    #[test]
    fn huge_documents_are_cut() {
        let huge = "é".repeat(MAX_README_BYTES);
        let (html, cut) = render(&huge, BASE);
        assert!(cut);
        assert!(html.len() < MAX_README_BYTES + 100, "{}", html.len());
    }
}
