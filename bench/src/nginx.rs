//! The baseline: nginx (Debian's `nginx-light`) serving the same response bytes as static
//! files, unprivileged, from a temporary prefix, tuned as one would tune it for this job
//! (sendfile, open file cache, long keep-alive, precompressed `.gz` files, no access log).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::server::free_port;

/// Where Debian installs nginx.
const NGINX: &str = "/usr/sbin/nginx";

/// nginx's configuration for serving `root` on `port` with `workers` worker processes.
pub fn config(prefix: &Path, root: &Path, port: u16, workers: usize, as_root: bool) -> String {
    let p = prefix.display();
    // Workers of a root master would switch to `nobody`, who cannot read a private temp dir.
    let user = if as_root { "user root root;\n" } else { "" };
    format!(
        r#"{user}worker_processes {workers};
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  types {{ application/json json; }}
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  open_file_cache max=20000 inactive=120s;
  open_file_cache_valid 120s;
  gzip_static on;
  client_body_temp_path {p}/client;
  proxy_temp_path {p}/proxy;
  fastcgi_temp_path {p}/fastcgi;
  uwsgi_temp_path {p}/uwsgi;
  scgi_temp_path {p}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
"#,
        root = root.display()
    )
}

/// A running nginx.
pub struct Nginx {
    child: Child,
    pub port: u16,
    prefix: PathBuf,
    conf: PathBuf,
}

/// Whether this process runs as root (uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Nginx {
    /// Starts nginx on `root` with its files under `prefix`.
    pub fn start(prefix: &Path, root: &Path, workers: usize) -> anyhow::Result<Nginx> {
        let port = free_port()?;
        std::fs::create_dir_all(prefix)?;
        let conf: PathBuf = prefix.join("nginx.conf");
        std::fs::write(&conf, config(prefix, root, port, workers, is_root()))?;
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context(
                "cannot start nginx (Debian: apt-get install nginx-light, or .ci/install-deps.sh)",
            )?;
        let mut nginx = Nginx {
            child,
            port,
            prefix: prefix.to_owned(),
            conf,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = nginx.child.try_wait()? {
                anyhow::bail!(
                    "nginx exited with {status}; see {}",
                    prefix.join("error.log").display()
                );
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(nginx)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Ask the master we started to stop with its workers (a killed master would leave
        // its workers behind); kill it only if it does not.
        let _ = Command::new(NGINX)
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .arg("-s")
            .arg("stop")
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx's version line, for the report.
pub fn version() -> String {
    Command::new(NGINX)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_else(|_| "nginx not found".into())
}
