//! The source structure DESIGN.md asks for: no import circles among the files of the feed server
//! and the operator. An import circle (file A names an item of B, B of ... of A) means neither
//! part can be read, tested or moved without the other; see `architecture/import_graph.rs` for
//! what counts as naming an item.

// A file of its own for the scan, beside the test crate that uses it.
#[path = "architecture/import_graph.rs"]
mod import_graph;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use import_graph::{Circle, Graph, circles, circles_in};

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn assert_no_circles(name: &str) {
    let found = circles_in(&crate_src(name));
    let listed: Vec<String> = found.iter().map(Circle::to_string).collect();
    assert!(
        found.is_empty(),
        "{name}/src has {} import circle(s); each line is one chain of files (`--[path]-->`: the \
         path that names an item of the next file). Move the item the back edge needs into a file \
         of its own, or the operation out of the data file:\n{}",
        found.len(),
        listed.join("\n"),
    );
}

#[test]
fn feed_server_has_no_import_circles() {
    assert_no_circles("feed-server");
}

#[test]
fn operator_has_no_import_circles() {
    assert_no_circles("operator");
}

/// Builds the graph of a synthetic crate given as `(path, source)` pairs, `lib.rs` its root.
fn circles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(path, source)| (PathBuf::from(path), (*source).to_owned()))
        .collect();
    let read = |path: &Path| files.get(path).cloned();
    circles(&Graph::build(&["lib.rs"], &read))
        .iter()
        .map(|c| c.files().into_iter().map(str::to_owned).collect())
        .collect()
}

/// A data file that calls back into an operation (the circle this test exists to catch),
/// through a re-export in `mod.rs`: the chain names the files that define the items.
#[test]
fn a_circle_through_a_reexport_is_found_and_named_by_its_files() {
    let found = circles_of(&[
        ("lib.rs", "pub mod feed;"),
        (
            "feed/mod.rs",
            "mod push; mod record; pub use push::not_found; pub use record::Record;",
        ),
        (
            "feed/record.rs",
            "pub struct Record; impl Record { fn check(&self) { super::not_found(); } }",
        ),
        ("feed/push.rs", "use super::Record; pub fn not_found() {}"),
    ]);
    assert_eq!(found, [["feed/push.rs", "feed/record.rs"]]);
}

/// Parents declaring and re-exporting their children, modules named by `use`, and names of
/// other crates are not edges; a child importing from its parent is one way only.
#[test]
fn declarations_reexports_and_module_imports_are_not_edges() {
    let found = circles_of(&[
        (
            "lib.rs",
            "pub mod feed; pub mod http; pub use feed::Feed; use std::sync::Arc;",
        ),
        (
            "feed/mod.rs",
            "mod handle; mod error; pub use handle::Feed; pub use error::Error;",
        ),
        ("feed/error.rs", "pub enum Error { NotFound }"),
        (
            "feed/handle.rs",
            "use super::Error; pub struct Feed; fn f() -> Error { Error::NotFound }",
        ),
        (
            "http/mod.rs",
            "use crate::feed; mod cache; fn serve(f: feed::Feed) { cache::get(); }",
        ),
        ("http/cache.rs", "use crate::feed::Error; pub fn get() {}"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

/// Every way of naming an item closes a circle: `crate::` paths in code, glob imports,
/// paths in macro calls, `use` inside a function, and a test module's imports.
#[test]
fn every_kind_of_reference_is_an_edge() {
    let cases = [
        "fn f() { let _ = crate::b::B; }",
        "use crate::b::*; fn f() { let _ = B; }",
        "fn f() { println!(\"{}\", crate::b::B); }",
        "fn f() { use crate::b::B; let _ = B; }",
        "#[cfg(test)] mod tests { use crate::b::B; }",
        "use super::b; fn f() { let _: b::B; }",
        "use crate::b::B as Other; fn f() { let _: Other; }",
    ];
    for a in cases {
        let found = circles_of(&[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", a),
            ("b.rs", "pub struct B; fn g() { let _ = crate::a::f; }"),
        ]);
        assert_eq!(found, [["a.rs", "b.rs"]], "a.rs: {a}");
    }
}
