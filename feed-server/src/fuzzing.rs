//! The bodies of the fuzz targets in `feed-server/fuzz/` (feature `testing`), kept here so that
//! the same code runs on stable: `tests/fuzz_corpus.rs` replays the seed corpus and a bounded
//! mutation loop through them in every test run, and `cargo fuzz` (nightly) runs them under
//! libFuzzer by hand (see the README).
//!
//! Each takes arbitrary bytes, feeds them to one parser of client input, and panics only when
//! an invariant breaks (a panic in the parser itself is a finding too): what parses must
//! survive a round trip through its normalized form, and nothing may be read past the limits.

use std::io::Cursor;

use crate::package::{Archive, Limits, NuGetVersion, VersionRange, nuspec, pdb};

/// `NuGetVersion::parse`: a parsed version re-parses from its normalized and full strings to an
/// equal version, and its ordering agrees with its equality.
pub fn version(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = NuGetVersion::parse(text) else {
        return;
    };
    let normalized = v.to_normalized();
    let again = NuGetVersion::parse(&normalized)
        .unwrap_or_else(|e| panic!("{text:?} normalizes to {normalized:?}, which fails: {e}"));
    assert!(again == v, "{text:?} != its normalized {normalized:?}");
    assert_eq!(
        again.to_normalized(),
        normalized,
        "normalizing {text:?} is not stable"
    );
    let full = v.to_full();
    let from_full = NuGetVersion::parse(&full)
        .unwrap_or_else(|e| panic!("{text:?} prints as {full:?}, which fails: {e}"));
    assert_eq!(from_full.to_full(), full, "{text:?}: to_full is not stable");
    assert_eq!(from_full.is_semver2(), v.is_semver2(), "{text:?}");
    assert_eq!(v.cmp(&again), std::cmp::Ordering::Equal, "{text:?}");
    assert_eq!(v.lower_normalized(), normalized.to_ascii_lowercase());
}

/// `VersionRange::parse`: a parsed range re-parses from its normalized and short strings to an
/// equal range, and its bounds satisfy it exactly when inclusive.
pub fn range(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = VersionRange::parse(text) else {
        return;
    };
    for printed in [r.to_normalized(), r.to_short()] {
        let again = VersionRange::parse(&printed)
            .unwrap_or_else(|e| panic!("{text:?} prints as {printed:?}, which fails: {e}"));
        assert!(again == r, "{text:?} != {printed:?}");
    }
    if let Some((min, inclusive)) = r.min() {
        assert_eq!(
            r.satisfies(min),
            inclusive && r.max().is_none_or(|(max, i)| min < max || i)
        );
    }
    if let Some((max, inclusive)) = r.max() {
        assert_eq!(
            r.satisfies(max),
            inclusive && r.min().is_none_or(|(min, i)| min < max || i)
        );
    }
}

/// `nuspec::parse` with the default 1 MiB limit: whatever parses has a valid id and version.
pub fn nuspec(data: &[u8]) {
    let limit = Limits::default().max_nuspec_bytes;
    if let Ok(n) = nuspec::parse(data, limit) {
        assert!(!n.id.as_str().is_empty());
        let _ = n.is_semver2();
        let _ = n.is_symbols_package();
        version(n.version.to_full().as_bytes());
        for group in &n.dependency_groups {
            for d in &group.dependencies {
                range(d.range.to_normalized().as_bytes());
            }
        }
    }
}

/// Small limits, so that the fuzzer explores them instead of allocating gigabytes.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_entries: 256,
        max_uncompressed_bytes: 4 * 1024 * 1024,
        max_ratio: 200,
        max_nuspec_bytes: 64 * 1024,
        max_embedded_file_bytes: 1024 * 1024,
    }
}

/// `Archive::open` and everything a push then reads: verification, each entry (bounded), the
/// symbol files and their PDB ids. Nothing read may exceed the limits.
pub fn nupkg(data: &[u8]) {
    let limits = fuzz_limits();
    let Ok(mut archive) = Archive::open(Cursor::new(data), &limits) else {
        return;
    };
    nuspec(archive.nuspec_bytes());
    let verified = archive.verify().is_ok();
    for name in archive.entry_names() {
        if let Ok(Some(bytes)) = archive.read_entry(&name, limits.max_embedded_file_bytes) {
            assert!(
                bytes.len() as u64 <= limits.max_embedded_file_bytes,
                "{name}"
            );
        }
    }
    if verified && let Ok(files) = archive.symbol_files() {
        for (_, bytes) in files {
            let _ = pdb::read_portable_pdb_id(&bytes);
        }
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name (the fuzz crate's binaries and the corpus folders use these names).
pub const TARGETS: [(&str, Target); 4] = [
    ("version", version),
    ("range", range),
    ("nuspec", nuspec),
    ("nupkg", nupkg),
];
