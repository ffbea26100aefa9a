//! nginx (Debian `nginx-light`) run unprivileged from a prefix folder: as the ingress
//! controller of the end-to-end test (configured from a rendered Ingress the way
//! ingress-nginx configures itself), as the server of a static NuGet feed
//! ([`crate::static_feed`]) and as the bench's static-file baseline (which brings its own
//! configuration).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::ports::free_port;
use crate::process::{Process, Ready};
use crate::tools::{DEPS_HINT, find_in_path, missing_or_skip, tool_path};

/// A running nginx, stopped on drop (SIGTERM, so a master stops its workers; then killed).
pub struct Nginx {
    /// The ports it listens on, in the order they were given.
    pub ports: Vec<u16>,
    /// Its prefix: configuration, logs, temp folders.
    pub dir: PathBuf,
    process: Process,
    _temp: Option<TempDir>,
}

/// `$NGINX`, `nginx` on PATH or `/usr/sbin/nginx`.
pub fn locate() -> Result<PathBuf, String> {
    tool_path(
        "NGINX",
        find_in_path("nginx")
            .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")))
            .filter(|p| p.is_file()),
    )
    .map_err(|e| format!("{e}; nginx comes from the Debian package nginx-light"))
}

/// nginx's version line (for reports), or why there is none.
pub fn version() -> String {
    locate()
        .and_then(|bin| {
            Command::new(bin)
                .arg("-v")
                .output()
                .map_err(|e| e.to_string())
        })
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_else(|why| format!("nginx not found: {why}"))
}

impl Nginx {
    /// Writes `conf` to `<dir>/nginx.conf`, starts `nginx -c <conf> -p <dir>` and waits until
    /// it answers on every port of `ports` (which `conf` must listen on).
    pub fn start(dir: &Path, conf: &str, ports: Vec<u16>) -> Result<Nginx, String> {
        let bin = locate()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("{}: {e}", conf_path.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&conf_path).arg("-p").arg(dir);
        let mut process = Process::try_spawn("nginx", cmd, &dir.join("stdout.log"))
            .map_err(|e| format!("{e}\n=> {DEPS_HINT}"))?;
        for port in &ports {
            process
                .wait_ready(
                    &format!("http://127.0.0.1:{port}/"),
                    Ready::Answers,
                    Duration::from_secs(10),
                )
                .map_err(|e| format!("{e}\nnginx.conf:\n{conf}"))?;
        }
        Ok(Nginx {
            ports,
            dir: dir.to_owned(),
            process,
            _temp: None,
        })
    }

    /// nginx configured from a rendered Ingress the way ingress-nginx configures itself: a
    /// server per rule host, a location per `Prefix` path (the path and everything below it),
    /// proxied with the path unchanged (no rewrite), ingress-nginx's forwarded headers, and its
    /// request body limit (the `proxy-body-size` annotation, else 1m). Each entry of
    /// `upstreams` gets one "ingress controller" port whose backend is that one replica, so a
    /// test chooses the replica. The access log records the upstream of every request
    /// ([`Nginx::access_log`]). `None` when nginx is missing and `NUGET_SKIP_EXTERNAL=1`.
    pub fn for_ingress_or_skip(ingress: &Value, upstreams: &[u16]) -> Option<Nginx> {
        if let Err(why) = locate() {
            return missing_or_skip("nginx", &why, DEPS_HINT);
        }
        let temp = tempfile::Builder::new()
            .prefix("nginx-")
            .tempdir()
            .expect("create temp dir for nginx");
        let ports: Vec<u16> = upstreams.iter().map(|_| free_port()).collect();
        let conf = ingress_conf(temp.path(), ingress, &ports, upstreams);
        let mut nginx = Nginx::start(temp.path(), &conf, ports).unwrap_or_else(|e| panic!("{e}"));
        nginx._temp = Some(temp);
        Some(nginx)
    }

    /// `http://127.0.0.1:{first port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// Every request so far, when the configuration logs in [`ingress_conf`]'s format.
    pub fn access_log(&self) -> Vec<Request> {
        std::fs::read_to_string(self.dir.join("access.log"))
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

impl Drop for Nginx {
    fn drop(&mut self) {
        // A killed master would leave its workers behind: ask it to stop first.
        self.process.terminate(Duration::from_secs(5));
    }
}

/// One line of the ingress emulation's access log.
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

/// The start of a configuration run from `dir`, up to inside its open `http {` block: logs,
/// pid and temp folders in `dir`, and an access log that [`Nginx::access_log`] reads. The
/// caller adds its servers and closes the block.
pub(crate) fn http_preamble(dir: &Path) -> String {
    let d = dir.display();
    // One process, no master and workers: it runs as whoever starts it (a root master would
    // run its workers as `nobody`), and killing it leaves no orphaned worker.
    format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 256; }}\nhttp {{\n\
         log_format upstream '$request_method $host $request_uri $status $upstream_addr';\n\
         access_log {d}/access.log upstream;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n"
    )
}

/// The configuration of [`Nginx::for_ingress_or_skip`]: `listen[i]` proxies to `upstreams[i]`.
fn ingress_conf(dir: &Path, ingress: &Value, listen: &[u16], upstreams: &[u16]) -> String {
    let body_size =
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
            .as_str()
            .unwrap_or("1m");
    let mut conf = http_preamble(dir);
    for (i, (listen, upstream)) in listen.iter().zip(upstreams).enumerate() {
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
                let path = p["path"]
                    .as_str()
                    .expect("a rule path")
                    .trim_end_matches('/');
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
    conf
}
