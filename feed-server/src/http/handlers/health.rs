//! `/healthz`, `/readyz` and `/metrics`, at the server root (outside the feed's path base) for
//! kubelet probes and Prometheus.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::http::state::AppState;

/// Liveness: the process serves requests.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the object store answers (a missing object is an answer).
pub async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    match s.feed.check_storage().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: storage does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
    }
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
}
