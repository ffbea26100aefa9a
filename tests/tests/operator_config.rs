//! The operator's rendered config is accepted by the feed server: the ConfigMap's `config.yaml`
//! parses with the feed server's own `FileConfig::parse` (unknown fields refused) and resolves
//! with `Config::resolve`, and the hashed API-key file authenticates the plaintext key the
//! tenant reads from the Secret, for exactly the package ids its patterns name. A pattern the
//! feed server would refuse at start-up is refused by the operator's validation instead.
//! Upstream sources (issue 13) render into a config whose credentials are the files the
//! Deployment mounts from the tenant's Secret.

#![allow(clippy::unwrap_used)]

use nuget_feed_config::ApiKeysFile;
use nuget_feed_server::auth::{ApiKeys, Scope};
use nuget_feed_server::config::{Args, Config, FileConfig};
use nuget_feed_server::package::PackageId;
use nuget_operator::consts::REASON_INVALID_SPEC;
use nuget_operator::render;
use nuget_operator::settings::Settings;
use serde_yaml_ng::Value;

const FEEDS: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: main, namespace: team-a}
spec:
  storage: {s3: {bucket: feeds, region: eu-west-1, credentialsSecret: feed-s3, endpoint: "http://minio:9000", pathStyle: true}}
  ingress: {host: nuget.example.com}
  apiKeys: [{name: ci, scopes: [push], packages: ["Contoso.*"]}]
  readAccess: {mode: Token, tokens: [devs]}
  maxPackageSize: 100Mi
---
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: local, namespace: team-b}
spec:
  storage: {volume: {claimName: data}}
  deleteMode: Delete
"#;

fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn secret_entry(doc: &Value, key: &str) -> String {
    use base64::Engine as _;
    let b64 = doc["data"][key].as_str().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn rendered_config_loads_in_the_feed_server() {
    let mut n = 0;
    let mut generate = || {
        n += 1;
        format!("key-{n}")
    };
    let out = render::render(FEEDS, &Settings::default(), &mut generate).unwrap();
    let docs = docs(&out);
    let configs: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "ConfigMap").collect();
    assert_eq!(configs.len(), 2);

    let main = configs[0]["data"]["config.yaml"].as_str().unwrap();
    let file = FileConfig::parse(main).unwrap();
    let config = Config::resolve(file, Args::default()).unwrap();
    assert_eq!(
        config.public_base_url.as_deref(),
        Some("http://nuget.example.com/team-a/main")
    );
    assert_eq!(config.path_base, "/team-a/main");
    assert_eq!(config.storage_url, "s3://feeds/team-a/main");
    assert_eq!(config.storage_options["aws_endpoint"], "http://minio:9000");
    assert_eq!(config.max_package_bytes, 100 * 1024 * 1024);
    assert_eq!(config.temp_dir, std::path::PathBuf::from("/tmp"));
    assert!(config.read_tokens_file.is_some());

    let local = configs[1]["data"]["config.yaml"].as_str().unwrap();
    let config = Config::resolve(FileConfig::parse(local).unwrap(), Args::default()).unwrap();
    assert_eq!(config.storage_url, "/data");
    assert_eq!(config.path_base, "/team-b/local");

    // The hashed key file authenticates the tenant's plaintext key, and only it.
    let plain_secret = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "main-api-keys")
        .unwrap();
    let auth = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "main-auth")
        .unwrap();
    let keys = ApiKeys::from(ApiKeysFile::parse(&secret_entry(auth, "api-keys.yaml")).unwrap());
    let plaintext = secret_entry(plain_secret, "ci");
    assert!(keys.authenticate(&plaintext).is_some());
    assert!(keys.authenticate("not-the-key").is_none());

    // The read tokens file is in the feed server's format too.
    let dir = tempfile_dir();
    let tokens_path = dir.join("read-tokens.txt");
    std::fs::write(&tokens_path, secret_entry(auth, "read-tokens.txt")).unwrap();
    let tokens = nuget_feed_server::auth::ReadTokens::load(&tokens_path).unwrap();
    let devs = secret_entry(
        docs.iter()
            .find(|d| d["metadata"]["name"] == "main-read-tokens")
            .unwrap(),
        "devs",
    );
    assert!(tokens.verify(&devs));
    assert!(!tokens.verify("guess"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Keys whose patterns have `*` at the start and in the middle: before the operator and the
/// feed server shared one parser, the operator accepted these and the server refused the file,
/// so the pods crash-looped.
const GLOBS: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: globs, namespace: team-c}
spec:
  storage: {volume: {claimName: data}}
  apiKeys:
    - {name: json, scopes: [push], packages: ["*.Json"]}
    - {name: core, packages: ["Contoso.*.Core"]}
"#;

fn find<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {name} rendered"))
}

#[test]
fn glob_patterns_rendered_by_the_operator_authorize_in_the_feed_server() {
    let mut n = 0;
    let mut generate = || {
        n += 1;
        format!("glob-key-{n}")
    };
    let docs = docs(&render::render(GLOBS, &Settings::default(), &mut generate).unwrap());

    // Loaded as the pod loads it at start-up: from the mounted file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api-keys.yaml");
    std::fs::write(
        &path,
        secret_entry(find(&docs, "globs-auth"), "api-keys.yaml"),
    )
    .unwrap();
    let keys = ApiKeys::load(&path).unwrap();
    let plain = find(&docs, "globs-api-keys");

    let json = keys.authenticate(&secret_entry(plain, "json")).unwrap();
    assert_eq!(json.name, "json");
    for id in ["Newtonsoft.Json", "System.Text.Json", "newtonsoft.json"] {
        assert!(json.allows(Scope::Push, id), "json may push {id}");
    }
    for id in ["Newtonsoft.Json.Bson", "Json", "Contoso.Lib"] {
        assert!(!json.allows(Scope::Push, id), "json may not push {id}");
    }
    assert!(
        !json.allows(Scope::Unlist, "Newtonsoft.Json"),
        "json has only push"
    );

    let core = keys.authenticate(&secret_entry(plain, "core")).unwrap();
    assert_eq!(core.name, "core");
    for id in ["Contoso.Lib.Core", "contoso.a.b.core"] {
        assert!(core.allows(Scope::Push, id), "core may push {id}");
        assert!(core.allows(Scope::Unlist, id), "core may manage {id}");
    }
    for id in ["Contoso.Core", "Contoso.Lib.Core.Tests", "Other.Lib.Core"] {
        assert!(!core.allows(Scope::Push, id), "core may not push {id}");
    }

    // Owners (SQ-10) follow the same patterns.
    let owners = |id: &str| keys.owners(&PackageId::parse(id).unwrap());
    assert_eq!(owners("System.Text.Json"), vec!["json".to_owned()]);
    assert_eq!(owners("Contoso.Lib.Core"), vec!["core".to_owned()]);
    assert!(owners("Contoso.Lib").is_empty());
}

#[test]
fn a_pattern_the_feed_server_would_refuse_is_an_invalid_spec_naming_it() {
    for bad in ["Contoso.?", "a b"] {
        let yaml = GLOBS.replace("Contoso.*.Core", bad);
        let mut generate = || "never-used-key".to_owned();
        let err = render::render(&yaml, &Settings::default(), &mut generate).unwrap_err();
        let render::Error::Invalid { name, source } = err else {
            panic!("not a validation error: {err}")
        };
        assert_eq!(name, "globs");
        assert_eq!(source.category(), REASON_INVALID_SPEC);
        let message = source.to_string();
        assert!(
            message.contains(&format!("package pattern `{bad}`"))
                && message.contains("apiKeys[core]"),
            "{message}"
        );

        // The feed server refuses the same pattern in a key file, with the same words.
        let file =
            format!("keys:\n  - name: core\n    key: some-long-key\n    packages: ['{bad}']\n");
        let refused = ApiKeysFile::parse(&file).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("package pattern `{bad}`")),
            "{refused}"
        );
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nuget-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Issue 13: a feed with nuget.org, a private upstream whose token is in a Secret, and a local
/// prefix.
const UPSTREAMS: &str = r#"
apiVersion: nuget-operator.io/v1alpha1
kind: NuGetFeed
metadata: {name: proxy, namespace: team-d}
spec:
  storage: {volume: {claimName: data}}
  localPackages: ["Contoso.*"]
  apiKeys: [{name: ci, scopes: [push, take_over], packages: ["Contoso.*"]}]
  upstreams:
    - {name: nuget-org, url: "https://api.nuget.org/v3/index.json", timeoutSeconds: 20, deny: ["Contoso.*"]}
    - name: private
      url: https://pkgs.example.com/nuget/v3/index.json
      credentials: {scheme: ApiKey, secretRef: {name: upstream-creds, key: api-key}}
"#;

#[test]
fn rendered_upstreams_load_in_the_feed_server_with_the_mounted_secret_file() {
    use nuget_operator::reconcile::dereference::{self, Lookup, SecretSummary};
    use nuget_operator::reconcile::{build, validate};

    let feed: nuget_operator::crd::NuGetFeed = serde_yaml_ng::from_str(UPSTREAMS).unwrap();
    // The Secret as `dereference` finds it in the cluster: the key the upstream names is there.
    let mut deref = dereference::offline(&feed);
    deref.upstream_secrets.insert(
        "upstream-creds".into(),
        Lookup::Found(SecretSummary {
            name: "upstream-creds".into(),
            keys: ["api-key".to_owned()].into(),
            data_hash: "0".repeat(64),
        }),
    );
    let mut generate = || "upstream-test-key".to_owned();
    let validated = validate::validate(&feed, &deref, &Settings::default(), &mut generate).unwrap();
    let docs = docs(&build::build(&validated).unwrap().to_yaml().unwrap());

    let text = find(&docs, "proxy-config")["data"]["config.yaml"]
        .as_str()
        .unwrap();
    let file = FileConfig::parse(text).unwrap();
    nuget_feed_config::validate_upstreams(&file.upstreams).unwrap();
    assert_eq!(file.local_packages.len(), 1);
    assert!(file.local_packages[0].matches("contoso.core"));
    let [public, private] = file.upstreams.as_slice() else {
        panic!("two upstreams in order: {:?}", file.upstreams)
    };
    assert_eq!(public.name, "nuget-org");
    assert_eq!(public.timeout_ms, Some(20_000));
    assert!(!public.admits("Contoso.Core") && public.admits("Newtonsoft.Json"));
    let credentials = private.credentials.as_ref().unwrap();
    assert_eq!(
        credentials.scheme,
        nuget_feed_config::CredentialScheme::ApiKey
    );
    assert!(credentials.secret_env.is_none() && credentials.username.is_none());

    // `secret_file` is where the pod sees the Secret's key: the mount path of the projected
    // volume joined with the item's path, and the item is the key the spec names.
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    let mount = pod["containers"][0]["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "upstream-credentials")
        .unwrap();
    assert_eq!(mount["readOnly"], Value::Bool(true));
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "upstream-credentials")
        .unwrap();
    let source = &volume["projected"]["sources"][0]["secret"];
    assert_eq!(source["name"], "upstream-creds");
    assert_eq!(source["items"][0]["key"], "api-key");
    let mounted = std::path::Path::new(mount["mountPath"].as_str().unwrap())
        .join(source["items"][0]["path"].as_str().unwrap());
    assert_eq!(credentials.secret_file.as_deref(), Some(mounted.as_path()));

    // The feed server refuses the config while the mounted file is missing, naming the
    // upstream and the file, and resolves it once the file holds the Secret's value: the pod's
    // view, with the mount point moved into a temp folder.
    let missing = Config::resolve(file.clone(), Args::default())
        .unwrap_err()
        .to_string();
    assert!(missing.contains("upstream `private`"), "{missing}");
    assert!(missing.contains(mounted.to_str().unwrap()), "{missing}");
    let pod_root = tempfile::tempdir().unwrap();
    let in_pod = pod_root.path().join(mounted.strip_prefix("/").unwrap());
    std::fs::create_dir_all(in_pod.parent().unwrap()).unwrap();
    std::fs::write(&in_pod, "upstream-api-key-value\n").unwrap();
    let mut file = file;
    file.upstreams[1].credentials.as_mut().unwrap().secret_file = Some(in_pod);
    let config = Config::resolve(file, Args::default()).unwrap();
    assert_eq!(config.path_base, "/team-d/proxy");
    let names: Vec<&str> = config.upstreams.iter().map(|u| u.name()).collect();
    assert_eq!(names, ["nuget-org", "private"]);
    let read = config.upstreams[1].credentials.as_ref().unwrap();
    assert_eq!(read.secret.expose(), "upstream-api-key-value");
    assert!(config.local_packages[0].matches("Contoso.Core"));
}
