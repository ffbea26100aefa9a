//! Prometheus metrics: requests by route and status, latency, pushes, storage errors, and
//! the upstream sources' ([`UpstreamMetrics`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::upstream::metrics::UpstreamMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// Put on a response whose route label someone needs after the router (the fast path, to
/// count the repeats of an answer as this request was counted): [`track`] fills it in.
#[derive(Clone, Debug, Default)]
pub struct RouteLabel(pub Option<MatchedPath>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

/// The server's metrics and the registry that exposes them. Cheap to clone (one reference
/// count), which the middleware does for every request.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

pub struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pub pushes: Family<ResultLabels, Counter>,
    pub storage_errors: Counter,
    /// Requests, errors, bytes and cache results per upstream source.
    pub upstream: UpstreamMetrics,
    /// The families' members by route, method and status, looked up without allocating:
    /// counting a request takes a shared lock and two atomic adds (the families' own lookup
    /// would allocate three strings per request).
    handles: RwLock<HashMap<u64, Vec<(RouteKey, RouteHandles)>>>,
}

#[derive(Clone, PartialEq, Eq)]
struct RouteKey {
    route: Box<str>,
    method: Box<str>,
    status: u16,
}

impl RouteKey {
    fn is(&self, route: &str, method: &str, status: u16) -> bool {
        self.status == status && *self.route == *route && *self.method == *method
    }
}

/// FNV-1a of a request's labels: cheap, and collisions only cost a comparison.
fn label_hash(route: &str, method: &str, status: u16) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = route
        .bytes()
        .chain([0])
        .chain(method.bytes())
        .chain(status.to_le_bytes());
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The members of the request families for one route, method and status.
#[derive(Clone)]
pub struct RouteHandles {
    requests: Counter,
    latency: Histogram,
}

impl RouteHandles {
    /// Counts one request that took `seconds` to its response head.
    pub fn observe(&self, seconds: f64) {
        self.latency.observe(seconds);
        self.requests.inc();
    }
}

impl std::ops::Deref for Metrics {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nuget_feed");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route",
            latency.clone(),
        );
        let pushes = Family::<ResultLabels, Counter>::default();
        registry.register("pushes", "Package pushes by result", pushes.clone());
        let storage_errors = Counter::default();
        registry.register(
            "storage_errors",
            "Requests that failed because the object store did",
            storage_errors.clone(),
        );
        let upstream = UpstreamMetrics::default();
        upstream.register(&mut registry);
        Metrics(Arc::new(Inner {
            registry,
            upstream,
            requests,
            latency,
            pushes,
            storage_errors,
            handles: RwLock::default(),
        }))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn push_result(&self, result: &'static str) {
        self.pushes.get_or_create(&ResultLabels { result }).inc();
    }

    /// Counts one request and its latency.
    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.with_route(route, method, status, |h| h.observe(seconds));
    }

    /// The counter and histogram of requests on `route` by `method` answered `status`,
    /// resolved once for a caller that counts many such requests (the fast path).
    pub fn route(&self, route: &str, method: &str, status: u16) -> RouteHandles {
        self.with_route(route, method, status, RouteHandles::clone)
    }

    /// Calls `f` with the families' members for these labels, created on first use.
    fn with_route<R>(
        &self,
        route: &str,
        method: &str,
        status: u16,
        f: impl FnOnce(&RouteHandles) -> R,
    ) -> R {
        let hash = label_hash(route, method, status);
        {
            let map = self
                .handles
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let known = map
                .get(&hash)
                .and_then(|bucket| bucket.iter().find(|(k, _)| k.is(route, method, status)));
            if let Some((_, h)) = known {
                return f(h);
            }
        }
        // First request with these labels: create the families' members, remember them.
        let handles = RouteHandles {
            requests: self
                .requests
                .get_or_create(&RequestLabels {
                    route: route.to_owned(),
                    method: method.to_owned(),
                    status,
                })
                .clone(),
            latency: self
                .latency
                .get_or_create(&RouteLabels {
                    route: route.to_owned(),
                })
                .clone(),
        };
        {
            let mut map = self
                .handles
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let bucket = map.entry(hash).or_default();
            if !bucket.iter().any(|(k, _)| k.is(route, method, status)) {
                let key = RouteKey {
                    route: route.into(),
                    method: method.into(),
                    status,
                };
                bucket.push((key, handles.clone()));
            }
        }
        f(&handles)
    }
}

/// Middleware counting every request by its route pattern (never the raw path: ids are unbounded).
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    // The matched path is a shared string: cloning it does not allocate.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let start = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    if status == 503 {
        metrics.storage_errors.inc();
    }
    if let Some(label) = response.extensions_mut().get_mut::<RouteLabel>() {
        label.0.clone_from(&route);
    }
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.observe(
        route,
        method.as_str(),
        status,
        start.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_route_method_and_status() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.observe("/index.json", "GET", 200, 0.001);
        }
        m.observe("/index.json", "GET", 304, 0.001);
        m.observe("/query", "GET", 200, 0.001);
        let text = m.render();
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with("nuget_feed_http_requests_total") && l.contains(needle))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            line(r#"route="/index.json",method="GET",status="200""#).ends_with(" 3"),
            "{text}"
        );
        assert!(line(r#"status="304""#).ends_with(" 1"), "{text}");
        assert!(line(r#"route="/query""#).ends_with(" 1"), "{text}");
        assert!(
            text.contains(
                "nuget_feed_http_request_duration_seconds_count{route=\"/index.json\"} 4"
            ),
            "{text}"
        );
    }
}
