//! The feed's absolute base URL for the request at hand.
//!
//! Precedence, first found wins:
//! 1. `public_base_url` when configured: headers are not consulted at all.
//! 2. The first element of the RFC 7239 `Forwarded` header (the proxy nearest the client), for
//!    each of `proto=` and `host=` on its own. Its `host=` is the whole authority the client
//!    used: without a port it means the scheme's default, so `X-Forwarded-Port` does not apply.
//! 3. `X-Forwarded-Proto`, `X-Forwarded-Host`, with `X-Forwarded-Port` replacing the host's port
//!    (nginx's common `proxy_set_header Host $host` drops the port; `$server_port` restores it).
//! 4. The `Host` header (then `http`, `localhost`).
//!
//! The scheme's default port (80, 443) is left out of the URL. `X-Forwarded-Prefix` then the
//! feed's `path_base` follow (the Ingress does not rewrite paths, so it is part of every public
//! URL). Unusable `Forwarded` parts and `X-Forwarded-Port` values are ignored (a proxy's garbage
//! must not fail a request); a bad `Host`, `X-Forwarded-Host`, `-Proto` or `-Prefix` is a 400 that
//! names it, as none of them can be guessed around.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::ApiError;
use super::forwarded::{self, Authority};
use super::state::AppState;
use crate::api::urls::FeedUrls;

/// The URLs of this feed as the client sees them.
pub struct Urls(pub FeedUrls);

impl FromRequestParts<AppState> for Urls {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Urls(FeedUrls::new(&feed_base(state, &parts.headers)?)))
    }
}

/// The feed's base URL for a request with `headers` (see the module docs): also the audience
/// a trusted publisher's token must name when its policy names none.
pub fn feed_base(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    match &state.config.public_base_url {
        Some(url) => Ok(url.clone()),
        None => from_headers(headers, &state.config.path_base),
    }
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

fn from_headers(headers: &HeaderMap, path_base: &str) -> Result<String, ApiError> {
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .and_then(forwarded::first_element)
        .unwrap_or_default();
    let proto = match forwarded.proto {
        Some(proto) => proto,
        None => {
            let proto = first_value(headers, "x-forwarded-proto").unwrap_or("http");
            if !matches!(proto, "http" | "https") {
                return Err(ApiError::BadRequest(format!(
                    "X-Forwarded-Proto `{proto}` is not http or https"
                )));
            }
            proto
        }
    };
    let authority = match forwarded.host {
        Some(authority) => authority,
        None => {
            let host = first_value(headers, "x-forwarded-host")
                .or_else(|| first_value(headers, "host"))
                .unwrap_or("localhost");
            // The host lands in every URL we serve: only what a host[:port] can contain.
            let mut authority = Authority::parse(host).map_err(|_| {
                ApiError::BadRequest(format!("Host `{host}` is not a valid host[:port]"))
            })?;
            if let Some(port) = first_value(headers, "x-forwarded-port").and_then(forwarded::port) {
                authority.port = Some(port);
            }
            authority
        }
    };
    let host = authority.for_scheme(proto);
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
        for bad in [
            "evil.com/\"x",
            "a b",
            "x@y",
            "a:b",
            "a:99999",
            "[::1",
            "[zz::1]",
        ] {
            let mut h = HeaderMap::new();
            h.insert("host", bad.parse().unwrap());
            assert!(from_headers(&h, "").is_err(), "{bad}");
        }
        let h = headers(&[("x-forwarded-prefix", "/a/../b")]);
        assert!(from_headers(&h, "").is_err());
    }

    #[test]
    fn forwarded_port_restores_the_port_a_proxy_dropped() {
        // nginx with `proxy_set_header Host $host` on port 8083.
        let h = headers(&[("host", "nuget.example.com"), ("x-forwarded-port", "8083")]);
        assert_eq!(
            from_headers(&h, "/team-a/main").unwrap(),
            "http://nuget.example.com:8083/team-a/main"
        );
        // It replaces the port the upstream was reached on.
        let h = headers(&[
            ("host", "internal:5000"),
            ("x-forwarded-host", "nuget.example.com"),
            ("x-forwarded-port", "8083, 5000"),
        ]);
        assert_eq!(
            from_headers(&h, "").unwrap(),
            "http://nuget.example.com:8083"
        );
        let h = headers(&[("host", "[::1]:5000"), ("x-forwarded-port", "8083")]);
        assert_eq!(from_headers(&h, "").unwrap(), "http://[::1]:8083");
    }

    #[test]
    fn default_ports_are_left_out() {
        let h = headers(&[
            ("host", "nuget.example.com"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "443"),
        ]);
        assert_eq!(from_headers(&h, "").unwrap(), "https://nuget.example.com");
        let h = headers(&[("host", "nuget.example.com:80")]);
        assert_eq!(from_headers(&h, "").unwrap(), "http://nuget.example.com");
        // 80 is not https's default.
        let h = headers(&[("host", "x:80"), ("x-forwarded-proto", "https")]);
        assert_eq!(from_headers(&h, "").unwrap(), "https://x:80");
    }

    #[test]
    fn garbage_forwarded_ports_are_ignored() {
        for bad in [
            "",
            "0",
            "-1",
            "+80",
            " 8083x",
            "65536",
            "99999999999999999999",
            "80\r\nX: y",
            "８０",
        ] {
            let mut h = headers(&[("host", "nuget.example.com:5000")]);
            if let Ok(value) = bad.parse() {
                h.insert("x-forwarded-port", value);
            }
            assert_eq!(
                from_headers(&h, "").unwrap(),
                "http://nuget.example.com:5000",
                "{bad:?}"
            );
        }
        let mut h = headers(&[("host", "nuget.example.com:5000")]);
        h.insert(
            "x-forwarded-port",
            axum::http::HeaderValue::from_bytes(b"80\xff").unwrap(),
        );
        assert_eq!(
            from_headers(&h, "").unwrap(),
            "http://nuget.example.com:5000"
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded() {
        let h = headers(&[
            ("host", "internal:5000"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "other.example.com"),
            ("x-forwarded-port", "9999"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https;host=\"nuget.example.com:8443\", for=10.0.0.1;host=inner",
            ),
        ]);
        assert_eq!(
            from_headers(&h, "/main").unwrap(),
            "https://nuget.example.com:8443/main"
        );
        // A host without a port means the scheme's default: X-Forwarded-Port does not apply.
        let h = headers(&[
            ("x-forwarded-port", "9999"),
            ("forwarded", "host=nuget.example.com;proto=https"),
        ]);
        assert_eq!(from_headers(&h, "").unwrap(), "https://nuget.example.com");
        // Each part on its own: a proto-only Forwarded keeps the host from X-Forwarded-*.
        let h = headers(&[
            ("x-forwarded-host", "nuget.example.com"),
            ("x-forwarded-port", "8083"),
            ("forwarded", "proto=https"),
        ]);
        assert_eq!(
            from_headers(&h, "").unwrap(),
            "https://nuget.example.com:8083"
        );
        let h = headers(&[("forwarded", "host=\"[2001:db8::1]:8083\"")]);
        assert_eq!(from_headers(&h, "").unwrap(), "http://[2001:db8::1]:8083");
    }

    #[test]
    fn unusable_forwarded_headers_are_ignored() {
        for bad in [
            "host=evil.com/x",
            "host=\"evil.com/\\\"x\"",
            "host=\"a b\"",
            "host=\"x@y\"",
            "host=\"a:99999\"",
            "proto=ftp",
            "host=\"unterminated",
            "host",
            "host=a;host=b",
            "host=a b",
            "=a",
            ";;;",
            "host=\"\"",
        ] {
            let h = headers(&[("host", "nuget.example.com:8083"), ("forwarded", bad)]);
            assert_eq!(
                from_headers(&h, "").unwrap(),
                "http://nuget.example.com:8083",
                "{bad}"
            );
        }
        let huge = format!("host={}", "a".repeat(100_000));
        let mut h = headers(&[("host", "x")]);
        h.insert("forwarded", huge.parse().unwrap());
        // A long name is still a name; nothing fails.
        assert!(from_headers(&h, "").is_ok());
    }
}
