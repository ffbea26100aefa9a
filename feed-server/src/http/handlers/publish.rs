//! PackagePublish (PUB-1..10): push, delete (unlist), relist; and [`ManagedVersion`], the
//! authenticated `{id}/{version}` of every request that changes an existing version.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};

use super::write_path;
use crate::auth::{Publisher, Scope};
use crate::config::DeleteMode;
use crate::http::change::{Change, Changed, Operation};
use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;
use crate::http::{base_url, upload};
use crate::package::{NuGetVersion, PackageId};
use crate::trust;

/// The API key a request presents in `X-NuGet-ApiKey`, if any.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-nuget-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Who a write request acts as (PUB-6): 401 without a key; an API key of the key file; a
/// temporary key of the token service (401 once expired); an OIDC token of a trusted publisher,
/// told from a key by its shape (401 when it is not valid here, 403 when no policy trusts it);
/// 403 for anything else.
pub async fn authenticate(s: &AppState, headers: &HeaderMap) -> ApiResult<Publisher> {
    let presented = presented_key(headers).ok_or_else(|| ApiError::Unauthorized {
        basic: false,
        message: "an API key is required: send it in the X-NuGet-ApiKey header".into(),
    })?;
    if let Some(key) = s.api_keys.authenticate(presented) {
        return Ok(Publisher::from(key));
    }
    if !s.trust.is_empty() {
        if trust::is_temporary_key(presented) {
            let record = s.trust.temporary_key(presented).await?;
            return Ok(publisher_of(record));
        }
        if trust::looks_like_jwt(presented) {
            let audience = base_url::feed_base(s, headers)?;
            let record = s.trust.token(presented, &audience).await?;
            return Ok(publisher_of(record));
        }
    }
    Err(ApiError::Forbidden("the API key is invalid".into()))
}

/// The publisher a temporary key or token acts as.
pub fn publisher_of(record: trust::KeyRecord) -> Publisher {
    Publisher {
        name: record.policy,
        subject: Some(record.subject),
        scopes: record.scopes,
        packages: record.packages,
    }
}

/// 403 unless `publisher` may do `scope` to `id`.
pub fn authorize(publisher: &Publisher, scope: Scope, id: &PackageId) -> ApiResult<()> {
    if publisher.allows(scope, id.as_str()) {
        return Ok(());
    }
    let action = match scope {
        Scope::Push => "push",
        Scope::Unlist => "unlist, relist, delete or deprecate",
        Scope::TakeOver => "take over from its upstream source",
    };
    Err(ApiError::Forbidden(format!(
        "{} may not {action} package `{id}`",
        publisher.describe()
    )))
}

/// The `{id}/{version}` of a request that manages an existing version (unlist, relist, delete,
/// deprecate), with an API key that may: 401 without a key, 403 when it is wrong or lacks the
/// `unlist` scope for the id (PUB-6), 400 when the id or version cannot be one.
pub struct ManagedVersion {
    pub id: PackageId,
    pub version: NuGetVersion,
    pub by: Publisher,
}

impl ManagedVersion {
    /// `operation` done to this version, for the audit trail.
    pub fn change(self, operation: Operation) -> Change {
        Change {
            operation,
            id: self.id,
            version: self.version,
            by: self.by,
        }
    }
}

impl FromRequestParts<AppState> for ManagedVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> ApiResult<ManagedVersion> {
        let key = authenticate(s, &parts.headers).await?;
        let Path((id, version)) = Path::<(String, String)>::from_request_parts(parts, s)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let (id, version) = write_path(&id, &version)?;
        authorize(&key, Scope::Unlist, &id)?;
        Ok(ManagedVersion {
            id,
            version,
            by: key,
        })
    }
}

/// `PUT {publish}` and `PUT {publish}/`: 201 created, 409 exists, 400 invalid, 413 too large.
pub async fn push(State(s): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Changed> {
    let key = authenticate(&s, &headers).await?;
    let result = push_inner(&s, &key, &headers, body).await;
    s.metrics.push_result(match &result {
        Ok(_) => "created",
        Err(ApiError::Conflict(_)) => "conflict",
        Err(ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::Internal(_)) => "error",
        Err(_) => "rejected",
    });
    result
}

async fn push_inner(
    s: &AppState,
    key: &Publisher,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Changed> {
    let upload = upload::receive(headers, body, &s.config).await?;
    let prepared = s.feed.prepare(upload.to_path_buf()).await?;
    authorize(key, Scope::Push, prepared.id())?;
    // An id known only from an upstream becomes local with its first push here, hiding the
    // upstream's versions for good: only a key with the take_over scope may do that.
    let taken_from = s.upstreams.known_upstream(&s.feed, prepared.id()).await;
    if let Some(source) = taken_from {
        authorize(key, Scope::TakeOver, prepared.id()).map_err(|_| {
            ApiError::Forbidden(format!(
                "package `{}` comes from upstream source `{}`; a push here would take it over (the upstream's versions would no longer be served), which needs an API key with the take_over scope; {} does not have it",
                prepared.id(),
                source.name(),
                key.describe()
            ))
        })?;
    }
    s.feed.push(&prepared).await?;
    if let Some(source) = taken_from {
        tracing::info!(
            key.name = %key.name,
            package.id = %prepared.id(),
            upstream = %source.name(),
            "key `{}` took over package `{}` from upstream source `{}`",
            key.name,
            prepared.id(),
            source.name()
        );
    }
    Ok(Changed(
        StatusCode::CREATED,
        Change {
            operation: Operation::Push,
            id: prepared.id().clone(),
            version: prepared.version().clone(),
            by: key.clone(),
        },
    ))
}

/// `DELETE {publish}/{id}/{version}`: 204, or 404 (PUB-9). Unlists unless configured to delete.
pub async fn delete(State(s): State<AppState>, v: ManagedVersion) -> ApiResult<Changed> {
    s.feed.delete(&v.id, &v.version).await?;
    let operation = match s.config.delete_mode {
        DeleteMode::Unlist => Operation::Unlist,
        DeleteMode::Delete => Operation::Delete,
    };
    Ok(Changed(StatusCode::NO_CONTENT, v.change(operation)))
}

/// `POST {publish}/{id}/{version}`: relist, 200 (also when listed already) or 404 (PUB-10).
pub async fn relist(State(s): State<AppState>, v: ManagedVersion) -> ApiResult<Changed> {
    s.feed.set_listed(&v.id, &v.version, true).await?;
    Ok(Changed(StatusCode::OK, v.change(Operation::Relist)))
}
