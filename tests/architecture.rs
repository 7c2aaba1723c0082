//! The architecture test: imports run one way. It reads the source under `src/` as text and
//! fails on any cycle among its files, or among its top-level modules, printing the cycle.
//!
//! A file names another through a `crate::`, `super::` or `self::` path: in a `use` (groups
//! included) or in an expression (`crate::telemetry::metrics::count(...)`). A path names the
//! file of its longest prefix that is a module (`crate::api::deadline::Deadlines` names
//! `api/deadline.rs`). `mod` lines, comments and the test modules (from the first
//! `#[cfg(test)]` of a file on) do not count: a parent declares its children, and tests may
//! reach anywhere. The crate roots (`lib.rs`, `main.rs`) declare the modules and are above
//! them all. `/work/shared/tools/import-cycles.py` reads the source the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path: `["api", "deadline"]` for `src/api/deadline.rs`, `[]` for the crate root.
type ModulePath = Vec<String>;

/// Which file names which, with one path that shows it, by the files' paths under `src/`.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn no_file_and_no_top_level_module_of_src_reaches_itself_through_imports() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");

    let files = read_tree(&source);
    let cycles = cycles_of(&files);

    assert!(
        cycles.is_empty(),
        "imports must run one way (docs/layout.md); these reach themselves:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn a_cycle_among_files_and_modules_is_found_and_named() {
    let files = BTreeMap::from([
        (
            "lib.rs".to_string(),
            "pub mod low;\npub mod high;\n".to_string(),
        ),
        (
            "low/mod.rs".to_string(),
            "//! Names `crate::high` in a comment only.\npub mod clock;\n".to_string(),
        ),
        (
            "low/clock.rs".to_string(),
            "pub fn now() -> u64 { crate::high::api::served().len() as u64 }\n".to_string(),
        ),
        (
            "high/api.rs".to_string(),
            "use crate::low::{clock::now, self};\npub fn served() -> Vec<u64> { vec![now()] }\n\
             #[cfg(test)]\nmod tests { use crate::low::clock; }\n"
                .to_string(),
        ),
        ("high/plain.rs".to_string(), "use super::api;\n".to_string()),
    ]);

    let cycles = cycles_of(&files);

    assert_eq!(cycles.len(), 2, "{cycles:#?}");
    assert!(cycles[0].starts_with("file cycle: high/api.rs, low/clock.rs"));
    assert!(cycles[0].contains("low/clock.rs -> high/api.rs (crate::high::api::served)"));
    assert!(cycles[1].starts_with("module cycle: high, low"));
    assert!(
        !cycles.iter().any(|cycle| cycle.contains("plain.rs ->")),
        "plain.rs names api.rs, and nothing names plain.rs back: {cycles:#?}"
    );
}

/// Every `.rs` file under `root`, by its path under it (with `/`), and its text.
fn read_tree(root: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder)
            .unwrap_or_else(|error| panic!("{}: {error}", folder.display()));
        for entry in entries {
            let path: PathBuf = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let relative = path.strip_prefix(root).expect("under the root");
                let name = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                files.insert(name, text);
            }
        }
    }
    files
}

/// The module a file holds: `api/mod.rs` and `api.rs` hold `api`; `lib.rs` and `main.rs` the root.
fn module_of(file: &str) -> ModulePath {
    let mut parts: ModulePath = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib" || last == "main")
    {
        parts.pop();
    }
    parts
}

/// The cycles among `files` (path under `src/` -> text), one string each: the files or modules
/// that reach each other, then each one's imports among them with a path that shows it.
fn cycles_of(files: &BTreeMap<String, String>) -> Vec<String> {
    let modules: BTreeMap<ModulePath, String> = files
        .keys()
        .map(|file| (module_of(file), file.clone()))
        .collect();
    let mut file_graph = Graph::new();
    for (file, text) in files {
        let here = module_of(file);
        if here.is_empty() {
            continue;
        }
        let imports = file_graph.entry(file.clone()).or_default();
        for (full, shown) in paths_named(&here, &strip(text)) {
            let Some(target) = (0..=full.len())
                .rev()
                .find_map(|length| modules.get(&full[..length]))
            else {
                continue;
            };
            if target != file && !module_of(target).is_empty() {
                imports.entry(target.clone()).or_insert(shown);
            }
        }
    }
    let mut module_graph = Graph::new();
    for (file, imports) in &file_graph {
        let from = module_of(file)[0].clone();
        for (target, shown) in imports {
            let to = module_of(target)[0].clone();
            if to != from {
                let entry = module_graph.entry(from.clone()).or_default();
                entry
                    .entry(to)
                    .or_insert_with(|| format!("{file}: {shown}"));
            }
        }
    }
    let mut found = Vec::new();
    for (kind, graph) in [("file", &file_graph), ("module", &module_graph)] {
        for members in strongly_connected(graph) {
            let mut lines = vec![format!(
                "{kind} cycle: {}",
                members.iter().cloned().collect::<Vec<_>>().join(", ")
            )];
            for member in &members {
                for (target, shown) in &graph[member] {
                    if members.contains(target) {
                        lines.push(format!("    {member} -> {target} ({shown})"));
                    }
                }
            }
            found.push(lines.join("\n"));
        }
    }
    found
}

/// `text` without comments (line and block; doc comments are comments) and without what
/// follows its first `#[cfg(test)]`. String literals are kept: a path inside one is rare.
fn strip(text: &str) -> String {
    let text = text.find("#[cfg(test)]").map_or(text, |cut| &text[..cut]);
    let mut kept = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
            kept.push(' ');
        } else {
            let next = rest.chars().next().expect("not empty");
            kept.push(next);
            rest = &rest[next.len_utf8()..];
        }
    }
    kept
}

/// The module paths that the code of module `here` names, made absolute, each with the path
/// as written (`use` groups expanded).
fn paths_named(here: &[String], code: &str) -> Vec<(ModulePath, String)> {
    let mut named = Vec::new();
    let mut search = code;
    while let Some(start) = search.find("use ") {
        let is_word_start = start == 0
            || !search[..start]
                .chars()
                .next_back()
                .is_some_and(|before| before.is_alphanumeric() || before == '_');
        let after = &search[start + 4..];
        let Some(end) = after.find(';') else { break };
        let from_this_crate = ["crate::", "self::", "super::", "$crate::"]
            .iter()
            .any(|root| after.trim_start().starts_with(root));
        if is_word_start && from_this_crate {
            let tree = after[..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            for path in expand_use_tree(&tree) {
                named.push(path);
            }
        }
        search = &after[end..];
    }
    let written: Vec<String> = named
        .into_iter()
        .chain(paths_in_expressions(code))
        .collect();
    written
        .into_iter()
        .filter_map(|path| absolute(here, &path).map(|full| (full, path)))
        .collect()
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e` (and `a`, `a::c` for `self` items).
fn expand_use_tree(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        let path: String = path.split_whitespace().collect();
        return vec![path.trim_end_matches("::*").to_string()];
    };
    let prefix: String = tree[..open].split_whitespace().collect();
    let prefix = prefix.trim_end_matches("::");
    let close = tree
        .rfind('}')
        .filter(|close| *close > open)
        .unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let mut items = Vec::new();
    let (mut depth, mut begin) = (0, 0);
    for (index, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[begin..index]);
                begin = index + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[begin..]);
    let mut paths = vec![prefix.to_string()];
    for item in items.into_iter().filter(|item| !item.is_empty()) {
        for path in expand_use_tree(item) {
            if path == "self" || path.is_empty() {
                continue;
            }
            paths.push(format!("{prefix}::{path}"));
        }
    }
    paths
}

/// The `crate::`, `$crate::`, `super::` and `self::` paths written in `code`.
fn paths_in_expressions(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut paths = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let rest = &code[index..];
        let root = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|root| rest.starts_with(root));
        let starts_word = index == 0 || !is_word(bytes[index - 1]);
        let (Some(_), true) = (root, starts_word) else {
            index += 1;
            continue;
        };
        let mut end = index;
        loop {
            let word_end = end
                + code[end..]
                    .bytes()
                    .take_while(|byte| is_word(*byte))
                    .count();
            if code[word_end..].starts_with("::")
                && code[word_end + 2..].bytes().next().is_some_and(is_word)
            {
                end = word_end + 2;
            } else {
                end = word_end;
                break;
            }
        }
        paths.push(code[index..end].to_string());
        index = end.max(index + 1);
    }
    paths
}

/// `path` (from `crate`, `super` or `self`) as a module path from the root, seen from `here`.
fn absolute(here: &[String], path: &str) -> Option<ModulePath> {
    let mut segments = path.split("::").filter(|segment| !segment.is_empty());
    let mut full: ModulePath = match segments.next()? {
        "crate" | "$crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for segment in segments {
        if segment == "super" {
            full.pop();
        } else {
            full.push(segment.to_string());
        }
    }
    Some(full)
}

/// The strongly connected sets of more than one node (Tarjan), each sorted, in a stable order.
fn strongly_connected(graph: &Graph) -> Vec<BTreeSet<String>> {
    struct Search<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, node: &'a str) {
            let number = self.index.len();
            self.index.insert(node, number);
            self.low.insert(node, number);
            self.stack.push(node);
            self.on_stack.insert(node);
            let targets = self.graph.get(node).into_iter().flat_map(|map| map.keys());
            for target in targets {
                if !self.index.contains_key(target.as_str()) {
                    self.visit(target);
                    let low = self.low[node].min(self.low[target.as_str()]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(target.as_str()) {
                    let low = self.low[node].min(self.index[target.as_str()]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut members = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    members.insert(member.to_string());
                    if member == node {
                        break;
                    }
                }
                if members.len() > 1 {
                    self.found.push(members);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node.as_str()) {
            search.visit(node);
        }
    }
    search.found.sort();
    search.found
}
