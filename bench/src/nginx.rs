//! The baseline: nginx (Debian's `nginx-light`) serving the same response bytes as static
//! files, unprivileged, from a temporary prefix, tuned as one would tune it for this job
//! (sendfile, open file cache, long keep-alive, precompressed `.gz` files, no access log). The
//! process itself is `nuget_test_support::nginx`.

use std::path::Path;

use nuget_test_support::nginx::Nginx;
use nuget_test_support::ports::free_port;

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

/// The master (from `{prefix}/nginx.pid`) and its workers (its child processes) of the nginx
/// started with [`start`] on `prefix`.
pub fn pids(prefix: &Path) -> anyhow::Result<Vec<u32>> {
    let pid_file = prefix.join("nginx.pid");
    let master: u32 = std::fs::read_to_string(&pid_file)?
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: {e}", pid_file.display()))?;
    let mut pids = vec![master];
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent pid is the second field after the parenthesized command name.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(master) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Starts nginx on `root` with its files under `prefix`, on a free port.
pub fn start(prefix: &Path, root: &Path, workers: usize) -> anyhow::Result<Nginx> {
    let port = free_port();
    let conf = config(prefix, root, port, workers, is_root());
    Nginx::start(prefix, &conf, vec![port]).map_err(|e| {
        anyhow::anyhow!(
            "cannot start nginx (Debian: apt-get install nginx-light, or .ci/install-deps.sh): {e}"
        )
    })
}
