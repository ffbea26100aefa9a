//! The web pages' browser test tools: Node, Debian's headless `chromium`, and the npm packages
//! `playwright-core` (drives the browser) and `axe-core` (accessibility checks), as
//! `.ci/install-deps.sh` installs them, and running a test script with them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::tools::{DEPS_HINT, ci_cache_dir, find_in_path, missing_or_skip, tool_path};

/// Where the browser test's tools are.
#[derive(Debug, Clone)]
pub struct BrowserTools {
    pub node: PathBuf,
    pub chromium: PathBuf,
    /// The unpacked `playwright-core` package (its `index.mjs` is the entry point).
    pub playwright_core: PathBuf,
    /// The unpacked `axe-core` package (its `axe.min.js` is injected into pages).
    pub axe_core: PathBuf,
}

impl BrowserTools {
    /// All four tools (`$NODE`, `$CHROMIUM`, `$PLAYWRIGHT_CORE`, `$AXE_CORE` override where they
    /// are looked for), or `None` when one is missing and `NUGET_SKIP_EXTERNAL=1`; else a panic
    /// that says what to install.
    pub fn find_or_skip() -> Option<BrowserTools> {
        match Self::find() {
            Ok(tools) => Some(tools),
            Err(why) => missing_or_skip("the browser test's tools", &why, DEPS_HINT),
        }
    }

    fn find() -> Result<BrowserTools, String> {
        Ok(BrowserTools {
            node: tool_path("NODE", find_in_path("node"))?,
            chromium: tool_path(
                "CHROMIUM",
                find_in_path("chromium").or_else(|| Some("/usr/bin/chromium".into())),
            )?,
            playwright_core: npm_package("PLAYWRIGHT_CORE", "playwright-core", "index.mjs")?,
            axe_core: npm_package("AXE_CORE", "axe-core", "axe.min.js")?,
        })
    }

    /// Runs the Node script `script` with these tools in its environment (`CHROMIUM`,
    /// `PLAYWRIGHT_CORE`, `AXE_CORE`) and `env` on top.
    pub fn run_script(&self, script: &Path, env: &[(&str, &str)]) -> std::io::Result<Output> {
        Command::new(&self.node)
            .arg(script)
            .env("CHROMIUM", &self.chromium)
            .env("PLAYWRIGHT_CORE", &self.playwright_core)
            .env("AXE_CORE", &self.axe_core)
            .envs(env.iter().copied())
            .output()
    }
}

/// An npm package `.ci/install-deps.sh` unpacked: `$var`, else the folder
/// `{cache}/npm/{name}-{version}` (the script pins the version). `file` proves it is whole.
fn npm_package(var: &str, name: &str, file: &str) -> Result<PathBuf, String> {
    let npm = ci_cache_dir().join("npm");
    let dir = match std::env::var_os(var) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::fs::read_dir(&npm)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|dir| {
                dir.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(name)?.strip_prefix('-'))
                    .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
            })
            .max()
            .ok_or_else(|| {
                format!(
                    "no {name}-<version> folder in {} (set ${var} to override)",
                    npm.display()
                )
            })?,
    };
    if dir.join(file).is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "{} has no {file} (${var} or {})",
            dir.display(),
            npm.display()
        ))
    }
}
