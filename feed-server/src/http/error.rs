//! The one place where errors become HTTP responses.
//!
//! Bodies are `{"statusCode": N, "message": "..."}` (nuget.org's shape, G-8), and the message is
//! also the reason phrase, which is what NuGet clients print for a failed push. Bad input is
//! never a 5xx: clients retry 5xx and upload the whole package again (PUB-8).

use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::feed;
use crate::package;
use crate::storage;
use crate::trust;
use crate::upstream;

/// Seconds a client should wait before retrying after a storage outage.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug)]
pub enum ApiError {
    /// 400: malformed input; the message says what is wrong.
    BadRequest(String),
    /// 401: credentials are needed. `basic` asks for HTTP Basic (read tokens).
    Unauthorized {
        basic: bool,
        message: String,
    },
    /// 401 with `WWW-Authenticate: Bearer`: an OIDC token (or the temporary key it was
    /// exchanged for) is not valid here; the message says why, never quoting the token.
    InvalidToken(String),
    /// 403: the API key is wrong or may not do this (PUB-6: no credential prompt follows).
    Forbidden(String),
    NotFound(String),
    /// 405: the path exists but does not take this method (axum adds the `Allow` header).
    MethodNotAllowed(String),
    /// 409: the version exists (PUB-4; `--skip-duplicate` / `-SkipDuplicate` tolerate only this).
    Conflict(String),
    /// 413: the upload is larger than the configured limit (PUB-8).
    TooLarge(String),
    /// 503 with Retry-After: the object store failed; nothing changed. Detail is logged only.
    Unavailable(String),
    /// 503 with Retry-After: the version is busy (being deleted, cleaned up, or stored too
    /// slowly); nothing changed. The message says so.
    Busy(String),
    /// 408: the client sent its request too slowly (an upload that stalled).
    Timeout(String),
    /// 502 with Retry-After: an upstream source cannot be reached and nothing of what was
    /// asked is cached. The message names the upstream and says why.
    BadGateway(String),
    /// 429 with Retry-After (whole seconds): too many requests of one client.
    TooMany {
        retry_after_seconds: u64,
        message: String,
    },
    /// 500: a bug or a corrupt store. Detail is logged only.
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told.
    fn public_message(&self) -> &str {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Unauthorized { message: m, .. }
            | ApiError::InvalidToken(m)
            | ApiError::TooMany { message: m, .. }
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::MethodNotAllowed(m)
            | ApiError::Conflict(m)
            | ApiError::TooLarge(m)
            | ApiError::Busy(m)
            | ApiError::Timeout(m)
            | ApiError::BadGateway(m) => m,
            ApiError::Unavailable(_) => "storage is unavailable; retry later",
            ApiError::Internal(_) => "internal error",
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::NotFound("not found".into())
    }
}

impl From<feed::Error> for ApiError {
    fn from(err: feed::Error) -> ApiError {
        match err {
            // PUB-8: "too large" is 413 whatever found it; only I/O is the server's fault.
            feed::Error::Invalid(e) if e.is_too_large() => ApiError::TooLarge(e.to_string()),
            feed::Error::Invalid(e @ package::Error::Io(_)) => ApiError::Internal(e.to_string()),
            feed::Error::Invalid(e) => ApiError::BadRequest(e.to_string()),
            feed::Error::Rejected(m) | feed::Error::InvalidDeprecation(m) => {
                ApiError::BadRequest(m)
            }
            feed::Error::AlreadyExists { .. } => ApiError::Conflict(format!(
                // Both spellings: dotnet's and NuGet.exe's (5.1+), so either user finds the switch.
                "{err}: versions are immutable; push a new version (`dotnet nuget push --skip-duplicate` or `nuget push -SkipDuplicate` ignores this)"
            )),
            feed::Error::Deleted { .. } => ApiError::Conflict(format!(
                "{err}: clients that restored it keep its old bytes, so push a new version (a feed allows reuse with allow_deleted_version_reuse: true in its config file, or --allow-deleted-version-reuse)"
            )),
            feed::Error::NotFound { .. } => ApiError::NotFound(err.to_string()),
            feed::Error::Busy(m) => ApiError::Busy(m),
            feed::Error::Storage(e) => e.into(),
            feed::Error::CorruptLog { .. } | feed::Error::Snapshot(_) => {
                ApiError::Internal(err.to_string())
            }
        }
    }
}

impl From<upstream::Unreachable> for ApiError {
    fn from(err: upstream::Unreachable) -> ApiError {
        ApiError::BadGateway(format!(
            "{err} and nothing of what was asked is cached here; retry later"
        ))
    }
}

impl From<upstream::packages::FileError> for ApiError {
    fn from(err: upstream::packages::FileError) -> ApiError {
        match err {
            upstream::packages::FileError::Unreachable(e) => e.into(),
            upstream::packages::FileError::Storage(e) => e.into(),
        }
    }
}

impl From<trust::Refusal> for ApiError {
    fn from(refusal: trust::Refusal) -> ApiError {
        match refusal {
            trust::Refusal::Invalid(m) => ApiError::InvalidToken(m),
            trust::Refusal::NotTrusted(m) => ApiError::Forbidden(m),
            trust::Refusal::TooMany { retry_after } => {
                let seconds = retry_after.as_secs() + 1;
                ApiError::TooMany {
                    retry_after_seconds: seconds,
                    message: format!(
                        "too many token exchanges for this subject; retry in {seconds} s"
                    ),
                }
            }
            trust::Refusal::Unavailable(m) => ApiError::Busy(m),
        }
    }
}

impl From<BytesRejection> for ApiError {
    /// A small request body (every route but uploads) that could not be read: over the limit
    /// is 413 like any upload (PUB-8), anything else the client's fault.
    fn from(rejection: BytesRejection) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the request body is larger than the limit of {} KiB",
                super::limits::SMALL_BODY_LIMIT / 1024
            ))
        } else {
            ApiError::BadRequest(format!(
                "the request body cannot be read: {}",
                rejection.body_text()
            ))
        }
    }
}

impl From<storage::Error> for ApiError {
    fn from(err: storage::Error) -> ApiError {
        match err {
            storage::Error::NotFound { .. } => ApiError::not_found(),
            storage::Error::Backend { .. } | storage::Error::AlreadyExists { .. } => {
                ApiError::Unavailable(err.to_string())
            }
            storage::Error::Config(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Unavailable(detail) => tracing::warn!(error = %detail, "storage unavailable"),
            ApiError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            other => tracing::debug!(
                status = status.as_u16(),
                message = other.public_message(),
                "request refused"
            ),
        }
        let message = self.public_message().to_owned();
        let body = serde_json::json!({ "statusCode": status.as_u16(), "message": message });
        let mut response = (status, axum::Json(body)).into_response();
        // Reason phrases are one line of visible ASCII; anything else keeps the standard one.
        let phrase: String = message
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(400)
            .collect();
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
            response.extensions_mut().insert(reason);
        }
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized { basic: true, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"NuGet feed\", charset=\"UTF-8\""),
                );
            }
            ApiError::InvalidToken(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooMany {
                retry_after_seconds,
                ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
            }
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::BadGateway(_) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
