//! The fuzz targets' bodies ([`nuget_feed_server::fuzzing`]) on stable, in every test run: the
//! seed corpus in `feed-server/fuzz/corpus/<target>/` is replayed (with every input a fuzzer
//! found and we fixed: regressions stay fixed), then a bounded mutation loop (bit flips, byte
//! overwrites, insertions, deletions, truncations, splices and dictionary tokens, from a fixed
//! seed) runs each target on inputs derived from the corpus. `NUGET_SOAK=1` runs 100 times as
//! many; `NUGET_FUZZ_SEED` changes the seed. Real coverage-guided fuzzing is `cargo fuzz`
//! (README).
//!
//! `cargo test -p nuget-feed-server --all-features --test it fuzz_corpus -- --ignored` rewrites
//! the generated part of the corpus from the test helpers.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use nuget_feed_server::fuzzing::TARGETS;
use nuget_feed_server::testing::{self as t, PackageBuilder, portable_pdb};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("corpus for {target}: {e}"))
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_seed_and_regression_input_passes_its_target() {
    for (target, run) in TARGETS {
        let inputs = corpus(target);
        assert!(inputs.len() >= 8, "{target}: only {} seeds", inputs.len());
        for (name, bytes) in &inputs {
            let result = std::panic::catch_unwind(|| run(bytes));
            assert!(result.is_ok(), "{target}: corpus input {name} fails");
        }
    }
}

/// xorshift64*: a fixed, dependency-free stream of mutation decisions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"(",
    b")",
    b",",
    b".",
    b"-",
    b"+",
    b"*",
    b" ",
    b"0",
    b"9",
    b"2147483648",
    b"<",
    b">",
    b"&amp;",
    b"&#x0;",
    b"<!DOCTYPE",
    b"<![CDATA[",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"../",
    b"/",
    b"\\",
    b".nuspec",
    b"<metadata>",
    b"</id>",
    b"<dependency id=\"a\" version=\"",
];

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = [0x00, 0xff, 0x7f, 0x80, b'0', b'.'][rng.below(6)];
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                out.splice(i..i, token.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                out.drain(i..i + n);
            }
            4 if len > 0 => out.truncate(rng.below(len)),
            5 if len > 0 && !other.is_empty() => {
                let cut = rng.below(len);
                let from = rng.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let chunk = out[i..i + n].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, chunk);
            }
            _ if len >= 4 => {
                // A little-endian u32 somewhere (zip sizes, offsets, counts).
                let i = rng.below(len - 3);
                let v: u32 = [0, 1, 0xffff, 0xffff_ffff, 0x7fff_ffff][rng.below(5)];
                out[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {}
        }
    }
    out
}

#[test]
fn mutated_corpus_inputs_pass_their_targets() {
    let soak = std::env::var("NUGET_SOAK").is_ok_and(|v| v == "1");
    let seed = std::env::var("NUGET_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d_u64);
    let mut total = 0;
    for (target, run) in TARGETS {
        let inputs = corpus(target);
        let iterations = if soak { 2_000_000 } else { 20_000 };
        let mut rng = Rng(seed ^ target.len() as u64);
        for i in 0..iterations {
            let (_, base) = &inputs[rng.below(inputs.len())];
            let (_, other) = &inputs[rng.below(inputs.len())];
            let input = mutate(&mut rng, base, other);
            let result = std::panic::catch_unwind(|| run(&input));
            if result.is_err() {
                let path = std::env::temp_dir().join(format!("fuzz-{target}-{seed}-{i}"));
                std::fs::write(&path, &input).unwrap();
                panic!(
                    "{target}: mutated input #{i} (seed {seed}) fails; saved to {}",
                    path.display()
                );
            }
        }
        total += iterations;
    }
    eprintln!("{total} mutated inputs passed (seed {seed})");
}

/// Writes the generated seeds (run by hand after changing the helpers; hand-written seeds and
/// regression inputs in the same folders are kept).
#[test]
#[ignore = "rewrites files in the source tree"]
fn write_seed_corpus() {
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let versions = [
        "1",
        "1.0",
        "1.0.0",
        "1.0.0.0",
        "01.0.0.0",
        "1.01.1",
        "1.0.0-beta",
        "1.0.0-Beta.1",
        "1.0.0-alpha.1+build.5",
        "1.0.0+sha.abc",
        "2147483647.2147483647.2147483647.2147483647",
        "1.0.0-rc.01",
        "1.0.0-",
        "1..0",
        "1.0.0.0.0",
        "v1.0",
        " 1.0",
        "1.0.0-a.b-c.1",
        "1.0.0-0",
        "0.0.0-x+y.z",
    ];
    for (i, v) in versions.iter().enumerate() {
        write("version", &format!("seed-{i:02}"), v.as_bytes());
    }
    let ranges = [
        "1.0",
        "[1.0]",
        "(1.0,)",
        "[1.0,2.0)",
        "(,1.0]",
        "(, )",
        "",
        "[1.0.0, 2.0.0-beta)",
        "(1.0, 1.0)",
        "*",
        "1.*",
        "[1.0,,2.0]",
        "[2.0, 1.0]",
        "(,)",
        "[1.0.0-alpha.1+x, 3)",
        " [ 1.0 , 2.0 ] ",
    ];
    for (i, r) in ranges.iter().enumerate() {
        write("range", &format!("seed-{i:02}"), r.as_bytes());
    }
    let full = PackageBuilder::new("Contoso.Lib", "1.2.3-beta.1+sha.9")
        .title("Title")
        .tags("a b c")
        .summary("summary")
        .dependency(Some("net8.0"), "Dep.One", "[1.0, 2.0)")
        .dependency(None, "Dep.Two", "3.0.0-alpha.1")
        .package_type("Dependency")
        .license_file("LICENSE.txt", b"MIT")
        .icon("icon.png", b"\x89PNG")
        .readme("README.md", "# hi");
    let nuspecs: Vec<(&str, Vec<u8>)> = vec![
        (
            "minimal",
            PackageBuilder::new("A", "1.0.0").nuspec_xml().into_bytes(),
        ),
        ("full", full.nuspec_xml().into_bytes()),
        (
            "expression-license",
            PackageBuilder::new("B", "2.0")
                .license_expression("MIT OR Apache-2.0")
                .nuspec_xml()
                .into_bytes(),
        ),
        ("xxe", t::NUSPEC_XXE.as_bytes().to_vec()),
        (
            "billion-laughs",
            t::NUSPEC_BILLION_LAUGHS.as_bytes().to_vec(),
        ),
        (
            "undeclared-entity",
            t::NUSPEC_UNDECLARED_ENTITY.as_bytes().to_vec(),
        ),
        ("utf16", {
            let mut v = vec![0xff, 0xfe];
            for u in PackageBuilder::new("U", "1.0.0")
                .nuspec_xml()
                .encode_utf16()
            {
                v.extend_from_slice(&u.to_le_bytes());
            }
            v
        }),
        (
            "deep",
            format!("<package>{}</package>", "<a>".repeat(200)).into_bytes(),
        ),
    ];
    for (name, bytes) in &nuspecs {
        write("nuspec", name, bytes);
    }
    let pdb = portable_pdb([9; 16], 42);
    let nupkgs: Vec<(&str, Vec<u8>)> = vec![
        ("minimal", PackageBuilder::new("A", "1.0.0").build()),
        ("full", full.build()),
        (
            "symbols",
            PackageBuilder::new("Sym", "1.0.0").build_symbols(&[("lib/net8.0/Sym.pdb", pdb)]),
        ),
        ("zip-bomb", t::zip_bomb()),
        ("declared-huge", t::zip_declaring_huge_size()),
        ("lying-entry-size", t::zip_with_lying_entry_size()),
        ("path-traversal", t::zip_with_path_traversal()),
        ("two-nuspecs", t::zip_with_two_nuspecs()),
        ("no-nuspec", t::zip_without_nuspec()),
        ("truncated", t::truncated_zip()),
        ("xxe", t::nupkg_with_raw_nuspec("a.nuspec", t::NUSPEC_XXE)),
    ];
    for (name, bytes) in &nupkgs {
        write("nupkg", name, bytes);
    }
}
