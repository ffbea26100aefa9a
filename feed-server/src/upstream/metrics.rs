//! Metrics per upstream: requests, errors, latency and bytes received, and the caches' hits,
//! misses and stale answers. The families are registered with the server's registry
//! (`http::metrics`); each source holds its own members, resolved once.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    upstream: String,
    /// `hit` (fresh from memory or the bucket), `miss` (asked the upstream), `stale` (served
    /// past its TTL because the upstream failed).
    result: &'static str,
}

type LatencyFamily = Family<UpstreamLabels, Histogram, fn() -> Histogram>;

/// The upstream metric families.
#[derive(Clone, Debug)]
pub struct UpstreamMetrics {
    requests: Family<UpstreamLabels, Counter>,
    errors: Family<UpstreamLabels, Counter>,
    bytes: Family<UpstreamLabels, Counter>,
    latency: LatencyFamily,
    cache: Family<CacheLabels, Counter>,
}

impl Default for UpstreamMetrics {
    fn default() -> Self {
        UpstreamMetrics {
            requests: Family::default(),
            errors: Family::default(),
            bytes: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 14))
            }),
            cache: Family::default(),
        }
    }
}

impl UpstreamMetrics {
    /// Adds the families to `registry` (names under its prefix, `upstream_*`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "upstream_requests",
            "Requests sent to upstream sources",
            self.requests.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream requests that failed (timeout, reset, refused, 5xx, other statuses)",
            self.errors.clone(),
        );
        registry.register(
            "upstream_received_bytes",
            "Bytes of documents and package files received from upstream sources",
            self.bytes.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Time of upstream requests, to the whole body",
            self.latency.clone(),
        );
        registry.register(
            "upstream_cache",
            "Upstream cache lookups by result: hit, miss (the upstream was asked) or stale",
            self.cache.clone(),
        );
    }

    /// The members of one upstream.
    pub fn source(&self, name: &str) -> SourceMetrics {
        let labels = UpstreamLabels {
            upstream: name.to_owned(),
        };
        let cache = |result| {
            self.cache
                .get_or_create(&CacheLabels {
                    upstream: name.to_owned(),
                    result,
                })
                .clone()
        };
        SourceMetrics {
            requests: self.requests.get_or_create(&labels).clone(),
            errors: self.errors.get_or_create(&labels).clone(),
            bytes: self.bytes.get_or_create(&labels).clone(),
            latency: self.latency.get_or_create(&labels).clone(),
            hits: cache("hit"),
            misses: cache("miss"),
            stale: cache("stale"),
        }
    }
}

/// One upstream's counters.
#[derive(Clone, Debug)]
pub struct SourceMetrics {
    pub requests: Counter,
    pub errors: Counter,
    pub bytes: Counter,
    pub latency: Histogram,
    pub hits: Counter,
    pub misses: Counter,
    pub stale: Counter,
}

impl Default for SourceMetrics {
    /// Counters registered nowhere (unit tests).
    fn default() -> Self {
        UpstreamMetrics::default().source("test")
    }
}
