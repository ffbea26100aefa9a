//! How documents and files go out: JSON with a strong ETag and `If-None-Match` -> 304, gzip when
//! the client accepts it (always for the gzip registration hives, REG-1), and cache headers that
//! let proxies revalidate documents and keep package files forever. Documents from the
//! document cache ([`super::cache`], which only holds bytes) go out as the bytes it holds,
//! already compressed; [`serve`] renders and caches a document the cache lacks.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;

use super::cache::{CachedDoc, Weigh, gzip};
use super::error::{ApiError, ApiResult};
use super::metrics::RouteLabel;
use super::state::AppState;
use crate::storage::Blob;

/// The content type of every JSON document.
pub const JSON: &str = "application/json; charset=utf-8";

/// Documents change with the feed: caches must revalidate (cheap with the ETag).
const DOCUMENT_CACHE: &str = "no-cache";
/// Package files never change under their URL.
const FILE_CACHE: &str = "public, max-age=31536000, immutable";
/// Read-protected feeds must not be cached by shared proxies.
const PRIVATE_DOCUMENT_CACHE: &str = "private, no-cache";
const PRIVATE_FILE_CACHE: &str = "private, max-age=31536000, immutable";

/// Whether `headers` accept a gzip response.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether `request` already holds the representation tagged `etag` (`If-None-Match`).
pub(crate) fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// Options for one JSON document.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocOptions {
    /// Always gzip (the `registration-gz*` hives), whatever the client asked.
    pub always_gzip: bool,
    /// The feed is read-protected.
    pub private: bool,
    /// The answer depends on nothing but the request's path and query, the headers the fast
    /// path keys on and the feed's state, so the fast path ([`super::fast_path`]) may repeat
    /// it.
    pub reuse: bool,
    /// A V2 (OData) document: it goes out with `DataServiceVersion: 2.0;`.
    pub odata: bool,
}

impl DocOptions {
    /// These options for a document the fast path may repeat (see [`DocOptions::reuse`]).
    pub fn reusable(self) -> DocOptions {
        DocOptions {
            reuse: true,
            ..self
        }
    }
}

/// How a cached document or package file was answered, kept on the response of one the fast
/// path may repeat ([`super::fast_path`]), so it can answer the same request again the same
/// way.
#[derive(Debug, Clone)]
pub struct Reusable(Kept);

#[derive(Debug, Clone)]
enum Kept {
    Doc {
        doc: Arc<CachedDoc>,
        opts: DocOptions,
        gzip: bool,
        content_type: &'static str,
    },
    File {
        bytes: bytes::Bytes,
        content_type: &'static str,
        private: bool,
        download: Option<Arc<Download>>,
    },
}

/// A package download, counted again each time its answer is repeated.
#[derive(Debug)]
pub struct Download {
    pub lower_id: String,
    pub lower_version: String,
}

impl Reusable {
    /// The answer to a request with these headers: the document (or 304), or the file.
    pub fn answer(&self, request: &HeaderMap) -> Response {
        match &self.0 {
            Kept::Doc {
                doc,
                opts,
                gzip,
                content_type,
            } => cached_as(request, doc, *opts, *gzip, content_type),
            Kept::File {
                bytes,
                content_type,
                private,
                ..
            } => file_bytes(bytes.clone(), content_type, *private),
        }
    }

    /// What holding it costs (its document's weight in the document cache, or the file's
    /// size).
    pub fn weight(&self) -> usize {
        match &self.0 {
            Kept::Doc { doc, .. } => doc.weight(),
            Kept::File { bytes, .. } => bytes.len(),
        }
    }

    /// Whether it is a package file rather than a document.
    pub fn is_file(&self) -> bool {
        matches!(self.0, Kept::File { .. })
    }

    /// The download each repeat counts, for a `.nupkg`.
    pub fn download(&self) -> Option<&Download> {
        match &self.0 {
            Kept::File { download, .. } => download.as_deref(),
            Kept::Doc { .. } => None,
        }
    }

    /// `response`, marked as an answer the fast path may repeat.
    fn mark(self, mut response: Response) -> Response {
        let extensions = response.extensions_mut();
        extensions.insert(self);
        // The metrics middleware names the route it counts the request under, so that the
        // fast path counts its repeats alike.
        extensions.insert(RouteLabel::default());
        response
    }
}

/// A JSON document response.
pub fn json(request: &HeaderMap, value: &impl serde::Serialize, opts: DocOptions) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => document(request, body, JSON, opts),
        Err(e) => ApiError::Internal(format!("cannot serialize a document: {e}")).into_response(),
    }
}

/// Smallest answer worth compressing: below it gzip saves a few hundred bytes at most, while
/// setting up a compressor costs more CPU than rendering a page of autocomplete.
const GZIP_MIN_BYTES: usize = 1024;

/// A document response from bytes already rendered.
pub fn document(
    request: &HeaderMap,
    body: Vec<u8>,
    content_type: &'static str,
    opts: DocOptions,
) -> Response {
    // Only search and autocomplete answers come here: they follow download counts and are
    // rendered per request, so they carry no validator (hashing each would cost more than a
    // client could save by revalidating: NuGet clients keep them by URL for 30 minutes).
    let gzip = opts.always_gzip || (body.len() >= GZIP_MIN_BYTES && accepts_gzip(request));
    let cache = if opts.private {
        PRIVATE_DOCUMENT_CACHE
    } else {
        DOCUMENT_CACHE
    };
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if !opts.always_gzip {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let body = if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        self::gzip(&body, Compression::fast())
    } else {
        body
    };
    (StatusCode::OK, headers, body).into_response()
}

/// Whether a document goes out gzipped to the client that sent `request`.
fn sends_gzip(request: &HeaderMap, opts: DocOptions) -> bool {
    opts.always_gzip || accepts_gzip(request)
}

/// A cached JSON document: its gzip bytes (or, for a client that does not take gzip and a
/// document not bound to it, the identity bytes) with their ETag, or 304.
pub fn cached(request: &HeaderMap, doc: &CachedDoc, opts: DocOptions) -> Response {
    cached_as(request, doc, opts, sends_gzip(request, opts), JSON)
}

/// [`cached`] with the encoding chosen, for a document of `content_type` (JSON, or the V2
/// feed's XML).
fn cached_as(
    request: &HeaderMap,
    doc: &CachedDoc,
    opts: DocOptions,
    gzip: bool,
    content_type: &'static str,
) -> Response {
    let etag = if gzip { &doc.etag_gzip } else { &doc.etag };
    let mut headers = HeaderMap::with_capacity(7);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if opts.private {
            PRIVATE_DOCUMENT_CACHE
        } else {
            DOCUMENT_CACHE
        }),
    );
    if !opts.always_gzip {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    headers.insert(header::ETAG, etag.clone());
    if opts.odata {
        headers.insert("DataServiceVersion", HeaderValue::from_static("2.0;"));
    }
    if etag.to_str().is_ok_and(|e| if_none_match(request, e)) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let body = if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        doc.gzip.clone()
    } else {
        doc.identity()
    };
    (StatusCode::OK, headers, body).into_response()
}

/// A stored file, streamed as it is read.
pub fn file(blob: Blob, content_type: &'static str, private: bool) -> Response {
    file_stream(Some(blob.size), blob.stream, content_type, private)
}

/// A file streamed as it arrives (`size` when known): an error in `stream` closes the
/// connection before the response is complete, so the client sees a broken download.
pub fn file_stream(
    size: Option<u64>,
    stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
    content_type: &'static str,
    private: bool,
) -> Response {
    let headers = file_headers(content_type, size, private);
    (StatusCode::OK, headers, Body::from_stream(stream)).into_response()
}

/// A redirect (302, G-3: clients follow it) to where the file can be downloaded for a while,
/// e.g. a pre-signed URL of the store: never cached, since the URL expires.
pub fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => {
            let mut headers = HeaderMap::with_capacity(2);
            headers.insert(header::LOCATION, location);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            (StatusCode::FOUND, headers).into_response()
        }
        Err(_) => ApiError::Internal(format!("cannot redirect to {location}")).into_response(),
    }
}

/// A stored file of a local package version from the file cache, which the fast path may
/// repeat (counting `download` each time, for a `.nupkg`): a version's files never change,
/// and the fast path retires its answers when the feed changes.
pub fn cached_file(
    bytes: bytes::Bytes,
    content_type: &'static str,
    private: bool,
    download: Option<Download>,
) -> Response {
    let response = file_bytes(bytes.clone(), content_type, private);
    Reusable(Kept::File {
        bytes,
        content_type,
        private,
        download: download.map(Arc::new),
    })
    .mark(response)
}

/// A stored file already in memory (the file cache).
pub fn file_bytes(bytes: bytes::Bytes, content_type: &'static str, private: bool) -> Response {
    let headers = file_headers(content_type, Some(bytes.len() as u64), private);
    (StatusCode::OK, headers, bytes).into_response()
}

fn file_headers(content_type: &'static str, size: Option<u64>, private: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private {
            PRIVATE_FILE_CACHE
        } else {
            FILE_CACHE
        }),
    );
    headers
}

/// Serves the document named `key` as of `stamp` from the cache, or awaits `render` (`None`:
/// 404, not cached), caches the result and serves it.
pub async fn serve(
    s: &AppState,
    request: &HeaderMap,
    key: String,
    stamp: u64,
    opts: DocOptions,
    render: impl Future<Output = ApiResult<Option<serde_json::Value>>>,
) -> ApiResult<Response> {
    let render = async {
        let Some(value) = render.await? else {
            return Ok(None);
        };
        serde_json::to_vec(&value)
            .map(Some)
            .map_err(|e| ApiError::Internal(format!("cannot serialize a document: {e}")))
    };
    serve_bytes(s, request, key, stamp, opts, JSON, render).await
}

/// As [`serve`], for a document `render` writes as bytes of `content_type` (the V2 feed's
/// XML, which is not JSON).
pub async fn serve_bytes(
    s: &AppState,
    request: &HeaderMap,
    key: String,
    stamp: u64,
    opts: DocOptions,
    content_type: &'static str,
    render: impl Future<Output = ApiResult<Option<Vec<u8>>>>,
) -> ApiResult<Response> {
    let gzip = sends_gzip(request, opts);
    let doc = match s.cache.get(&key, stamp) {
        Some(doc) if gzip || doc.has_identity() => doc,
        // The first client without gzip since the document was cached: from now on the
        // cache keeps its identity body as well.
        Some(doc) => s.cache.insert(key, doc.with_identity(), true),
        None => {
            let body = render.await?.ok_or_else(ApiError::not_found)?;
            s.cache.insert(key, CachedDoc::new(stamp, body), !gzip)
        }
    };
    let answered = Reusable(Kept::Doc {
        doc,
        opts,
        gzip,
        content_type,
    });
    let response = answered.answer(request);
    Ok(if opts.reuse {
        answered.mark(response)
    } else {
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn gzip_negotiation_respects_q_zero() {
        assert!(accepts_gzip(&req(&[("accept-encoding", "gzip, deflate")])));
        assert!(accepts_gzip(&req(&[(
            "accept-encoding",
            "br;q=1, GZIP;q=0.5"
        )])));
        assert!(!accepts_gzip(&req(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&req(&[])));
    }

    #[test]
    fn matching_etag_gives_304_and_representations_differ() {
        let doc = CachedDoc::new(1, br#"{"a":1}"#.to_vec());
        let plain = cached(&req(&[]), &doc, DocOptions::default());
        let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
        let gz = cached(
            &req(&[("accept-encoding", "gzip")]),
            &doc,
            DocOptions::default(),
        );
        assert_ne!(gz.headers()[header::ETAG].to_str().unwrap(), etag);
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let again = cached(
            &req(&[("if-none-match", "\"x\"")]),
            &doc,
            DocOptions::default(),
        );
        assert_eq!(again.status(), StatusCode::OK);
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag.parse().unwrap());
        assert_eq!(
            cached(&h, &doc, DocOptions::default()).status(),
            StatusCode::NOT_MODIFIED
        );
        // Search answers: gzip when asked and worth it, no validator.
        let gzip = req(&[("accept-encoding", "gzip")]);
        let big = serde_json::json!({"data": "x".repeat(GZIP_MIN_BYTES)});
        let search = json(&gzip, &big, DocOptions::default());
        assert_eq!(search.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(search.headers().get(header::ETAG).is_none());
        let small = json(&gzip, &serde_json::json!({"a": 1}), DocOptions::default());
        assert!(small.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(small.headers()[header::VARY], "Accept-Encoding");
    }
}
