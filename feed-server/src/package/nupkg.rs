//! The `.nupkg` (and `.snupkg`) zip: [`Archive::open`] checks the central directory against
//! [`Limits`], finds and parses the one root `.nuspec`, and then reads single entries (embedded
//! icon, readme, license; a symbol package's PDBs) with bounded reads.
//!
//! The package is never extracted and never rewritten: the feed stores the uploaded bytes as
//! they are (PBA-4, REG-15), so the checks here are about what we read, plus refusing
//! archives that would hurt whoever extracts them (zip bombs, path traversal).

use std::io::{self, Read, Seek};

use zip::ZipArchive;
use zip::result::ZipError;

use super::{Error, Nuspec, Result, nuspec, pdb, shown};

/// Entries whose declared size is below this are not checked against
/// [`Limits::max_ratio`]: small, very repetitive files (a 64 KiB run of spaces) compress far
/// better than 200:1 and are harmless.
pub const RATIO_CHECK_MIN_BYTES: u64 = 1024 * 1024;

/// File types a symbol package may contain (SYM-3).
const SYMBOL_PACKAGE_EXTENSIONS: [&str; 6] = ["pdb", "nuspec", "xml", "psmdcp", "rels", "p7s"];

/// Size limits applied while reading a package. The upload's own size is limited by the HTTP
/// layer before any of this runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most entries in the zip's central directory.
    pub max_entries: usize,
    /// Most bytes all entries may declare uncompressed, together.
    pub max_uncompressed_bytes: u64,
    /// Highest uncompressed/compressed ratio of one entry (for entries of at least
    /// [`RATIO_CHECK_MIN_BYTES`]).
    pub max_ratio: u64,
    /// Largest `.nuspec`, in bytes.
    pub max_nuspec_bytes: usize,
    /// Largest embedded icon, readme or license file, in bytes.
    pub max_embedded_file_bytes: u64,
}

impl Default for Limits {
    /// 65 536 entries, 4 GiB uncompressed, ratio 200, 1 MiB nuspec (Gitea allows 3 MiB, N-9;
    /// real ones are a few KiB), 10 MiB embedded files.
    fn default() -> Self {
        Limits {
            max_entries: 65_536,
            max_uncompressed_bytes: 4 * 1024 * 1024 * 1024,
            max_ratio: 200,
            max_nuspec_bytes: 1024 * 1024,
            max_embedded_file_bytes: 10 * 1024 * 1024,
        }
    }
}

/// An opened, checked package with its parsed nuspec.
pub struct Archive<R> {
    zip: ZipArchive<R>,
    /// Entry names, by zip index.
    names: Vec<String>,
    nuspec: Nuspec,
    nuspec_bytes: Vec<u8>,
    limits: Limits,
}

impl<R> std::fmt::Debug for Archive<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("id", &self.nuspec.id)
            .field("version", &self.nuspec.version)
            .field("entries", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl<R: Read + Seek> Archive<R> {
    /// Opens a package: a valid zip within `limits` (entry count, total declared size, ratio
    /// per entry), safe entry names, no duplicate names, exactly one `*.nuspec` at the root,
    /// which is read (at most [`Limits::max_nuspec_bytes`]) and parsed.
    pub fn open(reader: R, limits: &Limits) -> Result<Archive<R>> {
        // The zip crate reads the whole central directory here. Its size is bounded by the
        // upload (a central directory entry takes at least 46 bytes), so the entry count can
        // only be checked afterwards.
        let mut zip = ZipArchive::new(reader).map_err(zip_error)?;
        if zip.len() > limits.max_entries {
            return Err(Error::TooManyEntries {
                count: zip.len(),
                limit: limits.max_entries,
            });
        }
        if zip.has_duplicate_names() {
            return Err(Error::DuplicateEntries);
        }

        // (name, declared size, compressed size) of every entry.
        let mut entries = Vec::with_capacity(zip.len());
        for index in 0..zip.len() {
            let entry = zip.by_index_data(index).map_err(zip_error)?;
            let name = entry.name().map_err(zip_error)?.into_owned();
            if entry.name_raw().contains(&0) || !is_safe_name(&name) {
                return Err(Error::UnsafeEntryName { name: shown(&name) });
            }
            entries.push((name, entry.size(), entry.compressed_size()));
        }
        // The total first: a package declaring terabytes is "too large" whatever its ratio.
        let total = entries
            .iter()
            .fold(0u64, |total, (_, size, _)| total.saturating_add(*size));
        if total > limits.max_uncompressed_bytes {
            return Err(Error::TooLargeUncompressed {
                size: total,
                limit: limits.max_uncompressed_bytes,
            });
        }
        for (name, size, compressed) in &entries {
            if *size < RATIO_CHECK_MIN_BYTES {
                continue;
            }
            let ratio = size / (*compressed).max(1);
            if ratio > limits.max_ratio {
                return Err(Error::CompressionRatio {
                    entry: shown(name),
                    ratio,
                    limit: limits.max_ratio,
                });
            }
        }
        let names: Vec<String> = entries.into_iter().map(|(name, _, _)| name).collect();
        let nuspecs: Vec<usize> = (0..names.len())
            .filter(|&i| is_root_nuspec(&names[i]))
            .collect();

        let nuspec_index = match nuspecs.as_slice() {
            [] => return Err(Error::NuspecNotFound),
            [index] => *index,
            _ => {
                return Err(Error::MultipleNuspecs {
                    names: nuspecs.iter().map(|&i| shown(&names[i])).collect(),
                });
            }
        };

        let nuspec_limit = limits.max_nuspec_bytes as u64;
        let nuspec_bytes =
            read_bounded(&mut zip, nuspec_index, nuspec_limit)?.ok_or(Error::NuspecTooLarge {
                limit: nuspec_limit,
            })?;
        let nuspec = nuspec::parse(&nuspec_bytes, limits.max_nuspec_bytes)?;
        Ok(Archive {
            zip,
            names,
            nuspec,
            nuspec_bytes,
            limits: limits.clone(),
        })
    }

    /// The parsed `.nuspec`.
    pub fn nuspec(&self) -> &Nuspec {
        &self.nuspec
    }

    /// The `.nuspec` exactly as stored in the zip (served byte-identical, PBA-4).
    pub fn nuspec_bytes(&self) -> &[u8] {
        &self.nuspec_bytes
    }

    /// Every entry name, in zip order, as stored (OPC-escaped, '/'-separated, directories
    /// ending in '/').
    pub fn entry_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// Reads the entry a nuspec path names (`<icon>`, `<readme>`, `<license type="file">`):
    /// `\` and `/` are equivalent, a leading `./` is ignored, case is ignored, and entry names
    /// are also matched percent-decoded (OPC escapes `my icon.png` as `my%20icon.png`).
    ///
    /// `Ok(None)` when there is no such entry; [`Error::EntryTooLarge`] when it holds more
    /// than `max_bytes` bytes (decompression stops there, whatever the entry declares).
    pub fn read_entry(&mut self, path: &str, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        let wanted = normalize_path(path);
        if wanted.is_empty() {
            return Ok(None);
        }
        let found = self.names.iter().position(|name| {
            !name.ends_with('/')
                && (normalize_path(name) == wanted
                    || percent_decode(name).is_some_and(|n| normalize_path(&n) == wanted))
        });
        let Some(index) = found else {
            return Ok(None);
        };
        match read_bounded(&mut self.zip, index, max_bytes)? {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(Error::EntryTooLarge {
                path: shown(&self.names[index]),
                limit: max_bytes,
            }),
        }
    }

    /// Inflates every entry once, checking that it holds exactly the size its header declares
    /// and that its CRC matches: a package that clients would fail to extract is refused at
    /// push time, not at restore time. Decompression of an entry stops one byte past its
    /// declared size, so the total stays within the limits `open` checked.
    pub fn verify(&mut self) -> Result<()> {
        for index in 0..self.names.len() {
            if self.names[index].ends_with('/') {
                continue;
            }
            let file = self.zip.by_index(index).map_err(zip_error)?;
            let declared = file.size();
            let inflated = io::copy(&mut file.take(declared.saturating_add(1)), &mut io::sink())
                .map_err(io_error)?;
            if inflated != declared {
                return Err(Error::InvalidZip {
                    message: format!(
                        "entry `{}` holds {} bytes but its header says {declared}",
                        shown(&self.names[index]),
                        if inflated > declared {
                            "more".to_owned()
                        } else {
                            inflated.to_string()
                        },
                    ),
                });
            }
        }
        Ok(())
    }

    /// For a symbol package (`.snupkg`): checks SYM-3 (the nuspec has the `SymbolsPackage`
    /// package type; only `.pdb .nuspec .xml .psmdcp .rels .p7s` files; every `.pdb` is a
    /// portable PDB) and returns each `.pdb` entry's path and bytes.
    ///
    /// Each PDB is read up to its declared size and all of them together up to
    /// [`Limits::max_uncompressed_bytes`]; more data than declared is an error.
    pub fn symbol_files(&mut self) -> Result<Vec<(String, Vec<u8>)>> {
        if !self.nuspec.is_symbols_package() {
            return Err(Error::NotSymbolsPackage);
        }
        let mut pdbs = Vec::new();
        for (index, name) in self.names.iter().enumerate() {
            if name.ends_with('/') {
                continue;
            }
            let extension = extension(name);
            if !SYMBOL_PACKAGE_EXTENSIONS.contains(&extension.as_str()) {
                return Err(Error::SymbolFileNotAllowed { path: shown(name) });
            }
            if extension == "pdb" {
                pdbs.push(index);
            }
        }

        let mut budget = self.limits.max_uncompressed_bytes;
        let mut files = Vec::with_capacity(pdbs.len());
        for index in pdbs {
            let name = &self.names[index];
            let declared = self.zip.by_index_data(index).map_err(zip_error)?.size();
            let limit = declared.min(budget);
            let bytes =
                read_bounded(&mut self.zip, index, limit)?.ok_or_else(|| Error::EntryTooLarge {
                    path: shown(name),
                    limit,
                })?;
            budget -= bytes.len() as u64;
            pdb::read_portable_pdb_id(&bytes).map_err(|source| Error::InvalidSymbolFile {
                path: shown(name),
                source: Box::new(source),
            })?;
            files.push((name.clone(), bytes));
        }
        Ok(files)
    }
}

/// Reads entry `index` fully if it holds at most `limit` bytes, `None` if it holds more.
/// Never trusts the declared size: reading stops at `limit + 1` bytes.
fn read_bounded<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    limit: u64,
) -> Result<Option<Vec<u8>>> {
    let file = zip.by_index(index).map_err(zip_error)?;
    // Pre-allocate for what the entry declares, but never past the limit or 1 MiB.
    let capacity = file.size().min(limit).min(1024 * 1024);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// True for names that stay inside the extraction directory: no `..` segment, not absolute
/// (`/x`, `\x`), no drive letter (`C:`), no NUL.
fn is_safe_name(name: &str) -> bool {
    if name.is_empty() || name.contains('\0') || name.starts_with(['/', '\\']) {
        return false;
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return false;
    }
    !name.split(['/', '\\']).any(|segment| segment == "..")
}

/// A `*.nuspec` directly at the zip root.
fn is_root_nuspec(name: &str) -> bool {
    !name.contains(['/', '\\']) && name.to_ascii_lowercase().ends_with(".nuspec")
}

/// The lower-cased extension of a path's last segment, or "".
fn extension(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((_, extension)) => extension.to_lowercase(),
        None => String::new(),
    }
}

/// A path compared the way nuspec paths are: `/` separators, no leading `./` or `/`,
/// lower-case.
fn normalize_path(path: &str) -> String {
    let mut path = path.replace('\\', "/");
    loop {
        if let Some(rest) = path.strip_prefix("./") {
            path = rest.to_owned();
        } else if let Some(rest) = path.strip_prefix('/') {
            path = rest.to_owned();
        } else {
            break;
        }
    }
    path.to_lowercase()
}

/// `%XX`-decodes an OPC part name; `None` when it has no escapes or does not decode to UTF-8.
fn percent_decode(name: &str) -> Option<String> {
    if !name.contains('%') {
        return None;
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn zip_error(err: ZipError) -> Error {
    match err {
        ZipError::Io(err) => io_error(err),
        other => Error::InvalidZip {
            message: other.to_string(),
        },
    }
}

/// IO errors that mean "these bytes are not a good zip" (truncated, corrupt deflate data, bad
/// checksum) are the client's fault; anything else is the server failing to read its file.
fn io_error(err: io::Error) -> Error {
    match err.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::InvalidData
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::Unsupported => Error::InvalidZip {
            message: err.to_string(),
        },
        _ => Error::Io(err),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use proptest::prelude::*;

    use super::*;
    use crate::testing::{self, PackageBuilder};

    fn open(bytes: Vec<u8>) -> Result<Archive<Cursor<Vec<u8>>>> {
        Archive::open(Cursor::new(bytes), &Limits::default())
    }

    #[test]
    fn opens_a_built_package() {
        let builder = PackageBuilder::new("Contoso.Utility", "1.0.0-beta.1")
            .description("Helpers")
            .authors("Alice, Bob")
            .file("lib/net8.0/Contoso.Utility.dll", b"MZ fake");
        let archive = open(builder.build()).unwrap();
        assert_eq!(archive.nuspec().id.as_str(), "Contoso.Utility");
        assert_eq!(archive.nuspec().version.to_normalized(), "1.0.0-beta.1");
        assert_eq!(archive.nuspec().authors, ["Alice", "Bob"]);
        assert_eq!(archive.nuspec_bytes(), builder.nuspec_xml().as_bytes());
        let names = archive.entry_names();
        for expected in [
            "[Content_Types].xml",
            "_rels/.rels",
            "Contoso.Utility.nuspec",
            "lib/net8.0/Contoso.Utility.dll",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }

    /// REG-15: embedded icon, readme and license are read by the paths the nuspec gives.
    #[test]
    fn reads_embedded_files_by_nuspec_path() {
        let bytes = PackageBuilder::new("Foo", "1.0.0")
            .icon("images\\icon.png", b"\x89PNG fake")
            .readme("docs/README.md", "# Foo")
            .license_file("LICENSE.txt", b"MIT License")
            .build();
        let mut archive = open(bytes).unwrap();
        let nuspec = archive.nuspec().clone();
        let limit = Limits::default().max_embedded_file_bytes;
        let icon = nuspec.icon.as_deref().unwrap();
        assert_eq!(icon, "images\\icon.png");
        assert_eq!(
            archive.read_entry(icon, limit).unwrap().unwrap(),
            b"\x89PNG fake"
        );
        let readme = nuspec.readme.as_deref().unwrap();
        assert_eq!(
            archive.read_entry(readme, limit).unwrap().unwrap(),
            b"# Foo"
        );
        let license = nuspec.license.unwrap().value;
        assert_eq!(
            archive.read_entry(&license, limit).unwrap().unwrap(),
            b"MIT License"
        );
    }

    #[test]
    fn read_entry_ignores_separators_case_and_leading_dot_slash() {
        let bytes = PackageBuilder::new("Foo", "1.0.0")
            .file("images/My Icon.PNG", b"icon")
            .build();
        let mut archive = open(bytes).unwrap();
        // OPC escapes the space in the stored name.
        assert!(
            archive
                .entry_names()
                .iter()
                .any(|n| n == "images/My%20Icon.PNG")
        );
        for path in [
            "images/My Icon.PNG",
            "images\\my icon.png",
            "./images/MY ICON.png",
            ".\\images\\My Icon.PNG",
            "images/My%20Icon.PNG",
        ] {
            assert_eq!(
                archive.read_entry(path, 100).unwrap().as_deref(),
                Some(&b"icon"[..]),
                "{path}"
            );
        }
        assert_eq!(archive.read_entry("images/missing.png", 100).unwrap(), None);
        assert_eq!(archive.read_entry("images", 100).unwrap(), None);
        assert_eq!(archive.read_entry("", 100).unwrap(), None);
    }

    #[test]
    fn read_entry_stops_at_the_limit() {
        let bytes = PackageBuilder::new("Foo", "1.0.0")
            .file("big.bin", &[7u8; 1000])
            .build();
        let mut archive = open(bytes).unwrap();
        assert_eq!(
            archive.read_entry("big.bin", 1000).unwrap().unwrap().len(),
            1000
        );
        let err = archive.read_entry("big.bin", 999).unwrap_err();
        assert!(
            matches!(err, Error::EntryTooLarge { limit: 999, .. }),
            "{err:?}"
        );
        assert!(err.is_too_large());
    }

    /// An entry that declares 100 bytes but inflates to megabytes must not be read past the
    /// caller's limit.
    #[test]
    fn verify_refuses_entries_that_lie_about_their_size() {
        let mut good = Archive::open(
            Cursor::new(
                PackageBuilder::new("Ok", "1.0.0")
                    .file("a.txt", b"abc")
                    .build(),
            ),
            &Limits::default(),
        )
        .unwrap();
        good.verify().unwrap();
        let lying = testing::zip_with_lying_entry_size();
        let mut archive = Archive::open(Cursor::new(lying), &Limits::default()).unwrap();
        let err = archive.verify().unwrap_err();
        assert!(matches!(err, Error::InvalidZip { .. }), "{err}");
        assert!(!err.is_too_large());
    }

    #[test]
    fn read_entry_does_not_trust_declared_sizes() {
        let mut archive = open(testing::zip_with_lying_entry_size()).unwrap();
        match archive.read_entry(testing::LYING_ENTRY, 1024) {
            Err(Error::EntryTooLarge { .. } | Error::InvalidZip { .. }) => {}
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn rejects_zip_bomb_by_ratio() {
        let err = open(testing::zip_bomb()).unwrap_err();
        assert!(matches!(err, Error::CompressionRatio { .. }), "{err:?}");
        assert!(err.to_string().contains("zip bomb"), "{err}");
    }

    #[test]
    fn rejects_huge_declared_total_size() {
        let err = open(testing::zip_declaring_huge_size()).unwrap_err();
        assert!(matches!(err, Error::TooLargeUncompressed { .. }), "{err:?}");
        assert!(err.is_too_large());
    }

    #[test]
    fn rejects_too_many_entries() {
        let mut builder = PackageBuilder::new("Foo", "1.0.0");
        for i in 0..20 {
            builder = builder.file(&format!("content/{i}.txt"), b"x");
        }
        let limits = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        let err = Archive::open(Cursor::new(builder.build()), &limits).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooManyEntries {
                    count: 24,
                    limit: 10
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_oversize_nuspec() {
        let builder = PackageBuilder::new("Foo", "1.0.0").description(&"a".repeat(5000));
        let limits = Limits {
            max_nuspec_bytes: 1000,
            ..Limits::default()
        };
        let err = Archive::open(Cursor::new(builder.build()), &limits).unwrap_err();
        assert!(
            matches!(err, Error::NuspecTooLarge { limit: 1000, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_path_traversal_and_absolute_names() {
        let err = open(testing::zip_with_path_traversal()).unwrap_err();
        assert!(matches!(err, Error::UnsafeEntryName { .. }), "{err:?}");
        assert!(err.to_string().contains("../evil"), "{err}");
        for name in [
            "../evil",
            "lib/../../evil",
            "lib\\..\\..\\evil",
            "/etc/passwd",
            "\\evil",
            "C:/evil",
            "c:evil",
            "a\0b",
        ] {
            assert!(!is_safe_name(name), "{name:?}");
        }
        for name in [
            "lib/net8.0/a.dll",
            "a..b",
            "..a",
            "[Content_Types].xml",
            "dir/",
        ] {
            assert!(is_safe_name(name), "{name:?}");
        }
    }

    #[test]
    fn requires_exactly_one_root_nuspec() {
        assert!(matches!(
            open(testing::zip_without_nuspec()),
            Err(Error::NuspecNotFound)
        ));
        let err = open(testing::zip_with_two_nuspecs()).unwrap_err();
        assert!(
            matches!(&err, Error::MultipleNuspecs { names } if names.len() == 2),
            "{err:?}"
        );
        // A nuspec in a subfolder does not count (N-9).
        let nested = PackageBuilder::new("Foo", "1.0.0")
            .file("content/Other.nuspec", b"<package/>")
            .build();
        assert_eq!(open(nested).unwrap().nuspec().id.as_str(), "Foo");
    }

    #[test]
    fn rejects_truncated_and_non_zip_input() {
        for bytes in [testing::truncated_zip(), Vec::new(), b"not a zip".to_vec()] {
            let err = open(bytes).unwrap_err();
            assert!(matches!(err, Error::InvalidZip { .. }), "{err:?}");
        }
    }

    #[test]
    fn rejects_hostile_nuspecs_inside_a_package() {
        for (xml, what) in [
            (testing::NUSPEC_XXE, "DOCTYPE"),
            (testing::NUSPEC_BILLION_LAUGHS, "DOCTYPE"),
        ] {
            let err = open(testing::nupkg_with_raw_nuspec("Foo.nuspec", xml)).unwrap_err();
            assert!(err.to_string().contains(what), "{err}");
        }
    }

    #[test]
    fn symbol_files_returns_portable_pdbs() {
        let pdb = testing::portable_pdb([7; 16], 0x1234_5678);
        let bytes = PackageBuilder::new("Foo", "1.0.0")
            .build_symbols(&[("lib/net8.0/Foo.pdb", pdb.clone())]);
        let mut archive = open(bytes).unwrap();
        assert!(archive.nuspec().is_symbols_package());
        let files = archive.symbol_files().unwrap();
        assert_eq!(files, [("lib/net8.0/Foo.pdb".to_owned(), pdb)]);
    }

    /// SYM-3: only .pdb .nuspec .xml .psmdcp .rels .p7s in a .snupkg.
    #[test]
    fn symbol_files_rejects_other_file_types() {
        let pdb = testing::portable_pdb([7; 16], 1);
        let bytes = PackageBuilder::new("Foo", "1.0.0")
            .file("lib/net8.0/Foo.dll", b"MZ")
            .build_symbols(&[("lib/net8.0/Foo.pdb", pdb)]);
        let err = open(bytes).unwrap().symbol_files().unwrap_err();
        assert!(
            matches!(&err, Error::SymbolFileNotAllowed { path } if path == "lib/net8.0/Foo.dll"),
            "{err:?}"
        );
    }

    #[test]
    fn symbol_files_rejects_windows_pdbs_and_plain_packages() {
        let bytes = PackageBuilder::new("Foo", "1.0.0")
            .build_symbols(&[("lib/Foo.pdb", testing::WINDOWS_PDB_HEADER.to_vec())]);
        let err = open(bytes).unwrap().symbol_files().unwrap_err();
        assert!(matches!(err, Error::InvalidSymbolFile { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("`lib/Foo.pdb` in the symbol package: not a portable PDB"),
            "{err}"
        );

        let plain = PackageBuilder::new("Foo", "1.0.0").build();
        assert!(matches!(
            open(plain).unwrap().symbol_files(),
            Err(Error::NotSymbolsPackage)
        ));
    }

    #[test]
    fn helpers_normalize_and_decode_paths() {
        assert_eq!(normalize_path(".\\Images\\Icon.PNG"), "images/icon.png");
        assert_eq!(normalize_path("/./a"), "a");
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%FF"), None);
        assert_eq!(percent_decode("plain"), None);
        assert_eq!(extension("lib/Foo.PDB"), "pdb");
        assert_eq!(extension("_rels/.rels"), "rels");
        assert_eq!(extension("lib.d/noext"), "");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn open_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let _ = open(bytes);
        }

        /// Corrupting any byte of a real package gives an error or a package, never a panic.
        #[test]
        fn open_never_panics_on_corrupted_packages(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = PackageBuilder::new("Foo", "1.0.0")
                .readme("README.md", "# Foo")
                .dependency(Some("net8.0"), "Bar", "[1.0, 2.0)")
                .build();
            let i = index.index(bytes.len());
            bytes[i] = byte;
            if let Ok(mut archive) = open(bytes) {
                let _ = archive.read_entry("README.md", 1024);
                let _ = archive.symbol_files();
            }
        }
    }

    #[test]
    fn symbols_package_keeps_only_the_symbols_package_type_and_no_embedded_files() {
        let builder = PackageBuilder::new("Foo", "1.0.0")
            .package_type("Dependency")
            .icon("icon.png", b"png")
            .readme("README.md", "# hi")
            .license_file("LICENSE.txt", b"MIT");
        let pdb = testing::portable_pdb([1; 16], 2);
        let bytes = builder.build_symbols(&[("lib/net8.0/Foo.pdb", pdb)]);
        let mut archive = open(bytes).unwrap();
        assert_eq!(archive.nuspec().package_types.len(), 1);
        assert!(archive.nuspec().is_symbols_package());
        assert_eq!(archive.nuspec().icon, None);
        assert_eq!(archive.symbol_files().unwrap().len(), 1);
    }
}
