//! moto (PyPI `moto[server]`, installed by `.ci/install-deps.sh`): an S3 server on loopback
//! that accepts any credentials and enforces conditional writes like S3.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::http::http_request;
use crate::listing::xml_values;
use crate::process::{Launch, Process, Ready};
use crate::tools::{DEPS_HINT, ci_cache_dir, missing_or_skip, tool_path};

/// A moto S3 server (`moto_server -H 127.0.0.1 -p PORT`) on a free loopback port. Any
/// credentials and any region do; objects live in memory and go when the process does. Killed
/// on drop.
pub struct Moto {
    _process: Process,
    port: u16,
    _dir: TempDir,
}

impl Moto {
    pub const ACCESS_KEY: &'static str = "testing";
    pub const SECRET_KEY: &'static str = "testing";
    pub const REGION: &'static str = "us-east-1";

    /// The feed server's `storage.options` for an `s3://` URL on this server.
    pub fn storage_options(&self) -> BTreeMap<String, String> {
        Moto::storage_options_via(&self.endpoint())
    }

    /// [`Moto::storage_options`] reaching the server at `endpoint` (e.g. through a proxy).
    pub fn storage_options_via(endpoint: &str) -> BTreeMap<String, String> {
        [
            ("aws_endpoint", endpoint),
            ("aws_allow_http", "true"),
            ("aws_region", Moto::REGION),
            ("aws_access_key_id", Moto::ACCESS_KEY),
            ("aws_secret_access_key", Moto::SECRET_KEY),
            ("aws_virtual_hosted_style_request", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// `$MOTO_SERVER` or `.ci/cache/venv/bin/moto_server`.
    pub fn locate() -> Result<PathBuf, String> {
        tool_path(
            "MOTO_SERVER",
            Some(ci_cache_dir().join("venv").join("bin").join("moto_server")),
        )
    }

    /// Starts Moto and waits until it answers, or `None` when it is missing and
    /// `NUGET_SKIP_EXTERNAL=1` (else a panic saying what to install).
    pub fn start_or_skip() -> Option<Moto> {
        match Self::locate() {
            Ok(bin) => Some(Self::start_with(bin)),
            Err(why) => missing_or_skip("moto", &why, DEPS_HINT),
        }
    }

    fn start_with(bin: PathBuf) -> Moto {
        let dir = tempfile::Builder::new()
            .prefix("moto-")
            .tempdir()
            .expect("create temp dir for moto");
        let launch = Launch {
            name: "moto",
            dir: dir.path(),
            ready_path: "/",
            ready: Ready::Answers,
            timeout: Duration::from_secs(30),
        };
        let (process, port) = launch
            .start(None, |port| {
                let mut cmd = Command::new(&bin);
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .current_dir(dir.path())
                    .env("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY)
                    .env("AWS_SECRET_ACCESS_KEY", Self::SECRET_KEY)
                    .env("AWS_DEFAULT_REGION", Self::REGION)
                    .env("PYTHONUNBUFFERED", "1");
                cmd
            })
            .unwrap_or_else(|e| panic!("{e}"));
        Moto {
            _process: process,
            port,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` (use path-style addressing and allow plain HTTP).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a bucket with an unsigned `PUT /{name}` (moto checks no signature); panics unless
    /// moto answers 200.
    pub fn create_bucket(&self, name: &str) {
        let resp = self.request("PUT", &format!("/{name}"));
        assert_eq!(resp.status, 200, "create bucket {name}: {}", resp.text());
    }

    /// Bucket names from `GET /` (ListBuckets).
    pub fn list_buckets(&self) -> Vec<String> {
        let resp = self.request("GET", "/");
        assert_eq!(resp.status, 200, "list buckets: {}", resp.text());
        xml_values(&resp.text(), "Name")
    }

    /// Keys of the objects under `prefix` (ListObjectsV2, first page).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let resp = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        assert_eq!(resp.status, 200, "list objects: {}", resp.text());
        xml_values(&resp.text(), "Key")
    }

    fn request(&self, method: &str, path: &str) -> crate::http::HttpResponse {
        let url = format!("{}{path}", self.endpoint());
        http_request(method, &url, &[], b"", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }
}
