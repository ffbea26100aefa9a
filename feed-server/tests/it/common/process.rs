//! The real `nuget-feed-server` binary as a child process on a loopback port: for tests where
//! replicas must be separate processes (their own memory, their own create-only writes) or where
//! the server is killed with SIGKILL.
//!
//! Each process gets a config file serialized from the feed-config types ([`FeedConfig`] says
//! what differs per test); its output goes to a log file
//! that failure messages include. Dropping a [`FeedProcess`] kills it. The process handling is
//! `nuget_test_support::process`; what stays here needs this crate's binary.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use nuget_feed_config::{
    ApiKeyEntry, ApiKeysFile, DeleteMode, FileConfig, IdPattern, KeyHash, LogFormat, Scope,
    StorageConfig, TrustedPublisher,
};
use nuget_test_support::process::{Launch, Process, Ready};

use super::server::ADMIN_KEY;

/// The binary under test, built by cargo for integration tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_nuget-feed-server");

/// What to put in a process's config file.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Storage URL (a folder, `s3://`, `az://`).
    pub storage_url: String,
    pub storage_options: BTreeMap<String, String>,
    pub delete_mode: DeleteMode,
    pub allow_deleted_version_reuse: bool,
    pub sync_interval_ms: u64,
    pub max_package_bytes: Option<u64>,
    /// Longest pause in an upload (ms); the server's default when `None`.
    pub upload_idle_timeout_ms: Option<u64>,
    /// `RUST_LOG` of the process; `NUGET_TEST_SERVER_LOG` or `warn` when unset.
    pub log_filter: Option<String>,
    /// Who may push with an OIDC token.
    pub trusted_publishers: Vec<TrustedPublisher>,
}

impl FeedConfig {
    pub fn new(storage_url: impl Into<String>) -> FeedConfig {
        FeedConfig {
            storage_url: storage_url.into(),
            storage_options: BTreeMap::new(),
            delete_mode: DeleteMode::Unlist,
            allow_deleted_version_reuse: false,
            sync_interval_ms: 100,
            max_package_bytes: None,
            upload_idle_timeout_ms: None,
            log_filter: None,
            trusted_publishers: Vec::new(),
        }
    }

    fn yaml(&self, dir: &Path, port: u16) -> String {
        FileConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], port))),
            api_keys_file: Some(dir.join("api-keys.yaml")),
            temp_dir: Some(dir.join("tmp")),
            delete_mode: Some(self.delete_mode),
            allow_deleted_version_reuse: Some(self.allow_deleted_version_reuse),
            sync_interval_ms: Some(self.sync_interval_ms),
            max_package_bytes: self.max_package_bytes,
            upload_idle_timeout_ms: self.upload_idle_timeout_ms,
            log_format: Some(LogFormat::Text),
            storage: Some(StorageConfig {
                url: Some(self.storage_url.clone()),
                options: self.storage_options.clone(),
            }),
            trusted_publishers: self.trusted_publishers.clone(),
            ..FileConfig::default()
        }
        .to_yaml()
        .unwrap()
    }
}

/// The API-key file of every test process: the admin key, every scope, every id.
fn admin_keys() -> String {
    ApiKeysFile {
        keys: vec![ApiKeyEntry {
            name: "admin".into(),
            hash: KeyHash::of(ADMIN_KEY),
            scopes: vec![Scope::Push, Scope::Unlist],
            packages: vec![IdPattern::parse("*").unwrap()],
        }],
    }
    .to_yaml()
    .unwrap()
}

/// One server process.
pub struct FeedProcess {
    process: Option<Process>,
    pub port: u16,
    /// Folder with its config, keys, temp uploads and logs (not its storage).
    dir: PathBuf,
    name: String,
    config: FeedConfig,
    /// The log of the latest start.
    log: PathBuf,
}

impl FeedProcess {
    /// Starts a server in `dir` (created if needed) and waits until it answers `/healthz`.
    pub fn start(dir: &Path, name: &str, config: FeedConfig) -> FeedProcess {
        let dir = dir.join(name);
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        std::fs::write(dir.join("api-keys.yaml"), admin_keys()).unwrap();
        let mut p = FeedProcess {
            process: None,
            port: 0,
            dir,
            name: name.to_owned(),
            config,
            log: PathBuf::new(),
        };
        p.spawn(None);
        p
    }

    /// Starts the binary on `port` (or a free one), on another port if that one is taken.
    fn spawn(&mut self, port: Option<u16>) {
        let launch = Launch {
            name: &self.name,
            dir: &self.dir,
            ready_path: "/healthz",
            ready: Ready::Success,
            timeout: Duration::from_secs(30),
        };
        let (dir, config) = (&self.dir, &self.config);
        let (process, port) = launch
            .start(port, |port| {
                let path = dir.join("config.yaml");
                std::fs::write(&path, config.yaml(dir, port)).unwrap();
                let mut cmd = Command::new(BINARY);
                let filter = config.log_filter.clone().unwrap_or_else(|| {
                    std::env::var("NUGET_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into())
                });
                cmd.arg("--config").arg(&path).env("RUST_LOG", filter);
                cmd
            })
            .unwrap_or_else(|e| panic!("{e}"));
        self.log = process.log.clone();
        self.process = Some(process);
        self.port = port;
    }

    /// This start's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Feed base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base(), path.trim_start_matches('/'))
    }

    /// SIGKILL, as the kernel's OOM killer or `kubectl delete --grace-period=0` does it.
    pub fn kill9(&mut self) {
        // Dropping a process kills and reaps it.
        self.process = None;
    }

    /// Starts the server again (after [`FeedProcess::kill9`]), on the same port if it is free.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn(Some(self.port));
    }
}

/// Runs `nuget-feed-server <args>` to completion (fsck, gc) and returns its status and output.
pub fn run_command(args: &[&str], config: &FeedConfig) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(BINARY);
    cmd.args(args)
        .arg("--storage-url")
        .arg(&config.storage_url)
        .env("RUST_LOG", "warn");
    if !config.storage_options.is_empty() {
        // Options only come from a config file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        let options = FileConfig {
            storage: Some(StorageConfig {
                url: None,
                options: config.storage_options.clone(),
            }),
            ..FileConfig::default()
        };
        std::fs::write(&path, options.to_yaml().unwrap()).unwrap();
        cmd.arg("--config").arg(&path);
        let out = cmd.output().unwrap();
        return (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
    }
    let out = cmd.output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
