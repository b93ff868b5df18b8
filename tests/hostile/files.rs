//! The file system as an attacker shapes it (issue 12, items 5, 8 and 9): symbolic links out of
//! the export, FIFOs where files belong, a manifest too large or too deep to read; a killed
//! export's leftovers and two imports racing for one target; the command line writing inside
//! an export. Each refusal names the file and what is wrong, within a timeout, and leaves the
//! old target byte-identical.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pg2lite::model::manifest::{self, MANIFEST_FILE, Manifest, SUMS_FILE};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{Forged, old_target, refused};
use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

/// Long enough for a loaded 2-core machine, short enough that a hang fails fast.
const LIMIT: Duration = Duration::from_secs(30);

/// A small sealed export of one table.
fn small() -> (TestDb, Forged) {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 20) i;",
    );
    let forged = Forged::export(&db, &[]);
    (db, forged)
}

fn verify(forged: &Forged) -> Outcome {
    pg2lite(&["verify", "--deep"]).arg(&forged.export).timeout(LIMIT).run()
}

fn import(forged: &Forged, target: &Path) -> Outcome {
    pg2lite(&["import", "--quiet", "--yes", "--no-backup"])
        .arg("--from")
        .arg(&forged.export)
        .arg("--target")
        .arg(target)
        .timeout(LIMIT)
        .run()
}

/// `verify --deep` exits `code` and names `file` and `needle` in one problem line.
fn verify_names(forged: &Forged, code: i32, file: &str, needle: &str) -> Outcome {
    let got = verify(forged).assert_code(code);
    let line = got.stdout.lines().find(|l| l.contains(file) && l.contains(needle));
    assert!(line.is_some(), "expected a problem naming {file} and {needle:?}:\n{got}");
    assert!(!got.stderr.contains("panicked"), "{got}");
    got
}

/// Import is refused with exit 2 naming `needle`, and the old target is untouched.
fn import_refused(forged: &Forged, needle: &str) {
    let (target, before) = old_target(forged.dir.path());
    refused(import(forged, &target), 2, needle, &target, &before);
}

fn mkfifo(path: &Path) {
    let _ = fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Replaces `path` with a symbolic link to `to`.
fn symlink(to: &Path, path: &Path) {
    let _ = fs::remove_file(path);
    std::os::unix::fs::symlink(to, path).expect("a symbolic link is made");
}

#[test]
fn a_table_file_linked_out_of_the_export_is_reported_and_never_read() {
    let (_db, forged) = small();
    // The control: the same content edited in place, in a regular file, verifies clean.
    forged.edit_table("t", |l| l.replace("row 2\"", "ROW TWO\""));
    verify(&forged).assert_code(0);
    let file = forged.table_file("t");
    let secret = forged.dir.path().join("elsewhere.ndjson");
    let text = fs::read_to_string(forged.path(&file)).expect("the table file");
    fs::write(&secret, text.replace("row 1\"", "TOP-SECRET\"")).expect("the outside file");
    symlink(&secret, &forged.path(&file));
    // The forger's sha256sum follows the link: every checksum holds for the outside content.
    forged.reseal();
    let got = verify_names(&forged, 1, &file, "symbolic link");
    assert!(got.stdout.contains(&secret.display().to_string()), "names the link: {got}");
    assert!(!got.stdout.contains("TOP-SECRET"), "{got}");
    import_refused(&forged, "symbolic link");
}

#[test]
fn a_manifest_that_is_a_symbolic_link_is_refused() {
    let (_db, forged) = small();
    let outside = forged.dir.path().join("manifest-elsewhere.json");
    fs::rename(forged.path(MANIFEST_FILE), &outside).expect("the manifest moves out");
    symlink(&outside, &forged.path(MANIFEST_FILE));
    verify_names(&forged, 1, MANIFEST_FILE, "symbolic link");
    import_refused(&forged, "symbolic link");
}

#[test]
fn a_fifo_as_manifest_is_refused_without_hanging() {
    let (_db, forged) = small();
    mkfifo(&forged.path(MANIFEST_FILE));
    verify_names(&forged, 1, MANIFEST_FILE, "FIFO");
    import_refused(&forged, "FIFO");
    let got = pg2lite(&["schema", "--from"]).arg(&forged.export).timeout(LIMIT).run();
    got.assert_code(2).assert_stderr_contains("FIFO");
}

#[test]
fn a_fifo_as_sha256sums_is_refused_without_hanging() {
    let (_db, forged) = small();
    mkfifo(&forged.path(SUMS_FILE));
    verify_names(&forged, 1, SUMS_FILE, "FIFO");
    import_refused(&forged, "FIFO");
}

#[test]
fn a_fifo_as_table_file_is_refused_without_hanging() {
    let (_db, forged) = small();
    let file = forged.table_file("t");
    let text = fs::read_to_string(forged.path(&file)).expect("the table file");
    mkfifo(&forged.path(&file));
    forged.reseal();
    verify_names(&forged, 1, &file, "FIFO");
    import_refused(&forged, "FIFO");
    // The control: the same content back in a regular file imports.
    fs::remove_file(forged.path(&file)).expect("the FIFO is removed");
    forged.write_table("t", &text);
    let target = forged.dir.path().join("new.db");
    forged.import(&target, &[]).assert_code(0);
}

#[test]
fn a_tables_directory_linked_elsewhere_is_refused() {
    let (_db, forged) = small();
    let elsewhere = forged.dir.path().join("tables-elsewhere");
    fs::rename(forged.path(manifest::TABLES_DIR), &elsewhere).expect("tables/ moves out");
    symlink(&elsewhere, &forged.path(manifest::TABLES_DIR));
    verify_names(&forged, 1, &forged.table_file("t"), "symbolic link");
    import_refused(&forged, "symbolic link");
}

/// 300 MiB, sparse: the size is refused before a byte is read.
#[test]
fn a_manifest_over_the_size_limit_is_refused_naming_size_and_limit() {
    let (_db, forged) = small();
    let path = forged.path(MANIFEST_FILE);
    let file = fs::OpenOptions::new().write(true).open(&path).expect("the manifest");
    file.set_len(300 << 20).expect("the manifest grows (sparse)");
    drop(file);
    let started = Instant::now();
    let got = verify_names(&forged, 1, MANIFEST_FILE, "314572800 bytes");
    assert!(got.stdout.contains("268435456"), "names the limit: {got}");
    import_refused(&forged, "more than the limit of 268435456 bytes");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

/// The manifest with `value` as its (absent) tenant, a JSON value the reader must parse,
/// sealed as `Manifest::write` seals.
fn sealed_with_nested_type(forged: &Forged, depth: usize) -> String {
    let text = fs::read_to_string(forged.path(MANIFEST_FILE)).expect("the manifest");
    let mut manifest: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    manifest["tables"][0]["columns"][0]["type"] = "NESTED".into();
    let text = serde_json::to_string_pretty(&manifest).expect("JSON prints") + "\n";
    let array = r#"{"name": "int4[]", "kind": "array", "element": "#;
    let nested = format!(
        "{}{}{}",
        array.repeat(depth),
        r#"{"name": "int4", "kind": "base", "base": "int4"}"#,
        "}".repeat(depth)
    );
    reseal_text(&text.replacen("\"NESTED\"", &nested, 1))
}

/// Puts the right `manifest_sha256` into any text that has the field.
fn reseal_text(text: &str) -> String {
    let key = "\"manifest_sha256\": \"";
    let Some(start) = text.rfind(key).map(|i| i + key.len()) else { return text.to_owned() };
    let Some(len) = text[start..].find('"') else { return text.to_owned() };
    let blank = format!("{}{}", &text[..start], &text[start + len..]);
    let sum = manifest::sha256_hex(blank.as_bytes());
    format!("{}{sum}{}", &text[..start], &text[start + len..])
}

#[test]
fn a_manifest_of_100000_nested_arrays_is_refused_cleanly() {
    let (_db, forged) = small();
    let original = fs::read_to_string(forged.path(MANIFEST_FILE)).expect("the manifest");
    // A column type is the manifest's one recursive shape (an array of an array of ...).
    let deep = sealed_with_nested_type(&forged, 100_000);
    fs::write(forged.path(MANIFEST_FILE), deep).expect("written");
    forged.reseal_sums_only();
    verify_names(&forged, 1, MANIFEST_FILE, "recursion limit exceeded");
    import_refused(&forged, "recursion limit exceeded");
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // Nesting in a field the reader skips is skipped without recursion: no crash either.
    let skipped = original.replacen('{', &format!("{{\n  \"x\": {nested},"), 1);
    fs::write(forged.path(MANIFEST_FILE), reseal_text(&skipped)).expect("written");
    forged.reseal_sums_only();
    let got = verify(&forged);
    assert!(matches!(got.code, Some(0 | 1)) && !got.stderr.contains("panicked"), "{got}");
}

impl Forged {
    /// Rewrites `SHA256SUMS` for the manifest as it is on disk (which may not parse).
    fn reseal_sums_only(&self) {
        let text = fs::read(self.path(MANIFEST_FILE)).expect("the manifest");
        let sums = fs::read_to_string(self.path(SUMS_FILE)).expect("SHA256SUMS");
        let mut out: String = sums
            .lines()
            .filter(|l| !l.ends_with(MANIFEST_FILE))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str(&format!("{}  {MANIFEST_FILE}\n", manifest::sha256_hex(&text)));
        fs::write(self.path(SUMS_FILE), out).expect("SHA256SUMS is written");
    }
}

/// The `.partial` entries in `dir` (none while it does not exist).
fn partials(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial"))
        .collect();
    names.sort();
    names
}

fn spawn(args: &[&str], extra: &[&Path]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pg2lite"))
        .args(args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pg2lite starts")
}

/// Waits until `ready` holds (polling), or panics after `LIMIT`.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < LIMIT, "{what} did not happen within {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn big_db(rows: u32) -> TestDb {
    let db = TestDb::new();
    db.execute(&format!(
        "CREATE TABLE big AS SELECT i AS id, repeat(md5(i::text), 8) AS pad
           FROM generate_series(1, {rows}) i;
         ALTER TABLE big ADD PRIMARY KEY (id);
         CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small VALUES (1);"
    ));
    db
}

#[test]
fn a_killed_exports_partial_directory_is_removed_by_the_next_export_which_says_so() {
    let db = big_db(500_000);
    let work = tempfile::tempdir().expect("a temporary directory");
    let out = work.path().join("out");
    let url = db.url();
    let mut child = spawn(&["export", "-q", "--source", &url, "--out"], &[&out]);
    wait_for("the export's table file growing past 8 MiB", || {
        partials(&out).first().is_some_and(|p| {
            fs::metadata(out.join(p).join("tables/public.big.ndjson"))
                .is_ok_and(|m| m.len() > 8 << 20)
        })
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("the killed export is reaped");
    let left = partials(&out);
    assert_eq!(left.len(), 1, "the killed export left its partial: {left:?}");
    // Not an export's name: another program's, which the sweep must leave alone.
    fs::create_dir(out.join(".cache.partial")).expect("a foreign partial");
    let got = pg2lite(&["export", "--table", "small", "--source", &url, "--out"])
        .arg(&out)
        .timeout(LIMIT)
        .assert_code(0);
    let removed = got.stderr.lines().filter(|l| l.starts_with("removed ")).collect::<Vec<_>>();
    assert_eq!(removed.len(), 1, "one line names what was removed:\n{got}");
    assert!(removed[0].contains(&left[0]) && removed[0].contains("export"), "{got}");
    assert_eq!(partials(&out), [".cache.partial"], "no partial of ours is left:\n{got}");
    super::only_export(&out);
}

#[test]
fn a_second_import_to_a_target_is_refused_while_the_first_runs() {
    let db = big_db(300_000);
    let forged = Forged::export(&db, &["--table", "big"]);
    let target = forged.dir.path().join("app.db");
    let partial = forged.dir.path().join("app.db.partial");
    let args = ["import", "-q", "--yes", "--no-backup", "--from"];
    let first = spawn(&args, &[&forged.export, Path::new("--target"), &target]);
    wait_for("the first import's partial file", || partial.exists());
    let second = import(&forged, &target);
    let first = first.wait_with_output().expect("the first import ends");
    let first_err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "the first import failed: {first_err}\nsecond: {second}");
    let second = second.assert_code(2).assert_stderr_contains("another import into");
    assert!(second.stderr.contains("app.db.partial is locked"), "{second}");
    let check = Command::new("sqlite3")
        .arg(&target)
        .arg("PRAGMA integrity_check; SELECT count(*) FROM big;")
        .output()
        .expect("sqlite3 runs");
    assert_eq!(String::from_utf8_lossy(&check.stdout), "ok\n300000\n");
    assert_eq!(partials(forged.dir.path()), Vec::<String>::new());
}

#[test]
fn an_import_removes_the_partial_a_killed_import_left_and_says_so() {
    let (_db, forged) = small();
    let target = forged.dir.path().join("app.db");
    let partial = forged.dir.path().join("app.db.partial");
    fs::write(&partial, "left by a killed import").expect("a stale partial");
    let got = pg2lite(&["import", "--yes", "--no-backup", "--from"])
        .arg(&forged.export)
        .arg("--target")
        .arg(&target)
        .timeout(LIMIT)
        .assert_code(0);
    let line = format!("removed {}, left by an import that was interrupted", partial.display());
    assert!(got.stderr.contains(&line), "{got}");
    assert!(!partial.exists());
}

#[test]
fn migrate_from_without_skip_export_is_refused_with_the_advice() {
    let (_db, forged) = small();
    let target = forged.dir.path().join("app.db");
    let got = pg2lite(&["migrate", "--from"])
        .arg(&forged.export)
        .arg("--target")
        .arg(&target)
        .timeout(LIMIT)
        .assert_code(2)
        .assert_stderr_contains("add --skip-export");
    assert!(got.stderr.contains("remove --from"), "{got}");
    assert!(!target.exists());
}

#[test]
fn migrate_skip_export_from_dot_inside_the_export_leaves_it_verifying_clean() {
    let (_db, forged) = small();
    let target = forged.dir.path().join("app.db");
    let got = pg2lite(&["migrate", "--skip-export", "--from", ".", "--yes", "--target"])
        .arg(&target)
        .cwd(&forged.export)
        .timeout(LIMIT)
        .assert_code(0);
    let mut name = forged.export.file_name().expect("an id").to_os_string();
    name.push(".validation.json");
    let report: PathBuf = forged.export.with_file_name(name);
    assert!(report.is_file(), "the report goes beside the export:\n{got}");
    assert!(got.stdout.contains(&report.display().to_string()), "and says where:\n{got}");
    forged.verify().assert_code(0);
}

#[test]
fn a_report_inside_the_export_is_refused_before_anything_is_written() {
    let (_db, forged) = small();
    let target = forged.dir.path().join("app.db");
    import(&forged, &target).assert_code(0);
    for args in [
        vec!["validate", "--from", ".", "--report", "r.json", "--target"],
        vec!["migrate", "--skip-export", "--from", ".", "--yes", "--report", "r.json", "--target"],
    ] {
        pg2lite(&args)
            .arg(&target)
            .cwd(&forged.export)
            .timeout(LIMIT)
            .assert_code(2)
            .assert_stderr_contains("inside the export directory");
    }
    // The other files a run writes: the target (and its partial), the backups, the schema.
    for args in [
        vec!["import", "--from", ".", "--yes", "--target", "app.db"],
        vec!["import", "--from", ".", "--yes", "--target", "../../app.db", "--backup-dir", "b"],
        vec!["schema", "--from", "."],
    ] {
        pg2lite(&args)
            .cwd(&forged.export)
            .timeout(LIMIT)
            .assert_code(2)
            .assert_stderr_contains("inside the export directory");
    }
    let inside = forged.path("tables/r.json");
    pg2lite(&["validate", "--from"])
        .arg(&forged.export)
        .arg("--target")
        .arg(&target)
        .arg("--report")
        .arg(&inside)
        .timeout(LIMIT)
        .assert_code(2)
        .assert_stderr_contains("inside the export directory");
    forged.verify().assert_code(0);
}

/// How many cases each fuzz property runs: `PG2LITE_FUZZ_CASES`, default 256 (about a second).
fn fuzz_cases() -> u32 {
    std::env::var("PG2LITE_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
}

/// Loads `text` as an export's manifest the way every command does (through the safe open),
/// and runs `verify` on it: any result is fine, a panic is not.
fn load_and_verify(dir: &Path, text: &[u8]) {
    fs::write(dir.join(MANIFEST_FILE), text).expect("the manifest is written");
    let _ = Manifest::load(dir);
    if let Ok(text) = std::str::from_utf8(text) {
        let _ = Manifest::parse(text, Path::new("m"));
    }
    let opts = pg2lite::verify::VerifyOptions::new(dir).with_level(pg2lite::verify::Level::Deep);
    let _ = pg2lite::verify::run(&opts, &pg2lite::progress::Silent);
}

/// A change to a real manifest: a byte replaced, a range cut out or repeated, or a JSON token
/// put in somewhere; `reseal` fixes the seal afterwards so the parser is reached.
#[derive(Debug, Clone)]
enum Mutation {
    Byte(usize, u8),
    Cut(usize, usize),
    Repeat(usize, usize),
    Insert(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop::sample::select(vec![
        "[",
        "]",
        "{",
        "}",
        "\"",
        ",",
        ":",
        "null",
        "-1",
        "1e999",
        "18446744073709551616",
        "\"\\ud800\"",
        "[[[[[[[[",
        "{\"file\":\"../x\"}",
        "\u{0}",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Cut(i, n)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Repeat(i, n)),
        (any::<usize>(), token).prop_map(|(i, t)| Mutation::Insert(i, t)),
    ]
}

fn apply(text: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = text.to_vec();
    let at = |i: usize| if out.is_empty() { 0 } else { i % out.len() };
    match *m {
        Mutation::Byte(i, b) if !out.is_empty() => {
            let i = at(i);
            out[i] = b;
        }
        Mutation::Byte(..) => {}
        Mutation::Cut(i, n) => {
            let i = at(i);
            out.drain(i..(i + n).min(out.len()));
        }
        Mutation::Repeat(i, n) => {
            let i = at(i);
            let piece = out[i..(i + n).min(out.len())].to_vec();
            out.splice(i..i, piece);
        }
        Mutation::Insert(i, t) => {
            let i = at(i);
            out.splice(i..i, t.bytes());
        }
    }
    out
}

/// The manifest reader never panics: arbitrary bytes, real manifests mutated (and resealed,
/// so the parser sees them), and JSON nested to any depth. `verify` reads the result too.
#[test]
fn fuzz_the_manifest_reader_never_panics() {
    let (_db, forged) = small();
    let real = fs::read(forged.path(MANIFEST_FILE)).expect("the manifest");
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::create_dir(dir.path().join(manifest::TABLES_DIR)).expect("tables/");
    let started = Instant::now();
    let mut runner = TestRunner::new(Config { cases: fuzz_cases(), ..Config::default() });
    let bytes = prop::collection::vec(any::<u8>(), 0..4096);
    runner
        .run(&bytes, |b| {
            load_and_verify(dir.path(), &b);
            Ok(())
        })
        .expect("arbitrary bytes");
    let mutations = prop::collection::vec(mutation(), 1..8);
    runner
        .run(&mutations, |ms| {
            let text = ms.iter().fold(real.clone(), |t, m| apply(&t, m));
            let resealed = match std::str::from_utf8(&text) {
                Ok(t) => reseal_text(t).into_bytes(),
                Err(_) => text,
            };
            load_and_verify(dir.path(), &resealed);
            Ok(())
        })
        .expect("mutated manifests");
    let depth = (1usize..200_000, prop::sample::select(vec!["[", "{\"a\":"]));
    runner
        .run(&depth, |(n, open)| {
            let close = if open == "[" { "]" } else { "}" };
            let text = format!("{}{}", open.repeat(n), close.repeat(n));
            load_and_verify(dir.path(), text.as_bytes());
            Ok(())
        })
        .expect("deeply nested JSON");
    eprintln!(
        "fuzz_the_manifest_reader_never_panics: {} cases x 3 properties in {:.2?}",
        fuzz_cases(),
        started.elapsed()
    );
}
