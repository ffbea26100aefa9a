//! A real feed server on loopback for tests: `TestServer::start` binds 127.0.0.1:0, serves the
//! real router over a fresh temp folder (or any storage URL), and `stop` shuts it down after
//! checking that the stored feed is consistent.

use std::path::PathBuf;

use nuget_feed_server::config::{Args, Config, FileConfig};
use nuget_feed_server::http::AppState;
use nuget_feed_server::server;
use nuget_feed_server::storage::{Key, PackageFile};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A key allowed everything.
pub const ADMIN_KEY: &str = "admin-key-0123456789";
/// A key that may only push `Contoso.*`.
pub const CONTOSO_KEY: &str = "contoso-key-0123456789";
/// A key that may only unlist.
pub const UNLIST_KEY: &str = "unlist-key-0123456789";

/// The read token of [`TestServer::start_read_protected`].
pub const READ_TOKEN: &str = "reader-token-123456";

pub struct TestServer {
    /// Feed base URL (service index at `{base}/index.json`).
    pub base: String,
    /// Server root URL (health, metrics).
    pub root: String,
    pub state: AppState,
    pub dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A server over a temp folder with the test keys; `edit` adjusts the config file.
    pub async fn start(edit: impl FnOnce(&mut FileConfig, &std::path::Path)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("api-keys.yaml");
        std::fs::write(
            &keys,
            format!(
                "keys:\n  - name: admin\n    key: {ADMIN_KEY}\n  - name: contoso-ci\n    key: {CONTOSO_KEY}\n    scopes: [push]\n    packages: ['Contoso.*']\n  - name: janitor\n    key: {UNLIST_KEY}\n    scopes: [unlist]\n"
            ),
        )
        .unwrap();
        let mut file = FileConfig {
            api_keys_file: Some(keys),
            storage: Some(nuget_feed_server::config::StorageConfig {
                url: Some(dir.path().join("data").to_string_lossy().into_owned()),
                options: Default::default(),
            }),
            temp_dir: Some(dir.path().join("tmp")),
            sync_interval_ms: Some(100),
            ..FileConfig::default()
        };
        edit(&mut file, dir.path());
        let config = Config::resolve(file, Args::default()).unwrap();
        TestServer::start_config(config, dir).await
    }

    /// A feed whose reads need HTTP Basic with [`READ_TOKEN`] as the password.
    pub async fn start_read_protected() -> TestServer {
        TestServer::start(|f, dir| {
            let path = dir.join("read-tokens");
            std::fs::write(&path, format!("{READ_TOKEN}\n")).unwrap();
            f.read_tokens_file = Some(path);
        })
        .await
    }

    pub async fn start_config(config: Config, dir: TempDir) -> TestServer {
        let path_base = config.path_base.clone();
        let state = server::build_state(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = rx.await;
        }));
        let root = format!("http://{addr}");
        TestServer {
            base: format!("{root}{path_base}"),
            root,
            state,
            dir,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Every file in the storage folder, relative, sorted (to prove rejected input changed nothing).
    pub fn stored_files(&self) -> Vec<String> {
        let root = self.data_dir();
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(
                        p.strip_prefix(&root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        out.sort();
        out
    }

    /// Checks the feed's invariants (every known version has its blobs), then stops.
    pub async fn stop(mut self) {
        self.assert_consistent().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    /// Stops without the consistency check (for tests that broke the store on purpose).
    pub async fn stop_unchecked(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    pub async fn assert_consistent(&self) {
        let versions: Vec<_> = {
            let state = self.state.feed.state();
            state
                .packages()
                .flat_map(|(_, p)| p.versions.values().cloned().collect::<Vec<_>>())
                .collect()
        };
        for v in versions {
            for file in [PackageFile::Nupkg, PackageFile::Nuspec] {
                let key = Key::Package {
                    id: v.id(),
                    version: v.version(),
                    file,
                };
                let meta = self.state.feed.storage().head(key).await;
                assert!(meta.is_ok(), "{} {} has no {file:?}", v.id(), v.version());
            }
        }
    }
}

/// A multipart body exactly as NuGet.exe sends it (PUB-2): quoted boundary, one part named
/// `package`, sent chunked (no Content-Length) by the stream body.
pub fn nuget_multipart(nupkg: &[u8]) -> (String, Vec<u8>) {
    let boundary = "a4d9c1f0-7e4b-4d1e-9b0b-5c2f1f3e7a11";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\r\n").as_bytes());
    body.extend_from_slice(nupkg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary=\"{boundary}\""),
        body,
    )
}

pub struct Client {
    pub http: reqwest::Client,
}

impl Client {
    pub fn new() -> Client {
        Client {
            http: reqwest::Client::builder().build().unwrap(),
        }
    }

    /// Pushes like NuGet.exe: `PUT {publish}/`, chunked multipart.
    pub async fn push(
        &self,
        server: &TestServer,
        key: Option<&str>,
        nupkg: &[u8],
    ) -> reqwest::Response {
        self.push_to(&server.url("package/"), key, nupkg).await
    }

    pub async fn push_to(&self, url: &str, key: Option<&str>, nupkg: &[u8]) -> reqwest::Response {
        let (content_type, body) = nuget_multipart(nupkg);
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(7000).map(|c| Ok(c.to_vec())).collect();
        let mut req = self
            .http
            .put(url)
            .header("content-type", content_type)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        if let Some(key) = key {
            req = req.header("X-NuGet-ApiKey", key);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn json(&self, url: &str) -> serde_json::Value {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "GET {url}");
        r.json().await.unwrap()
    }

    /// A JSON document, gunzipped when it came gzip-encoded (the gzip registration hives
    /// always are, REG-1).
    pub async fn doc(&self, url: &str) -> serde_json::Value {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "GET {url}");
        let gzip = r.headers().get("content-encoding").is_some();
        let bytes = r.bytes().await.unwrap();
        if gzip {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
                .unwrap();
            serde_json::from_slice(&out).unwrap()
        } else {
            serde_json::from_slice(&bytes).unwrap()
        }
    }

    pub async fn delete(&self, url: &str, key: &str) -> reqwest::Response {
        self.http
            .delete(url)
            .header("X-NuGet-ApiKey", key)
            .send()
            .await
            .unwrap()
    }

    /// `PUT` of a small body (a deprecation document), with a key when given.
    pub async fn put_body(
        &self,
        url: &str,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self.http.put(url).body(body);
        if let Some(key) = key {
            req = req.header("X-NuGet-ApiKey", key);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, url: &str, key: &str) -> reqwest::Response {
        self.http
            .post(url)
            .header("X-NuGet-ApiKey", key)
            .send()
            .await
            .unwrap()
    }
}
