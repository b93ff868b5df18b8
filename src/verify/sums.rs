//! Stage 2: `SHA256SUMS` against the manifest. It must parse as `sha256sum` output, list each
//! data file of the manifest and `manifest.json` exactly once and nothing else, and agree with
//! the manifest's checksums and with `manifest.json`'s actual hash, so that an auditor using
//! `sha256sum -c` alone checks the same thing `pg2lite verify` does.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::problem::{Problem, ProblemKind};
use crate::fsio;
use crate::model::manifest::{MANIFEST_FILE, Manifest, SUMS_FILE, sha256_hex};

/// Checks `dir/SHA256SUMS`; `manifest_text` is `manifest.json` as read in stage 1.
pub fn check(dir: &Path, manifest: &Manifest, manifest_text: &str) -> Vec<Problem> {
    let text = match fsio::read(dir, SUMS_FILE, fsio::METADATA_LIMIT) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(fsio::Error { kind: fsio::Kind::NotFound, .. }) => {
            return vec![Problem::new(SUMS_FILE, ProblemKind::SumsMissing)];
        }
        Err(e) => return vec![Problem::new(SUMS_FILE, super::file_problem(e.kind))],
    };
    let mut expected: Vec<(String, String)> =
        manifest.tables.iter().map(|t| (t.file.clone(), t.sha256.to_ascii_lowercase())).collect();
    expected.push((MANIFEST_FILE.into(), sha256_hex(manifest_text.as_bytes())));
    compare(&text, &expected)
}

/// Each line against `expected` (path, sha256; the first wins when a path repeats), then
/// what no line listed.
fn compare(text: &str, expected: &[(String, String)]) -> Vec<Problem> {
    let mut sums: HashMap<&str, &str> = HashMap::new();
    for (path, sum) in expected {
        sums.entry(path).or_insert(sum);
    }
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let problem = check_line(line, &sums, &mut seen);
        problems.extend(problem.map(|kind| Problem::new(SUMS_FILE, kind).at_line(i as u64 + 1)));
    }
    for (path, _) in expected {
        if seen.insert(path) {
            problems.push(Problem::new(SUMS_FILE, ProblemKind::NotInSums { path: path.clone() }));
        }
    }
    problems
}

fn check_line<'t>(
    line: &'t str,
    sums: &HashMap<&str, &str>,
    seen: &mut HashSet<&'t str>,
) -> Option<ProblemKind> {
    let Some((sum, path)) = parse_line(line) else {
        return Some(ProblemKind::SumsMalformed { text: line.into() });
    };
    if !seen.insert(path) {
        return Some(ProblemKind::SumsDuplicate { path: path.into() });
    }
    let listed = sum.to_ascii_lowercase();
    match sums.get(path) {
        None => Some(ProblemKind::NotInManifest { path: path.into() }),
        Some(&want) if want == listed => None,
        Some(&actual) if path == MANIFEST_FILE => {
            Some(ProblemKind::SumsManifestHash { listed, actual: actual.into() })
        }
        Some(&want) => {
            Some(ProblemKind::SumsDisagree { path: path.into(), listed, manifest: want.into() })
        }
    }
}

/// `<64 hex digits>  <path>` (text mode) or `<64 hex digits> *<path>` (binary mode), the two
/// forms `sha256sum` writes for names that need no escaping (ours never do).
fn parse_line(line: &str) -> Option<(&str, &str)> {
    let sum = line.get(..64)?;
    let path = line.get(64..)?.strip_prefix(" ")?;
    let path = path.strip_prefix(' ').or_else(|| path.strip_prefix('*'))?;
    let valid = sum.bytes().all(|b| b.is_ascii_hexdigit()) && !path.is_empty();
    valid.then_some((sum, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn expected() -> Vec<(String, String)> {
        vec![("tables/a.ndjson".into(), A.into()), (MANIFEST_FILE.into(), B.into())]
    }

    fn kinds(text: &str) -> Vec<(Option<u64>, &'static str)> {
        compare(text, &expected()).iter().map(|p| (p.line, p.kind.name())).collect()
    }

    #[test]
    fn a_matching_list_in_either_mode_has_no_problems() {
        assert_eq!(kinds(&format!("{A}  tables/a.ndjson\n{B}  manifest.json\n")), vec![]);
        let upper = A.to_ascii_uppercase();
        assert_eq!(kinds(&format!("{upper} *tables/a.ndjson\n{B}  manifest.json\n")), vec![]);
    }

    #[test]
    fn each_disagreement_is_named_with_its_line() {
        let text = format!(
            "{B}  tables/a.ndjson\n{A}  manifest.json\n{A}  tables/x.ndjson\nnot a line\n\
             {A}  tables/x.ndjson\n"
        );
        assert_eq!(
            kinds(&text),
            vec![
                (Some(1), "sums_disagree"),
                (Some(2), "sums_manifest_hash"),
                (Some(3), "not_in_manifest"),
                (Some(4), "sums_malformed"),
                (Some(5), "sums_duplicate"),
            ]
        );
    }

    #[test]
    fn a_file_the_list_leaves_out_is_named() {
        assert_eq!(kinds(&format!("{B}  manifest.json\n")), vec![(None, "not_in_sums")]);
        let short = &A[..63];
        assert_eq!(
            kinds(&format!("{short}  tables/a.ndjson\n{B}  manifest.json\n")),
            vec![(Some(1), "sums_malformed"), (None, "not_in_sums")]
        );
    }
}
