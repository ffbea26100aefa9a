//! SymbolPackagePublish (SYM-1..3) and the symbol server download path (SYM-4).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::publish::{authenticate, authorize};
use crate::auth::Scope;
use crate::http::change::{Change, Changed, Operation};
use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;
use crate::http::{response, upload};

/// `PUT {symbolpackage}`: 201, 400 for a non-symbols package, 404 without its package (SYM-2).
pub async fn push(State(s): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<Changed> {
    let key = authenticate(&s, &headers).await?;
    let upload = upload::receive(&headers, body, &s.config).await?;
    let prepared = s.feed.prepare_symbols(upload.to_path_buf()).await?;
    authorize(&key, Scope::Push, prepared.id())?;
    s.feed.push_symbols(&prepared).await?;
    Ok(Changed(
        StatusCode::CREATED,
        Change {
            operation: Operation::SymbolPush,
            id: prepared.id().clone(),
            version: prepared.version().clone(),
            by: key,
        },
    ))
}

/// `GET {base}/symbols/{file}/{key}/{file}`: a portable PDB by its SSQP key.
pub async fn download(
    State(s): State<AppState>,
    Path((file, key, file2)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    if !file.eq_ignore_ascii_case(&file2) {
        return Err(ApiError::not_found());
    }
    let blob = s
        .feed
        .open_symbol(&file, &key)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(response::file(
        blob,
        "application/octet-stream",
        s.read_tokens.is_some(),
    ))
}
