//! Where the external tools are: installed by `.ci/install-deps.sh` and
//! `.ci/install-chart-tools.sh` into `.ci/cache/` (or `$NUGET_CI_CACHE`), on `PATH`, or named by
//! an environment variable; and the workspace's own binaries. A tool that is missing is a test
//! failure saying what to install, unless `NUGET_SKIP_EXTERNAL=1` asks to skip.

use std::path::{Path, PathBuf};

/// What to run when NuGet.exe, mono, moto, Azurite or nginx are missing.
pub const DEPS_HINT: &str = "run .ci/install-deps.sh (or set NUGET_SKIP_EXTERNAL=1 to skip the tests that need external tools)";
/// What to run when the Helm chart tools are missing.
pub const CHART_TOOLS_HINT: &str = "run .ci/install-chart-tools.sh (or set NUGET_SKIP_EXTERNAL=1 to skip the tests that need external tools)";

/// The repository root (the parent of this crate's folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test-support crate has a parent folder")
        .to_path_buf()
}

/// Where the install scripts put npm and PyPI tools: `$NUGET_CI_CACHE` or `<repo>/.ci/cache`.
pub fn ci_cache_dir() -> PathBuf {
    match std::env::var_os("NUGET_CI_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".ci").join("cache"),
    }
}

/// `NUGET_SKIP_EXTERNAL=1`: tests that need a missing external tool skip instead of failing.
pub fn skip_external() -> bool {
    matches!(
        std::env::var("NUGET_SKIP_EXTERNAL").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// A missing tool: `None` (with a note on stderr) when [`skip_external`] is set, else a panic
/// that says why and what to run (`hint`).
pub fn missing_or_skip<T>(what: &str, why: &str, hint: &str) -> Option<T> {
    if skip_external() {
        eprintln!("SKIPPED (NUGET_SKIP_EXTERNAL=1): {what} is not available: {why}");
        None
    } else {
        panic!("{what} is not available: {why}\n=> {hint}");
    }
}

/// An executable on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `$var` when set, else `default`; `Err` says where it looked and how to point elsewhere.
pub fn tool_path(var: &str, default: Option<PathBuf>) -> Result<PathBuf, String> {
    let (path, origin) = match std::env::var_os(var) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), format!("${var}")),
        _ => (
            default.ok_or_else(|| format!("${var} is not set and no default was found"))?,
            format!("default location (set ${var} to override)"),
        ),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} not found ({origin})", path.display()))
    }
}

/// A binary of this workspace (`nuget-operator`, `nuget-feed-server`), next to the test
/// executable (`target/<profile>/deps/<test>` -> `target/<profile>/<name>`). The README's test
/// command (`tests/run-all.sh`, a workspace-wide run) builds every binary first; running only
/// one crate's tests does not, hence the message.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p {name}` (the README's test command, \
         `tests/run-all.sh`, builds it)",
        bin.display()
    );
    bin
}
