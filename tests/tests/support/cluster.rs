//! A Kubernetes API server: etcd + kube-apiserver from `$KUBEBUILDER_ASSETS` (default
//! `.ci/cache/kubebuilder`, filled by `.ci/envtest.sh`) on free loopback ports, as in
//! `operator/tests/support`, plus an audit log of every request made by a ServiceAccount (to
//! see which verbs the operator really uses) and ServiceAccount tokens (TokenRequest), so a
//! process can run with exactly the RBAC of a ServiceAccount.
//!
//! `NUGET_SKIP_CLUSTER_TESTS=1` skips; without the binaries the tests fail with the command
//! that builds them. A kubeconfig of our own is always used: these tests create cluster-wide
//! objects (CRD, ClusterRoles), which they should not do to a developer's `$KUBECONFIG`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::Value;

use super::process::{Process, free_port};

pub struct TestCluster {
    pub client: Client,
    /// Admin kubeconfig (token of a `system:masters` user).
    pub kubeconfig: PathBuf,
    /// JSON lines, one per request of any ServiceAccount (level Metadata).
    pub audit_log: PathBuf,
    server: String,
    ca: PathBuf,
    processes: Vec<Process>,
    dir: tempfile::TempDir,
}

/// `None` when `NUGET_SKIP_CLUSTER_TESTS=1`.
pub async fn start() -> Option<TestCluster> {
    if std::env::var("NUGET_SKIP_CLUSTER_TESTS").as_deref() == Ok("1") {
        eprintln!("NUGET_SKIP_CLUSTER_TESTS=1: skipping the cluster tests");
        return None;
    }
    let assets = std::env::var("KUBEBUILDER_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| super::tools::repo_root().join(".ci/cache/kubebuilder"));
    let apiserver = assets.join("kube-apiserver");
    let etcd = assets.join("etcd");
    assert!(
        apiserver.is_file() && etcd.is_file(),
        "no kube-apiserver and etcd in {}: run `bash .ci/envtest.sh` (or point KUBEBUILDER_ASSETS \
         at a folder holding them); NUGET_SKIP_CLUSTER_TESTS=1 skips these tests explicitly",
        assets.display()
    );
    Some(envtest(&apiserver, &etcd).await)
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

const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
"#;

async fn envtest(apiserver: &Path, etcd: &Path) -> TestCluster {
    let dir = tempfile::Builder::new()
        .prefix("envtest-")
        .tempdir()
        .unwrap();
    let d = dir.path();
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
    .unwrap();
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
    let token = "envtest-admin-token";
    std::fs::write(
        d.join("tokens.csv"),
        format!("{token},admin,admin-uid,system:masters\n"),
    )
    .unwrap();
    std::fs::write(d.join("audit-policy.yaml"), AUDIT_POLICY).unwrap();
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
    let mut api_cmd = Command::new(apiserver);
    api_cmd.args([
        &format!("--etcd-servers=http://127.0.0.1:{client_port}"),
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        &format!("--secure-port={api_port}"),
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
            d.join("sa.key").display()
        ),
        &format!("--service-account-key-file={}", d.join("sa.pub").display()),
        "--enable-priority-and-fairness=false",
        &format!(
            "--audit-policy-file={}",
            d.join("audit-policy.yaml").display()
        ),
        &format!("--audit-log-path={}", audit_log.display()),
        "--audit-log-mode=blocking",
    ]);
    let api_proc = Process::spawn("kube-apiserver", api_cmd, &d.join("kube-apiserver.log"));
    let server = format!("https://127.0.0.1:{api_port}");
    let ca = d.join("ca.crt");
    let kubeconfig = d.join("kubeconfig");
    write_kubeconfig(&kubeconfig, &kubeconfig_text(&server, &ca, "admin", token));
    let mut cluster = TestCluster {
        client: client_for(&kubeconfig).await,
        kubeconfig,
        audit_log,
        server,
        ca,
        processes: vec![etcd_proc, api_proc],
        dir,
    };
    let start = Instant::now();
    loop {
        if let Ok(req) = http::Request::get("/readyz").body(Vec::new())
            && let Ok(body) = cluster.client.request_text(req).await
            && body.trim() == "ok"
        {
            break;
        }
        for p in &mut cluster.processes {
            if let Err(e) = p.check_alive() {
                panic!("{e}");
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            panic!(
                "kube-apiserver not ready after 60 s; its log ends:\n{}",
                cluster.processes[1].log_tail(30)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "envtest apiserver ready in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    cluster
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
        .unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
}

fn kubeconfig_text(server: &str, ca: &Path, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {server}\n    certificate-authority: {}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: envtest\n  context: {{cluster: envtest, user: {user}}}\ncurrent-context: envtest\n",
        ca.display()
    )
}

pub async fn client_for(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

impl TestCluster {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A kubeconfig authenticating as ServiceAccount `namespace/name` with a fresh bound token
    /// (TokenRequest), so whoever uses it has exactly that ServiceAccount's RBAC.
    pub async fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
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
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
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

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Documents as one multi-document YAML stream (for `kubectl -f -`).
pub fn to_yaml_stream(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml_ng::to_string(d).expect("a manifest serializes"))
        .collect::<Vec<_>>()
        .join("---\n")
}
