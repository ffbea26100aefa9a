//! The V2 (OData) feed (issue 16): every endpoint's document parsed as the clients parse it,
//! bad OData input refused with 400 and a message, and the real V2 clients (NuGet.exe 5.8 and
//! 4.0 `list` through the service index's `LegacyGallery`, Debian's NuGet 2.8 `list` and
//! `install`) against the feed on loopback.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::common::server::{ADMIN_KEY, Client, READ_TOKEN, TestServer};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::nginx::{self, Nginx};
use nuget_test_support::nuget_exe::NuGetExe;
use nuget_test_support::nuget_v2::NuGetV2;
use nuget_test_support::ports::free_port;
use nuget_test_support::process::output_text;
use nuget_test_support::tools::{DEPS_HINT, missing_or_skip};

/// A parsed Atom feed or entry: each entry's `d:` properties by name, plus `title` and
/// `content@src`; the feed's `next` link and `m:count`.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    root: String,
    pub(crate) entries: Vec<HashMap<String, String>>,
    next: Option<String>,
    count: Option<usize>,
}

impl Feed {
    fn parse(xml: &str) -> Feed {
        let mut reader = Reader::from_str(xml);
        let mut feed = Feed::default();
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_owned();
                    feed.element(&name, &e, &path);
                    path.push(name);
                    text.clear();
                }
                Event::Empty(e) => {
                    let name = e.name().as_ref().to_owned();
                    feed.element(&name, &e, &path);
                    if let Some(prop) = name.strip_prefix("d:") {
                        let null = attr(&e, "m:null").is_some();
                        let entry = feed.entries.last_mut().unwrap();
                        entry.insert(
                            prop.into(),
                            if null { "<null>".into() } else { String::new() },
                        );
                    }
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    let name = r.as_ref().to_owned();
                    text.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("entity {other}"),
                    });
                }
                Event::End(_) => {
                    let name = path.pop().unwrap();
                    if let Some(prop) = name.strip_prefix("d:") {
                        feed.entries
                            .last_mut()
                            .unwrap()
                            .insert(prop.into(), text.clone());
                    } else if name == "title" && path.last().map(String::as_str) == Some("entry") {
                        feed.entries
                            .last_mut()
                            .unwrap()
                            .insert("title".into(), text.clone());
                    } else if name == "m:count" {
                        feed.count = Some(text.parse().unwrap());
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        feed
    }

    fn element(&mut self, name: &str, e: &quick_xml::events::BytesStart<'_>, path: &[String]) {
        if path.is_empty() {
            self.root = name.to_owned();
        }
        match name {
            "entry" => self.entries.push(HashMap::new()),
            "content" => {
                let src = attr(e, "src").unwrap();
                self.entries
                    .last_mut()
                    .unwrap()
                    .insert("content@src".into(), src);
            }
            "link" if attr(e, "rel").as_deref() == Some("next") => {
                self.next = attr(e, "href");
            }
            _ => {}
        }
    }

    /// `Id Version` of each entry.
    pub(crate) fn versions(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| format!("{} {}", e["Id"], e["Version"]))
            .collect()
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).unwrap().map(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .unwrap()
            .into_owned()
    })
}

/// GETs a V2 URL: status, content type and body.
async fn get(c: &Client, url: &str) -> (u16, String, String) {
    let r = c.get(url).await;
    let status = r.status().as_u16();
    let ty = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ty, r.text().await.unwrap())
}

pub(crate) async fn feed(c: &Client, url: &str) -> Feed {
    let (status, ty, body) = get(c, url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    assert!(ty.starts_with("application/atom+xml"), "{url}: {ty}");
    Feed::parse(&body)
}

/// A.Lib 1.0.0, 1.1.0 (unlisted), 2.0.0-beta; B.Tool 1.0.0 depending on A.Lib; C.Next
/// 3.0.0-rc.1 (SemVer2). Returns the bytes of A.Lib 1.0.0.
async fn fixtures(s: &TestServer, c: &Client) -> Vec<u8> {
    let a = PackageBuilder::new("A.Lib", "1.0.0")
        .title("A library")
        .summary("Does A.")
        .description("A & its <friends>.")
        .authors("Ann, Bob")
        .tags("alpha parser")
        .license_expression("MIT")
        .build();
    for nupkg in [
        a.clone(),
        PackageBuilder::new("A.Lib", "1.1.0").build(),
        PackageBuilder::new("A.Lib", "2.0.0-beta").build(),
        PackageBuilder::new("B.Tool", "1.0.0")
            .dependency(Some("net8.0"), "A.Lib", "[1.0.0, 2.0.0)")
            .dependency(None, "Any.Thing", "")
            .build(),
        PackageBuilder::new("C.Next", "3.0.0-rc.1").build(),
    ] {
        assert_eq!(c.push(s, Some(ADMIN_KEY), &nupkg).await.status(), 201);
    }
    let r = c
        .delete(&s.url("api/v2/package/A.Lib/1.1.0"), ADMIN_KEY)
        .await;
    assert!(
        r.status().is_success(),
        "V2 delete (unlist): {}",
        r.status()
    );
    a
}

#[tokio::test]
async fn v2_documents_have_the_shape_the_clients_parse() {
    let s = TestServer::start(|f, _| f.path_base = Some("/team-a/main".into())).await;
    let c = Client::new();
    let a_bytes = fixtures(&s, &c).await;
    let v2 = s.url("api/v2");

    // The service index advertises the feed under the path base (PreAuthenticate rule).
    let index = c.json(&s.url("index.json")).await;
    let legacy: Vec<&str> = index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["@type"] == "LegacyGallery/2.0.0")
        .map(|r| r["@id"].as_str().unwrap())
        .collect();
    assert_eq!(legacy, [v2.as_str()]);

    // Service document and $metadata.
    for url in [v2.clone(), format!("{v2}/")] {
        let (status, _, body) = get(&c, &url).await;
        assert_eq!(status, 200);
        assert!(body.contains(r#"<collection href="Packages">"#), "{body}");
    }
    let (status, _, metadata) = get(&c, &format!("{v2}/$metadata")).await;
    assert_eq!(status, 200);
    for function in ["Search", "FindPackagesById", "GetUpdates"] {
        assert!(metadata.contains(&format!(r#"<FunctionImport Name="{function}""#)));
    }

    // Packages(): every SemVer1 version, unlisted too, in id order.
    let all = feed(&c, &format!("{v2}/Packages()")).await;
    assert_eq!(all.root, "feed");
    assert_eq!(
        all.versions(),
        [
            "A.Lib 1.0.0",
            "A.Lib 1.1.0",
            "A.Lib 2.0.0-beta",
            "B.Tool 1.0.0"
        ]
    );
    let a = &all.entries[0];
    assert_eq!(a["title"], "A.Lib");
    assert_eq!(a["NormalizedVersion"], "1.0.0");
    assert_eq!(a["Title"], "A library");
    assert_eq!(a["Summary"], "Does A.");
    assert_eq!(a["Description"], "A & its <friends>.");
    assert_eq!(a["Authors"], "Ann, Bob");
    assert_eq!(a["Tags"], "alpha parser");
    assert_eq!(a["Owners"], "admin");
    assert_eq!(a["LicenseUrl"], "https://licenses.nuget.org/MIT");
    assert_eq!(a["LicenseNames"], "MIT");
    assert_eq!(a["IsLatestVersion"], "true");
    assert_eq!(a["IsAbsoluteLatestVersion"], "false");
    assert_eq!(a["IsPrerelease"], "false");
    assert_eq!(a["Listed"], "true");
    assert_eq!(a["PackageHashAlgorithm"], "SHA512");
    assert_eq!(a["PackageSize"], a_bytes.len().to_string());
    assert!(!a["PackageHash"].is_empty());
    assert_eq!(a["ProjectUrl"], "<null>");
    assert!(a["Published"].starts_with("20"), "{}", a["Published"]);
    assert_eq!(
        a["content@src"],
        format!("{v2}/package/A.Lib/1.0.0"),
        "content src is the V2 download URL"
    );
    // Unlisted: Published 1900 (REG-8), Listed false, never the latest.
    let unlisted = &all.entries[1];
    assert_eq!(unlisted["Published"], "1900-01-01T00:00:00");
    assert_eq!(unlisted["Listed"], "false");
    assert_eq!(all.entries[2]["IsAbsoluteLatestVersion"], "true");
    assert_eq!(
        all.entries[3]["Dependencies"],
        "A.Lib:[1.0.0, 2.0.0):net8.0|Any.Thing::"
    );

    // The download URL serves the pushed bytes.
    let r = c.get(&a["content@src"]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), a_bytes.as_slice());

    // $filter, $orderby, $select, semVerLevel.
    let latest = feed(&c, &format!("{v2}/Packages()?$filter=IsLatestVersion")).await;
    assert_eq!(latest.versions(), ["A.Lib 1.0.0", "B.Tool 1.0.0"]);
    let by_id = feed(
        &c,
        &format!("{v2}/Packages()?$filter=tolower(Id) eq 'a.lib' and IsPrerelease eq false&$orderby=Version desc"),
    )
    .await;
    assert_eq!(by_id.versions(), ["A.Lib 1.1.0", "A.Lib 1.0.0"]);
    let semver2 = feed(
        &c,
        &format!(
            "{v2}/Packages?$filter=IsAbsoluteLatestVersion&semVerLevel=2.0.0&$select=Id,Version"
        ),
    )
    .await;
    assert_eq!(
        semver2.versions(),
        ["A.Lib 2.0.0-beta", "B.Tool 1.0.0", "C.Next 3.0.0-rc.1"]
    );
    assert_eq!(
        semver2.entries[0].len(),
        4,
        "Id, Version, title, content src only"
    );

    // Packages(Id,Version): an entry document; unlisted versions are there; unknown: 404.
    let (status, ty, body) = get(&c, &format!("{v2}/Packages(Id='a.lib',Version='1.1.0')")).await;
    assert_eq!(status, 200);
    assert!(ty.starts_with("application/atom+xml;type=entry"), "{ty}");
    let one = Feed::parse(&body);
    assert_eq!(
        (one.root.as_str(), one.versions()),
        ("entry", vec!["A.Lib 1.1.0".to_owned()])
    );
    let (status, _, _) = get(&c, &format!("{v2}/Packages(Id='A.Lib',Version='9.0.0')")).await;
    assert_eq!(status, 404);

    // FindPackagesById(): every version of the id, paged by `next` links.
    let page = feed(&c, &format!("{v2}/FindPackagesById()?id='A.LIB'&$top=2")).await;
    assert_eq!(page.versions(), ["A.Lib 1.0.0", "A.Lib 1.1.0"]);
    assert!(page.next.is_none(), "$top=2 was all the client asked for");
    let first = feed(&c, &format!("{v2}/FindPackagesById()?id='A.Lib'")).await;
    assert_eq!(first.entries.len(), 3);
    assert!(first.next.is_none());

    // Search(): listed versions only, IsLatestVersion per id, prerelease on request.
    let search = |q: &str| format!("{v2}/Search()?searchTerm='{q}'&targetFramework=''&{}", "");
    let stable = feed(
        &c,
        &format!(
            "{}includePrerelease=false&$filter=IsLatestVersion&$orderby=Id",
            search("")
        ),
    )
    .await;
    assert_eq!(stable.versions(), ["A.Lib 1.0.0", "B.Tool 1.0.0"]);
    let pre = feed(
        &c,
        &format!(
            "{}includePrerelease=true&$filter=IsAbsoluteLatestVersion",
            search("a.lib")
        ),
    )
    .await;
    assert_eq!(pre.versions(), ["A.Lib 2.0.0-beta"]);
    let every = feed(
        &c,
        &format!("{}includePrerelease=true&$orderby=Id", search("")),
    )
    .await;
    assert_eq!(
        every.versions(),
        ["A.Lib 1.0.0", "A.Lib 2.0.0-beta", "B.Tool 1.0.0"],
        "no unlisted version in search (SQ-7)"
    );
    // Paging: $top=1 with inlinecount gives one entry, the total and a next link that goes on.
    let first = feed(
        &c,
        &format!(
            "{}includePrerelease=true&$orderby=Id&$top=1&$inlinecount=allpages",
            search("")
        ),
    )
    .await;
    assert_eq!((first.entries.len(), first.count), (1, Some(3)));
    assert!(first.next.is_none(), "$top=1 was all the client asked for");
    let paged = feed(&c, &format!("{v2}/Packages()?$orderby=Id&$top=150")).await;
    assert_eq!(paged.entries.len(), 4);

    // GetUpdates().
    let updates = feed(
        &c,
        &format!("{v2}/GetUpdates()?packageIds='A.Lib|B.Tool'&versions='1.0.0|1.0.0'&includePrerelease=true&includeAllVersions=false&targetFrameworks=''&versionConstraints=''"),
    )
    .await;
    assert_eq!(updates.versions(), ["A.Lib 2.0.0-beta"]);

    // $count on each.
    for (url, n) in [
        (format!("{v2}/Packages()/$count"), "4"),
        (format!("{v2}/Packages/$count?$filter=IsLatestVersion"), "2"),
        (format!("{v2}/FindPackagesById()/$count?id='A.Lib'"), "3"),
        (
            format!("{v2}/Search()/$count?searchTerm=''&includePrerelease=true"),
            "3",
        ),
        (
            format!("{v2}/GetUpdates()/$count?packageIds='A.Lib'&versions='1.0.0'"),
            "0",
        ),
    ] {
        let (status, ty, body) = get(&c, &url).await;
        assert_eq!((status, body.as_str()), (200, n), "{url}");
        assert!(ty.starts_with("text/plain"), "{ty}");
    }
    s.stop().await;
}

// Issue 16: `nuget update` and Chocolatey send the project's `targetFrameworks`: only versions
// built for one of them are offered (the highest such, unless all), a version whose manifest
// names no framework runs anywhere, and `versionConstraints` still bounds them.
#[tokio::test]
async fn get_updates_offers_only_versions_that_run_on_the_target_frameworks() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    for (version, tfm) in [
        ("1.0.0", Some("net45")),
        ("1.1.0", Some("net40")),
        ("2.0.0", Some("netstandard2.0")),
        ("3.0.0", Some("net8.0")),
        ("4.0.0", None),
    ] {
        let mut p = PackageBuilder::new("Fx.Lib", version);
        if let Some(tfm) = tfm {
            p = p.dependency(Some(tfm), "Fx.Dep", "1.0.0");
        }
        assert_eq!(c.push(&s, Some(ADMIN_KEY), &p.build()).await.status(), 201);
    }
    let v2 = s.url("api/v2");
    let updates = |query: &str| {
        format!(
            "{v2}/GetUpdates()?packageIds='Fx.Lib'&versions='1.0.0'&includePrerelease=false&{query}"
        )
    };
    for (query, offered) in [
        (
            "targetFrameworks='net45'&includeAllVersions=true",
            &["Fx.Lib 1.1.0", "Fx.Lib 4.0.0"][..],
        ),
        (
            "targetFrameworks='net472'&includeAllVersions=true",
            &["Fx.Lib 1.1.0", "Fx.Lib 2.0.0", "Fx.Lib 4.0.0"],
        ),
        (
            "targetFrameworks='net8.0'&includeAllVersions=true",
            &["Fx.Lib 2.0.0", "Fx.Lib 3.0.0", "Fx.Lib 4.0.0"],
        ),
        (
            "targetFrameworks='net45'&versionConstraints='[1.0.0, 4.0.0)'",
            &["Fx.Lib 1.1.0"],
        ),
        (
            "targetFrameworks='net48|net8.0'&versionConstraints='(, 4.0.0)'",
            &["Fx.Lib 3.0.0"],
        ),
        (
            "targetFrameworks=''&includeAllVersions=true",
            &[
                "Fx.Lib 1.1.0",
                "Fx.Lib 2.0.0",
                "Fx.Lib 3.0.0",
                "Fx.Lib 4.0.0",
            ],
        ),
    ] {
        assert_eq!(
            feed(&c, &updates(query)).await.versions(),
            offered,
            "{query}"
        );
    }
    let count = updates("targetFrameworks='net45'&includeAllVersions=true")
        .replace("GetUpdates()?", "GetUpdates()/$count?");
    assert_eq!(get(&c, &count).await.2, "2");
    s.stop().await;
}

#[tokio::test]
async fn bad_odata_input_is_400_with_a_message() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let v2 = s.url("api/v2");
    let before = s.stored_files();
    for (query, says) in [
        ("Packages()?$filter=Id eq", "$filter"),
        (
            "Packages()?$filter=nosuch(Id) eq 'a'",
            "unknown function `nosuch`",
        ),
        (
            "Packages()?$filter=Id eq 'a'; DROP TABLE Packages--",
            "unexpected `;`",
        ),
        ("Packages()?$filter=Description eq 'x'", "Search()"),
        ("Packages()?$top=100000", "$top"),
        ("Packages()?$skip=-1", "$skip"),
        ("Packages()?$orderby=Nope", "cannot sort by `Nope`"),
        ("Packages()?$expand=Owners", "not supported"),
        ("Search()?includePrerelease=perhaps", "true or false"),
        ("Search()/$count?semVerLevel=x", "semVerLevel"),
        ("FindPackagesById()", "needs an id"),
        (
            "GetUpdates()?packageIds='A'&versions='not a version'",
            "versions",
        ),
    ] {
        let url = format!("{v2}/{query}");
        let (status, _, body) = get(&c, &url).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body.contains(says), "{url}: {body}");
    }
    let (status, _, _) = get(&c, &format!("{v2}/Nothing()")).await;
    assert_eq!(status, 404);
    assert_eq!(s.stored_files(), before, "reads change nothing");
    s.stop().await;
}

#[tokio::test]
async fn v2_push_reaches_the_push_handler() {
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let nupkg = PackageBuilder::new("V2.Pushed", "1.0.0").build();
    let url = s.url("api/v2/package");
    assert_eq!(c.push_to(&url, None, &nupkg).await.status(), 401);
    assert_eq!(c.push_to(&url, Some(ADMIN_KEY), &nupkg).await.status(), 201);
    let found = feed(&c, &s.url("api/v2/FindPackagesById()?id='V2.Pushed'")).await;
    assert_eq!(found.versions(), ["V2.Pushed 1.0.0"]);
    s.stop().await;
}

/// Runs a blocking client call off the runtime that serves the feed.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_lists_through_the_legacy_gallery() {
    let Some(v58) = NuGetExe::v5_8_or_skip() else {
        return;
    };
    let Some(v40) = NuGetExe::new_or_skip() else {
        return;
    };
    let s = TestServer::start(|f, _| f.path_base = Some("/team-a/main".into())).await;
    let c = Client::new();
    fixtures(&s, &c).await;
    let source = s.url("index.json");
    for (name, nuget) in [("5.8", v58), ("4.0", v40)] {
        let nuget = std::sync::Arc::new(nuget);
        let cases: [(&[&str], &[&str], &[&str]); 3] = [
            (
                &[],
                &["A.Lib 1.0.0", "B.Tool 1.0.0"],
                &["2.0.0-beta", "1.1.0"],
            ),
            (
                &["-PreRelease"],
                &["A.Lib 2.0.0-beta", "B.Tool 1.0.0"],
                &["A.Lib 1.0.0", "1.1.0"],
            ),
            (
                &["-AllVersions"],
                &["A.Lib 1.0.0", "B.Tool 1.0.0"],
                &["1.1.0", "2.0.0-beta", "C.Next"],
            ),
        ];
        for (extra, shown, hidden) in cases {
            let (n, src) = (nuget.clone(), source.clone());
            let extra_owned: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            let out = blocking(move || {
                let dir = n.tmp_dir();
                let mut args = vec!["list", "-Source", src.as_str(), "-NonInteractive"];
                args.extend(extra_owned.iter().map(String::as_str));
                n.run(&args, &dir)
            })
            .await;
            let text = output_text(&out);
            assert!(
                out.status.success(),
                "NuGet.exe {name} list {extra:?}:\n{text}"
            );
            for line in shown {
                assert!(
                    text.lines().any(|l| l.trim() == *line),
                    "{name} {extra:?} shows {line}:\n{text}"
                );
            }
            for word in hidden {
                assert!(
                    !text
                        .lines()
                        .any(|l| l.trim().ends_with(word) || l.contains(&format!("{word} "))),
                    "{name} {extra:?} hides {word}:\n{text}"
                );
            }
        }
    }
    s.stop().await;
}

/// nginx serving the feed under `/nuget` (stripped on the way in, reported in
/// `X-Forwarded-Prefix`); `None` when nginx is missing and `NUGET_SKIP_EXTERNAL=1`.
fn nginx_with_prefix(upstream: u16, dir: &std::path::Path) -> Option<Nginx> {
    if let Err(why) = nginx::locate() {
        return missing_or_skip("nginx", &why, DEPS_HINT);
    }
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 64; }}\nhttp {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{port}; location /nuget/ {{ \
           proxy_pass http://127.0.0.1:{upstream}/; proxy_http_version 1.1; \
           proxy_set_header Host $host; proxy_set_header X-Forwarded-Port $server_port; \
           proxy_set_header X-Forwarded-Prefix /nuget; }} }}\n}}\n"
    );
    Some(Nginx::start(dir, &conf, vec![port]).unwrap_or_else(|e| panic!("{e}")))
}

/// NuGet 2.8 `list` and `install` from `source`: the stable latest versions of the fixtures
/// are listed, and the installed package has the pushed bytes (downloaded from the entry's
/// `content src`).
async fn list_and_install_with_nuget_2_8(
    nuget: &std::sync::Arc<NuGetV2>,
    source: &str,
    a_bytes: &[u8],
) {
    let (n, src) = (nuget.clone(), source.to_owned());
    let out = blocking(move || n.list(&src, &[])).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.lines().any(|l| l.trim() == "A.Lib 1.0.0"), "{text}");
    assert!(text.lines().any(|l| l.trim() == "B.Tool 1.0.0"), "{text}");
    assert!(
        !text.contains("C.Next") && !text.contains("2.0.0-beta"),
        "{text}"
    );

    let (n, src) = (nuget.clone(), source.to_owned());
    let out = blocking(move || n.list(&src, &["-AllVersions", "-Prerelease"])).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines().any(|l| l.trim() == "A.Lib 2.0.0-beta"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (n, src, out_dir) = (nuget.clone(), source.to_owned(), dir.path().to_owned());
    let out = blocking(move || n.install("A.Lib", "1.0.0", &src, &out_dir)).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let installed = dir.path().join("A.Lib.1.0.0").join("A.Lib.1.0.0.nupkg");
    assert_eq!(std::fs::read(&installed).unwrap(), a_bytes, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_2_8_lists_and_installs_over_v2_only() {
    let Some(nuget) = NuGetV2::new_or_skip() else {
        return;
    };
    let s = TestServer::start(|f, _| f.path_base = Some("/team-a/main".into())).await;
    let c = Client::new();
    let a_bytes = fixtures(&s, &c).await;
    let nuget = std::sync::Arc::new(nuget);
    list_and_install_with_nuget_2_8(&nuget, &s.url("api/v2"), &a_bytes).await;

    // Through nginx under a path prefix: every URL the feed writes carries it.
    let upstream: u16 = s.root.rsplit(':').next().unwrap().parse().unwrap();
    let dir = s.dir.path().join("nginx");
    let Some(proxy) = tokio::task::spawn_blocking(move || nginx_with_prefix(upstream, &dir))
        .await
        .unwrap()
    else {
        return;
    };
    let front = format!(
        "http://127.0.0.1:{}/nuget/team-a/main/api/v2",
        proxy.ports[0]
    );
    let found = feed(&c, &format!("{front}/FindPackagesById()?id='A.Lib'")).await;
    assert_eq!(
        found.entries[0]["content@src"],
        format!("{front}/package/A.Lib/1.0.0")
    );
    let fresh = std::sync::Arc::new(NuGetV2::new_or_skip().unwrap());
    list_and_install_with_nuget_2_8(&fresh, &front, &a_bytes).await;
    drop(proxy);
    s.stop().await;
}

#[tokio::test]
async fn read_tokens_protect_the_v2_feed_as_they_protect_v3() {
    // G-7, SI-6: the same 401 + Basic for every V2 read, and the token opens them.
    let s = TestServer::start_read_protected().await;
    let c = Client::new();
    let nupkg = PackageBuilder::new("Secret", "1.0.0").build();
    assert_eq!(c.push(&s, Some(ADMIN_KEY), &nupkg).await.status(), 201);
    for path in [
        "api/v2/",
        "api/v2/$metadata",
        "api/v2/Packages()",
        "api/v2/Packages(Id='Secret',Version='1.0.0')",
        "api/v2/FindPackagesById()?id='Secret'",
        "api/v2/Search()?searchTerm='secret'",
        "api/v2/Search()/$count",
        "api/v2/GetUpdates()?packageIds='Secret'&versions='0.1.0'",
        "api/v2/package/Secret/1.0.0",
    ] {
        let r = c.get(&s.url(path)).await;
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let ok = c
            .http
            .get(s.url(path))
            .basic_auth("any", Some(READ_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{path}");
    }
    s.stop().await;
}
