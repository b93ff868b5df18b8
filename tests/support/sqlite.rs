//! The SQLite side of the tests: importing an export as `pg2lite import --yes --no-backup`
//! would (through the library), reading a file with the real `sqlite3` CLI as a user would,
//! and the setup most import tests start from (a database exported, a target beside it).

use std::path::{Path, PathBuf};
use std::process::Command;

use pg2lite::export::ExportSummary;
use pg2lite::import::{self, ImportOptions, ImportSummary};
use pg2lite::progress::Silent;
use tempfile::TempDir;

use super::pg::TestDb;

/// Runs the import `opts` describes (build it with [`ImportOptions::new`] and the fields a
/// test changes); panics naming the export and the target when it fails.
pub fn import_into(opts: &ImportOptions) -> ImportSummary {
    import::run(opts, &Silent).unwrap_or_else(|e| {
        panic!("import of {} into {} failed:\n{e}", opts.from.display(), opts.target.display())
    })
}

/// What the `sqlite3` CLI prints for `sql` (or a dot command) on `db`; panics when it fails.
pub fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("sqlite3 runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sqlite3 {} {sql:?} failed: {err}", db.display());
    String::from_utf8(out.stdout).unwrap()
}

/// `sqlite3 DB .dump`: the whole file as SQL text, to compare two files by content. Panics
/// when the CLI fails or the dump has no table (a file that is not what the test made).
pub fn dump(db: &Path) -> String {
    let out = Command::new("sqlite3").arg(db).arg(".dump").output().expect("sqlite3 runs");
    assert!(out.status.success(), "sqlite3 {} .dump: {out:?}", db.display());
    let text = String::from_utf8(out.stdout).expect("a dump is UTF-8");
    assert!(text.contains("CREATE TABLE"), "an empty dump of {}:\n{text}", db.display());
    text
}

/// A database exported into a new temporary directory, and `app.db` there as the target.
pub struct Exported {
    /// The temporary directory holding the export and the target.
    pub work: TempDir,
    /// What the export wrote (its directory is `export.dir`).
    pub export: ExportSummary,
    /// `work/app.db`, not created yet.
    pub target: PathBuf,
}

impl Exported {
    /// Exports `db` (with the export tests' options) into a new temporary directory.
    pub fn new(db: &TestDb) -> Exported {
        let work = tempfile::tempdir().unwrap();
        let export = crate::export::export_db(db, work.path());
        let target = work.path().join("app.db");
        Exported { work, export, target }
    }
}
