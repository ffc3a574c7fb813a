//! The crate's modules import one another without circles: a module that
//! needs another's code never hands it back its own. Read from the sources,
//! at the level of the top modules (`apply`, `aws`, ...) and of their
//! children (`apply::executor`, `apply::components`, ...); tests are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the sources are readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module a source file defines: `src/apply/run.rs` is `apply::run`.
fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).expect("under src");
    let mut parts: Module = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// What the file's code (not its tests, not its comments) names of the crate.
fn references(text: &str) -> Vec<(bool, Vec<String>)> {
    let code = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        for (root, is_crate) in [("crate::", true), ("super::", false)] {
            let mut rest = line;
            while let Some(at) = rest.find(root) {
                let preceded_by_word = rest[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
                rest = &rest[at + root.len()..];
                if preceded_by_word {
                    continue;
                }
                // `a::b::{C, D}` names a and a::b; `a::b::c(...)` names a::b::c
                let mut path = Vec::new();
                for segment in rest.split("::") {
                    let name: String = segment
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        break;
                    }
                    let whole = name.len() == segment.len();
                    path.push(name);
                    if !whole {
                        break;
                    }
                }
                found.push((is_crate, path));
            }
        }
    }
    found
}

/// The modules each module's code uses, cut to `depth` segments.
fn graph(depth: usize) -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&root, f)).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&root, file);
        let text = std::fs::read_to_string(file).expect("a readable source");
        // `super` of a file's module is its parent
        let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
        for (is_crate, path) in references(&text) {
            let mut full = if is_crate { Vec::new() } else { parent.clone() };
            full.extend(path);
            let Some(target) = (1..=full.len())
                .rev()
                .map(|n| full[..n].to_vec())
                .find(|m| modules.contains(m))
            else {
                continue;
            };
            let (from, to) = (cut(&module, depth), cut(&target, depth));
            if from != to && from.len() == depth && to.len() == depth {
                edges.entry(from).or_default().insert(to);
            }
        }
    }
    edges
}

fn cut(module: &Module, depth: usize) -> Module {
    module.iter().take(depth).cloned().collect()
}

/// A circle of `edges`, if there is one.
fn circle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        at: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(start) = path.iter().position(|m| m == at) {
            let mut found = path[start..].to_vec();
            found.push(at.clone());
            return Some(found);
        }
        if !done.insert(at.clone()) {
            return None;
        }
        path.push(at.clone());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for depth in [1, 2] {
        let edges = graph(depth);
        assert!(!edges.is_empty(), "no imports read at depth {depth}");
        if let Some(found) = circle(&edges) {
            let names: Vec<String> = found.iter().map(|m| m.join("::")).collect();
            panic!("modules import each other: {}", names.join(" -> "));
        }
    }
}

#[test]
fn a_circle_is_found() {
    let module = |name: &str| vec![name.to_string()];
    let edges: BTreeMap<Module, BTreeSet<Module>> = [
        (module("a"), [module("b")].into()),
        (module("b"), [module("c")].into()),
        (module("c"), [module("a")].into()),
    ]
    .into();
    assert!(circle(&edges).is_some());
    let tree: BTreeMap<Module, BTreeSet<Module>> =
        [(module("a"), [module("b"), module("c")].into())].into();
    assert!(circle(&tree).is_none());
}
