//! `cargo xtask tidy`: the checks that keep the house and its map true, as
//! rust-analyzer's tidy does. Each reads files only, needs no build, and
//! says what to fix.
//!
//! - No source file outside tests is over [`MAX_LINES`] lines, but those in
//!   [`KNOWN_LONG`], each under its ceiling (a listed file may shrink, never
//!   grow; one back under the limit must leave the list).
//! - ARCHITECTURE.md's code map has a section for every crate, names every
//!   top module of it, and every `*.rs` file it names exists in that crate.
//! - The clause letters of the trait's contract (core's `lib.rs`) are the
//!   clause letters the contract suite tests, and those ARCHITECTURE.md's
//!   "The contract" states.
//! - No crate has an import circle among its top modules (`a` uses
//!   `crate::b`, which uses `crate::a`, directly or round a longer loop).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The most lines a source file outside tests may have.
const MAX_LINES: usize = 700;

/// Files over [`MAX_LINES`], each with the most lines it may have: debts
/// to split, never to grow. None today; a file that has to pass the limit
/// for a while is listed here with its length, and leaves once split.
const KNOWN_LONG: &[(&str, usize)] = &[];

/// Runs every check from the workspace root; prints each finding.
pub(crate) fn run() -> Result<bool, String> {
    let root = workspace_root();
    let mut findings = Vec::new();
    findings.extend(long_files(&root)?);
    findings.extend(code_map(&root)?);
    findings.extend(clauses(&root)?);
    findings.extend(circles(&root)?);
    for finding in &findings {
        println!("tidy: {finding}");
    }
    if findings.is_empty() {
        println!(
            "tidy: file sizes, the code map, the contract's clauses and the module graph are in order"
        );
    }
    Ok(findings.is_empty())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The crates, as `(path from the root, directory)`: `crates/*` and
/// `xtask`.
fn crates(root: &Path) -> Result<Vec<String>, String> {
    let mut found = vec!["xtask".to_owned()];
    let dir = root.join("crates");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.path().join("Cargo.toml").exists() {
            found.push(format!("crates/{}", entry.file_name().to_string_lossy()));
        }
    }
    found.sort();
    Ok(found)
}

/// Every `*.rs` file under `dir`, as paths from `root`, sorted.
fn rust_files(root: &Path, dir: &Path) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(relative(root, &path));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn read(root: &Path, path: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(path)).map_err(|e| format!("{path}: {e}"))
}

/// Source files (each crate's `src/`) over their limit.
fn long_files(root: &Path) -> Result<Vec<String>, String> {
    let mut findings = Vec::new();
    for krate in crates(root)? {
        for file in rust_files(root, &root.join(&krate).join("src"))? {
            let lines = read(root, &file)?.lines().count();
            let known = KNOWN_LONG.iter().find(|(path, _)| *path == file);
            match known {
                Some((_, ceiling)) if lines > *ceiling => findings.push(format!(
                    "{file} has {lines} lines, more than its ceiling of {ceiling}: split it, never grow it"
                )),
                Some(_) if lines <= MAX_LINES => findings.push(format!(
                    "{file} has {lines} lines, under {MAX_LINES}: take it out of KNOWN_LONG in xtask/src/tidy.rs"
                )),
                None if lines > MAX_LINES => findings.push(format!(
                    "{file} has {lines} lines, more than {MAX_LINES}: split it by job"
                )),
                _ => {}
            }
        }
    }
    for (path, _) in KNOWN_LONG {
        if !root.join(path).exists() {
            findings.push(format!(
                "{path} is in KNOWN_LONG but does not exist: take it out"
            ));
        }
    }
    Ok(findings)
}

/// The text of ARCHITECTURE.md's section headed `` ### `heading` ``, up to
/// the next heading of its level or above.
fn section<'a>(map: &'a str, heading: &str) -> Option<&'a str> {
    let title = format!("### `{heading}`\n");
    let start = map.find(&title)? + title.len();
    let rest = &map[start..];
    let end = [rest.find("\n### "), rest.find("\n## ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The paths in backticks in `text` that end in `.rs` (not patterns such
/// as `*.rs` or `{a,b}.rs`).
fn named_files(text: &str) -> BTreeSet<&str> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_-./".contains(c);
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| name.ends_with(".rs") && name.chars().all(is_path_char))
        .collect()
}

/// The code map against the crates: a section per crate, each top module
/// named in it, each file it names present.
fn code_map(root: &Path) -> Result<Vec<String>, String> {
    let map = read(root, "ARCHITECTURE.md")?;
    // What every provider crate has is said once, for the three.
    let shared = map
        .find("### The provider crates\n")
        .map(|start| {
            let rest = &map[start..];
            &rest[..rest[4..].find("\n### ").map_or(rest.len(), |end| end + 4)]
        })
        .unwrap_or("");
    let mut findings = Vec::new();
    for krate in crates(root)? {
        let Some(own) = section(&map, &krate) else {
            findings.push(format!(
                "ARCHITECTURE.md has no section \"### `{krate}`\" in its code map"
            ));
            continue;
        };
        let is_provider = ["ec2", "gcp", "azure"]
            .iter()
            .any(|p| krate == format!("crates/provisioner-{p}"));
        let text = if is_provider {
            format!("{own}\n{shared}")
        } else {
            own.to_owned()
        };
        let src = root.join(&krate).join("src");
        for module in top_modules(&src)? {
            let named = text.contains(&format!("`{module}.rs`"))
                || text.contains(&format!("`{module}/"))
                || text.contains(&format!("`{module}`"));
            if !named {
                findings.push(format!(
                    "ARCHITECTURE.md's section on {krate} does not name its module `{module}`"
                ));
            }
        }
        // The crate's own section names files of its own (the shared one
        // names alternatives: `rules.rs` or `tags.rs`).
        let files = rust_files(root, &root.join(&krate))?;
        for name in named_files(own) {
            let exists = files
                .iter()
                .any(|f| f == name || f.ends_with(&format!("/{name}")));
            if !exists {
                findings.push(format!(
                    "ARCHITECTURE.md names `{name}` in its section on {krate}, which has no such file"
                ));
            }
        }
    }
    Ok(findings)
}

/// The modules directly under `src` (`name.rs` or `name/`), without the
/// crate roots.
fn top_modules(src: &Path) -> Result<Vec<String>, String> {
    let mut modules = Vec::new();
    let entries = std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        if is_module && !matches!(name.as_str(), "lib" | "main" | "bin") {
            modules.push(name);
        }
    }
    modules.sort();
    modules.dedup();
    Ok(modules)
}

/// The clause letters of the contract on the trait (`- **a.**` in core's
/// `lib.rs`) against those of the suite's cases (`clause "a"`).
fn clauses(root: &Path) -> Result<Vec<String>, String> {
    let trait_docs = read(root, "crates/provisioner-core/src/lib.rs")?;
    let suite = read(root, "crates/provisioner-core/src/contract/mod.rs")?;
    let on_trait: BTreeSet<char> = trait_docs
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("/// - **"))
        .filter_map(|rest| rest.chars().next())
        .collect();
    // ARCHITECTURE.md's "The contract" states the same clauses.
    let map = read(root, "ARCHITECTURE.md")?;
    let in_map: BTreeSet<char> = map
        .split("\n## The contract\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .filter_map(|rest| rest.chars().next())
        .collect();
    let tested: BTreeSet<char> = suite
        .split("clause \"")
        .skip(1)
        .filter_map(|rest| rest.chars().next())
        .collect();
    let mut findings = Vec::new();
    for letter in on_trait.difference(&tested) {
        findings.push(format!(
            "clause {letter} is on the trait but no case of the contract suite tests it"
        ));
    }
    for letter in tested.difference(&on_trait) {
        findings.push(format!(
            "the suite tests clause {letter}, which the trait's contract does not state"
        ));
    }
    if in_map != on_trait {
        findings.push(format!(
            "ARCHITECTURE.md's \"The contract\" states clauses {} where the trait states {}",
            in_map.iter().collect::<String>(),
            on_trait.iter().collect::<String>()
        ));
    }
    if on_trait.is_empty() {
        findings.push("no clause found on the trait (`/// - **a.**` in core's lib.rs)".to_owned());
    }
    Ok(findings)
}

/// The top modules of each crate that `crate::` paths make a loop of.
fn circles(root: &Path) -> Result<Vec<String>, String> {
    let mut findings = Vec::new();
    for krate in crates(root)? {
        let src = root.join(&krate).join("src");
        let modules = top_modules(&src)?;
        let mut uses: Vec<BTreeSet<usize>> = Vec::with_capacity(modules.len());
        for module in &modules {
            let mut text = String::new();
            let file = src.join(format!("{module}.rs"));
            if file.exists() {
                text.push_str(&read(root, &relative(root, &file))?);
            }
            let dir = src.join(module);
            if dir.is_dir() {
                for f in rust_files(root, &dir)? {
                    text.push_str(&read(root, &f)?);
                }
            }
            // Doc links name modules without using them.
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .flat_map(|l| [l, "\n"])
                .collect();
            uses.push(
                crate_paths(&code)
                    .filter_map(|name| modules.iter().position(|m| m == name))
                    .filter(|used| modules[*used] != *module)
                    .collect(),
            );
        }
        if let Some(circle) = first_circle(&uses) {
            let names: Vec<&str> = circle.iter().map(|i| modules[*i].as_str()).collect();
            findings.push(format!(
                "{krate} has an import circle: {} -> {}",
                names.join(" -> "),
                names[0]
            ));
        }
    }
    Ok(findings)
}

/// `path` from `root`, with `/` between its parts.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The first segment of every `crate::` path in `text`, also inside
/// `crate::{a, b::c}`.
fn crate_paths(text: &str) -> impl Iterator<Item = &str> {
    text.split("crate::").skip(1).flat_map(|rest| {
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|part| part.trim().split("::").next().unwrap_or("").trim())
                .collect(),
            None => vec![rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("")],
        };
        names.into_iter()
    })
}

/// A loop in the graph `uses` (module index to the modules it uses), as
/// the modules round it, if there is one.
fn first_circle(uses: &[BTreeSet<usize>]) -> Option<Vec<usize>> {
    // Depth-first, with the path walked so far: meeting a module on it
    // closes a loop.
    fn walk(
        at: usize,
        uses: &[BTreeSet<usize>],
        path: &mut Vec<usize>,
        done: &mut Vec<bool>,
    ) -> Option<Vec<usize>> {
        if let Some(start) = path.iter().position(|m| *m == at) {
            return Some(path[start..].to_vec());
        }
        if done[at] {
            return None;
        }
        path.push(at);
        for next in &uses[at] {
            if let Some(circle) = walk(*next, uses, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done[at] = true;
        None
    }
    let mut done = vec![false; uses.len()];
    (0..uses.len()).find_map(|m| walk(m, uses, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "## Code map\n\n### `crates/a`\n\n`lib.rs` and `x/y.rs`, not `*.rs`.\n\n### `crates/b`\n\nB's `z.rs`.\n\n## Next\n";

    #[test]
    fn a_section_runs_to_the_next_heading() {
        let a = section(MAP, "crates/a").unwrap();
        assert!(a.contains("x/y.rs") && !a.contains("z.rs"), "{a}");
        let b = section(MAP, "crates/b").unwrap();
        assert!(b.contains("z.rs") && !b.contains("Next"), "{b}");
        assert!(section(MAP, "crates/c").is_none());
    }

    #[test]
    fn named_files_are_the_backticked_rust_paths() {
        let a = section(MAP, "crates/a").unwrap();
        assert_eq!(
            named_files(a).into_iter().collect::<Vec<_>>(),
            ["lib.rs", "x/y.rs"]
        );
    }

    #[test]
    fn this_tree_has_every_clause_tested() {
        assert_eq!(clauses(&workspace_root()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_loop_of_crate_paths_is_found() {
        let text = "use crate::{a, b::C};\nlet x = crate::c::f();";
        assert_eq!(crate_paths(text).collect::<Vec<_>>(), ["a", "b", "c"]);
        // 0 -> 1 -> 2 -> 0, and 3 alone.
        let uses = [[1].into(), [2].into(), [0].into(), BTreeSet::new()];
        assert_eq!(first_circle(&uses), Some(vec![0, 1, 2]));
        let tree = [[1, 2].into(), [2].into(), BTreeSet::new()];
        assert_eq!(first_circle(&tree), None);
    }
}
