//! `migrate`: export, import and validate in one command; its dry run; replacing and rolling
//! back a target; and one tenant's database end to end.

use std::path::Path;

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;
use crate::support::sqlite::{dump, sqlite3};
use crate::tenancy::{tenants_db, user_uuid};

fn migrate(dir: &Path, url: &str, extra: &[&str]) -> Outcome {
    let mut args = vec!["migrate", "--source", url, "--target", "app.db"];
    args.extend_from_slice(extra);
    pg2lite(&args).cwd(dir).run()
}

/// The user tables of a SQLite file, a line each, as the `sqlite3` CLI lists them.
fn sqlite3_tables(db: &Path) -> String {
    let sql = "SELECT name FROM sqlite_schema WHERE type = 'table' \
               AND name NOT LIKE '\\_pg2lite%' ESCAPE '\\' ORDER BY name";
    sqlite3(db, sql)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn pagila_migrates_and_the_report_lists_every_table_with_every_check_passed() {
    let db = TestDb::new();
    db.load_pagila();
    let work = tempfile::tempdir().unwrap();
    let out =
        migrate(work.path(), &db.url(), &["--json", "--report", "report.json"]).assert_code(0);
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(summary["passed"], true, "{out}");
    let tables = summary["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 15);
    assert!(tables.iter().all(|t| t["rows_read"] == t["rows_written"]), "{summary}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["passed"], true);
    let checked = report["tables"].as_array().unwrap();
    assert_eq!(checked.len(), 15);
    for t in checked {
        for (name, check) in t["checks"].as_object().unwrap() {
            assert!(
                check["status"] == "pass" || check["status"] == "skip",
                "{}: {name} {check}",
                t["source"]
            );
        }
        for must in ["counts", "keys", "content"] {
            assert_eq!(t["checks"][must]["status"], "pass", "{}: {must}", t["source"]);
        }
        assert!(t["checks"]["counts"]["postgres"].is_number(), "Postgres was re-counted: {t}");
    }
    // Validation leaves no WAL files behind, so the next migrate sees the target free.
    assert_eq!(entries(work.path()), ["app.db", "migration_data", "report.json"]);
    migrate(work.path(), &db.url(), &["--yes", "-q"]).assert_code(0);
}

#[test]
fn the_human_summary_names_rows_read_and_written_and_where_everything_is() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, f float8); INSERT INTO t VALUES (1, 'NaN'), (2, 1.5);",
    );
    let work = tempfile::tempdir().unwrap();
    let out = migrate(work.path(), &db.url(), &[]).assert_code(0);
    for needle in
        ["rows read", "rows written", "lossy", "public.t", "total", "export:", "target:", "report:"]
    {
        assert!(out.stdout.contains(needle), "{needle:?} missing:\n{out}");
    }
    let line = out.stdout.lines().find(|l| l.starts_with("public.t")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cells[1..4], ["2", "2", "1"], "one lossy value (NaN):\n{out}");
}

#[test]
fn a_dry_run_writes_nothing_and_opens_no_write_transaction() {
    let db = tenants_db();
    // Any write would now fail: the dry run must get by with reads alone.
    db.execute(&format!("ALTER DATABASE {} SET default_transaction_read_only = on", db.name()));
    let work = tempfile::tempdir().unwrap();
    let args =
        ["--dry-run", "--tenant-column", "user_id", "--tenant-key", "email=user2@example.com"];
    let out = migrate(work.path(), &db.url(), &args).assert_code(0);
    assert!(entries(work.path()).is_empty(), "the dry run wrote {:?}", entries(work.path()));
    for needle in [
        "public.clients",
        "rows where user_id = tenant",
        "through public.birth_data(client_id) -> public.clients(id)",
        "lookup: only the rows that exported rows reference",
        "numeric(8,2)",
        "CREATE TABLE",
        "dropped (tenant column)",
        &user_uuid(&db, 2),
        "nothing was exported or written",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} missing from the plan:\n{out}");
    }
    let stats = db.query_strings(&format!(
        "SELECT count(*)::text FROM pg_stat_activity WHERE datname = '{}' AND backend_xid IS NOT NULL",
        db.name()
    ));
    assert_eq!(stats[0][0].as_deref(), Some("0"));
}

#[test]
fn an_existing_target_is_refused_without_yes_and_no_terminal_before_anything_is_exported() {
    let db = TestDb::new();
    db.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("app.db");
    rusqlite::Connection::open(&target).unwrap().execute_batch("CREATE TABLE mine (x);").unwrap();
    let before = std::fs::read(&target).unwrap();
    migrate(work.path(), &db.url(), &[])
        .assert_code(2)
        .assert_stderr_contains("--yes")
        .assert_stderr_contains("app.db");
    assert!(std::fs::read(&target).unwrap() == before, "the target changed");
    assert_eq!(entries(work.path()), ["app.db"], "something was exported or backed up");
}

#[test]
fn names_that_collide_in_sqlite_stop_the_migration_before_anything_is_exported() {
    let db = TestDb::new();
    db.execute(
        "CREATE SCHEMA \"Sales\"; CREATE TABLE \"Sales\".\"Order\" (id int PRIMARY KEY);
         CREATE TABLE \"Sales_Order\" (id int PRIMARY KEY);",
    );
    let work = tempfile::tempdir().unwrap();
    migrate(work.path(), &db.url(), &[])
        .assert_code(2)
        .assert_stderr_contains("\"Sales\".\"Order\" and public.\"Sales_Order\"")
        .assert_stderr_contains("--rename 'public.Sales_Order=")
        .assert_stderr_contains("nothing was exported");
    assert!(entries(work.path()).is_empty(), "something was written: {:?}", entries(work.path()));
    let rename = ["--rename", "public.Sales_Order=sales_order_2"];
    migrate(work.path(), &db.url(), &rename).assert_code(0);
    assert_eq!(sqlite3_tables(&work.path().join("app.db")), "Sales_Order\nsales_order_2\n",);
}

#[test]
fn migrate_twice_then_rollback_restores_the_first_and_a_second_finds_nothing_older() {
    let db = TestDb::new();
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'first');");
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("app.db");
    migrate(work.path(), &db.url(), &["-q"]).assert_code(0);
    let first = dump(&target);
    db.execute("UPDATE t SET v = 'second'; INSERT INTO t VALUES (2, 'new');");
    migrate(work.path(), &db.url(), &["-q", "--yes"]).assert_code(0);
    let second = dump(&target);
    assert_ne!(first, second);
    let rollback = || pg2lite(&["rollback", "--target", "app.db"]).cwd(work.path()).run();
    rollback().assert_code(0);
    assert_eq!(
        dump(&target),
        first,
        "the first rollback restores what the second migrate replaced"
    );
    // Issue 15: a second rollback steps further back (there is nothing older), not back to
    // the file the first replaced; `--to` that file's backup undoes the rollback.
    rollback().assert_code(2).assert_stderr_contains("nothing older");
    assert_eq!(dump(&target), first);
    // A backup with one changed byte is refused, and the target stays as it is.
    let newest = std::fs::read_dir(work.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&newest, bytes).unwrap();
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    let to = ["rollback", "--target", "app.db", "--to", newest.to_str().unwrap()];
    pg2lite(&to).cwd(work.path()).assert_code(2).assert_stderr_contains(&name);
    assert_eq!(dump(&target), first);
}

#[test]
fn skip_export_reimports_and_revalidates_an_existing_export_without_postgres() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, doc jsonb); INSERT INTO t VALUES (1, '{\"a\": 1}');",
    );
    let work = tempfile::tempdir().unwrap();
    migrate(work.path(), &db.url(), &["-q"]).assert_code(0);
    let export = work.path().join("migration_data");
    let dir = std::fs::read_dir(&export)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    // No usable source: --skip-export must not connect.
    let out = pg2lite(&[
        "migrate",
        "--source",
        "postgresql://nobody@127.0.0.1:1/none",
        "--target",
        "again.db",
        "--skip-export",
        "--from",
        dir.to_str().unwrap(),
    ])
    .cwd(work.path())
    .run()
    .assert_code(0);
    assert!(out.stdout.contains("public.t"), "{out}");
    assert_eq!(dump(&work.path().join("again.db")), dump(&work.path().join("app.db")));
}

#[test]
fn one_user_migrates_out_of_a_shared_database_and_validates_with_no_other_tenant_in_it() {
    let db = tenants_db();
    let work = tempfile::tempdir().unwrap();
    let out = migrate(
        work.path(),
        &db.url(),
        &["--tenant-column", "user_id", "--tenant-key", "email=user3@example.com", "--json"],
    )
    .assert_code(0);
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(summary["passed"], true, "{out}");
    let validation = &summary["validation"];
    let mut checked = 0;
    for t in validation["tables"].as_array().unwrap() {
        let tenancy = &t["checks"]["tenancy"]["status"];
        assert!(tenancy == "pass" || tenancy == "skip", "{t}");
        checked += usize::from(tenancy == "pass");
    }
    // A check that skipped every table would prove nothing about other tenants' rows.
    assert!(checked > 0, "no table's tenancy was checked: {validation}");
    let conn = rusqlite::Connection::open(work.path().join("app.db")).unwrap();
    let email: String = conn.query_row("SELECT email FROM app_config", [], |r| r.get(0)).unwrap();
    assert_eq!(email, "user3@example.com");
}

/// The import fed by the export cannot know before the data that a NOT NULL float column
/// holds NaN (which becomes NULL); when it fails on that, migrate imports from the files just
/// written, which can, and the result is as `import` makes it.
#[test]
fn when_the_fed_import_fails_migrate_imports_from_the_export_files() {
    let db = TestDb::new();
    db.execute("CREATE TABLE m (id int PRIMARY KEY, v float8 NOT NULL); INSERT INTO m VALUES (1, 'NaN'), (2, 2.5);");
    let work = tempfile::tempdir().unwrap();
    let out = migrate(work.path(), &db.url(), &[]).assert_code(0);
    assert!(out.stderr.contains("importing from its files"), "{out}");
    assert!(out.stderr.contains("NOT NULL dropped"), "the note says why: {out}");
    let conn = rusqlite::Connection::open(work.path().join("app.db")).unwrap();
    let nulls: i64 =
        conn.query_row("SELECT count(*) FROM m WHERE v IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(nulls, 1);
}
