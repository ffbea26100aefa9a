//! Accepting connections with limits, so that slow or oversized requests cannot tie the server
//! up: HTTP/1.1 through hyper with a header read timeout (a client that does not finish its
//! request headers in time, slow-loris style, or a keep-alive connection left idle that long, is
//! disconnected) and a maximum header size (431 Request Header Fields Too Large beyond it).
//! Request bodies are limited where they are read: uploads by their size and an idle timeout
//! (`upload`), everything else by a small body limit (the router); whatever the app leaves
//! unread is drained after the answer, within a budget (`drain`), so the answer reaches the
//! client.
//!
//! This is `axum::serve` (which exposes none of these settings) with the settings, and the same
//! graceful shutdown: stop accepting, let requests in flight finish.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::drain::{self, Draining};
use super::fast_path::FastPath;

/// Largest request head (request line and headers) accepted: real clients send a few KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in a request (hyper's default).
pub const MAX_HEADERS: usize = 100;

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout: Duration,
    /// How much of a body the app left unread is read after the answer.
    pub drain: drain::Budget,
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for requests in flight;
/// the reads `fast` can answer it answers before `app`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    fast: FastPath,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // Dropping `stop_rx` (the only receiver) tells connections to finish; every connection
    // holds a clone of `done_rx`, so `done_tx.closed()` completes when the last one ends.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: back off rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = Draining::new(app.clone(), fast.clone(), limits.drain, peer);
        let stop_tx = stop_tx.clone();
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_header_size(MAX_HEADER_BYTES)
                .max_headers(MAX_HEADERS);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                () = stop_tx.closed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await);
                }
            }
            drop(done_rx);
        });
    }
    drop(stop_rx);
    drop(listener);
    drop(done_rx);
    done_tx.closed().await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        // A client that went away or was too slow: its business, not an error of ours.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
