//! `import`: the guarantees (atomic replace, backups, refusing changed exports, no Postgres
//! needed) and every way it can fail, each leaving the target as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use pg2lite::import::{self, ImportOptions, ImportSummary};
use pg2lite::model::manifest::{self, Manifest};
use pg2lite::progress::Silent;
use rusqlite::Connection;

use crate::export::{export_db, options};
use crate::support::cli::pg2lite;
use crate::support::pg::{Cluster, TestDb};
use crate::support::sqlite::{Exported, import_into, sqlite3};

/// The options of `pg2lite import --yes FROM TARGET`: like [`ImportOptions::new`], but an
/// existing target is backed up first.
pub fn import_options(from: &Path, target: &Path) -> ImportOptions {
    ImportOptions { backup: true, ..ImportOptions::new(from, target) }
}

pub fn import_to(from: &Path, target: &Path) -> ImportSummary {
    import_into(&import_options(from, target))
}

fn small_db() -> TestDb {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, doc jsonb);
         INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 50) i;
         INSERT INTO child SELECT i, i % 50 + 1, CASE WHEN i % 7 > 0 THEN jsonb_build_object('i', i) END
             FROM generate_series(1, 200) i;",
    );
    db
}

/// A small database standing for the user's existing file.
fn precious(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE mine (x); INSERT INTO mine VALUES ('precious');").unwrap();
}

fn count(db: &Path, table: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap()
}

/// Recomputes every file's size and checksum and re-seals the manifest, as someone who
/// edits an export carefully would: only checks that look inside the files can tell.
pub fn reseal(dir: &Path, edit: impl FnOnce(&mut Manifest)) {
    let mut m = Manifest::load(dir).unwrap();
    edit(&mut m);
    for t in &mut m.tables {
        let (sha, bytes) = manifest::sha256_file(&dir.join(&t.file)).unwrap();
        (t.sha256, t.bytes) = (sha, bytes);
    }
    m.write(dir).unwrap();
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial"))
        .collect();
    names.sort();
    names
}

#[test]
fn an_export_imports_into_one_file_at_rest_with_its_meta_tables() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    let summary = import_to(&export.dir, &target);
    assert_eq!(summary.tables.iter().map(|t| t.rows).sum::<u64>(), 250);
    assert!(summary.backup.is_none());
    // Rollback-journal mode, SQLite's default: reading it as a user would leaves no -wal or
    // -shm file beside it.
    assert_eq!(sqlite3(&target, "PRAGMA journal_mode"), "delete\n");
    assert_eq!(sqlite3(&target, "PRAGMA foreign_key_check"), "");
    assert_eq!(sqlite3(&target, "SELECT count(*) FROM child"), "200\n");
    // The system's sqlite3 may be older than the bundled SQLite (json_valid(NULL) was 0
    // before 3.45): the file must still pass its checks and take a NULL json there.
    assert_eq!(sqlite3(&target, "PRAGMA integrity_check"), "ok\n");
    sqlite3(&target, "INSERT INTO child (id, parent_id, doc) VALUES (201, 1, NULL)");
    assert_eq!(
        sqlite3(&target, "SELECT export_id FROM _pg2lite_export"),
        format!("{}\n", export.export_id)
    );
    assert!(leftovers(work.path()).is_empty());
    let beside: Vec<_> = ["-wal", "-shm", "-journal"]
        .iter()
        .filter(|s| work.path().join(format!("app.db{s}")).exists())
        .collect();
    assert!(beside.is_empty(), "files beside app.db: {beside:?}");
}

#[test]
fn wal_leaves_the_file_in_wal_mode() {
    let db = small_db();
    let Exported { work: _work, export, target } = Exported::new(&db);
    let opts = ImportOptions { wal: true, ..import_options(&export.dir, &target) };
    import::run(&opts, &Silent).expect("the import succeeds");
    assert_eq!(sqlite3(&target, "PRAGMA journal_mode"), "wal\n");
}

#[test]
fn replacing_a_target_backs_it_up_with_a_checksum_sha256sum_accepts() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    import_to(&export.dir, &target);
    let before = sqlite3(&target, ".dump");
    db.execute("INSERT INTO parent VALUES (51, 'new')");
    let export2 = export_db(&db, work.path());
    let summary = import_to(&export2.dir, &target);
    assert_eq!(count(&target, "parent"), 51);
    let backup = summary.backup.expect("a backup was made");
    assert!(sqlite3(&backup.path, ".dump") == before, "the backup does not hold the old database");
    let sums = backup
        .path
        .with_file_name(format!("{}.sha256", backup.path.file_name().unwrap().to_string_lossy()));
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg(&sums)
        .current_dir(backup.path.parent().unwrap())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(std::fs::read_to_string(&sums).unwrap().starts_with(&backup.sha256));
}

#[test]
fn an_existing_target_is_not_replaced_without_yes_when_there_is_no_terminal() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    precious(&target);
    let before = std::fs::read(&target).unwrap();
    let from = export.dir.to_str().unwrap();
    let out = pg2lite(&["import", "--from", from, "--target", "app.db"]).cwd(work.path()).run();
    let out =
        out.assert_code(2).assert_stderr_contains("app.db exists").assert_stderr_contains("--yes");
    drop(out);
    assert!(std::fs::read(&target).unwrap() == before, "the target was changed");
    assert!(!work.path().join("backups").exists(), "nothing was backed up either");
    assert!(leftovers(work.path()).is_empty());
    let out = pg2lite(&[
        "import",
        "--from",
        from,
        "--target",
        "app.db",
        "--yes",
        "--no-backup",
        "--json",
    ])
    .cwd(work.path())
    .run()
    .assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["backup"], serde_json::Value::Null);
    assert_eq!(count(&target, "parent"), 50);
}

#[test]
fn an_export_with_one_changed_byte_is_refused_naming_the_file_before_anything_is_written() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    let file = export.dir.join("tables/public.parent.ndjson");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.iter().position(|&b| b == b'p').unwrap();
    bytes[at] = b'q';
    std::fs::write(&file, bytes).unwrap();
    let err = import::run(&import_options(&export.dir, &target), &Silent).unwrap_err().to_string();
    assert!(err.contains("tables/public.parent.ndjson") && err.contains("changed"), "{err}");
    assert!(!target.exists());
    assert!(leftovers(work.path()).is_empty());
}

#[test]
fn an_export_with_a_missing_file_is_refused_naming_it() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    std::fs::remove_file(export.dir.join("tables/public.child.ndjson")).unwrap();
    let out = pg2lite(&["import", "--from", export.dir.to_str().unwrap(), "--target", "app.db"])
        .cwd(work.path())
        .run()
        .assert_code(2)
        .assert_stderr_contains("tables/public.child.ndjson")
        .assert_stderr_contains("missing");
    drop(out);
    assert!(!target.exists());
}

#[test]
fn rows_that_disagree_with_the_manifest_stop_the_import_and_leave_the_target_alone() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    import_to(&export.dir, &target);
    let before = std::fs::read(&target).unwrap();
    // A value that is not what its column's type is exported as, resealed so only the
    // conversion can tell.
    let file = export.dir.join("tables/public.child.ndjson");
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "\"parent_id\":2,",
        "\"parent_id\":\"two\",",
        1,
    );
    std::fs::write(&file, text).unwrap();
    reseal(&export.dir, |_| {});
    let err = import::run(&import_options(&export.dir, &target), &Silent).unwrap_err().to_string();
    assert!(
        err.contains("public.child") && err.contains("line 1") && err.contains("parent_id"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
    assert!(leftovers(work.path()).is_empty());
    // A row deleted from the file, the manifest's count left as it was.
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "\"parent_id\":\"two\",",
        "\"parent_id\":2,",
        1,
    );
    let text: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    reseal(&export.dir, |_| {});
    let err = import::run(&import_options(&export.dir, &target), &Silent).unwrap_err().to_string();
    assert!(err.contains("199 rows") && err.contains("200"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), before);
}

#[test]
fn a_dangling_foreign_key_stops_the_import_naming_the_tables() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    let file = export.dir.join("tables/public.child.ndjson");
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "\"parent_id\":2,",
        "\"parent_id\":999,",
        1,
    );
    std::fs::write(&file, text).unwrap();
    reseal(&export.dir, |_| {});
    let err = import::run(&import_options(&export.dir, &target), &Silent).unwrap_err().to_string();
    assert!(
        err.contains("foreign keys") && err.contains("child") && err.contains("parent"),
        "{err}"
    );
    assert!(!target.exists());
    assert!(leftovers(work.path()).is_empty());
}

#[test]
fn a_target_in_use_by_another_writer_is_refused_and_left_alone() {
    let db = small_db();
    let Exported { work, export, target } = Exported::new(&db);
    import_to(&export.dir, &target);
    let holder = Connection::open(&target).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE; INSERT INTO parent VALUES (1000, 'held');").unwrap();
    let err = import::run(&import_options(&export.dir, &target), &Silent).unwrap_err().to_string();
    assert!(err.contains("app.db") && err.contains("in use"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(count(&target, "parent"), 50);
    assert!(leftovers(work.path()).is_empty());
}

/// A large table, so that the import is surely half way when it is killed.
fn big_db() -> TestDb {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big AS SELECT i AS id, md5(i::text) AS a, repeat(md5(i::text), 6) AS b,
                i * 1.5 AS c FROM generate_series(1, 600000) i;
         ALTER TABLE big ADD PRIMARY KEY (id);",
    );
    db
}

#[test]
fn an_import_killed_half_way_leaves_the_old_target_byte_identical() {
    let db = big_db();
    let Exported { work, export, target } = Exported::new(&db);
    precious(&target);
    let before = std::fs::read(&target).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg2lite"))
        .args(["import", "--yes", "--from"])
        .arg(&export.dir)
        .arg("--target")
        .arg(&target)
        .current_dir(work.path())
        .spawn()
        .unwrap();
    let partial = import::partial_path(&target);
    // Kill once the partial file has grown past a few megabytes: rows are being loaded.
    let mut killed = false;
    for _ in 0..3000 {
        if std::fs::metadata(&partial).map(|m| m.len() > 4 << 20).unwrap_or(false) {
            child.kill().unwrap();
            killed = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed, "the import finished before it could be killed half way");
    assert!(std::fs::read(&target).unwrap() == before, "the old target was changed");
    assert!(partial.exists(), "the killed import's partial file is still there");
    // The next import cleans it up and succeeds.
    let summary = import_to(&export.dir, &target);
    assert_eq!(summary.tables[0].rows, 600_000);
    assert!(leftovers(work.path()).is_empty(), "{:?}", leftovers(work.path()));
    assert_eq!(sqlite3(&target, "PRAGMA integrity_check"), "ok\n");
}

#[test]
fn import_needs_no_postgres_once_the_export_exists() {
    let cluster = Cluster::start();
    cluster.client("postgres").batch_execute("CREATE DATABASE shop").unwrap();
    cluster
        .client("shop")
        .batch_execute(
            "CREATE TABLE item (id int PRIMARY KEY, price numeric(8,2), tags text[]);
             INSERT INTO item VALUES (1, 9.99, '{a,b}'), (2, NULL, '{}');",
        )
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let summary =
        pg2lite::export::run(&options(&cluster.url("shop"), work.path()), &Silent).unwrap();
    cluster.stop();
    // Moved elsewhere, as an operator would copy it to another machine.
    let moved: PathBuf = work.path().join("elsewhere");
    std::fs::rename(&summary.dir, &moved).unwrap();
    let target = work.path().join("shop.db");
    import_to(&moved, &target);
    assert_eq!(
        sqlite3(&target, "SELECT id, price, tags FROM item ORDER BY id"),
        "1|9.99|[\"a\",\"b\"]\n2||[]\n"
    );
}

#[test]
fn names_that_collide_in_sqlite_are_refused_with_the_rename_that_resolves_them() {
    let db = TestDb::new();
    db.execute(
        r#"CREATE TABLE "Users" (id int PRIMARY KEY); CREATE TABLE users (id int PRIMARY KEY);
           CREATE TABLE m ("Value" int, value int);
           INSERT INTO "Users" VALUES (1); INSERT INTO users VALUES (2); INSERT INTO m VALUES (3, 4);"#,
    );
    let Exported { work, export, .. } = Exported::new(&db);
    let from = export.dir.to_str().unwrap();
    let out = pg2lite(&["import", "--from", from, "--target", "app.db"])
        .cwd(work.path())
        .run()
        .assert_code(2);
    for needle in ["public.\"Users\"", "public.users", "\"Value\"", "--rename"] {
        assert!(out.stderr.contains(needle), "stderr lacks {needle:?}:\n{out}");
    }
    assert!(!work.path().join("app.db").exists());
    assert!(leftovers(work.path()).is_empty());
    pg2lite(&[
        "import",
        "--from",
        from,
        "--target",
        "app.db",
        "--rename",
        "public.Users=users_upper",
        "--rename",
        "public.m.Value=value_upper",
    ])
    .cwd(work.path())
    .run()
    .assert_code(0);
    let db_path = work.path().join("app.db");
    assert_eq!(sqlite3(&db_path, "SELECT id FROM users_upper; SELECT id FROM users"), "1\n2\n");
    assert_eq!(sqlite3(&db_path, "SELECT value_upper, value FROM m"), "3|4\n");
}

#[test]
fn foreign_key_cycles_and_self_references_import_and_hold() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp, dept int);
         CREATE TABLE dept (id int PRIMARY KEY, head int REFERENCES emp);
         ALTER TABLE emp ADD FOREIGN KEY (dept) REFERENCES dept DEFERRABLE INITIALLY DEFERRED;
         BEGIN;
         INSERT INTO emp VALUES (1, NULL, 10), (2, 1, 10), (3, 2, 20);
         INSERT INTO dept VALUES (10, 1), (20, 3);
         COMMIT;",
    );
    let Exported { work: _work, export, target } = Exported::new(&db);
    import_to(&export.dir, &target);
    assert_eq!(sqlite3(&target, "PRAGMA foreign_key_check"), "");
    let fks = sqlite3(&target, "SELECT \"table\" FROM pragma_foreign_key_list('emp')");
    assert_eq!(fks.lines().count(), 2, "{fks}");
    assert_eq!(sqlite3(&target, "SELECT count(*) FROM emp JOIN dept ON dept.id = emp.dept"), "3\n");
}

#[test]
fn a_schema_file_is_loaded_into_and_must_fit_the_export() {
    let db = small_db();
    let Exported { work, export, .. } = Exported::new(&db);
    let from = export.dir.to_str().unwrap();
    let schema = work.path().join("mine.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT DEFAULT 'x');
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent, doc TEXT);
         CREATE INDEX child_parent ON child (parent_id);",
    )
    .unwrap();
    let run = |target: &str| {
        pg2lite(&["import", "--from", from, "--target", target, "--schema-file", "mine.sql"])
            .cwd(work.path())
            .run()
    };
    run("ok.db").assert_code(0);
    let ok = work.path().join("ok.db");
    assert_eq!(sqlite3(&ok, "SELECT count(*), min(note) FROM parent"), "50|x\n");
    assert_eq!(
        sqlite3(
            &ok,
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'child_parent'"
        ),
        "child_parent\n"
    );
    // A column the export has is missing from the schema.
    std::fs::write(&schema, "CREATE TABLE parent (id INTEGER PRIMARY KEY);\nCREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER, doc TEXT);").unwrap();
    run("bad1.db")
        .assert_code(2)
        .assert_stderr_contains("mine.sql")
        .assert_stderr_contains("\"name\"");
    // A NOT NULL column without default that the export cannot fill.
    std::fs::write(&schema, "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, must TEXT NOT NULL);\nCREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER, doc TEXT);").unwrap();
    run("bad2.db").assert_code(2).assert_stderr_contains("\"must\"");
    // A table on either side that the other lacks.
    std::fs::write(
        &schema,
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\nCREATE TABLE extra (x);",
    )
    .unwrap();
    let out = run("bad3.db").assert_code(2);
    assert!(out.stderr.contains("\"child\"") && out.stderr.contains("\"extra\""), "{out}");
    for bad in ["bad1.db", "bad2.db", "bad3.db"] {
        assert!(!work.path().join(bad).exists());
    }
    assert!(leftovers(work.path()).is_empty());
}

/// CHECK constraints are not evaluated row by row while loading; the check after loading
/// must still refuse data that breaks one (here an edited, resealed export).
#[test]
fn data_that_breaks_a_check_constraint_is_refused_after_loading_and_nothing_is_written() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, qty int CONSTRAINT qty_positive CHECK (qty > 0));
         INSERT INTO t VALUES (1, 5), (2, 3);",
    );
    let Exported { work, export, target } = Exported::new(&db);
    let file = export.dir.join("tables/public.t.ndjson");
    let text = std::fs::read_to_string(&file).unwrap().replace("\"qty\":3", "\"qty\":-3");
    std::fs::write(&file, text).unwrap();
    reseal(&export.dir, |_| {});
    let err = import::run(&import_options(&export.dir, &target), &Silent).unwrap_err().to_string();
    assert!(err.contains("CHECK constraint failed") && err.contains("in t"), "{err}");
    assert!(!target.exists());
    assert!(leftovers(work.path()).is_empty());
}
