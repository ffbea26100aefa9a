//! The feed manifests in `examples/` (S3, PVC, read-protected, several API keys, upstream
//! sources, trusted publishers): each folder
//! holds one `feed.yaml` with one NuGetFeed that passes the CRD's CEL rules in process (kube's
//! `cel` feature; kube-apiserver 1.20 drops them), and `nuget-operator render -f` turns it,
//! with the platform defaults the chart passes, into children whose feed server config loads
//! in the feed server's own loader and whose pods meet the restricted Pod Security Standard.
//! Every manifest of the folders and every rendered child validates strictly
//! (`kubernetes-validate`). Schema validation against the CRD by a real API server, and the
//! operator reconciling them, is in `chart_cluster.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use kube::CustomResourceExt;
use nuget_feed_server::config::{Args, Config, FileConfig};
use nuget_operator::crd::NuGetFeed;
use nuget_test_support::chart::{ChartTools, key, parse_docs, validate_strict};
use nuget_test_support::tools::{repo_root, workspace_bin};
use serde_json::Value;

const EXAMPLES: [&str; 6] = [
    "s3",
    "pvc",
    "read-protected",
    "api-keys",
    "upstreams",
    "trusted-publishers",
];

fn example_dir(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// Every document of every YAML file of the example's folder.
fn manifests(name: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(example_dir(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| parse_docs(&std::fs::read_to_string(f).unwrap()))
        .collect()
}

fn render(name: &str) -> Vec<Value> {
    let out = std::process::Command::new(workspace_bin("nuget-operator"))
        .args(["render", "-f"])
        .arg(example_dir(name).join("feed.yaml"))
        .args([
            "--default-host=nuget.example.com",
            "--default-ingress-class=nginx",
            "--default-tls-issuer=letsencrypt",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nuget-operator render -f examples/{name}/feed.yaml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_docs(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn examples_pass_the_crd_rules_and_render() {
    let crd = NuGetFeed::crd();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    for name in EXAMPLES {
        let feeds: Vec<Value> =
            parse_docs(&std::fs::read_to_string(example_dir(name).join("feed.yaml")).unwrap());
        assert_eq!(feeds.len(), 1, "examples/{name}/feed.yaml holds one feed");
        let feed = &feeds[0];
        assert_eq!(feed["kind"], "NuGetFeed");
        assert_eq!(feed["metadata"]["namespace"], "team-a");
        // The typed spec parses (unknown fields would be refused by the API server's schema in
        // chart_cluster.rs; here the Rust types must accept every field as written).
        let typed: NuGetFeed =
            serde_json::from_value(feed.clone()).unwrap_or_else(|e| panic!("examples/{name}: {e}"));
        kube::core::cel::Validator::new()
            .validate(&schema, feed, None)
            .unwrap_or_else(|e| panic!("examples/{name} breaks a CEL rule of the CRD: {e:?}"));

        let rendered = render(name);
        let kinds: Vec<&str> = rendered
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        for kind in [
            "ServiceAccount",
            "Secret",
            "ConfigMap",
            "Deployment",
            "Service",
            "Ingress",
        ] {
            assert!(kinds.contains(&kind), "examples/{name}: no {kind} rendered");
        }

        // The config file loads in the feed server's own loader, as the pod will load it.
        let config_map = rendered.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
        let text = config_map["data"]["config.yaml"].as_str().unwrap();
        let file = FileConfig::parse(text).unwrap_or_else(|e| panic!("examples/{name}: {e}"));
        nuget_feed_config::validate_upstreams(&file.upstreams)
            .unwrap_or_else(|e| panic!("examples/{name}: {e}"));
        let upstreams: Vec<&str> = file.upstreams.iter().map(|u| u.name.as_str()).collect();
        match name {
            "upstreams" => {
                assert_eq!(upstreams, ["nuget-org", "partner"]);
                assert!(file.local_packages[0].matches("Contoso.Core"));
            }
            _ => assert!(upstreams.is_empty(), "examples/{name}"),
        }
        // Trusted publishers in the explicit form, the audience the feed's URL (which the
        // example's Job asks its token for), the cluster's keys beside the config.
        let publishers: Vec<&str> = file
            .trusted_publishers
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        match name {
            "trusted-publishers" => {
                assert_eq!(publishers, ["ci-pods", "github-release"]);
                let pod = &file.trusted_publishers[0];
                assert!(pod.claims["sub"].matches("system:serviceaccount:team-a:ci"));
                assert_eq!(
                    pod.audience.as_deref(),
                    Some("https://nuget.example.com/team-a/publish")
                );
                assert_eq!(
                    pod.jwks,
                    nuget_feed_config::JwksSource::File(
                        "/etc/nuget-feed/config/cluster-jwks.json".into()
                    )
                );
                assert!(config_map["data"]["cluster-jwks.json"].is_string());
                let job = manifests(name)
                    .into_iter()
                    .find(|d| d["kind"] == "Job")
                    .unwrap();
                let source = &job["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"]
                    [0]["serviceAccountToken"];
                // The Job's manifest names the platform host without TLS (the README's
                // quick start); its token's audience is the feed's URL there.
                assert_eq!(
                    source["audience"],
                    "http://nuget.example.com/team-a/publish"
                );
                assert_eq!(job["spec"]["template"]["spec"]["serviceAccountName"], "ci");
            }
            _ => assert!(publishers.is_empty(), "examples/{name}"),
        }
        // The pod reads each upstream's secret from the file mounted from its Secret: give the
        // loader such a file, at the same path inside a temp root.
        let pod_root = tempfile::tempdir().unwrap();
        let mut file = file;
        for credentials in file
            .upstreams
            .iter_mut()
            .filter_map(|u| u.credentials.as_mut())
        {
            let mounted = credentials
                .secret_file
                .as_ref()
                .expect("a mounted secret file");
            let in_pod = pod_root.path().join(mounted.strip_prefix("/").unwrap());
            std::fs::create_dir_all(in_pod.parent().unwrap()).unwrap();
            std::fs::write(&in_pod, "an-upstream-secret\n").unwrap();
            credentials.secret_file = Some(in_pod);
        }
        let config = Config::resolve(file, Args::default())
            .unwrap_or_else(|e| panic!("examples/{name}: {e}"));
        let feed_name = typed.metadata.name.as_deref().unwrap();
        assert_eq!(config.path_base, format!("/team-a/{feed_name}"));
        assert_eq!(
            config.public_base_url.as_deref(),
            Some(format!("https://nuget.example.com/team-a/{feed_name}").as_str()),
            "examples/{name}: the platform host and TLS issuer give an https URL"
        );
        match name {
            "s3" => assert_eq!(config.storage_url, "s3://nuget-feeds/team-a/releases"),
            _ => assert_eq!(config.storage_url, "/data"),
        }
        assert_eq!(config.read_tokens_file.is_some(), name == "read-protected");

        // Restricted Pod Security for the feed server's pods.
        let deployment = rendered.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{name}"
        );
        assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
        let sc = &container["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{name}");
        assert_eq!(
            container["image"],
            nuget_operator::settings::default_image(),
            "{name}: the chart's default feed-server image"
        );
        let ingress = rendered.iter().find(|d| d["kind"] == "Ingress").unwrap();
        assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
        assert_eq!(
            ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            "letsencrypt"
        );
    }
}

#[test]
fn examples_and_their_rendered_children_validate_strictly() {
    let Some(tools) = ChartTools::new_or_skip() else {
        return;
    };
    let mut docs = Vec::new();
    for name in EXAMPLES {
        docs.extend(
            manifests(name)
                .into_iter()
                .filter(|d| d["kind"] != "NuGetFeed"),
        );
        docs.extend(render(name));
    }
    for version in ["1.28.0", "1.37.0"] {
        let failures = validate_strict(&tools, version, &docs);
        assert!(
            failures.is_empty(),
            "not valid for Kubernetes {version}: {failures:#?}"
        );
    }
    let keys: Vec<String> = docs.iter().map(key).collect();
    assert!(keys.contains(&"PersistentVolumeClaim/team-a/main-packages".to_owned()));
    assert!(keys.contains(&"Secret/team-a/feed-s3".to_owned()));
    assert!(keys.contains(&"Secret/team-a/upstream-creds".to_owned()));
}
