//! Azurite (npm `azurite`, installed by `.ci/install-deps.sh`): an Azure Blob server on loopback
//! with the well-known development account. It checks signatures, so its helpers sign with
//! Shared Key (HMAC-SHA256 from the `hmac` crate): `object_store`'s Azure backend has no call
//! to create a container.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tempfile::TempDir;

use crate::http::{HttpResponse, http_request};
use crate::listing::xml_values;
use crate::process::{Launch, Process, Ready};
use crate::tools::{DEPS_HINT, ci_cache_dir, find_in_path, missing_or_skip, tool_path};

/// An Azurite blob server (`azurite-blob --blobHost 127.0.0.1 --blobPort P --location <tmp>
/// --silent --skipApiVersionCheck --disableTelemetry`) on a free loopback port. Killed on drop.
pub struct Azurite {
    _process: Process,
    port: u16,
    _dir: TempDir,
}

impl Azurite {
    /// The emulator's well-known account.
    pub const ACCOUNT: &'static str = "devstoreaccount1";
    /// The emulator's well-known account key (base64).
    pub const KEY: &'static str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    /// The storage API version sent by [`Azurite::signed_request`].
    pub const API_VERSION: &'static str = "2021-08-06";

    /// The feed server's `storage.options` for an `az://` URL on this server.
    pub fn storage_options(&self) -> BTreeMap<String, String> {
        [
            ("azure_storage_endpoint", self.endpoint()),
            ("azure_allow_http", "true".into()),
            ("azure_storage_account_name", Azurite::ACCOUNT.into()),
            ("azure_storage_account_key", Azurite::KEY.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// `$AZURITE_BLOB` or `.ci/cache/npm/azurite/node_modules/.bin/azurite-blob` (run with
    /// `node` from PATH).
    pub fn locate() -> Result<PathBuf, String> {
        let script = tool_path(
            "AZURITE_BLOB",
            Some(
                ci_cache_dir()
                    .join("npm")
                    .join("azurite")
                    .join("node_modules")
                    .join(".bin")
                    .join("azurite-blob"),
            ),
        )?;
        find_in_path("node").ok_or("node not found on PATH")?;
        Ok(script)
    }

    /// Starts Azurite and waits until it answers, or `None` when it is missing and
    /// `NUGET_SKIP_EXTERNAL=1` (else a panic saying what to install).
    pub fn start_or_skip() -> Option<Azurite> {
        match Self::locate() {
            Ok(bin) => Some(Self::start_with(bin)),
            Err(why) => missing_or_skip("Azurite", &why, DEPS_HINT),
        }
    }

    fn start_with(bin: PathBuf) -> Azurite {
        let dir = tempfile::Builder::new()
            .prefix("azurite-")
            .tempdir()
            .expect("create temp dir for Azurite");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create Azurite data folder");
        // Unsigned: answered 4xx, which is all `Ready::Answers` needs.
        let ready_path = format!("/{}?comp=list", Self::ACCOUNT);
        let launch = Launch {
            name: "azurite",
            dir: dir.path(),
            ready_path: &ready_path,
            ready: Ready::Answers,
            timeout: Duration::from_secs(60),
        };
        let (process, port) = launch
            .start(None, |port| {
                let mut cmd = Command::new("node");
                cmd.arg(&bin)
                    .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                    .arg("--location")
                    .arg(&data)
                    .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
                    .current_dir(dir.path());
                cmd
            })
            .unwrap_or_else(|e| panic!("{e}"));
        Azurite {
            _process: process,
            port,
            _dir: dir,
        }
    }

    /// The blob endpoint of the dev account, `http://127.0.0.1:PORT/devstoreaccount1` (what the
    /// `BlobEndpoint` of a connection string and `object_store`'s `with_endpoint` take; allow
    /// plain HTTP there).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, Self::ACCOUNT)
    }

    /// Creates a container (`PUT /{account}/{name}?restype=container`, Shared Key signed);
    /// panics unless Azurite answers 201.
    pub fn create_container(&self, name: &str) {
        let resp = self
            .signed_request(
                "PUT",
                &format!("/{name}"),
                &[("restype", "container")],
                &[],
                b"",
            )
            .unwrap_or_else(|e| panic!("create container {name}: {e}"));
        assert_eq!(resp.status, 201, "create container {name}: {}", resp.text());
    }

    /// Container names (`GET /{account}?comp=list`, signed).
    pub fn list_containers(&self) -> Vec<String> {
        let resp = self
            .signed_request("GET", "", &[("comp", "list")], &[], b"")
            .unwrap_or_else(|e| panic!("list containers: {e}"));
        assert_eq!(resp.status, 200, "list containers: {}", resp.text());
        xml_values(&resp.text(), "Name")
    }

    /// A Shared Key signed request to `{endpoint}{path}?{query}`; `path` is below the account
    /// (`""` for the account itself, `/container`, `/container/blob`; not URL-encoded here, so
    /// keep names plain). `headers` may include `x-ms-*` headers, which get signed; standard
    /// headers that take part in the signature (Content-Type, If-Match, ...) are signed too.
    pub fn signed_request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpResponse, reqwest::Error> {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("x-ms-date".into(), date));
        all.push(("x-ms-version".into(), Self::API_VERSION.into()));
        // The URL path is /{account}{path}; the canonical resource is /{account}{URL path}.
        let url_path = format!("/{}{}", Self::ACCOUNT, path);
        let request = SharedKeyRequest {
            method,
            url_path: &url_path,
            query,
            headers: &all,
            content_length: body.len(),
        };
        all.push((
            "Authorization".into(),
            request.authorization(Self::ACCOUNT, Self::KEY),
        ));
        let mut url = format!("http://127.0.0.1:{}{}", self.port, url_path);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            let _ = write!(url, "{k}={v}");
        }
        let hdrs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        http_request(method, &url, &hdrs, body, Duration::from_secs(10))
    }
}

/// The parts of a Blob service request that its Shared Key signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SharedKeyRequest<'a> {
    pub method: &'a str,
    /// `/{account}/{container}/{blob}`, as in the URL.
    pub url_path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    /// Every header sent, `x-ms-date` among them (then `Date` is not signed).
    pub headers: &'a [(String, String)],
    pub content_length: usize,
}

impl SharedKeyRequest<'_> {
    /// The `Authorization: SharedKey account:signature` value
    /// (<https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>, version
    /// 2015-02-21 and later: an empty Content-Length line for a zero-length body).
    pub fn authorization(&self, account: &str, key_base64: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = b64
            .decode(key_base64)
            .unwrap_or_else(|e| panic!("the account key of {account} is not base64: {e}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any size");
        mac.update(self.string_to_sign(account).as_bytes());
        let signature = b64.encode(mac.finalize().into_bytes());
        format!("SharedKey {account}:{signature}")
    }

    fn string_to_sign(&self, account: &str) -> String {
        let get = |name: &str| {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let length = match self.content_length {
            0 => String::new(),
            n => n.to_string(),
        };
        let mut to_sign = format!(
            "{}\n{}\n{}\n{length}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.method,
            get("Content-Encoding"),
            get("Content-Language"),
            get("Content-MD5"),
            get("Content-Type"),
            // Date is left empty when x-ms-date is given, which signed_request always does.
            "",
            get("If-Modified-Since"),
            get("If-Match"),
            get("If-None-Match"),
            get("If-Unmodified-Since"),
            get("Range"),
        );
        let mut ms: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-ms-"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        ms.sort();
        for (k, v) in ms {
            let _ = writeln!(to_sign, "{k}:{v}");
        }
        let _ = write!(to_sign, "/{account}{}", self.url_path);
        let mut q: Vec<(String, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        q.sort();
        for (k, v) in q {
            let _ = write!(to_sign, "\n{k}:{v}");
        }
        to_sign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Thu, 03 Dec 2026 16:00:00 GMT";

    fn headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        extra
            .iter()
            .chain(&[("x-ms-date", DATE), ("x-ms-version", Azurite::API_VERSION)])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The expected values come from an independent signer (Python's `hmac` over the string to
    /// sign of the Shared Key documentation), so a wrong canonical form or key use shows here
    /// before Azurite answers 403.
    #[test]
    fn shared_key_signature_matches_an_independent_signer() {
        let headers = headers(&[]);
        let create_container = SharedKeyRequest {
            method: "PUT",
            url_path: "/devstoreaccount1/feed-test",
            query: &[("restype", "container")],
            headers: &headers,
            content_length: 0,
        };
        assert_eq!(
            create_container.authorization(Azurite::ACCOUNT, Azurite::KEY),
            "SharedKey devstoreaccount1:MparUeMz5grL84awVrW6WMgUBXOxvz9FGo4h7N3+Xng="
        );
    }

    #[test]
    fn shared_key_signature_covers_length_standard_headers_and_x_ms_headers() {
        let headers = headers(&[
            ("Content-Type", "text/plain"),
            ("If-None-Match", "*"),
            ("x-ms-blob-type", "BlockBlob"),
        ]);
        let put_blob = SharedKeyRequest {
            method: "PUT",
            url_path: "/devstoreaccount1/feed-test/a.txt",
            query: &[],
            headers: &headers,
            content_length: 5,
        };
        assert_eq!(
            put_blob.authorization(Azurite::ACCOUNT, Azurite::KEY),
            "SharedKey devstoreaccount1:Il6+GVWEet+kqBksbM1IZPqVHmcfL1D2LjGK+A49uqY="
        );
    }
}
