//! The chart on a real API server (kube-apiserver 1.20 + etcd from `.ci/envtest.sh`, see
//! `nuget_test_support::envtest`):
//!
//! - every values combination of `nuget_test_support::chart::scenarios` passes `kubectl apply
//!   --dry-run=server` (admission, defaulting, RBAC escalation checks), with kubectl's schema
//!   validation (1.20 has no server-side field validation);
//! - the real `helm install`, `helm upgrade` and `helm uninstall`, which keeps the CRD;
//! - the chart installed, the `nuget-operator` binary runs with the chart's own arguments and
//!   environment and the token of the chart's ServiceAccount (not an admin), and reconciles
//!   every feed in `examples/` (applied with `kubectl apply` and validated against the CRD's
//!   published schema). The API server's audit log then shows that the operator was refused
//!   nothing, and that it uses every verb the chart grants, except the few listed in
//!   `NOT_SEEN_HERE` with the reason this API server cannot show them;
//! - with `watchNamespaces` the operator works from Roles alone, ignores other namespaces, and
//!   fails when a Role is one verb short (so RBAC that is too small fails these tests).
//!
//! On this control plane Deployments never get pods (no controller-manager), so feeds stay
//! `Ready=False/DeploymentNotReady`; everything the operator does itself is real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use nuget_operator::crd::NuGetFeed;
use nuget_test_support::chart::{
    ChartTools, NAMESPACE, RELEASE, helm_template, run_helm, scenarios,
};
use nuget_test_support::envtest::{self as cluster, TestCluster, to_yaml_stream};
use nuget_test_support::http::http_request;
use nuget_test_support::ports::free_port;
use nuget_test_support::process::Process;
use nuget_test_support::tools::{repo_root, workspace_bin};
use nuget_test_support::wait::eventually;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);
/// The example folders and the feeds they define (all in namespace team-a).
const EXAMPLES: [(&str, &str); 6] = [
    ("s3", "releases"),
    ("pvc", "main"),
    ("read-protected", "internal"),
    ("api-keys", "shared"),
    ("upstreams", "proxy"),
    // Reads the cluster's issuer and keys with the chart's `-cluster-issuer` ClusterRole.
    ("trusted-publishers", "publish"),
];

/// Verbs the chart grants that this API server cannot show being used, and why they are
/// needed all the same. Everything else granted must appear in the audit log.
const NOT_SEEN_HERE: &[(&str, &str, &str, &str)] = &[
    (
        "",
        "serviceaccounts",
        "create",
        "server-side apply creates a missing child: audited as patch, authorized as create (proven by watch_namespaces_roles_suffice_and_one_verb_less_fails)",
    ),
    ("", "configmaps", "create", "server-side apply, as above"),
    ("", "services", "create", "server-side apply, as above"),
    (
        "apps",
        "deployments",
        "create",
        "server-side apply, as above",
    ),
    (
        "networking.k8s.io",
        "ingresses",
        "create",
        "server-side apply, as above",
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        "create",
        "server-side apply, as above",
    ),
    (
        "",
        "serviceaccounts",
        "delete",
        "pruning (exercised here for Secrets and NetworkPolicies) runs for every kind; these children are pruned only when their names change",
    ),
    ("", "configmaps", "delete", "pruning, as above"),
    ("", "services", "delete", "pruning, as above"),
    ("apps", "deployments", "delete", "pruning, as above"),
    (
        "networking.k8s.io",
        "ingresses",
        "delete",
        "pruning, as above",
    ),
    (
        "policy",
        "poddisruptionbudgets",
        "list",
        "kube-apiserver 1.20 serves no policy/v1, so the operator makes no PodDisruptionBudgets here",
    ),
    (
        "policy",
        "poddisruptionbudgets",
        "watch",
        "no policy/v1 on 1.20",
    ),
    (
        "policy",
        "poddisruptionbudgets",
        "create",
        "no policy/v1 on 1.20",
    ),
    (
        "policy",
        "poddisruptionbudgets",
        "patch",
        "no policy/v1 on 1.20",
    ),
    (
        "policy",
        "poddisruptionbudgets",
        "delete",
        "no policy/v1 on 1.20",
    ),
    (
        "nuget-operator.io",
        "nugetfeeds/finalizers",
        "update",
        "checked only by the OwnerReferencesPermissionEnforcement admission plugin, which this API server does not run",
    ),
];

fn split_crds(docs: &[Value]) -> (Vec<Value>, Vec<Value>) {
    docs.iter()
        // No prometheus-operator here: its ServiceMonitor kind is unknown to this API server.
        .filter(|d| d["kind"] != "ServiceMonitor")
        .cloned()
        .partition(|d| d["kind"] == "CustomResourceDefinition")
}

/// `kubectl apply`: the CRD with `--validate=false` (1.20's schema does not know the CEL rules'
/// fields, which it drops; the operator repeats those checks), everything else validated.
fn kubectl_apply(
    cluster: &TestCluster,
    tools: &ChartTools,
    docs: &[Value],
    dry_run: bool,
) -> Result<(), String> {
    let (crds, rest) = split_crds(docs);
    for (group, validate) in [(crds, "--validate=false"), (rest, "--validate=true")] {
        if group.is_empty() {
            continue;
        }
        let mut args = vec!["apply", validate, "-f", "-"];
        if dry_run {
            args.push("--dry-run=server");
        }
        cluster.kubectl(&tools.kubectl, &args, &to_yaml_stream(&group))?;
    }
    Ok(())
}

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await.unwrap().is_none() {
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_values_combination_passes_server_side_dry_run() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let Some(cluster) = cluster::start_envtest().await else {
        return;
    };
    for ns in [NAMESPACE, "team-a", "team-b"] {
        create_namespace(&cluster.client, ns).await;
    }
    for scenario in scenarios() {
        let docs = helm_template(&tools, &scenario.values, RELEASE, NAMESPACE).unwrap();
        kubectl_apply(&cluster, &tools, &docs, true)
            .unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
    }
}

/// `helm <args>` against the test API server as admin; `Err` with Helm's output.
fn helm(cluster: &TestCluster, tools: &ChartTools, args: &[&str]) -> Result<String, String> {
    run_helm(
        tools
            .helm_command()
            .args(args)
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig),
    )
    .map_err(|text| format!("helm {}: {text}", args.join(" ")))
}

/// The real `helm install`, `helm upgrade` and `helm uninstall` (Helm 3.6.2) against the API
/// server. Helm validates manifests against the cluster's schema, which before 1.25 does not
/// know the CRD's CEL rules (`x-kubernetes-validations`), and before 1.28 their `fieldPath`: the
/// chart README's way for such clusters is `--disable-openapi-validation` (the API server drops
/// what it does not know) or `crds.install=false`. The CRD outlives the release
/// (`helm.sh/resource-policy: keep`), and an upgrade to `watchNamespaces` swaps the
/// ClusterRole for Roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_upgrade_and_uninstall_keep_the_crd() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let Some(cluster) = cluster::start_envtest().await else {
        return;
    };
    let client = cluster.client.clone();
    create_namespace(&client, "team-a").await;
    let chart = nuget_test_support::chart::chart_dir().display().to_string();
    let refused = helm(
        &cluster,
        &tools,
        &[
            "install",
            RELEASE,
            &chart,
            "-n",
            NAMESPACE,
            "--create-namespace",
        ],
    )
    .expect_err("Helm's schema validation refuses the CEL rules on Kubernetes 1.20");
    assert!(refused.contains("x-kubernetes-validations"), "{refused}");
    let installed = helm(
        &cluster,
        &tools,
        &[
            "install",
            RELEASE,
            &chart,
            "-n",
            NAMESPACE,
            "--create-namespace",
            "--disable-openapi-validation",
        ],
    )
    .unwrap();
    assert!(
        installed.contains("kubectl apply -f examples/pvc/"),
        "NOTES: {installed}"
    );
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.get("nugetfeeds.nuget-operator.io").await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    deployments.get(RELEASE).await.unwrap();
    let cluster_roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
    cluster_roles.get(RELEASE).await.unwrap();

    helm(
        &cluster,
        &tools,
        &[
            "upgrade",
            RELEASE,
            &chart,
            "-n",
            NAMESPACE,
            "--disable-openapi-validation",
            "--set",
            "watchNamespaces={team-a}",
        ],
    )
    .unwrap();
    assert!(cluster_roles.get_opt(RELEASE).await.unwrap().is_none());
    let roles: Api<k8s_openapi::api::rbac::v1::Role> = Api::namespaced(client.clone(), "team-a");
    roles.get(RELEASE).await.unwrap();

    helm(&cluster, &tools, &["uninstall", RELEASE, "-n", NAMESPACE]).unwrap();
    assert!(deployments.get_opt(RELEASE).await.unwrap().is_none());
    assert!(roles.get_opt(RELEASE).await.unwrap().is_none());
    assert!(
        crds.get_opt("nugetfeeds.nuget-operator.io")
            .await
            .unwrap()
            .is_some(),
        "helm uninstall kept the CRD (and so every tenant's feeds)"
    );
}

/// Installs the chart (CRD first, then everything else) and returns the rendered objects.
async fn install_chart(cluster: &TestCluster, tools: &ChartTools, values: &Value) -> Vec<Value> {
    let docs = helm_template(tools, values, RELEASE, NAMESPACE).unwrap();
    create_namespace(&cluster.client, NAMESPACE).await;
    kubectl_apply(cluster, tools, &docs, false).unwrap();
    cluster
        .kubectl(
            &tools.kubectl,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                "crd/nugetfeeds.nuget-operator.io",
            ],
            "",
        )
        .unwrap();
    docs
}

/// The operator's process as the chart's Deployment runs it: its args (the health address
/// moved to a free loopback port), its env (`fieldRef`s resolved as the kubelet would), and
/// the chart ServiceAccount's token as its only credential.
struct Operator {
    process: Process,
    port: u16,
    /// The audit log's user name of the operator.
    user: String,
    _home: tempfile::TempDir,
}

async fn start_operator(cluster: &TestCluster, docs: &[Value]) -> Operator {
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("the chart renders a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let sa = pod["serviceAccountName"].as_str().unwrap();
    let kubeconfig = cluster.service_account_kubeconfig(NAMESPACE, sa).await;
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(workspace_bin("nuget-operator"));
    for arg in container["args"].as_array().unwrap() {
        let arg = arg.as_str().unwrap();
        if arg.starts_with("--http-addr=") {
            cmd.arg(format!("--http-addr=127.0.0.1:{port}"));
        } else {
            cmd.arg(arg);
        }
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("KUBECONFIG", &kubeconfig);
    for e in container["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match (
            e["value"].as_str(),
            e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        ) {
            (Some(v), _) => v.to_owned(),
            (None, Some("metadata.namespace")) => NAMESPACE.to_owned(),
            (None, Some("metadata.name")) => format!("{RELEASE}-5d8f7c-x2x4z"),
            _ => panic!("env {name}: unsupported source {e}"),
        };
        cmd.env(name, value);
    }
    let mut process = Process::spawn(
        "nuget-operator",
        cmd,
        &home.path().join("nuget-operator.log"),
    );
    // Ready means leading (the Lease is held) with the controllers running.
    let ready = container["readinessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}{ready}");
    let start = std::time::Instant::now();
    loop {
        if let Err(e) = process.check_alive() {
            panic!("{e}");
        }
        if let Ok(r) = http_request("GET", &url, &[], b"", Duration::from_secs(2))
            && r.status == 200
        {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the operator did not become ready; its log:\n{}",
            process.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Operator {
        process,
        port,
        user: format!("system:serviceaccount:{NAMESPACE}:{sa}"),
        _home: home,
    }
}

/// Waits until the operator has reconciled the feed's current generation without a
/// complaint, and returns it.
async fn provisioned(client: &Client, ns: &str, name: &str, operator: &mut Operator) -> NuGetFeed {
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), ns);
    let found = tokio::time::timeout(
        WAIT,
        eventually(&format!("{ns}/{name} to be reconciled"), WAIT, || {
            let feeds = feeds.clone();
            async move {
                let f = feeds.get(name).await.ok()?;
                let status = f.status.as_ref()?;
                (status.observed_generation == f.metadata.generation
                    && f.condition("Degraded")?.status == "False")
                    .then_some(f)
            }
        }),
    )
    .await;
    match found {
        Ok(f) => f,
        Err(_) => panic!(
            "{ns}/{name} was not reconciled; the operator's log:\n{}",
            operator.process.log_tail(40)
        ),
    }
}

fn granted(docs: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for d in docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        for rule in d["rules"].as_array().unwrap() {
            // The cluster issuer's documents (non-resource URLs) grant no object.
            let Some(groups) = rule["apiGroups"].as_array() else {
                assert_eq!(rule["verbs"], serde_json::json!(["get"]), "{rule}");
                continue;
            };
            for g in groups {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        out.insert((
                            g.as_str().unwrap().to_owned(),
                            r.as_str().unwrap().to_owned(),
                            v.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// `(group, resource[/subresource], verb)` of every request of `user`, and the refused ones.
fn used(cluster: &TestCluster, user: &str) -> (BTreeSet<(String, String, String)>, Vec<String>) {
    let mut out = BTreeSet::new();
    let mut refused = Vec::new();
    for e in cluster.audit_events(user) {
        let o = &e["objectRef"];
        let Some(resource) = o["resource"].as_str() else {
            continue; // discovery (non-resource URLs)
        };
        let resource = match o["subresource"].as_str() {
            Some(s) => format!("{resource}/{s}"),
            None => resource.to_owned(),
        };
        let group = o["apiGroup"].as_str().unwrap_or("").to_owned();
        let verb = e["verb"].as_str().unwrap().to_owned();
        if e["responseStatus"]["code"] == 403 {
            refused.push(format!(
                "{verb} {group}/{resource} {} {}",
                o["namespace"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            ));
        }
        out.insert((group, resource, verb));
    }
    (out, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_reconciles_the_examples_with_exactly_the_chart_rbac() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let Some(cluster) = cluster::start_envtest().await else {
        return;
    };
    let client = cluster.client.clone();
    let values = json!({"platform": {"host": "nuget.example.com", "ingressClassName": "nginx"}});
    let docs = install_chart(&cluster, &tools, &values).await;
    create_namespace(&client, "team-a").await;
    // Validated against the CRD's published schema (unknown fields refused) as they go in.
    let mut args = vec!["apply".to_owned(), "--validate=true".to_owned()];
    for (dir, _) in EXAMPLES {
        args.push("-f".into());
        args.push(repo_root().join("examples").join(dir).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cluster.kubectl(&tools.kubectl, &args, "").unwrap();

    let mut operator = start_operator(&cluster, &docs).await;
    let ns = "team-a";
    for (_, name) in EXAMPLES {
        let feed = provisioned(&client, ns, name, &mut operator).await;
        let status = feed.status.as_ref().unwrap();
        assert_eq!(
            status.url.as_deref(),
            Some(format!("http://nuget.example.com/{ns}/{name}/index.json").as_str()),
            "the platform host reaches the feed"
        );
        Api::<Deployment>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .unwrap();
        Api::<ServiceAccount>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .unwrap();
        Api::<Service>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .unwrap();
        let config = Api::<ConfigMap>::namespaced(client.clone(), ns)
            .get(&format!("{name}-config"))
            .await
            .unwrap()
            .data
            .unwrap();
        if name == "publish" {
            // The cluster's issuer and keys, read with the chart's RBAC alone.
            let file = nuget_feed_config::FileConfig::parse(&config["config.yaml"]).unwrap();
            assert_eq!(
                file.trusted_publishers[0].issuer,
                "https://kubernetes.default.svc"
            );
            let jwks: Value = serde_json::from_str(&config["cluster-jwks.json"]).unwrap();
            assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
        }
        let ingress = Api::<Ingress>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .unwrap();
        assert_eq!(
            ingress.spec.unwrap().ingress_class_name.as_deref(),
            Some("nginx")
        );
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        secrets.get(&format!("{name}-auth")).await.unwrap();
        let keys = secrets.get(&format!("{name}-api-keys")).await.unwrap();
        let expected: BTreeSet<&str> = match name {
            "shared" => ["release-bot", "contoso-ci", "janitor"].into(),
            "proxy" => ["contoso-ci"].into(),
            _ => ["default"].into(),
        };
        let actual: BTreeSet<String> = keys.data.unwrap().into_keys().collect();
        assert_eq!(
            actual,
            expected.iter().map(|s| s.to_string()).collect(),
            "{name}"
        );
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets.get("internal-read-tokens").await.unwrap();

    // Changes that take the other paths of the operator: pruning a Secret and a
    // NetworkPolicy, adding a key to a generated Secret, the purge finalizer on and off.
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), ns);
    let merge = |v: Value| Patch::Merge(v);
    feeds
        .patch(
            "internal",
            &PatchParams::default(),
            &merge(json!({"spec": {"readAccess": {"mode": "Public", "tokens": null}}})),
        )
        .await
        .unwrap();
    feeds
        .patch(
            "main",
            &PatchParams::default(),
            &merge(json!({"spec": {"networkPolicy": {"enabled": true}}})),
        )
        .await
        .unwrap();
    feeds
        .patch(
            "shared",
            &PatchParams::default(),
            &merge(json!({"spec": {"apiKeys": [
                {"name": "release-bot", "scopes": ["push", "unlist"]},
                {"name": "contoso-ci", "scopes": ["push"], "packages": ["Contoso.*"]},
                {"name": "janitor", "scopes": ["unlist"]},
                {"name": "fabrikam-ci", "scopes": ["push"], "packages": ["Fabrikam.*"]},
            ]}})),
        )
        .await
        .unwrap();
    feeds
        .patch(
            "releases",
            &PatchParams::default(),
            &merge(json!({"spec": {"deletionPolicy": "Purge"}})),
        )
        .await
        .unwrap();
    for name in ["internal", "main", "shared", "releases"] {
        provisioned(&client, ns, name, &mut operator).await;
    }
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    policies.get("main").await.unwrap();
    assert!(
        secrets
            .get_opt("internal-read-tokens")
            .await
            .unwrap()
            .is_none(),
        "the read tokens of a feed that became public are pruned"
    );
    let shared = secrets.get("shared-api-keys").await.unwrap().data.unwrap();
    assert!(shared.contains_key("fabrikam-ci"));
    assert!(
        feeds
            .get("releases")
            .await
            .unwrap()
            .finalizers()
            .contains(&"nuget-operator.io/purge-data".to_owned())
    );
    feeds
        .patch(
            "main",
            &PatchParams::default(),
            &merge(json!({"spec": {"networkPolicy": {"enabled": false}}})),
        )
        .await
        .unwrap();
    feeds
        .patch(
            "releases",
            &PatchParams::default(),
            &merge(json!({"spec": {"deletionPolicy": "Retain"}})),
        )
        .await
        .unwrap();
    for name in ["main", "releases"] {
        provisioned(&client, ns, name, &mut operator).await;
    }
    assert!(policies.get_opt("main").await.unwrap().is_none());
    assert!(feeds.get("releases").await.unwrap().finalizers().is_empty());

    // A deleted child comes back (the label-selected watches), twice: the second, identical
    // Provisioned event is counted on the first with a patch.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for _ in 0..2 {
        let old = config_maps.get("main-config").await.unwrap();
        config_maps
            .delete("main-config", &Default::default())
            .await
            .unwrap();
        eventually("main-config to come back", WAIT, || {
            let config_maps = config_maps.clone();
            let old_uid = old.uid();
            async move {
                let new = config_maps.get_opt("main-config").await.ok()??;
                (new.uid() != old_uid).then_some(())
            }
        })
        .await;
    }

    // The operator steps down on SIGTERM, as in a pod.
    let status = operator.process.terminate(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "the operator did not stop cleanly on SIGTERM: {status:?}\n{}",
        operator.process.log_tail(20)
    );

    // Least privilege, from the audit log: nothing refused, nothing granted in vain.
    let (used, refused) = used(&cluster, &operator.user);
    assert!(
        refused.is_empty(),
        "the chart's RBAC refused the operator: {refused:#?}"
    );
    let granted = granted(&docs);
    let mut unused = Vec::new();
    for g in &granted {
        let exempt = NOT_SEEN_HERE.iter().any(|(grp, res, verb, _)| {
            (*grp, *res, *verb) == (g.0.as_str(), g.1.as_str(), g.2.as_str())
        });
        if !used.contains(g) && !exempt {
            unused.push(g.clone());
        }
    }
    assert!(
        unused.is_empty(),
        "the chart grants verbs the operator never used (drop them, or add them to NOT_SEEN_HERE with the reason): {unused:#?}\nused: {used:#?}"
    );
    for (grp, res, verb, why) in NOT_SEEN_HERE {
        let entry = (grp.to_string(), res.to_string(), verb.to_string());
        assert!(
            granted.contains(&entry),
            "NOT_SEEN_HERE lists {entry:?}, which the chart does not grant"
        );
        assert!(
            !used.contains(&entry),
            "NOT_SEEN_HERE says {entry:?} cannot be seen here ({why}), but the operator used it: remove the entry"
        );
    }
    eprintln!("operator requests by (group, resource, verb): {used:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespaces_roles_suffice_and_one_verb_less_fails() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let Some(cluster) = cluster::start_envtest().await else {
        return;
    };
    let client = cluster.client.clone();
    for ns in ["team-b", "team-c"] {
        create_namespace(&client, ns).await;
    }
    let docs = install_chart(&cluster, &tools, &json!({"watchNamespaces": ["team-b"]})).await;
    let mut operator = start_operator(&cluster, &docs).await;
    let feed = |ns: &str, name: &str| -> NuGetFeed {
        serde_json::from_value(json!({
            "apiVersion": "nuget-operator.io/v1alpha1", "kind": "NuGetFeed",
            "metadata": {"name": name, "namespace": ns},
            // One claim per feed: two feeds on one claim would share (and clash over) its data.
            "spec": {"storage": {"volume": {"claimName": format!("{name}-packages")}}, "ingress": {"host": "nuget.example.com"}},
        }))
        .unwrap()
    };
    for (ns, name) in [("team-b", "main"), ("team-c", "main")] {
        Api::<NuGetFeed>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &feed(ns, name))
            .await
            .unwrap();
    }
    provisioned(&client, "team-b", "main", &mut operator).await;
    // Outside the watched namespaces nothing happens (and nothing could: no Role there).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ignored = Api::<NuGetFeed>::namespaced(client.clone(), "team-c")
        .get("main")
        .await
        .unwrap();
    assert!(ignored.status.is_none(), "team-c is not watched");
    assert!(
        Api::<Deployment>::namespaced(client.clone(), "team-c")
            .get_opt("main")
            .await
            .unwrap()
            .is_none()
    );
    let (_, refused) = used(&cluster, &operator.user);
    assert!(refused.is_empty(), "refused with Roles: {refused:#?}");

    // One verb less: without `create` on Deployments the first server-side apply of a new
    // feed's Deployment is refused, the feed never gets one, and the operator counts a failed
    // apply.
    let roles: Api<k8s_openapi::api::rbac::v1::Role> = Api::namespaced(client.clone(), "team-b");
    let mut role = roles.get(RELEASE).await.unwrap();
    for rule in role.rules.iter_mut().flatten() {
        if rule.resources.as_deref() == Some(&["deployments".to_owned()]) {
            rule.verbs.retain(|v| v != "create");
        }
    }
    roles
        .replace(RELEASE, &PostParams::default(), &role)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    Api::<NuGetFeed>::namespaced(client.clone(), "team-b")
        .create(&PostParams::default(), &feed("team-b", "second"))
        .await
        .unwrap();
    let metrics = format!("http://127.0.0.1:{}/metrics", operator.port);
    eventually("a Forbidden reconcile failure", WAIT, || {
        let metrics = metrics.clone();
        async move {
            let r = http_request("GET", &metrics, &[], b"", Duration::from_secs(2)).ok()?;
            r.text()
                .contains("nuget_operator_reconcile_failures_total{reason=\"Apply\"}")
                .then_some(())
        }
    })
    .await;
    assert!(
        Api::<Deployment>::namespaced(client.clone(), "team-b")
            .get_opt("second")
            .await
            .unwrap()
            .is_none()
    );
    let (_, refused) = used(&cluster, &operator.user);
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("patch apps/deployments team-b second")),
        "the API server refused the Deployment's first apply: {refused:#?}"
    );
}
