//! The Atom documents of the V2 feed: a feed of entries, or one entry, in the shape the
//! NuGet.Client V2 feed parser and NuGet.Core's WCF Data Services client read (`m:properties`
//! beside `<content src>` = the download URL, typed `d:` properties, `Edm.DateTime` without an
//! offset and with milliseconds, `m:null` for absent values), with the metadata V3 shows:
//! icon and license URLs come from the V3 views' own helpers (`api::metadata`), so the two
//! protocols cannot differ.

use chrono::{DateTime, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::Error;
use super::rows::Row;
use crate::api::metadata;
use crate::api::urls::FeedUrls;
use crate::feed::event::Pushed;
use crate::package::{Nuspec, VersionRange};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const DATA: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices";
const META: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata";
const SCHEME: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme";
/// The entity type, named as the gallery named it: NuGet.Core maps any `*V2FeedPackage` to
/// its package class.
pub const ENTITY_TYPE: &str = "NuGetGallery.OData.V2FeedPackage";
/// `Published` of an unlisted version: 1900-01-01, as nuget.org shows it (REG-8).
const UNLISTED: &str = "1900-01-01T00:00:00";

/// The properties of an entry, in the gallery's order, with their EDM type (`None`: string).
pub const PROPERTIES: [(&str, Option<&str>); 33] = [
    ("Id", None),
    ("Version", None),
    ("NormalizedVersion", None),
    ("Authors", None),
    ("Copyright", None),
    ("Created", Some("Edm.DateTime")),
    ("Dependencies", None),
    ("Description", None),
    ("DownloadCount", Some("Edm.Int32")),
    ("IconUrl", None),
    ("IsLatestVersion", Some("Edm.Boolean")),
    ("IsAbsoluteLatestVersion", Some("Edm.Boolean")),
    ("IsPrerelease", Some("Edm.Boolean")),
    ("Language", None),
    ("LastUpdated", Some("Edm.DateTime")),
    ("Published", Some("Edm.DateTime")),
    ("PackageHash", None),
    ("PackageHashAlgorithm", None),
    ("PackageSize", Some("Edm.Int64")),
    ("ProjectUrl", None),
    ("ReleaseNotes", None),
    ("RequireLicenseAcceptance", Some("Edm.Boolean")),
    ("Summary", None),
    ("Tags", None),
    ("Title", None),
    ("VersionDownloadCount", Some("Edm.Int32")),
    ("MinClientVersion", None),
    ("LastEdited", Some("Edm.DateTime")),
    ("LicenseUrl", None),
    ("LicenseNames", None),
    ("Owners", None),
    ("Listed", Some("Edm.Boolean")),
    ("DevelopmentDependency", Some("Edm.Boolean")),
];

/// Validates a `$select` list against [`PROPERTIES`]; the names as the entry spells them.
pub fn select(text: &str) -> Result<Vec<String>, Error> {
    text.split(',')
        .map(|name| {
            let name = name.trim();
            PROPERTIES
                .iter()
                .find(|(p, _)| p.eq_ignore_ascii_case(name))
                .map(|(p, _)| (*p).to_owned())
                .ok_or_else(|| {
                    Error::new(format!(
                        "`$select` names `{name}`, which is not a property of a package: use \
                         names such as Id, Version, Description, DownloadCount"
                    ))
                })
        })
        .collect()
}

/// One version to write: its row, its push facts (the full nuspec, size and hash) and the
/// accounts that may push its id.
pub struct Entry<'a> {
    pub row: Row<'a>,
    pub pushed: &'a Pushed,
    pub owners: Vec<String>,
}

/// A page of a collection.
pub struct Page<'a> {
    /// `Packages`, `Search`, ...: the feed's title and the last segment of its `<id>`.
    pub resource: &'static str,
    pub entries: Vec<Entry<'a>>,
    /// `$inlinecount=allpages`: the number of rows of the whole collection.
    pub count: Option<usize>,
    /// The absolute URL of the next page, when there is one.
    pub next: Option<String>,
    /// The feed's `<updated>`: the time of the newest change it shows.
    pub updated: DateTime<Utc>,
}

/// A feed document.
pub fn render_feed(urls: &FeedUrls, page: &Page<'_>, select: Option<&[String]>) -> Vec<u8> {
    let mut w = Xml::new();
    let base = urls.v2_base();
    w.start(
        "feed",
        &[
            ("xml:base", base.as_str()),
            ("xmlns", ATOM),
            ("xmlns:d", DATA),
            ("xmlns:m", META),
        ],
    );
    if let Some(count) = page.count {
        w.text("m:count", &[], &count.to_string());
    }
    w.text("id", &[], &format!("{base}{}", page.resource));
    w.text("title", &[("type", "text")], page.resource);
    w.text("updated", &[], &atom_time(&page.updated));
    w.empty(
        "link",
        &[
            ("rel", "self"),
            ("title", page.resource),
            ("href", page.resource),
        ],
    );
    for entry in &page.entries {
        write_entry(&mut w, urls, entry, select, false);
    }
    if let Some(next) = &page.next {
        w.empty("link", &[("rel", "next"), ("href", next)]);
    }
    w.end("feed");
    w.finish()
}

/// An entry document (`Packages(Id='..',Version='..')`).
pub fn render_entry(urls: &FeedUrls, entry: &Entry<'_>, select: Option<&[String]>) -> Vec<u8> {
    let mut w = Xml::new();
    write_entry(&mut w, urls, entry, select, true);
    w.finish()
}

fn write_entry(
    w: &mut Xml,
    urls: &FeedUrls,
    entry: &Entry<'_>,
    select: Option<&[String]>,
    root: bool,
) {
    let v = entry.row.version;
    let n = &entry.pushed.nuspec;
    let (id, version) = (v.id(), v.version());
    let key = format!(
        "Packages(Id='{}',Version='{}')",
        id.as_str(),
        version.to_normalized()
    );
    let base = urls.v2_base();
    if root {
        w.start(
            "entry",
            &[
                ("xml:base", base.as_str()),
                ("xmlns", ATOM),
                ("xmlns:d", DATA),
                ("xmlns:m", META),
            ],
        );
    } else {
        w.start("entry", &[]);
    }
    w.text("id", &[], &format!("{base}{key}"));
    w.empty("category", &[("term", ENTITY_TYPE), ("scheme", SCHEME)]);
    w.empty(
        "link",
        &[("rel", "edit"), ("title", "V2FeedPackage"), ("href", &key)],
    );
    w.text("title", &[("type", "text")], id.as_str());
    w.text(
        "summary",
        &[("type", "text")],
        n.summary.as_deref().unwrap_or(""),
    );
    w.text("updated", &[], &atom_time(&v.last_edited));
    w.start("author", &[]);
    w.text("name", &[], &n.authors.join(", "));
    w.end("author");
    w.empty(
        "link",
        &[
            ("rel", "edit-media"),
            ("title", "V2FeedPackage"),
            ("href", &format!("{key}/$value")),
        ],
    );
    w.empty(
        "content",
        &[
            ("type", "application/zip"),
            ("src", &urls.v2_package(id, version)),
        ],
    );
    w.start("m:properties", &[]);
    for (name, ty) in PROPERTIES {
        if select.is_some_and(|s| !s.iter().any(|p| p == name)) {
            continue;
        }
        let value = property(name, urls, entry);
        let element = format!("d:{name}");
        match (value, ty) {
            (Some(value), Some(ty)) => w.text(&element, &[("m:type", ty)], &value),
            (Some(value), None) => w.text(&element, &[], &value),
            (None, Some(ty)) => w.empty(&element, &[("m:type", ty), ("m:null", "true")]),
            (None, None) => w.empty(&element, &[("m:null", "true")]),
        }
    }
    w.end("m:properties");
    w.end("entry");
}

/// The value of one property, as text; `None` for null.
fn property(name: &str, urls: &FeedUrls, entry: &Entry<'_>) -> Option<String> {
    let (row, v, p) = (&entry.row, entry.row.version, entry.pushed);
    let n = &p.nuspec;
    let (id, version) = (v.id(), v.version());
    let bool_text = |b: bool| Some(b.to_string());
    match name {
        "Id" => Some(id.as_str().to_owned()),
        "Version" => Some(version.to_full()),
        "NormalizedVersion" => Some(version.to_normalized()),
        "Authors" => Some(n.authors.join(", ")),
        "Copyright" => n.copyright.clone(),
        "Created" => Some(edm_time(&v.published)),
        "Dependencies" => Some(dependencies(n)),
        "Description" => n.description.clone(),
        "DownloadCount" => Some(int32(row.downloads)),
        "IconUrl" => metadata::icon_url(urls, id, version, n.icon_url.as_deref(), v.files),
        "IsLatestVersion" => bool_text(row.latest),
        "IsAbsoluteLatestVersion" => bool_text(row.absolute_latest),
        "IsPrerelease" => bool_text(version.is_prerelease()),
        "Language" => n.language.clone(),
        "LastUpdated" | "LastEdited" => Some(edm_time(&v.last_edited)),
        // Unlisted versions show 1900 (REG-8): the V2 clients' only sign of being unlisted.
        "Published" if !v.listed => Some(UNLISTED.to_owned()),
        "Published" => Some(edm_time(&v.published)),
        "PackageHash" => Some(p.sha512.clone()),
        "PackageHashAlgorithm" => Some("SHA512".to_owned()),
        "PackageSize" => Some(p.size.to_string()),
        "ProjectUrl" => n.project_url.clone(),
        "ReleaseNotes" => n.release_notes.clone(),
        "RequireLicenseAcceptance" => bool_text(n.require_license_acceptance),
        "Summary" => n.summary.clone(),
        "Tags" => Some(n.tags.join(" ")),
        "Title" => n.title.clone(),
        "VersionDownloadCount" => Some(int32(row.version_downloads)),
        "MinClientVersion" => n.min_client_version.clone(),
        "LicenseUrl" => metadata::license_url(
            urls,
            id,
            version,
            n.license.as_ref(),
            n.license_url.as_deref(),
            v.files,
        ),
        "LicenseNames" => metadata::license_expression(n.license.as_ref()).map(str::to_owned),
        "Owners" => Some(entry.owners.join(", ")),
        "Listed" => bool_text(v.listed),
        "DevelopmentDependency" => bool_text(n.development_dependency),
        _ => None,
    }
}

/// `Edm.Int32`: counts past its range show its maximum.
fn int32(n: u64) -> String {
    n.min(i32::MAX as u64).to_string()
}

/// The V2 dependency list: `id:range:framework` joined by `|`; a framework group without
/// dependencies is `::framework`, an unbounded range is empty (what the gallery wrote and
/// NuGet.Core's parser reads).
pub fn dependencies(n: &Nuspec) -> String {
    let mut parts = Vec::new();
    for group in &n.dependency_groups {
        let framework = group.target_framework.as_deref().unwrap_or("");
        if group.dependencies.is_empty() {
            parts.push(format!("::{framework}"));
        }
        for d in &group.dependencies {
            let range = if d.range == VersionRange::all() {
                String::new()
            } else {
                d.range.to_normalized()
            };
            parts.push(format!("{}:{range}:{framework}", d.id.as_str()));
        }
    }
    parts.join("|")
}

/// `Edm.DateTime` as WCF Data Services writes it: UTC without an offset, milliseconds
/// (more than seven fractional digits would not parse in .NET).
fn edm_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// An Atom date (RFC 3339, UTC).
fn atom_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes XML into memory. Writing into a `Vec` cannot fail, so the writer's `io::Result`s
/// are dropped here once instead of at every element.
struct Xml(Writer<Vec<u8>>);

impl Xml {
    fn new() -> Xml {
        let mut w = Writer::new(Vec::with_capacity(16 * 1024));
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        Xml(w)
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        let _ = self.0.write_event(Event::Start(start));
    }

    fn end(&mut self, name: &str) {
        let _ = self.0.write_event(Event::End(BytesEnd::new(name)));
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        let _ = self.0.write_event(Event::Empty(start));
    }

    /// An element holding `text` (escaped; characters XML 1.0 cannot carry are dropped).
    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        let clean: std::borrow::Cow<'_, str> = if text.chars().all(xml_char) {
            text.into()
        } else {
            text.chars()
                .filter(|&c| xml_char(c))
                .collect::<String>()
                .into()
        };
        let _ = self.0.write_event(Event::Text(BytesText::new(&clean)));
        self.end(name);
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner()
    }
}

/// Whether XML 1.0 can carry `c` (`Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
