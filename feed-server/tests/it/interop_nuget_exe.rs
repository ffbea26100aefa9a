//! Interop with a real NuGet client: NuGet.exe 4.0.0 on mono pushes, installs and deletes
//! packages through the service index of a real server on loopback.
//!
//! Needs `.ci/install-deps.sh` (fails with that hint otherwise, unless NUGET_SKIP_EXTERNAL=1).
#![allow(clippy::unwrap_used)]

use crate::common::server::{ADMIN_KEY, Client, TestServer};
use nuget_feed_server::testing::PackageBuilder;
use nuget_test_support::nuget_exe::{self, NuGetExe};
use nuget_test_support::process::output_text;

/// Runs a blocking NuGet.exe call off the runtime that serves the feed.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_pushes_installs_and_deletes_through_the_service_index() {
    let Some(nuget) = NuGetExe::new_or_skip() else {
        return;
    };
    let s = TestServer::start(|f, _| f.path_base = Some("/team-a/main".into())).await;
    let source = s.url("index.json");
    let nuget = std::sync::Arc::new(nuget);
    let work = tempfile::tempdir().unwrap();
    let work_path = work.path().to_owned();

    // A package packed by NuGet.exe itself.
    let (n, dir, src) = (nuget.clone(), work_path.clone(), source.clone());
    let nupkg = blocking(move || {
        n.write_config(&src);
        let nuspec = nuget_exe::write_nuspec(&dir.join("src"), "Interop.Lib", "1.2.3-Beta");
        n.pack(&nuspec, &dir.join("packed"))
    })
    .await;
    let pushed_bytes = std::fs::read(&nupkg).unwrap();

    // push: PUT {publish}/ multipart, chunked (PUB-2) -> 201.
    let (n, src, pkg) = (nuget.clone(), source.clone(), nupkg.clone());
    let out = blocking(move || n.push(&pkg, &src, ADMIN_KEY)).await;
    nuget_exe::assert_success(&out, "push");
    assert!(output_text(&out).contains("Your package was pushed"));

    // The same version again: 409, shown as a conflict (PUB-4, PUB-5).
    let (n, src, pkg) = (nuget.clone(), source.clone(), nupkg.clone());
    let out = blocking(move || n.push(&pkg, &src, ADMIN_KEY)).await;
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains("409") || text.contains("Conflict"), "{text}");

    // A wrong key: 403, and NuGet.exe reports it without prompting (PUB-6).
    let (n, src, pkg) = (nuget.clone(), source.clone(), nupkg.clone());
    let out = blocking(move || n.push(&pkg, &src, "not-the-right-key")).await;
    assert!(!out.status.success());
    assert!(output_text(&out).contains("403"), "{}", output_text(&out));

    // install: registration, then the flat-container .nupkg; the bytes are the pushed ones.
    let (n, src, out_dir) = (nuget.clone(), source.clone(), work_path.join("installed"));
    let out = blocking(move || n.install("Interop.Lib", "1.2.3-Beta", &src, &out_dir)).await;
    nuget_exe::assert_success(&out, "install");
    let installed = work_path.join("installed/Interop.Lib.1.2.3-Beta/Interop.Lib.1.2.3-Beta.nupkg");
    assert_eq!(std::fs::read(&installed).unwrap(), pushed_bytes);

    // delete: DELETE {publish}/{id}/{version} as typed (PUB-9) -> 204, unlisted.
    let (n, src) = (nuget.clone(), source.clone());
    let out = blocking(move || n.delete("interop.LIB", "1.2.3-beta", &src, ADMIN_KEY)).await;
    nuget_exe::assert_success(&out, "delete");
    let reg = Client::new()
        .json(&s.url("registration/interop.lib/index.json"))
        .await;
    assert_eq!(reg["items"][0]["items"][0]["catalogEntry"]["listed"], false);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuget_exe_installs_a_package_with_its_dependencies() {
    let Some(nuget) = NuGetExe::new_or_skip() else {
        return;
    };
    let s = TestServer::start(|_, _| {}).await;
    let c = Client::new();
    let base = PackageBuilder::new("Deps.Base", "2.1.0").file("lib/net45/Deps.Base.dll", b"MZ");
    let app = PackageBuilder::new("Deps.App", "1.0.0")
        .dependency(None, "Deps.Base", "[2.0.0, 3.0.0)")
        .file("lib/net45/Deps.App.dll", b"MZ");
    for p in [&base, &app] {
        assert_eq!(c.push(&s, Some(ADMIN_KEY), &p.build()).await.status(), 201);
    }
    let source = s.url("index.json");
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let dir = out_dir.clone();
    let out = blocking(move || {
        nuget.write_config(&source);
        nuget.install("Deps.App", "1.0.0", &source, &dir)
    })
    .await;
    nuget_exe::assert_success(&out, "install");
    assert!(out_dir.join("Deps.App.1.0.0/Deps.App.1.0.0.nupkg").exists());
    assert!(
        out_dir
            .join("Deps.Base.2.1.0/Deps.Base.2.1.0.nupkg")
            .exists(),
        "the dependency was resolved through registration:\n{}",
        output_text(&out)
    );
    s.stop().await;
}
