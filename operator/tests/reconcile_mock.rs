//! Reconcile scenarios against kube's mock API server pattern: the client talks to a
//! `tower_test` mock service, and a small in-memory apiserver answers (GET, LIST by label,
//! server-side apply, merge patch, create, delete, status) and records every request, so each
//! test can assert the exact calls made: first reconcile, steady state (no writes), invalid
//! spec, deletion, conflict and server errors. It also stands in for the controller's watches:
//! after each request it refills the child caches the reconcile reads (unless a test freezes
//! them, to play a cache that lags).
//!
//! It checks call sequences and bodies, not apiserver semantics; `cluster.rs` covers those.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use nuget_operator::crd::NuGetFeed;
use nuget_operator::metrics::Metrics;
use nuget_operator::reconcile::cache::{self, Child, Writers};
use nuget_operator::reconcile::{self, Context};
use nuget_operator::settings::Settings;
use serde_json::{Value, json};

type Fault = Box<dyn Fn(&str, &str) -> Option<u16> + Send + Sync>;

#[derive(Default)]
struct State {
    /// Path without query (e.g. `/api/v1/namespaces/team-a/secrets/x`) to object.
    objects: BTreeMap<String, Value>,
    /// `METHOD path?query` of every request.
    log: Vec<String>,
    rv: u64,
}

#[derive(Clone)]
struct FakeApiServer {
    state: Arc<Mutex<State>>,
    fault: Arc<Mutex<Option<Fault>>>,
    /// The writing halves of the reconcile's child caches; `frozen` stops refilling them.
    caches: Arc<Mutex<Option<Writers>>>,
    frozen: Arc<AtomicBool>,
}

impl FakeApiServer {
    fn start() -> (Client, FakeApiServer) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = FakeApiServer {
            state: Arc::default(),
            fault: Arc::default(),
            caches: Arc::default(),
            frozen: Arc::default(),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (status, body) = server.handle(request).await;
                server.refill_caches();
                send.send_response(
                    Response::builder()
                        .status(status)
                        .body(Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap(),
                );
            }
        });
        (Client::new(service, "default"), fake)
    }

    fn put(&self, path: &str, obj: Value) {
        let mut s = self.state.lock().unwrap();
        s.rv += 1;
        let mut obj = obj;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        s.objects.insert(path.to_owned(), obj);
    }

    /// What the watches would have delivered by now: every stored child, in its cache.
    fn refill_caches(&self) {
        if self.frozen.load(Ordering::SeqCst) {
            return;
        }
        let mut caches = self.caches.lock().unwrap();
        let Some(w) = caches.as_mut() else {
            return;
        };
        let s = self.state.lock().unwrap();
        fill(
            &mut w.service_accounts,
            &s,
            "/api/v1/namespaces/team-a/serviceaccounts/",
        );
        fill(&mut w.secrets, &s, "/api/v1/namespaces/team-a/secrets/");
        fill(
            &mut w.config_maps,
            &s,
            "/api/v1/namespaces/team-a/configmaps/",
        );
        fill(&mut w.services, &s, "/api/v1/namespaces/team-a/services/");
        fill(
            &mut w.deployments,
            &s,
            "/apis/apps/v1/namespaces/team-a/deployments/",
        );
        fill(
            &mut w.ingresses,
            &s,
            "/apis/networking.k8s.io/v1/namespaces/team-a/ingresses/",
        );
        fill(
            &mut w.network_policies,
            &s,
            "/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies/",
        );
    }

    fn get(&self, path: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(path).cloned()
    }

    fn writes(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|l| !l.starts_with("GET "))
            .cloned()
            .collect()
    }

    fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    fn fail_on(&self, f: impl Fn(&str, &str) -> Option<u16> + Send + Sync + 'static) {
        *self.fault.lock().unwrap() = Some(Box::new(f));
    }

    async fn handle(&self, request: Request<Body>) -> (u16, Value) {
        let method = request.method().to_string();
        let uri = request.uri().clone();
        let path = uri.path().to_owned();
        let query = uri.query().unwrap_or("").to_owned();
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .or_else(|_| serde_yaml_ng::from_slice(&bytes))
                .unwrap()
        };
        self.state
            .lock()
            .unwrap()
            .log
            .push(format!("{method} {path}?{query}"));
        if let Some(code) = self
            .fault
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|f| f(&method, &path))
        {
            return (code, status(code, "injected"));
        }
        match method.as_str() {
            "GET" if query.contains("labelSelector") || !self.is_object_path(&path) => {
                let s = self.state.lock().unwrap();
                let items: Vec<Value> = s
                    .objects
                    .iter()
                    .filter(|(p, _)| p.rsplit_once('/').map(|(dir, _)| dir) == Some(path.as_str()))
                    .map(|(_, o)| o.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
                )
            }
            "GET" => match self.get(&path) {
                Some(o) => (200, o),
                None => (404, status(404, "not found")),
            },
            "POST" => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or("event")
                    .to_owned();
                let p = format!("{path}/{name}");
                if self.get(&p).is_some() && !path.ends_with("/events") {
                    return (409, status(409, "already exists"));
                }
                self.put(&p, body);
                (201, self.get(&p).unwrap())
            }
            "PATCH" if path.ends_with("/status") => {
                let p = path.trim_end_matches("/status").to_owned();
                let Some(mut obj) = self.get(&p) else {
                    return (404, status(404, "not found"));
                };
                obj["status"] = body["status"].clone();
                self.put(&p, obj);
                (200, self.get(&p).unwrap())
            }
            "PATCH" if content_type.contains("apply-patch") => {
                self.put(&path, body);
                (200, self.get(&path).unwrap())
            }
            "PATCH" => {
                let Some(mut obj) = self.get(&path) else {
                    return (404, status(404, "not found"));
                };
                if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
                    && obj["metadata"]["resourceVersion"].as_str() != Some(rv)
                {
                    return (409, status(409, "conflict"));
                }
                merge(&mut obj, &body);
                self.put(&path, obj);
                (200, self.get(&path).unwrap())
            }
            "DELETE" => match self.state.lock().unwrap().objects.remove(&path) {
                Some(o) => (200, o),
                None => (404, status(404, "not found")),
            },
            _ => (405, status(405, "unsupported")),
        }
    }

    fn is_object_path(&self, path: &str) -> bool {
        // .../namespaces/{ns}/{plural}/{name}
        let parts: Vec<&str> = path.split('/').collect();
        parts
            .iter()
            .position(|p| *p == "namespaces")
            .is_some_and(|i| parts.len() == i + 4)
    }
}

/// Replaces the content of one cache with the stored objects under `dir`, as a watch's
/// (re-)list does.
fn fill<K: Child>(writer: &mut Writer<K>, state: &State, dir: &str) {
    writer.apply_watcher_event(&watcher::Event::Init);
    for (path, obj) in &state.objects {
        if path.starts_with(dir) {
            let obj: K = serde_json::from_value(obj.clone()).unwrap();
            writer.apply_watcher_event(&watcher::Event::InitApply(obj));
        }
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn status(code: u16, message: &str) -> Value {
    let reason = match code {
        404 => "NotFound",
        409 => "Conflict",
        500 => "InternalError",
        _ => "BadRequest",
    };
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code})
}

const FEED_PATH: &str = "/apis/nuget-operator.io/v1alpha1/namespaces/team-a/nugetfeeds/main";

fn example() -> NuGetFeed {
    serde_yaml_ng::from_str(
        r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a, uid: 11111111-2222-3333-4444-555555555555, generation: 1, resourceVersion: "1"}
spec:
  storage: {s3: {bucket: feeds, region: eu-west-1, credentialsSecret: feed-s3}}
  ingress: {host: nuget.example.com}
"#,
    )
    .unwrap()
}

fn setup(feed: &NuGetFeed, with_credentials: bool) -> (Arc<Context>, FakeApiServer, Arc<Metrics>) {
    let (client, fake) = FakeApiServer::start();
    fake.put(FEED_PATH, serde_json::to_value(feed).unwrap());
    if with_credentials {
        fake.put(
            "/api/v1/namespaces/team-a/secrets/feed-s3",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "feed-s3", "namespace": "team-a"},
                   "data": {"AWS_ACCESS_KEY_ID": "QQ==", "AWS_SECRET_ACCESS_KEY": "Qg=="}}),
        );
    }
    let reporter = Reporter {
        controller: "nuget-operator".into(),
        instance: None,
    };
    let metrics = Arc::new(Metrics::default());
    let (stores, writers) = cache::stores(Some("team-a".into()), false);
    *fake.caches.lock().unwrap() = Some(writers);
    fake.refill_caches();
    let n = Arc::new(Mutex::new(0));
    let ctx = Context::new(client, Settings::default(), reporter, metrics.clone()).with_generator(
        move || {
            let mut n = n.lock().unwrap();
            *n += 1;
            format!("{:064x}", *n)
        },
    );
    ctx.children.register(stores);
    (Arc::new(ctx), fake, metrics)
}

fn stored_feed(fake: &FakeApiServer) -> NuGetFeed {
    serde_json::from_value(fake.get(FEED_PATH).unwrap()).unwrap()
}

const SSA: &str = "?&force=true&fieldManager=nuget-operator";

#[tokio::test]
async fn first_reconcile_creates_keys_applies_children_and_writes_status() {
    let feed = example();
    let (ctx, fake, _) = setup(&feed, true);
    let action = reconcile::reconcile(Arc::new(feed), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(reconcile::RESYNC));
    assert_eq!(
        fake.writes(),
        vec![
            "POST /api/v1/namespaces/team-a/secrets?".to_owned(),
            format!("PATCH /api/v1/namespaces/team-a/serviceaccounts/main{SSA}"),
            format!("PATCH /api/v1/namespaces/team-a/secrets/main-auth{SSA}"),
            format!("PATCH /api/v1/namespaces/team-a/configmaps/main-config{SSA}"),
            format!("PATCH /api/v1/namespaces/team-a/services/main{SSA}"),
            format!("PATCH /apis/apps/v1/namespaces/team-a/deployments/main{SSA}"),
            format!("PATCH /apis/networking.k8s.io/v1/namespaces/team-a/ingresses/main{SSA}"),
            "POST /apis/events.k8s.io/v1/namespaces/team-a/events?".to_owned(),
            "POST /apis/events.k8s.io/v1/namespaces/team-a/events?".to_owned(),
            format!("PATCH {FEED_PATH}/status{SSA}"),
        ]
    );
    let status = stored_feed(&fake).status.unwrap();
    assert_eq!(
        status.url.as_deref(),
        Some("http://nuget.example.com/team-a/main/index.json")
    );
    assert_eq!(
        status.web_url.as_deref(),
        Some("http://nuget.example.com/team-a/main/")
    );
    assert_eq!(status.observed_generation, Some(1));
    // The applied Deployment carries exactly what build made (SSA body = the whole manifest).
    let dep = fake
        .get("/apis/apps/v1/namespaces/team-a/deployments/main")
        .unwrap();
    assert_eq!(dep["kind"], "Deployment");
    assert!(dep.get("status").is_none());
}

/// The steady state makes no writes: no apply, no status patch, no event.
#[tokio::test]
async fn steady_state_makes_no_write() {
    let feed = example();
    let (ctx, fake, metrics) = setup(&feed, true);
    reconcile::reconcile(Arc::new(feed), ctx.clone())
        .await
        .unwrap();
    let writes_after_first = metrics.writes.get();
    fake.clear_log();
    reconcile::reconcile(Arc::new(stored_feed(&fake)), ctx)
        .await
        .unwrap();
    assert_eq!(fake.writes(), Vec::<String>::new());
    assert_eq!(metrics.writes.get(), writes_after_first);
}

/// A missing credentials Secret: a Degraded condition and one Warning event, no children,
/// a slow re-check instead of an error (no retry storm); a second pass writes nothing.
#[tokio::test]
async fn invalid_spec_sets_condition_and_warns_once() {
    let feed = example();
    let (ctx, fake, metrics) = setup(&feed, false);
    let action = reconcile::reconcile(Arc::new(feed), ctx.clone())
        .await
        .unwrap();
    assert_eq!(action, Action::requeue(reconcile::RECHECK_INVALID));
    assert_eq!(
        fake.writes(),
        vec![
            format!("PATCH {FEED_PATH}/status{SSA}"),
            "POST /apis/events.k8s.io/v1/namespaces/team-a/events?".to_owned(),
        ]
    );
    let stored = stored_feed(&fake);
    let degraded = stored.condition("Degraded").unwrap();
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "MissingReference")
    );
    let event = fake
        .state
        .lock()
        .unwrap()
        .objects
        .iter()
        .find(|(p, _)| p.contains("/events/"))
        .map(|(_, e)| e.clone())
        .unwrap();
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "MissingReference");
    assert_eq!(
        metrics
            .invalid_specs
            .get_or_create(&nuget_operator::metrics::ReasonLabels {
                reason: "MissingReference".into()
            })
            .get(),
        1
    );
    fake.clear_log();
    reconcile::reconcile(Arc::new(stored), ctx).await.unwrap();
    assert_eq!(fake.writes(), Vec::<String>::new());
}

/// Deleting a feed with the default Retain policy needs no action: owner references let the
/// garbage collector remove the children, and no finalizer holds the feed.
#[tokio::test]
async fn deletion_with_retain_makes_no_request() {
    let mut feed = example();
    feed.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    let (ctx, fake, _) = setup(&feed, true);
    fake.clear_log();
    let action = reconcile::reconcile(Arc::new(feed), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert!(fake.state.lock().unwrap().log.is_empty());
}

/// `deletionPolicy: Purge` adds the finalizer (guarded by resourceVersion) before anything else.
#[tokio::test]
async fn purge_policy_adds_the_finalizer_first() {
    let mut feed = example();
    feed.spec.deletion_policy = nuget_operator::crd::DeletionPolicy::Purge;
    let (ctx, fake, _) = setup(&feed, true);
    reconcile::reconcile(Arc::new(feed), ctx).await.unwrap();
    assert_eq!(fake.writes()[0], format!("PATCH {FEED_PATH}?"));
    assert_eq!(
        stored_feed(&fake).finalizers(),
        ["nuget-operator.io/purge-data"]
    );
}

/// A conflict fails the reconcile (no status flapping) and backs off per object.
#[tokio::test]
async fn conflict_backs_off_without_touching_status() {
    let feed = example();
    let (ctx, fake, metrics) = setup(&feed, true);
    fake.fail_on(|m, p| (m == "PATCH" && p.ends_with("/deployments/main")).then_some(409));
    let feed = Arc::new(feed);
    let err = reconcile::reconcile(feed.clone(), ctx.clone())
        .await
        .unwrap_err();
    assert_eq!(err.category(), "Conflict");
    assert!(!fake.writes().iter().any(|w| w.contains("/status")));
    let first = reconcile::error_policy(feed.clone(), &err, ctx.clone());
    let second = reconcile::error_policy(feed.clone(), &err, ctx.clone());
    assert_eq!(first, Action::requeue(std::time::Duration::from_secs(2)));
    assert_eq!(second, Action::requeue(std::time::Duration::from_secs(4)));
    assert_eq!(
        metrics
            .failures
            .get_or_create(&nuget_operator::metrics::ReasonLabels {
                reason: "Conflict".into()
            })
            .get(),
        2
    );
    // Success resets the backoff.
    fake.fail_on(|_, _| None);
    reconcile::reconcile(feed.clone(), ctx.clone())
        .await
        .unwrap();
    assert_eq!(
        reconcile::error_policy(feed, &err, ctx),
        Action::requeue(std::time::Duration::from_secs(2))
    );
}

/// An apply the apiserver refuses (here RBAC, 403) fails the reconcile and shows on the feed as
/// Degraded/ApplyFailed: without it a too-small Role is visible only in the operator's logs.
#[tokio::test]
async fn refused_apply_marks_the_feed_degraded() {
    let feed = example();
    let (ctx, fake, _) = setup(&feed, true);
    fake.fail_on(|m, p| (m == "PATCH" && p.ends_with("/deployments/main")).then_some(403));
    let err = reconcile::reconcile(Arc::new(feed), ctx).await.unwrap_err();
    assert_eq!(err.category(), "Apply");
    let status = stored_feed(&fake).status.unwrap();
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "ApplyFailed")
    );
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False");
}

/// A server error while reading what the spec refers to (the tenant's credentials Secret, the
/// one object not cached) stops the reconcile before any write.
#[tokio::test]
async fn server_error_fails_before_writing() {
    let feed = example();
    let (ctx, fake, _) = setup(&feed, true);
    fake.fail_on(|m, p| (m == "GET" && p.ends_with("/secrets/feed-s3")).then_some(500));
    let err = reconcile::reconcile(Arc::new(feed), ctx).await.unwrap_err();
    assert_eq!(err.category(), "Dereference");
    assert!(
        err.to_string().contains("cannot read Secret feed-s3"),
        "{err}"
    );
    assert_eq!(fake.writes(), Vec::<String>::new());
}

/// A steady-state reconcile reads nothing but the tenant's credentials Secret: children come
/// from the controller's caches, and a public feed looks up no read-token Secret.
#[tokio::test]
async fn steady_state_reads_only_the_credentials_secret() {
    let feed = example();
    let (ctx, fake, _) = setup(&feed, true);
    reconcile::reconcile(Arc::new(feed), ctx.clone())
        .await
        .unwrap();
    fake.clear_log();
    reconcile::reconcile(Arc::new(stored_feed(&fake)), ctx)
        .await
        .unwrap();
    assert_eq!(
        fake.state.lock().unwrap().log,
        vec!["GET /api/v1/namespaces/team-a/secrets/feed-s3?".to_owned()]
    );
}

/// The caches lag the operator's own writes by a watch event. A reconcile that runs before
/// they catch up must neither generate the API key again (generated keys are never
/// rewritten) nor apply again what it has just applied, and needs no extra read to know: it
/// takes its own writes' results for the children the caches have not shown yet.
#[tokio::test]
async fn a_cache_lagging_our_writes_causes_no_writes() {
    let feed = example();
    let (ctx, fake, metrics) = setup(&feed, true);
    fake.frozen.store(true, Ordering::SeqCst);
    reconcile::reconcile(Arc::new(feed), ctx.clone())
        .await
        .unwrap();
    let key = fake
        .get("/api/v1/namespaces/team-a/secrets/main-api-keys")
        .unwrap()["data"]["default"]
        .clone();
    let writes_after_first = metrics.writes.get();
    fake.clear_log();
    reconcile::reconcile(Arc::new(stored_feed(&fake)), ctx)
        .await
        .unwrap();
    assert_eq!(
        fake.state.lock().unwrap().log,
        vec!["GET /api/v1/namespaces/team-a/secrets/feed-s3?".to_owned()]
    );
    assert_eq!(metrics.writes.get(), writes_after_first);
    assert_eq!(
        fake.get("/api/v1/namespaces/team-a/secrets/main-api-keys")
            .unwrap()["data"]["default"],
        key
    );
}

fn events(fake: &FakeApiServer) -> Vec<Value> {
    fake.state
        .lock()
        .unwrap()
        .objects
        .iter()
        .filter(|(p, _)| p.contains("/events/"))
        .map(|(_, e)| e.clone())
        .collect()
}

/// Issue 17: a 5xx that repeats is shown as Degraded with the apiserver's message and one
/// Warning event; the first one is retried silently, and further retries add no event.
#[tokio::test]
async fn a_repeating_server_error_is_shown_once() {
    let feed = example();
    let (ctx, fake, _) = setup(&feed, true);
    fake.fail_on(|m, p| (m == "PATCH" && p.ends_with("/deployments/main")).then_some(500));
    let feed = Arc::new(feed);
    let err = reconcile::reconcile(feed.clone(), ctx.clone())
        .await
        .unwrap_err();
    assert!(!fake.writes().iter().any(|w| w.contains("/status")));
    assert!(events(&fake).is_empty());
    reconcile::error_policy(feed.clone(), &err, ctx.clone());
    for _ in 0..2 {
        let err = reconcile::reconcile(Arc::new(stored_feed(&fake)), ctx.clone())
            .await
            .unwrap_err();
        reconcile::error_policy(feed.clone(), &err, ctx.clone());
    }
    let stored = stored_feed(&fake);
    let degraded = stored.condition("Degraded").unwrap();
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "ApplyFailed")
    );
    assert!(
        degraded.message.contains("injected"),
        "{}",
        degraded.message
    );
    let warnings: Vec<Value> = events(&fake)
        .into_iter()
        .filter(|e| e["type"] == "Warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["reason"], "ApplyFailed");
    // Recovery clears the condition.
    fake.fail_on(|_, _| None);
    reconcile::reconcile(Arc::new(stored_feed(&fake)), ctx)
        .await
        .unwrap();
    assert_eq!(
        stored_feed(&fake).condition("Degraded").unwrap().status,
        "False"
    );
}

/// Issue 17: the finalizer goes only on a valid feed; one that never got past validation
/// (nothing stored: no URL in its status) loses a finalizer an older operator gave it.
#[tokio::test]
async fn an_invalid_feed_gets_no_finalizer_and_loses_an_unused_one() {
    let mut feed = example();
    feed.spec.deletion_policy = nuget_operator::crd::DeletionPolicy::Purge;
    let (ctx, fake, _) = setup(&feed, false);
    reconcile::reconcile(Arc::new(feed.clone()), ctx.clone())
        .await
        .unwrap();
    assert_eq!(
        fake.writes(),
        vec![
            format!("PATCH {FEED_PATH}/status{SSA}"),
            "POST /apis/events.k8s.io/v1/namespaces/team-a/events?".to_owned(),
        ]
    );
    assert!(stored_feed(&fake).finalizers().is_empty());

    feed.metadata.finalizers = Some(vec!["nuget-operator.io/purge-data".into()]);
    let (ctx, fake, _) = setup(&feed, false);
    reconcile::reconcile(Arc::new(feed), ctx).await.unwrap();
    assert_eq!(fake.writes()[0], format!("PATCH {FEED_PATH}?"));
    assert!(stored_feed(&fake).finalizers().is_empty());
}

/// Issue 17: deleting a Purge feed that has no credentials Secret (workload identity) never
/// reaches the storage with the operator's identity: it is refused with a Warning that says
/// what to do, the finalizer stays, and the feed is looked at again slowly.
#[tokio::test]
async fn purge_without_credentials_is_refused_and_keeps_the_finalizer() {
    let mut feed = example();
    feed.spec.deletion_policy = nuget_operator::crd::DeletionPolicy::Purge;
    feed.spec.storage.s3.as_mut().unwrap().credentials_secret = None;
    feed.metadata.finalizers = Some(vec!["nuget-operator.io/purge-data".into()]);
    feed.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    feed.status = Some(nuget_operator::crd::NuGetFeedStatus {
        url: Some("http://nuget.example.com/team-a/main/index.json".into()),
        ..Default::default()
    });
    let (ctx, fake, _) = setup(&feed, false);
    let action = reconcile::reconcile(Arc::new(feed), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(reconcile::RECHECK_INVALID));
    assert_eq!(
        fake.writes(),
        vec![
            format!("PATCH {FEED_PATH}/status{SSA}"),
            "POST /apis/events.k8s.io/v1/namespaces/team-a/events?".to_owned(),
        ]
    );
    let stored = stored_feed(&fake);
    assert_eq!(stored.finalizers(), ["nuget-operator.io/purge-data"]);
    assert_eq!(stored.condition("Degraded").unwrap().reason, "PurgeRefused");
    let event = events(&fake).pop().unwrap();
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "PurgeRefused");
    let note = event["note"].as_str().unwrap();
    assert!(note.contains("never uses its own identity"), "{note}");
    assert!(
        note.contains("remove the finalizer nuget-operator.io/purge-data"),
        "{note}"
    );
    // The fresh list of feeds was read before deciding.
    assert!(
        fake.state
            .lock()
            .unwrap()
            .log
            .iter()
            .any(|l| l.starts_with("GET /apis/nuget-operator.io/v1alpha1/nugetfeeds"))
    );
}
