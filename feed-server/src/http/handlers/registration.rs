//! RegistrationsBaseUrl, three hives (REG-1..14): index, standalone pages, leaves, served from
//! the document cache while the package does not change.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{read_path, upstream};
use crate::api::registration::{self, RegistrationContext};
use crate::api::urls::Hive;
use crate::api::vulnerabilities;
use crate::feed::event::Details;
use crate::feed::record::{PackageRecord, VersionRecord};
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;
use crate::package::{NuGetVersion, PackageId};

/// Who has the documents of a package id.
enum Found {
    /// This feed: the lower-cased id and the stamp of its documents (its last event).
    Here(String, u64),
    /// Not this feed: maybe an upstream (see [`upstream`]).
    Elsewhere(PackageId),
}

/// Where the package `id` is; 404 when it cannot be an id.
fn lookup(s: &AppState, id: &str) -> ApiResult<Found> {
    let id = PackageId::parse(id).map_err(|_| ApiError::not_found())?;
    let lower = id.lower();
    let stamp = s.feed.state().package(&lower).map(|r| r.last_seq);
    Ok(match stamp {
        Some(stamp) => Found::Here(lower, stamp),
        None => Found::Elsewhere(id),
    })
}

/// The record to render a document from: the state's now, at the stamp [`lookup`] read or a
/// newer one (then the next request renders again). Read only when the cache misses.
fn record(s: &AppState, lower_id: &str) -> Option<Arc<PackageRecord>> {
    s.feed.state().package(lower_id).cloned()
}

/// Renders with the registration context of `record`: its owners, the advisories, and the
/// metadata of `versions` (the leaves the document inlines) read from storage.
async fn with_context<T>(
    s: &AppState,
    record: &PackageRecord,
    versions: Vec<&VersionRecord>,
    render: impl FnOnce(&RegistrationContext<'_>) -> T,
) -> ApiResult<T> {
    let owners = record
        .id()
        .map(|id| s.api_keys.owners(id))
        .unwrap_or_default();
    let vulns =
        |id: &PackageId, v: &NuGetVersion| vulnerabilities::for_version(&s.advisories, id, v);
    let seqs: Vec<u64> = versions.iter().map(|v| v.push_seq).collect();
    let details: Details = s.feed.details(seqs).await?;
    let ctx = RegistrationContext {
        owners: &owners,
        vulnerabilities: &vulns,
        details: &details,
    };
    Ok(render(&ctx))
}

/// `GET {hive}/{id}/index.json`
pub async fn index(
    hive: Hive,
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (lower, stamp) = match lookup(&s, &id)? {
        Found::Here(lower, stamp) => (lower, stamp),
        Found::Elsewhere(id) => {
            let relative = format!("{}/index.json", id.lower());
            return upstream::registration(&s, hive, &urls, &id, &relative, &headers).await;
        }
    };
    let key = cache::key(&["registration", hive.segment(), urls.base(), &lower]);
    let render = async {
        let Some(record) = record(&s, &lower) else {
            return Ok(None);
        };
        let needed = registration::versions_needing_details(&record, hive);
        with_context(&s, &record, needed, |ctx| {
            registration::render_index(&record, hive, &urls, ctx)
        })
        .await
    };
    let opts = s.doc_options(hive.gzip()).reusable();
    response::serve(&s, &headers, key, stamp, opts, render).await
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
        .ok_or_else(ApiError::not_found)?
        .to_ascii_lowercase();
    let lower = lower.to_ascii_lowercase();
    let (lower_id, stamp) = match lookup(&s, &id)? {
        Found::Here(lower_id, stamp) => (lower_id, stamp),
        Found::Elsewhere(id) => {
            // Bounds that are no versions name no page (and never reach the upstream's URL).
            if NuGetVersion::parse(&lower).is_err() || NuGetVersion::parse(&upper).is_err() {
                return Err(ApiError::not_found());
            }
            let relative = format!("{}/page/{lower}/{upper}.json", id.lower());
            return upstream::registration(&s, hive, &urls, &id, &relative, &headers).await;
        }
    };
    let key = cache::key(&[
        "registration-page",
        hive.segment(),
        urls.base(),
        &lower_id,
        &lower,
        &upper,
    ]);
    let render = async {
        let Some(record) = record(&s, &lower_id) else {
            return Ok(None);
        };
        let needed = registration::page_versions(&record, hive, &lower, &upper);
        with_context(&s, &record, needed, |ctx| {
            registration::render_page(&record, hive, &urls, ctx, &lower, &upper)
        })
        .await
    };
    let opts = s.doc_options(hive.gzip()).reusable();
    response::serve(&s, &headers, key, stamp, opts, render).await
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
    let (lower_id, stamp) = match lookup(&s, &id)? {
        Found::Here(lower_id, stamp) => (lower_id, stamp),
        Found::Elsewhere(id) => {
            let relative = format!("{}/{}.json", id.lower(), version.lower_normalized());
            return upstream::registration(&s, hive, &urls, &id, &relative, &headers).await;
        }
    };
    let key = cache::key(&[
        "registration-leaf",
        hive.segment(),
        urls.base(),
        &lower_id,
        &version.lower_normalized(),
    ]);
    let render =
        async {
            Ok(record(&s, &lower_id)
                .and_then(|r| registration::render_leaf(&r, &version, hive, &urls)))
        };
    let opts = s.doc_options(hive.gzip()).reusable();
    response::serve(&s, &headers, key, stamp, opts, render).await
}
