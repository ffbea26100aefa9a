//! One replica of the feed server run the way the operator's rendered Deployment runs it,
//! without a container runtime (the end-to-end test's "pods").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::ports::free_port;
use crate::process::{Process, Ready};

/// A rendered `v1` Secret or ConfigMap's entries (base64 `data` decoded).
pub fn object_data(doc: &Value) -> BTreeMap<String, Vec<u8>> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    for (k, v) in doc["data"].as_object().into_iter().flatten() {
        let s = v.as_str().unwrap_or_default();
        let bytes = if doc["kind"] == "Secret" {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("Secret data is base64")
        } else {
            s.as_bytes().to_vec()
        };
        out.insert(k.clone(), bytes);
    }
    for (k, v) in doc["stringData"].as_object().into_iter().flatten() {
        out.insert(
            k.clone(),
            v.as_str().unwrap_or_default().as_bytes().to_vec(),
        );
    }
    out
}

/// One replica of the feed server run the way the rendered Deployment runs it, without a
/// container runtime: every volume of the pod spec is materialised under a private root
/// (ConfigMap and Secret volumes as files, emptyDirs and claims as folders), the container's
/// env is set as the kubelet would (`secretKeyRef` from the given Secrets), and paths the
/// container sees (`/etc/nuget-feed/...`, `/tmp`, `/data`) are re-rooted. The config file is
/// the ConfigMap's `config.yaml` byte for byte; only settings that name a path inside the
/// container, and the listen address, are re-pointed through the feed server's own
/// `NUGET_FEED_*` overrides (a loopback port instead of the pod's port 5000). Trusted
/// publishers' key files, which have no override, are re-pointed in a copy of the config.
pub struct FeedPod {
    pub port: u16,
    pub root: tempfile::TempDir,
    pub process: Process,
}

impl FeedPod {
    pub fn start(
        binary: &Path,
        name: &str,
        rendered: &[Value],
        secrets: &[Value],
        extra_env: &[(&str, &str)],
    ) -> FeedPod {
        let find = |kind: &str, name: &str| find(rendered, secrets, kind, name);
        let pod = pod_spec(rendered);
        let container = &pod["containers"][0];
        let root = tempfile::Builder::new()
            .prefix(&format!("pod-{name}-"))
            .tempdir()
            .expect("create the pod's root");
        let rooted = |p: &str| root.path().join(p.trim_start_matches('/'));

        let mounts = write_volumes(root.path(), pod, rendered, secrets);
        let reroot = |value: &str| -> Option<PathBuf> {
            mounts
                .iter()
                .any(|m| value == m || value.starts_with(&format!("{m}/")))
                .then(|| rooted(value))
        };

        let port = free_port();
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .current_dir(root.path());
        let mut config_path = None;
        for e in container["env"].as_array().into_iter().flatten() {
            let key = e["name"].as_str().expect("an env name");
            if let Some(v) = e["value"].as_str() {
                match reroot(v) {
                    Some(p) => {
                        if key == "NUGET_FEED_CONFIG" {
                            config_path = Some(p.clone());
                        }
                        cmd.env(key, p);
                    }
                    None => {
                        cmd.env(key, v);
                    }
                }
            } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                let secret = r["name"].as_str().expect("a secretKeyRef name");
                let value = find("Secret", secret).map(object_data).and_then(|d| {
                    d.get(r["key"].as_str().expect("a secretKeyRef key"))
                        .cloned()
                });
                match value {
                    Some(v) => {
                        cmd.env(key, String::from_utf8(v).expect("Secret values are UTF-8"));
                    }
                    None => assert!(
                        r.get("optional") == Some(&Value::Bool(true)),
                        "env {key}: Secret {secret} has no key {}",
                        r["key"]
                    ),
                }
            } else {
                panic!("env {key}: unsupported source {e}");
            }
        }
        // Settings of the config file that name a path inside the container.
        let config_path = config_path.expect("the Deployment sets NUGET_FEED_CONFIG");
        let config: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(&config_path).expect("read the rendered config.yaml"),
        )
        .expect("the rendered config.yaml parses");
        for (field, env) in [
            ("api_keys_file", "NUGET_FEED_API_KEYS_FILE"),
            ("read_tokens_file", "NUGET_FEED_READ_TOKENS_FILE"),
            ("temp_dir", "NUGET_FEED_TEMP_DIR"),
            ("vulnerabilities_file", "NUGET_FEED_VULNERABILITIES_FILE"),
        ] {
            if let Some(p) = config[field].as_str() {
                let local = reroot(p).unwrap_or_else(|| {
                    panic!("config {field} `{p}` is not inside a volume of the pod")
                });
                cmd.env(env, local);
            }
        }
        if let Some(url) = config["storage"]["url"].as_str()
            && let Some(local) = reroot(url)
        {
            cmd.env("NUGET_FEED_STORAGE_URL", local);
        }
        // A trusted publisher's key file (the operator's `cluster-jwks.json`) has no
        // `NUGET_FEED_*` override, being one per policy: only for these the config is copied
        // with the paths re-rooted, and the server started on the copy.
        let mut rerooted = config.clone();
        let mut jwks_moved = false;
        for p in rerooted["trusted_publishers"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if let Some(local) = p["jwks_file"].as_str().and_then(&reroot) {
                p["jwks_file"] = Value::String(local.display().to_string());
                jwks_moved = true;
            }
        }
        if jwks_moved {
            let copy = root.path().join("config-rerooted.yaml");
            std::fs::write(
                &copy,
                serde_yaml_ng::to_string(&rerooted).expect("the config serializes"),
            )
            .expect("write the re-rooted config");
            cmd.env("NUGET_FEED_CONFIG", copy);
        }
        cmd.env("NUGET_FEED_LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let log = root.path().join("feed-server.log");
        let mut process = Process::spawn(&format!("feed-server {name}"), cmd, &log);
        let ready = container["readinessProbe"]["httpGet"]["path"]
            .as_str()
            .expect("a readiness probe");
        if let Err(e) = process.wait_ready(
            &format!("http://127.0.0.1:{port}{ready}"),
            Ready::Answers,
            Duration::from_secs(60),
        ) {
            panic!("{e}");
        }
        FeedPod {
            port,
            root,
            process,
        }
    }

    /// Writes the ConfigMap and Secret volumes again from `live` objects, as the kubelet
    /// updates a running pod's volumes when their objects change (each file replaced whole).
    pub fn update_volumes(&self, live: &[Value]) {
        write_volumes(self.root.path(), pod_spec(live), live, &[]);
    }
}

/// The pod template of the Deployment among `objects`.
fn pod_spec(objects: &[Value]) -> &Value {
    let deployment = objects
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a rendered Deployment");
    &deployment["spec"]["template"]["spec"]
}

fn find<'a>(
    rendered: &'a [Value],
    secrets: &'a [Value],
    kind: &str,
    name: &str,
) -> Option<&'a Value> {
    rendered
        .iter()
        .chain(secrets)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

/// Materialises the first container's volumes under `root` (ConfigMap and Secret volumes as
/// files, emptyDir and persistentVolumeClaim volumes as folders) and returns their mount paths.
fn write_volumes(root: &Path, pod: &Value, rendered: &[Value], secrets: &[Value]) -> Vec<String> {
    let mut mounts: Vec<String> = Vec::new();
    for m in pod["containers"][0]["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let path = m["mountPath"].as_str().expect("a mountPath");
        let volume = pod["volumes"]
            .as_array()
            .expect("the pod has volumes")
            .iter()
            .find(|v| v["name"] == m["name"])
            .expect("every mount has a volume");
        let dir = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).expect("create a volume folder");
        let source = match (
            volume["configMap"]["name"].as_str(),
            volume["secret"]["secretName"].as_str(),
        ) {
            (Some(cm), _) => Some(
                find(rendered, secrets, "ConfigMap", cm)
                    .unwrap_or_else(|| panic!("ConfigMap {cm}")),
            ),
            (None, Some(s)) => {
                Some(find(rendered, secrets, "Secret", s).unwrap_or_else(|| panic!("Secret {s}")))
            }
            (None, None) => None,
        };
        for (file, bytes) in source.map(object_data).unwrap_or_default() {
            // Replaced whole (write, then rename), so the server never reads half a file.
            let partial = dir.join(format!(".{file}.partial"));
            std::fs::write(&partial, bytes).expect("write a volume file");
            std::fs::rename(&partial, dir.join(file)).expect("replace a volume file");
        }
        mounts.push(path.to_owned());
    }
    mounts
}
