//! PackageBaseAddress (PBA-1..6): version lists and package files.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::TryStreamExt;

use super::{read_path, upstream};
use crate::api::flat_container;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::http::response::{self, Download};
use crate::http::state::AppState;
use crate::package::PackageId;
use crate::storage::PackageFile;

/// How long a pre-signed download URL is valid (`redirect_downloads`): a client follows the
/// redirect at once, and an object store checks the expiry only when the download starts.
const REDIRECT_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// `GET {flat}/{id}/index.json`: 404 for an unknown id (PBA-2).
pub async fn versions(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = PackageId::parse(&id).map_err(|_| ApiError::not_found())?;
    let lower = id.lower();
    let stamp = s.feed.state().package(&lower).map(|r| r.last_seq);
    let Some(stamp) = stamp else {
        return upstream::versions(&s, &id, &headers).await;
    };
    // The version list has no URLs in it: one entry serves every base URL.
    let key = cache::key(&["flatcontainer", &lower]);
    let render = async {
        // Rendered from the state now, at the stamp read above or a newer one (then the next
        // request renders again).
        let record = s.feed.state().package(&lower).cloned();
        Ok(record.as_deref().and_then(flat_container::render_versions))
    };
    response::serve(
        &s,
        &headers,
        key,
        stamp,
        s.doc_options(false).reusable(),
        render,
    )
    .await
}

/// `GET {flat}/{id}/{version}/{file}` where file is `{id}.{version}.nupkg`, `{id}.nuspec`,
/// `icon`, `readme` or `license`; ids and versions in any case and form (N-1, N-7).
pub async fn file(
    State(s): State<AppState>,
    Path((id, version, file)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (pid, v) = read_path(&id, &version)?;
    let lower_id = pid.lower();
    let name = file.to_ascii_lowercase();
    let versions_in_name = [v.lower_normalized(), version.to_ascii_lowercase()];
    let (kind, content_type) = if versions_in_name
        .iter()
        .any(|ver| name == format!("{lower_id}.{ver}.nupkg"))
    {
        (PackageFile::Nupkg, "application/octet-stream")
    } else if name == format!("{lower_id}.nuspec") {
        (PackageFile::Nuspec, "application/xml")
    } else {
        match name.as_str() {
            "icon" => (PackageFile::Icon, "image/png"),
            "readme" => (PackageFile::Readme, "text/markdown; charset=utf-8"),
            "license" => (PackageFile::License, "text/plain; charset=utf-8"),
            _ => return Err(ApiError::not_found()),
        }
    };
    let content_type = if kind == PackageFile::Icon {
        icon_type(&s, &pid, &v)
    } else {
        content_type
    };
    let private = s.read_tokens.is_some();
    // A version's files never change; its push event names them (see `cache::FileCache`).
    let push_seq = s.feed.state().version(&pid, &v).map(|r| r.push_seq);
    let Some(push_seq) = push_seq else {
        // Not a version here: an upstream's, if the id is not local (else 404 there).
        let redirect = s.config.redirect_downloads.then_some(REDIRECT_TTL);
        return upstream::file(&s, &pid, &v, kind, content_type, redirect).await;
    };
    if s.config.redirect_downloads && kind == PackageFile::Nupkg {
        // The store serves the bytes; a signed URL lives long enough to start a download.
        let url = s.feed.signed_file_url(&pid, &v, kind, REDIRECT_TTL).await?;
        if let Some(url) = url {
            s.feed.downloads().record(&lower_id, &v.lower_normalized());
            return Ok(response::redirect(url.as_str()));
        }
    }
    let key = format!("{push_seq}/{kind:?}");
    // A download is counted here, and again by the fast path each time it repeats the answer.
    let download = (kind == PackageFile::Nupkg).then(|| Download {
        lower_id,
        lower_version: v.lower_normalized(),
    });
    let count = |download: &Option<Download>| {
        if let Some(d) = download {
            s.feed.downloads().record(&d.lower_id, &d.lower_version);
        }
    };
    if let Some(bytes) = s.files.get(&key) {
        count(&download);
        return Ok(response::cached_file(
            bytes,
            content_type,
            private,
            download,
        ));
    }
    let blob = s
        .feed
        .open_file(&pid, &v, kind)
        .await?
        .ok_or_else(ApiError::not_found)?;
    count(&download);
    if blob.size > cache::MAX_CACHED_FILE_BYTES {
        return Ok(response::file(blob, content_type, private));
    }
    // Small: read it whole (it is at most a few chunks) and keep it for the next restore.
    let chunks: Vec<bytes::Bytes> = blob
        .stream
        .try_collect()
        .await
        .map_err(|e| ApiError::Unavailable(format!("reading {key} failed: {e}")))?;
    let bytes = match <[_; 1]>::try_from(chunks) {
        Ok([one]) => one,
        Err(chunks) => bytes::Bytes::from(chunks.concat()),
    };
    s.files.insert(key, bytes.clone());
    Ok(response::cached_file(
        bytes,
        content_type,
        private,
        download,
    ))
}

/// Icons are PNG or JPEG (the only types NuGet accepts), named by the nuspec's icon path.
fn icon_type(s: &AppState, id: &PackageId, version: &crate::package::NuGetVersion) -> &'static str {
    let jpeg = s
        .feed
        .state()
        .version(id, version)
        .is_some_and(|v| v.icon_jpeg);
    if jpeg { "image/jpeg" } else { "image/png" }
}
