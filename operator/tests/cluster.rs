//! The operator against a real API server (see `nuget_test_support::envtest`): it provisions a feed's children,
//! reports status and events, restores a deleted child, follows spec edits, rotates one key,
//! refuses invalid specs with a condition, and in the steady state writes nothing.
//!
//! On the envtest control plane (kube-apiserver 1.20 without controllers) Deployments never
//! get status, so the feed stays `Ready=False/DeploymentNotReady`; everything else is real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

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
use nuget_test_support::wait::eventually;
use serde_json::json;

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
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "feed-s3"},
                "stringData": {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    // The operator, in process, with leader election on a Lease in the test namespace.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        settings: Settings::default(),
        watch_namespaces: vec![ns.clone()],
        http_addr: "127.0.0.1:0".parse().unwrap(),
        leader_election: true,
        lease_name: "nuget-operator-test".into(),
        lease_namespace: ns.clone(),
        lease_duration_secs: 15,
        identity: "test-operator".into(),
        concurrency: 2,
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
        auth_file.contains(&nuget_operator::keys::sha256_hex(&key)) && !auth_file.contains(&key)
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
                .contains(&nuget_operator::keys::sha256_hex(&rotated))
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
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), operator)
        .await
        .expect("the operator stops")
        .unwrap()
        .unwrap();

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
