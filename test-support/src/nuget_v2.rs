//! Debian's NuGet 2.8 (`/usr/bin/nuget`, package `nuget`, `$NUGET_V2`): a client that speaks
//! only the V2 (OData) protocol, as Chocolatey and PowerShellGet do, run hermetically.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::nuget_exe::nuget_config_xml;
use crate::tools::{DEPS_HINT, missing_or_skip, tool_path};

/// NuGet 2.8 with its own temp root holding HOME (NuGet 2.x on mono keeps its config in
/// `~/.config/NuGet/NuGet.Config` and its machine cache under `~/.local/share`) and TMPDIR, a
/// cleared environment, and a config whose only source is the one under test: nuget.org is
/// never asked.
pub struct NuGetV2 {
    exe: PathBuf,
    root: TempDir,
}

impl NuGetV2 {
    /// `$NUGET_V2` or `/usr/bin/nuget`; `None` when missing and `NUGET_SKIP_EXTERNAL=1` (else a
    /// panic saying what to install).
    pub fn new_or_skip() -> Option<NuGetV2> {
        match tool_path("NUGET_V2", Some(PathBuf::from("/usr/bin/nuget"))) {
            Ok(exe) => Some(NuGetV2::with_exe(exe)),
            Err(why) => missing_or_skip("NuGet 2.8", &why, DEPS_HINT),
        }
    }

    fn with_exe(exe: PathBuf) -> NuGetV2 {
        let root = tempfile::Builder::new()
            .prefix("nuget-v2-")
            .tempdir()
            .expect("create temp dir for NuGet 2.8");
        let this = NuGetV2 { exe, root };
        for dir in [this.home().join(".config").join("NuGet"), this.tmp_dir()] {
            std::fs::create_dir_all(&dir).expect("create NuGet 2.8 folders");
        }
        std::fs::write(this.config_path(), nuget_config_xml(&[], None))
            .expect("write NuGet.Config");
        this
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    /// The user-level config, passed as `-ConfigFile` too.
    pub fn config_path(&self) -> PathBuf {
        self.home()
            .join(".config")
            .join("NuGet")
            .join("NuGet.Config")
    }

    /// Runs `nuget {args} -NonInteractive -ConfigFile {config}` in the temp root, on a
    /// pseudo-terminal 200 columns wide (`script`, util-linux): NuGet 2.8 wraps its output to
    /// the console's width, which mono reports as 0 when stdout is not a terminal, and then
    /// prints empty lines forever. The returned output has the terminal's escape sequences
    /// and carriage returns removed; a run longer than 5 minutes is killed.
    pub fn run(&self, args: &[&str]) -> Output {
        let config = self.config_path();
        let mut command = format!("stty cols 200; {}", quote(&self.exe.to_string_lossy()));
        for arg in args.iter().copied().chain([
            "-NonInteractive",
            "-ConfigFile",
            &config.to_string_lossy(),
        ]) {
            command.push(' ');
            command.push_str(&quote(arg));
        }
        // A hung client fails its test instead of stalling the run.
        let mut cmd = Command::new("timeout");
        cmd.args(["300", "script", "-qec", &command, "/dev/null"])
            .current_dir(self.root.path())
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin")),
            )
            .env("LANG", "C.UTF-8")
            .env("TERM", "xterm")
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_DATA_HOME", self.home().join(".local").join("share"))
            .env("TMPDIR", self.tmp_dir())
            .stdin(Stdio::null());
        let mut out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} under script: {e}", self.exe.display()));
        out.stdout = strip_terminal(&out.stdout);
        out
    }

    /// `nuget list [extra] -Source {source}`.
    pub fn list(&self, source: &str, extra: &[&str]) -> Output {
        let mut args = vec!["list"];
        args.extend_from_slice(extra);
        args.extend(["-Source", source]);
        self.run(&args)
    }

    /// `nuget install {id} -Version {version} -Source {source} -OutputDirectory {out}`.
    pub fn install(&self, id: &str, version: &str, source: &str, out_dir: &Path) -> Output {
        let out = out_dir.to_string_lossy();
        self.run(&[
            "install",
            id,
            "-Version",
            version,
            "-Source",
            source,
            "-OutputDirectory",
            &out,
            "-NoCache",
        ])
    }
}

/// A shell word: `arg` in single quotes.
fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// Terminal output as plain text: escape sequences (`ESC [ ... letter`, `ESC =`, `ESC >`) and
/// carriage returns removed.
fn strip_terminal(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b if bytes.get(i + 1) == Some(&b'[') => {
                i += 2;
                while i < bytes.len() && !bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                i += 1;
            }
            0x1b => i += 2,
            b'\r' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_output_becomes_plain_text() {
        let raw =
            b"\x1b[?1h\x1b=\x1b[6n\x1b[H\x1b[2JA.Lib 1.0.0\r\nB 1.0\r\n\x1b[?1l\x1b>\x1b[39;49m";
        assert_eq!(strip_terminal(raw), b"A.Lib 1.0.0\nB 1.0\n");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
