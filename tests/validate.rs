//! `validate` on real exports and real imports: a fresh import validates clean (also against
//! Postgres), and each kind of change to the SQLite file, the export or Postgres is found,
//! named by table and key, and fails the validation (exit 1); a validation that cannot be
//! done at all exits 2 saying what to fix.

use std::fs;
use std::path::{Path, PathBuf};

use pg2lite::export::tenancy::{TenantOptions, TenantRef};
use pg2lite::export::{self, ExportSummary};
use pg2lite::import::{ImportOptions, Tenancy};
use pg2lite::mapping::{NumericPolicy, SchemaFlags};
use pg2lite::model::manifest::{self, Manifest};
use pg2lite::pg::Source;
use pg2lite::progress::Silent;
use pg2lite::report::{Status, ValidationReport};
use pg2lite::validate::{self, ValidateOptions};
use rusqlite::Connection;
use tempfile::TempDir;

use crate::export::{export_db, options};
use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;
use crate::support::sqlite::import_into;
use crate::tenancy::{tenants_db, user_uuid};

/// `db` exported into a new temporary directory and imported there as `file`: the
/// directory, the export and the SQLite file.
fn exported_and_imported(db: &TestDb, file: &str) -> (TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let export = export_db(db, dir.path()).dir;
    let target = dir.path().join(file);
    import_into(&ImportOptions::new(&export, &target));
    (dir, export, target)
}

fn validate_with(
    export: &Path,
    target: &Path,
    tweak: impl FnOnce(&mut ValidateOptions),
) -> ValidationReport {
    let mut opts = ValidateOptions::new(export, target);
    tweak(&mut opts);
    validate::run(&opts, &Silent)
        .unwrap_or_else(|e| panic!("validation of {} could not be done:\n{e}", target.display()))
}

fn validate(export: &Path, target: &Path) -> ValidationReport {
    validate_with(export, target, |_| {})
}

fn source(db: &TestDb) -> Source {
    Source::resolve(Some(&db.url()), &Default::default()).expect("test URLs are valid")
}

/// Every failed check as `(table, check)`, file checks as `("file", check)`.
fn failures(report: &ValidationReport) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for t in &report.tables {
        for (name, status, _) in t.checks.named() {
            if status == Status::Fail {
                out.push((t.source.clone(), name));
            }
        }
    }
    for (name, check) in report.file_checks.named() {
        if check.status == Status::Fail {
            out.push(("file".to_owned(), name));
        }
    }
    out
}

fn expect_failures(report: &ValidationReport, want: &[(&str, &'static str)]) {
    let want: Vec<(String, &str)> = want.iter().map(|(t, c)| ((*t).to_owned(), *c)).collect();
    let got = failures(report);
    assert_eq!(got, want, "\nexpected failures: {want:?}\ngot:\n{}", report.render());
    assert_eq!(report.passed, want.is_empty(), "passed");
}

fn table<'r>(report: &'r ValidationReport, source: &str) -> &'r pg2lite::report::TableReport {
    report.tables.iter().find(|t| t.source == source).unwrap_or_else(|| {
        panic!("{source} is not in the report:\n{}", report.render());
    })
}

/// Pagila in Postgres, exported and imported.
struct Pagila {
    db: TestDb,
    dir: TempDir,
    export: PathBuf,
    target: PathBuf,
}

fn pagila() -> Pagila {
    let db = TestDb::new();
    db.load_pagila();
    let dir = tempfile::tempdir().unwrap();
    let export = export_db(&db, &dir.path().join("exports")).dir;
    let target = dir.path().join("pagila.db");
    import_into(&ImportOptions::new(&export, &target));
    Pagila { db, dir, export, target }
}

impl Pagila {
    /// A copy of the imported file with `sql` run on it (foreign keys and CHECKs off, so the
    /// change goes in as written).
    fn changed(&self, name: &str, sql: &str) -> PathBuf {
        changed_copy(&self.target, &self.dir.path().join(name), sql)
    }
}

fn changed_copy(from: &Path, to: &Path, sql: &str) -> PathBuf {
    fs::copy(from, to).unwrap();
    let conn = Connection::open(to).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON;").unwrap();
    conn.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().unwrap();
    to.to_owned()
}

fn validate_cli(export: &Path, target: &Path) -> crate::support::cli::Run {
    pg2lite(&["validate", "--from"]).arg(export).arg("--target").arg(target)
}

fn json_of(out: &Outcome) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

#[test]
fn a_fresh_import_of_pagila_validates_clean_and_a_later_postgres_insert_is_reported_as_a_change() {
    let p = pagila();
    let report_file = p.dir.path().join("report.json");
    let out = validate_cli(&p.export, &p.target).arg("--report").arg(&report_file).assert_code(0);
    assert!(out.stdout.contains("every check passed"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report_file).unwrap()).unwrap();
    let manifest = Manifest::load(&p.export).unwrap();
    let listed: Vec<&str> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    let exported: Vec<String> = manifest.tables.iter().map(|t| t.table.display_name()).collect();
    assert_eq!(listed, exported, "every exported table is in the report");
    for t in report["tables"].as_array().unwrap() {
        for check in ["counts", "keys", "content"] {
            assert_eq!(t["checks"][check]["status"], "pass", "{} {check}: {t:#}", t["source"]);
        }
        for check in ["foreign_keys", "json", "tenancy"] {
            assert_ne!(t["checks"][check]["status"], "fail", "{} {check}", t["source"]);
        }
        assert_eq!(
            t["checks"]["content"]["digest_export"],
            t["checks"]["content"]["digest_sqlite"]
        );
    }
    for check in ["integrity", "export", "origin"] {
        assert_eq!(report["file_checks"][check]["status"], "pass", "{check}");
    }
    assert_eq!(report["passed"], true);
    assert_eq!(report["manifest_sha256"], manifest.manifest_sha256);
    let film = report["tables"].as_array().unwrap().iter().find(|t| t["source"] == "public.film");
    assert_eq!(film.unwrap()["checks"]["json"]["status"], "pass", "special_features is checked");

    let with_source =
        validate_cli(&p.export, &p.target).arg("--source").arg(p.db.url()).arg("--json");
    let json = json_of(&with_source.assert_code(0));
    for t in json["tables"].as_array().unwrap() {
        assert_eq!(t["checks"]["counts"]["postgres"], t["checks"]["counts"]["export"], "{t:#}");
    }
    assert!(!json["source"].as_str().unwrap().contains("password"));

    assert_eq!(json["changed_since_export"]["rows"], 0, "nothing changed yet: {json:#}");

    // A later insert is a change since the export (whose counts are proven in its own
    // snapshot), reported on its own line: not a failure unless --require-unchanged.
    p.db.execute("INSERT INTO actor (first_name, last_name) VALUES ('LATE', 'ARRIVAL')");
    let out = validate_cli(&p.export, &p.target).arg("--source").arg(p.db.url()).assert_code(0);
    let line = "\nchanged in Postgres since the export: 1 row in 1 table (public.actor +1); not a \
                failure";
    assert!(out.stdout.contains(line), "expected:\n{line}\n\ngot:\n{out}");
    assert!(out.stdout.contains("every check passed"), "{out}");
    assert!(!out.stdout.contains("FAIL"), "{out}");
    let required = || {
        validate_cli(&p.export, &p.target)
            .arg("--source")
            .arg(p.db.url())
            .arg("--require-unchanged")
    };
    let json = json_of(&required().arg("--json").assert_code(1));
    let change = &json["changed_since_export"];
    assert_eq!(change["rows"], 1, "{json:#}");
    assert_eq!(change["required_unchanged"], true);
    assert_eq!(change["tables"][0]["table"], "public.actor");
    assert_eq!(change["tables"][0]["export"], 200);
    assert_eq!(change["tables"][0]["postgres"], 201);
    assert_eq!(change["tables"][0]["difference"], 1);
    assert_eq!(change["tables"].as_array().map(Vec::len), Some(1), "only actor changed");
    let out = required().assert_code(1);
    let want = format!(
        "FAIL public.actor counts: Postgres now has 201 rows, the export has 200: changed since \
         the export's snapshot at {}, and --require-unchanged was given",
        manifest.created_at
    );
    assert!(out.stdout.contains(&want), "expected:\n{want}\n\ngot:\n{out}");
    assert!(out.stdout.contains("1 check FAILED (public.actor)"), "{out}");
    assert!(!out.stdout.contains("FAIL public.film"), "only actor changed:\n{out}");
    // --require-unchanged compares with Postgres, so it needs --source.
    validate_cli(&p.export, &p.target)
        .arg("--require-unchanged")
        .assert_code(2)
        .assert_stderr_contains("--source");
}

#[test]
fn each_change_to_the_sqlite_file_is_found_named_by_table_and_key_and_fails() {
    let p = pagila();

    let changed =
        p.changed("value.db", "UPDATE actor SET last_name = 'CHANGED' WHERE actor_id = 7");
    let r = validate(&p.export, &changed);
    expect_failures(&r, &[("public.actor", "content")]);
    let content = &table(&r, "public.actor").checks.content;
    assert_eq!(content.different, 1);
    assert!(
        content.first_different[0].starts_with("(actor_id=7)")
            && content.first_different[0].contains("last_name: export 'MOSTEL', SQLite 'CHANGED'"),
        "{:?}",
        content.first_different
    );

    let deleted =
        p.changed("deleted.db", "DELETE FROM film_actor WHERE actor_id = 1 AND film_id = 1");
    let r = validate(&p.export, &deleted);
    let film_actor = "public.film_actor";
    expect_failures(&r, &[(film_actor, "counts"), (film_actor, "keys"), (film_actor, "content")]);
    let keys = &table(&r, film_actor).checks.keys;
    assert_eq!((keys.missing, keys.extra), (1, 0));
    assert_eq!(keys.first_missing, ["(actor_id=1, film_id=1)"]);
    let counts = &table(&r, film_actor).checks.counts;
    assert_eq!(counts.sqlite, Some(counts.export - 1));

    let added = p.changed(
        "added.db",
        "INSERT INTO category (category_id, name, last_update) \
         VALUES (99, 'Extra', '2022-02-15T09:46:27.000000Z')",
    );
    let out = validate_cli(&p.export, &added).assert_code(1);
    assert!(
        out.stdout.contains(
            "FAIL public.category keys: 1 key in SQLite not in the export: (category_id=99)"
        ),
        "{out}"
    );
    let r = validate(&p.export, &added);
    let category = "public.category";
    expect_failures(&r, &[(category, "counts"), (category, "keys"), (category, "content")]);
    assert_eq!(table(&r, category).checks.keys.first_extra, ["(category_id=99)"]);

    let json = p
        .changed("json.db", "UPDATE film SET special_features = '{\"Trailers\"' WHERE film_id = 3");
    let r = validate(&p.export, &json);
    expect_failures(&r, &[("public.film", "content"), ("public.film", "json")]);
    let check = &table(&r, "public.film").checks.json;
    assert_eq!(check.found, 1);
    assert_eq!(check.first, ["special_features at (film_id=3)"]);

    let fk = p.changed("fk.db", "UPDATE address SET city_id = 9999 WHERE address_id = 5");
    let r = validate(&p.export, &fk);
    expect_failures(&r, &[("public.address", "content"), ("public.address", "foreign_keys")]);
    let check = &table(&r, "public.address").checks.foreign_keys;
    assert_eq!(
        check.first,
        ["(address_id=5) rowid 5: (city_id=9999) references a missing row of city"]
    );
}

#[test]
fn a_table_without_a_primary_key_is_compared_as_a_multiset_of_rows() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE log (at timestamptz NOT NULL, msg text, n int);
         INSERT INTO log VALUES ('2024-01-01 00:00:00+00', 'a', 1), ('2024-01-01 00:00:00+00', 'a', 1),
                                ('2024-01-02 00:00:00+00', 'b', 2), ('2024-01-03 00:00:00+00', NULL, 3);",
    );
    let (dir, export, target) = exported_and_imported(&db, "log.db");
    let clean = validate(&export, &target);
    expect_failures(&clean, &[]);
    assert!(table(&clean, "public.log").checks.keys.compared_by.contains("no primary key"));

    let dup = "INSERT INTO log SELECT * FROM log WHERE n = 2";
    let r = validate(&export, &changed_copy(&target, &dir.path().join("dup.db"), dup));
    expect_failures(
        &r,
        &[("public.log", "counts"), ("public.log", "keys"), ("public.log", "content")],
    );
    let keys = &table(&r, "public.log").checks.keys;
    assert_eq!((keys.missing, keys.extra), (0, 1));
    assert!(keys.first_extra[0].contains("msg='b'"), "{:?}", keys.first_extra);

    let edit = "UPDATE log SET msg = 'changed' WHERE n = 3";
    let r = validate(&export, &changed_copy(&target, &dir.path().join("edit.db"), edit));
    expect_failures(&r, &[("public.log", "keys"), ("public.log", "content")]);
    let keys = &table(&r, "public.log").checks.keys;
    assert_eq!((keys.missing, keys.extra), (1, 1));
    assert!(
        keys.first_missing[0].starts_with("line 4: ") && keys.first_missing[0].contains("msg=NULL")
    );
    assert!(keys.first_extra[0].contains("msg='changed'"), "{:?}", keys.first_extra);

    // Same count and the same set of distinct rows, but one duplicate moved: only a multiset
    // comparison sees it.
    let swap = "DELETE FROM log WHERE rowid = (SELECT min(rowid) FROM log WHERE n = 1); \
                INSERT INTO log SELECT * FROM log WHERE n = 2";
    let r = validate(&export, &changed_copy(&target, &dir.path().join("swap.db"), swap));
    expect_failures(&r, &[("public.log", "keys"), ("public.log", "content")]);
    let keys = &table(&r, "public.log").checks.keys;
    assert_eq!((keys.missing, keys.extra), (1, 1));
}

fn export_tenant(db: &TestDb, out: &Path, user: u32) -> ExportSummary {
    let mut opts = options(&db.url(), out);
    let tenant =
        TenantRef::Key { column: "email".into(), value: format!("user{user}@example.com") };
    opts.tenant =
        Some(TenantOptions { column: "user_id".into(), tenant, table: None, whole_tables: vec![] });
    export::run(&opts, &Silent).expect("tenant export succeeds")
}

#[test]
fn a_tenant_export_validates_clean_against_postgres_and_a_broken_json_value_is_found() {
    let db = tenants_db();
    let dir = tempfile::tempdir().unwrap();
    let export = export_tenant(&db, dir.path(), 2).dir;
    let target = dir.path().join("me.db");
    import_into(&ImportOptions::new(&export, &target));
    let r = validate_with(&export, &target, |o| o.source = Some(source(&db)));
    expect_failures(&r, &[]);
    for t in &r.tables {
        assert_eq!(t.checks.counts.postgres, Some(t.checks.counts.export), "{}", t.source);
    }
    let clients = &table(&r, "public.clients").checks.tenancy;
    assert_eq!(
        (clients.status, clients.checked.as_slice()),
        (Status::Pass, &["user_id".to_owned()][..])
    );
    assert_eq!(table(&r, "public.users").checks.tenancy.status, Status::Pass);
    assert_eq!(table(&r, "public.users").table.as_deref(), Some("app_config"));
    assert_eq!(r.tenant.as_deref(), Some(format!("user_id = {}", user_uuid(&db, 2)).as_str()));

    let broken = changed_copy(
        &target,
        &dir.path().join("json.db"),
        "UPDATE charts SET data = '{\"sun\": ' WHERE id = (SELECT min(id) FROM charts)",
    );
    let first_id: String = Connection::open(&broken)
        .unwrap()
        .query_row("SELECT min(id) FROM charts", [], |r| r.get(0))
        .unwrap();
    let r = validate(&export, &broken);
    // The row also breaks the column's CHECK (json_valid(..)), which integrity_check reports.
    expect_failures(
        &r,
        &[("public.charts", "content"), ("public.charts", "json"), ("file", "integrity")],
    );
    assert_eq!(
        table(&r, "public.charts").checks.json.first,
        [format!("data at (id='{first_id}')")]
    );
}

/// Rewrites a data file, then reseals the manifest and SHA256SUMS around it, as someone who
/// wanted the change to pass `verify` would.
fn rewrite_and_reseal(export: &Path, table: &str, edit: impl FnOnce(String) -> String) {
    let mut m = Manifest::load(export).unwrap();
    let entry = m.tables.iter_mut().find(|t| t.table.name == table).unwrap();
    let path = export.join(&entry.file);
    let text = edit(fs::read_to_string(&path).unwrap());
    fs::write(&path, &text).unwrap();
    let (sha, bytes) = manifest::sha256_file(&path).unwrap();
    (entry.sha256, entry.bytes, entry.rows) = (sha, bytes, text.lines().count() as u64);
    m.write(export).unwrap();
    let resealed = fs::read_to_string(export.join(manifest::MANIFEST_FILE)).unwrap();
    assert_eq!(resealed, m.to_sealed_json());
}

#[test]
fn another_tenants_key_in_a_resealed_export_is_caught_by_the_tenancy_check_naming_file_line_and_column()
 {
    let db = tenants_db();
    let dir = tempfile::tempdir().unwrap();
    let export = export_tenant(&db, dir.path(), 3).dir;
    let (me, other) = (user_uuid(&db, 3), user_uuid(&db, 2));
    // The other user's row goes into the tenants table too, so that foreign keys hold and
    // the import (which keeps tenancy) accepts the export.
    rewrite_and_reseal(&export, "users", |text| {
        let other_row = text
            .replace(&me, &other)
            .replace("user3@example.com", "user2@example.com")
            .replace("\"user3\"", "\"user2\"");
        format!("{text}{other_row}")
    });
    rewrite_and_reseal(&export, "clients", |text| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[1] = lines[1].replace(&me, &other);
        lines.iter().map(|l| format!("{l}\n")).collect()
    });
    assert!(
        pg2lite::verify::run(&pg2lite::verify::VerifyOptions::new(&export), &Silent)
            .unwrap()
            .is_clean()
    );
    let target = dir.path().join("leaky.db");
    let keep = SchemaFlags { tenancy: Tenancy::Keep, ..SchemaFlags::default() };
    import_into(&ImportOptions { schema: keep, ..ImportOptions::new(&export, &target) });
    let r = validate(&export, &target);
    expect_failures(&r, &[("public.clients", "tenancy"), ("public.users", "tenancy")]);
    let clients = &table(&r, "public.clients").checks.tenancy;
    assert_eq!(clients.found, 1);
    assert_eq!(
        clients.first,
        [format!(
            "tables/public.clients.ndjson line 2, column user_id: \"{other}\" is not the \
             tenant's key ({me})"
        )]
    );
    let users = &table(&r, "public.users").checks.tenancy;
    assert!(
        users.first[0].starts_with("tables/public.users.ndjson line 2, column id:"),
        "{users:?}"
    );
}

/// A small database with a numeric column, exported and imported with `--numeric text`.
fn numeric_fixture() -> (TestDb, TempDir, PathBuf, PathBuf) {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE prices (id int PRIMARY KEY, amount numeric(12,2) NOT NULL, note text);
         CREATE INDEX prices_note ON prices (note);
         INSERT INTO prices VALUES (1, 12.50, 'a'), (2, 0.10, NULL), (3, 99999.99, 'c');",
    );
    let dir = tempfile::tempdir().unwrap();
    let export = export_db(&db, &dir.path().join("exports")).dir;
    let target = dir.path().join("prices.db");
    let text = SchemaFlags { numeric: NumericPolicy::Text, ..SchemaFlags::default() };
    import_into(&ImportOptions { schema: text, ..ImportOptions::new(&export, &target) });
    (db, dir, export, target)
}

/// `pg2lite import --yes --from <export> --target <target> [extra...]`, which must succeed.
fn import_cli(export: &Path, target: &Path, extra: &[&str]) {
    let mut run = pg2lite(&["import", "--yes", "--no-backup", "--from"]).arg(export);
    run = run.arg("--target").arg(target);
    for a in extra {
        run = run.arg(a);
    }
    run.assert_code(0);
}

#[test]
fn validate_reads_the_options_import_was_given_from_the_file_and_refuses_a_flag_that_contradicts_them()
 {
    let (_db, dir, export, _) = numeric_fixture();
    let target = dir.path().join("costs.db");
    let renames = ["--rename", "public.prices=costs", "--rename", "public.prices.note=remark"];
    let mut flags = vec!["--numeric", "text", "--strict"];
    flags.extend_from_slice(&renames);
    import_cli(&export, &target, &flags);
    let out = validate_cli(&export, &target).assert_code(0);
    assert!(out.stdout.contains("every check passed"), "{out}");
    let read = "import options read from";
    assert!(out.stderr.contains(read) && out.stderr.contains("--numeric text --strict"), "{out}");
    // Flags that agree with the file change nothing.
    let mut agree = validate_cli(&export, &target).arg("--strict").arg("--numeric").arg("text");
    // The renames in another order: the same renames.
    for a in ["--rename", "public.prices.note=remark", "--rename", "public.prices=costs"] {
        agree = agree.arg(a);
    }
    agree.assert_code(0);
    // Each flag that contradicts it is named with what the file records, before any row is read.
    let out = validate_cli(&export, &target)
        .arg("--numeric")
        .arg("real")
        .arg("--rename")
        .arg("public.prices=other")
        .assert_code(2)
        .assert_stderr_contains("records the options it was imported with")
        .assert_stderr_contains("--numeric real: it was imported with --numeric text")
        .assert_stderr_contains(
            "--rename public.prices=other: it was imported with --rename public.prices=costs \
             --rename public.prices.note=remark",
        )
        .assert_stderr_contains("leave the flag out");
    assert!(!out.stderr.contains("panicked"), "{out}");
}

#[test]
fn a_tenant_scoped_import_with_its_tenancy_stripped_validates_without_flags() {
    let db = tenants_db();
    let dir = tempfile::tempdir().unwrap();
    let export = export_tenant(&db, dir.path(), 2).dir;
    let target = dir.path().join("me.db");
    import_cli(&export, &target, &["--strip-tenancy", "--tenant-table-as", "me"]);
    let out = validate_cli(&export, &target).assert_code(0);
    assert!(out.stderr.contains("--strip-tenancy --tenant-table-as me"), "{out}");
    validate_cli(&export, &target)
        .arg("--keep-tenancy")
        .assert_code(2)
        .assert_stderr_contains("--keep-tenancy: it was imported with its tenancy stripped");
    validate_cli(&export, &target)
        .arg("--tenant-table-as")
        .arg("app_config")
        .assert_code(2)
        .assert_stderr_contains(
            "--tenant-table-as app_config: it was imported with --tenant-table-as me",
        );
}

#[test]
fn a_file_that_does_not_record_the_options_needs_them_as_before() {
    let (_db, dir, export, target) = numeric_fixture();
    // As an older pg2lite wrote it: _pg2lite_export without the columns of the options.
    let old = changed_copy(
        &target,
        &dir.path().join("old.db"),
        "ALTER TABLE _pg2lite_export DROP COLUMN numeric; \
         ALTER TABLE _pg2lite_export DROP COLUMN strict; \
         ALTER TABLE _pg2lite_export DROP COLUMN renames; \
         ALTER TABLE _pg2lite_export DROP COLUMN tenancy; \
         ALTER TABLE _pg2lite_export DROP COLUMN tenant_table_as;",
    );
    let err = validate::run(&ValidateOptions::new(&export, &old), &Silent).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pass validate the same options you gave import (here: --numeric text)"),
        "{text}"
    );
    assert!(text.contains("public.prices.amount is TEXT"), "{text}");
    validate_cli(&export, &old).assert_code(2).assert_stderr_contains("--numeric text");
    let out = validate_cli(&export, &old).arg("--numeric").arg("text").assert_code(0);
    assert!(out.stdout.contains("every check passed"), "{out}");
    assert!(!out.stderr.contains("import options read from"), "{out}");
    // Built with --no-meta: nothing recorded, the flags are the options.
    let bare = dir.path().join("bare.db");
    import_cli(&export, &bare, &["--numeric", "text", "--no-meta"]);
    validate_cli(&export, &bare).arg("--numeric").arg("text").assert_code(0);
    let out = validate_cli(&export, &bare).assert_code(1);
    assert!(out.stdout.contains("public.prices"), "{out}");
}

#[test]
fn validation_that_cannot_be_done_exits_2_naming_the_problem() {
    let (_db, dir, export, target) = numeric_fixture();
    let missing = dir.path().join("nope.db");
    validate_cli(&export, &missing)
        .arg("--numeric")
        .arg("text")
        .assert_code(2)
        .assert_stderr_contains("nope.db: no such file");
    validate_cli(&dir.path().join("no-export"), &target)
        .arg("--numeric")
        .arg("text")
        .assert_code(2)
        .assert_stderr_contains("no-export: no such export directory");
    let port = crate::support::pg::free_port();
    validate_cli(&export, &target)
        .arg("--numeric")
        .arg("text")
        .arg("--source")
        .arg(format!("postgresql://postgres@127.0.0.1:{port}/x"))
        .assert_code(2)
        .assert_stderr_contains("cannot reach");
}

#[test]
fn with_json_an_error_is_also_a_json_object_on_stdout_whatever_the_command() {
    let (_db, dir, export, _) = numeric_fixture();
    let missing = dir.path().join("nope.db");
    let cases = [
        (validate_cli(&export, &missing).arg("--json"), "nope.db: no such file"),
        (pg2lite(&["verify", "--json"]).arg(dir.path().join("gone")), "gone"),
        (pg2lite(&["import", "--json", "--no-such-flag"]), "--no-such-flag"),
    ];
    for (run, needle) in cases {
        let out = run.assert_code(2).assert_stderr_contains(needle);
        let json = json_of(&out);
        assert_eq!(json["exit"], 2, "{out}");
        let error = json["error"].as_str().unwrap_or_else(|| panic!("no error text:\n{out}"));
        assert!(error.contains(needle), "{out}");
        assert_eq!(json.as_object().map(|o| o.len()), Some(2), "{out}");
    }
    // Without --json, stdout stays empty.
    let out = validate_cli(&export, &missing).assert_code(2);
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn a_changed_export_and_an_export_the_target_was_not_imported_from_are_found() {
    let (db, dir, export, target) = numeric_fixture();
    let again = export_db(&db, &dir.path().join("exports")).dir;
    let (built, given) = (Manifest::load(&export).unwrap(), Manifest::load(&again).unwrap());
    assert_ne!(built.export_id, given.export_id);
    let err = validate::run(&ValidateOptions::new(&again, &target), &Silent).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let name = target.display();
    let needle = format!(
        "{name} was built from export {} (manifest sha256 {}); you gave export {} (manifest \
         sha256 {})",
        built.export_id,
        &built.manifest_sha256[..12],
        given.export_id,
        &given.manifest_sha256[..12]
    );
    assert!(err.to_string().contains(&needle), "{err}");
    // On the command line: exit 1, as for any finding, and with --json an error object too.
    let out = validate_cli(&again, &target).arg("--json").assert_code(1);
    assert!(out.stderr.contains(&needle), "{out}");
    let json = json_of(&out);
    assert_eq!(json["exit"], 1, "{out}");
    assert!(json["error"].as_str().unwrap().contains(&needle), "{out}");

    let file = export.join("tables/public.prices.ndjson");
    let text = fs::read_to_string(&file).unwrap().replace("\"12.50\"", "\"12.51\"");
    fs::write(&file, text).unwrap();
    let r = validate(&export, &target);
    expect_failures(&r, &[("public.prices", "content"), ("file", "export")]);
    assert!(r.file_checks.export.details[0].contains("public.prices.ndjson"), "{r:#?}");
    let content = &table(&r, "public.prices").checks.content;
    assert_eq!(
        content.first_different,
        ["(id=1) (line 1): amount: export '12.51', SQLite '12.50'"]
    );
}

#[test]
fn a_file_whose_index_disagrees_with_its_table_fails_the_integrity_check() {
    let (_db, dir, export, target) = numeric_fixture();
    // The index's definition now says `amount`, its entries still hold `note`: the rows read
    // back the same, only SQLite's own integrity check can tell.
    let corrupt = changed_copy(
        &target,
        &dir.path().join("corrupt.db"),
        "PRAGMA writable_schema = ON; \
         UPDATE sqlite_schema SET sql = replace(sql, '(\"note\")', '(\"amount\")') \
         WHERE type = 'index' AND name = 'prices_note';",
    );
    let r = validate(&export, &corrupt);
    expect_failures(&r, &[("file", "integrity")]);
    assert!(r.file_checks.integrity.details.iter().any(|d| d.contains("prices_note")), "{r:#?}");
}

/// A table of 100,000 rows (25 batches of the export's reader) with a unique uuid (whose
/// index is in random order) and JSON, exported and imported.
fn big_table() -> (TestDb, TempDir, PathBuf, PathBuf) {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, uid uuid NOT NULL UNIQUE, doc jsonb,
                           amount numeric(12,2), note text);
         INSERT INTO big
         SELECT g, md5(g::text)::uuid, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 7)),
                g * 1.25, repeat('x', g % 50)
         FROM generate_series(1, 100000) g;",
    );
    let dir = tempfile::tempdir().unwrap();
    let export = export_db(&db, &dir.path().join("exports")).dir;
    let target = dir.path().join("big.db");
    import_into(&ImportOptions::new(&export, &target));
    (db, dir, export, target)
}

#[test]
fn a_single_value_changed_deep_inside_a_large_table_is_found_by_content_with_its_key() {
    let (_db, dir, export, target) = big_table();
    let clean = validate(&export, &target);
    expect_failures(&clean, &[]);
    let big = table(&clean, "public.big");
    assert_eq!(big.checks.counts.sqlite, Some(100_000));
    assert!(
        big.checks.keys.details.iter().any(|d| d.contains("digest of every row")),
        "equal digests prove the keys equal, and the report says so: {:?}",
        big.checks.keys.details
    );
    assert_eq!(big.checks.content.digest_export, big.checks.content.digest_sqlite);
    assert_eq!(big.checks.json.status, Status::Pass);

    let changed = changed_copy(
        &target,
        &dir.path().join("changed.db"),
        "UPDATE big SET note = 'changed' WHERE id = 91828",
    );
    let r = validate(&export, &changed);
    expect_failures(&r, &[("public.big", "content")]);
    let content = &table(&r, "public.big").checks.content;
    assert_eq!(content.different, 1);
    assert_eq!(
        content.first_different,
        [format!("(id=91828) (line 91828): note: export '{}', SQLite 'changed'", "x".repeat(28))]
    );
    assert_ne!(content.digest_export, content.digest_sqlite);
    assert!(table(&r, "public.big").checks.keys.details.is_empty(), "{r:#?}");

    // Rows missing all over the table: every one is counted, the smallest keys are shown.
    let deleted = changed_copy(
        &target,
        &dir.path().join("deleted.db"),
        "DELETE FROM big WHERE id = 99999 OR id % 9000 = 0",
    );
    let r = validate(&export, &deleted);
    let big = "public.big";
    expect_failures(&r, &[(big, "counts"), (big, "keys"), (big, "content")]);
    let keys = &table(&r, big).checks.keys;
    assert_eq!((keys.missing, keys.extra), (12, 0));
    assert_eq!(
        keys.details,
        ["12 keys in the export missing from SQLite: (id=9000), (id=18000), (id=27000), \
          (id=36000), (id=45000), ..."]
    );
}

#[test]
fn invalid_json_in_a_table_without_a_key_is_named_by_rowid_column_by_column() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE events (at timestamptz NOT NULL, doc jsonb, tags int[]);
         INSERT INTO events VALUES ('2024-01-01 00:00:00+00', '{\"a\": 1}', '{1,2}'),
                                   ('2024-01-02 00:00:00+00', NULL, '[0:1]={3,4}'),
                                   ('2024-01-03 00:00:00+00', '[1, 2]', NULL);",
    );
    let (dir, export, target) = exported_and_imported(&db, "events.db");
    let clean = validate(&export, &target);
    expect_failures(&clean, &[]);
    let json = &table(&clean, "public.events").checks.json;
    assert_eq!(json.checked, ["doc", "tags"], "an array with other lower bounds is valid");

    let broken = changed_copy(
        &target,
        &dir.path().join("broken.db"),
        "UPDATE events SET tags = '{1,2' WHERE rowid = 1; UPDATE events SET doc = '[1,' WHERE rowid = 3;",
    );
    let r = validate(&export, &broken);
    // The doc column's CHECK (json_valid(..)) fails too, which integrity_check reports.
    expect_failures(
        &r,
        &[
            ("public.events", "keys"),
            ("public.events", "content"),
            ("public.events", "json"),
            ("file", "integrity"),
        ],
    );
    let json = &table(&r, "public.events").checks.json;
    assert_eq!(json.found, 2);
    assert_eq!(json.first, ["doc at (rowid=3)", "tags at (rowid=1)"]);
}

#[test]
fn an_array_of_composites_kept_as_postgres_text_is_valid_and_a_broken_one_is_found() {
    let db = TestDb::new();
    // A field that is itself an array cannot be rebuilt inside an array: the export keeps
    // such an array as Postgres' text, which is not JSON.
    db.execute(
        "CREATE TYPE pair AS (a int, b text[]);
         CREATE TABLE t (id int PRIMARY KEY, pairs pair[], plain int[]);
         INSERT INTO t VALUES (1, ARRAY[ROW(1, '{x,y}')::pair, ROW(2, NULL)::pair], '{1}'),
                              (2, '{}', NULL), (3, NULL, '{2}');",
    );
    let (dir, export, target) = exported_and_imported(&db, "t.db");
    let clean = validate(&export, &target);
    expect_failures(&clean, &[]);
    assert_eq!(table(&clean, "public.t").checks.json.checked, ["pairs", "plain"]);

    let broken = changed_copy(
        &target,
        &dir.path().join("broken.db"),
        "UPDATE t SET pairs = '{\"(1,x)\"' WHERE id = 1; UPDATE t SET plain = '{2}' WHERE id = 3;",
    );
    let r = validate(&export, &broken);
    expect_failures(&r, &[("public.t", "content"), ("public.t", "json")]);
    let json = &table(&r, "public.t").checks.json;
    // Postgres' text is only what the export writes for `pairs`; in `plain` it is corrupt.
    assert_eq!(json.first, ["pairs at (id=1)", "plain at (id=3)"]);
}
