//! The web pages (issue 15) over real HTTP, read as parsed HTML: the feed page and its search,
//! package version pages (unlisted, deprecated, vulnerable, SemVer 2.0.0 and prerelease
//! versions), the setup page, read protection, hostile packages, and the snippets' texts.
#![allow(clippy::unwrap_used)]

use nuget_feed_server::testing::PackageBuilder;
use scraper::{ElementRef, Html, Selector};

use crate::common::server::{ADMIN_KEY, Client, READ_TOKEN, TestServer};

const BASE: &str = "/team-a/main";
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn push_ok(c: &Client, s: &TestServer, pkg: &PackageBuilder) {
    let r = c.push(s, Some(ADMIN_KEY), &pkg.build()).await;
    let status = r.status();
    assert_eq!(status, 201, "{}", r.text().await.unwrap());
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

fn all<'a>(doc: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    doc.select(&sel(css)).collect()
}

fn one<'a>(doc: &'a Html, css: &str) -> ElementRef<'a> {
    let found = all(doc, css);
    assert_eq!(found.len(), 1, "exactly one `{css}` in\n{}", doc.html());
    found[0]
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect::<String>()
}

/// A page: status 200, HTML with the security headers; its document.
async fn page(c: &Client, url: &str) -> Html {
    let r = c.get(url).await;
    assert_eq!(r.status(), 200, "GET {url}");
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_security_headers(&r);
    Html::parse_document(&r.text().await.unwrap())
}

fn assert_security_headers(r: &reqwest::Response) {
    assert_eq!(r.headers()["content-security-policy"], CSP);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

/// The landmarks and frame every page has (the browser test relies on them).
fn assert_frame(doc: &Html) {
    assert_eq!(one(doc, "html").value().attr("lang"), Some("en"));
    one(doc, "header");
    assert!(!all(doc, "nav").is_empty());
    one(doc, "main#main");
    one(doc, "footer");
    assert_eq!(one(doc, "a.skip").value().attr("href"), Some("#main"));
    // No inline script or style: the CSP would block them.
    for script in all(doc, "script") {
        let src = script.value().attr("src").unwrap();
        assert!(
            src.starts_with(&format!("{BASE}/static/copy.js?v=")),
            "{src}"
        );
        assert!(text(script).is_empty());
    }
    assert!(all(doc, "style").is_empty() && all(doc, "[style]").is_empty());
}

fn result_ids(doc: &Html) -> Vec<String> {
    all(doc, "#results li.result a.result-id")
        .into_iter()
        .map(text)
        .collect()
}

#[tokio::test]
async fn the_feed_page_searches_pages_and_hides_unlisted_and_prereleases() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    for n in 0..25 {
        let pkg = PackageBuilder::new(&format!("Web.Pkg{n:02}"), "1.0.0")
            .title(&format!("Package {n}"))
            .summary("A package to list")
            .tags("web list");
        push_ok(&c, &s, &pkg).await;
    }
    push_ok(&c, &s, &PackageBuilder::new("Web.Pre", "1.0.0-beta")).await;
    push_ok(&c, &s, &PackageBuilder::new("Web.Hidden", "1.0.0")).await;
    let r = c
        .delete(&s.url("package/Web.Hidden/1.0.0"), ADMIN_KEY)
        .await;
    assert_eq!(r.status(), 204);

    let doc = page(&c, &s.url("")).await;
    assert_frame(&doc);
    let form = one(&doc, "form[role=search]");
    assert_eq!(form.value().attr("method"), Some("get"));
    assert_eq!(form.value().attr("action"), Some("/team-a/main/"));
    let q = one(&doc, "form input#q");
    assert_eq!(
        (q.value().attr("type"), q.value().attr("name")),
        (Some("search"), Some("q"))
    );
    one(&doc, "label[for=q]");
    let pre = one(&doc, "form input#prerelease");
    assert_eq!(pre.value().attr("type"), Some("checkbox"));
    assert_eq!(pre.value().attr("value"), Some("true"));
    one(&doc, "label[for=prerelease]");
    one(&doc, "form button[type=submit]");
    assert!(text(one(&doc, "p#result-count")).contains("25"));
    let ids = result_ids(&doc);
    assert_eq!(ids.len(), 20);
    assert!(
        !ids.iter().any(|id| id == "Web.Hidden" || id == "Web.Pre"),
        "{ids:?}"
    );
    let first = one(&doc, "#results li.result:first-child");
    let link = first.select(&sel("a.result-id")).next().unwrap();
    let version = text(first.select(&sel("span.result-version")).next().unwrap());
    assert_eq!(version, "1.0.0");
    assert_eq!(
        link.value().attr("href").unwrap(),
        format!("{BASE}/packages/{}/1.0.0", text(link))
    );
    assert!(text(first).contains("A package to list"));
    assert!(text(first).contains("admin"), "owners: {}", text(first));
    assert!(all(&doc, "a[rel=prev]").is_empty());
    let next = one(&doc, "nav[aria-label=Pages] a[rel=next]");
    let next = next.value().attr("href").unwrap().to_owned();
    assert_eq!(next, format!("{BASE}/?page=2"));

    let doc = page(&c, &format!("{}{next}", s.root)).await;
    assert_eq!(result_ids(&doc).len(), 5);
    one(&doc, "nav[aria-label=Pages] a[rel=prev]");
    assert!(all(&doc, "a[rel=next]").is_empty());

    let doc = page(&c, &s.url("?q=Web.Pkg07")).await;
    assert_eq!(result_ids(&doc)[0], "Web.Pkg07");
    assert_eq!(
        one(&doc, "input#q").value().attr("value"),
        Some("Web.Pkg07")
    );
    let doc = page(&c, &s.url("?q=Web.Pre")).await;
    assert!(!result_ids(&doc).contains(&"Web.Pre".to_owned()));
    let doc = page(&c, &s.url("?q=Web.Pre&prerelease=true")).await;
    assert_eq!(result_ids(&doc)[0], "Web.Pre");
    assert!(
        one(&doc, "input#prerelease")
            .value()
            .attr("checked")
            .is_some()
    );

    // Bad input: an HTML page that names the value.
    let r = c.get(&s.url("?page=0")).await;
    assert_eq!(r.status(), 400);
    assert_security_headers(&r);
    let doc = Html::parse_document(&r.text().await.unwrap());
    assert!(text(one(&doc, "main")).contains("page=0"));

    // The path base without its slash goes to the feed page.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(&s.base).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/team-a/main/");
    // The service index is where it was.
    let index = c.json(&s.url("index.json")).await;
    assert_eq!(index["version"], "3.0.0");
    s.stop().await;
}

#[tokio::test]
async fn pages_are_cached_with_etags_until_the_package_changes() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Web.Cached", "1.0.0")).await;
    let url = s.url("packages/Web.Cached");
    let r = c.get(&url).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = c
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    push_ok(&c, &s, &PackageBuilder::new("Web.Cached", "2.0.0")).await;
    let r = c
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a new version: a new page");
    let doc = Html::parse_document(&r.text().await.unwrap());
    assert_eq!(text(one(&doc, "#package-title span.version")), "2.0.0");
    let feed = page(&c, &s.url("")).await;
    assert_eq!(text(one(&feed, "span.result-version")), "2.0.0");

    for file in ["site.css", "copy.js"] {
        let r = c.get(&s.url(&format!("static/{file}"))).await;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age=31536000")
        );
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let again = c
            .http
            .get(s.url(&format!("static/{file}")))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{file}");
    }
    s.stop().await;
}

const ADVISORIES: &str = "- id: Web.Lib\n  url: https://example.com/advisory/7\n  severity: 3\n  versions: \"[1.0.0, 1.0.0]\"\n";

#[tokio::test]
async fn a_version_page_shows_readme_versions_dependencies_and_states() {
    let s = TestServer::start(|f, dir| {
        f.path_base = Some(BASE.into());
        let path = dir.join("advisories.yaml");
        std::fs::write(&path, ADVISORIES).unwrap();
        f.vulnerabilities_file = Some(path);
    })
    .await;
    let c = Client::new();
    let v1 = PackageBuilder::new("Web.Lib", "1.0.0")
        .title("The web library")
        .authors("Ann, Bob")
        .tags("web html")
        .license_expression("MIT")
        .readme(
            "docs/README.md",
            "# Web.Lib\n\nRead **me**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        )
        .dependency(Some("net8.0"), "Web.Dep", "1.0.0")
        .dependency(Some("netstandard2.0"), "Other.Dep", "[2.0.0, 3.0.0)");
    push_ok(&c, &s, &v1).await;
    push_ok(&c, &s, &PackageBuilder::new("Web.Lib", "1.1.0")).await;
    push_ok(&c, &s, &PackageBuilder::new("Web.Lib", "1.5.0+build.7")).await;
    push_ok(&c, &s, &PackageBuilder::new("Web.Lib", "2.0.0-beta.1")).await;
    let r = c.delete(&s.url("package/Web.Lib/1.1.0"), ADMIN_KEY).await;
    assert_eq!(r.status(), 204);
    let deprecation =
        r#"{"reasons": ["Legacy"], "message": "Use 1.5.", "alternatePackage": {"id": "Web.Next"}}"#;
    let r = c
        .put_body(
            &s.url("package/Web.Lib/1.0.0/deprecation"),
            Some(ADMIN_KEY),
            deprecation,
        )
        .await;
    assert_eq!(r.status(), 204);

    // The latest listed stable version, with SemVer 2.0.0 metadata.
    let doc = page(&c, &s.url("packages/web.lib")).await;
    assert_frame(&doc);
    let title = one(&doc, "h1#package-title");
    assert!(text(title).starts_with("Web.Lib"));
    assert_eq!(
        text(one(&doc, "h1#package-title span.version")),
        "1.5.0+build.7"
    );
    let rows: Vec<(String, String)> = all(&doc, "table#versions tbody tr td:first-child a")
        .into_iter()
        .map(|a| (text(a), a.value().attr("href").unwrap().to_owned()))
        .collect();
    let versions = ["2.0.0-beta.1", "1.5.0+build.7", "1.1.0", "1.0.0"];
    assert_eq!(
        rows,
        versions.map(|v| (v.to_owned(), format!("{BASE}/packages/Web.Lib/{v}")))
    );
    assert_eq!(
        text(one(&doc, "table#versions a[aria-current=page]")),
        "1.5.0+build.7"
    );
    let unlisted_row = one(&doc, "table#versions tr.unlisted");
    assert!(text(unlisted_row).contains("1.1.0") && text(unlisted_row).contains("Unlisted"));
    // Without a README, the description.
    one(&doc, "#readme p.description");
    assert!(all(&doc, "#readme .readme").is_empty());

    // One version: README, dependencies per framework, license, deprecated and vulnerable.
    let doc = page(&c, &s.url("packages/Web.Lib/1.0.0")).await;
    assert_eq!(text(one(&doc, "#readme .readme h1")), "Web.Lib");
    assert_eq!(text(one(&doc, "#readme .readme strong")), "me");
    one(&doc, "#readme .readme table");
    let frameworks: Vec<String> = all(&doc, "#dependencies h3")
        .into_iter()
        .map(text)
        .collect();
    assert_eq!(frameworks, ["net8.0", "netstandard2.0"]);
    let deps: Vec<(String, String)> = all(&doc, "#dependencies li a")
        .into_iter()
        .map(|a| (text(a), a.value().attr("href").unwrap().to_owned()))
        .collect();
    assert_eq!(
        deps,
        [
            ("Web.Dep".to_owned(), format!("{BASE}/packages/Web.Dep")),
            ("Other.Dep".to_owned(), format!("{BASE}/packages/Other.Dep")),
        ]
    );
    assert_eq!(
        text(one(&doc, "table#versions a[aria-current=page]")),
        "1.0.0"
    );
    assert!(text(one(&doc, "#deprecation")).contains("Use 1.5."));
    assert_eq!(
        one(&doc, "#deprecation a").value().attr("href"),
        Some("/team-a/main/packages/Web.Next")
    );
    one(&doc, ".badge.deprecated");
    one(&doc, ".badge.vulnerable");
    assert_eq!(
        one(&doc, "#vulnerabilities a").value().attr("href"),
        Some("https://example.com/advisory/7")
    );
    assert!(text(one(&doc, "#vulnerabilities li")).contains("critical severity"));
    let license = one(&doc, "aside a[href='https://licenses.nuget.org/MIT']");
    assert_eq!(text(license), "MIT");
    assert!(text(one(&doc, "aside")).contains("Ann, Bob"));

    // Unlisted: reachable by its URL, and marked.
    let doc = page(&c, &s.url("packages/Web.Lib/1.1.0")).await;
    one(&doc, "#unlisted-notice");
    one(&doc, ".badge.unlisted");
    // A prerelease.
    let doc = page(&c, &s.url("packages/Web.Lib/2.0.0-beta.1")).await;
    assert_eq!(
        text(one(&doc, "h1#package-title span.version")),
        "2.0.0-beta.1"
    );

    // Unknown ids and versions: an HTML 404.
    for missing in [
        "packages/No.Such",
        "packages/Web.Lib/9.9.9",
        "packages/Web.Lib/not-a-version",
    ] {
        let r = c.get(&s.url(missing)).await;
        assert_eq!(r.status(), 404, "{missing}");
        assert_security_headers(&r);
        let doc = Html::parse_document(&r.text().await.unwrap());
        assert_frame(&doc);
    }
    s.stop().await;
}

#[tokio::test]
async fn only_prereleases_show_the_latest_prerelease() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Web.Beta", "1.0.0-alpha")).await;
    push_ok(&c, &s, &PackageBuilder::new("Web.Beta", "1.0.0-beta")).await;
    let doc = page(&c, &s.url("packages/Web.Beta")).await;
    assert_eq!(
        text(one(&doc, "h1#package-title span.version")),
        "1.0.0-beta"
    );
    s.stop().await;
}

#[tokio::test]
async fn embedded_icons_and_license_files_link_to_the_feed() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    let pkg = PackageBuilder::new("Web.Files", "1.0.0")
        .icon("icon.png", b"\x89PNG\r\n\x1a\nfake")
        .license_file("LICENSE.txt", b"All rights reserved.");
    push_ok(&c, &s, &pkg).await;
    let flat = s.url("flatcontainer/web.files/1.0.0");
    let doc = page(&c, &s.url("packages/Web.Files")).await;
    let icon = one(&doc, ".package-head img.icon");
    assert_eq!(icon.value().attr("src").unwrap(), format!("{flat}/icon"));
    assert_eq!(
        icon.value().attr("alt"),
        Some(""),
        "decorative: the id is beside it"
    );
    let license = one(&doc, "aside ul.links a");
    assert_eq!(text(license), "License");
    assert_eq!(
        license.value().attr("href").unwrap(),
        format!("{flat}/license")
    );
    let feed = page(&c, &s.url("")).await;
    let icon = one(&feed, "li.result img.icon");
    assert_eq!(icon.value().attr("src").unwrap(), format!("{flat}/icon"));
    s.stop().await;
}

/// The install snippets for `id` `version`: (kind, text), in page order.
fn snippets(doc: &Html) -> Vec<(String, String)> {
    all(doc, "figure.snippet")
        .into_iter()
        .map(|f| {
            let id = f.value().attr("id").unwrap().to_owned();
            let button = f.select(&sel("button.copy[type=button]")).next().unwrap();
            assert_eq!(button.value().attr("data-copy"), Some(id.as_str()));
            assert_eq!(text(button), "Copy");
            let code = f.select(&sel("pre > code")).next().unwrap();
            (id.trim_start_matches("snippet-").to_owned(), text(code))
        })
        .collect()
}

#[tokio::test]
async fn snippets_are_what_the_clients_take() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Web.Snip", "2.1.0-rc.1")).await;
    let doc = page(&c, &s.url("packages/Web.Snip/2.1.0-rc.1")).await;
    let source = s.url("index.json");
    let expected = [
        ("dotnet-cli", "dotnet add package Web.Snip --version 2.1.0-rc.1".to_owned()),
        (
            "package-reference",
            r#"<PackageReference Include="Web.Snip" Version="2.1.0-rc.1" />"#.to_owned(),
        ),
        (
            "cpm",
            "<!-- Directory.Packages.props -->\n<PackageVersion Include=\"Web.Snip\" Version=\"2.1.0-rc.1\" />\n\
             <!-- The project file -->\n<PackageReference Include=\"Web.Snip\" />"
                .to_owned(),
        ),
        ("paket", "paket add Web.Snip --version 2.1.0-rc.1".to_owned()),
        (
            "cake",
            format!(
                "// Install Web.Snip as a Cake Addin\n#addin nuget:{source}?package=Web.Snip&version=2.1.0-rc.1&prerelease\n\n\
                 // Install Web.Snip as a Cake Tool\n#tool nuget:{source}?package=Web.Snip&version=2.1.0-rc.1&prerelease"
            ),
        ),
        ("nuget-exe", "nuget install Web.Snip -Version 2.1.0-rc.1".to_owned()),
    ]
    .map(|(k, t)| (k.to_owned(), t));
    assert_eq!(snippets(&doc), expected);

    let doc = page(&c, &s.url("setup")).await;
    assert_frame(&doc);
    assert_eq!(text(one(&doc, "code#source-url")), source);
    let config = |credentials: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    \
             <add key=\"main\" value=\"{source}\" protocolVersion=\"3\" />\n  </packageSources>\n{credentials}</configuration>"
        )
    };
    let expected = [
        ("nuget-config", config("")),
        (
            "nuget-config-credentials",
            config(
                "  <packageSourceCredentials>\n    <main>\n      <add key=\"Username\" value=\"feed\" />\n      \
                 <add key=\"ClearTextPassword\" value=\"%FEED_READ_TOKEN%\" />\n    </main>\n  </packageSourceCredentials>\n",
            ),
        ),
        (
            "push-dotnet",
            format!("dotnet nuget push MyPackage.1.0.0.nupkg --source {source} --api-key <your-api-key>"),
        ),
        (
            "push-nuget-exe",
            format!("nuget push MyPackage.1.0.0.nupkg -Source {source} -ApiKey <your-api-key>"),
        ),
    ]
    .map(|(k, t)| (k.to_owned(), t));
    assert_eq!(snippets(&doc), expected);
    s.stop().await;
}

#[tokio::test]
async fn the_service_index_template_expands_to_a_page() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    push_ok(&c, &s, &PackageBuilder::new("Web.Tpl", "3.0.0")).await;
    let index = c.json(&s.url("index.json")).await;
    let template = index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == "PackageDetailsUriTemplate/5.1.0")
        .unwrap()["@id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(template, s.url("packages/{id}/{version}"));
    let url = template
        .replace("{id}", "Web.Tpl")
        .replace("{version}", "3.0.0");
    let doc = page(&c, &url).await;
    assert_eq!(text(one(&doc, "h1#package-title span.version")), "3.0.0");
    s.stop().await;
}

#[tokio::test]
async fn read_protected_pages_ask_for_the_token() {
    let s = TestServer::start_read_protected().await;
    let c = Client::new();
    let r = c
        .push(
            &s,
            Some(ADMIN_KEY),
            &PackageBuilder::new("Web.Secret", "1.0.0").build(),
        )
        .await;
    assert_eq!(r.status(), 201);
    for path in [
        "",
        "packages/Web.Secret",
        "packages/Web.Secret/1.0.0",
        "setup",
        "static/site.css",
    ] {
        let r = c.get(&s.url(path)).await;
        assert_eq!(r.status(), 401, "{path}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic"), "{challenge}");
        let r = c
            .http
            .get(s.url(path))
            .basic_auth("anyone", Some(READ_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("private"),
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn hostile_packages_render_harmless() {
    let s = TestServer::start(|f, _| f.path_base = Some(BASE.into())).await;
    let c = Client::new();
    let readme = "# Hi\n\n<script>alert('readme')</script>\n\n<img src=\"x\" onerror=\"alert(1)\">\n\n\
        [click](javascript:alert(1)) <a href=\"JaVaScRiPt:alert(2)\" onclick=\"alert(3)\">x</a>\n\n\
        <iframe src=\"https://evil.test\"></iframe><div id=\"main\" style=\"display:none\">clobber</div>\n\n\
        <svg><script>alert(4)</script></svg> ![ok](https://img.test/ok.png) ![local](pic.png)\n";
    let evil = PackageBuilder::new("Web.Evil", "1.0.0")
        .title("<img src=x onerror=alert(5)>")
        .description("<script>alert('description')</script>")
        .summary("<b onmouseover=alert(6)>summary</b>")
        .tags("<script>")
        .readme("README.md", readme);
    push_ok(&c, &s, &evil).await;
    // Words that do not compress well (a zip entry expanding 200 times is refused as a bomb).
    let words: String = (0..120_000u64)
        .map(|n| format!("w{} ", n * 7919 % 100_003))
        .collect();
    let huge = format!("# Huge\n\n{words}");
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Web.Huge", "1.0.0").readme("README.md", &huge),
    )
    .await;
    push_ok(
        &c,
        &s,
        &PackageBuilder::new("Web.Plain", "1.0.0").description("<script>alert('plain')</script>"),
    )
    .await;

    for path in [
        "packages/Web.Evil/1.0.0",
        "packages/Web.Plain",
        "?q=Web",
        "?q=<script>alert(1)</script>",
        "packages/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "packages/Web.Evil/%3Cimg%20src=x%20onerror=alert(1)%3E",
    ] {
        let r = c.get(&s.url(path)).await;
        assert_security_headers(&r);
        let doc = Html::parse_document(&r.text().await.unwrap());
        assert_frame(&doc);
        for e in all(&doc, "*") {
            for (name, value) in e.value().attrs() {
                assert!(!name.starts_with("on"), "{path}: {name}={value}");
                let lower = value.to_ascii_lowercase();
                assert!(
                    !lower.trim().starts_with("javascript:"),
                    "{path}: {name}={value}"
                );
                if name == "src" {
                    assert!(
                        value.starts_with("https://") || value.starts_with(BASE),
                        "{path}: {value}"
                    );
                }
            }
        }
        assert!(all(&doc, "iframe").is_empty(), "{path}");
        assert!(all(&doc, "[id=main]").len() == 1, "{path}: one #main");
    }
    // The hostile text is shown as text.
    let doc = page(&c, &s.url("packages/Web.Plain")).await;
    assert_eq!(
        text(one(&doc, "#readme .description")),
        "<script>alert('plain')</script>"
    );
    let doc = page(&c, &s.url("packages/Web.Evil/1.0.0")).await;
    assert_eq!(
        text(one(&doc, ".package-head .title")),
        "<img src=x onerror=alert(5)>"
    );
    let images: Vec<&str> = all(&doc, "#readme img")
        .into_iter()
        .filter_map(|i| i.value().attr("src"))
        .collect();
    assert_eq!(images, ["https://img.test/ok.png"]);
    let feed = page(&c, &s.url("?q=Web.Evil")).await;
    assert!(text(one(&feed, "li.result")).contains("<b onmouseover=alert(6)>summary</b>"));

    // A huge README: the page stays bounded and says it was cut.
    let r = c.get(&s.url("packages/Web.Huge")).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.len() < 400 * 1024, "{} bytes", body.len());
    let doc = Html::parse_document(&body);
    assert!(text(one(&doc, "#readme")).contains("longer than this page shows"));
    s.stop().await;
}
