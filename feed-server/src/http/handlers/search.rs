//! SearchQueryService (SQ-1..12) and SearchAutocompleteService (AC-1..4).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use serde_json::Value;

use crate::api::search as render;
use crate::api::urls::FeedUrls;
use crate::api::vulnerabilities;
use crate::feed::record::PackageRecord;
use crate::feed::search::SearchQuery;
use crate::http::base_url::Urls;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;
use crate::package::{NuGetVersion, PackageId};
use crate::upstream::search::{LocalPart, Service};

/// nuget.org's caps (SQ-3).
pub const MAX_SKIP: usize = 3000;
pub const MAX_TAKE: usize = 1000;
const DEFAULT_TAKE: usize = 20;

/// Reads the query string. Unknown parameters (VS sends `supportedFramework`,
/// `packageTypeFilter`, `includeDelisted`, SQ-5) are ignored; known ones must be valid.
fn parse_query(params: &HashMap<String, String>, default_take: usize) -> ApiResult<SearchQuery> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let number = |name: &str, default: usize, max: usize| -> ApiResult<usize> {
        match get(name) {
            None | Some("") => Ok(default),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(ApiError::BadRequest(format!(
                    "`{name}={raw}` is invalid: use a whole number from 0 to {max}"
                ))),
            },
        }
    };
    let prerelease = match get("prerelease") {
        None | Some("") => false,
        Some(raw) => match raw.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "`prerelease={raw}` is invalid: use true or false"
                )));
            }
        },
    };
    // SQ-4: absent means SemVer 1.0.0; 2.0.0 or above includes SemVer2 packages.
    let semver2 = match get("semVerLevel") {
        None | Some("") => false,
        Some(raw) => {
            let level = NuGetVersion::parse(raw).map_err(|_| {
                ApiError::BadRequest(format!(
                    "`semVerLevel={raw}` is invalid: use 1.0.0 or 2.0.0"
                ))
            })?;
            level >= NuGetVersion::parse("2.0.0").map_err(|e| ApiError::Internal(e.to_string()))?
        }
    };
    let package_type = get("packageType")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(SearchQuery {
        q: get("q").unwrap_or("").to_owned(),
        skip: number("skip", 0, MAX_SKIP)?,
        take: number("take", default_take, MAX_TAKE)?,
        prerelease,
        semver2,
        package_type,
    })
}

/// `GET {base}/query`
pub async fn query(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = parse_query(&params, DEFAULT_TAKE)?;
    let hits = s.feed.search_index().search(&q);
    let records: Vec<Arc<PackageRecord>> = {
        let state = s.feed.state();
        hits.ids
            .iter()
            .filter_map(|id| state.package(id).cloned())
            .collect()
    };
    let owners = |id: &PackageId| s.api_keys.owners(id);
    let downloads = |lower_id: &str, versions: &[&NuGetVersion]| {
        s.feed.downloads().versions(lower_id, versions)
    };
    let vulns =
        |id: &PackageId, v: &NuGetVersion| vulnerabilities::for_version(&s.advisories, id, v);
    let body = render::render_search(&hits, &records, &q, &urls, &owners, &downloads, &vulns);
    if s.upstreams.is_empty() {
        return Ok(response::document(
            &headers,
            body,
            response::JSON,
            s.doc_options(false),
        ));
    }
    let mut doc: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Internal(format!("cannot read a rendered search page: {e}")))?;
    let local = LocalPart {
        total: hits.total,
        ids: &hits.ids,
    };
    let warning = merge_upstreams(&s, Service::Search, &q, local, &urls, &mut doc).await;
    Ok(with_warning(
        response::json(&headers, &doc, s.doc_options(false)),
        warning,
    ))
}

/// Appends the upstreams' part of the page to `doc` (after the local entries, totals summed);
/// a warning naming the upstreams that could not be asked, if any.
async fn merge_upstreams(
    s: &AppState,
    service: Service,
    q: &SearchQuery,
    local: LocalPart<'_>,
    urls: &FeedUrls,
    doc: &mut Value,
) -> Option<String> {
    let local_total = local.total as u64;
    let merged = s.upstreams.search(&s.feed, service, q, local, urls).await;
    if let Some(data) = doc.get_mut("data").and_then(Value::as_array_mut) {
        data.extend(merged.data);
    }
    if let Some(total) = doc.get_mut("totalHits") {
        *total = Value::from(local_total + merged.total);
    }
    (!merged.unreachable.is_empty()).then(|| {
        format!(
            "The upstream source(s) {} could not be searched; results may be incomplete.",
            merged.unreachable.join(", ")
        )
    })
}

fn with_warning(mut response: Response, warning: Option<String>) -> Response {
    if let Some(value) = warning.and_then(|w| HeaderValue::from_str(&w).ok()) {
        response.headers_mut().insert("x-nuget-warning", value);
    }
    response
}

/// `GET {base}/autocomplete`: id mode (`q`) or version mode (`id`).
pub async fn autocomplete(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = parse_query(&params, DEFAULT_TAKE)?;
    let id_param = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("id"))
        .map(|(_, v)| v.trim().to_owned());
    let mut warning = None;
    let doc = match id_param {
        Some(id) => {
            let id = PackageId::parse(&id).ok();
            let record = id
                .as_ref()
                .and_then(|id| s.feed.state().package(&id.lower()).cloned());
            let upstream = match (&record, &id) {
                (None, Some(id)) if !s.upstreams.is_empty() => {
                    match s.upstreams.autocomplete_versions(&s.feed, id, &q).await {
                        Ok(doc) => doc,
                        Err(e) => {
                            warning = Some(format!("{e}; its versions are missing"));
                            None
                        }
                    }
                }
                _ => None,
            };
            upstream.unwrap_or_else(|| {
                render::render_autocomplete_versions(record.as_deref(), q.prerelease, q.semver2)
            })
        }
        None => {
            let hits = s.feed.search_index().autocomplete_ids(&q);
            let records: Vec<Arc<PackageRecord>> = {
                let state = s.feed.state();
                hits.ids
                    .iter()
                    .filter_map(|id| state.package(id).cloned())
                    .collect()
            };
            let mut doc = render::render_autocomplete_ids(&hits, &records);
            if !s.upstreams.is_empty() {
                let local = LocalPart {
                    total: hits.total,
                    ids: &hits.ids,
                };
                warning =
                    merge_upstreams(&s, Service::Autocomplete, &q, local, &urls, &mut doc).await;
            }
            doc
        }
    };
    Ok(with_warning(
        response::json(&headers, &doc, s.doc_options(false)),
        warning,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_hide_prerelease_and_semver2() {
        // SQ-4
        let q = parse_query(&params(&[]), 20).unwrap();
        assert!(!q.prerelease && !q.semver2);
        assert_eq!((q.skip, q.take), (0, 20));
        let q = parse_query(
            &params(&[
                ("prerelease", "True"),
                ("semVerLevel", "2.0.0"),
                ("packageType", "DotnetTool"),
            ]),
            20,
        )
        .unwrap();
        assert!(q.prerelease && q.semver2);
        assert_eq!(q.package_type.as_deref(), Some("DotnetTool"));
    }

    #[test]
    fn bad_parameters_are_400() {
        for bad in [
            [("skip", "-1")],
            [("take", "1001")],
            [("skip", "3001")],
            [("semVerLevel", "two")],
            [("prerelease", "yes")],
        ] {
            let err = parse_query(&params(&bad), 20).unwrap_err();
            assert!(matches!(err, ApiError::BadRequest(_)), "{bad:?}");
        }
    }
}
