//! The operator's own HTTP endpoints: `/livez` (the process runs), `/readyz` (this replica leads
//! and its controllers run; a standby answers 503) and `/metrics` (Prometheus text).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

/// What the endpoints report.
pub struct Health {
    pub ready: AtomicBool,
    pub registry: Registry,
}

impl Health {
    pub fn new(registry: Registry) -> Arc<Health> {
        Arc::new(Health {
            ready: AtomicBool::new(false),
            registry,
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
}

/// The router, separate from serving so tests can call it directly.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    if health.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not leading")
    }
}

async fn metrics(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &health.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(health: &Arc<Health>, path: &str) -> (StatusCode, String) {
        let response = router(health.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// A standby replica is live but not ready, so a rollout waits for the leader.
    #[tokio::test]
    async fn readyz_follows_leadership_and_metrics_are_exposed() {
        let metrics = crate::metrics::Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.failure("Conflict");
        let health = Health::new(registry);
        assert_eq!(get(&health, "/livez").await.0, StatusCode::OK);
        assert_eq!(
            get(&health, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        health.set_ready(true);
        assert_eq!(get(&health, "/readyz").await.0, StatusCode::OK);
        let (status, body) = get(&health, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("nuget_operator_reconcile_failures_total{reason=\"Conflict\"} 1"),
            "{body}"
        );
        assert!(body.contains("nuget_operator_reconcile_duration_seconds"));
    }
}
