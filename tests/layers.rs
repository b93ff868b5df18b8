//! The library's modules stand in layers (README "Layout"): each layer uses only layers
//! below it, and the stages stand side by side on top, never using one another; `migrate`
//! alone combines stages. This test reads every `crate::` path in the library's non-test
//! code and fails on an edge that breaks that rule, naming the file and both modules.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Layers, bottom first; a module may use modules of a lower rank only.
const LAYERS: &[(&str, u32)] = &[
    ("sql", 0),
    ("fsio", 0),
    ("progress", 0),
    ("report", 0),
    ("partial", 1),
    ("model", 2),
    ("format", 3),
    ("mapping", 4),
    ("pg", 5),
    ("sqlite", 5),
    ("sign", 3),
    ("redact", 6),
    ("transform", 6),
    ("verify", 6),
];

/// The stages: each may use any layer, and no other stage.
const STAGES: &[&str] = &["export", "schema", "import", "validate", "rollback"];

/// The one module that combines stages.
const COMBINER: &str = "migrate";

fn rank(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("src entries are readable").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/pg/catalog.rs` → `pg`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("non-empty").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The modules a file's code (not its tests, not its comments) names as `crate::<module>`.
fn uses(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn is_test_file(file: &Path) -> bool {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    matches!(name.as_str(), "tests.rs" | "testkit.rs")
}

/// Why `from` may not use `to`, or `None` when it may.
fn forbidden(from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    let stage = |m: &str| STAGES.contains(&m);
    match (rank(from), rank(to)) {
        (Some(a), Some(b)) if b >= a => Some(format!("layer {from} ({a}) uses layer {to} ({b})")),
        (Some(_), Some(_)) => None,
        (Some(_), None) => Some(format!("layer {from} uses {to}, which is not below it")),
        (None, _) if from == COMBINER => None,
        (None, Some(_)) if stage(from) => None,
        (None, None) if stage(from) && stage(to) => Some(format!("stage {from} uses stage {to}")),
        _ => Some(format!("{from} uses {to}: add the module to tests/layers.rs")),
    }
}

#[test]
fn no_module_uses_one_above_it_and_no_stage_uses_another() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let from = module_of(&src, file);
        if matches!(from.as_str(), "main" | "cli" | "lib") {
            continue;
        }
        let text = fs::read_to_string(file).expect("source is readable");
        for to in uses(&text) {
            if let Some(why) = forbidden(&from, &to) {
                problems.push(format!("{}: {why}", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(problems.is_empty(), "layering broken:\n  {}", problems.join("\n  "));
}

#[test]
fn the_rules_catch_what_they_are_meant_to() {
    assert!(forbidden("validate", "import").is_some());
    assert!(forbidden("transform", "schema").is_some());
    assert!(forbidden("mapping", "transform").is_some());
    assert!(forbidden("model", "pg").is_some());
    assert!(forbidden("import", "transform").is_none());
    assert!(forbidden("migrate", "import").is_none());
    let text = "use crate::import::X;\n// crate::export in a comment\n#[cfg(test)]\nmod tests {\n use crate::rollback;\n}";
    assert_eq!(uses(text), BTreeSet::from(["import".to_owned()]));
}
