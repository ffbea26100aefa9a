//! The feed behind a real nginx on a non-default port: the URLs it advertises carry the port
//! the client used, whether the proxy reports it in `X-Forwarded-Port` (with the common
//! `proxy_set_header Host $host`, which drops the port) or in the RFC 7239 `Forwarded` header,
//! and a package pushed and downloaded through those URLs arrives intact.

#![allow(clippy::unwrap_used)]

use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::nginx::{self, Nginx};
use nuget_test_support::ports::free_port;
use nuget_test_support::tools::{DEPS_HINT, missing_or_skip};
use serde_json::Value;

use crate::common::server::{ADMIN_KEY, Client, TestServer};

/// nginx proxying everything to `upstream`: on `ports[0]` with `Host $host` and
/// `X-Forwarded-Port`, on `ports[1]` with `Forwarded` alone. `None` when nginx is missing and
/// `NUGET_SKIP_EXTERNAL=1`.
fn nginx_in_front_of(upstream: u16, dir: &std::path::Path) -> Option<Nginx> {
    if let Err(why) = nginx::locate() {
        return missing_or_skip("nginx", &why, DEPS_HINT);
    }
    let ports = vec![free_port(), free_port()];
    let d = dir.display();
    let common = format!("proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1;");
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log info;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 64; }}\nhttp {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{p0}; location / {{ {common} \
           proxy_set_header Host $host; proxy_set_header X-Forwarded-Port $server_port; }} }}\n\
         server {{ listen 127.0.0.1:{p1}; location / {{ {common} \
           proxy_set_header Host internal; \
           proxy_set_header Forwarded \"for=$remote_addr;proto=$scheme;host=\\\"$host:$server_port\\\"\"; }} }}\n\
         }}\n",
        p0 = ports[0],
        p1 = ports[1],
    );
    Some(Nginx::start(dir, &conf, ports).unwrap_or_else(|e| panic!("{e}")))
}

/// The `@id` of the service index resource of `kind`.
fn resource<'a>(index: &'a Value, kind: &str) -> &'a str {
    index["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["@type"] == kind)
        .and_then(|r| r["@id"].as_str())
        .unwrap_or_else(|| panic!("no {kind} in {index}"))
}

#[tokio::test]
async fn urls_behind_a_proxy_on_a_non_default_port_carry_the_port() {
    let s = TestServer::start(|_, _| {}).await;
    let upstream: u16 = s.root.rsplit(':').next().unwrap().parse().unwrap();
    let dir = s.dir.path().join("nginx");
    // nginx's start waits for it to answer, which it proxies to this runtime's server.
    let Some(nginx) = tokio::task::spawn_blocking(move || nginx_in_front_of(upstream, &dir))
        .await
        .unwrap()
    else {
        return;
    };
    let c = Client::new();
    let path_base = s.base.strip_prefix(&s.root).unwrap();
    for (port, version) in nginx.ports.iter().zip(["1.0.0", "2.0.0"]) {
        let front = format!("http://127.0.0.1:{port}{path_base}");
        let index = c.json(&format!("{front}/index.json")).await;
        for r in index["resources"].as_array().unwrap() {
            let id = r["@id"].as_str().unwrap();
            assert!(id.starts_with(&front), "{id} is not under {front}");
        }
        // Push and download through the advertised URLs, that is through nginx.
        let nupkg = PackageBuilder::new("Behind.Proxy", version).build();
        let pushed = c
            .push_to(
                resource(&index, "PackagePublish/2.0.0"),
                Some(ADMIN_KEY),
                &nupkg,
            )
            .await;
        assert_eq!(pushed.status(), 201, "push through {front}");
        let flat = resource(&index, "PackageBaseAddress/3.0.0").trim_end_matches('/');
        let got = c
            .get(&format!(
                "{flat}/behind.proxy/{version}/behind.proxy.{version}.nupkg"
            ))
            .await;
        assert_eq!(got.status(), 200, "download through {front}");
        assert_eq!(got.bytes().await.unwrap().as_ref(), nupkg.as_slice());
    }
    drop(nginx);
    s.stop().await;
}
