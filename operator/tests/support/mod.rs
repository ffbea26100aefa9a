//! A Kubernetes API server for integration tests: the cluster of `$KUBECONFIG` when set,
//! otherwise etcd + kube-apiserver started from `$KUBEBUILDER_ASSETS` (envtest style, default
//! `.ci/cache/kubebuilder`, filled by `.ci/envtest.sh`) on free loopback ports, with
//! certificates made by `openssl` in a temporary folder, stopped when dropped.
//!
//! Without either the tests fail, unless `NUGET_SKIP_CLUSTER_TESTS=1` says to skip them.
//!
//! The envtest apiserver keeps an audit log of the user `nuget-operator` (its client is
//! `operator_client`), so tests can count the operator's requests.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

pub struct TestCluster {
    pub client: Client,
    /// For the operator under test: user `nuget-operator` (in `system:masters`) on envtest,
    /// whose requests the audit log records; the same as `client` on a `$KUBECONFIG` cluster.
    pub operator_client: Client,
    /// JSON lines, one per request of `operator_client` (envtest only).
    pub audit_log: Option<PathBuf>,
    /// True when we started the apiserver ourselves (1.20: no controllers, no GC).
    pub envtest: bool,
    pub kubeconfig: PathBuf,
    processes: Vec<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for p in self.processes.iter_mut().rev() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// `None` when cluster tests are explicitly skipped.
pub async fn start() -> Option<TestCluster> {
    if std::env::var("NUGET_SKIP_CLUSTER_TESTS").as_deref() == Ok("1") {
        eprintln!("NUGET_SKIP_CLUSTER_TESTS=1: skipping the cluster tests");
        return None;
    }
    if let Ok(path) = std::env::var("KUBECONFIG")
        && !path.is_empty()
    {
        let client = Client::try_default()
            .await
            .expect("KUBECONFIG is set but unusable");
        return Some(TestCluster {
            operator_client: client.clone(),
            audit_log: None,
            client,
            envtest: false,
            kubeconfig: PathBuf::from(path),
            processes: Vec::new(),
            _dir: None,
        });
    }
    let assets = std::env::var("KUBEBUILDER_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/cache/kubebuilder"));
    let apiserver = assets.join("kube-apiserver");
    let etcd = assets.join("etcd");
    assert!(
        apiserver.is_file() && etcd.is_file(),
        "no cluster for the integration tests: set KUBECONFIG, or run `bash .ci/envtest.sh` to put \
         kube-apiserver and etcd in {} (or point KUBEBUILDER_ASSETS at a folder holding them); \
         NUGET_SKIP_CLUSTER_TESTS=1 skips these tests explicitly",
        assets.display()
    );
    Some(envtest(&apiserver, &etcd).await)
}

const OPERATOR_TOKEN: &str = "envtest-operator-token";

/// Metadata of every request of the operator's user, nothing else.
const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    users: ["nuget-operator"]
  - level: None
"#;

impl TestCluster {
    /// The audit events of `operator_client` so far (`None` without an audit log).
    pub fn operator_requests(&self) -> Option<Vec<serde_json::Value>> {
        let log = std::fs::read_to_string(self.audit_log.as_ref()?).unwrap_or_default();
        Some(
            log.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
        )
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

async fn envtest(apiserver: &Path, etcd: &Path) -> TestCluster {
    let dir = tempfile::tempdir().unwrap();
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
        format!("{token},admin,admin-uid,system:masters\n{OPERATOR_TOKEN},nuget-operator,operator-uid,system:masters\n"),
    )
    .unwrap();
    std::fs::write(d.join("audit-policy.yaml"), AUDIT_POLICY).unwrap();
    let audit_log = d.join("audit.log");

    let (client_port, peer_port, api_port) = (free_port(), free_port(), free_port());
    let log = |name: &str| std::fs::File::create(d.join(name)).unwrap();
    let etcd_proc = Command::new(etcd)
        .args([
            "--name=default",
            &format!("--data-dir={}", d.join("etcd").display()),
            &format!("--listen-client-urls=http://127.0.0.1:{client_port}"),
            &format!("--advertise-client-urls=http://127.0.0.1:{client_port}"),
            &format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
            &format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
            &format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
            "--unsafe-no-fsync",
        ])
        .stdout(Stdio::null())
        .stderr(log("etcd.log"))
        .spawn()
        .expect("etcd starts");
    let api_proc = Command::new(apiserver)
        .args([
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
        ])
        .stdout(Stdio::null())
        .stderr(log("kube-apiserver.log"))
        .spawn()
        .expect("kube-apiserver starts");
    let kubeconfig = d.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: https://127.0.0.1:{api_port}\n    certificate-authority: {}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: envtest\n  context: {{cluster: envtest, user: admin}}\ncurrent-context: envtest\n",
            d.join("ca.crt").display()
        ),
    )
    .unwrap();
    let operator_kubeconfig = d.join("kubeconfig-operator");
    std::fs::write(
        &operator_kubeconfig,
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .replace(token, OPERATOR_TOKEN),
    )
    .unwrap();
    let mut cluster = TestCluster {
        client: client_for(&kubeconfig).await,
        operator_client: client_for(&operator_kubeconfig).await,
        audit_log: Some(audit_log),
        envtest: true,
        kubeconfig,
        processes: vec![etcd_proc, api_proc],
        _dir: None,
    };
    let start = Instant::now();
    loop {
        if let Ok(req) = http::Request::get("/readyz").body(Vec::new())
            && let Ok(body) = cluster.client.request_text(req).await
            && body.trim() == "ok"
        {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(d.join("kube-apiserver.log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
            panic!("kube-apiserver not ready after 60 s; last log lines (newest first):\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "envtest apiserver ready in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    cluster._dir = Some(dir);
    cluster
}

async fn client_for(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
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
