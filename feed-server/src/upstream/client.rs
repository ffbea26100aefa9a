//! One HTTP client per upstream source: rustls, its timeouts, its credentials on every request,
//! at most `max_concurrency` requests in flight, gzip bodies decoded, and its health (one WARN
//! line when it becomes unreachable, one INFO line when it recovers).

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use bytes::Bytes;
use flate2::read::GzDecoder;
use nuget_feed_config::CredentialScheme;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;

use super::error::Unreachable;
use super::metrics::SourceMetrics;
use crate::config::upstreams::Upstream;

/// Largest metadata document accepted from an upstream (nuget.org's biggest registration
/// pages are a few MB); anything larger is treated as a failure of the upstream.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// Requests to one upstream.
#[derive(Debug)]
pub struct Client {
    name: String,
    http: reqwest::Client,
    timeout: std::time::Duration,
    slots: Semaphore,
    /// Whether the last request reached it (a 404 counts): flips log once each way.
    reachable: AtomicBool,
    metrics: SourceMetrics,
}

/// What a request is for: documents are asked gzip-encoded, package files as they are (their
/// bytes are stored byte-identical).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Document,
    File,
}

impl Client {
    pub fn new(upstream: &Upstream, metrics: SourceMetrics) -> Result<Client, String> {
        let mut headers = HeaderMap::new();
        if let Some(c) = &upstream.credentials {
            let secret = c.secret.expose();
            let (name, value) = match c.scheme {
                CredentialScheme::Basic => {
                    let user = c.username.as_deref().unwrap_or_default();
                    let encoded = base64::engine::general_purpose::STANDARD
                        .encode(format!("{user}:{secret}"));
                    (header::AUTHORIZATION, format!("Basic {encoded}"))
                }
                CredentialScheme::Bearer => (header::AUTHORIZATION, format!("Bearer {secret}")),
                CredentialScheme::ApiKey => (
                    header::HeaderName::from_static("x-nuget-apikey"),
                    secret.to_owned(),
                ),
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                format!(
                    "upstream `{}`: the credentials' secret has characters a header cannot carry",
                    upstream.name()
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("nuget-feed-server/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(upstream.timeout)
            .read_timeout(upstream.timeout)
            .build()
            .map_err(|e| {
                format!(
                    "upstream `{}`: cannot build its client: {e}",
                    upstream.name()
                )
            })?;
        Ok(Client {
            name: upstream.name().to_owned(),
            http,
            timeout: upstream.timeout,
            slots: Semaphore::new(upstream.max_concurrency as usize),
            reachable: AtomicBool::new(true),
            metrics,
        })
    }

    /// GETs `url`: its body, `None` for 404 or 410 (the upstream does not have it), or why the
    /// upstream could not answer (timeouts, resets, refused connections, other statuses).
    pub async fn get(&self, url: &str, body: Body) -> Result<Option<Bytes>, Unreachable> {
        let started = std::time::Instant::now();
        self.metrics.requests.inc();
        let result = self.fetch(url, body).await;
        self.metrics
            .latency
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(received) => {
                let size = received.as_ref().map_or(0, Bytes::len);
                self.metrics.bytes.inc_by(size as u64);
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!(upstream = %self.name, "upstream `{}` is reachable again", self.name);
                }
            }
            Err(e) => {
                self.metrics.errors.inc();
                if self.reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!(upstream = %self.name, error = %e.reason, "upstream `{}` is unreachable: cached data is served", self.name);
                }
            }
        }
        result
    }

    async fn fetch(&self, url: &str, body: Body) -> Result<Option<Bytes>, Unreachable> {
        let unreachable = |reason: String| Unreachable {
            upstream: self.name.clone(),
            reason,
        };
        // Closed only when the server shuts down, and then nothing waits here.
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| unreachable("shutting down".into()))?;
        let mut request = self.http.get(url);
        request = match body {
            // A whole document must arrive within the timeout; a package file only has to
            // keep coming (the client's read timeout).
            Body::Document => request
                .timeout(self.timeout)
                .header(header::ACCEPT_ENCODING, "gzip"),
            Body::File => request.header(header::ACCEPT_ENCODING, "identity"),
        };
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(describe(&e)))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(unreachable(format!("it answered {status} for {url}")));
        }
        let gzipped = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(describe(&e)))?;
        if !gzipped {
            if body == Body::Document && bytes.len() > MAX_DOCUMENT_BYTES {
                return Err(unreachable(format!("its document {url} is too large")));
            }
            return Ok(Some(bytes));
        }
        let mut out = Vec::with_capacity(bytes.len() * 4);
        GzDecoder::new(&bytes[..])
            .take(MAX_DOCUMENT_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| unreachable(format!("its gzip body for {url} is corrupt: {e}")))?;
        if out.len() > MAX_DOCUMENT_BYTES {
            return Err(unreachable(format!("its document {url} is too large")));
        }
        Ok(Some(Bytes::from(out)))
    }
}

/// A request error in a few words (reqwest's Display nests its causes only in `source`).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
