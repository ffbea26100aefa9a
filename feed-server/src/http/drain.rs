//! Reading and discarding the rest of a request body the app left unread, so that the answer
//! (above all a refusal) reaches the client.
//!
//! Most refusals of a request with a body are made before the body is read: 401/403 for the
//! key, 404/405 for the path, 413 for a declared size, or when the counted size passes the
//! limit. hyper then stops reading and closes the connection once the answer is written; the
//! kernel, with the client's unread bytes in its receive buffer, answers the close with a reset,
//! and a client still writing its upload (NuGet.exe: "The socket has been shut down"; nginx
//! with request buffering: 502; curl: broken pipe) never reads the answer. RFC 9112 §9.6 says
//! why a server closes in stages.
//!
//! So every request body goes to the app wrapped in a `Tracked` body, which hands back
//! whatever the app did not read when it drops it. `Draining`, the service the connection
//! layer runs, then sends the answer at once (a refusal with `Connection: close`: a client that
//! watches for it may stop sending, RFC 9112 §9.6) and goes on reading the rest in the
//! background and discarding it, as nginx's lingering close does, within a [`Budget`]. hyper
//! keeps reading the connection meanwhile and closes it cleanly after the last byte (or, for
//! an answer that is not a refusal, keeps it alive). A client that keeps sending past the
//! budget is cut off with one WARN line; one that stopped sending is closed quietly.
//!
//! Bodiless requests (every read) skip all of this: they are the hot path.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use bytes::{Buf, Bytes};
use futures::future::{BoxFuture, Either};
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tower::ServiceExt;

use super::fast_path::{FastPath, Served};

/// Bytes a drain reads at most, on top of [`BUDGET_PACKAGES`] times the package limit. A refused
/// client should get its answer even when its package is many times a small limit (the issue's
/// report: 5 MB against 100 KB), and discarding costs no memory and no disk, only bandwidth.
const BUDGET_FLOOR_BYTES: u64 = 64 * 1024 * 1024;
/// How many times the package limit a drain reads at most (plus [`BUDGET_FLOOR_BYTES`]): a
/// package several times the limit still gets its 413, a client that never stops does not get
/// to use the server as a sink.
const BUDGET_PACKAGES: u64 = 4;
/// Longest pause in a drained body: nginx's `lingering_timeout`. Shorter when the upload idle
/// timeout is: a drained body need not be treated better than an upload.
const LINGERING_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest drain in all: nginx's `lingering_time`. Shorter when twice the upload idle timeout
/// is (the point where an upload must keep up a minimum rate).
const LINGERING_TIME: Duration = Duration::from_secs(30);

/// How much of an unread body is read before the connection is cut: whichever bound comes
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes read at most.
    pub max_bytes: u64,
    /// Longest wait for the next bytes.
    pub max_pause: Duration,
    /// Longest time in all, from the answer on.
    pub max_time: Duration,
}

impl Budget {
    /// The budget of a server with this package limit and upload idle timeout.
    pub fn for_limits(max_package_bytes: u64, upload_idle_timeout: Duration) -> Budget {
        Budget {
            max_bytes: max_package_bytes
                .saturating_mul(BUDGET_PACKAGES)
                .saturating_add(BUDGET_FLOOR_BYTES),
            max_pause: upload_idle_timeout.min(LINGERING_TIMEOUT),
            max_time: upload_idle_timeout.saturating_mul(2).min(LINGERING_TIME),
        }
    }
}

/// The app as hyper runs it on one connection: bodies tracked, their unread rest drained;
/// bodiless requests (reads) to the fast path.
#[derive(Clone)]
pub(crate) struct Draining {
    app: Router,
    fast: FastPath,
    budget: Budget,
    /// The client, for the log line of a cut-off.
    peer: SocketAddr,
}

impl Draining {
    pub(crate) fn new(app: Router, fast: FastPath, budget: Budget, peer: SocketAddr) -> Draining {
        Draining {
            app,
            fast,
            budget,
            peer,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Draining {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Served, BoxFuture<'static, Result<Response, Infallible>>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        if request.body().is_end_stream() {
            return Either::Left(self.fast.serve(&self.app, request.map(Body::new)));
        }
        let (app, budget) = (self.app.clone(), self.budget);
        let (parts, body) = request.into_parts();
        let exchange = Exchange {
            peer: self.peer,
            method: parts.method.clone(),
            // The path alone: a query string is the client's business (and could hold a
            // secret some client put there).
            path: parts.uri.path().to_owned(),
        };
        let (tracked, mut unread) = track(body);
        Either::Right(Box::pin(async move {
            let Ok(mut response) = app
                .oneshot(Request::from_parts(parts, Body::new(tracked)))
                .await;
            // The app has dropped the body by now, unless something it spawned still holds it
            // (then that reads it, or hyper gets it back when it is dropped).
            if let Ok(rest) = unread.try_recv() {
                let status = response.status();
                if status.is_client_error() || status.is_server_error() {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                tokio::spawn(async move {
                    let started = Instant::now();
                    let outcome = drain(rest, budget).await;
                    exchange.log(status, &outcome, budget, started.elapsed());
                });
            }
            Ok(response)
        }))
    }
}

/// A request body that hands its unread rest to the receiver [`track`] returns when dropped.
struct Tracked {
    body: Option<Incoming>,
    /// `None` once the body has ended or failed: nothing is left to hand back.
    unread: Option<oneshot::Sender<Incoming>>,
}

/// `body` as the app gets it, and where its unread rest arrives when the app drops it.
fn track(body: Incoming) -> (Tracked, oneshot::Receiver<Incoming>) {
    let (tx, rx) = oneshot::channel();
    let tracked = Tracked {
        body: Some(body),
        unread: Some(tx),
    };
    (tracked, rx)
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
            this.unread = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Dropping the body itself would make hyper close the connection with the rest unread.
        if let (Some(body), Some(unread)) = (self.body.take(), self.unread.take())
            && !body.is_end_stream()
        {
            // The receiver is gone only when the exchange was abandoned (the client left).
            let _ = unread.send(body);
        }
    }
}

/// How a drain ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The body ended: the client has sent everything and can read the answer.
    Ended { bytes: u64 },
    /// The body failed (the client closed the connection or sent a malformed chunk).
    Failed { bytes: u64 },
    /// The client was cut off: it exceeded the budget.
    Cut { bytes: u64, why: Cut },
}

/// The bound a cut-off client exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// It sent more than [`Budget::max_bytes`].
    Bytes,
    /// It paused longer than [`Budget::max_pause`].
    Pause,
    /// It was still sending after [`Budget::max_time`].
    Time,
}

impl Cut {
    fn reason(self, budget: Budget) -> String {
        match self {
            Cut::Bytes => format!("sent more than {} bytes", budget.max_bytes),
            Cut::Pause => format!("paused for more than {} ms", budget.max_pause.as_millis()),
            Cut::Time => format!(
                "was still sending after {} ms (time bound)",
                budget.max_time.as_millis()
            ),
        }
    }
}

/// Reads and discards `body` until it ends or exceeds `budget`. Dropping the body when this
/// returns early makes hyper close the connection.
async fn drain<B>(mut body: B, budget: Budget) -> Outcome
where
    B: HttpBody + Unpin,
{
    let end = Instant::now() + budget.max_time;
    let mut bytes = 0u64;
    loop {
        let wake = end.min(Instant::now() + budget.max_pause);
        let frame = match tokio::time::timeout_at(wake, body.frame()).await {
            Ok(frame) => frame,
            Err(_) if Instant::now() >= end => {
                return Outcome::Cut {
                    bytes,
                    why: Cut::Time,
                };
            }
            Err(_) => {
                return Outcome::Cut {
                    bytes,
                    why: Cut::Pause,
                };
            }
        };
        match frame {
            None => return Outcome::Ended { bytes },
            Some(Err(_)) => return Outcome::Failed { bytes },
            Some(Ok(frame)) => {
                bytes += frame.data_ref().map_or(0, |d| d.remaining() as u64);
                if bytes > budget.max_bytes {
                    return Outcome::Cut {
                        bytes,
                        why: Cut::Bytes,
                    };
                }
            }
        }
    }
}

/// What the log says about a drained request (no headers, no query: nothing secret).
struct Exchange {
    peer: SocketAddr,
    method: Method,
    path: String,
}

impl Exchange {
    fn log(&self, status: StatusCode, outcome: &Outcome, budget: Budget, took: Duration) {
        let duration_ms = took.as_millis();
        match *outcome {
            // A client that kept sending is cut off while it writes: it may never read the
            // answer, and an operator should see why.
            Outcome::Cut { bytes, why } if why != Cut::Pause => tracing::warn!(
                client.address = %self.peer,
                http.method = %self.method,
                url.path = %self.path,
                status = status.as_u16(),
                drained_bytes = bytes,
                duration_ms,
                reason = %why.reason(budget),
                "cut off a client that kept sending the body of a request already answered"
            ),
            // Anything else costs the client nothing: it finished sending, went away, or
            // stopped sending (a stalled upload's 408, most likely) and is not writing when
            // the connection closes after its answer.
            Outcome::Ended { bytes } | Outcome::Failed { bytes } | Outcome::Cut { bytes, .. } => {
                let outcome = match *outcome {
                    Outcome::Ended { .. } => "ended".to_owned(),
                    Outcome::Failed { .. } => "failed".to_owned(),
                    Outcome::Cut { why, .. } => format!("closed: {}", why.reason(budget)),
                };
                tracing::debug!(
                    client.address = %self.peer,
                    http.method = %self.method,
                    url.path = %self.path,
                    status = status.as_u16(),
                    drained_bytes = bytes,
                    duration_ms,
                    outcome,
                    "read the rest of a request body after the answer"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::{Stream, StreamExt};
    use http_body_util::StreamBody;

    use super::*;

    type Chunks = Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send>>;

    fn budget(max_bytes: u64, max_pause_ms: u64, max_time_ms: u64) -> Budget {
        Budget {
            max_bytes,
            max_pause: Duration::from_millis(max_pause_ms),
            max_time: Duration::from_millis(max_time_ms),
        }
    }

    fn chunk(n: usize) -> Result<Frame<Bytes>, std::io::Error> {
        Ok(Frame::data(Bytes::from(vec![b'x'; n])))
    }

    /// Chunks of `n` bytes, one every `every`, forever.
    fn endless(n: usize, every: Duration) -> StreamBody<Chunks> {
        let chunks = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((chunk(n), ()))
        });
        StreamBody::new(Box::pin(chunks))
    }

    #[test]
    fn the_budget_is_nginx_lingering_close_shortened_by_a_short_upload_idle_timeout() {
        let default = Budget::for_limits(262_144_000, Duration::from_secs(30));
        assert_eq!(default, budget(4 * 262_144_000 + (64 << 20), 5_000, 30_000));
        let quick = Budget::for_limits(100_000, Duration::from_millis(500));
        assert_eq!(quick, budget(400_000 + (64 << 20), 500, 1_000));
    }

    #[tokio::test]
    async fn a_body_that_ends_within_the_budget_is_read_to_its_end() {
        let chunks: Chunks = Box::pin(futures::stream::iter([chunk(10), chunk(5)]));
        let outcome = drain(StreamBody::new(chunks), budget(15, 1_000, 10_000)).await;
        assert_eq!(outcome, Outcome::Ended { bytes: 15 });
    }

    #[tokio::test]
    async fn a_failing_body_ends_the_drain() {
        let broken = Err(std::io::Error::other("reset"));
        let chunks: Chunks = Box::pin(futures::stream::iter([chunk(3), broken]));
        let outcome = drain(StreamBody::new(chunks), budget(100, 1_000, 10_000)).await;
        assert_eq!(outcome, Outcome::Failed { bytes: 3 });
    }

    #[tokio::test]
    async fn a_body_past_the_byte_budget_is_cut() {
        let outcome = drain(
            endless(1000, Duration::ZERO),
            budget(10_500, 10_000, 60_000),
        )
        .await;
        assert_eq!(
            outcome,
            Outcome::Cut {
                bytes: 11_000,
                why: Cut::Bytes
            }
        );
    }

    #[tokio::test]
    async fn a_paused_body_is_cut() {
        let chunks: Chunks =
            Box::pin(futures::stream::iter([chunk(7)]).chain(futures::stream::pending()));
        let outcome = drain(StreamBody::new(chunks), budget(100, 50, 60_000)).await;
        assert_eq!(
            outcome,
            Outcome::Cut {
                bytes: 7,
                why: Cut::Pause
            }
        );
    }

    #[tokio::test]
    async fn a_trickle_that_never_pauses_is_cut_at_the_time_bound() {
        let outcome = drain(
            endless(1, Duration::from_millis(5)),
            budget(1 << 30, 10_000, 200),
        )
        .await;
        assert!(
            matches!(outcome, Outcome::Cut { why: Cut::Time, bytes } if bytes > 0),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_cut_names_the_bound_that_was_passed() {
        let b = budget(67_508_864, 5_000, 30_000);
        assert_eq!(Cut::Bytes.reason(b), "sent more than 67508864 bytes");
        assert_eq!(Cut::Pause.reason(b), "paused for more than 5000 ms");
        assert_eq!(
            Cut::Time.reason(b),
            "was still sending after 30000 ms (time bound)"
        );
    }
}
