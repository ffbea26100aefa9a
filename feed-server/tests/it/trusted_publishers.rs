//! Trusted publishers (issue 14): a local OIDC issuer (`nuget_test_support::oidc`) mints tokens
//! in GitHub's and GitLab's claim shapes; the feed exchanges them once each at its
//! TokenService for temporary keys that push, expire and work on another server process over
//! the same storage, accepts them directly as API keys, and refuses every broken or untrusted
//! token with the right status, storing nothing. The audit log names the policy and the
//! subject, never the token.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use nuget_feed_config::TrustedPublisher;
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::oidc::{Issuer, github_claims, gitlab_claims};
use serde_json::{Value, json};

use crate::common::process::{FeedConfig, FeedProcess};
use crate::common::server::{Client, TestServer};

/// The GitHub-shaped policy of these tests: pushes `Contoso.*` from `contoso/lib`'s release
/// workflow, tokens at most 10 minutes old.
fn github_policy(issuer: &Issuer) -> TrustedPublisher {
    serde_yaml_ng::from_str(&format!(
        "name: release\nissuer: {}\ngithub: {{repository: contoso/lib, workflow: release.yml}}\npackages: ['Contoso.*']\nmax_token_age_seconds: 600\n",
        issuer.url()
    ))
    .unwrap()
}

/// The GitLab-shaped policy: the `main` branch of `group/lib`, push and unlist of `Group.*`.
fn gitlab_policy(issuer: &Issuer) -> TrustedPublisher {
    serde_yaml_ng::from_str(&format!(
        "name: gitlab-main\nissuer: {}\ngitlab: {{project_path: group/lib, ref: main}}\npackages: ['Group.*']\n",
        issuer.url()
    ))
    .unwrap()
}

async fn start(policies: Vec<TrustedPublisher>, lifetime: Option<u64>) -> TestServer {
    TestServer::start(move |f, _| {
        f.trusted_publishers = policies;
        f.temporary_key_lifetime_seconds = lifetime;
    })
    .await
}

/// POSTs `token` to the feed's token service as the `NuGet/login` action does.
async fn exchange(c: &Client, url: &str, token: &str) -> reqwest::Response {
    c.http
        .post(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("user-agent", "nuget/login-action")
        .body(r#"{"username":"contoso","tokenType":"ApiKey"}"#)
        .send()
        .await
        .unwrap()
}

/// The `@id` of the service index's TokenService/1.0.0.
async fn token_service(c: &Client, s: &TestServer) -> String {
    let index = c.json(&s.url("index.json")).await;
    index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == "TokenService/1.0.0")
        .expect("TokenService/1.0.0 is advertised")["@id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The token service's records and the packages in the feed's folder.
fn trust_and_packages(s: &TestServer) -> Vec<String> {
    s.stored_files()
        .into_iter()
        .filter(|f| f.starts_with("trust") || f.starts_with("packages"))
        .collect()
}

/// The key of a 200 answer, after checking both field names and the expiry are there.
async fn issued_key(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "api_key");
    assert_eq!(body["apiKey"], body["api_key"]);
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires"].as_str().unwrap()).unwrap();
    assert!(expires > chrono::Utc::now());
    body["apiKey"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_is_exchanged_once_for_a_key_that_pushes_as_the_policy() {
    let issuer = Issuer::start();
    let s = start(vec![github_policy(&issuer)], None).await;
    let c = Client::new();
    let url = token_service(&c, &s).await;
    assert_eq!(url, s.url("token"));
    let claims = github_claims(&s.base, "contoso/lib", "refs/heads/main", "release.yml");
    let token = issuer.mint(claims.clone());
    let key = issued_key(exchange(&c, &url, &token).await).await;
    assert!(!key.contains('.'), "a key, not a token");

    let again = exchange(&c, &url, &token).await;
    assert_eq!(again.status(), 401);
    assert_eq!(again.headers()["www-authenticate"], "Bearer");
    assert!(again.text().await.unwrap().contains("exchanged already"));

    let pkg = PackageBuilder::new("Contoso.Lib", "1.0.0").build();
    assert_eq!(c.push(&s, Some(&key), &pkg).await.status(), 201);
    let other = PackageBuilder::new("Other.Lib", "1.0.0").build();
    let refused = c.push(&s, Some(&key), &other).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("the trusted publisher `release` may not push package `Other.Lib`")
    );
    // The policy owns what it may push (SQ-10), next to the keys that may.
    let search = c.json(&s.url("query?q=contoso.lib")).await;
    assert_eq!(
        search["data"][0]["owners"],
        json!(["admin", "contoso-ci", "release"])
    );
    // Stored hashed: neither the key nor the token is in any stored object.
    for file in trust_and_packages(&s) {
        let bytes = std::fs::read(s.data_dir().join(&file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&key) && !text.contains(&token), "{file}");
        assert!(!file.contains(&key), "{file}");
    }

    // A subject that exchanges too often waits.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = exchange(&c, &url, &issuer.mint(claims.clone())).await;
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    s.stop().await;
}

#[tokio::test]
async fn broken_and_untrusted_tokens_are_refused_and_nothing_is_stored() {
    let issuer = Issuer::start();
    let stranger = Issuer::start();
    let s = start(vec![github_policy(&issuer)], None).await;
    let c = Client::new();
    let url = token_service(&c, &s).await;
    let good = github_claims(&s.base, "contoso/lib", "refs/heads/main", "release.yml");
    let with = |edit: Value| {
        let mut claims = good.clone();
        for (name, value) in edit.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let now = chrono::Utc::now().timestamp();
    // A token signed by a key the issuer does not publish.
    issuer.rotate();
    let unknown_kid = issuer.mint(good.clone());
    issuer.rotate();
    let evil = issuer.mint(with(json!({"repository": "evil/lib"})));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "claims that do not match",
            evil.clone(),
            403,
            "claim `repository` does not match `contoso/lib`",
        ),
        (
            "another workflow",
            issuer.mint(with(json!({"job_workflow_ref": "contoso/lib/.github/workflows/other.yml@refs/heads/main"}))),
            403,
            "claim `job_workflow_ref` does not match",
        ),
        ("a wrong kid", unknown_kid, 401, "`test-key-2` is not among the keys"),
        ("alg none", issuer.mint_unsigned(good.clone()), 401, "algorithm `none` is not accepted"),
        (
            "HS256 signed with the public key",
            issuer.mint_hs256_with_public_key(good.clone()),
            401,
            "algorithm `HS256` is not accepted",
        ),
        (
            "a tampered payload",
            Issuer::tamper(&evil, &issuer.claims(good.clone())),
            401,
            "signature does not verify",
        ),
        (
            "an unknown issuer",
            stranger.mint(good.clone()),
            401,
            "no trusted publisher of this feed accepts tokens of issuer",
        ),
        (
            "a wrong audience",
            issuer.mint(with(json!({"aud": "https://nuget.example.com"}))),
            401,
            "does not include",
        ),
        (
            "an expired token",
            issuer.mint(with(json!({"iat": now - 500, "nbf": now - 500, "exp": now - 120}))),
            401,
            "expired",
        ),
        (
            "a token too old",
            issuer.mint(with(json!({"iat": now - 700, "nbf": now - 700}))),
            401,
            "more than the 600 s allowed",
        ),
    ];
    let pkg = PackageBuilder::new("Contoso.Lib", "1.0.0").build();
    for (what, token, status, message) in &cases {
        let response = exchange(&c, &url, token).await;
        assert_eq!(response.status(), *status, "{what}");
        let text = response.text().await.unwrap();
        assert!(text.contains(message), "{what}: {text}");
        assert!(
            !text.contains(token.as_str()),
            "{what}: the token is not echoed"
        );
        // The same token as an API key: the same refusal.
        let pushed = c.push(&s, Some(token), &pkg).await;
        assert_eq!(pushed.status(), *status, "{what}, pushed directly");
    }
    assert!(
        trust_and_packages(&s).is_empty(),
        "{:?}",
        trust_and_packages(&s)
    );
    let no_token = c.http.post(&url).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn a_token_sent_as_the_api_key_pushes_and_manages_as_its_policy() {
    let issuer = Issuer::start();
    let s = start(vec![github_policy(&issuer), gitlab_policy(&issuer)], None).await;
    let c = Client::new();
    let token = issuer.mint(gitlab_claims(&s.base, "group/lib", "main"));
    let pkg = PackageBuilder::new("Group.Lib", "1.0.0").build();
    assert_eq!(c.push(&s, Some(&token), &pkg).await.status(), 201);
    // The same token again: a direct push does not use the token up.
    let next = PackageBuilder::new("Group.Lib", "1.1.0").build();
    assert_eq!(c.push(&s, Some(&token), &next).await.status(), 201);
    let url = s.url("package/Group.Lib/1.0.0");
    assert_eq!(c.delete(&url, &token).await.status(), 204);
    let search = c.json(&s.url("query?q=group.lib")).await;
    assert_eq!(search["data"][0]["owners"], json!(["admin", "gitlab-main"]));
    let branch = issuer.mint(gitlab_claims(&s.base, "group/lib", "feature"));
    let refused = c
        .push(
            &s,
            Some(&branch),
            &PackageBuilder::new("Group.Lib", "2.0.0").build(),
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("claim `ref` does not match `main`")
    );
    s.stop().await;
}

#[tokio::test]
async fn rotated_keys_are_picked_up_from_a_key_file_and_by_discovery() {
    let issuer = Issuer::start();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, issuer.jwks()).unwrap();
    let mut from_file = github_policy(&issuer);
    from_file.name = "from-file".into();
    from_file.jwks = nuget_feed_config::JwksSource::File(jwks.clone());
    let by_discovery = gitlab_policy(&issuer);
    let s = start(vec![from_file, by_discovery], None).await;
    let c = Client::new();
    let url = s.url("token");
    let github = || github_claims(&s.base, "contoso/lib", "refs/heads/main", "release.yml");
    let gitlab = || gitlab_claims(&s.base, "group/lib", "main");
    issued_key(exchange(&c, &url, &issuer.mint(github())).await).await;
    issued_key(exchange(&c, &url, &issuer.mint(gitlab())).await).await;

    issuer.rotate();
    // The operator rewrites the mounted file: read again because it changed.
    std::fs::write(&jwks, issuer.jwks()).unwrap();
    issued_key(exchange(&c, &url, &issuer.mint(github())).await).await;
    // Discovery: an unknown kid fetches the keys again, at most once per interval per issuer.
    let start = Instant::now();
    loop {
        let response = exchange(&c, &url, &issuer.mint(gitlab())).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 401);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "rotation not picked up"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Tokens with made-up kids do not make the feed hammer the issuer.
    let before = issuer.requests();
    issuer.rotate();
    for _ in 0..20 {
        let response = exchange(&c, &url, &issuer.mint(gitlab())).await;
        assert_eq!(response.status(), 401);
    }
    assert!(
        issuer.requests() - before <= 4,
        "{} fetches",
        issuer.requests() - before
    );
    s.stop().await;
}

#[tokio::test]
async fn an_exchanged_key_expires() {
    let issuer = Issuer::start();
    let s = start(vec![github_policy(&issuer)], Some(1)).await;
    let c = Client::new();
    let token = issuer.mint(github_claims(
        &s.base,
        "contoso/lib",
        "refs/heads/main",
        "release.yml",
    ));
    let key = issued_key(exchange(&c, &s.url("token"), &token).await).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let pkg = PackageBuilder::new("Contoso.Lib", "1.0.0").build();
    let refused = c.push(&s, Some(&key), &pkg).await;
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("expired"));
    assert!(!s.stored_files().iter().any(|f| f.starts_with("packages")));
    s.stop().await;
}

/// Keys that cannot be read are "retry later" (503) for every token until a read succeeds,
/// also for the tokens that come in the interval before the next read is allowed (which must
/// not be told their key is unknown, 401), and nothing is issued.
#[tokio::test]
async fn an_issuer_whose_keys_cannot_be_read_is_a_503_for_every_token() {
    let issuer = Issuer::start();
    let mut policy = github_policy(&issuer);
    policy.jwks = nuget_feed_config::JwksSource::Url(format!("{}/no-keys-here", issuer.url()));
    let s = start(vec![policy], None).await;
    let c = Client::new();
    let claims = || github_claims(&s.base, "contoso/lib", "refs/heads/main", "release.yml");
    for attempt in 0..3 {
        let r = exchange(&c, &s.url("token"), &issuer.mint(claims())).await;
        assert_eq!(r.status(), 503, "attempt {attempt}");
        let text = r.text().await.unwrap();
        assert!(text.contains("cannot be read just now"), "{text}");
    }
    assert_eq!(issuer.requests(), 1, "one read per interval");
    assert!(!s.stored_files().iter().any(|f| f.starts_with("trust/")));
    s.stop().await;
}

/// Two server processes over one folder, logging as an operator reads them.
fn replicas(dir: &Path, issuer: &Issuer) -> (FeedProcess, FeedProcess) {
    let storage = dir.join("data");
    let mut config = FeedConfig::new(storage.to_str().unwrap());
    config.log_filter = Some("info".into());
    config.trusted_publishers = vec![github_policy(issuer), gitlab_policy(issuer)];
    (
        FeedProcess::start(dir, "one", config.clone()),
        FeedProcess::start(dir, "two", config),
    )
}

#[tokio::test]
async fn a_key_from_one_replica_pushes_on_another_and_the_audit_names_policy_and_subject() {
    let issuer = Issuer::start();
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = replicas(dir.path(), &issuer);
    let c = Client::new();
    let token = issuer.mint(github_claims(
        &one.base(),
        "contoso/lib",
        "refs/heads/main",
        "release.yml",
    ));
    let key = issued_key(exchange(&c, &one.url("token"), &token).await).await;
    let pkg = PackageBuilder::new("Contoso.Lib", "1.0.0").build();
    assert_eq!(
        c.push_to(&two.url("package/"), Some(&key), &pkg)
            .await
            .status(),
        201
    );
    // Replica two's audience is its own URL: a token for it, sent directly.
    let direct = issuer.mint(gitlab_claims(&two.base(), "group/lib", "main"));
    let group = PackageBuilder::new("Group.Lib", "1.0.0").build();
    assert_eq!(
        c.push_to(&two.url("package/"), Some(&direct), &group)
            .await
            .status(),
        201
    );

    let log = two.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("push of")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("push of Contoso.Lib 1.0.0 by trusted publisher `release` (subject `repo:contoso/lib:ref:refs/heads/main`)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("by trusted publisher `gitlab-main` (subject `project_path:group/lib:ref_type:branch:ref:main`)"),
        "{}",
        lines[1]
    );
    // A refused exchange (the token again) is in the audit trail, by kind, with the reason.
    let again = exchange(&c, &one.url("token"), &token).await;
    assert_eq!(again.status(), 401);
    let issued = one.log();
    assert!(
        issued.contains("temporary key issued to trusted publisher `release`"),
        "{issued}"
    );
    let refused = issued
        .lines()
        .find(|l| l.contains("refused with 401 Unauthorized for a token"))
        .unwrap_or_else(|| panic!("no refusal line:\n{issued}"));
    assert!(
        refused.contains("WARN") && refused.contains("exchanged"),
        "{refused}"
    );
    for log in [issued, log] {
        assert!(!log.contains(&token) && !log.contains(&direct) && !log.contains(&key));
    }
}
