//! What a package *is*: validated ids ([`PackageId`]), NuGet versions ([`NuGetVersion`]) and
//! version ranges ([`VersionRange`]), the `.nuspec` manifest ([`Nuspec`]), the `.nupkg` zip
//! ([`Archive`]) and portable PDB ids ([`pdb::PdbId`]).
//!
//! Pure: bytes or strings in, typed values or an [`Error`] out. No IO beyond the `Read + Seek`
//! the caller hands to [`Archive::open`], no tokio, no object_store. Everything here reads data
//! a client sent, so nothing may panic and every size is bounded ([`Limits`]). Deciding what a
//! package means for the feed (duplicates, visibility, where blobs go) is left to `feed` and
//! `storage`.

pub mod framework;
pub mod id;
pub mod nupkg;
pub mod nuspec;
pub mod pdb;
pub mod range;
pub mod version;

pub use id::PackageId;
pub use nupkg::{Archive, Limits};
pub use nuspec::{
    Dependency, DependencyGroup, License, LicenseKind, Nuspec, PackageType, Repository,
};
pub use range::VersionRange;
pub use version::NuGetVersion;

/// Everything that can be wrong with a package or one of its parts.
///
/// Every variant except [`Error::Io`] is the client's fault (a bad request, never a 5xx: NuGet
/// clients retry 5xx and re-upload the whole package). Messages name the bad value (shortened
/// and with control characters escaped, so they are safe to log and return) and, where known,
/// the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A package id breaks the id rules (N-9): empty, longer than 100 characters, non-ASCII, or
    /// not `\w+([.-]\w+)*`.
    #[error("package id `{id}` is invalid: {reason}")]
    InvalidId {
        /// The id as sent (shortened).
        id: String,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },

    /// A version string is not a NuGet version (1 to 4 numeric parts, optional `-prerelease`
    /// and `+metadata`, at most 64 characters).
    #[error("version `{version}` is invalid: {reason}")]
    InvalidVersion {
        /// The version as sent (shortened).
        version: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A version range string is not NuGet range syntax (`1.0`, `[1.0]`, `[1.0, 2.0)`, ...), or
    /// floats (`1.*`).
    #[error("version range `{range}` is invalid: {reason}")]
    InvalidRange {
        /// The range as sent (shortened).
        range: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The `.nuspec` is larger than [`Limits::max_nuspec_bytes`].
    #[error("the .nuspec is larger than the limit of {limit} bytes")]
    NuspecTooLarge {
        /// The limit.
        limit: u64,
    },

    /// The `.nuspec` is neither UTF-8 nor UTF-16 with a byte order mark.
    #[error("the .nuspec is not UTF-8 text: save it as UTF-8")]
    NuspecEncoding,

    /// The `.nuspec` has a `<!DOCTYPE>`: DTDs enable external entities (XXE) and entity
    /// expansion bombs, and no real nuspec needs one.
    #[error("the .nuspec contains a <!DOCTYPE> declaration: DTDs are not allowed, remove it")]
    NuspecDtd,

    /// The `.nuspec` uses an entity reference other than the five predefined ones (`&lt;`
    /// `&gt;` `&amp;` `&apos;` `&quot;`) and numeric character references.
    #[error(
        "the .nuspec references the entity `&{name};`: only &lt; &gt; &amp; &apos; &quot; and \
         numeric character references are allowed"
    )]
    NuspecEntity {
        /// The entity name (shortened).
        name: String,
    },

    /// The `.nuspec` nests elements deeper than the parser allows.
    #[error("the .nuspec nests elements more than {limit} levels deep")]
    NuspecTooDeep {
        /// The depth limit.
        limit: usize,
    },

    /// The `.nuspec` is not well-formed XML.
    #[error("the .nuspec is not well-formed XML (near byte {position}): {message}")]
    NuspecXml {
        /// Byte offset where the parser gave up.
        position: u64,
        /// The parser's complaint.
        message: String,
    },

    /// A required `.nuspec` element or attribute is missing (`<package>`, `<metadata>`, `<id>`,
    /// `<version>`, a dependency's `id`, ...).
    #[error("the .nuspec has no {what}: add it")]
    NuspecMissing {
        /// What is missing, e.g. `<id> element in <metadata>`.
        what: &'static str,
    },

    /// A `.nuspec` element holds an id, version or range that does not parse.
    #[error("invalid {element} in the .nuspec: {source}")]
    NuspecField {
        /// Where it was, e.g. `<version>` or `<dependency> id`.
        element: &'static str,
        /// Why it did not parse.
        #[source]
        source: Box<Error>,
    },

    /// A `.nuspec` element has a value outside its vocabulary (e.g. `<license type="url">`).
    #[error("invalid {element} in the .nuspec: {message}")]
    NuspecInvalid {
        /// Which element, e.g. `<license>`.
        element: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The package is not a readable zip archive (truncated, corrupt, encrypted, or an
    /// unsupported compression method).
    #[error("the package is not a valid zip archive: {message}")]
    InvalidZip {
        /// What the zip reader said.
        message: String,
    },

    /// The zip has more entries than [`Limits::max_entries`].
    #[error("the package has {count} zip entries, more than the limit of {limit}")]
    TooManyEntries {
        /// Entries in the central directory.
        count: usize,
        /// The limit.
        limit: usize,
    },

    /// The entries' declared uncompressed sizes add up to more than
    /// [`Limits::max_uncompressed_bytes`] (zip bomb).
    #[error("the package expands to {size} bytes, more than the limit of {limit} bytes")]
    TooLargeUncompressed {
        /// Sum of the declared uncompressed sizes.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// An entry's declared uncompressed size is more than [`Limits::max_ratio`] times its
    /// compressed size (zip bomb).
    #[error(
        "zip entry `{entry}` expands {ratio} times, more than the limit of {limit}: \
         this looks like a zip bomb"
    )]
    CompressionRatio {
        /// The entry name (shortened).
        entry: String,
        /// Uncompressed size divided by compressed size.
        ratio: u64,
        /// The limit.
        limit: u64,
    },

    /// A zip entry name could escape a directory if extracted: `..` segments, absolute paths,
    /// drive letters, or NUL.
    #[error(
        "zip entry name `{name}` is unsafe: use relative paths without '..', a leading '/' or \
         '\\', drive letters or NUL"
    )]
    UnsafeEntryName {
        /// The entry name (shortened).
        name: String,
    },

    /// Two zip entries have the same name, so readers could disagree about the content.
    #[error("the package has two zip entries with the same name: each path may appear once")]
    DuplicateEntries,

    /// There is no `*.nuspec` at the root of the zip.
    #[error("the package has no .nuspec at the root of the zip: a .nupkg needs exactly one")]
    NuspecNotFound,

    /// There is more than one `*.nuspec` at the root of the zip.
    #[error("the package has {} .nuspec files at the root of the zip ({}): it needs exactly one", .names.len(), .names.join(", "))]
    MultipleNuspecs {
        /// Their names (shortened).
        names: Vec<String>,
    },

    /// An entry is larger than the caller's limit (e.g. an icon over
    /// [`Limits::max_embedded_file_bytes`]), or its data is larger than it declared.
    #[error("`{path}` in the package is larger than the limit of {limit} bytes")]
    EntryTooLarge {
        /// The entry path (shortened).
        path: String,
        /// The limit.
        limit: u64,
    },

    /// A symbol package (`.snupkg`) holds a file type other than `.pdb .nuspec .xml .psmdcp
    /// .rels .p7s` (SYM-3).
    #[error(
        "`{path}` is not allowed in a symbol package: a .snupkg may only contain .pdb, .nuspec, \
         .xml, .psmdcp, .rels and .p7s files"
    )]
    SymbolFileNotAllowed {
        /// The entry path (shortened).
        path: String,
    },

    /// A symbol package's nuspec lacks `<packageType name="SymbolsPackage"/>` (SYM-3).
    #[error(
        "the package is not a symbol package: its .nuspec needs \
         <packageTypes><packageType name=\"SymbolsPackage\"/></packageTypes>"
    )]
    NotSymbolsPackage,

    /// A file in a symbol package is not acceptable, e.g. a `.pdb` that is not a portable PDB
    /// (SYM-3).
    #[error("`{path}` in the symbol package: {source}")]
    InvalidSymbolFile {
        /// The entry path (shortened).
        path: String,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },

    /// A `.pdb` is not a portable PDB (e.g. a Windows "MSF 7.00" PDB) (SYM-3).
    #[error("not a portable PDB: {reason}")]
    NotPortablePdb {
        /// Which kind of file it is, and the fix.
        reason: &'static str,
    },

    /// A portable PDB's metadata is malformed (truncated header, stream out of bounds, no
    /// `#Pdb` stream).
    #[error("malformed portable PDB: {reason}")]
    InvalidPdb {
        /// What is wrong.
        reason: &'static str,
    },

    /// Reading the package from the caller's reader failed. Not the client's fault (the server
    /// could not read its own temp file).
    #[error("reading the package failed: {0}")]
    Io(#[source] std::io::Error),
}

impl Error {
    /// True when the input broke a size limit rather than a format rule (a too-large nuspec or
    /// entry, too many entries, too much to inflate), so callers can answer "too large" (PUB-8)
    /// instead of "invalid".
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Error::NuspecTooLarge { .. }
                | Error::TooManyEntries { .. }
                | Error::TooLargeUncompressed { .. }
                | Error::EntryTooLarge { .. }
        )
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Most characters of a client-supplied value that an error message repeats.
const SHOWN_CHARS: usize = 100;

/// A client-supplied value as error messages show it: at most [`SHOWN_CHARS`] characters, with
/// control characters escaped, so a hostile value cannot flood a log line or forge one.
pub(crate) fn shown(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_control_characters_and_truncates() {
        assert_eq!(shown("a\nb\0"), "a\\nb\\u{0}");
        let long = "x".repeat(500);
        assert_eq!(shown(&long).chars().count(), SHOWN_CHARS + 1);
        assert!(shown(&long).ends_with('…'));
    }
}
