//! Reads of ids this feed does not have, served from its upstream sources: the flat-container
//! version list, registration documents of every hive (rewritten to this feed's URLs),
//! `.nupkg` / `.nuspec` files, and an id's versions as records for the V2 views. The local handlers call these when the id has no record here;
//! [`crate::upstream::Upstreams::origin`] decides whether an upstream serves it.
//!
//! Documents go through the document cache like local ones (ETag, gzip), under keys of their
//! own (`upstream-*`), stamped with the time the upstream gave them. A document served past its
//! TTL because the upstream failed carries an `X-NuGet-Warning` header.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use futures::TryStreamExt;

use crate::api::urls::{FeedUrls, Hive};
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response;
use crate::http::state::AppState;
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{Blob, PackageFile};
use crate::upstream::metadata::Answer;
use crate::upstream::packages::Served;
use crate::upstream::records::{self, Records};
use crate::upstream::rewrite;
use crate::upstream::service_index::Endpoints;
use crate::upstream::{Origin, ReadLimits, Source};

/// The header NuGet clients print as a warning (G-9).
const WARNING: &str = "x-nuget-warning";

/// The upstream serving `id`, with its version list of it; 404 when the id is local or no
/// upstream has it.
async fn upstream_of<'a>(s: &'a AppState, id: &PackageId) -> ApiResult<(&'a Source, Answer)> {
    match s.upstreams.origin(&s.feed, id).await? {
        Origin::Upstream { source, versions } => Ok((source, versions)),
        Origin::Local | Origin::Nowhere => Err(ApiError::not_found()),
    }
}

/// `GET {flat}/{id}/index.json` of an upstream id.
pub async fn versions(s: &AppState, id: &PackageId, headers: &HeaderMap) -> ApiResult<Response> {
    let (source, versions) = upstream_of(s, id).await?;
    // The version list has no URLs in it: as the upstream sent it.
    let key = cache::key(&["upstream-flatcontainer", source.name(), &id.lower()]);
    serve(
        s,
        headers,
        key,
        source,
        versions,
        s.doc_options(false),
        |doc| doc,
    )
    .await
}

/// A registration document (`relative` to the hive: `{id}/index.json`, a page or a leaf) of
/// an upstream id, its URLs made this feed's.
pub async fn registration(
    s: &AppState,
    hive: Hive,
    urls: &FeedUrls,
    id: &PackageId,
    relative: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let (source, versions) = upstream_of(s, id).await?;
    let (endpoints, stale) = source.endpoints().await?;
    let base = endpoints.registration_for(hive).ok_or_else(|| {
        ApiError::NotFound(format!(
            "upstream source `{}` has no registration resource",
            source.name()
        ))
    })?;
    let mut answer = match source.document(&format!("{base}{relative}")).await {
        Ok(answer) => answer,
        Err(down) if hive == Hive::SemVer2Gz => semver1_copy(source, &endpoints, relative)
            .await
            .ok_or(down)?,
        Err(down) => return Err(down.into()),
    };
    answer.stale |= stale || versions.stale;
    let ours_hive = urls.registration_base(hive);
    let ours_flat = urls.flat_container();
    let mut pairs: Vec<(&str, &str)> = endpoints
        .registration_bases()
        .map(|b| (b, ours_hive.as_str()))
        .collect();
    pairs.push((&endpoints.package_base, &ours_flat));
    let key = cache::key(&[
        "upstream-registration",
        source.name(),
        hive.segment(),
        urls.base(),
        relative,
    ]);
    let opts = s.doc_options(hive.gzip());
    serve(s, headers, key, source, answer, opts, |mut doc| {
        rewrite::rebase(&mut doc, &pairs);
        doc
    })
    .await
}

/// A SemVer1 hive's copy of a document, for a SemVer2 client while the upstream cannot be
/// reached and its own hive has nothing cached: each hive is cached as clients read it, so a
/// feed filled by older clients would otherwise fail newer ones in an outage. The copy lacks only
/// SemVer2 versions and links only to its own hive's pages, which fall back the same way. Never
/// the other way round: a SemVer1 hive must not show SemVer2 versions. Marked stale.
async fn semver1_copy(source: &Source, endpoints: &Endpoints, relative: &str) -> Option<Answer> {
    for base in [&endpoints.registration_gz, &endpoints.registration]
        .into_iter()
        .flatten()
    {
        if let Ok(mut answer) = source.document(&format!("{base}{relative}")).await
            && answer.entry.body.is_some()
        {
            answer.stale = true;
            return Some(answer);
        }
    }
    None
}

/// Serves an upstream document (404 for the upstream's 404) through the document cache.
async fn serve(
    s: &AppState,
    headers: &HeaderMap,
    key: String,
    source: &Source,
    answer: Answer,
    opts: response::DocOptions,
    transform: impl FnOnce(serde_json::Value) -> serde_json::Value,
) -> ApiResult<Response> {
    let body = answer.entry.body.clone().ok_or_else(ApiError::not_found)?;
    // Milliseconds since 1970: a new fetch is a new stamp, so the cached rendering follows it.
    let stamp = u64::try_from(answer.entry.fetched.timestamp_millis()).unwrap_or_default();
    let render = async move {
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadGateway(format!(
                "upstream source `{}` sent a document that is not JSON: {e}",
                source.name()
            ))
        })?;
        Ok(Some(transform(doc)))
    };
    let mut response = response::serve(s, headers, key, stamp, opts, render).await?;
    if answer.stale {
        warn_stale(&mut response, source);
    }
    Ok(response)
}

/// An upstream id's versions as records, for the V2 views.
pub struct Listing<'a> {
    pub source: &'a Source,
    pub records: Records,
    /// Some document was past its TTL (the upstream failed).
    pub stale: bool,
    /// Changes when any document it was built from is fetched again.
    pub stamp: u64,
}

/// The versions of `id` as the upstream serving it has them (from its SemVer2 registration,
/// every page, through the metadata cache), package URLs made this feed's; `None` when the id
/// is local or no upstream has it.
pub async fn listing<'a>(
    s: &'a AppState,
    urls: &FeedUrls,
    id: &PackageId,
) -> ApiResult<Option<Listing<'a>>> {
    let (source, versions) = match s.upstreams.origin(&s.feed, id).await? {
        Origin::Upstream { source, versions } => (source, versions),
        Origin::Local | Origin::Nowhere => return Ok(None),
    };
    let (endpoints, stale) = source.endpoints().await?;
    let base = endpoints.registration_for(Hive::SemVer2Gz).ok_or_else(|| {
        ApiError::NotFound(format!(
            "upstream source `{}` has no registration resource",
            source.name()
        ))
    })?;
    let mut reads = Reads {
        source,
        stale: stale || versions.stale,
        stamp: 0,
    };
    let index = reads
        .json(&format!("{base}{}/index.json", id.lower()))
        .await?;
    let mut entries = Vec::new();
    for page in index["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        // REG-5: a page is inlined, or a document of its own.
        let fetched;
        let page = match (page.get("items"), page["@id"].as_str()) {
            (Some(_), _) => page,
            (None, Some(url)) => {
                fetched = reads.json(url).await?;
                &fetched
            }
            (None, None) => continue,
        };
        let leaves = page["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        entries.extend(leaves.iter().map(|l| l["catalogEntry"].clone()));
    }
    let mut entries = serde_json::Value::Array(entries);
    let flat = urls.flat_container();
    rewrite::rebase(&mut entries, &[(&endpoints.package_base, &flat)]);
    let entries = entries.as_array().map(Vec::as_slice).unwrap_or_default();
    let records = records::from_catalog_entries(id, entries)
        .map_err(|e| ApiError::BadGateway(format!("upstream source `{}`: {e}", source.name())))?;
    Ok(Some(Listing {
        source,
        records,
        stale: reads.stale,
        stamp: reads.stamp,
    }))
}

/// The documents a listing is built from: whether any was stale, and the latest fetch time.
struct Reads<'a> {
    source: &'a Source,
    stale: bool,
    stamp: u64,
}

impl Reads<'_> {
    /// A JSON document of the upstream, through the metadata cache; its 404 is ours.
    async fn json(&mut self, url: &str) -> ApiResult<serde_json::Value> {
        let answer = self.source.document(url).await?;
        self.stale |= answer.stale;
        let fetched = u64::try_from(answer.entry.fetched.timestamp_millis()).unwrap_or_default();
        self.stamp = self.stamp.max(fetched);
        let body = answer.entry.body.as_ref().ok_or_else(ApiError::not_found)?;
        serde_json::from_slice(body).map_err(|e| {
            ApiError::BadGateway(format!(
                "upstream source `{}` sent a document that is not JSON: {e}",
                self.source.name()
            ))
        })
    }
}

/// Adds the `X-NuGet-Warning` that says `source` could not be asked and the data may be old.
pub fn warn_stale(response: &mut Response, source: &Source) {
    let text = format!(
        "The upstream source '{}' is unreachable; this data may be out of date.",
        source.name()
    );
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().insert(WARNING, value);
    }
}

/// `GET {flat}/{id}/{version}/{file}` of an upstream id: `.nupkg` and `.nuspec` (cached in
/// the bucket on first download), icon, readme and license (extracted from the cached
/// `.nupkg`). With `redirect` (redirect_downloads), a cached `.nupkg` is a redirect to a
/// pre-signed URL valid that long, as a local one is. Downloads of `.nupkg` files are counted
/// as local ones are (see [`crate::feed::downloads`]).
pub async fn file(
    s: &AppState,
    id: &PackageId,
    version: &NuGetVersion,
    kind: PackageFile,
    content_type: &'static str,
    redirect: Option<Duration>,
) -> ApiResult<Response> {
    let (source, versions) = upstream_of(s, id).await?;
    let count = || {
        if kind == PackageFile::Nupkg {
            s.feed
                .downloads()
                .record(&id.lower(), &version.lower_normalized());
        }
    };
    if let Some(ttl) = redirect.filter(|_| kind == PackageFile::Nupkg)
        && let Some(url) = source.signed_file_url(id, version, kind, ttl).await?
    {
        count();
        return Ok(response::redirect(url.as_str()));
    }
    let private = s.read_tokens.is_some();
    let limits = ReadLimits {
        max_package_bytes: s.config.max_package_bytes,
        package: &s.feed.options().limits,
    };
    let served = source
        .file(id, version, kind, limits)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut response = match served {
        Served::Stored(blob) if kind == PackageFile::Icon => icon(blob, private).await?,
        Served::Stored(blob) => response::file(blob, content_type, private),
        Served::Fetching { size, stream } => {
            response::file_stream(size, stream, content_type, private)
        }
    };
    count();
    if versions.stale {
        warn_stale(&mut response, source);
    }
    Ok(response)
}

/// An icon, typed by its first bytes: NuGet accepts PNG and JPEG icons, and an upstream
/// package's nuspec is not at hand to tell them apart by name as a local one's is.
async fn icon(blob: Blob, private: bool) -> ApiResult<Response> {
    let chunks: Vec<bytes::Bytes> = blob
        .stream
        .try_collect()
        .await
        .map_err(|e| ApiError::Unavailable(format!("reading an upstream icon failed: {e}")))?;
    let bytes = bytes::Bytes::from(chunks.concat());
    let content_type = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else {
        "image/png"
    };
    Ok(response::file_bytes(bytes, content_type, private))
}
