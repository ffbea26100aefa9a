//! What a request no route takes gets: a path the feed does not serve (404), or a method its
//! path does not take (405, with axum's `Allow` header). A write refused this way (any method
//! but GET and HEAD: a push to a wrong URL, a POST to a document) gets a message naming the
//! method and path and is logged by the audit trail like every refused write; GET and HEAD get
//! the bare status as before, and never reach the audit trail. Matched routes never come here,
//! so the read path costs nothing more.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::audit::Audit;
use super::error::ApiError;

/// Why no route took a request.
#[derive(Debug, Clone, Copy)]
pub enum Unrouted {
    /// No route has its path.
    NotFound,
    /// Its path has routes, none for its method.
    MethodNotAllowed,
}

impl Unrouted {
    /// The refusal of `request`, logged by `audit` when it is a write.
    pub fn refuse(self, audit: &Audit, request: &Request) -> Response {
        let method = request.method();
        if matches!(*method, Method::GET | Method::HEAD) {
            return match self {
                Unrouted::NotFound => StatusCode::NOT_FOUND,
                Unrouted::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            }
            .into_response();
        }
        let path = request.uri().path();
        let response = match self {
            Unrouted::NotFound => ApiError::NotFound(format!(
                "{method} {path}: no such endpoint on this feed; packages are pushed with PUT to \
                 the PackagePublish URL of its service index (index.json)"
            )),
            Unrouted::MethodNotAllowed => ApiError::MethodNotAllowed(format!(
                "{method} is not allowed on {path}: the Allow header lists the methods it takes"
            )),
        }
        .into_response();
        audit.refused_unrouted(request.headers(), &response);
        response
    }
}
