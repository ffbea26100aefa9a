//! Refusals of a request with a body reach the client as the status we chose (issue 12): a
//! push ten times the size limit, refused before its body is read (413 by size, 401/403 by key,
//! 404/405 by path, 400 for a malformed chunked one), gets its status and message, whether the
//! client writes its whole body before reading (NuGet.exe, nginx with request buffering) or
//! reads as it writes (reqwest), chunked or with a Content-Length, directly and through nginx
//! configured like the rendered Ingress; NuGet.exe 4.0 and 5.8 print the 413's message. A
//! client that keeps sending past the server's drain bound (bytes, or time) is cut off, and the
//! server logs it once.
//!
//! Without the drain, the server answered and closed while the client was still writing: the
//! client got a reset ("The socket has been shut down", broken pipe, nginx's 502).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::nginx::Nginx;
use nuget_test_support::nuget_exe::NuGetExe;
use nuget_test_support::process::output_text;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::process::{FeedConfig, FeedProcess};
use crate::common::server::{ADMIN_KEY, Client, TestServer, nuget_multipart};

/// The package size limit of the report.
const LIMIT: u64 = 100_000;
/// Refused with 403.
const WRONG_KEY: &str = "wrong-key-9876543210";
/// What the server says to a package over [`LIMIT`].
const TOO_LARGE: &str = "the package file exceeds the size limit of 100000 bytes";
/// What the server says to a wrong key.
const INVALID_KEY: &str = "the API key is invalid";
/// What the server says to a push without a key.
const KEY_REQUIRED: &str = "an API key is required";

async fn server() -> TestServer {
    TestServer::start(|f, _| f.max_package_bytes = Some(LIMIT)).await
}

/// A package of about `times` [`LIMIT`]: random (incompressible) content, so the file really
/// is that large.
fn package_of(times: u64) -> Vec<u8> {
    let mut payload = vec![0u8; (times * LIMIT) as usize];
    rand::fill(&mut payload[..]);
    let nupkg = PackageBuilder::new("Big.Package", "1.0.0")
        .file("lib/net8.0/payload.bin", &payload)
        .build();
    assert!(nupkg.len() as u64 > times * LIMIT, "{} bytes", nupkg.len());
    nupkg
}

/// A package of ten times [`LIMIT`].
fn big_package() -> Vec<u8> {
    package_of(10)
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    /// `Transfer-Encoding: chunked`, as NuGet.exe sends a push.
    Chunked,
    /// `Content-Length`.
    Length,
}

/// The response to a request, as read off the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header lines, names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A PUT of `body` to `addr` that writes the whole request before it reads a byte, as NuGet.exe
/// (and nginx with request buffering) does: the answer, or the error that ended the exchange.
async fn put_then_read(
    addr: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    framing: Framing,
) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("PUT {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match framing {
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
        Framing::Length => head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len())),
    }
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        for piece in body.chunks(16 * 1024) {
            if framing == Framing::Chunked {
                stream
                    .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                stream.write_all(piece).await?;
                stream.write_all(b"\r\n").await?;
            } else {
                stream.write_all(piece).await?;
            }
        }
        if framing == Framing::Chunked {
            stream.write_all(b"0\r\n\r\n").await?;
        }
        stream.flush().await
    };
    write
        .await
        .map_err(|e| format!("writing the request failed: {e}"))?;
    tokio::time::timeout(Duration::from_secs(30), read_answer(&mut stream))
        .await
        .map_err(|_| "no answer within 30 s".to_owned())?
}

/// Reads one response: its head, then `Content-Length` bytes (or up to the close).
async fn read_answer(stream: &mut TcpStream) -> Result<Answer, String> {
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) => {
                return Err(format!(
                    "closed after {} bytes of the answer",
                    received.len()
                ));
            }
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("reading the answer failed: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = received[head_end..].to_vec();
    while length.is_none_or(|n| body.len() < n) {
        match stream.read(&mut buf).await {
            Ok(0) if length.is_none() => break,
            Ok(0) => return Err(format!("closed after {} bytes of the body", body.len())),
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("reading the answer's body failed: {e}")),
        }
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A refusal the tests expect: where the push goes, with which key, and what comes back.
struct Refusal {
    path: &'static str,
    key: Option<&'static str>,
    status: u16,
    /// Text the body contains (`""`: axum's empty 404/405 bodies).
    message: &'static str,
}

impl Refusal {
    /// The request's headers, with `content_type`.
    fn headers<'a>(&self, content_type: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut headers = vec![("Content-Type", content_type)];
        headers.extend(self.key.map(|k| ("X-NuGet-ApiKey", k)));
        headers
    }
}

/// Every early refusal of a push: by size, by key, by path.
const REFUSALS: [Refusal; 5] = [
    Refusal {
        path: "/package/",
        key: Some(ADMIN_KEY),
        status: 413,
        message: TOO_LARGE,
    },
    Refusal {
        path: "/package/",
        key: Some(WRONG_KEY),
        status: 403,
        message: INVALID_KEY,
    },
    Refusal {
        path: "/package/",
        key: None,
        status: 401,
        message: KEY_REQUIRED,
    },
    // A typo in the push URL.
    Refusal {
        path: "/packages/",
        key: Some(ADMIN_KEY),
        status: 404,
        message: "",
    },
    // A push to a version's URL, which takes DELETE and POST.
    Refusal {
        path: "/package/Big.Package/1.0.0",
        key: Some(ADMIN_KEY),
        status: 405,
        message: "",
    },
];

#[tokio::test]
async fn refusals_reach_a_client_that_writes_its_whole_body_first() {
    let s = server().await;
    let addr = s.root.trim_start_matches("http://").to_owned();
    let nupkg = big_package();
    let (content_type, body) = nuget_multipart(&nupkg);
    for framing in [Framing::Chunked, Framing::Length] {
        for r in &REFUSALS {
            let headers = r.headers(&content_type);
            let answer = put_then_read(&addr, "feed", r.path, &headers, &body, framing)
                .await
                .unwrap_or_else(|e| panic!("{framing:?} PUT {}: {e}", r.path));
            assert_eq!(answer.status, r.status, "{framing:?} PUT {}", r.path);
            assert!(
                answer.body.contains(r.message),
                "{framing:?} PUT {}: {answer:?}",
                r.path
            );
            // A refusal closes the connection once the body has been read: the client knows
            // it cannot reuse it (a client that watches for this may stop sending early).
            assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
        }
    }
    assert_unharmed(&s).await;
    s.stop().await;
}

/// A malformed multipart type is refused before the body is read too; only a chunked body
/// gets that far (a Content-Length this large is refused first, with 413).
#[tokio::test]
async fn a_malformed_chunked_push_gets_its_400() {
    let s = server().await;
    let addr = s.root.trim_start_matches("http://").to_owned();
    let (_, body) = nuget_multipart(&big_package());
    let headers = [
        ("Content-Type", "multipart/form-data"),
        ("X-NuGet-ApiKey", ADMIN_KEY),
    ];
    let answer = put_then_read(
        &addr,
        "feed",
        "/package/",
        &headers,
        &body,
        Framing::Chunked,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("malformed multipart Content-Type"),
        "{answer:?}"
    );
    assert_unharmed(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn refusals_reach_reqwest_chunked_and_with_a_content_length() {
    let s = server().await;
    let c = Client::new();
    let nupkg = big_package();
    let (content_type, body) = nuget_multipart(&nupkg);
    for framing in [Framing::Chunked, Framing::Length] {
        for r in &REFUSALS {
            let mut put = c.http.put(s.url(r.path));
            for (name, value) in r.headers(&content_type) {
                put = put.header(name, value);
            }
            let put = match framing {
                // In pieces, as `Client::push_to` sends NuGet.exe's chunked body.
                Framing::Chunked => {
                    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
                        body.chunks(7000).map(|c| Ok(c.to_vec())).collect();
                    put.body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
                }
                Framing::Length => put.body(body.clone()),
            };
            let answer = put.send().await.unwrap();
            assert_eq!(answer.status(), r.status, "{framing:?} PUT {}", r.path);
            let text = answer.text().await.unwrap();
            assert!(
                text.contains(r.message),
                "{framing:?} PUT {}: {text}",
                r.path
            );
        }
    }
    assert_unharmed(&s).await;
    s.stop().await;
}

/// Nothing was stored, and a push within the limit still works.
async fn assert_unharmed(s: &TestServer) {
    let stored: Vec<String> = s
        .stored_files()
        .into_iter()
        .filter(|f| !f.starts_with("downloads/"))
        .collect();
    assert!(stored.is_empty(), "stored: {stored:?}");
    let small = PackageBuilder::new("Small.Package", "1.0.0").build();
    let pushed = Client::new().push(s, Some(ADMIN_KEY), &small).await;
    assert_eq!(pushed.status(), 201);
}

/// nginx as ingress-nginx configures itself for a feed's Ingress: request buffering on (the
/// default), a body size annotation above the feed's limit.
fn ingress_in_front_of(upstream: u16) -> Option<Nginx> {
    let ingress = json!({
        "metadata": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "20m"}},
        "spec": {"rules": [{
            "host": "nuget.example.com",
            "http": {"paths": [{"path": "/", "pathType": "Prefix"}]}
        }]}
    });
    Nginx::for_ingress_or_skip(&ingress, &[upstream])
}

#[tokio::test]
async fn a_refusal_reaches_the_client_through_nginx_not_a_502() {
    let s = server().await;
    let upstream: u16 = s.root.rsplit(':').next().unwrap().parse().unwrap();
    // nginx's start waits for it to answer, which it proxies to this runtime's server.
    let Some(nginx) = tokio::task::spawn_blocking(move || ingress_in_front_of(upstream))
        .await
        .unwrap()
    else {
        return;
    };
    let front = format!("127.0.0.1:{}", nginx.ports[0]);
    let nupkg = big_package();
    let (content_type, body) = nuget_multipart(&nupkg);
    for framing in [Framing::Chunked, Framing::Length] {
        for r in &REFUSALS {
            let headers = r.headers(&content_type);
            let answer = put_then_read(
                &front,
                "nuget.example.com",
                r.path,
                &headers,
                &body,
                framing,
            )
            .await
            .unwrap_or_else(|e| panic!("{framing:?} PUT {}: {e}", r.path));
            assert_eq!(
                answer.status,
                r.status,
                "{framing:?} PUT {} through nginx: {answer:?}\nnginx error log:\n{}",
                r.path,
                std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default()
            );
            assert!(answer.body.contains(r.message), "{answer:?}");
        }
    }
    drop(nginx);
    assert_unharmed(&s).await;
    s.stop().await;
}

/// NuGet.exe pushing a package fifty times the limit (the 5 MB: at ten times, NuGet.exe
/// often finished writing into the socket buffers before the old server's reset arrived, so
/// the old defect showed only now and then): its output shows the 413 and its message, and no
/// socket error.
async fn nuget_exe_shows_the_413(nuget: NuGetExe) {
    let s = server().await;
    let source = s.url("index.json");
    let dir = tempfile::tempdir().unwrap();
    let nupkg = dir.path().join("Big.Package.1.0.0.nupkg");
    std::fs::write(&nupkg, package_of(50)).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        nuget.write_config(&source);
        nuget.push(&nupkg, &source, ADMIN_KEY)
    })
    .await
    .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("413") && text.contains(TOO_LARGE), "{text}");
    assert!(!text.contains("socket"), "{text}");
    assert_unharmed(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_4_shows_the_413_of_a_package_fifty_times_the_limit() {
    if let Some(nuget) = NuGetExe::new_or_skip() {
        nuget_exe_shows_the_413(nuget).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_5_8_shows_the_413_of_a_package_fifty_times_the_limit() {
    if let Some(nuget) = NuGetExe::v5_8_or_skip() {
        nuget_exe_shows_the_413(nuget).await;
    }
}

/// A server process (its log is read) with [`LIMIT`] and `upload_idle_timeout_ms`.
fn process(dir: &Path, idle_ms: Option<u64>) -> FeedProcess {
    let mut config = FeedConfig::new(dir.join("data").to_str().unwrap());
    config.max_package_bytes = Some(LIMIT);
    config.upload_idle_timeout_ms = idle_ms;
    FeedProcess::start(dir, "feed", config)
}

/// Sends a push refused for its key, whose chunked body never ends: `chunk` bytes, then
/// `pause`, again and again, until the server cuts the connection (a write fails) or `limit`
/// passes. The bytes written, and whether the server cut it.
async fn endless_push(
    server: &FeedProcess,
    chunk: usize,
    pause: Duration,
    limit: Duration,
) -> (u64, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "PUT /package/ HTTP/1.1\r\nHost: feed\r\nX-NuGet-ApiKey: {WRONG_KEY}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut piece = format!("{chunk:x}\r\n").into_bytes();
    piece.resize(piece.len() + chunk, b'x');
    piece.extend_from_slice(b"\r\n");
    let start = Instant::now();
    let mut written = 0u64;
    while start.elapsed() < limit {
        if stream.write_all(&piece).await.is_err() {
            return (written, true);
        }
        written += chunk as u64;
        tokio::time::sleep(pause).await;
    }
    (written, false)
}

/// The server's WARN lines about clients it cut off, once one is there (or after 10 s).
async fn cut_off_lines(server: &FeedProcess) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines: Vec<String> = server
            .log()
            .lines()
            .filter(|l| l.contains(" WARN ") && l.contains("cut off"))
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() || start.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_slow_endless_body_is_cut_off_in_time_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    // A 500 ms upload idle timeout bounds the drain to 1 s in all.
    let server = process(dir.path(), Some(500));
    // 1 KiB every 20 ms: never a pause the server would cut, but it never ends.
    let (written, cut) = endless_push(
        &server,
        1024,
        Duration::from_millis(20),
        Duration::from_secs(60),
    )
    .await;
    assert!(
        cut,
        "still sending after {written} bytes:\n{}",
        server.log()
    );
    let lines = cut_off_lines(&server).await;
    assert_eq!(lines.len(), 1, "{}", server.log());
    let line = &lines[0];
    assert!(
        line.contains("status=403") && line.contains("still sending after 1000 ms"),
        "{line}"
    );
    assert!(!line.contains(WRONG_KEY), "{line}");
}

#[tokio::test]
async fn a_fast_endless_body_is_cut_off_after_the_byte_budget_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    // The default idle timeout: 30 s in all, longer than the budget takes on loopback.
    let server = process(dir.path(), None);
    let (written, cut) =
        endless_push(&server, 64 * 1024, Duration::ZERO, Duration::from_secs(120)).await;
    assert!(
        cut,
        "still sending after {written} bytes:\n{}",
        server.log()
    );
    let lines = cut_off_lines(&server).await;
    assert_eq!(lines.len(), 1, "{}", server.log());
    let line = &lines[0];
    // 4 times the limit plus 64 MiB.
    assert!(line.contains("sent more than 67508864 bytes"), "{line}");
    assert!(!line.contains(WRONG_KEY), "{line}");
    eprintln!("cut off after the client wrote {written} bytes: {line}");
}
