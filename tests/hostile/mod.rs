//! Hostile exports: each test takes a real export of a real database, changes it as an
//! attacker would, and recomputes every checksum (the per-table `sha256` and `bytes`,
//! `manifest_sha256`, `SHA256SUMS`) so that the seal holds. What such an export may do is
//! fail with a clear message and a non-zero exit, within a timeout, leaving the old target
//! byte-identical. The files below are grouped by what the forgery attacks.

use std::fs;
use std::path::{Path, PathBuf};

use pg2lite::model::manifest::{self, SUMS_FILE};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

mod files;
mod filters;
mod schema;
mod values;

/// A sealed export of a real database, in a temporary directory, ready to be forged.
pub struct Forged {
    /// Holds the export (`exports/<id>/`) and anything a test puts beside it (targets, backups).
    pub dir: TempDir,
    /// The export directory itself.
    pub export: PathBuf,
}

impl Forged {
    /// Exports `db` with `pg2lite export` and any `extra` flags (a tenant, tables).
    pub fn export(db: &TestDb, extra: &[&str]) -> Forged {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = dir.path().join("exports");
        let mut args = vec!["export", "--quiet"];
        args.extend_from_slice(extra);
        pg2lite(&args).arg("--source").arg(db.url()).arg("--out").arg(&out).assert_code(0);
        let export = only_export(&out);
        Forged { dir, export }
    }

    /// The path of `rel` inside the export.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.export.join(rel)
    }

    /// The manifest as a JSON document, for editing with [`Forged::set_manifest`].
    pub fn manifest(&self) -> Value {
        let text = fs::read_to_string(self.path(manifest::MANIFEST_FILE)).expect("manifest");
        serde_json::from_str(&text).expect("the manifest is JSON")
    }

    /// The manifest entry of table `name` (any schema).
    pub fn table_file(&self, name: &str) -> String {
        let m = self.manifest();
        let t = tables(&m).iter().find(|t| t["name"] == name);
        let t = t.unwrap_or_else(|| panic!("no table {name} in the manifest"));
        t["file"].as_str().expect("file is a string").to_owned()
    }

    /// Writes `manifest` and reseals everything, as an attacker who knows the recipes would.
    pub fn set_manifest(&self, mut manifest: Value) {
        self.record_files(&mut manifest);
        let text = seal(&manifest);
        fs::write(self.path(manifest::MANIFEST_FILE), &text).expect("manifest is written");
        self.write_sums(&manifest, &text);
    }

    /// Reseals the export after its data files were edited.
    pub fn reseal(&self) {
        self.set_manifest(self.manifest());
    }

    /// Replaces a data file's content and reseals.
    pub fn write_table(&self, name: &str, text: &str) {
        fs::write(self.path(&self.table_file(name)), text).expect("data file is written");
        self.reseal();
    }

    /// Rewrites one data file line by line and reseals.
    pub fn edit_table(&self, name: &str, edit: impl Fn(&str) -> String) {
        let path = self.path(&self.table_file(name));
        let text = fs::read_to_string(&path).expect("data file");
        let out: String = text.lines().map(|l| edit(l) + "\n").collect();
        fs::write(&path, out).expect("data file is written");
        self.reseal();
    }

    /// Sets each table's `bytes` and `sha256` to its file's, following symlinks and skipping
    /// what cannot be read (a FIFO), the way a forger's `sha256sum` would see them.
    fn record_files(&self, manifest: &mut Value) {
        let entries = manifest["tables"].as_array_mut().expect("tables is an array");
        for t in entries {
            let Some(file) = t["file"].as_str() else { continue };
            let path = self.path(file);
            if !fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let (sha, bytes) = manifest::sha256_file(&path).expect("data file is readable");
            t["sha256"] = sha.into();
            t["bytes"] = bytes.into();
        }
    }

    /// Writes `SHA256SUMS` for the manifest text and every table file that can be hashed.
    fn write_sums(&self, manifest: &Value, text: &str) {
        let mut sums = String::new();
        for t in tables(manifest) {
            let (Some(file), Some(sha)) = (t["file"].as_str(), t["sha256"].as_str()) else {
                continue;
            };
            sums.push_str(&format!("{sha}  {file}\n"));
        }
        let sha = manifest::sha256_hex(text.as_bytes());
        sums.push_str(&format!("{sha}  {}\n", manifest::MANIFEST_FILE));
        fs::write(self.path(SUMS_FILE), sums).expect("SHA256SUMS is written");
    }

    /// Runs `pg2lite import` of this export into `target` (extra flags after).
    pub fn import(&self, target: &Path, extra: &[&str]) -> Outcome {
        let mut args = vec!["import", "--quiet", "--yes", "--no-backup"];
        args.extend_from_slice(extra);
        pg2lite(&args).arg("--from").arg(&self.export).arg("--target").arg(target).run()
    }

    /// Runs `pg2lite verify --deep` of this export.
    pub fn verify(&self) -> Outcome {
        pg2lite(&["verify", "--deep"]).arg(&self.export).run()
    }
}

/// The one export directory (`<export-id>/`) that `export --out` made in `out`.
pub fn only_export(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(out)
        .expect("the --out directory exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join(manifest::MANIFEST_FILE).is_file())
        .collect();
    assert_eq!(dirs.len(), 1, "expected one export in {}: {dirs:?}", out.display());
    dirs.into_iter().next().expect("one export")
}

/// The tables array of a manifest.
pub fn tables(manifest: &Value) -> &Vec<Value> {
    manifest["tables"].as_array().expect("tables is an array")
}

/// The manifest's text with `manifest_sha256` computed as `Manifest::write` does: the hash of
/// the pretty-printed text with that field blank.
pub fn seal(manifest: &Value) -> String {
    let mut blank = manifest.clone();
    blank["manifest_sha256"] = "".into();
    let text = serde_json::to_string_pretty(&blank).expect("JSON prints") + "\n";
    let sha = manifest::sha256_hex(text.as_bytes());
    let key = "\"manifest_sha256\": \"";
    let at = text.rfind(key).expect("the field was just written") + key.len();
    format!("{}{sha}{}", &text[..at], &text[at..])
}

/// A SQLite file made by `sqlite3` (as a user would), whose bytes a failed import must leave
/// exactly as they were.
pub fn old_target(dir: &Path) -> (PathBuf, Vec<u8>) {
    let target = dir.join("old.db");
    let out = std::process::Command::new("sqlite3")
        .arg(&target)
        .arg("create table kept(x); insert into kept values ('the old target');")
        .output()
        .expect("sqlite3 runs");
    assert!(out.status.success(), "sqlite3 failed: {out:?}");
    let bytes = fs::read(&target).expect("old target");
    (target, bytes)
}

/// Asserts that a failed run exited with `code`, said `needle` on stderr, did not panic, and
/// left `target` byte-identical to `before`.
pub fn refused(got: Outcome, code: i32, needle: &str, target: &Path, before: &[u8]) {
    let got = got.assert_code(code).assert_stderr_contains(needle);
    assert!(!got.stderr.contains("panicked"), "{got}");
    let now = fs::read(target).expect("the old target is still there");
    assert!(now == before, "the old target changed:\n{got}");
}

/// The forging recipe itself must hold: a resealed but unchanged export still verifies, both
/// with pg2lite and with `sha256sum -c`, so every refusal in this module is pg2lite's doing.
#[test]
fn a_resealed_unchanged_export_still_verifies() {
    let db = TestDb::new();
    db.execute("create table t (id int primary key, v text); insert into t values (1, 'a');");
    let forged = Forged::export(&db, &[]);
    let before = fs::read(forged.path(manifest::MANIFEST_FILE)).expect("manifest");
    forged.reseal();
    assert_eq!(fs::read(forged.path(manifest::MANIFEST_FILE)).expect("manifest"), before);
    forged.verify().assert_code(0);
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", SUMS_FILE])
        .current_dir(&forged.export)
        .output()
        .expect("sha256sum runs");
    assert!(sums.status.success(), "{sums:?}");
}
