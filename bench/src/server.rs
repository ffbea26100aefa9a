//! The server under test: the release binary as a child process on a generated feed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The API key the bench pushes with.
pub const PUSH_KEY: &str = "bench-push-key-0123456789";

/// Longest wait for a server to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// A running server.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    /// How long from spawning the process to its first successful `/readyz`.
    pub startup: Duration,
}

/// Memory of a process, from `/proc/{pid}/status`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// Resident set now.
    pub rss_kib: u64,
    /// Peak resident set so far (VmHWM).
    pub peak_kib: u64,
}

/// A free port on 127.0.0.1 (free when asked; the server binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Memory of process `pid`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    })
}

/// Writes the API key file the bench's servers use.
pub fn write_keys(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("api-keys.yaml");
    std::fs::write(
        &path,
        format!("keys:\n  - name: bench\n    key: {PUSH_KEY}\n"),
    )?;
    Ok(path)
}

impl ServerProcess {
    /// Starts `bin` on the feed in `data` and waits until it answers.
    pub async fn start(bin: &Path, data: &Path, scratch: &Path) -> anyhow::Result<ServerProcess> {
        let port = free_port()?;
        let keys = write_keys(scratch)?;
        let tmp = scratch.join("uploads");
        std::fs::create_dir_all(&tmp)?;
        let log = std::fs::File::create(scratch.join(format!("server-{port}.log")))?;
        let started = Instant::now();
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--storage-url")
            .arg(data)
            .arg("--api-keys-file")
            .arg(&keys)
            .arg("--temp-dir")
            .arg(&tmp)
            // The default log level (info), as a deployment runs it.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut server = ServerProcess {
            child,
            port,
            startup: Duration::ZERO,
        };
        let client = reqwest::Client::new();
        let ready = format!("http://127.0.0.1:{port}/readyz");
        loop {
            if let Ok(r) = client.get(&ready).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!(
                    "the server exited with {status} before answering; see {}",
                    scratch.display()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                anyhow::bail!("the server did not answer within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.startup = started.elapsed();
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory(self.child.id())
    }

    /// Stops the server (it was started by us; nothing else is touched).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
