//! The import graph of a crate's source files, and the circles in it (DESIGN: "No import
//! circles").
//!
//! Each `.rs` file is a node. A file has an edge to another when its code names an item
//! defined there: through `use`, a `crate::`, `super::` or `self::` path, a child module's name,
//! a name brought in by a glob import, or such a path inside a macro call. Re-exports are
//! followed to the file that defines the item, so `use super::Feed` points at the file where
//! `Feed` is declared, whichever `mod.rs` re-exports it. Not edges: declaring `mod child;`,
//! re-exporting (`pub use`) an item of one's own child modules, and a `use` that names a module
//! rather than an item (the paths that go through it are the edges).
//!
//! Resolution is by name, as rustc does it for modules, `use` and globs; what it cannot resolve
//! (other crates, local variables, generics) is not an edge.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::visit::Visit;

/// How deep re-exports, globs and aliases are followed before a name counts as unresolved
/// (a guard against `use` cycles, which rustc rejects anyway).
const MAX_DEPTH: usize = 16;

/// A chain of files, each naming an item of the next, the last naming an item of the first:
/// the shortest through the first file of a group of files that all reach each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    /// `(file, the path in it that names an item of the next file)`.
    pub steps: Vec<(String, String)>,
    /// Every file of the group, the chain's and others on other circles among them.
    pub group: Vec<String>,
}

impl Circle {
    /// The files of the circle, starting with the smallest, in order.
    pub fn files(&self) -> Vec<&str> {
        self.steps.iter().map(|(file, _)| file.as_str()).collect()
    }
}

impl fmt::Display for Circle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (file, via) in &self.steps {
            write!(f, "{file} --[{via}]--> ")?;
        }
        if let Some((first, _)) = self.steps.first() {
            write!(f, "{first}")?;
        }
        if self.group.len() > self.steps.len() {
            write!(f, " (the whole tangle: {})", self.group.join(", "))?;
        }
        Ok(())
    }
}

/// The circles among the files of the crate whose sources are under `src` (roots `lib.rs` and
/// `main.rs`, whichever exist), one per strongly connected group of files.
pub fn circles_in(src: &Path) -> Vec<Circle> {
    let read = |relative: &Path| std::fs::read_to_string(src.join(relative)).ok();
    let roots: Vec<&str> = ["lib.rs", "main.rs"]
        .into_iter()
        .filter(|root| src.join(root).is_file())
        .collect();
    assert!(
        !roots.is_empty(),
        "{} has neither lib.rs nor main.rs",
        src.display()
    );
    circles(&Graph::build(&roots, &read))
}

/// Files and the edges between them (indices into `files`), each with the first path that
/// made it.
pub struct Graph {
    files: Vec<String>,
    edges: BTreeMap<(usize, usize), String>,
}

impl Graph {
    /// Reads each root (a path relative to the source folder) and every module file it declares,
    /// through `read`, and resolves their references.
    pub fn build(roots: &[&str], read: &dyn Fn(&Path) -> Option<String>) -> Graph {
        let mut graph = Graph {
            files: Vec::new(),
            edges: BTreeMap::new(),
        };
        for root in roots {
            let mut tree = Tree::default();
            tree.add_file(Path::new(root), Vec::new(), PathBuf::new(), read);
            let offset = graph.files.len();
            graph
                .files
                .extend(tree.files.iter().map(|f| f.path.clone()));
            for ((from, to), via) in tree.edges() {
                graph
                    .edges
                    .entry((from + offset, to + offset))
                    .or_insert(via);
            }
        }
        graph
    }
}

/// Every circle of `graph`: one per strongly connected group of two or more files.
pub fn circles(graph: &Graph) -> Vec<Circle> {
    let n = graph.files.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(from, to) in graph.edges.keys() {
        next[from].push(to);
    }
    strongly_connected(&next)
        .into_iter()
        .filter(|group| group.len() >= 2)
        .map(|group| {
            let chain = shortest_cycle(&next, &group);
            let steps = chain
                .iter()
                .zip(chain.iter().cycle().skip(1))
                .map(|(&from, &to)| (graph.files[from].clone(), graph.edges[&(from, to)].clone()))
                .collect();
            let group = group.iter().map(|&i| graph.files[i].clone()).collect();
            Circle { steps, group }
        })
        .collect()
}

/// Tarjan's strongly connected components, each sorted, in order of their smallest file.
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct Walk<'a> {
        next: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        groups: Vec<Vec<usize>>,
    }
    impl Walk<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.counter);
            self.low[v] = self.counter;
            self.counter += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for i in 0..self.next[v].len() {
                let w = self.next[v][i];
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(index) if self.on_stack[w] => self.low[v] = self.low[v].min(index),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                group.sort_unstable();
                self.groups.push(group);
            }
        }
    }
    let n = next.len();
    let mut walk = Walk {
        next,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        groups: Vec::new(),
    };
    for v in 0..n {
        if walk.index[v].is_none() {
            walk.visit(v);
        }
    }
    walk.groups.sort();
    walk.groups
}

/// The shortest cycle through the group's first file, staying inside the group (breadth first).
fn shortest_cycle(next: &[Vec<usize>], group: &[usize]) -> Vec<usize> {
    let start = group[0];
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &next[v] {
            if group.binary_search(&w).is_err() || came_from.contains_key(&w) {
                continue;
            }
            came_from.insert(w, v);
            if w == start {
                let mut chain = vec![v];
                while *chain.last().expect("chain starts non-empty") != start {
                    let last = *chain.last().expect("chain starts non-empty");
                    chain.push(came_from[&last]);
                }
                chain.reverse();
                return chain;
            }
            queue.push_back(w);
        }
    }
    unreachable!("a strongly connected group of two or more files has a cycle through each file")
}

/// One source file of a crate.
struct File {
    /// Relative to the source folder, with `/` separators.
    path: String,
    /// `None` only while its modules are being read.
    ast: Option<syn::File>,
}

/// A module: a file's top level or an inline `mod name { ... }` in it.
struct Scope {
    file: usize,
    module: Vec<String>,
    /// Modules declared here, inline or in their own file.
    children: BTreeSet<String>,
    /// Names of items defined here (types, functions, constants, traits, macros).
    items: BTreeSet<String>,
    uses: Vec<Use>,
}

/// One leaf of a `use` tree.
struct Use {
    /// The name it binds (`None` for a glob; `_` for `use Trait as _`).
    name: Option<String>,
    /// As written, relative to the scope (first segment `crate`, `super`, `self` or a name).
    path: Vec<String>,
    public: bool,
}

/// The modules and files of one crate (one root).
#[derive(Default)]
struct Tree {
    files: Vec<File>,
    scopes: Vec<Scope>,
    by_module: HashMap<Vec<String>, usize>,
}

impl Tree {
    /// Reads `path` as the file of `module`, whose child module files are under `dir`.
    fn add_file(
        &mut self,
        path: &Path,
        module: Vec<String>,
        dir: PathBuf,
        read: &dyn Fn(&Path) -> Option<String>,
    ) {
        let display = path.to_string_lossy().replace('\\', "/");
        let source = read(path).unwrap_or_else(|| panic!("cannot read {display}"));
        let ast = syn::parse_file(&source)
            .unwrap_or_else(|e| panic!("{display} does not parse as Rust: {e}"));
        let file = self.files.len();
        self.files.push(File {
            path: display,
            ast: None,
        });
        self.add_scope(file, module, &ast.items, dir, read);
        self.files[file].ast = Some(ast);
    }

    fn add_scope(
        &mut self,
        file: usize,
        module: Vec<String>,
        items: &[syn::Item],
        dir: PathBuf,
        read: &dyn Fn(&Path) -> Option<String>,
    ) {
        let id = self.scopes.len();
        self.by_module.insert(module.clone(), id);
        self.scopes.push(Scope {
            file,
            module: module.clone(),
            children: BTreeSet::new(),
            items: BTreeSet::new(),
            uses: Vec::new(),
        });
        for item in items {
            let name = match item {
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    self.scopes[id].children.insert(name.clone());
                    let child = [module.as_slice(), std::slice::from_ref(&name)].concat();
                    match &m.content {
                        Some((_, inner)) => {
                            self.add_scope(file, child, inner, dir.join(&name), read);
                        }
                        None => {
                            let flat = dir.join(format!("{name}.rs"));
                            let nested = dir.join(&name).join("mod.rs");
                            let path = if read(&flat).is_some() { flat } else { nested };
                            self.add_file(&path, child, dir.join(&name), read);
                        }
                    }
                    continue;
                }
                syn::Item::Use(u) => {
                    let public = !matches!(u.vis, syn::Visibility::Inherited);
                    let mut uses = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), public, &mut uses);
                    self.scopes[id].uses.extend(uses);
                    continue;
                }
                syn::Item::Const(i) => &i.ident,
                syn::Item::Enum(i) => &i.ident,
                syn::Item::Fn(i) => &i.sig.ident,
                syn::Item::Macro(i) => match &i.ident {
                    Some(ident) => ident,
                    None => continue,
                },
                syn::Item::Static(i) => &i.ident,
                syn::Item::Struct(i) => &i.ident,
                syn::Item::Trait(i) => &i.ident,
                syn::Item::TraitAlias(i) => &i.ident,
                syn::Item::Type(i) => &i.ident,
                syn::Item::Union(i) => &i.ident,
                _ => continue,
            };
            self.scopes[id].items.insert(name.to_string());
        }
    }

    /// Every edge between two different files, with the first path that made it.
    fn edges(&self) -> BTreeMap<(usize, usize), String> {
        let mut edges = BTreeMap::new();
        let mut add = |from: usize, to: usize, via: &[String]| {
            if from != to {
                edges.entry((from, to)).or_insert_with(|| via.join("::"));
            }
        };
        for scope in &self.scopes {
            let file = scope.file;
            for u in &scope.uses {
                if u.name.is_none() {
                    continue;
                }
                let Some(target) = self.absolute(scope, &u.path, 0) else {
                    continue;
                };
                let Some((to, is_module)) = self.file_of(&target, 0) else {
                    continue;
                };
                let own_child = to != file
                    && self
                        .module_of_file(to)
                        .starts_with(&self.module_of_file(file));
                let reexport = u.public && own_child;
                if !(is_module || reexport) {
                    add(file, to, &u.path);
                }
            }
        }
        for (file, f) in self.files.iter().enumerate() {
            let mut collector = Collector {
                module: self.module_of_file(file),
                blocks: 0,
                found: Vec::new(),
            };
            collector.visit_file(f.ast.as_ref().expect("every file is read before edges"));
            for (module, path) in collector.found {
                let Some(&scope) = self.by_module.get(&module) else {
                    continue;
                };
                let scope = &self.scopes[scope];
                let Some(target) = self.absolute(scope, &path, 0) else {
                    continue;
                };
                if let Some((to, false)) = self.file_of(&target, 0) {
                    add(file, to, &path);
                }
            }
        }
        edges
    }

    fn module_of_file(&self, file: usize) -> Vec<String> {
        self.scopes
            .iter()
            .filter(|s| s.file == file)
            .map(|s| s.module.clone())
            .min_by_key(Vec::len)
            .expect("every file has its top-level scope")
    }

    /// The crate-absolute form of `path` as written in `scope`, or `None` when it leaves the
    /// crate (another crate, a local name, a generic).
    fn absolute(&self, scope: &Scope, path: &[String], depth: usize) -> Option<Vec<String>> {
        let (first, rest) = path.split_first()?;
        let mut base = match first.as_str() {
            "crate" | "$crate" => Vec::new(),
            "self" => scope.module.clone(),
            "super" => {
                let mut module = scope.module.clone();
                module.pop()?;
                let supers = rest.iter().take_while(|s| *s == "super").count();
                for _ in 0..supers {
                    module.pop()?;
                }
                module.extend(rest[supers..].iter().cloned());
                return Some(module);
            }
            name => self.lookup(scope, name, depth + 1)?,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// What `name` means in `scope`: a `use`, a child module, an item, or what a glob import
    /// brings.
    fn lookup(&self, scope: &Scope, name: &str, depth: usize) -> Option<Vec<String>> {
        if depth > MAX_DEPTH {
            return None;
        }
        if let Some(u) = scope.uses.iter().find(|u| u.name.as_deref() == Some(name)) {
            return self.absolute(scope, &u.path, depth + 1);
        }
        if scope.children.contains(name) || scope.items.contains(name) {
            return Some([scope.module.as_slice(), &[name.to_owned()]].concat());
        }
        scope
            .uses
            .iter()
            .filter(|u| u.name.is_none())
            .filter_map(|glob| self.absolute(scope, &glob.path, depth + 1))
            .filter_map(|module| self.by_module.get(&module))
            .find_map(|&target| self.lookup(&self.scopes[target], name, depth + 1))
    }

    /// The file that defines what the crate-absolute `path` names, and whether that is a
    /// module rather than an item.
    fn file_of(&self, path: &[String], depth: usize) -> Option<(usize, bool)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut scope = &self.scopes[*self.by_module.get(&Vec::new())?];
        for (i, segment) in path.iter().enumerate() {
            let here = [scope.module.as_slice(), std::slice::from_ref(segment)].concat();
            if let Some(&child) = self.by_module.get(&here) {
                scope = &self.scopes[child];
                continue;
            }
            return match self.lookup(scope, segment, depth + 1) {
                Some(target) if target != here => {
                    let rest = [target.as_slice(), &path[i + 1..]].concat();
                    self.file_of(&rest, depth + 1)
                }
                _ => Some((scope.file, false)),
            };
        }
        Some((scope.file, true))
    }
}

fn flatten_use(tree: &syn::UseTree, prefix: &mut Vec<String>, public: bool, out: &mut Vec<Use>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, public, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) if n.ident == "self" => out.push(Use {
            name: prefix.last().cloned(),
            path: prefix.clone(),
            public,
        }),
        syn::UseTree::Name(n) => out.push(Use {
            name: Some(n.ident.to_string()),
            path: [prefix.as_slice(), &[n.ident.to_string()]].concat(),
            public,
        }),
        syn::UseTree::Rename(r) => {
            let path = if r.ident == "self" {
                prefix.clone()
            } else {
                [prefix.as_slice(), &[r.ident.to_string()]].concat()
            };
            out.push(Use {
                name: Some(r.rename.to_string()),
                path,
                public,
            });
        }
        syn::UseTree::Glob(_) => out.push(Use {
            name: None,
            path: prefix.clone(),
            public,
        }),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix, public, out);
            }
        }
    }
}

/// Collects every path in code with the module it is written in: paths outside `use` items,
/// and those of `use` items inside function bodies (the module-level ones are [`Scope::uses`]).
struct Collector {
    module: Vec<String>,
    blocks: usize,
    found: Vec<(Vec<String>, Vec<String>)>,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.blocks += 1;
        syn::visit::visit_block(self, block);
        self.blocks -= 1;
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if self.blocks > 0 {
            let mut uses = Vec::new();
            flatten_use(&item.tree, &mut Vec::new(), false, &mut uses);
            for u in uses.into_iter().filter(|u| u.name.is_some()) {
                self.found.push((self.module.clone(), u.path));
            }
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.found.push((self.module.clone(), segments));
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        syn::visit::visit_macro(self, mac);
        let mut paths = Vec::new();
        macro_paths(mac.tokens.clone(), &mut paths);
        for path in paths {
            self.found.push((self.module.clone(), path));
        }
    }
}

/// Paths of two or more segments (`a::b`) in a macro's tokens. Single names are left out: in
/// a macro call they are as often field names or bindings as references.
fn macro_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(g) => macro_paths(g.stream(), out),
            TokenTree::Ident(ident) => {
                let after_colons = i >= 2 && is_path_sep(&tokens[i - 2], &tokens[i - 1]);
                if !after_colons {
                    let dollar = i >= 1
                        && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    let mut path = vec![if dollar {
                        format!("${ident}")
                    } else {
                        ident.to_string()
                    }];
                    let mut j = i + 1;
                    while j + 2 < tokens.len()
                        && is_path_sep(&tokens[j], &tokens[j + 1])
                        && matches!(tokens.get(j + 2), Some(TokenTree::Ident(_)))
                    {
                        path.push(tokens[j + 2].to_string());
                        j += 3;
                    }
                    if path.len() >= 2 {
                        out.push(path);
                    }
                }
            }
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
        i += 1;
    }
}

fn is_path_sep(a: &TokenTree, b: &TokenTree) -> bool {
    matches!((a, b), (TokenTree::Punct(x), TokenTree::Punct(y))
        if x.as_char() == ':' && x.spacing() == Spacing::Joint && y.as_char() == ':')
}
