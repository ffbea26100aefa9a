//! End to end without Kubernetes pods: the S3 example feed (`examples/s3/`), pointed at a moto
//! S3 server, is rendered by `nuget-operator render` with the platform defaults the chart
//! passes; two real `nuget-feed-server` replicas start from the rendered Deployment,
//! ConfigMap and Secrets (`nuget_test_support::feed_pod::FeedPod`) and share the one bucket; nginx is
//! configured from the rendered Ingress (same host, same path prefix, no rewrite); NuGet.exe
//! pushes through nginx to one replica and installs through nginx from the other, using the
//! feed's public URL and the API key the tenant reads from the rendered Secret. The
//! read-protected example goes the same way with a read token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nuget_test_support::chart::parse_docs;
use nuget_test_support::feed_pod::{FeedPod, object_data};
use nuget_test_support::http::http_request;
use nuget_test_support::moto::Moto;
use nuget_test_support::nginx::Nginx;
use nuget_test_support::nuget_exe::{NuGetExe, assert_success};
use nuget_test_support::tools::{repo_root, workspace_bin};
use nuget_test_support::wait::eventually_blocking;
use serde_json::Value;

const HOST: &str = "nuget.example.com";

/// `examples/<name>/feed.yaml`, changed by `edit`, rendered by `nuget-operator render` with the
/// platform defaults the chart passes.
fn render_example(name: &str, edit: impl FnOnce(&mut Value)) -> (Value, Vec<Value>) {
    let mut feed: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo_root().join("examples").join(name).join("feed.yaml"))
            .unwrap(),
    )
    .unwrap();
    edit(&mut feed);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(&feed).unwrap()).unwrap();
    let out = std::process::Command::new(workspace_bin("nuget-operator"))
        .args(["render", "-f"])
        .arg(&file)
        .args([
            &format!("--default-host={HOST}"),
            "--default-ingress-class=nginx",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nuget-operator render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (feed, parse_docs(&String::from_utf8_lossy(&out.stdout)))
}

fn render_s3_example(moto: &Moto) -> (Value, Vec<Value>) {
    render_example("s3", |feed| {
        // What a tenant on an S3-compatible service sets (the example's comment says so).
        let s3 = &mut feed["spec"]["storage"]["s3"];
        s3["endpoint"] = moto.endpoint().into();
        s3["pathStyle"] = true.into();
        s3["region"] = "us-east-1".into();
    })
}

/// The plaintext entry `entry` of the rendered Secret `name`.
fn secret_entry(rendered: &[Value], name: &str, entry: &str) -> String {
    let secret = rendered
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Secret {name} rendered"));
    String::from_utf8(object_data(secret)[entry].clone()).unwrap()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

#[test]
fn nuget_exe_pushes_to_one_replica_and_installs_from_the_other_through_the_ingress() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    let Some(mut nuget) = NuGetExe::new_or_skip() else {
        return;
    };
    let feed_server = workspace_bin("nuget-feed-server");
    let (feed, rendered) = render_s3_example(&moto);
    let bucket = feed["spec"]["storage"]["s3"]["bucket"].as_str().unwrap();
    moto.create_bucket(bucket);

    // The tenant's inputs: the example's credentials Secret and the generated key.
    let credentials = parse_docs(
        &std::fs::read_to_string(repo_root().join("examples/s3/credentials.yaml")).unwrap(),
    );
    let name = feed["metadata"]["name"].as_str().unwrap();
    let key = secret_entry(&rendered, &format!("{name}-api-keys"), "default");

    // The Deployment asks for two replicas on the shared bucket.
    let deployment = find(&rendered, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let replicas: Vec<FeedPod> = (0..2)
        .map(|i| {
            FeedPod::start(
                &feed_server,
                &format!("{name}-{i}"),
                &rendered,
                &credentials,
                &[],
            )
        })
        .collect();

    // The Ingress routes the feed's prefix on the host to the Service, which targets the
    // container's named port: nginx plays the Ingress, each listener one replica behind it.
    let ingress = find(&rendered, "Ingress");
    let service = find(&rendered, "Service");
    let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], service["metadata"]["name"]);
    assert_eq!(
        backend["port"]["name"], service["spec"]["ports"][0]["name"],
        "the Ingress names the Service's port"
    );
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"],
        deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"]
    );
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    let Some(nginx) = Nginx::for_ingress_or_skip(ingress, &ports) else {
        return;
    };
    let (to_first, to_second) = (nginx.ports[0], nginx.ports[1]);

    // The URL the operator reports in status.url, built from the rendered config.
    let config: Value = serde_yaml_ng::from_str(
        find(&rendered, "ConfigMap")["data"]["config.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let base = config["public_base_url"].as_str().unwrap();
    assert_eq!(base, format!("http://{HOST}/team-a/{name}"));
    let source = format!("{base}/index.json");

    // Push through the ingress to replica 1: a 2 MiB package, over ingress-nginx's default
    // body limit, which the example's proxy-body-size annotation lifts.
    let nupkg = nuget.pack_with_payload("Contoso.E2E", "1.2.3", 2 << 20);
    assert!(std::fs::metadata(&nupkg).unwrap().len() > 2 << 20);
    nuget.set_http_proxy(Some(to_first));
    let pushed = nuget.push(&nupkg, &source, &key);
    assert_success(&pushed, "push");

    // Replica 2 learns of it from the shared bucket (it tails the event log).
    let path = format!("/team-a/{name}/flatcontainer/contoso.e2e/index.json");
    eventually_blocking(
        "replica 2 to list the pushed version",
        Duration::from_secs(30),
        || {
            let r = http_request(
                "GET",
                &format!("http://127.0.0.1:{to_second}{path}"),
                &[("Host", HOST)],
                b"",
                Duration::from_secs(5),
            )
            .ok()?;
            (r.status == 200 && r.text().contains("1.2.3")).then_some(())
        },
    );

    // Install through the ingress from replica 2.
    let out_dir = nuget.root().join("installed");
    nuget.set_http_proxy(Some(to_second));
    let installed = nuget.install("Contoso.E2E", "1.2.3", &source, &out_dir);
    assert_success(&installed, "install");
    assert_eq!(
        std::fs::metadata(out_dir.join("Contoso.E2E.1.2.3/content/payload.bin"))
            .unwrap()
            .len(),
        2 << 20
    );
    let content = out_dir.join("Contoso.E2E.1.2.3/content/readme.txt");
    assert_eq!(
        std::fs::read_to_string(&content).unwrap_or_default(),
        "Contoso.E2E 1.2.3\n",
        "{} holds the pushed content",
        content.display()
    );

    // A second push of the same version, through the other replica: one winner (409).
    let again = nuget.push(&nupkg, &source, &key);
    assert!(!again.status.success(), "a version is pushed once");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("Conflict")
            || String::from_utf8_lossy(&again.stderr).contains("Conflict"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The requests took the intended paths: no rewrite, one replica each.
    let log = nginx.access_log();
    let upstream = |r: &FeedPod| format!("127.0.0.1:{}", r.port);
    let push = log
        .iter()
        .find(|r| r.method == "PUT" && r.status == 201)
        .unwrap_or_else(|| panic!("no successful push went through nginx: {log:?}"));
    assert_eq!(push.host, HOST);
    assert_eq!(push.uri, format!("/team-a/{name}/package/"));
    assert_eq!(push.upstream, upstream(&replicas[0]));
    let download = log
        .iter()
        .find(|r| r.method == "GET" && r.uri.ends_with(".nupkg"))
        .unwrap_or_else(|| panic!("the install downloaded nothing through nginx: {log:?}"));
    assert_eq!(download.host, HOST);
    assert_eq!(download.status, 200);
    assert_eq!(download.upstream, upstream(&replicas[1]));
    assert!(
        log.iter()
            .filter(|r| r.host != "127.0.0.1") // the harness's own readiness checks
            .all(|r| r.host == HOST && r.uri.starts_with(&format!("/team-a/{name}/"))),
        "every request stayed under the feed's prefix on its host: {log:?}"
    );

    // The package is in the bucket under the feed's prefix.
    let objects = moto.list(bucket, &format!("team-a/{name}/"));
    assert!(
        objects
            .iter()
            .any(|k| k.ends_with("contoso.e2e.1.2.3.nupkg")),
        "{objects:?}"
    );
}

/// The read-protected example through the ingress: without a read token NuGet.exe cannot even
/// read the service index (401), with the generated token as the HTTP Basic password of the
/// source (any user name) it pushes and installs. One replica on the feed's volume (a folder).
#[test]
fn read_protected_example_needs_a_read_token_through_the_ingress() {
    let Some(mut nuget) = NuGetExe::new_or_skip() else {
        return;
    };
    let (feed, rendered) = render_example("read-protected", |_| {});
    let name = feed["metadata"]["name"].as_str().unwrap();
    let key = secret_entry(&rendered, &format!("{name}-api-keys"), "default");
    let token = secret_entry(&rendered, &format!("{name}-read-tokens"), "developers");
    let pod = FeedPod::start(
        &workspace_bin("nuget-feed-server"),
        name,
        &rendered,
        &[],
        &[],
    );
    let Some(nginx) = Nginx::for_ingress_or_skip(find(&rendered, "Ingress"), &[pod.port]) else {
        return;
    };
    nuget.set_http_proxy(Some(nginx.ports[0]));
    let source = format!("http://{HOST}/team-a/{name}/index.json");
    let nupkg = nuget.pack_with_payload("Internal.Tools", "0.9.0", 0);

    nuget.configure_source(name, &source, None);
    let refused = nuget.push(&nupkg, &source, &key);
    assert!(!refused.status.success(), "read without a token");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        text.contains("401") || text.contains("Unauthorized"),
        "{text}"
    );

    nuget.configure_source(name, &source, Some(("developers", &token)));
    assert_success(&nuget.push(&nupkg, &source, &key), "push with a read token");
    let out_dir = nuget.root().join("installed");
    assert_success(
        &nuget.install("Internal.Tools", "0.9.0", &source, &out_dir),
        "install with a read token",
    );
    assert!(
        out_dir
            .join("Internal.Tools.0.9.0/content/readme.txt")
            .is_file()
    );
    // On the volume the pod mounts at /data (a folder of the emulated pod).
    assert!(
        pod.root
            .path()
            .join("data/packages/internal.tools/0.9.0/internal.tools.0.9.0.nupkg")
            .is_file(),
        "the package is on the feed's volume"
    );
}
