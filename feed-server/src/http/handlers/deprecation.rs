//! Deprecation (REG-10) of a version, under the publish resource:
//! `PUT {publish}/{id}/{version}/deprecation` with a JSON document sets it (replacing any
//! earlier one), `DELETE` removes it. Both need a key that may manage the version
//! ([`ManagedVersion`]: the `unlist` scope); both answer 204, also when nothing changed, and
//! 404 for a version the feed does not have.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use super::publish::ManagedVersion;
use crate::feed::deprecation::Deprecation;
use crate::http::change::{Changed, Operation};
use crate::http::error::ApiResult;
use crate::http::state::AppState;

/// `PUT {publish}/{id}/{version}/deprecation`: 204; 400 for a bad document (nothing changes).
pub async fn put(
    State(s): State<AppState>,
    v: ManagedVersion,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Changed> {
    let deprecation = Deprecation::from_json(&body?)?;
    s.feed
        .set_deprecation(&v.id, &v.version, Some(deprecation))
        .await?;
    Ok(Changed(
        StatusCode::NO_CONTENT,
        v.change(Operation::Deprecate),
    ))
}

/// `DELETE {publish}/{id}/{version}/deprecation`: 204.
pub async fn delete(State(s): State<AppState>, v: ManagedVersion) -> ApiResult<Changed> {
    s.feed.set_deprecation(&v.id, &v.version, None).await?;
    Ok(Changed(
        StatusCode::NO_CONTENT,
        v.change(Operation::Undeprecate),
    ))
}
