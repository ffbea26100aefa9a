//! The security headers every page and static file carries: a strict Content-Security-Policy
//! (no inline script or style anywhere), no MIME sniffing, no referrer.

use axum::http::{HeaderMap, HeaderValue, header};

/// Only the feed's own script and style; images from the feed, https or data (package icons
/// and README badges); nothing may frame a page or post a form elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the headers every page and static file carries.
pub fn add_security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A private feed's URLs name its packages: links out (project sites, README links) must
    // not carry them.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
