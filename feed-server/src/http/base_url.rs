//! The feed's absolute base URL for the request at hand.
//!
//! From `public_base_url` when configured; otherwise from the request: X-Forwarded-Proto / -Host
//! / -Prefix as a reverse proxy sets them, else the Host header. The feed's `path_base` follows
//! (the Ingress does not rewrite paths, so it is part of every public URL).

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AppState;
use crate::api::urls::FeedUrls;

/// The URLs of this feed as the client sees them.
pub struct Urls(pub FeedUrls);

impl FromRequestParts<AppState> for Urls {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let base = match &state.config.public_base_url {
            Some(url) => url.clone(),
            None => from_headers(&parts.headers, &state.config.path_base)?,
        };
        Ok(Urls(FeedUrls::new(&base)))
    }
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

fn from_headers(headers: &HeaderMap, path_base: &str) -> Result<String, ApiError> {
    let proto = first_value(headers, "x-forwarded-proto").unwrap_or("http");
    if !matches!(proto, "http" | "https") {
        return Err(ApiError::BadRequest(format!(
            "X-Forwarded-Proto `{proto}` is not http or https"
        )));
    }
    let host = first_value(headers, "x-forwarded-host")
        .or_else(|| first_value(headers, "host"))
        .unwrap_or("localhost");
    // The host lands in every URL we serve: allow only what a host[:port] can contain.
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if !host_ok {
        return Err(ApiError::BadRequest(format!(
            "Host `{host}` is not a valid host"
        )));
    }
    let prefix = first_value(headers, "x-forwarded-prefix").unwrap_or("");
    let prefix = prefix.trim_end_matches('/');
    let prefix_ok = prefix.is_empty()
        || (prefix.starts_with('/')
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
            && !prefix.split('/').any(|s| s == ".."));
    if !prefix_ok {
        return Err(ApiError::BadRequest(format!(
            "X-Forwarded-Prefix `{prefix}` is not a valid path"
        )));
    }
    Ok(format!("{proto}://{host}{prefix}{path_base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn base_url_follows_proxy_headers() {
        let h = headers(&[
            ("host", "internal:5000"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "nuget.example.com, proxy2"),
            ("x-forwarded-prefix", "/outer/"),
        ]);
        assert_eq!(
            from_headers(&h, "/team-a/main").unwrap(),
            "https://nuget.example.com/outer/team-a/main"
        );
        let plain = headers(&[("host", "localhost:5000")]);
        assert_eq!(from_headers(&plain, "").unwrap(), "http://localhost:5000");
    }

    #[test]
    fn hostile_host_headers_are_refused() {
        for bad in ["evil.com/\"x", "a b", "x@y"] {
            let mut h = HeaderMap::new();
            h.insert("host", bad.parse().unwrap());
            assert!(from_headers(&h, "").is_err(), "{bad}");
        }
        let h = headers(&[("x-forwarded-prefix", "/a/../b")]);
        assert!(from_headers(&h, "").is_err());
    }
}
