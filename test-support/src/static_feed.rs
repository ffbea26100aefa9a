//! A static NuGet V3 feed in nuget.org's shapes, written as files from real `.nupkg`s and
//! served by nginx: an upstream that is not our own server, so a test of the feed server's
//! upstream support proves it interoperates with documents it did not render itself.
//!
//! Written from the protocol documentation (learn.microsoft.com/nuget/api: service-index,
//! package-base-address-resource, registration-base-url-resource) and nuget.org's documents,
//! never from the feed server's code:
//!
//! ```text
//! /v3/index.json                                        service index (no search: optional)
//! /v3-flatcontainer/{id}/index.json                     PackageBaseAddress/3.0.0: every version
//! /v3-flatcontainer/{id}/{v}/{id}.{v}.nupkg             the .nupkg as given, byte for byte
//! /v3-flatcontainer/{id}/{v}/{id}.nuspec                the .nuspec inside it
//! /v3/registration5-gz-semver1/{id}/index.json          RegistrationsBaseUrl/3.4.0: no SemVer2
//! /v3/registration5-gz-semver2/{id}/index.json          RegistrationsBaseUrl/3.6.0 and /Versioned
//! /v3/registration5-gz-semver2/{id}/page/{lo}/{hi}.json a page of an id with many versions
//! /v3/registration5-gz-semver2/{id}/{v}.json            a registration leaf
//! /v3/vulnerabilities/index.json                        VulnerabilityInfo/6.7.0, when advisories
//! /v3/vulnerabilities/{page}/{stamp}/vulnerability.{page}.json   its `base` and `update` pages
//! ```
//!
//! Registration documents are stored gzip-compressed and served with `Content-Encoding: gzip`
//! whatever the request's `Accept-Encoding` says, as nuget.org's blob storage serves them
//! (REG-1). An id with up to [`PAGE_SIZE`] versions has its one page inlined in its index; an id
//! with more has pages of [`PAGE_SIZE`] versions, each a document of its own that the index
//! only links to (REG-3, REG-5, REG-6). Catalog entries carry `dependencyGroups`, `published`
//! (1900 for unlisted versions, as nuget.org), `listed`, and `deprecation` and
//! `vulnerabilities` where a test gave them (REG-8 to REG-11): data only a server knows, so
//! the builder takes it next to the packages.
//!
//! Values from the nuspec are read as the test packages write them: text without entity
//! references, versions already normalized.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use chrono::{DateTime, Duration as Days, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::nginx::{self, Nginx, Request};
use crate::ports::free_port;
use crate::tools::{DEPS_HINT, missing_or_skip};

/// Versions per registration page; an id with more versions gets its pages as separate
/// documents (nuget.org pages by 64 too).
pub const PAGE_SIZE: usize = 64;

const FLAT_CONTAINER: &str = "v3-flatcontainer";
const HIVE_SEMVER1: &str = "v3/registration5-gz-semver1";
const HIVE_SEMVER2: &str = "v3/registration5-gz-semver2";
/// The date nuget.org gives unlisted versions in `published`.
const UNLISTED_PUBLISHED: &str = "1900-01-01T00:00:00+00:00";
/// Every document claims one catalog commit (nuget.org's are the last catalog commit that
/// touched the id).
const COMMIT_ID: &str = "5b2bd9f0-3a07-4b1c-9e6c-0d8a6c2f4e11";
const COMMIT_TIME: &str = "2024-06-01T12:00:00.0000000Z";

/// The packages of a static feed and what a server knows about them, before they are written.
#[derive(Default)]
pub struct StaticFeedBuilder {
    packages: Vec<Package>,
    /// Advisories of the VulnerabilityInfo `base` page, by lower-case id (VUL-2).
    advisories: BTreeMap<String, Vec<Value>>,
    port: Option<u16>,
    public_base_url: Option<String>,
}

/// One version: what its nuspec says, plus what only a server knows.
struct Package {
    id: String,
    /// Normalized, with build metadata (`catalogEntry.version`).
    version: String,
    authors: String,
    description: String,
    dependency_groups: Vec<DependencyGroup>,
    nuspec: Vec<u8>,
    nupkg: Vec<u8>,
    listed: bool,
    published: DateTime<Utc>,
    deprecation: Option<Value>,
    vulnerabilities: Vec<Value>,
}

struct DependencyGroup {
    target_framework: Option<String>,
    /// `(id, version range)` as the nuspec has them.
    dependencies: Vec<(String, String)>,
}

/// A static feed served by nginx, stopped on drop (then the upstream is down).
pub struct StaticFeed {
    nginx: Nginx,
    base_url: String,
    nupkgs: BTreeMap<(String, String), Vec<u8>>,
    _dir: TempDir,
}

impl StaticFeed {
    pub fn builder() -> StaticFeedBuilder {
        StaticFeedBuilder::default()
    }

    /// `{base}/v3/index.json`: the source URL for clients and for the feed server's upstream.
    pub fn index_url(&self) -> String {
        format!("{}/v3/index.json", self.base_url)
    }

    /// The URL every document links with: nginx's own, or the public one it was given.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The port nginx listens on.
    pub fn port(&self) -> u16 {
        self.nginx.ports[0]
    }

    /// The bytes served for `id` `version` (as given to [`StaticFeedBuilder::package`]).
    pub fn nupkg(&self, id: &str, version: &str) -> &[u8] {
        self.nupkgs
            .get(&(id.to_lowercase(), url_version(version)))
            .unwrap_or_else(|| panic!("the static feed has no {id} {version}"))
    }

    /// Every request nginx answered so far (`host` is what the client sent).
    pub fn access_log(&self) -> Vec<Request> {
        self.nginx.access_log()
    }
}

impl StaticFeedBuilder {
    /// Adds a `.nupkg`; its id, version, authors, description and dependencies come from its
    /// nuspec. It is listed, published a day after the package added before it.
    pub fn package(mut self, nupkg: Vec<u8>) -> Self {
        let nuspec = read_nuspec_entry(&nupkg);
        let mut package = parse_nuspec(&nuspec);
        let day = i64::try_from(self.packages.len()).expect("fewer packages than days");
        package.published = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .expect("a valid date")
            + Days::days(day);
        package.nuspec = nuspec;
        package.nupkg = nupkg;
        self.packages.push(package);
        self
    }

    /// Unlists `id` `version`: still in the flat container and registration (PBA-1, REG-14),
    /// with `listed: false`.
    pub fn unlisted(mut self, id: &str, version: &str) -> Self {
        self.find(id, version).listed = false;
        self
    }

    /// Deprecates `id` `version` for `reason` (`Legacy`, `CriticalBugs` or `Other`), naming
    /// `alternate` (any version of it) when given (REG-10).
    pub fn deprecated(
        mut self,
        id: &str,
        version: &str,
        reason: &str,
        message: &str,
        alternate: Option<&str>,
    ) -> Self {
        let mut deprecation = json!({ "reasons": [reason], "message": message });
        if let Some(alternate) = alternate {
            deprecation["alternatePackage"] = json!({ "id": alternate, "range": "*" });
        }
        self.find(id, version).deprecation = Some(deprecation);
        self
    }

    /// Adds an advisory to `id` `version`: `severity` 0 (low) to 3 (critical), a string in
    /// registration (REG-11).
    pub fn vulnerable(mut self, id: &str, version: &str, advisory_url: &str, severity: u8) -> Self {
        self.find(id, version).vulnerabilities.push(json!({
            "advisoryUrl": advisory_url,
            "severity": severity.to_string(),
        }));
        self
    }

    /// Adds an advisory to the VulnerabilityInfo `base` page (VUL-2): versions `range` of `id`
    /// are vulnerable, `severity` 0 (low) to 3 (critical). With any advisory the feed serves
    /// VulnerabilityInfo/6.7.0 as nuget.org does: a `base` page and an empty `update` page.
    pub fn advisory(mut self, id: &str, range: &str, url: &str, severity: u8) -> Self {
        self.advisories
            .entry(id.to_lowercase())
            .or_default()
            .push(json!({ "url": url, "severity": severity, "versions": range }));
        self
    }

    /// Listen on `port` instead of a free one.
    pub fn listen_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Link every document with `url` (no trailing `/`) instead of nginx's own address: for
    /// a proxy in front of nginx, so that clients reach every resource through it.
    pub fn public_base_url(mut self, url: &str) -> Self {
        self.public_base_url = Some(url.trim_end_matches('/').to_owned());
        self
    }

    fn find(&mut self, id: &str, version: &str) -> &mut Package {
        self.packages
            .iter_mut()
            .find(|p| {
                p.id.eq_ignore_ascii_case(id) && url_version(&p.version) == url_version(version)
            })
            .unwrap_or_else(|| panic!("add {id} {version} with `package` first"))
    }

    /// Writes the documents and starts nginx; `None` when nginx is missing and
    /// `NUGET_SKIP_EXTERNAL=1` (else a panic saying what to install).
    pub fn serve_or_skip(self) -> Option<StaticFeed> {
        if let Err(why) = nginx::locate() {
            return missing_or_skip("nginx", &why, DEPS_HINT);
        }
        let dir = tempfile::Builder::new()
            .prefix("static-feed-")
            .tempdir()
            .expect("create temp dir for the static feed");
        let port = self.port.unwrap_or_else(free_port);
        let base_url = self
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        let www = dir.path().join("www");
        self.write(&www, &base_url);
        let conf = nginx_conf(&dir.path().join("nginx"), &www, port);
        let nginx = Nginx::start(&dir.path().join("nginx"), &conf, vec![port])
            .unwrap_or_else(|e| panic!("{e}"));
        let nupkgs = self
            .packages
            .into_iter()
            .map(|p| ((p.id.to_lowercase(), url_version(&p.version)), p.nupkg))
            .collect();
        Some(StaticFeed {
            nginx,
            base_url,
            nupkgs,
            _dir: dir,
        })
    }

    /// Writes every document under `root`, linked with `base_url`.
    fn write(&self, root: &Path, base_url: &str) {
        let mut ids: BTreeMap<String, Vec<&Package>> = BTreeMap::new();
        for p in &self.packages {
            ids.entry(p.id.to_lowercase()).or_default().push(p);
        }
        for (lower_id, versions) in &mut ids {
            versions.sort_by(|a, b| compare_versions(&a.version, &b.version));
            write_flat_container(root, lower_id, versions);
            let semver1: Vec<&Package> = versions
                .iter()
                .copied()
                .filter(|p| !is_semver2(p))
                .collect();
            for (hive, versions) in [(HIVE_SEMVER1, &semver1), (HIVE_SEMVER2, &*versions)] {
                if !versions.is_empty() {
                    Hive {
                        base_url,
                        path: hive,
                    }
                    .write(root, lower_id, versions);
                }
            }
        }
        let semver2 = format!("{base_url}/{HIVE_SEMVER2}/");
        let mut resources = json!([
                    { "@id": format!("{base_url}/{FLAT_CONTAINER}/"), "@type": "PackageBaseAddress/3.0.0",
                      "comment": "Base URL of where NuGet packages are stored, in the format {@id}{LOWER_ID}/{LOWER_VERSION}/{LOWER_ID}.{LOWER_VERSION}.nupkg" },
                    { "@id": format!("{base_url}/{HIVE_SEMVER1}/"), "@type": "RegistrationsBaseUrl/3.4.0",
                      "comment": "Base URL of where NuGet package registration info is stored in GZIP format. This base URL does not include SemVer 2.0.0 packages." },
                    { "@id": semver2, "@type": "RegistrationsBaseUrl/3.6.0",
                      "comment": "Base URL of where NuGet package registration info is stored in GZIP format. This base URL includes SemVer 2.0.0 packages." },
                    { "@id": semver2, "@type": "RegistrationsBaseUrl/Versioned", "clientVersion": "4.3.0-alpha",
                      "comment": "Base URL of where NuGet package registration info is stored in GZIP format. This base URL includes SemVer 2.0.0 packages." },
        ]);
        if !self.advisories.is_empty() {
            let index = self.write_vulnerabilities(root, base_url);
            resources.as_array_mut().expect("an array").push(json!({
                "@id": index, "@type": "VulnerabilityInfo/6.7.0",
                "comment": "The endpoint for discovering information about vulnerabilities of packages in this package source.",
            }));
        }
        write_json(
            &root.join("v3/index.json"),
            &json!({
                "version": "3.0.0",
                "resources": resources,
                "@context": {
                    "@vocab": "http://schema.nuget.org/services#",
                    "comment": "http://www.w3.org/2000/01/rdf-schema#comment",
                },
            }),
        );
    }
}

impl StaticFeedBuilder {
    /// VUL-1, VUL-2: the vulnerability index and its two pages, in nuget.org's URL shapes (a
    /// page's URL names its `@updated`); returns the index URL.
    fn write_vulnerabilities(&self, root: &Path, base_url: &str) -> String {
        let stamp = "2024.06.01.12.00.00";
        let mut index = Vec::new();
        for (name, page) in [("base", json!(self.advisories)), ("update", json!({}))] {
            let path = format!("v3/vulnerabilities/{name}/{stamp}/vulnerability.{name}.json");
            write_json(&root.join(&path), &page);
            index.push(json!({
                "@name": name,
                "@id": format!("{base_url}/{path}"),
                "@updated": COMMIT_TIME,
                "comment": format!("The {name} data for vulnerability update periodically modified."),
            }));
        }
        write_json(&root.join("v3/vulnerabilities/index.json"), &json!(index));
        format!("{base_url}/v3/vulnerabilities/index.json")
    }
}

/// PBA-1, PBA-3, PBA-4: the version list (ascending, unlisted included), the packages and
/// their nuspecs.
fn write_flat_container(root: &Path, lower_id: &str, versions: &[&Package]) {
    let dir = root.join(FLAT_CONTAINER).join(lower_id);
    let listed: Vec<String> = versions.iter().map(|p| url_version(&p.version)).collect();
    write_json(&dir.join("index.json"), &json!({ "versions": listed }));
    for p in versions {
        let v = url_version(&p.version);
        write_file(
            &dir.join(&v).join(format!("{lower_id}.{v}.nupkg")),
            &p.nupkg,
        );
        write_file(&dir.join(&v).join(format!("{lower_id}.nuspec")), &p.nuspec);
    }
}

/// One registration hive: its folder under the web root and the URL it is served at.
struct Hive<'a> {
    base_url: &'a str,
    /// `v3/registration5-gz-semver2`.
    path: &'a str,
}

impl Hive<'_> {
    fn url(&self) -> String {
        format!("{}/{}", self.base_url, self.path)
    }

    fn index_url(&self, lower_id: &str) -> String {
        format!("{}/{lower_id}/index.json", self.url())
    }

    /// The index, its page documents when paged, and a leaf document per version.
    fn write(&self, root: &Path, lower_id: &str, versions: &[&Package]) {
        let dir = root.join(self.path).join(lower_id);
        let index_url = self.index_url(lower_id);
        let paged = versions.len() > PAGE_SIZE;
        let pages: Vec<Value> = versions
            .chunks(PAGE_SIZE)
            .map(|chunk| {
                let lower = bare_version(&chunk[0].version);
                let upper = bare_version(&chunk[chunk.len() - 1].version);
                let leaves: Vec<Value> = chunk.iter().map(|p| self.leaf(p)).collect();
                let mut page = json!({
                    "@type": "catalog:CatalogPage",
                    "commitId": COMMIT_ID,
                    "commitTimeStamp": COMMIT_TIME,
                    "count": chunk.len(),
                    "lower": lower,
                    "upper": upper,
                });
                if paged {
                    // REG-6: the page document; the index gets the page without its items.
                    let page_path = format!(
                        "page/{}/{}.json",
                        lower.to_lowercase(),
                        upper.to_lowercase()
                    );
                    page["@id"] = format!("{}/{lower_id}/{page_path}", self.url()).into();
                    let mut document = page.clone();
                    document["items"] = leaves.into();
                    document["parent"] = index_url.clone().into();
                    document["@context"] = registration_context();
                    write_gzip_json(&dir.join(page_path), &document);
                } else {
                    page["@id"] = format!("{index_url}#page/{lower}/{upper}").into();
                    page["items"] = leaves.into();
                    page["parent"] = index_url.clone().into();
                }
                page
            })
            .collect();
        write_gzip_json(
            &dir.join("index.json"),
            &json!({
                "@id": index_url,
                "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
                "commitId": COMMIT_ID,
                "commitTimeStamp": COMMIT_TIME,
                "count": pages.len(),
                "items": pages,
                "@context": registration_context(),
            }),
        );
        for p in versions {
            // REG-12: the leaf document links its catalog entry instead of inlining it.
            write_gzip_json(
                &dir.join(format!("{}.json", url_version(&p.version))),
                &json!({
                    "@id": self.leaf_url(p),
                    "@type": ["Package", "http://schema.nuget.org/catalog#Permalink"],
                    "catalogEntry": catalog_url(self.base_url, p),
                    "listed": p.listed,
                    "packageContent": package_content(self.base_url, p),
                    "published": published(p),
                    "registration": index_url,
                    "@context": registration_context(),
                }),
            );
        }
    }

    fn leaf_url(&self, p: &Package) -> String {
        format!(
            "{}/{}/{}.json",
            self.url(),
            p.id.to_lowercase(),
            url_version(&p.version)
        )
    }

    /// REG-7 to REG-11: a leaf inside a page, with its catalog entry inlined.
    fn leaf(&self, p: &Package) -> Value {
        let catalog = catalog_url(self.base_url, p);
        let mut entry = json!({
            "@id": catalog,
            "@type": "PackageDetails",
            "authors": p.authors,
            "description": p.description,
            "iconUrl": "",
            "id": p.id,
            "language": "",
            "licenseExpression": "",
            "licenseUrl": "",
            "listed": p.listed,
            "minClientVersion": "",
            "packageContent": package_content(self.base_url, p),
            "projectUrl": "",
            "published": published(p),
            "requireLicenseAcceptance": false,
            "summary": "",
            "tags": [""],
            "title": "",
            "version": p.version,
        });
        if !p.dependency_groups.is_empty() {
            entry["dependencyGroups"] = p
                .dependency_groups
                .iter()
                .map(|g| self.dependency_group(&catalog, g))
                .collect();
        }
        if let Some(deprecation) = &p.deprecation {
            let mut deprecation = deprecation.clone();
            deprecation["@id"] = format!("{catalog}#deprecation").into();
            if let Some(alternate) = deprecation.get_mut("alternatePackage") {
                alternate["@id"] = format!("{catalog}#deprecation/alternatePackage").into();
            }
            entry["deprecation"] = deprecation;
        }
        if !p.vulnerabilities.is_empty() {
            entry["vulnerabilities"] = p
                .vulnerabilities
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let mut v = v.clone();
                    v["@id"] = format!("{catalog}#vulnerability/GitHub/{i}").into();
                    v["@type"] = "Vulnerability".into();
                    v
                })
                .collect();
        }
        json!({
            "@id": self.leaf_url(p),
            "@type": "Package",
            "commitId": COMMIT_ID,
            "commitTimeStamp": COMMIT_TIME,
            "catalogEntry": entry,
            "packageContent": package_content(self.base_url, p),
            "registration": self.index_url(&p.id.to_lowercase()),
        })
    }

    /// REG-9: a group's `@id` names its framework, each dependency links its registration.
    fn dependency_group(&self, catalog: &str, group: &DependencyGroup) -> Value {
        let framework = group
            .target_framework
            .as_deref()
            .unwrap_or("")
            .to_lowercase();
        let group_id = format!("{catalog}#dependencygroup/{framework}");
        let dependencies: Vec<Value> = group
            .dependencies
            .iter()
            .map(|(id, range)| {
                json!({
                    "@id": format!("{group_id}/{}", id.to_lowercase()),
                    "@type": "PackageDependency",
                    "id": id,
                    "range": normalize_range(range),
                    "registration": self.index_url(&id.to_lowercase()),
                })
            })
            .collect();
        let mut value = json!({
            "@id": group_id,
            "@type": "PackageDependencyGroup",
            "dependencies": dependencies,
        });
        if let Some(framework) = &group.target_framework {
            value["targetFramework"] = framework.clone().into();
        }
        value
    }
}

/// nuget.org's catalog leaf URL (not served here: clients never fetch it).
fn catalog_url(base_url: &str, p: &Package) -> String {
    format!(
        "{base_url}/v3/catalog0/data/{}/{}.{}.json",
        p.published.format("%Y.%m.%d.%H.%M.%S"),
        p.id.to_lowercase(),
        url_version(&p.version)
    )
}

fn package_content(base_url: &str, p: &Package) -> String {
    let (id, v) = (p.id.to_lowercase(), url_version(&p.version));
    format!("{base_url}/{FLAT_CONTAINER}/{id}/{v}/{id}.{v}.nupkg")
}

fn published(p: &Package) -> String {
    if p.listed {
        p.published
            .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
            .to_string()
    } else {
        UNLISTED_PUBLISHED.to_owned()
    }
}

/// A trimmed copy of the JSON-LD context nuget.org's registration documents carry.
fn registration_context() -> Value {
    json!({
        "@vocab": "http://schema.nuget.org/schema#",
        "catalog": "http://schema.nuget.org/catalog#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "items": { "@id": "catalog:item", "@container": "@set" },
        "commitTimeStamp": { "@id": "catalog:commitTimeStamp", "@type": "xsd:dateTime" },
        "commitId": { "@id": "catalog:commitId" },
        "count": { "@id": "catalog:count" },
        "parent": { "@id": "catalog:parent", "@type": "@id" },
        "tags": { "@id": "tag", "@container": "@set" },
        "reasons": { "@container": "@set" },
        "packageTargetFrameworks": { "@id": "packageTargetFramework", "@container": "@set" },
        "dependencyGroups": { "@id": "dependencyGroup", "@container": "@set" },
        "dependencies": { "@id": "dependency", "@container": "@set" },
        "packageContent": { "@type": "@id" },
        "published": { "@type": "xsd:dateTime" },
        "registration": { "@type": "@id" },
    })
}

/// nginx serving `www` on `port`: JSON, packages and nuspecs with their content types, and the
/// registration hives with `Content-Encoding: gzip` (their files are compressed).
fn nginx_conf(dir: &Path, www: &Path, port: u16) -> String {
    let mut conf = nginx::http_preamble(dir);
    let _ = write!(
        conf,
        "types {{ application/json json; application/octet-stream nupkg; application/xml nuspec; }}\n\
         server {{\n  listen 127.0.0.1:{port};\n  root {www};\n  \
         location /{HIVE_SEMVER1}/ {{ add_header Content-Encoding gzip; }}\n  \
         location /{HIVE_SEMVER2}/ {{ add_header Content-Encoding gzip; }}\n}}\n}}\n",
        www = www.display()
    );
    conf
}

/// The `.nuspec` at the root of a package.
fn read_nuspec_entry(nupkg: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(nupkg)).expect("a .nupkg is a zip");
    let name = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| !n.contains('/') && n.to_lowercase().ends_with(".nuspec"))
        .map(|n| n.into_owned())
        .expect("a .nupkg has a .nuspec at its root");
    let mut bytes = Vec::new();
    zip.by_name(&name)
        .expect("the entry just listed")
        .read_to_end(&mut bytes)
        .expect("read the .nuspec");
    bytes
}

/// The nuspec's metadata the documents need; the rest of [`Package`] left at its defaults.
fn parse_nuspec(nuspec: &[u8]) -> Package {
    let text = std::str::from_utf8(nuspec).expect("a UTF-8 .nuspec");
    let mut reader = Reader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    let mut path: Vec<String> = Vec::new();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut groups: Vec<DependencyGroup> = Vec::new();
    loop {
        match reader.read_event().expect("a well-formed .nuspec") {
            Event::Start(start) => {
                let name = start.local_name().into_inner().to_owned();
                let attribute = |key: &str| {
                    start.attributes().flatten().find_map(|a| {
                        (a.key.local_name().into_inner() == key).then(|| {
                            a.normalized_value(XmlVersion::Implicit1_0)
                                .expect("an attribute value")
                                .into_owned()
                        })
                    })
                };
                match (path.last().map(String::as_str), name.as_str()) {
                    // Dependencies outside any group apply to every framework.
                    (Some("dependencies"), "group") => groups.push(DependencyGroup {
                        target_framework: attribute("targetFramework"),
                        dependencies: Vec::new(),
                    }),
                    (Some("dependencies" | "group"), "dependency") => {
                        if path.last().is_some_and(|p| p == "dependencies") && groups.is_empty() {
                            groups.push(DependencyGroup {
                                target_framework: None,
                                dependencies: Vec::new(),
                            });
                        }
                        let group = groups.last_mut().expect("a group was pushed");
                        group.dependencies.push((
                            attribute("id").expect("a dependency id"),
                            attribute("version").unwrap_or_default(),
                        ));
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text) if path.len() == 3 && path[1] == "metadata" => {
                fields
                    .entry(path[2].clone())
                    .or_default()
                    .push_str(text.xml10_content().trim());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    Package {
        id: field("id"),
        version: field("version"),
        authors: field("authors"),
        description: field("description"),
        dependency_groups: groups,
        nuspec: Vec::new(),
        nupkg: Vec::new(),
        listed: true,
        published: DateTime::<Utc>::UNIX_EPOCH,
        deprecation: None,
        vulnerabilities: Vec::new(),
    }
}

/// A nuspec's dependency `version` as a registration `range`: a bare version is a minimum
/// (`1.0.0` means `[1.0.0, )`), no version is any (REG-9).
fn normalize_range(range: &str) -> String {
    let range = range.trim();
    if range.is_empty() {
        "(, )".to_owned()
    } else if range.starts_with(['[', '(']) {
        range.to_owned()
    } else {
        format!("[{range}, )")
    }
}

/// A version without build metadata, as registration `lower`/`upper` show it.
fn bare_version(version: &str) -> &str {
    version.split('+').next().unwrap_or(version)
}

/// A version as URLs carry it: lower case, no build metadata.
fn url_version(version: &str) -> String {
    bare_version(version).to_lowercase()
}

/// SemVer2 versions (a dotted pre-release label or build metadata) are left out of the
/// SemVer1 hive (REG-1).
fn is_semver2(p: &Package) -> bool {
    p.version.contains('+')
        || p.version
            .split_once('-')
            .is_some_and(|(_, pre)| pre.contains('.'))
}

/// SemVer precedence of normalized NuGet versions: numbers first, then a release above its
/// pre-releases, whose labels compare part by part (numeric parts below alphanumeric ones,
/// letters case-insensitively).
fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (Vec<u64>, Option<&str>) {
        let (numbers, pre) = match bare_version(v).split_once('-') {
            Some((n, pre)) => (n, Some(pre)),
            None => (bare_version(v), None),
        };
        let numbers = numbers
            .split('.')
            .map(|n| n.parse().unwrap_or_else(|_| panic!("version `{v}`")))
            .collect();
        (numbers, pre)
    }
    fn label_part(a: &str, b: &str) -> Ordering {
        match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => a.to_lowercase().cmp(&b.to_lowercase()),
        }
    }
    let ((na, pa), (nb, pb)) = (split(a), split(b));
    na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let (xs, ys): (Vec<&str>, Vec<&str>) = (x.split('.').collect(), y.split('.').collect());
            xs.iter()
                .zip(&ys)
                .map(|(x, y)| label_part(x, y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| xs.len().cmp(&ys.len()))
        }
    })
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn write_json(path: &Path, value: &Value) {
    write_file(
        path,
        &serde_json::to_vec(value).expect("JSON values serialize"),
    );
}

fn write_gzip_json(path: &Path, value: &Value) {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&serde_json::to_vec(value).expect("JSON values serialize"))
        .and_then(|()| gz.finish())
        .map(|bytes| write_file(path, &bytes))
        .expect("gzip in memory");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_semver_precedence() {
        let mut v = vec![
            "1.0.10",
            "1.0.2",
            "1.0.0",
            "1.0.0-beta.2",
            "1.0.0-beta.10",
            "1.0.0-alpha",
            "2.0.0-rc.1",
            "1.0.0-beta",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "1.0.0-alpha",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.10",
                "1.0.0",
                "1.0.2",
                "1.0.10",
                "2.0.0-rc.1"
            ]
        );
    }

    #[test]
    fn ranges_are_written_as_registration_shows_them() {
        assert_eq!(normalize_range("1.0.0"), "[1.0.0, )");
        assert_eq!(normalize_range("[1.0.0,2.0.0)"), "[1.0.0,2.0.0)");
        assert_eq!(normalize_range(""), "(, )");
    }
}
