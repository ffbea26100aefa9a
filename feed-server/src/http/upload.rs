//! Receiving a pushed package: multipart (PUB-1/2, the first part is the package, chunked,
//! quoted boundaries) or a raw body (PUB-7), streamed to a temp file with the size limit enforced
//! as bytes arrive (PUB-8: 413, never a 5xx), so memory does not grow with upload size.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures::{Stream, StreamExt};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;

/// Writes the package in `body` to a new file in `temp_dir`.
pub async fn receive(
    headers: &HeaderMap,
    body: Body,
    temp_dir: &std::path::Path,
    limit: u64,
) -> Result<TempPath, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the package file exceeds the size limit of {limit} bytes"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A multipart body carries some framing around the package: allow for it.
    if declared.is_some_and(|n| n > limit.saturating_add(64 * 1024)) {
        return Err(too_large());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let file = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(".nupkg")
        .tempfile_in(temp_dir)
        .map_err(|e| ApiError::Internal(format!("cannot create a temp file: {e}")))?;
    let (std_file, path) = file.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let stream = body.into_data_stream();
    let written = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = multer::parse_boundary(content_type)
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart Content-Type: {e}")))?;
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?
            .ok_or_else(|| ApiError::BadRequest("the multipart body has no part".into()))?;
        let mut written = 0u64;
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?
        {
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_large());
            }
            write(&mut out, &chunk).await?;
        }
        written
    } else {
        copy_limited(stream, &mut out, limit)
            .await?
            .ok_or_else(too_large)?
    };
    if written == 0 {
        return Err(ApiError::BadRequest(
            "the request contains no package".into(),
        ));
    }
    out.flush()
        .await
        .map_err(|e| ApiError::Internal(format!("cannot write the upload: {e}")))?;
    Ok(path)
}

/// Copies at most `limit` bytes; `None` when the stream had more.
async fn copy_limited<S, E>(
    mut stream: S,
    out: &mut tokio::fs::File,
    limit: u64,
) -> Result<Option<u64>, ApiError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the upload was interrupted: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            return Ok(None);
        }
        write(out, &chunk).await?;
    }
    Ok(Some(written))
}

async fn write(out: &mut tokio::fs::File, chunk: &[u8]) -> Result<(), ApiError> {
    out.write_all(chunk)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot write the upload: {e}")))
}
