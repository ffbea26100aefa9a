//! Test helpers shared by this crate's unit tests, its integration tests and the cross-crate
//! tests (feature `testing`): [`PackageBuilder`] makes real `.nupkg`/`.snupkg` bytes in memory,
//! [`portable_pdb`] a minimal portable PDB, and the rest are named hostile inputs (XXE, billion
//! laughs, zip bombs, path traversal, broken archives) for rejection tests.
//!
//! Everything panics on failure: these run only in tests, where a panic is the failure report.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: writing to an in-memory zip cannot fail, and a panic fails the test"
)]

use std::fmt::Write as _;
use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Builds a package the way `nuget pack` / `dotnet pack` lays it out: `[Content_Types].xml`,
/// `_rels/.rels`, `{id}.nuspec` at the root, a core-properties `.psmdcp`, and the files, with
/// entry names OPC-escaped (`My Icon.png` is stored as `My%20Icon.png`).
///
/// Values are written as given (XML-escaped), so a builder can also make packages the server
/// must reject, e.g. `PackageBuilder::new("../evil", "1.0.0")`.
#[derive(Debug, Clone)]
pub struct PackageBuilder {
    id: String,
    version: String,
    description: String,
    authors: String,
    title: Option<String>,
    tags: Option<String>,
    summary: Option<String>,
    /// (target framework, id, range)
    dependencies: Vec<(Option<String>, String, String)>,
    package_types: Vec<String>,
    license: Option<LicenseSpec>,
    icon: Option<String>,
    readme: Option<String>,
    /// (path as given, bytes)
    files: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone)]
enum LicenseSpec {
    Expression(String),
    File(String),
}

impl PackageBuilder {
    /// A package with a description and authors (both required by nuget.org) and nothing else.
    pub fn new(id: &str, version: &str) -> Self {
        PackageBuilder {
            id: id.to_owned(),
            version: version.to_owned(),
            description: format!("{id} test package"),
            authors: "Test Author".to_owned(),
            title: None,
            tags: None,
            summary: None,
            dependencies: Vec::new(),
            package_types: Vec::new(),
            license: None,
            icon: None,
            readme: None,
            files: Vec::new(),
        }
    }

    /// Sets `<description>`.
    pub fn description(mut self, s: &str) -> Self {
        self.description = s.to_owned();
        self
    }

    /// Sets `<authors>` (comma-separated).
    pub fn authors(mut self, s: &str) -> Self {
        self.authors = s.to_owned();
        self
    }

    /// Sets `<title>`.
    pub fn title(mut self, s: &str) -> Self {
        self.title = Some(s.to_owned());
        self
    }

    /// Sets `<tags>` (space-separated).
    pub fn tags(mut self, s: &str) -> Self {
        self.tags = Some(s.to_owned());
        self
    }

    /// Sets `<summary>`.
    pub fn summary(mut self, s: &str) -> Self {
        self.summary = Some(s.to_owned());
        self
    }

    /// Adds a dependency to the group for `target_framework` (`None`: the group without a
    /// target framework). `range` is written as given; `""` omits the `version` attribute.
    pub fn dependency(mut self, target_framework: Option<&str>, id: &str, range: &str) -> Self {
        self.dependencies.push((
            target_framework.map(str::to_owned),
            id.to_owned(),
            range.to_owned(),
        ));
        self
    }

    /// Adds a `<packageType name=".."/>`.
    pub fn package_type(mut self, name: &str) -> Self {
        self.package_types.push(name.to_owned());
        self
    }

    /// Sets `<license type="expression">` (and the `licenseUrl` pack derives from it).
    pub fn license_expression(mut self, expr: &str) -> Self {
        self.license = Some(LicenseSpec::Expression(expr.to_owned()));
        self
    }

    /// Sets `<license type="file">` and adds the file.
    pub fn license_file(mut self, path: &str, contents: &[u8]) -> Self {
        self.license = Some(LicenseSpec::File(path.to_owned()));
        self.file(path, contents)
    }

    /// Sets `<icon>` and adds the file.
    pub fn icon(mut self, path: &str, bytes: &[u8]) -> Self {
        self.icon = Some(path.to_owned());
        self.file(path, bytes)
    }

    /// Sets `<readme>` and adds the file.
    pub fn readme(mut self, path: &str, text: &str) -> Self {
        self.readme = Some(path.to_owned());
        self.file(path, text.as_bytes())
    }

    /// Adds any entry, e.g. `lib/net8.0/Foo.dll`. `\` in `path` becomes `/`.
    pub fn file(mut self, path: &str, bytes: &[u8]) -> Self {
        self.files.push((path.to_owned(), bytes.to_vec()));
        self
    }

    /// The nuspec [`PackageBuilder::build`] writes.
    pub fn nuspec_xml(&self) -> String {
        self.render_nuspec(false)
    }

    /// A `.nupkg`.
    pub fn build(&self) -> Vec<u8> {
        let files: Vec<(&str, &[u8])> = self
            .files
            .iter()
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
            .collect();
        write_package(&self.nuspec_name(), &self.render_nuspec(false), &files)
    }

    /// A `.snupkg` for this package: the nuspec with only the `SymbolsPackage` package type
    /// (and without icon, readme and license file), the given PDBs, and the files added with
    /// [`PackageBuilder::file`] (a real symbol package has only PDBs there; adding a `.dll`
    /// makes one the server must reject, SYM-3).
    pub fn build_symbols(&self, pdbs: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let embedded: Vec<&str> = [self.icon.as_deref(), self.readme.as_deref()]
            .into_iter()
            .flatten()
            .chain(match &self.license {
                Some(LicenseSpec::File(path)) => Some(path.as_str()),
                _ => None,
            })
            .collect();
        let files: Vec<(&str, &[u8])> = self
            .files
            .iter()
            .filter(|(path, _)| !embedded.contains(&path.as_str()))
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
            .chain(pdbs.iter().map(|(path, bytes)| (*path, bytes.as_slice())))
            .collect();
        write_package(&self.nuspec_name(), &self.render_nuspec(true), &files)
    }

    fn nuspec_name(&self) -> String {
        format!("{}.nuspec", escape_segment(&self.id))
    }

    fn render_nuspec(&self, symbols: bool) -> String {
        let mut xml = String::new();
        let x = escape_xml;
        xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        xml.push_str(
            "<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n",
        );
        xml.push_str("  <metadata>\n");
        writeln!(xml, "    <id>{}</id>", x(&self.id)).unwrap();
        writeln!(xml, "    <version>{}</version>", x(&self.version)).unwrap();
        if let Some(title) = &self.title {
            writeln!(xml, "    <title>{}</title>", x(title)).unwrap();
        }
        writeln!(xml, "    <authors>{}</authors>", x(&self.authors)).unwrap();
        match &self.license {
            Some(LicenseSpec::Expression(expr)) => {
                writeln!(
                    xml,
                    "    <license type=\"expression\">{}</license>",
                    x(expr)
                )
                .unwrap();
                writeln!(
                    xml,
                    "    <licenseUrl>https://licenses.nuget.org/{}</licenseUrl>",
                    x(expr)
                )
                .unwrap();
            }
            Some(LicenseSpec::File(path)) if !symbols => {
                writeln!(xml, "    <license type=\"file\">{}</license>", x(path)).unwrap();
                xml.push_str("    <licenseUrl>https://aka.ms/deprecateLicenseUrl</licenseUrl>\n");
            }
            _ => {}
        }
        if !symbols {
            if let Some(icon) = &self.icon {
                writeln!(xml, "    <icon>{}</icon>", x(icon)).unwrap();
            }
            if let Some(readme) = &self.readme {
                writeln!(xml, "    <readme>{}</readme>", x(readme)).unwrap();
            }
        }
        writeln!(
            xml,
            "    <description>{}</description>",
            x(&self.description)
        )
        .unwrap();
        if let Some(summary) = &self.summary {
            writeln!(xml, "    <summary>{}</summary>", x(summary)).unwrap();
        }
        if let Some(tags) = &self.tags {
            writeln!(xml, "    <tags>{}</tags>", x(tags)).unwrap();
        }
        let package_types: Vec<&str> = if symbols {
            vec!["SymbolsPackage"]
        } else {
            self.package_types.iter().map(String::as_str).collect()
        };
        if !package_types.is_empty() {
            xml.push_str("    <packageTypes>\n");
            for name in package_types {
                writeln!(xml, "      <packageType name=\"{}\" />", x(name)).unwrap();
            }
            xml.push_str("    </packageTypes>\n");
        }
        if !self.dependencies.is_empty() {
            xml.push_str("    <dependencies>\n");
            let mut frameworks: Vec<Option<&str>> = Vec::new();
            for (framework, _, _) in &self.dependencies {
                if !frameworks.contains(&framework.as_deref()) {
                    frameworks.push(framework.as_deref());
                }
            }
            for framework in frameworks {
                match framework {
                    Some(tfm) => {
                        writeln!(xml, "      <group targetFramework=\"{}\">", x(tfm)).unwrap();
                    }
                    None => xml.push_str("      <group>\n"),
                }
                for (_, id, range) in self
                    .dependencies
                    .iter()
                    .filter(|(f, _, _)| f.as_deref() == framework)
                {
                    if range.is_empty() {
                        writeln!(xml, "        <dependency id=\"{}\" />", x(id)).unwrap();
                    } else {
                        writeln!(
                            xml,
                            "        <dependency id=\"{}\" version=\"{}\" />",
                            x(id),
                            x(range)
                        )
                        .unwrap();
                    }
                }
                xml.push_str("      </group>\n");
            }
            xml.push_str("    </dependencies>\n");
        }
        xml.push_str("  </metadata>\n</package>\n");
        xml
    }
}

/// A minimal but structurally valid portable PDB with the given id: the ECMA-335 metadata root
/// (`BSJB`, version `PDB v1.0`), and `#Pdb` and `#Strings` streams. Enough for
/// [`crate::package::pdb::read_portable_pdb_id`], not for a debugger.
pub fn portable_pdb(guid: [u8; 16], stamp: u32) -> Vec<u8> {
    let version = b"PDB v1.0\0\0\0\0"; // NUL-padded to a multiple of 4
    let mut pdb_stream = Vec::new();
    pdb_stream.extend_from_slice(&guid);
    pdb_stream.extend_from_slice(&stamp.to_le_bytes());
    pdb_stream.extend_from_slice(&0u32.to_le_bytes()); // entry point: none
    pdb_stream.extend_from_slice(&0u64.to_le_bytes()); // referenced type system tables
    let strings_stream = [0u8; 4];
    let streams: [(&[u8], &[u8]); 2] = [
        (b"#Pdb\0\0\0\0", &pdb_stream),
        (b"#Strings\0\0\0\0", &strings_stream),
    ];

    let header_len = 4 + 2 + 2 + 4 + 4 + version.len() + 2 + 2;
    let stream_headers_len: usize = streams.iter().map(|(name, _)| 8 + name.len()).sum();
    let mut offset = header_len + stream_headers_len;

    let mut out = Vec::new();
    out.extend_from_slice(b"BSJB");
    out.extend_from_slice(&1u16.to_le_bytes()); // major
    out.extend_from_slice(&1u16.to_le_bytes()); // minor
    out.extend_from_slice(&0u32.to_le_bytes()); // reserved
    out.extend_from_slice(&(version.len() as u32).to_le_bytes());
    out.extend_from_slice(version);
    out.extend_from_slice(&0u16.to_le_bytes()); // flags
    out.extend_from_slice(&(streams.len() as u16).to_le_bytes());
    for (name, data) in &streams {
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(name);
        offset += data.len();
    }
    for (_, data) in &streams {
        out.extend_from_slice(data);
    }
    out
}

/// An id and the same id in other casing: one package (N-1).
pub const ID_MIXED_CASE: &str = "Contoso.Utility";
/// [`ID_MIXED_CASE`] in other casing.
pub const ID_OTHER_CASE: &str = "contoso.UTILITY";
/// A non-ASCII id: rejected (N-9).
pub const ID_NON_ASCII: &str = "Contoso.Ütility";
/// An id that would climb out of its storage folder: rejected.
pub const ID_TRAVERSAL: &str = "../evil";
/// An id with a path separator: rejected.
pub const ID_WITH_SLASH: &str = "Contoso/Utility";
/// A version with build metadata: stored and addressed as `1.0.0` (N-2, N-8), shown in full
/// in registration and search (N-6), SemVer2 (N-4).
pub const VERSION_WITH_METADATA: &str = "1.0.0+build.1";
/// A prerelease version ...
pub const VERSION_PRERELEASE_UPPER: &str = "1.0.0-Beta";
/// ... and the same version in other casing (N-5).
pub const VERSION_PRERELEASE_LOWER: &str = "1.0.0-beta";
/// A SemVer2 prerelease (dotted label), hidden from pre-3.6.0 hives (N-4).
pub const VERSION_SEMVER2: &str = "1.0.0-alpha.1";
/// `1.0.0` written with a 4th part and leading zeros: the same version as `1.0.0` (N-3).
pub const VERSION_UNNORMALIZED: &str = "01.0.0.0";

/// How a Windows (MSF 7.00) PDB starts: not a portable PDB, rejected in symbol packages (SYM-3).
pub const WINDOWS_PDB_HEADER: &[u8] =
    b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0\0\x10\0\0\x02\0\0\0\x10\0\0\0\0\0\0";

/// A nuspec with a DOCTYPE declaring an external entity (XXE) that would read
/// `/etc/passwd` into the description.
pub const NUSPEC_XXE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Xxe</id>
    <version>1.0.0</version>
    <authors>evil</authors>
    <description>&xxe;</description>
  </metadata>
</package>
"#;

/// The "billion laughs" entity-expansion bomb: a few hundred bytes that expand to gigabytes
/// in a parser that honours DTD entities.
pub const NUSPEC_BILLION_LAUGHS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE package [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Lolz</id>
    <version>1.0.0</version>
    <authors>evil</authors>
    <description>&lol9;</description>
  </metadata>
</package>
"#;

/// A nuspec using an entity no DTD declares (what XXE looks like once the DOCTYPE is gone).
pub const NUSPEC_UNDECLARED_ENTITY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<package>
  <metadata>
    <id>Entity</id>
    <version>1.0.0</version>
    <authors>evil</authors>
    <description>&xxe;</description>
  </metadata>
</package>
"#;

/// The entry in [`zip_with_lying_entry_size`] whose declared size is a lie.
pub const LYING_ENTRY: &str = "content/lying.bin";

/// A package with a real zip bomb entry: 4 MiB of zeros (`content/bomb.bin`) deflated to 4 KiB,
/// a ratio of about 1000:1 (limit: 200). Scale the idea up and a 250 MiB upload inflates to
/// 250 GiB.
pub fn zip_bomb() -> Vec<u8> {
    let mut zip = package_zip("Bomb", "1.0.0");
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // Best compression: deflate reaches its ~1000:1 maximum on zeros.
        .compression_level(Some(9));
    zip.start_file("content/bomb.bin", options).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..64 {
        zip.write_all(&chunk).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A package whose central directory declares two entries of almost 4 GiB each (8 GiB in
/// total, limit 4 GiB) while they hold a few bytes: rejected before anything is inflated.
pub fn zip_declaring_huge_size() -> Vec<u8> {
    let bytes = PackageBuilder::new("Huge", "1.0.0")
        .file("content/a.bin", b"aaaa")
        .file("content/b.bin", b"bbbb")
        .build();
    let bytes = patch_declared_size(bytes, "content/a.bin", 0xFFFF_FFF0);
    patch_declared_size(bytes, "content/b.bin", 0xFFFF_FFF0)
}

/// A package with an entry ([`LYING_ENTRY`]) that declares 100 bytes but inflates to 256 KiB:
/// readers must bound what they inflate, not trust the header.
pub fn zip_with_lying_entry_size() -> Vec<u8> {
    let bytes = PackageBuilder::new("Liar", "1.0.0")
        .file(LYING_ENTRY, &vec![0u8; 256 * 1024])
        .build();
    patch_declared_size(bytes, LYING_ENTRY, 100)
}

/// A package with an entry named `../evil` (zip slip).
pub fn zip_with_path_traversal() -> Vec<u8> {
    let mut zip = package_zip("Traversal", "1.0.0");
    zip.start_file("../evil", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"evil").unwrap();
    zip.finish().unwrap().into_inner()
}

/// A package with two `.nuspec` files at the root.
pub fn zip_with_two_nuspecs() -> Vec<u8> {
    let mut zip = package_zip("Twice", "1.0.0");
    zip.start_file("Other.nuspec", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(
        PackageBuilder::new("Other", "1.0.0")
            .nuspec_xml()
            .as_bytes(),
    )
    .unwrap();
    zip.finish().unwrap().into_inner()
}

/// A zip laid out like a package but without any `.nuspec`.
pub fn zip_without_nuspec() -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    write_entry(&mut zip, "[Content_Types].xml", CONTENT_TYPES.as_bytes());
    write_entry(&mut zip, "lib/net8.0/Foo.dll", b"MZ");
    zip.finish().unwrap().into_inner()
}

/// A valid package cut in half (as an interrupted upload leaves it): no end of central
/// directory.
pub fn truncated_zip() -> Vec<u8> {
    let mut bytes = PackageBuilder::new("Truncated", "1.0.0")
        .file("lib/net8.0/Truncated.dll", &[42u8; 4096])
        .build();
    bytes.truncate(bytes.len() / 2);
    bytes
}

/// A package whose root nuspec is `nuspec_name` holding exactly `nuspec` (e.g.
/// [`NUSPEC_XXE`]), for feeding hostile manifests through the upload path.
pub fn nupkg_with_raw_nuspec(nuspec_name: &str, nuspec: &str) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    write_entry(&mut zip, "[Content_Types].xml", CONTENT_TYPES.as_bytes());
    write_entry(&mut zip, nuspec_name, nuspec.as_bytes());
    zip.finish().unwrap().into_inner()
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="psmdcp" ContentType="application/vnd.openxmlformats-package.core-properties+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="pdb" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
  <Default Extension="png" ContentType="application/octet" />
  <Default Extension="md" ContentType="application/octet" />
  <Default Extension="txt" ContentType="application/octet" />
  <Default Extension="bin" ContentType="application/octet" />
</Types>
"#;

const PSMDCP_NAME: &str =
    "package/services/metadata/core-properties/0123456789abcdef0123456789abcdef.psmdcp";

/// Writes the OPC parts and the nuspec, then `files`.
fn write_package(nuspec_name: &str, nuspec: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let rels = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/{nuspec_name}" Id="R1" />
  <Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/{PSMDCP_NAME}" Id="R2" />
</Relationships>
"#
    );
    write_entry(&mut zip, "_rels/.rels", rels.as_bytes());
    write_entry(&mut zip, nuspec_name, nuspec.as_bytes());
    for (path, bytes) in files {
        let name = path
            .split(['/', '\\'])
            .map(escape_segment)
            .collect::<Vec<_>>()
            .join("/");
        write_entry(&mut zip, &name, bytes);
    }
    write_entry(&mut zip, "[Content_Types].xml", CONTENT_TYPES.as_bytes());
    let psmdcp = r#"<?xml version="1.0" encoding="utf-8"?>
<coreProperties xmlns="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" />
"#;
    write_entry(&mut zip, PSMDCP_NAME, psmdcp.as_bytes());
    zip.finish().unwrap().into_inner()
}

/// A zip with a valid package's OPC parts and nuspec, open for more entries.
fn package_zip(id: &str, version: &str) -> ZipWriter<Cursor<Vec<u8>>> {
    let builder = PackageBuilder::new(id, version);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    write_entry(&mut zip, "[Content_Types].xml", CONTENT_TYPES.as_bytes());
    write_entry(
        &mut zip,
        &builder.nuspec_name(),
        builder.nuspec_xml().as_bytes(),
    );
    zip
}

fn write_entry(zip: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, bytes: &[u8]) {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    zip.write_all(bytes).unwrap();
}

/// Rewrites the uncompressed size that the central directory and the local header declare
/// for `name`, leaving the data alone.
fn patch_declared_size(mut bytes: Vec<u8>, name: &str, size: u32) -> Vec<u8> {
    let name = name.as_bytes();
    let mut patched = 0;
    let mut i = 0;
    while i + 46 <= bytes.len() {
        let field = |bytes: &[u8], at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        match &bytes[i..i + 4] {
            // Central directory file header: uncompressed size at 24, name length at 28,
            // name at 46.
            b"PK\x01\x02" => {
                let name_len = usize::from(field(&bytes, i + 28));
                if bytes.get(i + 46..i + 46 + name_len) == Some(name) {
                    bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                    patched += 1;
                }
            }
            // Local file header: uncompressed size at 22, name length at 26, name at 30.
            b"PK\x03\x04" => {
                let name_len = usize::from(field(&bytes, i + 26));
                if bytes.get(i + 30..i + 30 + name_len) == Some(name) {
                    bytes[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
                    patched += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    assert_eq!(
        patched, 2,
        "expected one local and one central header for the entry"
    );
    bytes
}

/// .NET's `Uri.EscapeDataString` for one path segment, as `nuget pack` names zip entries:
/// unreserved characters stay, everything else becomes `%XX`.
fn escape_segment(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            write!(out, "%{b:02X}").unwrap();
        }
    }
    out
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Error, nuspec};

    #[test]
    fn builder_nuspec_parses_back() {
        let builder = PackageBuilder::new("Foo.Bar", "1.0.0-rc.1+sha")
            .title("Foo & Bar <3")
            .tags("a b c")
            .summary("S")
            .dependency(Some("net8.0"), "Dep.One", "[1.0, 2.0)")
            .dependency(None, "Dep.Two", "")
            .dependency(Some("net8.0"), "Dep.Three", "3.0")
            .package_type("DotnetTool")
            .license_expression("MIT");
        let n = nuspec::parse(builder.nuspec_xml().as_bytes(), 1 << 20).unwrap();
        assert_eq!(n.id.as_str(), "Foo.Bar");
        assert_eq!(n.version.to_full(), "1.0.0-rc.1+sha");
        assert_eq!(n.title.as_deref(), Some("Foo & Bar <3"));
        assert_eq!(n.tags, ["a", "b", "c"]);
        assert_eq!(n.dependency_groups.len(), 2);
        assert_eq!(n.dependency_groups[0].dependencies.len(), 2);
        assert_eq!(n.dependency_groups[1].target_framework, None);
        assert_eq!(n.package_types[0].name, "DotnetTool");
        assert_eq!(
            n.license_url.as_deref(),
            Some("https://licenses.nuget.org/MIT")
        );
    }

    #[test]
    fn hostile_nuspecs_are_rejected() {
        for xml in [NUSPEC_XXE, NUSPEC_BILLION_LAUGHS] {
            assert!(matches!(
                nuspec::parse(xml.as_bytes(), 1 << 20),
                Err(Error::NuspecDtd)
            ));
        }
        assert!(matches!(
            nuspec::parse(NUSPEC_UNDECLARED_ENTITY.as_bytes(), 1 << 20),
            Err(Error::NuspecEntity { .. })
        ));
    }

    #[test]
    fn named_ids_and_versions_mean_what_they_say() {
        use crate::package::{NuGetVersion, PackageId};
        assert_eq!(
            PackageId::parse(ID_MIXED_CASE).unwrap(),
            PackageId::parse(ID_OTHER_CASE).unwrap()
        );
        for id in [ID_NON_ASCII, ID_TRAVERSAL, ID_WITH_SLASH] {
            assert!(PackageId::parse(id).is_err(), "{id}");
        }
        let v = |s| NuGetVersion::parse(s).unwrap();
        assert_eq!(v(VERSION_WITH_METADATA).lower_normalized(), "1.0.0");
        assert!(v(VERSION_WITH_METADATA).is_semver2());
        assert_eq!(v(VERSION_PRERELEASE_UPPER), v(VERSION_PRERELEASE_LOWER));
        assert!(v(VERSION_SEMVER2).is_semver2());
        assert_eq!(v(VERSION_UNNORMALIZED).to_normalized(), "1.0.0");
    }

    #[test]
    fn escape_segment_matches_uri_escape_data_string() {
        assert_eq!(escape_segment("My Icon (1).png"), "My%20Icon%20%281%29.png");
        assert_eq!(escape_segment("ä~"), "%C3%A4~");
    }
}
