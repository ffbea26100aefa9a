//! One HTTP client per upstream source: rustls, its timeouts, its credentials on every request,
//! at most `max_concurrency` requests in flight, gzip bodies decoded, and its health (one WARN
//! line when it becomes unreachable, one INFO line when it recovers).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use bytes::Bytes;
use flate2::read::GzDecoder;
use nuget_feed_config::CredentialScheme;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::Unreachable;
use super::metrics::SourceMetrics;
use crate::config::upstreams::Upstream;

/// Largest metadata document accepted from an upstream (nuget.org's biggest registration
/// pages are a few MB); anything larger is treated as a failure of the upstream.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// Requests to one upstream.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    timeout: std::time::Duration,
    slots: Arc<Semaphore>,
    health: Arc<Health>,
}

/// Whether an upstream answers, and its metrics: shared with the downloads still running.
#[derive(Debug)]
struct Health {
    name: String,
    /// Whether the last request reached it (a 404 counts): flips log once each way.
    reachable: AtomicBool,
    metrics: SourceMetrics,
}

impl Health {
    fn unreachable(&self, reason: String) -> Unreachable {
        Unreachable {
            upstream: self.name.clone(),
            reason,
        }
    }

    fn answered(&self) {
        if !self.reachable.swap(true, Ordering::Relaxed) {
            tracing::info!(upstream = %self.name, "upstream `{}` is reachable again", self.name);
        }
    }

    fn failed(&self, e: &Unreachable) {
        self.metrics.errors.inc();
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::warn!(upstream = %self.name, error = %e.reason, "upstream `{}` is unreachable: cached data is served", self.name);
        }
    }

    /// Counts `result`'s outcome and logs a change of reachability.
    fn record<T>(&self, result: Result<T, Unreachable>) -> Result<T, Unreachable> {
        match &result {
            Ok(_) => self.answered(),
            Err(e) => self.failed(e),
        }
        result
    }
}

/// A package file's body as it arrives from an upstream, its bytes as they are (stored
/// byte-identical). Holds one of the upstream's request slots until dropped.
#[derive(Debug)]
pub struct Download {
    /// Its length, when the upstream said (Content-Length).
    pub size: Option<u64>,
    url: String,
    response: reqwest::Response,
    health: Arc<Health>,
    _slot: OwnedSemaphorePermit,
}

impl Download {
    /// The next chunk of the body (`None`: the body is complete), or why the upstream failed
    /// mid-body (a reset, a read timeout, a body shorter than its Content-Length).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Unreachable> {
        let result = self.response.chunk().await.map_err(|e| {
            self.health.unreachable(format!(
                "its body of {} broke off: {}",
                self.url,
                describe(&e)
            ))
        });
        if let Ok(Some(chunk)) = &result {
            self.health.metrics.bytes.inc_by(chunk.len() as u64);
        }
        self.health.record(result)
    }
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
            http,
            timeout: upstream.timeout,
            slots: Arc::new(Semaphore::new(upstream.max_concurrency as usize)),
            health: Arc::new(Health {
                name: upstream.name().to_owned(),
                reachable: AtomicBool::new(true),
                metrics,
            }),
        })
    }

    /// GETs the document at `url` (asked gzip-encoded): its body, `None` for 404 or 410 (the
    /// upstream does not have it), or why the upstream could not answer (timeouts, resets,
    /// refused connections, other statuses).
    pub async fn get(&self, url: &str) -> Result<Option<Bytes>, Unreachable> {
        let started = std::time::Instant::now();
        let result = self.fetch(url).await;
        self.health
            .metrics
            .latency
            .observe(started.elapsed().as_secs_f64());
        if let Ok(received) = &result {
            let size = received.as_ref().map_or(0, Bytes::len);
            self.health.metrics.bytes.inc_by(size as u64);
        }
        self.health.record(result)
    }

    /// GETs the package file at `url`: its body as it arrives (see [`Download`]), `None` for
    /// 404 or 410, or why the upstream could not answer. The latency measured is the time to
    /// the response's head.
    pub async fn download(&self, url: &str) -> Result<Option<Download>, Unreachable> {
        let started = std::time::Instant::now();
        let request = self
            .http
            .get(url)
            .header(header::ACCEPT_ENCODING, "identity");
        let result = self.send(url, request).await;
        self.health
            .metrics
            .latency
            .observe(started.elapsed().as_secs_f64());
        let result = self.health.record(result)?;
        Ok(result.map(|(response, slot)| Download {
            size: response.content_length(),
            url: url.to_owned(),
            response,
            health: self.health.clone(),
            _slot: slot,
        }))
    }

    /// Sends `request` once a request slot is free: the response (with its slot) if it is a
    /// success, `None` for 404 or 410.
    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<(reqwest::Response, OwnedSemaphorePermit)>, Unreachable> {
        self.health.metrics.requests.inc();
        // Closed only when the server shuts down, and then nothing waits here.
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| self.health.unreachable("shutting down".into()))?;
        let response = request
            .send()
            .await
            .map_err(|e| self.health.unreachable(describe(&e)))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self
                .health
                .unreachable(format!("it answered {status} for {url}")));
        }
        Ok(Some((response, slot)))
    }

    async fn fetch(&self, url: &str) -> Result<Option<Bytes>, Unreachable> {
        let unreachable = |reason: String| self.health.unreachable(reason);
        // A whole document must arrive within the timeout (a package file only has to keep
        // coming: the client's read timeout).
        let request = self
            .http
            .get(url)
            .timeout(self.timeout)
            .header(header::ACCEPT_ENCODING, "gzip");
        let Some((response, _slot)) = self.send(url, request).await? else {
            return Ok(None);
        };
        let gzipped = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(describe(&e)))?;
        if !gzipped {
            if bytes.len() > MAX_DOCUMENT_BYTES {
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
