//! One HTTP request at a time to a loopback server (readiness polls, bucket listings, signed
//! Azure calls), over reqwest's blocking client, from plain `#[test]`s and async tests alike.
//!
//! Tests that send what a real client would not (hostile input, slow-loris) use raw sockets of
//! their own; this is for well-formed requests.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::redirect::Policy;

/// A response read by [`http_request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names as received (compare case-insensitively, or use [`HttpResponse::header`]).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, not decompressed.
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The client: no redirects followed, no proxy from the environment, no pooled connections
/// (a server the test restarts on the same port must not be reached through an old one).
fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("build the harness's HTTP client")
    })
}

/// One request to an `http://host:port/path?query` URL. `headers` come on top of reqwest's
/// (a `Host` header given here replaces the URL's); a body is sent with its `Content-Length`,
/// and so is an empty one for PUT, POST and PATCH.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, reqwest::Error> {
    // reqwest's blocking client panics on a thread that drives a tokio runtime (an async test,
    // or a server's runtime in the test process): it runs on a thread of its own instead.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let method = reqwest::Method::from_bytes(method.as_bytes())
                    .unwrap_or_else(|e| panic!("HTTP method `{method}`: {e}"));
                let sends_body =
                    !body.is_empty() || ["PUT", "POST", "PATCH"].contains(&method.as_str());
                let mut request = client().request(method, url).timeout(timeout);
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                if sends_body {
                    request = request.body(body.to_vec());
                }
                let response = request.send()?;
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = response.bytes()?.to_vec();
                Ok(HttpResponse {
                    status,
                    headers,
                    body,
                })
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Pushes a `.nupkg` to a feed's `PackagePublish/2.0.0` URL as `nuget push` does: a multipart
/// `PUT` with the API key in `X-NuGet-ApiKey`.
pub fn push_package(
    publish_url: &str,
    api_key: &str,
    nupkg: &[u8],
) -> Result<HttpResponse, reqwest::Error> {
    push_package_with(publish_url, api_key, &[], nupkg)
}

/// [`push_package`] with more request headers (e.g. the `Host` an ingress routes by).
pub fn push_package_with(
    publish_url: &str,
    api_key: &str,
    headers: &[(&str, &str)],
    nupkg: &[u8],
) -> Result<HttpResponse, reqwest::Error> {
    let boundary = "nuget-test-support-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(nupkg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let mut all = vec![
        ("X-NuGet-ApiKey", api_key),
        ("Content-Type", content_type.as_str()),
    ];
    all.extend_from_slice(headers);
    http_request("PUT", publish_url, &all, &body, Duration::from_secs(30))
}
