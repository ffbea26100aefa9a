//! The operator against a real API server (see `nuget_test_support::envtest`): it provisions a feed's children,
//! reports status and events, restores a deleted child, follows spec edits, rotates one key,
//! refuses invalid specs with a condition, and in the steady state writes nothing. A second
//! scenario (issue 17) keeps feeds off each other's storage across namespaces, purges only
//! what is the feed's own (on moto, the S3 emulator), and shows a failing apply on the feed.
//!
//! On the envtest control plane (kube-apiserver 1.20 without controllers) Deployments never
//! get status, so the feed stays `Ready=False/DeploymentNotReady`; everything else is real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, CustomResourceExt, ResourceExt};
use nuget_operator::crd::NuGetFeed;
use nuget_operator::run::{self, Options};
use nuget_operator::settings::Settings;
use nuget_test_support::envtest as support;
use nuget_test_support::moto::Moto;
use nuget_test_support::wait::eventually;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = NuGetFeed::crd();
    // Server-side apply on apiservers before 1.25 refuses the CRD's x-kubernetes-validations
    // (unknown to their typed schema); a plain create drops them, as `kubectl create` does.
    match crds.get_opt(&crd.name_any()).await.unwrap() {
        None => {
            crds.create(&PostParams::default(), &crd).await.unwrap();
        }
        Some(old) => {
            let mut crd = crd.clone();
            crd.metadata.resource_version = old.resource_version();
            crds.replace(&crd.name_any(), &PostParams::default(), &crd)
                .await
                .unwrap();
        }
    }
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

fn condition(feed: &NuGetFeed, type_: &str) -> Option<(String, String, Option<i64>)> {
    feed.condition(type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.observed_generation))
}

/// Resource versions of the feed and all of its children (and the event count): equal
/// snapshots mean nobody wrote.
async fn snapshot(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let sel = ListParams::default().labels("app.kubernetes.io/managed-by=nuget-operator");
    macro_rules! kind {
        ($t:ty) => {
            for o in Api::<$t>::namespaced(client.clone(), ns)
                .list(&sel)
                .await
                .unwrap()
            {
                out.insert(
                    format!("{}/{}", stringify!($t), o.name_any()),
                    o.resource_version().unwrap(),
                );
            }
        };
    }
    kind!(ServiceAccount);
    kind!(Secret);
    kind!(ConfigMap);
    kind!(Deployment);
    kind!(Service);
    kind!(Ingress);
    for f in Api::<NuGetFeed>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        out.insert(
            format!("NuGetFeed/{}", f.name_any()),
            f.resource_version().unwrap(),
        );
    }
    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    out.insert("events".into(), events.items.len().to_string());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_provisions_and_maintains_a_feed() {
    let Some(cluster) = support::start().await else {
        return;
    };
    let client = cluster.client.clone();
    install_crd(&client).await;

    let ns = format!("nf-test-{}", &nuget_operator::keys::random_secret()[..8]);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    create_namespace(&client, &ns, json!({})).await;
    create_credentials(&client, &ns, "feed-s3").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);

    // The operator, in process, with leader election on a Lease in the test namespace.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        leader_election: true,
        lease_name: "nuget-operator-test".into(),
        ..options(&[&ns])
    };
    let operator = tokio::spawn(run::run(client.clone(), options, async {
        let _ = stop_rx.await;
    }));

    // The example manifest.
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), &ns);
    let example: NuGetFeed = serde_yaml_ng::from_str(&format!(
        "apiVersion: nuget-operator.io/v1alpha1\nkind: NuGetFeed\nmetadata: {{name: main, namespace: {ns}}}\nspec:\n  storage: {{s3: {{bucket: feeds, region: eu-west-1, credentialsSecret: feed-s3}}}}\n  ingress: {{host: nuget.example.com}}\n"
    ))
    .unwrap();
    feeds
        .create(&PostParams::default(), &example)
        .await
        .unwrap();

    // Children and status.
    let feed = eventually("the feed's status", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("main").await.ok()?;
            (f.status.as_ref()?.observed_generation == Some(1)).then_some(f)
        }
    })
    .await;
    let status = feed.status.clone().unwrap();
    assert_eq!(
        status.url.as_deref(),
        Some(format!("http://nuget.example.com/{ns}/main/index.json").as_str())
    );
    assert_eq!(
        status.web_url.as_deref(),
        Some(format!("http://nuget.example.com/{ns}/main/").as_str())
    );
    assert_eq!(status.api_key_secret.as_deref(), Some("main-api-keys"));
    assert_eq!(
        condition(&feed, "Degraded"),
        Some(("False".into(), "AsExpected".into(), Some(1)))
    );
    let ready = condition(&feed, "Ready").unwrap();
    if cluster.envtest {
        // No controller-manager: the Deployment never reports ready pods.
        assert_eq!(
            ready,
            ("False".into(), "DeploymentNotReady".into(), Some(1))
        );
        assert_eq!(condition(&feed, "Progressing").unwrap().0, "True");
    }
    let sa = Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .get("main")
        .await
        .unwrap();
    assert_eq!(sa.automount_service_account_token, Some(false));
    let keys = secrets.get("main-api-keys").await.unwrap();
    let key = String::from_utf8(keys.data.as_ref().unwrap()["default"].0.clone()).unwrap();
    assert_eq!(key.len(), 64);
    let auth = secrets.get("main-auth").await.unwrap();
    let auth_file =
        String::from_utf8(auth.data.as_ref().unwrap()["api-keys.yaml"].0.clone()).unwrap();
    assert!(
        auth_file.contains(&nuget_feed_config::KeyHash::of(&key).to_hex())
            && !auth_file.contains(&key)
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let config = cms.get("main-config").await.unwrap().data.unwrap()["config.yaml"].clone();
    assert!(
        config.contains(&format!("s3://feeds/{ns}/main")),
        "{config}"
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let dep = deployments.get("main").await.unwrap();
    assert_eq!(dep.owner_references()[0].uid, feed.uid().unwrap());
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    services.get("main").await.unwrap();
    let ingress = Api::<Ingress>::namespaced(client.clone(), &ns)
        .get("main")
        .await
        .unwrap();
    let rules = ingress.spec.unwrap().rules.unwrap();
    let path = &rules[0].http.as_ref().unwrap().paths[0];
    assert_eq!(path.path.as_deref(), Some(format!("/{ns}/main").as_str()));
    assert_eq!(path.path_type, "Prefix");

    // Events: provisioning and key creation, never the key itself.
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let evs = eventually("Provisioned and ApiKeyCreated events", WAIT, || {
        let events = events.clone();
        async move {
            let evs = events.list(&ListParams::default()).await.ok()?.items;
            let reasons: Vec<String> = evs.iter().filter_map(|e| e.reason.clone()).collect();
            (reasons.iter().any(|r| r == "Provisioned")
                && reasons.iter().any(|r| r == "ApiKeyCreated"))
            .then_some(evs)
        }
    })
    .await;
    for e in &evs {
        assert!(
            !e.note.clone().unwrap_or_default().contains(&key),
            "an event leaks the key"
        );
    }

    // Steady state: poke the feed (a label, so a reconcile runs) and check nothing else moves.
    tokio::time::sleep(Duration::from_secs(2)).await;
    feeds
        .patch(
            "main",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"poke": "1"}}})),
        )
        .await
        .unwrap();
    let before = snapshot(&client, &ns).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = snapshot(&client, &ns).await;
    assert_eq!(before, after, "the steady state wrote something");

    // A deleted child comes back.
    cms.delete("main-config", &DeleteParams::default())
        .await
        .unwrap();
    services
        .delete("main", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "the deleted ConfigMap and Service to come back",
        WAIT,
        || {
            let (cms, services) = (cms.clone(), services.clone());
            async move {
                (
                    cms.get_opt("main-config").await.ok()??,
                    services.get_opt("main").await.ok()??,
                )
                    .into()
            }
        },
    )
    .await;

    // A spec edit reaches the children and rolls the pods.
    let hash = |d: &Deployment| {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()["nuget-operator.io/config-hash"]
            .clone()
    };
    let old_hash = hash(&dep);
    feeds
        .patch(
            "main",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3, "maxPackageSize": "1Mi", "apiKeys": [{"name": "default"}, {"name": "ci", "scopes": ["push"]}]}})),
        )
        .await
        .unwrap();
    let dep = eventually("the Deployment to follow the spec", WAIT, || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("main").await.ok()?;
            (d.spec.as_ref()?.replicas == Some(3)).then_some(d)
        }
    })
    .await;
    assert_ne!(
        hash(&dep),
        old_hash,
        "the pod template must change with the config"
    );
    let config = cms.get("main-config").await.unwrap().data.unwrap()["config.yaml"].clone();
    assert!(config.contains("max_package_bytes: 1048576"), "{config}");
    let keys = secrets.get("main-api-keys").await.unwrap().data.unwrap();
    assert_eq!(
        String::from_utf8(keys["default"].0.clone()).unwrap(),
        key,
        "an existing key was rewritten"
    );
    assert!(keys.contains_key("ci"));

    // Rotation: delete one entry, get a new key for it; the other stays.
    secrets
        .patch(
            "main-api-keys",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([{"op": "remove", "path": "/data/default"}])).unwrap(),
            ),
        )
        .await
        .unwrap();
    let rotated = eventually("a new `default` key", WAIT, || {
        let secrets = secrets.clone();
        async move {
            let d = secrets.get("main-api-keys").await.ok()?.data?;
            d.get("default")
                .map(|v| String::from_utf8(v.0.clone()).unwrap())
        }
    })
    .await;
    assert_ne!(rotated, key);
    eventually("the hashed file to follow the rotation", WAIT, || {
        let secrets = secrets.clone();
        let rotated = rotated.clone();
        async move {
            let d = secrets.get("main-auth").await.ok()?.data?;
            String::from_utf8(d["api-keys.yaml"].0.clone())
                .ok()?
                .contains(&nuget_feed_config::KeyHash::of(&rotated).to_hex())
                .then_some(())
        }
    })
    .await;

    // Invalid specs: a missing Secret and a path clash give Degraded with a reason and a
    // Warning event, and no children.
    let broken: NuGetFeed = serde_yaml_ng::from_str(&format!(
        "apiVersion: nuget-operator.io/v1alpha1\nkind: NuGetFeed\nmetadata: {{name: broken, namespace: {ns}}}\nspec:\n  storage: {{s3: {{bucket: feeds, credentialsSecret: nope}}}}\n"
    ))
    .unwrap();
    feeds.create(&PostParams::default(), &broken).await.unwrap();
    let clash: NuGetFeed = serde_yaml_ng::from_str(&format!(
        "apiVersion: nuget-operator.io/v1alpha1\nkind: NuGetFeed\nmetadata: {{name: clash, namespace: {ns}}}\nspec:\n  storage: {{s3: {{bucket: feeds, credentialsSecret: feed-s3}}}}\n  ingress: {{host: nuget.example.com, pathPrefix: /{ns}/main}}\n"
    ))
    .unwrap();
    feeds.create(&PostParams::default(), &clash).await.unwrap();
    for (name, reason, text) in [
        ("broken", "MissingReference", "`nope` not found"),
        ("clash", "PathPrefixClash", "clashes with NuGetFeed"),
    ] {
        let f = eventually(&format!("{name} to be Degraded"), WAIT, || {
            let feeds = feeds.clone();
            async move {
                let f = feeds.get(name).await.ok()?;
                (condition(&f, "Degraded")?.0 == "True").then_some(f)
            }
        })
        .await;
        let c = f.condition("Degraded").unwrap();
        assert_eq!(c.reason, reason);
        assert!(c.message.contains(text), "{}", c.message);
        assert!(deployments.get_opt(name).await.unwrap().is_none());
        eventually(&format!("a Warning event for {name}"), WAIT, || {
            let events = events.clone();
            async move {
                let evs = events.list(&ListParams::default()).await.ok()?.items;
                evs.iter()
                    .any(|e| {
                        e.type_.as_deref() == Some("Warning")
                            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                            && e.reason.as_deref() == Some(reason)
                    })
                    .then_some(())
            }
        })
        .await;
    }

    // Steady state again, with valid and invalid feeds side by side.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = snapshot(&client, &ns).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        before,
        snapshot(&client, &ns).await,
        "the steady state wrote something"
    );

    // Graceful shutdown releases the Lease.
    stop(stop_tx, operator).await;

    // Deleting the feed (Retain): no finalizer holds it.
    feeds
        .delete("main", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the feed to be gone", WAIT, || {
        let feeds = feeds.clone();
        async move { feeds.get_opt("main").await.ok()?.is_none().then_some(()) }
    })
    .await;
    if !cluster.envtest {
        let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    }
}

// ---- issue 17: storage isolation, purge, failures shown -----------------------------------

/// An object store on `bucket` of moto (path-style, any credentials), to seed and list objects.
fn bucket_store(moto: &Moto, bucket: &str) -> Arc<dyn ObjectStore> {
    let url = url::Url::parse(&format!("s3://{bucket}")).unwrap();
    Arc::from(
        object_store::parse_url_opts(&url, moto.storage_options())
            .unwrap()
            .0,
    )
}

async fn keys_under(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let prefix = ObjectPath::from(prefix);
    let mut keys: Vec<String> = store
        .list(Some(&prefix))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn create_namespace(client: &Client, name: &str, labels: serde_json::Value) {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap(),
        )
        .await
        .unwrap();
}

/// An S3 credentials Secret `name` (moto takes any credentials).
async fn create_credentials(client: &Client, ns: &str, name: &str) {
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": name},
                "stringData": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
}

/// Stops the operator started with `stop_tx`'s receiver as its shutdown signal, and checks that
/// it stops cleanly in time.
async fn stop(
    stop_tx: tokio::sync::oneshot::Sender<()>,
    operator: tokio::task::JoinHandle<Result<(), run::Error>>,
) {
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), operator)
        .await
        .expect("the operator stops")
        .unwrap()
        .unwrap();
}

/// The operator in process, watching `namespaces`, without leader election.
fn options(namespaces: &[&str]) -> Options {
    Options {
        settings: Settings::default(),
        watch_namespaces: namespaces.iter().map(|ns| (*ns).to_owned()).collect(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: false,
        lease_name: "unused".into(),
        lease_namespace: namespaces[0].to_owned(),
        lease_duration_secs: 15,
        identity: "test-operator".into(),
        concurrency: 2,
    }
}

async fn create_feed(client: &Client, ns: &str, name: &str, spec: serde_json::Value) {
    let feed: NuGetFeed = serde_json::from_value(json!({
        "apiVersion": "nuget-operator.io/v1alpha1",
        "kind": "NuGetFeed",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }))
    .unwrap();
    Api::<NuGetFeed>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &feed)
        .await
        .unwrap();
}

/// Waits until `ns/name` has a `Degraded` condition with `status`, and returns the feed.
async fn degraded(client: &Client, ns: &str, name: &str, status: &str) -> NuGetFeed {
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), ns);
    eventually(&format!("{ns}/{name} Degraded={status}"), WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get(name).await.ok()?;
            (f.condition("Degraded")?.status == status).then_some(f)
        }
    })
    .await
}

/// The Warning events about `ns/name` with `reason`, as their notes.
async fn warnings(client: &Client, ns: &str, name: &str, reason: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        })
        .filter_map(|e| e.note)
        .collect()
}

async fn wait_for_warning(client: &Client, ns: &str, name: &str, reason: &str) -> String {
    eventually(
        &format!("a {reason} Warning for {ns}/{name}"),
        WAIT,
        || async { warnings(client, ns, name, reason).await.into_iter().next() },
    )
    .await
}

async fn wait_gone(client: &Client, ns: &str, name: &str) {
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), ns);
    eventually(&format!("{ns}/{name} to be gone"), WAIT, || {
        let feeds = feeds.clone();
        async move { feeds.get_opt(name).await.ok()?.is_none().then_some(()) }
    })
    .await;
}

/// Issue 13: an upstream's credentials come from the tenant's Secret as a read-only file.
/// Until the Secret exists the feed is Degraded naming the upstream and the Secret, with no
/// Deployment; then the Deployment mounts exactly that key where the config says, and new
/// Secret data rolls the pods (noticed on the next reconcile, as for storage credentials).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_credentials_are_mounted_from_the_tenants_secret() {
    let Some(cluster) = support::start().await else {
        return;
    };
    let client = cluster.client.clone();
    install_crd(&client).await;
    let ns = format!("nfu-{}", &nuget_operator::keys::random_secret()[..8]);
    create_namespace(&client, &ns, json!({})).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(run::run(client.clone(), options(&[&ns]), async {
        let _ = stop_rx.await;
    }));

    create_feed(
        &client,
        &ns,
        "proxy",
        json!({
            "storage": {"volume": {"claimName": "proxy-data"}},
            "localPackages": ["Contoso.*"],
            "upstreams": [
                {"name": "nuget-org", "url": "https://api.nuget.org/v3/index.json"},
                {"name": "private", "url": "https://pkgs.example.com/v3/index.json",
                 "credentials": {"scheme": "Bearer", "secretRef": {"name": "upstream-creds", "key": "token"}}}
            ]
        }),
    )
    .await;
    let feed = degraded(&client, &ns, "proxy", "True").await;
    let c = feed.condition("Degraded").unwrap();
    assert_eq!(c.reason, "MissingReference");
    assert_eq!(
        c.message,
        "upstream `private`: credentials Secret `upstream-creds` not found in the feed's namespace"
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    assert!(deployments.get_opt("proxy").await.unwrap().is_none());

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = |token: &str| -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": "upstream-creds"},
            "stringData": {"token": token, "other": "not for the feed"}
        }))
        .unwrap()
    };
    secrets
        .create(&PostParams::default(), &secret("first"))
        .await
        .unwrap();
    // The tenant's Secret is not watched: a change of the feed (here a label; in production
    // the periodic re-check) makes the operator look again.
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), &ns);
    let poke = |n: &'static str| {
        let feeds = feeds.clone();
        async move {
            feeds
                .patch(
                    "proxy",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"labels": {"poke": n}}})),
                )
                .await
                .unwrap();
        }
    };
    poke("1").await;
    degraded(&client, &ns, "proxy", "False").await;
    let dep = deployments.get("proxy").await.unwrap();
    let pod = serde_json::to_value(&dep.spec.as_ref().unwrap().template.spec).unwrap();
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "upstream-credentials")
        .unwrap();
    assert_eq!(
        volume["projected"]["sources"],
        json!([{"secret": {"name": "upstream-creds", "items": [{"key": "token", "path": "private"}]}}])
    );
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "upstream-credentials")
        .unwrap()
        .clone();
    assert_eq!(mount["readOnly"], json!(true));
    let config = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("proxy-config")
        .await
        .unwrap()
        .data
        .unwrap()["config.yaml"]
        .clone();
    let file = nuget_feed_config::FileConfig::parse(&config).unwrap();
    assert_eq!(
        file.upstreams[1].credentials.as_ref().unwrap().secret_file,
        Some(std::path::Path::new(mount["mountPath"].as_str().unwrap()).join("private"))
    );
    assert!(!config.contains("first"), "the config holds no secret");

    // Rotation: new data in the tenant's Secret rolls the pods.
    let hash = |d: &Deployment| {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()["nuget-operator.io/config-hash"]
            .clone()
    };
    let old_hash = hash(&dep);
    secrets
        .replace("upstream-creds", &PostParams::default(), &{
            let mut s = secret("second");
            s.metadata.resource_version = secrets
                .get("upstream-creds")
                .await
                .unwrap()
                .resource_version();
            s
        })
        .await
        .unwrap();
    poke("2").await;
    eventually(
        "the pod template to follow the rotated Secret",
        WAIT,
        || {
            let deployments = deployments.clone();
            let old_hash = old_hash.clone();
            async move {
                let d = deployments.get("proxy").await.ok()?;
                (hash(&d) != old_hash).then_some(())
            }
        },
    )
    .await;

    stop(stop_tx, operator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_never_touch_each_others_data_and_failures_show() {
    let Some(cluster) = support::start().await else {
        return;
    };
    let client = cluster.client.clone();
    install_crd(&client).await;
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("feeds");
    let bucket = bucket_store(&moto, "feeds");

    // Three namespaces; `a` sorts before `b`, so a tie in creation time goes to `a`'s feeds.
    let run = &nuget_operator::keys::random_secret()[..8];
    let (a, b, c) = (
        format!("nfa-{run}"),
        format!("nfb-{run}"),
        format!("nfc-{run}"),
    );
    create_namespace(&client, &a, json!({})).await;
    create_namespace(&client, &b, json!({})).await;
    create_namespace(&client, &c, json!({"nuget-test/webhook": "fail"})).await;
    for ns in [&a, &b, &c] {
        create_credentials(&client, ns, "s3").await;
    }
    let s3 = |prefix: Option<&str>, credentials: bool| {
        let mut s = json!({"bucket": "feeds", "endpoint": moto.endpoint(), "pathStyle": true, "region": "us-east-1"});
        if let Some(p) = prefix {
            s["prefix"] = json!(p);
        }
        if credentials {
            s["credentialsSecret"] = json!("s3");
        }
        json!({"s3": s})
    };

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = options(&[&a, &b, &c]);
    let operator = tokio::spawn(run::run(client.clone(), options, async {
        let _ = stop_rx.await;
    }));

    // The seniors first: a Purge feed on `shared`, and a default-prefixed Retain feed.
    create_feed(
        &client,
        &a,
        "dup-a",
        json!({"storage": s3(Some("shared"), true), "deletionPolicy": "Purge"}),
    )
    .await;
    create_feed(&client, &a, "victim", json!({"storage": s3(None, true)})).await;
    let dup_a = degraded(&client, &a, "dup-a", "False").await;
    assert_eq!(dup_a.finalizers(), ["nuget-operator.io/purge-data"]);
    degraded(&client, &a, "victim", "False").await;
    for key in [
        "shared/catalog/events/1.json",
        &format!("{a}/victim/catalog/events/1.json"),
    ] {
        bucket
            .put(&ObjectPath::from(key), "{}".into())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Equal and nested locations in another namespace are refused, naming the senior feed;
    // nothing of them is applied. A sibling prefix and another bucket are fine.
    create_feed(
        &client,
        &b,
        "dup-b",
        json!({"storage": s3(Some("shared"), true)}),
    )
    .await;
    create_feed(
        &client,
        &b,
        "team",
        json!({"storage": s3(Some(&a), true), "deletionPolicy": "Purge"}),
    )
    .await;
    create_feed(
        &client,
        &b,
        "sibling",
        json!({"storage": s3(Some(&format!("{a}2")), true)}),
    )
    .await;
    for (name, senior) in [
        ("dup-b", format!("{a}/dup-a")),
        ("team", format!("{a}/victim")),
    ] {
        let f = degraded(&client, &b, name, "True").await;
        let cond = f.condition("Degraded").unwrap();
        assert_eq!(cond.reason, "StorageLocationClash");
        assert!(
            cond.message.contains(&format!("NuGetFeed {senior}")),
            "{}",
            cond.message
        );
        assert!(f.finalizers().is_empty(), "an invalid feed got a finalizer");
        assert!(
            Api::<Deployment>::namespaced(client.clone(), &b)
                .get_opt(name)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            Api::<ConfigMap>::namespaced(client.clone(), &b)
                .get_opt(&format!("{name}-config"))
                .await
                .unwrap()
                .is_none()
        );
        let note = wait_for_warning(&client, &b, name, "StorageLocationClash").await;
        assert!(note.contains(&senior), "{note}");
    }
    degraded(&client, &b, "sibling", "False").await;
    // The seniors were not flipped by the newcomers.
    assert_eq!(
        degraded(&client, &a, "dup-a", "False")
            .await
            .condition("Degraded")
            .unwrap()
            .reason,
        "AsExpected"
    );
    assert_eq!(
        degraded(&client, &a, "victim", "False")
            .await
            .condition("Degraded")
            .unwrap()
            .reason,
        "AsExpected"
    );

    // An invalid Purge feed never gets the finalizer, so it can be deleted without a hand edit.
    create_feed(
        &client,
        &a,
        "bad",
        json!({"storage": s3(Some("bad"), true), "deletionPolicy": "Purge", "image": "two words"}),
    )
    .await;
    let bad = degraded(&client, &a, "bad", "True").await;
    assert_eq!(bad.condition("Degraded").unwrap().reason, "InvalidSpec");
    assert!(bad.finalizers().is_empty());
    let feeds_a: Api<NuGetFeed> = Api::namespaced(client.clone(), &a);
    feeds_a
        .delete("bad", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&client, &a, "bad").await;

    // A purge that would reach another live feed is refused: the finalizer stays, the feed
    // says why, and nothing is deleted.
    feeds_a
        .delete("dup-a", &DeleteParams::default())
        .await
        .unwrap();
    let note = wait_for_warning(&client, &a, "dup-a", "PurgeRefused").await;
    assert!(note.contains(&format!("NuGetFeed {b}/dup-b")), "{note}");
    let dup_a = degraded(&client, &a, "dup-a", "True").await;
    assert_eq!(dup_a.condition("Degraded").unwrap().reason, "PurgeRefused");
    assert_eq!(dup_a.finalizers(), ["nuget-operator.io/purge-data"]);
    assert_eq!(
        keys_under(&bucket, "shared").await,
        ["shared/catalog/events/1.json"]
    );
    // Once the other feed is gone the purge runs (a poke makes it look again at once), and
    // deletes only its own prefix.
    Api::<NuGetFeed>::namespaced(client.clone(), &b)
        .delete("dup-b", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone(&client, &b, "dup-b").await;
    feeds_a
        .patch(
            "dup-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"poke": "1"}}})),
        )
        .await
        .unwrap();
    wait_gone(&client, &a, "dup-a").await;
    assert!(keys_under(&bucket, "shared").await.is_empty());
    assert_eq!(
        keys_under(&bucket, &format!("{a}/victim")).await,
        [format!("{a}/victim/catalog/events/1.json")]
    );

    // Purge without a credentials Secret (workload identity) is refused, never run with the
    // operator's own identity; removing the finalizer keeps the data and lets the feed go.
    create_feed(
        &client,
        &a,
        "ambient",
        json!({"storage": s3(Some("ambient"), false), "deletionPolicy": "Purge"}),
    )
    .await;
    let ambient = degraded(&client, &a, "ambient", "False").await;
    assert_eq!(ambient.finalizers(), ["nuget-operator.io/purge-data"]);
    bucket
        .put(
            &ObjectPath::from("ambient/catalog/events/1.json"),
            "{}".into(),
        )
        .await
        .unwrap();
    feeds_a
        .delete("ambient", &DeleteParams::default())
        .await
        .unwrap();
    let note = wait_for_warning(&client, &a, "ambient", "PurgeRefused").await;
    assert!(
        note.contains("names no storage credentials Secret"),
        "{note}"
    );
    assert!(
        note.contains("remove the finalizer nuget-operator.io/purge-data"),
        "{note}"
    );
    assert_eq!(
        keys_under(&bucket, "ambient").await,
        ["ambient/catalog/events/1.json"]
    );
    feeds_a
        .patch(
            "ambient",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    wait_gone(&client, &a, "ambient").await;
    assert_eq!(
        keys_under(&bucket, "ambient").await,
        ["ambient/catalog/events/1.json"]
    );

    // An apply the apiserver fails with a 5xx (an admission webhook it cannot reach) shows as
    // Degraded with the apiserver's message, and as one Warning event however often it retries.
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let webhook_name = format!("nf-broken-{run}");
    webhooks
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": webhook_name},
                "webhooks": [{
                    "name": "broken.nuget-test.io",
                    "clientConfig": {"url": "https://127.0.0.1:1/validate"},
                    "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}],
                    "namespaceSelector": {"matchLabels": {"nuget-test/webhook": "fail"}},
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 2
                }]
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    create_feed(&client, &c, "walled", json!({"storage": s3(None, true)})).await;
    let walled = degraded(&client, &c, "walled", "True").await;
    let cond = walled.condition("Degraded").unwrap();
    assert_eq!(cond.reason, "ApplyFailed");
    assert!(
        cond.message.contains("failed calling webhook"),
        "{}",
        cond.message
    );
    wait_for_warning(&client, &c, "walled", "ApplyFailed").await;
    // Let it retry (2 s, 4 s, 8 s backoff), then count.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        warnings(&client, &c, "walled", "ApplyFailed").await.len(),
        1
    );
    webhooks
        .delete(&webhook_name, &DeleteParams::default())
        .await
        .unwrap();

    stop(stop_tx, operator).await;
}

/// The operator's requests in the audit log after the first `from` of them.
fn requests_since(cluster: &support::TestCluster, from: usize) -> Vec<Value> {
    let all = cluster.audit_events(support::OPERATOR_USER);
    all.into_iter().skip(from).collect()
}

/// `verb resource[/subresource] name` of an audit event.
fn describe(e: &Value) -> String {
    let o = &e["objectRef"];
    let resource = match o["subresource"].as_str() {
        Some(sub) => format!("{}/{sub}", o["resource"].as_str().unwrap_or("")),
        None => o["resource"].as_str().unwrap_or("").to_owned(),
    };
    format!(
        "{} {resource} {}",
        e["verb"].as_str().unwrap_or(""),
        o["name"].as_str().unwrap_or("")
    )
}

fn is_write(e: &Value) -> bool {
    matches!(
        e["verb"].as_str(),
        Some("create" | "update" | "patch" | "delete" | "deletecollection")
    )
}

fn is_read(e: &Value) -> bool {
    matches!(e["verb"].as_str(), Some("get" | "list"))
}

/// Issue 17 on a real apiserver, counted in its audit log (envtest only):
/// - a resource quantity Kubernetes would refuse is shown in the status (Degraded/InvalidSpec
///   naming the field and the value) and nothing is applied;
/// - quantities the apiserver rewrites (`0.5`, `1024Mi`, `2000m`) compare canonically, so a
///   forced reconcile makes no write at all (no apply, no status patch, no event);
/// - a readiness change costs one reconcile, which reads only the tenant's credentials Secret
///   (children come from the watches' caches; the status write does not trigger another);
/// - deleting a feed with a finalizer still reconciles (the purge path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_makes_no_writes_and_few_reads() {
    let Some(cluster) = support::start().await else {
        return;
    };
    if !cluster.envtest {
        eprintln!("no audit log on a $KUBECONFIG cluster: skipping the request counts");
        return;
    }
    let client = cluster.client.clone();
    install_crd(&client).await;
    let ns = format!("nf-steady-{}", &nuget_operator::keys::random_secret()[..8]);
    create_namespace(&client, &ns, json!({})).await;
    create_credentials(&client, &ns, "feed-s3").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // No Lease: its renewals would be the only requests in the counts below.
    let options = options(&[&ns]);
    let operator = tokio::spawn(run::run(cluster.operator_client.clone(), options, async {
        let _ = stop_rx.await;
    }));
    let feeds: Api<NuGetFeed> = Api::namespaced(client.clone(), &ns);
    let create = |name: &str, spec: &str| {
        let feed: NuGetFeed = serde_yaml_ng::from_str(&format!(
            "apiVersion: nuget-operator.io/v1alpha1\nkind: NuGetFeed\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  storage: {{s3: {{bucket: feeds, credentialsSecret: feed-s3}}}}\n{spec}"
        ))
        .unwrap();
        let feeds = feeds.clone();
        async move { feeds.create(&PostParams::default(), &feed).await.unwrap() }
    };

    // A quantity the apiserver would refuse: Degraded, naming field and value; nothing applied.
    create("bad", "  resources: {requests: {cpu: lots}}\n").await;
    let bad = eventually("`bad` to be Degraded", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("bad").await.ok()?;
            (condition(&f, "Degraded")?.0 == "True").then_some(f)
        }
    })
    .await;
    let degraded = bad.condition("Degraded").unwrap();
    assert_eq!(degraded.reason, "InvalidSpec");
    assert!(
        degraded
            .message
            .contains("spec.resources.requests.cpu `lots` is not a quantity"),
        "{}",
        degraded.message
    );
    let applied_to_bad: Vec<String> = requests_since(&cluster, 0)
        .iter()
        .filter(|e| is_write(e) && e["objectRef"]["resource"] != "events")
        .filter(|e| e["objectRef"]["resource"] != "nugetfeeds")
        .map(describe)
        .collect();
    assert_eq!(
        applied_to_bad,
        Vec::<String>::new(),
        "a child of `bad` was written"
    );

    // Quantities the apiserver rewrites.
    create(
        "canon",
        "  resources: {requests: {cpu: \"0.5\", memory: 1024Mi}, limits: {cpu: 2000m}}\n",
    )
    .await;
    eventually("`canon` to be provisioned", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("canon").await.ok()?;
            (f.status.as_ref()?.observed_generation == Some(1)).then_some(())
        }
    })
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let dep = deployments.get("canon").await.unwrap();
    let resources = serde_json::to_value(
        &dep.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .resources,
    )
    .unwrap();
    assert_eq!(
        resources,
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2"}})
    );
    // Let the first reconciles settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // A forced reconcile (an annotation, which triggers one): it reads the credentials Secret
    // (proof that it ran) and writes nothing.
    let mark = requests_since(&cluster, 0).len();
    feeds
        .patch(
            "canon",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"poke": "1"}}})),
        )
        .await
        .unwrap();
    eventually("the forced reconcile", WAIT, || {
        let seen = requests_since(&cluster, mark)
            .iter()
            .any(|e| describe(e) == "get secrets feed-s3");
        async move { seen.then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes: Vec<String> = requests_since(&cluster, mark)
        .iter()
        .filter(|e| is_write(e))
        .map(describe)
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "the steady state wrote");

    // A readiness change (what a Deployment's status does all day): one reconcile, one status
    // write, and no reads but the credentials Secret. Before the caches this was 7 LISTs and
    // 2 GETs, twice (the status write triggered a second reconcile).
    let mark = requests_since(&cluster, 0).len();
    let generation = dep.metadata.generation;
    deployments
        .patch_status(
            "canon",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "observedGeneration": generation, "replicas": 1, "updatedReplicas": 1,
                "readyReplicas": 1, "availableReplicas": 1
            }})),
        )
        .await
        .unwrap();
    eventually("`canon` to be Ready", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("canon").await.ok()?;
            (condition(&f, "Ready")?.0 == "True").then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let since = requests_since(&cluster, mark);
    let reads: Vec<String> = since.iter().filter(|e| is_read(e)).map(describe).collect();
    let writes: Vec<String> = since.iter().filter(|e| is_write(e)).map(describe).collect();
    assert!(
        reads.len() <= 1,
        "reads for one readiness change: {reads:?}"
    );
    assert!(
        !reads.iter().any(|r| r.starts_with("list")),
        "a reconcile listed children instead of reading its caches: {reads:?}"
    );
    assert_eq!(writes, vec!["patch nugetfeeds/status canon".to_owned()]);

    // Children carry blockOwnerDeletion, so foreground deletion waits for them.
    let owner = &dep.owner_references()[0];
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );

    // Deleting a feed with the purge finalizer still reconciles: with storage it cannot reach
    // (the credentials Secret is gone) the purge refuses with a Warning event, and the
    // finalizer stays so no data is dropped silently.
    create("purged", "  deletionPolicy: Purge\n").await;
    eventually("the purge finalizer", WAIT, || {
        let feeds = feeds.clone();
        async move {
            let f = feeds.get("purged").await.ok()?;
            (!f.finalizers().is_empty()).then_some(())
        }
    })
    .await;
    secrets
        .delete("feed-s3", &DeleteParams::default())
        .await
        .unwrap();
    feeds
        .delete("purged", &DeleteParams::default())
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    eventually("a Warning event from the purge", WAIT, || {
        let events = events.clone();
        async move {
            let evs = events.list(&ListParams::default()).await.ok()?.items;
            evs.iter()
                .any(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("purged")
                        && e.note
                            .as_deref()
                            .is_some_and(|n| n.contains("Cannot purge"))
                })
                .then_some(())
        }
    })
    .await;
    assert!(
        !feeds.get("purged").await.unwrap().finalizers().is_empty(),
        "the finalizer was dropped without a purge"
    );

    stop(stop_tx, operator).await;
}
