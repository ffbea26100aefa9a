//! The fast path: a cached protocol document asked for again is answered before the router,
//! by repeating the answer the router gave the same request.
//!
//! Why: a restore asks for the same few documents thousands of times, and once they are
//! cached the router's layers cost more than the answer. Measured with the single-URL bench
//! (`bench/src/single.rs`, perf): our own layers took 12-14% of the CPU of a cached read
//! (metrics middleware 4%, base URL 2-3%, routing 2.6%, cache key and lookup 2.4%, tracing
//! span 1%), and the server reached 0.40-0.56x nginx. The README's "Performance" section has
//! the figures with the fast path.
//!
//! How it stays the same answer: a handler marks the answer of a document that depends on nothing
//! but the path, a few headers and the feed's state ([`DocOptions::reuse`]: the service index,
//! flat-container indexes, registration indexes, pages and leaves of local packages; V2 documents
//! of local packages, by path and query), and of a local package's file from the file cache
//! ([`response::cached_file`]: a `.nupkg` repeated is counted as a download, as the router counts
//! it). The fast path keeps it under the method, the path and the raw values of every header those
//! handlers read to choose it (the encoding, and the base URL's `Host`, `Forwarded` and
//! `X-Forwarded-*`), with the feed's event sequence at the time. It repeats it for a request with
//! the same key while the feed's sequence has not moved, building it exactly as the router did
//! ([`Reusable::answer`]: the request's own `If-None-Match` decides 200 or 304), plus what the
//! router adds (`Content-Length`, no body for HEAD). Everything else takes the router: other
//! methods, requests with a body or a header sent twice, a refused read token (so the 401 and its
//! text stay the router's), and any request while DEBUG tracing of requests is on (so the span and
//! TraceLayer's events are logged as before). Repeats are counted in the metrics under the route
//! label the router's request was counted under, with counters resolved once per answer.
//!
//! [`DocOptions::reuse`]: super::response::DocOptions::reuse
//! [`response::cached_file`]: super::response::cached_file

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::future::{BoxFuture, Either, Ready, ready};
use hyper::body::Body as HttpBody;
use tower::ServiceExt;
use tower::util::Oneshot;
use tracing::Level;

use super::metrics::{RouteHandles, RouteLabel};
use super::read_refusal;
use super::response::Reusable;
use super::state::AppState;

/// Every header a reusable document's handler reads to choose its answer, besides
/// `If-None-Match` (evaluated per request) and `Authorization` (verified per request).
static KEYED: [HeaderName; 7] = [
    header::ACCEPT_ENCODING,
    header::HOST,
    header::FORWARDED,
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
];

/// Most documents kept: a restore's documents, many times over. Past it (or [`MAX_BYTES`])
/// the memory starts again empty; clients with ever new `Host` headers only cost themselves
/// the router.
const MAX_ANSWERS: usize = 4096;
/// Most bytes of documents the answers hold (they share them with the document cache, but
/// may outlive an evicted entry there).
const MAX_BYTES: usize = 32 * 1024 * 1024;
/// Most bytes of package files the answers hold (shared with the file cache likewise). Past
/// it no more files are kept until the feed changes: a restore of many packages must not
/// empty the memory of documents again and again.
const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// What [`FastPath::serve`] returns: an answer at once, or the router's.
pub(crate) type Served = Either<
    Ready<Result<Response, Infallible>>,
    Either<Oneshot<Router, Request>, BoxFuture<'static, Result<Response, Infallible>>>,
>;

/// The fast path of one server: cheap to clone (one reference count).
#[derive(Clone)]
pub struct FastPath(Arc<Inner>);

struct Inner {
    state: AppState,
    memo: RwLock<Memo>,
    hasher: RandomState,
}

/// The answers kept, all of one feed sequence.
#[derive(Default)]
struct Memo {
    seq: u64,
    /// Documents kept, and their bytes.
    docs: usize,
    bytes: usize,
    file_bytes: usize,
    /// By the hash of their key; a key is compared in full before an answer is repeated.
    answers: HashMap<u64, Arc<Answer>>,
}

/// What a request is answered by: the raw values of the [`KEYED`] headers in order.
#[derive(Debug)]
struct Key {
    head: bool,
    path: Box<str>,
    values: [Option<HeaderValue>; KEYED.len()],
}

impl Key {
    fn is(&self, head: bool, path: &str, values: &[Option<&[u8]>; KEYED.len()]) -> bool {
        self.head == head
            && *self.path == *path
            && self
                .values
                .iter()
                .zip(values)
                .all(|(kept, sent)| kept.as_ref().map(HeaderValue::as_bytes) == *sent)
    }

    fn method(&self) -> &'static str {
        if self.head { "HEAD" } else { "GET" }
    }
}

/// An answer to repeat, and the metrics it is counted in.
struct Answer {
    key: Key,
    reusable: Reusable,
    /// The route label the router counted it under.
    route: MatchedPath,
    ok: OnceLock<RouteHandles>,
    not_modified: OnceLock<RouteHandles>,
}

/// A request the router answers, to be remembered if its answer is reusable.
struct Ticket {
    hash: u64,
    /// The feed's sequence before the router looked at the request: an answer is repeated
    /// only while it is still the feed's.
    seq: u64,
    key: Key,
}

enum Lookup {
    Hit(Response),
    Miss(Ticket),
    Pass,
}

impl FastPath {
    pub fn new(state: AppState) -> FastPath {
        FastPath(Arc::new(Inner {
            state,
            memo: RwLock::default(),
            hasher: RandomState::new(),
        }))
    }

    /// Answers a bodiless `request`: from the answers kept, or by `app` (then keeps its
    /// answer if it may be repeated).
    pub(crate) fn serve(&self, app: &Router, request: Request) -> Served {
        match self.lookup(&request) {
            Lookup::Hit(response) => Either::Left(ready(Ok(response))),
            Lookup::Pass => Either::Right(Either::Left(app.clone().oneshot(request))),
            Lookup::Miss(ticket) => {
                let (app, fast) = (app.clone(), self.clone());
                Either::Right(Either::Right(Box::pin(async move {
                    let Ok(response) = app.oneshot(request).await;
                    fast.learn(ticket, &response);
                    Ok(response)
                })))
            }
        }
    }

    fn lookup(&self, request: &Request) -> Lookup {
        let head = match *request.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return Lookup::Pass,
        };
        let headers = request.headers();
        // A header sent twice would need each reader's rule for repeats: the router's.
        if headers.len() != headers.keys_len() || traced() {
            return Lookup::Pass;
        }
        let values = KEYED
            .each_ref()
            .map(|name| headers.get(name).map(HeaderValue::as_bytes));
        // With the query: V2 documents are chosen by theirs.
        let uri = request.uri();
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let hash = self.0.hasher.hash_one((head, path, &values));
        let state = &self.0.state;
        let seq = state.feed.state().seq();
        let kept = {
            let memo = self.0.memo.read().unwrap_or_else(PoisonError::into_inner);
            (memo.seq == seq)
                .then(|| memo.answers.get(&hash).cloned())
                .flatten()
        };
        match kept {
            Some(answer) if answer.key.is(head, path, &values) => {
                let refused = state
                    .read_tokens
                    .as_ref()
                    .is_some_and(|tokens| read_refusal(tokens, headers).is_some());
                if refused {
                    return Lookup::Pass;
                }
                Lookup::Hit(self.repeat(&answer, headers))
            }
            _ => Lookup::Miss(Ticket {
                hash,
                seq,
                key: Key {
                    head,
                    path: path.into(),
                    values: KEYED.each_ref().map(|name| headers.get(name).cloned()),
                },
            }),
        }
    }

    /// The answer to a request with these headers, counted.
    fn repeat(&self, answer: &Answer, headers: &HeaderMap) -> Response {
        let started = Instant::now();
        let mut response = answer.reusable.answer(headers);
        // What axum's router adds to the answer of every route.
        if !response.headers().contains_key(header::CONTENT_LENGTH)
            && let Some(length) = response.body().size_hint().exact()
        {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if answer.key.head {
            *response.body_mut() = Body::empty();
        }
        if let Some(download) = answer.reusable.download() {
            let downloads = self.0.state.feed.downloads();
            downloads.record(&download.lower_id, &download.lower_version);
        }
        let status = response.status();
        let counted = match status {
            StatusCode::OK => &answer.ok,
            StatusCode::NOT_MODIFIED => &answer.not_modified,
            // `Reusable::answer` gives no other status.
            _ => return response,
        };
        // Resolved at the first repeat with this status, so the metrics show no line for a
        // status never sent.
        let metrics = &self.0.state.metrics;
        counted
            .get_or_init(|| {
                metrics.route(answer.route.as_str(), answer.key.method(), status.as_u16())
            })
            .observe(started.elapsed().as_secs_f64());
        response
    }

    /// Keeps the router's answer to a ticket's request, if it may be repeated.
    fn learn(&self, ticket: Ticket, response: &Response) {
        let extensions = response.extensions();
        let (Some(reusable), Some(RouteLabel(Some(route)))) =
            (extensions.get::<Reusable>(), extensions.get::<RouteLabel>())
        else {
            return;
        };
        let answer = Arc::new(Answer {
            key: ticket.key,
            reusable: reusable.clone(),
            route: route.clone(),
            ok: OnceLock::new(),
            not_modified: OnceLock::new(),
        });
        let mut memo = self.0.memo.write().unwrap_or_else(PoisonError::into_inner);
        if ticket.seq < memo.seq {
            // The feed moved on while the router answered: the answer may be outdated.
            return;
        }
        let weight = answer.reusable.weight();
        let full = if answer.reusable.is_file() {
            if memo.file_bytes + weight > MAX_FILE_BYTES {
                return;
            }
            false
        } else {
            memo.docs >= MAX_ANSWERS || memo.bytes + weight > MAX_BYTES
        };
        if ticket.seq > memo.seq || full {
            *memo = Memo {
                seq: ticket.seq,
                ..Memo::default()
            };
        }
        memo.count(&answer.reusable, true);
        if let Some(old) = memo.answers.insert(ticket.hash, answer) {
            memo.count(&old.reusable, false);
        }
    }
}

impl Memo {
    /// Counts an answer kept (`added`) or let go.
    fn count(&mut self, reusable: &Reusable, added: bool) {
        let weight = reusable.weight();
        let (bytes, docs) = if reusable.is_file() {
            (&mut self.file_bytes, 0)
        } else {
            (&mut self.bytes, 1)
        };
        if added {
            *bytes += weight;
            self.docs += docs;
        } else {
            *bytes -= weight;
            self.docs -= docs;
        }
    }
}

/// Whether the router's request span or TraceLayer's request events would be recorded: they
/// are at DEBUG (the span in this crate's `http` module).
fn traced() -> bool {
    tracing::enabled!(target: "nuget_feed_server::http", Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_request", Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_response", Level::DEBUG)
}

#[cfg(test)]
mod tests {
    use axum::http::request::Builder;
    use bytes::Bytes;
    use http_body_util::BodyExt;

    use super::*;
    use crate::config::{Args, Config, FileConfig, StorageConfig};
    use crate::http::router;
    use crate::testing::PackageBuilder;

    /// A read-token of [`Server::read_protected`].
    const TOKEN: &str = "reader-token-123456";

    struct Server {
        state: AppState,
        app: Router,
        fast: FastPath,
        dir: tempfile::TempDir,
    }

    impl Server {
        async fn start(edit: impl FnOnce(&mut FileConfig, &std::path::Path)) -> Server {
            let dir = tempfile::tempdir().unwrap();
            let mut file = FileConfig {
                storage: Some(StorageConfig {
                    url: Some(dir.path().join("data").to_string_lossy().into_owned()),
                    options: Default::default(),
                }),
                temp_dir: Some(dir.path().join("tmp")),
                ..FileConfig::default()
            };
            edit(&mut file, dir.path());
            let config = Config::resolve(file, Args::default()).unwrap();
            let state = crate::startup::build_state(config).await.unwrap();
            let server = Server {
                app: router(state.clone()),
                fast: FastPath::new(state.clone()),
                state,
                dir,
            };
            server.push("Contoso.Lib", "1.0.0").await;
            server
        }

        async fn read_protected() -> Server {
            Server::start(|f, dir| {
                let path = dir.join("read-tokens");
                std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
                f.read_tokens_file = Some(path);
            })
            .await
        }

        async fn push(&self, id: &str, version: &str) {
            let upload = self.dir.path().join(format!("{id}.{version}.nupkg"));
            std::fs::write(&upload, PackageBuilder::new(id, version).build()).unwrap();
            let prepared = self.state.feed.prepare(upload).await.unwrap();
            self.state.feed.push(&prepared).await.unwrap();
        }

        /// The answer as the connection gets it: fast path first.
        async fn ask(&self, request: Builder) -> Answered {
            let response = self
                .fast
                .serve(&self.app, request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            Answered::of(response).await
        }

        /// The router's own answer.
        async fn route(&self, request: Builder) -> Answered {
            let request = request.body(Body::empty()).unwrap();
            Answered::of(self.app.clone().oneshot(request).await.unwrap()).await
        }

        fn hits(&self, request: Builder) -> bool {
            matches!(
                self.fast.lookup(&request.body(Body::empty()).unwrap()),
                Lookup::Hit(_)
            )
        }
    }

    /// What goes out on the wire (hyper adds `Date` to either).
    #[derive(Debug, PartialEq)]
    struct Answered {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Answered {
        async fn of(response: Response) -> Answered {
            let (parts, body) = response.into_parts();
            Answered {
                status: parts.status,
                headers: parts.headers,
                body: body.collect().await.unwrap().to_bytes(),
            }
        }
    }

    fn get(path: &str, headers: &[(&str, &str)]) -> Builder {
        ask(Method::GET, path, headers)
    }

    fn ask(method: Method, path: &str, headers: &[(&str, &str)]) -> Builder {
        headers.iter().fold(
            Request::builder().method(method).uri(path),
            |b, (name, value)| b.header(*name, *value),
        )
    }

    /// Every reusable document, by every method, encoding and proxy header set, is answered by
    /// the fast path (from the second request on) with the router's status, headers and
    /// bytes, 304 included.
    #[tokio::test]
    async fn repeats_are_the_routers_answers_byte_for_byte() {
        let server = Server::start(|_, _| {}).await;
        let paths = [
            "/index.json",
            "/flatcontainer/contoso.lib/index.json",
            "/registration/contoso.lib/index.json",
            "/registration-gz-semver2/Contoso.Lib/index.json",
            "/registration/contoso.lib/1.0.0.json",
            "/registration/contoso.lib/page/1.0.0/1.0.0.json",
            "/api/v2/",
            "/api/v2/$metadata",
            "/api/v2/FindPackagesById()?id='Contoso.Lib'&semVerLevel=2.0.0",
            "/api/v2/Packages(Id='Contoso.Lib',Version='1.0.0')",
            "/api/v2/Search()?searchTerm='contoso'&includePrerelease=true",
            "/api/v2/Packages()/$count?$filter=IsLatestVersion",
        ];
        let header_sets: [&[(&str, &str)]; 5] = [
            &[("host", "localhost:5000")],
            &[("host", "localhost:5000"), ("accept-encoding", "gzip")],
            &[("host", "localhost:5000"), ("accept-encoding", "gzip;q=0")],
            &[
                ("host", "internal:5000"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "nuget.example.com"),
                ("x-forwarded-port", "8443"),
                ("x-forwarded-prefix", "/outer"),
            ],
            &[("forwarded", "proto=https;host=\"feed.example.com:8083\"")],
        ];
        for path in paths {
            for headers in header_sets {
                for method in [Method::GET, Method::HEAD] {
                    let what = format!("{method} {path} {headers:?}");
                    let request = || ask(method.clone(), path, headers);
                    assert!(!server.hits(request()), "{what}: nothing kept yet");
                    let first = server.ask(request()).await;
                    assert!(first.status == StatusCode::OK, "{what}: {:?}", first.status);
                    assert!(server.hits(request()), "{what}: kept");
                    let repeated = server.ask(request()).await;
                    assert_eq!(repeated, first, "{what}");
                    assert_eq!(repeated, server.route(request()).await, "{what}");
                    // A client revalidating: 304 with the same validator, both ways.
                    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
                    let mut revalidating = headers.to_vec();
                    revalidating.push(("if-none-match", etag.as_str()));
                    let request = || ask(method.clone(), path, &revalidating);
                    assert!(server.hits(request()), "{what}: If-None-Match is not keyed");
                    let not_modified = server.ask(request()).await;
                    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED, "{what}");
                    assert_eq!(not_modified, server.route(request()).await, "{what}");
                }
            }
        }
        // V2 documents are kept by their query too: another query is the router's.
        let other = || get("/api/v2/FindPackagesById()?id='Other.Lib'", header_sets[0]);
        assert!(!server.hits(other()));
        assert_eq!(server.ask(other()).await, server.route(other()).await);
        // The URLs inside follow the proxy headers of each request, not of the first one.
        let proxied = server.ask(get("/index.json", header_sets[3])).await;
        let body = String::from_utf8(proxied.body.to_vec()).unwrap();
        assert!(
            body.contains("https://nuget.example.com:8443/outer/flatcontainer/"),
            "{body}"
        );
        let direct = server.ask(get("/index.json", header_sets[0])).await;
        assert!(!direct.body.windows(7).any(|w| w == b"example"));
    }

    /// A local package's files are repeated too, byte for byte, and each repeat of a `.nupkg`
    /// counts a download as the router's answer does.
    #[tokio::test]
    async fn package_files_are_repeated_and_counted_as_downloads() {
        let server = Server::start(|_, _| {}).await;
        let nupkg = "/flatcontainer/contoso.lib/1.0.0/contoso.lib.1.0.0.nupkg";
        let nuspec = "/flatcontainer/contoso.lib/1.0.0/contoso.lib.nuspec";
        for path in [nupkg, nuspec] {
            for method in [Method::GET, Method::HEAD] {
                let what = format!("{method} {path}");
                let request = || ask(method.clone(), path, &[("host", "localhost:5000")]);
                let first = server.ask(request()).await;
                assert_eq!(first.status, StatusCode::OK, "{what}");
                assert!(server.hits(request()), "{what}: kept");
                let repeated = server.ask(request()).await;
                assert_eq!(repeated, first, "{what}");
                assert_eq!(repeated, server.route(request()).await, "{what}");
            }
        }
        let version = crate::package::NuGetVersion::parse("1.0.0").unwrap();
        let downloads = || {
            server
                .state
                .feed
                .downloads()
                .versions("contoso.lib", &[&version])[0]
        };
        // GET and HEAD of the `.nupkg`, four answers each (`hits` answers too), and nothing
        // for the nuspec.
        assert_eq!(downloads(), 8);
        server.ask(get(nupkg, &[("host", "localhost:5000")])).await;
        assert_eq!(downloads(), 9, "a repeat counts");
    }

    /// Any change to the feed retires every answer kept: the next read is the router's, and
    /// shows the change.
    #[tokio::test]
    async fn a_change_to_the_feed_retires_the_answers() {
        let server = Server::start(|_, _| {}).await;
        let versions = || get("/flatcontainer/contoso.lib/index.json", &[("host", "x")]);
        server.ask(versions()).await;
        assert!(server.hits(versions()));
        server.push("Other.Lib", "1.0.0").await;
        assert!(!server.hits(versions()), "another id changed the feed too");
        server.ask(versions()).await;
        assert!(server.hits(versions()));
        server.push("Contoso.Lib", "2.0.0").await;
        assert!(!server.hits(versions()));
        let after = server.ask(versions()).await;
        assert_eq!(&after.body[..], br#"{"versions":["1.0.0","2.0.0"]}"#);
        assert_eq!(server.ask(versions()).await, after);
    }

    /// What the router answers differently, or what is not a cached document, never comes
    /// from the fast path.
    #[tokio::test]
    async fn only_reusable_answers_are_repeated() {
        let server = Server::start(|_, _| {}).await;
        for path in [
            "/flatcontainer/unknown.lib/index.json",
            "/registration/unknown.lib/index.json",
            "/query?q=contoso",
            "/flatcontainer/contoso.lib/9.9.9/contoso.lib.9.9.9.nupkg",
            "/catalog/index.json",
            "/nowhere",
        ] {
            server.ask(get(path, &[])).await;
            assert!(!server.hits(get(path, &[])), "{path}");
        }
        // A header sent twice is left to the router's rules for repeats.
        let twice = || {
            get("/index.json", &[])
                .header("accept-encoding", "gzip")
                .header("accept-encoding", "br")
        };
        server.ask(twice()).await;
        assert!(!server.hits(twice()));
        assert!(matches!(
            server.fast.lookup(&twice().body(Body::empty()).unwrap()),
            Lookup::Pass
        ));
    }

    /// On a read-protected feed every repeat needs a valid token; a refused one gets the
    /// router's 401.
    #[tokio::test]
    async fn repeats_need_the_read_token() {
        let server = Server::read_protected().await;
        let basic = |password: &str| {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("u:{password}"));
            format!("Basic {encoded}")
        };
        let (good, bad) = (basic(TOKEN), basic("wrong"));
        let with = |authorization: &str| get("/index.json", &[("authorization", authorization)]);
        let first = server.ask(with(&good)).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.headers[header::CACHE_CONTROL], "private, no-cache");
        assert!(server.hits(with(&good)));
        assert_eq!(server.ask(with(&good)).await, first);
        for refused in [bad.as_str(), "Bearer x", ""] {
            assert!(!server.hits(with(refused)), "{refused}");
            let answer = server.ask(with(refused)).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{refused}");
            assert_eq!(answer, server.route(with(refused)).await);
        }
        let missing = server.ask(get("/index.json", &[])).await;
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing, server.route(get("/index.json", &[])).await);
    }

    /// Repeats are counted as the router counts: by route label, method and status, with a
    /// latency each, and no line for a status never sent.
    #[tokio::test]
    async fn repeats_are_counted_like_the_routers_answers() {
        let server = Server::start(|_, _| {}).await;
        let path = "/registration/contoso.lib/index.json";
        let first = server.ask(get(path, &[])).await;
        server.ask(get(path, &[])).await;
        server.ask(ask(Method::HEAD, path, &[])).await;
        server.ask(ask(Method::HEAD, path, &[])).await;
        let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
        server
            .ask(get(path, &[("if-none-match", etag.as_str())]))
            .await;
        let text = server.state.metrics.render();
        let count = |labels: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("nuget_feed_http_requests_total{{{labels}}}")))
                .map(|l| l.rsplit(' ').next().unwrap().to_owned())
        };
        let route = r#"route="/registration/{id}/index.json""#;
        assert_eq!(
            count(&format!(r#"{route},method="GET",status="200""#)).as_deref(),
            Some("2"),
            "{text}"
        );
        assert_eq!(
            count(&format!(r#"{route},method="HEAD",status="200""#)).as_deref(),
            Some("2"),
            "{text}"
        );
        assert_eq!(
            count(&format!(r#"{route},method="GET",status="304""#)).as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            count(&format!(r#"{route},method="HEAD",status="304""#)),
            None,
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "nuget_feed_http_request_duration_seconds_count{{{route}}} 5"
            )),
            "{text}"
        );
    }
}
