//! Harnesses for the real external programs the tests drive: NuGet.exe 4.0.0 on mono (a real
//! NuGet client), moto (an S3 server) and Azurite (an Azure Blob server).
//!
//! All of them are installed by `.ci/install-deps.sh` (Debian `mono-complete`, npm
//! `nuget-in-path@2.0.1` and `azurite@3.35.0`, PyPI `moto[server]==5.2.5`; the npm and PyPI ones
//! under `.ci/cache/`). Each tool can be pointed elsewhere with an environment variable:
//! `MONO`, `NUGET_EXE`, `MOTO_SERVER`, `AZURITE_BLOB` (and `NUGET_CI_CACHE` moves the whole cache).
//!
//! A missing tool is a test failure with a message saying to run `.ci/install-deps.sh`, unless
//! `NUGET_SKIP_EXTERNAL=1` is set: then the `*_or_skip` constructors return `None` and the test
//! returns early.
//!
//! Everything here is synchronous and uses only std plus crates the feed server already depends
//! on (`tempfile`, `sha2`, `base64`, `chrono`), so it works from plain `#[test]`s and from
//! `#[tokio::test]`s alike (the servers are separate processes, so blocking while waiting for
//! them cannot starve them). To wait for a server running *inside* the test's own tokio runtime,
//! use [`wait_until_ready_async`].

#![allow(dead_code)]

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// What to tell a developer whose machine lacks a tool.
pub const INSTALL_HINT: &str = "run .ci/install-deps.sh (or set NUGET_SKIP_EXTERNAL=1 to skip the tests that need external tools)";

/// `NUGET_SKIP_EXTERNAL=1`: tests that need a missing external tool skip instead of failing.
pub fn skip_external() -> bool {
    matches!(
        std::env::var("NUGET_SKIP_EXTERNAL").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Turns "tool missing" into a panic with [`INSTALL_HINT`], or into `None` (with a note on stderr)
/// when [`skip_external`] is set.
fn missing_or_skip<T>(what: &str, why: String) -> Option<T> {
    if skip_external() {
        eprintln!("SKIPPED (NUGET_SKIP_EXTERNAL=1): {what} is not available: {why}");
        None
    } else {
        panic!("{what} is not available: {why}\n=> {INSTALL_HINT}");
    }
}

// ------------------------------------------------------------------------------------------------
// Locating the tools

/// The repository root (the parent of this crate's folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate folder has a parent")
        .to_path_buf()
}

/// Where `.ci/install-deps.sh` puts npm and PyPI tools (`NUGET_CI_CACHE` or `<repo>/.ci/cache`).
pub fn ci_cache_dir() -> PathBuf {
    match std::env::var_os("NUGET_CI_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".ci").join("cache"),
    }
}

/// `$var` if set, else `default`; `Err` explains what was looked at when the file is not there.
fn tool_path(var: &str, default: PathBuf) -> Result<PathBuf, String> {
    let (path, origin) = match std::env::var_os(var) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), format!("${var}")),
        _ => (
            default,
            format!("default location (set ${var} to override)"),
        ),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} not found ({origin})", path.display()))
    }
}

/// Finds an executable on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

// ------------------------------------------------------------------------------------------------
// Ports, readiness, a tiny HTTP/1.1 client

/// A loopback port that was free a moment ago (bind to port 0, read it back, release it).
/// Another process may grab it in between; the server harnesses retry on another port if so.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A response read by [`http_request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names as sent (compare case-insensitively, or use [`HttpResponse::header`]).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One plain-HTTP/1.1 request (`Connection: close`) to an `http://host:port/path?query` URL,
/// std only, meant for loopback servers. Adds `Host` and `Content-Length`; `headers` come on top.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid(format!("only http:// URLs are supported: {url}")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid(format!("cannot resolve {authority}")))?;

    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    let mut has_length = false;
    for (name, value) in headers {
        has_length |= name.eq_ignore_ascii_case("content-length");
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !has_length && (!body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH")) {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
}

fn parse_response(raw: &[u8], head_only: bool) -> io::Result<HttpResponse> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of response headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    if head_only {
        body.clear();
    } else if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Polls `url` with GET until the server answers with any status below 500 (an answer at all
/// means it is up; Azurite, for one, answers 400/403 to unsigned requests). Returns that status.
pub fn wait_until_ready(url: &str, timeout: Duration) -> Result<u16, String> {
    wait_ready_inner(url, timeout, || Ok(()))
}

/// [`wait_until_ready`] for a server running inside the caller's own tokio runtime (polls on the
/// blocking pool, so a current-thread runtime keeps serving meanwhile).
pub async fn wait_until_ready_async(url: &str, timeout: Duration) -> Result<u16, String> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || wait_until_ready(&url, timeout))
        .await
        .map_err(|e| format!("wait_until_ready task failed: {e}"))?
}

/// Polls `url`; `alive` is asked between attempts and ends the wait early with its error.
fn wait_ready_inner(
    url: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<u16, String> {
    let start = Instant::now();
    let mut last: String;
    loop {
        alive()?;
        match http_request("GET", url, &[], b"", Duration::from_secs(2)) {
            Ok(resp) if resp.status < 500 => return Ok(resp.status),
            Ok(resp) => last = format!("HTTP {}: {}", resp.status, resp.text()),
            Err(e) => last = e.to_string(),
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "{url} not ready after {:.1} s (last: {last})",
                timeout.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------------------------------------
// Child processes

/// A server process with its output in a log file, killed (and reaped) on drop.
struct ServerProcess {
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    fn spawn(mut cmd: Command, log: PathBuf) -> io::Result<ServerProcess> {
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()?;
        Ok(ServerProcess { child, log })
    }

    /// `Err` with the log when the process has exited.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "process exited early ({status}); its output:\n{}",
                self.log_text()
            )),
            Err(e) => Err(format!("cannot poll process: {e}")),
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server on a fresh free port and waits until `ready_path` answers; retries on another
/// port when the process dies before that (most likely a port taken in between).
fn start_server(
    what: &str,
    dir: &Path,
    timeout: Duration,
    ready_path: &str,
    make_cmd: impl Fn(u16) -> Command,
) -> (ServerProcess, u16) {
    let mut failures = Vec::new();
    for attempt in 1..=3 {
        let port = free_port();
        let log = dir.join(format!("{what}-{attempt}.log"));
        let mut proc = ServerProcess::spawn(make_cmd(port), log)
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}\n=> {INSTALL_HINT}"));
        let url = format!("http://127.0.0.1:{port}{ready_path}");
        match wait_ready_inner(&url, timeout, || proc.check_alive()) {
            Ok(_) => return (proc, port),
            Err(e) => failures.push(format!("attempt {attempt} on port {port}: {e}")),
        }
    }
    panic!("{what} did not start:\n{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// NuGet.exe

/// NuGet.exe 4.0.0 (from npm `nuget-in-path@2.0.1`) run with mono, hermetically: every instance
/// has its own temp root holding HOME, the XDG config/data/cache folders, the user-level
/// `NuGet.Config`, the global packages folder (`NUGET_PACKAGES`), the HTTP cache
/// (`NUGET_HTTP_CACHE_PATH`) and TMPDIR (NuGet puts `NuGetScratch/` there). The child gets a
/// cleared environment plus only those, `PATH` and `LANG`, so nothing of the developer's own
/// NuGet setup is read or written and nuget.org is never an enabled source.
///
/// Without `-ConfigFile`, NuGet.exe also reads every `NuGet.Config`/`nuget.config` in the working
/// directory and all its parents; with `-ConfigFile` it reads only that file. The `push`,
/// `install` and `delete` helpers pass `-ConfigFile` and run in the temp root; give [`run`] a
/// `cwd` of your own temp folder.
///
/// [`run`]: NuGetExe::run
pub struct NuGetExe {
    mono: PathBuf,
    exe: PathBuf,
    root: TempDir,
}

impl NuGetExe {
    /// Where mono and nuget.exe are: `$MONO` or `mono` on PATH; `$NUGET_EXE` or
    /// `.ci/cache/npm/nuget-in-path-2.0.1/bin/nuget.exe`.
    pub fn locate() -> Result<(PathBuf, PathBuf), String> {
        let mono = tool_path(
            "MONO",
            find_in_path("mono").unwrap_or_else(|| PathBuf::from("/usr/bin/mono")),
        )
        .map_err(|e| format!("{e}; mono comes from the Debian package mono-complete"))?;
        let exe = tool_path(
            "NUGET_EXE",
            ci_cache_dir()
                .join("npm")
                .join("nuget-in-path-2.0.1")
                .join("bin")
                .join("nuget.exe"),
        )?;
        Ok((mono, exe))
    }

    /// Panics with [`INSTALL_HINT`] when mono or nuget.exe is missing.
    pub fn new() -> NuGetExe {
        match Self::locate() {
            Ok((mono, exe)) => Self::with_paths(mono, exe),
            Err(why) => panic!("NuGet.exe is not available: {why}\n=> {INSTALL_HINT}"),
        }
    }

    /// Like [`NuGetExe::new`], but `None` when missing and `NUGET_SKIP_EXTERNAL=1`.
    pub fn new_or_skip() -> Option<NuGetExe> {
        match Self::locate() {
            Ok((mono, exe)) => Some(Self::with_paths(mono, exe)),
            Err(why) => missing_or_skip("NuGet.exe", why),
        }
    }

    fn with_paths(mono: PathBuf, exe: PathBuf) -> NuGetExe {
        let root = tempfile::Builder::new()
            .prefix("nuget-exe-")
            .tempdir()
            .expect("create temp dir for NuGet.exe");
        let this = NuGetExe { mono, exe, root };
        for dir in [
            this.home(),
            this.root.path().join("xdg-config").join("NuGet"),
            this.root.path().join("xdg-data"),
            this.root.path().join("xdg-cache"),
            this.packages_dir(),
            this.http_cache_dir(),
            this.tmp_dir(),
        ] {
            std::fs::create_dir_all(&dir).expect("create NuGet.exe folders");
        }
        // NuGet.exe creates a user-level config listing nuget.org when there is none, and adds
        // nuget.org to one without sources: write ours first, with nuget.org disabled.
        this.write_config_with_sources(&[]);
        this
    }

    pub fn mono_path(&self) -> &Path {
        &self.mono
    }

    pub fn exe_path(&self) -> &Path {
        &self.exe
    }

    /// The temp root holding everything this instance writes.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The global packages folder (`NUGET_PACKAGES`): `install` extracts every package here too,
    /// and takes the .nupkg from here instead of the feed on the next install of the same
    /// version unless `-NoCache` is given (the [`NuGetExe::install`] helper gives it).
    pub fn packages_dir(&self) -> PathBuf {
        self.root.path().join("packages")
    }

    /// The HTTP cache (`NUGET_HTTP_CACHE_PATH`): NuGet.exe keeps the service index here across
    /// runs (keyed by source URL); see [`NuGetExe::clear_http_cache`].
    pub fn http_cache_dir(&self) -> PathBuf {
        self.root.path().join("http-cache")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    /// The user-level config (`$XDG_CONFIG_HOME/NuGet/NuGet.Config`), read by every command;
    /// the helpers also pass it as `-ConfigFile`.
    pub fn config_path(&self) -> PathBuf {
        self.root
            .path()
            .join("xdg-config")
            .join("NuGet")
            .join("NuGet.Config")
    }

    /// Makes `source_url` (a V3 service index URL) the one package source, named `test`, and
    /// returns the config path (also usable as `-ConfigFile`).
    pub fn write_config(&self, source_url: &str) -> PathBuf {
        self.write_config_with_sources(&[("test", source_url)])
    }

    /// Writes the config with exactly these `(name, V3 index URL)` sources (`<clear />` first).
    pub fn write_config_with_sources(&self, sources: &[(&str, &str)]) -> PathBuf {
        let path = self.config_path();
        std::fs::write(&path, nuget_config_xml(sources)).expect("write NuGet.Config");
        path
    }

    /// Deletes the HTTP cache (the cached service indexes).
    pub fn clear_http_cache(&self) {
        let dir = self.http_cache_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("recreate http cache folder");
    }

    /// The hermetic command: `mono nuget.exe <args>` in `cwd`.
    pub fn command(&self, args: &[&str], cwd: &Path) -> Command {
        let root = self.root.path();
        let mut cmd = Command::new(&self.mono);
        cmd.arg(&self.exe)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin")),
            )
            .env("LANG", "C.UTF-8")
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("XDG_DATA_HOME", root.join("xdg-data"))
            .env("XDG_CACHE_HOME", root.join("xdg-cache"))
            .env("NUGET_PACKAGES", self.packages_dir())
            .env("NUGET_HTTP_CACHE_PATH", self.http_cache_dir())
            .env("TMPDIR", self.tmp_dir())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `mono nuget.exe <args>` in `cwd`; no check of the exit status.
    pub fn run(&self, args: &[&str], cwd: &Path) -> Output {
        self.command(args, cwd).output().unwrap_or_else(|e| {
            panic!(
                "cannot run {} {}: {e}",
                self.mono.display(),
                self.exe.display()
            )
        })
    }

    /// [`NuGetExe::run`], panicking with the command line, stdout and stderr unless it succeeded.
    pub fn run_ok(&self, args: &[&str], cwd: &Path) -> Output {
        let out = self.run(args, cwd);
        assert_success(&out, args);
        out
    }

    /// `pack <nuspec> -OutputDirectory <out_dir>`; asserts success and returns the .nupkg path.
    pub fn pack(&self, nuspec: &Path, out_dir: &Path) -> PathBuf {
        std::fs::create_dir_all(out_dir).expect("create pack output folder");
        let cwd = nuspec.parent().unwrap_or(Path::new("."));
        let nuspec_s = nuspec.to_string_lossy();
        let out_s = out_dir.to_string_lossy();
        let out = self.run_ok(
            &[
                "pack",
                &nuspec_s,
                "-OutputDirectory",
                &out_s,
                "-NonInteractive",
            ],
            cwd,
        );
        // "Successfully created package '/path/Id.Version.nupkg'."
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("Successfully created package '")
                    .and_then(|rest| rest.strip_suffix("'."))
            })
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("pack printed no package path:\n{stdout}"))
    }

    /// `push <nupkg> -Source <index> -ApiKey <key> -NonInteractive -ConfigFile <ours>`.
    /// 201 prints "Your package was pushed." (exit 0); 409 prints "Conflict" (exit 1).
    pub fn push(&self, nupkg: &Path, source: &str, api_key: &str) -> Output {
        let nupkg_s = nupkg.to_string_lossy();
        let config = self.config_path();
        let config_s = config.to_string_lossy();
        let args = [
            "push",
            &nupkg_s,
            "-Source",
            source,
            "-ApiKey",
            api_key,
            "-NonInteractive",
            "-ConfigFile",
            &config_s,
        ];
        self.run(&args, self.root.path())
    }

    /// `install <id> -Version <v> -Source <index> -OutputDirectory <out> -NoCache ...`: fetches
    /// `{RegistrationsBaseUrl}{lower id}/index.json`, then the leaf's `packageContent`.
    /// `-NoCache` makes it download even when the global packages folder already has the package.
    pub fn install(&self, id: &str, version: &str, source: &str, out_dir: &Path) -> Output {
        let out_s = out_dir.to_string_lossy();
        let config = self.config_path();
        let config_s = config.to_string_lossy();
        let args = [
            "install",
            id,
            "-Version",
            version,
            "-Source",
            source,
            "-OutputDirectory",
            &out_s,
            "-NoCache",
            "-NonInteractive",
            "-ConfigFile",
            &config_s,
        ];
        self.run(&args, self.root.path())
    }

    /// `delete <id> <version> -Source <index> -ApiKey <key> -NonInteractive ...` (sends
    /// `DELETE {PackagePublish}/{id as typed}/{version as typed}`).
    pub fn delete(&self, id: &str, version: &str, source: &str, api_key: &str) -> Output {
        let config = self.config_path();
        let config_s = config.to_string_lossy();
        let args = [
            "delete",
            id,
            version,
            "-Source",
            source,
            "-ApiKey",
            api_key,
            "-NonInteractive",
            "-ConfigFile",
            &config_s,
        ];
        self.run(&args, self.root.path())
    }
}

/// A NuGet.Config with `<clear />`, then exactly these V3 sources, and nuget.org disabled.
pub fn nuget_config_xml(sources: &[(&str, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n",
    );
    for (name, url) in sources {
        let _ = writeln!(
            xml,
            "    <add key=\"{}\" value=\"{}\" protocolVersion=\"3\" />",
            xml_escape(name),
            xml_escape(url)
        );
    }
    // NuGet.exe adds nuget.org to a user-level config whose source list is empty; keep it off.
    xml.push_str("  </packageSources>\n  <disabledPackageSources>\n    <add key=\"nuget.org\" value=\"true\" />\n  </disabledPackageSources>\n</configuration>\n");
    xml
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Panics with the command, exit status, stdout and stderr unless `out` succeeded.
pub fn assert_success(out: &Output, args: &[&str]) {
    if !out.status.success() {
        panic!(
            "`nuget.exe {}` failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// stdout and stderr of `out` as one string (for assertions on messages).
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `<dir>/<id>.nuspec` and one content file (`content/readme.txt`) for `nuget pack`;
/// returns the .nuspec path.
pub fn write_nuspec(dir: &Path, id: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("content")).expect("create nuspec folder");
    std::fs::write(
        dir.join("content").join("readme.txt"),
        format!("{id} {version}\n"),
    )
    .expect("write content file");
    let nuspec = dir.join(format!("{id}.nuspec"));
    std::fs::write(
        &nuspec,
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>tests</authors>
    <description>Test package {id} {version}</description>
  </metadata>
  <files>
    <file src="content/readme.txt" target="content/readme.txt" />
  </files>
</package>
"#,
            id = xml_escape(id),
            version = xml_escape(version)
        ),
    )
    .expect("write nuspec");
    nuspec
}

// ------------------------------------------------------------------------------------------------
// moto (S3)

/// A moto S3 server (`moto_server -H 127.0.0.1 -p PORT`) on a free loopback port. It accepts any
/// credentials (`Moto::ACCESS_KEY`/`SECRET_KEY` are as good as any) and any region; objects live
/// in memory and go when the process does. Killed on drop.
pub struct Moto {
    proc: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl Moto {
    pub const ACCESS_KEY: &'static str = "testing";
    pub const SECRET_KEY: &'static str = "testing";
    pub const REGION: &'static str = "us-east-1";

    /// The feed server's `storage.options` for an `s3://` URL on this server.
    pub fn storage_options(&self) -> std::collections::BTreeMap<String, String> {
        Moto::storage_options_via(&self.endpoint())
    }

    /// [`Moto::storage_options`] reaching the server at `endpoint` (e.g. through a proxy).
    pub fn storage_options_via(endpoint: &str) -> std::collections::BTreeMap<String, String> {
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
            ci_cache_dir().join("venv").join("bin").join("moto_server"),
        )
    }

    /// Starts moto and waits until it answers (about 0.7 s); panics with [`INSTALL_HINT`] when
    /// moto is not installed.
    pub fn start() -> Moto {
        match Self::locate() {
            Ok(bin) => Self::start_with(bin),
            Err(why) => panic!("moto is not available: {why}\n=> {INSTALL_HINT}"),
        }
    }

    /// Like [`Moto::start`], but `None` when missing and `NUGET_SKIP_EXTERNAL=1`.
    pub fn start_or_skip() -> Option<Moto> {
        match Self::locate() {
            Ok(bin) => Some(Self::start_with(bin)),
            Err(why) => missing_or_skip("moto", why),
        }
    }

    fn start_with(bin: PathBuf) -> Moto {
        let dir = tempfile::Builder::new()
            .prefix("moto-")
            .tempdir()
            .expect("create temp dir for moto");
        let (proc, port) = start_server("moto", dir.path(), Duration::from_secs(30), "/", |port| {
            let mut cmd = Command::new(&bin);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .env("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", Self::SECRET_KEY)
                .env("AWS_DEFAULT_REGION", Self::REGION)
                .env("PYTHONUNBUFFERED", "1");
            cmd
        });
        Moto { proc, port, dir }
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
        let url = format!("{}/{name}", self.endpoint());
        let resp = http_request("PUT", &url, &[], b"", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        assert_eq!(resp.status, 200, "create bucket {name}: {}", resp.text());
    }

    /// Bucket names from `GET /` (ListBuckets).
    pub fn list_buckets(&self) -> Vec<String> {
        let url = format!("{}/", self.endpoint());
        let resp = http_request("GET", &url, &[], b"", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(resp.status, 200, "list buckets: {}", resp.text());
        xml_values(&resp.text(), "Name")
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        self.proc.log_text()
    }
}

// ------------------------------------------------------------------------------------------------
// Azurite (Azure Blob)

/// An Azurite blob server (`azurite-blob --blobHost 127.0.0.1 --blobPort P --location <tmp>
/// --silent --skipApiVersionCheck --disableTelemetry`) on a free loopback port, with the
/// well-known development account. Unlike moto it checks signatures, so container creation is a
/// Shared Key signed request ([`Azurite::create_container`]); `object_store`'s Azure backend has
/// no call to create a container. Killed on drop.
pub struct Azurite {
    proc: ServerProcess,
    port: u16,
    dir: TempDir,
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
    pub fn storage_options(&self) -> std::collections::BTreeMap<String, String> {
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
            ci_cache_dir()
                .join("npm")
                .join("azurite")
                .join("node_modules")
                .join(".bin")
                .join("azurite-blob"),
        )?;
        find_in_path("node").ok_or("node not found on PATH")?;
        Ok(script)
    }

    /// Starts Azurite and waits until it answers (about 1.5 s); panics with [`INSTALL_HINT`]
    /// when it is not installed.
    pub fn start() -> Azurite {
        match Self::locate() {
            Ok(bin) => Self::start_with(bin),
            Err(why) => panic!("Azurite is not available: {why}\n=> {INSTALL_HINT}"),
        }
    }

    /// Like [`Azurite::start`], but `None` when missing and `NUGET_SKIP_EXTERNAL=1`.
    pub fn start_or_skip() -> Option<Azurite> {
        match Self::locate() {
            Ok(bin) => Some(Self::start_with(bin)),
            Err(why) => missing_or_skip("Azurite", why),
        }
    }

    fn start_with(bin: PathBuf) -> Azurite {
        let dir = tempfile::Builder::new()
            .prefix("azurite-")
            .tempdir()
            .expect("create temp dir for Azurite");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create Azurite data folder");
        let (proc, port) = start_server(
            "azurite",
            dir.path(),
            Duration::from_secs(60),
            // Unsigned: answered 4xx, which is all `wait_ready_inner` needs.
            &format!("/{}?comp=list", Self::ACCOUNT),
            |port| {
                let mut cmd = Command::new("node");
                cmd.arg(&bin)
                    .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                    .arg("--location")
                    .arg(&data)
                    .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
                    .current_dir(dir.path());
                cmd
            },
        );
        Azurite { proc, port, dir }
    }

    /// The blob endpoint of the dev account, `http://127.0.0.1:PORT/devstoreaccount1` (what the
    /// `BlobEndpoint` of a connection string and `object_store`'s `with_endpoint` take; allow
    /// plain HTTP there).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, Self::ACCOUNT)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection string for Azure SDKs.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};BlobEndpoint={};",
            Self::ACCOUNT,
            Self::KEY,
            self.endpoint()
        )
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
    ) -> io::Result<HttpResponse> {
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
        let auth = shared_key_authorization(
            Self::ACCOUNT,
            Self::KEY,
            method,
            &url_path,
            query,
            &all,
            body.len(),
        );
        all.push(("Authorization".into(), auth));
        let mut url = format!("http://127.0.0.1:{}{}", self.port, url_path);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            let _ = write!(url, "{k}={v}");
        }
        let hdrs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        http_request(method, &url, &hdrs, body, Duration::from_secs(10))
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        self.proc.log_text()
    }
}

/// The `Authorization: SharedKey account:signature` value for a Blob service request
/// (<https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>, version
/// 2015-02-21 and later: an empty Content-Length line for a zero-length body).
pub fn shared_key_authorization(
    account: &str,
    key_base64: &str,
    method: &str,
    url_path: &str,
    query: &[(&str, &str)],
    headers: &[(String, String)],
    content_length: usize,
) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let length = if content_length == 0 {
        String::new()
    } else {
        content_length.to_string()
    };
    let mut to_sign = format!(
        "{method}\n{}\n{}\n{length}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
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
    let mut ms: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    ms.sort();
    for (k, v) in ms {
        let _ = writeln!(to_sign, "{k}:{v}");
    }
    let _ = write!(to_sign, "/{account}{url_path}");
    let mut q: Vec<(String, &str)> = query
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    q.sort();
    for (k, v) in q {
        let _ = write!(to_sign, "\n{k}:{v}");
    }
    let key = b64.decode(key_base64).expect("account key is base64");
    let signature = b64.encode(hmac_sha256(&key, to_sign.as_bytes()));
    format!("SharedKey {account}:{signature}")
}

/// HMAC-SHA256 (RFC 2104) over `sha2`, to sign Azure requests without another dependency.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block_key.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block_key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// The texts of every `<tag>...</tag>` in `xml` (enough for bucket and container listings).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}
