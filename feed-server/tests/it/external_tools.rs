//! Proves the external-tool harnesses of `nuget_test_support` work on this machine: NuGet.exe
//! packs a package, moto serves S3 and Azurite serves Azure Blob (each also driven through
//! `object_store`, configured the way the feed server will need it).
//!
//! These fail with "run .ci/install-deps.sh" when a tool is missing, unless
//! `NUGET_SKIP_EXTERNAL=1` is set.

use std::io::Read as _;

use nuget_test_support::azurite::Azurite;
use nuget_test_support::moto::Moto;
use nuget_test_support::nuget_exe::{self, NuGetExe};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

#[test]
fn nuget_exe_runs_hermetically_and_packs_a_package() {
    let Some(nuget) = NuGetExe::new_or_skip() else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");

    let help = nuget.run_ok(&["help"], work.path());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("NuGet Version: 4.0.0"),
        "unexpected help:\n{help}"
    );

    let nuspec = nuget_exe::write_nuspec(&work.path().join("src"), "Harness.Tiny", "1.2.3-Beta");
    let nupkg = nuget.pack(&nuspec, &work.path().join("out"));
    assert_eq!(
        nupkg.file_name().and_then(|n| n.to_str()),
        Some("Harness.Tiny.1.2.3-Beta.nupkg")
    );

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&nupkg).expect("open nupkg"))
        .expect("nupkg is a zip");
    let mut nuspec_xml = String::new();
    zip.by_name("Harness.Tiny.nuspec")
        .expect("nupkg holds the nuspec")
        .read_to_string(&mut nuspec_xml)
        .expect("read nuspec");
    assert!(
        nuspec_xml.contains("<version>1.2.3-Beta</version>"),
        "{nuspec_xml}"
    );
    assert!(zip.by_name("content/readme.txt").is_ok());

    // Hermetic: NuGet.exe's scratch folder went to our TMPDIR, and the only config it reads
    // (ours) enables no source: not nuget.org, which it adds (disabled) to a source-less config.
    assert!(nuget.tmp_dir().join("NuGetScratch").is_dir());
    let sources = nuget.run_ok(&["sources", "list"], work.path());
    let sources = String::from_utf8_lossy(&sources.stdout);
    assert!(
        !sources.contains("[Enabled]"),
        "unexpected sources:\n{sources}"
    );

    let config = nuget.write_config("http://127.0.0.1:1/index.json");
    let config = config.to_string_lossy();
    let sources = nuget.run_ok(&["sources", "list", "-ConfigFile", &config], work.path());
    let sources = String::from_utf8_lossy(&sources.stdout);
    assert!(
        sources.contains("test [Enabled]") && sources.contains("http://127.0.0.1:1/index.json"),
        "unexpected sources:\n{sources}"
    );
    assert!(
        !sources.contains("nuget.org [Enabled]"),
        "unexpected sources:\n{sources}"
    );
}

#[tokio::test]
async fn moto_starts_and_creates_a_bucket() {
    let Some(moto) = Moto::start_or_skip() else {
        return;
    };
    moto.create_bucket("feed-test");
    assert_eq!(moto.list_buckets(), vec!["feed-test".to_string()]);

    // object_store against moto: path-style, plain HTTP, any credentials.
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_bucket_name("feed-test")
        .with_region(Moto::REGION)
        .with_access_key_id(Moto::ACCESS_KEY)
        .with_secret_access_key(Moto::SECRET_KEY)
        .build()
        .expect("build S3 store");
    round_trip(&store).await;
}

#[tokio::test]
async fn azurite_starts_and_creates_a_container() {
    let Some(azurite) = Azurite::start_or_skip() else {
        return;
    };
    azurite.create_container("feed-test");
    assert_eq!(azurite.list_containers(), vec!["feed-test".to_string()]);

    // object_store against Azurite: the account endpoint, plain HTTP, the dev account key.
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_endpoint(azurite.endpoint())
        .with_allow_http(true)
        .with_account(Azurite::ACCOUNT)
        .with_access_key(Azurite::KEY)
        .with_container_name("feed-test")
        .build()
        .expect("build Azure store");
    round_trip(&store).await;
}

/// put, get, and a create-only put that must fail because the object exists.
async fn round_trip(store: &impl ObjectStore) {
    let path = StorePath::from("packages/harness.tiny/1.0.0/harness.tiny.1.0.0.nupkg");
    store
        .put(&path, PutPayload::from_static(b"first"))
        .await
        .expect("put");
    let got = store
        .get(&path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("read");
    assert_eq!(&got[..], b"first");

    let create = PutOptions::from(PutMode::Create);
    let err = store
        .put_opts(&path, PutPayload::from_static(b"second"), create)
        .await
        .expect_err("create-only put over an existing object must fail");
    assert!(
        matches!(err, object_store::Error::AlreadyExists { .. }),
        "unexpected error: {err}"
    );
}
