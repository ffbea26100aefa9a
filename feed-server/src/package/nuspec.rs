//! The `.nuspec` manifest: [`parse`] turns its bytes into a [`Nuspec`].
//!
//! The XML is hostile until proven otherwise: any `<!DOCTYPE>` is rejected (so no external
//! entities and no entity-expansion bombs), entity references other than the five predefined
//! ones and numeric character references are rejected, and size and nesting depth are capped
//! before anything is built. Elements and attributes are matched by *local* name because
//! nuspecs come with several `xmlns` (2010/07, 2011/08, 2012/06, 2013/05, or none).
//!
//! What the fields mean for the feed (hosted icon URLs, SemVer2 visibility) is decided in
//! `feed` and `api`; this module only reads them. `<owners>` is not kept: servers must ignore
//! it (implementation guide, §1.14).

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde::{Deserialize, Serialize};

use super::{Error, NuGetVersion, PackageId, Result, VersionRange, shown};

/// Deepest element nesting accepted. Real nuspecs nest 4 levels
/// (`package/metadata/dependencies/group/dependency`); the cap keeps a hostile document from
/// building a deep tree.
pub const MAX_DEPTH: usize = 32;

/// A package manifest, as far as a feed needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nuspec {
    /// `<id>`.
    pub id: PackageId,
    /// `<version>`, parsed.
    pub version: NuGetVersion,
    /// `<version>` as written (surrounding whitespace removed).
    pub version_text: String,
    /// `<title>`.
    pub title: Option<String>,
    /// `<authors>`, split on ',' and trimmed.
    pub authors: Vec<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<summary>`.
    pub summary: Option<String>,
    /// `<releaseNotes>`.
    pub release_notes: Option<String>,
    /// `<tags>`, split on whitespace, ',' and ';'.
    pub tags: Vec<String>,
    /// `<projectUrl>`.
    pub project_url: Option<String>,
    /// `<iconUrl>` (deprecated by NuGet in favour of `<icon>`).
    pub icon_url: Option<String>,
    /// `<icon>`: path of an embedded icon inside the package.
    pub icon: Option<String>,
    /// `<readme>`: path of an embedded readme inside the package.
    pub readme: Option<String>,
    /// `<license>`: an SPDX expression or an embedded file.
    pub license: Option<License>,
    /// `<licenseUrl>`.
    pub license_url: Option<String>,
    /// `<requireLicenseAcceptance>` is `true` (any casing).
    pub require_license_acceptance: bool,
    /// `<language>`.
    pub language: Option<String>,
    /// The `minClientVersion` attribute of `<metadata>`.
    pub min_client_version: Option<String>,
    /// `<copyright>`.
    pub copyright: Option<String>,
    /// `<developmentDependency>` is `true` (any casing).
    pub development_dependency: bool,
    /// `<dependencies>`: one entry per `<group>`; a legacy flat list of `<dependency>` (used
    /// only when there is no `<group>`, as NuGet does) becomes one group without a target
    /// framework.
    pub dependency_groups: Vec<DependencyGroup>,
    /// `<packageTypes>`.
    pub package_types: Vec<PackageType>,
    /// `<repository>`.
    pub repository: Option<Repository>,
}

/// Dependencies for one target framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyGroup {
    /// The `targetFramework` attribute as written (`net8.0`, `.NETStandard2.0`); `None` means
    /// every framework.
    pub target_framework: Option<String>,
    /// The group's dependencies, possibly none.
    pub dependencies: Vec<Dependency>,
}

/// One `<dependency id=".." version=".."/>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The package depended on.
    pub id: PackageId,
    /// Accepted versions; [`VersionRange::all`] when the `version` attribute is absent or empty.
    pub range: VersionRange,
}

/// One `<packageType name=".." version=".."/>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageType {
    /// `Dependency`, `DotnetTool`, `Template`, `SymbolsPackage`, ...
    pub name: String,
    /// The optional `version` attribute as written.
    pub version: Option<String>,
}

/// `<license type=".." version="..">value</license>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    /// What `value` is.
    pub kind: LicenseKind,
    /// The SPDX expression (`MIT OR Apache-2.0`) or the embedded file's path.
    pub value: String,
    /// The `version` attribute (license expression syntax version), as written.
    pub version: Option<String>,
}

/// The `type` of a `<license>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LicenseKind {
    /// An SPDX license expression.
    Expression,
    /// A path to a license file inside the package.
    File,
}

/// `<repository type=".." url=".." commit=".." branch=".."/>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    /// `type`, e.g. `git`.
    pub kind: Option<String>,
    /// `url`.
    pub url: Option<String>,
    /// `commit`.
    pub commit: Option<String>,
    /// `branch`.
    pub branch: Option<String>,
}

impl Nuspec {
    /// True when the package is SemVer2: its version is, or any dependency range bound is
    /// (N-4, as nuget.org decides it).
    pub fn is_semver2(&self) -> bool {
        self.version.is_semver2()
            || self
                .dependency_groups
                .iter()
                .flat_map(|g| &g.dependencies)
                .any(|d| d.range.is_semver2())
    }

    /// True when a package type is `SymbolsPackage` (any casing): the nuspec of a `.snupkg`
    /// (SYM-3).
    pub fn is_symbols_package(&self) -> bool {
        self.package_types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case("SymbolsPackage"))
    }
}

/// Parses a `.nuspec`. `max_bytes` is normally [`super::Limits::max_nuspec_bytes`].
///
/// Accepts UTF-8 (with or without a byte order mark) and UTF-16 with a byte order mark.
/// Text values are trimmed and empty ones are `None`; the first of repeated elements wins, as
/// in NuGet's `NuspecReader`.
pub fn parse(bytes: &[u8], max_bytes: usize) -> Result<Nuspec> {
    if bytes.len() > max_bytes {
        return Err(Error::NuspecTooLarge {
            limit: max_bytes as u64,
        });
    }
    let text = decode(bytes)?;
    let root = parse_tree(&text)?;
    read_nuspec(&root)
}

/// The document as text: UTF-8, or UTF-16 when it starts with a UTF-16 byte order mark.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>> {
    let utf16 = |bytes: &[u8], from: fn([u8; 2]) -> u16| {
        let units = bytes.chunks(2).map(|c| match c {
            [a, b] => from([*a, *b]),
            // An odd trailing byte cannot be UTF-16: an unpaired surrogate fails decoding.
            _ => 0xD800,
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(Cow::Owned)
            .map_err(|_| Error::NuspecEncoding)
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(Cow::Borrowed)
            .map_err(|_| Error::NuspecEncoding),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|_| Error::NuspecEncoding),
    }
}

/// An XML element reduced to what a nuspec needs: local names, attribute values and its own
/// text (the text of child elements is not included).
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// A child's trimmed text, `None` when absent or empty.
    fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).and_then(|c| non_empty(&c.text))
    }

    /// An attribute's trimmed value, `None` when absent or empty.
    fn attribute(&self, name: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| non_empty(value))
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Builds the element tree, rejecting DTDs, unknown entities and deep nesting.
fn parse_tree(text: &str) -> Result<Element> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    let xml_error = |reader: &Reader<&[u8]>, err: quick_xml::Error| match err {
        quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
            Error::NuspecEntity { name: shown(&name) }
        }
        other => Error::NuspecXml {
            position: reader.error_position(),
            message: other.to_string(),
        },
    };

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| xml_error(&reader, e))?;
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::NuspecTooDeep { limit: MAX_DEPTH });
                }
                if root.is_some() {
                    return Err(not_well_formed(&reader, "more than one root element"));
                }
                let element = read_start(&start).map_err(|e| xml_error(&reader, e))?;
                stack.push(element);
                // `expand_empty_elements` should turn `<a/>` into Start + End; close it here
                // in case it does not.
                if is_empty {
                    close(&mut stack, &mut root, &reader)?;
                }
            }
            Event::End(_) => close(&mut stack, &mut root, &reader)?,
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(cdata) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&cdata.into_inner());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|e| xml_error(&reader, e))?
                } else {
                    predefined_entity(&reference)
                };
                let c = resolved.ok_or_else(|| Error::NuspecEntity {
                    name: shown(&reference),
                })?;
                if let Some(current) = stack.last_mut() {
                    current.text.push(c);
                }
            }
            Event::DocType(_) => return Err(Error::NuspecDtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(not_well_formed(
            &reader,
            "unclosed element at end of document",
        ));
    }
    root.ok_or_else(|| not_well_formed(&reader, "no root element"))
}

/// Ends the innermost open element: it becomes its parent's child, or the root.
fn close(
    stack: &mut Vec<Element>,
    root: &mut Option<Element>,
    reader: &Reader<&[u8]>,
) -> Result<()> {
    let element = stack
        .pop()
        .ok_or_else(|| not_well_formed(reader, "end tag without start tag"))?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
    Ok(())
}

fn not_well_formed(reader: &Reader<&[u8]>, message: &str) -> Error {
    Error::NuspecXml {
        position: reader.buffer_position(),
        message: message.to_owned(),
    }
}

/// The five entities XML predefines; everything else needs a DTD, which we do not allow.
fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn read_start(start: &BytesStart<'_>) -> Result<Element, quick_xml::Error> {
    let mut element = Element {
        name: start.local_name().into_inner().to_owned(),
        ..Element::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(quick_xml::Error::InvalidAttr)?;
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let key = attribute.key.local_name().into_inner().to_owned();
        // Resolves only the predefined entities and character references; anything else is
        // an `UnrecognizedEntity` error.
        let value = attribute.normalized_value(XmlVersion::Implicit1_0)?;
        element.attributes.push((key, value.into_owned()));
    }
    Ok(element)
}

/// Reads the manifest out of the element tree.
fn read_nuspec(root: &Element) -> Result<Nuspec> {
    if root.name != "package" {
        return Err(Error::NuspecMissing {
            what: "<package> root element",
        });
    }
    let metadata = root.child("metadata").ok_or(Error::NuspecMissing {
        what: "<metadata> element in <package>",
    })?;

    let id_text = metadata.child_text("id").ok_or(Error::NuspecMissing {
        what: "<id> element in <metadata>",
    })?;
    let id = PackageId::parse(&id_text).map_err(|e| field("<id>", e))?;
    let version_text = metadata.child_text("version").ok_or(Error::NuspecMissing {
        what: "<version> element in <metadata>",
    })?;
    let version = NuGetVersion::parse(&version_text).map_err(|e| field("<version>", e))?;

    let split = |text: Option<String>, separators: &dyn Fn(char) -> bool| -> Vec<String> {
        text.map(|t| {
            t.split(separators)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    };
    let is_true = |name: &str| {
        metadata
            .child_text(name)
            .is_some_and(|t| t.eq_ignore_ascii_case("true"))
    };

    Ok(Nuspec {
        id,
        version,
        version_text,
        title: metadata.child_text("title"),
        authors: split(metadata.child_text("authors"), &|c| c == ','),
        description: metadata.child_text("description"),
        summary: metadata.child_text("summary"),
        release_notes: metadata.child_text("releaseNotes"),
        tags: split(metadata.child_text("tags"), &|c| {
            c.is_whitespace() || c == ',' || c == ';'
        }),
        project_url: metadata.child_text("projectUrl"),
        icon_url: metadata.child_text("iconUrl"),
        icon: metadata.child_text("icon"),
        readme: metadata.child_text("readme"),
        license: read_license(metadata)?,
        license_url: metadata.child_text("licenseUrl"),
        require_license_acceptance: is_true("requireLicenseAcceptance"),
        language: metadata.child_text("language"),
        min_client_version: metadata.attribute("minClientVersion"),
        copyright: metadata.child_text("copyright"),
        development_dependency: is_true("developmentDependency"),
        dependency_groups: read_dependency_groups(metadata)?,
        package_types: read_package_types(metadata)?,
        repository: metadata.child("repository").map(|r| Repository {
            kind: r.attribute("type"),
            url: r.attribute("url"),
            commit: r.attribute("commit"),
            branch: r.attribute("branch"),
        }),
    })
}

fn field(element: &'static str, source: Error) -> Error {
    Error::NuspecField {
        element,
        source: Box::new(source),
    }
}

fn read_license(metadata: &Element) -> Result<Option<License>> {
    let Some(license) = metadata.child("license") else {
        return Ok(None);
    };
    let invalid = |message: String| Error::NuspecInvalid {
        element: "<license>",
        message,
    };
    let kind = match license.attribute("type") {
        None => {
            return Err(invalid(
                "it has no type: use type=\"expression\" or type=\"file\"".into(),
            ));
        }
        Some(t) if t.eq_ignore_ascii_case("expression") => LicenseKind::Expression,
        Some(t) if t.eq_ignore_ascii_case("file") => LicenseKind::File,
        Some(t) => {
            return Err(invalid(format!(
                "type `{}` is unknown: use \"expression\" or \"file\"",
                shown(&t)
            )));
        }
    };
    let value = non_empty(&license.text)
        .ok_or_else(|| invalid("it is empty: give an SPDX expression or a file path".into()))?;
    Ok(Some(License {
        kind,
        value,
        version: license.attribute("version"),
    }))
}

fn read_dependency_groups(metadata: &Element) -> Result<Vec<DependencyGroup>> {
    let lists: Vec<&Element> = metadata.children("dependencies").collect();
    let mut groups = Vec::new();
    for group in lists.iter().flat_map(|d| d.children("group")) {
        groups.push(DependencyGroup {
            target_framework: group.attribute("targetFramework"),
            dependencies: group
                .children("dependency")
                .map(read_dependency)
                .collect::<Result<_>>()?,
        });
    }
    // Legacy flat list: NuGet reads it only when there are no groups.
    if groups.is_empty() {
        let flat: Vec<Dependency> = lists
            .iter()
            .flat_map(|d| d.children("dependency"))
            .map(read_dependency)
            .collect::<Result<_>>()?;
        if !flat.is_empty() {
            groups.push(DependencyGroup {
                target_framework: None,
                dependencies: flat,
            });
        }
    }
    Ok(groups)
}

fn read_dependency(dependency: &Element) -> Result<Dependency> {
    let id = dependency.attribute("id").ok_or(Error::NuspecMissing {
        what: "id attribute on a <dependency>",
    })?;
    let id = PackageId::parse(&id).map_err(|e| field("<dependency> id", e))?;
    let range = match dependency.attribute("version") {
        None => VersionRange::all(),
        Some(text) => VersionRange::parse(&text).map_err(|e| field("<dependency> version", e))?,
    };
    Ok(Dependency { id, range })
}

fn read_package_types(metadata: &Element) -> Result<Vec<PackageType>> {
    metadata
        .children("packageTypes")
        .flat_map(|types| types.children("packageType"))
        .map(|t| {
            let name = t.attribute("name").ok_or(Error::NuspecMissing {
                what: "name attribute on a <packageType>",
            })?;
            Ok(PackageType {
                name,
                version: t.attribute("version"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const LIMIT: usize = 1024 * 1024;

    /// A nuspec as `dotnet pack` writes it (2013/05 namespace, groups, license expression,
    /// package types, repository).
    const FULL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata minClientVersion="5.0">
    <id>Contoso.Utility</id>
    <version>1.02.0-Beta.1+sha.abc</version>
    <title>Contoso Utility</title>
    <authors>Alice, Bob ,, Carol</authors>
    <owners>ignored</owners>
    <requireLicenseAcceptance>True</requireLicenseAcceptance>
    <developmentDependency>false</developmentDependency>
    <license type="expression" version="1.0.0">MIT OR Apache-2.0</license>
    <licenseUrl>https://licenses.nuget.org/MIT%20OR%20Apache-2.0</licenseUrl>
    <icon>images\icon.png</icon>
    <readme>docs/README.md</readme>
    <projectUrl>https://example.com/</projectUrl>
    <iconUrl>https://example.com/icon.png</iconUrl>
    <description>
      Helpers &amp; more &lt;3 &#x263A; &#65;
    </description>
    <summary>Short</summary>
    <releaseNotes><![CDATA[Fixed <everything>]]></releaseNotes>
    <copyright>© Contoso</copyright>
    <language>en-US</language>
    <tags>utility, helpers;json
      xml</tags>
    <packageTypes>
      <packageType name="Dependency" />
      <packageType name="DotnetTool" version="1.0" />
    </packageTypes>
    <repository type="git" url="https://github.com/contoso/utility" commit="abc123" branch="main" />
    <dependencies>
      <group targetFramework="net8.0">
        <dependency id="Newtonsoft.Json" version="[13.0.1, )" exclude="Build,Analyzers" />
        <dependency id="System.Text.Json" />
      </group>
      <group targetFramework=".NETStandard2.0" />
      <group>
        <dependency id="Any.Framework" version="1.0" />
      </group>
    </dependencies>
  </metadata>
  <files>
    <file src="bin/**" target="lib" />
  </files>
</package>"#;

    fn nuspec(metadata: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><package><metadata><id>Foo</id><version>1.0.0</version>{metadata}</metadata></package>"#
        )
    }

    fn parse_str(xml: &str) -> Result<Nuspec> {
        parse(xml.as_bytes(), LIMIT)
    }

    #[test]
    fn reads_every_field_of_a_full_nuspec() {
        let n = parse_str(FULL).unwrap();
        assert_eq!(n.id.as_str(), "Contoso.Utility");
        assert_eq!(n.version.to_full(), "1.2.0-Beta.1+sha.abc");
        assert_eq!(n.version_text, "1.02.0-Beta.1+sha.abc");
        assert_eq!(n.title.as_deref(), Some("Contoso Utility"));
        assert_eq!(n.authors, ["Alice", "Bob", "Carol"]);
        assert_eq!(n.description.as_deref(), Some("Helpers & more <3 ☺ A"));
        assert_eq!(n.summary.as_deref(), Some("Short"));
        assert_eq!(n.release_notes.as_deref(), Some("Fixed <everything>"));
        assert_eq!(n.tags, ["utility", "helpers", "json", "xml"]);
        assert_eq!(n.project_url.as_deref(), Some("https://example.com/"));
        assert_eq!(n.icon_url.as_deref(), Some("https://example.com/icon.png"));
        assert_eq!(n.icon.as_deref(), Some("images\\icon.png"));
        assert_eq!(n.readme.as_deref(), Some("docs/README.md"));
        assert_eq!(
            n.license,
            Some(License {
                kind: LicenseKind::Expression,
                value: "MIT OR Apache-2.0".into(),
                version: Some("1.0.0".into()),
            })
        );
        assert_eq!(
            n.license_url.as_deref(),
            Some("https://licenses.nuget.org/MIT%20OR%20Apache-2.0")
        );
        assert!(n.require_license_acceptance);
        assert!(!n.development_dependency);
        assert_eq!(n.language.as_deref(), Some("en-US"));
        assert_eq!(n.min_client_version.as_deref(), Some("5.0"));
        assert_eq!(n.copyright.as_deref(), Some("© Contoso"));
        assert_eq!(
            n.package_types,
            [
                PackageType {
                    name: "Dependency".into(),
                    version: None
                },
                PackageType {
                    name: "DotnetTool".into(),
                    version: Some("1.0".into())
                },
            ]
        );
        assert_eq!(
            n.repository,
            Some(Repository {
                kind: Some("git".into()),
                url: Some("https://github.com/contoso/utility".into()),
                commit: Some("abc123".into()),
                branch: Some("main".into()),
            })
        );

        // One line per group: "framework: id range; id range".
        let groups: Vec<String> = n
            .dependency_groups
            .iter()
            .map(|g| {
                let deps: Vec<String> = g
                    .dependencies
                    .iter()
                    .map(|d| format!("{} {}", d.id, d.range))
                    .collect();
                format!(
                    "{}: {}",
                    g.target_framework.as_deref().unwrap_or("any"),
                    deps.join("; ")
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                "net8.0: Newtonsoft.Json [13.0.1, ); System.Text.Json (, )",
                ".NETStandard2.0: ",
                "any: Any.Framework [1.0.0, )",
            ]
        );
        assert!(n.is_semver2());
        assert!(!n.is_symbols_package());
    }

    #[test]
    fn minimal_nuspec_has_empty_defaults() {
        let n = parse_str(&nuspec("")).unwrap();
        assert_eq!(n.id.as_str(), "Foo");
        assert_eq!(n.authors, Vec::<String>::new());
        assert_eq!(n.tags, Vec::<String>::new());
        assert_eq!(n.dependency_groups, []);
        assert_eq!(n.package_types, []);
        assert_eq!(n.license, None);
        assert_eq!(n.repository, None);
        assert_eq!(n.description, None);
        assert!(!n.require_license_acceptance);
        assert!(!n.is_semver2());
    }

    /// Old nuspecs use other namespaces, or a prefix, or none at all: elements are matched by
    /// local name.
    #[test]
    fn matches_elements_by_local_name_in_any_namespace() {
        for xml in [
            r#"<package xmlns="http://schemas.microsoft.com/packaging/2010/07/nuspec.xsd"><metadata><id>Foo</id><version>1.0</version></metadata></package>"#,
            r#"<package xmlns="http://schemas.microsoft.com/packaging/2011/08/nuspec.xsd"><metadata><id>Foo</id><version>1.0</version></metadata></package>"#,
            r#"<n:package xmlns:n="http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd"><n:metadata><n:id>Foo</n:id><n:version>1.0</n:version></n:metadata></n:package>"#,
            r#"<package><metadata xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><id>Foo</id><version>1.0</version></metadata></package>"#,
        ] {
            let n = parse_str(xml).unwrap();
            assert_eq!(
                (n.id.as_str(), n.version.to_normalized().as_str()),
                ("Foo", "1.0.0")
            );
        }
    }

    #[test]
    fn flat_dependencies_become_one_group_without_framework() {
        let n = parse_str(&nuspec(
            r#"<dependencies><dependency id="A" version="1.0"/><dependency id="B" version=""/></dependencies>"#,
        ))
        .unwrap();
        assert_eq!(n.dependency_groups.len(), 1);
        assert_eq!(n.dependency_groups[0].target_framework, None);
        assert_eq!(
            n.dependency_groups[0].dependencies[1].range,
            VersionRange::all()
        );
    }

    /// NuGet's `NuspecReader` ignores the flat list when there are groups.
    #[test]
    fn flat_dependencies_are_ignored_next_to_groups() {
        let n = parse_str(&nuspec(
            r#"<dependencies><dependency id="Flat"/><group targetFramework="net8.0"><dependency id="Grouped"/></group></dependencies>"#,
        ))
        .unwrap();
        assert_eq!(n.dependency_groups.len(), 1);
        assert_eq!(
            n.dependency_groups[0].dependencies[0].id.as_str(),
            "Grouped"
        );
    }

    /// N-4: a SemVer2 dependency bound makes the whole package SemVer2.
    #[test]
    fn semver2_dependency_makes_the_package_semver2() {
        let n = parse_str(&nuspec(
            r#"<dependencies><dependency id="A" version="[1.0.0-alpha.1, )"/></dependencies>"#,
        ))
        .unwrap();
        assert!(!n.version.is_semver2());
        assert!(n.is_semver2());
    }

    #[test]
    fn reads_license_files_and_symbols_package_type() {
        let n = parse_str(&nuspec(
            r#"<license type="file">LICENSE.txt</license><packageTypes><packageType name="symbolspackage"/></packageTypes>"#,
        ))
        .unwrap();
        assert_eq!(
            n.license,
            Some(License {
                kind: LicenseKind::File,
                value: "LICENSE.txt".into(),
                version: None
            })
        );
        assert!(n.is_symbols_package());
    }

    #[test]
    fn accepts_utf8_bom_and_utf16() {
        let xml = nuspec("<title>Grüße</title>");
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice(xml.as_bytes());
        assert_eq!(
            parse(&with_bom, LIMIT).unwrap().title.as_deref(),
            Some("Grüße")
        );

        let utf16 = xml.replace(
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"utf-16\"?>",
        );
        let mut le = vec![0xFF, 0xFE];
        le.extend(utf16.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&le, LIMIT).unwrap().title.as_deref(), Some("Grüße"));
        let mut be = vec![0xFE, 0xFF];
        be.extend(utf16.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(parse(&be, LIMIT).unwrap().title.as_deref(), Some("Grüße"));
    }

    #[test]
    fn rejects_non_utf8() {
        let latin1 = b"<package><metadata><id>Foo</id><version>1.0</version><title>Caf\xE9</title></metadata></package>";
        assert!(matches!(parse(latin1, LIMIT), Err(Error::NuspecEncoding)));
        assert!(matches!(
            parse(&[0xFF, 0xFE, 0x3C], LIMIT),
            Err(Error::NuspecEncoding)
        ));
    }

    /// XXE: an external entity would read a server file into the description.
    #[test]
    fn rejects_doctype_with_external_entity() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<package><metadata><id>Foo</id><version>1.0.0</version><description>&xxe;</description></metadata></package>"#;
        let err = parse_str(xml).unwrap_err();
        assert!(matches!(err, Error::NuspecDtd), "{err:?}");
        assert!(err.to_string().contains("DOCTYPE"), "{err}");
    }

    #[test]
    fn rejects_billion_laughs() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<package><metadata><id>Foo</id><version>1.0.0</version><description>&lol3;</description></metadata></package>"#;
        assert!(matches!(parse_str(xml), Err(Error::NuspecDtd)));
    }

    /// Without a DTD an undeclared entity is not well-formed; say which entity it was.
    #[test]
    fn rejects_undeclared_entities_in_text_and_attributes() {
        let err = parse_str(&nuspec("<description>&xxe;</description>")).unwrap_err();
        assert!(
            matches!(&err, Error::NuspecEntity { name } if name == "xxe"),
            "{err:?}"
        );
        assert!(err.to_string().contains("`&xxe;`"), "{err}");
        let err = parse_str(&nuspec(r#"<repository url="&xxe;"/>"#)).unwrap_err();
        assert!(
            matches!(&err, Error::NuspecEntity { name } if name == "xxe"),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_oversize_nuspec_before_parsing() {
        let xml = nuspec(&format!("<description>{}</description>", "a".repeat(2000)));
        let err = parse(xml.as_bytes(), 1000).unwrap_err();
        assert!(err.is_too_large());
        assert!(
            matches!(err, Error::NuspecTooLarge { limit: 1000, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_deep_nesting() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        let err = parse_str(&nuspec(&deep)).unwrap_err();
        assert!(
            matches!(err, Error::NuspecTooDeep { limit: MAX_DEPTH }),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_malformed_xml() {
        for xml in [
            "",
            "not xml",
            "<package>",
            "<package><metadata></package>",
            "<package></package><package></package>",
            "<package a='1' a='2'></package>",
            "<package>&#0;</package>",
            "<package>&#xD800;</package>",
            "<package>&amp</package>",
        ] {
            assert!(
                matches!(
                    parse_str(xml),
                    Err(Error::NuspecXml { .. }
                        | Error::NuspecMissing { .. }
                        | Error::NuspecEntity { .. })
                ),
                "{xml:?}: {:?}",
                parse_str(xml)
            );
        }
    }

    #[test]
    fn requires_package_metadata_id_and_version() {
        let cases = [
            ("<nuspec><metadata/></nuspec>", "<package> root element"),
            ("<package/>", "<metadata> element in <package>"),
            (
                "<package><metadata><version>1.0</version></metadata></package>",
                "<id> element in <metadata>",
            ),
            (
                "<package><metadata><id>  </id><version>1.0</version></metadata></package>",
                "<id> element in <metadata>",
            ),
            (
                "<package><metadata><id>Foo</id></metadata></package>",
                "<version> element in <metadata>",
            ),
            (
                &nuspec("<dependencies><dependency version='1.0'/></dependencies>"),
                "id attribute on a <dependency>",
            ),
            (
                &nuspec("<packageTypes><packageType/></packageTypes>"),
                "name attribute on a <packageType>",
            ),
        ];
        for (xml, missing) in cases {
            let err = parse_str(xml).unwrap_err();
            assert!(
                matches!(err, Error::NuspecMissing { what } if what == missing),
                "{xml}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_ids_versions_and_ranges_with_the_element_named() {
        let cases = [
            (
                "<package><metadata><id>../evil</id><version>1.0</version></metadata></package>"
                    .to_owned(),
                "invalid <id> in the .nuspec: package id `../evil` is invalid",
            ),
            (
                "<package><metadata><id>Foo</id><version>1.0.0.0.0</version></metadata></package>"
                    .to_owned(),
                "invalid <version> in the .nuspec: version `1.0.0.0.0` is invalid",
            ),
            (
                nuspec("<dependencies><dependency id='a b'/></dependencies>"),
                "invalid <dependency> id in the .nuspec",
            ),
            (
                nuspec("<dependencies><dependency id='A' version='1.*'/></dependencies>"),
                "invalid <dependency> version in the .nuspec: version range `1.*` is invalid",
            ),
        ];
        for (xml, message) in cases {
            let err = parse_str(&xml).unwrap_err();
            assert!(matches!(err, Error::NuspecField { .. }), "{err:?}");
            assert!(err.to_string().starts_with(message), "{err}");
        }
    }

    #[test]
    fn rejects_unknown_or_empty_licenses() {
        for license in [
            "<license>MIT</license>",
            "<license type='url'>https://x</license>",
            "<license type='expression'> </license>",
        ] {
            let err = parse_str(&nuspec(license)).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::NuspecInvalid {
                        element: "<license>",
                        ..
                    }
                ),
                "{license}: {err:?}"
            );
        }
    }

    #[test]
    fn first_of_repeated_elements_wins() {
        let n = parse_str(&nuspec("<title>One</title><title>Two</title>")).unwrap();
        assert_eq!(n.title.as_deref(), Some("One"));
    }

    #[test]
    fn serde_round_trips() {
        let n = parse_str(FULL).unwrap();
        let json = serde_json::to_string(&n).unwrap();
        let back: Nuspec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);
        assert_eq!(back.version.metadata(), Some("sha.abc"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes, LIMIT);
        }

        #[test]
        fn parse_never_panics_on_xml_like_text(s in "[<>/=\"'&;#!?a-z0-9 \\[\\]-]{0,200}") {
            let _ = parse(s.as_bytes(), LIMIT);
            let _ = parse(nuspec(&s).as_bytes(), LIMIT);
        }

        #[test]
        fn parse_never_panics_on_mutated_nuspecs(
            index in 0..FULL.len(),
            byte in any::<u8>(),
        ) {
            let mut bytes = FULL.as_bytes().to_vec();
            bytes[index] = byte;
            let _ = parse(&bytes, LIMIT);
        }
    }
}
