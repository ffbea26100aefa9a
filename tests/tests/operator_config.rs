//! The operator's rendered config is accepted by the feed server: the ConfigMap's `config.yaml`
//! parses with the feed server's own `FileConfig::parse` (unknown fields refused) and resolves
//! with `Config::resolve`, and the hashed API-key file authenticates the plaintext key the
//! tenant reads from the Secret.

#![allow(clippy::unwrap_used)]

use nuget_feed_server::auth::ApiKeys;
use nuget_feed_server::config::{Args, Config, FileConfig};
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
    let keys = ApiKeys::parse(&secret_entry(auth, "api-keys.yaml")).unwrap();
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

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nuget-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
