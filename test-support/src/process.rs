//! Child processes of the tests and the bench: output in a log file, killed (and reaped) on
//! drop, waited for until they answer on a loopback port, and started again on another port
//! when the one they were given was taken in between.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::http::http_request;
use crate::ports::free_port;

/// How often a starting server is asked whether it is up.
const POLL: Duration = Duration::from_millis(10);

/// A process whose stdout and stderr go to `log`; killed and reaped on drop.
pub struct Process {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

/// What counts as "up" when polling a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Any answer below 500: the server listens (Azurite answers 4xx to unsigned requests).
    Answers,
    /// A 2xx answer: a health or readiness endpoint says so.
    Success,
}

impl Ready {
    fn accepts(self, status: u16) -> bool {
        match self {
            Ready::Answers => status < 500,
            Ready::Success => (200..300).contains(&status),
        }
    }
}

impl Process {
    /// Starts `cmd` (stdin closed) with its output in `log`; `Err` when it cannot be started.
    pub fn try_spawn(name: &str, mut cmd: Command, log: &Path) -> io::Result<Process> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name} ({cmd:?}): {e}")))?;
        Ok(Process {
            name: name.to_owned(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// [`Process::try_spawn`], panicking when the process cannot be started.
    pub fn spawn(name: &str, cmd: Command, log: &Path) -> Process {
        Process::try_spawn(name, cmd, log).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `Err` with the log when the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); its output:\n{}",
                self.name,
                self.log_text()
            )),
            Err(e) => Err(format!("cannot poll {}: {e}", self.name)),
        }
    }

    /// Everything the process wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log (for failure messages).
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (as Kubernetes stops a pod, and nginx's `-s stop`), then waits up to `timeout`
    /// for the exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Polls `url` until it answers as `ready` says, checking meanwhile that the process is
    /// alive; `Err` with the last answer and the end of the log otherwise.
    pub fn wait_ready(&mut self, url: &str, ready: Ready, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        let mut last: String;
        loop {
            self.check_alive()?;
            match http_request("GET", url, &[], b"", Duration::from_secs(2)) {
                Ok(r) if ready.accepts(r.status) => return Ok(()),
                Ok(r) => last = format!("HTTP {}: {}", r.status, r.text()),
                Err(e) => last = e.to_string(),
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{url} not ready after {timeout:?} (last: {last}); {} output:\n{}",
                    self.name,
                    self.log_tail(40)
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// stdout and stderr of a finished command as one string (for assertions on messages).
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How to start a server that listens on a port it is told: where its logs go, which path
/// says it is up, and for how long to wait.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    pub name: &'a str,
    /// Folder for the logs, `{name}-{n}.log` (a new `n` for every attempt, so none is lost).
    pub dir: &'a Path,
    pub ready_path: &'a str,
    pub ready: Ready,
    pub timeout: Duration,
}

impl Launch<'_> {
    /// Starts `command(port)` on `first_port` (or a free one) and waits until it is up. A
    /// process that dies or does not get ready is most likely one whose port was taken in
    /// between: up to three attempts, each on a fresh port.
    pub fn start(
        &self,
        first_port: Option<u16>,
        mut command: impl FnMut(u16) -> Command,
    ) -> Result<(Process, u16), String> {
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            let port = match (attempt, first_port) {
                (1, Some(port)) => port,
                _ => free_port(),
            };
            let mut process = Process::try_spawn(self.name, command(port), &self.next_log())
                .map_err(|e| e.to_string())?;
            let url = format!("http://127.0.0.1:{port}{}", self.ready_path);
            match process.wait_ready(&url, self.ready, self.timeout) {
                Ok(()) => return Ok((process, port)),
                Err(e) => failures.push(format!("attempt {attempt} on port {port}: {e}")),
            }
        }
        Err(format!(
            "{} did not start:\n{}",
            self.name,
            failures.join("\n")
        ))
    }

    fn next_log(&self) -> PathBuf {
        (1..)
            .map(|n| self.dir.join(format!("{}-{n}.log", self.name)))
            .find(|p| !p.exists())
            .expect("a free log file name")
    }
}
