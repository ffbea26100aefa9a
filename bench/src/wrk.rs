//! Load from `wrk` (Debian's package): a fixed number of connections for a fixed time, each
//! request taking the next path of a list (so a run spreads over many documents, as restores
//! do), or the next package of a list for pushes. A Lua `done` hook prints the numbers as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

/// The numbers of one run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub bytes: u64,
    /// Responses with status >= 400.
    pub errors_status: u64,
    pub errors_connect: u64,
    pub errors_read: u64,
    pub errors_write: u64,
    pub errors_timeout: u64,
    /// Latency percentiles in microseconds.
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl WrkResult {
    /// Successful requests per second.
    pub fn ok_per_second(&self) -> f64 {
        let ok = self.requests.saturating_sub(self.errors_status);
        ok as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    pub fn errors(&self) -> u64 {
        self.errors_status
            + self.errors_connect
            + self.errors_read
            + self.errors_write
            + self.errors_timeout
    }
}

const DONE: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"requests":%d,"duration_us":%d,"bytes":%d,"errors_status":%d,"errors_connect":%d,' ..
    '"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"#;

/// Numbers wrk's threads: each script's `init` runs in a thread that knows its `tid`.
const SETUP: &str = r#"
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
"#;

/// GETs of the paths in the file given as the script's first argument, in turn; thread `tid`
/// of `threads` (the second argument) starts `tid / threads` of the way into the list.
const PATHS: &str = r#"
local paths = {}
local next_path = 0
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  next_path = math.floor(#paths * tid / tonumber(args[2]))
end
function request()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
"#;

/// PUTs of the request bodies in the file given as the first argument, at the offsets and
/// lengths of the index file given as the second; thread `tid` of `threads` takes every
/// `threads`-th body so no two threads push the same package.
const PUSHES: &str = r#"
local bodies = {}
local next_body = 0
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local threads = tonumber(args[3])
  local i = 0
  for line in io.lines(args[2]) do
    local off, len = line:match("(%d+) (%d+)")
    if i % threads == tid then
      bodies[#bodies + 1] = data:sub(tonumber(off) + 1, tonumber(off) + tonumber(len))
    end
    i = i + 1
  end
  wrk.headers["Content-Type"] = args[4]
  wrk.headers["X-NuGet-ApiKey"] = args[5]
end
function request()
  next_body = next_body % #bodies + 1
  return wrk.format("PUT", "/package/", nil, bodies[next_body])
end
"#;

/// The Lua scripts, written once into `dir`.
pub struct Scripts {
    pub paths: PathBuf,
    pub pushes: PathBuf,
    /// Only the `done` hook: wrk sends its one prepared request and runs no Lua per request.
    pub single: PathBuf,
}

impl Scripts {
    pub fn write(dir: &Path) -> anyhow::Result<Scripts> {
        let paths = dir.join("paths.lua");
        std::fs::write(&paths, format!("{SETUP}{PATHS}{DONE}"))?;
        let pushes = dir.join("pushes.lua");
        std::fs::write(&pushes, format!("{SETUP}{PUSHES}{DONE}"))?;
        let single = dir.join("single.lua");
        std::fs::write(&single, DONE)?;
        Ok(Scripts {
            paths,
            pushes,
            single,
        })
    }
}

/// One wrk run.
pub struct Load<'a> {
    pub base_url: &'a str,
    pub script: &'a Path,
    pub script_args: Vec<String>,
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
    pub headers: Vec<(&'a str, &'a str)>,
}

/// Runs wrk and reads the numbers its `done` hook prints.
pub fn run(load: &Load<'_>) -> anyhow::Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(load.script);
    for (name, value) in &load.headers {
        cmd.arg("-H").arg(format!("{name}: {value}"));
    }
    cmd.arg(load.base_url).arg("--").args(&load.script_args);
    let out = cmd
        .output()
        .context("cannot run wrk (Debian: apt-get install wrk, or .ci/install-deps.sh)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("wrk printed no result: {stdout}"))?;
    Ok(serde_json::from_str(line)?)
}

/// Writes a list of paths, one per line.
pub fn write_paths(file: &Path, paths: &[String]) -> anyhow::Result<()> {
    std::fs::write(file, paths.join("\n") + "\n")?;
    Ok(())
}
