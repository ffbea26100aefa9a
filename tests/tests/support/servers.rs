//! The pieces of the end-to-end test, each a real program on loopback: moto (S3), feed-server
//! "pods" started from the operator's rendered Deployment, ConfigMap and Secrets, nginx
//! configured from the rendered Ingress, and NuGet.exe 4.0.0 on mono.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::process::{Process, free_port, http_request, wait_ready};
use super::tools::{DEPS_HINT, ci_cache_dir, find_in_path, missing_or_skip, tool_path};

// ------------------------------------------------------------------------------------------------
// moto

/// A moto S3 server (PyPI `moto[server]`, installed by `.ci/install-deps.sh`). It accepts any
/// credentials and enforces conditional writes, like S3.
pub struct Moto {
    pub port: u16,
    process: Process,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start_or_skip() -> Option<Moto> {
        let bin = match tool_path(
            "MOTO_SERVER",
            Some(ci_cache_dir().join("venv/bin/moto_server")),
        ) {
            Ok(b) => b,
            Err(why) => return missing_or_skip("moto", &why, DEPS_HINT),
        };
        let dir = tempfile::Builder::new().prefix("moto-").tempdir().unwrap();
        let mut failures = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .env("PYTHONUNBUFFERED", "1");
            let mut process = Process::spawn("moto", cmd, &dir.path().join("moto.log"));
            match wait_ready(
                &format!("http://127.0.0.1:{port}/"),
                Duration::from_secs(30),
                &mut process,
            ) {
                Ok(()) => {
                    return Some(Moto {
                        port,
                        process,
                        _dir: dir,
                    });
                }
                Err(e) => failures.push(e),
            }
        }
        panic!("moto did not start:\n{}", failures.join("\n"));
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `PUT /{bucket}` (moto checks no signature).
    pub fn create_bucket(&self, bucket: &str) {
        let r = http_request(
            "PUT",
            &format!("{}/{bucket}", self.endpoint()),
            &[],
            b"",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.status, 200, "create bucket: {}", r.text());
    }

    /// Keys of the objects under `prefix` (ListObjectsV2, first page).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let r = http_request(
            "GET",
            &format!("{}/{bucket}?list-type=2&prefix={prefix}", self.endpoint()),
            &[],
            b"",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.status, 200, "list objects: {}", r.text());
        r.text()
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }
}

// ------------------------------------------------------------------------------------------------
// A feed-server pod from the rendered manifests

/// A rendered `v1` Secret or ConfigMap's entries (base64 `data` decoded).
pub fn object_data(doc: &Value) -> BTreeMap<String, Vec<u8>> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    for (k, v) in doc["data"].as_object().into_iter().flatten() {
        let s = v.as_str().unwrap_or_default();
        let bytes = if doc["kind"] == "Secret" {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("Secret data is base64")
        } else {
            s.as_bytes().to_vec()
        };
        out.insert(k.clone(), bytes);
    }
    for (k, v) in doc["stringData"].as_object().into_iter().flatten() {
        out.insert(
            k.clone(),
            v.as_str().unwrap_or_default().as_bytes().to_vec(),
        );
    }
    out
}

/// One replica of the feed server run the way the rendered Deployment runs it, without a
/// container runtime: every volume of the pod spec is materialised under a private root
/// (ConfigMap and Secret volumes as files, emptyDirs and claims as folders), the container's
/// env is set as the kubelet would (`secretKeyRef` from the given Secrets), and paths the
/// container sees (`/etc/nuget-feed/...`, `/tmp`, `/data`) are re-rooted. The config file is
/// the ConfigMap's `config.yaml` byte for byte; only settings that name a path inside the
/// container, and the listen address, are re-pointed through the feed server's own
/// `NUGET_FEED_*` overrides (a loopback port instead of the pod's port 5000).
pub struct FeedPod {
    pub port: u16,
    pub root: tempfile::TempDir,
    pub process: Process,
}

impl FeedPod {
    pub fn start(
        binary: &Path,
        name: &str,
        rendered: &[Value],
        secrets: &[Value],
        extra_env: &[(&str, &str)],
    ) -> FeedPod {
        let find = |kind: &str, name: &str| -> Option<&Value> {
            rendered
                .iter()
                .chain(secrets)
                .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        };
        let deployment = rendered
            .iter()
            .find(|d| d["kind"] == "Deployment")
            .expect("a rendered Deployment");
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let root = tempfile::Builder::new()
            .prefix(&format!("pod-{name}-"))
            .tempdir()
            .unwrap();
        let rooted = |p: &str| root.path().join(p.trim_start_matches('/'));

        let mut mounts: Vec<String> = Vec::new();
        for m in container["volumeMounts"].as_array().into_iter().flatten() {
            let path = m["mountPath"].as_str().unwrap();
            let volume = pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == m["name"])
                .expect("every mount has a volume");
            let dir = rooted(path);
            std::fs::create_dir_all(&dir).unwrap();
            // ConfigMap and Secret volumes become files; emptyDir and persistentVolumeClaim
            // volumes an empty folder.
            let source = match (
                volume["configMap"]["name"].as_str(),
                volume["secret"]["secretName"].as_str(),
            ) {
                (Some(cm), _) => {
                    Some(find("ConfigMap", cm).unwrap_or_else(|| panic!("ConfigMap {cm}")))
                }
                (None, Some(s)) => Some(find("Secret", s).unwrap_or_else(|| panic!("Secret {s}"))),
                (None, None) => None,
            };
            for (file, bytes) in source.map(object_data).unwrap_or_default() {
                std::fs::write(dir.join(file), bytes).unwrap();
            }
            mounts.push(path.to_owned());
        }
        let reroot = |value: &str| -> Option<PathBuf> {
            mounts
                .iter()
                .any(|m| value == m || value.starts_with(&format!("{m}/")))
                .then(|| rooted(value))
        };

        let port = free_port();
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .current_dir(root.path());
        let mut config_path = None;
        for e in container["env"].as_array().into_iter().flatten() {
            let key = e["name"].as_str().unwrap();
            if let Some(v) = e["value"].as_str() {
                match reroot(v) {
                    Some(p) => {
                        if key == "NUGET_FEED_CONFIG" {
                            config_path = Some(p.clone());
                        }
                        cmd.env(key, p);
                    }
                    None => {
                        cmd.env(key, v);
                    }
                }
            } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                let secret = r["name"].as_str().unwrap();
                let value = find("Secret", secret)
                    .map(object_data)
                    .and_then(|d| d.get(r["key"].as_str().unwrap()).cloned());
                match value {
                    Some(v) => {
                        cmd.env(key, String::from_utf8(v).unwrap());
                    }
                    None => assert!(
                        r.get("optional") == Some(&Value::Bool(true)),
                        "env {key}: Secret {secret} has no key {}",
                        r["key"]
                    ),
                }
            } else {
                panic!("env {key}: unsupported source {e}");
            }
        }
        // Settings of the config file that name a path inside the container.
        let config_path = config_path.expect("the Deployment sets NUGET_FEED_CONFIG");
        let config: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        for (field, env) in [
            ("api_keys_file", "NUGET_FEED_API_KEYS_FILE"),
            ("read_tokens_file", "NUGET_FEED_READ_TOKENS_FILE"),
            ("temp_dir", "NUGET_FEED_TEMP_DIR"),
            ("vulnerabilities_file", "NUGET_FEED_VULNERABILITIES_FILE"),
        ] {
            if let Some(p) = config[field].as_str() {
                let local = reroot(p).unwrap_or_else(|| {
                    panic!("config {field} `{p}` is not inside a volume of the pod")
                });
                cmd.env(env, local);
            }
        }
        if let Some(url) = config["storage"]["url"].as_str()
            && let Some(local) = reroot(url)
        {
            cmd.env("NUGET_FEED_STORAGE_URL", local);
        }
        cmd.env("NUGET_FEED_LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let log = root.path().join("feed-server.log");
        let mut process = Process::spawn(&format!("feed-server {name}"), cmd, &log);
        let ready = container["readinessProbe"]["httpGet"]["path"]
            .as_str()
            .expect("a readiness probe");
        if let Err(e) = wait_ready(
            &format!("http://127.0.0.1:{port}{ready}"),
            Duration::from_secs(60),
            &mut process,
        ) {
            panic!("{e}");
        }
        FeedPod {
            port,
            root,
            process,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// nginx as the ingress controller

/// nginx configured from a rendered Ingress the way ingress-nginx configures itself: a server
/// per rule host, a location per `Prefix` path (the path and everything below it), proxied
/// with the path unchanged (no rewrite), ingress-nginx's forwarded headers, and its request
/// body limit (the `proxy-body-size` annotation, else 1m). Each entry of `listeners` is one
/// "ingress controller" port whose backend is one replica, so a test chooses the replica.
/// The access log records the upstream of every request.
pub struct Nginx {
    pub ports: Vec<u16>,
    pub dir: tempfile::TempDir,
    process: Process,
}

impl Nginx {
    pub fn locate() -> Result<PathBuf, String> {
        tool_path(
            "NGINX",
            find_in_path("nginx")
                .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")))
                .filter(|p| p.is_file()),
        )
        .map_err(|e| format!("{e}; nginx comes from the Debian package nginx-light"))
    }

    pub fn start_or_skip(ingress: &Value, upstreams: &[u16]) -> Option<Nginx> {
        let bin = match Self::locate() {
            Ok(b) => b,
            Err(why) => return missing_or_skip("nginx", &why, DEPS_HINT),
        };
        let dir = tempfile::Builder::new().prefix("nginx-").tempdir().unwrap();
        let d = dir.path().display().to_string();
        let body_size =
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
                .as_str()
                .unwrap_or("1m");
        let ports: Vec<u16> = upstreams.iter().map(|_| free_port()).collect();
        // One process, no master and workers: it runs as whoever starts it (a root master
        // would run its workers as `nobody`), and killing it leaves no orphaned worker.
        let mut conf = format!(
            "daemon off;\nmaster_process off;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 256; }}\nhttp {{\n\
             log_format upstream '$request_method $host $request_uri $status $upstream_addr';\n\
             access_log {d}/access.log upstream;\n\
             client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n"
        );
        for (i, (listen, upstream)) in ports.iter().zip(upstreams).enumerate() {
            let _ = writeln!(
                conf,
                "upstream replica{i} {{ server 127.0.0.1:{upstream}; }}\n\
                 server {{ listen 127.0.0.1:{listen} default_server; return 404; }}"
            );
            for rule in ingress["spec"]["rules"].as_array().expect("Ingress rules") {
                let host = rule["host"].as_str().expect("a rule host");
                let _ = writeln!(
                    conf,
                    "server {{\n  listen 127.0.0.1:{listen};\n  server_name {host};\n  client_max_body_size {body_size};"
                );
                for p in rule["http"]["paths"].as_array().expect("rule paths") {
                    assert_eq!(p["pathType"], "Prefix", "only Prefix paths are emulated");
                    let path = p["path"].as_str().unwrap().trim_end_matches('/');
                    let proxy = format!(
                        "proxy_pass http://replica{i}; proxy_http_version 1.1; \
                         proxy_set_header Host $host; proxy_set_header X-Real-IP $remote_addr; \
                         proxy_set_header X-Forwarded-For $remote_addr; \
                         proxy_set_header X-Forwarded-Host $host; \
                         proxy_set_header X-Forwarded-Port $server_port; \
                         proxy_set_header X-Forwarded-Proto $scheme;"
                    );
                    let _ = writeln!(
                        conf,
                        "  location = {path} {{ {proxy} }}\n  location {path}/ {{ {proxy} }}"
                    );
                }
                conf.push_str("}\n");
            }
        }
        conf.push_str("}\n");
        std::fs::write(dir.path().join("nginx.conf"), &conf).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-p")
            .arg(dir.path());
        let mut process = Process::spawn("nginx", cmd, &dir.path().join("stdout.log"));
        for port in &ports {
            if let Err(e) = wait_ready(
                &format!("http://127.0.0.1:{port}/"),
                Duration::from_secs(10),
                &mut process,
            ) {
                panic!("{e}\nnginx.conf:\n{conf}");
            }
        }
        Some(Nginx {
            ports,
            dir,
            process,
        })
    }

    /// Every request so far.
    pub fn access_log(&self) -> Vec<Request> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                Some(Request {
                    method: f.next()?.to_owned(),
                    host: f.next()?.to_owned(),
                    uri: f.next()?.to_owned(),
                    status: f.next()?.parse().ok()?,
                    upstream: f.next().unwrap_or("-").to_owned(),
                })
            })
            .collect()
    }
}

/// One line of nginx's access log.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The host nginx chose the server by (from the absolute URI or the Host header).
    pub host: String,
    /// The URI as the client sent it, before any rewrite (there is none).
    pub uri: String,
    pub status: u16,
    /// The replica that answered.
    pub upstream: String,
}

// ------------------------------------------------------------------------------------------------
// NuGet.exe

/// NuGet.exe 4.0.0 (npm `nuget-in-path@2.0.1`) on mono, hermetic (HOME, config, caches and
/// TMPDIR in a temp root, nothing else of the environment), as in the feed server's tests. The
/// feed's real host name resolves through `http_proxy`, which NuGet.exe honours: requests for
/// `http://nuget.example.com/...` go to the nginx "ingress controller" in absolute form, and
/// nginx picks the server by that host, so no DNS entry is needed.
pub struct NuGetExe {
    mono: PathBuf,
    exe: PathBuf,
    pub root: tempfile::TempDir,
}

impl NuGetExe {
    pub fn new_or_skip() -> Option<NuGetExe> {
        let mono = match tool_path(
            "MONO",
            find_in_path("mono").or_else(|| Some(PathBuf::from("/usr/bin/mono"))),
        ) {
            Ok(m) => m,
            Err(why) => return missing_or_skip("mono", &why, DEPS_HINT),
        };
        let exe = match tool_path(
            "NUGET_EXE",
            Some(ci_cache_dir().join("npm/nuget-in-path-2.0.1/bin/nuget.exe")),
        ) {
            Ok(e) => e,
            Err(why) => return missing_or_skip("NuGet.exe", &why, DEPS_HINT),
        };
        let root = tempfile::Builder::new()
            .prefix("nuget-exe-")
            .tempdir()
            .unwrap();
        for d in ["home", "xdg-config/NuGet", "packages", "http-cache", "tmp"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        // nuget.org off: NuGet.exe adds it to a user config without sources.
        std::fs::write(
            root.path().join("xdg-config/NuGet/NuGet.Config"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n  </packageSources>\n  <disabledPackageSources>\n    <add key=\"nuget.org\" value=\"true\" />\n  </disabledPackageSources>\n</configuration>\n",
        )
        .unwrap();
        Some(NuGetExe { mono, exe, root })
    }

    fn config(&self) -> PathBuf {
        self.root.path().join("xdg-config/NuGet/NuGet.Config")
    }

    /// Makes `url` the one package source, named `name`, with HTTP Basic credentials when
    /// given (as `dotnet nuget add source --username --password` writes them).
    pub fn configure_source(&self, name: &str, url: &str, credentials: Option<(&str, &str)>) {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n    <add key=\"{name}\" value=\"{url}\" protocolVersion=\"3\" />\n  </packageSources>\n  <disabledPackageSources>\n    <add key=\"nuget.org\" value=\"true\" />\n  </disabledPackageSources>\n"
        );
        if let Some((user, password)) = credentials {
            let _ = write!(
                xml,
                "  <packageSourceCredentials>\n    <{name}>\n      <add key=\"Username\" value=\"{user}\" />\n      <add key=\"ClearTextPassword\" value=\"{password}\" />\n    </{name}>\n  </packageSourceCredentials>\n"
            );
        }
        xml.push_str("</configuration>\n");
        std::fs::write(self.config(), xml).unwrap();
    }

    /// `mono nuget.exe <args>` with `http_proxy` set (when given).
    pub fn run(&self, args: &[&str], proxy: Option<u16>) -> Output {
        let r = self.root.path();
        let mut cmd = Command::new(&self.mono);
        cmd.arg(&self.exe)
            .args(args)
            .current_dir(r)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("LANG", "C.UTF-8")
            .env("HOME", r.join("home"))
            .env("XDG_CONFIG_HOME", r.join("xdg-config"))
            .env("NUGET_PACKAGES", r.join("packages"))
            .env("NUGET_HTTP_CACHE_PATH", r.join("http-cache"))
            .env("TMPDIR", r.join("tmp"));
        if let Some(port) = proxy {
            cmd.env("http_proxy", format!("http://127.0.0.1:{port}"));
        }
        cmd.output().expect("mono runs NuGet.exe")
    }

    /// Packs a one-file package `id` `version`; its path.
    pub fn pack(&self, id: &str, version: &str) -> PathBuf {
        self.pack_with_payload(id, version, 0)
    }

    /// Packs `id` `version` with `content/readme.txt` and, when `payload_bytes > 0`, an
    /// incompressible `content/payload.bin` of that size (to push bodies larger than the
    /// proxy's buffers and than ingress-nginx's default 1m limit).
    pub fn pack_with_payload(&self, id: &str, version: &str, payload_bytes: usize) -> PathBuf {
        let dir = self.root.path().join(format!("src-{id}-{version}"));
        std::fs::create_dir_all(dir.join("content")).unwrap();
        std::fs::write(dir.join("content/readme.txt"), format!("{id} {version}\n")).unwrap();
        let mut payload = Vec::with_capacity(payload_bytes);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        while payload.len() < payload_bytes {
            // xorshift64: cheap bytes that deflate cannot shrink.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            payload.extend_from_slice(&x.to_le_bytes());
        }
        payload.truncate(payload_bytes);
        std::fs::write(dir.join("content/payload.bin"), payload).unwrap();
        let nuspec = dir.join(format!("{id}.nuspec"));
        std::fs::write(
            &nuspec,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n  <metadata>\n    <id>{id}</id>\n    <version>{version}</version>\n    <authors>tests</authors>\n    <description>End-to-end test package</description>\n  </metadata>\n  <files>\n    <file src=\"content/*\" target=\"content\" />\n  </files>\n</package>\n"
            ),
        )
        .unwrap();
        let out_dir = self.root.path().join("nupkgs");
        let out = self.run(
            &[
                "pack",
                nuspec.to_str().unwrap(),
                "-OutputDirectory",
                out_dir.to_str().unwrap(),
                "-NonInteractive",
            ],
            None,
        );
        assert_success(&out, "pack");
        out_dir.join(format!("{id}.{version}.nupkg"))
    }

    pub fn push(&self, nupkg: &Path, source: &str, key: &str, proxy: u16) -> Output {
        let config = self.config();
        self.run(
            &[
                "push",
                nupkg.to_str().unwrap(),
                "-Source",
                source,
                "-ApiKey",
                key,
                "-NonInteractive",
                "-ConfigFile",
                config.to_str().unwrap(),
            ],
            Some(proxy),
        )
    }

    pub fn install(&self, id: &str, version: &str, source: &str, out: &Path, proxy: u16) -> Output {
        let config = self.config();
        self.run(
            &[
                "install",
                id,
                "-Version",
                version,
                "-Source",
                source,
                "-OutputDirectory",
                out.to_str().unwrap(),
                "-NoCache",
                "-NonInteractive",
                "-ConfigFile",
                config.to_str().unwrap(),
            ],
            Some(proxy),
        )
    }
}

/// Panics with stdout and stderr unless `out` succeeded.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "nuget.exe {what} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
