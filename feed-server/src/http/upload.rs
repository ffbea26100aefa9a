//! Receiving a pushed package: multipart (PUB-1/2, the first part is the package, chunked,
//! quoted boundaries) or a raw body (PUB-7), streamed to a temp file with the size limit enforced
//! as bytes arrive (PUB-8: 413, never a 5xx), so memory does not grow with upload size.
//!
//! A client that stops sending, or sends too slowly to be a real upload, gets 408 instead of
//! holding a connection and a temp file for as long as it likes: no pause may exceed the idle
//! timeout, and once twice that has passed the upload must average [`MIN_BYTES_PER_SECOND`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;
use crate::config::Config;

/// Slowest average an upload may keep up once twice the idle timeout has passed.
pub const MIN_BYTES_PER_SECOND: u64 = 1024;

/// Prefix of upload temp files (see [`remove_stale_uploads`]).
const TEMP_PREFIX: &str = "upload-";

/// Why reading the body stopped early.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the upload paused for more than {} s: send the package without pauses", .0.as_secs_f32())]
    Idle(Duration),
    #[error("the upload is slower than {MIN_BYTES_PER_SECOND} bytes per second")]
    TooSlow,
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("the multipart body has more than {MAX_PREAMBLE_BYTES} bytes before the package")]
    Preamble,
}

/// Most bytes a multipart body may have before its first part's content (boundary, part
/// headers): multer keeps them in memory until the headers end.
const MAX_PREAMBLE_BYTES: u64 = 1024 * 1024;

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> ApiError {
        match e {
            BodyError::Idle(_) | BodyError::TooSlow => ApiError::Timeout(e.to_string()),
            BodyError::Interrupted(_) | BodyError::Preamble => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// Writes the package in `body` to a new file in the configured temp folder.
pub async fn receive(
    headers: &HeaderMap,
    body: Body,
    config: &Config,
) -> Result<TempPath, ApiError> {
    let limit = config.max_package_bytes;
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
        .prefix(TEMP_PREFIX)
        .suffix(".nupkg")
        .tempfile_in(&config.temp_dir)
        .map_err(|e| ApiError::Internal(format!("cannot create a temp file: {e}")))?;
    let (std_file, path) = file.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let idle = Duration::from_millis(config.upload_idle_timeout_ms);
    let stream = paced(body.into_data_stream(), idle);
    let written = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = multer::parse_boundary(content_type)
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart Content-Type: {e}")))?;
        // Counts what multer reads until it finds the first part's content.
        let preamble = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&preamble);
        let stream = stream.map(move |chunk| {
            let chunk = chunk?;
            let read = counter.load(Ordering::Relaxed);
            if read != u64::MAX {
                let read = read + chunk.len() as u64;
                if read > MAX_PREAMBLE_BYTES {
                    return Err(BodyError::Preamble);
                }
                counter.store(read, Ordering::Relaxed);
            }
            Ok(chunk)
        });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut field = multipart
            .next_field()
            .await
            .map_err(multipart_error)?
            .ok_or_else(|| ApiError::BadRequest("the multipart body has no part".into()))?;
        preamble.store(u64::MAX, Ordering::Relaxed);
        let mut written = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
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

/// A multipart error: ours (too slow) when the body stream failed, else a malformed body.
fn multipart_error(e: multer::Error) -> ApiError {
    if let multer::Error::StreamReadFailed(source) = e {
        return match source.downcast::<BodyError>() {
            Ok(body) => ApiError::from(*body),
            Err(other) => ApiError::BadRequest(format!("the upload was interrupted: {other}")),
        };
    }
    ApiError::BadRequest(format!("malformed multipart body: {e}"))
}

/// The body's chunks, failing when the client pauses longer than `idle` or, after `2 * idle`,
/// averages less than [`MIN_BYTES_PER_SECOND`].
fn paced<S, E>(stream: S, idle: Duration) -> impl Stream<Item = Result<Bytes, BodyError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    let start = Instant::now();
    futures::stream::unfold(
        (stream, 0u64, false),
        move |(mut stream, received, failed)| async move {
            if failed {
                return None;
            }
            let next = match tokio::time::timeout(idle, stream.next()).await {
                Err(_) => Err(BodyError::Idle(idle)),
                Ok(None) => return None,
                Ok(Some(Err(e))) => Err(BodyError::Interrupted(e.to_string())),
                Ok(Some(Ok(chunk))) => Ok(chunk),
            };
            let received = received + next.as_ref().map_or(0, |c| c.len() as u64);
            let elapsed = start.elapsed();
            let next = match next {
                Ok(_)
                    if elapsed > idle * 2
                        && (received as f64)
                            < MIN_BYTES_PER_SECOND as f64 * elapsed.as_secs_f64() =>
                {
                    Err(BodyError::TooSlow)
                }
                other => other,
            };
            let failed = next.is_err();
            Some((next, (stream, received, failed)))
        },
    )
}

/// Copies at most `limit` bytes; `None` when the stream had more.
async fn copy_limited<S>(
    stream: S,
    out: &mut tokio::fs::File,
    limit: u64,
) -> Result<Option<u64>, ApiError>
where
    S: Stream<Item = Result<Bytes, BodyError>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
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

/// Removes upload temp files older than ten minutes from `dir`: a process killed mid-upload
/// leaves its file behind. An upload in progress writes to its file at least every idle
/// timeout, and a finished one is read into memory before the push stores anything, so an old
/// file is nobody's.
pub fn remove_stale_uploads(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let cutoff = SystemTime::now() - Duration::from_secs(600);
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < cutoff);
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!(path = %entry.path().display(), "removed an abandoned upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_paused_body_fails_with_idle() {
        let chunks = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"abc"))])
            .chain(futures::stream::pending());
        let mut stream = std::pin::pin!(paced(Box::pin(chunks), Duration::from_millis(50)));
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        assert!(matches!(stream.next().await, Some(Err(BodyError::Idle(_)))));
        assert!(stream.next().await.is_none(), "nothing after the failure");
    }

    #[tokio::test]
    async fn a_trickle_fails_as_too_slow_after_twice_the_idle_timeout() {
        // One byte every 20 ms never pauses 50 ms, but averages 50 bytes/s.
        let chunks = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
        });
        let stream = paced(Box::pin(chunks), Duration::from_millis(50));
        let results: Vec<_> = stream.take(100).collect().await;
        assert!(
            matches!(results.last(), Some(Err(BodyError::TooSlow))),
            "{results:?}"
        );
        assert!(
            results.len() < 20,
            "cut soon after 100 ms: {}",
            results.len()
        );
    }
}
