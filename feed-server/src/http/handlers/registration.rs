//! RegistrationsBaseUrl, three hives (REG-1..14): index, standalone pages, leaves.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::read_path;
use crate::api::registration::{self, RegistrationContext};
use crate::api::urls::Hive;
use crate::api::vulnerabilities;
use crate::http::base_url::Urls;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;
use crate::package::PackageId;

fn lookup(s: &AppState, id: &str) -> ApiResult<std::sync::Arc<crate::feed::record::PackageRecord>> {
    let id = PackageId::parse(id).map_err(|_| ApiError::not_found())?;
    s.feed
        .state()
        .package(&id.lower())
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// `GET {hive}/{id}/index.json`
pub async fn index(
    hive: Hive,
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let record = lookup(&s, &id)?;
    let owners = record
        .id()
        .map(|id| s.api_keys.owners(id))
        .unwrap_or_default();
    let vulns = |id: &PackageId, v: &crate::package::NuGetVersion| {
        vulnerabilities::for_version(&s.advisories, id, v)
    };
    let needed = registration::versions_needing_details(&record, hive);
    let details = s.feed.details(needed.iter().map(|v| v.push_seq)).await?;
    let ctx = RegistrationContext {
        owners: &owners,
        vulnerabilities: &vulns,
        details: &details,
    };
    let doc =
        registration::render_index(&record, hive, &urls, &ctx).ok_or_else(ApiError::not_found)?;
    Ok(response::json(&headers, &doc, s.doc_options(hive.gzip())))
}

/// `GET {hive}/{id}/page/{lower}/{upper}.json`
pub async fn page(
    hive: Hive,
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path((id, lower, upper)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let upper = upper
        .strip_suffix(".json")
        .ok_or_else(ApiError::not_found)?;
    let record = lookup(&s, &id)?;
    let owners = record
        .id()
        .map(|id| s.api_keys.owners(id))
        .unwrap_or_default();
    let vulns = |id: &PackageId, v: &crate::package::NuGetVersion| {
        vulnerabilities::for_version(&s.advisories, id, v)
    };
    let needed = registration::page_versions(&record, hive, &lower, upper);
    let details = s.feed.details(needed.iter().map(|v| v.push_seq)).await?;
    let ctx = RegistrationContext {
        owners: &owners,
        vulnerabilities: &vulns,
        details: &details,
    };
    let doc = registration::render_page(&record, hive, &urls, &ctx, &lower, upper)
        .ok_or_else(ApiError::not_found)?;
    Ok(response::json(&headers, &doc, s.doc_options(hive.gzip())))
}

/// `GET {hive}/{id}/{version}.json` (REG-12, REG-13)
pub async fn leaf(
    hive: Hive,
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path((id, leaf)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let version = leaf.strip_suffix(".json").ok_or_else(ApiError::not_found)?;
    let (_, version) = read_path(&id, version)?;
    let record = lookup(&s, &id)?;
    let doc = registration::render_leaf(&record, &version, hive, &urls)
        .ok_or_else(ApiError::not_found)?;
    Ok(response::json(&headers, &doc, s.doc_options(hive.gzip())))
}
