//! Trusted publishers on a real kube-apiserver (issue 14, the operator's side end to end): the
//! operator (in process, against envtest) renders a feed with a `kubernetes` trusted publisher,
//! reading the cluster's issuer and keys itself; the real `nuget-feed-server` binary starts on
//! what the operator wrote (the live Deployment, ConfigMap and Secrets, run as a pod would run
//! them, `nuget_test_support::feed_pod::FeedPod`), with no access to the API server at all.
//!
//! - A token of the policy's ServiceAccount with the feed's audience (TokenRequest) pushes with
//!   NuGet.exe 5.8 through nginx playing the live Ingress (201).
//! - A token of another ServiceAccount, one for another audience, an expired one (the cluster's
//!   own token re-signed with the cluster's key, `exp` in the past: TokenRequest will not issue
//!   one), and the right token for an id outside the policy's packages are refused with real
//!   HTTP, and nothing of them is stored.
//! - A policy the feed server would refuse is a Degraded condition naming it and a Warning
//!   event; the feed next to it is provisioned all the same.
//! - The cluster rotates its signing key (kube-apiserver restarted with a new one, the old one
//!   still accepted): a token of the new key is refused until the operator has written the new
//!   key set and the pod's volume has it, then it pushes, and so does one of the old key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, CustomResourceExt};
use nuget_feed_server::testing::PackageBuilder;
use nuget_operator::crd::NuGetFeed;
use nuget_operator::reconcile::CLUSTER_KEYS_REFRESH;
use nuget_operator::run::{self, Options};
use nuget_operator::settings::Settings;
use nuget_test_support::envtest::{self as cluster, TestCluster};
use nuget_test_support::feed_pod::FeedPod;
use nuget_test_support::http::{HttpResponse, http_request, push_package_with};
use nuget_test_support::nginx::Nginx;
use nuget_test_support::nuget_exe::{NuGetExe, assert_success};
use nuget_test_support::tools::workspace_bin;
use nuget_test_support::wait::eventually;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);
const NS: &str = "team-tp";
const HOST: &str = "nuget.example.com";
/// The operator reads the cluster's keys again every `CLUSTER_KEYS_REFRESH`; a reconcile may
/// also back off while the apiserver restarts.
const CLUSTER_KEYS_WAIT: Duration = Duration::from_secs(CLUSTER_KEYS_REFRESH.as_secs() * 2 + 30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_token_pushes_to_the_operator_rendered_feed() {
    // Our own apiserver: the test signs an expired token with its ServiceAccount key.
    let Some(mut cluster) = cluster::start_envtest().await else {
        return;
    };
    let Some(mut nuget) = NuGetExe::v5_8_or_skip() else {
        return;
    };
    let client = cluster.client.clone();
    install_crd(&client).await;
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap(),
        )
        .await
        .unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NS);
    for name in ["ci", "other"] {
        accounts
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
            )
            .await
            .unwrap();
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        settings: Settings::default(),
        watch_namespaces: vec![NS.to_owned()],
        http_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: false,
        lease_name: "unused".into(),
        lease_namespace: NS.to_owned(),
        lease_duration_secs: 15,
        identity: "test-operator".into(),
        concurrency: 2,
    };
    let operator = tokio::spawn(run::run(cluster.operator_client.clone(), options, async {
        let _ = stop_rx.await;
    }));

    // A policy the feed server would refuse, next to a good feed.
    create_feed(
        &client,
        "broken",
        json!({
            "storage": {"volume": {"claimName": "broken-data"}},
            "ingress": {"host": HOST},
            "trustedPublishers": [{"name": "any-token", "oidc": {
                "issuer": "https://idp.example.com", "claims": {"aud": "anything"}}}]
        }),
    )
    .await;
    create_feed(
        &client,
        "publish",
        json!({
            "storage": {"volume": {"claimName": "publish-data"}},
            "ingress": {"host": HOST},
            "trustedPublishers": [{"name": "ci-pods", "kubernetes": {"serviceAccount": "ci"},
                                   "scopes": ["push"], "packages": ["Contoso.*"]}]
        }),
    )
    .await;
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), NS);
    let broken = eventually("`broken` to be Degraded", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("broken").await.ok()?;
            (f.condition("Degraded")?.status == "True").then_some(f)
        }
    })
    .await;
    let c = broken.condition("Degraded").unwrap();
    assert_eq!(c.reason, "InvalidSpec");
    assert!(
        c.message.starts_with(
            "spec.trustedPublishers[any-token]: claim `aud` is checked by the server itself"
        ),
        "{}",
        c.message
    );
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    eventually("a Warning event naming the policy", WAIT, || {
        let events = events.clone();
        async move {
            let evs = events.list(&ListParams::default()).await.ok()?.items;
            evs.iter()
                .any(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
                        && e.note.as_deref().is_some_and(|n| n.contains("any-token"))
                })
                .then_some(())
        }
    })
    .await;

    let feed = eventually("`publish` to be provisioned", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("publish").await.ok()?;
            (f.status.as_ref()?.observed_generation == f.metadata.generation
                && f.condition("Degraded")?.status == "False")
                .then_some(f)
        }
    })
    .await;
    let source = feed.status.as_ref().unwrap().url.clone().unwrap();
    let audience = source.strip_suffix("/index.json").unwrap().to_owned();
    assert_eq!(audience, format!("http://{HOST}/{NS}/publish"));

    // What the operator wrote: the cluster's issuer, and the cluster's keys as served.
    let config_map = Api::<ConfigMap>::namespaced(client.clone(), NS)
        .get("publish-config")
        .await
        .unwrap();
    let data = config_map.data.clone().unwrap();
    let written: Value = serde_json::from_str(&data["cluster-jwks.json"]).unwrap();
    assert_eq!(written, served_keys(&client).await);
    let file = nuget_feed_config::FileConfig::parse(&data["config.yaml"]).unwrap();
    let policy = &file.trusted_publishers[0];
    assert_eq!(policy.issuer, "https://kubernetes.default.svc");
    assert_eq!(policy.audience.as_deref(), Some(audience.as_str()));

    // The feed server, started from the live objects as the kubelet would start its pod.
    let live = live_objects(&client, "publish").await;
    let pod = tokio::task::block_in_place(|| {
        FeedPod::start(
            &workspace_bin("nuget-feed-server"),
            "publish",
            &live,
            &[],
            &[],
        )
    });
    let ingress = live.iter().find(|d| d["kind"] == "Ingress").unwrap();
    let Some(nginx) =
        tokio::task::block_in_place(|| Nginx::for_ingress_or_skip(ingress, &[pod.port]))
    else {
        return;
    };

    // The ServiceAccount's token for the feed's audience pushes with NuGet.exe: 201.
    let token = request_token(&client, "ci", &audience, 600).await;
    let nupkg =
        tokio::task::block_in_place(|| nuget.pack_with_payload("Contoso.Lib", "1.0.0", 1024));
    nuget.set_http_proxy(Some(nginx.ports[0]));
    let pushed = tokio::task::block_in_place(|| nuget.push(&nupkg, &source, &token));
    assert_success(&pushed, "NuGet.exe push with a ServiceAccount token");
    let base = format!("http://127.0.0.1:{}/{NS}/publish", pod.port);
    let versions = get(&format!("{base}/flatcontainer/contoso.lib/index.json"));
    assert_eq!(versions.status, 200, "{}", versions.text());
    assert!(versions.text().contains("1.0.0"), "{}", versions.text());

    // Refused, and nothing stored: another ServiceAccount, another audience, an expired
    // token, an id outside the policy's packages.
    let other_sa = request_token(&client, "other", &audience, 600).await;
    let other_audience = request_token(&client, "ci", "https://other.example.com/feed", 600).await;
    let expired = expire(&cluster, &token);
    let package = PackageBuilder::new("Contoso.Refused", "1.0.0").build();
    let stored_before = stored(&pod.root.path().join("data"));
    for (what, token, status) in [
        ("another ServiceAccount", &other_sa, 403),
        ("another audience", &other_audience, 401),
        ("an expired token", &expired, 401),
    ] {
        let r = push(&base, token, &package);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert!(
            !r.text().contains(token.as_str()),
            "{what}: the token is echoed"
        );
    }
    let outside = PackageBuilder::new("Fabrikam.Lib", "1.0.0").build();
    let r = push(&base, &token, &outside);
    assert_eq!(r.status, 403, "an id outside the policy: {}", r.text());
    assert_eq!(
        stored(&pod.root.path().join("data")),
        stored_before,
        "a refused push stored something"
    );
    for id in ["contoso.refused", "fabrikam.lib"] {
        let r = get(&format!("{base}/flatcontainer/{id}/index.json"));
        assert_eq!(r.status, 404, "{id}: {}", r.text());
    }

    // The cluster rotates its signing key. A token signed with the new key is refused until
    // the operator writes the new key set into the ConfigMap (it reads the cluster's keys
    // again every minute) and the kubelet updates the pod's volume; then it pushes. A token
    // of the old key, which the cluster still accepts, still pushes too.
    cluster.rotate_service_account_key().await;
    let rotated = request_token(&client, "ci", &audience, 600).await;
    let header = |token: &str| token.split('.').next().unwrap().to_owned();
    assert_ne!(
        header(&rotated),
        header(&token),
        "the new token names the new key"
    );
    let second = PackageBuilder::new("Contoso.Lib", "2.0.0").build();
    let r = push(&base, &rotated, &second);
    assert_eq!(
        r.status,
        401,
        "a key the feed has not been given: {}",
        r.text()
    );
    let served = served_keys(&client).await;
    assert_eq!(served["keys"].as_array().unwrap().len(), 2, "{served}");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    eventually(
        "the operator to write the rotated keys",
        CLUSTER_KEYS_WAIT,
        || {
            let (config_maps, served) = (config_maps.clone(), served.clone());
            async move {
                let data = config_maps.get("publish-config").await.ok()?.data?;
                let written: Value = serde_json::from_str(&data["cluster-jwks.json"]).ok()?;
                (written == served).then_some(())
            }
        },
    )
    .await;
    pod.update_volumes(&live_objects(&client, "publish").await);
    let r = push(&base, &rotated, &second);
    assert_eq!(r.status, 201, "a token of the rotated key: {}", r.text());
    let third = PackageBuilder::new("Contoso.Lib", "2.0.1").build();
    let r = push(&base, &token, &third);
    assert_eq!(r.status, 201, "a token of the old key: {}", r.text());
    let versions = get(&format!("{base}/flatcontainer/contoso.lib/index.json"));
    assert!(versions.text().contains("2.0.1"), "{}", versions.text());

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), operator)
        .await
        .expect("the operator stops")
        .unwrap()
        .unwrap();
}

async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    // A plain create: 1.20 refuses the CRD's x-kubernetes-validations in a server-side apply.
    crds.create(&PostParams::default(), &NuGetFeed::crd())
        .await
        .unwrap();
    eventually("the CRD to be established", WAIT, || {
        let crds = crds.clone();
        async move {
            let c = crds.get("nugetfeeds.nuget-operator.io").await.ok()?;
            c.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

async fn create_feed(client: &Client, name: &str, spec: Value) {
    let feed: NuGetFeed = serde_json::from_value(json!({
        "apiVersion": "nuget-operator.io/v1alpha1",
        "kind": "NuGetFeed",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }))
    .unwrap();
    Api::<NuGetFeed>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &feed)
        .await
        .unwrap();
}

/// The feed's Deployment, ConfigMap, Secrets and Ingress as they are in the cluster.
async fn live_objects(client: &Client, name: &str) -> Vec<Value> {
    let mut docs = vec![
        serde_json::to_value(
            Api::<Deployment>::namespaced(client.clone(), NS)
                .get(name)
                .await
                .unwrap(),
        )
        .unwrap(),
        serde_json::to_value(
            Api::<ConfigMap>::namespaced(client.clone(), NS)
                .get(&format!("{name}-config"))
                .await
                .unwrap(),
        )
        .unwrap(),
        serde_json::to_value(
            Api::<Ingress>::namespaced(client.clone(), NS)
                .get(name)
                .await
                .unwrap(),
        )
        .unwrap(),
    ];
    for secret in Api::<Secret>::namespaced(client.clone(), NS)
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={name}")))
        .await
        .unwrap()
    {
        docs.push(serde_json::to_value(secret).unwrap());
    }
    docs
}

/// The cluster's ServiceAccount keys as the apiserver serves them.
async fn served_keys(client: &Client) -> Value {
    let text = client
        .request_text(
            http::Request::get("/openid/v1/jwks")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A bound token of ServiceAccount `name` for `audience` (TokenRequest, as the kubelet asks for
/// a projected token).
async fn request_token(client: &Client, name: &str, audience: &str, seconds: i64) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_owned()],
            expiration_seconds: Some(seconds),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), NS)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
}

/// `token` with `iat`/`nbf` two hours and `exp` one hour in the past, signed again with the
/// cluster's own ServiceAccount key (RS256, as the apiserver signs): a genuine token of the
/// cluster that has expired.
fn expire(cluster: &TestCluster, token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let header = parts[0];
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    claims["iat"] = json!(now - 7200);
    claims["nbf"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    let signing_input = format!(
        "{header}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    let signature = openssl_sign(&cluster.dir().join("sa.key"), signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An RSA-SHA256 signature by the key in `key` (`openssl dgst`, as envtest makes its keys).
fn openssl_sign(key: &Path, data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst -sign failed");
    out.stdout
}

/// A push as `nuget push` sends it (multipart PUT), with `token` as the API key.
fn push(base: &str, token: &str, nupkg: &[u8]) -> HttpResponse {
    push_package_with(&format!("{base}/package/"), token, &[("Host", HOST)], nupkg).unwrap()
}

fn get(url: &str) -> HttpResponse {
    http_request("GET", url, &[("Host", HOST)], b"", Duration::from_secs(10)).unwrap()
}

/// Every file under `dir`, relative, sorted, but the download counts (which a replica writes
/// on its own schedule).
fn stored(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                if !relative.starts_with("downloads/") {
                    out.push(relative);
                }
            }
        }
    }
    out.sort();
    out
}
