//! The server under test: the release binary as a child process on a generated feed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nuget_feed_config::{ApiKeyEntry, ApiKeysFile, IdPattern, KeyHash, Scope};
use nuget_test_support::ports::free_port;
use nuget_test_support::process::{Process, Ready};

/// The API key the bench pushes with.
pub const PUSH_KEY: &str = "bench-push-key-0123456789";

/// Longest wait for a server to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// A running server, killed on drop.
pub struct ServerProcess {
    process: Process,
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

/// Clock ticks per second of `/proc/{pid}/stat`'s times: Linux's `USER_HZ`, 100 on every
/// architecture Debian builds for.
const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system, all threads) process `pid` has used, from `/proc/{pid}/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    // utime and stime are fields 14 and 15, so the 12th and 13th after the name.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("cannot read /proc/{pid}/stat: {stat}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no field {} in /proc/{pid}/stat: {stat}", i + 3))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 1000 / CLOCK_TICKS_PER_SECOND))
}

/// Writes the API key file the bench's servers use.
pub fn write_keys(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("api-keys.yaml");
    let keys = ApiKeysFile {
        keys: vec![ApiKeyEntry {
            name: "bench".into(),
            hash: KeyHash::of(PUSH_KEY),
            scopes: vec![Scope::Push, Scope::Unlist],
            packages: vec![IdPattern::parse("*")?],
        }],
    };
    std::fs::write(&path, keys.to_yaml()?)?;
    Ok(path)
}

impl ServerProcess {
    /// Starts `bin` on the feed in `data` and waits until it answers `/readyz` (polled every
    /// 10 ms, the resolution of [`ServerProcess::startup`]).
    pub fn start(bin: &Path, data: &Path, scratch: &Path) -> anyhow::Result<ServerProcess> {
        Self::start_with(bin, data, scratch, &[])
    }

    /// [`ServerProcess::start`] with more command-line arguments (`--upstream <url>`).
    pub fn start_with(
        bin: &Path,
        data: &Path,
        scratch: &Path,
        args: &[&str],
    ) -> anyhow::Result<ServerProcess> {
        let port = free_port();
        let keys = write_keys(scratch)?;
        let tmp = scratch.join("uploads");
        std::fs::create_dir_all(&tmp)?;
        let mut cmd = Command::new(bin);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--storage-url")
            .arg(data)
            .arg("--api-keys-file")
            .arg(&keys)
            .arg("--temp-dir")
            .arg(&tmp)
            .args(args)
            // The default log level (info), as a deployment runs it.
            .env_remove("RUST_LOG");
        let started = Instant::now();
        let mut process = Process::try_spawn(
            "the server",
            cmd,
            &scratch.join(format!("server-{port}.log")),
        )?;
        process
            .wait_ready(
                &format!("http://127.0.0.1:{port}/readyz"),
                Ready::Success,
                START_TIMEOUT,
            )
            .map_err(anyhow::Error::msg)?;
        Ok(ServerProcess {
            process,
            port,
            startup: started.elapsed(),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory(self.process.pid())
    }

    /// Stops the server (it was started by us; nothing else is touched).
    pub fn stop(self) {
        drop(self.process);
    }
}
