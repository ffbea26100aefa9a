//! A Kubernetes API server for tests: etcd + kube-apiserver from `$KUBEBUILDER_ASSETS`
//! (envtest style, default `.ci/cache/kubebuilder`, filled by `.ci/envtest.sh`) on free loopback
//! ports, with certificates made by `openssl` in a temporary folder, stopped when dropped. It
//! keeps an audit log of every request made by a ServiceAccount (to see which verbs a process
//! really uses) and issues ServiceAccount tokens (TokenRequest), so a process can run with
//! exactly the RBAC of a ServiceAccount.
//!
//! [`start`] takes the cluster of `$KUBECONFIG` instead when that is set; [`start_envtest`]
//! always starts its own (for tests that create cluster-wide objects, which they should not do
//! to a developer's cluster). Without the binaries the tests fail with the command that builds
//! them, unless `NUGET_SKIP_CLUSTER_TESTS=1` says to skip them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::Value;

use crate::ports::free_port;
use crate::process::Process;
use crate::tools::repo_root;

/// A cluster to test against.
pub struct TestCluster {
    pub client: Client,
    /// For an operator under test: on envtest the user [`OPERATOR_USER`] (in
    /// `system:masters`), whose requests the audit log records; on `$KUBECONFIG`'s cluster the
    /// same as `client`.
    pub operator_client: Client,
    /// True when we started the apiserver ourselves (1.20: no controllers, no GC).
    pub envtest: bool,
    /// Admin kubeconfig (for envtest: the token of a `system:masters` user).
    pub kubeconfig: PathBuf,
    /// JSON lines, one per request of any ServiceAccount or of [`OPERATOR_USER`] (level
    /// Metadata); envtest only.
    pub audit_log: PathBuf,
    /// The API server's URL and CA (envtest only), for kubeconfigs of other users.
    server: String,
    ca: PathBuf,
    /// etcd, then kube-apiserver (none for `$KUBECONFIG`'s cluster).
    processes: Vec<Process>,
    /// How kube-apiserver was started (envtest only), to start it again with other keys.
    apiserver: Option<ApiServerLaunch>,
    dir: tempfile::TempDir,
}

/// The cluster of `$KUBECONFIG` when set, else [`start_envtest`]; `None` when
/// `NUGET_SKIP_CLUSTER_TESTS=1`.
pub async fn start() -> Option<TestCluster> {
    if skip() {
        return None;
    }
    if let Ok(path) = std::env::var("KUBECONFIG")
        && !path.is_empty()
    {
        let client = Client::try_default()
            .await
            .expect("KUBECONFIG is set but unusable");
        let dir = temp_dir();
        return Some(TestCluster {
            operator_client: client.clone(),
            client,
            envtest: false,
            kubeconfig: PathBuf::from(path),
            audit_log: dir.path().join("audit.log"),
            server: String::new(),
            ca: PathBuf::new(),
            processes: Vec::new(),
            apiserver: None,
            dir,
        });
    }
    Some(envtest().await)
}

/// A cluster of our own, whatever `$KUBECONFIG` says; `None` when
/// `NUGET_SKIP_CLUSTER_TESTS=1`.
pub async fn start_envtest() -> Option<TestCluster> {
    if skip() {
        return None;
    }
    Some(envtest().await)
}

fn skip() -> bool {
    let skip = std::env::var("NUGET_SKIP_CLUSTER_TESTS").as_deref() == Ok("1");
    if skip {
        eprintln!("NUGET_SKIP_CLUSTER_TESTS=1: skipping the cluster tests");
    }
    skip
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("envtest-")
        .tempdir()
        .expect("create temp dir for envtest")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a serving certificate for 127.0.0.1 signed by it, and the ServiceAccount signing key
/// pair, all in `d`.
fn make_certificates(d: &Path) {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=envtest-ca",
        ],
    );
    std::fs::write(
        d.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write san.cnf");
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "san.cnf",
        ],
    );
    openssl(d, &["genrsa", "-out", "sa.key", "2048"]);
    openssl(d, &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

/// The user of [`TestCluster::operator_client`] on envtest.
pub const OPERATOR_USER: &str = "nuget-operator";
const OPERATOR_TOKEN: &str = "envtest-operator-token";

const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: Metadata
    users: ["nuget-operator"]
  - level: None
"#;

async fn envtest() -> TestCluster {
    let assets = std::env::var("KUBEBUILDER_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".ci/cache/kubebuilder"));
    let apiserver = assets.join("kube-apiserver");
    let etcd = assets.join("etcd");
    assert!(
        apiserver.is_file() && etcd.is_file(),
        "no cluster for the tests: run `bash .ci/envtest.sh` to put kube-apiserver and etcd in {} \
         (or point KUBEBUILDER_ASSETS at a folder holding them, or KUBECONFIG at a cluster where \
         the tests allow it); NUGET_SKIP_CLUSTER_TESTS=1 skips these tests explicitly",
        assets.display()
    );
    let dir = temp_dir();
    let d = dir.path();
    make_certificates(d);
    let token = "envtest-admin-token";
    std::fs::write(
        d.join("tokens.csv"),
        format!(
            "{token},admin,admin-uid,system:masters\n\
             {OPERATOR_TOKEN},{OPERATOR_USER},operator-uid,system:masters\n"
        ),
    )
    .expect("write tokens.csv");
    std::fs::write(d.join("audit-policy.yaml"), AUDIT_POLICY).expect("write the audit policy");
    let audit_log = d.join("audit.log");

    let (client_port, peer_port, api_port) = (free_port(), free_port(), free_port());
    let mut etcd_cmd = Command::new(etcd);
    etcd_cmd.args([
        "--name=default",
        &format!("--data-dir={}", d.join("etcd").display()),
        &format!("--listen-client-urls=http://127.0.0.1:{client_port}"),
        &format!("--advertise-client-urls=http://127.0.0.1:{client_port}"),
        &format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
        &format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
        &format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
        "--listen-metrics-urls=http://127.0.0.1:0",
        "--unsafe-no-fsync",
    ]);
    let etcd_proc = Process::spawn("etcd", etcd_cmd, &d.join("etcd.log"));
    let launch = ApiServerLaunch {
        binary: apiserver,
        etcd_port: client_port,
        port: api_port,
    };
    let api_proc = Process::spawn(
        "kube-apiserver",
        launch.command(d, "sa.key", &["sa.pub"]),
        &d.join("kube-apiserver.log"),
    );
    let server = format!("https://127.0.0.1:{api_port}");
    let ca = d.join("ca.crt");
    let kubeconfig = d.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &kubeconfig_text(&server, &ca, "admin", token));
    let operator_kubeconfig = d.join("kubeconfig-operator");
    write_kubeconfig(
        &operator_kubeconfig,
        &kubeconfig_text(&server, &ca, OPERATOR_USER, OPERATOR_TOKEN),
    );
    let mut cluster = TestCluster {
        client: client_for(&kubeconfig).await,
        operator_client: client_for(&operator_kubeconfig).await,
        envtest: true,
        kubeconfig,
        audit_log,
        server,
        ca,
        processes: vec![etcd_proc, api_proc],
        apiserver: Some(launch),
        dir,
    };
    cluster.wait_ready().await;
    cluster
}

/// What kube-apiserver is started with, apart from its ServiceAccount keys (files in the
/// cluster's folder, named at each start).
struct ApiServerLaunch {
    binary: PathBuf,
    etcd_port: u16,
    port: u16,
}

impl ApiServerLaunch {
    /// Signs ServiceAccount tokens with `signing_key` and accepts those of any of
    /// `verifying_keys` (the keys `/openid/v1/jwks` serves).
    fn command(&self, d: &Path, signing_key: &str, verifying_keys: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            &format!("--etcd-servers=http://127.0.0.1:{}", self.etcd_port),
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            &format!("--secure-port={}", self.port),
            "--insecure-port=0",
            &format!("--tls-cert-file={}", d.join("server.crt").display()),
            &format!("--tls-private-key-file={}", d.join("server.key").display()),
            &format!("--client-ca-file={}", d.join("ca.crt").display()),
            &format!("--token-auth-file={}", d.join("tokens.csv").display()),
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            &format!(
                "--service-account-signing-key-file={}",
                d.join(signing_key).display()
            ),
            "--enable-priority-and-fairness=false",
            &format!(
                "--audit-policy-file={}",
                d.join("audit-policy.yaml").display()
            ),
            &format!("--audit-log-path={}", d.join("audit.log").display()),
            "--audit-log-mode=blocking",
        ]);
        for key in verifying_keys {
            cmd.arg(format!(
                "--service-account-key-file={}",
                d.join(key).display()
            ));
        }
        cmd
    }
}

impl TestCluster {
    /// Waits for kube-apiserver's `/readyz`, failing with its log if it exits or takes more
    /// than a minute.
    async fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(req) = http::Request::get("/readyz").body(Vec::new())
                && let Ok(body) = self.client.request_text(req).await
                && body.trim() == "ok"
            {
                break;
            }
            for p in &mut self.processes {
                if let Err(e) = p.check_alive() {
                    panic!("{e}");
                }
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "kube-apiserver not ready after 60 s; its log ends:\n{}",
                    self.processes[1].log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        eprintln!(
            "envtest apiserver ready in {:.1}s",
            start.elapsed().as_secs_f64()
        );
    }

    /// Rotates the cluster's ServiceAccount signing key as an administrator would: a new key
    /// pair, and kube-apiserver restarted (on the same etcd and port) signing with the new key
    /// while still accepting tokens of the old one, so `/openid/v1/jwks` serves both (envtest
    /// only).
    pub async fn rotate_service_account_key(&mut self) {
        let d = self.dir.path().to_path_buf();
        openssl(&d, &["genrsa", "-out", "sa-2.key", "2048"]);
        openssl(
            &d,
            &["rsa", "-in", "sa-2.key", "-pubout", "-out", "sa-2.pub"],
        );
        let launch = self
            .apiserver
            .as_ref()
            .expect("key rotation needs a cluster of our own (start_envtest)");
        let command = launch.command(&d, "sa-2.key", &["sa.pub", "sa-2.pub"]);
        let mut old = self.processes.pop().expect("kube-apiserver runs");
        old.terminate(Duration::from_secs(30));
        drop(old);
        self.processes.push(Process::spawn(
            "kube-apiserver",
            command,
            &d.join("kube-apiserver-rotated.log"),
        ));
        self.wait_ready().await;
    }
}

/// Writes a kubeconfig readable by its owner only (it holds a token).
fn write_kubeconfig(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::Write::write_all(&mut f, text.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn kubeconfig_text(server: &str, ca: &Path, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {server}\n    certificate-authority: {}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: envtest\n  context: {{cluster: envtest, user: {user}}}\ncurrent-context: envtest\n",
        ca.display()
    )
}

/// A client for the cluster and user of `kubeconfig`.
pub async fn client_for(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", kubeconfig.display()));
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", kubeconfig.display()));
    Client::try_from(config).expect("a client from the kubeconfig")
}

impl TestCluster {
    /// A private folder for this cluster's files (kubeconfigs, kubectl's cache).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A kubeconfig authenticating as ServiceAccount `namespace/name` with a fresh bound token
    /// (TokenRequest), so whoever uses it has exactly that ServiceAccount's RBAC (envtest only).
    pub async fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        assert!(
            self.envtest,
            "ServiceAccount kubeconfigs need a cluster of our own (start_envtest)"
        );
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![],
                expiration_seconds: Some(3600),
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let token = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{name}: {e}"))
            .status
            .expect("a TokenRequest answer has a status")
            .token;
        let path = self.dir().join(format!("kubeconfig-{namespace}-{name}"));
        let user = format!("system:serviceaccount:{namespace}:{name}");
        write_kubeconfig(
            &path,
            &kubeconfig_text(&self.server, &self.ca, &user, &token),
        );
        path
    }

    /// `kubectl <args>` as admin, with `stdin` piped in; `Err` with stderr on failure.
    pub fn kubectl(&self, kubectl: &Path, args: &[&str], stdin: &str) -> Result<String, String> {
        use std::io::Write as _;
        let mut child = Command::new(kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            // kubectl caches discovery under $HOME/.kube; keep ours private.
            .env("HOME", self.dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", kubectl.display()));
        child
            .stdin
            .take()
            .expect("kubectl's stdin is piped")
            .write_all(stdin.as_bytes())
            .expect("write kubectl's stdin");
        let out = child.wait_with_output().expect("kubectl runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "kubectl {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Every audit event so far of the user `username`.
    pub fn audit_events(&self, username: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["user"]["username"] == username)
            .collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // kube-apiserver before etcd, so it does not spend its last moments retrying etcd.
        while let Some(p) = self.processes.pop() {
            drop(p);
        }
    }
}

/// Documents as one multi-document YAML stream (for `kubectl -f -`).
pub fn to_yaml_stream(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml_ng::to_string(d).expect("a manifest serializes"))
        .collect::<Vec<_>>()
        .join("---\n")
}
