//! The shell scripts this repository asks people and CI to run: they pass shellcheck, and the
//! kind quick start (README and `tests/kind-quickstart.sh`, which need Docker and so cannot
//! run here) agrees with the chart and the Dockerfile on image names, tags and targets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use nuget_test_support::tools::{
    CHART_TOOLS_HINT, find_in_path, missing_or_skip, repo_root, tool_path,
};

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap()
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let shellcheck = match tool_path("SHELLCHECK", find_in_path("shellcheck")) {
        Ok(s) => s,
        Err(why) => return missing_or_skip("shellcheck", &why, CHART_TOOLS_HINT).unwrap_or(()),
    };
    let mut scripts: Vec<PathBuf> = ["tests", "bench", ".ci"]
        .into_iter()
        .flat_map(|dir| std::fs::read_dir(repo_root().join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.push(repo_root().join(".ci/run"));
    assert!(
        scripts.iter().any(|p| p.ends_with(".ci/preflight.sh")),
        "{scripts:?}"
    );
    assert!(scripts.len() >= 10, "{scripts:?}");
    let out = std::process::Command::new(shellcheck)
        .args(&scripts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn kind_quick_start_matches_the_chart_and_the_dockerfile() {
    let chart: serde_json::Value =
        serde_yaml_ng::from_str(&read("charts/nuget-operator/Chart.yaml")).unwrap();
    let version = chart["appVersion"].as_str().unwrap();
    let readme = read("README.md");
    let kind = readme
        .split("### Try it on kind")
        .nth(1)
        .expect("the README has a kind quick start")
        .split("\n## ")
        .next()
        .unwrap();
    let script = read("tests/kind-quickstart.sh");
    let dockerfile = read("Dockerfile");
    for (target, image) in [
        ("operator", "ghcr.io/nuget-operator/nuget-operator"),
        ("feed-server", "ghcr.io/nuget-operator/nuget-feed-server"),
    ] {
        assert!(dockerfile.contains(&format!(" AS {target}\n")), "{target}");
        assert!(
            kind.contains(&format!(
                "docker build --target {target} -t {image}:{version} ."
            )),
            "the README builds {image}:{version} from target {target}"
        );
        assert!(
            script.contains(&format!("--target {target} -t \"$")),
            "the script builds target {target}"
        );
    }
    assert!(script.contains("ghcr.io/nuget-operator/nuget-operator:$VERSION"));
    assert!(script.contains("ghcr.io/nuget-operator/nuget-feed-server:$VERSION"));
    for step in [
        "--set platform.host=localhost --set platform.ingressClassName=nginx",
        "kubectl apply -f examples/pvc/",
        "kubectl -n team-a wait nugetfeed/main --for=condition=Ready",
        "dotnet nuget push",
        "allowInsecureConnections=\"true\"",
    ] {
        assert!(kind.contains(step), "README kind quick start: {step}");
        assert!(script.contains(step), "tests/kind-quickstart.sh: {step}");
    }
}
