//! The V2 (OData) feed under `{base}/api/v2/` (issue 16): the service document, `$metadata`,
//! the collections (`Packages()`, `FindPackagesById()`, `Search()`, `GetUpdates()`), one
//! package (`Packages(Id='..',Version='..')`), `$count` of each, and the V2 download URL.
//!
//! Rows come from the feed's records and search index, as V3's do; a document is rendered once
//! per query and feed state and then served from the document cache (`http::cache`), keyed by
//! its whole query. A query addressed to one id that an upstream serves (`Packages(Id=..,
//! Version=..)`, `FindPackagesById()`, `Packages()` filtered to one id) gets its rows from the
//! upstream's registration (`upstream::listing`), by the one origin rule V3 follows; `Search()`,
//! `GetUpdates()` and unfiltered `Packages()` show this feed's own packages only (V2 lists page
//! over every version, which an upstream's search does not give). Download counts in a cached document are those of its rendering: they
//! move on with the next change to the feed (or the package, for per-id documents).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::api::odata::atom::{self, Entry, Page};
use crate::api::odata::query::{self, Query as V2Query, Resource};
use crate::api::odata::rows::{self, Row};
use crate::api::odata::{self, edm};
use crate::api::urls::FeedUrls;
use crate::feed::event::Details;
use crate::feed::record::{PackageRecord, VersionFilter, VersionRecord};
use crate::feed::search::SearchQuery;
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::handlers::flat_container;
use crate::http::handlers::upstream::{self, Listing};
use crate::http::response::{self, DocOptions};
use crate::http::state::AppState;
use crate::package::PackageId;

const FEED: &str = "application/atom+xml;type=feed;charset=utf-8";
const ENTRY: &str = "application/atom+xml;type=entry;charset=utf-8";
const XML: &str = "application/xml;charset=utf-8";
const TEXT: &str = "text/plain;charset=utf-8";

/// Every answer says which OData version it speaks ([`DocOptions::odata`]): WCF Data Services
/// clients (NuGet 2.x) check it.
fn v2_options(s: &AppState) -> DocOptions {
    DocOptions {
        odata: true,
        ..s.doc_options(false)
    }
}

/// [`v2_options`] for a document of this feed's own state, which the fast path may repeat; not
/// for one built from an upstream's listing, which changes with the upstream, not the feed.
fn local_options(s: &AppState, listing: Option<&Listing<'_>>) -> DocOptions {
    match listing {
        None => v2_options(s).reusable(),
        Some(_) => v2_options(s),
    }
}

impl From<odata::Error> for ApiError {
    fn from(e: odata::Error) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}

/// `GET {base}/api/v2/`: the service document.
pub async fn service_document(
    State(s): State<AppState>,
    Urls(urls): Urls,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let key = cache::key(&["v2-service", urls.base()]);
    let render = async { Ok(Some(edm::render_service_document(&urls))) };
    let opts = v2_options(&s).reusable();
    response::serve_bytes(&s, &headers, key, 0, opts, XML, render).await
}

/// `GET {base}/api/v2/{resource}`: `$metadata`, a collection, or one package.
pub async fn resource(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path(segment): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if segment == "$metadata" {
        let render = async { Ok(Some(edm::render_metadata())) };
        let key = cache::key(&["v2-metadata"]);
        let opts = v2_options(&s).reusable();
        return response::serve_bytes(&s, &headers, key, 0, opts, XML, render).await;
    }
    let resource = Resource::parse(&segment).ok_or_else(ApiError::not_found)?;
    let q = V2Query::parse(&resource, &params)?;
    let listing = upstream_listing(&s, &urls, &resource, &q).await?;
    let (stamp, scope) = stamp(&s, &resource, &q, listing.as_ref());
    let key = cache::key(&[
        "v2",
        scope.as_str(),
        urls.base(),
        &segment,
        &query_key(&params),
    ]);
    let content_type = if matches!(resource, Resource::Package(..)) {
        ENTRY
    } else {
        FEED
    };
    let render = render(
        &s,
        &urls,
        &resource,
        &segment,
        &q,
        &params,
        listing.as_ref(),
    );
    let opts = local_options(&s, listing.as_ref());
    let response =
        response::serve_bytes(&s, &headers, key, stamp, opts, content_type, render).await?;
    Ok(warned(response, listing.as_ref()))
}

/// `response` with the stale warning when `listing` was built from stale upstream documents.
fn warned(mut response: Response, listing: Option<&Listing<'_>>) -> Response {
    if let Some(l) = listing.filter(|l| l.stale) {
        upstream::warn_stale(&mut response, l.source);
    }
    response
}

/// The id a query is addressed to, if it is one id's: `Packages(Id=..,Version=..)`,
/// `FindPackagesById()?id=..`, `Packages()?$filter=Id eq '..'`.
fn addressed_id(resource: &Resource, q: &V2Query) -> Option<PackageId> {
    match resource {
        Resource::Package(id, _) => Some(id.clone()),
        Resource::FindPackagesById => q.id.as_deref().and_then(|id| PackageId::parse(id).ok()),
        Resource::Packages => q
            .filter
            .as_ref()
            .and_then(|f| f.required_id())
            .and_then(|id| PackageId::parse(&id).ok()),
        Resource::Search | Resource::GetUpdates => None,
    }
}

/// The upstream listing a query's rows come from: when it is addressed to one id that has no
/// record here and an upstream serves it (`Upstreams::origin`: local ids and `local_packages`
/// are never looked up).
async fn upstream_listing<'a>(
    s: &'a AppState,
    urls: &FeedUrls,
    resource: &Resource,
    q: &V2Query,
) -> ApiResult<Option<Listing<'a>>> {
    if s.upstreams.is_empty() {
        return Ok(None);
    }
    let Some(id) = addressed_id(resource, q) else {
        return Ok(None);
    };
    if s.feed.state().package(&id.lower()).is_some() {
        return Ok(None);
    }
    upstream::listing(s, urls, &id).await
}

/// `GET {base}/api/v2/{resource}/$count`: how many rows the collection has (after
/// `$filter`, before paging), as plain text.
pub async fn count(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path(segment): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let resource = Resource::parse(&segment).ok_or_else(ApiError::not_found)?;
    let q = V2Query::parse(&resource, &params)?;
    let listing = upstream_listing(&s, &urls, &resource, &q).await?;
    let (stamp, scope) = stamp(&s, &resource, &q, listing.as_ref());
    let key = cache::key(&["v2-count", scope.as_str(), &segment, &query_key(&params)]);
    let render = async {
        let records = candidates(&s, &resource, &q, listing.as_ref());
        let built_for = frameworks(&s, &q, &records).await?;
        let n = select(&s, &resource, &q, &records, &built_for).len();
        Ok(Some(n.to_string().into_bytes()))
    };
    let opts = local_options(&s, listing.as_ref());
    let response = response::serve_bytes(&s, &headers, key, stamp, opts, TEXT, render).await?;
    Ok(warned(response, listing.as_ref()))
}

/// `GET {base}/api/v2/package/{id}/{version}`: the `.nupkg`, served (and counted) as the flat
/// container serves it.
pub async fn download(
    state: State<AppState>,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let file = format!("{id}.{version}.nupkg");
    flat_container::file(state, Path((id, version, file))).await
}

/// The stamp a document of `resource` is current at, and what it depends on: one id's last
/// event for one id's documents (as registration), the upstream documents' fetch time for an
/// upstream id's, else the feed's last event.
fn stamp(
    s: &AppState,
    resource: &Resource,
    q: &V2Query,
    listing: Option<&Listing<'_>>,
) -> (u64, String) {
    if let Some(l) = listing {
        let lower = l
            .records
            .record
            .id()
            .map(PackageId::lower)
            .unwrap_or_default();
        return (l.stamp, format!("upstream:{}:{lower}", l.source.name()));
    }
    let id = match resource {
        Resource::Package(id, _) => Some(id.lower()),
        Resource::FindPackagesById => q.id.as_deref().map(str::to_lowercase),
        _ => None,
    };
    let state = s.feed.state();
    match id {
        Some(lower) => {
            let stamp = state.package(&lower).map_or(0, |r| r.last_seq);
            (stamp, format!("id:{lower}"))
        }
        None => (state.seq(), "feed".to_owned()),
    }
}

/// The query string as a cache key: its pairs in order, `&`-joined.
fn query_key(params: &[(String, String)]) -> String {
    let mut key = String::new();
    for (k, v) in params {
        key.push_str(k);
        key.push('=');
        key.push_str(v);
        key.push('&');
    }
    key
}

/// The records a query can return rows of, in the order their rows come (before `$orderby`):
/// the upstream listing's, one id's, the search index's matches in rank order, or every id in
/// id order.
fn candidates(
    s: &AppState,
    resource: &Resource,
    q: &V2Query,
    listing: Option<&Listing<'_>>,
) -> Vec<Arc<PackageRecord>> {
    if let Some(l) = listing {
        return vec![l.records.record.clone()];
    }
    let one = |lower: &str| -> Vec<Arc<PackageRecord>> {
        s.feed.state().package(lower).cloned().into_iter().collect()
    };
    match resource {
        Resource::Package(id, _) => one(&id.lower()),
        Resource::FindPackagesById => {
            q.id.as_deref()
                .and_then(|id| PackageId::parse(id).ok())
                .map(|id| one(&id.lower()))
                .unwrap_or_default()
        }
        Resource::GetUpdates => {
            let state = s.feed.state();
            q.updates
                .iter()
                .flat_map(|u| &u.packages)
                .filter_map(|(id, _, _)| state.package(&id.lower()).cloned())
                .collect()
        }
        Resource::Search => {
            let index = s.feed.search_index();
            let hits = index.search(&SearchQuery {
                q: q.search_term.clone(),
                skip: 0,
                // Every match: V2 pages over versions, not ids, and may reorder them.
                take: index.len().max(1),
                prerelease: q.include_prerelease,
                semver2: q.semver2,
                package_type: None,
            });
            drop(index);
            let state = s.feed.state();
            hits.ids
                .iter()
                .filter_map(|id| state.package(id).cloned())
                .collect()
        }
        Resource::Packages => {
            if let Some(lower) = q.filter.as_ref().and_then(|f| f.required_id()) {
                return one(&lower);
            }
            let state = s.feed.state();
            let mut all: Vec<(&Arc<str>, &Arc<PackageRecord>)> = state.packages().collect();
            all.sort_unstable_by(|a, b| a.0.cmp(b.0));
            all.into_iter().map(|(_, r)| r.clone()).collect()
        }
    }
}

/// For `GetUpdates()` with `targetFrameworks`: the push facts of every version of `records`
/// (their manifests say what each was built for); else nothing is read.
async fn frameworks(
    s: &AppState,
    q: &V2Query,
    records: &[Arc<PackageRecord>],
) -> ApiResult<Details> {
    let asked = q
        .updates
        .as_ref()
        .is_some_and(|u| !u.target_frameworks.is_empty());
    if !asked {
        return Ok(Details::default());
    }
    // Collected first: the future must not hold the iterator's closures (axum needs `Send`).
    let seqs: Vec<u64> = records
        .iter()
        .flat_map(|r| r.versions.values().map(|v| v.push_seq))
        .collect();
    Ok(s.feed.details(seqs).await?)
}

/// The rows of `records` the query returns, in order: visibility as V3 decides it, then
/// `$filter`, then `$orderby`. `built_for` has the push facts `GetUpdates()` reads to offer
/// only versions that run on the project's `targetFrameworks` (see [`frameworks`]).
fn select<'a>(
    s: &AppState,
    resource: &Resource,
    q: &V2Query,
    records: &'a [Arc<PackageRecord>],
    built_for: &Details,
) -> Vec<Row<'a>> {
    // Addressed by id (and version), every version is there, unlisted too (PBA-1, REG-8:
    // a pinned unlisted version still restores); lists for browsing show listed ones only
    // (SQ-7).
    let filter = match resource {
        Resource::Package(..) => VersionFilter::ALL,
        Resource::Packages | Resource::FindPackagesById => VersionFilter {
            semver2: q.semver2,
            ..VersionFilter::ALL
        },
        Resource::Search | Resource::GetUpdates => {
            VersionFilter::search(q.include_prerelease, q.semver2)
        }
    };
    let counted = |record: &'a PackageRecord| {
        let lower = record.id().map(|id| id.lower()).unwrap_or_default();
        let versions: Vec<_> = record.versions.values().map(|v| v.version()).collect();
        let counts = s.feed.downloads().versions(&lower, &versions);
        Row::counted(record, filter, counts)
    };
    let mut rows: Vec<Row<'a>> = match resource {
        Resource::Package(_, version) => records
            .iter()
            .flat_map(|r| counted(r))
            .filter(|row| row.version.version() == version)
            .collect(),
        Resource::GetUpdates => {
            let Some(updates) = &q.updates else {
                return Vec::new();
            };
            let mut rows = Vec::new();
            for (id, current, constraint) in &updates.packages {
                let lower = id.lower();
                let Some(record) = records
                    .iter()
                    .find(|r| r.id().is_some_and(|i| i.lower() == lower))
                else {
                    continue;
                };
                let runs = |v: &VersionRecord| {
                    built_for
                        .get(&v.push_seq)
                        .is_none_or(|p| rows::runs_on(&p.nuspec, &updates.target_frameworks))
                };
                rows.extend(rows::updates(
                    counted(record),
                    current,
                    constraint.as_ref(),
                    updates.all_versions,
                    &runs,
                ));
            }
            rows
        }
        _ => records.iter().flat_map(|r| counted(r)).collect(),
    };
    if let Some(f) = &q.filter {
        rows.retain(|row| f.admits(row));
    }
    q.order_by.sort(&mut rows);
    rows
}

/// Renders the document of a resource: an entry for one package, else a page of the feed with
/// a `next` link while rows remain. `None` (404) for a package that is not there.
async fn render(
    s: &AppState,
    urls: &FeedUrls,
    resource: &Resource,
    segment: &str,
    q: &V2Query,
    params: &[(String, String)],
    listing: Option<&Listing<'_>>,
) -> ApiResult<Option<Vec<u8>>> {
    let records = candidates(s, resource, q, listing);
    let built_for = frameworks(s, q, &records).await?;
    let rows = select(s, resource, q, &records, &built_for);
    let total = rows.len();
    let take = q.top.unwrap_or(usize::MAX).min(query::PAGE_SIZE);
    let page: Vec<Row<'_>> = rows.into_iter().skip(q.skip).take(take).collect();
    let details = match listing {
        Some(l) => l.records.details.clone(),
        None => {
            s.feed
                .details(page.iter().map(|r| r.version.push_seq))
                .await?
        }
    };
    let mut entries = Vec::with_capacity(page.len());
    for row in &page {
        let pushed = details.get(&row.version.push_seq).ok_or_else(|| {
            ApiError::Internal(format!(
                "push event {} was read but not returned",
                row.version.push_seq
            ))
        })?;
        // Owners are this feed's API keys: an upstream's package has none here.
        let owners = match listing {
            Some(_) => Vec::new(),
            None => s.api_keys.owners(row.version.id()),
        };
        entries.push(Entry {
            row: *row,
            pushed,
            owners,
        });
    }
    let select = q.select.as_deref();
    if let Resource::Package(..) = resource {
        return Ok(entries.first().map(|e| atom::render_entry(urls, e, select)));
    }
    // Server-driven paging: more rows than this page holds, and the client asked for more.
    let shown = q.skip.saturating_add(page.len());
    let wanted = q.top.map_or(usize::MAX, |top| q.skip.saturating_add(top));
    let next = (page.len() == take && shown < total && shown < wanted)
        .then(|| next_link(urls, segment, params, shown, q.top.map(|t| t - take)));
    let updated = page
        .iter()
        .map(|r| r.version.last_edited)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let page = Page {
        resource: resource.name(),
        entries,
        count: q.inline_count.then_some(total),
        next,
        updated,
    };
    Ok(Some(atom::render_feed(urls, &page, select)))
}

/// The URL of the page after this one: the same query with `$skip` moved on (and `$top`
/// reduced by what was shown, when the client gave one).
fn next_link(
    urls: &FeedUrls,
    segment: &str,
    params: &[(String, String)],
    skip: usize,
    top: Option<usize>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if k != "$skip" && k != "$top" {
            query.append_pair(k, v);
        }
    }
    query.append_pair("$skip", &skip.to_string());
    if let Some(top) = top {
        query.append_pair("$top", &top.to_string());
    }
    format!("{}{segment}?{}", urls.v2_base(), query.finish())
}
