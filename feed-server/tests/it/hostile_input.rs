//! Hostile input gets a 4xx (or a closed connection) with a clear message, changes nothing, and
//! does not tie the server up (DESIGN invariant 5). `protocol.rs` covers the classic bad
//! packages; this file adds the rest of the list: slow and oversized requests at the
//! connection level, malformed multipart, zip bombs by entry count and declared size, oversized
//! nuspecs, invalid and overlong ids and versions (in packages and in URLs), path traversal in
//! URLs, and bad query parameters. Every test ends by proving nothing was stored and the server
//! still works.
#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write as _};
use std::time::{Duration, Instant};

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use nuget_feed_server::testing::{self as t, PackageBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zip::write::SimpleFileOptions;

/// The server's connection limits, short so the tests are quick.
const HEADER_TIMEOUT_MS: u64 = 500;
const UPLOAD_IDLE_MS: u64 = 500;

async fn server() -> TestServer {
    TestServer::start(|f, _| {
        f.header_timeout_ms = Some(HEADER_TIMEOUT_MS);
        f.upload_idle_timeout_ms = Some(UPLOAD_IDLE_MS);
        f.max_package_bytes = Some(8 * 1024 * 1024);
    })
    .await
}

/// Nothing but what a server writes without any push (downloads counters) is stored, no upload
/// is left in the temp folder, and a good push still works.
async fn assert_unharmed(s: &TestServer, c: &Client) {
    let stored: Vec<String> = s
        .stored_files()
        .into_iter()
        .filter(|f| !f.starts_with("downloads/"))
        .collect();
    assert!(stored.is_empty(), "stored: {stored:?}");
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path().join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    let r = c
        .push(
            s,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Still.Works", "1.0.0").build(),
        )
        .await;
    assert_eq!(r.status(), 201);
}

/// Reads what the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

fn status_line(response: &[u8]) -> String {
    String::from_utf8_lossy(response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn slow_loris_connections_are_closed_without_blocking_others() {
    let s = server().await;
    let c = Client::new();
    let addr = s.root.trim_start_matches("http://").to_owned();
    // Many clients that trickle their headers, one byte at a time, never finishing.
    let mut lorises = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /index.json HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        lorises.push(stream);
    }
    let trickle = tokio::spawn(async move {
        let start = Instant::now();
        let mut closed_after = Vec::new();
        let mut open: Vec<Option<TcpStream>> = lorises.into_iter().map(Some).collect();
        while start.elapsed() < Duration::from_secs(10) && open.iter().any(Option::is_some) {
            for slot in &mut open {
                if let Some(stream) = slot
                    && stream.write_all(b"X").await.is_err()
                {
                    closed_after.push(start.elapsed());
                    *slot = None;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (closed_after, open.iter().filter(|s| s.is_some()).count())
    });
    // Meanwhile the server answers everyone else at once.
    for _ in 0..10 {
        let started = Instant::now();
        let r = c.get(&s.url("index.json")).await;
        assert_eq!(r.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (closed_after, still_open) = trickle.await.unwrap();
    assert_eq!(still_open, 0, "slow clients still connected after 10 s");
    eprintln!(
        "40 slow-loris connections closed after {:?} .. {:?} (header timeout {HEADER_TIMEOUT_MS} ms)",
        closed_after.iter().min().unwrap(),
        closed_after.iter().max().unwrap()
    );
    // An idle connection that never sends a byte is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(closed, "an idle connection stays open");
    assert_unharmed(&s, &c).await;
    s.stop().await;
}

#[tokio::test]
async fn huge_headers_get_431_and_the_connection_closed() {
    let s = server().await;
    let c = Client::new();
    let addr = s.root.trim_start_matches("http://").to_owned();
    let big_value = "a".repeat(100 * 1024);
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases = [
        format!("GET /index.json HTTP/1.1\r\nHost: x\r\nX-Big: {big_value}\r\n\r\n"),
        format!("GET /index.json HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
        format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "p".repeat(100 * 1024)
        ),
        format!(
            "PUT /package HTTP/1.1\r\nHost: x\r\nX-NuGet-ApiKey: {ADMIN_KEY}\r\nX-Big: {big_value}\r\nContent-Length: 4\r\n\r\nPK.."
        ),
    ];
    for (i, request) in cases.iter().enumerate() {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        // The server may close before reading everything; a write error is fine.
        let _ = stream.write_all(request.as_bytes()).await;
        let (response, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(closed, "case {i}: connection left open");
        let line = status_line(&response);
        assert!(line.contains(" 431 "), "case {i}: {line:?}");
    }
    assert_unharmed(&s, &c).await;
    s.stop().await;
}

/// A PUT of the raw package whose body arrives as `parts` with `pause` between them.
async fn raw_upload(
    s: &TestServer,
    content_length: usize,
    parts: &[&[u8]],
    pause: Duration,
) -> (String, Duration) {
    let addr = s.root.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /package HTTP/1.1\r\nHost: x\r\nX-NuGet-ApiKey: {ADMIN_KEY}\r\nContent-Type: application/octet-stream\r\nContent-Length: {content_length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for part in parts {
        if stream.write_all(part).await.is_err() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    (status_line(&response), started.elapsed())
}

#[tokio::test]
async fn stalled_and_trickled_uploads_get_408() {
    let s = server().await;
    let c = Client::new();
    let package = PackageBuilder::new("Slow", "1.0.0")
        .file("lib/a.bin", &[7u8; 20_000])
        .build();
    // Sends a tenth, then nothing.
    let (line, took) = raw_upload(
        &s,
        package.len(),
        &[&package[..package.len() / 10]],
        Duration::ZERO,
    )
    .await;
    assert!(line.contains(" 408 "), "stalled: {line}");
    eprintln!("stalled upload cut after {took:?} (idle timeout {UPLOAD_IDLE_MS} ms)");
    // Never pauses for long, but sends 16 bytes every 100 ms.
    let chunks: Vec<&[u8]> = package.chunks(16).collect();
    let (line, took) = raw_upload(&s, package.len(), &chunks, Duration::from_millis(100)).await;
    assert!(line.contains(" 408 "), "trickle: {line}");
    eprintln!("trickled upload cut after {took:?}");
    // The same through multipart: the body stream's error wins over multer's.
    let (content_type, body) = crate::common::server::nuget_multipart(&package);
    let addr = s.root.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /package/ HTTP/1.1\r\nHost: x\r\nX-NuGet-ApiKey: {ADMIN_KEY}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 3]).await.unwrap();
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    let line = status_line(&response);
    assert!(line.contains(" 408 "), "stalled multipart: {line}");
    assert_unharmed(&s, &c).await;
    s.stop().await;
}

#[tokio::test]
async fn malformed_multipart_and_lying_lengths_are_400() {
    let s = server().await;
    let c = Client::new();
    let package = PackageBuilder::new("Multi", "1.0.0").build();
    let b = "XyZ";
    let part = |body: &[u8]| {
        let mut v = format!("--{b}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"p.nupkg\"\r\n\r\n").into_bytes();
        v.extend_from_slice(body);
        v
    };
    // The package, then the body ends: no delimiter, so where the part ends is unknown.
    let truncated = part(&package);
    let mut wrong_boundary = part(&package);
    wrong_boundary.extend_from_slice(b"\r\n--Other--\r\n");
    let mut garbage_headers = format!("--{b}\r\n\x00\x01\x02 not a header\r\n\r\n").into_bytes();
    garbage_headers.extend_from_slice(&package);
    garbage_headers.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    // Part headers are held in memory until they end: more than 1 MiB of them is refused.
    let mut huge_part_header =
        format!("--{b}\r\nX-Junk: {}\r\n\r\n", "j".repeat(2 * 1024 * 1024)).into_bytes();
    huge_part_header.extend_from_slice(&package);
    huge_part_header.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let mut not_a_package = part(b"just text");
    not_a_package.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("no boundary", "multipart/form-data".into(), part(&package)),
        (
            "empty boundary",
            "multipart/form-data; boundary=".into(),
            part(&package),
        ),
        (
            "no parts",
            format!("multipart/form-data; boundary={b}"),
            format!("--{b}--\r\n").into_bytes(),
        ),
        (
            "empty body",
            format!("multipart/form-data; boundary={b}"),
            Vec::new(),
        ),
        (
            "truncated",
            format!("multipart/form-data; boundary={b}"),
            truncated,
        ),
        (
            "wrong boundary",
            format!("multipart/form-data; boundary={b}"),
            wrong_boundary,
        ),
        (
            "garbage part headers",
            format!("multipart/form-data; boundary={b}"),
            garbage_headers,
        ),
        (
            "huge part header",
            format!("multipart/form-data; boundary={b}"),
            huge_part_header,
        ),
        (
            "part is not a zip",
            format!("multipart/form-data; boundary={b}"),
            not_a_package,
        ),
        (
            "raw garbage",
            "application/octet-stream".into(),
            b"\x00\xff garbage".to_vec(),
        ),
    ];
    let tried = cases.len();
    for (what, content_type, body) in cases {
        let r = c
            .http
            .put(s.url("package/"))
            .header("X-NuGet-ApiKey", ADMIN_KEY)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains("\"message\""), "{what}: {text}");
    }
    // Content-Length says more than is sent, then the client hangs up: no 2xx, nothing stored.
    let (line, _) = raw_upload(&s, package.len() + 1000, &[&package], Duration::ZERO).await;
    assert!(!line.contains(" 201 "), "short body: {line}");
    // Content-Length above the limit: 413 before reading the body.
    let (line, _) = raw_upload(&s, 64 * 1024 * 1024, &[b"PK"], Duration::ZERO).await;
    assert!(line.contains(" 413 "), "declared too large: {line}");
    eprintln!("malformed multipart: {tried} bodies plus 2 lying lengths refused");
    assert_unharmed(&s, &c).await;
    s.stop().await;
}

/// Text that deflate cannot shrink much (so that a size limit, not the ratio limit, trips).
fn incompressible_text(len: usize) -> String {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// A package zip with `entries` tiny files.
fn zip_with_entries(entries: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("Many.nuspec", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(PackageBuilder::new("Many", "1.0.0").nuspec_xml().as_bytes())
        .unwrap();
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..entries {
        zip.start_file(format!("c/{i:x}"), stored).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn bombs_oversized_nuspecs_and_bad_ids_and_versions_are_refused() {
    let s = server().await;
    let c = Client::new();
    let long_id = "A".repeat(101);
    let mut bad: Vec<(String, Vec<u8>, u16)> = vec![
        // Over a limit of size or count: 413, as for a too-large upload (PUB-8).
        ("70 000 entries".into(), zip_with_entries(70_000), 413),
        ("8 GiB declared".into(), t::zip_declaring_huge_size(), 413),
        ("zip bomb".into(), t::zip_bomb(), 400),
        (
            "2 MiB nuspec".into(),
            t::nupkg_with_raw_nuspec(
                "Big.nuspec",
                &PackageBuilder::new("Big", "1.0.0")
                    .description(&incompressible_text(2 * 1024 * 1024))
                    .nuspec_xml(),
            ),
            413,
        ),
        (
            "undeclared entity".into(),
            t::nupkg_with_raw_nuspec("a.nuspec", t::NUSPEC_UNDECLARED_ENTITY),
            400,
        ),
    ];
    let ids = [
        long_id.as_str(),
        t::ID_TRAVERSAL,
        t::ID_WITH_SLASH,
        t::ID_NON_ASCII,
        "has space",
        "",
        ".leading",
        "a..b",
        "nul\u{0}byte",
    ];
    for id in ids {
        bad.push((
            format!("id {id:?}"),
            t::nupkg_with_raw_nuspec("x.nuspec", &PackageBuilder::new(id, "1.0.0").nuspec_xml()),
            400,
        ));
    }
    let versions = [
        "1.0.0.0.0",
        "",
        "1.0.0-",
        "1.0.0-beta..1",
        "01.a",
        "1.0.0-01",
        "99999999999.0",
        "1.0.0+",
        &"1".repeat(80),
        // 64 characters as written, 68 normalized: it could never be downloaded (fuzzing).
        &format!("1-{}", "x".repeat(62)),
    ];
    for version in versions {
        bad.push((
            format!("version {version:?}"),
            t::nupkg_with_raw_nuspec(
                "x.nuspec",
                &PackageBuilder::new("Fine.Id", version).nuspec_xml(),
            ),
            400,
        ));
    }
    let tried = bad.len();
    for (what, body, expected) in bad {
        let r = c.push(&s, Some(ADMIN_KEY), &body).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, expected, "{what}: {text}");
        assert!(text.contains("\"message\""), "{what}: {text}");
    }
    eprintln!("refused {tried} hostile packages");
    assert_unharmed(&s, &c).await;
    s.stop().await;
}

#[tokio::test]
async fn hostile_urls_and_query_parameters_are_4xx() {
    let s = server().await;
    let c = Client::new();
    let long = "a".repeat(101);
    // Writes with bad ids or versions in the path: 400 or 404, never a 5xx, nothing written.
    let write_paths = [
        "package/..%2F..%2Fetc/1.0.0".to_owned(),
        "package/a%2Fb/1.0.0".to_owned(),
        format!("package/{long}/1.0.0"),
        "package/ok/1.0.0.0.0".to_owned(),
        "package/ok/..".to_owned(),
        "package/%00/1.0.0".to_owned(),
        "package/ok/%FF%FE".to_owned(),
    ];
    let mut tried = 0;
    for path in &write_paths {
        for method in ["DELETE", "POST"] {
            let r = c
                .http
                .request(method.parse().unwrap(), s.url(path))
                .header("X-NuGet-ApiKey", ADMIN_KEY)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!((400..500).contains(&status), "{method} {path}: {status}");
            tried += 1;
        }
    }
    let reads = [
        "flatcontainer/..%2F..%2Fcatalog/index.json",
        "flatcontainer/a/../../catalog/events/0000000000000001.json",
        "flatcontainer/ok/1.0.0/..%2F..%2F..%2Fcatalog%2Fsnapshot.json",
        "flatcontainer/ok/not-a-version/ok.nupkg",
        "registration/..%2Fx/index.json",
        "catalog/data/99999999999999999999999/x.json",
        "catalog/page-1.json",
        "symbols/..%2F..%2Fpackages/x/y",
        "query?skip=-1",
        "query?take=1001",
        "query?skip=99999999999999999999",
        "query?take=abc",
        "query?semVerLevel=two",
        "query?prerelease=maybe",
        "autocomplete?take=-5",
        "autocomplete?id=..%2F..&semVerLevel=x",
    ];
    for path in reads {
        let r = c.get(&s.url(path)).await;
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "GET {path}: {status}");
        tried += 1;
    }
    eprintln!("{tried} hostile URLs answered 4xx");
    assert_unharmed(&s, &c).await;
    s.stop().await;
}
