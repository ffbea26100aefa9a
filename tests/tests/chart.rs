//! The Helm chart `charts/nuget-operator`, offline: for every values combination that changes
//! the templates (`nuget_test_support::chart::scenarios`) it renders and lints with the Helm 3.6.2 CLI and
//! with the Helm v4 SDK, both give the same objects, and every object validates strictly
//! (`kubernetes-validate`, unknown fields refused) against the Kubernetes 1.28 and 1.37 schemas. Then what the chart promises: restricted pod security, RBAC
//! narrowed by `watchNamespaces` with a comment on every rule, the platform defaults reaching
//! the operator's flags, the CRD identical to the operator's, image names matching the
//! operator's defaults and the Dockerfile, and a values schema and README that cover every
//! value. The same renders go to a real API server in `chart_cluster.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use kube::CustomResourceExt;
use nuget_operator::crd::NuGetFeed;
use nuget_test_support::chart::{
    ChartTools, NAMESPACE, RELEASE, chart_dir, helm_lint, helm_template, key, parse_docs,
    scenarios, sdk_lint, sdk_render, validate_strict,
};
use nuget_test_support::tools::repo_root;
use serde_json::{Value, json};

/// Kubernetes versions whose schemas the objects must satisfy, strictly: 1.28, the first whose
/// CRD schema knows the `fieldPath` of a CEL rule (the operator's CRD sets it; 1.25-1.27 drop
/// it with a warning and keep the rule), and 1.37, the newest kubernetes-validate 1.37 ships.
/// kube-apiserver 1.20 is covered by the server-side dry run in `chart_cluster.rs`.
const SCHEMA_VERSIONS: [&str; 2] = ["1.28.0", "1.37.0"];
/// Kinds without a built-in schema (a CRD of another project).
const CUSTOM_KINDS: [&str; 1] = ["ServiceMonitor"];

fn by_key(docs: Vec<Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for d in docs {
        assert!(
            out.insert(key(&d), d.clone()).is_none(),
            "{} rendered twice",
            key(&d)
        );
    }
    out
}

fn render(tools: &ChartTools, values: &Value) -> BTreeMap<String, Value> {
    by_key(helm_template(tools, values, RELEASE, NAMESPACE).unwrap())
}

fn deployment(objects: &BTreeMap<String, Value>) -> &Value {
    &objects[&format!("Deployment/{NAMESPACE}/{RELEASE}")]
}

fn args(objects: &BTreeMap<String, Value>) -> Vec<String> {
    deployment(objects)["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn chart_renders_lints_and_validates_for_every_values_combination() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    for scenario in scenarios() {
        let name = scenario.name;
        let values = &scenario.values;
        let lint = helm_lint(&tools, values).unwrap_or_else(|e| panic!("{name}: helm lint: {e}"));
        assert!(
            !lint.contains("[WARNING]") && !lint.contains("[ERROR]"),
            "{name}: {lint}"
        );
        sdk_lint(&tools, values).unwrap_or_else(|e| panic!("{name}: SDK lint: {e}"));

        let cli = by_key(
            helm_template(&tools, values, RELEASE, NAMESPACE)
                .unwrap_or_else(|e| panic!("{name}: helm template: {e}")),
        );
        let sdk_out = sdk_render(&tools, values, RELEASE, NAMESPACE)
            .unwrap_or_else(|e| panic!("{name}: SDK render: {e}"));
        let notes = sdk_out
            .iter()
            .find(|(path, _)| path.ends_with("NOTES.txt"))
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| panic!("{name}: no NOTES.txt"));
        let sdk = by_key(
            sdk_out
                .iter()
                .filter(|(path, _)| !path.ends_with("NOTES.txt"))
                .flat_map(|(_, text)| parse_docs(text))
                .collect(),
        );
        // Helm 3 and the Helm 4 SDK render the same objects.
        assert_eq!(
            cli.keys().collect::<Vec<_>>(),
            sdk.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (k, v) in &cli {
            assert_eq!(
                v, &sdk[k],
                "{name}: {k} differs between Helm 3 and the Helm 4 SDK"
            );
        }
        let text = serde_json::to_string(&cli).unwrap();
        assert!(!text.contains("<no value>"), "{name}: a value is missing");
        assert!(!notes.contains("<no value>"), "{name}: NOTES: {notes}");
        assert!(notes.contains("kubectl apply"), "{name}: NOTES: {notes}");

        let docs: Vec<Value> = cli.values().cloned().collect();
        for version in SCHEMA_VERSIONS {
            let failures: Vec<(String, String)> = validate_strict(&tools, version, &docs)
                .into_iter()
                .filter(|(k, e)| {
                    !(CUSTOM_KINDS.iter().any(|c| k.starts_with(&format!("{c}/")))
                        && e.starts_with("no schema"))
                })
                .collect();
            assert!(
                failures.is_empty(),
                "{name}: not valid for Kubernetes {version}: {failures:#?}"
            );
        }
        eprintln!(
            "{name}: {} objects, lint and strict validation ok",
            cli.len()
        );
    }
}

#[test]
fn chart_defaults_run_the_operator_under_restricted_pod_security() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let objects = render(&tools, &json!({}));
    let pod = &deployment(&objects)["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    // Pod Security Standard `restricted`, and a read-only root filesystem.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}));
    assert!(sc["capabilities"].get("add").is_none());
    assert!(pod.get("hostNetwork").is_none() && pod.get("hostPID").is_none());
    // Probes on the operator's endpoints, on the named metrics port.
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["ports"][0]["name"], "metrics");
    // One replica is replaced with Recreate: a new pod cannot lead while the old one holds the
    // Lease, so a rolling update would never finish.
    assert_eq!(deployment(&objects)["spec"]["strategy"]["type"], "Recreate");
    let metrics = &objects[&format!("Service/{NAMESPACE}/{RELEASE}-metrics")];
    assert_eq!(metrics["spec"]["ports"][0]["targetPort"], "metrics");
    assert!(
        !objects.keys().any(|k| k.starts_with("ServiceMonitor/")),
        "ServiceMonitor is opt-in"
    );
    let args = args(&objects);
    for expected in [
        "run",
        "--http-addr=0.0.0.0:8080",
        "--leader-election=true",
        &format!("--lease-name={RELEASE}"),
        "--lease-duration=15",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    assert!(!args.iter().any(|a| a.starts_with("--watch-namespaces")));
    assert!(!args.iter().any(|a| a.starts_with("--default-host")));

    let sdk = sdk_render(&tools, &json!({"replicaCount": 3}), RELEASE, NAMESPACE).unwrap();
    let docs: Vec<Value> = sdk
        .iter()
        .filter(|(path, _)| !path.ends_with("NOTES.txt"))
        .flat_map(|(_, text)| parse_docs(text))
        .collect();
    let dep = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    // Hot standbys are never ready, so all pods are replaced at once (`helm --wait` then
    // waits for none of them rather than forever).
    assert_eq!(
        dep["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "100%"}})
    );
}

#[test]
fn chart_rbac_is_cluster_wide_by_default_and_roles_only_with_watch_namespaces() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let all = render(&tools, &json!({}));
    let cluster_role = &all[&format!("ClusterRole//{RELEASE}")];
    let binding = &all[&format!("ClusterRoleBinding//{RELEASE}")];
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}])
    );
    let rules = cluster_role["rules"].as_array().unwrap();
    let lease = &all[&format!("Role/{NAMESPACE}/{RELEASE}-leader-election")];
    // Nothing may touch RBAC, CRDs, namespaces or pods, and no wildcard anywhere.
    for rule in rules.iter().chain(lease["rules"].as_array().unwrap()) {
        let text = rule.to_string();
        assert!(!text.contains('*'), "wildcard in {text}");
        for forbidden in [
            "roles",
            "rolebindings",
            "clusterroles",
            "customresourcedefinitions",
            "namespaces",
            "pods",
            "\"update\"",
            "escalate",
            "bind",
            "impersonate",
        ] {
            if forbidden == "\"update\"" && text.contains("nugetfeeds/finalizers") {
                continue;
            }
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
    }
    // The Lease: create (unnamed), get and patch of this one Lease only.
    assert_eq!(
        lease["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [RELEASE], "verbs": ["get", "patch"]},
        ])
    );

    // The cluster's ServiceAccount issuer (for `kubernetes` trusted publishers): get on its two
    // documents, and no object.
    let issuer_rules = json!([{
        "nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"],
        "verbs": ["get"]
    }]);
    assert_eq!(
        all[&format!("ClusterRole//{RELEASE}-cluster-issuer")]["rules"],
        issuer_rules
    );

    let narrowed = render(&tools, &json!({"watchNamespaces": ["team-a", "team-b"]}));
    let cluster_wide: Vec<&String> = narrowed
        .keys()
        .filter(|k| k.starts_with("ClusterRole/") || k.starts_with("ClusterRoleBinding/"))
        .collect();
    assert_eq!(
        cluster_wide,
        [
            &format!("ClusterRole//{RELEASE}-cluster-issuer"),
            &format!("ClusterRoleBinding//{RELEASE}-cluster-issuer")
        ],
        "watchNamespaces grants nothing cluster-wide but the issuer's documents"
    );
    assert_eq!(
        narrowed[&format!("ClusterRole//{RELEASE}-cluster-issuer")]["rules"],
        issuer_rules,
        "no object cluster-wide with watchNamespaces"
    );
    let without = render(&tools, &json!({"rbac": {"clusterIssuer": false}}));
    assert!(!without.contains_key(&format!("ClusterRole//{RELEASE}-cluster-issuer")));
    for ns in ["team-a", "team-b"] {
        let role = &narrowed[&format!("Role/{ns}/{RELEASE}")];
        assert_eq!(
            &role["rules"], &cluster_role["rules"],
            "the same rules in {ns}"
        );
        let rb = &narrowed[&format!("RoleBinding/{ns}/{RELEASE}")];
        assert_eq!(rb["roleRef"]["kind"], "Role");
        assert_eq!(rb["subjects"][0]["namespace"], NAMESPACE);
    }
    assert!(args(&narrowed).contains(&"--watch-namespaces=team-a,team-b".to_owned()));

    let none = render(
        &tools,
        &json!({"rbac": {"create": false}, "leaderElection": {"enabled": false}}),
    );
    assert!(
        !none.keys().any(|k| k.contains("Role")),
        "{:?}",
        none.keys()
    );
    assert!(args(&none).contains(&"--leader-election=false".to_owned()));
}

/// Every rule the chart grants carries a comment saying why (the issue asks for it, and a
/// reviewer needs it to judge the rule).
#[test]
fn every_rbac_rule_has_a_comment() {
    for file in ["_helpers.tpl", "rbac.yaml"] {
        let text = std::fs::read_to_string(chart_dir().join("templates").join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut rules = 0;
        for (i, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("- apiGroups:") {
                continue;
            }
            rules += 1;
            let previous = lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .find(|l| !l.is_empty())
                .unwrap_or("");
            assert!(
                previous.starts_with('#'),
                "{file}:{}: rule without a comment right above it",
                i + 1
            );
        }
        assert!(rules > 0, "{file} has no rules");
    }
}

#[test]
fn platform_defaults_and_images_reach_the_operator() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    // Defaults: the operator's own default feed-server image, and the operator image of the
    // same version (the Dockerfile's targets build both).
    let defaults = render(&tools, &json!({}));
    let container = &deployment(&defaults)["spec"]["template"]["spec"]["containers"][0];
    let operator_default = nuget_operator::settings::default_image();
    let (feed_repo, tag) = operator_default.rsplit_once(':').unwrap();
    assert_eq!(
        container["image"],
        format!("ghcr.io/nuget-operator/nuget-operator:{tag}")
    );
    assert!(args(&defaults).contains(&format!("--default-image={operator_default}")));
    let chart: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(
        chart["appVersion"], tag,
        "the chart's appVersion is the operator's version"
    );
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    for (target, repo) in [
        ("feed-server", feed_repo),
        ("operator", "ghcr.io/nuget-operator/nuget-operator"),
    ] {
        assert!(
            dockerfile.contains(&format!(" AS {target}\n")),
            "the Dockerfile has a `{target}` target"
        );
        assert!(
            dockerfile.contains(&format!("--target {target} -t {repo}:")),
            "the Dockerfile documents building {repo} from target {target}"
        );
    }

    let platform = scenarios()
        .into_iter()
        .find(|s| s.name == "platform-defaults")
        .unwrap();
    let objects = render(&tools, &platform.values);
    let args = args(&objects);
    for expected in [
        "--default-ingress-class=nginx".to_owned(),
        "--default-host=nuget.example.com".to_owned(),
        "--default-tls-issuer=letsencrypt".to_owned(),
        format!(
            "--default-image=registry.example.com/nuget-feed-server@sha256:{}",
            "a".repeat(64)
        ),
    ] {
        assert!(args.contains(&expected), "{expected} in {args:?}");
    }
}

/// The CRD in the chart is the operator's CRD (`nuget-operator crd`), plus the keep policy.
/// `NUGET_UPDATE_CHART_CRD=1` regenerates the template after a change of `operator/src/crd.rs`.
#[test]
fn chart_crd_matches_the_operator() {
    let crd_yaml = nuget_operator::crd::crd_yaml().unwrap();
    let (head, spec) = crd_yaml
        .split_once("\nspec:\n")
        .expect("the CRD has a spec");
    assert_eq!(
        head,
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: nugetfeeds.nuget-operator.io"
    );
    let expected = format!(
        "{CRD_TEMPLATE_HEADER}spec:\n{}{{{{- end }}}}\n",
        spec.replace("{{", "{{ \"{{\" }}")
    );
    let path = chart_dir().join("templates/crd-nugetfeeds.yaml");
    if std::env::var("NUGET_UPDATE_CHART_CRD").as_deref() == Ok("1") {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap();
    assert!(
        actual == expected,
        "{} is not the operator's CRD: run `NUGET_UPDATE_CHART_CRD=1 cargo nextest run -p nuget-tests chart_crd_matches_the_operator`",
        path.display()
    );

    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let objects = render(&tools, &json!({}));
    let rendered = &objects["CustomResourceDefinition//nugetfeeds.nuget-operator.io"];
    assert_eq!(
        rendered["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    assert_eq!(
        rendered["spec"],
        serde_json::to_value(NuGetFeed::crd().spec).unwrap()
    );
    let without = render(&tools, &json!({"crds": {"install": false}}));
    assert!(
        !without
            .keys()
            .any(|k| k.starts_with("CustomResourceDefinition/"))
    );
}

const CRD_TEMPLATE_HEADER: &str = r#"{{- /*
Generated from the operator's Rust types (crds/nugetfeeds.nuget-operator.io.yaml): do not edit.
Regenerate: NUGET_UPDATE_CHART_CRD=1 cargo nextest run -p nuget-tests chart_crd_matches_the_operator
*/}}
{{- if .Values.crds.install }}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: nugetfeeds.nuget-operator.io
  annotations:
    # helm uninstall must not delete the CRD: that would delete every tenant's NuGetFeed and so
    # every feed's Deployment, Service and Secrets (the stored packages stay in any case).
    helm.sh/resource-policy: keep
  labels:
    {{- include "nuget-operator.labels" . | nindent 4 }}
"#;

/// Leaf keys of the values schema (a key whose schema has no `properties` of its own).
fn schema_leaves(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in schema["properties"].as_object().unwrap() {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if v.get("properties").is_some() {
            schema_leaves(v, &path, out);
        } else {
            out.insert(path);
        }
    }
}

/// Leaf keys of values.yaml, stopping where the schema stops (free-form maps such as
/// `resources` count as one value).
fn value_leaves(values: &Value, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in values.as_object().unwrap() {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match schema["properties"].get(k) {
            Some(s) if s.get("properties").is_some() && v.is_object() => {
                value_leaves(v, s, &path, out)
            }
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn values_schema_and_readme_cover_every_value() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(chart_dir().join("values.schema.json")).unwrap(),
    )
    .unwrap();
    let values: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap())
            .unwrap();
    let mut in_schema = BTreeSet::new();
    schema_leaves(&schema, "", &mut in_schema);
    let mut in_values = BTreeSet::new();
    value_leaves(&values, &schema, "", &mut in_values);
    assert_eq!(in_schema, in_values, "values.schema.json and values.yaml");
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    for key in &in_values {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "charts/nuget-operator/README.md has no row for `{key}`"
        );
    }
}

#[test]
fn bad_values_are_refused_by_both_helm_versions() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    for (values, why) in [
        (json!({"replicaCount": "two"}), "replicaCount"),
        (json!({"replicas": 2}), "replicas"),
        (json!({"watchNamespaces": ["Team_A"]}), "watchNamespaces"),
        (json!({"image": {"digest": "latest"}}), "digest"),
        (json!({"logFormat": "xml"}), "logFormat"),
        (json!({"metrics": {"port": 80}}), "port"),
        (
            json!({"replicaCount": 2, "leaderElection": {"enabled": false}}),
            "leaderElection.enabled",
        ),
        (
            json!({"metrics": {"service": {"enabled": false}, "serviceMonitor": {"enabled": true}}}),
            "metrics.service.enabled",
        ),
        (
            json!({"serviceAccount": {"create": false}}),
            "serviceAccount.name",
        ),
    ] {
        let cli = helm_template(&tools, &values, RELEASE, NAMESPACE)
            .expect_err(&format!("helm accepted {values}"));
        assert!(cli.contains(why), "helm: {values}: {cli}");
        let sdk = sdk_render(&tools, &values, RELEASE, NAMESPACE)
            .expect_err(&format!("the SDK accepted {values}"));
        assert!(sdk.contains(why), "SDK: {values}: {sdk}");
    }
}
